//! The executor's self-upgrade: a deployment that changes the agent itself takes effect right
//! after it is finished, not at the next reboot.
//!
//! The executor's unit is not restarted by the switches it runs (`restartIfChanged = false`:
//! the switch would stop the agent confirming it). Instead the unit tells the agent who it is
//! (`--self-upgrade-id`, a hash of the agent's store path and configuration that the NixOS
//! module computes) and where the running generation says who the executor should be
//! (`--self-upgrade-marker`, `/etc/dao-governance/executor-agent.json`, which every switch
//! rewrites). Once every outcome is reported on chain, with the host still on the generation
//! the last applied deployment set, an agent whose id differs from the marker's records
//! `self-upgrade.json` and exits with [`EXIT_CODE`]; the unit's `RestartForceExitStatus=`
//! starts the new generation's agent with the new generation's unit settings.
//!
//! Exiting rather than re-executing in place: systemd then applies everything the new unit
//! says (its sandbox, environment, credentials), readiness is signalled by the new process, and
//! the instance lock and bus name are released by the exit itself.
//!
//! The guarantees: never mid-deployment (only between passes, with every outcome reported),
//! never before the report is on chain, never after a rollback (the host must run the
//! generation the applied deployment set), never twice for one deployment (the record names it:
//! an agent that still differs after restarting for it keeps running and says so), and never in
//! a loop (the new agent's id is the marker's).

use super::deployer::{lock, Deployer};
use super::files;
use crate::journal::{Record, Report, Status};
use crate::mutants;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use tracing::{info, warn};

/// The exit status that asks systemd to start the unit again (`RestartForceExitStatus=`).
/// 75 is EX_TEMPFAIL of sysexits.h: try again, and it will work.
pub const EXIT_CODE: u8 = 75;

/// Who this agent is, and where the running generation says who it should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelfUpgrade {
    pub marker: PathBuf,
    pub id: String,
}

/// The marker file the module writes for each generation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    pub id: String,
    /// What the unit runs, for the logs: the agent's program and configuration file.
    #[serde(default)]
    pub agent: Option<String>,
    #[serde(default)]
    pub config: Option<String>,
}

/// `<state_dir>/executor/self-upgrade.json`: the last self-upgrade, written before exiting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Planned {
    /// The applied deployment that brought the new agent.
    pub proposal: u64,
    pub from: String,
    pub to: String,
    pub at_ms: u64,
}

/// The deployment decided last among those that switched the host, whatever their outcome.
pub fn last_switched(records: &[Record]) -> Option<&Record> {
    records
        .iter()
        .filter(|r| r.outcome.is_some() && r.previous.is_some())
        .max_by_key(|r| (r.steps.last().map_or(0, |s| s.at_ms), r.proposal))
}

pub fn record_file(d: &Deployer) -> PathBuf {
    d.setup.dir.join("self-upgrade.json")
}

impl Deployer {
    /// Whether this agent should hand over to the running generation's agent now; if so, the
    /// handover is recorded (durably) and returned. `reported`: every outcome must be confirmed
    /// on chain first (the `upgrade_before_report` mutant does not wait for that).
    pub fn self_upgrade_due(&self, records: &[Record]) -> Option<Planned> {
        let me = self.setup.upgrade.as_ref()?;
        if mutants::active("no_self_upgrade") {
            return None;
        }
        let reported = !mutants::active("upgrade_before_report");
        if reported
            && records
                .iter()
                .any(|r| r.outcome.is_some() && !matches!(r.report, Report::Confirmed { .. }))
        {
            return None;
        }
        // A deployment that has recorded the generation to come back to is changing the host.
        if records
            .iter()
            .any(|r| r.outcome.is_none() && r.previous.is_some())
        {
            return None;
        }
        // The last deployment that switched the host (or began to: it recorded the generation to
        // come back to) must have been applied: after a rollback the agent running stays (the
        // old one; or the new one, when systemd restarted a crashed agent mid-switch with the
        // new unit: it finished the rollback and keeps running until the next restart).
        // Refusals and failures changed nothing on the host.
        let rec = last_switched(records)?;
        if rec.outcome.as_ref().map(|o| o.status) != Some(Status::Applied) {
            return None;
        }
        // Cheap first (a file read): most passes find that this agent is the marker's.
        match files::read_json::<Marker>(&*self.edges.files, &me.marker) {
            Ok(Some(m)) if m.id == me.id => return None,
            Ok(None) => return None,
            _ => {}
        }
        // Decided and recorded under the activation lock, so that no operator rollback slips
        // in between; one that comes later is refused while the agent stops.
        let _guard = self.activation.lock().unwrap_or_else(|p| p.into_inner());
        // Still on the generation the deployment set: not rolled back since, by anyone.
        let current = self.edges.system.current().ok()??;
        if rec.toplevel.as_ref() != Some(&current.store_path) {
            return None;
        }
        // And running it: after `nixos-rebuild test` by hand the profile still names the
        // deployment, but /etc (the marker) follows the hand-made system, whose agent is no
        // upgrade (found by dao-sim, seed 7000017).
        if self.edges.system.running().ok().flatten().as_ref() != rec.toplevel.as_ref() {
            return None;
        }
        let marker: Marker = match files::read_json(&*self.edges.files, &me.marker) {
            Ok(Some(m)) => m,
            Ok(None) => return None,
            Err(why) => {
                warn!(
                    step = "self_upgrade",
                    "cannot read the self-upgrade marker: {why}"
                );
                return None;
            }
        };
        if marker.id == me.id {
            return None;
        }
        let file = record_file(self);
        let earlier: Option<Planned> = files::read_json(&*self.edges.files, &file).ok()?;
        if earlier.as_ref().is_some_and(|e| e.proposal == rec.proposal) {
            // Restarted for this deployment already and still not the marker's agent: the unit
            // does not run what its generation says. Restarting again would loop.
            warn!(
                step = "self_upgrade",
                proposal = rec.proposal,
                running = %me.id,
                marker = %marker.id,
                "this agent ({}) is not the one generation {} names ({}) although it was \
                 restarted for proposal {}; not restarting again: check dao-executor.service's \
                 ExecStart",
                me.id,
                current.number,
                marker.id,
                rec.proposal
            );
            return None;
        }
        let planned = Planned {
            proposal: rec.proposal,
            from: me.id.clone(),
            to: marker.id.clone(),
            at_ms: self.edges.clock.now_ms(),
        };
        if let Err(why) = files::write_json(&*self.edges.files, &file, &planned) {
            warn!(
                step = "self_upgrade",
                "cannot record the self-upgrade: {why}"
            );
            return None;
        }
        lock(&self.shared).self_upgrade = Some(planned.clone());
        info!(
            step = "self_upgrade",
            proposal = rec.proposal,
            from = %planned.from,
            to = %planned.to,
            agent = marker.agent.as_deref().unwrap_or(""),
            config = marker.config.as_deref().unwrap_or(""),
            "proposal {} changed the agent: exiting with status {EXIT_CODE} so that systemd \
             starts the new one",
            rec.proposal
        );
        Some(planned)
    }

    /// At start: says whether the last self-upgrade brought this agent.
    pub fn log_self_upgrade(&self) {
        let Some(me) = self.setup.upgrade.as_ref() else {
            return;
        };
        if let Ok(Some(p)) = files::read_json::<Planned>(&*self.edges.files, &record_file(self)) {
            if p.to == me.id {
                info!(
                    step = "self_upgrade",
                    proposal = p.proposal,
                    from = %p.from,
                    to = %p.to,
                    "running the agent proposal {} brought ({})",
                    p.proposal,
                    p.to
                );
            }
        }
    }
}
