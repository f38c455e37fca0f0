//! The agent: the executor pipeline (fetch, verify, dry-build, build, activate, confirm, report),
//! its journal, its D-Bus face, and the `dao-agent` daemon that runs the roles.

pub mod control;
pub mod daemon;
pub mod edges;
pub mod executor;
pub mod hooks;
pub mod journal;
pub mod metrics;
pub mod mutants;
pub mod observe;
pub mod validator;
