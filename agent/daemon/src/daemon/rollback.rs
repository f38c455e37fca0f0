//! The operator's emergency brake: go back to a generation through the same activate path as a
//! deployment (profile, then switch-to-configuration), pause automatic deployment, and amend the
//! host's report of the deployment it undoes to "rolled back" on chain.
//!
//! The intent is written before anything changes and the pause before the switch, so a crash
//! mid-way neither resumes automatic deployment nor loses the report: recovery finishes the
//! switch (idempotent) and sends the amendment unless the chain already has it.

use super::chain::{amend_rolled_back, Amended};
use super::files;
use super::setup::Setup;
use crate::edges::{Chain, Edges};
use crate::executor::pipeline::OutcomeReport;
use crate::journal::{Generation, Journal, Status};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Phase {
    /// Recorded; the profile and the switch may or may not have happened.
    Switching,
    Switched,
    Failed {
        why: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Amendment {
    /// To be sent once the switch is done.
    Pending,
    Confirmed {
        txid: String,
        round: u64,
    },
    /// Nothing to amend on chain (no applied deployment of this agent is undone).
    NotApplicable {
        why: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorRollback {
    pub at_ms: u64,
    pub uid: u32,
    pub reason: String,
    pub from: Option<Generation>,
    pub to: Generation,
    /// The applied deployment this undoes, whose report is amended.
    pub proposal: Option<u64>,
    pub phase: Phase,
    pub amendment: Amendment,
}

/// What an operator paused the agent for (also written by a rollback).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pause {
    pub reason: String,
    pub uid: u32,
    pub at_ms: u64,
}

pub fn rollback_file(setup: &Setup) -> PathBuf {
    setup.dir.join("rollback.json")
}

pub fn pause_file(setup: &Setup) -> PathBuf {
    setup.dir.join("paused.json")
}

pub struct Request {
    pub generation: Option<u64>,
    pub reason: String,
    pub uid: u32,
    pub at_ms: u64,
}

/// The newest applied deployment whose toplevel the host runs: what a default rollback undoes.
fn running_deployment(
    journal: &Journal,
    current: &Generation,
) -> Result<Option<(u64, Generation)>, String> {
    let records = journal.all().map_err(|e| e.to_string())?;
    Ok(records
        .iter()
        .rev()
        .filter(|r| {
            r.outcome
                .as_ref()
                .is_some_and(|o| o.status == Status::Applied)
        })
        .find(|r| r.toplevel.as_deref() == Some(current.store_path.as_path()))
        .and_then(|r| r.previous.clone().map(|p| (r.proposal, p))))
}

/// Starts an operator rollback: decides the target, records the intent and the pause, then
/// finishes it with [`finish`].
pub fn start(
    setup: &Setup,
    edges: &Edges,
    journal: &Journal,
    req: Request,
) -> Result<OperatorRollback, String> {
    let files = &*edges.files;
    if let Some(prev) = files::read_json::<OperatorRollback>(files, &rollback_file(setup))? {
        if prev.phase == Phase::Switching || prev.amendment == Amendment::Pending {
            return Err(format!(
                "the rollback of {} to generation {} is not finished yet (it is retried \
                 automatically); try again once `dao-agentctl status` shows it done",
                prev.reason, prev.to.number
            ));
        }
    }
    let system = &edges.system;
    let current = system.current().map_err(|e| e.to_string())?;
    let undone = match &current {
        Some(c) => running_deployment(journal, c)?,
        None => None,
    };
    let to = match (req.generation, &undone) {
        (Some(n), _) => system.generation(n).map_err(|e| {
            format!(
                "generation {n} of {} cannot be used: {e}; list them with `nix-env -p {} \
                 --list-generations`",
                setup.profile_path.display(),
                setup.profile_path.display()
            )
        })?,
        (None, Some((_, previous))) => previous.clone(),
        (None, None) => {
            return Err(format!(
                "the host does not run a deployment of this agent, so there is no recorded \
                 generation to go back to; name one with --to (see `nix-env -p {} \
                 --list-generations`)",
                setup.profile_path.display()
            ))
        }
    };
    if current.as_ref() == Some(&to) {
        return Err(format!(
            "the host already runs generation {} ({}): nothing to roll back",
            to.number,
            to.store_path.display()
        ));
    }
    let rb = OperatorRollback {
        at_ms: req.at_ms,
        uid: req.uid,
        reason: req.reason.clone(),
        from: current,
        to,
        proposal: undone.map(|(p, _)| p),
        phase: Phase::Switching,
        amendment: Amendment::Pending,
    };
    files::write_json(files, &rollback_file(setup), &rb)?;
    files::write_json(
        files,
        &pause_file(setup),
        &Pause {
            reason: format!("operator rollback: {}", req.reason),
            uid: req.uid,
            at_ms: req.at_ms,
        },
    )?;
    Ok(rb)
}

/// Why an operator rollback is not finished yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinishError {
    /// The host is back on the generation; only the on-chain amendment waits, on the chain
    /// (`chain_down`) or on the undone deployment's own report.
    Amendment { why: String, chain_down: bool },
    /// The switch back, or recording it, failed.
    Other(String),
}

impl std::fmt::Display for FinishError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FinishError::Amendment { why, .. } | FinishError::Other(why) => f.write_str(why),
        }
    }
}

impl From<String> for FinishError {
    fn from(why: String) -> Self {
        FinishError::Other(why)
    }
}

/// Switches (unless done) and sends the amendment (unless done); records each step. Safe to call
/// again after a crash or a failed report.
pub fn finish(
    setup: &Setup,
    edges: &Edges,
    reporter: Option<&dyn Chain>,
    mut rb: OperatorRollback,
) -> Result<OperatorRollback, FinishError> {
    let path = rollback_file(setup);
    let files = &*edges.files;
    if rb.phase == Phase::Switching {
        let system = &edges.system;
        // A switch a crashed agent left running ends before this one starts (finding 4).
        if !crate::mutants::active("overlap_after_crash") {
            system
                .settle(setup.switch_timeout())
                .map_err(|e| FinishError::Other(format!("an earlier switch still runs: {e}")))?;
        }
        let done = system
            .restore(&rb.to, setup.switch_timeout())
            .and_then(|()| system.switch(&rb.to.store_path, setup.switch_timeout()));
        rb.phase = match done {
            Ok(()) => Phase::Switched,
            Err(e) => Phase::Failed { why: e.to_string() },
        };
        if let Phase::Failed { why } = &rb.phase {
            rb.amendment = Amendment::NotApplicable {
                why: "the rollback's switch failed".into(),
            };
            files::write_json(files, &path, &rb)?;
            return Err(FinishError::Other(format!(
                "going back to generation {} failed: {why}; the agent stays paused",
                rb.to.number
            )));
        }
        files::write_json(files, &path, &rb)?;
    }
    if rb.amendment == Amendment::Pending {
        match (rb.proposal, reporter) {
            (None, _) => {
                rb.amendment = Amendment::NotApplicable {
                    why: "it undoes no deployment of this agent".into(),
                };
            }
            (Some(_), None) => {
                rb.amendment = Amendment::NotApplicable {
                    why: "this agent has no chain reporter".into(),
                };
            }
            (Some(proposal), Some(reporter)) => {
                let log = serde_json::to_vec(&rb).unwrap_or_default();
                let report = OutcomeReport {
                    proposal,
                    host: setup.host,
                    status: Status::RolledBack,
                    toplevel_sha256: Sha256::digest(
                        rb.to.store_path.as_os_str().as_encoded_bytes(),
                    )
                    .into(),
                    generation: rb.to.number,
                    logs_sha256: Sha256::digest(&log).into(),
                };
                rb.amendment = match amend_rolled_back(reporter, &report) {
                    Ok(Amended::Sent { txid, round }) => Amendment::Confirmed { txid, round },
                    Ok(Amended::AlreadyOnChain) => Amendment::Confirmed {
                        txid: "already on chain".into(),
                        round: 0,
                    },
                    Ok(Amended::NothingToAmend(why)) => Amendment::NotApplicable { why },
                    Ok(Amended::ReportPending) => {
                        files::write_json(files, &path, &rb)?;
                        return Err(FinishError::Amendment {
                            why: format!(
                                "the host is back on generation {}, but the on-chain amendment \
                                 waits for the report of proposal {proposal}, not on chain yet; \
                                 it is retried automatically",
                                rb.to.number
                            ),
                            chain_down: false,
                        });
                    }
                    Err(e) => {
                        files::write_json(files, &path, &rb)?;
                        return Err(FinishError::Amendment {
                            why: format!(
                                "the host is back on generation {}, but the on-chain amendment \
                                 is not sent yet ({e}); it is retried automatically",
                                rb.to.number
                            ),
                            chain_down: true,
                        });
                    }
                };
            }
        }
        files::write_json(files, &path, &rb)?;
    }
    Ok(rb)
}
