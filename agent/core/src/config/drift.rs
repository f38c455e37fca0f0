//! `executor.drift` and `executor.current_system`: what the executor does when the host runs a
//! system it did not activate (someone ran `nixos-rebuild` by hand), and where it reads what the
//! host runs (docs/heartbeats.md, "Drift").

use super::check::Problems;
use serde::Serialize;
use std::path::PathBuf;

/// Where NixOS links the running system.
pub const DEFAULT_CURRENT_SYSTEM: &str = "/run/current-system";

/// What the executor does about drift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftPolicy {
    /// Say so: status, metrics, the hook and the next heartbeat. The host is left as it is.
    #[default]
    Report,
    /// Say so, then switch back to the approved system through the deployment's own activate,
    /// health and revert path.
    Reactivate,
}

/// Checks the two keys; None (with a problem added) when one is wrong.
pub fn check(
    policy: Option<&str>,
    current_system: Option<&str>,
    p: &mut Problems,
) -> (Option<DriftPolicy>, Option<PathBuf>) {
    let policy = match policy {
        None | Some("report") => Some(DriftPolicy::Report),
        Some("reactivate") => Some(DriftPolicy::Reactivate),
        Some(other) => {
            p.add(
                "executor.drift",
                format!("unknown drift policy {other:?}: expected \"report\" or \"reactivate\""),
            );
            None
        }
    };
    let current = p.abs_path(
        "executor.current_system",
        current_system.unwrap_or(DEFAULT_CURRENT_SYSTEM),
    );
    (policy, current)
}
