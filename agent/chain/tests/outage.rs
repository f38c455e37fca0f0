//! algod unreachable → the follower reports Retrying with backoff → comes back, nothing lost.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use dao_chain::decode::VoteChoice;
use dao_chain::events::AppEvent;
use dao_chain::follow::{Backoff, FollowOptions, Follower, Status};
use dao_chain::node::{App, Node};
use std::time::{Duration, Instant};

#[tokio::test]
async fn the_follower_retries_while_algod_is_unreachable_and_loses_nothing() {
    let dn = Devnet::start();
    let dao = form(&dn, true).await;
    let proxy = Proxy::start(dn.addr()).await;
    let mut node = Node::new(&proxy.url, &dn.token).unwrap();
    node.timeouts.request = Duration::from_secs(3);
    node.timeouts.wait = Duration::from_secs(5);
    let app = App::new(node, dao.app.app_id);
    let dir = tempfile::tempdir().unwrap();
    let mut f = Follower::new(
        app,
        FollowOptions {
            watermark_file: dir.path().join("wm.json"),
            start_after: dao.before,
            backoff: Backoff {
                initial: Duration::from_millis(100),
                max: Duration::from_millis(800),
            },
            verify: true,
        },
    )
    .unwrap();
    // Catch up with the formation: 3 members (each with its first voting power entry), 1 host,
    // sealed.
    for _ in 0..8 {
        tokio::time::timeout(Duration::from_secs(30), f.next())
            .await
            .unwrap()
            .unwrap();
    }
    assert!(matches!(f.status(), Status::Following { .. }));

    // algod goes away; meanwhile the chain moves on (directly, not through the proxy).
    proxy.set_paused(true);
    let status = f.status_handle();
    let (id, created) = dao
        .app
        .propose_deploy(&dao.members[0], &emergency_deploy())
        .await
        .unwrap();
    let voted = dao
        .app
        .vote(&dao.members[1], id, VoteChoice::For)
        .await
        .unwrap();

    let started = Instant::now();
    let mut attempts_seen = Vec::new();
    {
        let next = f.next();
        tokio::pin!(next);
        loop {
            tokio::select! {
                r = &mut next => panic!("an event while algod is unreachable: {r:?}"),
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
            let s = status.lock().unwrap().clone();
            if let Status::Retrying {
                attempt,
                last_error,
                retry_in,
            } = &s
            {
                assert!(!last_error.is_empty());
                assert!(*retry_in <= Duration::from_millis(1200));
                if attempts_seen.last() != Some(attempt) {
                    attempts_seen.push(*attempt);
                }
                if *attempt >= 4 {
                    break;
                }
            }
            assert!(started.elapsed() < Duration::from_secs(60), "{s:?}");
        }
        // The attempts count up one by one.
        assert_eq!(
            attempts_seen,
            (1..=attempts_seen.len() as u32).collect::<Vec<_>>()[..]
        );
        assert!(attempts_seen.len() >= 2);

        // algod is back: the events made meanwhile arrive, in order.
        proxy.set_paused(false);
        let e = tokio::time::timeout(Duration::from_secs(30), &mut next)
            .await
            .unwrap()
            .unwrap();
        assert!(
            matches!(e.event, AppEvent::ProposalCreated { .. }),
            "{:?}",
            e.event
        );
        assert_eq!(e.round, created.round);
    }
    let e = tokio::time::timeout(Duration::from_secs(30), f.next())
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(e.event, AppEvent::VoteCast { weight: 30, .. }),
        "{:?}",
        e.event
    );
    assert_eq!(e.round, voted.round);
    assert!(matches!(f.status(), Status::Following { .. }));
}

#[tokio::test]
async fn a_dead_port_is_transient_and_a_refused_call_is_not() {
    // Nothing listens on this port (bound then closed).
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    drop(l);
    let node = Node::new(&url, "x").unwrap();
    let e = node.last_round().await.unwrap_err();
    assert!(e.is_transient(), "{e}");
    assert!(e.to_string().contains(&url), "{e}");
}
