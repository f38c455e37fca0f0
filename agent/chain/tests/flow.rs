//! Formation → propose → vote → finalize → report on a real devnet, followed by the Follower.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use dao_chain::decode::{Targets, VoteChoice};
use dao_chain::events::AppEvent;
use dao_chain::follow::{Backoff, FollowOptions, Follower};
use dao_chain::txn::DeployProposal;
use dao_core::rules::{Kind, ProposalState, Stored};
use std::collections::BTreeSet;
use std::time::Duration;

fn opts(dir: &std::path::Path, start_after: u64) -> FollowOptions {
    FollowOptions {
        watermark_file: dir.join("watermark.json"),
        start_after,
        backoff: Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
        },
        verify: true,
    }
}

fn deploy() -> DeployProposal {
    DeployProposal {
        emergency: false,
        base: [1; 20],
        head: [2; 20],
        diff_hash: [3; 32],
        targets: Targets::Hosts(vec![1]),
        description_url: "https://git.example/fleet/pulls/1".into(),
    }
}

async fn next(f: &mut Follower) -> dao_chain::Event {
    tokio::time::timeout(Duration::from_secs(30), f.next())
        .await
        .expect("an event within 30 s")
        .unwrap()
}

#[tokio::test]
async fn formation_proposal_vote_finalize_report_and_follow() {
    let dn = Devnet::start();
    let dao = form(&dn, true).await;
    let app = &dao.app;
    let g = app.global().await.unwrap();
    assert!(g.sealed);
    assert_eq!(g.total_weight, 100);
    assert_eq!(g.member_seq, 3);
    assert_eq!(g.repo, REPO);

    let (id, created) = app
        .propose_deploy(&dao.members[0], &deploy())
        .await
        .unwrap();
    assert_eq!(id, 1);
    let v1 = app
        .vote(&dao.members[0], id, VoteChoice::For)
        .await
        .unwrap();
    let v2 = app
        .vote(&dao.members[1], id, VoteChoice::Against)
        .await
        .unwrap();
    // 50 for, 30 against, 20 remaining: undecided before the end.
    let e = app.finalize(&dao.creator, id).await.unwrap_err();
    assert_eq!(e.app_code(), Some("outcome_undecided"), "{e}");
    // A second vote is refused with the app's code.
    let e = app
        .vote(&dao.members[0], id, VoteChoice::Against)
        .await
        .unwrap_err();
    assert_eq!(e.app_code(), Some("already_voted"), "{e}");
    match &e {
        dao_chain::ChainError::AppError { pc, raw, .. } => {
            assert_eq!(
                dao_chain::errors::error_map().get(pc).map(String::as_str),
                Some("already_voted")
            );
            assert!(raw.contains(&format!("pc={pc}")), "{raw}");
        }
        other => panic!("{other:?}"),
    }

    dn.advance(3600).await;
    let fin = app.finalize(&dao.creator, id).await.unwrap();
    assert_eq!(fin.returned, Some(vec![3]));
    let p = app.proposal(id).await.unwrap();
    assert_eq!(p.header.stored, Stored::Queued);
    assert_eq!((p.header.for_, p.header.against), (50, 30));

    // Reporting before eta is refused; after it, the host's agent reports.
    let e = app
        .report(&dao.agent, id, 1, APPLIED, [9; 32], 42, [8; 32])
        .await
        .unwrap_err();
    assert_eq!(e.app_code(), Some("timelock_active"), "{e}");
    dn.advance(60).await;
    // Only the registered agent may report.
    let e = app
        .report(&dao.members[0], id, 1, APPLIED, [9; 32], 42, [8; 32])
        .await
        .unwrap_err();
    assert_eq!(e.app_code(), Some("not_host_agent"), "{e}");
    let rep = app
        .report(&dao.agent, id, 1, APPLIED, [9; 32], 42, [8; 32])
        .await
        .unwrap();
    let (report, rollback) = app.reports(id, 1).await.unwrap();
    assert_eq!(report.unwrap().generation, 42);
    assert!(rollback.is_none());

    // The follower sees everything in order, from before the creation.
    let dir = tempfile::tempdir().unwrap();
    let mut f = Follower::new(app.clone(), opts(dir.path(), dao.before)).unwrap();
    let mut seen = Vec::new();
    loop {
        let e = next(&mut f).await;
        let done = matches!(e.event, AppEvent::ExecutionReported { .. });
        seen.push(e);
        if done {
            break;
        }
    }
    let names: Vec<&str> = seen.iter().map(|e| e.event.name()).collect();
    assert_eq!(
        names,
        [
            // Each member's weight, and its voting power's first history entry.
            "MemberChanged",
            "VotingPowerChanged",
            "MemberChanged",
            "VotingPowerChanged",
            "MemberChanged",
            "VotingPowerChanged",
            "HostChanged",
            "Sealed",
            "ProposalCreated",
            "VoteCast",
            "VoteCast",
            "ProposalFinalized",
            "ExecutionReported"
        ]
    );
    let rounds: Vec<u64> = seen[8..].iter().map(|e| e.round).collect();
    assert_eq!(
        rounds,
        [created.round, v1.round, v2.round, fin.round, rep.round]
    );
    assert!(rounds.windows(2).all(|w| w[0] < w[1]));
    match &seen[8].event {
        AppEvent::ProposalCreated {
            id: 1,
            kind,
            proposer,
            ..
        } => {
            assert_eq!(*kind, Kind::Deploy);
            assert_eq!(*proposer, dao.members[0].address());
        }
        other => panic!("{other:?}"),
    }
    // Every proposal event carries the re-verified proposal.
    for e in &seen[8..] {
        let v = e.proposal.as_ref().unwrap().as_ref().unwrap();
        assert_eq!(v.proposal.id, 1);
        assert_eq!(v.state, ProposalState::Queued);
        assert!(v.rules_checked);
        assert_eq!(v.engine.tally.for_, 50);
        assert_eq!(v.votes.len(), 2);
    }
    assert!(seen[..8].iter().all(|e| e.proposal.is_none()));
    // The watermark covers the report's round once acknowledged.
    let ack = tokio::time::timeout(Duration::from_secs(5), f.next()).await;
    assert!(ack.is_err(), "no more events");
    assert!(f.watermark() >= rep.round);
    let wm = dao_chain::follow::read_watermark(&dir.path().join("watermark.json"), app.app_id)
        .unwrap()
        .unwrap();
    assert!(wm >= rep.round, "{wm} < {}", rep.round);
}

#[tokio::test]
async fn a_restarted_follower_resumes_from_its_watermark_without_loss() {
    let dn = Devnet::start();
    let dao = form(&dn, true).await;
    let app = &dao.app;
    let dir = tempfile::tempdir().unwrap();
    let (id, _) = app
        .propose_deploy(&dao.members[0], &deploy())
        .await
        .unwrap();

    // First follower: reads the formation events and the proposal, then "crashes" right after
    // receiving the ProposalCreated event (not acknowledged).
    let mut keys = Vec::new();
    let mut votes = Vec::new();
    {
        let mut f = Follower::new(app.clone(), opts(dir.path(), dao.before)).unwrap();
        loop {
            let e = next(&mut f).await;
            keys.push((e.round, e.txid.clone(), e.index));
            if matches!(e.event, AppEvent::ProposalCreated { .. }) {
                break;
            }
        }
    }
    // Events while nobody follows.
    for (m, c) in dao
        .members
        .iter()
        .zip([VoteChoice::For, VoteChoice::For, VoteChoice::Abstain])
    {
        app.vote(m, id, c).await.unwrap();
    }
    // Second follower from the same watermark file.
    let mut f = Follower::new(app.clone(), opts(dir.path(), dao.before)).unwrap();
    let mut replayed = 0;
    loop {
        let e = next(&mut f).await;
        let key = (e.round, e.txid.clone(), e.index);
        if keys.contains(&key) {
            // At-least-once: only the unacknowledged round may come again.
            replayed += 1;
            assert!(
                matches!(e.event, AppEvent::ProposalCreated { .. }),
                "{:?}",
                e.event
            );
            continue;
        }
        keys.push(key);
        if let AppEvent::VoteCast {
            voter,
            effective_weight,
            ..
        } = e.event
        {
            votes.push((voter, effective_weight));
        }
        if votes.len() == 3 {
            break;
        }
    }
    assert!(replayed <= 1);
    let unique: BTreeSet<_> = keys.iter().cloned().collect();
    assert_eq!(unique.len(), keys.len());
    assert_eq!(keys.len(), 9 + 3);
    let total: u64 = votes.iter().map(|v| v.1).sum();
    assert_eq!(total, 100, "every vote counted once");
    let p = app.proposal(id).await.unwrap();
    assert_eq!(p.header.voters, 3);
}
