//! `dao-sim`: the fault-schedule simulator. It drives the real executor code — the deployer's
//! passes, the pipeline, the journal, recovery and the operator's commands — through simulated
//! edges (clock, chain, git, Nix, activation, files), from a seed, and checks the invariants of
//! docs/safety.md after every step. A failing seed replays exactly.

pub mod drift;
pub mod edges;
pub mod hooks;
pub mod instance;
pub mod invariants;
pub mod reactivation;
pub mod run;
pub mod world;
