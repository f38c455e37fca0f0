#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use dao_core::address::Address;
use dao_core::contributors::PointWeights;
use dao_core::rules::{Kind, Rules, Stored};

fn a(n: u8) -> Address {
    Address([n; 32])
}

fn header(kind: u64, state: u64) -> Vec<u8> {
    let mut v = a(1).0.to_vec();
    v.extend(kind.to_be_bytes());
    v.extend(state.to_be_bytes());
    for i in 0..16u64 {
        v.extend((100 + i).to_be_bytes());
    }
    assert_eq!(v.len(), PROPOSAL_HEADER);
    v
}

fn deploy_payload(all: bool, hosts: &[u64], url: &str) -> Vec<u8> {
    let mut v = vec![0xaa; 20];
    v.extend([0xbb; 20]);
    v.extend([0xcc; 32]);
    v.push(if all { 0x80 } else { 0 });
    v.extend(77u16.to_be_bytes());
    v.extend(((77 + 2 + 8 * hosts.len()) as u16).to_be_bytes());
    v.extend(encode_u64_array(hosts).unwrap());
    v.extend(encode_arc4_bytes(url.as_bytes()).unwrap());
    assert_eq!(v.len(), deploy_payload_len(hosts.len(), url.len()));
    v
}

fn problem(r: Result<impl std::fmt::Debug, DecodeError>) -> Problem {
    r.unwrap_err().problem
}

#[test]
fn small_boxes_decode_and_refuse_wrong_lengths() {
    let m = BoxKey::Member(a(2));
    let v: Vec<u8> = [5u64, 3].iter().flat_map(|x| x.to_be_bytes()).collect();
    assert_eq!(
        decode_member(&m, &v).unwrap(),
        Member {
            weight: 5,
            history_len: 3
        }
    );
    assert_eq!(
        problem(decode_member(&m, &v[..15])),
        Problem::Length {
            expected: 16,
            got: 15
        }
    );
    let mut long = v.clone();
    long.push(0);
    let e = decode_member(&m, &long).unwrap_err();
    assert!(e.to_string().starts_with("box m["), "{e}");
    assert!(e.to_string().contains("expected 16 bytes, got 17"), "{e}");

    let w = BoxKey::History(a(2), 1);
    assert_eq!(
        decode_history(&w, &v).unwrap(),
        HistoryEntry { seq: 5, weight: 3 }
    );
    // A member box read as a history entry is refused.
    assert!(matches!(
        problem(decode_history(&m, &v)),
        Problem::KeyMismatch { .. }
    ));

    let h = BoxKey::Host(7);
    assert_eq!(decode_host(&h, &[9; 32]).unwrap(), a(9));
    assert!(decode_host(&h, &[9; 31]).is_err());
    assert!(decode_host(&h, &[9; 33]).is_err());
}

#[test]
fn votes_refuse_unknown_choices() {
    let k = BoxKey::Vote(4, a(3));
    let rec = |c: u64| -> Vec<u8> { [c, 10, 8].iter().flat_map(|x| x.to_be_bytes()).collect() };
    for (c, choice) in [
        (0, VoteChoice::Against),
        (1, VoteChoice::For),
        (2, VoteChoice::Abstain),
    ] {
        assert_eq!(decode_vote(&k, &rec(c)).unwrap().choice, choice);
    }
    let e = decode_vote(&k, &rec(3)).unwrap_err();
    assert_eq!(
        e.problem,
        Problem::UnknownCode {
            field: "vote choice",
            code: 3
        }
    );
    assert!(e.to_string().starts_with("box v[4, "), "{e}");
    assert!(decode_vote(&k, &rec(1)[..23]).is_err());
}

#[test]
fn reports_decode_and_refuse_bad_status() {
    let k = BoxKey::Report(1, 2);
    let mut v = 2u64.to_be_bytes().to_vec();
    v.extend([1; 32]);
    v.extend(9u64.to_be_bytes());
    v.extend([2; 32]);
    v.extend(77u64.to_be_bytes());
    let r = decode_report(&k, &v).unwrap();
    assert_eq!(r.status, ReportStatus::RolledBack);
    assert_eq!(r.generation, 9);
    assert_eq!(r.reported_at, 77);
    assert!(decode_report(&BoxKey::Rollback(1, 2), &v).is_ok());
    v[7] = 4;
    assert_eq!(
        decode_report(&k, &v).unwrap().status,
        ReportStatus::NotReproducible
    );
    v[7] = 5;
    assert_eq!(
        problem(decode_report(&k, &v)),
        Problem::UnknownCode {
            field: "report status",
            code: 5
        }
    );
    v[7] = 0;
    v.push(0);
    assert!(decode_report(&k, &v).is_err());
}

#[test]
fn box_names_round_trip_and_refuse_bad_lengths() {
    for k in [
        BoxKey::Member(a(1)),
        BoxKey::History(a(1), 3),
        BoxKey::Proposal(9),
        BoxKey::Vote(9, a(2)),
        BoxKey::Host(4),
        BoxKey::Report(9, 4),
        BoxKey::Rollback(9, 4),
        BoxKey::Delegate(a(5)),
    ] {
        assert_eq!(BoxKey::parse(&k.name()).unwrap(), k);
        let mut long = k.name();
        long.push(0);
        assert!(BoxKey::parse(&long).is_err());
        assert!(BoxKey::parse(&k.name()[..k.name().len() - 1]).is_err());
    }
    assert_eq!(
        problem(BoxKey::parse(b"x12345678")),
        Problem::UnknownPrefix(b'x')
    );
    assert!(BoxKey::parse(b"").is_err());
}

#[test]
fn delegate_boxes_decode_by_their_exact_key_and_length() {
    let k = BoxKey::Delegate(a(1));
    assert_eq!(k.name().len(), 33);
    assert_eq!(k.name()[0], b'e');
    assert_eq!(k.to_string(), format!("box e[{}]", a(1)));
    assert_eq!(decode_delegate(&k, &[2; 32]).unwrap(), a(2));
    assert!(decode_delegate(&k, &[2; 31]).is_err());
    assert!(decode_delegate(&k, &[2; 33]).is_err());
    // An m box's bytes are not a delegate.
    assert!(decode_delegate(&BoxKey::Member(a(1)), &[2; 32]).is_err());
}

#[test]
fn deploy_proposals_decode() {
    let k = BoxKey::Proposal(7);
    let mut v = header(0, 3);
    v.extend(deploy_payload(false, &[1, 2], "https://x/y"));
    let p = decode_proposal(&k, &v).unwrap();
    assert_eq!(p.id, 7);
    assert_eq!(p.header.kind, Kind::Deploy);
    assert_eq!(p.header.stored, Stored::Queued);
    assert_eq!(p.header.created, 100);
    assert_eq!(p.header.voters, 115);
    match p.payload {
        ProposalPayload::Deploy {
            targets,
            description_url,
            base,
            ..
        } => {
            assert_eq!(targets, Targets::Hosts(vec![1, 2]));
            assert_eq!(description_url, "https://x/y");
            assert_eq!(base, [0xaa; 20]);
        }
        other => panic!("{other:?}"),
    }
    let mut v = header(1, 0);
    v.extend(deploy_payload(true, &[], ""));
    let p = decode_proposal(&k, &v).unwrap();
    assert!(matches!(
        p.payload,
        ProposalPayload::Deploy {
            targets: Targets::All,
            ..
        }
    ));
}

#[test]
fn proposals_refuse_malformed_bytes() {
    let k = BoxKey::Proposal(7);
    let good = {
        let mut v = header(0, 0);
        v.extend(deploy_payload(false, &[1], "u"));
        v
    };
    assert!(decode_proposal(&k, &good).is_ok());
    // Truncated header, truncated payload, trailing byte.
    assert!(matches!(
        problem(decode_proposal(&k, &good[..100])),
        Problem::TooShort { .. }
    ));
    assert!(decode_proposal(&k, &good[..good.len() - 1]).is_err());
    let mut long = good.clone();
    long.push(b'x');
    assert!(matches!(
        problem(decode_proposal(&k, &long)),
        Problem::LengthHeader { .. }
    ));
    // Unknown kind and stored state.
    let mut bad = good.clone();
    bad[39] = 10;
    assert_eq!(
        problem(decode_proposal(&k, &bad)),
        Problem::UnknownCode {
            field: "proposal kind",
            code: 10
        }
    );
    let mut bad = good.clone();
    bad[47] = 5;
    assert_eq!(
        problem(decode_proposal(&k, &bad)),
        Problem::UnknownCode {
            field: "stored state",
            code: 5
        }
    );
    // Bad bool, bad offsets, inconsistent targets, too many hosts, bad UTF-8.
    let mut bad = good.clone();
    bad[176 + 72] = 0x01;
    assert!(matches!(
        problem(decode_proposal(&k, &bad)),
        Problem::Bool { .. }
    ));
    let mut bad = good.clone();
    bad[176 + 74] = 78;
    assert!(matches!(
        problem(decode_proposal(&k, &bad)),
        Problem::Offset { field: "hosts", .. }
    ));
    let mut bad = good.clone();
    bad[176 + 76] += 1;
    assert!(matches!(
        problem(decode_proposal(&k, &bad)),
        Problem::Offset {
            field: "description_url",
            ..
        }
    ));
    let mut v = header(0, 0);
    v.extend(deploy_payload(true, &[3], "u"));
    assert_eq!(
        problem(decode_proposal(&k, &v)),
        Problem::Targets {
            all_hosts: true,
            listed: 1
        }
    );
    let mut v = header(0, 0);
    v.extend(deploy_payload(false, &[], "u"));
    assert!(matches!(
        problem(decode_proposal(&k, &v)),
        Problem::Targets { .. }
    ));
    let mut v = header(0, 0);
    v.extend(deploy_payload(false, &[1; 17], "u"));
    assert!(matches!(
        problem(decode_proposal(&k, &v)),
        Problem::TooLong { field: "hosts", .. }
    ));
    let mut v = header(0, 0);
    let mut p = deploy_payload(false, &[1], "ab");
    let n = p.len();
    p[n - 1] = 0xff;
    v.extend(p);
    assert!(matches!(
        problem(decode_proposal(&k, &v)),
        Problem::NotUtf8 { .. }
    ));
    // A long URL.
    let mut v = header(0, 0);
    v.extend(deploy_payload(false, &[1], &"x".repeat(257)));
    assert!(matches!(
        problem(decode_proposal(&k, &v)),
        Problem::TooLong {
            field: "description_url",
            ..
        }
    ));
}

#[test]
fn other_payloads_decode_strictly() {
    let k = BoxKey::Proposal(1);
    let tail = |s: &str| encode_arc4_bytes(s.as_bytes()).unwrap();
    // membership
    let mut p = a(5).0.to_vec();
    p.extend(40u64.to_be_bytes());
    p.extend(42u16.to_be_bytes());
    p.extend(tail("m"));
    let mut v = header(2, 0);
    v.extend(&p);
    assert_eq!(
        decode_proposal(&k, &v).unwrap().payload,
        ProposalPayload::Membership {
            member: a(5),
            weight: 40,
            description_url: "m".into()
        }
    );
    // hosts
    let mut p = 3u64.to_be_bytes().to_vec();
    p.extend(a(6).0);
    p.extend(42u16.to_be_bytes());
    p.extend(tail(""));
    let mut v = header(3, 0);
    v.extend(&p);
    assert!(matches!(
        decode_proposal(&k, &v).unwrap().payload,
        ProposalPayload::Hosts { host_id: 3, .. }
    ));
    // parameters
    let mut p = encode_rules(&Rules::default());
    p.extend(98u16.to_be_bytes());
    p.extend(tail("r"));
    let mut v = header(4, 0);
    v.extend(&p);
    assert_eq!(
        decode_proposal(&k, &v).unwrap().payload,
        ProposalPayload::Parameters {
            rules: Rules::default(),
            description_url: "r".into()
        }
    );
    // treasury with a wrong offset
    let mut p = a(7).0.to_vec();
    p.extend(1u64.to_be_bytes());
    p.extend(43u16.to_be_bytes());
    p.extend(tail("t"));
    let mut v = header(5, 0);
    v.extend(&p);
    assert!(matches!(
        problem(decode_proposal(&k, &v)),
        Problem::Offset { .. }
    ));
    // a membership payload under a deploy kind is refused
    let mut p = a(5).0.to_vec();
    p.extend(40u64.to_be_bytes());
    p.extend(42u16.to_be_bytes());
    p.extend(tail("m"));
    let mut v = header(0, 0);
    v.extend(&p);
    assert!(decode_proposal(&k, &v).is_err());
}

fn global(entries: &[(&str, GlobalValue)]) -> Vec<(Vec<u8>, GlobalValue)> {
    entries
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.clone()))
        .collect()
}

fn good_global() -> Vec<(Vec<u8>, GlobalValue)> {
    global(&[
        ("rules", GlobalValue::Bytes(encode_rules(&Rules::default()))),
        (
            "repo",
            GlobalValue::Bytes(b"https://git.example/fleet".to_vec()),
        ),
        ("genesis", GlobalValue::Bytes(vec![1; 20])),
        ("member_seq", GlobalValue::Uint(3)),
        ("total_weight", GlobalValue::Uint(60)),
        ("proposal_count", GlobalValue::Uint(2)),
        ("sealed", GlobalValue::Uint(1)),
        ("validators", GlobalValue::Uint(2)),
        ("attest_quorum", GlobalValue::Uint(2)),
        ("attest_reward", GlobalValue::Uint(1_000)),
        (
            "points",
            GlobalValue::Bytes(encode_point_weights(&PointWeights::default())),
        ),
        ("members", GlobalValue::Uint(2)),
        ("bonds_held", GlobalValue::Uint(5)),
    ])
}

#[test]
fn global_state_decodes_strictly() {
    let g = decode_global(&good_global()).unwrap();
    assert_eq!(g.rules, Rules::default());
    assert!(g.sealed);
    assert_eq!(g.repo, "https://git.example/fleet");
    assert_eq!(g.point_weights, PointWeights::default());
    assert_eq!((g.members, g.bonds_held), (2, 5));
    // An app from before the member count (schema 7 uint64) is not this app.
    let mut old = good_global();
    old.retain(|(k, _)| k != b"members");
    assert_eq!(
        decode_global(&old).unwrap_err().problem,
        Problem::MissingKey("members")
    );
    // point weights of the wrong length or that the app would refuse name the key
    for bytes in [vec![0; 23], vec![0; 24]] {
        let mut bad = good_global();
        bad[10].1 = GlobalValue::Bytes(bytes);
        assert_eq!(decode_global(&bad).unwrap_err().what, "global \"points\"");
    }

    let mut missing = good_global();
    missing.retain(|(k, _)| k != b"sealed");
    assert_eq!(
        decode_global(&missing).unwrap_err().problem,
        Problem::MissingKey("sealed")
    );
    let mut extra = good_global();
    extra.push((b"admin".to_vec(), GlobalValue::Uint(1)));
    assert!(matches!(
        decode_global(&extra).unwrap_err().problem,
        Problem::UnexpectedKey(_)
    ));
    let mut bad = good_global();
    bad[6].1 = GlobalValue::Uint(2);
    assert!(matches!(
        decode_global(&bad).unwrap_err().problem,
        Problem::Value { .. }
    ));
    let mut bad = good_global();
    bad[0].1 = GlobalValue::Bytes(vec![0; 79]);
    let e = decode_global(&bad).unwrap_err();
    assert_eq!(e.what, "global \"rules\"");
    let mut bad = good_global();
    let r = Rules {
        support_ppm: 1_000_000,
        ..Rules::default()
    };
    bad[0].1 = GlobalValue::Bytes(encode_rules(&r));
    assert!(matches!(
        decode_global(&bad).unwrap_err().problem,
        Problem::InvalidRules(_)
    ));
    let mut bad = good_global();
    bad[2].1 = GlobalValue::Bytes(vec![1; 21]);
    assert!(decode_global(&bad).is_err());
    let mut bad = good_global();
    bad[3].1 = GlobalValue::Bytes(vec![1]);
    assert!(matches!(
        decode_global(&bad).unwrap_err().problem,
        Problem::ValueType { .. }
    ));
}

#[test]
fn arc4_strings() {
    assert_eq!(decode_arc4_string("s", &[0, 2, b'h', b'i']).unwrap(), "hi");
    assert!(decode_arc4_string("s", &[0, 3, b'h', b'i']).is_err());
    assert!(decode_arc4_string("s", &[0, 1, b'h', b'i']).is_err());
    assert!(decode_arc4_string("s", &[0]).is_err());
}

/// The inputs on which algonaut_abi 0.9.0's decoder panics or accepts what it should refuse (the
/// evidence at the top of wire.rs): ours refuses each and names the field.
#[test]
fn the_inputs_algonaut_abi_mishandles_are_refused_by_name() {
    // Empty bytes where a tuple starts (algonaut panics on `(bool,…)` here).
    for kind in [Kind::Validator, Kind::AttestationPolicy, Kind::Deploy] {
        assert!(matches!(
            decode_payload(kind, &[]),
            Err(Problem::TooShort { got: 0, .. })
        ));
    }
    // A bool byte with a stray bit (algonaut reads 0x01 as false).
    let mut p = a(1).0.to_vec();
    p.push(0x01);
    p.extend(35u16.to_be_bytes());
    p.extend(encode_arc4_bytes(b"").unwrap());
    assert_eq!(
        decode_payload(Kind::Validator, &p),
        Err(Problem::Bool {
            field: "enabled",
            byte: 0x01
        })
    );
    // A string offset pointing into the head, whose bytes then read as a valid string
    // (algonaut decodes it as the canonical encoding's value).
    let mut p = 1u64.to_be_bytes().to_vec();
    p.extend(2u64.to_be_bytes());
    p.extend(16u16.to_be_bytes());
    p.extend(b"abcdefghijklmnop");
    let e = decode_payload(Kind::AttestationPolicy, &p).unwrap_err();
    assert!(
        matches!(
            e,
            Problem::Offset {
                expected: 18,
                got: 16,
                ..
            }
        ),
        "{e}"
    );
}
