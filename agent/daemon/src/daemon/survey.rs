//! What the chain says about this host: which approved deploy proposals target it, which it
//! already reported, and which are ready to apply now.
//!
//! The survey trusts nothing it did not derive: every unreported proposal is re-verified with
//! the rules engine (tally, thresholds, state) before it counts as approved, and the host's
//! standing (the last proposal it applied, the commit it runs) comes from the app's reports, so
//! a host whose journal was lost still never goes back (no downgrade).
//!
//! Its cost is flat in the DAO's history ([`Cache`]: a persisted floor below which every
//! proposal is final for this host; members' vote boxes read by key, not by listing every box;
//! past rules from the parameters proposals already seen).

use crate::executor::verify::Lineage;
use crate::executor::Approved;
use dao_chain::decode::{ProposalPayload, ReportStatus};
use dao_chain::verify::RulesKnowledge;
use dao_chain::{App, ChainError};
use dao_core::address::Address;
use dao_core::diff_hash::DiffHash;
use dao_core::rules::ProposalState;
use git2::Oid;

mod cache;
pub use cache::Cache;

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

/// Reads every proposal from `cache`'s floor on that it does not hold, and this host's reports.
/// Fails only when algod does (try again later); a malformed or unverifiable proposal is listed
/// in `unverified` and otherwise ignored (and holds the floor).
pub async fn survey(app: &App, host: u64, cache: &mut Cache) -> Result<Survey, ChainError> {
    let last = app.node.last_round().await?;
    let now = app.node.block_timestamp(last).await?;
    let global = app.global().await?;
    cache.bind(
        cache::Binding {
            app_id: app.app_id,
            host,
            repo: global.repo.clone(),
            genesis: hex::encode(global.genesis),
        },
        global.proposal_count,
    );
    let mut rules: Option<RulesKnowledge> = None;
    // Listed once per survey, and only when some proposal needs verifying.
    let mut members: Option<Vec<Address>> = None;
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
    let floor = cache.floor();
    for (id, (status, approved)) in cache.reported.range(..floor) {
        note_report(&mut s, *id, *status, approved);
    }
    // Whether some earlier proposal could not be read (and might be a parameters proposal).
    let mut unclassified = false;
    for id in floor..=global.proposal_count {
        if cache.elsewhere.contains(&id) || cache.settled.contains(&id) {
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
            cache.mark();
            continue;
        };
        if !targets.includes(host) {
            cache.elsewhere.insert(id);
            cache.mark();
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
            cache.mark();
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
            None => rules.insert(
                app.rules_knowledge_of(
                    global.rules,
                    cache.parameters.iter().copied(),
                    unclassified,
                )
                .await?,
            ),
        };
        let voters = match &members {
            Some(m) => m,
            None => members.insert(app.member_addresses().await?),
        };
        let verified = match app.verify_proposal_among(id, knowledge, now, voters).await {
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
            // Neither can ever be queued: final for this host.
            ProposalState::Defeated | ProposalState::Canceled => {
                cache.settled.insert(id);
                cache.mark();
            }
            _ => {}
        }
    }
    cache.advance(global.proposal_count);
    cache.save();
    Ok(s)
}
