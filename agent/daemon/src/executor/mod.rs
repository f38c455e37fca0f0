//! The executor pipeline: fetch → verify → dry-build → build → activate → confirm → report.
//! Each step acts only on facts it derived itself: commit ids and the diff hash approved on
//! chain, and git objects it hashed.

pub mod activate;
pub mod build;
pub mod closure;
pub mod command;
pub mod confirm;
pub mod direct;
pub mod fetch;
pub mod pipeline;
pub mod reproducible;
pub mod systemd;
pub mod units;
pub mod verify;

pub use fetch::{fetch_commits, FetchError, Fetched};
pub use verify::{plan_lineage, verify_change, Approved, LineageError, VerifyError};
