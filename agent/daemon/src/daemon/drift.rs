//! Drift: the host runs a system this agent did not put there (someone ran `nixos-rebuild` by
//! hand). Checked at the start of every pass, under the activation lock, so that no activation
//! of ours is half-way; shown in status, the `dao_agent_drift` gauge, the hook (`drift`) and the
//! next heartbeat; undone under `executor.drift = "reactivate"` (docs/heartbeats.md).
//!
//! What the host should run (the baseline) comes from the agent's own records: the toplevel of
//! the last applied deployment, or the generation an operator's rollback went back to. Before
//! the agent first changed the host, the system its first deployment found is the baseline. A
//! deployment that rolled back restored what it found, which is the baseline unless the host had
//! already drifted: it does not move the baseline, so a revert never launders a hand-made switch
//! into "ours".

use super::deployer::{lock, Deployer};
use super::rollback::{OperatorRollback, Phase};
use crate::journal::reactivation::{Ended, Reactivation};
use crate::journal::{tag, Record, Status, Step};
use dao_core::config::DriftPolicy;
use serde::Serialize;
use std::path::PathBuf;
use tracing::{info, warn};

/// What the host should run, as far as the agent's records tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Baseline {
    /// The agent never changed this host: nothing to compare with.
    Never,
    Known {
        toplevel: PathBuf,
        /// Why this one: "proposal 4 (applied)", "operator rollback to generation 3", ….
        by: String,
    },
    /// A revert failed half-way: the agent itself does not know what the host should run.
    Unknown(String),
}

/// The drift shown in status (`drift`), None while the host runs its baseline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    pub running: PathBuf,
    pub approved: PathBuf,
    pub approved_by: String,
    /// Unix ms since which the host has run `running`.
    pub since_ms: u64,
    pub policy: DriftPolicy,
    /// Why the last reactivation did not happen or did not hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

fn finished_at(r: &Record) -> u64 {
    r.steps.last().map_or(0, |s| s.at_ms)
}

/// The baseline from the journal's records and the operator's last rollback: whichever of the
/// record that last set what the host should run and the rollback is later. Only records that
/// set the baseline count: a later deployment that ended without changing the host (refused, a
/// failed build, a revert to what it found) leaves an operator's rollback in force.
pub fn baseline(records: &[Record], rollback: Option<&OperatorRollback>) -> Baseline {
    let mut decided: Vec<&Record> = records.iter().filter(|r| r.outcome.is_some()).collect();
    decided.sort_by_key(|r| (finished_at(r), r.proposal));
    let mut base = Baseline::Never;
    // When the record that set `base` finished.
    let mut base_ms = 0;
    for r in decided {
        if base == Baseline::Never {
            if let Some(p) = &r.previous {
                base = Baseline::Known {
                    toplevel: p.store_path.clone(),
                    by: format!("generation {}, found by proposal {}", p.number, r.proposal),
                };
                base_ms = finished_at(r);
            }
        }
        let Some(o) = &r.outcome else { continue };
        match (o.status, &r.toplevel) {
            (Status::Applied, Some(t)) => {
                base = Baseline::Known {
                    toplevel: t.clone(),
                    by: format!("proposal {} (applied)", r.proposal),
                };
                base_ms = finished_at(r);
            }
            (Status::Failed, _) if o.step == Some(Step::RevertConfiguration) => {
                base = Baseline::Unknown(format!(
                    "proposal {} failed and so did its revert",
                    r.proposal
                ));
                base_ms = finished_at(r);
            }
            // Mutant `rollback_forgotten` (the review's bug): any later outcome, even one that
            // changed nothing, outdates an operator's rollback.
            _ if crate::mutants::active("rollback_forgotten") => base_ms = finished_at(r),
            _ => {}
        }
    }
    match rollback {
        Some(rb) if rb.phase == Phase::Switched && rb.at_ms >= base_ms => Baseline::Known {
            toplevel: rb.to.store_path.clone(),
            by: format!("operator rollback to generation {}", rb.to.number),
        },
        _ => base,
    }
}

/// Whether an activation of ours is under way (a deployment that switched and has no outcome
/// yet, or a reactivation without one, which recovery finishes): the host is in between, not
/// drifted.
fn activating(records: &[Record], reactivation: Option<&Reactivation>) -> bool {
    reactivation.is_some_and(|r| r.outcome.is_none())
        || records.iter().any(|r| {
            r.outcome.is_none()
                && r.steps.iter().any(|s| {
                    matches!(
                        s.step,
                        Step::SwitchConfiguration | Step::RevertConfiguration
                    )
                })
        })
}

/// Whether `r` was a reactivation of this very drift (the host on `running`, `approved` the
/// approved system) that ended without the approved system running.
fn did_not_hold(r: &Reactivation, running: &std::path::Path, approved: &std::path::Path) -> bool {
    r.about(running, approved)
        && r.outcome
            .as_ref()
            .is_some_and(|o| o.ended != Ended::Reactivated)
}

impl Deployer {
    /// Compares what the host runs with its baseline; updates status, logs a change, fires the
    /// hook, and under `reactivate` switches back. Call with the activation lock held. An error
    /// says a reactivation is left half-way (its record could not be written): nothing else
    /// may change the host before the next pass finishes or reverts it.
    pub fn check_drift(&self, records: &[Record]) -> Result<(), String> {
        let (rb, last) = {
            let s = lock(&self.shared);
            (s.rollback.clone(), s.reactivation.clone())
        };
        if activating(records, last.as_ref()) || crate::mutants::active("drift_unseen") {
            return Ok(());
        }
        let (approved, by) = match baseline(records, rb.as_ref()) {
            Baseline::Known { toplevel, by } => (toplevel, by),
            Baseline::Never | Baseline::Unknown(_) => {
                lock(&self.shared).drift = None;
                return Ok(());
            }
        };
        let running = match self.edges.system.running() {
            Ok(Some(r)) => r,
            Ok(None) => {
                lock(&self.shared).drift = None;
                return Ok(());
            }
            Err(e) => {
                warn!(
                    path = %self.setup.current_system.display(),
                    "cannot read what the host runs: {e}; drift is not checked"
                );
                return Ok(());
            }
        };
        if running == approved {
            if let Some(was) = lock(&self.shared).drift.take() {
                info!(
                    running = %running.display(),
                    was = %was.running.display(),
                    "the host runs its approved system again: drift ended"
                );
            }
            return Ok(());
        }
        let now = self.edges.clock.now_ms();
        let fresh = {
            let mut s = lock(&self.shared);
            let fresh = s.drift.as_ref().is_none_or(|d| d.running != running);
            let since_ms = match &s.drift {
                Some(d) if !fresh => d.since_ms,
                _ => now,
            };
            let refused = s.drift.as_ref().and_then(|d| d.refused.clone());
            s.drift = Some(Drift {
                running: running.clone(),
                approved: approved.clone(),
                approved_by: by.clone(),
                since_ms,
                policy: self.setup.drift,
                refused: if fresh { None } else { refused },
            });
            fresh
        };
        if fresh {
            warn!(
                running = %running.display(),
                approved = %approved.display(),
                approved_by = %by,
                policy = %tag(&self.setup.drift),
                "drift: the host runs a system the agent did not activate"
            );
            if let Some(notify) = &self.on_drift {
                notify(&Drift {
                    running: running.clone(),
                    approved: approved.clone(),
                    approved_by: by.clone(),
                    since_ms: now,
                    policy: self.setup.drift,
                    refused: None,
                });
            }
        }
        // A reactivation of this same drift that did not hold (its record says so, across a
        // restart too) is not tried again until the host changes: trying every pass would
        // switch the host back and forth on a failing health check.
        if let Some(r) = last
            .as_ref()
            .filter(|r| did_not_hold(r, &running, &approved))
        {
            if let Some(d) = lock(&self.shared).drift.as_mut() {
                if d.refused.is_none() {
                    d.refused = Some(format!(
                        "the last reactivation {}: {}",
                        r.outcome.as_ref().map_or(String::new(), |o| tag(&o.ended)),
                        r.outcome
                            .as_ref()
                            .and_then(|o| o.reason.clone())
                            .unwrap_or_default()
                    ));
                }
            }
        }
        let paused = lock(&self.shared).paused.is_some();
        let tried = lock(&self.shared)
            .drift
            .as_ref()
            .is_some_and(|d| d.refused.is_some());
        if self.setup.drift != DriftPolicy::Reactivate || paused || tried {
            return Ok(());
        }
        match self.reactivate(&approved, &by, &running) {
            Ok(g) => {
                info!(
                    generation = g.number,
                    toplevel = %approved.display(),
                    "drift undone: reactivated the approved generation {}",
                    g.number
                );
                lock(&self.shared).drift = None;
            }
            Err(e @ super::reactivate::ReactivateError::Journal { .. }) => {
                warn!(toplevel = %approved.display(), "reactivation left half-way: {e}");
                return Err(e.to_string());
            }
            Err(e) => {
                warn!(toplevel = %approved.display(), "drift stays: {e}");
                if let Some(d) = lock(&self.shared).drift.as_mut() {
                    d.refused = Some(e.to_string());
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::daemon::rollback::Amendment;
    use crate::journal::{Generation, Outcome, Report, StepEntry, StepState};
    use dao_core::diff_hash::DiffHash;
    use std::path::Path;

    fn gen(n: u64, name: &str) -> Generation {
        Generation {
            number: n,
            store_path: PathBuf::from(format!("/nix/store/{name}")),
        }
    }

    fn decided(
        proposal: u64,
        at_ms: u64,
        status: Status,
        step: Option<Step>,
        previous: &str,
    ) -> Record {
        let mut r = Record::new(proposal, 1, "b", "h", DiffHash([0; 32]));
        r.steps.push(StepEntry {
            step: Step::SwitchConfiguration,
            state: StepState::Done,
            at_ms,
            detail: None,
        });
        r.previous = Some(gen(proposal, previous));
        r.toplevel = Some(PathBuf::from(format!("/nix/store/p{proposal}")));
        r.outcome = Some(Outcome {
            status,
            step,
            reason: None,
        });
        r.report = Report::Pending;
        r
    }

    fn known(b: &Baseline) -> &str {
        match b {
            Baseline::Known { toplevel, .. } => toplevel.to_str().unwrap(),
            other => panic!("expected a known baseline, got {other:?}"),
        }
    }

    #[test]
    fn the_last_applied_toplevel_is_the_baseline_and_a_rollback_does_not_move_it() {
        let applied = decided(1, 10, Status::Applied, None, "found");
        assert_eq!(
            known(&baseline(std::slice::from_ref(&applied), None)),
            "/nix/store/p1"
        );
        // Proposal 2 found the host drifted (previous "hand") and went back to it: the hand-made
        // system does not become the baseline.
        let reverted = decided(2, 20, Status::RolledBack, Some(Step::ConfirmHealth), "hand");
        assert_eq!(
            known(&baseline(&[reverted.clone(), applied.clone()], None)),
            "/nix/store/p1"
        );
        // Before anything was applied, the system the first deployment found is the baseline.
        assert_eq!(known(&baseline(&[reverted], None)), "/nix/store/hand");
        assert_eq!(baseline(&[], None), Baseline::Never);
    }

    #[test]
    fn a_failed_revert_makes_it_unknown_and_an_operator_rollback_after_it_decides() {
        let applied = decided(1, 10, Status::Applied, None, "found");
        let broken = decided(2, 20, Status::Failed, Some(Step::RevertConfiguration), "p1");
        let records = [applied, broken];
        assert!(matches!(baseline(&records, None), Baseline::Unknown(_)));
        let mut rb = OperatorRollback {
            at_ms: 30,
            uid: 0,
            reason: "r".into(),
            from: None,
            to: gen(1, "found"),
            proposal: Some(2),
            phase: Phase::Switched,
            amendment: Amendment::Pending,
        };
        assert_eq!(known(&baseline(&records, Some(&rb))), "/nix/store/found");
        // A rollback older than the last outcome, or one that did not switch, decides nothing.
        rb.at_ms = 15;
        assert!(matches!(
            baseline(&records, Some(&rb)),
            Baseline::Unknown(_)
        ));
        rb.at_ms = 30;
        rb.phase = Phase::Switching;
        assert!(matches!(
            baseline(&records, Some(&rb)),
            Baseline::Unknown(_)
        ));
    }

    #[test]
    fn a_later_deployment_that_changed_nothing_leaves_an_operator_rollback_in_force() {
        let applied = decided(4, 10, Status::Applied, None, "g3");
        let rb = OperatorRollback {
            at_ms: 20,
            uid: 0,
            reason: "502s after proposal 4".into(),
            from: None,
            to: gen(3, "g3"),
            proposal: Some(4),
            phase: Phase::Switched,
            amendment: Amendment::Pending,
        };
        // After the rollback, proposal 5 ends without changing the host: refused, a failed
        // build, or a health failure reverted to what it found (the rollback's generation).
        for (status, step) in [
            (Status::Refused, None),
            (Status::Failed, Some(Step::BuildToplevel)),
            (Status::RolledBack, Some(Step::ConfirmHealth)),
        ] {
            let later = decided(5, 30, status, step, "g3");
            assert_eq!(
                known(&baseline(&[applied.clone(), later], Some(&rb))),
                "/nix/store/g3",
                "{status:?}"
            );
        }
        // A later deployment that applied replaces the rollback's generation.
        let applied_later = decided(5, 30, Status::Applied, None, "g3");
        assert_eq!(
            known(&baseline(&[applied, applied_later], Some(&rb))),
            "/nix/store/p5"
        );
    }

    fn reactivation(ended: Option<Ended>) -> Reactivation {
        let mut r = Reactivation::new(
            5,
            ("/nix/store/p1".into(), "proposal 1 (applied)".into()),
            gen(2, "p1"),
            "/nix/store/hand".into(),
            Some(gen(2, "p1")),
        );
        r.outcome = ended.map(|ended| crate::journal::reactivation::ReactivationOutcome {
            ended,
            reason: Some("health".into()),
        });
        r
    }

    #[test]
    fn a_reactivation_without_an_outcome_is_ours_in_progress() {
        assert!(activating(&[], Some(&reactivation(None))));
        assert!(!activating(&[], Some(&reactivation(Some(Ended::Reverted)))));
        assert!(!activating(&[], None));
    }

    #[test]
    fn only_a_reactivation_of_the_same_drift_that_did_not_hold_holds_back_the_next() {
        let (hand, approved) = (Path::new("/nix/store/hand"), Path::new("/nix/store/p1"));
        for ended in [Ended::Reverted, Ended::RevertFailed, Ended::Superseded] {
            assert!(
                did_not_hold(&reactivation(Some(ended)), hand, approved),
                "{ended:?}"
            );
        }
        assert!(!did_not_hold(
            &reactivation(Some(Ended::Reactivated)),
            hand,
            approved
        ));
        assert!(!did_not_hold(&reactivation(None), hand, approved));
        // The host changed since, or the approved system did: a new drift, tried again.
        let other = Path::new("/nix/store/hand-2");
        assert!(!did_not_hold(
            &reactivation(Some(Ended::Reverted)),
            other,
            approved
        ));
        assert!(!did_not_hold(
            &reactivation(Some(Ended::Reverted)),
            hand,
            other
        ));
    }

    #[test]
    fn a_deployment_that_switched_without_an_outcome_is_ours_in_progress() {
        let mut r = decided(3, 10, Status::Applied, None, "p2");
        assert!(!activating(std::slice::from_ref(&r), None));
        r.outcome = None;
        assert!(activating(&[r], None));
    }
}
