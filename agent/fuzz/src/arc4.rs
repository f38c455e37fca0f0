//! ARC-4 decoding: the payload of each proposal kind, ARC-4 strings and the rules struct.

use crate::problem::check_problem;
use algonaut_abi::abi_type::{AbiType, AbiValue};
use dao_chain::decode::{self, Problem, ProposalPayload, Targets};
use dao_core::address::Address;
use dao_core::rules::Kind;
use std::str::FromStr;

/// The first byte chooses the decoder, the rest is its input:
/// 0–5 the payload of the proposal kind with that code, 6 an ARC-4 string, 7 the rules.
pub fn arc4(data: &[u8]) {
    let Some((&sel, bytes)) = data.split_first() else {
        return;
    };
    match sel % 8 {
        code @ 0..=5 => {
            let kind = Kind::from_code(code).expect("kinds 0 to 5 exist");
            match decode::decode_payload(kind, bytes) {
                Ok(p) => {
                    check_kind(kind, &p);
                    assert_eq!(encode_payload(&p), bytes, "{p:?} does not re-encode");
                    assert!(p.description_url().len() <= decode::MAX_URL);
                }
                Err(p) => check_problem(&p),
            }
        }
        6 => match decode::decode_arc4_string("field", bytes) {
            // algonaut_abi encodes one item fewer than a uint16 header holds (decode/arc4.rs).
            Ok(s) if s.len() > decode::MAX_ARC4_ITEMS => assert!(matches!(
                decode::encode_arc4_bytes(s.as_bytes()),
                Err(Problem::TooLong { .. })
            )),
            Ok(s) => assert_eq!(decode::encode_arc4_bytes(s.as_bytes()).unwrap(), bytes),
            Err(p) => {
                check_problem(&p);
                if let Problem::LengthHeader { available, .. } = p {
                    assert_eq!(available, bytes.len() - 2);
                }
            }
        },
        _ => {
            let rules = decode::decode_rules(bytes);
            match &rules {
                Ok(r) => assert_eq!(decode::encode_rules(r), bytes),
                Err(p) => {
                    assert_eq!(
                        *p,
                        Problem::Length {
                            expected: decode::RULES_LEN,
                            got: bytes.len()
                        }
                    );
                }
            }
            // Valid rules are exactly the decodable rules without problems.
            match (decode::decode_valid_rules(bytes), rules) {
                (Ok(v), Ok(r)) => {
                    assert_eq!(v, r);
                    assert!(r.problems().is_empty());
                }
                (Err(Problem::InvalidRules(text)), Ok(r)) => {
                    assert!(!r.problems().is_empty());
                    for p in r.problems() {
                        assert!(text.contains(&p.to_string()), "{text}");
                    }
                }
                (Err(a), Err(b)) => assert_eq!(a, b),
                (v, r) => panic!("decode_valid_rules {v:?} but decode_rules {r:?}"),
            }
        }
    }
}

fn check_kind(kind: Kind, p: &ProposalPayload) {
    let ok = match p {
        ProposalPayload::Deploy { targets, .. } => {
            if let Targets::Hosts(h) = targets {
                assert!(!h.is_empty() && h.len() <= decode::MAX_HOSTS);
            }
            matches!(kind, Kind::Deploy | Kind::Emergency)
        }
        ProposalPayload::Membership { .. } => kind == Kind::Membership,
        ProposalPayload::Hosts { .. } => kind == Kind::Hosts,
        ProposalPayload::Parameters { .. } => kind == Kind::Parameters,
        ProposalPayload::Treasury { .. } => kind == Kind::Treasury,
        ProposalPayload::Validator { .. } => kind == Kind::Validator,
        ProposalPayload::AttestationPolicy { .. } => kind == Kind::AttestationPolicy,
        ProposalPayload::Rebalance {
            weights, points, ..
        } => {
            assert!(weights.len() <= decode::MAX_REBALANCE);
            assert_eq!(points.problem(), None);
            kind == Kind::Rebalance
        }
        ProposalPayload::PointWeights { weights, .. } => {
            assert_eq!(weights.problem(), None);
            kind == Kind::PointWeights
        }
    };
    assert!(ok, "kind {kind:?} decoded as {p:?}");
}

/// The ARC-4 tuple the app stores for a payload (docs/contract.md, "Payloads"), encoded by
/// `algonaut_abi` from the tuple's type: an implementation independent of our decoders, so the
/// round trip checks ours against the SDK's reading of ARC-4 (static fields, uint16 offsets of
/// the dynamic ones, then their tails).
pub fn encode_payload(p: &ProposalPayload) -> Vec<u8> {
    let bytes = |b: &[u8]| AbiValue::Array(b.iter().map(|x| AbiValue::Byte(*x)).collect());
    let addr = |a: &Address| AbiValue::Address((*a).into());
    let (ty, values) = match p {
        ProposalPayload::Deploy {
            base,
            head,
            diff_hash,
            targets,
            description_url,
        } => {
            let (all, hosts): (bool, &[u64]) = match targets {
                Targets::All => (true, &[]),
                Targets::Hosts(h) => (false, h),
            };
            (
                "(byte[20],byte[20],byte[32],bool,uint64[],string)",
                vec![
                    bytes(base),
                    bytes(head),
                    bytes(diff_hash),
                    AbiValue::Bool(all),
                    AbiValue::Array(hosts.iter().map(|h| AbiValue::from(*h)).collect()),
                    AbiValue::String(description_url.clone()),
                ],
            )
        }
        ProposalPayload::Membership {
            member,
            weight,
            description_url,
        } => (
            "(address,uint64,string)",
            vec![
                addr(member),
                AbiValue::from(*weight),
                AbiValue::String(description_url.clone()),
            ],
        ),
        ProposalPayload::Hosts {
            host_id,
            agent,
            description_url,
        } => (
            "(uint64,address,string)",
            vec![
                AbiValue::from(*host_id),
                addr(agent),
                AbiValue::String(description_url.clone()),
            ],
        ),
        ProposalPayload::Parameters {
            rules: r,
            description_url,
        } => {
            let words = [
                r.voting_delay,
                r.voting_period,
                r.support_ppm,
                r.quorum_ppm,
                r.emergency_period,
                r.emergency_support_ppm,
                r.timelock,
                r.grace_period,
                r.min_proposer_weight,
                r.vote_cap_ppm,
                r.proposal_bond,
                r.heartbeat_interval,
            ];
            (
                "(uint64[12],string)",
                vec![
                    AbiValue::Array(words.iter().map(|w| AbiValue::from(*w)).collect()),
                    AbiValue::String(description_url.clone()),
                ],
            )
        }
        ProposalPayload::Treasury {
            receiver,
            amount,
            description_url,
        } => (
            "(address,uint64,string)",
            vec![
                addr(receiver),
                AbiValue::from(*amount),
                AbiValue::String(description_url.clone()),
            ],
        ),
        ProposalPayload::Validator {
            validator,
            enabled,
            description_url,
        } => (
            "(address,bool,string)",
            vec![
                addr(validator),
                AbiValue::Bool(*enabled),
                AbiValue::String(description_url.clone()),
            ],
        ),
        ProposalPayload::AttestationPolicy {
            quorum,
            reward,
            description_url,
        } => (
            "(uint64,uint64,string)",
            vec![
                AbiValue::from(*quorum),
                AbiValue::from(*reward),
                AbiValue::String(description_url.clone()),
            ],
        ),
        ProposalPayload::PointWeights {
            weights,
            description_url,
        } => (
            "(uint64,uint64,uint64,string)",
            vec![
                AbiValue::from(weights.code),
                AbiValue::from(weights.comment),
                AbiValue::from(weights.text),
                AbiValue::String(description_url.clone()),
            ],
        ),
        ProposalPayload::Rebalance {
            commit,
            table_hash,
            points,
            weights,
            description_url,
        } => (
            "(byte[20],byte[32],(uint64,uint64,uint64),(address,uint64)[],string)",
            vec![
                bytes(commit),
                bytes(table_hash),
                AbiValue::Array(
                    [points.code, points.comment, points.text]
                        .iter()
                        .map(|v| AbiValue::from(*v))
                        .collect(),
                ),
                AbiValue::Array(
                    weights
                        .iter()
                        .map(|(a, w)| AbiValue::Array(vec![addr(a), AbiValue::from(*w)]))
                        .collect(),
                ),
                AbiValue::String(description_url.clone()),
            ],
        ),
    };
    let ty = AbiType::from_str(ty).expect("the payload types are valid ARC-4");
    ty.encode(AbiValue::Array(values))
        .unwrap_or_else(|e| panic!("algonaut_abi cannot encode {p:?}: {e}"))
}
