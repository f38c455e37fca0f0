//! Scale (issue 19): what one agent asks of algod, per block while following, and per survey
//! as the DAO's history grows to 10, 1,000 and 10,000 past proposals, side by side in one run.
//!
//!     cargo bench -p dao-agent --bench scale
//!     DAO_BENCH_SIZES=10,100 cargo bench -p dao-agent --bench scale   # a quicker run
//!
//! On the devnet (go-algorand's evaluator): one DAO, host 1. The history is deploy proposals for
//! another host (what most of a fleet's history is to any one host): one made through the app,
//! the others copies of its boxes under the following ids (the devnet's `replicate`: the
//! evaluator takes about half a second per group, so 10,000 through the app would take an
//! hour and a half). At each size one more deploy for host 1 is queued and past its
//! timelock, so every survey verifies one proposal (its votes read by key, its voters'
//! histories) and finds it to apply; it is then reported, as the executor would. Per size:
//! - first survey: no survey cache yet (a new host, or a lost `survey.json`): every proposal is
//!   read once;
//! - next survey: the same agent's next pass (median of 5);
//! - after restart: a new agent process reading `survey.json` (the persisted floor; median of 5).
//!
//! The last column is the one request whose work on the devnet grows with the app's boxes, the
//! members' names by prefix: the devnet sorts every box name in Python where algod scans a key
//! range in SQLite.
//!
//! Figures only; the flat cost is the "next" and "after restart" columns.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a bench fails loudly

#[path = "../../chain/tests/common/mod.rs"]
mod common;

use common::*;
use dao_agent::daemon::survey::{survey, Action, Cache};
use dao_chain::decode::{Targets, VoteChoice};
use dao_chain::events::AppEvent;
use dao_chain::follow::{Backoff, FollowOptions, Follower};
use dao_chain::node::App;
use dao_chain::txn::DeployProposal;
use std::time::{Duration, Instant};

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

fn sizes() -> Vec<u64> {
    std::env::var("DAO_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').map(|n| n.trim().parse().unwrap()).collect())
        .unwrap_or_else(|| vec![10, 1_000, 10_000])
}

fn deploy(targets: Targets, n: u64) -> DeployProposal {
    let mut diff_hash = [0u8; 32];
    diff_hash[..8].copy_from_slice(&n.to_be_bytes());
    DeployProposal {
        emergency: false,
        base: [1; 20],
        head: [2; 20],
        diff_hash,
        targets,
        description_url: String::new(),
    }
}

/// Requests per block of a follower at the chain's tip, over `blocks` blocks.
async fn following(dn: &Devnet, dao: &Dao, blocks: u64) -> (u64, u64) {
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
            verify: false,
        },
    )
    .unwrap();
    let task = tokio::spawn(async move {
        loop {
            let e = f.next().await.unwrap();
            if matches!(e.event, AppEvent::ProposalCreated { .. }) {
                return e.round;
            }
        }
    });
    for _ in 0..blocks {
        dn.post("/devnet/block", "").await;
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    dao.app
        .propose_deploy(&dao.members[0], &deploy(Targets::Hosts(vec![2]), u64::MAX))
        .await
        .unwrap();
    let round = task.await.unwrap();
    (node.requests_made() - counted, round - start)
}

/// Proposals for host 2 up to id `to`: the first through the app, the rest copies of it made
/// by the devnet (`POST /devnet/replicate`: its `p` and `q` boxes under the next ids, and the
/// app's `proposal_count`), since the evaluator takes about half a second per group.
async fn grow(dn: &Devnet, dao: &Dao, from: u64, to: u64) {
    let mut first = from + 1;
    if from == 0 {
        let (id, _) = dao
            .app
            .propose_deploy(&dao.members[0], &deploy(Targets::Hosts(vec![2]), 0))
            .await
            .unwrap();
        assert_eq!(id, 1);
        first = 2;
    }
    if first > to {
        return;
    }
    let body = format!(
        r#"{{"app_id": {}, "template": 1, "first": {first}, "last": {to}, "prefixes": ["p", "q"], "counter": "proposal_count"}}"#,
        dao.app.app_id
    );
    let r = dn.post("/devnet/replicate", &body).await;
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
}

struct Measure {
    ms: f64,
    requests: u64,
}

async fn measured(app: &App, cache: &mut Cache, expect: u64) -> Measure {
    let before = app.node.requests_made();
    let t = Instant::now();
    let s = survey(app, 1, cache).await.unwrap();
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    let found: Vec<u64> = s
        .actions
        .iter()
        .map(|a| match a {
            Action::Apply(a) | Action::Expired(a) => a.proposal,
        })
        .collect();
    assert_eq!(found, vec![expect], "{:?}", s.unverified);
    Measure {
        ms,
        requests: app.node.requests_made() - before,
    }
}

fn median(mut m: Vec<Measure>) -> Measure {
    m.sort_by(|a, b| a.ms.total_cmp(&b.ms));
    m.swap_remove(m.len() / 2)
}

async fn run() {
    let dn = Devnet::start();
    let dao = form(&dn, true).await;
    let (requests, blocks) = following(&dn, &dao, 40).await;
    println!(
        "following: {requests} requests for {blocks} blocks = {:.2} per block (at the tip: the \
         wait for the next block and its logs)",
        requests as f64 / blocks as f64
    );

    // Proposal 1 (for host 2, made by the following measurement) is the history's template.
    let app = App::new(dn.node(), dao.app.app_id);
    let dir = tempfile::tempdir().unwrap();
    let mut rows = Vec::new();
    for size in sizes() {
        let have = dao.app.global().await.unwrap().proposal_count;
        let t = Instant::now();
        grow(&dn, &dao, have, size).await;
        let made = size.saturating_sub(have);
        let grow_s = t.elapsed().as_secs_f64();
        // This size's proposal for host 1: queued, past its timelock.
        let (id, _) = dao
            .app
            .propose_deploy(&dao.members[0], &deploy(Targets::Hosts(vec![1]), size))
            .await
            .unwrap();
        for m in &dao.members[..2] {
            dao.app.vote(m, id, VoteChoice::For).await.unwrap();
        }
        dao.app.finalize(&dao.creator, id).await.unwrap();
        dn.advance(61).await;
        let past = dao.app.global().await.unwrap().proposal_count;

        let file = dir.path().join(format!("survey-{size}.json"));
        // A new agent at each size (its first survey reads everything), then its next pass,
        // then a restart of it reading the file.
        let mut cache = Cache::persisted(file.clone());
        let first = measured(&app, &mut cache, id).await;
        // The median of 5 of each: the machine is shared, one survey is a few milliseconds.
        let mut nexts = Vec::new();
        let mut restarts = Vec::new();
        for _ in 0..5 {
            nexts.push(measured(&app, &mut cache, id).await);
            restarts.push(measured(&app, &mut Cache::persisted(file.clone()), id).await);
        }
        let (next, restarted) = (median(nexts), median(restarts));
        let floor = cache.floor();
        // The one request whose work on the devnet grows with the app's boxes: the members'
        // names by prefix (the devnet sorts every box name in Python; algod scans its key
        // range in SQLite, ledger/store/trackerdb/sqlitedriver/sql.go LookupKeysByPrefix).
        let t = Instant::now();
        for _ in 0..5 {
            app.member_addresses().await.unwrap();
        }
        let listing = t.elapsed().as_secs_f64() * 1000.0 / 5.0;
        rows.push((past, first, next, restarted, floor, made, grow_s, listing));
        app.report(&dao.agent, id, 1, APPLIED, [9; 32], 1, [8; 32])
            .await
            .unwrap();
    }
    println!();
    println!("survey of host 1 (one proposal to verify and apply in each)");
    println!(
        "{:>10} | {:>22} | {:>22} | {:>22} | {:>6}",
        "proposals",
        "first: ms / requests",
        "next: ms / requests",
        "restart: ms / requests",
        "floor"
    );
    for (past, first, next, restarted, floor, _, _, listing) in &rows {
        println!(
            "{past:>10} | {:>13.1} / {:>6} | {:>13.1} / {:>6} | {:>13.1} / {:>6} | {floor:>6} | {listing:>8.1}",
            first.ms, first.requests, next.ms, next.requests, restarted.ms, restarted.requests
        );
    }
    println!();
    for (past, _, _, _, _, made, grow_s, _) in &rows {
        println!("(history to {past}: {made} proposals added in {grow_s:.1} s)");
    }
}
