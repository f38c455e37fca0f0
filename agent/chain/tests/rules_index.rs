//! The rules in force are known from the parameters proposals; which proposals those are never
//! changes, so after its first call `App::rules_knowledge` reads only the proposals created
//! since, the parameters proposals (their state changes) and nothing else: the follower's, the
//! validator's and the pre-activation re-check's cost does not grow with the DAO's history.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use dao_chain::node::App;

#[tokio::test]
async fn rules_knowledge_reads_each_proposal_once_then_only_new_and_parameters_ones() {
    let dn = Devnet::start();
    let dao = form(&dn, true).await;
    for _ in 0..3 {
        dao.app
            .propose_deploy(&dao.members[0], &emergency_deploy())
            .await
            .unwrap();
    }
    let app = App::new(dn.node(), dao.app.app_id);
    let cost = || async {
        let before = app.node.requests_made();
        let k = app.rules_knowledge().await.unwrap();
        (app.node.requests_made() - before, k)
    };
    // The app's state, then every proposal once.
    let (first, k) = cost().await;
    assert_eq!(first, 1 + 3);
    assert!(k.complete && k.candidates == vec![test_rules()]);
    // Nothing new: the app's state alone.
    assert_eq!(cost().await.0, 1);
    // A parameters proposal: read as new, then again each time (it may be executed later).
    let mut rules = test_rules();
    rules.timelock += 1;
    dao.app
        .propose_parameters(&dao.members[0], &rules, "")
        .await
        .unwrap();
    let (with_new, k) = cost().await;
    assert_eq!(with_new, 1 + 1);
    assert!(
        k.complete,
        "a parameters proposal not executed changes no rules"
    );
    assert_eq!(cost().await.0, 1 + 1);
    // Another App value (another process) knows nothing yet; a clone shares what was learned.
    let other = App::new(dn.node(), dao.app.app_id);
    let before = other.node.requests_made();
    other.rules_knowledge().await.unwrap();
    assert_eq!(other.node.requests_made() - before, 1 + 4);
    let clone = app.clone();
    let before = clone.node.requests_made();
    clone.rules_knowledge().await.unwrap();
    assert_eq!(clone.node.requests_made() - before, 1 + 1);
}
