//! The model's own tests; the shared scenario vectors (agent/core/tests/vectors.rs) check it
//! against the app.

use super::*;

fn dao(members: &[(&str, u64)]) -> Governance {
    let rules = Rules {
        voting_delay: 10,
        voting_period: 100,
        emergency_period: 50,
        timelock: 20,
        grace_period: 30,
        ..Rules::default()
    };
    let mut g = Governance::new(rules).unwrap();
    for (m, w) in members {
        g.set_member(m, *w).unwrap();
    }
    g
}

#[test]
fn a_failed_action_changes_nothing() {
    let mut g = dao(&[("a", 10), ("b", 5)]);
    let id = g.propose("a", Kind::Deploy, Payload::Other, 0).unwrap();
    let before = g.clone();
    for e in [
        g.vote("a", id, Choice::For, 5).unwrap_err(),
        g.vote("x", id, Choice::For, 15).unwrap_err(),
        g.finalize(id, 15).unwrap_err(),
        g.cancel("b", id, 15).unwrap_err(),
        g.execute(id, 15).unwrap_err(),
        g.propose("x", Kind::Deploy, Payload::Other, 15)
            .unwrap_err(),
    ] {
        assert!(!e.code().is_empty());
        assert_eq!(g, before, "{e}");
    }
}

#[test]
fn rules_in_force_at_creation_stay_with_the_proposal() {
    let mut g = dao(&[("a", 10)]);
    let new_rules = Rules {
        voting_period: 1000,
        support_ppm: 900_000,
        emergency_support_ppm: 900_000,
        ..g.rules
    };
    let change = g
        .propose("a", Kind::Parameters, Payload::Parameters(new_rules), 0)
        .unwrap();
    let deploy = g.propose("a", Kind::Deploy, Payload::Other, 0).unwrap();
    g.vote("a", change, Choice::For, 10).unwrap();
    assert_eq!(g.finalize(change, 11).unwrap(), ProposalState::Queued);
    g.execute(change, 31).unwrap();
    assert_eq!(g.rules, new_rules);
    // The deploy proposal keeps its 100 s period and 50 % support.
    let p = g.proposal(deploy).unwrap();
    assert_eq!((p.end, p.support_ppm), (110, 500_000));
    // New proposals take the new rules.
    let later = g.propose("a", Kind::Deploy, Payload::Other, 40).unwrap();
    assert_eq!(g.proposal(later).unwrap().end, 1050);
}

#[test]
fn a_payload_must_match_its_kind() {
    let mut g = dao(&[("a", 10)]);
    let e = g
        .propose("a", Kind::Membership, Payload::Other, 0)
        .unwrap_err();
    assert_eq!(e.code(), "payload_mismatch");
    let bad = Rules {
        support_ppm: 1_000_000,
        ..g.rules
    };
    let e = g
        .propose("a", Kind::Parameters, Payload::Parameters(bad), 0)
        .unwrap_err();
    assert_eq!(e.code(), "invalid_rules");
    assert!(g.proposals.is_empty());
}

#[test]
fn total_weight_is_bounded() {
    let mut g = dao(&[("a", MAX_TOTAL_WEIGHT)]);
    let e = g.set_member("b", 1).unwrap_err();
    assert_eq!(e.code(), "total_weight_too_large");
    g.set_member("a", MAX_TOTAL_WEIGHT - 1).unwrap();
    g.set_member("b", 1).unwrap();
    assert_eq!(g.total_weight, MAX_TOTAL_WEIGHT);
    let e = g.set_member("c", u64::MAX).unwrap_err();
    assert_eq!(e.code(), "total_weight_too_large");
}

#[test]
fn executing_a_membership_change_is_one_member_change() {
    let mut g = dao(&[("a", 10)]);
    let id = g
        .propose(
            "a",
            Kind::Membership,
            Payload::Membership {
                member: "b".into(),
                weight: 7,
            },
            0,
        )
        .unwrap();
    g.vote("a", id, Choice::For, 10).unwrap();
    g.finalize(id, 10).unwrap();
    let seq = g.member_seq;
    g.execute(id, 30).unwrap();
    assert_eq!(
        (g.weight("b"), g.member_seq, g.total_weight),
        (7, seq + 1, 17)
    );
    assert_eq!(
        g.proposal(id).unwrap().state_at(30),
        ProposalState::Executed
    );
    assert_eq!(g.execute(id, 31).unwrap_err().code(), "not_queued");
}

#[test]
fn unknown_ids_including_zero_are_refused() {
    let mut g = dao(&[("a", 10)]);
    for id in [0, 1, u64::MAX] {
        assert_eq!(g.finalize(id, 0).unwrap_err().code(), "unknown_proposal");
    }
}

fn rebalance(weights: &[(&str, u64)]) -> Payload {
    Payload::Rebalance {
        weights: weights.iter().map(|(m, w)| ((*m).to_owned(), *w)).collect(),
    }
}

#[test]
fn a_rebalance_list_is_checked_before_the_proposer() {
    let mut g = dao(&[("a", 60), ("b", 40)]);
    let nine: Vec<(String, u64)> = (0..9).map(|i| (format!("m{i}"), 1)).collect();
    let too_many = Payload::Rebalance { weights: nine };
    for bad in [
        rebalance(&[]),
        rebalance(&[("b", 45), ("b", 46)]),
        rebalance(&[("c", 0)]),
        too_many,
    ] {
        // "x" has no weight: the list is refused first, as the app decodes it first
        let e = g.propose("x", Kind::Rebalance, bad, 0).unwrap_err();
        assert_eq!(e.code(), "bad_members", "{e}");
    }
    let e = g
        .propose("x", Kind::Rebalance, rebalance(&[("b", 45)]), 0)
        .unwrap_err();
    assert_eq!(e.code(), "insufficient_weight");
    let e = g
        .propose("a", Kind::Rebalance, rebalance(&[("a", 59)]), 0)
        .unwrap_err();
    assert_eq!(e.code(), "rebalance_lowers_weight");
    let e = g
        .propose(
            "a",
            Kind::Rebalance,
            rebalance(&[("c", MAX_TOTAL_WEIGHT)]),
            0,
        )
        .unwrap_err();
    assert_eq!(e.code(), "total_weight_too_large");
    assert_eq!(
        g.propose("a", Kind::Rebalance, Payload::Other, 0)
            .unwrap_err()
            .code(),
        "payload_mismatch"
    );
    assert!(g.proposals.is_empty());
}

#[test]
fn a_rebalance_executes_whole_or_not_at_all() {
    let mut g = dao(&[("a", 60), ("b", 40)]);
    let id = g
        .propose(
            "a",
            Kind::Rebalance,
            rebalance(&[("a", 60), ("b", 45), ("c", 5)]),
            0,
        )
        .unwrap();
    let grow = g
        .propose(
            "a",
            Kind::Membership,
            Payload::Membership {
                member: "c".into(),
                weight: 9,
            },
            0,
        )
        .unwrap();
    for p in [id, grow] {
        g.vote("a", p, Choice::For, 10).unwrap();
        g.finalize(p, 10).unwrap();
    }
    // c rose to 9 after the rebalance was proposed: listing 5 would lower it. a and b come
    // first in the list and must not be left applied.
    g.execute(grow, 30).unwrap();
    let before = g.clone();
    let e = g.execute(id, 30).unwrap_err();
    assert_eq!(e.code(), "rebalance_lowers_weight", "{e}");
    assert_eq!(g, before);

    let mut g = dao(&[("a", 60), ("b", 40)]);
    let id = g
        .propose("a", Kind::Rebalance, rebalance(&[("b", 45), ("c", 5)]), 0)
        .unwrap();
    g.vote("a", id, Choice::For, 10).unwrap();
    g.finalize(id, 10).unwrap();
    let seq = g.member_seq;
    g.execute(id, 30).unwrap();
    assert_eq!(
        (g.weight("b"), g.weight("c"), g.total_weight, g.member_seq),
        (45, 5, 110, seq + 2)
    );
}

#[test]
fn the_bond_and_heartbeat_rules_refuse_with_the_apps_codes_in_its_order() {
    let g = dao(&[("a", 10)]);
    let code = |rules: Rules| {
        let mut g = g.clone();
        g.propose("a", Kind::Parameters, Payload::Parameters(rules), 0)
            .unwrap_err()
            .code()
    };
    let r = g.rules;
    let huge = MAX_BOND + 1;
    assert_eq!(
        code(Rules {
            proposal_bond: huge,
            ..r
        }),
        "bond_too_large"
    );
    assert_eq!(
        code(Rules {
            proposal_bond: 1,
            ..r
        }),
        "bond_unsupported"
    );
    let hb = |heartbeat_interval| Rules {
        heartbeat_interval,
        ..r
    };
    assert_eq!(
        code(hb(HEARTBEAT_MIN - 1)),
        "heartbeat_interval_out_of_range"
    );
    assert_eq!(
        code(hb(HEARTBEAT_MAX + 1)),
        "heartbeat_interval_out_of_range"
    );
    // The app stops at the first field that fails, in the order of the rules table.
    let both = Rules {
        proposal_bond: huge,
        heartbeat_interval: 0,
        ..r
    };
    assert_eq!(code(both), "bond_too_large");
    let cap_first = Rules {
        vote_cap_ppm: crate::rules::PPM + 1,
        ..both
    };
    assert_eq!(code(cap_first), "invalid_rules");
}
