//! Runs an outside program with a deadline. The program gets its own process group, so that on
//! timeout everything it started goes with it; a failure carries the command, its exit status
//! and the tail of its output, which is what an operator needs to see.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;
use thiserror::Error;
use wait_timeout::ChildExt;

/// Keep this much of each stream in an error: enough for the last lines of a build log.
const TAIL: usize = 4000;

#[derive(Debug, Error)]
pub enum CommandError {
    #[error("cannot start `{command}`: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` failed ({status}): {stderr}")]
    Failed {
        command: String,
        status: String,
        stdout: String,
        stderr: String,
    },
    #[error("`{command}` did not finish within {} s and was stopped", timeout.as_secs_f64())]
    TimedOut { command: String, timeout: Duration },
}

#[derive(Debug)]
pub struct Output {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

fn tail(bytes: &[u8]) -> String {
    let start = bytes.len().saturating_sub(TAIL);
    String::from_utf8_lossy(&bytes[start..]).trim().to_owned()
}

/// Runs `cmd` to completion within `timeout`; a non-zero exit is an error.
pub fn run(cmd: Command, timeout: Duration) -> Result<Output, CommandError> {
    run_noting(cmd, timeout, |_| {})
}

/// [`run`], telling `spawned` the child's pid (its process group's id too) as soon as it runs.
pub fn run_noting(
    mut cmd: Command,
    timeout: Duration,
    spawned: impl FnOnce(u32),
) -> Result<Output, CommandError> {
    let command = describe(&cmd);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn().map_err(|source| CommandError::Spawn {
        command: command.clone(),
        source,
    })?;
    let pgid = child.id();
    spawned(pgid);
    // Drain both pipes on threads so a chatty program cannot block on a full pipe.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    // wait-timeout blocks until the child exits (woken by SIGCHLD, through a handler it installs
    // once per process and chains to any earlier one) or the deadline passes: no polling.
    let status = match child.wait_timeout(timeout) {
        Ok(Some(status)) => status,
        Ok(None) => {
            kill_group(pgid);
            let _ = child.wait();
            return Err(CommandError::TimedOut { command, timeout });
        }
        Err(source) => {
            kill_group(pgid);
            let _ = child.wait();
            return Err(CommandError::Spawn { command, source });
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    if !status.success() {
        return Err(CommandError::Failed {
            command,
            status: status.to_string(),
            stdout: tail(&stdout),
            stderr: tail(&stderr),
        });
    }
    Ok(Output { stdout, stderr })
}

/// SIGKILL to the child's whole process group (the child is its leader), by its id only.
fn kill_group(pgid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("/bin/sh");
        c.args(["-c", script]);
        c
    }

    #[test]
    fn output_and_failures_are_reported() {
        let out = run(sh("echo hi; echo there >&2"), Duration::from_secs(5)).unwrap();
        assert_eq!(out.stdout, b"hi\n");
        assert_eq!(out.stderr, b"there\n");
        let e = run(sh("echo boom >&2; exit 3"), Duration::from_secs(5)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "`/bin/sh -c echo boom >&2; exit 3` failed (exit status: 3): boom"
        );
    }

    #[test]
    fn a_program_over_its_deadline_is_stopped_with_its_children() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("late");
        // The grandchild would write the marker after 2 s if it survived the kill.
        let script = format!("(sleep 2; touch {}) & sleep 30", marker.display());
        let start = Instant::now();
        let e = run(sh(&script), Duration::from_millis(300)).unwrap_err();
        assert!(matches!(e, CommandError::TimedOut { .. }), "{e}");
        assert!(start.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(2500));
        assert!(
            !marker.exists(),
            "a child of the timed-out program survived"
        );
    }

    #[test]
    fn a_deadline_error_names_the_command_and_the_deadline() {
        let e = run(sh("sleep 30"), Duration::from_millis(250)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "`/bin/sh -c sleep 30` did not finish within 0.25 s and was stopped"
        );
    }

    #[test]
    fn a_missing_program_is_named() {
        let e = run(Command::new("/nonexistent/nix"), Duration::from_secs(1)).unwrap_err();
        assert!(
            e.to_string().starts_with("cannot start `/nonexistent/nix`"),
            "{e}"
        );
    }
}
