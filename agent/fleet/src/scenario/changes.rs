//! Steps 1 to 4: changes proposed, voted, finalized, and what the hosts did with each —
//! applied, refused as tampered, applied then rolled back for failing its health check.

use super::{gen_text, oid, report_text, Check, Decided, Outcome, Pending, Scenario};
use crate::fleet::status_name;
use crate::repo::Flake;
use crate::story::short;
use anyhow::Result;
use dao_chain::decode::Targets;
use dao_chain::txn::DeployProposal;
use dao_chain::Signer;
use dao_core::diff_hash::DiffHash;
use std::str::FromStr;

impl Scenario {
    /// Step 1: a change for both hosts, one member against; the hosts build it and wait for the
    /// attestation quorum (the validators not yet running start only once they say so); then
    /// applied on both.
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
            "proposal {id} finalized in round {round}: {state} (for 80, against 20; the hosts may \
             apply it after the 10 s timelock)"
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
        let held = self.hold_quorum(id, &targets)?;
        let mut o = self.outcome(decided, &targets, since)?;
        o.held = held;
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
            let quorum = o
                .quorum
                .get(&h.id)
                .map_or("never reached the quorum".into(), |q| {
                    let agreed = q.state == "done"
                        && q.detail.starts_with("2 validators agreed on closure")
                        && q.detail.ends_with("which this host built too");
                    format!(
                        "{}, {}",
                        if q.waited { "waited" } else { "did not wait" },
                        if agreed {
                            "then activated the closure 2 validators agreed on".to_owned()
                        } else {
                            format!("{}: {}", q.state, q.detail)
                        }
                    )
                });
            self.checks.push(Check {
                what: format!("proposal 1 on {}: the quorum", h.name),
                expected: "waited, then activated the closure 2 validators agreed on".into(),
                got: quorum,
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
        // A validator verifies a change exactly as a host does and never attests one that does
        // not verify (nor a host that has reported): nobody attested this one, and the listing
        // still shows every host it targets.
        self.fleet
            .story
            .say("the validators attest nothing for it: they verify a change as a host does");
        self.show_attestations(id, 0, false)?;
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
}
