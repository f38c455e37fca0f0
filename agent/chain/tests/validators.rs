//! The validator calls on a real devnet (go-algorand's evaluator behind algod's REST API):
//! validators attest, the quorum agrees, the host's applied report needs that agreement, the
//! matching validators claim their reward once, the disagreeing one gets nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use dao_chain::decode::{ReportStatus, Targets, VoteChoice};
use dao_chain::events::AppEvent;
use dao_chain::txn::DeployProposal;
use dao_chain::validation::Outcome;

#[tokio::test]
async fn validators_attest_agree_gate_the_report_and_claim_once() {
    let dn = Devnet::start();
    let dao = form(&dn, false).await;
    let app = &dao.app;
    let (v1, v2, v3) = (dn.account(6), dn.account(7), dn.account(8));
    for v in [&v1, &v2, &v3] {
        app.set_validator(&dao.creator, &v.address(), true)
            .await
            .unwrap();
    }
    let e = app
        .set_attestation_policy(&dao.creator, 4, 1_000)
        .await
        .unwrap_err();
    assert_eq!(e.app_code(), Some("quorum_above_validators"), "{e}");
    app.set_attestation_policy(&dao.creator, 2, 1_000)
        .await
        .unwrap();
    app.seal(&dao.creator).await.unwrap();
    let g = app.global().await.unwrap();
    assert_eq!(
        (g.validators, g.attest_quorum, g.attest_reward),
        (3, 2, 1_000)
    );
    assert_eq!(app.validators().await.unwrap().len(), 3);
    // The treasury pays rewards: fund it.
    app.node
        .pay(&dao.creator, &app.address(), 1_000_000)
        .await
        .unwrap();

    let (id, _) = app
        .propose_deploy(
            &dao.members[0],
            &DeployProposal {
                emergency: false,
                base: [1; 20],
                head: [2; 20],
                diff_hash: [3; 32],
                targets: Targets::Hosts(vec![1]),
                description_url: "https://git.example/fleet/pulls/2".into(),
            },
        )
        .await
        .unwrap();
    let policy = app.attest_policy(id).await.unwrap();
    assert_eq!((policy.quorum, policy.reward), (2, 1_000));

    let good = [0x11; 32];
    let c = app.attest(&v1, id, 1, Outcome::Built, good).await.unwrap();
    assert!(c.events.iter().any(|e| matches!(
        e,
        AppEvent::Attested {
            outcome: Outcome::Built,
            ..
        }
    )));
    let e = app
        .attest(&v1, id, 1, Outcome::Built, good)
        .await
        .unwrap_err();
    assert_eq!(e.app_code(), Some("already_attested"), "{e}");
    let e = app
        .attest(&dao.members[1], id, 1, Outcome::Built, good)
        .await
        .unwrap_err();
    assert_eq!(e.app_code(), Some("not_validator"), "{e}");
    app.attest(&v3, id, 1, Outcome::Built, [0x22; 32])
        .await
        .unwrap();
    assert_eq!(app.validation(id, 1).await.unwrap().agreed, None);

    for m in &dao.members[..2] {
        app.vote(m, id, VoteChoice::For).await.unwrap();
    }
    dn.advance(3600).await;
    app.finalize(&dao.creator, id).await.unwrap();
    dn.advance(60).await;
    // Not agreed yet: the app refuses an applied report.
    let e = app
        .report(
            &dao.agent,
            id,
            1,
            ReportStatus::Applied,
            [9; 32],
            2,
            [8; 32],
        )
        .await
        .unwrap_err();
    assert_eq!(e.app_code(), Some("attest_quorum_missing"), "{e}");

    let agreed = app.attest(&v2, id, 1, Outcome::Built, good).await.unwrap();
    assert!(agreed
        .events
        .iter()
        .any(|e| matches!(e, AppEvent::Agreed { closure, .. } if *closure == good)));
    let v = app.validation(id, 1).await.unwrap();
    assert_eq!((v.attestations, v.best, v.agreed), (3, 2, Some(good)));
    let listed = app.attestations(id).await.unwrap();
    assert_eq!(listed.len(), 3);

    // Nothing to claim before the host applied it.
    let e = app.claim_reward(&v1, id, &[1]).await.unwrap_err();
    assert_eq!(e.app_code(), Some("not_executed"), "{e}");
    app.report(
        &dao.agent,
        id,
        1,
        ReportStatus::Applied,
        [9; 32],
        2,
        [8; 32],
    )
    .await
    .unwrap();

    let (before, _) = app.node.balance(&v1.address()).await.unwrap();
    let (amount, _) = app.claim_reward(&v1, id, &[1]).await.unwrap();
    assert_eq!(amount, 1_000);
    let (after, _) = app.node.balance(&v1.address()).await.unwrap();
    // The reward minus the claim's own fees (two transactions, one inner) and the claim box.
    assert!(
        after + 50_000 > before && after < before + 1_000,
        "{before} -> {after}"
    );
    assert_eq!(
        app.claim(id, &v1.address()).await.unwrap().unwrap().amount,
        1_000
    );
    let e = app.claim_reward(&v1, id, &[1]).await.unwrap_err();
    assert_eq!(e.app_code(), Some("already_claimed"), "{e}");
    let e = app.claim_reward(&v3, id, &[1]).await.unwrap_err();
    assert_eq!(e.app_code(), Some("attestation_disagreed"), "{e}");
    let (amount, _) = app.claim_reward(&v2, id, &[1]).await.unwrap();
    assert_eq!(amount, 1_000);
}
