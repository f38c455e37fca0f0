//! A follower whose next round the node has pruned (a non-archival node keeps ~1,000 rounds)
//! skips to the oldest round the node still has, once, instead of retrying for ever; the events
//! after the gap arrive, and the app's state (what the executor reads) still has everything the
//! skipped events were about. The devnet's `prune` switch plays the non-archival node.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use dao_chain::decode::VoteChoice;
use dao_chain::events::AppEvent;
use dao_chain::follow::{read_watermark, Backoff, FollowOptions, Follower, Status};
use dao_chain::node::App;
use std::time::Duration;

#[tokio::test]
async fn a_follower_behind_a_pruned_range_skips_it_once_and_loses_nothing_the_executor_reads() {
    let dn = Devnet::start();
    let dao = form(&dn, true).await;
    // While the agent is down, a proposal is made and voted on; then the node prunes.
    let (id, created) = dao
        .app
        .propose_deploy(&dao.members[0], &emergency_deploy())
        .await
        .unwrap();
    dao.app
        .vote(&dao.members[1], id, VoteChoice::For)
        .await
        .unwrap();
    dn.switch(r#"{"prune": 4}"#).await;
    for _ in 0..6 {
        dn.post("/devnet/block", "").await;
    }
    let oldest = dn.switches().await["oldest-round"].as_u64().unwrap();
    assert!(oldest > created.round + 1, "{oldest} {}", created.round);

    let dir = tempfile::tempdir().unwrap();
    let wm = dir.path().join("wm.json");
    let mut f = Follower::new(
        App::new(dao.app.node.clone(), dao.app.app_id),
        FollowOptions {
            watermark_file: wm.clone(),
            start_after: dao.before,
            backoff: Backoff {
                initial: Duration::from_millis(100),
                max: Duration::from_millis(400),
            },
            verify: true,
        },
    )
    .unwrap()
    // The devnet prunes to 4 rounds where algod keeps at least 1,000.
    .with_retention(4);
    // A vote after the gap: the first event the follower can still see.
    let voted = dao
        .app
        .vote(&dao.members[2], id, VoteChoice::Against)
        .await
        .unwrap();
    let e = tokio::time::timeout(Duration::from_secs(60), f.next())
        .await
        .expect("the follower loops on the pruned round")
        .unwrap();
    assert!(
        matches!(e.event, AppEvent::VoteCast { .. }),
        "{:?}",
        e.event
    );
    assert_eq!(e.round, voted.round);
    // One gap, from the first round the follower needed to the one before the oldest kept
    // (the oldest as it was when the follower looked: the node may have pruned one more since).
    assert_eq!(f.gaps().len(), 1, "{:?}", f.gaps());
    let (from, to) = f.gaps()[0];
    assert_eq!(from, dao.before + 1);
    assert!(to + 1 >= oldest && to < voted.round, "{to} {oldest}");
    // The skip is persisted: a restart does not go back into the gap.
    assert!(read_watermark(&wm, dao.app.app_id).unwrap().unwrap() >= to);
    // The event carries the proposal as the chain has it now, re-verified: both votes.
    let v = e.proposal.unwrap().unwrap();
    assert_eq!(v.proposal.id, id);
    assert_eq!(
        (v.proposal.header.for_, v.proposal.header.against),
        (30, 20)
    );
    assert_eq!(v.votes.len(), 2);
    // What the skipped events were about is in the app's state.
    assert_eq!(dao.app.proposal(id).await.unwrap().header.for_, 30);
}

/// Behind a load balancer whose backends are at different rounds, a round may answer 404 on
/// one backend while another already served a later last round. Within the rounds every algod
/// keeps (1,000), that is never pruning: the follower retries, and delivers the round's events
/// once a backend has it, with no gap.
#[tokio::test]
async fn a_404_within_the_retention_is_a_lagging_backend_retried_not_skipped() {
    let dn = Devnet::start();
    let dao = form(&dn, true).await;
    let (_, created) = dao
        .app
        .propose_deploy(&dao.members[0], &emergency_deploy())
        .await
        .unwrap();
    // The backend the follower reaches answers 404 for the rounds it needs.
    dn.switch(r#"{"prune": 4}"#).await;
    for _ in 0..6 {
        dn.post("/devnet/block", "").await;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut f = Follower::new(
        App::new(dao.app.node.clone(), dao.app.app_id),
        FollowOptions {
            watermark_file: dir.path().join("wm.json"),
            start_after: dao.before,
            backoff: Backoff {
                initial: Duration::from_millis(100),
                max: Duration::from_millis(400),
            },
            verify: true,
        },
    )
    .unwrap();
    let status = f.status_handle();
    // The formation's events come first (the follower starts before the app was created).
    let task = tokio::spawn(async move {
        loop {
            let e = f.next().await.unwrap();
            if matches!(e.event, AppEvent::ProposalCreated { .. }) {
                return (e, f);
            }
        }
    });
    // Wait until the follower has met the 404 (it retries, and says so).
    let retrying = async {
        loop {
            if matches!(*status.lock().unwrap(), Status::Retrying { .. }) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), retrying)
        .await
        .expect("the follower never retried the round");
    // The backend catches up: every round is served again.
    dn.switch(r#"{"prune": null}"#).await;
    let (e, f) = tokio::time::timeout(Duration::from_secs(60), task)
        .await
        .expect("the follower did not resume")
        .unwrap();
    assert_eq!(e.round, created.round);
    assert!(f.gaps().is_empty(), "skipped {:?}", f.gaps());
}
