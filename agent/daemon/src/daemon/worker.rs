//! The executor's async shell: runs the deployer's passes on a blocking thread, sleeps between
//! them (woken by chain events and operators), follows the chain, and answers D-Bus.

use super::deployer::{lock, Deployer, Pass};
use super::notify;
use super::setup::Setup;
use crate::control::{self, Agent1, Request};
use dao_chain::App;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Notify};
use tracing::{info, warn};

/// Applies what the chain says is ready, one proposal per pass, until stopped or until a
/// deployment changed the agent itself (then `restart` is notified and no pass follows).
pub async fn work(d: Arc<Deployer>, wake: Arc<Notify>, restart: Arc<Notify>) {
    let mut delay = Duration::ZERO;
    let mut failures: u32 = 0;
    let mut was_ready = d.ready();
    loop {
        if !delay.is_zero() {
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(delay) => {}
            }
        }
        if lock(&d.shared).shutting_down {
            return;
        }
        let me = Arc::clone(&d);
        let pass = match tokio::task::spawn_blocking(move || me.pass()).await {
            Ok(p) => p,
            Err(e) => Pass::Retry(format!("the deployment task ended abnormally: {e}")),
        };
        if let Pass::SelfUpgrade(planned) = &pass {
            notify::status(&format!(
                "proposal {} changed the agent: restarting",
                planned.proposal
            ));
            lock(&d.shared).self_upgrade = Some(planned.clone());
            restart.notify_one();
            return;
        }
        delay = delay_after(&pass, &mut failures, d.edges.clock.now_ms());
        if !was_ready && d.ready() {
            // The journal was mended (a corrupt record moved aside): ready from now on.
            was_ready = true;
            notify::ready("the journal is readable again");
            info!("ready");
        }
        if let Pass::Awaiting(why) = &pass {
            notify::status(why);
        }
        if let Pass::Retry(why) = &pass {
            warn!(retry_in_s = delay.as_secs(), "{why}");
            notify::status(&format!("{why} (retrying)"));
            lock(&d.shared).waiting = Some(format!("{why} (retrying)"));
        }
    }
}

/// How long a Skip waits for an attempt in progress (a fetch, a build) to end before it is
/// refused, naming what runs.
const SKIP_WAIT: Duration = Duration::from_secs(60);

/// Answers one D-Bus request; anything that may touch the host runs on a blocking thread.
pub fn handle(d: &Arc<Deployer>, wake: &Arc<Notify>, req: Request) {
    let (d, wake) = (Arc::clone(d), Arc::clone(wake));
    match req {
        Request::Status { reply } => {
            let _ = reply.send(d.status_json().to_string());
        }
        Request::Deployments { reply } => {
            let _ = reply.send(d.deployments_json().to_string());
        }
        Request::Pause {
            reason,
            caller,
            reply,
        } => {
            let r = d.pause(reason.clone(), caller.uid);
            if r.is_ok() {
                notify::status(&format!("paused: {reason}"));
            }
            let _ = reply.send(r);
        }
        Request::Resume { caller, reply } => {
            let r = d.resume(caller.uid);
            if r.is_ok() {
                notify::status("resumed");
                wake.notify_one();
            }
            let _ = reply.send(r);
        }
        Request::Rollback {
            generation,
            reason,
            caller,
            reply,
        } => {
            tokio::task::spawn_blocking(move || {
                let r = d
                    .rollback(generation, reason, caller.uid)
                    .map(|rb| serde_json::to_string(&rb).unwrap_or_default());
                if r.is_ok() {
                    crate::metrics::operator_rollback();
                }
                let _ = reply.send(r);
            });
        }
        Request::Skip {
            proposal,
            reason,
            caller,
            reply,
        } => {
            tokio::task::spawn_blocking(move || {
                let r = d
                    .skip(proposal, reason, caller.uid, SKIP_WAIT)
                    .map(|rec| serde_json::to_string(&rec).unwrap_or_default());
                if r.is_ok() {
                    wake.notify_one();
                }
                let _ = reply.send(r);
            });
        }
    }
}

/// Waits for a pass in progress (its report included) and an operator's rollback to end.
pub async fn wait_for_activation(d: &Arc<Deployer>) {
    let me = Arc::clone(d);
    let _ = tokio::task::spawn_blocking(move || {
        drop(me.passing.lock().unwrap_or_else(|p| p.into_inner()));
        drop(me.activation.lock().unwrap_or_else(|p| p.into_inner()));
    })
    .await;
}

/// Follows the app and wakes the worker on events that can make a proposal ready for this host.
pub async fn follow(
    app: App,
    watermark_file: std::path::PathBuf,
    start_after: u64,
    host: u64,
    wake: Arc<Notify>,
) {
    let Some(mut follower) = super::following::follower(app, watermark_file, start_after, false)
    else {
        return;
    };
    crate::metrics::follower("executor", follower.status_handle());
    loop {
        match follower.next().await {
            Ok(ev) => {
                use dao_chain::events::AppEvent as E;
                let relevant = match &ev.event {
                    E::ProposalFinalized { queued, .. } => *queued,
                    E::ProposalExecuted { .. } | E::HostChanged { .. } => true,
                    E::ExecutionReported { host_id, .. } => *host_id == host,
                    // A host awaiting attestations acts on the attestation that decides it.
                    E::Attested { host_id, .. } | E::Agreed { host_id, .. } => *host_id == host,
                    E::ValidatorChanged { .. } => true,
                    _ => false,
                };
                if relevant {
                    info!(
                        proposal = ev.event.proposal_id(),
                        round = ev.round,
                        event = ev.event.name(),
                        "chain event"
                    );
                    wake.notify_one();
                }
            }
            Err(e) => {
                warn!("following the chain: {e}");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    }
}

/// Serves the D-Bus face; returns the connection (keep it to keep the name).
pub async fn serve_bus(
    setup: &Setup,
    requests: mpsc::Sender<Request>,
) -> Result<zbus::Connection, String> {
    let operators = match &setup.operator_group {
        Some(name) => Some(control::operator_group(name)?),
        None => None,
    };
    control::serve(None, Agent1::new(requests, operators))
        .await
        .map_err(|e| match e {
            control::ServeError::Taken(why) => why,
            control::ServeError::Other(e) => format!(
                "cannot own {} on the system bus: {e}; is the D-Bus policy \
                 (share/dbus-1/system.d/{}.conf) installed?",
                control::BUS_NAME,
                control::BUS_NAME
            ),
        })
}

/// How long to wait after `pass` before the next one; `failures` counts retries in a row.
/// How often a deployment awaiting attestations looks again without an event (events wake it
/// at once; this catches a missed one and the end of the window).
const AWAITING_RECHECK: Duration = Duration::from_secs(60);

pub fn delay_after(pass: &Pass, failures: &mut u32, now_ms: u64) -> Duration {
    match pass {
        Pass::Again => {
            *failures = 0;
            Duration::ZERO
        }
        Pass::Idle { next_eta, now } => {
            *failures = 0;
            // Sleep until the next eta (chain time runs with the wall clock), or until an event
            // wakes the worker; a periodic re-survey catches anything missed.
            next_eta.map_or(Duration::from_secs(300), |eta| {
                Duration::from_secs(eta.saturating_sub(*now).clamp(1, 300))
            })
        }
        Pass::Awaiting(_) => {
            *failures = 0;
            AWAITING_RECHECK
        }
        Pass::SelfUpgrade(_) => Duration::ZERO,
        Pass::Retry(_) => {
            *failures = failures.saturating_add(1);
            dao_chain::follow::Backoff {
                initial: Duration::from_secs(2),
                max: Duration::from_secs(300),
            }
            .delay(*failures, now_ms)
        }
    }
}
