//! The agent's request budget towards algod (issue 19): while following, at most 2 requests per
//! block; `chain.max_requests_per_second` is one token bucket that every request of a node and
//! its clones goes through (reads through our client and sends through algonaut alike), and a
//! request waiting for it is not a failure. Counted from both sides: the client's own count and
//! the devnet's per-route count.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use dao_chain::events::AppEvent;
use dao_chain::follow::{Backoff, FollowOptions, Follower, Status};
use dao_chain::node::App;
use std::time::{Duration, Instant};

#[tokio::test]
async fn following_costs_at_most_two_requests_per_block() {
    let dn = Devnet::start();
    let dao = form(&dn, true).await;
    // The follower's own node: its requests are counted apart from the test's sends.
    let node = dn.node();
    let start = node.last_round().await.unwrap();
    let counted = node.requests_made();
    let dir = tempfile::tempdir().unwrap();
    let mut f = Follower::new(
        App::new(node.clone(), dao.app.app_id),
        FollowOptions {
            watermark_file: dir.path().join("wm.json"),
            start_after: start,
            backoff: Backoff::default(),
            // The events' own re-reads are the survey's kind of cost, counted by the benchmark;
            // here: what following the blocks costs.
            verify: false,
        },
    )
    .unwrap();
    let follower = tokio::spawn(async move {
        loop {
            let e = f.next().await.unwrap();
            if matches!(e.event, AppEvent::ProposalCreated { .. }) {
                return (e.round, f);
            }
        }
    });
    // Blocks one by one, as a network makes them, with the follower at the tip waiting for each.
    for _ in 0..20 {
        dn.post("/devnet/block", "").await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, created) = dao
        .app
        .propose_deploy(&dao.members[0], &emergency_deploy())
        .await
        .unwrap();
    let (round, f) = tokio::time::timeout(Duration::from_secs(60), follower)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(round, created.round);
    assert!(matches!(f.status(), Status::Following { .. }));
    let blocks = round - start;
    let requests = node.requests_made() - counted;
    assert!(blocks >= 21, "{blocks}");
    assert!(
        requests <= 2 * blocks,
        "{requests} requests for {blocks} blocks: more than 2 per block"
    );
    // Nothing but the two per-block requests: the wait for the next block, and its logs.
    let ratio = requests as f64 / blocks as f64;
    println!("following: {requests} requests for {blocks} blocks ({ratio:.2} per block)");
}

#[tokio::test]
async fn one_budget_for_every_request_of_a_node_and_its_clones_and_waiting_is_not_failing() {
    let dn = Devnet::start();
    let dao = form(&dn, true).await;
    let mut node = dn.node();
    const RATE: f64 = 4.0;
    node.limit_requests(RATE);
    let app = App::new(node.clone(), dao.app.app_id);
    let (devnet_before, _) = dn.requests().await;
    let started = Instant::now();
    // Reads from two clones at once, and a send (algonaut's requests: parameters, the group)
    // with its confirmation polls (ours), all through the one budget.
    let reader = {
        let app = app.clone();
        tokio::spawn(async move {
            for _ in 0..6 {
                app.global().await.unwrap();
            }
        })
    };
    let other = {
        let node = node.clone();
        tokio::spawn(async move {
            for _ in 0..6 {
                node.last_round().await.unwrap();
            }
        })
    };
    let (id, _) = app
        .propose_deploy(&dao.members[0], &emergency_deploy())
        .await
        .expect("a send waiting for the budget is later, not failed");
    reader.await.unwrap();
    other.await.unwrap();
    let elapsed = started.elapsed();
    let (devnet_after, routes) = dn.requests().await;
    let made = node.requests_made();
    // Every request the devnet served in the meantime came from this node (nothing else talks
    // to it) and passed the node's meter: the clones' and algonaut's too.
    assert_eq!(devnet_after - devnet_before, made, "{routes}");
    assert!(routes["POST /v2/transactions"].as_u64().unwrap() >= 1);
    assert_eq!(app.proposal(id).await.unwrap().id, id);
    // The bucket starts with one second's worth; every further request waited its turn. (A
    // lower bound only: the budget makes the run at least this long, never shorter.)
    let floor = (made as f64 - RATE - 1.0) / RATE;
    assert!(
        elapsed.as_secs_f64() >= floor,
        "{made} requests in {elapsed:?}: faster than {RATE} per second"
    );
    println!("{made} requests in {elapsed:?} with a budget of {RATE}/s");
}
