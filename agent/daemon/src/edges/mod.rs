//! The executor's I/O edges: everything the pipeline, the journal, recovery and the deployer
//! touch outside their own memory — the clock, the files of the state directory, git, Nix, the
//! system profile and its switch, health checks, and the chain.
//!
//! Each edge is a trait with the real implementation beside it ([`host`], and the chain edge in
//! `daemon::chain`) and a simulated one in `dao-sim`, so that the simulator drives the real
//! decision code under faults it chooses, step by step, from a seed (docs/safety.md).

pub mod host;

use crate::daemon::survey::{Cache, Survey};
use crate::executor::activate::ActivateError;
use crate::executor::fetch::{FetchError, Fetched};
use crate::executor::Approved;
use crate::journal::record::{Generation, Status};
use dao_chain::validation::Validation;
use git2::Oid;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;

/// Wall-clock time. Chain time (block timestamps) comes from the chain edge.
pub trait Clock: Send + Sync {
    /// Unix time in milliseconds.
    fn now_ms(&self) -> u64;
    /// Blocks the calling (blocking) thread for `d`.
    fn sleep(&self, d: Duration);
}

/// Held while an instance owns its state directory; dropping it releases the lock.
pub trait InstanceLock: Send + Sync {}

/// The files of the state directory: journal records, the pause, the operator rollback, the
/// switch record. Writes replace a file whole and durably (a reader sees the old content or the
/// new, never a mix).
pub trait Files: Send + Sync {
    /// The file's bytes, None when it does not exist.
    fn read(&self, path: &Path) -> io::Result<Option<Vec<u8>>>;
    /// Replaces `path` with `bytes` atomically and durably; the error names the file it was on.
    fn replace(&self, path: &Path, bytes: &[u8]) -> Result<(), (PathBuf, io::Error)>;
    /// Removes `path` durably; a missing file is not an error.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Creates `dir` (mode 0700) and its parents.
    fn create_dir(&self, dir: &Path) -> io::Result<()>;
    /// The entries of `dir`, sorted.
    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>>;
    /// Takes the one-instance lock at `path` for this process's life, or says who holds it.
    fn lock_instance(&self, path: &Path) -> Result<Box<dyn InstanceLock>, String>;
}

/// The governed repository: fetch the approved commits and verify them.
pub trait Source: Send + Sync {
    fn fetch(&self, commits: &[Oid], timeout: Duration) -> Result<Fetched, FetchError>;
    /// Checks each change of `plan` against what was approved (commit ids, diff hash).
    fn verify(&self, plan: &[Approved]) -> Result<(), String>;
}

/// What to build: the approved head of a proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildTarget {
    pub proposal: u64,
    pub commit: Oid,
}

/// Nix: evaluate and build this host's toplevel.
pub trait Builder: Send + Sync {
    fn dry_build(&self, target: BuildTarget, timeout: Duration) -> Result<(), String>;
    /// Builds the toplevel and keeps it alive with a GC root; returns its store path.
    fn build(&self, target: BuildTarget, timeout: Duration) -> Result<PathBuf, String>;
    /// The closure hash of a built toplevel (executor/closure.rs): what validators attest.
    fn closure(&self, toplevel: &Path) -> Result<[u8; 32], String>;
}

/// What `switch-to-configuration` is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Activate and make it the boot default: what a deployment does.
    Switch,
    /// Make it the boot default only, leave the running system alone.
    Boot,
    /// Activate only, leave the boot default alone (`nixos-rebuild test`).
    Test,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Switch => "switch",
            Action::Boot => "boot",
            Action::Test => "test",
        }
    }
}

/// The system profile and switch-to-configuration.
pub trait System: Send + Sync {
    /// The generation the profile points at, None for a profile without generations.
    fn current(&self) -> Result<Option<Generation>, ActivateError>;
    fn generation(&self, number: u64) -> Result<Generation, ActivateError>;
    /// Makes `toplevel` the profile's current generation and returns it.
    fn set(&self, toplevel: &Path, timeout: Duration) -> Result<Generation, ActivateError>;
    /// Points the profile back at exactly `generation` (still the recorded store path).
    fn restore(&self, generation: &Generation, timeout: Duration) -> Result<(), ActivateError>;
    /// Runs `switch-to-configuration switch` of `toplevel`, after any earlier switch ended.
    fn switch(&self, toplevel: &Path, timeout: Duration) -> Result<(), ActivateError>;
    /// Runs `switch-to-configuration boot` or `test` (or `switch`) of `toplevel`, after any
    /// earlier switch ended: what a reactivation's revert needs to run a system that is not the
    /// profile's while the next boot stays the profile's.
    fn activate(
        &self,
        toplevel: &Path,
        action: Action,
        timeout: Duration,
    ) -> Result<(), ActivateError>;
    /// Waits until no switch started before (by an agent that crashed, say) is running; names
    /// those it waited for. Called before deciding anything about the host's state.
    fn settle(&self, timeout: Duration) -> Result<Vec<String>, ActivateError>;
    /// The system the host runs (`/run/current-system`'s target), None when the link is absent
    /// (a host that never switched). What drift is measured on.
    fn running(&self) -> io::Result<Option<PathBuf>>;
}

/// ConfirmHealth: every configured check passes within `timeout`, polled every `interval`.
pub trait Health: Send + Sync {
    fn confirm(&self, timeout: Duration, interval: Duration) -> Result<(), String>;
}

/// The I/O edges one executor uses.
#[derive(Clone)]
pub struct Edges {
    pub clock: Arc<dyn Clock>,
    pub files: Arc<dyn Files>,
    pub source: Arc<dyn Source>,
    pub builder: Arc<dyn Builder>,
    pub system: Arc<dyn System>,
    pub health: Arc<dyn Health>,
}

/// The chain, as the executor needs it: what is ready for this host, whether a proposal may
/// still be activated (the gate), and the host's reports.
pub trait Chain: Reporter + Gate + Send + Sync {
    /// What the chain says about this host now (re-verified with the rules engine).
    fn survey(&self, host: u64, cache: &mut Cache) -> Result<Survey, String>;
    /// The status of (proposal, host)'s report, and whether its rollback amendment exists.
    fn reports(&self, proposal: u64, host: u64) -> Result<(Option<Status>, bool), ReportError>;
    /// The address registered as `host`'s agent, None when the app has no such host.
    fn host_agent(&self, host: u64) -> Result<Option<String>, String>;
    /// The address this agent signs its reports with.
    fn signer_address(&self) -> String;
}

// ------------------------------------------------------------------ the chain's edges

/// What is reported on chain for one (proposal, host).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeReport {
    pub proposal: u64,
    pub host: u64,
    pub status: Status,
    /// SHA-256 of the toplevel store path the host runs after this deployment.
    pub toplevel_sha256: [u8; 32],
    /// The profile generation the host runs after this deployment.
    pub generation: u64,
    /// SHA-256 of the deployment's step log (the journal's steps as JSON).
    pub logs_sha256: [u8; 32],
}

#[derive(Debug, Error)]
#[error("{0}")]
pub struct ReportError(pub String);

/// Where outcomes go: the app, through the chain client.
pub trait Reporter {
    /// The status already on chain for (proposal, host): asked before every send, so that a crash
    /// between sending and journaling never sends a report twice.
    fn find(&self, proposal: u64, host: u64) -> Result<Option<Status>, ReportError>;
    /// Sends a report and waits for it to be confirmed; returns the transaction id and round.
    fn send(&self, report: &OutcomeReport) -> Result<(String, u64), ReportError>;
}

/// How switch-to-configuration is run: directly, or in a transient systemd unit.
pub trait Switcher {
    fn switch(&self, toplevel: &Path, timeout: Duration) -> Result<(), ActivateError> {
        self.run_action(toplevel, Action::Switch, timeout)
    }
    /// `switch-to-configuration ACTION` of `toplevel`.
    fn run_action(
        &self,
        toplevel: &Path,
        action: Action,
        timeout: Duration,
    ) -> Result<(), ActivateError>;
    /// Waits for a switch that an earlier agent process left running; names those waited for.
    fn settle(&self, _timeout: Duration) -> Result<Vec<String>, ActivateError> {
        Ok(Vec::new())
    }
}

/// Whether a proposal may still be activated, as the chain says right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Queued and inside its execution window.
    Open,
    /// Its window has ended: it is never activated; the reason says when it ended.
    Expired(String),
    /// The chain no longer shows it approved (or the tally does not verify).
    NotApproved(String),
}

/// Re-checks a proposal against the chain immediately before the host changes, whatever the
/// journal says (docs/safety.md, S2).
pub trait Gate {
    fn standing(&self, proposal: u64) -> Result<Standing, ReportError>;
    /// The attestation quorum the proposal was created with and where the validators stand for
    /// this host (docs/validators.md).
    fn attestations(&self, proposal: u64, host: u64) -> Result<Attestations, ReportError>;
}

/// What the chain says about the validators of one (proposal, host).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Attestations {
    /// The proposal's attestation quorum (0 = off).
    pub quorum: u64,
    /// How many validators the app has now.
    pub validators: u64,
    pub validation: Validation,
}
