//! Delegation on a real devnet through the chain library: an executed rebalance of eight
//! members, four of them delegating to one member, references each holder's boxes right (the
//! shared holder gets one history entry per delegator, in order) and moves the delegate's
//! power; powers sum to the total weight afterwards, as read back with `App::delegation`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use dao_chain::decode::VoteChoice;
use dao_chain::events::AppEvent;

#[tokio::test]
async fn a_rebalance_of_delegators_moves_their_delegates_power() {
    let dn = Devnet::start();
    let dao = form(&dn, false).await;
    let app = &dao.app;
    for n in [1, 5, 6, 7, 8] {
        app.set_member(&dao.creator, &dn.account(n).address(), 10)
            .await
            .unwrap();
    }
    app.seal(&dao.creator).await.unwrap();
    // dev5..dev8 (10 each) delegate to dev4 (20): its power is 60.
    let delegate = dao.members[2].address();
    for n in [5, 6, 7, 8] {
        let c = app.delegate(&dn.account(n), &delegate).await.unwrap();
        assert!(c
            .events
            .iter()
            .any(|e| matches!(e, AppEvent::DelegateChanged { weight: 10, .. })));
    }
    let d = app.delegation(&delegate).await.unwrap();
    assert_eq!((d.weight, d.power, d.delegate), (20, 60, None));
    assert_eq!(
        app.delegation(&dn.account(5).address())
            .await
            .unwrap()
            .delegate,
        Some(delegate)
    );

    let before = app.weights_now().await.unwrap();
    assert_eq!(before.len(), 8);
    let table: Vec<_> = before.iter().map(|(a, w)| (*a, w + 7)).collect();
    let (id, _) = app
        .propose_rebalance(&dao.members[0], [1; 20], [2; 32], &table, "u")
        .await
        .unwrap();
    for m in &dao.members {
        app.vote(m, id, VoteChoice::For).await.unwrap();
    }
    app.finalize(&dao.creator, id).await.unwrap();
    dn.advance(61).await;
    app.execute(&dao.creator, id).await.unwrap();
    assert_eq!(app.weights_now().await.unwrap(), table);

    // The delegate got its own +7 and four delegators' +7: 27 + 4 × 17.
    let d = app.delegation(&delegate).await.unwrap();
    assert_eq!((d.weight, d.power), (27, 27 + 4 * 17));
    let mut powers = 0;
    for (a, _) in &table {
        let d = app.delegation(a).await.unwrap();
        if d.delegate.is_some() {
            assert_eq!(d.power, 0, "{a}");
        }
        powers += d.power;
    }
    assert_eq!(powers, app.global().await.unwrap().total_weight);
}
