//! The simulated world one schedule runs in: the chain's proposals and reports, the git remote,
//! the system profile and its switches, the state directory's files, the clock — and the
//! faults the schedule injects. Everything is derived from the seed.

use dao_agent::edges::Action;
use dao_agent::journal::Status;
use dao_chain::validation::Validation;
use dao_core::diff_hash::DiffHash;
use git2::Oid;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The agent the genesis system runs.
pub const GENESIS_AGENT: &str = "agent-genesis";

/// Where a schedule starts, in Unix ms (any fixed point will do).
pub const T0_MS: u64 = 1_700_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decided {
    /// Queued with its execution window `[eta, expiry)` in chain seconds.
    Queued {
        eta: u64,
        expiry: u64,
    },
    Defeated,
    Canceled,
}

#[derive(Debug, Clone)]
pub struct Proposal {
    pub id: u64,
    pub base: Oid,
    pub head: Oid,
    pub diff_hash: DiffHash,
    pub targets_host: bool,
    pub decided: Decided,
    /// Its diff does not match the approved hash: verification must refuse it.
    pub tampered: bool,
    pub eval_fails: bool,
    pub build_fails: bool,
    pub unhealthy: bool,
    /// When its head reaches the remote (chain seconds); None: never pushed.
    pub pushed_at: Option<u64>,
    /// The attestation quorum it was created with (0 = off).
    pub quorum: u64,
    /// The validators' attestations for this host, as they will land on chain.
    pub attestations: Vec<SimAttestation>,
    /// The closure this host's build has (the validators' honest one, or not: a build that is
    /// not reproducible here).
    pub host_closure: [u8; 32],
    /// Its change brings a new agent (package or configuration of dao-executor.service).
    pub changes_agent: bool,
}

/// One validator's attestation: when it lands on chain and what it says.
#[derive(Debug, Clone)]
pub struct SimAttestation {
    pub at_s: u64,
    /// None: the validator's build failed (no closure).
    pub closure: Option<[u8; 32]>,
}

impl Proposal {
    pub fn toplevel(&self) -> PathBuf {
        PathBuf::from(format!(
            "/nix/store/{:032x}-nixos-system-p{}",
            self.id.wrapping_mul(0x9e37_79b9_7f4a_7c15),
            self.id
        ))
    }

    pub fn open_at(&self, now_s: u64) -> bool {
        matches!(self.decided, Decided::Queued { eta, expiry } if eta <= now_s && now_s < expiry)
    }

    pub fn expiry(&self) -> Option<u64> {
        match self.decided {
            Decided::Queued { expiry, .. } => Some(expiry),
            _ => None,
        }
    }

    /// The app's attestation summary at chain time `now_s`: the first closure to reach the
    /// quorum, in the order the attestations landed, is the agreed one (the app's rule).
    pub fn validation(&self, now_s: u64) -> Validation {
        let mut landed: Vec<&SimAttestation> = self
            .attestations
            .iter()
            .filter(|a| a.at_s <= now_s)
            .collect();
        landed.sort_by_key(|a| a.at_s);
        let mut v = Validation::default();
        let mut counts: BTreeMap<[u8; 32], u64> = BTreeMap::new();
        for a in landed {
            v.attestations += 1;
            if let Some(c) = a.closure {
                let n = counts.entry(c).or_insert(0);
                *n += 1;
                v.best = v.best.max(*n);
                if self.quorum > 0 && *n == self.quorum && v.agreed.is_none() {
                    v.agreed = Some(c);
                    v.agreed_at = a.at_s;
                }
            }
        }
        v
    }
}

/// The validator dimension of a schedule, from its own random stream so that schedules without
/// validators are exactly what they were before validators existed.
fn validators_of(seed: u64, proposals: &mut [Proposal]) -> u64 {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7a11_da70_5eed_0001);
    let validators = if rng.gen_bool(0.4) {
        0
    } else {
        rng.gen_range(1..=4u64)
    };
    for p in proposals.iter_mut() {
        let honest = [0xc0 ^ (p.id as u8); 32];
        p.host_closure = honest;
        if validators == 0 || !rng.gen_bool(0.7) {
            continue;
        }
        p.quorum = rng.gen_range(1..=validators);
        if rng.gen_bool(0.15) {
            // This host's build differs from what honest validators build.
            p.host_closure = [0xee ^ (p.id as u8); 32];
        }
        let from = match p.decided {
            Decided::Queued { eta, .. } => eta.saturating_sub(60),
            _ => T0_MS / 1000,
        };
        for v in 0..validators {
            if !rng.gen_bool(0.85) {
                continue;
            }
            let closure = match rng.gen_range(0..100) {
                0..=9 => None,
                10..=24 => Some([0x10 + v as u8; 32]),
                _ => Some(honest),
            };
            p.attestations.push(SimAttestation {
                at_s: from + rng.gen_range(0..900),
                closure,
            });
        }
    }
    validators
}

/// Which proposals change the agent itself, from a random stream of their own so that the
/// schedules are otherwise what they were before self-upgrades existed.
fn agents_of(seed: u64, proposals: &mut [Proposal]) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5e1f_a9e7_0000_0018);
    for p in proposals.iter_mut() {
        p.changes_agent = rng.gen_bool(0.4);
    }
}

/// Where the running generation names its executor's agent (the module's
/// /etc/dao-governance/executor-agent.json): the simulated files edge answers it from the
/// active system.
pub const MARKER: &str = "/sim/etc/dao-governance/executor-agent.json";

/// One self-upgrade the agent went through.
#[derive(Debug, Clone)]
pub struct Upgrade {
    pub proposal: u64,
    pub from: String,
    pub to: String,
    /// How many hand-made switches had happened by then: after another one, reactivating the
    /// approved system may hand over to its agent again.
    pub hand_switches: usize,
}

/// A switch-to-configuration process that outlived the agent that started it.
#[derive(Debug, Clone)]
pub struct InFlight {
    pub toplevel: PathBuf,
    pub until_ms: u64,
    /// `switch` activates and sets the boot default, `boot` only the latter, `test` the former.
    pub action: Action,
}

/// One thing the world records for the checker.
#[derive(Debug, Clone)]
pub enum Effect {
    /// A switch towards `toplevel` began (forward when it is a proposal's toplevel).
    Switch {
        toplevel: PathBuf,
        at_ms: u64,
    },
    Report {
        proposal: u64,
        status: Status,
    },
}

pub fn oid(n: u64) -> Oid {
    let mut b = [0u8; 20];
    b[..8].copy_from_slice(&n.to_be_bytes());
    b[19] = 1;
    Oid::from_bytes(&b).unwrap_or(Oid::ZERO_SHA1)
}

pub struct World {
    pub rng: ChaCha8Rng,
    pub clock_ms: u64,
    pub genesis: Oid,
    pub proposals: Vec<Proposal>,
    /// How many validators the app has (0: the quorum is off everywhere).
    pub validators: u64,
    pub reports: BTreeMap<u64, Status>,
    pub amendments: BTreeSet<u64>,
    /// The agent's key is not the host's registered agent.
    pub wrong_key: bool,
    // Faults in force until a time (ms).
    pub algod_down_until: u64,
    pub git_down_until: u64,
    pub disk_full_until: u64,
    /// After this, no new faults are injected and the ones in force end: the schedule settles.
    pub heal_at_ms: u64,
    pub end_at_ms: u64,
    // The system.
    pub generations: Vec<PathBuf>,
    pub current: u64,
    pub active: PathBuf,
    /// The bootloader's default entry: what the next boot runs.
    pub boot: PathBuf,
    pub in_flight: Vec<InFlight>,
    /// The toplevel the profile was last set to (a forward activation), until a restore.
    pub last_set: Option<PathBuf>,
    /// The proposal the gate found open at the last step, if that step was the gate (only the
    /// agent's own journal writes may come between the gate and the activation).
    pub gate_open_for: Option<u64>,
    pub files: BTreeMap<PathBuf, Vec<u8>>,
    pub instance_locks: BTreeMap<PathBuf, u64>,
    pub next_instance: u64,
    pub live_instance: u64,
    // What happened, for the checker and the figures.
    pub effects: Vec<Effect>,
    pub faults: BTreeMap<&'static str, u64>,
    pub steps: u64,
    pub violations: Vec<(String, String)>,
    pub trace: bool,
    /// Nested operator actions and second instances never nest again.
    pub nested: bool,
    /// Probability scale of per-step faults (0 after healing).
    pub fault_rate: f64,
    /// The agent the running process is (systemd starts the active generation's).
    pub running_agent: String,
    /// Its own stream, so that the other faults of a seed stay what they were.
    pub replace_rng: ChaCha8Rng,
    pub upgrades: Vec<Upgrade>,
    /// Someone's `nixos-rebuild switch` by hand, on a stream of its own (sim/src/drift.rs).
    pub hand_rng: ChaCha8Rng,
    /// The systems switched to by hand: never the agent's to report or to activate.
    pub hand_made: Vec<PathBuf>,
    /// The reactivation faults' own stream (sim/src/reactivation.rs).
    pub react_rng: ChaCha8Rng,
    /// The profile generation and running system a hand `nixos-rebuild test` left apart, by
    /// the operator's choice (None once anything moved either).
    pub apart_by_hand: Option<(u64, PathBuf)>,
    /// A switch or a profile change failed since the host was last seen with its profile and
    /// running system together: a failed revert may leave them apart, and says so.
    pub apart_excused: bool,
    /// The next health check fails (a hand-activated drift, then a failing reactivation).
    pub health_fails_once: bool,
    /// Operator rollbacks that switched, in order: (from, to) toplevels.
    pub rollbacks: Vec<(PathBuf, PathBuf)>,
    /// A crash a test plans: at the n-th (0: next) step of this site ("profile.restore.after":
    /// right after a profile restore took effect).
    pub crash_plan: Option<(&'static str, u32)>,
}

impl World {
    /// A schedule from `seed`: proposals that pass, fail, expire, get canceled, emergency ones
    /// with a short window, several in flight; the faults' rates.
    pub fn new(seed: u64, trace: bool) -> World {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let genesis = oid(0);
        let start_s = T0_MS / 1000;
        let n = rng.gen_range(2..=7u64);
        let mut proposals = Vec::new();
        let mut tip = genesis;
        let mut t = start_s;
        for id in 1..=n {
            t += rng.gen_range(0..120);
            let roll = rng.gen_range(0..100);
            let decided = match roll {
                0..=9 => Decided::Defeated,
                10..=14 => Decided::Canceled,
                // Emergency: short window; some will expire before the host can act.
                15..=34 => Decided::Queued {
                    eta: t + rng.gen_range(0..30),
                    expiry: t + rng.gen_range(20..90),
                },
                _ => Decided::Queued {
                    eta: t + rng.gen_range(0..120),
                    expiry: t + rng.gen_range(300..1800),
                },
            };
            let decided = match decided {
                Decided::Queued { eta, expiry } => Decided::Queued {
                    eta,
                    expiry: expiry.max(eta + 10),
                },
                d => d,
            };
            let head = oid(id);
            let tampered = rng.gen_bool(0.08);
            let p = Proposal {
                id,
                base: tip,
                head,
                diff_hash: DiffHash([id as u8; 32]),
                targets_host: rng.gen_bool(0.85),
                decided,
                tampered,
                eval_fails: rng.gen_bool(0.04),
                build_fails: rng.gen_bool(0.06),
                unhealthy: rng.gen_bool(0.12),
                pushed_at: match rng.gen_range(0..100) {
                    0..=6 => None,
                    7..=19 => Some(t + rng.gen_range(30..900)),
                    _ => Some(0),
                },
                quorum: 0,
                attestations: Vec::new(),
                host_closure: [0; 32],
                changes_agent: false,
            };
            if matches!(decided, Decided::Queued { .. }) && !tampered {
                tip = head;
            }
            proposals.push(p);
        }
        let last_expiry = proposals
            .iter()
            .filter_map(Proposal::expiry)
            .max()
            .unwrap_or(start_s);
        let heal_at_ms = (last_expiry + 60) * 1000;
        let validators = validators_of(seed, &mut proposals);
        agents_of(seed, &mut proposals);
        let genesis_toplevel =
            PathBuf::from("/nix/store/00000000000000000000000000000000-nixos-system-genesis");
        World {
            wrong_key: rng.gen_bool(0.03),
            rng,
            clock_ms: T0_MS,
            genesis,
            proposals,
            validators,
            reports: BTreeMap::new(),
            amendments: BTreeSet::new(),
            algod_down_until: 0,
            git_down_until: 0,
            disk_full_until: 0,
            heal_at_ms,
            end_at_ms: heal_at_ms + 3_600_000,
            generations: vec![genesis_toplevel.clone()],
            current: 1,
            active: genesis_toplevel.clone(),
            boot: genesis_toplevel,
            in_flight: Vec::new(),
            last_set: None,
            gate_open_for: None,
            files: BTreeMap::new(),
            instance_locks: BTreeMap::new(),
            next_instance: 1,
            live_instance: 0,
            effects: Vec::new(),
            faults: BTreeMap::new(),
            steps: 0,
            violations: Vec::new(),
            trace,
            nested: false,
            fault_rate: 1.0,
            running_agent: GENESIS_AGENT.into(),
            replace_rng: ChaCha8Rng::seed_from_u64(seed ^ 0x5e1f_a9e7_0000_0019),
            upgrades: Vec::new(),
            hand_rng: ChaCha8Rng::seed_from_u64(seed ^ 0x0d21_f700_0000_0015),
            hand_made: Vec::new(),
            react_rng: ChaCha8Rng::seed_from_u64(seed ^ 0x4ea0_c71f_0000_0015),
            apart_by_hand: None,
            apart_excused: false,
            health_fails_once: false,
            rollbacks: Vec::new(),
            crash_plan: None,
        }
    }

    pub fn now_s(&self) -> u64 {
        self.clock_ms / 1000
    }

    pub fn healed(&self) -> bool {
        self.clock_ms >= self.heal_at_ms
    }

    /// Rolls a fault of `kind` with probability `p` (scaled; none once healed) and counts it.
    pub fn roll(&mut self, kind: &'static str, p: f64) -> bool {
        if self.healed() || self.fault_rate == 0.0 {
            return false;
        }
        let hit = self.rng.gen_bool((p * self.fault_rate).clamp(0.0, 1.0));
        if hit {
            *self.faults.entry(kind).or_insert(0) += 1;
            if self.trace {
                println!("  fault {kind} at t={}", self.clock_ms - T0_MS);
            }
        }
        hit
    }

    /// Whether the agent is replaced (killed, and the active system's agent started, as an
    /// administrator's restart or a package upgrade would) right after a pass that reported.
    pub fn replaced_after_outcome(&mut self) -> bool {
        if self.healed() || self.fault_rate == 0.0 || !self.replace_rng.gen_bool(0.05) {
            return false;
        }
        self.count("agent_replaced");
        true
    }

    /// Whether the test's planned crash is due at `site` (counting down its steps there).
    pub fn planned_crash(&mut self, site: &str) -> bool {
        match &mut self.crash_plan {
            Some((s, 0)) if *s == site => {
                self.crash_plan = None;
                true
            }
            Some((s, n)) if *s == site => {
                *n -= 1;
                false
            }
            _ => false,
        }
    }

    pub fn count(&mut self, kind: &'static str) {
        *self.faults.entry(kind).or_insert(0) += 1;
    }

    pub fn advance(&mut self, ms: u64) {
        self.clock_ms = self.clock_ms.saturating_add(ms);
        // Switches that outlived their agent finish on their own.
        let now = self.clock_ms;
        let done: Vec<InFlight> = self
            .in_flight
            .iter()
            .filter(|f| f.until_ms <= now)
            .cloned()
            .collect();
        self.in_flight.retain(|f| f.until_ms > now);
        for f in done {
            self.finish_switch(&f.toplevel, f.action);
        }
    }

    /// What a switch-to-configuration that ran to its end changed.
    pub fn finish_switch(&mut self, toplevel: &Path, action: Action) {
        if action != Action::Boot {
            self.active = toplevel.to_path_buf();
        }
        if action != Action::Test {
            self.boot = toplevel.to_path_buf();
        }
    }

    pub fn violation(&mut self, invariant: &str, detail: String) {
        if self.trace {
            println!("  VIOLATION {invariant}: {detail}");
        }
        self.violations.push((invariant.to_owned(), detail));
    }

    pub fn proposal_of(&self, toplevel: &std::path::Path) -> Option<&Proposal> {
        self.proposals.iter().find(|p| p.toplevel() == toplevel)
    }

    /// The agent a system runs: that of the newest proposal in its lineage that changed it.
    pub fn agent_of(&self, toplevel: &std::path::Path) -> String {
        let mut cur = self.proposal_of(toplevel);
        // Bounded by the number of proposals: each step goes to an older one.
        for _ in 0..=self.proposals.len() {
            let Some(p) = cur else { break };
            if p.changes_agent {
                return format!("agent-p{}", p.id);
            }
            cur = self
                .proposals
                .iter()
                .find(|q| q.head == p.base && q.id < p.id && !q.tampered);
        }
        GENESIS_AGENT.into()
    }

    /// The marker file's bytes: /etc follows the active system, as activation makes it.
    pub fn marker(&self) -> Vec<u8> {
        format!("{{\"id\":\"{}\"}}", self.agent_of(&self.active)).into_bytes()
    }

    pub fn generation(&self, number: u64) -> Option<&PathBuf> {
        usize::try_from(number.checked_sub(1)?)
            .ok()
            .and_then(|i| self.generations.get(i))
    }
}
