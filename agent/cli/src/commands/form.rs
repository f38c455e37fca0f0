//! `form`: a DAO from minimal input: the released app, its members and hosts, sealed.

use super::chain::{block_on, signer};
use super::form_input::{self, FormInput};
use super::print_json;
use crate::cli::FormArgs;
use crate::out::outln;
use crate::spec::RepoSpec;
use anyhow::Context;
use dao_chain::{preflight::preflight, released, App, Node, Signer};
use dao_core::address::Address;
use std::process::ExitCode;

/// Everything the creator does between create and seal.
async fn set_up(
    app: &App,
    signer: &Signer,
    a: &FormArgs,
    members: &[(Address, u64)],
    hosts: &[(u64, Address)],
    validators: &[Address],
) -> anyhow::Result<()> {
    for (addr, weight) in members {
        app.set_member(signer, addr, *weight)
            .await
            .with_context(|| format!("adding member {addr}"))?;
    }
    for (id, addr) in hosts {
        app.set_host(signer, *id, addr)
            .await
            .with_context(|| format!("registering host {id}"))?;
    }
    for v in validators {
        app.set_validator(signer, v, true)
            .await
            .with_context(|| format!("adding validator {v}"))?;
    }
    if a.attest_quorum > 0 || a.attest_reward > 0 {
        app.set_attestation_policy(signer, a.attest_quorum, a.attest_reward)
            .await
            .context("setting the attestation policy")?;
    }
    if let Some(w) = a.point_weights {
        app.set_point_weights(signer, w)
            .await
            .context("setting the point weights")?;
    }
    Ok(())
}

pub fn run(a: &FormArgs) -> anyhow::Result<ExitCode> {
    // Everything is checked before anything is sent: a half-formed DAO helps nobody.
    let FormInput {
        members,
        hosts,
        validators,
        rules,
        genesis,
    } = form_input::check(a)?;
    let mut genesis_bytes = [0u8; 20];
    genesis_bytes.copy_from_slice(genesis.as_bytes());
    let signer = signer(&a.key)?;
    let node = Node::with_token_file(&a.algod, a.algod_token_file.as_deref())?;

    let extra_calls = usize::from(a.attest_quorum > 0 || a.attest_reward > 0)
        + usize::from(a.point_weights.is_some());
    let cost = dao_chain::txn::formation_cost(
        released::APPROVAL.len(),
        members.len(),
        hosts.len(),
        validators.len(),
        extra_calls,
    );
    let (app, program_hash, round) = block_on(async {
        form_input::check_node(&node, &a.network).await?;
        super::preflight::can_spend_at(&node, &signer.address(), cost, "forming the DAO").await?;
        let app = node
            .create_app(
                &signer,
                released::APPROVAL,
                released::CLEAR,
                &rules,
                &a.repository,
                genesis_bytes,
            )
            .await
            .context("creating the app")?;
        eprintln!("created app {} (account {})", app.app_id, app.address());
        let id = app.app_id;
        let unsealed = || {
            format!(
                "app {id} was created but not sealed, so it governs nothing and no agent will follow it: fix the problem and run form again (it creates a new app; the unsealed one can be ignored)"
            )
        };
        set_up(&app, &signer, a, &members, &hosts, &validators)
            .await
            .with_context(unsealed)?;
        let sealed = app.seal(&signer).await.with_context(unsealed)?;
        // What agents will check, checked now.
        let ok = preflight(&node, app.app_id, &[a.repository.as_str()], &[])
            .await
            .context("the formed app does not pass the agents' preflight")?;
        anyhow::Ok((app, ok.program_hash, sealed.round))
    })??;

    let spec = RepoSpec {
        network: a.network.clone(),
        app_id: app.app_id,
        approval_program_hash: program_hash.to_string(),
        repository: a.repository.clone(),
        genesis_commit: genesis.to_string(),
        algod_url: Some(a.algod.clone()),
    };
    spec.write(&a.out)?;
    if a.json {
        print_json(&serde_json::json!({
            "app_id": app.app_id,
            "app_address": app.address().to_string(),
            "approval_program_hash": spec.approval_program_hash,
            "members": members.len(),
            "hosts": hosts.len(),
            "validators": validators.len(),
            "attest_quorum": a.attest_quorum,
            "point_weights": a.point_weights.unwrap_or_default().to_string(),
            "cost": cost,
            "sealed_round": round,
            "spec_file": a.out,
        }))?;
    } else {
        outln!(
            "formed app {} with {} member(s) and {} host(s), sealed in round {round}",
            app.app_id,
            members.len(),
            hosts.len()
        );
        outln!(
            "wrote {}: commit it to the governed repository",
            a.out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
