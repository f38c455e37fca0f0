//! The small boxes: members, their weight history, votes, hosts and execution reports.

use super::box_key::BoxKey;
use super::rules::REPORT_LEN;
use super::wire::{be, err, exact, DecodeError, Problem, Reader};
use dao_core::address::Address;

/// `m` box: a member's current weight and the length of its history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    pub weight: u64,
    pub history_len: u64,
}

/// `w` box: one change of an address's voting power (its own weight when it delegates to no
/// one, plus what its delegators hand it: docs/contract.md, "Delegation").
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

/// `e` box: the member's delegate, exactly 32 bytes.
pub fn decode_delegate(key: &BoxKey, value: &[u8]) -> Result<Address, DecodeError> {
    check_key(key, |k| matches!(k, BoxKey::Delegate(_)), "an e box")?;
    exact(value, 32).map_err(|p| err(key.to_string(), p))?;
    let mut a = [0u8; 32];
    a.copy_from_slice(value);
    Ok(Address(a))
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
