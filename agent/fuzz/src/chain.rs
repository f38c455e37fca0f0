//! The chain client's decoders: block logs (ARC-28 events), boxes and the global state.
//!
//! The encoders here are written from docs/contract.md, independently of the decoders, so that
//! "decodes, then re-encodes to the same bytes" checks both: the decoders are strict (every byte
//! has one meaning, nothing is defaulted), so anything they accept must come back byte for byte.

pub use crate::events::encode_event;
use crate::problem::{check_decode_error, check_problem};
use crate::Cursor;
use algonaut::model::algod::ext::block::BlockResponse;
use algonaut::model::algod::BlockLogs;
use dao_chain::decode::{
    self, BoxKey, DecodeError, GlobalState, GlobalValue, HistoryEntry, Member, Problem,
    ProposalBox, ProposalHeader, Report, VoteRecord,
};
use dao_chain::events::{self, Log, LogError, RETURN_PREFIX};
use dao_chain::follow::{round_events, FollowError};
use dao_chain::validation;
use dao_core::address::Address;

/// The app id the harness follows; block logs of other apps must be ignored.
pub const APP_ID: u64 = 1001;

// ------------------------------------------------------------------ blocks and events

/// Block logs as the follower sees them. The first byte chooses the shape of the rest:
/// - even: the JSON body algod answers to `GET /v2/blocks/{round}/logs`, decoded by algonaut as
///   the node client does, then the follower's event decoding; the same body is also tried as
///   `GET /v2/blocks/{round}` (the block whose timestamp the follower reads);
/// - odd: the `(txid, app id, log lines)` list itself, so the fuzzer works on event bytes
///   without base64 in the way.
pub fn chain_block(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        // reqwest's `text()` decodes the body lossily before algonaut parses it.
        let text = String::from_utf8_lossy(rest);
        if let Ok(logs) = serde_json::from_str::<BlockLogs>(&text) {
            let logs: Vec<(String, u64, Vec<Vec<u8>>)> = logs
                .logs
                .into_iter()
                .map(|l| {
                    (
                        l.tx_id,
                        l.application_index,
                        l.logs.into_iter().map(|b| b.0).collect(),
                    )
                })
                .collect();
            check_round(&logs);
        }
        if let Ok(block) = serde_json::from_str::<BlockResponse>(&text) {
            let _ = block.block.timestamp;
        }
    } else {
        check_round(&read_logs(rest));
    }
}

/// The structured form of a round's logs: per app call, the txid (one-byte length), a byte whose
/// low bit says whether the call is to the followed app, the number of lines (one byte, at most
/// 16 used), and each line (two-byte length).
fn read_logs(data: &[u8]) -> Vec<(String, u64, Vec<Vec<u8>>)> {
    let mut c = Cursor::new(data);
    let mut logs = Vec::new();
    while !c.is_empty() && logs.len() < 16 {
        let txid = String::from_utf8_lossy(c.short()).into_owned();
        let app = if c.u8() % 2 == 1 { APP_ID } else { APP_ID + 1 };
        let n = c.u8() % 17;
        let lines = (0..n)
            .map(|_| {
                let len = c.u16();
                c.bytes(usize::from(len)).to_vec()
            })
            .collect();
        logs.push((txid, app, lines));
    }
    logs
}

/// Writes logs in the structured form [`chain_block`] reads after an odd first byte.
pub fn write_logs(logs: &[(&str, bool, Vec<Vec<u8>>)]) -> Vec<u8> {
    let mut out = vec![1];
    for (txid, ours, lines) in logs {
        out.push(u8::try_from(txid.len()).unwrap());
        out.extend(txid.as_bytes());
        out.push(u8::from(*ours));
        out.push(u8::try_from(lines.len()).unwrap());
        for l in lines {
            out.extend(u16::try_from(l.len()).unwrap().to_be_bytes());
            out.extend(l);
        }
    }
    out
}

/// Runs the follower's decoding of one round and checks it line by line against
/// [`events::decode_log`] and the independent encoder.
fn check_round(logs: &[(String, u64, Vec<Vec<u8>>)]) {
    const ROUND: u64 = 77;
    let got = round_events(APP_ID, ROUND, logs);
    let mut expected = Vec::new();
    let mut first_error: Option<(&str, LogError)> = None;
    'outer: for (txid, app, lines) in logs {
        if *app != APP_ID {
            continue;
        }
        for line in lines {
            match events::decode_log(line) {
                Ok(Log::Event(e)) => {
                    assert_eq!(encode_event(&e), *line, "{e:?} does not re-encode");
                    expected.push((txid.as_str(), e));
                }
                Ok(Log::Return(v)) => {
                    assert_eq!(line[..4], RETURN_PREFIX);
                    assert_eq!(line[4..], v[..]);
                }
                Err(e) => {
                    check_log_error(&e, line);
                    first_error = Some((txid, e));
                    break 'outer;
                }
            }
        }
    }
    match (got, first_error) {
        (Ok(events), None) => {
            assert_eq!(events.len(), expected.len());
            for (i, (ev, (txid, e))) in events.iter().zip(&expected).enumerate() {
                assert_eq!(ev.round, ROUND);
                assert_eq!(ev.index as usize, i);
                assert_eq!(ev.txid, *txid);
                assert_eq!(ev.event, *e);
                assert!(ev.proposal.is_none());
            }
        }
        (
            Err(FollowError::Log {
                round,
                txid,
                source,
            }),
            Some((want_txid, want)),
        ) => {
            assert_eq!(round, ROUND);
            assert_eq!(txid, want_txid);
            assert_eq!(source, want);
            let text = FollowError::Log {
                round,
                txid: txid.clone(),
                source,
            }
            .to_string();
            assert!(text.contains(&format!("round {ROUND}")), "{text}");
            assert!(text.contains(&txid), "{text}");
        }
        (got, want) => panic!("round_events gave {got:?}, decode_log line by line {want:?}"),
    }
}

fn check_log_error(e: &LogError, line: &[u8]) {
    match e {
        LogError::Short(n) => assert!(*n < 4 && *n == line.len()),
        LogError::UnknownSelector(hex_sel) => assert_eq!(*hex_sel, hex::encode(&line[..4])),
        LogError::Length { expected, got, .. } => {
            assert_ne!(expected, got);
            assert_eq!(*got, line.len() - 4);
        }
        LogError::Field { problem, .. } => check_problem(problem),
    }
    assert!(!e.to_string().is_empty());
}

// ------------------------------------------------------------------ boxes

/// One box: a byte whose value mod 64 is the length of the name, a selector byte, the name,
/// then the value. The value is decoded as every kind of box under the parsed key, and under a
/// key of another kind (chosen by the selector), which must refuse it. A first byte `G` instead
/// makes the rest a list of global-state entries.
pub fn chain_box(data: &[u8]) {
    let mut c = Cursor::new(data);
    let first = c.u8();
    if first == b'G' {
        return global(c.rest());
    }
    let sel = c.u8();
    let name = c.bytes(usize::from(first % 64));
    let value = c.rest();
    let parsed = BoxKey::parse(name);
    match &parsed {
        Ok(k) => {
            assert_eq!(k.name(), name, "{k} does not re-encode");
            assert_eq!(BoxKey::parse(&k.name()).as_ref(), Ok(k));
            assert!(k.to_string().starts_with("box "), "{k}");
            check_box(k, value);
        }
        Err(e) => check_decode_error(e, &format!("box name 0x{}", hex::encode(name))),
    }
    let a = Address([7; 32]);
    let other = match sel % 12 {
        0 => BoxKey::Member(a),
        1 => BoxKey::History(a, 1),
        2 => BoxKey::Proposal(2),
        3 => BoxKey::Vote(3, a),
        4 => BoxKey::Host(4),
        5 => BoxKey::Report(5, 6),
        6 => BoxKey::Validator(a),
        7 => BoxKey::AttestPolicy(9),
        8 => BoxKey::Attestation(9, 1, a),
        9 => BoxKey::Validation(9, 1),
        10 => BoxKey::Claim(9, a),
        _ => BoxKey::Rollback(7, 8),
    };
    check_box(&other, value);
}

/// Writes a box in the form [`chain_box`] reads, with `sel` choosing the other key.
pub fn write_box(key: &BoxKey, sel: u8, value: &[u8]) -> Vec<u8> {
    let name = key.name();
    let mut out = vec![u8::try_from(name.len()).unwrap(), sel];
    out.extend(name);
    out.extend(value);
    out
}

/// Decodes `value` as each kind of box under `key`: only the kind of the key may succeed, and
/// what succeeds must re-encode to `value`.
fn check_box(key: &BoxKey, value: &[u8]) {
    let what = key.to_string();
    let kind_ok = |r: Result<Vec<u8>, DecodeError>, matches: bool| match r {
        Ok(bytes) => {
            assert!(matches, "{key} decoded as another kind of box");
            assert_eq!(bytes, value, "{key} does not re-encode");
        }
        Err(e) => {
            check_decode_error(&e, &what);
            if !matches {
                assert!(
                    matches!(e.problem, Problem::KeyMismatch { .. }),
                    "{key} read as another kind: {e}"
                );
            }
        }
    };
    kind_ok(
        decode::decode_member(key, value).map(|m| encode_member(&m)),
        matches!(key, BoxKey::Member(_)),
    );
    kind_ok(
        decode::decode_history(key, value).map(|h| encode_history(&h)),
        matches!(key, BoxKey::History(..)),
    );
    kind_ok(
        decode::decode_vote(key, value).map(|v| encode_vote(&v)),
        matches!(key, BoxKey::Vote(..)),
    );
    kind_ok(
        decode::decode_host(key, value).map(|h| h.0.to_vec()),
        matches!(key, BoxKey::Host(_)),
    );
    kind_ok(
        decode::decode_delegate(key, value).map(|d| d.0.to_vec()),
        matches!(key, BoxKey::Delegate(_)),
    );
    kind_ok(
        decode::decode_report(key, value).map(|r| encode_report(&r)),
        matches!(key, BoxKey::Report(..) | BoxKey::Rollback(..)),
    );
    kind_ok(
        decode::decode_proposal(key, value).map(|p| {
            if let BoxKey::Proposal(id) = key {
                assert_eq!(p.id, *id);
            }
            encode_proposal(&p)
        }),
        matches!(key, BoxKey::Proposal(_)),
    );
    check_validator_boxes(key, value, kind_ok);
}

/// The validator boxes (docs/contract.md, "Validators"), each re-encoded by hand.
fn check_validator_boxes(
    key: &BoxKey,
    value: &[u8],
    kind_ok: impl Fn(Result<Vec<u8>, DecodeError>, bool),
) {
    kind_ok(
        validation::decode_validator(key, value).map(|t| u64s(&[t])),
        matches!(key, BoxKey::Validator(_)),
    );
    kind_ok(
        validation::decode_attest_policy(key, value).map(|p| u64s(&[p.quorum, p.reward])),
        matches!(key, BoxKey::AttestPolicy(_)),
    );
    kind_ok(
        validation::decode_attestation(key, value).map(|a| {
            [
                u64s(&[u64::from(a.outcome.code())]),
                a.closure.to_vec(),
                u64s(&[a.attested_at]),
            ]
            .concat()
        }),
        matches!(key, BoxKey::Attestation(..)),
    );
    kind_ok(
        validation::decode_validation(key, value).map(|g| {
            [
                u64s(&[g.attestations, g.best, u64::from(g.agreed.is_some())]),
                g.agreed
                    .unwrap_or_else(|| value[24..56].try_into().unwrap())
                    .to_vec(),
                u64s(&[g.agreed_at]),
            ]
            .concat()
        }),
        matches!(key, BoxKey::Validation(..)),
    );
    kind_ok(
        validation::decode_claim(key, value).map(|k| u64s(&[k.amount, k.hosts, k.claimed_at])),
        matches!(key, BoxKey::Claim(..)),
    );
}

fn u64s(v: &[u64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_be_bytes()).collect()
}

fn encode_member(m: &Member) -> Vec<u8> {
    u64s(&[m.weight, m.history_len])
}

fn encode_history(h: &HistoryEntry) -> Vec<u8> {
    u64s(&[h.seq, h.weight])
}

fn encode_vote(v: &VoteRecord) -> Vec<u8> {
    u64s(&[u64::from(v.choice.code()), v.weight, v.effective_weight])
}

fn encode_report(r: &Report) -> Vec<u8> {
    let mut out = u64::from(r.status.code()).to_be_bytes().to_vec();
    out.extend(r.toplevel_sha256);
    out.extend(r.generation.to_be_bytes());
    out.extend(r.logs_sha256);
    out.extend(r.reported_at.to_be_bytes());
    out
}

/// The fixed 176-byte proposal header.
pub fn encode_header(h: &ProposalHeader) -> Vec<u8> {
    let mut out = h.proposer.0.to_vec();
    out.extend(u64s(&[
        u64::from(h.kind.code()),
        u64::from(h.stored.code()),
        h.created,
        h.start,
        h.end,
        h.member_seq,
        h.total,
        h.support_ppm,
        h.quorum_votes,
        h.cap_weight,
        h.timelock,
        h.grace_period,
        h.for_,
        h.against,
        h.abstain,
        h.voted_weight,
        h.eta,
        h.voters,
    ]));
    assert_eq!(out.len(), decode::PROPOSAL_HEADER);
    out
}

fn encode_proposal(p: &ProposalBox) -> Vec<u8> {
    let mut out = encode_header(&p.header);
    out.extend(crate::arc4::encode_payload(&p.payload));
    out
}

// ------------------------------------------------------------------ global state

const GLOBAL_KEYS: [&str; 10] = [
    "rules",
    "repo",
    "genesis",
    "member_seq",
    "total_weight",
    "proposal_count",
    "sealed",
    "validators",
    "attest_quorum",
    "attest_reward",
];

/// Global-state entries until the bytes run out: a key selector (0–9 the app's keys in
/// [`GLOBAL_KEYS`] order, otherwise a raw key with a one-byte length), a type byte (odd: uint64,
/// even: bytes with a one-byte length).
fn global(data: &[u8]) {
    let mut c = Cursor::new(data);
    let mut entries: Vec<(Vec<u8>, GlobalValue)> = Vec::new();
    while !c.is_empty() && entries.len() < 12 {
        let sel = c.u8();
        let key = match GLOBAL_KEYS.get(usize::from(sel)) {
            Some(k) => k.as_bytes().to_vec(),
            None => c.short().to_vec(),
        };
        let value = if c.u8() % 2 == 1 {
            GlobalValue::Uint(c.u64())
        } else {
            GlobalValue::Bytes(c.short().to_vec())
        };
        entries.push((key, value));
    }
    match decode::decode_global(&entries) {
        Ok(g) => {
            let mut back = encode_global(&g);
            back.sort_by(|a, b| a.0.cmp(&b.0));
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            assert_eq!(back, entries, "{g:?} does not re-encode");
            assert_eq!(decode::decode_global(&back), Ok(g));
        }
        Err(e) => {
            assert!(e.what.starts_with("global"), "{e}");
            check_problem(&e.problem);
        }
    }
}

/// Writes global-state entries in the form [`chain_box`] reads after a first byte `G`.
pub fn write_global(entries: &[(Vec<u8>, GlobalValue)]) -> Vec<u8> {
    let mut out = vec![b'G'];
    for (k, v) in entries {
        match GLOBAL_KEYS
            .iter()
            .position(|g| g.as_bytes() == k.as_slice())
        {
            Some(i) => out.push(u8::try_from(i).unwrap()),
            None => {
                out.push(0xff);
                out.push(u8::try_from(k.len()).unwrap());
                out.extend(k);
            }
        }
        match v {
            GlobalValue::Uint(u) => {
                out.push(1);
                out.extend(u.to_be_bytes());
            }
            GlobalValue::Bytes(b) => {
                out.push(0);
                out.push(u8::try_from(b.len()).unwrap());
                out.extend(b);
            }
        }
    }
    out
}

pub fn encode_global(g: &GlobalState) -> Vec<(Vec<u8>, GlobalValue)> {
    let k = |s: &str| s.as_bytes().to_vec();
    vec![
        (
            k("rules"),
            GlobalValue::Bytes(decode::encode_rules(&g.rules)),
        ),
        (k("repo"), GlobalValue::Bytes(g.repo.as_bytes().to_vec())),
        (k("genesis"), GlobalValue::Bytes(g.genesis.to_vec())),
        (k("member_seq"), GlobalValue::Uint(g.member_seq)),
        (k("total_weight"), GlobalValue::Uint(g.total_weight)),
        (k("proposal_count"), GlobalValue::Uint(g.proposal_count)),
        (k("sealed"), GlobalValue::Uint(u64::from(g.sealed))),
        (k("validators"), GlobalValue::Uint(g.validators)),
        (k("attest_quorum"), GlobalValue::Uint(g.attest_quorum)),
        (k("attest_reward"), GlobalValue::Uint(g.attest_reward)),
        (
            k("points"),
            GlobalValue::Bytes(decode::encode_point_weights(&g.point_weights)),
        ),
        (k("members"), GlobalValue::Uint(g.members)),
        (k("bonds_held"), GlobalValue::Uint(g.bonds_held)),
    ]
}
