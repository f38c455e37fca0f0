//! Chain client of nixos-dao-governance: everything the agent and the CLI need from algod.
//!
//! - [`decode`]: strict decoders of the app's global state, boxes and payloads.
//! - [`events`]: the app's ARC-28 events.
//! - [`node`]: algod reads with timeouts ([`rest`]: the ones algonaut's client cannot make); [`node::App`] reads the app's state, typed.
//! - [`txn`]: ARC-4 method calls with box references and box payments; app refusals come back
//!   as [`errors::ChainError::AppError`] with the app's error code.
//! - [`preflight`]: the checks before following an app (released program, sealed, rules, repo).
//! - [`follow`]: the block-by-block [`follow::Follower`], with a persisted watermark.
//! - [`verify`]: re-verification of proposals with the shared rules engine.
//! - [`keys`]: account keys from files or systemd credentials, never from the environment.
//!
//! See README.md for the trust model.

pub mod attest;
pub mod backoff;
pub mod bond;
pub mod budget;
pub mod calls;
pub mod decode;
pub mod delegation;
pub mod errors;
pub mod events;
pub mod follow;
pub mod keys;
pub mod node;
pub mod preflight;
pub mod rebalance;
pub mod released;
pub mod rest;
pub mod txn;
pub mod validation;
pub mod verify;
pub mod watermark;

pub use errors::ChainError;
pub use follow::{Event, Follower, Status};
pub use keys::Signer;
pub use node::{App, Node};
