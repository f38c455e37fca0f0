//! A drift reactivation step by step, on a quiet simulated host (no random faults): the real
//! deployer deploys proposal 1, someone changes the host by hand, and the reactivation is
//! crashed at each of its steps, or made to fail, and recovered by a restarted agent.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use dao_agent::daemon::deployer::{lock, Deployer, Pass};
use dao_agent::journal::reactivation::Ended;
use dao_agent::journal::Status;
use dao_core::config::DriftPolicy;
use dao_core::diff_hash::DiffHash;
use dao_sim::edges::{Crash, Sim};
use dao_sim::instance::{setup, start_instance};
use dao_sim::world::{oid, Decided, Effect, Proposal, World, T0_MS};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

fn proposal(id: u64, unhealthy: bool) -> Proposal {
    let now = T0_MS / 1000;
    Proposal {
        id,
        base: oid(id - 1),
        head: oid(id),
        diff_hash: DiffHash([id as u8; 32]),
        targets_host: true,
        decided: Decided::Queued {
            eta: now,
            expiry: now + 1_000_000,
        },
        tampered: false,
        eval_fails: false,
        build_fails: false,
        unhealthy,
        pushed_at: Some(0),
        quorum: 0,
        attestations: Vec::new(),
        host_closure: [0; 32],
        changes_agent: false,
    }
}

/// A host without faults whose agent reactivates, with proposal 1 applied.
fn deployed() -> (Arc<Sim>, Arc<Deployer>) {
    let mut w = World::new(0, false);
    w.fault_rate = 0.0;
    w.proposals = vec![proposal(1, false)];
    let genesis = w.genesis;
    let sim = Arc::new(Sim {
        world: Mutex::new(w),
        current: Mutex::new(None),
        setup: Arc::new(dao_agent::daemon::setup::Setup {
            drift: DriftPolicy::Reactivate,
            ..setup(genesis)
        }),
        on_step: |_, _| {},
    });
    let d = start_instance(&sim).unwrap();
    until(&sim, &d, |w| w.reports.get(&1) == Some(&Status::Applied));
    (sim, d)
}

fn until(sim: &Arc<Sim>, d: &Deployer, done: impl Fn(&World) -> bool) {
    for _ in 0..20 {
        if done(&sim.world()) {
            return;
        }
        assert!(!matches!(d.pass(), Pass::SelfUpgrade(_)));
        sim.world().advance(1_000);
    }
    panic!("did not happen within 20 passes");
}

fn p1() -> PathBuf {
    proposal(1, false).toplevel()
}

const HAND: &str = "/nix/store/00000000000000000000000000000001-nixos-system-by-hand";

/// `nixos-rebuild switch` (a new generation) or `test` (running, in no generation).
fn by_hand(sim: &Sim, in_profile: bool) {
    by_hand_to(sim, in_profile, HAND);
}

fn by_hand_to(sim: &Sim, in_profile: bool, path: &str) {
    let mut w = sim.world();
    if in_profile {
        w.generations.push(path.into());
        w.current = w.generations.len() as u64;
    }
    w.active = path.into();
}

fn switches(sim: &Sim) -> usize {
    sim.world()
        .effects
        .iter()
        .filter(|e| matches!(e, Effect::Switch { .. }))
        .count()
}

/// One pass that crashes where planned; then a new agent and its first pass.
fn crash_then_restart(sim: &Arc<Sim>, d: Arc<Deployer>, site: &'static str) -> Arc<Deployer> {
    sim.world().crash_plan = Some((site, 0));
    let crashed = catch_unwind(AssertUnwindSafe(|| d.pass()));
    assert!(
        crashed.as_ref().err().is_some_and(|p| p.is::<Crash>()),
        "no crash at {site}"
    );
    assert!(sim.world().crash_plan.is_none());
    drop(d);
    sim.world().advance(1_000);
    let d = start_instance(sim).unwrap();
    d.pass();
    d
}

fn ended(d: &Deployer) -> Ended {
    d.last_reactivation()
        .unwrap()
        .unwrap()
        .outcome
        .expect("the reactivation has an outcome")
        .ended
}

#[test]
fn a_crash_at_any_step_of_a_reactivation_is_finished_by_the_next_agent() {
    std::panic::set_hook(Box::new(|_| {}));
    // "files.replace" 1: the record says the switch started, the profile has not moved yet.
    for (site, nth) in [
        ("files.replace", 1),
        ("profile.restore", 0),
        ("profile.restore.after", 0),
        ("system.switch", 0),
        ("health.confirm", 0),
    ] {
        let (sim, d) = deployed();
        let approved_generation = sim.world().current;
        by_hand(&sim, true);
        sim.world().crash_plan = Some((site, nth));
        let crashed = catch_unwind(AssertUnwindSafe(|| d.pass()));
        assert!(crashed.is_err_and(|p| p.is::<Crash>()), "{site}");
        drop(d);
        let d = start_instance(&sim).unwrap();
        d.pass();
        let w = sim.world();
        assert_eq!(w.active, p1(), "{site}");
        assert_eq!(
            w.current, approved_generation,
            "{site}: profile and system together"
        );
        assert_eq!(w.reports.len(), 1, "{site}: never reported");
        drop(w);
        assert_eq!(ended(&d), Ended::Reactivated, "{site}");
        assert!(lock(&d.shared).drift.is_none(), "{site}");
    }
}

#[test]
fn a_failed_reactivation_of_a_hand_activated_system_goes_back_to_it_and_stays() {
    let (sim, d) = deployed();
    let profile = sim.world().current;
    by_hand(&sim, false);
    sim.world().health_fails_once = true;
    d.pass();
    {
        let w = sim.world();
        // Back on the hand-activated system, not the profile's: the profile where it was.
        assert_eq!(w.active, PathBuf::from(HAND));
        assert_eq!(w.current, profile);
    }
    assert_eq!(ended(&d), Ended::Reverted);
    let refused = lock(&d.shared).drift.clone().unwrap().refused.unwrap();
    assert!(refused.contains("failed"), "{refused}");
    // Not tried again, by this agent or by the next one.
    let before = switches(&sim);
    d.pass();
    drop(d);
    let d = start_instance(&sim).unwrap();
    d.pass();
    assert_eq!(switches(&sim), before);
    let drift = lock(&d.shared).drift.clone().unwrap();
    assert!(drift.refused.unwrap().contains("reverted"));
    // Until the host changes again.
    by_hand_to(
        &sim,
        true,
        "/nix/store/00000000000000000000000000000002-nixos-system-by-hand",
    );
    d.pass();
    assert_eq!(sim.world().active, p1());
}

#[test]
fn a_crash_while_going_back_goes_back_again() {
    std::panic::set_hook(Box::new(|_| {}));
    let (sim, d) = deployed();
    let profile = sim.world().current;
    by_hand(&sim, false);
    sim.world().health_fails_once = true;
    // The second switch of this pass is the revert's.
    sim.world().crash_plan = Some(("system.switch", 1));
    let d = {
        let crashed = catch_unwind(AssertUnwindSafe(|| d.pass()));
        assert!(crashed.is_err_and(|p| p.is::<Crash>()));
        drop(d);
        let d = start_instance(&sim).unwrap();
        d.pass();
        d
    };
    let w = sim.world();
    assert_eq!(w.active, PathBuf::from(HAND));
    assert_eq!(w.current, profile);
    drop(w);
    assert_eq!(ended(&d), Ended::Reverted);
}

#[test]
fn an_agent_paused_after_a_crash_goes_back_instead_of_on() {
    std::panic::set_hook(Box::new(|_| {}));
    let (sim, d) = deployed();
    by_hand(&sim, true);
    let hand_generation = sim.world().current;
    sim.world().crash_plan = Some(("profile.restore.after", 0));
    let crashed = catch_unwind(AssertUnwindSafe(|| d.pass()));
    assert!(crashed.is_err_and(|p| p.is::<Crash>()));
    drop(d);
    // Profile moved, system not: apart until the next agent's first pass.
    assert_ne!(sim.world().current, hand_generation);
    let d = start_instance(&sim).unwrap();
    d.pause("looking at it".into(), 0).unwrap();
    d.pass();
    let w = sim.world();
    assert_eq!(w.active, PathBuf::from(HAND));
    assert_eq!(w.current, hand_generation);
    drop(w);
    assert_eq!(ended(&d), Ended::Reverted);
}

#[test]
fn after_a_rollback_a_deployment_that_changed_nothing_does_not_bring_back_the_rolled_back_system() {
    let (sim, d) = deployed();
    sim.world().proposals.push(proposal(2, true));
    let rb = d.rollback(None, "502s".into(), 0).unwrap();
    assert_eq!(rb.from.unwrap().store_path, p1());
    d.resume(0).unwrap();
    let genesis = sim.world().generations[0].clone();
    until(&sim, &d, |w| w.reports.get(&2) == Some(&Status::RolledBack));
    let before = switches(&sim);
    d.pass();
    d.pass();
    assert_eq!(sim.world().active, genesis);
    assert_eq!(switches(&sim), before, "no reactivation of proposal 1");
    assert!(lock(&d.shared).drift.is_none());
    // What crash_then_restart is for, once: a restart changes nothing either.
    let d = crash_then_restart(&sim, d, "chain.survey");
    assert_eq!(sim.world().active, genesis);
    assert!(lock(&d.shared).drift.is_none());
}

/// Killed right after the profile moved; returns the restarted agent, not yet passed.
fn killed_after_the_profile_moved(sim: &Arc<Sim>, d: Arc<Deployer>) -> Arc<Deployer> {
    sim.world().crash_plan = Some(("profile.restore.after", 0));
    let crashed = catch_unwind(AssertUnwindSafe(|| d.pass()));
    assert!(crashed.is_err_and(|p| p.is::<Crash>()));
    drop(d);
    start_instance(sim).unwrap()
}

#[test]
fn a_hand_switch_or_an_operator_rollback_since_the_crash_supersedes_the_half_way_reactivation() {
    std::panic::set_hook(Box::new(|_| {}));
    // Someone switched by hand again while the agent was down: the record's system is not
    // brought back; the new drift is undone instead.
    let (sim, d) = deployed();
    let approved_generation = sim.world().current;
    by_hand(&sim, true);
    let d = killed_after_the_profile_moved(&sim, d);
    let second = "/nix/store/00000000000000000000000000000002-nixos-system-by-hand";
    by_hand_to(&sim, true, second);
    d.pass();
    assert_eq!(sim.world().active, p1());
    assert_eq!(sim.world().current, approved_generation);
    let r = d.last_reactivation().unwrap().unwrap();
    assert_eq!(
        r.running,
        PathBuf::from(second),
        "a new reactivation, of the new drift"
    );
    assert_eq!(r.outcome.unwrap().ended, Ended::Reactivated);
    assert!(!sim
        .world()
        .effects
        .iter()
        .any(|e| matches!(e, Effect::Switch { toplevel, .. } if toplevel == &PathBuf::from(HAND))));

    // An operator's rollback before the first pass: it stands, and the paused agent does not go
    // back to the hand-made system.
    let (sim, d) = deployed();
    by_hand(&sim, true);
    let d = killed_after_the_profile_moved(&sim, d);
    let rb = d.rollback(None, "back to what we had".into(), 0).unwrap();
    d.pass();
    assert_eq!(ended(&d), Ended::Superseded);
    let w = sim.world();
    assert_eq!(w.active, rb.to.store_path);
    assert_eq!(w.current, rb.to.number);
}
