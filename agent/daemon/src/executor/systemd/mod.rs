//! SwitchConfiguration in a transient systemd unit: the switch survives the agent
//! (architecture invariant 6).
//!
//! `switch-to-configuration switch` is not the agent's child. The agent asks systemd
//! (`StartTransientUnit` on `org.freedesktop.systemd1.Manager`, over the system bus) to run it in
//! a unit of its own, `dao-governance-switch-<32 chars of the toplevel's store hash>-<unix ms>.service`.
//! systemd places a transient service in its own cgroup under `system.slice`, not in the caller's
//! cgroup, and nothing ties it to the agent's unit (no `PartOf=`, `BindsTo=`, `Requisite=`): a
//! switch that restarts or stops `dao-executor.service` (a new agent package, a changed unit)
//! does not kill the switch, and neither does the agent crashing: the switch's parent is PID 1.
//! `LOCALE_ARCHIVE` and `NIXOS_INSTALL_BOOTLOADER` are passed on from the agent's environment
//! when set, as nixos-rebuild does.
//!
//! # Following the unit, without polling
//! Before starting it the agent calls `Subscribe` and adds a match rule for `JobRemoved` of this
//! unit (by name). The unit is `Type=oneshot`, so its start job ends when the program exits;
//! then the unit's `Result`, `ExecMainCode` and `ExecMainStatus` say how it went.
//!
//! # Reading the result before collection: `AddRef`, not `RemainAfterExit`
//! `CollectMode=inactive-or-failed` makes systemd unload the unit as soon as it is inactive or
//! failed, so no finished switch units pile up. That races reading the result: and reading the
//! properties of a unit that was already unloaded is worse than an error, since systemd answers
//! for an empty "not-found" stub, with `Result=success` and `ExecMainStatus=0`.
//! `RemainAfterExit=yes` would keep only a *successful* unit loaded (a failed one is still
//! collected at once), and would leave an "active" unit behind forever if the agent died.
//! `AddRef=yes` instead makes the unit referenced by the agent's bus connection: it stays loaded,
//! whatever its outcome, until the agent calls `Unref` after reading the result, or its
//! connection closes (the agent stopped or crashed); then systemd collects it at once.
//!
//! # Timeouts
//! When `timeout` passes the agent stops the unit (`StopUnit`) and reports a timeout naming the
//! unit. The unit also carries `TimeoutStartSec=` a little longer than `timeout`, so systemd
//! itself stops a hanging switch when no agent is left to do it.
//!
//! # Restarts of the agent: never two switches at once
//! A switch may restart the agent while the switch goes on. So before starting a switch, the
//! agent lists the switch units that are still there (`ListUnitsByPatterns([],
//! ["dao-governance-switch-*"])`) and waits, following each one's `PropertiesChanged` signals,
//! until none of them is running (activating, active, deactivating or with a queued job); only
//! then does it start its own. The wait has a budget of its own, `timeout` (those units carry
//! their own systemd timeout, see above), and the new switch then gets its full `timeout`; a
//! unit still running after that is an error that names it, and nothing is started.
//!
//! # The bus going away
//! If the bus connection closes while the switch runs (a switch that restarts the bus daemon),
//! the agent reconnects, finds the unit by name, takes a reference on it (`Ref`) and follows it
//! again. A unit that finished and was collected in between has an unknown result: that is an
//! error, never a success.
//!
//! Every error names the unit and says how to read its log: `journalctl -u UNIT`.

use super::activate::ActivateError;
use crate::edges::{Action, Switcher};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;
use zbus::zvariant::Value;

pub(crate) mod bus;
mod error;
mod wait;

pub use error::SwitchError;

pub use bus::unit_object_path;
use bus::{
    block_on, connect, describe_exit, finished, is_no_such_unit, job_signals, manager, next, unit,
    Finished, ManagerProxy, UnitRow, CLD_EXITED,
};
use wait::{wait_until_done, Waited};

/// Every switch unit's name starts with this.
pub const UNIT_PREFIX: &str = "dao-governance-switch-";
/// The pattern that finds switch units left from before a restart.
pub const UNIT_PATTERN: &str = "dao-governance-switch-*";

/// The switch gets these from the agent's environment when they are set (as nixos-rebuild does).
const PASS_ENV: [&str; 2] = ["LOCALE_ARCHIVE", "NIXOS_INSTALL_BOOTLOADER"];
/// systemd's own timeout on the switch is this much longer than the agent's.
const BACKSTOP: Duration = Duration::from_secs(30);

/// Runs `switch-to-configuration switch` in a transient systemd unit (see the module's doc).
#[derive(Debug, Clone)]
pub struct SystemdSwitch {
    address: Option<String>,
    stop_timeout: Duration,
    reconnect_interval: Duration,
}

impl Default for SystemdSwitch {
    fn default() -> Self {
        SystemdSwitch::system()
    }
}

/// A switch that succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Switched {
    /// The transient unit it ran in (collected by now).
    pub unit: String,
    /// Switch units from before (an earlier agent's) that were still running and waited for.
    pub waited_for: Vec<String>,
}

impl Switcher for SystemdSwitch {
    fn run_action(
        &self,
        toplevel: &Path,
        action: Action,
        timeout: Duration,
    ) -> Result<(), ActivateError> {
        self.run_as(toplevel, action, timeout)
            .map(|_| ())
            .map_err(|e| {
                let program = toplevel.join("bin/switch-to-configuration");
                e.into_activate_error(format!("{} {}", program.display(), action.as_str()))
            })
    }
}

/// The unit name for switching to `toplevel` at `unix_ms`:
/// `dao-governance-switch-<32 chars of the store hash>-<unix_ms>.service`. For a path that is not
/// a store path (tests), the first 32 hex digits of its SHA-256 stand in for the store hash.
pub fn unit_name(toplevel: &Path, unix_ms: u64) -> String {
    format!("{UNIT_PREFIX}{}-{unix_ms}.service", toplevel_id(toplevel))
}

fn toplevel_id(toplevel: &Path) -> String {
    const NIX_BASE32: &str = "0123456789abcdfghijklmnpqrsvwxyz";
    let name = toplevel
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let hash = name.get(..32).unwrap_or_default();
    if hash.len() == 32
        && hash.chars().all(|c| NIX_BASE32.contains(c))
        && name[32..].starts_with('-')
    {
        return hash.to_owned();
    }
    let digest = Sha256::digest(toplevel.as_os_str().as_encoded_bytes());
    digest.iter().take(16).fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Now plus `d`, saturating: a configured timeout too large for the clock means "a year".
fn after(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(365 * 24 * 3600)))
        .unwrap_or(now)
}

/// A duration as the microseconds systemd's `*USec` properties take (saturating).
pub(crate) fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl SystemdSwitch {
    /// Talks to systemd on the system bus (`DBUS_SYSTEM_BUS_ADDRESS`, else the standard socket).
    pub fn system() -> SystemdSwitch {
        SystemdSwitch {
            address: None,
            stop_timeout: Duration::from_secs(30),
            reconnect_interval: Duration::from_millis(250),
        }
    }

    /// Talks to systemd through the bus at `address` (a D-Bus address such as
    /// `unix:path=/run/dbus/system_bus_socket`).
    pub fn with_address(address: impl Into<String>) -> SystemdSwitch {
        SystemdSwitch {
            address: Some(address.into()),
            ..SystemdSwitch::system()
        }
    }

    /// How long a switch stopped at its timeout gets to end (its unit's `TimeoutStopSec=`; then
    /// systemd kills what is left). 30 s unless set.
    pub fn with_stop_timeout(mut self, stop_timeout: Duration) -> SystemdSwitch {
        self.stop_timeout = stop_timeout;
        self
    }

    /// Runs `<toplevel>/bin/switch-to-configuration switch` in a new transient unit, after any
    /// switch unit still running from before, and waits at most `timeout` for it.
    pub fn run(&self, toplevel: &Path, timeout: Duration) -> Result<Switched, SwitchError> {
        self.run_as(toplevel, Action::Switch, timeout)
    }

    /// [`SystemdSwitch::run`] with another action (`boot`, `test`).
    pub fn run_as(
        &self,
        toplevel: &Path,
        action: Action,
        timeout: Duration,
    ) -> Result<Switched, SwitchError> {
        block_on(|| self.run_async(toplevel, action, timeout)).map_err(SwitchError::Runtime)?
    }

    /// The manager on a new connection, subscribed to its signals.
    async fn connect(&self) -> Result<ManagerProxy<'static>, SwitchError> {
        let conn = connect(self.address.as_deref())
            .await
            .map_err(SwitchError::bus("connecting to the system bus"))?;
        let manager = manager(&conn)
            .await
            .map_err(SwitchError::bus("connecting to systemd's manager"))?;
        manager
            .subscribe()
            .await
            .map_err(SwitchError::bus("subscribing to systemd's signals"))?;
        Ok(manager)
    }

    async fn run_async(
        &self,
        toplevel: &Path,
        action: Action,
        timeout: Duration,
    ) -> Result<Switched, SwitchError> {
        let program = toplevel.join("bin/switch-to-configuration");
        let program = program
            .to_str()
            .ok_or_else(|| SwitchError::NotUtf8(program.display().to_string()))?
            .to_owned();
        let manager = self.connect().await?;
        let conn = manager.inner().connection().clone();
        let waited_for = self
            .wait_for_earlier(&manager, timeout, after(timeout))
            .await?;

        let unit = unit_name(toplevel, now_ms());
        let path = unit_object_path(&unit);
        let mut env: Vec<String> = Vec::new();
        for key in PASS_ENV {
            if let Ok(v) = std::env::var(key) {
                env.push(format!("{key}={v}"));
            }
        }
        let mut props: Vec<(&str, Value<'_>)> = vec![
            (
                "Description",
                Value::from(format!(
                    "dao-governance: switch-to-configuration {} of {}",
                    action.as_str(),
                    toplevel.display()
                )),
            ),
            ("Type", Value::from("oneshot")),
            (
                "ExecStart",
                Value::from(vec![(
                    program.clone(),
                    vec![program.clone(), action.as_str().to_owned()],
                    false,
                )]),
            ),
            ("CollectMode", Value::from("inactive-or-failed")),
            ("AddRef", Value::from(true)),
            (
                "TimeoutStartUSec",
                Value::from(micros(timeout.saturating_add(BACKSTOP))),
            ),
            ("TimeoutStopUSec", Value::from(micros(self.stop_timeout))),
        ];
        if !env.is_empty() {
            props.push(("Environment", Value::from(env)));
        }
        // Subscribed before the start: the job's end cannot slip by.
        let mut jobs = job_signals(&manager, &unit)
            .await
            .map_err(SwitchError::bus(format!("following unit {unit}")))?;
        let job = manager
            .start_transient_unit(&unit, "fail", &props, &[])
            .await
            .map_err(SwitchError::bus(format!("starting unit {unit}")))?;
        let deadline = after(timeout);

        let job_result = loop {
            tokio::select! {
                biased;
                msg = next(&mut jobs) => {
                    let Some(msg) = msg else {
                        drop(jobs);
                        return self.follow_again(&unit, &path, timeout, deadline).await.map(|()| {
                            Switched { unit: unit.clone(), waited_for: waited_for.clone() }
                        });
                    };
                    let ended = match msg.args() {
                        Ok(removed) if removed.job() == &*job => Some(removed.result().to_string()),
                        _ => None,
                    };
                    if let Some(result) = ended {
                        break result;
                    }
                }
                () = tokio::time::sleep_until(deadline) => {
                    return Err(self.stop(&manager, &unit, &path, timeout).await);
                }
            }
        };
        let state = finished(&conn, &path).await;
        unref(&conn, &path).await;
        let state = state.map_err(SwitchError::bus(format!(
            "reading the result of unit {unit}"
        )))?;
        judge(&unit, &job_result, &state)?;
        Ok(Switched { unit, waited_for })
    }

    /// Waits until no switch unit from before runs; returns those it waited for.
    async fn wait_for_earlier(
        &self,
        manager: &ManagerProxy<'_>,
        timeout: Duration,
        deadline: Instant,
    ) -> Result<Vec<String>, SwitchError> {
        let conn = manager.inner().connection();
        let mut waited: Vec<String> = Vec::new();
        loop {
            let rows: Vec<UnitRow> = manager
                .list_units_by_patterns(&[], &[UNIT_PATTERN])
                .await
                .map_err(SwitchError::bus("listing switch units"))?;
            let running = rows.into_iter().find(|r| {
                r.0.starts_with(UNIT_PREFIX)
                    && (r.7 != 0 || !matches!(r.3.as_str(), "inactive" | "failed"))
                    && !waited.contains(&r.0)
            });
            let Some(row) = running else {
                return Ok(waited);
            };
            let (unit, path) = (row.0, row.6.to_string());
            match wait_until_done(conn, &unit, &path, deadline).await? {
                Waited::Done => waited.push(unit),
                Waited::Deadline => {
                    return Err(SwitchError::Busy {
                        unit,
                        waited: timeout,
                    })
                }
                Waited::Disconnected => {
                    return Err(SwitchError::Bus {
                        what: format!("waiting for the earlier switch unit {unit}"),
                        source: Box::new(zbus::Error::InputOutput(std::sync::Arc::new(
                            std::io::Error::other("the bus connection closed"),
                        ))),
                    })
                }
            }
        }
    }

    /// After the bus connection closed mid-switch: reconnect, find the unit, hold it and follow
    /// it to its end.
    async fn follow_again(
        &self,
        unit: &str,
        path: &str,
        timeout: Duration,
        deadline: Instant,
    ) -> Result<(), SwitchError> {
        let manager = loop {
            match self.connect().await {
                Ok(m) => break m,
                Err(e) if after(self.reconnect_interval) >= deadline => {
                    return Err(SwitchError::Lost {
                        unit: unit.to_owned(),
                        why: format!("the bus connection closed while it ran, and {e}"),
                    })
                }
                Err(_) => tokio::time::sleep(self.reconnect_interval).await,
            }
        };
        let gone = || SwitchError::Lost {
            unit: unit.to_owned(),
            why: "the bus connection closed while it ran, and it had finished and been \
                  collected when the agent reconnected: its result is unknown"
                .into(),
        };
        let conn = manager.inner().connection().clone();
        match manager.get_unit(unit).await {
            Ok(_) => {}
            Err(e) if is_no_such_unit(&e) => return Err(gone()),
            Err(e) => return Err(SwitchError::bus(format!("finding unit {unit} again"))(e)),
        }
        let held = match bus::unit(&conn, path).await {
            Ok(u) => u.hold().await,
            Err(e) => Err(e),
        };
        held.map_err(SwitchError::bus(format!("holding unit {unit}")))?;
        let outcome = match wait_until_done(&conn, unit, path, deadline).await {
            Ok(Waited::Done) => match finished(&conn, path).await {
                Ok(state) if state.load != "loaded" => Err(gone()),
                // The start job's result went with the old connection; the unit's own result
                // and exit status tell.
                Ok(state) => judge(unit, "done", &state),
                Err(e) => Err(SwitchError::bus(format!(
                    "reading the result of unit {unit}"
                ))(e)),
            },
            Ok(Waited::Deadline) => return Err(self.stop(&manager, unit, path, timeout).await),
            Ok(Waited::Disconnected) => Err(SwitchError::Lost {
                unit: unit.to_owned(),
                why: "the bus connection closed twice while it ran".into(),
            }),
            Err(e) => Err(e),
        };
        unref(&conn, path).await;
        outcome
    }

    /// Stops `unit` at its timeout, waits up to the stop timeout for that, releases it.
    async fn stop(
        &self,
        manager: &ManagerProxy<'_>,
        unit: &str,
        path: &str,
        timeout: Duration,
    ) -> SwitchError {
        let mut stopped = false;
        if let Ok(mut jobs) = job_signals(manager, unit).await {
            match manager.stop_unit(unit, "replace").await {
                Ok(job) => {
                    let until = after(self.stop_timeout.saturating_add(Duration::from_secs(5)));
                    loop {
                        tokio::select! {
                            biased;
                            msg = next(&mut jobs) => {
                                let Some(msg) = msg else { break };
                                if msg.args().is_ok_and(|removed| removed.job() == &*job) {
                                    stopped = true;
                                    break;
                                }
                            }
                            () = tokio::time::sleep_until(until) => break,
                        }
                    }
                }
                // Gone already: it ended just now.
                Err(e) if is_no_such_unit(&e) => stopped = true,
                Err(_) => {}
            }
        }
        unref(manager.inner().connection(), path).await;
        SwitchError::TimedOut {
            unit: unit.to_owned(),
            timeout,
            stopped,
        }
    }
}

/// Lets systemd collect the unit (it was held by `AddRef`/`Ref`). Closing the connection does
/// the same, so a failure here changes nothing.
pub(crate) async fn unref(conn: &zbus::Connection, path: &str) {
    if let Ok(u) = unit(conn, path).await {
        let _ = u.release().await;
    }
}

/// Success is a start job that is done, `Result=success` and exit status 0.
fn judge(unit: &str, job_result: &str, state: &Finished) -> Result<(), SwitchError> {
    if state.load != "loaded" {
        return Err(SwitchError::Lost {
            unit: unit.to_owned(),
            why: format!(
                "systemd no longer knows it (load state {}): its result is unknown",
                state.load
            ),
        });
    }
    if job_result == "done"
        && state.result == "success"
        && state.code == CLD_EXITED
        && state.status == 0
    {
        return Ok(());
    }
    let mut result = state.result.clone();
    if job_result != "done" && job_result != "failed" {
        let _ = write!(result, " (start job {job_result})");
    }
    if state.result == "success" && job_result == "done" {
        // Not exit 0, yet systemd saw no failure: say what it did see.
        let _ = write!(result, " (state {})", state.active);
    }
    Err(SwitchError::Failed {
        unit: unit.to_owned(),
        result,
        status: describe_exit(state.code, state.status),
    })
}

#[cfg(test)]
mod tests;
