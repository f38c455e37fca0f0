//! Box listings beyond algod's per-request limit (the devnet's `max_boxes` switch) and fees
//! under congestion (its `fee_per_byte` switch), as a real node has them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use dao_chain::decode::{BoxKey, Targets, VoteChoice};
use dao_chain::errors::ChainError;

#[tokio::test]
async fn box_names_are_listed_a_page_at_a_time_past_the_nodes_limit() {
    let dn = Devnet::start();
    let dao = form(&dn, true).await;
    let all = dao.app.box_keys().await.unwrap();
    // 3 members (m and w boxes each) and 1 host.
    assert_eq!(all.len(), 7, "{all:?}");
    // The node lists at most 2 names per request: the unpaginated listing is refused, as algod
    // refuses beyond MaxAPIBoxPerApplication...
    dn.switch(r#"{"max_boxes": 2}"#).await;
    let r = http_request(
        &dn.addr(),
        "GET",
        &format!("/v2/applications/{}/boxes", dao.app.app_id),
        &dn.token,
        "",
    )
    .await;
    assert!(
        r.starts_with("HTTP/1.1 400") && r.contains("Result limit exceeded"),
        "{r}"
    );
    // ...and the agent's listing, 4 pages, gives the same names.
    assert_eq!(dao.app.box_keys().await.unwrap(), all);
    assert_eq!(dao.app.target_ids(&Targets::All).await.unwrap(), vec![1u64]);
    assert!(all.contains(&BoxKey::Host(1)));
}

#[tokio::test]
async fn under_congestion_the_suggested_fee_is_paid_up_to_the_ceiling() {
    let dn = Devnet::start();
    let dao = form(&dn, true).await;
    let mut node = dn.node();
    let payer = dn.account(6);
    let receiver = dn.account(7).address();
    dn.switch(r#"{"fee_per_byte": 20}"#).await;

    // A payment (about 250 bytes signed): 20 µAlgo per byte is above the minimum fee.
    let (before, _) = node.balance(&payer.address()).await.unwrap();
    node.pay(&payer, &receiver, 1_000).await.unwrap();
    let (after, _) = node.balance(&payer.address()).await.unwrap();
    let fee = before - after - 1_000;
    assert!((4_000..8_000).contains(&fee), "fee {fee}");

    // A grouped call (payment and app call with box references) confirms too.
    let app = dao.app.clone();
    let (id, _) = app
        .propose_deploy(&dao.members[0], &emergency_deploy())
        .await
        .unwrap();
    app.vote(&dao.members[1], id, VoteChoice::For)
        .await
        .unwrap();

    // Above the ceiling: refused before sending, naming the key and the fee asked.
    node.max_fee = Some(3_000);
    let e = node.pay(&payer, &receiver, 1_000).await.unwrap_err();
    match &e {
        ChainError::FeeTooHigh { fee, max_fee } => {
            assert!(*fee > 3_000 && *max_fee == 3_000, "{e}");
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("chain.max_fee = 3000"), "{e}");
    let (unchanged, _) = node.balance(&payer.address()).await.unwrap();
    assert_eq!(unchanged, after, "nothing was sent");

    // Congestion over: the minimum fee again.
    dn.switch(r#"{"fee_per_byte": 0}"#).await;
    node.pay(&payer, &receiver, 1_000).await.unwrap();
    let (last, _) = node.balance(&payer.address()).await.unwrap();
    assert_eq!(unchanged - last, 1_000 + 1_000);
}
