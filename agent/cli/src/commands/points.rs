//! The contributor point weights (docs/contributors.md): which ones a command counts with, and
//! `propose-point-weights` (kind 9). The DAO governs them (the app's global `points`); a command
//! takes `--point-weights` when given, else the app's when one is configured (the repo-spec file
//! or `--app-id`), else the gitdao document's defaults — and says which it used.

use super::chain::{app, block_on, signer};
use super::print_json;
use crate::args::RulesArgs;
use crate::cli::{ChainArgs, ProposePointWeightsArgs};
use crate::out::outln;
use anyhow::{bail, Context};
use dao_core::contributors::{show_half, PointWeights};
use serde_json::json;
use std::process::ExitCode;

/// Point weights and where they came from, for the output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub weights: PointWeights,
    pub source: String,
}

/// Whether the flags name an app: an explicit `--algod` or `--app-id`, or a repo-spec file.
pub fn names_an_app(chain: &ChainArgs) -> bool {
    chain.algod.is_some() || chain.app_id.is_some() || chain.spec.exists()
}

/// The point weights a read-only command counts with.
pub fn choose(rules: &RulesArgs, chain: &ChainArgs) -> anyhow::Result<Chosen> {
    if let Some(weights) = rules.point_weights {
        return Ok(Chosen {
            weights,
            source: "--point-weights".into(),
        });
    }
    if !names_an_app(chain) {
        return Ok(Chosen {
            weights: PointWeights::default(),
            source: format!(
                "the defaults (no app: {} is absent and neither --app-id nor --algod is given)",
                chain.spec.display()
            ),
        });
    }
    let app = app(chain)?;
    let weights = block_on(app.point_weights())?.with_context(|| {
        format!(
            "cannot read the point weights of app {}: give --point-weights to count without the chain",
            app.app_id
        )
    })?;
    Ok(Chosen {
        weights,
        source: format!("app {}", app.app_id),
    })
}

pub fn propose(a: &ProposePointWeightsArgs) -> anyhow::Result<ExitCode> {
    super::preflight::description_url(&a.common.url)?;
    if a.code.is_none() && a.comment.is_none() && a.text.is_none() {
        bail!(
            "nothing to propose: give at least one of --code, --comment, --text (points per line)"
        );
    }
    let signer = signer(&a.common.key)?;
    let app = app(&a.common.chain)?;
    let (id, txid, before, after) = block_on(async {
        super::preflight::proposer(&app, &signer, 28 + a.common.url.len()).await?;
        let before = app.point_weights().await?;
        // A class left out keeps the value in force, not the default: the proposal changes
        // only what it names.
        let after = PointWeights {
            code: a.code.unwrap_or(before.code),
            comment: a.comment.unwrap_or(before.comment),
            text: a.text.unwrap_or(before.text),
        };
        if after == before {
            bail!("the point weights in force are already {before}: nothing would change");
        }
        let (id, c) = app
            .propose_point_weights(&signer, after, &a.common.url)
            .await?;
        anyhow::Ok((id, c.txid, before, after))
    })??;
    if a.common.json {
        let halves =
            |w: &PointWeights| json!({"code": w.code, "comment": w.comment, "text": w.text});
        let points = |w: &PointWeights| json!({"code": show_half(w.code), "comment": show_half(w.comment), "text": show_half(w.text)});
        print_json(&json!({
            "id": id, "kind": "point_weights", "txid": txid,
            "half_points": halves(&after), "points": points(&after),
            "current": {"half_points": halves(&before), "points": points(&before)},
        }))?;
    } else {
        outln!("proposal {id}: point weights {before} -> {after} (tx {txid})");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::path::PathBuf;

    fn chain(spec: &str) -> ChainArgs {
        ChainArgs {
            spec: PathBuf::from(spec),
            algod: None,
            algod_token_file: None,
            app_id: None,
        }
    }

    #[test]
    fn the_flag_wins_and_no_app_means_the_defaults() {
        let flag = RulesArgs {
            point_weights: Some("code=3".parse().unwrap()),
            require_signed: false,
        };
        let c = choose(&flag, &chain("/nonexistent/dao-spec.toml")).unwrap();
        assert_eq!((c.weights.code, c.source.as_str()), (6, "--point-weights"));
        let none = RulesArgs {
            point_weights: None,
            require_signed: false,
        };
        let c = choose(&none, &chain("/nonexistent/dao-spec.toml")).unwrap();
        assert_eq!(c.weights, PointWeights::default());
        assert!(c.source.contains("defaults"), "{}", c.source);
    }
}
