//! SwitchConfiguration and RevertConfiguration. Before anything changes, the profile's current
//! generation and its store path are recorded (in the journal, by the caller); a revert goes
//! back to exactly that generation, checked against the recorded store path, never to "the one
//! below", which after an earlier rollback can be a different system.
//!
//! This file holds the direct mode (the switch runs as the agent's child, for machines without
//! systemd); the systemd mode runs the same command in a transient unit.

use super::command::{self, CommandError};
use crate::journal::record::Generation;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ActivateError {
    #[error("cannot read the system profile {}: {source}", path.display())]
    ReadProfile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the system profile {} points at {target}, which is not one of its generations", path.display())]
    NotAGeneration { path: PathBuf, target: String },
    #[error(
        "generation {number} of {} is {found}, not {}, the system recorded before switching: \
         refusing to switch to a system nobody recorded",
        profile.display(), expected.display()
    )]
    GenerationChanged {
        profile: PathBuf,
        number: u64,
        expected: PathBuf,
        found: String,
    },
    #[error("{step}: {source}")]
    Command {
        step: &'static str,
        #[source]
        source: CommandError,
    },
    #[error("after setting the profile it points at {}, not the toplevel {}", found.display(), expected.display())]
    ProfileMismatch { expected: PathBuf, found: PathBuf },
}

/// A Nix profile of system generations (`/nix/var/nix/profiles/system` on NixOS).
#[derive(Debug, Clone)]
pub struct Profile {
    pub path: PathBuf,
    pub nix_env: PathBuf,
    /// Environment for nix-env beyond the agent's own (tests pass NIX_CONFIG here).
    pub env: Vec<(String, String)>,
}

impl Profile {
    fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("/"))
    }

    fn nix_env(&self) -> Command {
        let mut c = Command::new(&self.nix_env);
        c.envs(self.env.iter().map(|(k, v)| (k, v)))
            .arg("-p")
            .arg(&self.path);
        c
    }

    /// The generation the profile points at now, or None for a profile without generations.
    pub fn current(&self) -> Result<Option<Generation>, ActivateError> {
        let link = match fs::read_link(&self.path) {
            Ok(l) => l,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(ActivateError::ReadProfile {
                    path: self.path.clone(),
                    source,
                })
            }
        };
        let not_gen = || ActivateError::NotAGeneration {
            path: self.path.clone(),
            target: link.display().to_string(),
        };
        // `system` → `system-42-link`, a sibling, → /nix/store/…
        let name = link.to_str().ok_or_else(not_gen)?;
        let number: u64 = name
            .strip_prefix(&format!("{}-", self.name()))
            .and_then(|r| r.strip_suffix("-link"))
            .and_then(|n| n.parse().ok())
            .filter(|_| link.components().count() == 1)
            .ok_or_else(not_gen)?;
        let store_path = self.store_path_of(number)?;
        Ok(Some(Generation { number, store_path }))
    }

    /// Generation `number` of the profile, as its link says now.
    pub fn generation(&self, number: u64) -> Result<Generation, ActivateError> {
        Ok(Generation {
            number,
            store_path: self.store_path_of(number)?,
        })
    }

    fn store_path_of(&self, number: u64) -> Result<PathBuf, ActivateError> {
        let gen_link = self.dir().join(format!("{}-{number}-link", self.name()));
        let target = fs::read_link(&gen_link).map_err(|source| ActivateError::ReadProfile {
            path: gen_link.clone(),
            source,
        })?;
        if !target.starts_with("/nix/store/") {
            return Err(ActivateError::NotAGeneration {
                path: gen_link,
                target: target.display().to_string(),
            });
        }
        Ok(target)
    }

    /// Makes `toplevel` the profile's new current generation and returns it.
    pub fn set(&self, toplevel: &Path, timeout: Duration) -> Result<Generation, ActivateError> {
        let mut c = self.nix_env();
        c.arg("--set").arg(toplevel);
        command::run(c, timeout).map_err(|source| ActivateError::Command {
            step: "set_profile",
            source,
        })?;
        let now = self
            .current()?
            .ok_or_else(|| ActivateError::NotAGeneration {
                path: self.path.clone(),
                target: "nothing".into(),
            })?;
        if now.store_path != toplevel {
            return Err(ActivateError::ProfileMismatch {
                expected: toplevel.to_path_buf(),
                found: now.store_path,
            });
        }
        Ok(now)
    }

    /// Points the profile back at exactly `generation`, which must still be the recorded system.
    pub fn restore(&self, generation: &Generation, timeout: Duration) -> Result<(), ActivateError> {
        let found = self.store_path_of(generation.number);
        match found {
            Ok(p) if p == generation.store_path => {}
            Ok(p) => {
                return Err(ActivateError::GenerationChanged {
                    profile: self.path.clone(),
                    number: generation.number,
                    expected: generation.store_path.clone(),
                    found: p.display().to_string(),
                })
            }
            Err(_) => {
                return Err(ActivateError::GenerationChanged {
                    profile: self.path.clone(),
                    number: generation.number,
                    expected: generation.store_path.clone(),
                    found: "gone (deleted or garbage-collected)".into(),
                })
            }
        }
        let mut c = self.nix_env();
        c.arg("--switch-generation")
            .arg(generation.number.to_string());
        command::run(c, timeout).map_err(|source| ActivateError::Command {
            step: "restore_profile",
            source,
        })?;
        Ok(())
    }
}

/// Runs `<toplevel>/bin/switch-to-configuration switch` as the agent's child (direct mode).
pub fn switch_direct(toplevel: &Path, timeout: Duration) -> Result<(), ActivateError> {
    let mut c = Command::new(toplevel.join("bin/switch-to-configuration"));
    c.arg("switch");
    command::run(c, timeout).map_err(|source| ActivateError::Command {
        step: "switch_configuration",
        source,
    })?;
    Ok(())
}

/// Goes back to exactly the recorded generation: profile, then its own switch.
pub fn revert_direct(
    profile: &Profile,
    previous: &Generation,
    timeout: Duration,
) -> Result<(), ActivateError> {
    profile.restore(previous, timeout)?;
    switch_direct(&previous.store_path, timeout)
}
