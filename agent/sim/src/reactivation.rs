//! The faults and invariants of a drift reactivation (agent/daemon/src/daemon/reactivate.rs).
//!
//! Faults, on a random stream of their own so that the other faults of a seed stay what they
//! were: a crash at each step of a reactivation (before the profile moves, after it moved,
//! during the switch, during the health check, while going back); a hand-made system that is
//! only activated (`nixos-rebuild test`: running, in no profile generation), sometimes followed
//! by a reactivation whose health check fails; and an operator's rollback, resumed at once, after
//! which the next deployment may change nothing (it is made unhealthy: reverted).
//!
//! Invariants:
//! - `reactivation_ends_known`: when a reactivation ends, the host runs the approved generation
//!   (the profile on it) or the system it ran when the reactivation began (the profile where it
//!   was), never a third;
//! - `profile_not_apart`: after a pass, no reactivation is half-way, and the profile's system is
//!   the running one, unless a hand `nixos-rebuild test` left them apart (and nothing moved
//!   since), a switch or a profile change failed (a failed revert says so), or a deployment or
//!   a switch of the agent's is under way;
//! - `rollback_stays_undone`: a system an operator rolled back from is never the approved one
//!   again (shown as such in drift, or reactivated) until a rollback goes back to it.

use crate::edges::Sim;
use crate::instance::STATE_DIR;
use crate::world::{Decided, World};
use dao_agent::daemon::deployer::{lock, Deployer, Pass};
use dao_agent::daemon::rollback::{OperatorRollback, Phase};
use dao_agent::journal::reactivation::{
    parse_reactivation, Ended, Reactivation, REACTIVATION_FILE,
};
use dao_agent::journal::{Status, Step, StepState};
use rand::Rng;
use std::path::{Path, PathBuf};

pub fn record_path() -> PathBuf {
    Path::new(STATE_DIR).join(REACTIVATION_FILE)
}

fn rollback_path() -> PathBuf {
    Path::new(STATE_DIR).join("rollback.json")
}

fn unfinished(w: &World) -> Option<Reactivation> {
    w.files
        .get(&record_path())
        .and_then(|b| parse_reactivation(b).ok())
        .filter(|r| r.outcome.is_none())
}

fn active_faults(w: &World) -> bool {
    !w.nested && !w.healed() && w.fault_rate > 0.0
}

/// How many times the forward path has written "switch started": 1 before the profile moved,
/// 2 once it has.
fn switch_entries(r: &Reactivation) -> usize {
    r.steps
        .iter()
        .filter(|e| e.step == Step::SwitchConfiguration && e.state == StepState::Started)
        .count()
}

/// A crash at the step `site` is about to take, while a reactivation is half-way (the record on
/// disk says how far it got; the crash comes before the step's effect).
pub fn crash_mid_way(w: &mut World, site: &str) -> bool {
    if !active_faults(w) {
        return false;
    }
    let Some(r) = unfinished(w) else { return false };
    let switched = r
        .steps
        .iter()
        .any(|e| e.step == Step::SwitchConfiguration && e.state == StepState::Done);
    let kind = if r.going_back() {
        "crash_reactivation_in_revert"
    } else if site == "health.confirm" || switched {
        "crash_reactivation_in_health"
    } else if site == "system.switch" || switch_entries(&r) >= 2 {
        "crash_reactivation_in_switch"
    } else if switch_entries(&r) == 1 && site == "files.replace" {
        "crash_reactivation_after_profile"
    } else {
        "crash_reactivation_before_profile"
    };
    if !w.react_rng.gen_bool(0.1) {
        return false;
    }
    w.count(kind);
    if w.trace {
        println!("  fault {kind} at {site}");
    }
    true
}

/// A crash right after the profile moved, before anything else (`restore`'s effect is done).
pub fn crash_after_profile_moved(w: &mut World) -> bool {
    if !active_faults(w) {
        return false;
    }
    let forward = unfinished(w).is_some_and(|r| !r.going_back() && switch_entries(&r) == 1);
    if !forward || !w.react_rng.gen_bool(0.35) {
        return false;
    }
    w.count("crash_reactivation_after_profile");
    if w.trace {
        println!("  fault crash_reactivation_after_profile right after profile.restore");
    }
    true
}

/// The next health check fails, once.
pub fn health_fails(w: &mut World) -> bool {
    std::mem::take(&mut w.health_fails_once)
}

/// Someone's hand-made system, only activated (`nixos-rebuild test`): it runs, the profile
/// stays where it was. Under `reactivate`, half the time the reactivation that follows fails.
pub fn activate_by_hand(w: &mut World, path: PathBuf, reactivating: bool) {
    w.active = path.clone();
    w.hand_made.push(path.clone());
    if w.trace {
        println!("  nixos-rebuild test by hand: {}", path.display());
    }
    w.apart_by_hand = Some((w.current, path));
    w.count("hand_test_activation");
    if reactivating && w.react_rng.gen_bool(0.5) {
        w.health_fails_once = true;
        w.count("reactivation_fails");
    }
}

/// The systems an operator rolled back from and no rollback has gone back to since.
fn rolled_back_from(w: &World) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for (from, to) in &w.rollbacks {
        out.retain(|p| p != to);
        if !out.contains(from) {
            out.push(from.clone());
        }
    }
    out
}

/// When the agent writes a state file: an operator rollback that switched is noted; a
/// reactivation is checked when it begins (its target) and when it ends (what runs).
pub fn at_write(w: &mut World, path: &Path, bytes: &[u8], before: Option<&[u8]>) {
    if path == rollback_path() {
        let Ok(rb) = serde_json::from_slice::<OperatorRollback>(bytes) else {
            return;
        };
        let was = before.and_then(|b| serde_json::from_slice::<OperatorRollback>(b).ok());
        let newly = rb.phase == Phase::Switched
            && was.is_none_or(|was| was.at_ms != rb.at_ms || was.phase != Phase::Switched);
        if let (true, Some(from)) = (newly, &rb.from) {
            w.rollbacks
                .push((from.store_path.clone(), rb.to.store_path.clone()));
        }
        return;
    }
    if path != record_path() {
        return;
    }
    let Ok(r) = parse_reactivation(bytes) else {
        w.violation(
            "journal_readable",
            format!("{} does not parse", path.display()),
        );
        return;
    };
    if r.steps.is_empty() && r.outcome.is_none() && rolled_back_from(w).contains(&r.approved) {
        w.violation(
            "rollback_stays_undone",
            format!(
                "a reactivation switches back to {} ({}), which an operator rolled back from",
                r.approved.display(),
                r.approved_by
            ),
        );
    }
    let was_open = before
        .and_then(|b| parse_reactivation(b).ok())
        .is_some_and(|b| b.outcome.is_none());
    let Some(o) = r.outcome.as_ref().filter(|_| was_open) else {
        return;
    };
    let profile = w.generation(w.current).cloned();
    let (ok, wanted) = match o.ended {
        Ended::Reactivated => (
            w.active == r.approved
                && w.current == r.target.number
                && profile.as_ref() == Some(&r.approved),
            format!(
                "the approved {} on generation {}",
                r.approved.display(),
                r.target.number
            ),
        ),
        // The next boot is the profile's generation again, as `nixos-rebuild test` left it.
        Ended::Reverted => (
            w.active == r.running
                && r.profile.as_ref().is_none_or(|p| {
                    p.number == w.current
                        && Some(&p.store_path) == profile.as_ref()
                        && w.boot == p.store_path
                }),
            format!(
                "{}, the system it ran before, the profile and the next boot on {:?}",
                r.running.display(),
                r.profile.as_ref().map(|p| p.number)
            ),
        ),
        Ended::RevertFailed | Ended::Superseded => (true, String::new()),
    };
    if !ok {
        w.violation(
            "reactivation_ends_known",
            format!(
                "a reactivation ended {:?}, but the host runs {} on generation {} (next boot {}), \
                 not {wanted}",
                o.ended,
                w.active.display(),
                w.current,
                w.boot.display()
            ),
        );
    }
}

/// Now and then, while the host runs an applied deployment: an operator rolls it back and
/// resumes at once, and the next deployment is made unhealthy (it will be reverted, changing
/// nothing): the rolled-back system must not become the approved one again.
pub fn maybe_rollback_then_resume(sim: &Sim, d: &Deployer) {
    let next = {
        let mut w = sim.world();
        if !active_faults(&w) || !w.react_rng.gen_bool(0.03) {
            return;
        }
        let active = w.active.clone();
        let Some(applied) = w
            .proposal_of(&active)
            .filter(|p| w.reports.get(&p.id) == Some(&Status::Applied))
            .map(|p| p.id)
        else {
            return;
        };
        if w.generation(w.current) != Some(&active) {
            return;
        }
        w.count("rollback_then_resume");
        w.nested = true;
        w.proposals
            .iter()
            .find(|p| {
                p.id > applied
                    && p.targets_host
                    && !w.reports.contains_key(&p.id)
                    && matches!(p.decided, Decided::Queued { .. })
            })
            .map(|p| p.id)
    };
    let _ = d.rollback(None, "simulated: errors after the deployment".into(), 0);
    let _ = d.resume(0);
    let mut w = sim.world();
    w.nested = false;
    if let Some(id) = next {
        if w.react_rng.gen_bool(0.5) {
            if let Some(p) = w.proposals.iter_mut().find(|p| p.id == id) {
                p.unhealthy = true;
            }
        }
    }
}

/// After a pass that did not stop on a retry: no reactivation is half-way (once the agent waits
/// for the next pass), the profile is not left apart from the running system, and drift never
/// names a rolled-back system approved.
pub fn after_pass(sim: &Sim, d: &Deployer, pass: &Pass) {
    if matches!(pass, Pass::Retry(_) | Pass::SelfUpgrade(_)) {
        return;
    }
    let drift = lock(&d.shared).drift.clone();
    let records = d.journal.all().unwrap_or_default();
    let mut w = sim.world();
    if let Some(drift) = drift {
        if rolled_back_from(&w).contains(&drift.approved) {
            w.violation(
                "rollback_stays_undone",
                format!(
                    "drift names {} ({}) approved, which an operator rolled back from",
                    drift.approved.display(),
                    drift.approved_by
                ),
            );
        }
    }
    if let Some(r) = unfinished(&w) {
        // A pass that finished an operator's rollback first returns at once for the next one,
        // which recovers the reactivation: only a pass after which the agent waits counts.
        if *pass == Pass::Again {
            return;
        }
        w.violation(
            "profile_not_apart",
            format!(
                "a pass ended {pass:?} with the reactivation of generation {} half-way",
                r.target.number
            ),
        );
        return;
    }
    let now = w.clock_ms;
    let deploying = records
        .iter()
        .any(|r| r.outcome.is_none() && r.previous.is_some());
    let rolling_back = w
        .files
        .get(&rollback_path())
        .and_then(|b| serde_json::from_slice::<OperatorRollback>(b).ok())
        .is_some_and(|rb| rb.phase != Phase::Switched);
    if deploying || rolling_back || w.in_flight.iter().any(|f| f.until_ms > now) {
        return;
    }
    let profile = w.generation(w.current).cloned();
    if profile.as_ref() == Some(&w.active) {
        w.apart_excused = false;
        return;
    }
    let by_hand = w.apart_by_hand.as_ref() == Some(&(w.current, w.active.clone()));
    if by_hand || w.apart_excused {
        return;
    }
    let detail = format!(
        "after a pass ({pass:?}) the profile is on generation {} ({:?}) but the host runs {}",
        w.current,
        profile,
        w.active.display()
    );
    w.violation("profile_not_apart", detail);
}
