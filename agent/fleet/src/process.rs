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
use wait_timeout::ChildExt;

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
        let gone = match &mut self.child {
            // Our child: wait-timeout sleeps until it exits (SIGCHLD) or the grace runs out.
            Some(c) => c.wait_timeout(grace)?.is_some(),
            // A daemon that detached is not our child, so nothing can wait for it: watch /proc.
            None => {
                let start = Instant::now();
                loop {
                    if !alive(self.pid) {
                        break true;
                    }
                    if start.elapsed() > grace {
                        break false;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        };
        if gone {
            return Ok(());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_that_ends_on_sigterm_is_stopped_without_waiting_out_the_grace() {
        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        let mut p = Proc::spawn("a sleeper", cmd).unwrap();
        assert_eq!(p.exited(), None);
        let start = Instant::now();
        p.stop(Duration::from_secs(10)).unwrap();
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
        assert!(!alive(p.pid()), "pid {} still runs", p.pid());
    }

    #[test]
    fn a_child_that_ignores_sigterm_is_killed_after_the_grace_and_named() {
        let mut cmd = Command::new("/bin/sh");
        // `exec`: one process, which ignores SIGTERM (an ignored signal stays ignored across exec).
        cmd.args(["-c", "trap '' TERM; exec sleep 30"]);
        let mut p = Proc::spawn("a stubborn sleeper", cmd).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let start = Instant::now();
        let e = p.stop(Duration::from_secs(1)).unwrap_err().to_string();
        let took = start.elapsed();
        assert!(took >= Duration::from_secs(1), "{took:?}");
        assert!(took < Duration::from_secs(5), "{took:?}");
        assert_eq!(
            e,
            format!(
                "a stubborn sleeper (pid {}) did not stop within 1 s of SIGTERM and was killed",
                p.pid()
            )
        );
        assert!(!alive(p.pid()), "pid {} still runs", p.pid());
        // Stopping again is a no-op.
        p.stop(Duration::from_secs(1)).unwrap();
    }
}
