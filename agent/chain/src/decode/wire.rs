//! What every decoder shares: an error that names the thing read and what is wrong with it, and
//! a reader that names the field it was reading when the bytes ran out.
//!
//! Why the decoding of ARC-4 stays ours and is not `algonaut_abi`'s (issue 20; encoding is
//! algonaut's, see `arc4.rs`). Probed on algonaut_abi 0.9.0 `AbiType::decode`, 2026-12-07:
//! - it panics on hostile bytes: `(bool,uint64)` and `(bool,string)` over the empty input panic
//!   with "index out of bounds: the len is 0 but the index is 0" (decode_tuple indexes
//!   `encoded[iter_index]` for a bool without a length check). Box bytes come from the chain, and
//!   a panic there would stop the agent;
//! - it accepts non-canonical encodings, so two byte strings decode to one value:
//!   `(uint64,string)` over `00×8 00 08 "abcdefgh"` (the string's offset 8 points into the head)
//!   decodes to (0, "abcdefgh") exactly like the canonical `00×8 00 0a 00 08 "abcdefgh"`; ours
//!   answers "the ARC-4 offset is 8, expected 10";
//! - it accepts a bool byte other than 0x00/0x80 inside a tuple: `(address,bool,string)` with the
//!   bool byte 0x01 decodes to `false`; ours answers "must be 0x00 or 0x80, got 0x01";
//! - its errors name an ABI type, never the field or the box: "ABI decode error: input bytes
//!   exhausted before all elements decoded", and a `uint64[]` whose header says 65,535 items is
//!   "invalid ABI type \"tuple with 65535 types\"". Ours name the box and the field
//!   (`box p[7]: description_url: the ARC-4 length header says 9 but 3 bytes follow`).

use dao_core::address::Address;

/// What a decoder refused, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: {problem}")]
pub struct DecodeError {
    /// The global key or box, e.g. `global "rules"`, `box p[7]`, `box v[7, ADDR]`.
    pub what: String,
    pub problem: Problem,
}

/// What is wrong with some bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("expected {expected} bytes, got {got}")]
    Length { expected: usize, got: usize },
    #[error("expected at least {min} bytes, got {got}")]
    TooShort { min: usize, got: usize },
    #[error("{extra} unexpected trailing byte(s)")]
    Trailing { extra: usize },
    #[error("unknown {field} code {code}")]
    UnknownCode { field: &'static str, code: u64 },
    #[error("{field}: the ARC-4 offset is {got}, expected {expected}")]
    Offset {
        field: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("{field}: the ARC-4 length header says {declared} but {available} bytes follow")]
    LengthHeader {
        field: &'static str,
        declared: usize,
        available: usize,
    },
    #[error("{field}: {got} is longer than the limit {max}")]
    TooLong {
        field: &'static str,
        max: usize,
        got: usize,
    },
    #[error("{field} is not valid UTF-8")]
    NotUtf8 { field: &'static str },
    #[error("ARC-4 bool {field} must be 0x00 or 0x80, got {byte:#04x}")]
    Bool { field: &'static str, byte: u8 },
    #[error("the target hosts are inconsistent: all_hosts = {all_hosts} with {listed} listed host(s) (exactly one of the two must be used)")]
    Targets { all_hosts: bool, listed: usize },
    #[error("global state has no key {0:?}")]
    MissingKey(&'static str),
    #[error("global state has an unexpected key {0:?}")]
    UnexpectedKey(String),
    #[error("global key {key:?} must be a {expected}, algod says type {got}")]
    ValueType {
        key: &'static str,
        expected: &'static str,
        got: u64,
    },
    #[error("{field} must be {expected}, got {got}")]
    Value {
        field: &'static str,
        expected: &'static str,
        got: u64,
    },
    #[error("the rules are invalid: {0}")]
    InvalidRules(String),
    #[error("the point weights are invalid: {0}")]
    InvalidPointWeights(String),
    #[error("unknown box prefix {0:#04x}")]
    UnknownPrefix(u8),
    #[error("the key does not match the box it was read as: expected {expected}")]
    KeyMismatch { expected: String },
    #[error("{field} could not be ARC-4 encoded: {reason}")]
    Encode { field: &'static str, reason: String },
}

pub(crate) fn err(what: impl Into<String>, problem: Problem) -> DecodeError {
    DecodeError {
        what: what.into(),
        problem,
    }
}

/// A reader over a byte slice that names the field it reads in its errors.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    pub(crate) fn take(&mut self, n: usize, min_total: usize) -> Result<&'a [u8], Problem> {
        let end = self.pos.checked_add(n).ok_or(Problem::TooShort {
            min: usize::MAX,
            got: self.bytes.len(),
        })?;
        if end > self.bytes.len() {
            return Err(Problem::TooShort {
                min: min_total.max(end),
                got: self.bytes.len(),
            });
        }
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    pub(crate) fn u64(&mut self, min_total: usize) -> Result<u64, Problem> {
        let s = self.take(8, min_total)?;
        let mut b = [0u8; 8];
        b.copy_from_slice(s);
        Ok(u64::from_be_bytes(b))
    }

    pub(crate) fn u16(&mut self, min_total: usize) -> Result<usize, Problem> {
        let s = self.take(2, min_total)?;
        Ok(usize::from(u16::from_be_bytes([s[0], s[1]])))
    }

    pub(crate) fn array<const N: usize>(&mut self, min_total: usize) -> Result<[u8; N], Problem> {
        let s = self.take(N, min_total)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub(crate) fn address(&mut self, min_total: usize) -> Result<Address, Problem> {
        Ok(Address(self.array::<32>(min_total)?))
    }

    pub(crate) fn rest(&self) -> &'a [u8] {
        &self.bytes[self.pos..]
    }

    pub(crate) fn finish(&self) -> Result<(), Problem> {
        let extra = self.bytes.len() - self.pos;
        if extra > 0 {
            Err(Problem::Trailing { extra })
        } else {
            Ok(())
        }
    }
}

pub(crate) fn exact(bytes: &[u8], n: usize) -> Result<(), Problem> {
    if bytes.len() != n {
        Err(Problem::Length {
            expected: n,
            got: bytes.len(),
        })
    } else {
        Ok(())
    }
}

pub(crate) fn be(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}
