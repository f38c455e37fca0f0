//! Property test of delegation: over random member sets and random sequences of delegations,
//! undelegations, weight changes, proposals and votes, powers always sum to the total weight,
//! each power is exactly what the rule says (own weight if delegating to no one, plus the own
//! weights of its delegators), and no proposal's cast weight exceeds its snapshot total.

use super::super::{Choice, Governance, Kind, Payload, Rules};
use proptest::prelude::*;
use std::collections::BTreeMap;

const NAMES: [&str; 5] = ["a", "b", "c", "d", "e"];

#[derive(Debug, Clone)]
enum Step {
    SetMember(usize, u64),
    Delegate(usize, usize),
    Undelegate(usize),
    Propose(usize),
    Vote(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..NAMES.len(), 0u64..20).prop_map(|(m, w)| Step::SetMember(m, w)),
        (0..NAMES.len(), 0..NAMES.len()).prop_map(|(m, t)| Step::Delegate(m, t)),
        (0..NAMES.len()).prop_map(Step::Undelegate),
        (0..NAMES.len()).prop_map(Step::Propose),
        (0..NAMES.len()).prop_map(Step::Vote),
    ]
}

/// Every property, checked after every step.
fn check(g: &Governance) -> Result<(), TestCaseError> {
    let sum: u64 = g
        .powers
        .values()
        .filter_map(|h| h.last())
        .map(|e| e.1)
        .sum();
    prop_assert_eq!(sum, g.total_weight, "powers {:?}", g.powers);
    let mut expected: BTreeMap<&str, u64> = BTreeMap::new();
    for (m, h) in &g.members {
        let own = h.last().map_or(0, |e| e.1);
        let holder = g.delegate_of(m).unwrap_or(m);
        *expected.entry(holder).or_default() += own;
    }
    for name in g.powers.keys().chain(g.members.keys()) {
        let want = expected.get(name.as_str()).copied().unwrap_or(0);
        prop_assert_eq!(g.power(name), want, "power of {}", name);
    }
    for p in &g.proposals {
        prop_assert!(
            p.voted_weight <= p.total,
            "voted {} > total {}",
            p.voted_weight,
            p.total
        );
        prop_assert!(p.tally.cast() <= u128::from(p.total));
    }
    Ok(())
}

fn run(members: &[u64], steps: &[Step], cap_ppm: u64) -> Result<(), TestCaseError> {
    let rules = Rules {
        voting_delay: 10,
        voting_period: 100,
        emergency_period: 50,
        vote_cap_ppm: cap_ppm,
        ..Rules::default()
    };
    let mut g = Governance::new(rules).map_err(|e| TestCaseError::fail(e.to_string()))?;
    for (name, w) in NAMES.iter().zip(members) {
        if *w > 0 {
            g.set_member(name, *w)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
    }
    check(&g)?;
    for s in steps {
        // Refusals are part of the game; what matters is the state after each step.
        let _ = match s {
            Step::SetMember(m, w) => g.set_member(NAMES[*m], *w),
            Step::Delegate(m, t) => g.delegate(NAMES[*m], NAMES[*t], 0),
            Step::Undelegate(m) => g.undelegate(NAMES[*m], 0),
            Step::Propose(m) => g
                .propose(NAMES[*m], Kind::Deploy, Payload::Other, 0)
                .map(|_| ()),
            Step::Vote(m) => match g.proposals.len() as u64 {
                0 => Ok(()),
                last => g.vote(NAMES[*m], last, Choice::For, 10),
            },
        };
        check(&g)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn powers_sum_to_the_total_and_nothing_is_counted_twice(
        members in proptest::collection::vec(0u64..20, NAMES.len()),
        steps in proptest::collection::vec(step(), 0..60),
        cap_ppm in prop_oneof![Just(0u64), 100_000u64..1_000_000],
    ) {
        run(&members, &steps, cap_ppm)?;
    }
}
