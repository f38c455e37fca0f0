//! `/metrics`: what the agent knows about itself, in the Prometheus text format (docs/metrics.md).
//!
//! Two kinds of series. Counters and histograms (outcomes, rollbacks, step durations, hook runs)
//! grow as the journal is written ([`Metrics::observe`]). Everything else is read when Prometheus
//! scrapes ([`Metrics::render`]): algod's last round (one `GET /v2/status`, bounded by
//! [`ALGOD_TIMEOUT`]), each follower's status, the executor's dependencies, pause and journal.
//! Reading at scrape time keeps the numbers true after a restart: the journal, not this
//! process's memory, says how many proposals ended how and when the last deploy succeeded.
//!
//! Labels take values from closed sets only (roles, steps, outcome statuses, dependencies, the
//! version): never a proposal id, commit, path or error text, so the number of series is fixed,
//! and nothing secret (keys, tokens, URLs with credentials) can reach a label.

mod journal;
pub mod server;

pub use journal::{Observed, Tracker};

use crate::daemon::deployer::{lock, Deployer};
use crate::journal::{tag, Status};
use dao_chain::follow::Status as FollowStatus;
use dao_chain::Node;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// How long a scrape waits for algod's status before it says algod is down.
pub const ALGOD_TIMEOUT: Duration = Duration::from_secs(2);

/// One label from a closed set.
type One = [(&'static str, String); 1];

fn one(key: &'static str, value: impl Into<String>) -> One {
    [(key, value.into())]
}

/// The outcome statuses, the steps and the dependencies: every label value a series can take,
/// so that each series exists (at 0) from the first scrape and `rate()`/alerts see it.
const OUTCOMES: [Status; 5] = [
    Status::Applied,
    Status::Failed,
    Status::RolledBack,
    Status::Refused,
    Status::NotReproducible,
];
const DEPENDENCIES: [&str; 3] = ["algod", "git", "journal"];
/// What `dao_agent_proposals` counts, besides the outcome statuses.
const OPEN_STATES: [&str; 3] = ["waiting", "in_progress", "unverified"];

type Followers = Vec<(&'static str, Arc<Mutex<FollowStatus>>)>;

pub struct Metrics {
    registry: Registry,
    node: Node,
    followers: Mutex<Followers>,
    executor: Mutex<Option<Arc<Deployer>>>,
    /// The last round each follower reported while it was following (kept while it retries).
    last_rounds: Mutex<Vec<(&'static str, u64)>>,
    algod_round: Gauge,
    chain_round: Family<One, Gauge>,
    follower_lag: Family<One, Gauge>,
    dependency_up: Family<One, Gauge>,
    proposals: Family<One, Gauge>,
    steps: Family<One, Histogram>,
    outcomes: Family<One, Counter>,
    rollbacks: Family<One, Counter>,
    hooks: Family<One, Counter>,
    drift: Gauge,
    paused: Gauge,
    last_deploy: Gauge<f64, AtomicU64>,
}

/// Step durations: from a second (a fetch from a near remote) to two hours (a large build).
fn step_buckets() -> impl Iterator<Item = f64> {
    [
        0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0,
    ]
    .into_iter()
}

static INSTALLED: OnceLock<Arc<Metrics>> = OnceLock::new();

/// The metrics of this process, when `[metrics] enable` installed them.
pub fn installed() -> Option<&'static Arc<Metrics>> {
    INSTALLED.get()
}

/// Makes `m` this process's metrics (the first call wins: one agent per process).
pub fn install(m: Arc<Metrics>) -> Arc<Metrics> {
    Arc::clone(INSTALLED.get_or_init(|| m))
}

/// Tells the installed metrics about a follower (no-op when metrics are off).
pub fn follower(role: &'static str, status: Arc<Mutex<FollowStatus>>) {
    if let Some(m) = installed() {
        m.followers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((role, status));
    }
}

/// Counts an operator's rollback (no-op when metrics are off).
pub fn operator_rollback() {
    if let Some(m) = installed() {
        m.rollbacks
            .get_or_create_owned(&one("kind", "operator"))
            .inc();
    }
}

/// Counts a hook run by how it ended: ok, failed or timed_out (no-op when metrics are off).
pub fn hook_run(result: &'static str) {
    if let Some(m) = installed() {
        m.hooks.get_or_create_owned(&one("result", result)).inc();
    }
}

impl Metrics {
    /// Every series registered, the closed label sets created at zero.
    pub fn new(node: Node, version: &str) -> Metrics {
        let mut r = Registry::with_prefix("dao_agent");
        let m = Metrics {
            registry: Registry::default(),
            node,
            followers: Mutex::new(Vec::new()),
            executor: Mutex::new(None),
            last_rounds: Mutex::new(Vec::new()),
            algod_round: Gauge::default(),
            chain_round: Family::default(),
            follower_lag: Family::default(),
            dependency_up: Family::default(),
            proposals: Family::default(),
            steps: Family::new_with_constructor(|| Histogram::new(step_buckets())),
            outcomes: Family::default(),
            rollbacks: Family::default(),
            hooks: Family::default(),
            drift: Gauge::default(),
            paused: Gauge::default(),
            last_deploy: Gauge::default(),
        };
        r.register(
            "build",
            "The agent's version (always 1)",
            Info::new(vec![("version".to_owned(), version.to_owned())]),
        );
        r.register(
            "algod_round",
            "algod's last round, read at scrape time",
            m.algod_round.clone(),
        );
        r.register(
            "chain_round",
            "The last round of algod each role's follower has seen",
            m.chain_round.clone(),
        );
        r.register_with_unit(
            "follower_lag",
            "Rounds between algod's last round and what each role's follower has seen",
            Unit::Other("rounds".to_owned()),
            m.follower_lag.clone(),
        );
        r.register(
            "dependency_up",
            "1 when the dependency (algod, git, journal) worked the last time it was used",
            m.dependency_up.clone(),
        );
        r.register(
            "proposals",
            "This host's proposals by state: an outcome status, waiting, in_progress or unverified",
            m.proposals.clone(),
        );
        r.register_with_unit(
            "step_duration",
            "How long each pipeline step took",
            Unit::Seconds,
            m.steps.clone(),
        );
        r.register(
            "outcomes",
            "Outcomes decided by this process, by status",
            m.outcomes.clone(),
        );
        r.register(
            "rollbacks",
            "Rollbacks: automatic (a failed switch or health check) or operator",
            m.rollbacks.clone(),
        );
        r.register(
            "hook_runs",
            "on_outcome hook runs by result: ok, failed, timed_out",
            m.hooks.clone(),
        );
        r.register(
            "drift",
            "1 when the host runs a system the agent did not activate (someone switched it by \
             hand)",
            m.drift.clone(),
        );
        r.register(
            "paused",
            "1 while automatic deployment is paused",
            m.paused.clone(),
        );
        r.register_with_unit(
            "last_successful_deploy_timestamp",
            "Unix time of the last applied outcome in the journal (0: none yet)",
            Unit::Seconds,
            m.last_deploy.clone(),
        );
        for s in OUTCOMES {
            m.outcomes.get_or_create_owned(&one("outcome", tag(&s)));
        }
        for k in ["automatic", "operator"] {
            m.rollbacks.get_or_create_owned(&one("kind", k));
        }
        for k in ["ok", "failed", "timed_out"] {
            m.hooks.get_or_create_owned(&one("result", k));
        }
        Metrics { registry: r, ..m }
    }

    /// The executor whose journal and status the scrape reads.
    pub fn executor(&self, d: Arc<Deployer>) {
        for s in OUTCOMES
            .iter()
            .map(tag)
            .chain(OPEN_STATES.map(str::to_owned))
        {
            self.proposals.get_or_create_owned(&one("state", s));
        }
        for dep in DEPENDENCIES {
            self.dependency_up
                .get_or_create_owned(&one("dependency", dep));
        }
        *self.executor.lock().unwrap_or_else(|p| p.into_inner()) = Some(d);
    }

    /// Learns from one journal write ([`Tracker::see`]): finished steps and a new outcome.
    pub fn observe(&self, seen: &Observed) {
        for (step, took) in &seen.steps {
            self.steps
                .get_or_create_owned(&one("step", tag(step)))
                .observe(took.as_secs_f64());
        }
        if let Some(o) = &seen.outcome {
            self.outcomes
                .get_or_create_owned(&one("outcome", tag(&o.status)))
                .inc();
            if o.status == Status::RolledBack {
                self.rollbacks
                    .get_or_create_owned(&one("kind", "automatic"))
                    .inc();
            }
        }
    }

    /// Reads what is read at scrape time, then encodes every series.
    pub async fn render(&self) -> String {
        let algod = tokio::time::timeout(ALGOD_TIMEOUT, self.node.last_round()).await;
        let tip = match algod {
            Ok(Ok(round)) => Some(round),
            _ => None,
        };
        self.refresh_followers(tip);
        let d = self
            .executor
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let executor_algod = match d {
            Some(d) => {
                let snap = tokio::task::spawn_blocking(move || journal::snapshot(&d))
                    .await
                    .ok();
                snap.map(|s| self.apply(&s))
            }
            None => None,
        };
        let algod_up = tip.is_some() && executor_algod.unwrap_or(true);
        self.dependency_up
            .get_or_create_owned(&one("dependency", "algod"))
            .set(i64::from(algod_up));
        let mut out = String::new();
        // Writing into a String cannot fail; an encoder error would only truncate the page.
        let _ = prometheus_text::encode(&mut out, &self.registry);
        out
    }

    fn refresh_followers(&self, tip: Option<u64>) {
        if let Some(t) = tip {
            self.algod_round.set(i64::try_from(t).unwrap_or(i64::MAX));
        }
        let followers = self
            .followers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut last = self.last_rounds.lock().unwrap_or_else(|p| p.into_inner());
        for (role, status) in followers {
            let now = status
                .lock()
                .map(|s| s.clone())
                .unwrap_or(FollowStatus::Starting);
            if let FollowStatus::Following { round } = now {
                match last.iter_mut().find(|(r, _)| *r == role) {
                    Some(slot) => slot.1 = round,
                    None => last.push((role, round)),
                }
            }
            // Before its first round a follower has seen nothing: no series yet.
            let Some(seen) = last.iter().find(|(r, _)| *r == role).map(|(_, n)| *n) else {
                continue;
            };
            self.chain_round
                .get_or_create_owned(&one("role", role))
                .set(i64::try_from(seen).unwrap_or(i64::MAX));
            let tip = tip.unwrap_or(u64::try_from(self.algod_round.get()).unwrap_or(0));
            self.follower_lag
                .get_or_create_owned(&one("role", role))
                .set(i64::try_from(tip.saturating_sub(seen)).unwrap_or(i64::MAX));
        }
    }

    /// Sets the executor's series from a snapshot; whether it found algod working.
    fn apply(&self, s: &journal::Snapshot) -> bool {
        for (state, n) in &s.proposals {
            self.proposals
                .get_or_create_owned(&one("state", state.clone()))
                .set(*n);
        }
        for (dep, ok) in [("git", s.git_up), ("journal", s.journal_up)] {
            self.dependency_up
                .get_or_create_owned(&one("dependency", dep))
                .set(i64::from(ok));
        }
        self.paused.set(i64::from(s.paused));
        self.drift.set(i64::from(s.drift));
        // Milliseconds to seconds: exact for any real date in an f64.
        #[allow(clippy::cast_precision_loss)]
        self.last_deploy
            .set(s.last_applied_ms.map_or(0.0, |ms| ms as f64 / 1000.0));
        s.algod_up
    }
}

/// The executor's state as a scrape needs it.
pub(crate) fn shared_view(d: &Deployer) -> (bool, bool, bool, bool) {
    let s = lock(&d.shared);
    (
        s.paused.is_some(),
        s.dependencies.algod.ok,
        s.dependencies.git.ok,
        s.dependencies.journal.ok,
    )
}
