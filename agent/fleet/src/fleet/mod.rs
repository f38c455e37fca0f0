//! The harness: a devnet, the governed repository and its git daemon, a DAO of three members,
//! N sandboxed hosts each running `dao-agent`, and optionally reproducible-build validators;
//! then proposals, votes and the hosts' reports. Everything it starts is stopped by PID, and its
//! directory removed, when it is dropped.
//!
//! The parts: `start.rs` sets the fleet up (devnet, repository, hosts, the DAO's formation,
//! agents); `ctl.rs` runs `dao-agentctl` as members and operators do; `watch.rs` reads the chain
//! and waits for the hosts' reports; `validators.rs` funds the treasury, starts validators and
//! runs the commands about them; this file holds the fleet's types and its teardown.

mod ctl;
mod start;
mod validators;
mod watch;

pub use start::build_toplevels;

use crate::bins::Binaries;
use crate::devnet::Devnet;
use crate::host::Host;
use crate::proxy::CountingProxy;
use crate::repo::{Flake, GovernedRepo};
use crate::story::Story;
use crate::validator::Validator;
use anyhow::{Context, Result};
use dao_chain::decode::ReportStatus;
use dao_chain::App;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub struct FleetOptions {
    /// Host names; host ids are 1, 2, … in this order.
    pub hosts: Vec<String>,
    /// `executor.health.timeout` of every host.
    pub health_timeout: String,
    /// The devnet's empty-block interval.
    pub block_interval: String,
    /// Put a counting proxy in front of the devnet for each agent (benchmarks).
    pub count_requests: bool,
    /// Keep the directory (logs, journals, repositories) instead of removing it.
    pub keep: bool,
    /// How long an agent may take to be ready.
    pub ready_timeout: Duration,
    /// Reproducible-build validators (`validator::VALIDATORS`, dev accounts after the hosts'),
    /// each building every host in its own chroot store; 0: none, the quorum off.
    pub validators: usize,
    /// How many of them start with the fleet; the others wait for [`Fleet::start_validator`].
    pub validators_started: usize,
    /// The attestation quorum k given to `form` (hosts switch only on what k validators built).
    pub attest_quorum: u64,
    /// µAlgo the treasury pays per attestation that matched the agreement.
    pub attest_reward: u64,
    /// µAlgo alice pays into the treasury after the formation, for the rewards.
    pub treasury: u64,
}

impl FleetOptions {
    pub fn new(hosts: &[&str]) -> FleetOptions {
        FleetOptions {
            hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
            health_timeout: "3s".into(),
            block_interval: "2s".into(),
            count_requests: false,
            keep: false,
            ready_timeout: Duration::from_secs(60),
            validators: 0,
            validators_started: 0,
            attest_quorum: 0,
            attest_reward: 0,
            treasury: 0,
        }
    }
}

/// A member of the DAO and its key file.
#[derive(Debug, Clone)]
pub struct Member {
    pub name: String,
    pub weight: u64,
    pub address: String,
    /// Relative to the checkout, where the commands run: `../keys/alice.key`.
    pub key: String,
}

/// The members: different weights, so one against vote does not decide.
pub const MEMBERS: [(&str, u64); 3] = [("alice", 50), ("bob", 30), ("carol", 20)];

/// A finished `dao-agentctl` run.
#[derive(Debug, Clone)]
pub struct CtlRun {
    pub success: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl CtlRun {
    pub fn json(&self) -> Result<serde_json::Value> {
        serde_json::from_str(&self.stdout)
            .with_context(|| format!("dao-agentctl printed no JSON: {}", self.stdout))
    }
}

/// A host's report as it landed on chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Landed {
    pub status: ReportStatus,
    pub generation: u64,
    pub toplevel_sha256: [u8; 32],
    /// When the harness saw it, since the reference instant given to the wait.
    pub after: Duration,
    /// The round of the report, from the host's journal.
    pub round: Option<u64>,
}

pub fn status_name(s: ReportStatus) -> &'static str {
    s.as_str()
}

/// Wall-clock milliseconds since the Unix epoch (the journal's clock).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The directory of a fleet, removed last unless kept.
struct DirGuard {
    path: PathBuf,
    keep: bool,
}

impl Drop for DirGuard {
    fn drop(&mut self) {
        if self.keep {
            println!("kept {}", self.path.display());
        } else if let Err(e) = std::fs::remove_dir_all(&self.path) {
            eprintln!("dao-fleet: cannot remove {}: {e}", self.path.display());
        }
    }
}

/// When each block was first seen (wall-clock ms), recorded by a follower of the devnet.
#[derive(Clone, Default)]
pub struct BlockClock {
    seen: Arc<Mutex<BTreeMap<u64, u64>>>,
}

impl BlockClock {
    pub fn at(&self, round: u64) -> Option<u64> {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&round)
            .copied()
    }

    /// The last round seen at or before `ms`.
    pub fn round_at(&self, ms: u64) -> Option<u64> {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(_, t)| **t <= ms)
            .map(|(r, _)| *r)
            .max()
    }
}

// Fields drop in this order: validators, agents and buses, proxies, git daemon, devnet, runtime,
// directory.
pub struct Fleet {
    pub validators: Vec<Validator>,
    pub hosts: Vec<Host>,
    pub proxies: Vec<CountingProxy>,
    pub repo: GovernedRepo,
    pub devnet: Devnet,
    pub rt: tokio::runtime::Runtime,
    pub app: App,
    pub members: Vec<Member>,
    /// The configuration on branch main.
    pub flake: Flake,
    pub bins: Binaries,
    pub story: Story,
    pub root: PathBuf,
    pub sealed_round: u64,
    dir: DirGuard,
}

/// The token file as the commands see it from the checkout.
const TOKEN: &str = "../devnet/algod.token";

impl Fleet {
    /// A path under the fleet's directory, as `$FLEET/…`.
    pub fn rel(&self, p: &Path) -> String {
        match p.strip_prefix(&self.root) {
            Ok(r) => format!("$FLEET/{}", r.display()),
            Err(_) => p.display().to_string(),
        }
    }

    pub fn host(&self, name: &str) -> Result<&Host> {
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .with_context(|| format!("no host {name}"))
    }

    pub fn validator(&self, name: &str) -> Result<&Validator> {
        self.validators
            .iter()
            .find(|v| v.name == name)
            .with_context(|| format!("no validator {name}"))
    }

    pub fn member(&self, name: &str) -> Result<&Member> {
        self.members
            .iter()
            .find(|m| m.name == name)
            .with_context(|| format!("no member {name}"))
    }

    /// Stops every validator, agent, bus, the git daemon and the devnet, in that order; the first
    /// error.
    pub fn stop(&mut self) -> Result<()> {
        let mut first: Result<()> = Ok(());
        for v in &mut self.validators {
            if let Err(e) = v.stop() {
                if first.is_ok() {
                    first = Err(e);
                }
            }
        }
        for h in &mut self.hosts {
            if let Err(e) = h.stop() {
                if first.is_ok() {
                    first = Err(e);
                }
            }
        }
        if let Err(e) = self.repo.stop() {
            if first.is_ok() {
                first = Err(e);
            }
        }
        if let Err(e) = self.devnet.stop() {
            if first.is_ok() {
                first = Err(e);
            }
        }
        first
    }

    /// The PIDs of everything the fleet started (to check they are gone afterwards).
    pub fn pids(&self) -> Vec<u32> {
        let mut out = vec![self.devnet.pid(), self.repo.daemon_pid()];
        for h in &self.hosts {
            out.extend(h.agent_pid());
            out.extend(h.bus_pid());
        }
        out.extend(self.validators.iter().filter_map(Validator::agent_pid));
        out
    }

    pub fn all_ids(&self) -> Vec<u64> {
        self.hosts.iter().map(|h| h.id).collect()
    }

    pub fn keep(&mut self, keep: bool) {
        self.dir.keep = keep;
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        let n = self.pids().len();
        match self.stop() {
            Ok(()) => self.story.say(&format!(
                "stopped the {n} processes the fleet started (agents, {}buses, git daemon, \
                 devnet){}",
                if self.validators.is_empty() {
                    ""
                } else {
                    "validators, "
                },
                if self.dir.keep {
                    String::new()
                } else {
                    format!(" and removed {}", self.root.display())
                }
            )),
            Err(e) => eprintln!("dao-fleet: stopping the fleet: {e}"),
        }
    }
}
