//! Undoing drift (`executor.drift = "reactivate"`): the switch back to the approved generation,
//! journaled like a deployment's activation (journal/reactivation.rs). The record is written
//! before the profile moves and after every step, so that an agent that stops half-way finishes
//! the reactivation, or goes back, on its next pass, before anything else is decided.
//!
//! Going back means going back to the system the host ran when the reactivation began (what
//! `executor.current_system` pointed at), not to the profile's generation: after
//! `nixos-rebuild test` the running system is in no generation, and switching to the profile's
//! would put a third system on the host that nobody chose. The profile goes back to the
//! generation it had, not to a new one holding the running system: `nixos-rebuild test` left
//! the next boot on the profile's generation on purpose, and the agent restores the host as it
//! found it, profile and running system alike, rather than choose a new boot default.

use super::deployer::{lock, Deployer};
use crate::edges::Action;
use crate::executor::pipeline::failpoint;
use crate::journal::reactivation::{
    parse_reactivation, Ended, Reactivation, ReactivationOutcome, REACTIVATION_FILE,
};
use crate::journal::{tag, Generation, Step, StepEntry, StepState};
use crate::mutants;
use dao_core::config::DriftPolicy;
use std::path::{Path, PathBuf};
use tracing::{info, warn};

/// How far below the profile's current generation the approved one is looked for.
const GENERATIONS_SEARCHED: u64 = 256;

/// Why the approved system is not running again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReactivateError {
    #[error(
        "approved_generation_gone: no generation of the system profile still holds the approved \
         system {toplevel} ({by}); it was deleted or garbage-collected, so the agent cannot \
         switch back to it: switch back by hand (`nixos-rebuild switch` of the approved commit) \
         or let the next proposal replace the system"
    )]
    ApprovedGenerationGone { toplevel: String, by: String },
    #[error("reactivating generation {generation} failed: {why}; the host is back on {restored}")]
    Reverted {
        generation: u64,
        why: String,
        restored: String,
    },
    #[error(
        "reactivating generation {generation} failed: {why}; and going back to {running} failed \
         too ({revert}): an operator must look at this host"
    )]
    RevertFailed {
        generation: u64,
        why: String,
        running: String,
        revert: String,
    },
    #[error("cannot read the system profile: {0}")]
    Profile(String),
    /// The record could not be written: before the profile moved nothing changed; after, the
    /// next pass finishes or reverts it from the record.
    #[error(
        "cannot write the reactivation record {path}: {why}; it is finished or reverted from \
         the record on the next pass (free the state directory's disk if it is full)"
    )]
    Journal { path: String, why: String },
}

/// The newest generation of the profile, at or below its current one, that holds `toplevel`.
pub fn approved_generation(
    system: &dyn crate::edges::System,
    toplevel: &Path,
) -> Result<Option<Generation>, String> {
    let Some(current) = system.current().map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let lowest = current.number.saturating_sub(GENERATIONS_SEARCHED).max(1);
    Ok((lowest..=current.number)
        .rev()
        .filter_map(|n| system.generation(n).ok())
        .find(|g| g.store_path == toplevel))
}

/// The step log stopped: the record could not be written.
struct Stopped(ReactivateError);

impl Deployer {
    pub fn reactivation_file(&self) -> PathBuf {
        self.setup.dir.join(REACTIVATION_FILE)
    }

    /// The last reactivation, as its record says (None when there never was one).
    pub fn last_reactivation(&self) -> Result<Option<Reactivation>, String> {
        let path = self.reactivation_file();
        match self.edges.files.read(&path) {
            Ok(Some(bytes)) => parse_reactivation(&bytes).map(Some).map_err(|e| {
                format!(
                    "the reactivation record {} is corrupt ({e}); inspect it and move it aside \
                     once the host's state is known",
                    path.display()
                )
            }),
            Ok(None) => Ok(None),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// Writes the record atomically and durably, and shows it in status.
    fn put_reactivation(&self, r: &Reactivation) -> Result<(), Stopped> {
        let path = self.reactivation_file();
        super::files::write_json(&*self.edges.files, &path, r).map_err(|why| {
            Stopped(ReactivateError::Journal {
                path: path.display().to_string(),
                why,
            })
        })?;
        lock(&self.shared).reactivation = Some(r.clone());
        Ok(())
    }

    fn mark(
        &self,
        r: &mut Reactivation,
        step: Step,
        state: StepState,
        detail: Option<String>,
    ) -> Result<(), Stopped> {
        r.steps.push(StepEntry {
            step,
            state,
            at_ms: self.edges.clock.now_ms(),
            detail,
        });
        self.put_reactivation(r)?;
        let point = if state == StepState::Started {
            "before"
        } else {
            "after"
        };
        failpoint(&format!("reactivate:{point}:{}", tag(&step)));
        Ok(())
    }

    fn end(
        &self,
        r: &mut Reactivation,
        ended: Ended,
        reason: Option<String>,
    ) -> Result<(), Stopped> {
        r.outcome = Some(ReactivationOutcome { ended, reason });
        self.put_reactivation(r)
    }

    /// Switches back to the approved generation: the record first, then the profile, the
    /// switch and the health check; on failure back to what the host ran.
    pub(super) fn reactivate(
        &self,
        approved: &Path,
        by: &str,
        running: &Path,
    ) -> Result<Generation, ReactivateError> {
        let system = &*self.edges.system;
        let target = approved_generation(system, approved)
            .map_err(ReactivateError::Profile)?
            .ok_or_else(|| ReactivateError::ApprovedGenerationGone {
                toplevel: approved.display().to_string(),
                by: by.to_owned(),
            })?;
        let profile = system
            .current()
            .map_err(|e| ReactivateError::Profile(e.to_string()))?;
        // A switch a crashed agent left running is waited for, as before a deployment.
        system
            .settle(self.setup.timeouts.switch)
            .map_err(|e| ReactivateError::Profile(e.to_string()))?;
        let mut r = Reactivation::new(
            self.edges.clock.now_ms(),
            (approved.to_path_buf(), by.to_owned()),
            target,
            running.to_path_buf(),
            profile,
        );
        // The way back is durable before anything changes.
        self.put_reactivation(&r).map_err(|Stopped(e)| e)?;
        info!(
            generation = r.target.number,
            toplevel = %approved.display(),
            running = %running.display(),
            "reactivating the approved generation {}",
            r.target.number
        );
        self.forward(&mut r).unwrap_or_else(|Stopped(e)| Err(e))
    }

    /// Profile, switch, health; a failure goes back. Safe to run again after a crash: pointing
    /// the profile at the target and switching to it are idempotent.
    fn forward(
        &self,
        r: &mut Reactivation,
    ) -> Result<Result<Generation, ReactivateError>, Stopped> {
        let system = &*self.edges.system;
        let t = &self.setup.timeouts;
        let target = r.target.clone();
        self.mark(
            r,
            Step::SwitchConfiguration,
            StepState::Started,
            Some(format!(
                "pointing the profile at generation {}",
                target.number
            )),
        )?;
        if let Err(e) = system.restore(&target, t.switch) {
            return self.fail(r, Step::SwitchConfiguration, e.to_string());
        }
        failpoint("reactivate:after:set_profile");
        // A second entry: the profile moved, the switch is next (what a crash here leaves).
        self.mark(
            r,
            Step::SwitchConfiguration,
            StepState::Started,
            Some(format!(
                "the profile points at generation {}; switching",
                target.number
            )),
        )?;
        if let Err(e) = system.switch(&target.store_path, t.switch) {
            return self.fail(r, Step::SwitchConfiguration, e.to_string());
        }
        self.mark(r, Step::SwitchConfiguration, StepState::Done, None)?;
        self.mark(r, Step::ConfirmHealth, StepState::Started, None)?;
        if let Err(why) = self.edges.health.confirm(t.health, t.health_interval) {
            return self.fail(r, Step::ConfirmHealth, why);
        }
        self.mark(r, Step::ConfirmHealth, StepState::Done, None)?;
        self.end(r, Ended::Reactivated, None)?;
        // A new switch to the approved system, here or in a restart's recovery: the agent it
        // names may be handed over to once more, as after its deployment (daemon/upgrade.rs).
        let record = super::upgrade::record_file(self);
        if let Err(why) = super::files::remove(&*self.edges.files, &record) {
            warn!("cannot clear the self-upgrade record: {why}");
        }
        Ok(Ok(target))
    }

    fn fail(
        &self,
        r: &mut Reactivation,
        step: Step,
        why: String,
    ) -> Result<Result<Generation, ReactivateError>, Stopped> {
        self.mark(r, step, StepState::Failed, Some(why.clone()))?;
        self.revert(r, why)
    }

    /// Back to what the host ran when the reactivation began: the profile to the generation it
    /// had, then a switch to the running system itself (module comment: why both).
    fn revert(
        &self,
        r: &mut Reactivation,
        why: String,
    ) -> Result<Result<Generation, ReactivateError>, Stopped> {
        let system = &*self.edges.system;
        let timeout = self.setup.timeouts.switch;
        let generation = r.target.number;
        // Mutant `reactivation_reverts_to_profile`: the revert switches to the profile's
        // generation, as before issue 15's second part, whatever the host ran.
        let back_to = match &r.profile {
            Some(p) if mutants::active("reactivation_reverts_to_profile") => p.store_path.clone(),
            _ => r.running.clone(),
        };
        self.mark(
            r,
            Step::RevertConfiguration,
            StepState::Started,
            Some(format!("going back to {}", back_to.display())),
        )?;
        let back = match &r.profile {
            // What ran is not the profile's (`nixos-rebuild test`): the bootloader goes back to
            // the profile's generation and the running system to what ran, each alone; a
            // `switch` of what ran would make it the next boot (review finding).
            Some(p)
                if p.store_path != back_to
                    && !mutants::active("reactivation_revert_moves_boot") =>
            {
                system
                    .restore(p, timeout)
                    .and_then(|()| system.activate(&p.store_path, Action::Boot, timeout))
                    .and_then(|()| system.activate(&back_to, Action::Test, timeout))
            }
            Some(p) => system
                .restore(p, timeout)
                .and_then(|()| system.switch(&back_to, timeout)),
            None => system.switch(&back_to, timeout),
        };
        let running = back_to.display().to_string();
        match back {
            Ok(()) => {
                self.mark(r, Step::RevertConfiguration, StepState::Done, None)?;
                self.end(r, Ended::Reverted, Some(why.clone()))?;
                let restored = match &r.profile {
                    Some(p) => format!("{running}, the profile on generation {}", p.number),
                    None => running,
                };
                Ok(Err(ReactivateError::Reverted {
                    generation,
                    why,
                    restored,
                }))
            }
            Err(e) => {
                let revert = e.to_string();
                self.mark(
                    r,
                    Step::RevertConfiguration,
                    StepState::Failed,
                    Some(revert.clone()),
                )?;
                self.end(
                    r,
                    Ended::RevertFailed,
                    Some(format!("{why}; and going back failed: {revert}")),
                )?;
                Ok(Err(ReactivateError::RevertFailed {
                    generation,
                    why,
                    running,
                    revert,
                }))
            }
        }
    }

    /// Finishes or reverts a reactivation an earlier process left half-way, as recovery does an
    /// interrupted deployment; loads the last one into status either way. Call with the
    /// activation lock held, before anything else about the host is decided.
    pub fn recover_reactivation(&self) -> Result<(), String> {
        let Some(mut r) = self.last_reactivation()? else {
            return Ok(());
        };
        lock(&self.shared).reactivation = Some(r.clone());
        if r.outcome.is_some() {
            return Ok(());
        }
        let stopped = |Stopped(e)| e.to_string();
        // An operator's rollback since decides what runs: the reactivation changes no more.
        let rolled_back = lock(&self.shared)
            .rollback
            .as_ref()
            .is_some_and(|rb| rb.at_ms >= r.started_ms);
        // Mutant `reactivation_unrecovered`: a restart drops the half-way reactivation (as
        // before issue 15's second part, when nothing recorded it) instead of finishing it.
        if mutants::active("reactivation_unrecovered") {
            let why = "dropped at restart".to_owned();
            return self
                .end(&mut r, Ended::Superseded, Some(why))
                .map_err(stopped);
        }
        if rolled_back {
            info!("an operator rollback came after the interrupted reactivation: it stands");
            let why = "an operator rollback came after it was interrupted".to_owned();
            return self
                .end(&mut r, Ended::Superseded, Some(why))
                .map_err(stopped);
        }
        // A switch the stopped agent left running ends before anything is decided.
        self.edges
            .system
            .settle(self.setup.timeouts.switch)
            .map_err(|e| format!("an earlier switch still runs: {e}"))?;
        // Someone switched the host by hand while the agent was down: that change, not the
        // system the record found, is what runs now; going back to the older one would put a
        // system on the host that nobody runs any more. The drift check sees the new one.
        let now = self.edges.system.running().ok().flatten();
        if let Some(now) = now.filter(|n| *n != r.running && *n != r.approved) {
            let why = format!("the host was switched to {} since", now.display());
            return self
                .end(&mut r, Ended::Superseded, Some(why))
                .map_err(stopped);
        }
        let paused = lock(&self.shared).paused.is_some();
        let back = if r.going_back() {
            Some("the agent stopped while going back; going back again".to_owned())
        } else if paused {
            Some("the agent stopped mid-way and is now paused: going back".to_owned())
        } else if self.setup.drift != DriftPolicy::Reactivate {
            Some("the agent stopped mid-way and drift is now only reported: going back".to_owned())
        } else {
            None
        };
        warn!(
            generation = r.target.number,
            running = %r.running.display(),
            direction = if back.is_some() { "back" } else { "forward" },
            "finishing a reactivation the agent stopped in"
        );
        let done = match back {
            Some(why) => {
                let why = match r.failed_step() {
                    Some((step, Some(detail))) => format!("{}: {detail}; {why}", tag(&step)),
                    _ => why,
                };
                self.revert(&mut r, why)
            }
            None => self.forward(&mut r),
        }
        .map_err(stopped)?;
        match done {
            Ok(g) => info!(generation = g.number, "drift undone: reactivation finished"),
            Err(e) => warn!("the interrupted reactivation did not hold: {e}"),
        }
        Ok(())
    }
}
