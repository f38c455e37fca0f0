//! The app's global state (docs/contract.md, "Global state"): every key present exactly once,
//! with its type; no other key.

use super::rules::{decode_point_weights, decode_valid_rules, MAX_REPO};
use super::wire::{err, exact, DecodeError, Problem};
use dao_core::contributors::PointWeights;
use dao_core::rules::Rules;

/// One global-state value as algod returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GlobalValue {
    Bytes(Vec<u8>),
    Uint(u64),
}

/// The app's global state (docs/contract.md, "Global state").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalState {
    pub rules: Rules,
    pub repo: String,
    pub genesis: [u8; 20],
    pub member_seq: u64,
    pub total_weight: u64,
    pub proposal_count: u64,
    pub sealed: bool,
    /// How many reproducible-build validators the app has.
    pub validators: u64,
    /// Attestations that must agree before a host may switch (0 = off), for new proposals.
    pub attest_quorum: u64,
    /// microAlgos paid per attestation that matched the agreement, for new proposals.
    pub attest_reward: u64,
    /// What a line of each class is worth in contributor tables (docs/contributors.md).
    pub point_weights: PointWeights,
    /// How many addresses have a weight above 0: with the total weight, what the app's liveness
    /// check works from (docs/governance-rules.md, "Liveness").
    pub members: u64,
    /// The proposal bonds the app holds for their proposers: not the treasury's to spend
    /// (docs/governance-rules.md, "Proposal bond").
    pub bonds_held: u64,
}

const GLOBAL_KEYS: [&str; 13] = [
    "rules",
    "repo",
    "genesis",
    "member_seq",
    "total_weight",
    "proposal_count",
    "sealed",
    "validators",
    "attest_quorum",
    "attest_reward",
    "points",
    "members",
    "bonds_held",
];

/// Decodes the global state from its key/value pairs. Every key must be present exactly once
/// with its type; no other key may exist. The rules must be valid.
pub fn decode_global(entries: &[(Vec<u8>, GlobalValue)]) -> Result<GlobalState, DecodeError> {
    for (k, _) in entries {
        let name = String::from_utf8_lossy(k).into_owned();
        if !GLOBAL_KEYS.iter().any(|g| g.as_bytes() == k.as_slice()) {
            return Err(err("global state", Problem::UnexpectedKey(name)));
        }
        if entries.iter().filter(|(o, _)| o == k).count() > 1 {
            return Err(err("global state", Problem::UnexpectedKey(name)));
        }
    }
    let get = |key: &'static str| {
        entries
            .iter()
            .find(|(k, _)| k.as_slice() == key.as_bytes())
            .map(|(_, v)| v)
            .ok_or_else(|| err("global state", Problem::MissingKey(key)))
    };
    let bytes = |key: &'static str| -> Result<&Vec<u8>, DecodeError> {
        match get(key)? {
            GlobalValue::Bytes(b) => Ok(b),
            GlobalValue::Uint(_) => Err(err(
                format!("global {key:?}"),
                Problem::ValueType {
                    key,
                    expected: "byte slice",
                    got: 2,
                },
            )),
        }
    };
    let uint = |key: &'static str| -> Result<u64, DecodeError> {
        match get(key)? {
            GlobalValue::Uint(u) => Ok(*u),
            GlobalValue::Bytes(_) => Err(err(
                format!("global {key:?}"),
                Problem::ValueType {
                    key,
                    expected: "uint64",
                    got: 1,
                },
            )),
        }
    };
    let rules = decode_valid_rules(bytes("rules")?).map_err(|p| err("global \"rules\"", p))?;
    let repo_bytes = bytes("repo")?;
    if repo_bytes.is_empty() {
        return Err(err("global \"repo\"", Problem::TooShort { min: 1, got: 0 }));
    }
    if repo_bytes.len() > MAX_REPO {
        return Err(err(
            "global \"repo\"",
            Problem::TooLong {
                field: "repo",
                max: MAX_REPO,
                got: repo_bytes.len(),
            },
        ));
    }
    let repo = String::from_utf8(repo_bytes.clone())
        .map_err(|_| err("global \"repo\"", Problem::NotUtf8 { field: "repo" }))?;
    let g = bytes("genesis")?;
    exact(g, 20).map_err(|p| err("global \"genesis\"", p))?;
    let mut genesis = [0u8; 20];
    genesis.copy_from_slice(g);
    let sealed = match uint("sealed")? {
        0 => false,
        1 => true,
        other => {
            return Err(err(
                "global \"sealed\"",
                Problem::Value {
                    field: "sealed",
                    expected: "0 or 1",
                    got: other,
                },
            ))
        }
    };
    Ok(GlobalState {
        rules,
        repo,
        genesis,
        member_seq: uint("member_seq")?,
        total_weight: uint("total_weight")?,
        proposal_count: uint("proposal_count")?,
        sealed,
        validators: uint("validators")?,
        attest_quorum: uint("attest_quorum")?,
        attest_reward: uint("attest_reward")?,
        point_weights: decode_point_weights(bytes("points")?)
            .map_err(|p| err("global \"points\"", p))?,
        members: uint("members")?,
        bonds_held: uint("bonds_held")?,
    })
}
