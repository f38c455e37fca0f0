//! Liveness: some vote of the members can pass a proposal of every kind (docs/governance-rules.md,
//! "Liveness"). The app checks it from two numbers it keeps, the total weight and the member
//! count, so it never has to read every member; this is the same check, to the unit.

use super::error::RuleError;
use super::params::Rules;
use super::tally::{cap_weight, quorum_votes};

/// What the all-for vote of every member is sure to cast, knowing only the total weight, the
/// number of members and the per-member cap: every member holds at least 1; if nobody is above
/// the cap the vote casts the total, else one member casts the cap and each other one at least 1.
/// 0 when the cap floors to 0 (then every vote counts 0 and nothing can pass).
pub fn guaranteed_for(rules: &Rules, total: u64, members: u64) -> u64 {
    let cap = cap_weight(total, rules.vote_cap_ppm).unwrap_or(total);
    if cap == 0 || members == 0 {
        return 0;
    }
    total.min(cap.saturating_add(members - 1))
}

/// The weight the heaviest member is sure to hold: `ceil(total / members)`.
pub fn guaranteed_heaviest(total: u64, members: u64) -> u64 {
    if members == 0 {
        return 0;
    }
    total.div_ceil(members)
}

/// Refuses rules and members under which a proposal could never pass again (or never be made),
/// with the check and the code the app uses: `would_freeze_vote` when the all-for vote may not
/// reach `max(1, quorum_votes)`, `would_freeze_proposer` when nobody may hold
/// `max(1, min_proposer_weight)`. Support thresholds need no check of their own: an all-for vote
/// with any weight passes every threshold below 10⁶, emergency ones included.
pub fn check_live(rules: &Rules, total: u64, members: u64) -> Result<(), RuleError> {
    let cast = guaranteed_for(rules, total, members);
    let needed = quorum_votes(total, rules.quorum_ppm).max(1);
    if cast < needed {
        let cap = cap_weight(total, rules.vote_cap_ppm);
        let why = match cap {
            Some(0) => format!(
                "vote_cap_ppm {} of a total weight of {total} caps every vote at 0",
                rules.vote_cap_ppm
            ),
            _ => format!(
                "with {members} members, a total weight of {total}{} the all-for vote is only sure \
                 to cast {cast}, below the {needed} that quorum_ppm {} needs",
                cap.map(|c| format!(" and a per-member cap of {c}"))
                    .unwrap_or_default(),
                rules.quorum_ppm
            ),
        };
        return Err(RuleError::WouldFreezeVote(why));
    }
    let heaviest = guaranteed_heaviest(total, members);
    let required = rules.min_proposer_weight.max(1);
    if heaviest < required {
        return Err(RuleError::WouldFreezeProposer(format!(
            "with {members} members and a total weight of {total} the heaviest member is only sure \
             to hold {heaviest}, below min_proposer_weight {required}"
        )));
    }
    Ok(())
}

#[cfg(test)]
#[path = "liveness_tests.rs"]
mod tests;
