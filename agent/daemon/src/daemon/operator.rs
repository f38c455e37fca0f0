//! What operators ask of the executor over D-Bus: status, deployments, pause, resume, rollback
//! and skip. Each is synchronous code over the edges (the D-Bus face calls it on a blocking
//! thread; `dao-sim` calls it at random moments of a schedule).

use super::deployer::{lock, unfinished, Deployer};
use super::files;
use super::rollback::{self, Pause};
use crate::executor::pipeline::touched;
use crate::journal::{tag, Outcome, Record, Status};
use serde_json::{json, Value};
use std::time::Duration;
use tracing::info;

impl Deployer {
    /// A one-line summary: deploying automatically, paused, or why nothing can be deployed.
    fn state_line(&self) -> String {
        let s = lock(&self.shared);
        let failing = s.dependencies.failing();
        if !s.dependencies.journal.ok {
            return "halted: the journal cannot be read (see dependencies.journal)".into();
        }
        if let Some(p) = &s.paused {
            return format!("paused: {}", p.reason);
        }
        if let Some(a) = &s.awaiting_attestations {
            return format!(
                "awaiting attestations: proposal {}: {}",
                a.proposal, a.reason
            );
        }
        if failing.is_empty() {
            return "deploying automatically".into();
        }
        let names: Vec<&str> = failing.iter().map(|(n, _)| *n).collect();
        format!(
            "deploying automatically, but degraded: {} failing",
            names.join(", ")
        )
    }

    pub fn status_json(&self) -> Value {
        let state = self.state_line();
        let s = lock(&self.shared).clone();
        json!({
            "role": "executor",
            "state": state,
            "ready": s.dependencies.journal.ok,
            "host": { "id": self.setup.host, "name": self.setup.host_name },
            "app_id": self.setup.app_id,
            "paused": s.paused,
            "current": s.current,
            "last": s.last,
            "waiting": s.waiting,
            "awaiting_attestations": s.awaiting_attestations,
            "rollback": s.rollback,
            "unverified": s.unverified,
            "chain_time": s.chain_time,
            "dependencies": s.dependencies,
            "drift": s.drift,
            "reactivation": s.reactivation,
            "heartbeat": s.heartbeat,
            "generation": self.edges.system.current().ok().flatten(),
        })
    }

    pub fn deployments_json(&self) -> Value {
        match self.journal.all() {
            Ok(mut records) => {
                records.reverse();
                serde_json::to_value(&records).unwrap_or(Value::Null)
            }
            Err(e) => json!({ "error": e.to_string() }),
        }
    }

    pub fn pause(&self, reason: String, uid: u32) -> Result<(), String> {
        let mut s = lock(&self.shared);
        if s.paused.is_some() {
            return Ok(());
        }
        let p = Pause {
            reason,
            uid,
            at_ms: self.edges.clock.now_ms(),
        };
        files::write_json(&*self.edges.files, &rollback::pause_file(&self.setup), &p)?;
        info!(uid, reason = %p.reason, "automatic deployment paused");
        s.paused = Some(p);
        Ok(())
    }

    /// Resumes automatic deployment; says whether it was paused at all.
    pub fn resume(&self, uid: u32) -> Result<bool, String> {
        let mut s = lock(&self.shared);
        if s.rollback.as_ref().is_some_and(unfinished) {
            return Err(
                "an operator rollback is still being finished (switch or on-chain amendment); \
                 resume once `dao-agentctl status` shows it done"
                    .into(),
            );
        }
        files::remove(&*self.edges.files, &rollback::pause_file(&self.setup))?;
        let was = s.paused.take().is_some();
        if was {
            info!(uid, "automatic deployment resumed");
        }
        Ok(was)
    }

    /// Surveys the chain for the proposals waiting on this host (for `skip` while paused).
    fn refresh_pending(&self) -> Result<Vec<crate::executor::Approved>, String> {
        let s = self
            .chain
            .survey(self.setup.host, &mut super::survey::Cache::default())
            .map_err(|e| format!("cannot read the chain to find what waits on this host: {e}"))?;
        Ok(s.actions
            .iter()
            .map(super::survey::Action::approved)
            .chain(s.in_timelock.iter())
            .cloned()
            .collect())
    }

    /// What is being applied right now, for a refusal.
    fn busy(&self) -> String {
        let what = lock(&self.shared)
            .current
            .as_ref()
            .map_or("a change".to_owned(), |c| {
                format!("proposal {} ({})", c.proposal, c.step)
            });
        format!(
            "{what} is being applied right now; `dao-agentctl pause` stops the next one, then \
             try again once this one has finished (it reverts by itself if unhealthy)"
        )
    }

    /// The operator's emergency brake: back to `generation` (the one before the running
    /// deployment when None), paused, amended on chain.
    pub fn rollback(
        &self,
        generation: Option<u64>,
        reason: String,
        uid: u32,
    ) -> Result<rollback::OperatorRollback, String> {
        let Ok(_guard) = self.activation.try_lock() else {
            return Err(self.busy());
        };
        if let Some(p) = &lock(&self.shared).self_upgrade {
            return Err(format!(
                "the agent is restarting to run the new agent proposal {} brought; run the \
                 rollback again once dao-executor.service is back",
                p.proposal
            ));
        }
        let req = rollback::Request {
            generation,
            reason: reason.clone(),
            uid,
            at_ms: self.edges.clock.now_ms(),
        };
        let started = rollback::start(&self.setup, &self.edges, &self.journal, req)?;
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
        self.finish_rollback(started).map_err(|e| e.to_string())
    }

    /// The operator's escape hatch: `proposal` will not be applied on this host; it is reported
    /// failed (skipped) on chain and the queue moves on. Refused once the proposal has started
    /// changing the host (it then finishes or reverts by itself).
    ///
    /// A stuck proposal is retried now and then: an attempt in progress (a fetch, a build) is
    /// waited for, up to `wait`, rather than refused.
    pub fn skip(
        &self,
        proposal: u64,
        reason: String,
        uid: u32,
        wait: Duration,
    ) -> Result<Record, String> {
        let start = self.edges.clock.now_ms();
        let limit = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
        let _guard = loop {
            if let Ok(g) = self.activation.try_lock() {
                break g;
            }
            if self.edges.clock.now_ms().saturating_sub(start) >= limit {
                return Err(self.busy());
            }
            self.edges.clock.sleep(Duration::from_millis(100));
        };
        let host = self.setup.host;
        let mut rec = match self
            .journal
            .get(proposal, host)
            .map_err(|e| e.to_string())?
        {
            Some(r) => r,
            None => {
                let mut pending = lock(&self.shared).pending.clone();
                if !pending.iter().any(|a| a.proposal == proposal) {
                    // Paused, or just started: what waits is only known from a fresh survey.
                    pending = self.refresh_pending()?;
                }
                let Some(a) = pending.iter().find(|a| a.proposal == proposal) else {
                    let waiting: Vec<String> =
                        pending.iter().map(|a| a.proposal.to_string()).collect();
                    return Err(format!(
                        "proposal {proposal} is not waiting on this host (waiting: {}); \
                         `dao-agentctl deployments` lists what this host did",
                        if waiting.is_empty() {
                            "none".into()
                        } else {
                            waiting.join(", ")
                        }
                    ));
                };
                Record::new(
                    proposal,
                    host,
                    &a.base.to_string(),
                    &a.head.to_string(),
                    a.diff_hash,
                )
            }
        };
        if let Some(o) = &rec.outcome {
            return Err(format!(
                "proposal {proposal} already ended on this host ({}): nothing to skip",
                tag(&o.status)
            ));
        }
        if touched(&rec) {
            return Err(format!(
                "proposal {proposal} has already started changing this host; it finishes or \
                 reverts by itself, then `dao-agentctl rollback` can undo it"
            ));
        }
        rec.outcome = Some(Outcome {
            status: Status::Failed,
            step: None,
            reason: Some(format!("skipped by an operator (uid {uid}): {reason}")),
        });
        self.journal.put(&rec).map_err(|e| e.to_string())?;
        info!(proposal, uid, reason = %reason, "proposal {proposal} skipped by an operator");
        Ok(rec)
    }
}
