//! A pure model of one DAO: members with weight histories, proposals, and the actions on them,
//! each checked in the order the app checks them.

use super::bond::{Bond, BondStatus};
use super::error::RuleError;
use super::liveness::check_live;
use super::params::{
    Rules, HEARTBEAT_MAX, HEARTBEAT_MIN, MAX_BOND, MAX_TOTAL_WEIGHT, TIMELOCK_FLOOR,
};
use super::state::{ProposalState, Stored};
use super::tally::{cap_weight, decide, quorum_votes, Outcome, Tally};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// What a proposal is for. Codes are the ones the app stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Deploy,
    Emergency,
    Membership,
    Hosts,
    Parameters,
    Treasury,
    /// Adds or removes a reproducible-build validator (docs/validators.md).
    Validator,
    /// Sets the attestation quorum and the reward per matching attestation.
    AttestationPolicy,
    /// Raises up to eight members' weights to a contributor table's (docs/contributors.md).
    Rebalance,
    /// Sets the contributor point weights the tables are computed with.
    PointWeights,
}

impl Kind {
    pub fn code(self) -> u8 {
        match self {
            Kind::Deploy => 0,
            Kind::Emergency => 1,
            Kind::Membership => 2,
            Kind::Hosts => 3,
            Kind::Parameters => 4,
            Kind::Treasury => 5,
            Kind::Validator => 6,
            Kind::AttestationPolicy => 7,
            Kind::Rebalance => 8,
            Kind::PointWeights => 9,
        }
    }

    pub fn from_code(code: u8) -> Option<Kind> {
        Some(match code {
            0 => Kind::Deploy,
            1 => Kind::Emergency,
            2 => Kind::Membership,
            3 => Kind::Hosts,
            4 => Kind::Parameters,
            5 => Kind::Treasury,
            6 => Kind::Validator,
            7 => Kind::AttestationPolicy,
            8 => Kind::Rebalance,
            9 => Kind::PointWeights,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Deploy => "deploy",
            Kind::Emergency => "emergency",
            Kind::Membership => "membership",
            Kind::Hosts => "hosts",
            Kind::Parameters => "parameters",
            Kind::Treasury => "treasury",
            Kind::Validator => "validator",
            Kind::AttestationPolicy => "attestation_policy",
            Kind::Rebalance => "rebalance",
            Kind::PointWeights => "point_weights",
        }
    }

    /// Deploy and emergency proposals are carried out by hosts; the rest by `execute`.
    pub fn is_executed_on_chain(self) -> bool {
        !matches!(self, Kind::Deploy | Kind::Emergency)
    }
}

/// A vote's choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Choice {
    For,
    Against,
    Abstain,
}

/// What an executed proposal changes, as far as the rules are concerned. Deploy, hosts,
/// treasury, validator, attestation policy and point weights payloads do not touch the rules
/// and are `Other`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    Other,
    Membership {
        member: String,
        weight: u64,
    },
    Parameters(Rules),
    /// New weights, applied in the listed order. The app also wants the list sorted by address
    /// bytes, an encoding matter the model (which knows members by name) leaves to the client.
    Rebalance {
        weights: Vec<(String, u64)>,
    },
}

/// Most members one rebalance proposal may list (the app's MAX_REBALANCE).
pub const MAX_REBALANCE: usize = 8;

/// One proposal and everything the rules fixed when it was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    pub id: u64,
    pub kind: Kind,
    pub proposer: String,
    pub payload: Payload,
    pub created_at: u64,
    pub start: u64,
    pub end: u64,
    pub support_ppm: u64,
    pub quorum_votes: u64,
    pub cap_weight: Option<u64>,
    pub timelock: u64,
    pub grace_period: u64,
    pub total: u64,
    pub member_seq: u64,
    pub tally: Tally,
    pub voted_weight: u64,
    pub voters: BTreeSet<String>,
    pub stored: Stored,
    pub eta: Option<u64>,
    /// The bond paid with it (the rules' `proposal_bond` at creation), if any.
    pub bond: Option<Bond>,
}

impl Proposal {
    /// The outcome if it is decided at `now`.
    pub fn outcome_at(&self, now: u64) -> Option<Outcome> {
        let remaining = self.total.saturating_sub(self.voted_weight);
        decide(
            self.support_ppm,
            self.quorum_votes,
            &self.tally,
            remaining,
            now >= self.end,
        )
    }

    /// The state a user sees at `now` (docs/governance-rules.md, "States").
    pub fn state_at(&self, now: u64) -> ProposalState {
        match self.stored {
            Stored::Voting if now < self.start => ProposalState::Pending,
            Stored::Voting if now < self.end => ProposalState::Active,
            Stored::Voting => match self.outcome_at(now) {
                Some(Outcome::Succeeded) => ProposalState::Succeeded,
                _ => ProposalState::Defeated,
            },
            Stored::Canceled => ProposalState::Canceled,
            Stored::Defeated => ProposalState::Defeated,
            Stored::Queued => match self.eta {
                Some(eta) if now < eta.saturating_add(self.grace_period) => ProposalState::Queued,
                _ => ProposalState::Expired,
            },
            Stored::Executed => ProposalState::Executed,
        }
    }
}

/// A DAO's members, rules and proposals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Governance {
    pub rules: Rules,
    /// Counts every weight change and every delegation change.
    pub member_seq: u64,
    pub total_weight: u64,
    /// Each member's own weight history: `(member_seq of the change, weight from then on)`.
    pub members: BTreeMap<String, Vec<(u64, u64)>>,
    /// Each address's voting power history (the app's `w` boxes): `(member_seq of the change,
    /// power from then on)`. Power is the own weight of a member who delegates to no one plus
    /// the own weights of those who delegate to it (docs/governance-rules.md, "Delegation").
    pub powers: BTreeMap<String, Vec<(u64, u64)>>,
    /// Who delegates to whom now (the app's `e` boxes).
    pub delegates: BTreeMap<String, String>,
    pub proposals: Vec<Proposal>,
}

impl Governance {
    pub fn new(rules: Rules) -> Result<Governance, RuleError> {
        check_rules(&rules)?;
        Ok(Governance {
            rules,
            member_seq: 0,
            total_weight: 0,
            members: BTreeMap::new(),
            powers: BTreeMap::new(),
            delegates: BTreeMap::new(),
            proposals: Vec::new(),
        })
    }

    /// A member's own weight now (what `min_proposer_weight` and liveness look at).
    pub fn weight(&self, member: &str) -> u64 {
        self.members
            .get(member)
            .and_then(|h| h.last())
            .map_or(0, |(_, w)| *w)
    }

    /// How many members have a weight above 0 now (the app's global `members`).
    pub fn member_count(&self) -> u64 {
        self.members
            .values()
            .filter(|h| h.last().is_some_and(|(_, w)| *w > 0))
            .count() as u64
    }

    /// Whether some vote of today's members can pass a proposal of every kind under `rules`
    /// (docs/governance-rules.md, "Liveness").
    pub fn check_live(&self, rules: &Rules) -> Result<(), RuleError> {
        check_live(rules, self.total_weight, self.member_count())
    }

    /// The creator's seal, as far as the rules go: there are members, no proposal yet, and the
    /// DAO is live. The model has no creator and does not stop `set_member` afterwards; it is
    /// here so that the vectors can hold the app's seal to the same liveness check.
    pub fn seal(&self) -> Result<(), RuleError> {
        if self.total_weight == 0 {
            return Err(RuleError::NoMembers);
        }
        if !self.proposals.is_empty() {
            return Err(RuleError::ProposalsExist);
        }
        self.check_live(&self.rules)
    }

    /// Sets a member's weight (0 removes it); one change of the member sequence. The change
    /// of power goes to the member's delegate if it has one, else to the member (the app's
    /// `apply_member_change`).
    pub fn set_member(&mut self, member: &str, weight: u64) -> Result<(), RuleError> {
        let total =
            u128::from(self.total_weight) - u128::from(self.weight(member)) + u128::from(weight);
        let total = u64::try_from(total)
            .ok()
            .filter(|t| *t <= MAX_TOTAL_WEIGHT)
            .ok_or(RuleError::TotalWeightTooLarge {
                total,
                max: MAX_TOTAL_WEIGHT,
            })?;
        let old = self.weight(member);
        let holder = self
            .delegates
            .get(member)
            .cloned()
            .unwrap_or_else(|| member.to_owned());
        // The holder's power includes `old`, and the new power is at most the total.
        let power = self.power(&holder).saturating_sub(old) + weight;
        self.member_seq += 1;
        self.total_weight = total;
        self.members
            .entry(member.to_owned())
            .or_default()
            .push((self.member_seq, weight));
        self.push_power(&holder, power);
        Ok(())
    }

    pub fn proposal(&self, id: u64) -> Result<&Proposal, RuleError> {
        id.checked_sub(1)
            .and_then(|i| self.proposals.get(usize::try_from(i).ok()?))
            .ok_or(RuleError::UnknownProposal(id))
    }

    pub(super) fn proposal_mut(&mut self, id: u64) -> Result<&mut Proposal, RuleError> {
        id.checked_sub(1)
            .and_then(|i| self.proposals.get_mut(usize::try_from(i).ok()?))
            .ok_or(RuleError::UnknownProposal(id))
    }

    /// Creates a proposal at `now` and returns its id.
    pub fn propose(
        &mut self,
        by: &str,
        kind: Kind,
        payload: Payload,
        now: u64,
    ) -> Result<u64, RuleError> {
        // The app decodes a rebalance list before it looks at the proposer.
        if let Payload::Rebalance { weights } = &payload {
            check_rebalance_list(weights)?;
        }
        let required = self.rules.min_proposer_weight.max(1);
        let weight = self.weight(by);
        if weight < required {
            return Err(RuleError::InsufficientWeight { weight, required });
        }
        match (&payload, kind) {
            (Payload::Membership { .. }, Kind::Membership) => {}
            (Payload::Parameters(rules), Kind::Parameters) => check_rules(rules)?,
            (Payload::Rebalance { weights }, Kind::Rebalance) => {
                self.clone().apply_rebalance(weights)?;
            }
            (Payload::Other, k)
                if !matches!(k, Kind::Membership | Kind::Parameters | Kind::Rebalance) => {}
            _ => {
                return Err(RuleError::PayloadMismatch {
                    kind: kind.as_str(),
                })
            }
        }
        let r = self.rules;
        let (period, support_ppm) = match kind {
            Kind::Emergency => (r.emergency_period, r.emergency_support_ppm),
            _ => (r.voting_period, r.support_ppm),
        };
        let start = now.saturating_add(r.voting_delay);
        let id = self.proposals.len() as u64 + 1;
        self.proposals.push(Proposal {
            id,
            kind,
            proposer: by.to_owned(),
            payload,
            created_at: now,
            start,
            end: start.saturating_add(period),
            support_ppm,
            quorum_votes: quorum_votes(self.total_weight, r.quorum_ppm),
            cap_weight: cap_weight(self.total_weight, r.vote_cap_ppm),
            timelock: r.timelock,
            grace_period: r.grace_period,
            total: self.total_weight,
            member_seq: self.member_seq,
            tally: Tally::default(),
            voted_weight: 0,
            voters: BTreeSet::new(),
            stored: Stored::Voting,
            eta: None,
            bond: (r.proposal_bond > 0).then_some(Bond {
                amount: r.proposal_bond,
                status: BondStatus::Held,
                canceled_before_start: false,
            }),
        });
        Ok(id)
    }

    /// Casts `by`'s vote with its voting power at the snapshot, clipped to the proposal's cap.
    pub fn vote(&mut self, by: &str, id: u64, choice: Choice, now: u64) -> Result<(), RuleError> {
        let p = self.proposal(id)?;
        if p.stored != Stored::Voting {
            return Err(RuleError::VotingClosed { id });
        }
        if now < p.start {
            return Err(RuleError::VotingNotStarted {
                id,
                start: p.start,
                now,
            });
        }
        if now >= p.end {
            return Err(RuleError::VotingClosed { id });
        }
        if p.voters.contains(by) {
            return Err(RuleError::AlreadyVoted {
                id,
                voter: by.to_owned(),
            });
        }
        let weight = self.power_at(by, p.member_seq);
        if weight == 0 {
            return Err(match self.delegates.get(by) {
                Some(delegate) => RuleError::WeightDelegated {
                    id,
                    voter: by.to_owned(),
                    delegate: delegate.clone(),
                },
                None => RuleError::NotMember {
                    id,
                    voter: by.to_owned(),
                },
            });
        }
        let p = self.proposal_mut(id)?;
        let effective = p.cap_weight.map_or(weight, |c| weight.min(c));
        let slot = match choice {
            Choice::For => &mut p.tally.for_,
            Choice::Against => &mut p.tally.against,
            Choice::Abstain => &mut p.tally.abstain,
        };
        // Snapshot weights sum to at most the proposal's total ≤ MAX_TOTAL_WEIGHT: no overflow.
        *slot += effective;
        p.voted_weight += weight;
        p.voters.insert(by.to_owned());
        Ok(())
    }

    /// Ends the vote if its outcome is decided; returns the proposal's state afterwards.
    pub fn finalize(&mut self, id: u64, now: u64) -> Result<ProposalState, RuleError> {
        let p = self.proposal_mut(id)?;
        if p.stored != Stored::Voting {
            return Err(RuleError::NotOpen { id });
        }
        match p.outcome_at(now) {
            None => Err(RuleError::OutcomeUndecided { id, end: p.end }),
            Some(Outcome::Defeated) => {
                p.stored = Stored::Defeated;
                self.settle_defeated_bond(id, now)?;
                Ok(ProposalState::Defeated)
            }
            Some(Outcome::Succeeded) => {
                p.stored = Stored::Queued;
                p.eta = Some(now.saturating_add(p.timelock));
                Ok(p.state_at(now))
            }
        }
    }

    pub fn cancel(&mut self, by: &str, id: u64, now: u64) -> Result<(), RuleError> {
        let p = self.proposal_mut(id)?;
        if p.stored != Stored::Voting {
            return Err(RuleError::NotOpen { id });
        }
        if p.proposer != by {
            return Err(RuleError::NotProposer { id });
        }
        if now >= p.end {
            return Err(RuleError::VotingClosed { id });
        }
        p.stored = Stored::Canceled;
        let early = now < p.start;
        if let Some(b) = p.bond.as_mut() {
            b.canceled_before_start = early;
        }
        self.settle_canceled_bond(id)
    }

    /// Carries out a queued membership, hosts, parameters or treasury proposal.
    pub fn execute(&mut self, id: u64, now: u64) -> Result<(), RuleError> {
        let p = self.proposal(id)?;
        if !p.kind.is_executed_on_chain() {
            return Err(RuleError::NotExecutableKind {
                id,
                kind: p.kind.as_str(),
            });
        }
        let eta = match (p.stored, p.eta) {
            (Stored::Queued, Some(eta)) => eta,
            _ => return Err(RuleError::NotQueued { id }),
        };
        if now < eta {
            return Err(RuleError::TimelockActive { id, eta });
        }
        let expired_at = eta.saturating_add(p.grace_period);
        if now >= expired_at {
            return Err(RuleError::Expired { id, expired_at });
        }
        // Every change is made on a copy and must leave the DAO live before it is kept.
        match p.payload.clone() {
            Payload::Membership { member, weight } => {
                let mut next = self.clone();
                next.set_member(&member, weight)?;
                next.check_live(&next.rules)?;
                *self = next;
            }
            Payload::Parameters(rules) => {
                check_rules(&rules)?;
                self.check_live(&rules)?;
                self.rules = rules;
            }
            // All or nothing: a later entry's refusal must not leave earlier ones applied.
            Payload::Rebalance { weights } => {
                let mut next = self.clone();
                next.apply_rebalance(&weights)?;
                next.check_live(&next.rules)?;
                *self = next;
            }
            Payload::Other => {}
        }
        self.proposal_mut(id)?.stored = Stored::Executed;
        Ok(())
    }
}

impl Governance {
    /// Each entry in order: the new weight is in range and not below the member's weight now,
    /// and the total stays in range — the checks `propose_rebalance` makes (on a copy) and
    /// `execute` makes again while applying.
    fn apply_rebalance(&mut self, weights: &[(String, u64)]) -> Result<(), RuleError> {
        for (member, listed) in weights {
            if *listed > MAX_TOTAL_WEIGHT {
                return Err(RuleError::TotalWeightTooLarge {
                    total: u128::from(*listed),
                    max: MAX_TOTAL_WEIGHT,
                });
            }
            let weight = self.weight(member);
            if *listed < weight {
                return Err(RuleError::RebalanceLowersWeight {
                    member: member.clone(),
                    weight,
                    listed: *listed,
                });
            }
            self.set_member(member, *listed)?;
        }
        Ok(())
    }
}

/// The list checks the app makes while decoding: 1..=MAX_REBALANCE entries, no member twice,
/// no weight 0 (a rebalance never removes anyone).
fn check_rebalance_list(weights: &[(String, u64)]) -> Result<(), RuleError> {
    if weights.is_empty() || weights.len() > MAX_REBALANCE {
        return Err(RuleError::BadMembers(format!(
            "{} entries, a rebalance lists 1 to {MAX_REBALANCE}",
            weights.len()
        )));
    }
    let mut seen = BTreeSet::new();
    for (member, w) in weights {
        if !seen.insert(member) {
            return Err(RuleError::BadMembers(format!("{member} is listed twice")));
        }
        if *w == 0 {
            return Err(RuleError::BadMembers(format!(
                "{member} is listed with weight 0"
            )));
        }
    }
    Ok(())
}

fn check_rules(rules: &Rules) -> Result<(), RuleError> {
    let problems = rules.problems();
    if problems.is_empty() {
        return Ok(());
    }
    // The app checks the rules in field order and stops at the first that fails; the timelock
    // floor and the last two fields have codes of their own there.
    match problems[0].field {
        "timelock" if rules.timelock < TIMELOCK_FLOOR => {
            return Err(RuleError::TimelockBelowFloor {
                timelock: rules.timelock,
                floor: TIMELOCK_FLOOR,
            })
        }
        "proposal_bond" => {
            return Err(RuleError::BondTooLarge {
                bond: rules.proposal_bond,
                max: MAX_BOND,
            })
        }
        "heartbeat_interval" => {
            return Err(RuleError::HeartbeatIntervalOutOfRange {
                interval: rules.heartbeat_interval,
                min: HEARTBEAT_MIN,
                max: HEARTBEAT_MAX,
            })
        }
        _ => {}
    }
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    Err(RuleError::InvalidRules(text.join("; ")))
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
