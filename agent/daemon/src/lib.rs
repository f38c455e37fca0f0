//! The agent. Today: the front of the executor pipeline (fetch the approved commits, verify
//! them). The daemon binary arrives with the rest of the pipeline, the journal and the D-Bus face.

pub mod control;
pub mod executor;
pub mod journal;
