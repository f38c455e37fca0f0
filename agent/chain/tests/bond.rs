//! Proposal bonds on a real devnet: the client pays the rules' bond with a proposal, reads its
//! box, and refunds it once; a proposal that failed its quorum leaves its bond to the treasury.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use dao_chain::decode::VoteChoice;
use dao_chain::events::AppEvent;
use dao_chain::App;
use dao_core::rules::{BondStatus, Rules};

const BOND: u64 = 1_000_000;

async fn bonded(dn: &Devnet) -> (App, Vec<dao_chain::Signer>, dao_chain::Signer) {
    let creator = dn.account(1);
    let (approval, clear) = released_programs();
    let rules = Rules {
        proposal_bond: BOND,
        ..test_rules()
    };
    let app = dn
        .node()
        .create_app(&creator, &approval, &clear, &rules, REPO, [7; 20])
        .await
        .unwrap();
    let members = vec![dn.account(2), dn.account(3), dn.account(4)];
    for (m, w) in members.iter().zip([50u64, 30, 20]) {
        app.set_member(&creator, &m.address(), w).await.unwrap();
    }
    app.seal(&creator).await.unwrap();
    (app, members, creator)
}

#[tokio::test]
async fn a_bond_is_paid_refunded_once_or_kept() {
    let dn = Devnet::start();
    let (app, members, creator) = bonded(&dn).await;
    let proposer = &members[0];
    let (id, _) = app
        .propose_deploy(proposer, &emergency_deploy())
        .await
        .unwrap();
    let b = app.bond(id).await.unwrap().unwrap();
    assert_eq!((b.bond.amount, b.bond.status), (BOND, BondStatus::Held));
    assert_eq!(app.global().await.unwrap().bonds_held, BOND);
    let e = app.refund_bond(&creator, id).await.unwrap_err();
    assert_eq!(e.app_code(), Some("bond_not_final"), "{e}");

    for m in &members[..2] {
        app.vote(m, id, VoteChoice::For).await.unwrap();
    }
    app.finalize(&creator, id).await.unwrap();
    let before = dn.node().balance(&proposer.address()).await.unwrap().0;
    // Anyone may ask; the proposer is paid.
    let c = app.refund_bond(&creator, id).await.unwrap();
    assert_eq!(c.returned, Some(BOND.to_be_bytes().to_vec()));
    assert!(c.events.contains(&AppEvent::BondRefunded {
        id,
        proposer: proposer.address(),
        amount: BOND
    }));
    let after = dn.node().balance(&proposer.address()).await.unwrap().0;
    assert_eq!(after - before, BOND);
    let b = app.bond(id).await.unwrap().unwrap();
    assert_eq!(b.bond.status, BondStatus::Refunded);
    let e = app.refund_bond(proposer, id).await.unwrap_err();
    assert_eq!(e.app_code(), Some("bond_refunded"), "{e}");

    // Nobody votes on the second: it fails its quorum and the treasury keeps its bond.
    let (id, _) = app
        .propose_deploy(&members[1], &emergency_deploy())
        .await
        .unwrap();
    dn.advance(3600).await;
    let fin = app.finalize(&creator, id).await.unwrap();
    assert!(fin
        .events
        .contains(&AppEvent::BondKept { id, amount: BOND }));
    assert_eq!(
        app.bond(id).await.unwrap().unwrap().bond.status,
        BondStatus::Kept
    );
    assert_eq!(app.global().await.unwrap().bonds_held, 0);
    let e = app.refund_bond(&members[1], id).await.unwrap_err();
    assert_eq!(e.app_code(), Some("bond_kept"), "{e}");
}
