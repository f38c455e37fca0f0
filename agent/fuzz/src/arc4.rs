//! ARC-4 decoding: the payload of each proposal kind, ARC-4 strings and the rules struct.

use crate::problem::check_problem;
use dao_chain::decode::{self, Problem, ProposalPayload, Targets};
use dao_core::rules::Kind;

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
                            expected: 80,
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

/// The ARC-4 tuple the app stores for a payload (docs/contract.md, "Payloads"): static fields,
/// then uint16 offsets of the dynamic ones, then the dynamic tails (`uint64[]`, `string`).
pub fn encode_payload(p: &ProposalPayload) -> Vec<u8> {
    let u16_be = |n: usize| u16::try_from(n).unwrap().to_be_bytes().to_vec();
    let string = |s: &str| [u16_be(s.len()), s.as_bytes().to_vec()].concat();
    match p {
        ProposalPayload::Deploy {
            base,
            head,
            diff_hash,
            targets,
            description_url,
        } => {
            let (all, hosts): (u8, &[u64]) = match targets {
                Targets::All => (0x80, &[]),
                Targets::Hosts(h) => (0, h),
            };
            let head_len = 20 + 20 + 32 + 1 + 2 + 2;
            let hosts_tail: Vec<u8> = [
                u16_be(hosts.len()),
                hosts.iter().flat_map(|h| h.to_be_bytes()).collect(),
            ]
            .concat();
            [
                base.to_vec(),
                head.to_vec(),
                diff_hash.to_vec(),
                vec![all],
                u16_be(head_len),
                u16_be(head_len + hosts_tail.len()),
                hosts_tail,
                string(description_url),
            ]
            .concat()
        }
        ProposalPayload::Membership {
            member,
            weight,
            description_url,
        } => [
            member.0.to_vec(),
            weight.to_be_bytes().to_vec(),
            u16_be(42),
            string(description_url),
        ]
        .concat(),
        ProposalPayload::Hosts {
            host_id,
            agent,
            description_url,
        } => [
            host_id.to_be_bytes().to_vec(),
            agent.0.to_vec(),
            u16_be(42),
            string(description_url),
        ]
        .concat(),
        ProposalPayload::Parameters {
            rules,
            description_url,
        } => [
            decode::encode_rules(rules),
            u16_be(82),
            string(description_url),
        ]
        .concat(),
        ProposalPayload::Treasury {
            receiver,
            amount,
            description_url,
        } => [
            receiver.0.to_vec(),
            amount.to_be_bytes().to_vec(),
            u16_be(42),
            string(description_url),
        ]
        .concat(),
        ProposalPayload::Validator {
            validator,
            enabled,
            description_url,
        } => [
            validator.0.to_vec(),
            vec![if *enabled { 0x80 } else { 0 }],
            u16_be(35),
            string(description_url),
        ]
        .concat(),
        ProposalPayload::AttestationPolicy {
            quorum,
            reward,
            description_url,
        } => [
            quorum.to_be_bytes().to_vec(),
            reward.to_be_bytes().to_vec(),
            u16_be(18),
            string(description_url),
        ]
        .concat(),
        ProposalPayload::PointWeights {
            weights,
            description_url,
        } => [
            decode::encode_point_weights(weights),
            u16_be(26),
            string(description_url),
        ]
        .concat(),
        ProposalPayload::Rebalance {
            commit,
            table_hash,
            points,
            weights,
            description_url,
        } => {
            let head_len = 20 + 32 + 24 + 2 + 2;
            let weights_tail: Vec<u8> = [
                u16_be(weights.len()),
                weights
                    .iter()
                    .flat_map(|(a, w)| [a.0.to_vec(), w.to_be_bytes().to_vec()].concat())
                    .collect(),
            ]
            .concat();
            [
                commit.to_vec(),
                table_hash.to_vec(),
                decode::encode_point_weights(points),
                u16_be(head_len),
                u16_be(head_len + weights_tail.len()),
                weights_tail,
                string(description_url),
            ]
            .concat()
        }
    }
}
