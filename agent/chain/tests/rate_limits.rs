//! A node that rate-limits (429, or a provider's 403 with Retry-After) is waited out, at the
//! pace it asks for, and shown as rate limited; a 403 without Retry-After (a refused token) is
//! named at once; a transaction whose confirmation polls are rate-limited is still seen
//! confirmed. The devnet's `fail` switch refuses the requests (devnet/README.md).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use dao_chain::errors::ChainError;
use dao_chain::events::AppEvent;
use dao_chain::follow::{Backoff, FollowError, FollowOptions, Follower, Status};
use dao_chain::node::App;
use std::time::{Duration, Instant};

fn follower(dao: &Dao, dir: &tempfile::TempDir) -> Follower {
    Follower::new(
        App::new(dao.app.node.clone(), dao.app.app_id),
        FollowOptions {
            watermark_file: dir.path().join("wm.json"),
            start_after: dao.before,
            backoff: Backoff {
                initial: Duration::from_millis(100),
                max: Duration::from_millis(400),
            },
            verify: true,
        },
    )
    .unwrap()
}

/// Drives `f.next()` while sampling its status; returns the event and every status seen.
async fn next_watching(f: &mut Follower) -> (dao_chain::Event, Vec<Status>) {
    let status = f.status_handle();
    let mut seen: Vec<Status> = Vec::new();
    let started = Instant::now();
    let next = f.next();
    tokio::pin!(next);
    loop {
        tokio::select! {
            r = &mut next => return (r.unwrap(), seen),
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
        let s = status.lock().unwrap().clone();
        if seen.last() != Some(&s) {
            seen.push(s);
        }
        assert!(started.elapsed() < Duration::from_secs(90), "{seen:?}");
    }
}

#[tokio::test]
async fn the_follower_waits_out_429_and_a_403_with_retry_after_at_the_pace_asked() {
    let dn = Devnet::start();
    let dao = form(&dn, true).await;
    let dir = tempfile::tempdir().unwrap();
    let mut f = follower(&dao, &dir);

    // The next 3 requests are refused with 429, Retry-After 2 s: far beyond the schedule's
    // 0.4 s cap, so the delay shown is the node's.
    dn.switch(r#"{"fail": {"status": 429, "count": 3, "retry_after": 2}}"#)
        .await;
    let (e, seen) = next_watching(&mut f).await;
    assert!(
        matches!(e.event, AppEvent::MemberChanged { .. }),
        "{:?}",
        e.event
    );
    let limited: Vec<_> = seen
        .iter()
        .filter_map(|s| match s {
            Status::RateLimited {
                attempt,
                last_error,
                retry_in,
            } => Some((*attempt, last_error.clone(), *retry_in)),
            _ => None,
        })
        .collect();
    assert_eq!(
        limited.iter().map(|l| l.0).collect::<Vec<_>>(),
        vec![1, 2, 3],
        "{seen:?}"
    );
    for (_, err, retry_in) in &limited {
        assert!(*retry_in >= Duration::from_secs(2), "{retry_in:?}");
        assert!(
            err.contains("HTTP 429") && err.contains("Retry-After: 2s"),
            "{err}"
        );
    }
    assert!(
        !seen.iter().any(|s| matches!(s, Status::Retrying { .. })),
        "{seen:?}"
    );
    assert_eq!(dn.switches().await["refused"], 3);
    // The member's first voting power entry comes from the same block, without a request.
    let (e, _) = next_watching(&mut f).await;
    assert!(
        matches!(e.event, AppEvent::VotingPowerChanged { .. }),
        "{:?}",
        e.event
    );

    // A provider's 403 that says when to come back (an HTTP date) is a rate limit too.
    dn.switch(
        r#"{"fail": {"status": 403, "count": 1, "retry_after": 1, "retry_after_date": true}}"#,
    )
    .await;
    let (_, seen) = next_watching(&mut f).await;
    assert!(
        seen.iter().any(|s| matches!(
            s,
            Status::RateLimited { last_error, .. } if last_error.contains("HTTP 403")
        )),
        "{seen:?}"
    );
}

#[tokio::test]
async fn a_403_without_retry_after_is_named_not_retried() {
    let dn = Devnet::start();
    let dao = form(&dn, true).await;
    let dir = tempfile::tempdir().unwrap();
    let mut f = follower(&dao, &dir);
    dn.switch(r#"{"fail": {"status": 403, "count": 1}}"#).await;
    let e = tokio::time::timeout(Duration::from_secs(30), f.next())
        .await
        .unwrap()
        .unwrap_err();
    match &e {
        FollowError::Chain(c @ ChainError::Http { status: 403, .. }) => {
            assert!(!c.is_transient() && !c.is_rate_limited());
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("HTTP 403"), "{e}");
    assert_eq!(dn.switches().await["refused"], 1);
    // Once the token is right again (here: the refusal is spent), following goes on.
    let ev = tokio::time::timeout(Duration::from_secs(30), f.next())
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(ev.event, AppEvent::MemberChanged { .. }));
}

#[tokio::test]
async fn a_transaction_whose_send_and_confirmation_polls_are_rate_limited_is_seen_confirmed() {
    let dn = Devnet::start();
    let node = dn.node();
    let payer = dn.account(1);
    let receiver = dn.account(2).address();
    let before = node.last_round().await.unwrap();
    // Groups wait in the pool for the next block (the devnet's 2 s empty-block timer takes
    // them), and every second request is refused with 429, Retry-After 1 s: the parameters,
    // the send and the polls each meet a rate limit (every other request does), the polls
    // while the group is pending.
    dn.switch(r#"{"confirm_every_ms": 0, "fail": {"status": 429, "every": 2, "retry_after": 1}}"#)
        .await;
    let txid = tokio::time::timeout(Duration::from_secs(60), node.pay(&payer, &receiver, 1_000))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(txid.len(), 52);
    assert!(dn.switches().await["refused"].as_u64().unwrap() >= 3);
    dn.switch(r#"{"fail": null}"#).await;
    assert!(node.last_round().await.unwrap() > before);
}

/// The send and the suggested parameters go through the agent's own client, which sees
/// `Retry-After`: a 403 with one is a rate limit to wait out (an abuse shield's), not a refused
/// token. (Through algonaut, which drops headers, the first 403 failed the send.)
#[tokio::test]
async fn a_send_refused_with_403_and_retry_after_waits_and_goes_through() {
    let dn = Devnet::start();
    let node = dn.node();
    let payer = dn.account(1);
    let receiver = dn.account(2).address();
    let (_, before) = dn.requests().await;
    // The parameters and the send are refused in turn (every second request).
    dn.switch(r#"{"fail": {"status": 403, "every": 2, "retry_after": 1}}"#)
        .await;
    let txid = tokio::time::timeout(Duration::from_secs(60), node.pay(&payer, &receiver, 1_000))
        .await
        .unwrap()
        .expect("a 403 with Retry-After is waited out");
    assert_eq!(txid.len(), 52);
    assert!(dn.switches().await["refused"].as_u64().unwrap() >= 2);
    dn.switch(r#"{"fail": null}"#).await;
    let (_, after) = dn.requests().await;
    let grew =
        |route: &str| after[route].as_u64().unwrap_or(0) - before[route].as_u64().unwrap_or(0);
    assert!(grew("POST /v2/transactions") >= 1, "{after}");
    assert!(grew("GET /v2/transactions/params") >= 1, "{after}");
}
