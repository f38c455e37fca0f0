//! The attacker of docs/walkthrough.md step 8, as a command anyone can run against their own
//! devnet: a deploy proposal whose diff hash is not the hash of its head. `dao-agentctl submit`
//! computes the hash from the commits and cannot send one; the app cannot tell (it stores what it
//! is given); every host refuses it at verify_change, and that is what this shows.
//!
//! cargo run -q -p dao-fleet --example tamper -- --algod URL --algod-token-file FILE \
//!     --app-id ID --key bob.key --base BASE --head EVIL_HEAD --diff-hash sha256:REVIEWED \
//!     --url https://git.example.org/fleet/pulls/3

use anyhow::Context;
use clap::Parser;
use dao_chain::decode::Targets;
use dao_chain::txn::DeployProposal;
use dao_chain::{App, Node, Signer};
use std::path::PathBuf;

/// Send a deploy proposal with a diff hash of your choosing (for drills on a devnet).
#[derive(Parser)]
struct Args {
    /// algod's REST endpoint.
    #[arg(long)]
    algod: String,
    /// A file holding algod's API token.
    #[arg(long)]
    algod_token_file: Option<PathBuf>,
    /// The governance app's id.
    #[arg(long)]
    app_id: u64,
    /// The proposer's key file (a member).
    #[arg(long)]
    key: PathBuf,
    /// The base commit (40 hex digits).
    #[arg(long)]
    base: String,
    /// The head commit that will be fetched and hashed by the hosts.
    #[arg(long)]
    head: String,
    /// The diff hash the proposal claims (`dao-agentctl hash BASE REVIEWED_HEAD`).
    #[arg(long)]
    diff_hash: String,
    /// The description link.
    #[arg(long)]
    url: String,
}

fn commit(flag: &str, text: &str) -> anyhow::Result<[u8; 20]> {
    hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .with_context(|| format!("--{flag} {text:?} is not a 40-hex-digit commit id"))
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let hash_hex = a.diff_hash.trim().trim_start_matches("sha256:");
    let diff_hash: [u8; 32] = hex::decode(hash_hex)
        .ok()
        .and_then(|b| b.try_into().ok())
        .with_context(|| format!("--diff-hash {:?} is not sha256:64 hex digits", a.diff_hash))?;
    let p = DeployProposal {
        emergency: false,
        base: commit("base", &a.base)?,
        head: commit("head", &a.head)?,
        diff_hash,
        targets: Targets::All,
        description_url: a.url.clone(),
    };
    let signer = Signer::from_file(&a.key)?;
    let node = Node::with_token_file(&a.algod, a.algod_token_file.as_deref())?;
    let app = App::new(node, a.app_id);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (id, c) = rt.block_on(app.propose_deploy(&signer, &p))?;
    println!(
        "proposal {id} (round {}): {}..{} claiming {}",
        c.round, a.base, a.head, a.diff_hash
    );
    Ok(())
}
