//! propose-rebalance, and the part of `show` that recomputes a rebalance proposal's table: the
//! contributor table (docs/contributors.md) on chain as kind 8. Both compute the table with the
//! library function `rebalance` prints, from the weights on chain, so a voter who recomputes
//! gets the proposer's numbers exactly or learns that they differ ("derive, don't trust").

use super::chain::{app, block_on, signer};
use super::print_json;
use crate::args::RulesArgs;
use crate::cli::ProposeRebalanceArgs;
use crate::out::outln;
use anyhow::{bail, Context};
use dao_chain::decode::{ProposalBox, ProposalPayload, MAX_REBALANCE};
use dao_chain::App;
use dao_core::address::Address;
use dao_core::contributors::contributors;
use dao_core::contributors::rebalance::{rebalance, Mint, Table};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex<const N: usize>(what: &str, text: &str) -> anyhow::Result<[u8; N]> {
    let text = text.strip_prefix("sha256:").unwrap_or(text);
    let bytes = hex::decode(text).with_context(|| format!("{what} {text:?} is not hex"))?;
    bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("{what} {text:?} is not {N} bytes"))
}

/// The list the app takes: each holder that receives a mint, at its receiving address's weight
/// on chain plus the mint (earlier addresses of the holder keep theirs), sorted by address
/// bytes as the app requires. Holders that mint nothing are left out: listing them would only
/// add a history entry.
pub fn onchain_weights(
    table: &Table,
    weights: &BTreeMap<Address, u64>,
) -> anyhow::Result<Vec<(Address, u64)>> {
    let mut out = Vec::new();
    for r in table.rows.iter().filter(|r| r.mint > 0) {
        let now = weights.get(&r.address).copied().unwrap_or(0);
        let new = now
            .checked_add(r.mint)
            .with_context(|| format!("weight of {} overflows", r.address))?;
        out.push((r.address, new));
    }
    out.sort_by_key(|(a, _)| *a);
    Ok(out)
}

pub fn propose(a: &ProposeRebalanceArgs) -> anyhow::Result<ExitCode> {
    super::preflight::description_url(&a.common.url)?;
    let signer = signer(&a.common.key)?;
    let app = app(&a.common.chain)?;
    // The app records the point weights in force with the proposal and voters recompute with
    // those: a table counted with any others would not match.
    // Who may propose, and can pay for it, is known before the repository is counted; the
    // table's size is not, so the box of the largest list (8 members) is what is checked.
    block_on(super::preflight::proposer(
        &app,
        &signer,
        dao_chain::rebalance::rebalance_payload_len(MAX_REBALANCE, a.common.url.len()),
    ))??;
    let points = block_on(app.point_weights())?.context("cannot read the app's point weights")?;
    if let Some(asked) = a.rules.point_weights.filter(|w| *w != points) {
        bail!(
            "--point-weights {asked} differ from the app's {points}: a rebalance is computed with the DAO's point weights (drop the flag, or change them first with propose-point-weights)"
        );
    }
    let report = contributors(&a.repo, &a.at, &a.rules.options(points)).with_context(|| {
        format!(
            "cannot count contributors of {} at {}",
            a.repo.display(),
            a.at
        )
    })?;
    let (id, txid, table, weights) = block_on(async {
        let now: BTreeMap<Address, u64> = app.weights_now().await?.into_iter().collect();
        // The library refuses an exact mint that would take weight from anyone, naming the
        // member and the minimal mint; the minimal mint never lowers anyone.
        let table = rebalance(&report, &now, a.mint)
            .with_context(|| format!("cannot rebalance at {}", report.commit))?;
        let weights = onchain_weights(&table, &now)?;
        if weights.is_empty() {
            bail!(
                "nothing to propose at {}: the table mints nothing (every member already holds its target)",
                table.commit
            );
        }
        if weights.len() > MAX_REBALANCE {
            bail!(
                "the table at {} mints to {} members, one rebalance proposal lists at most {MAX_REBALANCE}; this version does not split it (a later one may): propose with fewer bound contributors or raise weights by membership proposals",
                table.commit,
                weights.len()
            );
        }
        for (addr, w) in &weights {
            let held = now.get(addr).copied().unwrap_or(0);
            if *w < held {
                bail!("the table would lower {addr} from {held} to {w}: a rebalance never lowers anyone");
            }
        }
        let commit = unhex::<20>("commit", &table.commit)?;
        let hash = unhex::<32>("table hash", &table.hash)?;
        let (id, c) = app
            .propose_rebalance(&signer, commit, hash, &weights, &a.common.url)
            .await
            .context("propose_rebalance")?;
        anyhow::Ok((id, c.txid, table, weights))
    })??;
    if a.common.json {
        print_json(&json!({
            "id": id, "kind": "rebalance", "commit": table.commit, "table_hash": table.hash,
            "mint": table.mint, "total_mint": table.total_mint,
            "weights": weights.iter().map(|(a, w)| json!({"address": a.to_string(), "weight": w})).collect::<Vec<_>>(),
            "txid": txid,
        }))?;
    } else {
        outln!(
            "proposal {id}: rebalance at {} minting {} to {} member(s), table hash {} (tx {txid})",
            table.commit,
            table.total_mint,
            weights.len(),
            table.hash
        );
        for (a, w) in &weights {
            outln!("  {a} -> {w}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What `show` says about a rebalance proposal: `None` for other kinds; without a repository,
/// how to check; with one, the recomputed table compared with the proposal. The table is
/// recomputed from the weights at the proposal's member_seq (the history boxes), which is what
/// the proposer computed it from, with the mint the proposal makes (an exact mint equal to the
/// minimal one gives the minimal table), and with the point weights the app recorded in it
/// (`--point-weights`, if given, is only compared with them).
pub async fn check(
    app: &App,
    p: &ProposalBox,
    repo: Option<&Path>,
    rules: &RulesArgs,
) -> anyhow::Result<Option<Value>> {
    let ProposalPayload::Rebalance {
        commit,
        table_hash,
        points,
        weights,
        ..
    } = &p.payload
    else {
        return Ok(None);
    };
    let commit = hex(commit);
    let proposed_hash = format!("sha256:{}", hex(table_hash));
    let Some(repo) = repo else {
        return Ok(Some(json!({
            "checked": false,
            "how": format!("give --repo PATH (a clone of the governed repository with commit {commit}) to recompute the table from the weights at member_seq {} and compare its hash and weights", p.header.member_seq),
        })));
    };
    let Some(before) = app.weights_at(p.header.member_seq).await? else {
        return Ok(Some(json!({
            "checked": false,
            "how": format!(
                "the members' own weights at member_seq {} cannot be read from the app's boxes: a \
                 delegation was in force then and a weight changed since (the history holds \
                 voting power, docs/contributors.md); recompute the table with `dao-agentctl \
                 rebalance --at {commit}` from the weights the MemberChanged events give up to \
                 member_seq {}",
                p.header.member_seq, p.header.member_seq
            ),
        })));
    };
    let before: BTreeMap<Address, u64> = before.into_iter().collect();
    let mut minted = 0u64;
    for (a, w) in weights {
        let had = before.get(a).copied().unwrap_or(0);
        minted = minted.saturating_add(w.saturating_sub(had));
    }
    let report = contributors(repo, &commit, &rules.options(*points)).with_context(|| {
        format!(
            "cannot count contributors of {} at {commit}",
            repo.display()
        )
    })?;
    let ignored_flag = rules
        .point_weights
        .filter(|w| w != points)
        .map(|w| format!("--point-weights {w} ignored: the proposal recorded {points}, the ones in force when it was made"));
    let recomputed = rebalance(&report, &before, Mint::Exact(minted))
        .map_err(anyhow::Error::from)
        .and_then(|t| onchain_weights(&t, &before).map(|w| (t, w)));
    Ok(Some(match recomputed {
        Ok((table, expected)) => {
            let hash_matches = table.hash == proposed_hash;
            let weights_match = expected == *weights;
            json!({
                "checked": true, "matches": hash_matches && weights_match,
                "hash_matches": hash_matches, "weights_match": weights_match,
                "point_weights": points.to_string(), "note": ignored_flag,
                "commit": commit, "proposed_hash": proposed_hash, "recomputed_hash": table.hash,
                "recomputed_weights": expected.iter().map(|(a, w)| json!({"address": a.to_string(), "weight": w})).collect::<Vec<_>>(),
            })
        }
        Err(e) => json!({
            "checked": true, "matches": false, "hash_matches": false, "weights_match": false,
            "point_weights": points.to_string(), "note": ignored_flag,
            "commit": commit, "proposed_hash": proposed_hash,
            "error": format!("the table cannot be recomputed from the weights at member_seq {}: {e:#}", p.header.member_seq),
        }),
    }))
}

/// The one-line verdict `show` prints under the JSON of a rebalance proposal.
pub fn verdict(check: &Value) -> String {
    if check["checked"] != json!(true) {
        return format!(
            "rebalance not checked: {}",
            check["how"].as_str().unwrap_or("")
        );
    }
    if let Some(e) = check["error"].as_str() {
        return format!("rebalance does NOT match: {e}");
    }
    let yes = |b: &Value| *b == json!(true);
    format!(
        "rebalance recomputed at {} with point weights {}: table hash {} (proposed {}, recomputed {}), weights {}",
        check["commit"].as_str().unwrap_or(""),
        check["point_weights"].as_str().unwrap_or(""),
        if yes(&check["hash_matches"]) {
            "matches"
        } else {
            "DIFFERS"
        },
        check["proposed_hash"].as_str().unwrap_or(""),
        check["recomputed_hash"].as_str().unwrap_or(""),
        if yes(&check["weights_match"]) {
            "match"
        } else {
            "DIFFER"
        },
    )
}
