//! A proposal's votes are read by key (`v` ++ id ++ member), the members listed by the `m`
//! prefix: verifying one proposal costs the same however many other proposals and votes the app
//! holds (issue 19). The devnet's `max_boxes` switch caps box pages at 5 names, so a listing of
//! every box would take more pages as the app grows.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use dao_chain::decode::VoteChoice;
use dao_chain::verify::RulesKnowledge;

#[tokio::test]
async fn verifying_a_proposal_costs_the_same_as_the_app_grows() {
    let dn = Devnet::start();
    let dao = form(&dn, true).await;
    let app = &dao.app;
    let (id, _) = app
        .propose_deploy(&dao.members[0], &emergency_deploy())
        .await
        .unwrap();
    app.vote(&dao.members[0], id, VoteChoice::For)
        .await
        .unwrap();
    app.vote(&dao.members[1], id, VoteChoice::Against)
        .await
        .unwrap();
    dn.switch(r#"{"max_boxes": 5}"#).await;
    let rules = RulesKnowledge {
        candidates: vec![test_rules()],
        complete: true,
    };
    let cost = || async {
        let before = app.node.requests_made();
        let now = app
            .node
            .block_timestamp(app.node.last_round().await.unwrap())
            .await
            .unwrap();
        let counted = app.node.requests_made();
        let v = app.verify_proposal(id, &rules, now).await.unwrap();
        (app.node.requests_made() - counted, counted - before, v)
    };
    let (small, _, v) = cost().await;
    assert_eq!(v.votes.len(), 2);
    assert_eq!(
        (v.proposal.header.for_, v.proposal.header.against),
        (50, 30)
    );
    // The proposal, one page of the three members, their three vote boxes, and each voter's
    // member box and one history entry.
    assert_eq!(small, 1 + 1 + 3 + 2 * 2);

    // Other proposals, each with votes: more boxes than several pages of 5.
    for _ in 0..3 {
        let (other, _) = app
            .propose_deploy(&dao.members[0], &emergency_deploy())
            .await
            .unwrap();
        for m in &dao.members {
            app.vote(m, other, VoteChoice::For).await.unwrap();
        }
    }
    assert!(app.box_keys().await.unwrap().len() > 25);
    let (large, _, again) = cost().await;
    assert_eq!(large, small, "verifying proposal {id} grew with the others");
    assert_eq!(again.votes, v.votes);
}
