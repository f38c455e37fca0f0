//! Unit tests of txn.rs: polling, the confirmation bound, and the cost tables.

use super::*;

#[tokio::test]
async fn an_unreachable_node_ends_the_wait_transiently() {
    // Nothing listens on loopback's port 9: every poll is refused, which says nothing about
    // the transaction, so only the bound ends the wait, and as trouble to retry.
    let mut node = Node::new("http://127.0.0.1:9", "").unwrap();
    node.timeouts.confirm = Duration::from_millis(100);
    node.timeouts.request = Duration::from_millis(500);
    let e = node.wait_for_confirmation("TXID", 1_000).await.unwrap_err();
    assert!(matches!(e, ChainError::Timeout { .. }), "{e}");
    assert!(e.is_transient());
    assert!(e.to_string().contains("confirming transaction TXID"), "{e}");
}

#[test]
fn polls_slow_down_on_trouble_and_honour_retry_after() {
    assert_eq!(poll_delay(0, None), POLL);
    assert_eq!(poll_delay(1, None), POLL * 2);
    assert_eq!(poll_delay(40, None), Duration::from_secs(8));
    assert_eq!(
        poll_delay(1, Some(Duration::from_secs(3))),
        Duration::from_secs(3)
    );
    assert_eq!(poll_delay(0, Some(Duration::ZERO)), POLL);
}

#[test]
fn box_costs_match_the_contract_table() {
    assert_eq!(box_cost(33, 16), 22_100);
    assert_eq!(box_cost(41, 16), 25_300);
    assert_eq!(box_cost(41, 24), 28_500);
    assert_eq!(box_cost(9, 32), 18_900);
    assert_eq!(box_cost(17, 88), 44_500);
    // propose (deploy to all, 40-byte URL): 124,900
    assert_eq!(
        box_cost(9, PROPOSAL_HEADER + deploy_payload_len(0, 40)),
        124_900
    );
    // membership payload with u bytes: 94,100 + 400·u
    assert_eq!(box_cost(9, PROPOSAL_HEADER + 44), 94_100);
    // parameters: 116,500 + 400·u
    assert_eq!(
        box_cost(
            9,
            PROPOSAL_HEADER + crate::decode::parameters_payload_len(0)
        ),
        116_500
    );
}
