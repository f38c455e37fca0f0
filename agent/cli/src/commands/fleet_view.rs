//! `fleet` and `audit`: the fleet as the chain alone tells it (issue 15, first part). For each
//! host: its agent, its last report, the deploys still waiting for it, its success over its
//! last deploys; and the lineage each host ran from the genesis commit, with every
//! inconsistency named. Heartbeats (docs/heartbeats.md) say what each host runs between deploys:
//! its age, running toplevel and drift flag are in `fleet`, a host silent for more than two
//! heartbeat intervals is marked, and `audit` names a toplevel that changed without a report.

use super::chain::{app, block_on};
use super::inspect::verified_all;
use super::print_json;
use super::show_text::when;
use crate::cli::{AuditArgs, FleetArgs};
use crate::out::outln;
use dao_chain::decode::{BoxKey, Heartbeat, ProposalPayload, Report, ReportStatus};
use dao_chain::App;
use dao_core::address::Address;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;
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

/// Each host's last heartbeat, and the interval the rules set for them.
pub struct Beats {
    pub last: BTreeMap<u64, Heartbeat>,
    pub interval: u64,
}

impl Beats {
    /// Silent: no heartbeat within two intervals (or none at all).
    fn silent(&self, host: u64, now: u64) -> bool {
        self.last
            .get(&host)
            .is_none_or(|b| now.saturating_sub(b.at) > 2 * self.interval)
    }

    fn json(&self, host: u64, now: u64) -> Value {
        self.last.get(&host).map_or(Value::Null, |b| {
            json!({
                "at": b.at, "age_s": now.saturating_sub(b.at), "age": when(b.at, now),
                "toplevel_sha256": hex::encode(b.toplevel_sha256), "generation": b.generation,
                "last_proposal": b.last_proposal, "drift": b.drift,
            })
        })
    }
}

/// A host's newest report or amendment, whatever the proposal: what it last said it runs.
fn latest_report(deploys: &[Deploy], host: u64) -> Option<(u64, &Report)> {
    deploys
        .iter()
        .filter_map(|d| d.reports.get(&host).map(|r| (d.id, r)))
        .flat_map(|(id, (first, amended))| {
            [first, amended].into_iter().flatten().map(move |r| (id, r))
        })
        .max_by_key(|(id, r)| (r.reported_at, *id))
}

/// The fleet table: one row a host, `last` deploys counted for the success rate.
pub fn rows(
    hosts: &[(u64, Address)],
    deploys: &[Deploy],
    beats: &Beats,
    last: usize,
    now: u64,
) -> Vec<Value> {
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
                "heartbeat": beats.json(*h, now),
                "drift": beats.last.get(h).is_some_and(|b| b.drift),
                "silent": beats.silent(*h, now),
            })
        })
        .collect()
}

/// What a host's heartbeat says against its reports: a toplevel that changed without a report,
/// and the drift its agent itself saw.
fn heartbeat_findings(h: u64, beat: &Heartbeat, deploys: &[Deploy]) -> Vec<String> {
    let mut out = Vec::new();
    if beat.drift {
        out.push(format!(
            "host {h}'s heartbeat at {} says it runs a system its agent did not activate (drift)",
            beat.at
        ));
    }
    match latest_report(deploys, h) {
        Some((id, r)) if r.reported_at <= beat.at && r.toplevel_sha256 != beat.toplevel_sha256 => {
            out.push(format!(
                "host {h} runs toplevel {} (heartbeat at {}), but its last report (proposal {id}, {} at {}) says {}: a toplevel that changed without a report",
                hex::encode(beat.toplevel_sha256), beat.at, r.status.as_str(), r.reported_at,
                hex::encode(r.toplevel_sha256)
            ));
        }
        _ => {}
    }
    out
}

/// The lineage each host ran, from the genesis commit, and what does not add up.
pub fn audit(
    genesis: &str,
    hosts: &[(u64, Address)],
    deploys: &[Deploy],
    beats: &Beats,
) -> (Value, Vec<String>) {
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
        if let Some(b) = beats.last.get(h) {
            findings.extend(heartbeat_findings(*h, b, deploys));
        }
    }
    (json!({"genesis": genesis, "hosts": lineage}), findings)
}

/// Hosts and deploys with their reports, from the chain, and the proposals that did not verify
/// (named, never silently left out).
async fn gather(
    app: &App,
) -> anyhow::Result<(Vec<(u64, Address)>, Vec<Deploy>, Beats, Vec<String>)> {
    let mut hosts = Vec::new();
    let mut beats = Beats {
        last: BTreeMap::new(),
        interval: app.global().await?.rules.heartbeat_interval,
    };
    for k in app.box_keys().await? {
        match k {
            BoxKey::Host(id) => {
                if let Some(a) = app.host(id).await? {
                    hosts.push((id, a));
                }
            }
            BoxKey::Heartbeat(id) => {
                if let Some(b) = app.last_heartbeat(id).await? {
                    beats.last.insert(id, b);
                }
            }
            _ => {}
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
    Ok((hosts, deploys, beats, unverified))
}

pub fn fleet(a: &FleetArgs) -> anyhow::Result<ExitCode> {
    let app = app(&a.chain)?;
    loop {
        let (hosts, deploys, beats, now, round) = block_on(async {
            let round = app.node.last_round().await?;
            let (h, d, b, unverified) = gather(&app).await?;
            for u in &unverified {
                eprintln!("dao-agentctl: warning: {u}");
            }
            anyhow::Ok((h, d, b, super::chain::now(&app.node).await?, round))
        })??;
        let rows = rows(&hosts, &deploys, &beats, a.last, now);
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

/// `audit --host`: what this machine runs (`/run/current-system`) against the host's last report.
fn this_host(h: u64, current_system: &Path, deploys: &[Deploy]) -> anyhow::Result<Vec<String>> {
    let running = std::fs::read_link(current_system).map_err(|e| {
        anyhow::anyhow!(
            "cannot read {} (what this host runs): {e}; run `audit --host` on the host itself, or \
             name the link with --current-system",
            current_system.display()
        )
    })?;
    let sha: [u8; 32] = Sha256::digest(running.as_os_str().as_encoded_bytes()).into();
    Ok(match latest_report(deploys, h) {
        None => vec![format!(
            "host {h} runs {} but has reported nothing: it was never deployed to by the DAO",
            running.display()
        )],
        Some((_, r)) if r.toplevel_sha256 == sha => Vec::new(),
        Some((id, r)) => vec![format!(
            "this host ({h}) runs {} (sha256 {}), but its last report (proposal {id}, {}) says {}: a toplevel that changed without a report",
            running.display(),
            hex::encode(sha),
            r.status.as_str(),
            hex::encode(r.toplevel_sha256)
        )],
    })
}

fn print_table(rows: &[Value]) {
    outln!(
        "{:>4}  {:<10} {:<48} {:<9} {:<10} {:<24}  agent",
        "host",
        "last",
        "reported",
        "success",
        "waiting",
        "heartbeat"
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
        let beat = match (r["heartbeat"]["age"].as_str(), r["silent"] == json!(true)) {
            (None, _) => "SILENT (none)".to_owned(),
            (Some(age), true) => format!("SILENT ({age})"),
            (Some(age), false) => age.to_owned(),
        };
        let beat = if r["drift"] == json!(true) {
            format!("{beat} DRIFT")
        } else {
            beat
        };
        outln!(
            "{:>4}  {:<10} {:<48} {:<9} {:<10} {:<24}  {agent}",
            r["host_id"],
            what,
            at,
            format!("{}/{}", r["success"]["applied"], r["success"]["of"]),
            if pending.is_empty() {
                "-".to_owned()
            } else {
                pending.join(",")
            },
            beat,
        );
    }
}

pub fn run_audit(a: &AuditArgs) -> anyhow::Result<ExitCode> {
    let app = app(&a.list.chain)?;
    let (genesis, hosts, deploys, beats, unverified) = block_on(async {
        let g = app.global().await?;
        let (h, d, b, unverified) = gather(&app).await?;
        anyhow::Ok((hex::encode(g.genesis), h, d, b, unverified))
    })??;
    let (lineage, mut findings) = audit(&genesis, &hosts, &deploys, &beats);
    findings.extend(unverified);
    if let Some(h) = a.host {
        findings.extend(this_host(h, &a.current_system, &deploys)?);
    }
    let a = &a.list;
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
#[path = "fleet_view_tests.rs"]
mod tests;
