//! The `dao-agent` daemon: loads the configuration, checks the app (preflight), and runs the
//! configured roles until SIGTERM.
//!
//! Each role keeps its files under `<state_dir>/<role>/`. The executor owns the D-Bus name and
//! applies approved proposals; the watcher only follows and verifies. READY is sent once every
//! role has loaded its state (and the executor owns its bus name).

pub mod chain;
pub mod credentials;
pub mod deployer;
pub mod drift;
pub mod files;
pub mod following;
pub mod health;
pub mod heartbeat;
pub mod logging;
pub mod network;
pub mod notify;
pub mod operator;
pub mod reactivate;
pub mod rollback;
pub mod setup;
pub mod survey;
pub mod upgrade;
pub mod watcher;
pub mod worker;

use dao_chain::keys::Signer;
use dao_chain::preflight::preflight;
use dao_chain::Node;
use dao_core::config::{self, Config, Role};
use deployer::{Deployer, Shared, StartError};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, Notify};
use tracing::{info, warn};

pub const DEFAULT_CONFIG: &str = "/etc/dao-governance/agent.toml";

/// Why the daemon stopped before it could run, or stopped to be started again.
#[derive(Debug, thiserror::Error)]
pub enum Fatal {
    /// Exit status 75 ([`upgrade::EXIT_CODE`]): the last deployment changed the agent; the
    /// unit starts the new one (`RestartForceExitStatus=`).
    #[error("{0}")]
    SelfUpgrade(String),
    /// Exit status 2: the configuration (or the command line) is wrong.
    #[error("{0}")]
    Config(String),
    /// Exit status 1: anything else (the app refused preflight, the bus, the journal).
    #[error("{0}")]
    Other(String),
}

impl Fatal {
    pub fn exit_code(&self) -> u8 {
        match self {
            Fatal::Config(_) => 2,
            Fatal::Other(_) => 1,
            Fatal::SelfUpgrade(_) => upgrade::EXIT_CODE,
        }
    }
}

pub fn load_config(path: &Path) -> Result<Config, Fatal> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Fatal::Config(format!(
            "cannot read the configuration {}: {e}",
            path.display()
        ))
    })?;
    config::parse(&text).map_err(|problems| {
        let lines: Vec<String> = problems
            .iter()
            .map(|p| format!("{}: {p}", path.display()))
            .collect();
        Fatal::Config(format!(
            "{}\n{}: {} problem(s); see docs/configuration.md",
            lines.join("\n"),
            path.display(),
            problems.len()
        ))
    })
}

fn signer(cfg: &Config) -> Result<Signer, Fatal> {
    credentials::signer(
        cfg.keys.account_key_file.as_deref(),
        credentials::directory().as_deref(),
    )
    .map_err(Fatal::Other)
}

fn role_dir(cfg: &Config, role: &str) -> Result<PathBuf, Fatal> {
    let dir = cfg.state_dir.join(role);
    std::fs::create_dir_all(&dir)
        .map_err(|e| Fatal::Other(format!("cannot create {}: {e}", dir.display())))?;
    Ok(dir)
}

/// Runs the roles `only` selects (all configured ones when None) until SIGTERM or SIGINT.
pub async fn run(config_path: &Path, only: Option<Role>) -> Result<(), Fatal> {
    run_with(config_path, only, None).await
}

/// [`run`], with the executor's self-upgrade identity (daemon/upgrade.rs): it may then also
/// stop with [`Fatal::SelfUpgrade`] after a deployment that changed the agent.
pub async fn run_with(
    config_path: &Path,
    only: Option<Role>,
    upgrade: Option<upgrade::SelfUpgrade>,
) -> Result<(), Fatal> {
    let mut cfg = load_config(config_path)?;
    // Resolved once: the health check's own algod client uses the same token.
    cfg.chain.algod_token_file = credentials::algod_token_file(
        cfg.chain.algod_token_file.as_deref(),
        credentials::directory().as_deref(),
    );
    let cfg = cfg;
    let roles: Vec<Role> = match only {
        Some(r) if cfg.has_role(r) => vec![r],
        Some(r) => {
            return Err(Fatal::Config(format!(
                "--role {}: {} does not list it in `roles`",
                crate::journal::tag(&r),
                config_path.display()
            )))
        }
        None => cfg.roles.clone(),
    };
    let mut node =
        Node::with_token_file(&cfg.chain.algod_url, cfg.chain.algod_token_file.as_deref())
            .map_err(|e| Fatal::Other(e.to_string()))?;
    node.max_fee = Some(cfg.chain.max_fee);
    // Before the roles get their clones: one budget for all of them.
    if let Some(rate) = cfg.chain.max_requests_per_second {
        node.limit_requests(rate.0);
    }
    let fetches = roles.contains(&Role::Executor) || roles.contains(&Role::Validator);
    let expected: Vec<&str> = match (&cfg.source, fetches) {
        (Some(s), true) => s.allowed_remotes.iter().map(String::as_str).collect(),
        _ => Vec::new(),
    };
    let genesis_id = node.genesis_id().await.map_err(|e| {
        Fatal::Other(format!(
            "cannot reach algod at {}: {e}{}",
            cfg.chain.algod_url,
            credentials::token_hint(cfg.chain.algod_token_file.as_deref())
        ))
    })?;
    network::check(cfg.chain.network, &genesis_id).map_err(Fatal::Config)?;
    let ok = preflight(
        &node,
        cfg.chain.app_id,
        &expected,
        &cfg.chain.allowed_program_hashes,
    )
    .await
    .map_err(|e| Fatal::Other(format!("refusing to follow the app: {e}")))?;
    let start_after = node.last_round().await.map_err(|e| {
        Fatal::Other(format!(
            "cannot reach algod at {}: {e}",
            cfg.chain.algod_url
        ))
    })?;
    info!(
        app_id = cfg.chain.app_id,
        repo = %ok.global.repo,
        program = %ok.program_hash,
        "following application {}",
        cfg.chain.app_id
    );

    let mut tasks = tokio::task::JoinSet::new();
    let metrics = serve_metrics(&cfg, only, &node, &mut tasks);
    if roles.contains(&Role::Watcher) {
        let dir = role_dir(&cfg, "watcher")?;
        tasks.spawn(watcher::watch(ok.app.clone(), dir, start_after));
    }
    if roles.contains(&Role::Validator) {
        let runner = validator_runner(&cfg, &ok.app, &ok.global.repo)?;
        let wake = Arc::new(Notify::new());
        tasks.spawn(crate::validator::follow(
            ok.app.clone(),
            role_dir(&cfg, "validator")?.join("watermark"),
            start_after,
            Arc::clone(&wake),
        ));
        tasks.spawn(crate::validator::run(runner, wake));
    }
    let mut executor = None;
    if roles.contains(&Role::Executor) {
        let setup = Arc::new(setup::Setup {
            upgrade,
            ..setup::Setup::new(&cfg, &ok.global.repo, ok.global.genesis)
                .map_err(|e| Fatal::Config(e.to_string()))?
        });
        role_dir(&cfg, "executor")?;
        let shared = Arc::new(Mutex::new(Shared::default()));
        let (changes_tx, changes_rx) = mpsc::unbounded_channel();
        let observer = deployer::observer(Arc::clone(&shared), move |proposal, state| {
            let _ = changes_tx.send((proposal, state));
        });
        let edges = setup.edges();
        let hooks = hooks(&cfg, &setup, &edges);
        let drift_hooks = hooks.clone();
        let observer =
            crate::observe::observer(observer, metrics.clone(), hooks, edges.clock.now_ms());
        let chain = Arc::new(chain::ChainEdge {
            app: ok.app.clone(),
            signer: signer(&cfg)?,
            runtime: tokio::runtime::Handle::current(),
        });
        let heartbeats: Arc<dyn heartbeat::Heartbeats> = chain.clone();
        let start = {
            let setup = Arc::clone(&setup);
            let shared = Arc::clone(&shared);
            tokio::task::spawn_blocking(move || {
                Deployer::start(setup, edges, chain, shared, Some(observer))
            })
            .await
            .map_err(|e| Fatal::Other(format!("the executor's start failed: {e}")))?
        };
        let mut d = start.map_err(|e| match e {
            StartError::Setup(why) => Fatal::Config(why),
            StartError::Other(why) => Fatal::Other(why),
        })?;
        d.heartbeats = Some(heartbeats);
        if let Some(h) = drift_hooks {
            d.on_drift = Some(Box::new(move |drift| h.fire_drift(drift)));
        }
        let d = Arc::new(d);
        if let Some(m) = &metrics {
            m.executor(Arc::clone(&d));
        }
        let (req_tx, req_rx) = mpsc::channel(16);
        let bus = worker::serve_bus(&setup, req_tx)
            .await
            .map_err(Fatal::Other)?;
        let wake = Arc::new(Notify::new());
        tasks.spawn(worker::follow(
            ok.app.clone(),
            setup.dir.join("watermark"),
            start_after,
            setup.host,
            Arc::clone(&wake),
        ));
        let restart = Arc::new(Notify::new());
        tasks.spawn(worker::work(
            Arc::clone(&d),
            Arc::clone(&wake),
            Arc::clone(&restart),
        ));
        executor = Some((d, wake, bus, req_rx, changes_rx, restart));
    }
    let ready = executor.as_ref().is_none_or(|(d, ..)| d.ready());
    if ready {
        notify::ready(&format!("following application {}", cfg.chain.app_id));
        info!("ready");
    } else {
        // A corrupt journal is never "ready": the unit's start fails visibly, status says why.
        let why = "not ready: the journal cannot be read; see `dao-agentctl status`";
        warn!("{why}");
        notify::status(why);
    }
    let upgraded = control_loop(executor).await;
    tasks.abort_all();
    match upgraded {
        Some(p) => Err(Fatal::SelfUpgrade(format!(
            "proposal {} changed the agent ({} -> {}): exiting with status {} for systemd to \
             start the new one",
            p.proposal,
            p.from,
            p.to,
            upgrade::EXIT_CODE
        ))),
        None => Ok(()),
    }
}

/// Serves the metrics when enabled, on a task that binds their port as soon as it is free.
fn serve_metrics(
    cfg: &Config,
    only: Option<Role>,
    node: &Node,
    tasks: &mut tokio::task::JoinSet<()>,
) -> Option<Arc<crate::metrics::Metrics>> {
    if !cfg.metrics.enable {
        return None;
    }
    let m = crate::metrics::install(Arc::new(crate::metrics::Metrics::new(
        node.clone(),
        env!("CARGO_PKG_VERSION"),
    )));
    let addr = std::net::SocketAddr::new(cfg.metrics.address, cfg.metrics.port_for(only));
    // Never fatal: a port any local user can take must not stop deployments (server.rs).
    tasks.spawn(crate::metrics::server::serve_when_free(
        addr,
        Arc::clone(&m),
        crate::metrics::server::REBIND_EVERY,
    ));
    Some(m)
}

/// The on_outcome hook, when one is configured: a transient unit where the switch uses systemd.
fn hooks(
    cfg: &Config,
    setup: &setup::Setup,
    edges: &crate::edges::Edges,
) -> Option<Arc<crate::hooks::Hooks>> {
    let argv = cfg.hooks.on_outcome.clone()?;
    let runner = match cfg.executor.switch_mode {
        config::SwitchMode::Systemd => crate::hooks::Runner::Systemd { bus: None },
        config::SwitchMode::Direct => crate::hooks::Runner::Direct,
    };
    Some(Arc::new(crate::hooks::Hooks {
        argv,
        timeout: cfg.hooks.timeout.0,
        runner,
        host_id: setup.host,
        host_name: setup.host_name.clone(),
        app_id: setup.app_id,
        system: Arc::clone(&edges.system),
    }))
}

/// The validator's judge and signer: its own checkout and GC roots under
/// `<state_dir>/validator`, so that it never shares a repository with an executor on the same
/// host; Nix pointed at `validator.store` when one is set.
fn validator_runner(
    cfg: &Config,
    app: &dao_chain::App,
    pinned_repo: &str,
) -> Result<crate::validator::Runner, Fatal> {
    let missing = |what: &str| Fatal::Config(format!("the validator needs {what}"));
    let v = cfg
        .validator
        .clone()
        .ok_or_else(|| missing("a [validator] section"))?;
    let source = cfg
        .source
        .as_ref()
        .ok_or_else(|| missing("a [source] section"))?;
    if !source.allowed_remotes.iter().any(|r| r == pinned_repo) {
        return Err(Fatal::Config(format!(
            "the app governs {pinned_repo:?}, which is not in source.allowed_remotes ({})",
            source.allowed_remotes.join(", ")
        )));
    }
    let dir = role_dir(cfg, "validator")?;
    let mut env = Vec::new();
    if let Some(store) = &v.store {
        let inherited = std::env::var("NIX_CONFIG").unwrap_or_default();
        env.push((
            "NIX_CONFIG".to_owned(),
            format!("{inherited}\nstore = {}", store.display()),
        ));
    }
    let judge = crate::validator::judge::Judge {
        checkout: dir.join("checkout"),
        allowed_remotes: source.allowed_remotes.clone(),
        pinned_remote: pinned_repo.to_owned(),
        shallow: source.shallow,
        nix: crate::executor::build::Nix {
            program: PathBuf::from("nix"),
            env,
        },
        dir,
        cfg: v,
    };
    Ok(crate::validator::Runner::new(
        app.clone(),
        signer(cfg)?,
        judge,
    ))
}

type Executor = (
    Arc<Deployer>,
    Arc<Notify>,
    zbus::Connection,
    mpsc::Receiver<crate::control::Request>,
    mpsc::UnboundedReceiver<(u64, String)>,
    // Notified by the worker when a self-upgrade is due.
    Arc<Notify>,
);

/// Answers D-Bus requests, relays journal changes as signals and STATUS, pings the watchdog;
/// on SIGTERM or SIGINT (or a self-upgrade, which it returns) waits for an activation in
/// progress, then returns.
async fn control_loop(executor: Option<Executor>) -> Option<upgrade::Planned> {
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        warn!("cannot install signal handlers; stopping");
        return None;
    };
    let period = notify::watchdog_period().unwrap_or(Duration::from_secs(3600));
    let mut watchdog = tokio::time::interval(period);
    let (d, wake, bus, mut requests, mut changes, restart) = match executor {
        Some((d, w, bus, r, c, u)) => (Some(d), Some(w), Some(bus), Some(r), Some(c), Some(u)),
        None => (None, None, None, None, None, None),
    };
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            () = async { match &restart { Some(u) => u.notified().await, None => std::future::pending().await } } => break,
            _ = watchdog.tick() => notify::watchdog(),
            Some(req) = async { match requests.as_mut() { Some(r) => r.recv().await, None => None } } => {
                if let (Some(d), Some(w)) = (&d, &wake) {
                    worker::handle(d, w, req);
                }
            }
            Some((proposal, state)) = async { match changes.as_mut() { Some(c) => c.recv().await, None => None } } => {
                notify::status(&format!("proposal {proposal}: {state}"));
                if let Some(bus) = &bus {
                    if let Err(e) = crate::control::deployment_changed(bus, proposal, &state).await {
                        warn!(proposal, "cannot emit DeploymentChanged: {e}");
                    }
                }
            }
        }
    }
    let mut upgraded = None;
    if let (Some(d), Some(wake)) = (d, wake) {
        upgraded = deployer::lock(&d.shared).self_upgrade.clone();
        {
            let mut s = deployer::lock(&d.shared);
            s.shutting_down = true;
            if let Some(c) = &s.current {
                let msg = format!(
                    "stopping: waiting for proposal {} ({}) to finish",
                    c.proposal, c.step
                );
                info!(proposal = c.proposal, step = %c.step, "{msg}");
                notify::stopping(&msg);
            } else {
                notify::stopping("stopping");
            }
        }
        wake.notify_one();
        // Wait for the activation in progress (a deployment or a rollback), keeping the
        // watchdog fed meanwhile.
        let wait = worker::wait_for_activation(&d);
        tokio::pin!(wait);
        loop {
            tokio::select! {
                () = &mut wait => break,
                _ = watchdog.tick() => notify::watchdog(),
            }
        }
    }
    info!("stopped");
    upgraded
}
