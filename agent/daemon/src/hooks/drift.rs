//! The hook for drift (`DAO_OUTCOME=drift`): the host runs a system the agent did not activate.
//! The same variables as an outcome's, with the drifted system as the running one and the
//! approved system as `DAO_TOPLEVEL` (docs/hooks.md).

use super::{clean, Hooks};
use crate::daemon::drift::Drift;
use std::sync::Arc;
use tracing::warn;

/// The proposal number a drift hook's unit is named with: drift belongs to no proposal.
pub const NO_PROPOSAL: u64 = 0;

pub fn facts(h: &Hooks, drift: &Drift) -> Vec<(String, String)> {
    let profile = h.system.current().ok().flatten();
    let mut env: Vec<(&str, String)> = vec![
        ("DAO_OUTCOME", "drift".into()),
        ("DAO_PROPOSAL", String::new()),
        ("DAO_COMMIT", String::new()),
        ("DAO_BASE", String::new()),
        ("DAO_HOST", h.host_name.clone()),
        ("DAO_HOST_ID", h.host_id.to_string()),
        ("DAO_APP_ID", h.app_id.to_string()),
        ("DAO_STEP", String::new()),
        (
            "DAO_REASON",
            format!(
                "the host runs {} but the agent last activated {} ({}); policy: {}",
                drift.running.display(),
                drift.approved.display(),
                drift.approved_by,
                crate::journal::tag(&drift.policy)
            ),
        ),
        ("DAO_TOPLEVEL", drift.approved.display().to_string()),
        (
            "DAO_GENERATION",
            profile
                .as_ref()
                .map(|g| g.number.to_string())
                .unwrap_or_default(),
        ),
        ("DAO_RUNNING_TOPLEVEL", drift.running.display().to_string()),
        ("DAO_PREVIOUS_GENERATION", String::new()),
    ];
    if let Ok(path) = std::env::var("PATH") {
        env.push(("PATH", path));
    }
    env.into_iter()
        .map(|(k, v)| (k.to_owned(), clean(&v)))
        .collect()
}

impl Hooks {
    /// Runs the hook for a new drift on a thread of its own: returns at once.
    pub fn fire_drift(self: &Arc<Self>, drift: &Drift) {
        let env = facts(self, drift);
        let me = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name("dao-hook".into())
            .spawn(move || {
                me.launch(NO_PROPOSAL, "drift", &env);
            });
        if let Err(e) = spawned {
            warn!("cannot start a thread for the on_outcome hook: {e}");
            crate::metrics::hook_run("failed");
        }
    }
}
