//! The governance acts besides deploys (issue 17): membership, hosts, parameters and treasury
//! proposals, and deposits to the treasury. Each checks everything it can before it signs
//! (`preflight`): a proposal that the app would refuse, or that would change nothing, is never
//! sent.

use super::chain::{app, block_on, signer};
use super::preflight::{self, algo, MIN_FEE};
use super::print_json;
use crate::cli::{
    DepositArgs, ProposeHostArgs, ProposeMembershipArgs, ProposeParametersArgs, ProposeTreasuryArgs,
};
use crate::out::outln;
use anyhow::{bail, Context};
use dao_chain::decode::parameters_payload_len;
use dao_chain::txn::Confirmed;
use dao_core::address::Address;
use dao_core::rules::{check_live, Rules, MAX_TOTAL_WEIGHT};
use serde_json::{json, Value};
use std::process::ExitCode;

/// Prints a created proposal: `what` for people, `details` in the JSON.
fn created(
    id: u64,
    c: &Confirmed,
    kind: &str,
    what: &str,
    details: Value,
    json_out: bool,
) -> anyhow::Result<()> {
    if json_out {
        let mut v = json!({"id": id, "kind": kind, "txid": c.txid, "round": c.round});
        if let (Some(v), Value::Object(d)) = (v.as_object_mut(), details) {
            v.extend(d);
        }
        print_json(&v)?;
    } else {
        outln!("proposal {id}: {what} (round {}, tx {})", c.round, c.txid);
    }
    Ok(())
}

pub fn membership(a: &ProposeMembershipArgs) -> anyhow::Result<ExitCode> {
    preflight::description_url(&a.common.url)?;
    let member = preflight::address("--member", &a.member)?;
    let weight = if a.remove { 0 } else { a.weight.unwrap_or(0) };
    if !a.remove && weight == 0 {
        bail!("--weight 0 removes a member: say --remove to mean it");
    }
    if weight > MAX_TOTAL_WEIGHT {
        bail!("--weight {weight} is above the most any weight may be, {MAX_TOTAL_WEIGHT}");
    }
    let signer = signer(&a.common.key)?;
    let app = app(&a.common.chain)?;
    let (id, c, now) = block_on(async {
        let g = app.global().await?;
        let now = app.member(&member).await?.map_or(0, |m| m.weight);
        if now == weight {
            if weight == 0 {
                bail!("{member} is not a member: there is nobody to remove");
            }
            bail!("{member} already holds weight {weight}: nothing would change");
        }
        let total = g.total_weight.saturating_sub(now).saturating_add(weight);
        if total > MAX_TOTAL_WEIGHT {
            bail!("the total weight would be {total}, above {MAX_TOTAL_WEIGHT}: propose less");
        }
        if total == 0 {
            bail!(
                "removing {member} would leave the DAO without members: nobody could propose again"
            );
        }
        // Saturating: the count is chain data, and a wrong one must not panic here.
        let members = g
            .members
            .saturating_sub(u64::from(now > 0))
            .saturating_add(u64::from(weight > 0));
        check_live(&g.rules, total, members).map_err(|e| {
            anyhow::anyhow!(
                "the app would refuse to execute this ({}): {e}; see `dao-agentctl rules`",
                e.code()
            )
        })?;
        preflight::proposer(&app, &signer, 44 + a.common.url.len()).await?;
        let (id, c) = app
            .propose_membership(&signer, &member, weight, &a.common.url)
            .await?;
        anyhow::Ok((id, c, now))
    })??;
    let what = if weight == 0 {
        format!("remove member {member} (weight {now})")
    } else if now == 0 {
        format!("add member {member} with weight {weight}")
    } else {
        format!("change {member}'s weight {now} -> {weight}")
    };
    let details = json!({"member": member.to_string(), "weight": weight, "current_weight": now});
    created(id, &c, "membership", &what, details, a.common.json)?;
    Ok(ExitCode::SUCCESS)
}

pub fn host(a: &ProposeHostArgs) -> anyhow::Result<ExitCode> {
    preflight::description_url(&a.common.url)?;
    if a.id == 0 {
        bail!("host ids start at 1: --id 0 names no host");
    }
    let agent = match &a.agent {
        Some(text) => {
            let agent = preflight::address("--agent", text)?;
            if agent == Address([0; 32]) {
                bail!(
                    "--agent is the zero address: say --retire to retire host {}",
                    a.id
                );
            }
            agent
        }
        None => Address([0; 32]),
    };
    let signer = signer(&a.common.key)?;
    let app = app(&a.common.chain)?;
    let (id, c, before) = block_on(async {
        let before = app.host(a.id).await?.filter(|x| *x != Address([0; 32]));
        match (before, a.agent.is_some()) {
            (None, false) => bail!(
                "host {} is not registered: there is nothing to retire",
                a.id
            ),
            (Some(b), true) if b == agent => {
                bail!(
                    "host {} already has agent {agent}: nothing would change",
                    a.id
                )
            }
            _ => {}
        }
        preflight::proposer(&app, &signer, 44 + a.common.url.len()).await?;
        let (id, c) = app
            .propose_hosts(&signer, a.id, &agent, &a.common.url)
            .await?;
        anyhow::Ok((id, c, before))
    })??;
    let what = match (before, a.agent.is_some()) {
        (None, _) => format!("register host {} with agent {agent}", a.id),
        (Some(b), true) => format!("rotate host {}'s agent {b} -> {agent}", a.id),
        (Some(b), false) => format!("retire host {} (agent {b})", a.id),
    };
    let details = json!({
        "host_id": a.id, "agent": a.agent.as_ref().map(|_| agent.to_string()),
        "current_agent": before.map(|b| b.to_string()),
    });
    created(id, &c, "hosts", &what, details, a.common.json)?;
    Ok(ExitCode::SUCCESS)
}

/// The rules with `KEY=VALUE` settings applied; every unknown key and bad value is named.
pub fn apply_settings(rules: &Rules, settings: &[String]) -> anyhow::Result<Rules> {
    let mut v = serde_json::to_value(rules)?;
    let fields = v
        .as_object_mut()
        .context("the rules do not serialize as a table")?;
    let names: Vec<String> = fields.keys().cloned().collect();
    for s in settings {
        let (key, value) = s
            .split_once('=')
            .with_context(|| format!("--set `{s}`: expected RULE=VALUE, e.g. timelock=86400"))?;
        let (key, value) = (key.trim(), value.trim());
        let slot = fields.get_mut(key).with_context(|| {
            format!(
                "--set `{s}`: `{key}` is not a rule; the rules are {}",
                names.join(", ")
            )
        })?;
        let n: u64 = value
            .parse()
            .with_context(|| format!("--set `{s}`: `{value}` is not a whole number"))?;
        *slot = json!(n);
    }
    Ok(serde_json::from_value(v)?)
}

pub fn parameters(a: &ProposeParametersArgs) -> anyhow::Result<ExitCode> {
    preflight::description_url(&a.common.url)?;
    if a.set.is_empty() {
        bail!("say what to change: --set RULE=VALUE (repeatable), e.g. --set timelock=86400");
    }
    let signer = signer(&a.common.key)?;
    let app = app(&a.common.chain)?;
    let (id, c, before, after) = block_on(async {
        let g = app.global().await?;
        let before = g.rules;
        let after = apply_settings(&before, &a.set)?;
        if after == before {
            bail!("the rules in force already have these values: nothing would change");
        }
        let problems = after.problems();
        if !problems.is_empty() {
            let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
            bail!("the new rules would be invalid: {}", text.join("; "));
        }
        check_live(&after, g.total_weight, g.members).map_err(|e| {
            anyhow::anyhow!(
                "the app would refuse to execute these rules ({}): {e}; see `dao-agentctl rules`",
                e.code()
            )
        })?;
        preflight::proposer(&app, &signer, parameters_payload_len(a.common.url.len())).await?;
        let (id, c) = app
            .propose_parameters(&signer, &after, &a.common.url)
            .await?;
        anyhow::Ok((id, c, before, after))
    })??;
    let (old, new) = (serde_json::to_value(before)?, serde_json::to_value(after)?);
    let changed: Vec<(String, Value, Value)> = old
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, v)| new.get(k.as_str()) != Some(v))
        .map(|(k, v)| (k.clone(), v.clone(), new[k.as_str()].clone()))
        .collect();
    if a.common.json {
        let details = json!({
            "changes": changed.iter().map(|(k, o, n)| json!({"rule": k, "current": o, "new": n})).collect::<Vec<_>>(),
            "rules": new,
        });
        created(id, &c, "parameters", "", details, true)?;
    } else {
        outln!(
            "proposal {id}: new rules (round {}, tx {})",
            c.round,
            c.txid
        );
        outln!("  {:<24} {:>14} {:>14}", "rule", "current", "new");
        for (k, o, n) in &changed {
            outln!("  {k:<24} {o:>14} {n:>14}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn treasury(a: &ProposeTreasuryArgs) -> anyhow::Result<ExitCode> {
    preflight::description_url(&a.common.url)?;
    let to = preflight::address("--to", &a.to)?;
    if a.amount == 0 {
        bail!("--amount 0 pays nothing");
    }
    let signer = signer(&a.common.key)?;
    let app = app(&a.common.chain)?;
    let (id, c) = block_on(async {
        let (held, min) = app.node.balance(&app.address()).await?;
        let spare = held.saturating_sub(min);
        if spare < a.amount {
            bail!(
                "the treasury holds {} above its minimum balance, less than {}: deposit first (dao-agentctl deposit) or propose less",
                algo(spare),
                algo(a.amount)
            );
        }
        // A payment that leaves its receiver below an account's minimum balance is refused by
        // the ledger at execute, after the whole vote.
        let (receiver_holds, _) = app.node.balance(&to).await?;
        let floor = dao_chain::txn::ACCOUNT_MIN_BALANCE;
        if receiver_holds.saturating_add(a.amount) < floor {
            bail!(
                "{to} holds {} and would hold {} after the payment, below the {} every account must keep: the payment would fail at execute; propose at least {}",
                algo(receiver_holds),
                algo(receiver_holds.saturating_add(a.amount)),
                algo(floor),
                algo(floor - receiver_holds)
            );
        }
        preflight::proposer(&app, &signer, 44 + a.common.url.len()).await?;
        anyhow::Ok(
            app.propose_treasury(&signer, &to, a.amount, &a.common.url)
                .await?,
        )
    })??;
    let what = format!("pay {} to {to} from the treasury", algo(a.amount));
    let details = json!({"receiver": to.to_string(), "amount": a.amount});
    created(id, &c, "treasury", &what, details, a.common.json)?;
    Ok(ExitCode::SUCCESS)
}

pub fn deposit(a: &DepositArgs) -> anyhow::Result<ExitCode> {
    if a.amount == 0 {
        bail!("--amount 0 deposits nothing");
    }
    let signer = signer(&a.key)?;
    let app = app(&a.chain)?;
    let (txid, treasury) = block_on(async {
        let needed = a.amount.saturating_add(MIN_FEE);
        preflight::can_spend(&app, &signer.address(), needed, "the deposit").await?;
        let txid = app.node.pay(&signer, &app.address(), a.amount).await?;
        let (held, _) = app.node.balance(&app.address()).await?;
        anyhow::Ok((txid, held))
    })??;
    if a.json {
        print_json(&json!({
            "amount": a.amount, "txid": txid, "treasury": app.address().to_string(),
            "treasury_balance": treasury,
        }))?;
    } else {
        outln!(
            "deposited {} to the treasury {} (now {}; tx {txid})",
            algo(a.amount),
            app.address(),
            algo(treasury)
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn settings_change_named_rules_and_name_every_mistake() {
        let r = Rules::default();
        let new = apply_settings(&r, &["timelock=7".into(), "quorum_ppm = 300000".into()]).unwrap();
        assert_eq!((new.timelock, new.quorum_ppm), (7, 300_000));
        assert_eq!(new.voting_period, r.voting_period);
        let e = apply_settings(&r, &["timelok=7".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a rule") && e.contains("timelock"), "{e}");
        let e = apply_settings(&r, &["timelock=soon".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a whole number"), "{e}");
        let e = apply_settings(&r, &["timelock".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("RULE=VALUE"), "{e}");
    }
}
