use serde::{Deserialize, Serialize};
use std::fmt;

/// Parts per million: the denominator of every ratio in the rules.
pub const PPM: u64 = 1_000_000;

/// The largest total weight of all members. With it every product in the tally math fits in 64
/// bits (10⁶ · 10¹² < 2⁶⁴), which is what lets the on-chain app use plain `*`.
pub const MAX_TOTAL_WEIGHT: u64 = 1_000_000_000_000;

/// The longest duration any rule may name: ten years of 365 days.
pub const MAX_DURATION: u64 = 10 * 365 * 24 * 3600;

/// The least `timelock` any rules may set, in seconds (the app's TIMELOCK_FLOOR, returned by its
/// `get_rules`). With it nothing queued takes effect in the block that queued it, so a propose,
/// vote, finalize and execute in one atomic group is impossible, and every follower of the chain
/// sees a queued proposal for at least three blocks before it can act. It is a floor, not a human
/// reaction time (that is the DAO's own timelock); it stays low because emergency deploys share
/// the timelock. docs/governance-rules.md, "Reaction window".
pub const TIMELOCK_FLOOR: u64 = 10;

/// The largest `proposal_bond`, in microAlgos (a million Algos; the app's MAX_BOND): far above
/// any sensible price for a proposal, and small enough that sums of bonds never near 2⁶⁴.
pub const MAX_BOND: u64 = 1_000_000_000_000;

/// The least `heartbeat_interval`, in seconds: a host may not fill the chain with liveness
/// reports more often than hourly (the app's HEARTBEAT_MIN).
pub const HEARTBEAT_MIN: u64 = 3600;

/// The largest `heartbeat_interval`, in seconds (30 days, the app's HEARTBEAT_MAX): a host that
/// went silent is noticed within a month.
pub const HEARTBEAT_MAX: u64 = 30 * 24 * 3600;

/// The usual `heartbeat_interval`: one heartbeat a day. Rules written before the field existed
/// (forming specs, proposals' TOML) get it when they leave it out.
pub const HEARTBEAT_DEFAULT: u64 = 24 * 3600;

fn heartbeat_default() -> u64 {
    HEARTBEAT_DEFAULT
}

/// The rules of a DAO. Durations are seconds; ratios are parts per million.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    pub voting_delay: u64,
    pub voting_period: u64,
    pub support_ppm: u64,
    pub quorum_ppm: u64,
    pub emergency_period: u64,
    pub emergency_support_ppm: u64,
    pub timelock: u64,
    pub grace_period: u64,
    pub min_proposer_weight: u64,
    /// 0 means no cap.
    pub vote_cap_ppm: u64,
    /// MicroAlgos paid with each proposal; 0 means no bond. Left out of a spec, 0.
    #[serde(default)]
    pub proposal_bond: u64,
    /// The least time, in seconds, between two heartbeats of one host. Left out of a spec, a day.
    #[serde(default = "heartbeat_default")]
    pub heartbeat_interval: u64,
}

impl Default for Rules {
    /// Defaults for a small fleet: three days to vote, simple majority of those who vote, a fifth
    /// of all weight must take part, an hour between approval and deployment.
    fn default() -> Self {
        Rules {
            voting_delay: 60,
            voting_period: 3 * 24 * 3600,
            support_ppm: 500_000,
            quorum_ppm: 200_000,
            emergency_period: 6 * 3600,
            emergency_support_ppm: 666_667,
            timelock: 3600,
            grace_period: 7 * 24 * 3600,
            min_proposer_weight: 1,
            vote_cap_ppm: 0,
            proposal_bond: 0,
            heartbeat_interval: HEARTBEAT_DEFAULT,
        }
    }
}

/// One rule that does not hold, named by its field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesProblem {
    pub field: &'static str,
    pub message: String,
}

impl fmt::Display for RulesProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl Rules {
    /// Every constraint of docs/governance-rules.md that these rules break, in field order.
    pub fn problems(&self) -> Vec<RulesProblem> {
        let mut out = Vec::new();
        let mut check = |ok: bool, field: &'static str, message: String| {
            if !ok {
                out.push(RulesProblem { field, message });
            }
        };
        let years = |v: u64| v <= MAX_DURATION;
        check(
            years(self.voting_delay),
            "voting_delay",
            format!("{} s is longer than ten years", self.voting_delay),
        );
        check(
            self.voting_period >= 1 && years(self.voting_period),
            "voting_period",
            format!("must be 1 s to ten years, got {}", self.voting_period),
        );
        check(
            self.support_ppm < PPM,
            "support_ppm",
            format!(
                "must be below {PPM} (no vote could ever pass), got {}",
                self.support_ppm
            ),
        );
        check(
            self.quorum_ppm <= PPM,
            "quorum_ppm",
            format!("must be at most {PPM}, got {}", self.quorum_ppm),
        );
        check(
            self.emergency_period >= 1 && self.emergency_period <= self.voting_period,
            "emergency_period",
            format!(
                "must be 1 s to voting_period ({}), got {}",
                self.voting_period, self.emergency_period
            ),
        );
        check(
            self.emergency_support_ppm >= self.support_ppm && self.emergency_support_ppm < PPM,
            "emergency_support_ppm",
            format!(
                "must be from support_ppm ({}) to {}, got {}",
                self.support_ppm,
                PPM - 1,
                self.emergency_support_ppm
            ),
        );
        check(
            years(self.timelock),
            "timelock",
            format!("{} s is longer than ten years", self.timelock),
        );
        check(
            self.timelock >= TIMELOCK_FLOOR,
            "timelock",
            format!(
                "{} s is below the floor of {TIMELOCK_FLOOR} s: there must be a window to react \
                 between approval and effect",
                self.timelock
            ),
        );
        check(
            self.grace_period >= 1 && years(self.grace_period),
            "grace_period",
            format!("must be 1 s to ten years, got {}", self.grace_period),
        );
        check(
            self.min_proposer_weight <= MAX_TOTAL_WEIGHT,
            "min_proposer_weight",
            format!(
                "must be at most the maximum total weight {MAX_TOTAL_WEIGHT}, got {}",
                self.min_proposer_weight
            ),
        );
        check(
            self.vote_cap_ppm <= PPM,
            "vote_cap_ppm",
            format!(
                "must be 0 (no cap) or at most {PPM}, got {}",
                self.vote_cap_ppm
            ),
        );
        check(
            self.proposal_bond <= MAX_BOND,
            "proposal_bond",
            format!(
                "must be 0 (no bond) to {MAX_BOND} microAlgos, got {}",
                self.proposal_bond
            ),
        );
        // The app of this version cannot collect or return a bond yet, so it refuses any.
        check(
            self.proposal_bond == 0 || self.proposal_bond > MAX_BOND,
            "proposal_bond",
            format!(
                "{} microAlgos: this version of the app takes no bond yet, set 0",
                self.proposal_bond
            ),
        );
        check(
            (HEARTBEAT_MIN..=HEARTBEAT_MAX).contains(&self.heartbeat_interval),
            "heartbeat_interval",
            format!(
                "must be {HEARTBEAT_MIN} s (an hour) to {HEARTBEAT_MAX} s (30 days), got {}",
                self.heartbeat_interval
            ),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(Rules::default().problems(), vec![]);
    }

    #[test]
    fn every_broken_constraint_is_named() {
        let r = Rules {
            voting_delay: MAX_DURATION + 1,
            voting_period: 0,
            support_ppm: PPM,
            quorum_ppm: PPM + 1,
            emergency_period: 0,
            emergency_support_ppm: 0,
            timelock: MAX_DURATION + 1,
            grace_period: 0,
            min_proposer_weight: MAX_TOTAL_WEIGHT + 1,
            vote_cap_ppm: PPM + 1,
            proposal_bond: MAX_BOND + 1,
            heartbeat_interval: HEARTBEAT_MIN - 1,
        };
        let fields: Vec<_> = r.problems().iter().map(|p| p.field).collect();
        assert_eq!(
            fields,
            [
                "voting_delay",
                "voting_period",
                "support_ppm",
                "quorum_ppm",
                "emergency_period",
                "emergency_support_ppm",
                "timelock",
                "grace_period",
                "min_proposer_weight",
                "vote_cap_ppm",
                "proposal_bond",
                "heartbeat_interval"
            ]
        );
    }

    #[test]
    fn the_timelock_has_a_floor() {
        let at = |timelock| Rules {
            timelock,
            ..Rules::default()
        };
        assert_eq!(at(TIMELOCK_FLOOR).problems(), vec![]);
        for below in [0, TIMELOCK_FLOOR - 1] {
            let p = at(below).problems();
            assert_eq!(p.len(), 1, "{p:?}");
            assert_eq!(p[0].field, "timelock");
            assert!(p[0].message.contains("below the floor"), "{}", p[0]);
        }
    }

    #[test]
    fn the_heartbeat_interval_is_an_hour_to_thirty_days() {
        let at = |heartbeat_interval| Rules {
            heartbeat_interval,
            ..Rules::default()
        };
        for ok in [HEARTBEAT_MIN, HEARTBEAT_DEFAULT, HEARTBEAT_MAX] {
            assert_eq!(at(ok).problems(), vec![], "{ok}");
        }
        for bad in [0, HEARTBEAT_MIN - 1, HEARTBEAT_MAX + 1, u64::MAX] {
            let p = at(bad).problems();
            assert_eq!(p.len(), 1, "{p:?}");
            assert_eq!(p[0].field, "heartbeat_interval");
        }
    }

    #[test]
    fn a_bond_is_bounded_and_not_yet_taken() {
        let at = |proposal_bond| Rules {
            proposal_bond,
            ..Rules::default()
        };
        assert_eq!(at(0).problems(), vec![]);
        for bad in [1, MAX_BOND, MAX_BOND + 1, u64::MAX] {
            let p = at(bad).problems();
            assert_eq!(p.len(), 1, "{bad}: {p:?}");
            assert_eq!(p[0].field, "proposal_bond");
            assert_eq!(
                p[0].message.contains("no bond yet"),
                bad <= MAX_BOND,
                "{}",
                p[0]
            );
        }
    }

    #[test]
    fn specs_without_the_new_fields_get_no_bond_and_a_daily_heartbeat() {
        let mut v = serde_json::to_value(Rules::default()).unwrap();
        let m = v.as_object_mut().unwrap();
        m.remove("proposal_bond");
        m.remove("heartbeat_interval");
        let r: Rules = serde_json::from_value(v).unwrap();
        assert_eq!(
            (r.proposal_bond, r.heartbeat_interval),
            (0, HEARTBEAT_DEFAULT)
        );
    }

    #[test]
    fn emergency_rules_must_be_at_least_as_strict() {
        let r = Rules {
            emergency_period: Rules::default().voting_period + 1,
            emergency_support_ppm: Rules::default().support_ppm - 1,
            ..Rules::default()
        };
        let fields: Vec<_> = r.problems().iter().map(|p| p.field).collect();
        assert_eq!(fields, ["emergency_period", "emergency_support_ppm"]);
    }

    #[test]
    fn unknown_fields_are_refused() {
        let mut v = serde_json::to_value(Rules::default()).unwrap();
        v["quorum"] = 5.into();
        let e = serde_json::from_value::<Rules>(v).unwrap_err();
        assert!(e.to_string().contains("unknown field `quorum`"), "{e}");
    }
}
