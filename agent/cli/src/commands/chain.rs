//! What the chain commands share: where the app is, who signs, what time it is on chain.

use crate::cli::{ChainArgs, KeyArgs};
use crate::spec::RepoSpec;
use anyhow::Context;
use dao_chain::{App, Node, Signer};

/// A runtime for one command: the chain client is async, the CLI is not.
pub fn block_on<F: std::future::Future>(f: F) -> anyhow::Result<F::Output> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    Ok(rt.block_on(f))
}

/// The app named by the flags, or else by the repo-spec file.
pub fn app(args: &ChainArgs) -> anyhow::Result<App> {
    let spec = if args.spec.exists() {
        Some(RepoSpec::load(&args.spec)?)
    } else {
        None
    };
    let url = args
        .algod
        .clone()
        .or_else(|| spec.as_ref().and_then(|s| s.algod_url.clone()))
        .with_context(|| {
            format!(
                "no algod URL: pass --algod, or set algod_url in {}",
                args.spec.display()
            )
        })?;
    let app_id = args
        .app_id
        .or(spec.as_ref().map(|s| s.app_id))
        .with_context(|| {
            format!(
                "no app id: pass --app-id, or run where {} is (written by `dao-agentctl form`)",
                args.spec.display()
            )
        })?;
    let node = Node::with_token_file(&url, args.algod_token_file.as_deref())?;
    Ok(App::new(node, app_id))
}

pub fn signer(k: &KeyArgs) -> anyhow::Result<Signer> {
    Ok(Signer::from_file(&k.key)?.dry_run(k.dry_run))
}

/// The latest block's timestamp: "now" for proposal states.
pub async fn now(node: &Node) -> anyhow::Result<u64> {
    let round = node.last_round().await?;
    Ok(node.block_timestamp(round).await?)
}
