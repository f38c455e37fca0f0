//! The executor's survey with its persisted floor (issue 19): a survey reads only the proposals
//! that can still matter to this host; everything below the floor is final for it (elsewhere,
//! reported, defeated or canceled); an open proposal holds the floor, so nothing the host has
//! to act on is ever skipped; the floor survives a restart, and a cache that is not this app's
//! and host's, or does not parse, is dropped (the survey then reads everything again).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../chain/tests/common/mod.rs"]
mod common;

use common::*;
use dao_agent::daemon::survey::{survey, Action, Cache};
use dao_chain::decode::{Targets, VoteChoice};
use dao_chain::node::App;
use dao_chain::txn::DeployProposal;

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

/// Proposes `p` and decides it early with 80 of 100 votes.
async fn decided(dao: &Dao, p: &DeployProposal, choice: VoteChoice) -> u64 {
    let (id, _) = dao.app.propose_deploy(&dao.members[0], p).await.unwrap();
    for m in &dao.members[..2] {
        dao.app.vote(m, id, choice).await.unwrap();
    }
    dao.app.finalize(&dao.creator, id).await.unwrap();
    id
}

fn applied(s: &dao_agent::daemon::survey::Survey) -> Vec<u64> {
    s.actions
        .iter()
        .map(|a| match a {
            Action::Apply(a) => a.proposal,
            Action::Expired(a) => 1000 + a.proposal,
        })
        .collect()
}

#[tokio::test]
async fn the_floor_moves_over_final_proposals_only_and_survives_a_restart() {
    let dn = Devnet::start();
    let dao = form(&dn, true).await;
    let app = App::new(dn.node(), dao.app.app_id);
    let host = 1;
    let elsewhere = decided(&dao, &deploy(Targets::Hosts(vec![2]), 2), VoteChoice::For).await;
    let defeated = decided(
        &dao,
        &deploy(Targets::Hosts(vec![1]), 3),
        VoteChoice::Against,
    )
    .await;
    let queued = decided(&dao, &deploy(Targets::All, 4), VoteChoice::For).await;
    // Still voting when the host surveys: it must hold the floor.
    let (open, _) = dao
        .app
        .propose_deploy(&dao.members[0], &deploy(Targets::Hosts(vec![1]), 5))
        .await
        .unwrap();
    assert_eq!((elsewhere, defeated, queued, open), (1, 2, 3, 4));
    dn.advance(61).await; // the timelock

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("survey.json");
    let mut cache = Cache::persisted(file.clone());
    let s = survey(&app, host, &mut cache).await.unwrap();
    assert_eq!(applied(&s), vec![queued]);
    assert!(s.unverified.is_empty(), "{:?}", s.unverified);
    // 1 is not for this host and 2 was defeated: both final. 3 waits for its report.
    assert_eq!(cache.floor(), queued);
    assert!(file.exists());

    app.report(&dao.agent, queued, host, APPLIED, [9; 32], 1, [8; 32])
        .await
        .unwrap();
    let s = survey(&app, host, &mut cache).await.unwrap();
    assert!(s.actions.is_empty());
    assert_eq!(s.last_applied.map(|(id, _)| id), Some(queued));
    assert_eq!(cache.floor(), open, "the open proposal holds the floor");

    // A restart: the floor comes back from the file, and the survey reads less than one from
    // proposal 1 does, with the same standing.
    let mut restarted = Cache::persisted(file.clone());
    let before = app.node.requests_made();
    let warm = survey(&app, host, &mut restarted).await.unwrap();
    let warm_requests = app.node.requests_made() - before;
    assert_eq!(restarted.floor(), open);
    let before = app.node.requests_made();
    let cold = survey(&app, host, &mut Cache::default()).await.unwrap();
    let cold_requests = app.node.requests_made() - before;
    assert_eq!(warm.last_applied, cold.last_applied);
    assert_eq!(applied(&warm), applied(&cold));
    assert!(
        warm_requests < cold_requests,
        "{warm_requests} requests from the floor, {cold_requests} from proposal 1"
    );

    // The open proposal passes later: found, although every proposal around it is final.
    for m in &dao.members[..2] {
        dao.app.vote(m, open, VoteChoice::For).await.unwrap();
    }
    dao.app.finalize(&dao.creator, open).await.unwrap();
    dn.advance(61).await;
    let s = survey(&app, host, &mut restarted).await.unwrap();
    assert_eq!(applied(&s), vec![open]);
    // Not yet reported: still the floor.
    assert_eq!(restarted.floor(), open);
}

#[tokio::test]
async fn a_cache_of_another_host_or_one_that_does_not_parse_is_dropped() {
    let dn = Devnet::start();
    let dao = form(&dn, true).await;
    let app = App::new(dn.node(), dao.app.app_id);
    let queued = decided(&dao, &deploy(Targets::Hosts(vec![1]), 4), VoteChoice::For).await;
    let other = decided(&dao, &deploy(Targets::Hosts(vec![1]), 5), VoteChoice::For).await;
    dn.advance(61).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("survey.json");

    // Host 2's cache: for it, both proposals are elsewhere, its floor past them.
    let mut host2 = Cache::persisted(file.clone());
    let s = survey(&app, 2, &mut host2).await.unwrap();
    assert!(s.actions.is_empty());
    assert_eq!(host2.floor(), other + 1);
    // The same file read by host 1 (a state directory moved between hosts, a changed host id)
    // must not hide host 1's proposals.
    let mut host1 = Cache::persisted(file.clone());
    let s = survey(&app, 1, &mut host1).await.unwrap();
    assert_eq!(applied(&s), vec![queued, other]);
    assert_eq!(host1.floor(), queued);

    // A file that does not parse: dropped, the survey reads from proposal 1.
    std::fs::write(&file, b"{\"version\": 1, \"floor\": ").unwrap();
    let mut broken = Cache::persisted(file.clone());
    let s = survey(&app, 1, &mut broken).await.unwrap();
    assert_eq!(applied(&s), vec![queued, other]);

    // A floor beyond the chain's proposals (a reset chain, another network): dropped.
    let text = std::fs::read_to_string(&file).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["floor"] = serde_json::json!(other + 5);
    std::fs::write(&file, v.to_string()).unwrap();
    let mut beyond = Cache::persisted(file.clone());
    let s = survey(&app, 1, &mut beyond).await.unwrap();
    assert_eq!(applied(&s), vec![queued, other]);
    assert_eq!(beyond.floor(), queued);

    // A file of this app id and host whose floor is past both proposals: trusted when it names
    // this DAO (the survey skips them), dropped when it names another DAO's genesis commit (an
    // app id reused by a reset devnet or another network).
    let text = std::fs::read_to_string(&file).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["floor"] = serde_json::json!(other + 1);
    v["reported"] = serde_json::json!([]);
    std::fs::write(&file, v.to_string()).unwrap();
    let mut trusted = Cache::persisted(file.clone());
    let s = survey(&app, 1, &mut trusted).await.unwrap();
    assert_eq!(applied(&s), Vec::<u64>::new());
    v["genesis"] = serde_json::json!("00".repeat(20));
    std::fs::write(&file, v.to_string()).unwrap();
    let mut another_dao = Cache::persisted(file.clone());
    let s = survey(&app, 1, &mut another_dao).await.unwrap();
    assert_eq!(applied(&s), vec![queued, other]);
}
