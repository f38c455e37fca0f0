//! `fleet` and `audit`: the fleet as the chain alone tells it (issue 15, first part). For each
//! host: its agent, its last report, the deploys still waiting for it, its success over its
//! last deploys; and the lineage each host ran from the genesis commit, with every
//! inconsistency named. Heartbeats and drift (what a host runs between deploys) come with the
//! app's heartbeat method; until then `audit` checks what the reports themselves show.

use super::chain::{app, block_on};
use super::inspect::verified_all;
use super::print_json;
use super::show_text::when;
use crate::cli::{FleetArgs, ListArgs};
use crate::out::outln;
use dao_chain::decode::{BoxKey, ProposalPayload, Report, ReportStatus};
use dao_chain::App;
use dao_core::address::Address;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::process::ExitCode;

/// One deploy proposal and what each of its targets reported.
pub struct Deploy {
    pub id: u64,
    pub state: String,
    pub base: String,
    pub head: String,
    /// host → (report, amendment)
    pub reports: BTreeMap<u64, (Option<Report>, Option<Report>)>,
}

/// States in which a deploy may still reach a host.
const OPEN: [&str; 4] = ["pending", "active", "succeeded", "queued"];

/// What a host ended at with a report: the amendment when there is one.
fn effective(r: &(Option<Report>, Option<Report>)) -> Option<&Report> {
    r.1.as_ref().or(r.0.as_ref())
}

fn report_json(id: u64, r: &Report, now: u64) -> Value {
    json!({
        "proposal": id, "status": r.status.as_str(), "generation": r.generation,
        "toplevel_sha256": hex::encode(r.toplevel_sha256), "reported_at": r.reported_at,
        "reported": when(r.reported_at, now),
    })
}

/// The fleet table: one row a host, `last` deploys counted for the success rate.
pub fn rows(hosts: &[(u64, Address)], deploys: &[Deploy], last: usize, now: u64) -> Vec<Value> {
    hosts
        .iter()
        .map(|(h, agent)| {
            let mine: Vec<&Deploy> = deploys
                .iter()
                .filter(|d| d.reports.contains_key(h))
                .collect();
            let reported: Vec<(u64, &Report)> = mine
                .iter()
                .filter_map(|d| effective(&d.reports[h]).map(|r| (d.id, r)))
                .collect();
            let pending: Vec<u64> = mine
                .iter()
                .filter(|d| effective(&d.reports[h]).is_none() && OPEN.contains(&d.state.as_str()))
                .map(|d| d.id)
                .collect();
            let window: Vec<&(u64, &Report)> = reported.iter().rev().take(last).collect();
            let applied = window
                .iter()
                .filter(|(_, r)| r.status == ReportStatus::Applied)
                .count();
            json!({
                "host_id": h, "agent": agent.to_string(),
                "retired": *agent == Address([0; 32]),
                "last": reported.last().map(|(id, r)| report_json(*id, r, now)),
                "pending": pending,
                "success": {"applied": applied, "of": window.len()},
            })
        })
        .collect()
}

/// The lineage each host ran, from the genesis commit, and what does not add up.
pub fn audit(genesis: &str, hosts: &[(u64, Address)], deploys: &[Deploy]) -> (Value, Vec<String>) {
    let mut findings = Vec::new();
    let mut by_agent: BTreeMap<Address, Vec<u64>> = BTreeMap::new();
    for (h, a) in hosts.iter().filter(|(_, a)| *a != Address([0; 32])) {
        by_agent.entry(*a).or_default().push(*h);
    }
    for (a, hs) in by_agent.iter().filter(|(_, hs)| hs.len() > 1) {
        findings.push(format!(
            "hosts {hs:?} share the agent {a}: one key reports for all of them, so a report cannot say which host acted"
        ));
    }
    let mut lineage = serde_json::Map::new();
    for (h, _) in hosts {
        // Commits this host has run: the genesis, then each applied head.
        let mut ran = vec![genesis.to_owned()];
        let mut steps = Vec::new();
        let mut last_gen = 0;
        // In the order the host acted, not by proposal id: an emergency proposal made later
        // can be applied before an earlier deploy.
        let mut acted: Vec<(&Deploy, &Report, &Option<Report>)> = deploys
            .iter()
            .filter_map(|d| match d.reports.get(h) {
                Some((Some(first), amended)) => Some((d, first, amended)),
                _ => None,
            })
            .collect();
        acted.sort_by_key(|(d, r, _)| (r.reported_at, r.generation, d.id));
        for (d, first, amended) in acted {
            if first.status != ReportStatus::Applied {
                steps.push(json!({"proposal": d.id, "status": first.status.as_str()}));
                continue;
            }
            if !ran.contains(&d.base) {
                findings.push(format!(
                    "host {h} reported proposal {} applied, but its base {} is not a commit this host ran (genesis or an applied head): the change it ran was not the approved one",
                    d.id, d.base
                ));
            }
            if first.generation <= last_gen {
                findings.push(format!(
                    "host {h} reported proposal {} applied as generation {}, not above generation {last_gen} of its previous report",
                    d.id, first.generation
                ));
            }
            last_gen = first.generation;
            ran.push(d.head.clone());
            steps.push(json!({
                "proposal": d.id, "status": "applied", "head": d.head, "generation": first.generation,
                "toplevel_sha256": hex::encode(first.toplevel_sha256),
                "then": amended.as_ref().map(|r| r.status.as_str()),
            }));
        }
        lineage.insert(h.to_string(), Value::Array(steps));
    }
    (json!({"genesis": genesis, "hosts": lineage}), findings)
}

/// Hosts and deploys with their reports, from the chain, and the proposals that did not verify
/// (named, never silently left out).
async fn gather(app: &App) -> anyhow::Result<(Vec<(u64, Address)>, Vec<Deploy>, Vec<String>)> {
    let mut hosts = Vec::new();
    for k in app.box_keys().await? {
        if let BoxKey::Host(id) = k {
            if let Some(a) = app.host(id).await? {
                hosts.push((id, a));
            }
        }
    }
    hosts.sort_by_key(|h| h.0);
    let mut deploys = Vec::new();
    let mut unverified = Vec::new();
    for (i, v) in verified_all(app).await?.into_iter().enumerate() {
        let v = match v {
            Ok(v) => v,
            Err(e) => {
                unverified.push(format!(
                    "proposal {} does not verify ({e}): what it did is not counted",
                    i + 1
                ));
                continue;
            }
        };
        let ProposalPayload::Deploy {
            base,
            head,
            targets,
            ..
        } = &v.proposal.payload
        else {
            continue;
        };
        let mut reports = BTreeMap::new();
        for h in app.target_ids(targets).await? {
            reports.insert(h, app.reports(v.proposal.id, h).await?);
        }
        deploys.push(Deploy {
            id: v.proposal.id,
            state: v.state.as_str().to_owned(),
            base: hex::encode(base),
            head: hex::encode(head),
            reports,
        });
    }
    Ok((hosts, deploys, unverified))
}

pub fn fleet(a: &FleetArgs) -> anyhow::Result<ExitCode> {
    let app = app(&a.chain)?;
    loop {
        let (hosts, deploys, now, round) = block_on(async {
            let round = app.node.last_round().await?;
            let (h, d, unverified) = gather(&app).await?;
            for u in &unverified {
                eprintln!("dao-agentctl: warning: {u}");
            }
            anyhow::Ok((h, d, super::chain::now(&app.node).await?, round))
        })??;
        let rows = rows(&hosts, &deploys, a.last, now);
        match (a.watch, a.json) {
            // One JSON document a line, a line a block: what a script tails.
            (true, true) => outln!(
                "{}",
                serde_json::to_string(&json!({"round": round, "hosts": rows}))?
            ),
            (false, true) => print_json(&rows)?,
            (true, false) => {
                outln!("round {round} · {}", super::show_text::date(now));
                print_table(&rows);
                outln!();
            }
            (false, false) => print_table(&rows),
        }
        if !a.watch {
            return Ok(ExitCode::SUCCESS);
        }
        // The next block, or algod's own wait limit: either way, look again.
        block_on(app.node.wait_for_block_after(round))??;
    }
}

fn print_table(rows: &[Value]) {
    outln!(
        "{:>4}  {:<10} {:<48} {:<9} {:<10}  agent",
        "host",
        "last",
        "reported",
        "success",
        "waiting"
    );
    for r in rows {
        let last = &r["last"];
        let (what, at) = if last.is_null() {
            ("-".to_owned(), "-".to_owned())
        } else {
            (
                format!(
                    "{} {}",
                    last["proposal"],
                    last["status"].as_str().unwrap_or("?")
                ),
                last["reported"].as_str().unwrap_or("?").to_owned(),
            )
        };
        let pending: Vec<String> = r["pending"]
            .as_array()
            .into_iter()
            .flatten()
            .map(ToString::to_string)
            .collect();
        let agent = if r["retired"] == json!(true) {
            "(retired)".to_owned()
        } else {
            r["agent"].as_str().unwrap_or("?").to_owned()
        };
        outln!(
            "{:>4}  {:<10} {:<48} {:<9} {:<10}  {agent}",
            r["host_id"],
            what,
            at,
            format!("{}/{}", r["success"]["applied"], r["success"]["of"]),
            if pending.is_empty() {
                "-".to_owned()
            } else {
                pending.join(",")
            },
        );
    }
}

pub fn run_audit(a: &ListArgs) -> anyhow::Result<ExitCode> {
    let app = app(&a.chain)?;
    let (genesis, hosts, deploys, unverified) = block_on(async {
        let g = app.global().await?;
        let (h, d, unverified) = gather(&app).await?;
        anyhow::Ok((hex::encode(g.genesis), h, d, unverified))
    })??;
    let (lineage, mut findings) = audit(&genesis, &hosts, &deploys);
    findings.extend(unverified);
    if a.json {
        print_json(&json!({"lineage": lineage, "findings": findings}))?;
    } else {
        outln!("genesis {genesis}");
        for (h, steps) in lineage["hosts"].as_object().into_iter().flatten() {
            let path: Vec<String> = steps
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| match s["then"].as_str() {
                    Some(t) => format!("{} applied → {t}", s["proposal"]),
                    None => format!("{} {}", s["proposal"], s["status"].as_str().unwrap_or("?")),
                })
                .collect();
            outln!(
                "host {h}: genesis → {}",
                if path.is_empty() {
                    "(nothing reported)".to_owned()
                } else {
                    path.join(" → ")
                }
            );
        }
        if findings.is_empty() {
            outln!("no inconsistency found");
        }
        for f in &findings {
            outln!("INCONSISTENT: {f}");
        }
    }
    // Something that does not add up is a reason to look, and to exit non-zero.
    Ok(if findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(status: ReportStatus, generation: u64) -> Report {
        Report {
            status,
            toplevel_sha256: [generation as u8; 32],
            generation,
            logs_sha256: [0; 32],
            reported_at: 1_000,
        }
    }

    fn deploy(id: u64, base: &str, head: &str, host: u64, r: Option<Report>) -> Deploy {
        Deploy {
            id,
            state: "queued".into(),
            base: base.into(),
            head: head.into(),
            reports: BTreeMap::from([(host, (r, None))]),
        }
    }

    #[test]
    fn audit_follows_each_host_and_names_what_does_not_add_up() {
        let hosts = [
            (1, Address([4; 32])),
            (2, Address([4; 32])),
            (3, Address([0; 32])),
        ];
        let deploys = [
            deploy(1, "g", "a", 1, Some(report(ReportStatus::Applied, 2))),
            deploy(2, "a", "b", 1, Some(report(ReportStatus::Failed, 2))),
            // generation goes back without a rollback report
            deploy(3, "a", "c", 1, Some(report(ReportStatus::Applied, 2))),
            // a base host 1 never ran ("b" failed)
            deploy(4, "b", "d", 1, Some(report(ReportStatus::Applied, 5))),
        ];
        let (lineage, findings) = audit("g", &hosts, &deploys);
        assert_eq!(findings.len(), 3, "{findings:?}");
        assert!(findings[0].contains("hosts [1, 2] share the agent"));
        assert!(findings[1].contains("proposal 3 applied as generation 2"));
        assert!(findings[2].contains("proposal 4 applied, but its base b"));
        assert_eq!(lineage["hosts"]["1"].as_array().unwrap().len(), 4);
        let (_, clean) = audit("g", &hosts[2..], &deploys[..2]);
        assert!(clean.is_empty(), "{clean:?}");
    }

    #[test]
    fn audit_follows_the_order_the_host_acted_in_not_proposal_ids() {
        // An emergency proposal (id 2) made after deploy 1 but applied first, then deploy 1
        // on top of it: consistent, whatever the ids say.
        let hosts = [(1, Address([4; 32]))];
        let mut first = report(ReportStatus::Applied, 2);
        first.reported_at = 500;
        let deploys = [
            deploy(1, "e", "a", 1, Some(report(ReportStatus::Applied, 3))),
            deploy(2, "g", "e", 1, Some(first)),
        ];
        let (lineage, findings) = audit("g", &hosts, &deploys);
        assert!(findings.is_empty(), "{findings:?}");
        assert_eq!(lineage["hosts"]["1"][0]["proposal"], 2);
    }

    #[test]
    fn rows_count_the_last_deploys_and_what_still_waits() {
        let hosts = [(1, Address([4; 32]))];
        let mut waiting = deploy(3, "b", "c", 1, None);
        waiting.state = "active".into();
        let mut dead = deploy(4, "b", "c", 1, None);
        dead.state = "defeated".into();
        let deploys = [
            deploy(1, "g", "a", 1, Some(report(ReportStatus::Refused, 1))),
            deploy(2, "a", "b", 1, Some(report(ReportStatus::Applied, 2))),
            waiting,
            dead,
        ];
        let r = &rows(&hosts, &deploys, 1, 2_000)[0];
        assert_eq!(r["success"], json!({"applied": 1, "of": 1}));
        assert_eq!(r["pending"], json!([3]));
        assert_eq!(r["last"]["proposal"], 2);
        let r = &rows(&hosts, &deploys, 10, 2_000)[0];
        assert_eq!(r["success"], json!({"applied": 1, "of": 2}));
    }
}
