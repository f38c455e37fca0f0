//! proposals, show, members, hosts: reads, with every tally re-computed locally.

use super::bond_view::{bond_json, bond_text};
use super::chain::{app, block_on, now};
use super::print_json;
use super::show_text::{outcome, render, rfc3339, shown_state, when};
use crate::cli::{ChainArgs, ShowRebalanceArgs};
use crate::out::{out, outln};
use dao_chain::decode::{BoxKey, ProposalPayload, Report, Targets};
use dao_chain::verify::Verified;
use dao_chain::App;
use serde_json::{json, Value};
use std::process::ExitCode;

fn targets_json(t: &Targets) -> Value {
    match t {
        Targets::All => json!("all"),
        Targets::Hosts(h) => json!(h),
    }
}

fn payload_json(p: &ProposalPayload) -> Value {
    match p {
        ProposalPayload::Deploy {
            base,
            head,
            diff_hash,
            targets,
            description_url,
        } => json!({
            "base": hex(base), "head": hex(head),
            "diff_hash": format!("sha256:{}", hex(diff_hash)),
            "targets": targets_json(targets), "description_url": description_url,
        }),
        ProposalPayload::Membership {
            member,
            weight,
            description_url,
        } => json!({
            "member": member.to_string(), "weight": weight, "description_url": description_url,
        }),
        ProposalPayload::Hosts {
            host_id,
            agent,
            description_url,
        } => json!({
            "host_id": host_id, "agent": agent.to_string(), "description_url": description_url,
        }),
        ProposalPayload::Parameters {
            rules,
            description_url,
        } => json!({
            "rules": rules, "description_url": description_url,
        }),
        ProposalPayload::Treasury {
            receiver,
            amount,
            description_url,
        } => json!({
            "receiver": receiver.to_string(), "amount": amount, "description_url": description_url,
        }),
        ProposalPayload::Validator {
            validator,
            enabled,
            description_url,
        } => json!({
            "validator": validator.to_string(), "enabled": enabled,
            "description_url": description_url,
        }),
        ProposalPayload::AttestationPolicy {
            quorum,
            reward,
            description_url,
        } => json!({
            "attest_quorum": quorum, "attest_reward": reward, "description_url": description_url,
        }),
        ProposalPayload::PointWeights {
            weights,
            description_url,
        } => json!({
            "point_weights": weights, "point_weights_text": weights.to_string(),
            "description_url": description_url,
        }),
        ProposalPayload::Rebalance {
            commit,
            table_hash,
            points,
            weights,
            description_url,
        } => json!({
            "commit": hex(commit), "table_hash": format!("sha256:{}", hex(table_hash)),
            "point_weights": points, "point_weights_text": points.to_string(),
            "weights": weights.iter().map(|(a, w)| json!({ "address": a.to_string(), "weight": w }))
                .collect::<Vec<_>>(),
            "description_url": description_url,
        }),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn report_json(r: &Report) -> Value {
    json!({
        "status": r.status.as_str(),
        "toplevel_sha256": hex(&r.toplevel_sha256),
        "generation": r.generation,
        "logs_sha256": hex(&r.logs_sha256),
        "reported_at": r.reported_at,
        "reported_at_time": rfc3339(r.reported_at),
    })
}

/// The reports of every host a deploy proposal targets, as `show --json` lists them; empty for
/// other kinds.
async fn reports_of(app: &App, p: &ProposalPayload, id: u64) -> anyhow::Result<Vec<Value>> {
    let ProposalPayload::Deploy { targets, .. } = p else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for h in app.target_ids(targets).await? {
        let (r, amended) = app.reports(id, h).await?;
        out.push(json!({ "host": h, "report": r.as_ref().map(report_json), "amended": amended.as_ref().map(report_json) }));
    }
    Ok(out)
}

/// A proposal as verified: stored fields, and the tally and state re-computed by the engine.
/// Times are epoch seconds, with their RFC 3339 form beside them.
fn verified_json(v: &Verified) -> Value {
    let h = &v.proposal.header;
    let t = v.engine.tally;
    json!({
        "id": v.proposal.id,
        "kind": v.engine.kind.as_str(),
        "state": v.state.as_str(),
        "proposer": h.proposer.to_string(),
        "start": h.start, "end": h.end, "eta": (h.eta > 0).then_some(h.eta),
        "start_time": rfc3339(h.start), "end_time": rfc3339(h.end),
        "eta_time": (h.eta > 0).then(|| rfc3339(h.eta)),
        "tally": { "for": t.for_, "against": t.against, "abstain": t.abstain },
        "voted_weight": v.engine.voted_weight,
        "total": h.total, "quorum_votes": h.quorum_votes, "support_ppm": h.support_ppm,
        "verified": true, "rules_checked": v.rules_checked,
        "payload": payload_json(&v.proposal.payload),
    })
}

pub(super) async fn verified_all(app: &App) -> anyhow::Result<Vec<Result<Verified, String>>> {
    let g = app.global().await?;
    let knowledge = app.rules_knowledge().await?;
    let now = now(&app.node).await?;
    let mut out = Vec::new();
    for id in 1..=g.proposal_count {
        out.push(
            app.verify_proposal(id, &knowledge, now)
                .await
                .map_err(|e| e.to_string()),
        );
    }
    Ok(out)
}

pub fn proposals(chain: &ChainArgs, json_out: bool) -> anyhow::Result<ExitCode> {
    let app = app(chain)?;
    let (all, now) = block_on(async {
        let mut out = Vec::new();
        for (i, v) in verified_all(&app).await?.into_iter().enumerate() {
            out.push(match v {
                Ok(v) => {
                    let mut j = verified_json(&v);
                    let reports = reports_of(&app, &v.proposal.payload, v.proposal.id).await?;
                    j["outcome"] = json!(outcome(&reports));
                    j["bond"] = bond_json(&app, v.proposal.id, &v.proposal.header).await?;
                    Ok(j)
                }
                Err(e) => Err(json!({ "id": i + 1, "verified": false, "error": e })),
            });
        }
        anyhow::Ok((out, now(&app.node).await?))
    })??;
    if json_out {
        let list: Vec<&Value> = all
            .iter()
            .map(|v| v.as_ref().unwrap_or_else(|e| e))
            .collect();
        print_json(&list)?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "{:>4}  {:<12} {:<26} {:>20}  {:<40}  targets",
        "id",
        "kind",
        "state",
        "for/against/abstain",
        "voting ends"
    );
    for v in &all {
        match v {
            Ok(v) => {
                let t = &v["tally"];
                let targets = match &v["payload"]["targets"] {
                    Value::Null => "-".to_owned(),
                    Value::String(s) => s.clone(),
                    other => other
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(","),
                };
                let bond = bond_text(&v["bond"], &v["id"], now)
                    .map(|b| format!("  bond {b}"))
                    .unwrap_or_default();
                outln!(
                    "{:>4}  {:<12} {:<26} {:>20}  {:<40}  {targets}{bond}",
                    v["id"],
                    v["kind"].as_str().unwrap_or("?"),
                    shown_state(v),
                    format!("{}/{}/{}", t["for"], t["against"], t["abstain"]),
                    when(v["end"].as_u64().unwrap_or(0), now),
                );
            }
            Err(e) => outln!(
                "{:>4}  NOT VERIFIED: {}",
                e["id"],
                e["error"].as_str().unwrap_or("?")
            ),
        }
    }
    // Any proposal that does not verify is a reason to look, and to exit non-zero.
    Ok(if all.iter().all(Result::is_ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub fn show(
    id: u64,
    chain: &ChainArgs,
    json_out: bool,
    rebalance: &ShowRebalanceArgs,
) -> anyhow::Result<ExitCode> {
    let app = app(chain)?;
    let (v, reports, check, bond) = block_on(async {
        let knowledge = app.rules_knowledge().await?;
        let now = now(&app.node).await?;
        let v = app.verify_proposal(id, &knowledge, now).await?;
        let hosts: Vec<u64> = match &v.proposal.payload {
            ProposalPayload::Deploy {
                targets: Targets::Hosts(h),
                ..
            } => h.clone(),
            ProposalPayload::Deploy {
                targets: targets @ Targets::All,
                ..
            } => app.target_ids(targets).await?,
            _ => Vec::new(),
        };
        let mut reports = Vec::new();
        for h in hosts {
            let (r, amended) = app.reports(id, h).await?;
            reports.push((h, r, amended));
        }
        let bond = bond_json(&app, id, &v.proposal.header).await?;
        let check = super::rebalance_chain::check(
            &app,
            &v.proposal,
            rebalance.repo.as_deref(),
            &rebalance.rules,
        )
        .await?;
        anyhow::Ok((v, reports, check, bond))
    })??;
    let mut out = verified_json(&v);
    out["votes"] = v
        .votes
        .iter()
        .map(|(a, r)| json!({ "voter": a.to_string(), "choice": format!("{:?}", r.choice).to_lowercase(), "weight": r.weight, "effective_weight": r.effective_weight }))
        .collect();
    let reports: Vec<Value> = reports
        .iter()
        .map(|(h, r, amended)| json!({ "host": h, "report": r.as_ref().map(report_json), "amended": amended.as_ref().map(report_json) }))
        .collect();
    out["outcome"] = json!(outcome(&reports));
    out["reports"] = Value::Array(reports);
    out["bond"] = bond;
    // A rebalance whose table does not recompute is reported and fails the command, so a
    // script that checks before voting stops there.
    let mismatch = check
        .as_ref()
        .is_some_and(|c| c["checked"] == json!(true) && c["matches"] != json!(true));
    if let Some(c) = &check {
        out["rebalance_check"] = c.clone();
    }
    if json_out {
        print_json(&out)?;
    } else {
        out!("{}", render(&out, v.now));
        if let Some(c) = &check {
            outln!("{}", super::rebalance_chain::verdict(c));
        }
    }
    Ok(if mismatch {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

pub fn members(chain: &ChainArgs, json_out: bool) -> anyhow::Result<ExitCode> {
    let app = app(chain)?;
    let list = block_on(async {
        let mut out = Vec::new();
        for k in app.box_keys().await? {
            if let BoxKey::Member(a) = k {
                out.push((a, app.delegation(&a).await?));
            }
        }
        out.sort_by(|x, y| y.1.weight.cmp(&x.1.weight).then(x.0.cmp(&y.0)));
        anyhow::Ok(out)
    })??;
    if json_out {
        print_json(
            &list
                .iter()
                .map(|(a, d)| {
                    json!({
                        "address": a.to_string(), "weight": d.weight, "power": d.power,
                        "delegate": d.delegate.map(|x| x.to_string()),
                    })
                })
                .collect::<Vec<_>>(),
        )?;
    } else {
        // A removed member still holding delegated power is shown: it can still vote with it.
        let shown: Vec<_> = list
            .iter()
            .filter(|(_, d)| d.weight > 0 || d.power > 0)
            .collect();
        if !shown.is_empty() {
            outln!("{:>14} {:>14}  address", "weight", "voting power");
        }
        for (a, d) in shown {
            let to = d
                .delegate
                .map(|x| format!("  delegates to {x}"))
                .unwrap_or_default();
            outln!("{:>14} {:>14}  {a}{to}", d.weight, d.power);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn hosts(chain: &ChainArgs, json_out: bool) -> anyhow::Result<ExitCode> {
    let app = app(chain)?;
    let list = block_on(async {
        let mut out = Vec::new();
        for k in app.box_keys().await? {
            if let BoxKey::Host(id) = k {
                if let Some(a) = app.host(id).await? {
                    out.push((id, a));
                }
            }
        }
        out.sort_by_key(|x| x.0);
        anyhow::Ok(out)
    })??;
    if json_out {
        print_json(
            &list
                .iter()
                .map(|(id, a)| json!({ "host_id": id, "agent": a.to_string() }))
                .collect::<Vec<_>>(),
        )?;
    } else {
        for (id, a) in &list {
            outln!("{id:>6}  {a}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
