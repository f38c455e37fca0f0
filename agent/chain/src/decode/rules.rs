//! The 96-byte `Rules` struct and the app's size limits (the dynamic ARC-4 encoders are in
//! `arc4.rs`).

use super::wire::{be, exact, Problem};
use dao_core::contributors::PointWeights;
use dao_core::rules::Rules;

/// Longest governed repository URL the app accepts at creation.
pub const MAX_REPO: usize = 120;
/// Longest description URL of a proposal.
pub const MAX_URL: usize = 256;
/// Most hosts a deploy proposal may list.
pub const MAX_HOSTS: usize = 16;
/// Most members one rebalance proposal may list (its execute references two boxes per member).
pub const MAX_REBALANCE: usize = 8;
/// Size of the fixed proposal header.
pub const PROPOSAL_HEADER: usize = 176;
/// Size of the `Rules` struct: twelve uint64.
pub const RULES_LEN: usize = 96;
/// Size of a `Report`.
pub const REPORT_LEN: usize = 88;

/// Decodes the 96-byte `Rules` struct: twelve big-endian uint64 in the order of the rules table.
/// Validity (`Rules::problems`) is not checked here; [`decode_valid_rules`] does both.
pub fn decode_rules(bytes: &[u8]) -> Result<Rules, Problem> {
    exact(bytes, RULES_LEN)?;
    let f = |i: usize| be(&bytes[i * 8..]);
    Ok(Rules {
        voting_delay: f(0),
        voting_period: f(1),
        support_ppm: f(2),
        quorum_ppm: f(3),
        emergency_period: f(4),
        emergency_support_ppm: f(5),
        timelock: f(6),
        grace_period: f(7),
        min_proposer_weight: f(8),
        vote_cap_ppm: f(9),
        proposal_bond: f(10),
        heartbeat_interval: f(11),
    })
}

/// Decodes the 24-byte point weights (code, comment, text: big-endian uint64 half points per
/// line) and refuses weights the app would not have accepted.
pub fn decode_point_weights(bytes: &[u8]) -> Result<PointWeights, Problem> {
    exact(bytes, 24)?;
    let w = PointWeights {
        code: be(bytes),
        comment: be(&bytes[8..]),
        text: be(&bytes[16..]),
    };
    match w.problem() {
        None => Ok(w),
        Some(p) => Err(Problem::InvalidPointWeights(p)),
    }
}

/// The ARC-4 / global-state encoding of point weights.
pub fn encode_point_weights(w: &PointWeights) -> Vec<u8> {
    [w.code, w.comment, w.text]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect()
}

/// Decodes rules and refuses invalid ones (docs/governance-rules.md, "Rules").
pub fn decode_valid_rules(bytes: &[u8]) -> Result<Rules, Problem> {
    let rules = decode_rules(bytes)?;
    let problems = rules.problems();
    if problems.is_empty() {
        Ok(rules)
    } else {
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        Err(Problem::InvalidRules(text.join("; ")))
    }
}

/// The ARC-4 / global-state encoding of rules.
pub fn encode_rules(r: &Rules) -> Vec<u8> {
    [
        r.voting_delay,
        r.voting_period,
        r.support_ppm,
        r.quorum_ppm,
        r.emergency_period,
        r.emergency_support_ppm,
        r.timelock,
        r.grace_period,
        r.min_proposer_weight,
        r.vote_cap_ppm,
        r.proposal_bond,
        r.heartbeat_interval,
    ]
    .iter()
    .flat_map(|v| v.to_be_bytes())
    .collect()
}

/// The parameters payload the app stores for a description URL of `url` bytes: the rules, the
/// URL's offset and the URL with its length prefix.
pub fn parameters_payload_len(url: usize) -> usize {
    RULES_LEN + 2 + 2 + url
}

/// The deploy payload the app stores for these arguments (its length decides the box cost).
pub fn deploy_payload_len(hosts: usize, url: usize) -> usize {
    77 + 2 + 8 * hosts + 2 + url
}
