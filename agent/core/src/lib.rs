//! Core of nixos-dao-governance, shared by the agent and the CLI.
//!
//! - [`rules`]: the governance rules engine, the same rules the on-chain app enforces, so the agent
//!   can re-compute every tally and state it reads from chain.
//! - [`diff_hash`]: the canonical diff hash v1 of two commits, what members approve and hosts verify.
//! - [`config`]: the agent's TOML configuration and its validation.
//! - [`contributors`]: contributor points, address bindings and rebalance tables from git history.
//!
//! No I/O happens in `rules`; `diff_hash` reads a git repository; `config` parses text.

pub mod address;
pub mod config;
pub mod contributors;
pub mod diff_hash;
pub mod fsio;
pub mod git_header;
pub mod rules;
