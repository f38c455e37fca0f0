use serde::{Deserialize, Serialize};
use std::fmt;

/// What the app stores about a proposal's progress. The state a user sees is derived from it and
/// the time ([`ProposalState`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stored {
    Voting,
    Canceled,
    Defeated,
    Queued,
    Executed,
}

impl Stored {
    /// The code the app keeps in a proposal box.
    pub fn code(self) -> u8 {
        match self {
            Stored::Voting => 0,
            Stored::Canceled => 1,
            Stored::Defeated => 2,
            Stored::Queued => 3,
            Stored::Executed => 4,
        }
    }

    pub fn from_code(code: u8) -> Option<Stored> {
        Some(match code {
            0 => Stored::Voting,
            1 => Stored::Canceled,
            2 => Stored::Defeated,
            3 => Stored::Queued,
            4 => Stored::Executed,
            _ => return None,
        })
    }
}

/// A proposal's state at a moment, as users and the agent see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposalState {
    Pending,
    Active,
    Canceled,
    Defeated,
    Succeeded,
    Queued,
    Executed,
    Expired,
}

impl ProposalState {
    pub const ALL: [ProposalState; 8] = [
        ProposalState::Pending,
        ProposalState::Active,
        ProposalState::Canceled,
        ProposalState::Defeated,
        ProposalState::Succeeded,
        ProposalState::Queued,
        ProposalState::Executed,
        ProposalState::Expired,
    ];

    /// Whether a proposal may go from `self` to `next` (docs/governance-rules.md, "States").
    pub fn can_become(self, next: ProposalState) -> bool {
        use ProposalState::*;
        matches!(
            (self, next),
            (Pending, Active | Canceled | Defeated)
                | (Active, Canceled | Succeeded | Defeated)
                | (Succeeded, Queued)
                | (Queued, Executed | Expired)
        )
    }

    /// Nothing can happen to the proposal any more.
    pub fn is_final(self) -> bool {
        ProposalState::ALL.iter().all(|n| !self.can_become(*n))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProposalState::Pending => "pending",
            ProposalState::Active => "active",
            ProposalState::Canceled => "canceled",
            ProposalState::Defeated => "defeated",
            ProposalState::Succeeded => "succeeded",
            ProposalState::Queued => "queued",
            ProposalState::Executed => "executed",
            ProposalState::Expired => "expired",
        }
    }
}

impl fmt::Display for ProposalState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::ProposalState::*;
    use super::*;

    #[test]
    fn the_transition_table_is_exactly_the_documented_one() {
        let legal = [
            (Pending, Active),
            (Pending, Canceled),
            (Pending, Defeated),
            (Active, Canceled),
            (Active, Succeeded),
            (Active, Defeated),
            (Succeeded, Queued),
            (Queued, Executed),
            (Queued, Expired),
        ];
        for a in ProposalState::ALL {
            for b in ProposalState::ALL {
                assert_eq!(a.can_become(b), legal.contains(&(a, b)), "{a} → {b}");
            }
        }
    }

    #[test]
    fn final_states() {
        let finals: Vec<_> = ProposalState::ALL
            .into_iter()
            .filter(|s| s.is_final())
            .collect();
        assert_eq!(finals, [Canceled, Defeated, Executed, Expired]);
    }

    #[test]
    fn stored_codes_round_trip_and_unknown_codes_are_refused() {
        for s in [
            Stored::Voting,
            Stored::Canceled,
            Stored::Defeated,
            Stored::Queued,
            Stored::Executed,
        ] {
            assert_eq!(Stored::from_code(s.code()), Some(s));
        }
        assert_eq!(Stored::from_code(5), None);
        assert_eq!(Stored::from_code(255), None);
    }
}
