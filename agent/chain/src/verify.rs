//! Re-verification of what the chain says about a proposal, with the shared rules engine.
//!
//! The tally is re-computed from the vote boxes, each vote's weight from the voter's history
//! boxes at the proposal's snapshot, the proposal's fixed numbers from the rules in force at its
//! creation, and its state from the engine. Any disagreement is a [`VerifyError::Disagreement`]:
//! the agent must not act on that proposal.

use crate::decode::{
    HistoryEntry, ProposalBox, ProposalHeader, ProposalPayload, VoteChoice, VoteRecord,
};
use crate::errors::ChainError;
use crate::node::{snapshot_of, App};
use dao_core::address::Address;
use dao_core::rules::{
    cap_weight, passes, quorum_votes, Kind, Payload, Proposal, ProposalState, Rules, Stored, Tally,
};
use std::collections::BTreeSet;

/// Why a proposal could not be verified.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("cannot read proposal {id}: {source}")]
    Read {
        id: u64,
        #[source]
        source: ChainError,
    },
    #[error("proposal {id}: the chain says {field} = {chain}, the rules engine computes {recomputed}; not acting on it")]
    Disagreement {
        id: u64,
        field: String,
        chain: String,
        recomputed: String,
    },
}

/// What the client knows about the rules a proposal was created under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesKnowledge {
    /// Every rule set that may have been in force: the current rules and those of executed
    /// parameters proposals.
    pub candidates: Vec<Rules>,
    /// True when `candidates` certainly holds the rules of every proposal (no parameters proposal
    /// was ever executed, so the rules never changed).
    pub complete: bool,
}

/// The proposals [`App::rules_knowledge`] has classified: all up to `classified`, of which these
/// are parameters proposals and these did not decode (read again next time).
#[derive(Debug, Default)]
pub struct KindIndex {
    classified: u64,
    parameters: BTreeSet<u64>,
    undecodable: BTreeSet<u64>,
}

/// One vote as read from the chain, with the voter's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoteEvidence {
    pub voter: Address,
    pub record: VoteRecord,
    pub history: Vec<HistoryEntry>,
}

/// A proposal whose chain data agrees with the rules engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub proposal: ProposalBox,
    pub votes: Vec<(Address, VoteRecord)>,
    /// The engine's model of the proposal (tally re-computed from the votes).
    pub engine: Proposal,
    /// The derived state at `now`.
    pub state: ProposalState,
    pub now: u64,
    /// Whether the proposal's fixed numbers were matched against known rules (see
    /// [`RulesKnowledge::complete`]); they are always checked for internal consistency.
    pub rules_checked: bool,
}

fn period_and_support(r: &Rules, kind: Kind) -> (u64, u64) {
    match kind {
        Kind::Emergency => (r.emergency_period, r.emergency_support_ppm),
        _ => (r.voting_period, r.support_ppm),
    }
}

fn matches_rules(h: &ProposalHeader, r: &Rules) -> bool {
    let (period, support) = period_and_support(r, h.kind);
    h.start == h.created.saturating_add(r.voting_delay)
        && h.end == h.start.saturating_add(period)
        && h.support_ppm == support
        && h.quorum_votes == quorum_votes(h.total, r.quorum_ppm)
        && h.cap_weight == cap_weight(h.total, r.vote_cap_ppm).unwrap_or(h.total)
        && h.timelock == r.timelock
        && h.grace_period == r.grace_period
}

/// Verifies a proposal against its votes (pure; [`App::verify_proposal`] gathers the inputs).
pub fn verify(
    p: &ProposalBox,
    votes: &[VoteEvidence],
    rules: &RulesKnowledge,
    now: u64,
) -> Result<Verified, VerifyError> {
    let id = p.id;
    let h = &p.header;
    let disagree = |field: &str, chain: String, recomputed: String| VerifyError::Disagreement {
        id,
        field: field.to_owned(),
        chain,
        recomputed,
    };
    // Fixed numbers: internally consistent, and matching known rules.
    if h.quorum_votes > h.total {
        return Err(disagree(
            "quorum_votes",
            h.quorum_votes.to_string(),
            format!("at most total ({})", h.total),
        ));
    }
    if h.cap_weight > h.total {
        return Err(disagree(
            "cap_weight",
            h.cap_weight.to_string(),
            format!("at most total ({})", h.total),
        ));
    }
    if h.start < h.created || h.end <= h.start {
        return Err(disagree(
            "voting window",
            format!("created {} start {} end {}", h.created, h.start, h.end),
            "created ≤ start < end".into(),
        ));
    }
    let kind_ok = p.payload.kinds().contains(&h.kind);
    if !kind_ok {
        return Err(disagree(
            "payload",
            "a payload of another kind".into(),
            format!("a {} payload", h.kind.as_str()),
        ));
    }
    let rules_checked = rules.candidates.iter().any(|r| matches_rules(h, r));
    if !rules_checked && rules.complete {
        let r = rules.candidates.first().copied().unwrap_or_default();
        let (period, support) = period_and_support(&r, h.kind);
        return Err(disagree(
            "the numbers fixed at creation (start, end, support_ppm, quorum_votes, cap_weight, timelock, grace_period)",
            format!(
                "{}, {}, {}, {}, {}, {}, {}",
                h.start, h.end, h.support_ppm, h.quorum_votes, h.cap_weight, h.timelock, h.grace_period
            ),
            format!(
                "{}, {}, {}, {}, {}, {}, {}",
                h.created.saturating_add(r.voting_delay),
                h.start.saturating_add(period),
                support,
                quorum_votes(h.total, r.quorum_ppm),
                cap_weight(h.total, r.vote_cap_ppm).unwrap_or(h.total),
                r.timelock,
                r.grace_period
            ),
        ));
    }

    // The tally, from the vote boxes and the voters' histories.
    let mut tally = Tally::default();
    let mut voted: u128 = 0;
    let mut voters = BTreeSet::new();
    for v in votes {
        let (_, snapshot) = snapshot_of(&v.history, h.member_seq);
        let who = v.voter.to_string();
        if v.record.weight != snapshot || snapshot == 0 {
            return Err(disagree(
                &format!("the weight of {who}'s vote"),
                v.record.weight.to_string(),
                format!(
                    "{snapshot} (snapshot weight at member_seq {})",
                    h.member_seq
                ),
            ));
        }
        let effective = v.record.weight.min(h.cap_weight);
        if v.record.effective_weight != effective {
            return Err(disagree(
                &format!("the effective weight of {who}'s vote"),
                v.record.effective_weight.to_string(),
                effective.to_string(),
            ));
        }
        let slot = match v.record.choice {
            VoteChoice::For => &mut tally.for_,
            VoteChoice::Against => &mut tally.against,
            VoteChoice::Abstain => &mut tally.abstain,
        };
        *slot = slot.saturating_add(effective);
        voted += u128::from(v.record.weight);
        if !voters.insert(who.clone()) {
            return Err(disagree("voters", format!("{who} twice"), "once".into()));
        }
    }
    for (field, chain, ours) in [
        ("for", h.for_, tally.for_),
        ("against", h.against, tally.against),
        ("abstain", h.abstain, tally.abstain),
    ] {
        if chain != ours {
            return Err(disagree(field, chain.to_string(), ours.to_string()));
        }
    }
    if u128::from(h.voted_weight) != voted {
        return Err(disagree(
            "voted_weight",
            h.voted_weight.to_string(),
            voted.to_string(),
        ));
    }
    if h.voted_weight > h.total {
        return Err(disagree(
            "voted_weight",
            h.voted_weight.to_string(),
            format!("at most total ({})", h.total),
        ));
    }
    if h.voters != voters.len() as u64 {
        return Err(disagree(
            "voters",
            h.voters.to_string(),
            voters.len().to_string(),
        ));
    }

    // The stored state and eta agree with the outcome.
    let passed = passes(
        h.support_ppm,
        h.quorum_votes,
        u128::from(tally.for_),
        u128::from(tally.against),
        tally.cast(),
    );
    match h.stored {
        Stored::Voting | Stored::Canceled | Stored::Defeated if h.eta != 0 => {
            return Err(disagree(
                "eta",
                h.eta.to_string(),
                "0 (never queued)".into(),
            ))
        }
        Stored::Defeated if passed => {
            return Err(disagree(
                "stored state",
                "defeated".into(),
                "the tally passes".into(),
            ))
        }
        Stored::Queued | Stored::Executed if !passed => {
            return Err(disagree(
                "stored state",
                format!("{:?}", h.stored).to_lowercase(),
                "the tally does not pass".into(),
            ))
        }
        Stored::Queued | Stored::Executed if h.eta < h.created.saturating_add(h.timelock) => {
            return Err(disagree(
                "eta",
                h.eta.to_string(),
                format!(
                    "at least created + timelock ({})",
                    h.created.saturating_add(h.timelock)
                ),
            ))
        }
        Stored::Executed if !h.kind.is_executed_on_chain() => {
            return Err(disagree(
                "stored state",
                "executed".into(),
                format!("a {} proposal is never executed on chain", h.kind.as_str()),
            ))
        }
        _ => {}
    }

    let payload = match &p.payload {
        ProposalPayload::Membership { member, weight, .. } => Payload::Membership {
            member: member.to_string(),
            weight: *weight,
        },
        ProposalPayload::Parameters { rules, .. } => Payload::Parameters(*rules),
        _ => Payload::Other,
    };
    let engine = Proposal {
        id,
        kind: h.kind,
        proposer: h.proposer.to_string(),
        payload,
        created_at: h.created,
        start: h.start,
        end: h.end,
        support_ppm: h.support_ppm,
        quorum_votes: h.quorum_votes,
        cap_weight: Some(h.cap_weight),
        timelock: h.timelock,
        grace_period: h.grace_period,
        total: h.total,
        member_seq: h.member_seq,
        tally,
        voted_weight: h.voted_weight,
        voters,
        stored: h.stored,
        eta: matches!(h.stored, Stored::Queued | Stored::Executed).then_some(h.eta),
        // The bond lives in its own box and plays no part in the tally or state checked here.
        bond: None,
    };
    let state = engine.state_at(now);
    Ok(Verified {
        proposal: p.clone(),
        votes: votes.iter().map(|v| (v.voter, v.record)).collect(),
        engine,
        state,
        now,
        rules_checked,
    })
}

impl App {
    /// What the client can know about past rules: the current rules and those of every executed
    /// parameters proposal. The first call of a process reads every proposal box; later ones
    /// read only the proposals created since, the parameters proposals (their state changes)
    /// and those that did not decode ([`KindIndex`]), so the follower's, the validator's and
    /// the pre-activation re-check's cost does not grow with the DAO's history.
    pub async fn rules_knowledge(&self) -> Result<RulesKnowledge, ChainError> {
        let g = self.global().await?;
        let (from, mut parameters, mut undecodable) = {
            let k = self.kinds.lock().unwrap_or_else(|p| p.into_inner());
            if k.classified > g.proposal_count {
                // Fewer proposals than already classified: another chain behind the same URL.
                (1, BTreeSet::new(), BTreeSet::new())
            } else {
                (
                    k.classified + 1,
                    k.parameters.clone(),
                    k.undecodable.clone(),
                )
            }
        };
        let mut candidates = vec![g.rules];
        let mut complete = true;
        let to_read: Vec<u64> = parameters
            .iter()
            .chain(&undecodable)
            .copied()
            .chain(from..=g.proposal_count)
            .collect();
        for id in to_read {
            // A proposal box that does not decode cannot be a parameters proposal we can use:
            // the knowledge is then incomplete, and no other proposal is held up by it.
            let p = match self.proposal(id).await {
                Ok(p) => p,
                Err(ChainError::Decode(_)) => {
                    complete = false;
                    undecodable.insert(id);
                    continue;
                }
                Err(e) => return Err(e),
            };
            undecodable.remove(&id);
            if let ProposalPayload::Parameters { rules, .. } = &p.payload {
                parameters.insert(id);
                if p.header.stored == Stored::Executed {
                    complete = false;
                    if !candidates.contains(rules) {
                        candidates.push(*rules);
                    }
                }
            }
        }
        *self.kinds.lock().unwrap_or_else(|p| p.into_inner()) = KindIndex {
            classified: g.proposal_count,
            parameters,
            undecodable,
        };
        Ok(RulesKnowledge {
            candidates,
            complete,
        })
    }

    /// [`App::rules_knowledge`] from the parameters proposals the caller already knows of (it
    /// classified every proposal before, e.g. the survey's persisted cache): reads only those,
    /// so the cost follows the rule changes, not the DAO's history. `unclassified`: some
    /// proposal could not be read, and might be a parameters proposal: the knowledge is then
    /// incomplete.
    pub async fn rules_knowledge_of(
        &self,
        current: Rules,
        parameters: impl IntoIterator<Item = u64>,
        unclassified: bool,
    ) -> Result<RulesKnowledge, ChainError> {
        let mut candidates = vec![current];
        let mut complete = !unclassified;
        for id in parameters {
            let p = match self.proposal(id).await {
                Ok(p) => p,
                Err(ChainError::Decode(_)) => {
                    complete = false;
                    continue;
                }
                Err(e) => return Err(e),
            };
            if let (ProposalPayload::Parameters { rules, .. }, Stored::Executed) =
                (&p.payload, p.header.stored)
            {
                complete = false;
                if !candidates.contains(rules) {
                    candidates.push(*rules);
                }
            }
        }
        Ok(RulesKnowledge {
            candidates,
            complete,
        })
    }

    /// Reads a proposal, its votes and its voters' histories, and verifies them at `now`.
    pub async fn verify_proposal(
        &self,
        id: u64,
        rules: &RulesKnowledge,
        now: u64,
    ) -> Result<Verified, VerifyError> {
        let members = self
            .member_addresses()
            .await
            .map_err(|source| VerifyError::Read { id, source })?;
        self.verify_proposal_among(id, rules, now, &members).await
    }

    /// [`App::verify_proposal`] with the app's members already listed
    /// ([`App::member_addresses`], e.g. once for a whole survey): each member's vote box is read
    /// by its key (`v` ++ id ++ address) instead of listing every box of the app, so the cost
    /// follows the members, not the DAO's history. A vote by an account missing from `members`
    /// (listed before it joined) is not read, and the recomputed tally then disagrees with the
    /// proposal's `voters`: never a wrong verdict, only a refusal until the next listing.
    pub async fn verify_proposal_among(
        &self,
        id: u64,
        rules: &RulesKnowledge,
        now: u64,
        members: &[Address],
    ) -> Result<Verified, VerifyError> {
        let read = |source| VerifyError::Read { id, source };
        let p = self.proposal(id).await.map_err(read)?;
        let mut votes = Vec::new();
        for voter in members {
            let Some(record) = self.vote_record(id, voter).await.map_err(read)? else {
                continue;
            };
            let history = self.member_history(voter).await.map_err(read)?;
            votes.push(VoteEvidence {
                voter: *voter,
                record,
                history,
            });
        }
        verify(&p, &votes, rules, now)
    }
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
