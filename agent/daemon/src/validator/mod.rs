//! The validator role (docs/validators.md): for every open deploy proposal that targets one of
//! its hosts, it fetches and verifies the change as an executor does, evaluates and builds each
//! such host's toplevel (never switching), runs its check, and attests the outcome on chain —
//! `built` with the closure hash, or what failed. With `policy = "vote"` it also votes on what
//! it found. The chain is its only memory: an attestation already on chain is never sent again.

pub mod judge;

use crate::daemon::notify;
use crate::executor::Approved;
use dao_chain::decode::{ProposalHeader, ProposalPayload, Targets, VoteChoice};
use dao_chain::validation::Outcome;
use dao_chain::verify::{RulesKnowledge, VerifyError};
use dao_chain::{App, ChainError, Signer};
use dao_core::address::Address;
use dao_core::config::{Host, VotePolicy};
use dao_core::diff_hash::DiffHash;
use dao_core::rules::{ProposalState, Stored};
use git2::Oid;
use judge::{Judge, Judged};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tracing::{info, warn};

/// How often the validator looks at the chain without an event.
const RECHECK: Duration = Duration::from_secs(60);

pub struct Runner {
    pub app: App,
    pub signer: Signer,
    pub judge: Arc<Judge>,
    /// Proposals with nothing left to do here (attested, closed, or not for our hosts).
    done: BTreeSet<u64>,
    /// The parameters proposals among those read (every proposal is read before it is done),
    /// so the past rules come from these alone and not from a read of the whole history.
    parameters: BTreeSet<u64>,
    /// Some proposal did not decode: it might have been a parameters proposal.
    unclassified: bool,
}

/// What one pass left to do later.
#[derive(Debug, Default)]
pub struct PassReport {
    pub attested: usize,
    /// Proposals to look at again (a remote down, a build that could not be judged yet).
    pub later: Vec<(u64, String)>,
}

/// Whether a proposal is over whatever its votes say, from its header alone: canceled or
/// defeated, or queued and past its grace period (expired). Nothing is decided from this but
/// "no more work here", which the full verification would conclude too; so a proposal that is
/// over costs one read instead of its votes and its voters' histories, every pass after a
/// restart.
fn over(h: &ProposalHeader, now: u64) -> bool {
    match h.stored {
        Stored::Canceled | Stored::Defeated | Stored::Executed => true,
        Stored::Queued => now >= h.eta.saturating_add(h.grace_period),
        Stored::Voting => false,
    }
}

fn open(state: ProposalState) -> bool {
    matches!(
        state,
        ProposalState::Pending
            | ProposalState::Active
            | ProposalState::Succeeded
            | ProposalState::Queued
    )
}

impl Runner {
    pub fn new(app: App, signer: Signer, judge: Judge) -> Runner {
        Runner {
            app,
            signer,
            judge: Arc::new(judge),
            done: BTreeSet::new(),
            parameters: BTreeSet::new(),
            unclassified: false,
        }
    }

    fn hosts(&self) -> &[Host] {
        &self.judge.cfg.hosts
    }

    /// Looks at every proposal not yet done; attests what it can judge now.
    pub async fn pass(&mut self) -> Result<PassReport, ChainError> {
        let mut report = PassReport::default();
        let me = self.signer.address();
        if !self.app.is_validator(&me).await? {
            notify::status(&format!(
                "{me} is not in the app's validator set: nothing is attested until a proposal \
                 adds it"
            ));
            return Ok(report);
        }
        let global = self.app.global().await?;
        let last = self.app.node.last_round().await?;
        let now = self.app.node.block_timestamp(last).await?;
        // Every proposal is classified before any is verified: a deploy's rules are those in
        // force at its creation, which a parameters proposal executed since (a larger id) has
        // replaced in `global.rules`; deciding the rules before reading it would refuse the
        // deploy for good.
        let mut open_deploys = Vec::new();
        for id in 1..=global.proposal_count {
            if self.done.contains(&id) {
                continue;
            }
            let p = match self.app.proposal(id).await {
                Ok(p) => p,
                Err(ChainError::Decode(e)) => {
                    warn!(proposal = id, "not validating proposal {id}: {e}");
                    self.unclassified = true;
                    self.done.insert(id);
                    continue;
                }
                Err(e) => return Err(e),
            };
            if matches!(p.payload, ProposalPayload::Parameters { .. }) {
                self.parameters.insert(id);
            }
            if !matches!(p.payload, ProposalPayload::Deploy { .. }) || over(&p.header, now) {
                self.done.insert(id);
                continue;
            }
            open_deploys.push(id);
        }
        if open_deploys.is_empty() {
            return Ok(report);
        }
        let knowledge = if self.parameters.is_empty() && !self.unclassified {
            // No parameters proposal at all: the rules in force now are every proposal's.
            RulesKnowledge {
                candidates: vec![global.rules],
                complete: true,
            }
        } else {
            self.app
                .rules_knowledge_of(
                    global.rules,
                    self.parameters.iter().copied(),
                    self.unclassified,
                )
                .await?
        };
        let knowledge = &knowledge;
        let mut members: Option<Vec<Address>> = None;
        for id in open_deploys {
            let voters = match &members {
                Some(m) => m,
                None => members.insert(self.app.member_addresses().await?),
            };
            let verified = match self
                .app
                .verify_proposal_among(id, knowledge, now, voters)
                .await
            {
                Ok(v) => v,
                Err(VerifyError::Read { source, .. }) => return Err(source),
                Err(e) => {
                    warn!(proposal = id, "not validating proposal {id}: {e}");
                    self.done.insert(id);
                    continue;
                }
            };
            let ProposalPayload::Deploy {
                base,
                head,
                diff_hash,
                targets,
                ..
            } = &verified.proposal.payload
            else {
                self.done.insert(id);
                continue;
            };
            if !open(verified.state) {
                self.done.insert(id);
                continue;
            }
            let mut todo = Vec::new();
            for h in self.hosts().iter().filter(|h| targets.includes(h.id)) {
                let attested = self.app.attestation(id, h.id, &me).await?.is_some();
                let reported = self.app.reports(id, h.id).await?.0.is_some();
                if !attested && !reported {
                    todo.push(h.clone());
                }
            }
            if !todo.is_empty() {
                let approved = Approved {
                    proposal: id,
                    base: Oid::from_bytes(base).unwrap_or(Oid::ZERO_SHA1),
                    head: Oid::from_bytes(head).unwrap_or(Oid::ZERO_SHA1),
                    diff_hash: DiffHash(*diff_hash),
                };
                info!(proposal = id, commit = %approved.head, hosts = todo.len(), "validating proposal {id}");
                let judge = Arc::clone(&self.judge);
                let judged = tokio::task::spawn_blocking(move || judge.judge(&approved, &todo))
                    .await
                    .unwrap_or_else(|e| Judged::Later(format!("the build task ended: {e}")));
                match judged {
                    Judged::Later(why) => {
                        warn!(proposal = id, "validating proposal {id} later: {why}");
                        report.later.push((id, why));
                        continue;
                    }
                    Judged::Unverified(why) => {
                        warn!(
                            proposal = id,
                            "proposal {id} does not verify; nothing is attested: {why}"
                        );
                        self.vote(id, verified.state, Some(VoteChoice::Against))
                            .await;
                        self.done.insert(id);
                        continue;
                    }
                    Judged::Findings(findings) => {
                        for f in findings {
                            let step = f.outcome.as_str();
                            match self
                                .app
                                .attest(&self.signer, id, f.host, f.outcome, f.closure)
                                .await
                            {
                                Ok(c) => {
                                    report.attested += 1;
                                    info!(proposal = id, host = f.host, outcome = step, txid = %c.txid, "attested {step} for host {}: {}", f.host, f.detail);
                                }
                                Err(ChainError::AppError { code, .. }) => {
                                    // The window closed or the host reported meanwhile: final.
                                    warn!(
                                        proposal = id,
                                        host = f.host,
                                        "the app refused the attestation: {code}"
                                    );
                                }
                                Err(e) => return Err(e),
                            }
                        }
                    }
                }
            }
            let choice = self.choice(id, targets).await?;
            self.vote(id, verified.state, choice).await;
            self.done.insert(id);
        }
        Ok(report)
    }

    /// How to vote on what this validator attested: against when anything failed, for when
    /// every target built, abstain when it could not judge every target.
    async fn choice(&self, id: u64, targets: &Targets) -> Result<Option<VoteChoice>, ChainError> {
        let me = self.signer.address();
        let ids = self.app.target_ids(targets).await?;
        let mut all_built = true;
        for h in ids {
            match self.app.attestation(id, h, &me).await? {
                Some(a) if a.outcome != Outcome::Built => return Ok(Some(VoteChoice::Against)),
                Some(_) => {}
                None => all_built = false,
            }
        }
        Ok(Some(if all_built {
            VoteChoice::For
        } else {
            VoteChoice::Abstain
        }))
    }

    async fn vote(&self, id: u64, state: ProposalState, choice: Option<VoteChoice>) {
        let (VotePolicy::Vote, ProposalState::Active, Some(choice)) =
            (self.judge.cfg.policy, state, choice)
        else {
            return;
        };
        let me = self.signer.address();
        if matches!(self.app.vote_record(id, &me).await, Ok(Some(_))) {
            return;
        }
        match self.app.vote(&self.signer, id, choice).await {
            Ok(c) => {
                info!(proposal = id, choice = ?choice, txid = %c.txid, "voted {choice:?} on proposal {id}")
            }
            Err(e) => warn!(proposal = id, "cannot vote on proposal {id}: {e}"),
        }
    }
}

/// Follows the chain and validates until the task is aborted.
pub async fn run(mut runner: Runner, wake: Arc<Notify>) {
    let mut failures = 0u32;
    loop {
        let delay = match runner.pass().await {
            Ok(r) => {
                failures = 0;
                let line = if r.later.is_empty() {
                    format!(
                        "validating: {} attestation(s) sent in the last pass",
                        r.attested
                    )
                } else {
                    format!("validating: {} proposal(s) to look at again", r.later.len())
                };
                notify::status(&line);
                RECHECK
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                warn!("validating: cannot read the chain: {e}");
                notify::status(&format!("cannot read the chain: {e} (retrying)"));
                dao_chain::follow::Backoff {
                    initial: Duration::from_secs(2),
                    max: Duration::from_secs(300),
                }
                .delay(failures, 0)
            }
        };
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(delay) => {}
        }
    }
}

/// Wakes the validator on the events that open work for it.
pub async fn follow(
    app: App,
    watermark_file: std::path::PathBuf,
    start_after: u64,
    wake: Arc<Notify>,
) {
    let Some(mut follower) =
        crate::daemon::following::follower(app, watermark_file, start_after, false)
    else {
        return;
    };
    crate::metrics::follower("validator", follower.status_handle());
    loop {
        match follower.next().await {
            Ok(ev) => {
                use dao_chain::events::AppEvent as E;
                if matches!(
                    ev.event,
                    E::ProposalCreated { .. }
                        | E::ProposalFinalized { .. }
                        | E::ValidatorChanged { .. }
                ) {
                    wake.notify_one();
                }
            }
            Err(e) => {
                warn!("following the chain: {e}");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    }
}
