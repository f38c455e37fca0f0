//! The liveness check as a property: every configuration it accepts admits a passing vote of
//! every kind, which the test builds and runs through the engine; and it refuses the freezes of
//! issue 21. A deliberately broken check is shown to fail the same property.

use super::*;
use crate::rules::params::{HEARTBEAT_DEFAULT, PPM, TIMELOCK_FLOOR};
use crate::rules::{Choice, Governance, Kind, Payload, ProposalState, Rules};

/// The seeded sequence every run checks (dao_testkit's xorshift64*).
use dao_testkit::Rng;

/// A ppm value that often sits on the edges where freezes live.
fn ppm(r: &mut Rng) -> u64 {
    match r.below(6) {
        0 => 0,
        1 => PPM,
        2 => 1 + r.below(200_000),
        _ => r.below(PPM + 1),
    }
}

fn random_rules(r: &mut Rng) -> Rules {
    let support_ppm = r.below(PPM);
    Rules {
        voting_delay: r.below(3),
        voting_period: 1 + r.below(100),
        support_ppm,
        quorum_ppm: ppm(r),
        emergency_period: 1,
        emergency_support_ppm: support_ppm + r.below(PPM - support_ppm),
        timelock: TIMELOCK_FLOOR + r.below(5),
        grace_period: 1 + r.below(100),
        min_proposer_weight: match r.below(3) {
            0 => 0,
            1 => 1,
            _ => r.below(40),
        },
        vote_cap_ppm: ppm(r),
        proposal_bond: 0,
        heartbeat_interval: HEARTBEAT_DEFAULT,
    }
}

/// Small totals, equal weights and one heavy member: the shapes where a cap floors or bites.
fn random_members(r: &mut Rng) -> Vec<(String, u64)> {
    let n = 1 + r.below(9);
    let shape = r.below(3);
    (0..n)
        .map(|i| {
            let w = match shape {
                0 => 1 + r.below(3),
                1 => 7,
                _ if i == 0 => 1 + r.below(1000),
                _ => 1 + r.below(10),
            };
            (format!("m{i}"), w)
        })
        .collect()
}

/// Builds the best vote there is (the proposer is the heaviest member, everyone votes for) for a
/// proposal of each kind and runs it through the engine: `Err` names the kind that did not pass.
fn passing_vote_exists(rules: &Rules, members: &[(String, u64)]) -> Result<(), String> {
    let mut g = Governance::new(*rules).map_err(|e| e.to_string())?;
    for (m, w) in members {
        g.set_member(m, *w).map_err(|e| e.to_string())?;
    }
    let (proposer, _) = members.iter().max_by_key(|(_, w)| *w).ok_or("no members")?;
    let kinds = [
        (Kind::Deploy, Payload::Other),
        (Kind::Emergency, Payload::Other),
        (Kind::Treasury, Payload::Other),
        (Kind::Parameters, Payload::Parameters(*rules)),
        (
            Kind::Membership,
            Payload::Membership {
                member: proposer.clone(),
                weight: g.weight(proposer),
            },
        ),
    ];
    for (kind, payload) in kinds {
        let id = g
            .propose(proposer, kind, payload, 1_000)
            .map_err(|e| format!("{kind:?}: propose: {e}"))?;
        let p = g.proposal(id).map_err(|e| e.to_string())?;
        let (start, end) = (p.start, p.end);
        for (m, _) in members {
            g.vote(m, id, Choice::For, start)
                .map_err(|e| format!("{kind:?}: vote of {m}: {e}"))?;
        }
        let state = g.finalize(id, end).map_err(|e| e.to_string())?;
        if state != ProposalState::Queued {
            return Err(format!("{kind:?}: the unanimous vote ended {state}"));
        }
    }
    Ok(())
}

type Check = fn(&Rules, u64, u64) -> bool;

/// Runs `cases` random configurations; returns (how many `check` accepted, the first accepted
/// configuration without a passing vote, if any).
fn property(check: Check, seed: u64, cases: usize) -> (usize, Option<String>) {
    let mut r = Rng(seed);
    let mut accepted = 0;
    for _ in 0..cases {
        let rules = random_rules(&mut r);
        let members = random_members(&mut r);
        let total: u64 = members.iter().map(|(_, w)| w).sum();
        if !check(&rules, total, members.len() as u64) {
            continue;
        }
        accepted += 1;
        if let Err(e) = passing_vote_exists(&rules, &members) {
            return (accepted, Some(format!("{rules:?} {members:?}: {e}")));
        }
    }
    (accepted, None)
}

fn the_check(rules: &Rules, total: u64, members: u64) -> bool {
    check_live(rules, total, members).is_ok()
}

#[test]
fn every_configuration_the_check_accepts_admits_a_passing_vote() {
    let cases = 4_000;
    let (accepted, counterexample) = property(the_check, 0x5eed_1a7e, cases);
    assert_eq!(counterexample, None);
    // Not vacuous: a good share of the cases is accepted, and a good share refused.
    assert!(accepted > cases / 4, "only {accepted} of {cases} accepted");
    assert!(accepted < cases * 9 / 10, "{accepted} of {cases} accepted");
}

#[test]
fn a_check_that_ignores_the_cap_fails_the_property() {
    fn ignores_cap(rules: &Rules, total: u64, members: u64) -> bool {
        let uncapped = Rules {
            vote_cap_ppm: 0,
            ..*rules
        };
        check_live(&uncapped, total, members).is_ok()
    }
    let (_, counterexample) = property(ignores_cap, 0x5eed_1a7e, 4_000);
    assert!(
        counterexample.is_some(),
        "the property missed a broken check"
    );
}

#[test]
fn a_check_that_trusts_the_total_for_the_proposer_fails_the_property() {
    fn total_proposer(rules: &Rules, total: u64, members: u64) -> bool {
        let any_proposer = Rules {
            min_proposer_weight: rules.min_proposer_weight.min(total),
            ..*rules
        };
        check_live(&any_proposer, total, members).is_ok()
    }
    let (_, counterexample) = property(total_proposer, 0x5eed_1a7e, 4_000);
    assert!(
        counterexample.is_some(),
        "the property missed a broken check"
    );
}

fn capped(vote_cap_ppm: u64) -> Rules {
    Rules {
        voting_delay: 0,
        vote_cap_ppm,
        ..Rules::default()
    }
}

#[test]
fn three_members_of_weight_one_and_a_ten_percent_cap_is_refused_and_is_a_freeze() {
    let rules = capped(100_000);
    let e = check_live(&rules, 3, 3).unwrap_err();
    assert_eq!(e.code(), "would_freeze_vote");
    assert!(e.to_string().contains("caps every vote at 0"), "{e}");
    // And it is a freeze indeed: the unanimous vote is defeated.
    let members: Vec<_> = ["a", "b", "c"].iter().map(|m| (m.to_string(), 1)).collect();
    let e = passing_vote_exists(&rules, &members).unwrap_err();
    assert!(e.contains("ended defeated"), "{e}");
}

fn dao(rules: Rules, members: &[(&str, u64)]) -> Governance {
    let mut g = Governance::new(rules).unwrap();
    for (m, w) in members {
        g.set_member(m, *w).unwrap();
    }
    g
}

/// Passes proposal `id` with everyone's vote and returns the time it may be executed.
fn pass(g: &mut Governance, id: u64) -> u64 {
    let p = g.proposal(id).unwrap().clone();
    let voters: Vec<String> = g.members.keys().cloned().collect();
    for m in voters {
        if g.power_at(&m, p.member_seq) > 0 {
            g.vote(&m, id, Choice::For, p.start).unwrap();
        }
    }
    g.finalize(id, p.end).unwrap();
    g.proposal(id).unwrap().eta.unwrap()
}

#[test]
fn a_parameters_proposal_that_sets_a_freezing_cap_is_refused_at_execute() {
    let mut g = dao(Rules::default(), &[("a", 1), ("b", 1), ("c", 1)]);
    assert_eq!(g.seal(), Ok(()));
    let id = g
        .propose(
            "a",
            Kind::Parameters,
            Payload::Parameters(capped(100_000)),
            0,
        )
        .unwrap();
    let eta = pass(&mut g, id);
    let before = g.clone();
    assert_eq!(g.execute(id, eta).unwrap_err().code(), "would_freeze_vote");
    assert_eq!(g, before);
}

#[test]
fn a_removal_that_would_freeze_is_refused_and_one_that_would_not_is_applied() {
    // 30 % of 4 is 1: four members of weight 1 each vote with 1 and reach the 20 % quorum. Without
    // d, 30 % of 3 floors to 0.
    let rules = capped(300_000);
    let mut g = dao(rules, &[("a", 1), ("b", 1), ("c", 1), ("d", 1)]);
    assert_eq!(g.seal(), Ok(()));
    let remove_d = Payload::Membership {
        member: "d".into(),
        weight: 0,
    };
    let id = g.propose("a", Kind::Membership, remove_d, 0).unwrap();
    let eta = pass(&mut g, id);
    let before = g.clone();
    assert_eq!(g.execute(id, eta).unwrap_err().code(), "would_freeze_vote");
    assert_eq!(g, before);
    // Raising d instead keeps everyone's vote above 0.
    let raise_d = Payload::Membership {
        member: "d".into(),
        weight: 2,
    };
    let id = g.propose("a", Kind::Membership, raise_d, eta).unwrap();
    let eta = pass(&mut g, id);
    assert_eq!(g.execute(id, eta), Ok(()));
    assert_eq!(g.member_count(), 4);
}

#[test]
fn seal_needs_a_live_dao_and_a_proposer() {
    let g = dao(capped(100_000), &[("a", 1), ("b", 1), ("c", 1)]);
    assert_eq!(g.seal().unwrap_err().code(), "would_freeze_vote");
    let heavy_proposer = Rules {
        min_proposer_weight: 3,
        ..Rules::default()
    };
    let g = dao(heavy_proposer, &[("a", 2), ("b", 2)]);
    assert_eq!(g.seal().unwrap_err().code(), "would_freeze_proposer");
    let g = dao(Rules::default(), &[]);
    assert_eq!(g.seal().unwrap_err().code(), "no_members");
}

#[test]
fn the_bound_is_the_worst_case_of_the_weights() {
    // 10 members of 10 under a 10 % cap cast 100, but from (total, count) alone the check must
    // assume one member of 91 and nine of 1: 10 + 9 = 19.
    assert_eq!(guaranteed_for(&capped(100_000), 100, 10), 19);
    assert_eq!(guaranteed_for(&capped(0), 100, 10), 100);
    assert_eq!(guaranteed_for(&capped(100_000), 3, 3), 0);
    assert_eq!(guaranteed_heaviest(10, 3), 4);
    assert_eq!(guaranteed_heaviest(0, 0), 0);
}
