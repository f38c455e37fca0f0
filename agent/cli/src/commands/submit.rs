//! `submit`: propose deploying BASE..HEAD. The diff hash is computed here, from the local
//! objects, never taken from anyone.

use super::chain::{app, block_on, now, signer};
use super::preflight;
use super::preview;
use super::print_json;
use crate::cli::SubmitArgs;
use crate::out::outln;
use anyhow::Context;
use dao_chain::decode::{deploy_payload_len, Targets};
use dao_chain::txn::box_cost;
use dao_chain::txn::DeployProposal;
use dao_core::diff_hash::{diff_hash, resolve_commit};
use std::process::ExitCode;

pub fn run(a: &SubmitArgs) -> anyhow::Result<ExitCode> {
    preflight::description("--description", &a.description)?;
    let repo = git2::Repository::open(&a.repo).with_context(|| {
        format!(
            "{} is not a git repository (give it with --repo)",
            a.repo.display()
        )
    })?;
    let base = resolve_commit(&repo, &a.base)?;
    let head = resolve_commit(&repo, &a.head)?;
    let summary = diff_hash(&repo, base, head)?;
    if summary.is_empty() {
        anyhow::bail!(
            "{}..{} changes nothing (identical trees): there is nothing to propose",
            a.base,
            a.head
        );
    }
    let targets = if a.all_hosts {
        Targets::All
    } else if a.targets.is_empty() {
        anyhow::bail!(
            "say which hosts the change is for: --target HOST_ID (repeatable) or --all-hosts"
        );
    } else {
        Targets::Hosts(a.targets.clone())
    };
    let mut b = [0u8; 20];
    b.copy_from_slice(base.as_bytes());
    let mut h = [0u8; 20];
    h.copy_from_slice(head.as_bytes());
    let proposal = DeployProposal {
        emergency: a.emergency,
        base: b,
        head: h,
        diff_hash: summary.diff_hash.0,
        targets,
        description_url: a.description.clone(),
    };
    let names = preview::host_map(&a.hosts)?;
    let signer = signer(&a.key)?;
    let app = app(&a.chain)?;
    let target_ids = block_on(async {
        let hosts = match &proposal.targets {
            Targets::All => None,
            Targets::Hosts(h) => Some(h.as_slice()),
        };
        preflight::deploy(&app, hosts, proposal.base).await?;
        let len = deploy_payload_len(hosts.map_or(0, <[u64]>::len), a.description.len());
        // the deploy proposal also pays its 16-byte attestation policy snapshot box
        preflight::proposer_paying(&app, &signer, len, box_cost(9, 16)).await?;
        anyhow::Ok((
            app.target_ids(&proposal.targets).await?,
            app.global().await?.repo,
        ))
    })??;
    let (target_ids, pinned) = target_ids;
    // The hosts fetch the head from the repository pinned in the app: it must be there.
    if let preflight::OnRemote::Unknown(why) =
        preflight::head_on_remote(&a.repo, &pinned, head, std::time::Duration::from_secs(15))?
    {
        eprintln!(
            "dao-agentctl: warning: cannot check that {head} is on {pinned} ({why}); hosts fetch it from there"
        );
    }
    // What the change does to each host, before anyone is asked to vote on it.
    let previews = if a.preview {
        preview::preview_change(&repo, base, head, &target_ids, &names)?
    } else {
        Vec::new()
    };
    if a.key.dry_run {
        let would = serde_json::json!({
            "dry_run": true, "kind": if a.emergency { "emergency" } else { "deploy" },
            "base": summary.base, "head": summary.head, "diff_hash": summary.diff_hash,
            "targets": target_ids, "description_url": a.description, "preview": previews,
        });
        if a.json {
            print_json(&would)?;
        } else {
            preview::print(&previews);
            outln!(
                "would propose {}..{} ({}, {} changed paths) for hosts {:?}; nothing was sent (--dry-run)",
                summary.base,
                summary.head,
                summary.diff_hash,
                summary.changed_paths,
                target_ids
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !a.json {
        preview::print(&previews);
    }
    let (id, confirmed, p, chain_now) = block_on(async {
        let (id, confirmed) = app.propose_deploy(&signer, &proposal).await?;
        let p = app.proposal(id).await?;
        let chain_now = now(&app.node).await?;
        anyhow::Ok((id, confirmed, p, chain_now))
    })??;
    if a.json {
        print_json(&serde_json::json!({
            "id": id,
            "txid": confirmed.txid,
            "round": confirmed.round,
            "diff_hash": summary.diff_hash,
            "base": summary.base,
            "head": summary.head,
            "changed_paths": summary.changed_paths,
            "start": p.header.start,
            "end": p.header.end,
            "now": chain_now,
            "preview": previews,
        }))?;
    } else {
        outln!(
            "proposal {id}: {} ({} changed paths)",
            summary.diff_hash,
            summary.changed_paths
        );
        outln!(
            "voting opens in {} s and closes in {} s (chain time {}); round {}, tx {}",
            p.header.start.saturating_sub(chain_now),
            p.header.end.saturating_sub(chain_now),
            chain_now,
            confirmed.round,
            confirmed.txid
        );
    }
    Ok(ExitCode::SUCCESS)
}
