//! Step 7 and the end: what the chain says about each proposal (`dao-agentctl show`), the
//! report events counted, and the summary of every check.

use super::Scenario;
use crate::fleet::status_name;
use crate::story::short;
use anyhow::Result;
use std::collections::BTreeMap;

impl Scenario {
    /// Step 7: `dao-agentctl show` for each proposal, condensed.
    pub fn show_all(&mut self, ids: &[u64]) -> Result<Vec<serde_json::Value>> {
        self.fleet
            .story
            .section("7. What the chain says: dao-agentctl show, for each proposal");
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
            // The governance state, and what the hosts made of it (`outcome`, what `show` and
            // `proposals` print as the state of a queued deploy).
            self.check(
                &format!("show {id}: state, outcome, reports"),
                match id {
                    1 => "queued, mixed; web applied gen 2; db applied gen 2 → rolled_back gen 1",
                    2 => "queued, rolled_back; web rolled_back gen 2",
                    3 => "queued, refused; web refused gen 2; db refused gen 2",
                    // db runs generation 1 since the operator's rollback.
                    _ => "queued, not_reproducible; web not_reproducible gen 2; db not_reproducible gen 1",
                },
                &format!(
                    "{}, {}; {}",
                    v["state"].as_str().unwrap_or("?"),
                    v["outcome"].as_str().unwrap_or("?"),
                    reports.join("; ")
                ),
            );
            out.push(v);
        }
        Ok(out)
    }

    /// `dao-agentctl fleet` and `audit`: every host's last report from the chain alone, and the
    /// lineage each host ran, with nothing inconsistent in it. Returns both JSON documents.
    pub fn fleet_and_audit(&mut self) -> Result<(serde_json::Value, serde_json::Value)> {
        self.fleet
            .story
            .section("The fleet as the chain tells it: dao-agentctl fleet and audit");
        let table = self
            .fleet
            .ctl_ok(&self.fleet.chain_args(vec!["fleet".into()], None))?;
        for line in table.stdout.lines() {
            self.fleet.story.output(line);
        }
        let rows = self
            .fleet
            .ctl_ok(
                &self
                    .fleet
                    .chain_args(vec!["fleet".into(), "--json".into()], None),
            )?
            .json()?;
        let names: BTreeMap<u64, String> = self
            .fleet
            .hosts
            .iter()
            .map(|h| (h.id, h.name.clone()))
            .collect();
        let last: Vec<String> = rows
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                let id = r["host_id"].as_u64().unwrap_or(0);
                format!(
                    "{} {} {}",
                    names.get(&id).map_or("?", String::as_str),
                    r["last"]["proposal"],
                    r["last"]["status"].as_str().unwrap_or("-")
                )
            })
            .collect();
        // Proposal 4 is the last both hosts reported: neither could reproduce it.
        self.check(
            "fleet: each host's last report",
            "web 4 not_reproducible; db 4 not_reproducible",
            &last.join("; "),
        );
        // audit exits 1 when it finds something, so it runs without ctl_ok's success check.
        let audit = self.fleet.ctl(
            &self
                .fleet
                .chain_args(vec!["audit".into(), "--json".into()], None),
        )?;
        let report = audit.json()?;
        for f in report["findings"].as_array().into_iter().flatten() {
            self.fleet.story.output(f.as_str().unwrap_or("?"));
        }
        self.check(
            "audit: inconsistencies in the hosts' lineage",
            "none",
            &match report["findings"].as_array().map(Vec::len) {
                Some(0) => "none".to_owned(),
                n => format!("{n:?}"),
            },
        );
        self.chain_view = Some((rows.clone(), report.clone()));
        Ok((rows, report))
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
             3/1 refused×1, 3/2 refused×1, 4/1 not_reproducible×1, 4/2 not_reproducible×1",
            &got.join(", "),
        );
        Ok(counts)
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
        if let Some(t) = &self.tally {
            let waits: Vec<String> = t.waited.iter().map(|(p, h)| format!("{p}/{h}")).collect();
            story.raw(&format!(
                "\n  validators: {} attestations on chain, {} agreements; {} waits for the quorum \
                 (proposal/host {}); {} not_reproducible refusals; {} µAlgo of rewards claimed",
                t.attestations.values().sum::<usize>(),
                t.agreed.len(),
                t.waited.len(),
                if waits.is_empty() {
                    "none".to_owned()
                } else {
                    waits.join(", ")
                },
                t.not_reproducible,
                t.rewards
            ));
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
