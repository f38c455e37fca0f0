//! One reproducible-build validator: `dao-agent --role validator` with its own state directory
//! and its own chroot Nix store, so that it builds every toplevel itself instead of finding the
//! hosts' builds in the shared /nix/store.
//!
//! ```text
//! validators/vera/agent.toml        the agent's configuration
//! validators/vera/state/            state_dir: validator/checkout, GC roots, watermark
//! validators/vera/store/            the chroot store (validator.store): nix/store/… inside
//! validators/vera/dao-agent.log     the agent's log
//! keys/vera.key                     its account key (mode 0600), also for claim-reward
//! ```

use crate::agent_proc::AgentProc;
use crate::bins::NIX_CONFIG;
use anyhow::{bail, Result};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The validators' names, in the order of their dev accounts after the hosts'.
pub const VALIDATORS: [&str; 2] = ["vera", "victor"];

/// A build in a chroot store always runs in Nix's sandbox (the store is mounted at /nix/store
/// there); the demo's derivations use /bin/sh and coreutils from the machine, so the sandbox
/// must see them. The hosts build in the shared store without a sandbox (`NIX_CONFIG`).
pub const SANDBOX_PATHS: &str = "sandbox-paths = /bin /lib /lib64 /usr";

pub struct Validator {
    agent: Option<AgentProc>,
    pub name: String,
    pub root: PathBuf,
    /// Its account: signs attestations and reward claims.
    pub address: String,
    /// Its key file, absolute (the agent's configuration).
    pub key_file: PathBuf,
    /// Its key file as the members' checkout sees it (`dao-agentctl claim-reward --key`).
    pub key: String,
    /// Where its agent serves /metrics on 127.0.0.1 (a free port).
    pub metrics_port: u16,
}

/// What a validator's agent is configured with besides its own paths.
pub struct ValidatorSettings<'a> {
    pub algod_url: &'a str,
    pub token_file: &'a Path,
    pub app_id: u64,
    pub remote: &'a str,
    /// The hosts it builds: (id, name).
    pub hosts: &'a [(u64, String)],
}

impl Validator {
    /// Lays out its directory; `key_file` is its key, already in place (mode 0600).
    pub fn create(name: &str, root: &Path, key_file: &Path, address: &str) -> Result<Validator> {
        for d in [root.to_path_buf(), root.join("state"), root.join("store")] {
            std::fs::create_dir_all(&d)?;
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(Validator {
            agent: None,
            name: name.to_owned(),
            root: root.to_path_buf(),
            address: address.to_owned(),
            key_file: key_file.to_path_buf(),
            key: format!("../keys/{name}.key"),
            // A free port is far above 2: the configured base below stays valid.
            metrics_port: dao_testkit::free_port(),
        })
    }

    pub fn config_path(&self) -> PathBuf {
        self.root.join("agent.toml")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.root.join("state")
    }

    pub fn store(&self) -> PathBuf {
        self.root.join("store")
    }

    pub fn log_path(&self) -> PathBuf {
        self.root.join("dao-agent.log")
    }

    /// Writes the agent's configuration (docs/examples/validator.toml, with a chroot store).
    pub fn write_config(&self, s: &ValidatorSettings<'_>) -> Result<()> {
        let hosts: Vec<String> = s
            .hosts
            .iter()
            .map(|(id, name)| format!("  {{ id = {id}, name = \"{name}\" }},"))
            .collect();
        let toml = format!(
            r#"# dao-agent --role validator {name}: builds every proposal for the hosts below in its
# own chroot store and attests each closure on chain; it never switches anything.
roles = ["validator"]
state_dir = "{state}"

[chain]
algod_url = "{algod}"
algod_token_file = "{token}"
app_id = {app}
network = "devnet"

[source]
allowed_remotes = ["{remote}"]

[keys]
account_key_file = "{key}"

[validator]
hosts = [
{hosts}
]
# Attest only (the default): the validators are not members here.
policy = "attest"
store = "{store}"

[metrics]
# `--role validator` serves on port + 2 (one port per role unit): {metrics_port} here.
enable = true
port = {metrics_base}
"#,
            metrics_port = self.metrics_port,
            metrics_base = self.metrics_port.saturating_sub(2),
            name = self.name,
            state = self.state_dir().display(),
            algod = s.algod_url,
            token = s.token_file.display(),
            app = s.app_id,
            remote = s.remote,
            key = self.key_file.display(),
            hosts = hosts.join("\n"),
            store = self.store().display(),
        );
        std::fs::write(self.config_path(), toml)?;
        Ok(())
    }

    /// Starts `dao-agent --role validator`; `wait_ready` waits for it.
    pub fn start_agent(&mut self, agent: &Path) -> Result<()> {
        let mut cmd = Command::new(agent);
        cmd.args(["--role", "validator", "--config"])
            .arg(self.config_path())
            // The agent adds `store = <validator.store>` to the NIX_CONFIG it inherits.
            .env("NIX_CONFIG", format!("{NIX_CONFIG}\n{SANDBOX_PATHS}"));
        let label = format!("validator {}", self.name);
        self.agent = Some(AgentProc::spawn(&label, cmd, &self.log_path())?);
        Ok(())
    }

    /// An error naming how the agent ended, if it has.
    pub fn check_agent(&mut self) -> Result<()> {
        self.agent.as_mut().map_or(Ok(()), AgentProc::check)
    }

    pub fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        match &mut self.agent {
            Some(a) => a.wait_ready(timeout),
            None => bail!("validator {} was not started", self.name),
        }
    }

    pub fn started(&self) -> bool {
        self.agent.is_some()
    }

    pub fn agent_pid(&self) -> Option<u32> {
        self.agent.as_ref().map(AgentProc::pid)
    }

    /// Stops the agent (SIGTERM; a build in progress is abandoned, nothing on a host changes).
    pub fn stop(&mut self) -> Result<()> {
        self.agent.take().map_or(Ok(()), AgentProc::stop)
    }
}
