//! The executor's fixed context, derived once from the configuration and the app's global state:
//! where things live on this host and how each pipeline step is bounded.

use crate::edges::host::{CheckHealth, DiskFiles, GitSource, HostSystem, NixBuilder, SystemClock};
use crate::edges::Edges;
use crate::executor::activate::Profile;
use crate::executor::build::Nix;
use crate::executor::confirm::Check;
use crate::executor::pipeline::{DirectSwitch, Switcher, Timeouts};
use crate::executor::systemd::SystemdSwitch;
use dao_core::config::{Config, DriftPolicy, SwitchMode};
use git2::Oid;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub struct Setup {
    pub host: u64,
    pub host_name: String,
    pub app_id: u64,
    /// `<state_dir>/executor`: journal, GC roots, pause and rollback files.
    pub dir: PathBuf,
    pub checkout: PathBuf,
    pub allowed_remotes: Vec<String>,
    /// The repository the app governs (pinned at formation); it must be on the allow-list.
    pub pinned_remote: String,
    pub shallow: bool,
    pub flake_output: String,
    pub profile_path: PathBuf,
    pub switch_mode: SwitchMode,
    pub operator_group: Option<String>,
    pub genesis: Oid,
    pub timeouts: Timeouts,
    pub checks: Vec<Check>,
    /// What to do when the host runs a system the agent did not activate.
    pub drift: DriftPolicy,
    /// `/run/current-system` (`executor.current_system`).
    pub current_system: PathBuf,
    /// Who this agent is and where the running generation names its agent (the unit's
    /// `--self-upgrade-*` flags); None: never hands over by itself.
    pub upgrade: Option<super::upgrade::SelfUpgrade>,
}

impl Setup {
    /// Fails with a message naming the setting when the configuration cannot run an executor.
    pub fn new(cfg: &Config, pinned_repo: &str, genesis: [u8; 20]) -> Result<Setup, String> {
        let host = cfg
            .host
            .as_ref()
            .ok_or("the executor needs a [host] section with the host's id and flake output")?;
        let source = cfg
            .source
            .as_ref()
            .ok_or("the executor needs a [source] section with the allowed remotes")?;
        if !source.allowed_remotes.iter().any(|r| r == pinned_repo) {
            return Err(format!(
                "the app governs {pinned_repo:?}, which is not in source.allowed_remotes \
                 ({}): add it (mirrors may be listed besides it), or check chain.app_id",
                source.allowed_remotes.join(", ")
            ));
        }
        let genesis = Oid::from_bytes(&genesis)
            .map_err(|e| format!("the app's genesis commit is not an object id: {e}"))?;
        let e = &cfg.executor;
        let mut checks = Vec::new();
        if let Some(argv) = &e.health.command {
            checks.push(Check::Command(argv.clone()));
        }
        if e.health.check_remote {
            checks.push(Check::Remote(pinned_repo.to_owned()));
        }
        if !e.health.required_units.is_empty() {
            checks.push(Check::Units(e.health.required_units.clone()));
        }
        if e.health.check_chain {
            checks.push(Check::Chain {
                url: cfg.chain.algod_url.clone(),
                token_file: cfg.chain.algod_token_file.clone(),
            });
        }
        Ok(Setup {
            host: host.id,
            host_name: host.name.clone(),
            app_id: cfg.chain.app_id,
            dir: cfg.state_dir.join("executor"),
            checkout: source.checkout_dir.clone(),
            allowed_remotes: source.allowed_remotes.clone(),
            pinned_remote: pinned_repo.to_owned(),
            shallow: source.shallow,
            flake_output: host.flake_output.clone(),
            profile_path: e.system_profile.clone(),
            switch_mode: e.switch_mode,
            operator_group: e.operator_group.clone(),
            genesis,
            timeouts: Timeouts {
                fetch: e.fetch_timeout.0,
                dry_build: e.dry_build_timeout.0,
                build: e.build_timeout.0,
                switch: e.switch_timeout.0,
                health: e.health.timeout.0,
                health_interval: Duration::from_secs(1),
            },
            checks,
            drift: e.drift,
            current_system: e.current_system.clone(),
            upgrade: None,
        })
    }

    pub fn journal_dir(&self) -> PathBuf {
        self.dir.join("journal")
    }

    pub fn switch_timeout(&self) -> Duration {
        self.timeouts.switch
    }

    pub fn profile(&self) -> Profile {
        Profile {
            path: self.profile_path.clone(),
            nix_env: PathBuf::from("nix-env"),
            env: Vec::new(),
        }
    }

    /// Where a direct-mode switch in flight is recorded (see executor::direct).
    pub fn switch_record(&self) -> PathBuf {
        self.dir.join("switch.json")
    }

    pub fn instance_lock(&self) -> PathBuf {
        self.dir.join("agent.lock")
    }

    pub fn switcher(&self) -> Box<dyn Switcher + Send + Sync> {
        match self.switch_mode {
            SwitchMode::Direct => Box::new(DirectSwitch {
                record: Some(self.switch_record()),
            }),
            SwitchMode::Systemd => Box::new(SystemdSwitch::system()),
        }
    }

    /// This host's real edges.
    pub fn edges(&self) -> Edges {
        Edges {
            clock: Arc::new(SystemClock),
            files: Arc::new(DiskFiles),
            source: Arc::new(GitSource {
                checkout: self.checkout.clone(),
                allowed_remotes: self.allowed_remotes.clone(),
                pinned_remote: Some(self.pinned_remote.clone()),
                shallow: self.shallow,
            }),
            builder: Arc::new(NixBuilder {
                nix: Nix {
                    program: PathBuf::from("nix"),
                    env: Vec::new(),
                },
                checkout: self.checkout.clone(),
                flake_output: self.flake_output.clone(),
                shallow: self.shallow,
                gc_roots: self.dir.join("gc-roots"),
            }),
            system: Arc::new(HostSystem {
                profile: self.profile(),
                switcher: self.switcher(),
                current_system: self.current_system.clone(),
            }),
            health: Arc::new(CheckHealth(self.checks.clone())),
        }
    }
}
