//! The validator's pass reads a proposal that is over (canceled, defeated, expired) once, by its
//! box, and never its votes (issue 19, "Scale"): after a restart with a long history its first
//! pass costs about one request per past proposal, the next passes a handful, and an open
//! deploy still gets its full verification.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../chain/tests/common/mod.rs"]
mod common;

use common::*;
use dao_agent::executor::build::Nix;
use dao_agent::validator::judge::Judge;
use dao_agent::validator::Runner;
use dao_chain::decode::{Targets, VoteChoice};
use dao_chain::txn::DeployProposal;
use dao_core::config::{Host, Span, Validator, VotePolicy};
use std::time::Duration;

fn deploy(targets: Targets, n: u8) -> DeployProposal {
    DeployProposal {
        emergency: false,
        base: [1; 20],
        head: [n; 20],
        diff_hash: [n; 32],
        targets,
        description_url: String::new(),
    }
}

/// dev6 validating host 1; its judge fetches from a repository that does not exist, so a deploy
/// for host 1 is judged "later", and one for another host is never judged.
fn runner(dn: &Devnet, dao: &Dao, dir: &std::path::Path) -> Runner {
    let span = Span(Duration::from_secs(60));
    let judge = Judge {
        checkout: dir.join("checkout"),
        allowed_remotes: vec![REPO.into()],
        pinned_remote: REPO.into(),
        shallow: false,
        nix: Nix {
            program: "nix".into(),
            env: Vec::new(),
        },
        dir: dir.to_path_buf(),
        cfg: Validator {
            hosts: vec![Host {
                id: 1,
                name: "one".into(),
                flake_output: "one".into(),
            }],
            policy: VotePolicy::Attest,
            check_command: None,
            check_timeout: span,
            fetch_timeout: span,
            eval_timeout: span,
            build_timeout: span,
            store: None,
        },
    };
    Runner::new(dao.app.clone(), dn.account(6), judge)
}

/// A sealed DAO whose validator set is dev6, the account [`runner`] validates with.
async fn with_validator() -> (Devnet, Dao) {
    let dn = Devnet::start();
    let dao = form(&dn, false).await;
    dao.app
        .set_validator(&dao.creator, &dn.account(6).address(), true)
        .await
        .unwrap();
    dao.app.seal(&dao.creator).await.unwrap();
    (dn, dao)
}

#[tokio::test]
async fn a_pass_after_a_restart_reads_a_proposal_that_is_over_once() {
    let (dn, dao) = with_validator().await;

    // Proposal 1, defeated, and 299 copies of it made by the devnet: a long history.
    let (first, _) = dao
        .app
        .propose_deploy(&dao.members[0], &deploy(Targets::Hosts(vec![2]), 1))
        .await
        .unwrap();
    for m in &dao.members[..2] {
        dao.app.vote(m, first, VoteChoice::Against).await.unwrap();
    }
    dao.app.finalize(&dao.creator, first).await.unwrap();
    let history = 300;
    let body = format!(
        r#"{{"app_id": {}, "template": 1, "first": 2, "last": {history}, "prefixes": ["p"], "counter": "proposal_count"}}"#,
        dao.app.app_id
    );
    let r = dn.post("/devnet/replicate", &body).await;
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    // One still voting, for another host: it must be verified, not skipped.
    let (open, _) = dao
        .app
        .propose_deploy(&dao.members[0], &deploy(Targets::Hosts(vec![2]), 2))
        .await
        .unwrap();
    assert_eq!(open, history + 1);
    dao.app
        .vote(&dao.members[2], open, VoteChoice::For)
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut r = runner(&dn, &dao, dir.path());
    let node = &dao.app.node;
    let before = node.requests_made();
    let report = r.pass().await.unwrap();
    let first_pass = node.requests_made() - before;
    assert_eq!(report.attested, 0);
    assert!(report.later.is_empty(), "{:?}", report.later);
    // 4 to start (validator set, global state, round, its time), one box per proposal, and the
    // open proposal's verification (members, its box again, each member's vote box, the voter's
    // member box and history). Verifying every past proposal costs at least 4 per proposal.
    assert!(
        first_pass <= history + 20,
        "{first_pass} requests for {history} past proposals"
    );
    assert!(
        first_pass > history,
        "every proposal is read once: {first_pass}"
    );

    // Nothing left to do: the next pass reads no proposal.
    let before = node.requests_made();
    r.pass().await.unwrap();
    let next_pass = node.requests_made() - before;
    assert!(next_pass <= 5, "{next_pass} requests with nothing to do");
    eprintln!("{history} past proposals: first pass {first_pass} requests, next {next_pass}");

    // A proposal created after those passes is looked at.
    let (later, _) = dao
        .app
        .propose_deploy(&dao.members[0], &deploy(Targets::Hosts(vec![2]), 3))
        .await
        .unwrap();
    let before = node.requests_made();
    r.pass().await.unwrap();
    let with_new = node.requests_made() - before;
    assert!(
        with_new > next_pass + 1,
        "proposal {later} was verified: {with_new} requests"
    );
}

/// A deploy still open when a later parameters proposal changed the rules was made under the
/// old ones: the pass must learn of the parameters proposal before verifying the deploy, or it
/// refuses the deploy as not matching the rules and never looks at it again.
#[tokio::test]
async fn a_deploy_made_before_a_rules_change_is_still_validated() {
    let (dn, dao) = with_validator().await;
    let (deploy_id, _) = dao
        .app
        .propose_deploy(&dao.members[0], &deploy(Targets::Hosts(vec![1]), 1))
        .await
        .unwrap();
    let mut rules = test_rules();
    rules.voting_period += 600;
    let (params, _) = dao
        .app
        .propose_parameters(&dao.members[0], &rules, "")
        .await
        .unwrap();
    for m in &dao.members[..2] {
        dao.app.vote(m, params, VoteChoice::For).await.unwrap();
    }
    dao.app.finalize(&dao.creator, params).await.unwrap();
    dn.advance(61).await;
    dao.app.execute(&dao.creator, params).await.unwrap();
    assert_eq!(dao.app.global().await.unwrap().rules, rules);

    // A validator of host 1, the deploy's target: it verifies the deploy and goes on to fetch
    // its commits, which are nowhere to be found: "later", not dropped.
    let dir = tempfile::tempdir().unwrap();
    let mut r = runner(&dn, &dao, dir.path());
    let report = r.pass().await.unwrap();
    assert!(
        report.later.iter().any(|(id, _)| *id == deploy_id),
        "the open deploy was not judged: {report:?}"
    );
}
