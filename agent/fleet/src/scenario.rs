//! The scenario of the demo and of the end-to-end test (issue 7), step by step, on a fleet of
//! two hosts, web (1) and db (2):
//!
//! 1. a change for both hosts, voted with one member against, finalized, applied on both;
//! 2. a change that breaks web's health check is proposed for web alone; its vote stays open;
//! 3. meanwhile a tampered proposal (its head does not match its diff hash) is approved and
//!    refused by both hosts;
//! 4. the health-breaking change is approved, applied on web and rolled back automatically;
//! 5. an operator rollback on db with `dao-agentctl rollback` (an unprivileged one refused),
//!    then `resume`;
//! 6. `dao-agentctl show` for each proposal, with the hosts' on-chain reports.
//!
//! Proposal 2 is decided after proposal 3 on purpose: a refused proposal must not stand in the
//! way of a later one built on the same commit, and the daemon's lineage walk (as of this
//! writing) steps through every approved proposal newer than the last applied one, refused or
//! not, so proposal 2 must be created before the tampered one to be reachable on web.
//!
//! Each step returns what happened, for the test to assert, and records [`Check`]s (expected
//! against observed), for the demo's summary.

use crate::fleet::{status_name, Fleet, FleetOptions, Landed};
use crate::host::{system_name, HostState};
use crate::interrupt;
use crate::repo::Flake;
use crate::story::{abbreviate, short, Story};
use anyhow::{bail, Context, Result};
use dao_chain::decode::{Report, Targets};
use dao_chain::txn::DeployProposal;
use dao_chain::Signer;
use dao_core::diff_hash::DiffHash;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, Instant};

/// How long hosts may take to report a proposal (a cold Nix evaluates slowly the first time).
pub const REPORT_TIMEOUT: Duration = Duration::from_secs(240);

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
}

/// The operator's rollback on db.
#[derive(Debug, Clone)]
pub struct Brake {
    pub rollback: crate::fleet::CtlRun,
    pub unprivileged: crate::fleet::CtlRun,
    pub status: crate::fleet::CtlRun,
    pub state: HostState,
    /// Proposal 1's report of db and its amendment.
    pub report: Option<Report>,
    pub amended: Option<Report>,
    pub resume: crate::fleet::CtlRun,
    pub status_after_resume: serde_json::Value,
    pub state_after_resume: HostState,
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
        story.section("Setting up: a devnet, a governed repository, a DAO, two hosts");
        let mut opts = FleetOptions::new(&["web", "db"]);
        opts.keep = keep;
        let health_timeout = opts.health_timeout.clone();
        let fleet = Fleet::start(opts, story)?;
        let main = fleet.repo.genesis.clone();
        let applied_flake = fleet.flake.clone();
        Ok(Scenario {
            checks: Vec::new(),
            applied: main.clone(),
            main,
            applied_flake,
            health_timeout,
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

    /// Step 1: a change for both hosts, one member against; applied on both.
    pub fn change_both(&mut self) -> Result<Outcome> {
        self.fleet
            .story
            .section("1. A change for both hosts, voted with one member against");
        let base = self.main.clone();
        let mut flake: Flake = self.fleet.flake.clone();
        for (name, h) in &mut flake.hosts {
            h.version = 2;
            h.motd = format!("{name}: v2, maintenance window on Sundays 03:00 UTC");
        }
        let head = self.fleet.commit(
            "main",
            &base,
            "alice",
            "web, db: v2 (maintenance window in the motd)",
            &flake,
        )?;
        self.fleet.story.say(&format!(
            "alice commits {} \"web, db: v2\" on main and pushes it to the fleet's repository:",
            short(&head)
        ));
        self.show_diff(&base, &head)?;
        let alice = self.fleet.member("alice")?.clone();
        let (id, diff_hash) = self.fleet.submit(
            &base,
            &head,
            &Targets::All,
            "https://git.example.org/fleet/pulls/1",
            &alice,
        )?;
        self.fleet.story.ok(&format!(
            "proposal {id}: {base8}..{head8}, diff hash {diff_hash}, for all hosts",
            base8 = short(&base),
            head8 = short(&head)
        ));
        let (round, state, since) = self.decide(
            id,
            &[("alice", "for"), ("carol", "against"), ("bob", "for")],
            "carol",
        )?;
        self.fleet.story.ok(&format!(
            "proposal {id} finalized in round {round}: {state} (for 80, against 20; no timelock, \
             so the hosts may apply it now)"
        ));
        self.check(&format!("proposal {id} finalized"), "queued", &state);
        let decided = Decided {
            id,
            base,
            head: head.clone(),
            diff_hash,
            finalize_round: round,
            state,
        };
        let targets = self.fleet.all_ids();
        let o = self.outcome(decided, &targets, since)?;
        self.tell_reports(&o);
        for h in &self.fleet.hosts {
            let got = o.reports.get(&h.id).map_or("no report".into(), report_text);
            let state = o.states.get(&h.id).map_or("?".into(), gen_text);
            self.checks.push(Check {
                what: format!("proposal 1 on {}", h.name),
                expected: format!(
                    "applied, generation 2; generation 2, runs nixos-system-{}-2",
                    h.name
                ),
                got: format!("{got}; {state}"),
            });
        }
        self.applied.clone_from(&head);
        self.applied_flake = flake.clone();
        self.fleet.flake = flake;
        self.main = head;
        Ok(o)
    }

    /// Step 3: a proposal whose head does not match its diff hash; approved, refused by both.
    pub fn tampered(&mut self) -> Result<Outcome> {
        self.fleet.story.section(
            "3. Meanwhile, a tampered proposal: approved by the members, refused by every host",
        );
        // On top of what both hosts run (proposal 1), not of the open proposal 2.
        let base = self.applied.clone();
        let mut reviewed = self.applied_flake.clone();
        for (name, h) in &mut reviewed.hosts {
            h.version = 3;
            h.motd = format!("{name}: v3, NTP from ntp1.example.org");
        }
        let innocent = self.fleet.commit(
            "review/ntp",
            &base,
            "bob",
            "web, db: v3 (NTP servers)",
            &reviewed,
        )?;
        let mut evil = reviewed.clone();
        if let Some(web) = evil.hosts.get_mut("web") {
            web.root_keys
                .push("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMallory mallory@evil.example".into());
        }
        let head =
            self.fleet
                .commit("ntp", &innocent, "bob", "web, db: v3 (NTP servers)", &evil)?;
        self.fleet.story.say(&format!(
            "bob asks the members to review {}..{} \"web, db: v3 (NTP servers)\":",
            short(&base),
            short(&innocent)
        ));
        self.show_diff(&base, &innocent)?;
        let reviewed_hash = self.fleet.hash(&base, &innocent)?;
        self.fleet.story.output(&reviewed_hash);
        self.fleet.story.say(&format!(
            "but the proposal he sends carries that diff hash with another head, {}, which also \
             gives mallory root on web:",
            short(&head)
        ));
        self.show_diff(&innocent, &head)?;
        let actual_hash = self.fleet.hash(&base, &head)?;
        self.fleet.story.output(&actual_hash);
        self.fleet.story.say(
            "`dao-agentctl submit` computes the hash itself and cannot send such a proposal; \
             bob sends it with the chain library (dao_chain::App::propose_deploy)",
        );
        let signer = Signer::from_file(&self.fleet.root.join("keys/bob.key"))?;
        let p = DeployProposal {
            emergency: false,
            base: oid(&base)?,
            head: oid(&head)?,
            diff_hash: DiffHash::from_str(&reviewed_hash)?.0,
            targets: Targets::All,
            description_url: "https://git.example.org/fleet/pulls/2".into(),
        };
        let (id, c) = self
            .fleet
            .chain(self.fleet.app.propose_deploy(&signer, &p))?;
        self.fleet.story.ok(&format!(
            "proposal {id} (round {}): {}..{}, diff hash {reviewed_hash}, for all hosts",
            c.round,
            short(&base),
            short(&head)
        ));
        let (round, state, since) =
            self.decide(id, &[("alice", "for"), ("bob", "for")], "alice")?;
        self.fleet.story.ok(&format!(
            "proposal {id} finalized in round {round}: {state} — the members approved the hash \
             they reviewed"
        ));
        self.check(&format!("proposal {id} finalized"), "queued", &state);
        let decided = Decided {
            id,
            base,
            head,
            diff_hash: reviewed_hash,
            finalize_round: round,
            state,
        };
        let targets = self.fleet.all_ids();
        let o = self.outcome(decided, &targets, since)?;
        self.tell_reports(&o);
        for h in &self.fleet.hosts {
            let got = o.reports.get(&h.id).map_or("no report".into(), report_text);
            let step = o.journal.get(&h.id).map_or("", |j| j.1.as_str());
            let state = o.states.get(&h.id).map_or("?".into(), gen_text);
            self.checks.push(Check {
                what: format!("proposal {id} on {}", h.name),
                expected: format!(
                    "refused, generation 2 at verify_change; generation 2, runs \
                     nixos-system-{}-2",
                    h.name
                ),
                got: format!("{got} at {step}; {state}"),
            });
        }
        Ok(o)
    }

    /// Step 2: a change that breaks web's health check is proposed for web only; alice votes
    /// for it, and its vote stays open (bob and carol have not voted: undecided).
    pub fn propose_unhealthy(&mut self) -> Result<Pending> {
        self.fleet
            .story
            .section("2. A change that breaks web's health check is proposed; its vote stays open");
        let base = self.main.clone();
        let mut flake = self.fleet.flake.clone();
        if let Some(web) = flake.hosts.get_mut("web") {
            web.version = 4;
            web.motd = "web: v4, nginx moved to port 8443".into();
            web.healthy = false;
        }
        let head = self.fleet.commit(
            "main",
            &base,
            "carol",
            "web: v4 (nginx on port 8443)",
            &flake,
        )?;
        self.fleet.story.say(&format!(
            "carol commits {} \"web: v4\"; web's health check (executor.health.command) is \
             `test -e /run/current-system/healthy`, and v4 does not pass it:",
            short(&head)
        ));
        self.show_diff(&base, &head)?;
        let carol = self.fleet.member("carol")?.clone();
        let web = self.fleet.host("web")?.id;
        let (id, diff_hash) = self.fleet.submit(
            &base,
            &head,
            &Targets::Hosts(vec![web]),
            "https://git.example.org/fleet/pulls/2",
            &carol,
        )?;
        self.fleet.story.ok(&format!(
            "proposal {id}: diff hash {diff_hash}, for host {web} (web) only"
        ));
        let alice = self.fleet.member("alice")?.clone();
        let round = self.fleet.vote(id, &alice, "for")?;
        self.fleet.story.ok(&format!(
            "alice (50) votes for (round {round}); bob and carol have not voted, so the outcome \
             is open and nothing happens yet"
        ));
        self.main = head.clone();
        self.fleet.flake = flake;
        Ok(Pending {
            id,
            base,
            head,
            diff_hash,
        })
    }

    /// Step 4: bob's vote decides the health-breaking change; web applies it, fails its health
    /// check and goes back by itself to exactly the generation it had.
    pub fn finish_unhealthy(&mut self, p: Pending) -> Result<Outcome> {
        self.fleet.story.section(
            "4. The health-breaking change is approved: applied on web, rolled back automatically",
        );
        let web = self.fleet.host("web")?.id;
        let id = p.id;
        let (round, state, since) = self.decide(id, &[("bob", "for")], "bob")?;
        self.fleet.story.ok(&format!(
            "proposal {id} finalized in round {round}: {state}"
        ));
        self.check(&format!("proposal {id} finalized"), "queued", &state);
        let decided = Decided {
            id,
            base: p.base,
            head: p.head,
            diff_hash: p.diff_hash,
            finalize_round: round,
            state,
        };
        let o = self.outcome(decided, &[web], since)?;
        self.tell_reports(&o);
        let sw = o.switches.get(&web).cloned().unwrap_or_default();
        let last2 = sw[sw.len().saturating_sub(2)..].join(", ");
        self.fleet.story.ok(&format!(
            "web's switch log ends with: {last2} — it switched to v4, whose health check did not \
             pass within {}, and went back to exactly generation 2",
            self.health_timeout
        ));
        let w = &o.states[&web];
        self.checks.push(Check {
            what: format!("proposal {id} on web"),
            expected: "rolled_back, generation 2; generation 2, runs nixos-system-web-2; \
                       generations [1, 2, 3]; switches web v4 switch, web v2 switch"
                .into(),
            got: format!(
                "{}; {}; generations {:?}; switches {last2}",
                o.reports.get(&web).map_or("no report".into(), report_text),
                gen_text(w),
                w.generations
            ),
        });
        let db = self.fleet.host("db")?;
        let (db_report, _) = self.fleet.reports(id, db.id)?;
        let db_journal = db.journal(id)?;
        let db_state = o.states.get(&db.id).map_or("?".into(), gen_text);
        self.fleet.story.ok(&format!(
            "db: not targeted — no report, no journal record; still {db_state}"
        ));
        self.check(
            &format!("proposal {id} on db (not targeted)"),
            "no report, no journal; generation 2, runs nixos-system-db-2",
            &format!(
                "{}, {}; {db_state}",
                db_report.map_or("no report".to_owned(), |r| status_name(r.status).to_owned()),
                if db_journal.is_some() {
                    "a journal record"
                } else {
                    "no journal"
                }
            ),
        );
        Ok(o)
    }

    /// Step 5: the operator rolls db back; an unprivileged user cannot; then resume.
    pub fn operator_rollback(&mut self, applied: u64) -> Result<Brake> {
        self.fleet
            .story
            .section("5. The operator's emergency brake on db: dao-agentctl rollback");
        let db = self.fleet.host("db")?;
        let db_id = db.id;
        self.fleet.story.say(&format!(
            "db runs proposal {applied}'s generation 2; its operator (root on db) rolls it back \
             over db's system bus:"
        ));
        let rollback = self.fleet.local(
            db,
            &["rollback", "--reason", "v2 motd confuses the on-call team"],
            false,
        )?;
        if !rollback.success {
            bail!("dao-agentctl rollback failed: {}", rollback.stderr.trim());
        }
        self.fleet.story.output(&rollback.stdout);
        let state = db.state()?;
        let (report, amended) = self.fleet.reports(applied, db_id)?;
        self.fleet.story.ok(&format!(
            "db: {}; proposal {applied}'s report of db amended on chain: {}",
            gen_text(&state),
            amended.map_or("none".into(), |a| format!(
                "{}, generation {}",
                status_name(a.status),
                a.generation
            ))
        ));
        self.fleet
            .story
            .say("a user who is neither root nor in the operator group tries the same:");
        let unprivileged =
            self.fleet
                .local(db, &["rollback", "--reason", "I am not an operator"], true)?;
        self.fleet.story.output(&unprivileged.stderr);
        if unprivileged.success {
            self.fleet
                .story
                .bad("the unprivileged rollback was accepted");
        } else {
            self.fleet
                .story
                .ok("refused by the agent, which checks the caller's credentials on the bus");
        }
        let status = self.fleet.local(db, &["status"], false)?;
        self.fleet.story.output(&status.stdout);
        let resume = self.fleet.local(db, &["resume"], false)?;
        self.fleet.story.output(&resume.stdout);
        // Let the agent look at the chain again: nothing may be re-applied (proposal 1 has its
        // report, proposal 3 does not target db).
        let after = self.fleet.last_round()?;
        let start = Instant::now();
        while self.fleet.last_round()? <= after && start.elapsed() < Duration::from_secs(10) {
            interrupt::sleep(Duration::from_millis(100))?;
        }
        interrupt::sleep(Duration::from_millis(500))?;
        let db = self.fleet.host("db")?;
        let status_after_resume = self
            .fleet
            .local(db, &["status", "--json"], false)
            .and_then(|r| r.json())?;
        let state_after_resume = db.state()?;
        self.fleet.story.ok(&format!(
            "db resumed: {} (proposal {applied} is reported, so nothing is applied again)",
            gen_text(&state_after_resume)
        ));
        self.check(
            "operator rollback on db",
            "generation 1, runs nixos-system-db-1; paused",
            &format!(
                "{}; {}",
                gen_text(&state),
                if status.stdout.contains("PAUSED") {
                    "paused"
                } else {
                    "not paused"
                }
            ),
        );
        self.check(
            "proposal 1 on db, amended on chain",
            "applied, generation 2 → rolled_back, generation 1",
            &format!(
                "{} → {}",
                report.map_or("none".into(), |r| format!(
                    "{}, generation {}",
                    status_name(r.status),
                    r.generation
                )),
                amended.map_or("none".into(), |r| format!(
                    "{}, generation {}",
                    status_name(r.status),
                    r.generation
                ))
            ),
        );
        self.check(
            "unprivileged rollback (uid 65534)",
            "refused",
            if unprivileged.success {
                "accepted"
            } else {
                "refused"
            },
        );
        self.check(
            "db after resume",
            "not paused; generation 1, runs nixos-system-db-1",
            &format!(
                "{}; {}",
                if status_after_resume["paused"].is_null() {
                    "not paused"
                } else {
                    "paused"
                },
                gen_text(&state_after_resume)
            ),
        );
        Ok(Brake {
            rollback,
            unprivileged,
            status,
            state,
            report,
            amended,
            resume,
            status_after_resume,
            state_after_resume,
        })
    }

    /// Step 6: `dao-agentctl show` for each proposal, condensed.
    pub fn show_all(&mut self, ids: &[u64]) -> Result<Vec<serde_json::Value>> {
        self.fleet
            .story
            .section("6. What the chain says: dao-agentctl show, for each proposal");
        let mut out = Vec::new();
        for &id in ids {
            let v = self.fleet.show(id)?;
            let line = show_line(&v);
            self.fleet.story.output(&line);
            let names: BTreeMap<u64, String> = self
                .fleet
                .hosts
                .iter()
                .map(|h| (h.id, h.name.clone()))
                .collect();
            let reports = show_reports(&v, &names);
            for r in &reports {
                self.fleet.story.output(&format!("    {r}"));
            }
            self.check(
                &format!("show {id}: state, reports"),
                match id {
                    1 => "queued; web applied gen 2; db applied gen 2 → rolled_back gen 1",
                    2 => "queued; web rolled_back gen 2",
                    _ => "queued; web refused gen 2; db refused gen 2",
                },
                &format!(
                    "{}; {}",
                    v["state"].as_str().unwrap_or("?"),
                    reports.join("; ")
                ),
            );
            out.push(v);
        }
        Ok(out)
    }

    /// The report events on chain: exactly one per (proposal, host), plus db's amendment.
    pub fn count_reports(&mut self) -> Result<BTreeMap<(u64, u64, String), usize>> {
        let mut counts = BTreeMap::new();
        for (_, id, host, status) in self.fleet.report_events()? {
            *counts
                .entry((id, host, status_name(status).to_owned()))
                .or_insert(0) += 1;
        }
        let got: Vec<String> = counts
            .iter()
            .map(|((id, h, s), n)| format!("{id}/{h} {s}×{n}"))
            .collect();
        self.check(
            "ExecutionReported events (proposal/host)",
            "1/1 applied×1, 1/2 applied×1, 1/2 rolled_back×1, 2/1 rolled_back×1, \
             3/1 refused×1, 3/2 refused×1",
            &got.join(", "),
        );
        Ok(counts)
    }

    /// The whole scenario, as the demo runs it.
    pub fn run_all(&mut self) -> Result<()> {
        let p1 = self.change_both()?;
        let p2 = self.propose_unhealthy()?;
        self.tampered()?;
        self.finish_unhealthy(p2)?;
        self.operator_rollback(p1.decided.id)?;
        self.show_all(&[1, 2, 3])?;
        self.count_reports()?;
        Ok(())
    }

    /// Prints the summary; true when every check passed. `finished`: whether the scenario ran
    /// to its end.
    pub fn summary(&self, finished: bool) -> bool {
        let story = &self.fleet.story;
        story.section("Summary");
        let width = self.checks.iter().map(|c| c.what.len()).max().unwrap_or(0);
        for c in &self.checks {
            if c.ok() {
                story.raw(&format!(
                    "  {} {:<width$}  {}",
                    story.ok_mark(),
                    c.what,
                    c.got
                ));
            } else {
                story.raw(&format!(
                    "  {} {:<width$}  expected: {}\n    {:<width$}       got: {}",
                    story.bad_mark(),
                    c.what,
                    c.expected,
                    "",
                    c.got
                ));
            }
        }
        let failed = self.checks.iter().filter(|c| !c.ok()).count();
        if !finished {
            story.raw(&format!(
                "\n  the demo stopped before its end: {} outcome(s) checked, {failed} not as expected",
                self.checks.len()
            ));
            return false;
        }
        if failed == 0 {
            story.raw(&format!(
                "\n  all {} outcomes as expected, in {:.1} s",
                self.checks.len(),
                story.elapsed().as_secs_f64()
            ));
        } else {
            story.raw(&format!(
                "\n  {failed} of {} outcomes NOT as expected",
                self.checks.len()
            ));
        }
        failed == 0
    }
}

fn show_line(v: &serde_json::Value) -> String {
    let p = &v["payload"];
    format!(
        "proposal {} · {} · {} · for {} against {} abstain {} · targets {} · {}..{} · {}",
        v["id"],
        v["kind"].as_str().unwrap_or("?"),
        v["state"].as_str().unwrap_or("?"),
        v["tally"]["for"],
        v["tally"]["against"],
        v["tally"]["abstain"],
        p["targets"]
            .as_str()
            .map_or(p["targets"].to_string(), str::to_owned),
        short(p["base"].as_str().unwrap_or("")),
        short(p["head"].as_str().unwrap_or("")),
        short(p["diff_hash"].as_str().unwrap_or("")),
    )
}

/// `web applied gen 2`, `db applied gen 2 → rolled_back gen 1`, from `show --json`.
pub fn show_reports(v: &serde_json::Value, names: &BTreeMap<u64, String>) -> Vec<String> {
    let mut out = Vec::new();
    for r in v["reports"].as_array().into_iter().flatten() {
        let host = r["host"].as_u64().unwrap_or(0);
        let name = names
            .get(&host)
            .cloned()
            .unwrap_or_else(|| host.to_string());
        // `show` prints "rolledback"; the journal, D-Bus and the docs say "rolled_back".
        let one = |x: &serde_json::Value| {
            let st = match x["status"].as_str().unwrap_or("?") {
                "rolledback" => "rolled_back",
                other => other,
            };
            format!("{st} gen {}", x["generation"])
        };
        let mut s = match &r["report"] {
            serde_json::Value::Null => format!("{name} no report"),
            rep => format!("{name} {}", one(rep)),
        };
        if !r["amended"].is_null() {
            s.push_str(&format!(" → {}", one(&r["amended"])));
        }
        out.push(s);
    }
    out
}
