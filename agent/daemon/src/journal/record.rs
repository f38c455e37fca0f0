//! What the journal holds: one record per (proposal, host) — its steps, the generation to come
//! back to, the toplevel, the outcome and whether its report is on chain.

use dao_core::diff_hash::DiffHash;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

pub const VERSION: u32 = 1;

/// The snake_case tag serde gives a unit enum value (a step, a state, a status, a role): the
/// word the journal, logs, errors and D-Bus status use for it.
pub fn tag<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The pipeline's steps; the tag names a step in the journal, logs, errors and D-Bus status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    FetchCommits,
    VerifyChange,
    DryBuild,
    BuildToplevel,
    /// The attestation quorum is on: wait until validators agree, compare the closure.
    AwaitAttestations,
    SwitchConfiguration,
    ConfirmHealth,
    RevertConfiguration,
    ReportOutcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    Started,
    Done,
    Failed,
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepEntry {
    pub step: Step,
    pub state: StepState,
    /// Unix time in milliseconds.
    pub at_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The system the host ran before switching: what a revert restores, exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Generation {
    pub number: u64,
    pub store_path: PathBuf,
}

/// What is reported on chain (the app's report statuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Applied,
    Failed,
    RolledBack,
    Refused,
    /// Built, but not what the attestation quorum of validators agreed on (or they cannot agree).
    NotReproducible,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    pub status: Status,
    /// The step that decided it (for failed, rolled back and refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<Step>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Report {
    /// Not yet on chain.
    Pending,
    /// Submitted in this transaction; confirmation is checked against the chain on recovery.
    Submitted {
        txid: String,
    },
    Confirmed {
        txid: String,
        round: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub version: u32,
    pub proposal: u64,
    pub host: u64,
    pub base: String,
    pub head: String,
    pub diff_hash: DiffHash,
    pub steps: Vec<StepEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Generation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toplevel: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    pub report: Report,
}

impl Record {
    pub fn new(proposal: u64, host: u64, base: &str, head: &str, diff_hash: DiffHash) -> Record {
        Record {
            version: VERSION,
            proposal,
            host,
            base: base.to_owned(),
            head: head.to_owned(),
            diff_hash,
            steps: Vec::new(),
            previous: None,
            toplevel: None,
            outcome: None,
            report: Report::Pending,
        }
    }

    /// The last state recorded for `step`, if any.
    pub fn last(&self, step: Step) -> Option<StepState> {
        self.steps
            .iter()
            .rev()
            .find(|e| e.step == step)
            .map(|e| e.state)
    }

    pub fn file_name(proposal: u64, host: u64) -> String {
        format!("proposal-{proposal}-host-{host}.json")
    }
}
