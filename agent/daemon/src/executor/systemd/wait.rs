//! Waiting until a unit no longer runs, following its `PropertiesChanged` signals (no polling).

use super::bus::{job_of, next, properties, string_of, unit_signals, UNIT};
use super::SwitchError;
use std::collections::HashMap;
use tokio::time::Instant;
use zbus::zvariant::OwnedValue;
use zbus::Connection;

/// How waiting for a unit to stop running ended.
pub(super) enum Waited {
    /// Inactive or failed, with no job left (or unloaded).
    Done,
    /// Still running at the deadline.
    Deadline,
    /// The bus connection closed.
    Disconnected,
}

/// Waits, following its `PropertiesChanged` signals, until `unit` no longer runs: inactive or
/// failed with no pending job.
pub(super) async fn wait_until_done(
    conn: &Connection,
    unit: &str,
    path: &str,
    deadline: Instant,
) -> Result<Waited, SwitchError> {
    let mut signals = unit_signals(conn, path)
        .await
        .map_err(SwitchError::bus(format!("following unit {unit}")))?;
    // Read after subscribing: a change in between is then in the stream.
    let props = properties(conn, path, UNIT)
        .await
        .map_err(SwitchError::bus(format!(
            "reading the state of unit {unit}"
        )))?;
    let mut active = string_of(&props, "ActiveState");
    let mut job = job_of(&props);
    if string_of(&props, "LoadState") != "loaded" {
        return Ok(Waited::Done);
    }
    loop {
        if (active == "inactive" || active == "failed") && job == 0 {
            return Ok(Waited::Done);
        }
        tokio::select! {
            biased;
            msg = next(&mut signals) => {
                let Some(msg) = msg else { return Ok(Waited::Disconnected) };
                let Ok(args) = msg.args() else { continue };
                let changed: HashMap<String, OwnedValue> = args
                    .changed_properties()
                    .iter()
                    .filter_map(|(k, v)| Some(((*k).to_owned(), v.try_to_owned().ok()?)))
                    .collect();
                if changed.contains_key("ActiveState") {
                    active = string_of(&changed, "ActiveState");
                }
                if changed.contains_key("Job") {
                    job = job_of(&changed);
                }
            }
            () = tokio::time::sleep_until(deadline) => return Ok(Waited::Deadline),
        }
    }
}
