//! A `dao-agent` process of the fleet, a host's or a validator's: started with its log file as
//! stdout and stderr and without the systemd unit variables of whoever runs the demo, and
//! ready once it logged `ready`.

use crate::devnet::tail;
use crate::interrupt;
use crate::process::Proc;
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Environment variables a parent under systemd may have set and an agent must not inherit:
/// it would notify, log to or take credentials from the parent's unit.
const UNIT_ENV: &[&str] = &[
    "NOTIFY_SOCKET",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
    "JOURNAL_STREAM",
    "LISTEN_FDS",
    "LISTEN_PID",
    "LISTEN_FDNAMES",
    "CREDENTIALS_DIRECTORY",
    "INVOCATION_ID",
];

pub struct AgentProc {
    proc: Proc,
    log: PathBuf,
    /// How errors name it: `the agent of web`, `validator vera`.
    label: String,
}

impl AgentProc {
    /// Runs `cmd` (the agent with its arguments and environment) with `log` appended to.
    pub fn spawn(label: &str, mut cmd: Command, log: &Path) -> Result<AgentProc> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)?;
        cmd.stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file);
        for v in UNIT_ENV {
            cmd.env_remove(v);
        }
        Ok(AgentProc {
            proc: Proc::spawn(label, cmd)?,
            log: log.to_path_buf(),
            label: label.to_owned(),
        })
    }

    /// An error naming how it ended, if it has.
    pub fn check(&mut self) -> Result<()> {
        if let Some(status) = self.proc.exited() {
            bail!("{} exited ({status}):\n{}", self.label, tail(&self.log));
        }
        Ok(())
    }

    /// Whether it logged `ready`; an error when it exited.
    pub fn ready(&mut self) -> Result<bool> {
        self.check()?;
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        Ok(text.lines().any(|l| l.ends_with("INFO ready")))
    }

    pub fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        let start = Instant::now();
        while !self.ready()? {
            interrupt::check()?;
            if start.elapsed() > timeout {
                bail!(
                    "{} was not ready after {} s:\n{}",
                    self.label,
                    timeout.as_secs(),
                    tail(&self.log)
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        Ok(())
    }

    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    /// SIGTERM, then SIGKILL after the grace period.
    pub fn stop(mut self) -> Result<()> {
        self.proc.stop(crate::process::GRACE)
    }
}
