//! validators, attestations, claim-reward, propose-validator, propose-attestation-policy: the
//! validator side of the app (docs/validators.md).

use super::chain::{app, block_on, signer};
use super::print_json;
use crate::cli::{
    AttestationsArgs, ChainArgs, KeyArgs, ListArgs, ProposePolicyArgs, ProposeValidatorArgs,
};
use crate::out::outln;
use anyhow::{bail, Context};
use dao_chain::decode::ProposalPayload;
use dao_chain::validation::Outcome;
use dao_core::address::Address;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::process::ExitCode;

fn address(flag: &str, text: &str) -> anyhow::Result<Address> {
    text.parse()
        .map_err(|e| anyhow::anyhow!("{flag} {text:?} is not an Algorand address: {e}"))
}

pub fn validators(a: &ListArgs) -> anyhow::Result<ExitCode> {
    let app = app(&a.chain)?;
    let (global, list) =
        block_on(async { anyhow::Ok((app.global().await?, app.validators().await?)) })??;
    if a.json {
        print_json(&json!({
            "attest_quorum": global.attest_quorum,
            "attest_reward": global.attest_reward,
            "validators": list.iter().map(|(v, at)| json!({"address": v.to_string(), "added_at": at})).collect::<Vec<_>>(),
        }))?;
    } else {
        outln!(
            "{} validator(s); attestation quorum {} (0 = off), reward {} µAlgo per matching attestation",
            list.len(),
            global.attest_quorum,
            global.attest_reward
        );
        for (v, _) in &list {
            outln!("  {v}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn attestations(a: &AttestationsArgs) -> anyhow::Result<ExitCode> {
    let app = app(&a.chain)?;
    let id = a.id;
    let (policy, hosts, all, validations) = block_on(async {
        let p = app.proposal(id).await?;
        let ProposalPayload::Deploy { targets, .. } = &p.payload else {
            bail!(
                "proposal {id} is a {} proposal: only deploys are attested",
                p.header.kind.as_str()
            );
        };
        // Every targeted host is listed, attested or not: a host nobody attested is what an
        // operator looks for. For all hosts, every registered one (as `show` lists them).
        let listed = app.target_ids(targets).await?;
        let all = app.attestations(id).await?;
        let mut hosts: Vec<u64> = listed;
        hosts.extend(all.iter().map(|x| x.host));
        hosts.sort_unstable();
        hosts.dedup();
        let mut validations = BTreeMap::new();
        for h in &hosts {
            validations.insert(*h, app.validation(id, *h).await?);
        }
        anyhow::Ok((app.attest_policy(id).await?, hosts, all, validations))
    })??;
    let rows: Vec<Value> = hosts
        .iter()
        .map(|h| {
            let v = validations.get(h).copied().unwrap_or_default();
            let agreed = v.agreed;
            json!({
                "host_id": h,
                "attestations": v.attestations,
                "agreed_closure": agreed.map(hex::encode),
                "attested": all.iter().filter(|x| x.host == *h).map(|x| json!({
                    "validator": x.validator.to_string(),
                    "outcome": x.attestation.outcome.as_str(),
                    "closure": (x.attestation.outcome == Outcome::Built).then(|| hex::encode(x.attestation.closure)),
                    "agrees": agreed.is_some_and(|c| x.attestation.outcome == Outcome::Built && c == x.attestation.closure),
                    "attested_at": x.attestation.attested_at,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    if a.json {
        print_json(&json!({
            "proposal": id, "quorum": policy.quorum, "reward": policy.reward, "hosts": rows,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    if policy.quorum == 0 {
        outln!("proposal {id}: no attestation quorum (hosts do not wait for validators)");
    } else {
        outln!(
            "proposal {id}: {} validators must agree per host; reward {} µAlgo",
            policy.quorum,
            policy.reward
        );
    }
    for r in &rows {
        let agreed = r["agreed_closure"]
            .as_str()
            .map_or("not agreed".to_owned(), |c| {
                format!("agreed on sha256:{}", &c[..16])
            });
        outln!(
            "host {}: {} attestation(s), {agreed}",
            r["host_id"],
            r["attestations"]
        );
        for x in r["attested"].as_array().into_iter().flatten() {
            let closure = x["closure"]
                .as_str()
                .map_or(String::new(), |c| format!(" sha256:{}", &c[..16]));
            let mark = if x["agrees"] == true { " (agrees)" } else { "" };
            outln!(
                "  {} {}{closure}{mark}",
                x["validator"].as_str().unwrap_or(""),
                x["outcome"].as_str().unwrap_or("")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn claim_reward(
    id: u64,
    chain: &ChainArgs,
    key: &KeyArgs,
    json_out: bool,
) -> anyhow::Result<ExitCode> {
    let signer = signer(key)?;
    let app = app(chain)?;
    let me = signer.address();
    let (amount, hosts, txid) = block_on(async {
        if let Some(c) = app.claim(id, &me).await? {
            bail!("{me} already claimed {} µAlgo for proposal {id}: a reward is claimed once per proposal", c.amount);
        }
        // Every host where this validator's attestation matched the agreement and the host
        // applied the change: the app pays for exactly those.
        let mut hosts = Vec::new();
        for x in app
            .attestations(id)
            .await?
            .into_iter()
            .filter(|x| x.validator == me)
        {
            let v = app.validation(id, x.host).await?;
            let matched =
                x.attestation.outcome == Outcome::Built && v.agreed == Some(x.attestation.closure);
            let (report, amendment) = app.reports(id, x.host).await?;
            let applied = amendment.is_some()
                || report.is_some_and(|r| r.status == dao_chain::decode::ReportStatus::Applied);
            if matched && applied {
                hosts.push(x.host);
            }
        }
        if hosts.is_empty() {
            bail!("nothing to claim for proposal {id}: none of {me}'s attestations both matched the validators' agreement and was applied by its host (see `dao-agentctl attestations {id}`)");
        }
        hosts.sort_unstable();
        let (amount, c) = app
            .claim_reward(&signer, id, &hosts)
            .await
            .context("claim_reward")?;
        anyhow::Ok((amount, hosts, c.txid))
    })??;
    if json_out {
        print_json(&json!({"proposal": id, "amount": amount, "hosts": hosts, "txid": txid}))?;
    } else {
        outln!("claimed {amount} µAlgo for proposal {id} (hosts {hosts:?}, tx {txid})");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn propose_validator(a: &ProposeValidatorArgs) -> anyhow::Result<ExitCode> {
    super::preflight::description_url(&a.common.url)?;
    let (who, enabled) = match (&a.add, &a.remove) {
        (Some(v), None) => (address("--add", v)?, true),
        (None, Some(v)) => (address("--remove", v)?, false),
        _ => bail!("give exactly one of --add ADDRESS or --remove ADDRESS"),
    };
    let signer = signer(&a.common.key)?;
    let app = app(&a.common.chain)?;
    let (id, txid) = block_on(async {
        let present = app.is_validator(&who).await?;
        if present == enabled {
            bail!(
                "{who} is {} the validator set already",
                if enabled { "in" } else { "not in" }
            );
        }
        let (id, c) = app
            .propose_validator(&signer, &who, enabled, &a.common.url)
            .await?;
        anyhow::Ok((id, c.txid))
    })??;
    let what = if enabled { "add" } else { "remove" };
    if a.common.json {
        print_json(
            &json!({"id": id, "kind": "validator", "action": what, "validator": who.to_string(), "txid": txid}),
        )?;
    } else {
        outln!("proposal {id}: {what} validator {who} (tx {txid})");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn propose_policy(a: &ProposePolicyArgs) -> anyhow::Result<ExitCode> {
    super::preflight::description_url(&a.common.url)?;
    let signer = signer(&a.common.key)?;
    let app = app(&a.common.chain)?;
    let (id, txid, before) = block_on(async {
        let g = app.global().await?;
        if a.quorum > g.validators {
            bail!("--quorum {} is more than the {} validator(s) the app has: hosts could never switch; add validators first", a.quorum, g.validators);
        }
        let (id, c) = app
            .propose_attestation_policy(&signer, a.quorum, a.reward, &a.common.url)
            .await?;
        anyhow::Ok((id, c.txid, (g.attest_quorum, g.attest_reward)))
    })??;
    if a.common.json {
        print_json(
            &json!({"id": id, "kind": "attestation_policy", "quorum": a.quorum, "reward": a.reward,
            "current": {"quorum": before.0, "reward": before.1}, "txid": txid}),
        )?;
    } else {
        outln!(
            "proposal {id}: attestation quorum {} -> {}, reward {} -> {} µAlgo (tx {txid})",
            before.0,
            a.quorum,
            before.1,
            a.reward
        );
    }
    Ok(ExitCode::SUCCESS)
}
