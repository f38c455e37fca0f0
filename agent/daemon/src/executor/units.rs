//! Health checks on systemd units: after a switch, each required unit must be active.
//!
//! A unit is looked up with `LoadUnit`, which (unlike `GetUnit`) also answers for a unit that
//! exists on disk but is not loaded right now, then its `ActiveState` is read from the Unit
//! interface. The first unit that is not active is named, with its state.

use super::systemd::bus::{block_on, connect, manager, properties, string_of, UNIT};
use std::time::Duration;
use zbus::Connection;

/// Ok when every unit of `units` is active; else names the first one that is not and its state.
pub async fn units_active(conn: &Connection, units: &[String]) -> Result<(), String> {
    let systemd = manager(conn)
        .await
        .map_err(|e| format!("cannot reach systemd's manager: {e}"))?;
    for unit in units {
        let path = systemd
            .load_unit(unit)
            .await
            .map_err(|e| format!("unit {unit}: systemd cannot load it: {e}"))?;
        let props = properties(conn, path.as_str(), UNIT)
            .await
            .map_err(|e| format!("unit {unit}: cannot read its state: {e}"))?;
        let load = string_of(&props, "LoadState");
        let active = string_of(&props, "ActiveState");
        let sub = string_of(&props, "SubState");
        if active == "active" {
            continue;
        }
        return Err(match load.as_str() {
            "loaded" => format!("unit {unit} is {active} ({sub}), not active"),
            "not-found" => format!("unit {unit} does not exist (load state not-found)"),
            _ => format!("unit {unit} is {active} ({sub}), not active; its load state is {load}"),
        });
    }
    Ok(())
}

/// [`units_active`] for callers without a runtime: connects to the bus at `address` (the system
/// bus when None) and gives up after `timeout`.
pub fn check_units(
    address: Option<&str>,
    units: &[String],
    timeout: Duration,
) -> Result<(), String> {
    let checked = block_on(|| async {
        let work = async {
            let conn = connect(address)
                .await
                .map_err(|e| format!("cannot connect to the system bus: {e}"))?;
            units_active(&conn, units).await
        };
        tokio::time::timeout(timeout, work)
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "systemd did not answer within {} s",
                    timeout.as_secs_f64()
                ))
            })
    });
    checked.map_err(|e| format!("cannot check units: {e}"))?
}
