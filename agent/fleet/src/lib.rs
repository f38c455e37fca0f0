//! A whole governed fleet on one machine, for the demo (`dao-demo`, README command 1), the
//! end-to-end test (`tests/e2e.rs`) and the fleet benchmark (`benches/fleet.rs`).
//!
//! [`fleet::Fleet`] starts a devnet, the governed repository behind a git daemon, a DAO of three
//! members, N sandboxed hosts, each with its own system profile, private system bus and
//! `dao-agent` in direct switch mode, and optionally reproducible-build validators
//! (`dao-agent --role validator`, each with its own chroot Nix store, [`validator`]); it
//! proposes, votes, finalizes and waits for the hosts' reports on chain.
//! [`scenario::Scenario`] is the timeline of issues 7 and 14 on two hosts and two validators
//! with an attestation quorum of 2. Everything the harness starts is stopped by its PID (never
//! by name) and its directory removed when it is dropped, also on error and on Ctrl-C
//! ([`interrupt`]).
//!
//! Needs root (the devnet's mount namespace, the agents' bus names), Nix (nix-bin), git,
//! dbus-daemon, the repository's `.venv`, and the workspace's programs built
//! (`cargo build --workspace --bins`); `scripts/demo` provides all of it.

pub mod agent_proc;
pub mod bins;
pub mod devnet;
pub mod dump;
pub mod fleet;
pub mod host;
pub mod interrupt;
pub mod process;
pub mod proxy;
pub mod repo;
pub mod scenario;
pub mod story;
pub mod validator;

pub use fleet::{Fleet, FleetOptions};
pub use scenario::Scenario;
pub use story::Story;
