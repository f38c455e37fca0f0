//! Proposal boxes: the fixed header, then the kind's ARC-4 payload, which must end exactly at the
//! end of the box (docs/contract.md, "Payloads").

use super::box_key::BoxKey;
use super::rules::{
    decode_point_weights, decode_rules, MAX_HOSTS, MAX_REBALANCE, MAX_URL, PROPOSAL_HEADER,
    RULES_LEN,
};
use super::wire::{err, DecodeError, Problem, Reader};
use dao_core::address::Address;
use dao_core::contributors::PointWeights;
use dao_core::rules::{Kind, Rules, Stored};

/// The fixed 176-byte header of a proposal box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProposalHeader {
    pub proposer: Address,
    pub kind: Kind,
    pub stored: Stored,
    pub created: u64,
    pub start: u64,
    pub end: u64,
    pub member_seq: u64,
    pub total: u64,
    pub support_ppm: u64,
    pub quorum_votes: u64,
    /// `total` when the proposal has no cap.
    pub cap_weight: u64,
    pub timelock: u64,
    pub grace_period: u64,
    pub for_: u64,
    pub against: u64,
    pub abstain: u64,
    pub voted_weight: u64,
    /// 0 until the proposal is queued.
    pub eta: u64,
    pub voters: u64,
}

/// Which hosts a deploy or emergency proposal targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Targets {
    All,
    Hosts(Vec<u64>),
}

impl Targets {
    pub fn includes(&self, host_id: u64) -> bool {
        match self {
            Targets::All => true,
            Targets::Hosts(h) => h.contains(&host_id),
        }
    }
}

/// The kind's ARC-4 payload of a proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProposalPayload {
    /// Deploy (kind 0) and emergency (kind 1).
    Deploy {
        base: [u8; 20],
        head: [u8; 20],
        diff_hash: [u8; 32],
        targets: Targets,
        description_url: String,
    },
    Membership {
        member: Address,
        weight: u64,
        description_url: String,
    },
    Hosts {
        host_id: u64,
        agent: Address,
        description_url: String,
    },
    Parameters {
        rules: Rules,
        description_url: String,
    },
    Treasury {
        receiver: Address,
        amount: u64,
        description_url: String,
    },
    /// Kind 6: add (`enabled`) or remove a validator.
    Validator {
        validator: Address,
        enabled: bool,
        description_url: String,
    },
    /// Kind 7: the attestation quorum and the reward per matching attestation.
    AttestationPolicy {
        quorum: u64,
        reward: u64,
        description_url: String,
    },
    /// Kind 8: new weights from a contributor table (docs/contributors.md): the commit it was
    /// computed at and its hash are recorded so voters recompute it; `weights` are strictly
    /// increasing by address, 1..=MAX_REBALANCE entries.
    /// `points` are the point weights in force when it was proposed, recorded by the app.
    Rebalance {
        commit: [u8; 20],
        table_hash: [u8; 32],
        points: PointWeights,
        weights: Vec<(Address, u64)>,
        description_url: String,
    },
    /// Kind 9: what a line of each class is worth in contributor tables, from execute on.
    PointWeights {
        weights: PointWeights,
        description_url: String,
    },
}

impl ProposalPayload {
    /// The proposal kinds that carry this payload. Exhaustive on purpose: a new payload must say
    /// which kinds it belongs to before anything verifies it.
    pub fn kinds(&self) -> &'static [Kind] {
        match self {
            ProposalPayload::Deploy { .. } => &[Kind::Deploy, Kind::Emergency],
            ProposalPayload::Membership { .. } => &[Kind::Membership],
            ProposalPayload::Hosts { .. } => &[Kind::Hosts],
            ProposalPayload::Parameters { .. } => &[Kind::Parameters],
            ProposalPayload::Treasury { .. } => &[Kind::Treasury],
            ProposalPayload::Validator { .. } => &[Kind::Validator],
            ProposalPayload::AttestationPolicy { .. } => &[Kind::AttestationPolicy],
            ProposalPayload::Rebalance { .. } => &[Kind::Rebalance],
            ProposalPayload::PointWeights { .. } => &[Kind::PointWeights],
        }
    }

    pub fn description_url(&self) -> &str {
        match self {
            ProposalPayload::Deploy {
                description_url, ..
            }
            | ProposalPayload::Membership {
                description_url, ..
            }
            | ProposalPayload::Hosts {
                description_url, ..
            }
            | ProposalPayload::Parameters {
                description_url, ..
            }
            | ProposalPayload::Treasury {
                description_url, ..
            }
            | ProposalPayload::Validator {
                description_url, ..
            }
            | ProposalPayload::AttestationPolicy {
                description_url, ..
            }
            | ProposalPayload::Rebalance {
                description_url, ..
            }
            | ProposalPayload::PointWeights {
                description_url, ..
            } => description_url,
        }
    }
}

/// A decoded `p` box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposalBox {
    pub id: u64,
    pub header: ProposalHeader,
    pub payload: ProposalPayload,
}

/// Decodes a `p` box: the header, then the kind's payload, which must end exactly at the end.
pub fn decode_proposal(key: &BoxKey, value: &[u8]) -> Result<ProposalBox, DecodeError> {
    let id = match key {
        BoxKey::Proposal(id) => *id,
        other => {
            return Err(err(
                other.to_string(),
                Problem::KeyMismatch {
                    expected: "a p box".into(),
                },
            ))
        }
    };
    let e = |p| err(key.to_string(), p);
    let header = decode_proposal_header(value).map_err(e)?;
    let payload = decode_payload(header.kind, &value[PROPOSAL_HEADER..]).map_err(e)?;
    Ok(ProposalBox {
        id,
        header,
        payload,
    })
}

fn decode_proposal_header(value: &[u8]) -> Result<ProposalHeader, Problem> {
    let min = PROPOSAL_HEADER;
    let mut r = Reader::new(value);
    let proposer = r.address(min)?;
    let kind_code = r.u64(min)?;
    let kind = u8::try_from(kind_code)
        .ok()
        .and_then(Kind::from_code)
        .ok_or(Problem::UnknownCode {
            field: "proposal kind",
            code: kind_code,
        })?;
    let state_code = r.u64(min)?;
    let stored = u8::try_from(state_code)
        .ok()
        .and_then(Stored::from_code)
        .ok_or(Problem::UnknownCode {
            field: "stored state",
            code: state_code,
        })?;
    let mut v = [0u64; 16];
    for slot in v.iter_mut() {
        *slot = r.u64(min)?;
    }
    Ok(ProposalHeader {
        proposer,
        kind,
        stored,
        created: v[0],
        start: v[1],
        end: v[2],
        member_seq: v[3],
        total: v[4],
        support_ppm: v[5],
        quorum_votes: v[6],
        cap_weight: v[7],
        timelock: v[8],
        grace_period: v[9],
        for_: v[10],
        against: v[11],
        abstain: v[12],
        voted_weight: v[13],
        eta: v[14],
        voters: v[15],
    })
}

/// Reads an ARC-4 `string` tail that starts at `offset` (checked against the head's offset) and
/// must end exactly at the end of `payload`.
fn url_tail(payload: &[u8], head_offset: usize, expected: usize) -> Result<String, Problem> {
    if head_offset != expected {
        return Err(Problem::Offset {
            field: "description_url",
            expected,
            got: head_offset,
        });
    }
    let mut r = Reader::new(payload);
    r.take(expected, expected + 2)?;
    let len = r.u16(expected + 2)?;
    let available = r.rest().len();
    if len != available {
        return Err(Problem::LengthHeader {
            field: "description_url",
            declared: len,
            available,
        });
    }
    if len > MAX_URL {
        return Err(Problem::TooLong {
            field: "description_url",
            max: MAX_URL,
            got: len,
        });
    }
    String::from_utf8(r.rest().to_vec()).map_err(|_| Problem::NotUtf8 {
        field: "description_url",
    })
}

/// Decodes a kind's ARC-4 payload (docs/contract.md, "Payloads").
pub fn decode_payload(kind: Kind, payload: &[u8]) -> Result<ProposalPayload, Problem> {
    let mut r = Reader::new(payload);
    match kind {
        Kind::Deploy | Kind::Emergency => {
            const HEAD: usize = 77;
            let base = r.array::<20>(HEAD)?;
            let head = r.array::<20>(HEAD)?;
            let diff_hash = r.array::<32>(HEAD)?;
            let all_byte = r.array::<1>(HEAD)?[0];
            let all_hosts = match all_byte {
                0x00 => false,
                0x80 => true,
                byte => {
                    return Err(Problem::Bool {
                        field: "all_hosts",
                        byte,
                    })
                }
            };
            let hosts_offset = r.u16(HEAD)?;
            let url_offset = r.u16(HEAD)?;
            if hosts_offset != HEAD {
                return Err(Problem::Offset {
                    field: "hosts",
                    expected: HEAD,
                    got: hosts_offset,
                });
            }
            let n = r.u16(HEAD + 2)?;
            if n > MAX_HOSTS {
                return Err(Problem::TooLong {
                    field: "hosts",
                    max: MAX_HOSTS,
                    got: n,
                });
            }
            let mut hosts = Vec::with_capacity(n);
            for _ in 0..n {
                hosts.push(r.u64(HEAD + 2 + 8 * n)?);
            }
            if all_hosts == (n > 0) {
                return Err(Problem::Targets {
                    all_hosts,
                    listed: n,
                });
            }
            let description_url = url_tail(payload, url_offset, HEAD + 2 + 8 * n)?;
            Ok(ProposalPayload::Deploy {
                base,
                head,
                diff_hash,
                targets: if all_hosts {
                    Targets::All
                } else {
                    Targets::Hosts(hosts)
                },
                description_url,
            })
        }
        Kind::Membership => {
            let member = r.address(42)?;
            let weight = r.u64(42)?;
            let off = r.u16(42)?;
            let description_url = url_tail(payload, off, 42)?;
            Ok(ProposalPayload::Membership {
                member,
                weight,
                description_url,
            })
        }
        Kind::Hosts => {
            let host_id = r.u64(42)?;
            let agent = r.address(42)?;
            let off = r.u16(42)?;
            let description_url = url_tail(payload, off, 42)?;
            Ok(ProposalPayload::Hosts {
                host_id,
                agent,
                description_url,
            })
        }
        Kind::Parameters => {
            const HEAD: usize = RULES_LEN + 2;
            let rules = decode_rules(r.take(RULES_LEN, HEAD)?)?;
            let off = r.u16(HEAD)?;
            let description_url = url_tail(payload, off, HEAD)?;
            Ok(ProposalPayload::Parameters {
                rules,
                description_url,
            })
        }
        Kind::Treasury => {
            let receiver = r.address(42)?;
            let amount = r.u64(42)?;
            let off = r.u16(42)?;
            let description_url = url_tail(payload, off, 42)?;
            Ok(ProposalPayload::Treasury {
                receiver,
                amount,
                description_url,
            })
        }
        Kind::Validator => {
            let validator = r.address(35)?;
            let enabled = match r.array::<1>(35)?[0] {
                0x00 => false,
                0x80 => true,
                byte => {
                    return Err(Problem::Bool {
                        field: "enabled",
                        byte,
                    })
                }
            };
            let off = r.u16(35)?;
            let description_url = url_tail(payload, off, 35)?;
            Ok(ProposalPayload::Validator {
                validator,
                enabled,
                description_url,
            })
        }
        Kind::AttestationPolicy => {
            let quorum = r.u64(18)?;
            let reward = r.u64(18)?;
            let off = r.u16(18)?;
            let description_url = url_tail(payload, off, 18)?;
            Ok(ProposalPayload::AttestationPolicy {
                quorum,
                reward,
                description_url,
            })
        }
        Kind::PointWeights => {
            let weights = decode_point_weights(r.take(24, 26)?)?;
            let off = r.u16(26)?;
            let description_url = url_tail(payload, off, 26)?;
            Ok(ProposalPayload::PointWeights {
                weights,
                description_url,
            })
        }
        Kind::Rebalance => {
            // commit ++ hash ++ points ++ offset(weights) ++ offset(url), then the array, then
            // the url
            const HEAD: usize = 80;
            let commit = r.array::<20>(HEAD)?;
            let table_hash = r.array::<32>(HEAD)?;
            let points = decode_point_weights(r.take(24, HEAD)?)?;
            let weights_offset = r.u16(HEAD)?;
            let url_offset = r.u16(HEAD)?;
            if weights_offset != HEAD {
                return Err(Problem::Offset {
                    field: "weights",
                    expected: HEAD,
                    got: weights_offset,
                });
            }
            let n = r.u16(HEAD + 2)?;
            if n > MAX_REBALANCE {
                return Err(Problem::TooLong {
                    field: "weights",
                    max: MAX_REBALANCE,
                    got: n,
                });
            }
            let end = HEAD + 2 + 40 * n;
            let mut weights = Vec::with_capacity(n);
            for _ in 0..n {
                let member = r.address(end)?;
                weights.push((member, r.u64(end)?));
            }
            let description_url = url_tail(payload, url_offset, end)?;
            Ok(ProposalPayload::Rebalance {
                commit,
                table_hash,
                points,
                weights,
                description_url,
            })
        }
    }
}

/// Reads one ARC-4 `string` that must fill `bytes` exactly (used for method arguments and logs).
pub fn decode_arc4_string(field: &'static str, bytes: &[u8]) -> Result<String, Problem> {
    let mut r = Reader::new(bytes);
    let len = r.u16(2)?;
    if len != r.rest().len() {
        return Err(Problem::LengthHeader {
            field,
            declared: len,
            available: r.rest().len(),
        });
    }
    let s = String::from_utf8(r.rest().to_vec()).map_err(|_| Problem::NotUtf8 { field })?;
    r.take(len, 2 + len)?;
    r.finish()?;
    Ok(s)
}
