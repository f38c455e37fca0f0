//! What the chain says about this host: which approved deploy proposals target it, which it
//! already reported, and which are ready to apply now.
//!
//! The survey trusts nothing it did not derive: every unreported proposal is re-verified with
//! the rules engine (tally, thresholds, state) before it counts as approved, and the host's
//! standing (the last proposal it applied, the commit it runs) comes from the app's reports, so
//! a host whose journal was lost still never goes back (no downgrade).

use crate::executor::verify::Lineage;
use crate::executor::Approved;
use dao_chain::decode::{ProposalPayload, ReportStatus};
use dao_chain::verify::RulesKnowledge;
use dao_chain::{App, ChainError};
use dao_core::diff_hash::DiffHash;
use dao_core::rules::ProposalState;
use git2::Oid;
use std::collections::{BTreeMap, BTreeSet};

/// One proposal the host has to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Queued and past its eta: apply it.
    Apply(Approved),
    /// Expired before this host applied it: report it refused (never apply it).
    Expired(Approved),
}

impl Action {
    pub fn approved(&self) -> &Approved {
        match self {
            Action::Apply(a) | Action::Expired(a) => a,
        }
    }
}

#[derive(Debug, Default)]
pub struct Survey {
    /// In proposal order.
    pub actions: Vec<Action>,
    /// The earliest eta among queued proposals still in their timelock.
    pub next_eta: Option<u64>,
    /// Queued proposals for this host still in their timelock, unreported.
    pub in_timelock: Vec<Approved>,
    /// The last proposal the chain's reports show applied on this host, and its head.
    pub last_applied: Option<(u64, Oid)>,
    /// Approved (queued) deploy proposals targeting this host, reported or not, except those
    /// this host refused.
    pub approved: Vec<Approved>,
    /// Proposals targeting this host that could not be read or verified: never acted on.
    pub unverified: Vec<(u64, String)>,
    /// The chain's time (latest block timestamp) the survey was made at.
    pub now: u64,
}

impl Survey {
    pub fn lineage(&self, genesis: Oid) -> Lineage {
        Lineage {
            running: self.last_applied.map_or(genesis, |(_, head)| head),
            last_applied: self.last_applied.map(|(id, _)| id),
            approved: self.approved.clone(),
        }
    }
}

/// What a survey learned that can never change, so the next survey need not read it again: a
/// proposal's payload is fixed at creation and a host's report is final (its amendment is
/// written by this agent, and does not change the report).
#[derive(Debug, Default)]
pub struct Cache {
    /// Proposals that are not deploys targeting this host.
    elsewhere: BTreeSet<u64>,
    /// Parameters proposals seen: while there are none, the rules never changed.
    parameters: BTreeSet<u64>,
    /// Reported deploy proposals targeting this host: the report's status and the change.
    reported: BTreeMap<u64, (ReportStatus, Approved)>,
}

fn approved_of(
    id: u64,
    base: &[u8; 20],
    head: &[u8; 20],
    diff_hash: &[u8; 32],
) -> Option<Approved> {
    Some(Approved {
        proposal: id,
        base: Oid::from_bytes(base).ok()?,
        head: Oid::from_bytes(head).ok()?,
        diff_hash: DiffHash(*diff_hash),
    })
}

/// Reads every proposal not in `cache` and this host's reports. Fails only when algod does (try
/// again later); a malformed or unverifiable proposal is listed in `unverified` and otherwise
/// ignored.
pub async fn survey(app: &App, host: u64, cache: &mut Cache) -> Result<Survey, ChainError> {
    let last = app.node.last_round().await?;
    let now = app.node.block_timestamp(last).await?;
    let global = app.global().await?;
    let mut rules: Option<RulesKnowledge> = None;
    let mut s = Survey {
        now,
        ..Survey::default()
    };
    let note_report = |s: &mut Survey, id: u64, status: ReportStatus, approved: &Approved| {
        if status == ReportStatus::Applied && s.last_applied.is_none_or(|(last, _)| id > last) {
            s.last_applied = Some((id, approved.head));
        }
        // What this host refused never verified: no lineage goes through it.
        if status != ReportStatus::Refused {
            s.approved.push(approved.clone());
        }
    };
    // Whether some earlier proposal could not be read (and might be a parameters proposal).
    let mut unclassified = false;
    for id in 1..=global.proposal_count {
        if cache.elsewhere.contains(&id) {
            continue;
        }
        if let Some((status, approved)) = cache.reported.get(&id) {
            note_report(&mut s, id, *status, approved);
            continue;
        }
        let p = match app.proposal(id).await {
            Ok(p) => p,
            Err(ChainError::Decode(e)) => {
                s.unverified.push((id, e.to_string()));
                unclassified = true;
                continue;
            }
            Err(e) => return Err(e),
        };
        if matches!(p.payload, ProposalPayload::Parameters { .. }) {
            cache.parameters.insert(id);
        }
        let ProposalPayload::Deploy {
            base,
            head,
            diff_hash,
            targets,
            ..
        } = &p.payload
        else {
            cache.elsewhere.insert(id);
            continue;
        };
        if !targets.includes(host) {
            cache.elsewhere.insert(id);
            continue;
        }
        let Some(approved) = approved_of(id, base, head, diff_hash) else {
            s.unverified
                .push((id, "its commit ids are not valid object ids".into()));
            continue;
        };
        let (report, _amendment) = app.reports(id, host).await?;
        if let Some(r) = report {
            note_report(&mut s, id, r.status, &approved);
            cache.reported.insert(id, (r.status, approved));
            continue;
        }
        let knowledge = match &rules {
            Some(k) => k,
            // A proposal is created under the rules in force then, which only a parameters
            // proposal with a smaller id can have changed. With none of those, the current
            // rules are its rules, and nothing more needs reading.
            None if cache.parameters.is_empty() && !unclassified => rules.insert(RulesKnowledge {
                candidates: vec![global.rules],
                complete: true,
            }),
            None => rules.insert(app.rules_knowledge().await?),
        };
        let verified = match app.verify_proposal(id, knowledge, now).await {
            Ok(v) => v,
            Err(dao_chain::verify::VerifyError::Read { source, .. })
                if !matches!(source, ChainError::Decode(_) | ChainError::NotFound { .. }) =>
            {
                return Err(source)
            }
            Err(e) => {
                s.unverified.push((id, e.to_string()));
                continue;
            }
        };
        match verified.state {
            ProposalState::Queued => {
                let eta = verified.engine.eta.unwrap_or(u64::MAX);
                if eta <= now {
                    s.actions.push(Action::Apply(approved.clone()));
                } else {
                    s.next_eta = Some(s.next_eta.map_or(eta, |e| e.min(eta)));
                    s.in_timelock.push(approved.clone());
                }
                s.approved.push(approved);
            }
            ProposalState::Expired => s.actions.push(Action::Expired(approved)),
            _ => {}
        }
    }
    Ok(s)
}
