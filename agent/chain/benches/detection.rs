//! Detection latency: from the block that holds the deciding `finalize` to the follower emitting
//! the proposal's ProposalFinalized event, on the devnet, in blocks and milliseconds.
//!
//!     cargo bench -p dao-chain --bench detection
//!
//! The anchor to beat is comin's poll of its remote every 60 s (30 s on average). Target: the
//! next block. Each trial forms nothing new: one DAO, then propose, two votes (deciding it
//! early), finalize, while a follower started before the finalize waits for it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a bench fails loudly

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use dao_chain::decode::{Targets, VoteChoice};
use dao_chain::events::AppEvent;
use dao_chain::follow::{Backoff, FollowOptions, Follower};
use dao_chain::txn::DeployProposal;
use std::time::{Duration, Instant};

const TRIALS: u64 = 7;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

async fn run() {
    let dn = Devnet::start();
    let dao = form(&dn, true).await;
    let app = dao.app.clone();
    let dir = tempfile::tempdir().unwrap();
    let mut rows = Vec::new();
    for trial in 0..TRIALS {
        let p = DeployProposal {
            emergency: false,
            base: [1; 20],
            head: [2; 20],
            diff_hash: [trial as u8; 32],
            targets: Targets::All,
            description_url: format!("https://git.example/fleet/pulls/{trial}"),
        };
        let (id, _) = app.propose_deploy(&dao.members[0], &p).await.unwrap();
        app.vote(&dao.members[0], id, VoteChoice::For)
            .await
            .unwrap();
        app.vote(&dao.members[1], id, VoteChoice::For)
            .await
            .unwrap();
        // The follower starts after the votes, as an agent idling between proposals would be.
        let start_after = app.node.last_round().await.unwrap();
        let opts = FollowOptions {
            watermark_file: dir.path().join(format!("wm-{trial}.json")),
            start_after,
            backoff: Backoff {
                initial: Duration::from_millis(100),
                max: Duration::from_secs(1),
            },
            verify: true,
        };
        let mut follower = Follower::new(app.clone(), opts).unwrap();
        let watcher = tokio::spawn(async move {
            loop {
                let e = follower.next().await.unwrap();
                if let AppEvent::ProposalFinalized { id: got, .. } = e.event {
                    if got == id {
                        return (e.round, Instant::now());
                    }
                }
            }
        });
        // Let the follower reach its wait on the next block.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let submitted = Instant::now();
        let fin = app.finalize(&dao.creator, id).await.unwrap();
        let confirmed = Instant::now();
        let (round, seen) = tokio::time::timeout(Duration::from_secs(60), watcher)
            .await
            .unwrap()
            .unwrap();
        rows.push((
            id,
            fin.round,
            round,
            seen.duration_since(submitted),
            seen.checked_duration_since(confirmed),
        ));
    }
    println!("detection latency on the devnet ({TRIALS} proposals)");
    println!(
        "{:>4} {:>15} {:>14} {:>7} {:>22} {:>22}",
        "id",
        "finalize round",
        "detected round",
        "blocks",
        "ms since submitted",
        "ms since confirmed"
    );
    let mut ms: Vec<f64> = Vec::new();
    for (id, fr, dr, since_submit, since_confirm) in &rows {
        let s = since_submit.as_secs_f64() * 1000.0;
        ms.push(s);
        println!(
            "{id:>4} {fr:>15} {dr:>14} {:>7} {s:>22.1} {:>22}",
            dr - fr,
            since_confirm.map_or("before".into(), |d| format!(
                "{:.1}",
                d.as_secs_f64() * 1000.0
            ))
        );
    }
    ms.sort_by(f64::total_cmp);
    let median = ms[ms.len() / 2];
    let max = ms[ms.len() - 1];
    let blocks_max = rows.iter().map(|r| r.2 - r.1).max().unwrap();
    println!(
        "median {median:.1} ms, max {max:.1} ms, at most {blocks_max} block(s) after the finalize block"
    );
    println!(
        "comin's 60 s poll: 30,000 ms on average, 60,000 ms at worst -> {:.0}x faster at the median",
        30_000.0 / median
    );
}
