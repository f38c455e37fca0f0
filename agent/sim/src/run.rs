//! One schedule: start the real executor on the simulated world, run its passes until the
//! schedule ends, crash and restart it when a fault says so, and check the invariants.

use crate::edges::{Crash, Sim};
pub use crate::instance::{setup, sim_edges, start_instance};
use crate::invariants;
use crate::world::{World, T0_MS};
use dao_agent::daemon::deployer::{Deployer, Pass};
use dao_agent::daemon::worker::delay_after;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What one schedule did.
pub struct Schedule {
    pub seed: u64,
    pub steps: u64,
    pub violations: Vec<(String, String)>,
    pub faults: BTreeMap<&'static str, u64>,
}

fn set_current(sim: &Sim, d: Option<Arc<Deployer>>) {
    *sim.current.lock().unwrap_or_else(|p| p.into_inner()) = d;
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "a panic".into())
}

pub fn run(seed: u64, trace: bool) -> Schedule {
    let world = World::new(seed, trace);
    let genesis = world.genesis;
    let sim = Arc::new(Sim {
        world: Mutex::new(world),
        current: Mutex::new(None),
        setup: Arc::new(crate::drift::with_policy(setup(genesis), seed)),
        on_step: crate::hooks::maybe_act,
    });
    let mut agent: Option<Arc<Deployer>> = None;
    let mut started = false;
    let mut failures = 0u32;
    // After the faults heal, the agent gets passes enough to finish everything (bounded).
    let mut passes_healed = 0u32;
    let mut idle = false;
    for _ in 0..3_000 {
        let (now, end, healed) = {
            let w = sim.world();
            (w.clock_ms, w.end_at_ms, w.healed())
        };
        if healed && now >= end && (idle || passes_healed >= 400) {
            break;
        }
        if healed {
            let mut w = sim.world();
            w.fault_rate = 0.0;
            w.algod_down_until = 0;
            w.git_down_until = 0;
            w.disk_full_until = 0;
        }
        let d = match &agent {
            Some(d) => Arc::clone(d),
            None => match catch_unwind(AssertUnwindSafe(|| {
                // systemd starts what the unit of the active generation runs.
                {
                    let mut w = sim.world();
                    w.running_agent = w.agent_of(&w.active.clone());
                }
                start_instance(&sim)
            })) {
                Ok(Ok(d)) => {
                    started = true;
                    set_current(&sim, Some(Arc::clone(&d)));
                    agent = Some(Arc::clone(&d));
                    d
                }
                Ok(Err(why)) => {
                    if trace {
                        println!("  the agent refused to start: {why}");
                    }
                    if sim.world().wrong_key {
                        break;
                    }
                    sim.world().advance(5_000);
                    continue;
                }
                Err(payload) if payload.is::<Crash>() => continue,
                Err(payload) => {
                    let text = panic_text(&*payload);
                    sim.world()
                        .violation("no_panic", format!("starting: {text}"));
                    break;
                }
            },
        };
        if healed && d.paused() {
            // The operator, the faults over, resumes (an unfinished rollback finishes first).
            let _ = d.resume(0);
        }
        crate::drift::maybe_switch_by_hand(&mut sim.world(), sim.setup.drift);
        crate::reactivation::maybe_rollback_then_resume(&sim, &d);
        match catch_unwind(AssertUnwindSafe(|| d.pass())) {
            Ok(Pass::SelfUpgrade(planned)) => {
                // The agent exits with status 75; its unit starts the new one 10 s later.
                if trace {
                    println!("  self-upgrade {planned:?}; restarting");
                }
                invariants::at_self_upgrade(&mut sim.world(), &planned);
                set_current(&sim, None);
                agent = None;
                drop(d);
                let mut w = sim.world();
                let hand_switches = w.hand_made.len();
                w.upgrades.push(crate::world::Upgrade {
                    proposal: planned.proposal,
                    from: planned.from,
                    to: planned.to,
                    hand_switches,
                });
                w.count("self_upgrade");
                w.advance(10_000);
            }
            Ok(pass) => {
                if trace {
                    println!("  pass: {pass:?}");
                }
                if healed {
                    passes_healed += 1;
                }
                // A paused agent is idle because an operator said so, not because it is done:
                // the schedule's end waits for the operator's resume (seed 8005331).
                idle = matches!(pass, Pass::Idle { .. }) && !d.paused();
                check_visible(&sim, &d, &pass);
                crate::drift::after_pass(&sim, &d, &pass);
                crate::reactivation::after_pass(&sim, &d, &pass);
                // An outcome was just reported (or a step done): the agent is replaced at this
                // point, by the one the active system names.
                if pass == Pass::Again && sim.world().replaced_after_outcome() {
                    if trace {
                        println!("  agent replaced after the pass");
                    }
                    set_current(&sim, None);
                    agent = None;
                    drop(d);
                    sim.world().advance(1_000);
                    continue;
                }
                let now = sim.world().clock_ms;
                let delay = delay_after(&pass, &mut failures, now).min(Duration::from_secs(30));
                let ms = u64::try_from(delay.as_millis()).unwrap_or(30_000).max(10);
                sim.world().advance(ms);
            }
            Err(payload) if payload.is::<Crash>() => {
                // kill -9: the process and everything in its memory are gone.
                if trace {
                    println!("  crash; restarting");
                }
                // Not idle: the schedule does not end before the restarted agent has passed.
                idle = false;
                set_current(&sim, None);
                agent = None;
                drop(d);
                sim.world().advance(1_000);
            }
            Err(payload) => {
                let text = panic_text(&*payload);
                sim.world().violation("no_panic", text);
                break;
            }
        }
    }
    set_current(&sim, None);
    drop(agent);
    let mut w = sim.world();
    invariants::at_end(&mut w, started);
    let _ = T0_MS;
    Schedule {
        seed,
        steps: w.steps,
        violations: std::mem::take(&mut w.violations),
        faults: std::mem::take(&mut w.faults),
    }
}

/// Progress or a visible reason: while algod is down and the agent cannot work, its status says
/// so (S11).
fn check_visible(sim: &Sim, d: &Deployer, pass: &Pass) {
    let down = {
        let w = sim.world();
        w.clock_ms < w.algod_down_until
    };
    let about_algod = matches!(pass, Pass::Retry(why) if why.contains("algod"));
    if !down || !about_algod {
        return;
    }
    let status = d.status_json();
    if status["dependencies"]["algod"]["ok"] != serde_json::Value::Bool(false) {
        sim.world().violation(
            "visible_reason",
            "algod is down and the agent retries, but its status does not say so".into(),
        );
    }
}
