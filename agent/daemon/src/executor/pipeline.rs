//! The executor pipeline for one (proposal, host): a plan of journaled steps.
//!
//! Every step is written to the journal as started before it runs and as done or failed after,
//! so a crash at any point leaves a record that says exactly how far it got. Outcomes that a
//! retry cannot change (a refused change, a failed build, a rolled-back switch) are final and
//! reported once; a remote that is down is not an outcome, just a reason to try again later.

use super::activate::ActivateError;
use super::reproducible::{awaiting, verdict, Verdict};
pub use super::verify::Lineage;
use super::verify::{plan_lineage, Approved};
pub use crate::edges::{
    Attestations, Gate, OutcomeReport, ReportError, Reporter, Standing, Switcher,
};
use crate::edges::{BuildTarget, Edges};
use crate::journal::{
    tag, Generation, Journal, JournalError, Outcome, Record, Report, Status, Step, StepEntry,
    StepState,
};
use crate::mutants;
use git2::Oid;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::Duration;
use thiserror::Error;

pub use super::direct::DirectSwitch;

#[derive(Debug, Clone)]
pub struct Timeouts {
    pub fetch: Duration,
    pub dry_build: Duration,
    pub build: Duration,
    pub switch: Duration,
    pub health: Duration,
    pub health_interval: Duration,
}

#[derive(Debug, Error)]
pub enum PipelineError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// Not an outcome: the same step may succeed later (a remote that is down).
    #[error("proposal {proposal}: {} will be retried: {reason}", tag(step))]
    Retry {
        proposal: u64,
        step: Step,
        reason: String,
    },
    /// The chain could not be read to re-check the proposal: nothing was decided.
    #[error("proposal {proposal}: {reason}")]
    Chain { proposal: u64, reason: String },
    /// Not an outcome: the attestation quorum has not agreed yet (docs/validators.md).
    #[error("proposal {proposal}: awaiting attestations: {reason}")]
    Awaiting { proposal: u64, reason: String },
    #[error("proposal {proposal}: the report could not be sent yet: {source}")]
    Report {
        proposal: u64,
        #[source]
        source: ReportError,
    },
}

pub struct Executor<'a> {
    pub host: u64,
    pub timeouts: Timeouts,
    pub edges: &'a Edges,
    pub journal: &'a Journal,
    pub reporter: &'a dyn Reporter,
    pub gate: &'a dyn Gate,
}

/// Test builds can stop the process at a named point, as `kill -9` would (crash tests).
#[cfg(feature = "failpoints")]
pub(crate) fn failpoint(name: &str) {
    if std::env::var("DAO_AGENT_FAILPOINT").is_ok_and(|v| v == name) {
        std::process::abort();
    }
}

#[cfg(not(feature = "failpoints"))]
pub(crate) fn failpoint(_: &str) {}

/// Whether the deployment has started changing the host (a switch or a revert was begun).
pub fn touched(rec: &Record) -> bool {
    rec.steps.iter().any(|e| {
        matches!(
            e.step,
            Step::SwitchConfiguration | Step::RevertConfiguration
        )
    })
}

impl Executor<'_> {
    fn mark(
        &self,
        rec: &mut Record,
        step: Step,
        state: StepState,
        detail: Option<String>,
    ) -> Result<(), JournalError> {
        rec.steps.push(StepEntry {
            step,
            state,
            at_ms: self.edges.clock.now_ms(),
            detail,
        });
        self.journal.put(rec)?;
        let point = match state {
            StepState::Started => "before",
            _ => "after",
        };
        failpoint(&format!("{point}:{}", tag(&step)));
        Ok(())
    }

    /// Runs `f` as `step`: journaled as started before and as done or failed (with the error)
    /// after.
    fn step<T, E: std::fmt::Display>(
        &self,
        rec: &mut Record,
        step: Step,
        f: impl FnOnce(&mut Record) -> Result<T, E>,
    ) -> Result<Result<T, String>, JournalError> {
        self.mark(rec, step, StepState::Started, None)?;
        match f(rec) {
            Ok(v) => {
                self.mark(rec, step, StepState::Done, None)?;
                Ok(Ok(v))
            }
            Err(e) => {
                let why = e.to_string();
                self.mark(rec, step, StepState::Failed, Some(why.clone()))?;
                Ok(Err(why))
            }
        }
    }

    fn finish(
        &self,
        rec: &mut Record,
        status: Status,
        step: Option<Step>,
        reason: Option<String>,
    ) -> Result<(), JournalError> {
        rec.outcome = Some(Outcome {
            status,
            step,
            reason,
        });
        self.journal.put(rec)?;
        failpoint("after:outcome");
        Ok(())
    }

    /// Records `step` as failed with `why` and makes that the final outcome, as `status`.
    fn end_at(
        &self,
        rec: &mut Record,
        step: Step,
        status: Status,
        why: String,
    ) -> Result<(), PipelineError> {
        self.mark(rec, step, StepState::Failed, Some(why.clone()))?;
        Ok(self.finish(rec, status, Some(step), Some(why))?)
    }

    /// The chain's word on the proposal, read now. A chain that cannot be read is no answer:
    /// nothing changes and the deployment is tried again later.
    fn standing(&self, rec: &Record) -> Result<Standing, PipelineError> {
        // Mutant `expired_applied` (finding 1): expiry was only checked with no journal record.
        if mutants::active("expired_applied") && !rec.steps.is_empty() {
            return Ok(Standing::Open);
        }
        self.gate
            .standing(rec.proposal)
            .map_err(|e| PipelineError::Chain {
                proposal: rec.proposal,
                reason: format!("cannot re-check the proposal on chain before acting: {e}"),
            })
    }

    /// Takes an approved proposal through the pipeline to a final outcome, then reports it.
    pub fn run(&self, approved: &Approved, lineage: &Lineage) -> Result<Record, PipelineError> {
        let mut rec = self.decide(approved, lineage)?;
        self.report(&mut rec)?;
        Ok(rec)
    }

    /// Takes an approved proposal to a final outcome (journaled), without reporting it: the
    /// part that may change the host, which the caller runs under its activation lock.
    pub fn decide(&self, approved: &Approved, lineage: &Lineage) -> Result<Record, PipelineError> {
        let mut rec = match self.journal.get(approved.proposal, self.host)? {
            Some(r) => r,
            None => Record::new(
                approved.proposal,
                self.host,
                &approved.base.to_string(),
                &approved.head.to_string(),
                approved.diff_hash,
            ),
        };
        if rec.outcome.is_none() && rec.steps.is_empty() {
            // No journal for it, but the chain may remember: a journal lost after a deployment
            // must not lead to a second one.
            let on_chain = self
                .reporter
                .find(approved.proposal, self.host)
                .map_err(|source| PipelineError::Report {
                    proposal: approved.proposal,
                    source,
                })?;
            if let Some(status) = on_chain {
                rec.outcome = Some(Outcome {
                    status,
                    step: None,
                    reason: Some(
                        "already reported on chain; this host's journal had no record of it".into(),
                    ),
                });
                rec.report = Report::Confirmed {
                    txid: "already on chain".into(),
                    round: 0,
                };
                self.journal.put(&rec)?;
                return Ok(rec);
            }
        }
        if rec.outcome.is_some() {
            return Ok(rec);
        }
        if rec
            .steps
            .last()
            .is_some_and(|e| e.step == Step::RevertConfiguration)
        {
            // A crash while reverting: finish going back, do not switch forward again.
            let why = "the agent stopped while reverting; reverting again".to_owned();
            let failed = rec
                .steps
                .iter()
                .rev()
                .find(|e| e.state == StepState::Failed)
                .map_or(Step::SwitchConfiguration, |e| e.step);
            self.revert(&mut rec, failed, why)?;
            return Ok(rec);
        }
        // A proposal whose window ended (or that the chain no longer approves) ends here, before
        // anything is fetched: a remote that stays down cannot hold the queue past the window.
        // Mutant `unfetchable_blocks` (finding 2) leaves this check out.
        if !touched(&rec) && !mutants::active("unfetchable_blocks") {
            match self.standing(&rec)? {
                Standing::Open => {}
                closed => {
                    self.close(&mut rec, closed)?;
                    return Ok(rec);
                }
            }
        }
        self.apply(&mut rec, approved, lineage)?;
        Ok(rec)
    }

    /// Ends an untouched deployment the chain closed: failed (expired) or refused.
    fn close(&self, rec: &mut Record, standing: Standing) -> Result<(), PipelineError> {
        let (status, why) = match standing {
            Standing::Open => return Ok(()),
            Standing::Expired(why) => (Status::Failed, format!("expired: {why}")),
            Standing::NotApproved(why) => (Status::Refused, why),
        };
        Ok(self.finish(rec, status, None, Some(why))?)
    }

    fn apply(
        &self,
        rec: &mut Record,
        approved: &Approved,
        lineage: &Lineage,
    ) -> Result<(), PipelineError> {
        // Verify (lineage first: it needs no objects).
        if let Some(toplevel) = awaiting(rec) {
            // Built and verified in an earlier pass that then waited for the validators: only
            // the comparison is left (the gate is asked again before activation, as always).
            return self.reproduced_then_activate(rec, &toplevel);
        }
        let plan = match plan_lineage(
            lineage.running,
            lineage.last_applied,
            &lineage.approved,
            approved,
        ) {
            Ok(p) => p,
            Err(e) => return self.end_at(rec, Step::VerifyChange, Status::Refused, e.to_string()),
        };
        let mut commits: Vec<Oid> = plan.iter().flat_map(|a| [a.base, a.head]).collect();
        commits.dedup();
        let fetched = self.step(rec, Step::FetchCommits, |_| {
            self.edges.source.fetch(&commits, self.timeouts.fetch)
        })?;
        if let Err(reason) = fetched {
            return Err(PipelineError::Retry {
                proposal: approved.proposal,
                step: Step::FetchCommits,
                reason,
            });
        }
        let plan: Vec<Approved> = plan.into_iter().cloned().collect();
        let verified = self.step(rec, Step::VerifyChange, |_| self.edges.source.verify(&plan))?;
        if let Err(why) = verified {
            return Ok(self.finish(rec, Status::Refused, Some(Step::VerifyChange), Some(why))?);
        }

        // Build.
        let target = BuildTarget {
            proposal: approved.proposal,
            commit: approved.head,
        };
        if let Err(why) = self.step(rec, Step::DryBuild, |_| {
            self.edges
                .builder
                .dry_build(target, self.timeouts.dry_build)
        })? {
            return Ok(self.finish(rec, Status::Failed, Some(Step::DryBuild), Some(why))?);
        }
        let built = self.step(rec, Step::BuildToplevel, |_| {
            self.edges.builder.build(target, self.timeouts.build)
        })?;
        let toplevel = match built {
            Ok(t) => t,
            Err(why) => {
                return Ok(self.finish(
                    rec,
                    Status::Failed,
                    Some(Step::BuildToplevel),
                    Some(why),
                )?)
            }
        };
        rec.toplevel = Some(toplevel.clone());
        self.journal.put(rec)?;
        self.reproduced_then_activate(rec, &toplevel)
    }

    /// Activates only what the attestation quorum agreed on, when the proposal has one.
    fn reproduced_then_activate(
        &self,
        rec: &mut Record,
        toplevel: &Path,
    ) -> Result<(), PipelineError> {
        let a = self
            .gate
            .attestations(rec.proposal, self.host)
            .map_err(|e| PipelineError::Chain {
                proposal: rec.proposal,
                reason: format!("cannot read the attestations before acting: {e}"),
            })?;
        // Mutant `unreproduced_applied`: the quorum is read but never enforced.
        if a.quorum == 0 || mutants::active("unreproduced_applied") {
            return self.activate(rec, toplevel);
        }
        let step = Step::AwaitAttestations;
        let mine = match self.edges.builder.closure(toplevel) {
            Ok(c) => c,
            Err(why) => return self.end_at(rec, step, Status::Failed, why),
        };
        match verdict(&a, &mine) {
            Verdict::Off => self.activate(rec, toplevel),
            Verdict::Agreed(detail) => {
                self.mark(rec, step, StepState::Done, Some(detail))?;
                self.activate(rec, toplevel)
            }
            Verdict::NotReproducible(why) => self.end_at(rec, step, Status::NotReproducible, why),
            Verdict::Wait(reason) => {
                if awaiting(rec).is_none() {
                    self.mark(rec, step, StepState::Started, Some(reason.clone()))?;
                }
                Err(PipelineError::Awaiting {
                    proposal: rec.proposal,
                    reason,
                })
            }
        }
    }

    /// Records the current generation, switches, confirms; reverts on failure.
    fn activate(&self, rec: &mut Record, toplevel: &Path) -> Result<(), PipelineError> {
        // The last word before the host changes is the chain's, read now, whatever the journal
        // says: an expired proposal is never activated; one already half-activated (a crash
        // mid-switch) goes back to the recorded generation.
        match self.standing(rec)? {
            Standing::Open => {}
            closed if !touched(rec) => return self.close(rec, closed),
            Standing::Expired(why) | Standing::NotApproved(why) => {
                let why = format!("the chain closed the proposal mid-activation: {why}");
                return self.revert(rec, Step::SwitchConfiguration, why);
            }
        }
        let system = &self.edges.system;
        if rec.previous.is_none() {
            let none = || "the system profile has no generation to come back to".to_owned();
            match system.current() {
                Ok(Some(g)) => rec.previous = Some(g),
                Ok(None) => {
                    return self.end_at(rec, Step::SwitchConfiguration, Status::Failed, none())
                }
                Err(e) => {
                    return self.end_at(
                        rec,
                        Step::SwitchConfiguration,
                        Status::Failed,
                        e.to_string(),
                    )
                }
            }
            // The way back is durable before anything changes.
            self.journal.put(rec)?;
        }
        let switched = self.step(
            rec,
            Step::SwitchConfiguration,
            |_| -> Result<Generation, ActivateError> {
                let g = match system.current()? {
                    Some(g) if g.store_path == toplevel => g,
                    _ => system.set(toplevel, self.timeouts.switch)?,
                };
                failpoint("inside:switch_configuration");
                system.switch(toplevel, self.timeouts.switch)?;
                Ok(g)
            },
        )?;
        if let Err(why) = switched {
            return self.revert(rec, Step::SwitchConfiguration, why);
        }
        let healthy = self.step(rec, Step::ConfirmHealth, |_| {
            self.edges
                .health
                .confirm(self.timeouts.health, self.timeouts.health_interval)
        })?;
        if let Err(why) = healthy {
            return self.revert(rec, Step::ConfirmHealth, why);
        }
        Ok(self.finish(rec, Status::Applied, None, None)?)
    }

    fn revert(&self, rec: &mut Record, failed: Step, why: String) -> Result<(), PipelineError> {
        let Some(previous) = rec.previous.clone() else {
            return Ok(self.finish(rec, Status::Failed, Some(failed), Some(why))?);
        };
        let system = &self.edges.system;
        let reverted = self.step(
            rec,
            Step::RevertConfiguration,
            |_| -> Result<(), ActivateError> {
                system.restore(&previous, self.timeouts.switch)?;
                system.switch(&previous.store_path, self.timeouts.switch)
            },
        )?;
        match reverted {
            Ok(()) => Ok(self.finish(rec, Status::RolledBack, Some(failed), Some(why))?),
            // The way back failed too: say so plainly; an operator must look at this host.
            Err(e) => Ok(self.finish(
                rec,
                Status::Failed,
                Some(Step::RevertConfiguration),
                Some(format!(
                    "{why}; and reverting to generation {} failed: {e}",
                    previous.number
                )),
            )?),
        }
    }

    /// Sends the outcome's report unless the chain already has it: exactly once. Changes
    /// nothing on the host, so it runs outside the activation lock.
    pub fn report(&self, rec: &mut Record) -> Result<(), PipelineError> {
        let Some(outcome) = rec.outcome.clone() else {
            return Ok(());
        };
        if matches!(rec.report, Report::Confirmed { .. }) {
            return Ok(());
        }
        let err = |source| PipelineError::Report {
            proposal: rec.proposal,
            source,
        };
        if let Some(status) = self.reporter.find(rec.proposal, self.host).map_err(err)? {
            // Sent before a crash that came before the journal knew: do not send again.
            rec.report = Report::Confirmed {
                txid: format!("already on chain ({status:?})"),
                round: 0,
            };
            self.journal.put(rec)?;
            return Ok(());
        }
        let running = self.edges.system.current().ok().flatten();
        let report = OutcomeReport {
            proposal: rec.proposal,
            host: self.host,
            status: outcome.status,
            toplevel_sha256: running.as_ref().map_or([0; 32], |g| {
                Sha256::digest(g.store_path.as_os_str().as_encoded_bytes()).into()
            }),
            generation: running.as_ref().map_or(0, |g| g.number),
            logs_sha256: Sha256::digest(serde_json::to_vec(&rec.steps).unwrap_or_default()).into(),
        };
        let (txid, round) = self.reporter.send(&report).map_err(err)?;
        failpoint("after:report_sent");
        rec.report = Report::Confirmed { txid, round };
        self.journal.put(rec)?;
        Ok(())
    }
}
