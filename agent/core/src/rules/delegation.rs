//! Delegation of voting power (docs/governance-rules.md, "Delegation"): a member hands all of
//! its own weight to another member and can take it back. What counts for a proposal is the
//! voting power at its `member_seq` snapshot, so a delegation changes nothing for proposals
//! created before it, and a delegator's weight is never counted twice.

use super::error::RuleError;
use super::model::Governance;

impl Governance {
    /// `by` delegates all of its own weight to `to`, or moves it from its current delegate to
    /// `to` (one change of the member sequence). Checked in the app's order.
    pub fn delegate(&mut self, by: &str, to: &str, _now: u64) -> Result<(), RuleError> {
        let w = self.weight(by);
        if w == 0 {
            return Err(RuleError::NotMemberNow { who: by.to_owned() });
        }
        if by == to {
            return Err(RuleError::SelfDelegation { who: by.to_owned() });
        }
        if self.weight(to) == 0 {
            return Err(RuleError::DelegateNotMember { to: to.to_owned() });
        }
        let previous = self.delegates.get(by).cloned();
        if previous.as_deref() == Some(to) {
            return Err(RuleError::AlreadyDelegated {
                who: by.to_owned(),
                to: to.to_owned(),
            });
        }
        let holder = previous.unwrap_or_else(|| by.to_owned());
        self.member_seq += 1;
        self.move_power(&holder, to, w);
        self.delegates.insert(by.to_owned(), to.to_owned());
        Ok(())
    }

    /// `by` takes its own weight back from its delegate. Allowed for a removed member (own
    /// weight 0), which only clears the delegation.
    pub fn undelegate(&mut self, by: &str, _now: u64) -> Result<(), RuleError> {
        let Some(delegate) = self.delegates.get(by).cloned() else {
            return Err(RuleError::NotDelegating { who: by.to_owned() });
        };
        let w = self.weight(by);
        self.member_seq += 1;
        self.move_power(&delegate, by, w);
        self.delegates.remove(by);
        Ok(())
    }

    /// `who`'s voting power now.
    pub fn power(&self, who: &str) -> u64 {
        self.powers
            .get(who)
            .and_then(|h| h.last())
            .map_or(0, |(_, p)| *p)
    }

    /// `who`'s voting power as of the member change sequence number `seq` (what a vote on a
    /// proposal with that snapshot casts before the cap).
    pub fn power_at(&self, who: &str, seq: u64) -> u64 {
        self.powers
            .get(who)
            .and_then(|h| h.iter().rev().find(|(s, _)| *s <= seq))
            .map_or(0, |(_, p)| *p)
    }

    /// Whom `who` delegates to now, if anyone.
    pub fn delegate_of(&self, who: &str) -> Option<&str> {
        self.delegates.get(who).map(String::as_str)
    }

    /// Moves `w` of power from `from` to `to`, one history entry each at the current sequence
    /// number (the app writes both, in this order).
    fn move_power(&mut self, from: &str, to: &str, w: u64) {
        // `from` holds `w` (its own weight or a delegator's), and every power is at most the
        // total: neither side can leave 0..=total.
        let from_power = self.power(from).saturating_sub(w);
        let to_power = self.power(to) + w;
        self.push_power(from, from_power);
        self.push_power(to, to_power);
    }

    /// Records `who`'s power from the current sequence number on.
    pub(super) fn push_power(&mut self, who: &str, power: u64) {
        let seq = self.member_seq;
        self.powers
            .entry(who.to_owned())
            .or_default()
            .push((seq, power));
    }
}

#[cfg(test)]
#[path = "delegation_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "delegation_props.rs"]
mod props;
