//! Step 6: a change whose build is not reproducible. The members approve it, but each builder
//! gets other bytes (the build writes its time and random bytes into the system), so the two
//! validators attest different closures, can never agree, and every targeted host refuses it
//! with `not_reproducible` instead of switching.

use super::{gen_text, Check, Decided, Outcome, Scenario};
use crate::fleet::status_name;
use crate::story::short;
use anyhow::Result;
use dao_chain::decode::Targets;
use std::collections::BTreeMap;

impl Scenario {
    /// Step 6: approved, built by every host and both validators, refused by every host as
    /// not reproducible; no host switches.
    pub fn not_reproducible(&mut self) -> Result<Outcome> {
        self.fleet.story.section(
            "6. A change whose build is not reproducible: approved, refused by every host",
        );
        // On top of what the chain says both hosts run (proposal 1), like the tampered change.
        let base = self.applied.clone();
        let mut flake = self.applied_flake.clone();
        for (name, h) in &mut flake.hosts {
            h.version = 5;
            h.motd = format!("{name}: v5, a build id in /etc/build-id");
            h.reproducible = false;
        }
        let head = self.fleet.commit(
            "build-id",
            &base,
            "bob",
            "web, db: v5 (a build id in /etc/build-id)",
            &flake,
        )?;
        self.fleet.story.say(&format!(
            "bob commits {} on top of what both hosts run: each build of v5 writes its time and \
             random bytes into /etc/build-id, so no two builds give the same system:",
            short(&head)
        ));
        self.show_diff(&base, &head)?;
        let bob = self.fleet.member("bob")?.clone();
        let (id, diff_hash) = self.fleet.submit(
            &base,
            &head,
            &Targets::All,
            "https://git.example.org/fleet/pulls/4",
            &bob,
        )?;
        self.fleet.story.ok(&format!(
            "proposal {id}: {}..{}, diff hash {diff_hash}, for all hosts",
            short(&base),
            short(&head)
        ));
        // What each host runs and has switched so far: none of it may change.
        let mut before = BTreeMap::new();
        for h in &self.fleet.hosts {
            before.insert(h.id, (h.state()?, h.switches()?.len()));
        }
        let (round, state, since) =
            self.decide(id, &[("alice", "for"), ("bob", "for")], "alice")?;
        self.fleet.story.ok(&format!(
            "proposal {id} finalized in round {round}: {state} — the diff is what the members \
             reviewed; whether it builds the same everywhere is the validators' question"
        ));
        self.check(&format!("proposal {id} finalized"), "queued", &state);
        let decided = Decided {
            id,
            base,
            head,
            diff_hash,
            finalize_round: round,
            state,
        };
        let targets = self.fleet.all_ids();
        let o = self.outcome(decided, &targets, since)?;
        self.tell_reports(&o);
        self.fleet.story.say("what the validators attested:");
        self.show_attestations(id, 2, false)?;
        for h in &self.fleet.hosts {
            let Some((was, switched)) = before.get(&h.id) else {
                continue;
            };
            let status = o
                .reports
                .get(&h.id)
                .map_or("no report", |r| status_name(r.status));
            let step = o.journal.get(&h.id).map_or("", |j| j.1.as_str());
            let now = o.states.get(&h.id).map_or("?".into(), gen_text);
            let new = o
                .switches
                .get(&h.id)
                .map_or(0, |s| s.len().saturating_sub(*switched));
            self.checks.push(Check {
                what: format!("proposal {id} on {}", h.name),
                expected: format!(
                    "not_reproducible at await_attestations; {}; no switch",
                    gen_text(was)
                ),
                got: format!(
                    "{status} at {step}; {now}; {}",
                    if new == 0 {
                        "no switch".to_owned()
                    } else {
                        format!("{new} switch(es)")
                    }
                ),
            });
        }
        Ok(o)
    }
}
