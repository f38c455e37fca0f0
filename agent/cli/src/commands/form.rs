//! `form`: a DAO from minimal input: the released app, its members and hosts, sealed.

use super::chain::{block_on, signer};
use super::print_json;
use crate::cli::FormArgs;
use crate::out::outln;
use crate::spec::RepoSpec;
use anyhow::Context;
use dao_chain::{preflight::preflight, released, Node};
use dao_core::address::Address;
use dao_core::diff_hash::resolve_commit;
use dao_core::rules::Rules;
use std::process::ExitCode;

fn pair<'a>(flag: &str, text: &'a str) -> anyhow::Result<(&'a str, &'a str)> {
    text.split_once('=').with_context(|| {
        format!(
            "--{flag} {text:?}: expected {}",
            if flag == "member" {
                "ADDRESS=WEIGHT"
            } else {
                "ID=ADDRESS"
            }
        )
    })
}

fn address(flag: &str, text: &str) -> anyhow::Result<Address> {
    text.parse()
        .map_err(|e| anyhow::anyhow!("--{flag}: {text:?} is not an Algorand address: {e}"))
}

pub fn run(a: &FormArgs) -> anyhow::Result<ExitCode> {
    // Everything is checked before anything is sent: a half-formed DAO helps nobody.
    let mut members = Vec::new();
    for m in &a.members {
        let (addr, weight) = pair("member", m)?;
        let weight: u64 = weight
            .parse()
            .with_context(|| format!("--member {m:?}: the weight must be a whole number"))?;
        if weight == 0 {
            anyhow::bail!("--member {m:?}: a member needs a weight above 0");
        }
        members.push((address("member", addr)?, weight));
    }
    let mut hosts = Vec::new();
    for h in &a.hosts {
        let (id, addr) = pair("host", h)?;
        let id: u64 = id
            .parse()
            .with_context(|| format!("--host {h:?}: the host id must be a whole number"))?;
        hosts.push((id, address("host", addr)?));
    }
    let mut validators = Vec::new();
    for v in &a.validators {
        let addr = address("validator", v)?;
        if validators.contains(&addr) {
            anyhow::bail!("--validator {v} is listed twice");
        }
        validators.push(addr);
    }
    if a.attest_quorum > validators.len() as u64 {
        anyhow::bail!(
            "--attest-quorum {} is more than the {} --validator(s) given: hosts could never switch",
            a.attest_quorum,
            validators.len()
        );
    }
    if a.attest_reward > dao_chain::attest::MAX_REWARD {
        anyhow::bail!(
            "--attest-reward {} is above the app's limit of {} µAlgo",
            a.attest_reward,
            dao_chain::attest::MAX_REWARD
        );
    }
    let rules = match &a.rules {
        None => Rules::default(),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the rules file {}", path.display()))?;
            let rules: Rules = toml::from_str(&text).with_context(|| {
                format!(
                    "{} is not a rules file (all ten rules, docs/governance-rules.md)",
                    path.display()
                )
            })?;
            let problems = rules.problems();
            if !problems.is_empty() {
                let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
                anyhow::bail!("{}: {}", path.display(), list.join("; "));
            }
            rules
        }
    };
    let repo = git2::Repository::open(&a.repo).with_context(|| {
        format!(
            "{} is not a git repository (give it with --repo)",
            a.repo.display()
        )
    })?;
    let genesis = resolve_commit(&repo, &a.genesis)?;
    let mut genesis_bytes = [0u8; 20];
    genesis_bytes.copy_from_slice(genesis.as_bytes());
    let signer = signer(&a.key)?;
    let node = Node::with_token_file(&a.algod, a.algod_token_file.as_deref())?;

    let (app, program_hash, round) = block_on(async {
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
        for (addr, weight) in &members {
            app.set_member(&signer, addr, *weight)
                .await
                .with_context(|| format!("adding member {addr}"))?;
        }
        for (id, addr) in &hosts {
            app.set_host(&signer, *id, addr)
                .await
                .with_context(|| format!("registering host {id}"))?;
        }
        for v in &validators {
            app.set_validator(&signer, v, true)
                .await
                .with_context(|| format!("adding validator {v}"))?;
        }
        if a.attest_quorum > 0 || a.attest_reward > 0 {
            app.set_attestation_policy(&signer, a.attest_quorum, a.attest_reward)
                .await
                .context("setting the attestation policy")?;
        }
        if let Some(w) = a.point_weights {
            app.set_point_weights(&signer, w)
                .await
                .context("setting the point weights")?;
        }
        let sealed = app.seal(&signer).await.context("sealing the app")?;
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
