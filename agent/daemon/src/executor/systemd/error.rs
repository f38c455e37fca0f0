//! What can go wrong with a switch in a unit, each naming the unit and how to read its log.

use crate::executor::activate::ActivateError;
use crate::executor::command::CommandError;
use std::time::Duration;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum SwitchError {
    #[error("cannot talk to systemd on the system bus ({what}): {source}")]
    Bus {
        what: String,
        #[source]
        source: Box<zbus::Error>,
    },
    #[error("{} is not a UTF-8 path: systemd cannot run it", .0)]
    NotUtf8(String),
    #[error(
        "switch unit {unit} failed: result {result}, {status}; \
         read its log with `journalctl -u {unit}`"
    )]
    Failed {
        unit: String,
        result: String,
        status: String,
    },
    #[error(
        "switch unit {unit} did not finish within {} s and was stopped{}; \
         read its log with `journalctl -u {unit}`",
        timeout.as_secs_f64(),
        if *stopped { "" } else { " (the stop had not completed yet)" }
    )]
    TimedOut {
        unit: String,
        timeout: Duration,
        stopped: bool,
    },
    #[error(
        "an earlier switch unit {unit} is still running after {} s: not starting a second \
         switch at the same time; read its log with `journalctl -u {unit}`",
        waited.as_secs_f64()
    )]
    Busy { unit: String, waited: Duration },
    #[error("lost track of switch unit {unit}: {why}; read its log with `journalctl -u {unit}`")]
    Lost { unit: String, why: String },
    #[error("cannot run the D-Bus client: {0}")]
    Runtime(#[source] std::io::Error),
}

impl SwitchError {
    pub(super) fn bus(what: impl Into<String>) -> impl FnOnce(zbus::Error) -> SwitchError {
        let what = what.into();
        move |source| SwitchError::Bus {
            what,
            source: Box::new(source),
        }
    }

    /// This error in the pipeline's terms (`command` is what ran), keeping what it says.
    pub fn into_activate_error(self, command: String) -> ActivateError {
        let source = match self {
            SwitchError::Failed {
                unit,
                result,
                status,
            } => CommandError::Failed {
                command: format!("{command} (unit {unit})"),
                status: format!("result {result}, {status}"),
                stdout: String::new(),
                stderr: format!("read its log with `journalctl -u {unit}`"),
            },
            SwitchError::TimedOut {
                unit,
                timeout,
                stopped,
            } => CommandError::TimedOut {
                command: format!(
                    "{command} (unit {unit}{}; its log: journalctl -u {unit})",
                    if stopped {
                        ""
                    } else {
                        "; the stop had not completed yet"
                    }
                ),
                timeout,
            },
            lost @ SwitchError::Lost { .. } => CommandError::Failed {
                command,
                status: "unknown".into(),
                stdout: String::new(),
                stderr: lost.to_string(),
            },
            other => CommandError::Spawn {
                command,
                source: std::io::Error::other(other.to_string()),
            },
        };
        ActivateError::Command {
            step: "switch_configuration",
            source,
        }
    }
}
