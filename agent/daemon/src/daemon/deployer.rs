//! The executor role's decisions: one pass at a time, it applies what a fresh survey of the chain
//! says is ready, one proposal per pass, and reports outcomes.
//!
//! This is synchronous code over the I/O edges ([`crate::edges`]): the daemon runs it on a
//! blocking thread (`worker.rs`), and `dao-sim` drives the same code through simulated edges.
//! Everything that changes the host (a deployment, an operator rollback) holds the one
//! activation lock, so two never overlap; reporting changes nothing on the host and runs
//! outside it.

use super::files;
use super::health::Dependencies;
use super::rollback::{self, Amendment, FinishError, OperatorRollback, Pause, Phase};
use super::setup::Setup;
use super::survey::{Action, Cache};
use crate::edges::{Chain, Edges, InstanceLock};
use crate::executor::pipeline::{Executor, PipelineError};
use crate::executor::Approved;
use crate::journal::{tag, Journal, Observer, Outcome, Record, Report, Step, StepState};
use crate::mutants;
use serde::Serialize;
use std::sync::{Arc, Mutex, MutexGuard};
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
    /// The deployment built and waiting for the validators' attestation quorum.
    pub awaiting_attestations: Option<AwaitingAttestations>,
    pub rollback: Option<OperatorRollback>,
    /// The host runs a system the agent did not activate (daemon/drift.rs).
    pub drift: Option<super::drift::Drift>,
    /// The last drift reactivation, from its record (daemon/reactivate.rs).
    pub reactivation: Option<crate::journal::reactivation::Reactivation>,
    /// The last heartbeat on chain and the next one due (daemon/heartbeat.rs).
    pub heartbeat: super::heartbeat::HeartbeatStatus,
    /// Proposals targeting this host that do not verify: never acted on.
    pub unverified: Vec<(u64, String)>,
    pub chain_time: u64,
    pub dependencies: Dependencies,
    /// Approved proposals for this host without a final outcome (what `skip` may name).
    #[serde(skip)]
    pub pending: Vec<Approved>,
    #[serde(skip)]
    pub shutting_down: bool,
    /// A self-upgrade is due: the agent is stopping for the new one (daemon/upgrade.rs).
    pub self_upgrade: Option<super::upgrade::Planned>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Progress {
    pub proposal: u64,
    pub step: String,
    pub state: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AwaitingAttestations {
    pub proposal: u64,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Last {
    pub proposal: u64,
    pub outcome: Outcome,
}

/// The outcome of the record decided last (by its last step's time, then proposal id).
pub fn last_outcome(records: &[Record]) -> Option<Last> {
    records
        .iter()
        .filter_map(|r| r.outcome.as_ref().map(|o| (r, o)))
        .max_by_key(|(r, _)| (r.steps.last().map_or(0, |s| s.at_ms), r.proposal))
        .map(|(r, o)| Last {
            proposal: r.proposal,
            outcome: o.clone(),
        })
}

pub fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// What one pass did, and so when the next one should come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pass {
    /// Something was done: look again at once.
    Again,
    /// Nothing to do until an event, or until the chain reaches `next_eta`.
    Idle { next_eta: Option<u64>, now: u64 },
    /// Something failed that time may mend (algod, a remote, a report); the reason is shown.
    Retry(String),
    /// A built deployment waits for the validators' attestations: look again when one lands,
    /// or after a while (its window may close meanwhile).
    Awaiting(String),
    /// The applied deployment changed the agent itself: stop, so that the unit starts the new
    /// one (daemon/upgrade.rs). No pass follows.
    SelfUpgrade(super::upgrade::Planned),
}

/// The journal observer that keeps `shared` current (status, the last outcome) and tells
/// `changed` of every record written.
pub fn observer(
    shared: Arc<Mutex<Shared>>,
    changed: impl Fn(u64, String) + Send + Sync + 'static,
) -> Observer {
    Box::new(move |rec: &Record| {
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
        changed(rec.proposal, state);
    })
}

/// Why the executor cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Another instance, or a key that is not this host's: fix the setup, not the code.
    #[error("{0}")]
    Setup(String),
    #[error("{0}")]
    Other(String),
}

pub struct Deployer {
    pub setup: Arc<Setup>,
    pub edges: Edges,
    pub chain: Arc<dyn Chain>,
    pub journal: Journal,
    pub shared: Arc<Mutex<Shared>>,
    /// Held while the host changes (a deployment's decision, an operator rollback).
    pub activation: Mutex<()>,
    /// Held for a whole pass (its report included): shutdown waits for it.
    pub passing: Mutex<()>,
    cache: Mutex<Cache>,
    _instance: Box<dyn InstanceLock>,
    /// Told of each new drift (the on_outcome hook with `drift`).
    pub on_drift: Option<DriftSink>,
    /// Where heartbeats go (None: none are sent, as in dao-sim).
    pub heartbeats: Option<Arc<dyn super::heartbeat::Heartbeats>>,
}

pub type DriftSink = Box<dyn Fn(&super::drift::Drift) + Send + Sync>;

impl Deployer {
    /// Takes the state directory (one agent per state directory), checks that the key is the
    /// host's registered agent, and loads the pause, an unfinished rollback and the journal.
    pub fn start(
        setup: Arc<Setup>,
        edges: Edges,
        chain: Arc<dyn Chain>,
        shared: Arc<Mutex<Shared>>,
        observer: Option<Observer>,
    ) -> Result<Deployer, StartError> {
        edges.files.create_dir(&setup.dir).map_err(|e| {
            StartError::Other(format!("cannot create {}: {e}", setup.dir.display()))
        })?;
        let instance = if mutants::active("two_agents") {
            struct Nothing;
            impl InstanceLock for Nothing {}
            Box::new(Nothing) as Box<dyn InstanceLock>
        } else {
            edges
                .files
                .lock_instance(&setup.instance_lock())
                .map_err(StartError::Setup)?
        };
        if !mutants::active("wrong_key") {
            check_key(&setup, &*chain)?;
        }
        let journal = Journal::open_in(Arc::clone(&edges.files), &setup.journal_dir())
            .map_err(|e| StartError::Other(e.to_string()))?;
        let journal = match observer {
            Some(o) => journal.observed(o),
            None => journal,
        };
        let paused: Option<Pause> = files::read_json(&*edges.files, &rollback::pause_file(&setup))
            .map_err(StartError::Other)?;
        let rb: Option<OperatorRollback> =
            files::read_json(&*edges.files, &rollback::rollback_file(&setup))
                .map_err(StartError::Other)?;
        // The last outcome is the journal's, not this process's: status after a restart must
        // still say how the last deployment ended (issue 17). A journal that does not read is
        // not a reason to stop here: the deployer halts on it and status names the record.
        let last = journal.all().ok().and_then(|r| last_outcome(&r));
        {
            let mut s = lock(&shared);
            s.paused = paused;
            s.rollback = rb;
            s.last = last;
        }
        // The survey's floor survives a restart (daemon/survey/cache.rs).
        let survey_cache = Cache::persisted(setup.dir.join("survey.json"));
        let d = Deployer {
            setup,
            edges,
            chain,
            journal,
            shared,
            activation: Mutex::new(()),
            passing: Mutex::new(()),
            cache: Mutex::new(survey_cache),
            _instance: instance,
            on_drift: None,
            heartbeats: None,
        };
        d.scan_journal();
        d.log_self_upgrade();
        Ok(d)
    }

    fn now_ms(&self) -> u64 {
        self.edges.clock.now_ms()
    }

    pub fn paused(&self) -> bool {
        lock(&self.shared).paused.is_some()
    }

    fn stopping(&self) -> bool {
        lock(&self.shared).shutting_down
    }

    /// Whether the agent can work: its journal is readable. A corrupt journal is never ready.
    pub fn ready(&self) -> bool {
        lock(&self.shared).dependencies.journal.ok
    }

    /// Reads every record: the journal's health; the records when it is sound.
    pub fn scan_journal(&self) -> Option<Vec<Record>> {
        let now = self.now_ms();
        match self.journal.all() {
            Ok(r) => {
                lock(&self.shared).dependencies.up("journal", now);
                Some(r)
            }
            Err(e) => {
                lock(&self.shared)
                    .dependencies
                    .down("journal", now, &e.to_string());
                None
            }
        }
    }

    pub fn executor(&self) -> Executor<'_> {
        Executor {
            host: self.setup.host,
            timeouts: self.setup.timeouts.clone(),
            edges: &self.edges,
            journal: &self.journal,
            reporter: &*self.chain,
            gate: &*self.chain,
        }
    }

    /// One pass: finish an interrupted rollback, report what is unreported, then apply the next
    /// ready proposal.
    pub fn pass(&self) -> Pass {
        let _passing = self.passing.lock().unwrap_or_else(|p| p.into_inner());
        if lock(&self.shared).rollback.as_ref().is_some_and(unfinished) {
            let _guard = self.activation.lock().unwrap_or_else(|p| p.into_inner());
            // Read again under the lock: the operator's own call may have finished it.
            let rb = lock(&self.shared).rollback.clone().filter(unfinished);
            if let Some(rb) = rb {
                match self.finish_rollback(rb) {
                    Ok(_) => return Pass::Again,
                    Err(FinishError::Amendment { why, chain_down }) => {
                        // Switched, but the amendment waits, on the chain or on the undone
                        // deployment's own report: that report must still go out below, or the
                        // two would wait for each other for ever (found by dao-sim).
                        if chain_down {
                            lock(&self.shared)
                                .dependencies
                                .down("algod", self.now_ms(), &why);
                        }
                        warn!("{why}");
                    }
                    Err(e) => return Pass::Retry(e.to_string()),
                }
            }
        }
        if !self.stopping() {
            // A reactivation left half-way is finished or reverted before anything else is
            // decided: until then the profile and the running system may be apart.
            let _guard = self.activation.lock().unwrap_or_else(|p| p.into_inner());
            if let Err(why) = self.recover_reactivation() {
                warn!(step = "reactivate", "{why}");
                return Pass::Retry(why);
            }
        }
        let Some(records) = self.scan_journal() else {
            let why = lock(&self.shared).dependencies.journal.problem.clone();
            return Pass::Retry(format!(
                "nothing is applied while the journal is unreadable: {}",
                why.unwrap_or_default()
            ));
        };
        // An outcome whose report is not confirmed comes first: reporting never changes the
        // host, so it needs no activation lock and is not held back by a pause.
        if let Some(mut rec) = records
            .iter()
            .find(|r| r.outcome.is_some() && !matches!(r.report, Report::Confirmed { .. }))
            .cloned()
        {
            return self.report(&mut rec);
        }
        // Everything reported, nothing changing the host: the moment to hand over to a new
        // agent that the last deployment brought.
        if let Some(planned) = self.self_upgrade_due(&records) {
            return Pass::SelfUpgrade(planned);
        }
        if !self.stopping() {
            {
                let _guard = self.activation.lock().unwrap_or_else(|p| p.into_inner());
                if let Err(why) = self.check_drift(&records) {
                    return Pass::Retry(why);
                }
            }
            // Every pass, not only idle ones: a host waiting days for attestations or retrying
            // a failing fetch is alive, and drift seen meanwhile belongs on chain. Rate-limited
            // by the interval; it never touches the host.
            self.maybe_heartbeat(None, &records);
        }
        if self.paused() {
            return Pass::Idle {
                next_eta: None,
                now: 0,
            };
        }
        let surveyed = {
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            self.chain.survey(self.setup.host, &mut cache)
        };
        let now = self.now_ms();
        let s = match surveyed {
            Ok(s) => {
                lock(&self.shared).dependencies.up("algod", now);
                s
            }
            Err(e) => {
                lock(&self.shared).dependencies.down("algod", now, &e);
                return Pass::Retry(format!("cannot read the chain: {e}"));
            }
        };
        let open = |a: &Approved| {
            !matches!(
                self.journal.get(a.proposal, self.setup.host),
                Ok(Some(Record {
                    outcome: Some(_),
                    ..
                }))
            )
        };
        {
            let mut sh = lock(&self.shared);
            sh.chain_time = s.now;
            sh.unverified.clone_from(&s.unverified);
            sh.waiting = s
                .next_eta
                .map(|eta| format!("a proposal is in its timelock until {eta}"));
            sh.pending = s
                .actions
                .iter()
                .map(Action::approved)
                .chain(s.in_timelock.iter())
                .filter(|a| open(a))
                .cloned()
                .collect();
        }
        for (id, why) in &s.unverified {
            warn!(proposal = id, "not acting on proposal {id}: {why}");
        }
        let Some(action) = s.actions.iter().find(|a| open(a.approved())) else {
            self.maybe_heartbeat(Some(s.now), &records);
            return Pass::Idle {
                next_eta: s.next_eta,
                now: s.now,
            };
        };
        let approved = action.approved().clone();
        let lineage = s.lineage(self.setup.genesis);
        let proposal = approved.proposal;
        // From here on the host may change: hold the activation lock, and look again at what
        // an operator may have said while the chain was being read.
        let decided = {
            let _guard = self.activation.lock().unwrap_or_else(|p| p.into_inner());
            if self.paused() || self.stopping() {
                return Pass::Idle {
                    next_eta: None,
                    now: 0,
                };
            }
            // A switch that a crashed agent left running is waited for before anything about
            // the host is decided (mutant `overlap_after_crash`, finding 4, skips this).
            if !mutants::active("overlap_after_crash") {
                match self.edges.system.settle(self.setup.timeouts.switch) {
                    Ok(waited) if !waited.is_empty() => {
                        info!(
                            proposal,
                            "waited for an earlier switch: {}",
                            waited.join(", ")
                        );
                    }
                    Ok(_) => {}
                    Err(e) => return Pass::Retry(format!("an earlier switch still runs: {e}")),
                }
            }
            info!(
                proposal,
                commit = %approved.head,
                base = %approved.base,
                "applying proposal {proposal}"
            );
            self.executor().decide(&approved, &lineage)
        };
        let now = self.now_ms();
        let awaiting = match &decided {
            Err(PipelineError::Awaiting { proposal, reason }) => Some(AwaitingAttestations {
                proposal: *proposal,
                reason: reason.clone(),
            }),
            _ => None,
        };
        if let Some(a) = awaiting.as_ref() {
            info!(proposal = a.proposal, "awaiting attestations: {}", a.reason);
        }
        lock(&self.shared).awaiting_attestations = awaiting;
        let mut rec = match decided {
            Ok(rec) => rec,
            // Waiting for the validators is no failure: sleep until an attestation wakes us (or
            // the periodic re-survey, which also ends it once the window closes).
            Err(e @ PipelineError::Awaiting { .. }) => return Pass::Awaiting(e.to_string()),
            Err(PipelineError::Retry {
                step: Step::FetchCommits,
                reason,
                ..
            }) => {
                lock(&self.shared).dependencies.down("git", now, &reason);
                return Pass::Retry(format!("proposal {proposal}: {reason}"));
            }
            Err(e @ (PipelineError::Report { .. } | PipelineError::Chain { .. })) => {
                let why = e.to_string();
                lock(&self.shared).dependencies.down("algod", now, &why);
                return Pass::Retry(why);
            }
            Err(PipelineError::Journal(e)) => {
                error!(proposal, "the journal cannot be used: {e}");
                lock(&self.shared)
                    .dependencies
                    .down("journal", now, &e.to_string());
                return Pass::Retry(format!("proposal {proposal}: {e}"));
            }
            Err(e) => return Pass::Retry(e.to_string()),
        };
        if rec.last(Step::FetchCommits) == Some(StepState::Done) {
            lock(&self.shared).dependencies.up("git", now);
        }
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
        if mutants::active("upgrade_before_report") && rec.outcome.is_some() {
            let mut records = self.scan_journal().unwrap_or_default();
            records.retain(|r| r.proposal != rec.proposal);
            records.push(rec.clone());
            if let Some(planned) = self.self_upgrade_due(&records) {
                return Pass::SelfUpgrade(planned);
            }
        }
        self.report(&mut rec)
    }

    /// Reports a final outcome (outside the activation lock: reporting changes nothing on the
    /// host, and an operator's rollback right after an outcome must not find the lock held).
    fn report(&self, rec: &mut Record) -> Pass {
        match self.executor().report(rec) {
            Ok(()) => {
                lock(&self.shared).dependencies.up("algod", self.now_ms());
                Pass::Again
            }
            Err(e) => {
                let why = e.to_string();
                lock(&self.shared)
                    .dependencies
                    .down("algod", self.now_ms(), &why);
                Pass::Retry(why)
            }
        }
    }

    pub fn finish_rollback(&self, rb: OperatorRollback) -> Result<OperatorRollback, FinishError> {
        let done = rollback::finish(&self.setup, &self.edges, Some(&*self.chain), rb);
        if done.is_err() {
            // Not finished, but its file may say it switched (the amendment waits, or recording
            // it failed): status, the drift baseline and the next pass go by that, not by the
            // intent in memory, or the next pass switches again and drift names the system
            // rolled back from as approved (found by dao-sim, seeds 59 and 4470). A switch that
            // failed stays as it was in memory: retried by the next pass.
            let file = rollback::rollback_file(&self.setup);
            if let Ok(Some(rb)) = files::read_json::<OperatorRollback>(&*self.edges.files, &file) {
                if rb.phase == Phase::Switched {
                    lock(&self.shared).rollback = Some(rb);
                }
            }
        }
        let switched = lock(&self.shared)
            .rollback
            .as_ref()
            .is_some_and(|rb| rb.phase == Phase::Switched);
        if switched || done.is_ok() {
            // The rollback's generation is what the host should run now, and runs: a drift
            // shown before it is over (the next check says so again if not), and must not go
            // on chain in this pass's heartbeat (found by dao-sim, seed 1017).
            lock(&self.shared).drift = None;
        }
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
}

/// Refuses to run an executor whose key is not the host's registered agent: it could change the
/// host but never report it (finding 5).
fn check_key(setup: &Setup, chain: &dyn Chain) -> Result<(), StartError> {
    let host = setup.host;
    let mine = chain.signer_address();
    match chain.host_agent(host) {
        Ok(Some(agent)) if agent == mine => Ok(()),
        Ok(Some(agent)) => Err(StartError::Setup(format!(
            "the account key (keys.account_key_file or the account-key credential) is that of \
             {mine}, but host {host} ({}) is registered in app {} with agent {agent}: install \
             that host's key, or rotate the host's agent key by proposal",
            setup.host_name, setup.app_id
        ))),
        Ok(None) => Err(StartError::Setup(format!(
            "host {host} ({}) is not registered in app {}: check host.id, or register the host \
             by proposal first",
            setup.host_name, setup.app_id
        ))),
        Err(e) => Err(StartError::Other(format!(
            "cannot check that this agent's key is host {host}'s registered agent: {e}"
        ))),
    }
}

pub fn unfinished(rb: &OperatorRollback) -> bool {
    rb.phase == Phase::Switching || rb.amendment == Amendment::Pending
}
