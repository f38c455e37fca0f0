//! A hook in a transient systemd unit: `StartTransientUnit` over the system bus, as the switch
//! does (executor/systemd), with `Type=oneshot` so that the start job ends when the hook exits
//! and `TimeoutStartSec=` the hook's timeout, so that systemd itself stops a hook that hangs,
//! whether or not the agent is still there to wait. `AddRef=yes` keeps the unit loaded until
//! its result is read; `CollectMode=inactive-or-failed` lets systemd drop it afterwards.

use super::Ran;
use crate::executor::systemd::bus::{
    block_on, connect, job_signals, manager, next, properties, string_of,
};
use crate::executor::systemd::{micros, unit_object_path, unref};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use zbus::zvariant::Value;

/// Every hook unit's name starts with this.
pub const UNIT_PREFIX: &str = "dao-governance-hook-";

/// How much longer than the hook's own timeout the agent waits for systemd to stop it.
const GRACE: Duration = Duration::from_secs(10);

pub fn unit_name(proposal: u64, unix_ms: u64) -> String {
    format!("{UNIT_PREFIX}{proposal}-{unix_ms}.service")
}

pub fn run(
    bus: Option<&str>,
    proposal: u64,
    argv: &[String],
    env: &[(String, String)],
    timeout: Duration,
) -> Ran {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let unit = unit_name(proposal, now);
    match block_on(|| run_async(bus, &unit, argv, env, timeout)) {
        Ok(r) => r,
        Err(e) => Ran::NotStarted(format!("cannot run a D-Bus client: {e}")),
    }
}

async fn run_async(
    bus: Option<&str>,
    unit: &str,
    argv: &[String],
    env: &[(String, String)],
    timeout: Duration,
) -> Ran {
    let Some(program) = argv.first() else {
        return Ran::NotStarted("hooks.on_outcome names no program".into());
    };
    let not_started = |what: &str, e: zbus::Error| {
        Ran::NotStarted(format!(
            "{what} for unit {unit}: {e}; is systemd on the system bus?"
        ))
    };
    let conn = match connect(bus).await {
        Ok(c) => c,
        Err(e) => return not_started("connecting to the system bus", e),
    };
    let m = match manager(&conn).await {
        Ok(m) => m,
        Err(e) => return not_started("connecting to systemd", e),
    };
    if let Err(e) = m.subscribe().await {
        return not_started("subscribing to systemd's signals", e);
    }
    let mut jobs = match job_signals(&m, unit).await {
        Ok(j) => j,
        Err(e) => return not_started("following the job", e),
    };
    let environment: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let props: Vec<(&str, Value<'_>)> = vec![
        (
            "Description",
            Value::from(format!("dao-governance: on_outcome hook {program}")),
        ),
        ("Type", Value::from("oneshot")),
        (
            "ExecStart",
            Value::from(vec![(program.clone(), argv.to_vec(), false)]),
        ),
        ("Environment", Value::from(environment)),
        ("CollectMode", Value::from("inactive-or-failed")),
        ("AddRef", Value::from(true)),
        ("TimeoutStartUSec", Value::from(micros(timeout))),
    ];
    let job = match m.start_transient_unit(unit, "fail", &props, &[]).await {
        Ok(j) => j,
        Err(e) => return not_started("starting", e),
    };
    let path = unit_object_path(unit);
    let ended = tokio::time::timeout(timeout.saturating_add(GRACE), async {
        loop {
            let msg = next(&mut jobs).await?;
            if let Ok(removed) = msg.args() {
                if removed.job() == &*job {
                    return Some(removed.result().to_string());
                }
            }
        }
    })
    .await;
    let service = properties(&conn, &path, "org.freedesktop.systemd1.Service").await;
    unref(&conn, &path).await;
    let result = service
        .as_ref()
        .map(|p| string_of(p, "Result"))
        .unwrap_or_default();
    match ended {
        Err(_) => Ran::TimedOut,
        Ok(None) => Ran::Failed(format!(
            "the bus connection closed while unit {unit} ran; its result is unknown"
        )),
        Ok(Some(job)) if job == "done" && result == "success" => Ran::Ok,
        Ok(Some(_)) if result == "timeout" => Ran::TimedOut,
        Ok(Some(job)) => Ran::Failed(format!(
            "unit {unit}: job {job}, result {result}; see journalctl -u {unit}"
        )),
    }
}
