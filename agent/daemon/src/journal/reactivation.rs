//! The journal of a drift reactivation (daemon/reactivate.rs): the switch back to the approved
//! generation is written down before the profile moves and after every step, as a deployment's
//! activation is, so that a restart finishes or reverts it instead of leaving the profile and
//! the running system apart.
//!
//! It is not a deployment: it lives in its own file of the state directory, never in the
//! journal directory of (proposal, host) records, so it is never reported on chain, never
//! counts as applying a proposal and never moves the drift baseline. Only the last one is
//! kept: an earlier one has ended, and the hand-made system it was about is gone or drifted
//! again.

use super::record::{Generation, Step, StepEntry, StepState};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Bumped when the meaning of a field changes: an agent refuses a record of another version.
pub const REACTIVATION_VERSION: u32 = 1;

/// The file, in the executor's state directory.
pub const REACTIVATION_FILE: &str = "reactivation.json";

/// How a reactivation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ended {
    /// The host runs the approved generation again, the profile on it, health confirmed.
    Reactivated,
    /// It failed and the host is back on the system it ran before, the profile where it was.
    Reverted,
    /// It failed and so did going back: an operator must look at the host.
    RevertFailed,
    /// An operator's rollback came between a crash and its recovery: the rollback decides what
    /// runs, the reactivation changes nothing more.
    Superseded,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReactivationOutcome {
    pub ended: Ended,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reactivation {
    pub version: u32,
    /// Unix ms when it was decided.
    pub started_ms: u64,
    /// The approved system, and why it is the approved one ("proposal 4 (applied)").
    pub approved: PathBuf,
    pub approved_by: String,
    /// The profile generation that holds the approved system: where the profile is pointed.
    pub target: Generation,
    /// What `executor.current_system` pointed at when it began: what a revert switches to,
    /// whether or not it is a profile generation (`nixos-rebuild test` makes one that is not).
    pub running: PathBuf,
    /// The profile's generation when it began (None: a profile without generations): where a
    /// revert points the profile back, so that the next boot is what it was.
    pub profile: Option<Generation>,
    pub steps: Vec<StepEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<ReactivationOutcome>,
}

impl Reactivation {
    pub fn new(
        started_ms: u64,
        approved: (PathBuf, String),
        target: Generation,
        running: PathBuf,
        profile: Option<Generation>,
    ) -> Reactivation {
        Reactivation {
            version: REACTIVATION_VERSION,
            started_ms,
            approved: approved.0,
            approved_by: approved.1,
            target,
            running,
            profile,
            steps: Vec::new(),
            outcome: None,
        }
    }

    /// Whether a revert was begun or a step failed: recovery goes back, never forward again.
    pub fn going_back(&self) -> bool {
        self.steps
            .iter()
            .any(|e| e.step == Step::RevertConfiguration || e.state == StepState::Failed)
    }

    /// The step that failed, for the outcome's reason.
    pub fn failed_step(&self) -> Option<(Step, Option<&str>)> {
        self.steps
            .iter()
            .rev()
            .find(|e| e.state == StepState::Failed && e.step != Step::RevertConfiguration)
            .map(|e| (e.step, e.detail.as_deref()))
    }

    /// Whether this is the same drift it was about: the host still runs what it ran then and
    /// the approved system is the same. A reactivation that did not hold is not tried again
    /// for the same drift (it would switch the host back and forth on a failing check).
    pub fn about(&self, running: &std::path::Path, approved: &std::path::Path) -> bool {
        self.running == running && self.approved == approved
    }
}

/// Reads a reactivation record strictly: one that does not parse or is of another version is an
/// error naming the problem.
pub fn parse_reactivation(bytes: &[u8]) -> Result<Reactivation, String> {
    let r: Reactivation = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if r.version != REACTIVATION_VERSION {
        return Err(format!(
            "version {} is not {REACTIVATION_VERSION}, the version this agent writes",
            r.version
        ));
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn gen(n: u64, name: &str) -> Generation {
        Generation {
            number: n,
            store_path: PathBuf::from(format!("/nix/store/{name}")),
        }
    }

    fn entry(step: Step, state: StepState) -> StepEntry {
        StepEntry {
            step,
            state,
            at_ms: 1,
            detail: Some("why".into()),
        }
    }

    #[test]
    fn a_record_round_trips_and_another_version_is_refused() {
        let mut r = Reactivation::new(
            5,
            ("/nix/store/a".into(), "proposal 1 (applied)".into()),
            gen(2, "a"),
            "/nix/store/hand".into(),
            Some(gen(3, "p")),
        );
        r.steps
            .push(entry(Step::SwitchConfiguration, StepState::Started));
        let bytes = serde_json::to_vec(&r).unwrap();
        assert_eq!(parse_reactivation(&bytes).unwrap(), r);
        r.version = 7;
        let bytes = serde_json::to_vec(&r).unwrap();
        assert!(parse_reactivation(&bytes)
            .unwrap_err()
            .contains("version 7"));
        assert!(parse_reactivation(b"{").is_err());
    }

    #[test]
    fn a_failed_step_or_a_begun_revert_means_going_back() {
        let mut r = Reactivation::new(
            5,
            ("/nix/store/a".into(), "p".into()),
            gen(2, "a"),
            "/nix/store/hand".into(),
            None,
        );
        r.steps
            .push(entry(Step::SwitchConfiguration, StepState::Started));
        r.steps
            .push(entry(Step::SwitchConfiguration, StepState::Done));
        r.steps.push(entry(Step::ConfirmHealth, StepState::Started));
        assert!(!r.going_back());
        assert_eq!(r.failed_step(), None);
        r.steps.push(entry(Step::ConfirmHealth, StepState::Failed));
        assert!(r.going_back());
        assert_eq!(r.failed_step(), Some((Step::ConfirmHealth, Some("why"))));
        let mut only_revert = r.clone();
        only_revert.steps = vec![entry(Step::RevertConfiguration, StepState::Started)];
        assert!(only_revert.going_back());
        assert!(r.about("/nix/store/hand".as_ref(), "/nix/store/a".as_ref()));
        assert!(!r.about("/nix/store/other".as_ref(), "/nix/store/a".as_ref()));
    }
}
