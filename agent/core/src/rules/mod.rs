//! The governance rules engine: pure functions and a pure state model, no I/O.
//!
//! The rules are specified in `docs/governance-rules.md`; the scenario vectors in
//! `contracts/vectors/governance.json` hold this engine and the on-chain app to the same answers.

mod bond;
mod delegation;
mod error;
mod liveness;
mod model;
mod params;
mod state;
mod tally;

pub use bond::{bond_outcome, defeat_keeps_bond, Bond, BondOutcome, BondStatus};
pub use error::RuleError;
pub use liveness::{check_live, guaranteed_for, guaranteed_heaviest};
pub use model::{Choice, Governance, Kind, Payload, Proposal};
pub use params::{
    Rules, RulesProblem, HEARTBEAT_DEFAULT, HEARTBEAT_MAX, HEARTBEAT_MIN, MAX_BOND, MAX_DURATION,
    MAX_TOTAL_WEIGHT, PPM, TIMELOCK_FLOOR,
};
pub use state::{ProposalState, Stored};
pub use tally::{cap_weight, decide, passes, quorum_votes, support_passes, Outcome, Tally};
