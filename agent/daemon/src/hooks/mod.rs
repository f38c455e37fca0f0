//! `[hooks] on_outcome`: a program the executor runs after each outcome, with the facts in
//! `DAO_*` environment variables (docs/hooks.md).
//!
//! A hook informs; it never decides. It runs on a thread of its own after the outcome is in the
//! journal, so the pipeline (and the outcome's report on chain) goes on without waiting for it,
//! and it is stopped at its timeout. Its failure, its hanging and its output are logged and
//! counted (`dao_agent_hook_runs_total`), nothing more.
//!
//! Where systemd runs the agent (`executor.switch_mode = "systemd"`), the hook runs in a
//! transient unit of its own (`dao-governance-hook-<proposal>-<unix ms>.service`, [`systemd`]),
//! so its processes, limits and log (`journalctl -u`) are its own and a stop of the agent's unit
//! does not cut it short. Elsewhere it is a child of the agent, in a process group of its own
//! that is killed as a whole at the timeout.
//!
//! The environment is built from nothing: `PATH` (the agent's) and the `DAO_*` facts, never the
//! agent's own environment (which may name its credentials).

mod direct;
mod drift;
pub mod systemd;

use crate::edges::System;
use crate::journal::{tag, Outcome, Record};
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

/// Where a hook runs.
#[derive(Debug, Clone)]
pub enum Runner {
    /// A child process of the agent.
    Direct,
    /// A transient unit, through systemd on this bus (None: the system bus).
    Systemd { bus: Option<String> },
}

/// How one run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ran {
    Ok,
    /// It ran and failed: how (an exit status, a signal, a unit's result).
    Failed(String),
    /// Stopped at the timeout.
    TimedOut,
    /// It could not be started at all.
    NotStarted(String),
}

impl Ran {
    /// The `result` label of `dao_agent_hook_runs_total`.
    pub fn label(&self) -> &'static str {
        match self {
            Ran::Ok => "ok",
            Ran::TimedOut => "timed_out",
            Ran::Failed(_) | Ran::NotStarted(_) => "failed",
        }
    }
}

pub struct Hooks {
    pub argv: Vec<String>,
    pub timeout: Duration,
    pub runner: Runner,
    pub host_id: u64,
    pub host_name: String,
    pub app_id: u64,
    /// What the host runs now, read when the hook starts.
    pub system: Arc<dyn System>,
}

/// The facts a hook gets, as `(name, value)` environment pairs.
pub fn facts(h: &Hooks, rec: &Record, outcome: &Outcome) -> Vec<(String, String)> {
    let running = h.system.current().ok().flatten();
    let mut env: Vec<(&str, String)> = vec![
        ("DAO_OUTCOME", tag(&outcome.status)),
        ("DAO_PROPOSAL", rec.proposal.to_string()),
        ("DAO_COMMIT", rec.head.clone()),
        ("DAO_BASE", rec.base.clone()),
        ("DAO_HOST", h.host_name.clone()),
        ("DAO_HOST_ID", h.host_id.to_string()),
        ("DAO_APP_ID", h.app_id.to_string()),
        (
            "DAO_STEP",
            outcome.step.map(|s| tag(&s)).unwrap_or_default(),
        ),
        ("DAO_REASON", outcome.reason.clone().unwrap_or_default()),
        (
            "DAO_TOPLEVEL",
            rec.toplevel
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        ),
        (
            "DAO_GENERATION",
            running
                .as_ref()
                .map(|g| g.number.to_string())
                .unwrap_or_default(),
        ),
        (
            "DAO_RUNNING_TOPLEVEL",
            running
                .as_ref()
                .map(|g| g.store_path.display().to_string())
                .unwrap_or_default(),
        ),
        (
            "DAO_PREVIOUS_GENERATION",
            rec.previous
                .as_ref()
                .map(|g| g.number.to_string())
                .unwrap_or_default(),
        ),
    ];
    if let Ok(path) = std::env::var("PATH") {
        env.push(("PATH", path));
    }
    env.into_iter()
        .map(|(k, v)| (k.to_owned(), clean(&v)))
        .collect()
}

/// A value an environment can carry: a reason may quote a build's output, whose NUL (refused
/// by exec) or terminal escapes (refused by systemd's `Environment=`) would keep the hook from
/// starting. Newlines and tabs stay.
fn clean(value: &str) -> String {
    value
        .chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                ' '
            } else {
                c
            }
        })
        .collect()
}

impl Hooks {
    /// Runs the hook for `outcome` on a thread of its own: returns at once.
    pub fn fire(self: &Arc<Self>, rec: &Record, outcome: &Outcome) {
        let (me, rec, outcome) = (Arc::clone(self), rec.clone(), outcome.clone());
        let spawned = std::thread::Builder::new()
            .name("dao-hook".into())
            .spawn(move || {
                me.run(&rec, &outcome);
            });
        if let Err(e) = spawned {
            warn!("cannot start a thread for the on_outcome hook: {e}");
            crate::metrics::hook_run("failed");
        }
    }

    /// Runs the hook and waits for it (at most its timeout and a few seconds); logs and counts
    /// how it went.
    pub fn run(&self, rec: &Record, outcome: &Outcome) -> Ran {
        let env = facts(self, rec, outcome);
        self.launch(rec.proposal, &tag(&outcome.status), &env)
    }

    /// Runs the hook with `env`, waits for it, logs and counts how it went.
    pub(crate) fn launch(&self, proposal: u64, status: &str, env: &[(String, String)]) -> Ran {
        let ran = match &self.runner {
            Runner::Direct => direct::run(&self.argv, env, self.timeout),
            Runner::Systemd { bus } => {
                systemd::run(bus.as_deref(), proposal, &self.argv, env, self.timeout)
            }
        };
        let program = self.argv.first().map_or("", String::as_str);
        match &ran {
            Ran::Ok => {
                info!(proposal, outcome = %status, program, "on_outcome hook ran")
            }
            Ran::Failed(why) => warn!(
                proposal,
                outcome = %status,
                program,
                "on_outcome hook failed ({why}); the deployment is unaffected"
            ),
            Ran::TimedOut => warn!(
                proposal,
                outcome = %status,
                program,
                timeout_s = self.timeout.as_secs(),
                "on_outcome hook stopped at its timeout (hooks.timeout); the deployment is unaffected"
            ),
            Ran::NotStarted(why) => warn!(
                proposal,
                outcome = %status,
                program,
                "on_outcome hook could not start: {why}; check hooks.on_outcome"
            ),
        }
        crate::metrics::hook_run(ran.label());
        ran
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_in_a_fact_become_spaces_and_lines_stay() {
        assert_eq!(
            super::clean("built\u{1b}[31m red\0x\nnext\tline"),
            "built [31m red x\nnext\tline"
        );
    }
}
