//! The executor role: one worker applies approved proposals one at a time; the control loop
//! answers D-Bus, pings the watchdog and waits for a running activation on SIGTERM.
//!
//! The worker acts on what a fresh [`survey`] of the chain says, never on an event's word: an
//! event only wakes it. Everything that changes the host (a deployment, an operator rollback)
//! holds the one activation lock, so two never overlap and shutdown can wait for the one running.

use super::files;
use super::notify;
use super::reporter::ChainReporter;
use super::rollback::{self, Amendment, OperatorRollback, Pause, Phase};
use super::setup::Setup;
use super::survey::{survey, Action, Cache, Survey};
use crate::control::{self, Agent1, Request};
use crate::executor::pipeline::{PipelineError, Switcher};
use crate::journal::{tag, Journal, Outcome, Record, Status, Step, StepState};
use dao_chain::follow::Backoff;
use dao_chain::App;
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, Notify};
use tracing::{error, info, warn};

/// What the agent is doing, for GetStatus and sd-notify.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Shared {
    pub paused: Option<Pause>,
    /// The deployment in progress: proposal and its latest step.
    pub current: Option<Progress>,
    pub last: Option<Last>,
    /// Why nothing is being applied right now, when something is waiting.
    pub waiting: Option<String>,
    pub rollback: Option<OperatorRollback>,
    /// Proposals targeting this host that do not verify: never acted on.
    pub unverified: Vec<(u64, String)>,
    pub chain_time: u64,
    #[serde(skip)]
    pub shutting_down: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Progress {
    pub proposal: u64,
    pub step: String,
    pub state: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Last {
    pub proposal: u64,
    pub outcome: Outcome,
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

pub struct Deployer {
    pub setup: Arc<Setup>,
    pub app: App,
    pub journal: Arc<Journal>,
    pub reporter: Arc<ChainReporter>,
    pub switcher: Arc<dyn Switcher + Send + Sync>,
    pub shared: Arc<Mutex<Shared>>,
    pub activation: Arc<tokio::sync::Mutex<()>>,
    pub wake: Arc<Notify>,
    pub cache: tokio::sync::Mutex<Cache>,
}

/// A journal that keeps `shared` current and tells the control loop of every change.
pub fn observed_journal(
    setup: &Setup,
    shared: Arc<Mutex<Shared>>,
    changes: mpsc::UnboundedSender<(u64, String)>,
) -> Result<Journal, String> {
    let journal = Journal::open(&setup.journal_dir()).map_err(|e| e.to_string())?;
    Ok(journal.observed(Box::new(move |rec: &Record| {
        let mut s = lock(&shared);
        let state = match &rec.outcome {
            Some(o) => {
                s.current = None;
                s.last = Some(Last {
                    proposal: rec.proposal,
                    outcome: o.clone(),
                });
                tag(&o.status)
            }
            None => {
                let (step, state) = rec
                    .steps
                    .last()
                    .map_or((Step::FetchCommits, StepState::Started), |e| {
                        (e.step, e.state)
                    });
                s.current = Some(Progress {
                    proposal: rec.proposal,
                    step: tag(&step),
                    state: tag(&state),
                });
                tag(&step)
            }
        };
        drop(s);
        let _ = changes.send((rec.proposal, state));
    })))
}

impl Deployer {
    fn paused(&self) -> bool {
        lock(&self.shared).paused.is_some()
    }

    fn stopping(&self) -> bool {
        lock(&self.shared).shutting_down
    }

    /// Applies what the chain says is ready, one proposal per pass, until stopped.
    pub async fn work(self: Arc<Self>) {
        let mut delay = Duration::ZERO;
        let mut failures: u32 = 0;
        loop {
            if !delay.is_zero() {
                tokio::select! {
                    () = self.wake.notified() => {}
                    () = tokio::time::sleep(delay) => {}
                }
            }
            if self.stopping() {
                return;
            }
            let pass = self.pass().await;
            delay = match pass {
                Pass::Again => {
                    failures = 0;
                    Duration::ZERO
                }
                Pass::Idle { next_eta, now } => {
                    failures = 0;
                    // Sleep until the next eta (chain time runs with the wall clock), or until
                    // an event wakes us; a periodic re-survey catches anything missed.
                    next_eta.map_or(Duration::from_secs(300), |eta| {
                        Duration::from_secs(eta.saturating_sub(now).clamp(1, 300))
                    })
                }
                Pass::Retry(why) => {
                    failures = failures.saturating_add(1);
                    let d = Backoff {
                        initial: Duration::from_secs(2),
                        max: Duration::from_secs(300),
                    }
                    .delay(failures, now_ms());
                    warn!(retry_in_s = d.as_secs(), "{why}");
                    lock(&self.shared).waiting = Some(format!("{why} (retrying)"));
                    d
                }
            };
        }
    }

    async fn pass(&self) -> Pass {
        if lock(&self.shared).rollback.as_ref().is_some_and(unfinished) {
            let _guard = self.activation.clone().lock_owned().await;
            // Read again under the lock: the operator's own call may have finished it.
            let rb = lock(&self.shared).rollback.clone().filter(unfinished);
            if let Some(rb) = rb {
                return match self.finish_rollback(rb).await {
                    Ok(_) => Pass::Again,
                    Err(e) => Pass::Retry(e),
                };
            }
        }
        if self.paused() {
            return Pass::Idle {
                next_eta: None,
                now: 0,
            };
        }
        let surveyed = survey(&self.app, self.setup.host, &mut *self.cache.lock().await).await;
        let s: Survey = match surveyed {
            Ok(s) => s,
            Err(e) => return Pass::Retry(format!("cannot read the chain: {e}")),
        };
        {
            let mut sh = lock(&self.shared);
            sh.chain_time = s.now;
            sh.unverified.clone_from(&s.unverified);
            sh.waiting = s
                .next_eta
                .map(|eta| format!("a proposal is in its timelock until {eta}"));
        }
        for (id, why) in &s.unverified {
            warn!(proposal = id, "not acting on proposal {id}: {why}");
        }
        // Skip what this journal already finished and reported (the chain may lag a block).
        let todo = s.actions.iter().find(|a| {
            !matches!(
                self.journal.get(a.approved().proposal, self.setup.host),
                Ok(Some(Record {
                    outcome: Some(_),
                    report: crate::journal::Report::Confirmed { .. },
                    ..
                }))
            )
        });
        // An outcome whose report a crash left unconfirmed comes first: the pipeline only
        // reports it (or finds it on chain), it never applies anything again.
        let unreported = self.journal.all().ok().and_then(|records| {
            records.into_iter().find_map(|r| {
                let unconfirmed = r.outcome.is_some()
                    && !matches!(r.report, crate::journal::Report::Confirmed { .. });
                let base = git2::Oid::from_str(&r.base).ok()?;
                let head = git2::Oid::from_str(&r.head).ok()?;
                unconfirmed.then_some(Action::Apply(crate::executor::Approved {
                    proposal: r.proposal,
                    base,
                    head,
                    diff_hash: r.diff_hash,
                }))
            })
        });
        let Some(action) = unreported.or_else(|| todo.cloned()) else {
            return Pass::Idle {
                next_eta: s.next_eta,
                now: s.now,
            };
        };
        // From here on the host may change: hold the activation lock, and look again at what
        // an operator may have said while the chain was being read.
        let _guard = self.activation.clone().lock_owned().await;
        if self.paused() || self.stopping() {
            return Pass::Idle {
                next_eta: None,
                now: 0,
            };
        }
        let lineage = s.lineage(self.setup.genesis);
        let approved = action.approved().clone();
        let proposal = approved.proposal;
        info!(
            proposal,
            commit = %approved.head,
            base = %approved.base,
            "applying proposal {proposal}"
        );
        let (setup, journal, switcher, reporter) = (
            Arc::clone(&self.setup),
            Arc::clone(&self.journal),
            Arc::clone(&self.switcher),
            Arc::clone(&self.reporter),
        );
        let ran = tokio::task::spawn_blocking(move || {
            if let Action::Expired(a) = &action {
                if journal.get(a.proposal, setup.host)?.is_none() {
                    let mut rec = Record::new(
                        a.proposal,
                        setup.host,
                        &a.base.to_string(),
                        &a.head.to_string(),
                        a.diff_hash,
                    );
                    rec.outcome = Some(Outcome {
                        status: Status::Refused,
                        step: None,
                        reason: Some(
                            "the proposal expired before this host applied it; expired \
                             proposals are never applied"
                                .into(),
                        ),
                    });
                    journal.put(&rec)?;
                }
            }
            let ex = setup.executor(&journal, &*switcher, &*reporter);
            ex.run(&approved, &lineage)
        })
        .await;
        match ran {
            Ok(Ok(rec)) => {
                if let Some(o) = &rec.outcome {
                    info!(
                        proposal,
                        status = tag(&o.status),
                        step = o.step.map(|s| tag(&s)),
                        reason = o.reason.as_deref().unwrap_or(""),
                        "proposal {proposal}: {}",
                        tag(&o.status)
                    );
                }
                Pass::Again
            }
            Ok(Err(PipelineError::Journal(e))) => {
                error!(proposal, "the journal cannot be used: {e}");
                Pass::Retry(format!("proposal {proposal}: {e}"))
            }
            Ok(Err(e)) => Pass::Retry(e.to_string()),
            Err(e) => {
                error!(proposal, "the deployment task ended abnormally: {e}");
                Pass::Retry(format!(
                    "proposal {proposal}: the deployment task failed: {e}"
                ))
            }
        }
    }

    async fn finish_rollback(&self, rb: OperatorRollback) -> Result<OperatorRollback, String> {
        let (setup, switcher, reporter) = (
            Arc::clone(&self.setup),
            Arc::clone(&self.switcher),
            Arc::clone(&self.reporter),
        );
        let done = tokio::task::spawn_blocking(move || {
            rollback::finish(&setup, &*switcher, Some(&reporter), rb)
        })
        .await
        .map_err(|e| format!("the rollback task failed: {e}"))?;
        if let Ok(rb) = &done {
            lock(&self.shared).rollback = Some(rb.clone());
            info!(
                generation = rb.to.number,
                proposal = rb.proposal,
                "operator rollback to generation {} finished",
                rb.to.number
            );
        }
        done
    }

    /// Answers one D-Bus request.
    pub fn handle(self: &Arc<Self>, req: Request) {
        match req {
            Request::Status { reply } => {
                let _ = reply.send(self.status_json());
            }
            Request::Deployments { reply } => {
                let _ = reply.send(self.deployments_json());
            }
            Request::Pause {
                reason,
                caller,
                reply,
            } => {
                let _ = reply.send(self.pause(reason, caller.uid));
            }
            Request::Resume { caller, reply } => {
                let _ = reply.send(self.resume(caller.uid));
            }
            Request::Rollback {
                generation,
                reason,
                caller,
                reply,
            } => {
                let me = Arc::clone(self);
                tokio::spawn(async move {
                    let r = me.rollback(generation, reason, caller.uid).await;
                    let _ = reply.send(r);
                });
            }
        }
    }

    fn status_json(&self) -> String {
        let s = lock(&self.shared).clone();
        serde_json::json!({
            "role": "executor",
            "host": { "id": self.setup.host, "name": self.setup.host_name },
            "app_id": self.setup.app_id,
            "paused": s.paused,
            "current": s.current,
            "last": s.last,
            "waiting": s.waiting,
            "rollback": s.rollback,
            "unverified": s.unverified,
            "chain_time": s.chain_time,
            "generation": self.setup.profile().current().ok().flatten(),
        })
        .to_string()
    }

    fn deployments_json(&self) -> String {
        match self.journal.all() {
            Ok(mut records) => {
                records.reverse();
                serde_json::to_string(&records).unwrap_or_else(|_| "[]".into())
            }
            Err(e) => serde_json::json!({ "error": e.to_string() }).to_string(),
        }
    }

    fn pause(&self, reason: String, uid: u32) -> Result<(), String> {
        let mut s = lock(&self.shared);
        if s.paused.is_some() {
            return Ok(());
        }
        let p = Pause {
            reason,
            uid,
            at_ms: now_ms(),
        };
        files::write_json(&rollback::pause_file(&self.setup), &p)?;
        info!(uid, reason = %p.reason, "automatic deployment paused");
        notify::status(&format!("paused: {}", p.reason));
        s.paused = Some(p);
        Ok(())
    }

    fn resume(&self, uid: u32) -> Result<(), String> {
        let mut s = lock(&self.shared);
        if s.rollback.as_ref().is_some_and(unfinished) {
            return Err(
                "an operator rollback is still being finished (switch or on-chain amendment); \
                 resume once `dao-agentctl status` shows it done"
                    .into(),
            );
        }
        files::remove(&rollback::pause_file(&self.setup))?;
        if s.paused.take().is_some() {
            info!(uid, "automatic deployment resumed");
            notify::status("resumed");
        }
        drop(s);
        self.wake.notify_one();
        Ok(())
    }

    async fn rollback(
        &self,
        generation: Option<u64>,
        reason: String,
        uid: u32,
    ) -> Result<String, String> {
        let Ok(guard) = self.activation.clone().try_lock_owned() else {
            let what = lock(&self.shared)
                .current
                .as_ref()
                .map_or("a change".to_owned(), |c| {
                    format!("proposal {} ({})", c.proposal, c.step)
                });
            return Err(format!(
                "{what} is being applied right now; `dao-agentctl pause` stops the next one, \
                 then roll back once this one has finished (it reverts by itself if unhealthy)"
            ));
        };
        let (setup, journal) = (Arc::clone(&self.setup), Arc::clone(&self.journal));
        let req = rollback::Request {
            generation,
            reason: reason.clone(),
            uid,
            at_ms: now_ms(),
        };
        let started = tokio::task::spawn_blocking(move || rollback::start(&setup, &journal, req))
            .await
            .map_err(|e| format!("the rollback task failed: {e}"))??;
        info!(
            uid,
            reason = %reason,
            generation = started.to.number,
            proposal = started.proposal,
            "operator rollback to generation {} started",
            started.to.number
        );
        {
            let mut s = lock(&self.shared);
            s.rollback = Some(started.clone());
            s.paused = Some(Pause {
                reason: format!("operator rollback: {reason}"),
                uid,
                at_ms: started.at_ms,
            });
        }
        let done = self.finish_rollback(started).await;
        drop(guard);
        let rb = done?;
        Ok(serde_json::to_string(&rb).unwrap_or_default())
    }
}

fn unfinished(rb: &OperatorRollback) -> bool {
    rb.phase == Phase::Switching || rb.amendment == Amendment::Pending
}

enum Pass {
    /// Something was done: look again at once.
    Again,
    /// Nothing to do until an event, or until the chain reaches `next_eta`.
    Idle {
        next_eta: Option<u64>,
        now: u64,
    },
    Retry(String),
}

/// Loads the pause and an unfinished rollback left by a previous run.
pub fn load_state(setup: &Setup, shared: &Mutex<Shared>) -> Result<(), String> {
    let paused: Option<Pause> = files::read_json(&rollback::pause_file(setup))?;
    let rb: Option<OperatorRollback> = files::read_json(&rollback::rollback_file(setup))?;
    let mut s = lock(shared);
    s.paused = paused;
    s.rollback = rb;
    Ok(())
}

/// Follows the app and wakes the worker on events that can make a proposal ready for this host.
pub async fn follow(
    app: App,
    watermark_file: std::path::PathBuf,
    start_after: u64,
    host: u64,
    wake: Arc<Notify>,
) {
    let Some(mut follower) = super::follower(app, watermark_file, start_after, false) else {
        return;
    };
    loop {
        match follower.next().await {
            Ok(ev) => {
                use dao_chain::events::AppEvent as E;
                let relevant = match &ev.event {
                    E::ProposalFinalized { queued, .. } => *queued,
                    E::ProposalExecuted { .. } | E::HostChanged { .. } => true,
                    E::ExecutionReported { host_id, .. } => *host_id == host,
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
        .map_err(|e| {
            format!(
                "cannot own {} on the system bus: {e}; is the D-Bus policy \
                 (share/dbus-1/system.d/{}.conf) installed?",
                control::BUS_NAME,
                control::BUS_NAME
            )
        })
}
