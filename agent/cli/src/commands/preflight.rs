//! Checks made before anything is signed: whatever the chain can tell about a call that would
//! fail, or do nothing, is said here with the fix, and nothing is sent (issue 17). The app checks
//! everything again; these only spare the user a failed or pointless transaction and a raw
//! error.

use anyhow::bail;
use dao_chain::decode::PROPOSAL_HEADER;
use dao_chain::decode::{ProposalPayload, Targets};
use dao_chain::txn::box_cost;
use dao_chain::{App, Signer};
use dao_core::address::Address;
use dao_core::rules::Stored;

/// The fee one transaction costs when the network is not congested, µAlgo.
pub const MIN_FEE: u64 = 1_000;

/// The signer can spend `needed` µAlgo above its minimum balance.
pub async fn can_spend(app: &App, who: &Address, needed: u64, what: &str) -> anyhow::Result<()> {
    can_spend_at(&app.node, who, needed, what).await
}

/// [`can_spend`] on a node, before there is an app.
pub async fn can_spend_at(
    node: &dao_chain::Node,
    who: &Address,
    needed: u64,
    what: &str,
) -> anyhow::Result<()> {
    let (amount, min_balance) = node.balance(who).await?;
    let spendable = amount.saturating_sub(min_balance);
    if spendable < needed {
        bail!(
            "{who} can spend {spendable} µAlgo above its minimum balance of {min_balance}, and {what} needs {needed}: fund the account first"
        );
    }
    Ok(())
}

/// A proposer holds at least max(1, min_proposer_weight) and can pay the proposal box (with a
/// `payload_len`-byte payload) and the two transactions' fees.
pub async fn proposer(app: &App, signer: &Signer, payload_len: usize) -> anyhow::Result<()> {
    proposer_paying(app, signer, payload_len, 0).await
}

/// [`proposer`] for a call that creates `extra` µAlgo of boxes besides the proposal box.
pub async fn proposer_paying(
    app: &App,
    signer: &Signer,
    payload_len: usize,
    extra: u64,
) -> anyhow::Result<()> {
    let me = signer.address();
    let g = app.global().await?;
    let required = g.rules.min_proposer_weight.max(1);
    let weight = app.member(&me).await?.map_or(0, |m| m.weight);
    if weight < required {
        bail!(
            "{me} holds weight {weight}; proposing needs at least {required} (min_proposer_weight): propose with a member's key"
        );
    }
    let bond = g.rules.proposal_bond;
    if bond == 0 {
        let cost = box_cost(9, PROPOSAL_HEADER + payload_len) + extra + 2 * MIN_FEE;
        return can_spend(app, &me, cost, "the proposal box and fees").await;
    }
    // The bond's own payment and box (docs/governance-rules.md, "Proposal bond").
    let cost = box_cost(9, PROPOSAL_HEADER + payload_len)
        + extra
        + box_cost(9, dao_chain::decode::BOND_LEN)
        + bond
        + 3 * MIN_FEE;
    let what = format!(
        "the proposal box, fees and the rule proposal_bond's {bond} µAlgo (returned when the \
         proposal passes, is defeated with its quorum within reach or is canceled before voting \
         starts; kept by the treasury when it fails its quorum)"
    );
    can_spend(app, &me, cost, &what).await?;
    eprintln!(
        "this proposal pays a bond of {bond} µAlgo (rule proposal_bond); once its outcome is final, \
         `dao-agentctl refund-bond ID` returns it if it passed, was defeated with its quorum \
         reached or was canceled before voting started"
    );
    Ok(())
}

/// An Algorand address from the command line, with the flag it came from in the error.
pub fn address(flag: &str, text: &str) -> anyhow::Result<Address> {
    text.trim()
        .parse::<Address>()
        .map_err(|e| anyhow::anyhow!("{flag} `{text}` is not an Algorand address: {e}"))
}

/// A description URL: absolute http(s), at most 256 bytes (the app's limit).
pub fn description_url(text: &str) -> anyhow::Result<()> {
    description("--url", text)
}

/// [`description_url`] for a flag of another name.
pub fn description(flag: &str, text: &str) -> anyhow::Result<()> {
    if text.len() > dao_chain::decode::MAX_URL {
        bail!(
            "{flag} is {} bytes, the app stores at most {}: use a shorter link",
            text.len(),
            dao_chain::decode::MAX_URL
        );
    }
    match url::Url::parse(text) {
        Ok(u) if matches!(u.scheme(), "https" | "http") && u.host().is_some() => Ok(()),
        _ => bail!(
            "{flag} `{text}` is not an http(s) URL: members must be able to read the description"
        ),
    }
}

/// A deploy proposal's targets and base, as the hosts will judge them: every listed host is
/// registered with an agent (with `all` at least one is), and the base is the genesis commit
/// or the head of a deploy proposal that is not canceled or defeated — any other base is off
/// the approved lineage, and every host would refuse it.
pub async fn deploy(app: &App, hosts: Option<&[u64]>, base: [u8; 20]) -> anyhow::Result<()> {
    let zero = Address([0; 32]);
    match hosts {
        Some(ids) => {
            for id in ids {
                if app.host(*id).await?.is_none_or(|a| a == zero) {
                    bail!("host {id} is not registered (dao-agentctl hosts lists them): no agent would apply the change");
                }
            }
        }
        None => {
            let mut live = 0;
            for id in app.target_ids(&Targets::All).await? {
                if app.host(id).await?.is_some_and(|a| a != zero) {
                    live += 1;
                }
            }
            if live == 0 {
                bail!("the DAO has no host with an agent (all retired, or none registered): --all-hosts would reach nobody");
            }
        }
    }
    let g = app.global().await?;
    if g.genesis == base {
        return Ok(());
    }
    for id in (1..=g.proposal_count).rev() {
        let p = app.proposal(id).await?;
        if let ProposalPayload::Deploy { head, .. } = &p.payload {
            if *head == base && !matches!(p.header.stored, Stored::Canceled | Stored::Defeated) {
                return Ok(());
            }
        }
    }
    bail!(
        "base {} is neither the genesis commit nor the head of a deploy proposal: hosts move only along approved changes, so every host would refuse it; start from the genesis or from an approved head",
        hex::encode(base)
    )
}

/// What the pinned remote says about a commit.
#[derive(Debug, PartialEq, Eq)]
pub enum OnRemote {
    /// A branch or tag of the remote is the commit or descends from it.
    Present,
    /// The remote could not be asked (unreachable, refused, too slow): why.
    Unknown(String),
}

/// Whether `head` is reachable from a ref of `url`, the repository the hosts fetch from. The
/// remote's tips are listed (no objects are fetched) and compared with the clone at
/// `clone_path`; a tip the clone does not have is fetched by nobody here, so it counts as
/// unknown. Gives up after `within`. Err when the remote answered and `head` is on none of its
/// refs: the hosts could not fetch it.
pub fn head_on_remote(
    clone_path: &std::path::Path,
    url: &str,
    head: git2::Oid,
    within: std::time::Duration,
) -> anyhow::Result<OnRemote> {
    let (tx, rx) = std::sync::mpsc::channel();
    let (path, url_owned) = (clone_path.to_owned(), url.to_owned());
    std::thread::spawn(move || {
        let tips = (|| -> Result<Vec<git2::Oid>, git2::Error> {
            let mut remote = git2::Remote::create_detached(url_owned.as_str())?;
            remote.connect(git2::Direction::Fetch)?;
            let tips = remote.list()?.iter().map(git2::RemoteHead::oid).collect();
            remote.disconnect()?;
            Ok(tips)
        })();
        let verdict = tips.map_err(|e| e.message().to_owned()).map(|tips| {
            let clone = git2::Repository::open(&path).ok();
            let mut unknown = 0;
            for t in &tips {
                if *t == head {
                    return OnRemote::Present;
                }
                match clone.as_ref().map(|c| c.graph_descendant_of(*t, head)) {
                    Some(Ok(true)) => return OnRemote::Present,
                    Some(Ok(false)) => {}
                    _ => unknown += 1,
                }
            }
            if unknown > 0 {
                OnRemote::Unknown(format!(
                    "{unknown} of its refs point at commits this clone lacks: fetch to check"
                ))
            } else {
                OnRemote::Unknown(String::new())
            }
        });
        let _ = tx.send(verdict);
    });
    match rx.recv_timeout(within) {
        Ok(Ok(OnRemote::Unknown(why))) if why.is_empty() => bail!(
            "{head} is on no branch or tag of {url}, the repository the hosts fetch from: push it there first, or no host can apply the change"
        ),
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Ok(OnRemote::Unknown(e)),
        Err(_) => Ok(OnRemote::Unknown(format!(
            "no answer within {} s",
            within.as_secs()
        ))),
    }
}

/// µAlgo as Algo with six decimals, for people.
pub fn algo(micro: u64) -> String {
    format!("{}.{:06} Algo", micro / 1_000_000, micro % 1_000_000)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn algo_reads_with_six_decimals() {
        assert_eq!(algo(2_500_001), "2.500001 Algo");
        assert_eq!(algo(7), "0.000007 Algo");
    }

    #[test]
    fn urls_must_be_readable_links() {
        assert!(description_url("https://git.example.org/fleet/issues/3").is_ok());
        for bad in [
            "see the wiki",
            "ftp://x/y",
            "https://",
            &"https://x/".repeat(40),
        ] {
            assert!(description_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_head_must_be_on_the_pinned_remote() {
        use dao_testkit::git;
        use std::time::Duration;
        let d = tempfile::tempdir().unwrap();
        let (work, bare) = (d.path().join("work"), d.path().join("served.git"));
        std::fs::create_dir(&work).unwrap();
        git(&work, &["init", "-q", "-b", "main"]);
        std::fs::write(work.join("a"), "1").unwrap();
        git(&work, &["add", "."]);
        git(&work, &["commit", "-q", "-m", "one"]);
        let c1 = git2::Oid::from_str(git(&work, &["rev-parse", "HEAD"]).trim()).unwrap();
        std::fs::write(work.join("a"), "2").unwrap();
        git(&work, &["commit", "-q", "-am", "two"]);
        let c2 = git2::Oid::from_str(git(&work, &["rev-parse", "HEAD"]).trim()).unwrap();
        git(d.path(), &["init", "-q", "--bare", "served.git"]);
        git(
            &work,
            &[
                "push",
                "-q",
                bare.to_str().unwrap(),
                &format!("{c1}:refs/heads/main"),
            ],
        );
        let url = format!("file://{}", bare.display());
        let t = Duration::from_secs(10);
        assert_eq!(
            head_on_remote(&work, &url, c1, t).unwrap(),
            OnRemote::Present
        );
        let e = head_on_remote(&work, &url, c2, t).unwrap_err().to_string();
        assert!(
            e.contains("on no branch or tag") && e.contains("push it"),
            "{e}"
        );
        git(
            &work,
            &["push", "-q", bare.to_str().unwrap(), "main:refs/heads/main"],
        );
        assert_eq!(
            head_on_remote(&work, &url, c1, t).unwrap(),
            OnRemote::Present
        );
        assert_eq!(
            head_on_remote(&work, &url, c2, t).unwrap(),
            OnRemote::Present
        );
        let gone = format!("file://{}/nothing.git", d.path().display());
        assert!(matches!(
            head_on_remote(&work, &gone, c2, t).unwrap(),
            OnRemote::Unknown(_)
        ));
    }
}
