//! The bond rule as a table, and the model's bond through every way a proposal can end.

use super::*;
use crate::rules::{Choice, Governance, Kind, Payload, ProposalState, Rules, Stored, Tally};

fn tally(for_: u64, against: u64, abstain: u64) -> Tally {
    Tally {
        for_,
        against,
        abstain,
    }
}

#[test]
fn the_rule_as_a_table() {
    use BondOutcome::*;
    use BondStatus::{Held, Kept};
    let cases = [
        (Stored::Voting, false, Held, NotFinal),
        (Stored::Voting, true, Held, NotFinal),
        (Stored::Canceled, true, Held, Refund),
        (Stored::Canceled, false, Held, Keep),
        (Stored::Defeated, false, Held, Refund),
        (Stored::Defeated, false, Kept, Keep),
        (Stored::Queued, false, Held, Refund),
        (Stored::Executed, false, Held, Refund),
    ];
    for (stored, early, status, want) in cases {
        assert_eq!(
            bond_outcome(stored, early, status),
            want,
            "{stored:?} early={early} {status:?}"
        );
    }
}

#[test]
fn a_defeat_keeps_the_bond_only_when_the_quorum_is_out_of_reach() {
    let met = tally(1, 5, 4); // 10 votes cast
                              // After the end: the votes cast decide.
    assert!(!defeat_keeps_bond(&met, 10, 0, false));
    assert!(defeat_keeps_bond(&met, 11, 90, false));
    assert!(!defeat_keeps_bond(&tally(0, 0, 0), 0, 0, false));
    // Before it (a defeat decided early): the weight not yet cast could still reach the quorum.
    assert!(!defeat_keeps_bond(&met, 40, 30, true));
    assert!(defeat_keeps_bond(&met, 41, 30, true));
    // No overflow on huge numbers.
    assert!(!defeat_keeps_bond(
        &tally(u64::MAX, u64::MAX, u64::MAX),
        u64::MAX,
        u64::MAX,
        true
    ));
}

#[test]
fn status_codes_round_trip_and_unknown_codes_are_refused() {
    for s in [BondStatus::Held, BondStatus::Refunded, BondStatus::Kept] {
        assert_eq!(BondStatus::from_code(s.code()), Some(s));
    }
    assert_eq!(BondStatus::from_code(3), None);
}

fn dao(bond: u64) -> Governance {
    let rules = Rules {
        voting_delay: 10,
        voting_period: 100,
        emergency_period: 50,
        timelock: 20,
        quorum_ppm: 500_000,
        proposal_bond: bond,
        ..Rules::default()
    };
    let mut g = Governance::new(rules).unwrap();
    g.set_member("a", 40).unwrap();
    g.set_member("b", 60).unwrap();
    g
}

fn code(r: Result<u64, crate::rules::RuleError>) -> &'static str {
    r.unwrap_err().code()
}

#[test]
fn a_passed_proposal_gets_its_bond_back_once() {
    let mut g = dao(5);
    let id = g.propose("a", Kind::Deploy, Payload::Other, 0).unwrap();
    assert_eq!(g.bonds_held(), 5);
    assert_eq!(code(g.refund_bond(id)), "bond_not_final");
    g.vote("b", id, Choice::For, 10).unwrap();
    assert_eq!(code(g.refund_bond(id)), "bond_not_final");
    g.finalize(id, 11).unwrap();
    assert_eq!(g.refund_bond(id), Ok(5));
    assert_eq!(g.bonds_held(), 0);
    assert_eq!(code(g.refund_bond(id)), "bond_refunded");
}

#[test]
fn a_proposal_that_failed_its_quorum_loses_its_bond_at_finalize() {
    let mut g = dao(5);
    let id = g.propose("a", Kind::Deploy, Payload::Other, 0).unwrap();
    g.vote("a", id, Choice::For, 10).unwrap(); // 40 of the 50 the quorum needs
    g.finalize(id, 110).unwrap();
    assert_eq!(
        g.proposal(id).unwrap().bond.unwrap().status,
        BondStatus::Kept
    );
    assert_eq!(g.bonds_held(), 0);
    assert_eq!(code(g.refund_bond(id)), "bond_kept");
}

#[test]
fn defeated_with_the_quorum_reached_is_refunded() {
    let mut g = dao(5);
    let id = g.propose("a", Kind::Deploy, Payload::Other, 0).unwrap();
    g.vote("b", id, Choice::Against, 10).unwrap();
    g.finalize(id, 11).unwrap();
    assert_eq!(g.refund_bond(id), Ok(5));
}

#[test]
fn canceled_before_voting_is_refunded_and_after_is_kept() {
    let mut g = dao(5);
    let early = g.propose("a", Kind::Deploy, Payload::Other, 0).unwrap();
    let late = g.propose("a", Kind::Deploy, Payload::Other, 0).unwrap();
    g.cancel("a", early, 9).unwrap();
    g.cancel("a", late, 10).unwrap();
    assert_eq!(
        g.proposal(late).unwrap().bond.unwrap().status,
        BondStatus::Kept
    );
    assert_eq!(g.bonds_held(), 5);
    assert_eq!(g.refund_bond(early), Ok(5));
    assert_eq!(code(g.refund_bond(late)), "bond_kept");
}

#[test]
fn the_bond_of_an_open_proposal_is_the_one_it_was_made_with() {
    let mut g = dao(5);
    let bigger = Rules {
        proposal_bond: 50,
        ..g.rules
    };
    let change = g
        .propose("a", Kind::Parameters, Payload::Parameters(bigger), 0)
        .unwrap();
    let open = g.propose("a", Kind::Deploy, Payload::Other, 0).unwrap();
    for id in [change, open] {
        g.vote("b", id, Choice::For, 10).unwrap();
        g.finalize(id, 11).unwrap();
    }
    g.execute(change, 31).unwrap();
    let later = g.propose("a", Kind::Deploy, Payload::Other, 40).unwrap();
    assert_eq!(g.proposal(open).unwrap().bond.unwrap().amount, 5);
    assert_eq!(g.proposal(later).unwrap().bond.unwrap().amount, 50);
    assert_eq!(g.bonds_held(), 5 + 5 + 50);
    assert_eq!(g.refund_bond(open), Ok(5));
}

#[test]
fn without_a_bond_there_is_nothing_to_refund() {
    let mut g = dao(0);
    let id = g.propose("a", Kind::Deploy, Payload::Other, 0).unwrap();
    assert_eq!(g.proposal(id).unwrap().bond, None);
    assert_eq!(code(g.refund_bond(id)), "no_bond");
    assert_eq!(code(g.refund_bond(9)), "unknown_proposal");
}

#[test]
fn an_early_defeat_within_reach_of_the_quorum_keeps_nothing() {
    // 70 % support: "a" (40 of 100) against decides the defeat at once, with 40 votes of the
    // 50 the quorum needs cast and 60 still able to vote.
    let mut g = dao(5);
    g.rules.support_ppm = 700_000;
    let id = g.propose("b", Kind::Deploy, Payload::Other, 0).unwrap();
    g.vote("a", id, Choice::Against, 10).unwrap();
    assert_eq!(g.finalize(id, 11), Ok(ProposalState::Defeated));
    assert_eq!(
        g.proposal(id).unwrap().bond.unwrap().status,
        BondStatus::Held
    );
    assert_eq!(g.refund_bond(id), Ok(5));
}
