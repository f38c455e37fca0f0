//! The processes the harness starts, each stopped by its own PID and by nothing broader.
//!
//! Children are started in their own process group, so a Ctrl-C on the terminal reaches the
//! harness alone, which then stops them in order. Daemons that detach (git daemon, dbus-daemon)
//! are signalled only after their `/proc/PID/cmdline` was checked to still be theirs.

use anyhow::{bail, Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// How long a process gets between SIGTERM and SIGKILL.
pub const GRACE: Duration = Duration::from_secs(15);

#[derive(Debug)]
pub struct Proc {
    name: String,
    pid: u32,
    child: Option<Child>,
    /// For a daemon that detached: a word its command line contains (guards against PID reuse).
    marker: Option<String>,
    done: bool,
}

impl Proc {
    /// Spawns `cmd` in its own process group.
    pub fn spawn(name: &str, mut cmd: Command) -> Result<Proc> {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {name} ({:?})", cmd.get_program()))?;
        Ok(Proc {
            name: name.to_owned(),
            pid: child.id(),
            child: Some(child),
            marker: None,
            done: false,
        })
    }

    /// A daemon that detached from the harness; `marker` must occur in its command line.
    pub fn detached(name: &str, pid: u32, marker: &str) -> Proc {
        Proc {
            name: name.to_owned(),
            pid,
            child: None,
            marker: Some(marker.to_owned()),
            done: false,
        }
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn nix_pid(&self) -> Result<Pid> {
        Ok(Pid::from_raw(
            i32::try_from(self.pid).context("a PID above i32::MAX")?,
        ))
    }

    /// Whether a detached daemon is still the process we started.
    fn still_ours(&self) -> bool {
        let Some(marker) = &self.marker else {
            return true;
        };
        std::fs::read(format!("/proc/{}/cmdline", self.pid))
            .map(|c| String::from_utf8_lossy(&c).contains(marker.as_str()))
            .unwrap_or(false)
    }

    /// `Some(description)` once the process has exited.
    pub fn exited(&mut self) -> Option<String> {
        if self.done {
            return Some("stopped".into());
        }
        match &mut self.child {
            Some(c) => match c.try_wait() {
                Ok(Some(status)) => Some(status.to_string()),
                Ok(None) => None,
                Err(e) => Some(format!("cannot be waited for: {e}")),
            },
            None => (!alive(self.pid) || !self.still_ours()).then(|| "exited".to_owned()),
        }
    }

    /// SIGTERM, then SIGKILL after `grace`; waits for a child to be reaped. Idempotent.
    pub fn stop(&mut self, grace: Duration) -> Result<()> {
        if self.done {
            return Ok(());
        }
        self.done = true;
        if self.child.is_none() && !self.still_ours() {
            return Ok(());
        }
        let pid = self.nix_pid()?;
        if let Some(child) = &mut self.child {
            if child.try_wait()?.is_some() {
                return Ok(());
            }
        }
        let _ = kill(pid, Signal::SIGTERM);
        let start = Instant::now();
        loop {
            let gone = match &mut self.child {
                Some(c) => c.try_wait()?.is_some(),
                None => !alive(self.pid),
            };
            if gone {
                return Ok(());
            }
            if start.elapsed() > grace {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = kill(pid, Signal::SIGKILL);
        if let Some(c) = &mut self.child {
            c.wait()?;
        }
        bail!(
            "{} (pid {}) did not stop within {} s of SIGTERM and was killed",
            self.name,
            self.pid,
            grace.as_secs()
        )
    }
}

/// Whether a process that is not our child still runs: a zombie waiting for its new parent to
/// reap it has exited.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // "PID (comm) STATE …"; comm may hold spaces and parentheses: take the last ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| state != 'Z' && state != 'X'),
        Err(_) => false,
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Err(e) = self.stop(GRACE) {
            eprintln!("dao-fleet: {e}");
        }
    }
}

/// `VmRSS` and `VmHWM` of a process, in KiB.
pub fn memory_kib(pid: u32) -> Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let field = |name: &str| -> Result<u64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("/proc/{pid}/status has no {name}"))
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}
