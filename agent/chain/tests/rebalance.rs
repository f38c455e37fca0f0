//! Kind 8 on a real devnet: propose a rebalance of three members, vote, finalize, execute, and
//! read the new weights, the events and the weights at the proposal's snapshot.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use dao_chain::decode::{ProposalPayload, VoteChoice};
use dao_chain::events::AppEvent;
use dao_core::contributors::PointWeights;
use dao_core::rules::Kind;

#[tokio::test]
async fn a_rebalance_of_three_members_is_proposed_voted_and_executed() {
    let dn = Devnet::start();
    let dao = form(&dn, true).await;
    let app = &dao.app;
    let before = app.weights_now().await.unwrap();
    assert_eq!(before.len(), 3);
    // dev2 50, dev3 30, dev4 20 -> 60, 35, 25: everybody gains, sorted by address bytes
    let raise = |w: u64| match w {
        50 => 60,
        30 => 35,
        _ => 25,
    };
    let table: Vec<_> = before.iter().map(|(a, w)| (*a, raise(*w))).collect();

    // lowering anyone is refused by the app (the client checks only the list's shape)
    let mut lower = table.clone();
    lower[0].1 = before[0].1 - 1;
    let e = app
        .propose_rebalance(&dao.members[0], [9; 20], [8; 32], &lower, "u")
        .await
        .unwrap_err();
    assert_eq!(e.app_code(), Some("rebalance_lowers_weight"), "{e}");
    // an unsorted list never leaves the client
    let mut unsorted = table.clone();
    unsorted.swap(0, 1);
    let e = app
        .propose_rebalance(&dao.members[0], [9; 20], [8; 32], &unsorted, "u")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("strictly increasing"), "{e}");

    let url = "https://git.example/fleet/rebalance/1";
    let (id, c) = app
        .propose_rebalance(&dao.members[0], [9; 20], [8; 32], &table, url)
        .await
        .unwrap();
    assert!(c.events.iter().any(|e| matches!(
        e,
        AppEvent::ProposalCreated { id: i, kind: Kind::Rebalance, .. } if *i == id
    )));
    let p = app.proposal(id).await.unwrap();
    assert_eq!(p.header.kind, Kind::Rebalance);
    assert_eq!(
        p.payload,
        ProposalPayload::Rebalance {
            commit: [9; 20],
            table_hash: [8; 32],
            points: PointWeights::default(),
            weights: table.clone(),
            description_url: url.into(),
        }
    );
    for m in &dao.members[..2] {
        app.vote(m, id, VoteChoice::For).await.unwrap();
    }
    app.finalize(&dao.creator, id).await.unwrap();
    dn.advance(61).await;
    let c = app.execute(&dao.creator, id).await.unwrap();
    let changed = c
        .events
        .iter()
        .filter(|e| matches!(e, AppEvent::MemberChanged { .. }))
        .count();
    assert_eq!(changed, 3);
    assert!(c.events.contains(&AppEvent::Rebalanced {
        id,
        commit: [9; 20],
        table_hash: [8; 32]
    }));
    assert_eq!(app.weights_now().await.unwrap(), table);
    assert_eq!(app.global().await.unwrap().total_weight, 120);
    // the weights the table was computed from are still readable at the proposal's snapshot
    assert_eq!(
        app.weights_at(p.header.member_seq).await.unwrap(),
        Some(before)
    );
    let e = app.execute(&dao.creator, id).await.unwrap_err();
    assert_eq!(e.app_code(), Some("not_queued"), "{e}");
}

/// Four and eight members (the most a rebalance lists): above three members propose and
/// execute need more opcode budget than one call has, which the client adds with carrier calls.
#[tokio::test]
async fn a_rebalance_of_eight_members_fits_its_group() {
    let dn = Devnet::start();
    let dao = form(&dn, false).await;
    let app = &dao.app;
    for n in [1, 5, 6, 7, 8] {
        app.set_member(&dao.creator, &dn.account(n).address(), 10)
            .await
            .unwrap();
    }
    app.seal(&dao.creator).await.unwrap();
    let before = app.weights_now().await.unwrap();
    assert_eq!(before.len(), 8);
    let table: Vec<_> = before.iter().map(|(a, w)| (*a, w + 7)).collect();
    // Four members fit one call's references (6) but not its budget: a carrier call is added.
    app.propose_rebalance(&dao.members[0], [1; 20], [2; 32], &table[..4], "u")
        .await
        .unwrap();
    let (id, _) = app
        .propose_rebalance(&dao.members[0], [1; 20], [2; 32], &table, "u")
        .await
        .unwrap();
    for m in &dao.members[..2] {
        app.vote(m, id, VoteChoice::For).await.unwrap();
    }
    app.finalize(&dao.creator, id).await.unwrap();
    dn.advance(61).await;
    app.execute(&dao.creator, id).await.unwrap();
    assert_eq!(app.weights_now().await.unwrap(), table);
}

/// Kind 9: the creator sets the point weights before seal, a proposal changes them after, and
/// every rebalance records the ones in force when it was proposed, whatever comes later.
#[tokio::test]
async fn point_weights_are_governed_and_recorded_with_each_rebalance() {
    let dn = Devnet::start();
    let dao = form(&dn, false).await;
    let app = &dao.app;
    assert_eq!(app.point_weights().await.unwrap(), PointWeights::default());
    let bad = PointWeights {
        code: 0,
        comment: 0,
        text: 0,
    };
    // refused by the client before signing, with the reason
    let e = app.set_point_weights(&dao.creator, bad).await.unwrap_err();
    assert!(e.to_string().contains("no line would count"), "{e}");
    let set = PointWeights {
        code: 4,
        comment: 1,
        text: 0,
    };
    let c = app.set_point_weights(&dao.creator, set).await.unwrap();
    assert!(c.events.contains(&AppEvent::PointWeightsChanged {
        code: 4,
        comment: 1,
        text: 0
    }));
    app.seal(&dao.creator).await.unwrap();
    let e = app.set_point_weights(&dao.creator, set).await.unwrap_err();
    assert_eq!(e.app_code(), Some("sealed"), "{e}");
    assert_eq!(app.global().await.unwrap().point_weights, set);

    let before = app.weights_now().await.unwrap();
    let table: Vec<_> = before.iter().map(|(a, w)| (*a, w + 1)).collect();
    let (early, _) = app
        .propose_rebalance(&dao.members[0], [1; 20], [2; 32], &table, "u")
        .await
        .unwrap();
    let new = PointWeights {
        code: 2,
        comment: 2,
        text: 1,
    };
    let (id, _) = app
        .propose_point_weights(&dao.members[0], new, "https://git.example/points")
        .await
        .unwrap();
    let p = app.proposal(id).await.unwrap();
    assert_eq!(p.header.kind, Kind::PointWeights);
    assert_eq!(
        p.payload,
        ProposalPayload::PointWeights {
            weights: new,
            description_url: "https://git.example/points".into()
        }
    );
    for m in &dao.members[..2] {
        app.vote(m, id, VoteChoice::For).await.unwrap();
    }
    app.finalize(&dao.creator, id).await.unwrap();
    dn.advance(61).await;
    let c = app.execute(&dao.creator, id).await.unwrap();
    assert!(c.events.contains(&AppEvent::PointWeightsChanged {
        code: 2,
        comment: 2,
        text: 1
    }));
    assert_eq!(app.point_weights().await.unwrap(), new);
    let (late, _) = app
        .propose_rebalance(&dao.members[0], [1; 20], [2; 32], &table, "u")
        .await
        .unwrap();
    let recorded = |p: dao_chain::decode::ProposalBox| match p.payload {
        ProposalPayload::Rebalance { points, .. } => points,
        other => panic!("not a rebalance: {other:?}"),
    };
    assert_eq!(recorded(app.proposal(early).await.unwrap()), set);
    assert_eq!(recorded(app.proposal(late).await.unwrap()), new);
}
