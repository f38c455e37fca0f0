use super::params::PPM;
use serde::{Deserialize, Serialize};

/// The weights cast for, against and abstaining on one proposal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tally {
    #[serde(rename = "for")]
    pub for_: u64,
    pub against: u64,
    pub abstain: u64,
}

impl Tally {
    /// All weight cast. u128: tallies read from chain are outside input and must not overflow.
    pub fn cast(&self) -> u128 {
        u128::from(self.for_) + u128::from(self.against) + u128::from(self.abstain)
    }
}

/// How a proposal's vote ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    Defeated,
}

/// `(10⁶ − support_ppm) · for > support_ppm · against` — Aragon TokenVoting's support rule.
pub fn support_passes(support_ppm: u64, for_: u128, against: u128) -> bool {
    let s = u128::from(support_ppm.min(PPM));
    (u128::from(PPM) - s) * for_ > s * against
}

/// The least cast weight that meets the quorum: `ceil(total · quorum_ppm / 10⁶)`.
pub fn quorum_votes(total: u64, quorum_ppm: u64) -> u64 {
    let n = u128::from(total) * u128::from(quorum_ppm);
    let q = n.div_ceil(u128::from(PPM));
    u64::try_from(q).unwrap_or(u64::MAX)
}

/// The most weight one member's vote may count with, or `None` without a cap.
pub fn cap_weight(total: u64, vote_cap_ppm: u64) -> Option<u64> {
    (vote_cap_ppm > 0).then(|| {
        let c = u128::from(total) * u128::from(vote_cap_ppm) / u128::from(PPM);
        u64::try_from(c).unwrap_or(u64::MAX)
    })
}

/// Support and participation both pass.
pub fn passes(support_ppm: u64, quorum_votes: u64, for_: u128, against: u128, cast: u128) -> bool {
    support_passes(support_ppm, for_, against) && cast >= u128::from(quorum_votes)
}

/// The outcome of a vote at this moment, if it is decided.
///
/// `ended` is whether voting has ended. Before the end the outcome is decided only when no set of
/// votes of the `remaining` weight (total minus the raw weight of those who voted) can change it.
pub fn decide(
    support_ppm: u64,
    quorum_votes: u64,
    tally: &Tally,
    remaining: u64,
    ended: bool,
) -> Option<Outcome> {
    let (f, a, cast, r) = (
        u128::from(tally.for_),
        u128::from(tally.against),
        tally.cast(),
        u128::from(remaining),
    );
    let by = |ok: bool| {
        if ok {
            Outcome::Succeeded
        } else {
            Outcome::Defeated
        }
    };
    if ended {
        return Some(by(passes(support_ppm, quorum_votes, f, a, cast)));
    }
    // Cast weight only grows, so participation that passes now passes for good; the worst case
    // for support is every remaining vote against.
    if cast >= u128::from(quorum_votes) && support_passes(support_ppm, f, a + r) {
        return Some(Outcome::Succeeded);
    }
    // The best case for both rules at once is every remaining vote for.
    if !passes(support_ppm, quorum_votes, f + r, a, cast + r) {
        return Some(Outcome::Defeated);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(for_: u64, against: u64, abstain: u64) -> Tally {
        Tally {
            for_,
            against,
            abstain,
        }
    }

    #[test]
    fn support_at_the_threshold_fails_and_one_above_passes() {
        // 50%: 50 for, 50 against fails; 51/49 passes.
        assert!(!support_passes(500_000, 50, 50));
        assert!(support_passes(500_000, 51, 50));
        // 2/3 rounded down: 666_666 ppm. 2 for 1 against: (333_334·2) > 666_666 → passes.
        assert!(support_passes(666_666, 2, 1));
        // 666_667 ppm: 333_333·2 = 666_666 > 666_667 fails.
        assert!(!support_passes(666_667, 2, 1));
        // Nothing for never passes, even with nothing against.
        assert!(!support_passes(0, 0, 0));
        assert!(support_passes(0, 1, 1_000_000));
    }

    #[test]
    fn quorum_rounds_up() {
        assert_eq!(quorum_votes(10, 150_000), 2); // 1.5 → 2
        assert_eq!(quorum_votes(10, 100_000), 1);
        assert_eq!(quorum_votes(0, 500_000), 0);
        assert_eq!(quorum_votes(1, 1), 1);
        assert_eq!(
            quorum_votes(super::super::MAX_TOTAL_WEIGHT, PPM),
            1_000_000_000_000
        );
    }

    #[test]
    fn cap_rounds_down_and_zero_is_none() {
        assert_eq!(cap_weight(1000, 0), None);
        assert_eq!(cap_weight(1000, 333_333), Some(333));
        assert_eq!(cap_weight(3, 500_000), Some(1));
    }

    #[test]
    fn after_the_end_the_outcome_is_always_decided() {
        assert_eq!(
            decide(500_000, 10, &t(11, 10, 0), 100, true),
            Some(Outcome::Succeeded)
        );
        assert_eq!(
            decide(500_000, 30, &t(11, 10, 0), 100, true),
            Some(Outcome::Defeated)
        );
        assert_eq!(
            decide(500_000, 0, &t(0, 0, 0), 0, true),
            Some(Outcome::Defeated)
        );
    }

    #[test]
    fn early_success_needs_quorum_and_support_against_all_remaining() {
        // total 100: 60 for, 39 remaining → 60 > 39 holds: decided.
        assert_eq!(
            decide(500_000, 20, &t(60, 0, 1), 39, false),
            Some(Outcome::Succeeded)
        );
        // 60 for, 60 remaining → 60 > 60 fails: undecided.
        assert_eq!(decide(500_000, 20, &t(60, 0, 0), 60, false), None);
        // Support certain but quorum (80) not met yet and still reachable: undecided.
        assert_eq!(decide(500_000, 80, &t(60, 0, 0), 30, false), None);
    }

    #[test]
    fn early_defeat_when_all_remaining_for_would_not_pass() {
        assert_eq!(
            decide(500_000, 20, &t(10, 60, 0), 30, false),
            Some(Outcome::Defeated)
        );
        // 10 for + 50 remaining > 60 against? 60 > 60 fails → defeated.
        assert_eq!(
            decide(500_000, 20, &t(10, 60, 0), 50, false),
            Some(Outcome::Defeated)
        );
        assert_eq!(decide(500_000, 20, &t(10, 60, 0), 51, false), None);
        // Quorum unreachable even with every remaining vote.
        assert_eq!(
            decide(500_000, 90, &t(50, 0, 0), 39, false),
            Some(Outcome::Defeated)
        );
    }

    #[test]
    fn huge_tallies_from_outside_do_not_overflow() {
        let m = u64::MAX;
        assert!(!support_passes(500_000, u128::from(m), u128::from(m)));
        // 1 · 2m > 999_999 · m fails even with all remaining for: defeated.
        assert_eq!(
            decide(999_999, m, &t(m, m, m), m, false),
            Some(Outcome::Defeated)
        );
        assert_eq!(quorum_votes(m, PPM), m);
    }
}
