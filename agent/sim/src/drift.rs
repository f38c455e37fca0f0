//! The drift fault: between two passes someone runs `nixos-rebuild switch` by hand (a new
//! profile generation, switched to), and the invariant that goes with it: once the agent has
//! activated something, a pass that finds the host on a hand-made system says so in status,
//! and under `executor.drift = "reactivate"` leaves the host on its approved system again (or
//! names why not). A hand-made system is never one the agent activates or reports as its own.

use crate::edges::Sim;
use crate::world::World;
use dao_agent::daemon::deployer::{lock, Deployer, Pass};
use dao_agent::daemon::drift::{baseline, Baseline};
use dao_agent::daemon::setup::Setup;
use dao_core::config::DriftPolicy;
use rand::Rng;
use std::path::PathBuf;

/// Even seeds reactivate, odd ones only report: both policies run on every range of seeds.
pub fn with_policy(setup: Setup, seed: u64) -> Setup {
    Setup {
        drift: if seed % 2 == 0 {
            DriftPolicy::Reactivate
        } else {
            DriftPolicy::Report
        },
        ..setup
    }
}

/// Switches the host by hand, now and then, while no switch of the agent's runs: mostly
/// `nixos-rebuild switch`, sometimes only `test` (sim/src/reactivation.rs).
pub fn maybe_switch_by_hand(w: &mut World, policy: DriftPolicy) {
    if w.healed() || w.fault_rate == 0.0 || !w.hand_rng.gen_bool(0.02) {
        return;
    }
    let now = w.clock_ms;
    if w.in_flight.iter().any(|f| f.until_ms > now) {
        return;
    }
    let n = w.hand_made.len() as u64 + 1;
    let path = PathBuf::from(format!(
        "/nix/store/{:032x}-nixos-system-by-hand-{n}",
        n.wrapping_mul(0x517c_c1b7_2722_0a95)
    ));
    if w.react_rng.gen_bool(0.4) {
        crate::reactivation::activate_by_hand(w, path, policy == DriftPolicy::Reactivate);
        return;
    }
    w.generations.push(path.clone());
    w.current = w.generations.len() as u64;
    w.active = path.clone();
    w.boot = path.clone();
    w.hand_made.push(path);
    w.apart_by_hand = None;
    if w.trace {
        println!("  nixos-rebuild switch by hand: generation {}", w.current);
    }
    w.count("hand_switch");
}

/// After a pass that went all the way (idle: nothing left to do), the drift the agent shows must
/// be the truth.
pub fn after_pass(sim: &Sim, d: &Deployer, pass: &Pass) {
    if !matches!(pass, Pass::Idle { .. }) {
        return;
    }
    let records = match d.journal.all() {
        Ok(r) => r,
        Err(_) => return,
    };
    let (drift, rollback, paused) = {
        let s = lock(&d.shared);
        (s.drift.clone(), s.rollback.clone(), s.paused.is_some())
    };
    let mut w = sim.world();
    // A deployment that switched and has no outcome yet is ours, in progress: not drift.
    if records
        .iter()
        .any(|r| r.outcome.is_none() && r.previous.is_some())
    {
        return;
    }
    for r in &records {
        if r.toplevel.as_ref().is_some_and(|t| w.hand_made.contains(t)) {
            w.violation(
                "drift_not_ours",
                format!(
                    "proposal {} records the hand-made system {} as its toplevel",
                    r.proposal,
                    r.toplevel
                        .as_ref()
                        .map_or(String::new(), |t| t.display().to_string())
                ),
            );
        }
    }
    let Baseline::Known { toplevel, .. } = baseline(&records, rollback.as_ref()) else {
        return;
    };
    let active = w.active.clone();
    if active == toplevel {
        if drift.is_some() {
            w.violation(
                "drift_seen",
                format!(
                    "the host runs its approved {} but status shows drift",
                    active.display()
                ),
            );
        }
        return;
    }
    let Some(drift) = drift else {
        w.violation(
            "drift_seen",
            format!(
                "the host runs {} although the agent last activated {}, and status shows no drift",
                active.display(),
                toplevel.display()
            ),
        );
        return;
    };
    let undone = drift.refused.is_some() || paused;
    if sim.setup.drift == DriftPolicy::Reactivate && !undone {
        w.violation(
            "drift_undone",
            format!(
                "under reactivate the host still runs {} after a pass, not the approved {}, \
                 and no reason is shown",
                active.display(),
                toplevel.display()
            ),
        );
    }
}
