//! Delegation in the model; the shared vectors check it against the app.

use super::super::{Choice, Governance, Kind, Payload, Rules, Tally};

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

fn powers(g: &Governance, who: &[&str]) -> Vec<u64> {
    who.iter().map(|w| g.power(w)).collect()
}

#[test]
fn a_delegation_before_a_proposal_gives_the_delegate_the_weight_and_the_delegator_none() {
    let mut g = dao(&[("a", 10), ("b", 5), ("c", 1)]);
    g.delegate("a", "b", 0).unwrap();
    assert_eq!(powers(&g, &["a", "b", "c"]), [0, 15, 1]);
    assert_eq!(g.delegate_of("a"), Some("b"));
    // Own weight is unchanged: proposing still needs it.
    assert_eq!(g.weight("a"), 10);
    let id = g.propose("a", Kind::Deploy, Payload::Other, 0).unwrap();
    let e = g.vote("a", id, Choice::For, 10).unwrap_err();
    assert_eq!(e.code(), "weight_delegated");
    assert!(e.to_string().contains("to b now"), "{e}");
    g.vote("b", id, Choice::For, 10).unwrap();
    let p = g.proposal(id).unwrap();
    assert_eq!((p.tally.for_, p.voted_weight), (15, 15));
}

#[test]
fn a_delegation_after_creation_changes_nothing_for_that_proposal() {
    let mut g = dao(&[("a", 10), ("b", 5)]);
    let first = g.propose("a", Kind::Deploy, Payload::Other, 0).unwrap();
    g.delegate("a", "b", 1).unwrap();
    g.vote("a", first, Choice::Against, 10).unwrap();
    g.vote("b", first, Choice::For, 10).unwrap();
    let p = g.proposal(first).unwrap();
    assert_eq!(
        p.tally,
        Tally {
            for_: 5,
            against: 10,
            abstain: 0
        }
    );
    let next = g.propose("a", Kind::Deploy, Payload::Other, 2).unwrap();
    assert_eq!(
        g.vote("a", next, Choice::For, 12).unwrap_err().code(),
        "weight_delegated"
    );
    g.vote("b", next, Choice::For, 12).unwrap();
    assert_eq!(g.proposal(next).unwrap().tally.for_, 15);
}

#[test]
fn the_cap_clips_what_a_delegate_casts() {
    let mut g = dao(&[("a", 40), ("b", 30), ("c", 30)]);
    g.rules.vote_cap_ppm = 500_000;
    g.delegate("a", "b", 0).unwrap();
    let id = g.propose("a", Kind::Deploy, Payload::Other, 0).unwrap();
    g.vote("b", id, Choice::For, 10).unwrap();
    let p = g.proposal(id).unwrap();
    // power 70, cap 50: the excess is not counted, but the voted weight is the power.
    assert_eq!((p.tally.for_, p.voted_weight), (50, 70));
}

#[test]
fn redelegating_moves_the_weight_in_one_change() {
    let mut g = dao(&[("a", 10), ("b", 5), ("c", 1)]);
    g.delegate("a", "b", 0).unwrap();
    let seq = g.member_seq;
    g.delegate("a", "c", 0).unwrap();
    assert_eq!(g.member_seq, seq + 1);
    assert_eq!(powers(&g, &["a", "b", "c"]), [0, 5, 11]);
    assert_eq!(g.delegate_of("a"), Some("c"));
}

#[test]
fn undelegating_restores_the_own_weight() {
    let mut g = dao(&[("a", 10), ("b", 5)]);
    g.delegate("a", "b", 0).unwrap();
    g.undelegate("a", 0).unwrap();
    assert_eq!(powers(&g, &["a", "b"]), [10, 5]);
    assert_eq!(g.delegate_of("a"), None);
    let id = g.propose("a", Kind::Deploy, Payload::Other, 0).unwrap();
    g.vote("a", id, Choice::For, 10).unwrap();
    assert_eq!(g.proposal(id).unwrap().tally.for_, 10);
}

#[test]
fn delegation_is_not_transitive() {
    let mut g = dao(&[("a", 10), ("b", 5), ("c", 1)]);
    g.delegate("a", "b", 0).unwrap();
    g.delegate("b", "c", 0).unwrap();
    // Only b's own 5 moves on; a's 10 stays with b.
    assert_eq!(powers(&g, &["a", "b", "c"]), [0, 10, 6]);
}

#[test]
fn a_weight_change_of_a_delegator_moves_its_delegates_power() {
    let mut g = dao(&[("a", 10), ("b", 5)]);
    g.delegate("a", "b", 0).unwrap();
    let id = g
        .propose(
            "b",
            Kind::Membership,
            Payload::Membership {
                member: "a".into(),
                weight: 4,
            },
            0,
        )
        .unwrap();
    g.vote("b", id, Choice::For, 10).unwrap();
    g.finalize(id, 110).unwrap();
    g.execute(id, 130).unwrap();
    assert_eq!(powers(&g, &["a", "b"]), [0, 9]);
    assert_eq!((g.weight("a"), g.total_weight), (4, 9));
}

#[test]
fn a_removed_delegate_keeps_and_casts_what_is_delegated_to_it() {
    let mut g = dao(&[("a", 10), ("b", 5), ("c", 5)]);
    g.delegate("a", "b", 0).unwrap();
    g.set_member("b", 0).unwrap();
    assert_eq!((g.weight("b"), g.power("b")), (0, 10));
    // Nobody can delegate anew to a removed member.
    assert_eq!(
        g.delegate("c", "b", 0).unwrap_err().code(),
        "delegate_not_member"
    );
    let id = g.propose("c", Kind::Deploy, Payload::Other, 0).unwrap();
    g.vote("b", id, Choice::For, 10).unwrap();
    assert_eq!(g.proposal(id).unwrap().tally.for_, 10);
    // Until its delegator takes it back.
    g.undelegate("a", 1).unwrap();
    assert_eq!(powers(&g, &["a", "b"]), [10, 0]);
}

#[test]
fn a_removed_delegator_can_clear_its_delegation() {
    let mut g = dao(&[("a", 10), ("b", 5)]);
    g.delegate("a", "b", 0).unwrap();
    g.set_member("a", 0).unwrap();
    assert_eq!(powers(&g, &["a", "b"]), [0, 5]);
    g.undelegate("a", 0).unwrap();
    assert_eq!(powers(&g, &["a", "b"]), [0, 5]);
    assert_eq!(g.delegate_of("a"), None);
}

#[test]
fn every_refusal_names_its_code_and_changes_nothing() {
    let mut g = dao(&[("a", 10), ("b", 5)]);
    g.delegate("b", "a", 0).unwrap();
    let before = g.clone();
    for (e, code) in [
        (g.delegate("x", "a", 0).unwrap_err(), "not_member"),
        (g.delegate("a", "a", 0).unwrap_err(), "self_delegation"),
        (g.delegate("a", "x", 0).unwrap_err(), "delegate_not_member"),
        (g.delegate("b", "a", 0).unwrap_err(), "already_delegated"),
        (g.undelegate("a", 0).unwrap_err(), "not_delegating"),
        (g.undelegate("x", 0).unwrap_err(), "not_delegating"),
    ] {
        assert_eq!(e.code(), code, "{e}");
        assert_eq!(g, before, "{e}");
    }
}

#[test]
fn a_non_member_without_delegation_is_still_refused_as_not_member() {
    let mut g = dao(&[("a", 10)]);
    let id = g.propose("a", Kind::Deploy, Payload::Other, 0).unwrap();
    assert_eq!(
        g.vote("x", id, Choice::For, 10).unwrap_err().code(),
        "not_member"
    );
}

#[test]
fn every_delegation_change_counts_in_member_seq() {
    let mut g = dao(&[("a", 10), ("b", 5)]);
    let s = g.member_seq;
    g.delegate("a", "b", 0).unwrap();
    g.undelegate("a", 0).unwrap();
    assert_eq!(g.member_seq, s + 2);
    // Each side gets an entry at the change's sequence number.
    assert_eq!(g.powers["a"].last(), Some(&(s + 2, 10)));
    assert_eq!(g.powers["b"].last(), Some(&(s + 2, 5)));
}
