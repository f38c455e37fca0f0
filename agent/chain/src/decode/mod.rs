//! Strict decoders of the app's global state and boxes (docs/contract.md, "State").
//!
//! Every decoder takes the exact bytes algod returned and either yields a typed value or a
//! [`DecodeError`] that names the thing (the global key or the box, with its decoded key) and what
//! is wrong with it. Nothing is guessed or defaulted: a wrong length, an unknown code, trailing
//! bytes or a bad ARC-4 header is an error.

mod arc4;
mod bond;
mod box_key;
mod boxes;
mod global;
mod heartbeat;
mod proposal;
mod rules;
mod wire;

pub use arc4::{encode_arc4_bytes, encode_u64_array, encode_weights, MAX_ARC4_ITEMS};
pub use bond::{decode_bond, BondBox, BOND_LEN};
pub use box_key::BoxKey;
pub(crate) use boxes::check_key;
pub use boxes::{
    decode_delegate, decode_history, decode_host, decode_member, decode_report, decode_vote,
    HistoryEntry, Member, Report, ReportStatus, VoteChoice, VoteRecord,
};
pub use global::{decode_global, GlobalState, GlobalValue};
pub use heartbeat::{decode_heartbeat, Heartbeat, HEARTBEAT_LEN};
pub use proposal::{
    decode_arc4_string, decode_payload, decode_proposal, ProposalBox, ProposalHeader,
    ProposalPayload, Targets,
};
pub use rules::{
    decode_point_weights, decode_rules, decode_valid_rules, deploy_payload_len,
    encode_point_weights, encode_rules, parameters_payload_len, MAX_HOSTS, MAX_REBALANCE, MAX_REPO,
    MAX_URL, PROPOSAL_HEADER, REPORT_LEN, RULES_LEN,
};
pub(crate) use wire::{err, exact, Reader};
pub use wire::{DecodeError, Problem};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_contributors;
