//! The direct switch mode: `switch-to-configuration switch` runs as the agent's child, in its own
//! process group, for machines without systemd.
//!
//! A child outlives an agent killed with -9. So that a restarted agent never starts a second
//! switch beside it, the switch is recorded in a file before it starts (its toplevel) and as
//! soon as it runs (its pid and the kernel's start time of that pid); [`DirectSwitch::settle`]
//! waits for a recorded switch that still runs before anything is decided.

use super::activate::ActivateError;
use super::command::{self, CommandError};
use crate::edges::host::replace_file;
use crate::edges::{Action, Switcher};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The direct mode. `record` is the file that tells a restarted agent about a switch in flight
/// (`<state_dir>/executor/switch.json`); without one, a leftover switch is not detected.
#[derive(Debug, Clone, Default)]
pub struct DirectSwitch {
    pub record: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct InFlight {
    toplevel: PathBuf,
    /// The child's pid, which is also its process group id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pid: Option<u32>,
    /// The pid's start time in clock ticks since boot (/proc/PID/stat, field 22): a pid that
    /// was reused by another process has another start time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    start_time: Option<u64>,
}

fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields restart after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether the recorded switch (or anything left of its process group) still runs.
fn still_running(r: &InFlight) -> bool {
    match r.pid {
        Some(pid) => {
            let leader_is_ours = start_time(pid).is_some_and(|t| Some(t) == r.start_time);
            // A pid is not handed out again while a process group of that id exists, so a live
            // group is ours even after its leader is gone.
            let group_alive = i32::try_from(pid).is_ok_and(|p| {
                nix::sys::signal::killpg(nix::unistd::Pid::from_raw(p), None).is_ok()
            });
            leader_is_ours
                || (group_alive && start_time(pid).is_none_or(|t| Some(t) == r.start_time))
        }
        // Crashed between recording the intent and the pid: look for the toplevel's switch.
        None => switch_processes(&r.toplevel) > 0,
    }
}

/// How many processes run `<toplevel>/bin/switch-to-configuration` (directly or through an
/// interpreter).
fn switch_processes(toplevel: &Path) -> usize {
    let program = toplevel.join("bin/switch-to-configuration");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .filter(|cmdline| {
            cmdline
                .split(|b| *b == 0)
                .any(|arg| arg == program.as_os_str().as_encoded_bytes())
        })
        .count()
}

impl DirectSwitch {
    fn write(&self, r: &InFlight) -> Result<(), ActivateError> {
        let Some(path) = &self.record else {
            return Ok(());
        };
        let bytes = serde_json::to_vec(r).map_err(|e| record_error(path, e.to_string()))?;
        replace_file(path, &bytes).map_err(|(p, e)| record_error(&p, e.to_string()))
    }

    fn clear(&self) -> Result<(), ActivateError> {
        match &self.record {
            Some(path) => match std::fs::remove_file(path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(record_error(path, e.to_string())),
            },
            None => Ok(()),
        }
    }
}

fn record_error(path: &Path, why: String) -> ActivateError {
    ActivateError::Command {
        step: "switch_record",
        source: CommandError::Spawn {
            command: format!("recording the switch in {}", path.display()),
            source: std::io::Error::other(why),
        },
    }
}

impl Switcher for DirectSwitch {
    fn run_action(
        &self,
        toplevel: &Path,
        action: Action,
        timeout: Duration,
    ) -> Result<(), ActivateError> {
        self.settle(timeout)?;
        let mut r = InFlight {
            toplevel: toplevel.to_path_buf(),
            pid: None,
            start_time: None,
        };
        self.write(&r)?;
        let mut c = Command::new(toplevel.join("bin/switch-to-configuration"));
        c.arg(action.as_str());
        let mut noted = Ok(());
        let ran = command::run_noting(c, timeout, |pid| {
            r.pid = Some(pid);
            r.start_time = start_time(pid);
            noted = self.write(&r);
        });
        noted?;
        ran.map_err(|source| ActivateError::Command {
            step: "switch_configuration",
            source,
        })?;
        self.clear()
    }

    fn settle(&self, timeout: Duration) -> Result<Vec<String>, ActivateError> {
        let Some(path) = &self.record else {
            return Ok(Vec::new());
        };
        let r: InFlight = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                record_error(
                    path,
                    format!("it is corrupt ({e}); check that no switch runs, then remove it"),
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(record_error(path, e.to_string())),
        };
        let what = format!(
            "{} switch (pid {})",
            r.toplevel.display(),
            r.pid.map_or("unknown".into(), |p| p.to_string())
        );
        let deadline = Instant::now() + timeout;
        let mut waited = false;
        while still_running(&r) {
            waited = true;
            if Instant::now() >= deadline {
                return Err(ActivateError::Command {
                    step: "switch_configuration",
                    source: CommandError::TimedOut {
                        command: format!("waiting for the earlier {what}"),
                        timeout,
                    },
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.clear()?;
        Ok(if waited { vec![what] } else { Vec::new() })
    }
}
