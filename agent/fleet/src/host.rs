//! One sandboxed host: a directory laid out like a NixOS machine's, with its own system profile,
//! `/run/current-system`, private system bus (a dbus-daemon), agent configuration, key, state
//! directory and `dao-agent`.
//!
//! ```text
//! hosts/web/etc/dao-governance/agent.toml    the agent's configuration
//! hosts/web/etc/dao-governance/account.key   the host's agent key (mode 0600)
//! hosts/web/etc/dbus-1/system.conf           its bus, with the policy shipped with the agent
//! hosts/web/run/dbus/system_bus_socket
//! hosts/web/run/current-system               -> the toplevel switched to last
//! hosts/web/nix/var/nix/profiles/system      the system profile (system-N-link generations)
//! hosts/web/var/lib/dao-governance           state: journal, checkout, GC roots
//! hosts/web/var/log/dao-agent.log            the agent's log
//! hosts/web/switch.log                       every switch-to-configuration run
//! ```

use crate::agent_proc::AgentProc;
use crate::bins::NIX_CONFIG;
use crate::devnet::tail;
use crate::process::Proc;
use crate::repo::run;
use anyhow::{bail, Context, Result};
use dao_testkit::bus::{config, Policy};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub struct Host {
    // Declared first: dropped (stopped) before its bus.
    agent: Option<AgentProc>,
    bus: Option<Proc>,
    pub id: u64,
    pub name: String,
    pub root: PathBuf,
    /// The agent's account (signs its reports).
    pub address: String,
    pub bus_address: String,
    /// Where its agent serves /metrics on 127.0.0.1 (a free port).
    pub metrics_port: u16,
}

/// What a host's agent is configured with besides its own paths.
pub struct AgentSettings<'a> {
    pub algod_url: &'a str,
    pub token_file: &'a Path,
    pub app_id: u64,
    pub remote: &'a str,
    pub health_timeout: &'a str,
}

/// The profile and what the host runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostState {
    /// The profile's current generation.
    pub generation: Option<u64>,
    /// All generations of the profile, ascending.
    pub generations: Vec<u64>,
    /// The store path of the current generation.
    pub profile_path: Option<PathBuf>,
    /// What `/run/current-system` points at (the last switch).
    pub running: Option<PathBuf>,
}

/// `nixos-system-web-2` from `/nix/store/<hash>-nixos-system-web-2`.
pub fn system_name(p: &Path) -> String {
    let f = p
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    match f.split_once('-') {
        Some((_, name)) => name.to_owned(),
        None => f,
    }
}

fn mkdir(p: &Path, mode: u32) -> Result<()> {
    std::fs::create_dir_all(p).with_context(|| format!("creating {}", p.display()))?;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

impl Host {
    /// Lays out the sandbox and installs the host's agent key (a copy of `key`, mode 0600).
    pub fn create(id: u64, name: &str, root: &Path, key: &Path, address: &str) -> Result<Host> {
        // Traversable (0711) so an unprivileged user can reach the bus socket, as on a host.
        for d in [root, &root.join("run"), &root.join("run/dbus")] {
            mkdir(d, 0o711)?;
        }
        for d in ["etc/dao-governance", "etc/dbus-1", "var/log"] {
            mkdir(&root.join(d), 0o700)?;
        }
        mkdir(&root.join("nix/var/nix/profiles"), 0o755)?;
        mkdir(&root.join("var/lib/dao-governance"), 0o700)?;
        let key_file = root.join("etc/dao-governance/account.key");
        std::fs::copy(key, &key_file)
            .with_context(|| format!("copying the agent key {}", key.display()))?;
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600))?;
        Ok(Host {
            agent: None,
            bus: None,
            id,
            name: name.to_owned(),
            root: root.to_path_buf(),
            address: address.to_owned(),
            bus_address: format!(
                "unix:path={}",
                root.join("run/dbus/system_bus_socket").display()
            ),
            metrics_port: dao_testkit::free_port(),
        })
    }

    pub fn config_path(&self) -> PathBuf {
        self.root.join("etc/dao-governance/agent.toml")
    }

    pub fn key_file(&self) -> PathBuf {
        self.root.join("etc/dao-governance/account.key")
    }

    pub fn profile(&self) -> PathBuf {
        self.root.join("nix/var/nix/profiles/system")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.root.join("var/lib/dao-governance")
    }

    pub fn log_path(&self) -> PathBuf {
        self.root.join("var/log/dao-agent.log")
    }

    pub fn switch_log_path(&self) -> PathBuf {
        self.root.join("switch.log")
    }

    /// The journal record of a proposal, if the agent wrote one.
    pub fn journal(&self, proposal: u64) -> Result<Option<serde_json::Value>> {
        let p = self.state_dir().join(format!(
            "executor/journal/proposal-{proposal}-host-{}.json",
            self.id
        ));
        match std::fs::read(&p) {
            Ok(bytes) => Ok(Some(
                serde_json::from_slice(&bytes).with_context(|| format!("{}", p.display()))?,
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", p.display())),
        }
    }

    /// Each line of the switch log: `<unix ms> <host> v<version> <action>`.
    pub fn switch_log(&self) -> Result<Vec<String>> {
        match std::fs::read_to_string(self.switch_log_path()) {
            Ok(t) => Ok(t.lines().map(str::to_owned).collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e.into()),
        }
    }

    /// The switches, without their times: `web v2 switch`.
    pub fn switches(&self) -> Result<Vec<String>> {
        Ok(self
            .switch_log()?
            .iter()
            .filter_map(|l| l.split_once(' ').map(|(_, rest)| rest.to_owned()))
            .collect())
    }

    pub fn state(&self) -> Result<HostState> {
        let profile = self.profile();
        let dir = profile
            .parent()
            .context("the profile has no directory")?
            .to_path_buf();
        let mut generations = Vec::new();
        for e in std::fs::read_dir(&dir)? {
            let n = e?.file_name().to_string_lossy().into_owned();
            if let Some(g) = n
                .strip_prefix("system-")
                .and_then(|r| r.strip_suffix("-link"))
                .and_then(|g| g.parse::<u64>().ok())
            {
                generations.push(g);
            }
        }
        generations.sort_unstable();
        let generation = std::fs::read_link(&profile).ok().and_then(|l| {
            l.to_string_lossy()
                .strip_prefix("system-")
                .and_then(|r| r.strip_suffix("-link"))
                .and_then(|g| g.parse().ok())
        });
        let profile_path = generation
            .and_then(|g: u64| std::fs::read_link(dir.join(format!("system-{g}-link"))).ok());
        let running = std::fs::read_link(self.root.join("run/current-system")).ok();
        Ok(HostState {
            generation,
            generations,
            profile_path,
            running,
        })
    }

    /// Makes `toplevel` the profile's first generation and switches to it, as the machine's
    /// installation would.
    pub fn install(&self, toplevel: &Path) -> Result<()> {
        run({
            let mut c = Command::new("nix-env");
            c.env("NIX_CONFIG", NIX_CONFIG)
                .arg("-p")
                .arg(self.profile())
                .arg("--set")
                .arg(toplevel);
            c
        })?;
        run({
            let mut c = Command::new(toplevel.join("bin/switch-to-configuration"));
            c.arg("switch").env("DAO_FLEET_HOST_ROOT", &self.root);
            c
        })?;
        Ok(())
    }

    /// Starts the host's system bus: a dbus-daemon of type system with the agent's policy.
    pub fn start_bus(&mut self, policy: &Path) -> Result<()> {
        let conf = self.root.join("etc/dbus-1/system.conf");
        let socket = self.root.join("run/dbus/system_bus_socket");
        // A system bus's default policy, plus the policy shipped with the agent.
        std::fs::write(&conf, config(&socket, Policy::Strict(policy)))?;
        let out_file = self.root.join("run/dbus/daemon.out");
        let err_file = self.root.join("var/log/dbus-daemon.log");
        // Files, not pipes: the forked daemon must not hold a pipe we wait on.
        let status = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", conf.display()))
            .args(["--print-pid=1", "--fork", "--nosyslog"])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out_file)?)
            .stderr(std::fs::File::create(&err_file)?)
            .status()
            .context("cannot run dbus-daemon (apt-get install dbus-daemon)")?;
        if !status.success() {
            bail!(
                "dbus-daemon for host {} failed ({status}): {}",
                self.name,
                tail(&err_file)
            );
        }
        let pid: u32 = std::fs::read_to_string(&out_file)?
            .trim()
            .parse()
            .context("dbus-daemon printed no PID")?;
        self.bus = Some(Proc::detached(
            &format!("the system bus of {}", self.name),
            pid,
            "dbus-daemon",
        ));
        let start = Instant::now();
        while !socket.exists() {
            if start.elapsed() > Duration::from_secs(10) {
                bail!("the bus of host {} did not listen within 10 s", self.name);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }

    /// Writes the agent's configuration.
    pub fn write_config(&self, s: &AgentSettings<'_>) -> Result<()> {
        let toml = format!(
            r#"# dao-agent on sandboxed host {name} (docs/configuration.md)
roles = ["executor"]
state_dir = "{state}"

[chain]
algod_url = "{algod}"
algod_token_file = "{token}"
app_id = {app}
network = "devnet"

[host]
id = {id}
name = "{name}"
# flake_output defaults to nixosConfigurations."{name}".config.system.build.toplevel

[source]
allowed_remotes = ["{remote}"]

[executor]
system_profile = "{profile}"
# No systemd on this machine: switch-to-configuration runs as the agent's child.
switch_mode = "direct"
# This host's "/" is its sandbox: drift is read from its own run/current-system.
current_system = "{root}/run/current-system"

[executor.health]
timeout = "{health}"
command = ["/bin/sh", "-c", "test -e {root}/run/current-system/healthy"]

[keys]
account_key_file = "{key}"

[metrics]
# /metrics on 127.0.0.1 (`dao-demo --dump DIR` saves its last scrape).
enable = true
port = {metrics}
"#,
            metrics = self.metrics_port,
            name = self.name,
            state = self.state_dir().display(),
            algod = s.algod_url,
            token = s.token_file.display(),
            app = s.app_id,
            id = self.id,
            remote = s.remote,
            profile = self.profile().display(),
            health = s.health_timeout,
            root = self.root.display(),
            key = self.key_file().display(),
        );
        std::fs::write(self.config_path(), toml)?;
        Ok(())
    }

    /// Starts `dao-agent` on the host's bus; `wait_ready` waits for it.
    pub fn start_agent(&mut self, agent: &Path) -> Result<()> {
        let mut cmd = Command::new(agent);
        cmd.arg("--config")
            .arg(self.config_path())
            .env("DBUS_SYSTEM_BUS_ADDRESS", &self.bus_address)
            .env("NIX_CONFIG", NIX_CONFIG)
            .env("DAO_FLEET_HOST_ROOT", &self.root);
        let label = format!("the agent of {}", self.name);
        self.agent = Some(AgentProc::spawn(&label, cmd, &self.log_path())?);
        Ok(())
    }

    pub fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        match &mut self.agent {
            Some(a) => a.wait_ready(timeout),
            None => bail!("the agent of {} was not started", self.name),
        }
    }

    pub fn agent_pid(&self) -> Option<u32> {
        self.agent.as_ref().map(AgentProc::pid)
    }

    pub fn bus_pid(&self) -> Option<u32> {
        self.bus.as_ref().map(Proc::pid)
    }

    /// Whether the agent is still running (an error names how it ended).
    pub fn check_agent(&mut self) -> Result<()> {
        self.agent.as_mut().map_or(Ok(()), AgentProc::check)
    }

    /// Stops the agent (SIGTERM: it finishes an activation in progress) and then its bus.
    pub fn stop(&mut self) -> Result<()> {
        let mut first = Ok(());
        if let Some(a) = self.agent.take() {
            first = a.stop();
        }
        if let Some(mut b) = self.bus.take() {
            let r = b.stop(crate::process::GRACE);
            if first.is_ok() {
                first = r;
            }
        }
        first
    }
}
