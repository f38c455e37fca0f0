//! One instance of the real executor on the simulated world: its setup, its edges, its start
//! (as a new process would start, as far as the world can tell).

use crate::edges::{Sim, SimEdge};
use dao_agent::daemon::deployer::{Deployer, Shared};
use dao_agent::daemon::setup::Setup;
use dao_agent::daemon::upgrade::SelfUpgrade;
use dao_agent::edges::{Chain, Edges};
use dao_agent::executor::confirm::Check;
use dao_agent::executor::pipeline::Timeouts;
use dao_core::config::SwitchMode;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The executor's state directory in every schedule.
pub const STATE_DIR: &str = "/sim/state/executor";

/// The executor setup every schedule uses.
pub fn setup(genesis: git2::Oid) -> Setup {
    Setup {
        host: 1,
        host_name: "web-1".into(),
        app_id: 1001,
        dir: PathBuf::from(STATE_DIR),
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
        drift: dao_core::config::DriftPolicy::Report,
        current_system: PathBuf::from("/run/current-system"),
        upgrade: None,
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
    // The unit says who this process is: the agent systemd started.
    let setup = Arc::new(Setup {
        upgrade: Some(SelfUpgrade {
            marker: PathBuf::from(crate::world::MARKER),
            id: sim.world().running_agent.clone(),
        }),
        drift: sim.setup.drift,
        ..setup(sim.setup.genesis)
    });
    Deployer::start(setup, edges, chain, shared, None)
        .map(Arc::new)
        .map_err(|e| e.to_string())
}
