//! The proposal bond (docs/governance-rules.md, "Proposal bond"): a proposal is paid for with
//! the bond the rules asked for when it was made; whether it goes back to the proposer or stays
//! with the treasury follows from the proposal's stored outcome alone.

use super::error::RuleError;
use super::model::Governance;
use super::state::Stored;
use super::tally::Tally;
use serde::{Deserialize, Serialize};

/// Where a proposal's bond is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BondStatus {
    /// Paid and held by the app, its fate not settled yet (or settled as refundable and not
    /// claimed yet).
    Held,
    /// Paid back to the proposer.
    Refunded,
    /// Released to the treasury: the proposal failed its quorum or was withdrawn while voting.
    Kept,
}

impl BondStatus {
    /// The code the app keeps in a bond box.
    pub fn code(self) -> u64 {
        match self {
            BondStatus::Held => 0,
            BondStatus::Refunded => 1,
            BondStatus::Kept => 2,
        }
    }

    pub fn from_code(code: u64) -> Option<BondStatus> {
        Some(match code {
            0 => BondStatus::Held,
            1 => BondStatus::Refunded,
            2 => BondStatus::Kept,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            BondStatus::Held => "held",
            BondStatus::Refunded => "refunded",
            BondStatus::Kept => "kept",
        }
    }
}

/// What the rules say about a bond, from what the proposal stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BondOutcome {
    /// Still voting: nobody may take the bond yet (finalize first).
    NotFinal,
    /// The proposer gets it back.
    Refund,
    /// The treasury keeps it.
    Keep,
}

/// The bond rule: a bond comes back when the proposal was a real one — it passed (queued,
/// executed or later expired), or was defeated while its quorum was within reach, or was
/// withdrawn before anyone could vote. It stays with the treasury when nobody cared enough to
/// reach the quorum ([`defeat_keeps_bond`], decided once, at finalize, and stored as the bond's
/// status), or when the proposer withdrew it after voting began.
pub fn bond_outcome(
    stored: Stored,
    canceled_before_start: bool,
    status: BondStatus,
) -> BondOutcome {
    match stored {
        Stored::Voting => BondOutcome::NotFinal,
        Stored::Canceled if canceled_before_start => BondOutcome::Refund,
        Stored::Canceled => BondOutcome::Keep,
        Stored::Defeated if status == BondStatus::Kept => BondOutcome::Keep,
        Stored::Defeated | Stored::Queued | Stored::Executed => BondOutcome::Refund,
    }
}

/// Whether finalizing a defeat keeps its bond: the quorum is out of reach of every vote that can
/// still be cast. After the vote's end that is the votes cast; before it (a defeat decided early,
/// which anyone may finalize at once) the weight not yet cast counts too, so that who finalizes
/// first cannot decide whether a proposer loses the bond.
pub fn defeat_keeps_bond(
    tally: &Tally,
    quorum_votes: u64,
    remaining: u64,
    voting_open: bool,
) -> bool {
    let cast = u128::from(tally.for_) + u128::from(tally.against) + u128::from(tally.abstain);
    let reachable = cast
        + if voting_open {
            u128::from(remaining)
        } else {
            0
        };
    reachable < u128::from(quorum_votes)
}

/// A proposal's bond: the amount fixed when it was made and where it is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bond {
    pub amount: u64,
    pub status: BondStatus,
    pub canceled_before_start: bool,
}

impl Governance {
    /// Pays a proposal's bond back to its proposer; returns the amount. Anyone may ask; the
    /// payment always goes to the proposer.
    pub fn refund_bond(&mut self, id: u64) -> Result<u64, RuleError> {
        let p = self.proposal(id)?;
        let Some(bond) = p.bond else {
            return Err(RuleError::NoBond { id });
        };
        match bond.status {
            BondStatus::Refunded => return Err(RuleError::BondRefunded { id }),
            BondStatus::Kept => return Err(RuleError::BondKept { id }),
            BondStatus::Held => {}
        }
        match bond_outcome(p.stored, bond.canceled_before_start, bond.status) {
            BondOutcome::NotFinal => Err(RuleError::BondNotFinal { id }),
            BondOutcome::Keep => Err(RuleError::BondKept { id }),
            BondOutcome::Refund => {
                let amount = bond.amount;
                self.set_bond_status(id, BondStatus::Refunded)?;
                Ok(amount)
            }
        }
    }

    /// Settles the bond of a proposal just finalized as defeated at `now`: kept by the treasury
    /// when [`defeat_keeps_bond`] says so.
    pub(super) fn settle_defeated_bond(&mut self, id: u64, now: u64) -> Result<(), RuleError> {
        let p = self.proposal(id)?;
        let remaining = p.total.saturating_sub(p.voted_weight);
        let keep = defeat_keeps_bond(&p.tally, p.quorum_votes, remaining, now < p.end);
        if keep && p.bond.is_some_and(|b| b.status == BondStatus::Held) {
            self.set_bond_status(id, BondStatus::Kept)?;
        }
        Ok(())
    }

    /// Settles the bond of a proposal just canceled: kept when voting had begun.
    pub(super) fn settle_canceled_bond(&mut self, id: u64) -> Result<(), RuleError> {
        let p = self.proposal(id)?;
        if let Some(b) = p.bond {
            if b.status == BondStatus::Held && !b.canceled_before_start {
                self.set_bond_status(id, BondStatus::Kept)?;
            }
        }
        Ok(())
    }

    fn set_bond_status(&mut self, id: u64, status: BondStatus) -> Result<(), RuleError> {
        if let Some(b) = self.proposal_mut(id)?.bond.as_mut() {
            b.status = status;
        }
        Ok(())
    }

    /// The bonds the app holds for proposals: not spendable by the treasury.
    pub fn bonds_held(&self) -> u64 {
        self.proposals
            .iter()
            .filter_map(|p| p.bond)
            .filter(|b| b.status == BondStatus::Held)
            .map(|b| b.amount)
            .sum()
    }
}

#[cfg(test)]
#[path = "bond_tests.rs"]
mod tests;
