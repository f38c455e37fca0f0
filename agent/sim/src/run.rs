//! One schedule: start the real executor on the simulated world, run its passes until the
//! schedule ends, crash and restart it when a fault says so, and check the invariants.

use crate::edges::{Crash, Sim, SimEdge};
use crate::invariants;
use crate::world::{World, T0_MS};
use dao_agent::daemon::deployer::{delay_after, Deployer, Pass, Shared};
use dao_agent::daemon::setup::Setup;
use dao_agent::edges::{Chain, Edges};
use dao_agent::executor::confirm::Check;
use dao_agent::executor::pipeline::Timeouts;
use dao_core::config::SwitchMode;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What one schedule did.
pub struct Schedule {
    pub seed: u64,
    pub steps: u64,
    pub violations: Vec<(String, String)>,
    pub faults: BTreeMap<&'static str, u64>,
}

/// The executor setup every schedule uses.
pub fn setup(genesis: git2::Oid) -> Setup {
    Setup {
        host: 1,
        host_name: "web-1".into(),
        app_id: 1001,
        dir: PathBuf::from("/sim/state/executor"),
        checkout: PathBuf::from("/sim/state/checkout"),
        allowed_remotes: vec!["git://sim/fleet.git".into()],
        pinned_remote: "git://sim/fleet.git".into(),
        shallow: false,
        flake_output: "nixosConfigurations.web-1.config.system.build.toplevel".into(),
        profile_path: PathBuf::from("/nix/var/nix/profiles/system"),
        switch_mode: SwitchMode::Direct,
        operator_group: None,
        genesis,
        timeouts: Timeouts {
            fetch: Duration::from_secs(60),
            dry_build: Duration::from_secs(300),
            build: Duration::from_secs(1800),
            switch: Duration::from_secs(300),
            health: Duration::from_secs(60),
            health_interval: Duration::from_secs(1),
        },
        checks: vec![Check::Command(vec![
            "/run/current-system/sw/bin/true".into()
        ])],
    }
}

/// Every edge but the chain, over the simulated world.
pub fn sim_edges(sim: &Arc<Sim>) -> Edges {
    let edge = SimEdge(Arc::clone(sim));
    Edges {
        clock: Arc::new(edge.clone()),
        files: Arc::new(edge.clone()),
        source: Arc::new(edge.clone()),
        builder: Arc::new(edge.clone()),
        system: Arc::new(edge.clone()),
        health: Arc::new(edge),
    }
}

/// Starts an instance of the real executor on the world (a new process, as far as the world
/// can tell).
pub fn start_instance(sim: &Arc<Sim>) -> Result<Arc<Deployer>, String> {
    {
        let mut w = sim.world();
        w.live_instance = w.next_instance;
        w.next_instance += 1;
    }
    let chain: Arc<dyn Chain> = Arc::new(SimEdge(Arc::clone(sim)));
    let edges = sim_edges(sim);
    let shared = Arc::new(Mutex::new(Shared::default()));
    Deployer::start(Arc::clone(&sim.setup), edges, chain, shared, None)
        .map(Arc::new)
        .map_err(|e| e.to_string())
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
        setup: Arc::new(setup(genesis)),
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
            None => match catch_unwind(AssertUnwindSafe(|| start_instance(&sim))) {
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
        match catch_unwind(AssertUnwindSafe(|| d.pass())) {
            Ok(pass) => {
                if trace {
                    println!("  pass: {pass:?}");
                }
                if healed {
                    passes_healed += 1;
                }
                idle = matches!(pass, Pass::Idle { .. });
                check_visible(&sim, &d, &pass);
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
