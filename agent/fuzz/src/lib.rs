//! Fuzz targets for every parser of outside input (docs/fuzzing.md).
//!
//! Each target is a function of arbitrary bytes that drives the real parser and panics when a
//! property fails, so a panic is the failure signal both for libFuzzer (the binaries in `fuzz/`)
//! and for the seed replay in `tests/seeds.rs`:
//!
//! | target | parser | properties |
//! | --- | --- | --- |
//! | [`chain_block`] | algod's `/v2/blocks/{r}/logs` and `/v2/blocks/{r}` bodies; the follower's per-round event decoding ([`dao_chain::follow::round_events`]) | every event re-encodes to its log line; errors name the round and transaction |
//! | [`chain_box`] | box names ([`dao_chain::decode::BoxKey::parse`]), every box decoder, the global state | what decodes re-encodes to the same bytes; a box read as another kind is refused; errors are consistent with the bytes |
//! | [`arc4`] | ARC-4 payloads of each proposal kind, ARC-4 strings, rules | what decodes re-encodes to the same bytes |
//! | [`config`] | the agent configuration ([`dao_core::config::parse`]) | what parses, written back as TOML, parses to the same value; every problem has a message |
//! | [`journal`] | journal records ([`dao_agent::journal::parse_record`]) | what parses, written back, parses to the same record; errors are `Corrupt` and name the file |
//! | [`diff_hash`] | git trees, blobs and commits through [`dao_core::diff_hash::diff_hash_within`] | no panic; on well-formed trees within the limits the hash equals an independent implementation of docs/diff-hash.md; errors name an object or path |
//! | [`diff_hash_pack`] | pack files and indexes read by the diff hash's own pack reader | packed blobs (deltas included) hash as the same blobs loose; no panic on a damaged pack or index; errors name what they are about |

// A panic is how a target reports a broken property.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

pub mod arc4;
pub mod chain;
mod config;
pub mod events;
pub mod git;
mod journal;
pub mod pack;
pub mod problem;

pub use arc4::arc4;
pub use chain::{chain_block, chain_box};
pub use config::config;
pub use git::diff_hash;
pub use journal::journal;
pub use pack::diff_hash_pack;

/// Reads the structured inputs of the targets. Every byte string is a valid input: past the end,
/// numbers read as 0 and byte strings as empty, so the fuzzer never wastes a mutation on a
/// framing error, and matching encoders (used by examples/make-seeds.rs) write real-shaped seeds.
pub struct Cursor<'a> {
    bytes: &'a [u8],
}

impl<'a> Cursor<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Cursor { bytes }
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The next `n` bytes, or as many as are left.
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (head, tail) = self.bytes.split_at(n.min(self.bytes.len()));
        self.bytes = tail;
        head
    }

    pub fn u8(&mut self) -> u8 {
        self.bytes(1).first().copied().unwrap_or(0)
    }

    /// Big-endian; missing bytes are zeros.
    pub fn u16(&mut self) -> u16 {
        let mut a = [0u8; 2];
        let b = self.bytes(2);
        a[..b.len()].copy_from_slice(b);
        u16::from_be_bytes(a)
    }

    /// Big-endian; missing bytes are zeros.
    pub fn u64(&mut self) -> u64 {
        let mut a = [0u8; 8];
        let b = self.bytes(8);
        a[..b.len()].copy_from_slice(b);
        u64::from_be_bytes(a)
    }

    /// A byte string with a one-byte length.
    pub fn short(&mut self) -> &'a [u8] {
        let n = self.u8();
        self.bytes(usize::from(n))
    }

    /// The rest.
    pub fn rest(&mut self) -> &'a [u8] {
        self.bytes(self.bytes.len())
    }
}

/// A target: bytes in, panic on a broken property.
pub type Target = fn(&[u8]);

/// Every target by the name its libFuzzer binary and seed directory have.
pub const TARGETS: [(&str, Target); 7] = [
    ("chain_block", chain_block),
    ("chain_box", chain_box),
    ("arc4", arc4),
    ("config", config),
    ("journal", journal),
    ("diff_hash", diff_hash),
    ("diff_hash_pack", diff_hash_pack),
];
