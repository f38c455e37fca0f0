//! The app's box names, decoded (docs/contract.md, "Boxes"): each prefix byte and the exact
//! length of the key that follows it.

use super::wire::{be, err, exact, DecodeError, Problem};
use dao_core::address::Address;
use std::fmt;

/// A box name of the app, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BoxKey {
    Member(Address),
    History(Address, u64),
    Proposal(u64),
    Vote(u64, Address),
    Host(u64),
    Report(u64, u64),
    Rollback(u64, u64),
    /// `V`: a reproducible-build validator.
    Validator(Address),
    /// `q`: the attestation quorum and reward a deploy proposal was created with.
    AttestPolicy(u64),
    /// `a`: one validator's attestation for (proposal, host).
    Attestation(u64, u64, Address),
    /// `c`: how many `built` attestations for (proposal, host) carry this closure hash.
    ClosureCount(u64, u64, [u8; 32]),
    /// `g`: the attestations summary (and agreement) for (proposal, host).
    Validation(u64, u64),
    /// `k`: a validator's claimed reward for a proposal.
    Claim(u64, Address),
    /// `d`: the bond paid with a proposal and where it is now.
    Bond(u64),
    /// `H`: a host's last heartbeat.
    Heartbeat(u64),
    /// `e`: whom a member delegates its weight to, present exactly while it delegates.
    Delegate(Address),
}

fn push_u64(n: &mut Vec<u8>, v: u64) {
    n.extend_from_slice(&v.to_be_bytes());
}

impl BoxKey {
    /// The raw box name.
    pub fn name(&self) -> Vec<u8> {
        let mut n = Vec::with_capacity(49);
        match self {
            BoxKey::Member(a) => {
                n.push(b'm');
                n.extend_from_slice(&a.0);
            }
            BoxKey::History(a, i) => {
                n.push(b'w');
                n.extend_from_slice(&a.0);
                push_u64(&mut n, *i);
            }
            BoxKey::Proposal(id) => {
                n.push(b'p');
                push_u64(&mut n, *id);
            }
            BoxKey::Vote(id, a) => {
                n.push(b'v');
                push_u64(&mut n, *id);
                n.extend_from_slice(&a.0);
            }
            BoxKey::Host(h) => {
                n.push(b'h');
                push_u64(&mut n, *h);
            }
            BoxKey::Report(id, h) | BoxKey::Rollback(id, h) | BoxKey::Validation(id, h) => {
                n.push(match self {
                    BoxKey::Report(..) => b'r',
                    BoxKey::Rollback(..) => b'b',
                    _ => b'g',
                });
                push_u64(&mut n, *id);
                push_u64(&mut n, *h);
            }
            BoxKey::Validator(a) => {
                n.push(b'V');
                n.extend_from_slice(&a.0);
            }
            BoxKey::Delegate(a) => {
                n.push(b'e');
                n.extend_from_slice(&a.0);
            }
            BoxKey::AttestPolicy(id) => {
                n.push(b'q');
                push_u64(&mut n, *id);
            }
            BoxKey::Bond(id) => {
                n.push(b'd');
                push_u64(&mut n, *id);
            }
            BoxKey::Heartbeat(h) => {
                n.push(b'H');
                push_u64(&mut n, *h);
            }
            BoxKey::Attestation(id, h, a) => {
                n.push(b'a');
                push_u64(&mut n, *id);
                push_u64(&mut n, *h);
                n.extend_from_slice(&a.0);
            }
            BoxKey::ClosureCount(id, h, c) => {
                n.push(b'c');
                push_u64(&mut n, *id);
                push_u64(&mut n, *h);
                n.extend_from_slice(c);
            }
            BoxKey::Claim(id, a) => {
                n.push(b'k');
                push_u64(&mut n, *id);
                n.extend_from_slice(&a.0);
            }
        }
        n
    }

    /// Decodes a raw box name; the key's length must match its prefix exactly.
    pub fn parse(name: &[u8]) -> Result<BoxKey, DecodeError> {
        let what = || format!("box name 0x{}", hex::encode(name));
        let (&prefix, rest) = name
            .split_first()
            .ok_or_else(|| err(what(), Problem::TooShort { min: 1, got: 0 }))?;
        let need = match prefix {
            b'm' | b'V' | b'e' => 32,
            b'w' | b'v' | b'k' => 40,
            b'p' | b'h' | b'q' | b'd' | b'H' => 8,
            b'r' | b'b' | b'g' => 16,
            b'a' | b'c' => 48,
            other => return Err(err(what(), Problem::UnknownPrefix(other))),
        };
        exact(rest, need).map_err(|p| err(what(), p))?;
        let addr = |s: &[u8]| {
            let mut a = [0u8; 32];
            a.copy_from_slice(&s[..32]);
            Address(a)
        };
        Ok(match prefix {
            b'm' => BoxKey::Member(addr(rest)),
            b'V' => BoxKey::Validator(addr(rest)),
            b'e' => BoxKey::Delegate(addr(rest)),
            b'w' => BoxKey::History(addr(rest), be(&rest[32..])),
            b'p' => BoxKey::Proposal(be(rest)),
            b'h' => BoxKey::Host(be(rest)),
            b'q' => BoxKey::AttestPolicy(be(rest)),
            b'd' => BoxKey::Bond(be(rest)),
            b'H' => BoxKey::Heartbeat(be(rest)),
            b'v' => BoxKey::Vote(be(rest), addr(&rest[8..])),
            b'k' => BoxKey::Claim(be(rest), addr(&rest[8..])),
            b'r' => BoxKey::Report(be(rest), be(&rest[8..])),
            b'g' => BoxKey::Validation(be(rest), be(&rest[8..])),
            b'a' => BoxKey::Attestation(be(rest), be(&rest[8..]), addr(&rest[16..])),
            b'c' => BoxKey::ClosureCount(be(rest), be(&rest[8..]), addr(&rest[16..]).0),
            _ => BoxKey::Rollback(be(rest), be(&rest[8..])),
        })
    }
}

impl fmt::Display for BoxKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BoxKey::Member(a) => write!(f, "box m[{a}]"),
            BoxKey::History(a, i) => write!(f, "box w[{a}, {i}]"),
            BoxKey::Proposal(id) => write!(f, "box p[{id}]"),
            BoxKey::Vote(id, a) => write!(f, "box v[{id}, {a}]"),
            BoxKey::Host(h) => write!(f, "box h[{h}]"),
            BoxKey::Report(id, h) => write!(f, "box r[{id}, {h}]"),
            BoxKey::Rollback(id, h) => write!(f, "box b[{id}, {h}]"),
            BoxKey::Validator(a) => write!(f, "box V[{a}]"),
            BoxKey::AttestPolicy(id) => write!(f, "box q[{id}]"),
            BoxKey::Bond(id) => write!(f, "box d[{id}]"),
            BoxKey::Attestation(id, h, a) => write!(f, "box a[{id}, {h}, {a}]"),
            BoxKey::ClosureCount(id, h, c) => write!(f, "box c[{id}, {h}, {}]", hex::encode(c)),
            BoxKey::Validation(id, h) => write!(f, "box g[{id}, {h}]"),
            BoxKey::Claim(id, a) => write!(f, "box k[{id}, {a}]"),
            BoxKey::Heartbeat(h) => write!(f, "box H[{h}]"),
            BoxKey::Delegate(a) => write!(f, "box e[{a}]"),
        }
    }
}
