//! The scenario of the demo and of the end-to-end test (issues 7 and 14), step by step, on a
//! fleet of two hosts, web (1) and db (2), and two reproducible-build validators, vera and victor,
//! with an attestation quorum of 2: a host switches only to a closure both built too.
//!
//! 1. a change for both hosts, voted with one member against, finalized; the hosts build it and
//!    wait for the quorum (victor starts only once they say so), then apply it; the validators'
//!    attestations, and their rewards claimed from the treasury (a second claim refused);
//! 2. a change that breaks web's health check is proposed for web alone; its vote stays open;
//! 3. meanwhile a tampered proposal (its head does not match its diff hash) is approved and
//!    refused by both hosts;
//! 4. the health-breaking change is approved, applied on web and rolled back automatically;
//! 5. an operator rollback on db with `dao-agentctl rollback` (an unprivileged one refused),
//!    then `resume`;
//! 6. a change whose build is not reproducible (it embeds the build time and random bytes) is
//!    approved; the validators' closures differ, and every host reports `not_reproducible`
//!    without switching;
//! 7. `dao-agentctl show` for each proposal, with the hosts' on-chain reports, and the tally of
//!    the validators' work.
//!
//! Proposal 2 is decided after proposal 3 on purpose: a refused proposal must not stand in the
//! way of a later one built on the same commit, and the daemon's lineage walk (as of this
//! writing) steps through every approved proposal newer than the last applied one, refused or
//! not, so proposal 2 must be created before the tampered one to be reachable on web.
//!
//! Each step returns what happened, for the test to assert, and records [`Check`]s (expected
//! against observed), for the demo's summary. The steps live beside this file: `changes.rs` (1 to
//! 4: the proposals and what hosts did with them), `validators.rs` (the quorum, attestations,
//! rewards, the tally), `brake.rs` (5), `unreproducible.rs` (6), `summary.rs` (7 and the summary).

mod brake;
mod changes;
mod summary;
mod unreproducible;
mod validators;

pub use brake::Brake;
pub use summary::show_reports;
pub use validators::{attestation_lines, Claimed, Held, Rewards, Tally};

use crate::fleet::{status_name, Fleet, FleetOptions, Landed};
use crate::host::{system_name, HostState};
use crate::repo::Flake;
use crate::story::{abbreviate, Story};
use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long hosts may take to report a proposal (a cold Nix evaluates slowly the first time).
pub const REPORT_TIMEOUT: Duration = Duration::from_secs(240);

/// µAlgo the treasury pays per attestation that matched the agreement. Above what a claim costs
/// the validator (fees and its claim record's deposit, about 32,500 µAlgo for two hosts), so
/// that a claim visibly pays.
pub const ATTEST_REWARD: u64 = 100_000;

/// µAlgo alice pays into the treasury after the formation: more than every reward the scenario
/// earns (2 validators × 2 hosts × [`ATTEST_REWARD`]).
pub const TREASURY: u64 = 1_000_000;

/// One expected outcome and what was observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub what: String,
    pub expected: String,
    pub got: String,
}

impl Check {
    pub fn ok(&self) -> bool {
        self.expected == self.got
    }
}

/// A proposal that was voted and finalized.
#[derive(Debug, Clone)]
pub struct Decided {
    pub id: u64,
    pub base: String,
    pub head: String,
    /// The diff hash the proposal carries.
    pub diff_hash: String,
    pub finalize_round: u64,
    /// The stored state `finalize` returned: queued or defeated.
    pub state: String,
}

/// What the targeted hosts did with a proposal.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub decided: Decided,
    /// Host id → its report as it landed.
    pub reports: BTreeMap<u64, Landed>,
    /// Host id → its journal's outcome: (status, deciding step, reason).
    pub journal: BTreeMap<u64, (String, String, String)>,
    /// Host id → its profile and running system afterwards (every host, targeted or not).
    pub states: BTreeMap<u64, HostState>,
    /// Host id → the switches it ran, in order (every host).
    pub switches: BTreeMap<u64, Vec<String>>,
    /// Host id → what its journal says about the attestation quorum (targeted hosts that
    /// reached it).
    pub quorum: BTreeMap<u64, QuorumStep>,
    /// Host id → its status while a validator was held back (step 1 only).
    pub held: BTreeMap<u64, Held>,
}

/// What a host's journal says about the attestation quorum for one proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumStep {
    /// An `await_attestations` step was started: the host built and waited for validators.
    pub waited: bool,
    /// The step's last state (`started`, `done`, `failed`) and its detail: the agreed closure,
    /// or why the host refused.
    pub state: String,
    pub detail: String,
}

pub struct Scenario {
    pub fleet: Fleet,
    pub checks: Vec<Check>,
    /// The head of branch main.
    main: String,
    /// What both hosts run (proposal 1's head) and its configuration.
    applied: String,
    applied_flake: Flake,
    health_timeout: String,
    /// What the validators did, once counted (step 7), for the summary.
    pub tally: Option<Tally>,
    /// `dao-agentctl fleet --json` and `audit --json`, once the summary ran them.
    pub chain_view: Option<(serde_json::Value, serde_json::Value)>,
}

/// A proposal whose vote is still open.
#[derive(Debug, Clone)]
pub struct Pending {
    pub id: u64,
    pub base: String,
    pub head: String,
    pub diff_hash: String,
}

/// The SHA-256 of a store path, as reports carry it.
pub fn path_sha256(p: &Path) -> [u8; 32] {
    Sha256::digest(p.as_os_str().as_encoded_bytes()).into()
}

fn oid(hex_id: &str) -> Result<[u8; 20]> {
    let mut out = [0u8; 20];
    hex::decode_to_slice(hex_id, &mut out)
        .with_context(|| format!("{hex_id} is not a commit id"))?;
    Ok(out)
}

fn gen_text(s: &HostState) -> String {
    format!(
        "generation {}, runs {}",
        s.generation.map_or("none".into(), |g| g.to_string()),
        s.running.as_deref().map_or("nothing".into(), system_name)
    )
}

fn report_text(r: &Landed) -> String {
    format!("{}, generation {}", status_name(r.status), r.generation)
}

impl Scenario {
    /// Sets up the two-host fleet.
    pub fn start(keep: bool, story: Story) -> Result<Scenario> {
        story.section(
            "Setting up: a devnet, a governed repository, a DAO, two hosts, two validators",
        );
        let mut opts = FleetOptions::new(&["web", "db"]);
        opts.keep = keep;
        // Both validators must agree; victor starts late, in step 1, to show a host waiting.
        opts.validators = 2;
        opts.validators_started = 1;
        opts.attest_quorum = 2;
        opts.attest_reward = ATTEST_REWARD;
        opts.treasury = TREASURY;
        let health_timeout = opts.health_timeout.clone();
        let fleet = Fleet::start(opts, story)?;
        fleet.show_validators()?;
        let main = fleet.repo.genesis.clone();
        let applied_flake = fleet.flake.clone();
        Ok(Scenario {
            checks: Vec::new(),
            applied: main.clone(),
            main,
            applied_flake,
            health_timeout,
            tally: None,
            chain_view: None,
            fleet,
        })
    }

    fn check(&mut self, what: &str, expected: &str, got: &str) {
        self.checks.push(Check {
            what: what.to_owned(),
            expected: expected.to_owned(),
            got: got.to_owned(),
        });
    }

    fn show_diff(&self, base: &str, head: &str) -> Result<()> {
        let diff = self.fleet.repo.diff(base, head)?;
        let lines: Vec<&str> = diff
            .lines()
            .filter(|l| {
                (l.starts_with('+') || l.starts_with('-'))
                    && !l.starts_with("+++")
                    && !l.starts_with("---")
            })
            .collect();
        self.fleet.story.output(&lines.join("\n"));
        Ok(())
    }

    /// Votes (member, choice) in order, then finalizes as `finalizer`.
    fn decide(
        &self,
        id: u64,
        votes: &[(&str, &str)],
        finalizer: &str,
    ) -> Result<(u64, String, Instant)> {
        let f = &self.fleet;
        for (who, choice) in votes {
            let m = f.member(who)?;
            let round = f.vote(id, m, choice)?;
            f.story.ok(&format!(
                "{who} ({}) votes {choice} (round {round})",
                m.weight
            ));
        }
        let (round, state) = f.finalize(id, f.member(finalizer)?)?;
        let since = Instant::now();
        Ok((round, state, since))
    }

    /// Waits for the reports of `targets` and gathers journals and host states.
    fn outcome(&mut self, decided: Decided, targets: &[u64], since: Instant) -> Result<Outcome> {
        let reports = self
            .fleet
            .wait_reports(decided.id, targets, since, REPORT_TIMEOUT)?;
        let mut journal = BTreeMap::new();
        let mut states = BTreeMap::new();
        let mut switches = BTreeMap::new();
        let mut quorum = BTreeMap::new();
        for h in &self.fleet.hosts {
            if let Some(j) = h.journal(decided.id)? {
                journal.insert(
                    h.id,
                    (
                        j["outcome"]["status"].as_str().unwrap_or("").to_owned(),
                        j["outcome"]["step"].as_str().unwrap_or("").to_owned(),
                        j["outcome"]["reason"].as_str().unwrap_or("").to_owned(),
                    ),
                );
                let steps: Vec<&serde_json::Value> = j["steps"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|s| s["step"] == "await_attestations")
                    .collect();
                if let Some(last) = steps.last() {
                    quorum.insert(
                        h.id,
                        QuorumStep {
                            waited: steps.iter().any(|s| s["state"] == "started"),
                            state: last["state"].as_str().unwrap_or("").to_owned(),
                            detail: last["detail"].as_str().unwrap_or("").to_owned(),
                        },
                    );
                }
            }
            states.insert(h.id, h.state()?);
            switches.insert(h.id, h.switches()?);
        }
        Ok(Outcome {
            decided,
            reports,
            journal,
            states,
            switches,
            quorum,
            held: BTreeMap::new(),
        })
    }

    fn tell_reports(&self, o: &Outcome) {
        for h in &self.fleet.hosts {
            let Some(r) = o.reports.get(&h.id) else {
                continue;
            };
            let state = o.states.get(&h.id);
            let why = o
                .journal
                .get(&h.id)
                .filter(|(s, _, _)| s != "applied")
                .map(|(_, step, reason)| format!(" at {step}: {}", abbreviate(reason)))
                .unwrap_or_default();
            self.fleet.story.ok(&format!(
                "{}: {}{why}; reported on chain{} {:.1} s after the finalize; now {}",
                h.name,
                report_text(r),
                r.round
                    .map(|x| format!(" in round {x},"))
                    .unwrap_or_default(),
                r.after.as_secs_f64(),
                state.map_or("?".into(), gen_text)
            ));
        }
    }

    /// The whole scenario, as the demo runs it.
    pub fn run_all(&mut self) -> Result<()> {
        let p1 = self.change_both()?;
        self.show_attestations(p1.decided.id, 2, true)?;
        self.claim_rewards(p1.decided.id)?;
        let p2 = self.propose_unhealthy()?;
        self.tampered()?;
        self.finish_unhealthy(p2)?;
        self.operator_rollback(p1.decided.id)?;
        self.not_reproducible()?;
        self.show_all(&[1, 2, 3, 4])?;
        self.fleet_and_audit()?;
        self.count_reports()?;
        self.validator_tally()?;
        Ok(())
    }
}
