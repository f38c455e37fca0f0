//! What `form` checks before it sends anything (issue 17): every flag, the rules file, the
//! genesis commit, the output file and the node's network. `form` sends several transactions
//! (create, members, hosts, …, seal); whatever can be known to fail is refused here, so that a
//! bad input never leaves an unsealed app behind.

use crate::cli::FormArgs;
use anyhow::{bail, Context};
use dao_chain::Node;
use dao_core::address::Address;
use dao_core::diff_hash::resolve_commit;
use dao_core::rules::{Rules, MAX_TOTAL_WEIGHT};
use std::collections::BTreeSet;

/// The checked input of `form`.
pub struct FormInput {
    pub members: Vec<(Address, u64)>,
    pub hosts: Vec<(u64, Address)>,
    pub validators: Vec<Address>,
    pub rules: Rules,
    pub genesis: git2::Oid,
}

/// The networks `--network` names, with the genesis id their nodes report; devnet and
/// localnet are anything that is none of the public ones.
const PUBLIC: [(&str, &str); 3] = [
    ("mainnet", "mainnet-v1.0"),
    ("testnet", "testnet-v1.0"),
    ("betanet", "betanet-v1.0"),
];
const PRIVATE: [&str; 2] = ["devnet", "localnet"];

/// URL schemes the agents fetch from (docs/configuration.md, `source.allowed_remotes`).
const FETCHABLE: [&str; 4] = ["https", "http", "git", "file"];

fn pair<'a>(flag: &str, text: &'a str, form: &str) -> anyhow::Result<(&'a str, &'a str)> {
    text.split_once('=')
        .with_context(|| format!("--{flag} {text:?}: expected {form}"))
}

fn address(flag: &str, text: &str) -> anyhow::Result<Address> {
    text.trim()
        .parse()
        .map_err(|e| anyhow::anyhow!("--{flag}: {text:?} is not an Algorand address: {e}"))
}

fn members(a: &FormArgs) -> anyhow::Result<Vec<(Address, u64)>> {
    let mut out: Vec<(Address, u64)> = Vec::new();
    let mut total: u64 = 0;
    for m in &a.members {
        let (addr, weight) = pair("member", m, "ADDRESS=WEIGHT")?;
        let weight: u64 = weight
            .trim()
            .parse()
            .with_context(|| format!("--member {m:?}: the weight must be a whole number"))?;
        if weight == 0 {
            bail!("--member {m:?}: a member needs a weight above 0");
        }
        let addr = address("member", addr)?;
        if out.iter().any(|(a, _)| *a == addr) {
            bail!("--member {addr} is given twice: give each member once, with its weight");
        }
        total = total
            .checked_add(weight)
            .filter(|t| *t <= MAX_TOTAL_WEIGHT)
            .with_context(|| {
                format!("the members' weights add up to more than {MAX_TOTAL_WEIGHT}, the most the app holds: scale them down")
            })?;
        out.push((addr, weight));
    }
    Ok(out)
}

fn hosts(a: &FormArgs) -> anyhow::Result<Vec<(u64, Address)>> {
    let mut out: Vec<(u64, Address)> = Vec::new();
    for h in &a.hosts {
        let (id, addr) = pair("host", h, "ID=ADDRESS")?;
        let id: u64 = id
            .trim()
            .parse()
            .with_context(|| format!("--host {h:?}: the host id must be a whole number"))?;
        if id == 0 {
            bail!("--host {h:?}: host ids start at 1");
        }
        if out.iter().any(|(i, _)| *i == id) {
            bail!("--host {id} is given twice: one agent per host");
        }
        let agent = address("host", addr)?;
        if agent == Address([0; 32]) {
            bail!("--host {h:?}: the zero address cannot report; give the host's agent address");
        }
        out.push((id, agent));
    }
    Ok(out)
}

fn rules(a: &FormArgs) -> anyhow::Result<Rules> {
    let Some(path) = &a.rules else {
        return Ok(Rules::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the rules file {}", path.display()))?;
    let rules: Rules = toml::from_str(&text).with_context(|| {
        format!(
            "{} is not a rules file (the rules of docs/governance-rules.md; proposal_bond and heartbeat_interval may be left out)",
            path.display()
        )
    })?;
    let problems = rules.problems();
    if !problems.is_empty() {
        let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
        bail!("{}: {}", path.display(), list.join("; "));
    }
    Ok(rules)
}

/// The governed repository as the agents will fetch it.
fn repository(text: &str) -> anyhow::Result<()> {
    let scp = text.contains('@') && text.contains(':') && !text.contains("://");
    let u = url::Url::parse(text).map_err(|e| {
        let hint = if scp {
            ": scp-style remotes (git@host:repo.git) cannot be fetched by the agents; serve the repository over https"
        } else {
            ""
        };
        anyhow::anyhow!("--repository {text:?} is not a URL ({e}){hint}")
    })?;
    if !FETCHABLE.contains(&u.scheme()) {
        bail!(
            "--repository {text:?}: the agents fetch only over {} (read-only https is enough: what is fetched is verified against the chain)",
            FETCHABLE.join(", ")
        );
    }
    if u.scheme() != "file" && u.host_str().is_none_or(str::is_empty) {
        bail!("--repository {text:?} has no host");
    }
    Ok(())
}

/// Every check that needs no node.
pub fn check(a: &FormArgs) -> anyhow::Result<FormInput> {
    if !PRIVATE.contains(&a.network.as_str()) && !PUBLIC.iter().any(|(n, _)| *n == a.network) {
        bail!(
            "--network {:?} is not one of devnet, localnet, testnet, betanet, mainnet",
            a.network
        );
    }
    if a.out.exists() {
        bail!(
            "{} exists: form writes the spec of a new DAO there; move it aside or give another --out (nothing was sent)",
            a.out.display()
        );
    }
    // The spec is written after the seal: a directory that cannot take it must fail now.
    let dir = match a.out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => std::path::PathBuf::from("."),
    };
    tempfile::NamedTempFile::new_in(&dir).with_context(|| {
        format!(
            "cannot write in {} (the directory of --out): form would create and seal the DAO and then fail to record it; nothing was sent",
            dir.display()
        )
    })?;
    repository(&a.repository)?;
    let members = members(a)?;
    let hosts = hosts(a)?;
    let mut validators = Vec::new();
    let mut seen = BTreeSet::new();
    for v in &a.validators {
        let addr = address("validator", v)?;
        if !seen.insert(addr) {
            bail!("--validator {v} is listed twice");
        }
        validators.push(addr);
    }
    if a.attest_quorum > validators.len() as u64 {
        bail!(
            "--attest-quorum {} is more than the {} --validator(s) given: hosts could never switch",
            a.attest_quorum,
            validators.len()
        );
    }
    if a.attest_reward > dao_chain::attest::MAX_REWARD {
        bail!(
            "--attest-reward {} is above the app's limit of {} µAlgo",
            a.attest_reward,
            dao_chain::attest::MAX_REWARD
        );
    }
    if let Some(problem) = a.point_weights.and_then(|w| w.problem()) {
        bail!("--point-weights: {problem}");
    }
    let rules = rules(a)?;
    let repo = git2::Repository::open(&a.repo).with_context(|| {
        format!(
            "{} is not a git repository (give it with --repo)",
            a.repo.display()
        )
    })?;
    let genesis = resolve_commit(&repo, &a.genesis)?;
    Ok(FormInput {
        members,
        hosts,
        validators,
        rules,
        genesis,
    })
}

/// The node serves the network `--network` names: a DAO formed on the wrong chain is one the
/// fleet's agents will never find.
pub async fn check_node(node: &Node, network: &str) -> anyhow::Result<()> {
    let genesis_id = node
        .genesis_id()
        .await
        .context("cannot ask the node which network it serves")?;
    let public = PUBLIC.iter().find(|(_, g)| *g == genesis_id);
    match (PUBLIC.iter().find(|(n, _)| *n == network), public) {
        (Some((_, want)), _) if *want != genesis_id => bail!(
            "--network {network}, but the node serves {genesis_id:?} (expected {want:?}): point --algod at a {network} node"
        ),
        (None, Some((n, _))) => bail!(
            "--network {network}, but the node serves {n} ({genesis_id}): say --network {n} if you mean it"
        ),
        _ => Ok(()),
    }
}
