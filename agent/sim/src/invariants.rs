//! The invariants of docs/safety.md, checked against the simulated world after every step
//! (and at every switch, journal write and pass), and once more when a schedule ends.

use crate::world::{Decided, Effect, World};
use dao_agent::daemon::upgrade::Planned;
use dao_agent::journal::{parse_record, Record, Status};
use std::path::Path;

/// The journal's records, as the agent left them in the world's files.
fn records(w: &World) -> Vec<Record> {
    w.files
        .iter()
        .filter(|(p, _)| {
            p.parent()
                .and_then(Path::file_name)
                .is_some_and(|n| n == "journal")
        })
        .filter_map(|(p, b)| parse_record(p, b).ok())
        .collect()
}

/// When the agent stops to hand over to the agent its last deployment brought: only between
/// deployments, with every outcome on chain, forward only, once, and to someone else.
pub fn at_self_upgrade(w: &mut World, planned: &Planned) {
    let recs = records(w);
    for r in &recs {
        if r.outcome.is_some() && !w.reports.contains_key(&r.proposal) {
            w.violation(
                "upgrade_after_report",
                format!(
                    "the agent stopped for a self-upgrade (proposal {}) before proposal {}'s \
                     outcome was on chain",
                    planned.proposal, r.proposal
                ),
            );
        }
        if r.outcome.is_none() && r.previous.is_some() {
            w.violation(
                "upgrade_not_mid_deploy",
                format!(
                    "the agent stopped for a self-upgrade while proposal {} was changing the host",
                    r.proposal
                ),
            );
        }
    }
    if !w.in_flight.is_empty() {
        w.violation(
            "upgrade_not_mid_deploy",
            "the agent stopped for a self-upgrade while a switch ran".into(),
        );
    }
    let applied = w.reports.get(&planned.proposal) == Some(&Status::Applied);
    let on_it = w
        .proposals
        .iter()
        .find(|p| p.id == planned.proposal)
        .is_some_and(|p| p.toplevel() == w.active);
    if !applied || !on_it {
        w.violation(
            "upgrade_forward_only",
            format!(
                "self-upgrade after proposal {} although it is {:?} on chain and the host runs {}",
                planned.proposal,
                w.reports.get(&planned.proposal),
                w.active.display()
            ),
        );
    }
    let next = w.agent_of(&w.active.clone());
    if planned.from != w.running_agent || planned.to != next || planned.to == planned.from {
        w.violation(
            "no_upgrade_loop",
            format!(
                "self-upgrade from {} to {} while {} runs and the active system names {next}",
                planned.from, planned.to, w.running_agent
            ),
        );
    }
    let hand_switches = w.hand_made.len();
    if w.upgrades
        .iter()
        .any(|u| u.proposal == planned.proposal && u.hand_switches == hand_switches)
    {
        w.violation(
            "no_upgrade_loop",
            format!("a second self-upgrade for proposal {}", planned.proposal),
        );
    }
}

/// After every step: nothing to check that the other hooks do not see.
pub fn after_step(w: &mut World) {
    let now = w.clock_ms;
    if w.in_flight.iter().filter(|f| f.until_ms > now).count() > 1 {
        w.violation("one_activation", "two switches run at the same time".into());
    }
}

/// When a switch starts.
pub fn at_switch(w: &mut World, toplevel: &Path) {
    let now_ms = w.clock_ms;
    if let Some(f) = w.in_flight.iter().find(|f| f.until_ms > now_ms) {
        let detail = format!(
            "a switch to {} starts while the switch to {} still runs",
            toplevel.display(),
            f.toplevel.display()
        );
        w.violation("one_activation", detail);
    }
    let forward = w.last_set.as_deref() == Some(toplevel);
    if !forward {
        return;
    }
    if w.wrong_key {
        w.violation(
            "key_checked",
            "an agent whose key is not the host's registered agent changed the host".into(),
        );
    }
    let now = w.now_s();
    let Some(p) = w.proposal_of(toplevel).cloned() else {
        w.violation(
            "approved_only",
            format!("{} is no proposal's toplevel", toplevel.display()),
        );
        return;
    };
    if !p.targets_host || p.tampered || !matches!(p.decided, Decided::Queued { .. }) {
        w.violation(
            "approved_only",
            format!(
                "proposal {} was activated but is not approved for this host",
                p.id
            ),
        );
    }
    // The chain's word, read immediately before (only the agent's own journal writes between).
    if w.gate_open_for != Some(p.id) {
        w.violation(
            "not_expired_at_activation",
            format!(
                "proposal {} was activated at chain time {now} (window {:?}) without the chain \
                 re-checked immediately before",
                p.id, p.decided
            ),
        );
    }
    if p.quorum > 0 {
        let v = p.validation(now);
        if v.agreed != Some(p.host_closure) {
            w.violation(
                "reproduced_only",
                format!(
                    "proposal {} was activated with an attestation quorum of {} although the \
                     validators agreed on {:?}, not on this host's closure",
                    p.id,
                    p.quorum,
                    v.agreed.map(|c| c[0])
                ),
            );
        }
    }
    if w.reports.contains_key(&p.id) {
        w.violation(
            "exactly_once",
            format!(
                "proposal {} was activated again after its final report",
                p.id
            ),
        );
    }
    let newer: Vec<u64> = w
        .reports
        .iter()
        .filter(|(id, s)| **id > p.id && **s == Status::Applied)
        .map(|(id, _)| *id)
        .collect();
    if let Some(n) = newer.first() {
        w.violation(
            "no_downgrade",
            format!(
                "proposal {} was activated after the newer proposal {n} was applied",
                p.id
            ),
        );
    }
}

/// When the agent writes a file: a final journal outcome must match the system.
pub fn at_write(w: &mut World, path: &Path, bytes: &[u8], before: Option<&[u8]>) {
    crate::reactivation::at_write(w, path, bytes, before);
    if path
        .parent()
        .and_then(Path::file_name)
        .is_none_or(|n| n != "journal")
    {
        return;
    }
    // Only the write that first records the outcome is checked: later writes (the report's
    // confirmation) may come after an operator moved the host on.
    if before
        .and_then(|b| parse_record(path, b).ok())
        .is_some_and(|r| r.outcome.is_some())
    {
        return;
    }
    let Ok(rec) = parse_record(path, bytes) else {
        w.violation(
            "journal_readable",
            format!("{} does not parse", path.display()),
        );
        return;
    };
    let Some(o) = &rec.outcome else { return };
    if o.status == Status::NotReproducible {
        not_reproducible_is_true(w, rec.proposal);
    }
    let current = w.generation(w.current).cloned();
    match o.status {
        Status::RolledBack => {
            let Some(prev) = &rec.previous else { return };
            if w.current != prev.number || current.as_ref() != Some(&prev.store_path) {
                w.violation(
                    "exact_rollback",
                    format!(
                        "proposal {} rolled back, but the profile is on generation {} ({:?}), \
                         not the recorded {} ({})",
                        rec.proposal,
                        w.current,
                        current,
                        prev.number,
                        prev.store_path.display()
                    ),
                );
            }
        }
        Status::Applied
            if rec.toplevel.is_some()
                && (current.as_ref() != rec.toplevel.as_ref()
                    || w.active.as_path() != current.as_deref().unwrap_or(Path::new(""))) =>
        {
            w.violation(
                "exact_rollback",
                format!(
                    "proposal {} is recorded applied but the host runs {}",
                    rec.proposal,
                    w.active.display()
                ),
            );
        }
        _ => {}
    }
}

/// A host refuses as not reproducible only when the validators agreed on another closure than
/// its own, or can no longer agree at all (both stay true once true, so checking when the
/// outcome is written is enough).
fn not_reproducible_is_true(w: &mut World, proposal: u64) {
    let now = w.now_s();
    let validators = w.validators;
    let Some(p) = w.proposals.iter().find(|p| p.id == proposal).cloned() else {
        return;
    };
    let v = p.validation(now);
    let differs = v.agreed.is_some_and(|c| c != p.host_closure);
    let hopeless = v.agreed.is_none() && !v.can_still_agree(p.quorum, validators);
    if p.quorum == 0 || !(differs || hopeless) {
        w.violation(
            "no_false_refusal",
            format!(
                "proposal {proposal} was refused as not reproducible, but with quorum {} the \
                 validators agree on {:?} (this host {:x}) and {} of {validators} attested",
                p.quorum,
                v.agreed.map(|c| c[0]),
                p.host_closure[0],
                v.attestations
            ),
        );
    }
}

/// When the schedule has ended (faults healed, the agent given time): every proposal for this
/// host whose window ended is reported exactly once; the journal has nothing half-done.
pub fn at_end(w: &mut World, started: bool) {
    if !started {
        // The agent refused to start (a wrong key): it must not have touched anything.
        if w.effects.iter().any(|e| matches!(e, Effect::Switch { .. })) {
            w.violation(
                "key_checked",
                "an agent that refused to start switched".into(),
            );
        }
        return;
    }
    let now = w.now_s();
    let ended: Vec<u64> = w
        .proposals
        .iter()
        .filter(|p| p.targets_host && p.expiry().is_some_and(|e| e <= now))
        .map(|p| p.id)
        .collect();
    // The host runs the agent its system names, once the last applied deployment is in force
    // (an operator's rollback since leaves the newer agent running: it is not a deployment).
    // (After a deployment that switched and went back, whichever agent runs stays until the
    // next restart.)
    let recs = records(w);
    let last_applied = dao_agent::daemon::upgrade::last_switched(&recs)
        .filter(|r| {
            r.outcome
                .as_ref()
                .is_some_and(|o| o.status == Status::Applied)
        })
        .map(|r| r.proposal);
    let in_force = last_applied
        .and_then(|id| w.proposals.iter().find(|p| p.id == id))
        .is_some_and(|p| p.toplevel() == w.active && w.generation(w.current) == Some(&w.active));
    let named = w.agent_of(&w.active.clone());
    if in_force && w.running_agent != named {
        w.violation(
            "runs_new_agent",
            format!(
                "the host runs {} and its system names agent {named}, but agent {} still runs",
                w.active.display(),
                w.running_agent
            ),
        );
    }
    for id in ended {
        if !w.reports.contains_key(&id) {
            w.violation(
                "progress",
                format!("proposal {id}'s window ended long ago and it is still not reported"),
            );
        }
    }
}
