//! Checks an app before following it: it exists, runs a released (or explicitly allowed)
//! approval program, is sealed, has valid rules and governs the expected repository.

use crate::decode::{self, DecodeError, GlobalState};
use crate::errors::ChainError;
use crate::node::{App, Node};
use dao_core::address::Address;
use std::sync::OnceLock;

const HASHES: &str = include_str!("../../../contracts/build/hashes.json");

/// The approval program hashes (address form) released with this crate: the one in
/// contracts/build/hashes.json at build time.
pub fn released_program_hashes() -> &'static [Address] {
    static H: OnceLock<Vec<Address>> = OnceLock::new();
    H.get_or_init(|| {
        serde_json::from_str::<serde_json::Value>(HASHES)
            .ok()
            .and_then(|v| v["approval"]["address"].as_str().map(str::to_owned))
            .and_then(|a| a.parse::<Address>().ok())
            .into_iter()
            .collect()
    })
}

/// Why an app may not be followed. One variant per reason.
#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    #[error("application {app_id} does not exist on the chain algod at {url} serves: check chain.app_id and chain.algod_url")]
    AppMissing { app_id: u64, url: String },
    #[error("cannot read application {app_id}: {source}")]
    Unreachable {
        app_id: u64,
        #[source]
        source: ChainError,
    },
    #[error("application {app_id} runs approval program {hash}, which is not a released program ({released}) nor in chain.allowed_program_hashes: refusing to follow it")]
    ProgramNotAllowed {
        app_id: u64,
        hash: Address,
        released: String,
    },
    #[error("chain.allowed_program_hashes entry {entry:?} is not a program address: {reason}")]
    BadAllowedHash { entry: String, reason: String },
    #[error("application {app_id} is not sealed: its creator can still change members and hosts at will; refusing to follow it until it is sealed")]
    NotSealed { app_id: u64 },
    #[error("application {app_id} has invalid rules: {problems}")]
    InvalidRules { app_id: u64, problems: String },
    #[error("application {app_id} has malformed global state: {source}")]
    MalformedState {
        app_id: u64,
        #[source]
        source: DecodeError,
    },
    #[error("application {app_id} governs {pinned:?}, not an expected repository ({expected}): check chain.app_id and source.allowed_remotes")]
    RepoMismatch {
        app_id: u64,
        pinned: String,
        expected: String,
    },
}

/// An app that passed preflight.
#[derive(Debug, Clone)]
pub struct Followable {
    pub app: App,
    pub global: GlobalState,
    pub program_hash: Address,
}

/// Runs every check, in order: exists, program hash, global state decodes, rules valid,
/// sealed, repository (one of `expected_repos`; any when it is empty: a watcher that fetches
/// nothing).
pub async fn preflight(
    node: &Node,
    app_id: u64,
    expected_repos: &[&str],
    allowed_program_hashes: &[String],
) -> Result<Followable, PreflightError> {
    let mut allowed: Vec<Address> = released_program_hashes().to_vec();
    for entry in allowed_program_hashes {
        let a = entry
            .parse::<Address>()
            .map_err(|e| PreflightError::BadAllowedHash {
                entry: entry.clone(),
                reason: e.to_string(),
            })?;
        allowed.push(a);
    }
    let info = match node.app_info(app_id).await {
        Ok(i) => i,
        Err(ChainError::NotFound { .. }) => {
            return Err(PreflightError::AppMissing {
                app_id,
                url: node.url().to_owned(),
            })
        }
        Err(source) => return Err(PreflightError::Unreachable { app_id, source }),
    };
    let hash = Address::of_program(&info.approval_program);
    if !allowed.contains(&hash) {
        let released: Vec<String> = released_program_hashes()
            .iter()
            .map(ToString::to_string)
            .collect();
        return Err(PreflightError::ProgramNotAllowed {
            app_id,
            hash,
            released: released.join(", "),
        });
    }
    let global = match decode::decode_global(&info.global) {
        Ok(g) => g,
        Err(e) => {
            return Err(match e.problem {
                decode::Problem::InvalidRules(problems) => {
                    PreflightError::InvalidRules { app_id, problems }
                }
                _ => PreflightError::MalformedState { app_id, source: e },
            })
        }
    };
    if !global.sealed {
        return Err(PreflightError::NotSealed { app_id });
    }
    if !expected_repos.is_empty() && !expected_repos.contains(&global.repo.as_str()) {
        return Err(PreflightError::RepoMismatch {
            app_id,
            pinned: global.repo.clone(),
            expected: expected_repos.join(", "),
        });
    }
    Ok(Followable {
        app: App::new(node.clone(), app_id),
        global,
        program_hash: hash,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_released_hash_is_built_in_and_matches_the_bytecode() {
        let h = released_program_hashes();
        assert_eq!(h.len(), 1);
        let bin = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../contracts/build/app.bin"
        ))
        .unwrap();
        assert_eq!(Address::of_program(&bin), h[0]);
    }
}
