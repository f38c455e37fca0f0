//! Step 5: the operator's emergency brake on db (`dao-agentctl rollback`), an unprivileged
//! caller refused, then `resume`.

use super::{gen_text, Scenario};
use crate::fleet::status_name;
use crate::host::HostState;
use crate::interrupt;
use anyhow::{bail, Result};
use dao_chain::decode::Report;
use std::time::{Duration, Instant};

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

impl Scenario {
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
}
