//! Strict decoders of the app's global state and boxes (docs/contract.md, "State").
//!
//! Every decoder takes the exact bytes algod returned and either yields a typed value or a
//! [`DecodeError`] that names the thing (the global key or the box, with its decoded key) and what
//! is wrong with it. Nothing is guessed or defaulted: a wrong length, an unknown code, trailing
//! bytes or a bad ARC-4 header is an error.

pub use crate::box_key::BoxKey;
use dao_core::address::Address;
use dao_core::rules::{Kind, Rules, Stored};

/// Longest governed repository URL the app accepts at creation.
pub const MAX_REPO: usize = 120;
/// Longest description URL of a proposal.
pub const MAX_URL: usize = 256;
/// Most hosts a deploy proposal may list.
pub const MAX_HOSTS: usize = 16;
/// Size of the fixed proposal header.
pub const PROPOSAL_HEADER: usize = 176;
/// Size of a `Report`.
pub const REPORT_LEN: usize = 88;

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
    #[error("unknown box prefix {0:#04x}")]
    UnknownPrefix(u8),
    #[error("the key does not match the box it was read as: expected {expected}")]
    KeyMismatch { expected: String },
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

// ------------------------------------------------------------------ rules

/// Decodes the 80-byte `Rules` struct: ten big-endian uint64 in the order of the rules table.
/// Validity (`Rules::problems`) is not checked here; [`decode_valid_rules`] does both.
pub fn decode_rules(bytes: &[u8]) -> Result<Rules, Problem> {
    exact(bytes, 80)?;
    let f = |i: usize| be(&bytes[i * 8..]);
    Ok(Rules {
        voting_delay: f(0),
        voting_period: f(1),
        support_ppm: f(2),
        quorum_ppm: f(3),
        emergency_period: f(4),
        emergency_support_ppm: f(5),
        timelock: f(6),
        grace_period: f(7),
        min_proposer_weight: f(8),
        vote_cap_ppm: f(9),
    })
}

/// Decodes rules and refuses invalid ones (docs/governance-rules.md, "Rules").
pub fn decode_valid_rules(bytes: &[u8]) -> Result<Rules, Problem> {
    let rules = decode_rules(bytes)?;
    let problems = rules.problems();
    if problems.is_empty() {
        Ok(rules)
    } else {
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        Err(Problem::InvalidRules(text.join("; ")))
    }
}

/// The ARC-4 / global-state encoding of rules.
pub fn encode_rules(r: &Rules) -> Vec<u8> {
    [
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
    ]
    .iter()
    .flat_map(|v| v.to_be_bytes())
    .collect()
}

// ------------------------------------------------------------------ global state

/// One global-state value as algod returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GlobalValue {
    Bytes(Vec<u8>),
    Uint(u64),
}

/// The app's global state (docs/contract.md, "Global state").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalState {
    pub rules: Rules,
    pub repo: String,
    pub genesis: [u8; 20],
    pub member_seq: u64,
    pub total_weight: u64,
    pub proposal_count: u64,
    pub sealed: bool,
    /// How many reproducible-build validators the app has.
    pub validators: u64,
    /// Attestations that must agree before a host may switch (0 = off), for new proposals.
    pub attest_quorum: u64,
    /// microAlgos paid per attestation that matched the agreement, for new proposals.
    pub attest_reward: u64,
}

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

/// Decodes the global state from its key/value pairs. Every key must be present exactly once
/// with its type; no other key may exist. The rules must be valid.
pub fn decode_global(entries: &[(Vec<u8>, GlobalValue)]) -> Result<GlobalState, DecodeError> {
    for (k, _) in entries {
        let name = String::from_utf8_lossy(k).into_owned();
        if !GLOBAL_KEYS.iter().any(|g| g.as_bytes() == k.as_slice()) {
            return Err(err("global state", Problem::UnexpectedKey(name)));
        }
        if entries.iter().filter(|(o, _)| o == k).count() > 1 {
            return Err(err("global state", Problem::UnexpectedKey(name)));
        }
    }
    let get = |key: &'static str| {
        entries
            .iter()
            .find(|(k, _)| k.as_slice() == key.as_bytes())
            .map(|(_, v)| v)
            .ok_or_else(|| err("global state", Problem::MissingKey(key)))
    };
    let bytes = |key: &'static str| -> Result<&Vec<u8>, DecodeError> {
        match get(key)? {
            GlobalValue::Bytes(b) => Ok(b),
            GlobalValue::Uint(_) => Err(err(
                format!("global {key:?}"),
                Problem::ValueType {
                    key,
                    expected: "byte slice",
                    got: 2,
                },
            )),
        }
    };
    let uint = |key: &'static str| -> Result<u64, DecodeError> {
        match get(key)? {
            GlobalValue::Uint(u) => Ok(*u),
            GlobalValue::Bytes(_) => Err(err(
                format!("global {key:?}"),
                Problem::ValueType {
                    key,
                    expected: "uint64",
                    got: 1,
                },
            )),
        }
    };
    let rules = decode_valid_rules(bytes("rules")?).map_err(|p| err("global \"rules\"", p))?;
    let repo_bytes = bytes("repo")?;
    if repo_bytes.is_empty() {
        return Err(err("global \"repo\"", Problem::TooShort { min: 1, got: 0 }));
    }
    if repo_bytes.len() > MAX_REPO {
        return Err(err(
            "global \"repo\"",
            Problem::TooLong {
                field: "repo",
                max: MAX_REPO,
                got: repo_bytes.len(),
            },
        ));
    }
    let repo = String::from_utf8(repo_bytes.clone())
        .map_err(|_| err("global \"repo\"", Problem::NotUtf8 { field: "repo" }))?;
    let g = bytes("genesis")?;
    exact(g, 20).map_err(|p| err("global \"genesis\"", p))?;
    let mut genesis = [0u8; 20];
    genesis.copy_from_slice(g);
    let sealed = match uint("sealed")? {
        0 => false,
        1 => true,
        other => {
            return Err(err(
                "global \"sealed\"",
                Problem::Value {
                    field: "sealed",
                    expected: "0 or 1",
                    got: other,
                },
            ))
        }
    };
    Ok(GlobalState {
        rules,
        repo,
        genesis,
        member_seq: uint("member_seq")?,
        total_weight: uint("total_weight")?,
        proposal_count: uint("proposal_count")?,
        sealed,
        validators: uint("validators")?,
        attest_quorum: uint("attest_quorum")?,
        attest_reward: uint("attest_reward")?,
    })
}

// ------------------------------------------------------------------ small boxes

/// `m` box: a member's current weight and the length of its history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    pub weight: u64,
    pub history_len: u64,
}

/// `w` box: one weight change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryEntry {
    pub seq: u64,
    pub weight: u64,
}

/// A vote's choice as the app encodes it: 0 against, 1 for, 2 abstain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VoteChoice {
    Against,
    For,
    Abstain,
}

impl VoteChoice {
    pub fn code(self) -> u8 {
        match self {
            VoteChoice::Against => 0,
            VoteChoice::For => 1,
            VoteChoice::Abstain => 2,
        }
    }

    pub fn from_code(code: u64) -> Option<VoteChoice> {
        Some(match code {
            0 => VoteChoice::Against,
            1 => VoteChoice::For,
            2 => VoteChoice::Abstain,
            _ => return None,
        })
    }
}

/// `v` box: one member's vote on one proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoteRecord {
    pub choice: VoteChoice,
    pub weight: u64,
    pub effective_weight: u64,
}

/// A host's execution report status: 0 applied, 1 failed, 2 rolled back, 3 refused,
/// 4 not reproducible (its own build differs from what the validators agreed on, or they can no
/// longer agree).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportStatus {
    Applied,
    Failed,
    RolledBack,
    Refused,
    NotReproducible,
}

impl ReportStatus {
    pub fn code(self) -> u8 {
        match self {
            ReportStatus::Applied => 0,
            ReportStatus::Failed => 1,
            ReportStatus::RolledBack => 2,
            ReportStatus::Refused => 3,
            ReportStatus::NotReproducible => 4,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ReportStatus::Applied => "applied",
            ReportStatus::Failed => "failed",
            ReportStatus::RolledBack => "rolled_back",
            ReportStatus::Refused => "refused",
            ReportStatus::NotReproducible => "not_reproducible",
        }
    }

    pub fn from_code(code: u64) -> Option<ReportStatus> {
        Some(match code {
            0 => ReportStatus::Applied,
            1 => ReportStatus::Failed,
            2 => ReportStatus::RolledBack,
            3 => ReportStatus::Refused,
            4 => ReportStatus::NotReproducible,
            _ => return None,
        })
    }
}

/// `r` / `b` box: an execution report (or the applied → rolled back amendment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    pub status: ReportStatus,
    pub toplevel_sha256: [u8; 32],
    pub generation: u64,
    pub logs_sha256: [u8; 32],
    pub reported_at: u64,
}

pub(crate) fn check_key(
    key: &BoxKey,
    expected: fn(&BoxKey) -> bool,
    kind: &str,
) -> Result<(), DecodeError> {
    if expected(key) {
        Ok(())
    } else {
        Err(err(
            key.to_string(),
            Problem::KeyMismatch {
                expected: kind.to_owned(),
            },
        ))
    }
}

pub fn decode_member(key: &BoxKey, value: &[u8]) -> Result<Member, DecodeError> {
    check_key(key, |k| matches!(k, BoxKey::Member(_)), "an m box")?;
    exact(value, 16).map_err(|p| err(key.to_string(), p))?;
    Ok(Member {
        weight: be(value),
        history_len: be(&value[8..]),
    })
}

pub fn decode_history(key: &BoxKey, value: &[u8]) -> Result<HistoryEntry, DecodeError> {
    check_key(key, |k| matches!(k, BoxKey::History(..)), "a w box")?;
    exact(value, 16).map_err(|p| err(key.to_string(), p))?;
    Ok(HistoryEntry {
        seq: be(value),
        weight: be(&value[8..]),
    })
}

pub fn decode_vote(key: &BoxKey, value: &[u8]) -> Result<VoteRecord, DecodeError> {
    check_key(key, |k| matches!(k, BoxKey::Vote(..)), "a v box")?;
    exact(value, 24).map_err(|p| err(key.to_string(), p))?;
    let code = be(value);
    let choice = VoteChoice::from_code(code).ok_or_else(|| {
        err(
            key.to_string(),
            Problem::UnknownCode {
                field: "vote choice",
                code,
            },
        )
    })?;
    Ok(VoteRecord {
        choice,
        weight: be(&value[8..]),
        effective_weight: be(&value[16..]),
    })
}

pub fn decode_host(key: &BoxKey, value: &[u8]) -> Result<Address, DecodeError> {
    check_key(key, |k| matches!(k, BoxKey::Host(_)), "an h box")?;
    exact(value, 32).map_err(|p| err(key.to_string(), p))?;
    let mut a = [0u8; 32];
    a.copy_from_slice(value);
    Ok(Address(a))
}

/// Decodes an `r` or `b` box.
pub fn decode_report(key: &BoxKey, value: &[u8]) -> Result<Report, DecodeError> {
    check_key(
        key,
        |k| matches!(k, BoxKey::Report(..) | BoxKey::Rollback(..)),
        "an r or b box",
    )?;
    decode_report_bytes(value).map_err(|p| err(key.to_string(), p))
}

fn decode_report_bytes(value: &[u8]) -> Result<Report, Problem> {
    exact(value, REPORT_LEN)?;
    let mut r = Reader::new(value);
    let code = r.u64(REPORT_LEN)?;
    let status = ReportStatus::from_code(code).ok_or(Problem::UnknownCode {
        field: "report status",
        code,
    })?;
    Ok(Report {
        status,
        toplevel_sha256: r.array::<32>(REPORT_LEN)?,
        generation: r.u64(REPORT_LEN)?,
        logs_sha256: r.array::<32>(REPORT_LEN)?,
        reported_at: r.u64(REPORT_LEN)?,
    })
}

// ------------------------------------------------------------------ proposals

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
}

impl ProposalPayload {
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
            let rules = decode_rules(r.take(80, 82)?)?;
            let off = r.u16(82)?;
            let description_url = url_tail(payload, off, 82)?;
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

// ------------------------------------------------------------------ encoding helpers

/// ARC-4 `string` / `byte[]`: a uint16 length, then the bytes.
pub fn encode_arc4_bytes(b: &[u8]) -> Result<Vec<u8>, Problem> {
    let len = u16::try_from(b.len()).map_err(|_| Problem::TooLong {
        field: "ARC-4 string",
        max: usize::from(u16::MAX),
        got: b.len(),
    })?;
    let mut out = len.to_be_bytes().to_vec();
    out.extend_from_slice(b);
    Ok(out)
}

/// ARC-4 `uint64[]`.
pub fn encode_u64_array(v: &[u64]) -> Result<Vec<u8>, Problem> {
    let len = u16::try_from(v.len()).map_err(|_| Problem::TooLong {
        field: "ARC-4 array",
        max: usize::from(u16::MAX),
        got: v.len(),
    })?;
    let mut out = len.to_be_bytes().to_vec();
    for x in v {
        out.extend_from_slice(&x.to_be_bytes());
    }
    Ok(out)
}

/// The deploy payload the app stores for these arguments (its length decides the box cost).
pub fn deploy_payload_len(hosts: usize, url: usize) -> usize {
    77 + 2 + 8 * hosts + 2 + url
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
