//! The app's ARC-28 events (docs/contract.md, "Events"): 4-byte selector, then the ARC-4
//! encoded arguments, all static, so every event has one exact length.

use crate::decode::{Problem, ReportStatus, VoteChoice};
use crate::validation::Outcome;
use dao_core::address::Address;
use dao_core::rules::Kind;
use sha2::{Digest, Sha512_256};

/// The ARC-4 return-value prefix; such logs are method results, not events.
pub const RETURN_PREFIX: [u8; 4] = [0x15, 0x1f, 0x7c, 0x75];

/// An event the app logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppEvent {
    ProposalCreated {
        id: u64,
        kind: Kind,
        proposer: Address,
        start: u64,
        end: u64,
    },
    VoteCast {
        id: u64,
        voter: Address,
        choice: VoteChoice,
        weight: u64,
        effective_weight: u64,
    },
    /// `state` is the new stored state: defeated or queued.
    ProposalFinalized {
        id: u64,
        queued: bool,
        eta: u64,
    },
    ProposalCanceled {
        id: u64,
    },
    ProposalExecuted {
        id: u64,
        kind: Kind,
    },
    ExecutionReported {
        id: u64,
        host_id: u64,
        status: ReportStatus,
        toplevel_sha256: [u8; 32],
        generation: u64,
        logs_sha256: [u8; 32],
    },
    /// A host's heartbeat (docs/heartbeats.md): what it runs, at chain time `at`.
    Heartbeat {
        host_id: u64,
        toplevel_sha256: [u8; 32],
        generation: u64,
        last_proposal: u64,
        drift: bool,
        at: u64,
    },
    MemberChanged {
        member: Address,
        weight: u64,
        seq: u64,
        total_weight: u64,
    },
    HostChanged {
        host_id: u64,
        agent: Address,
    },
    Sealed {
        total_weight: u64,
    },
    /// A validator attested its outcome for one host of a deploy proposal.
    Attested {
        id: u64,
        host_id: u64,
        validator: Address,
        outcome: Outcome,
        closure: [u8; 32],
    },
    /// The proposal's quorum of validators agreed on a closure for the host.
    Agreed {
        id: u64,
        host_id: u64,
        closure: [u8; 32],
        attestations: u64,
    },
    RewardClaimed {
        id: u64,
        validator: Address,
        amount: u64,
        hosts: u64,
    },
    ValidatorChanged {
        validator: Address,
        enabled: bool,
    },
    AttestationPolicyChanged {
        quorum: u64,
        reward: u64,
    },
    /// An executed rebalance (kind 8), logged after its `MemberChanged` events: the commit and
    /// table hash it recorded, so a follower can recompute the table it applied.
    Rebalanced {
        id: u64,
        commit: [u8; 20],
        table_hash: [u8; 32],
    },
    /// The contributor point weights changed (set before seal, or an executed kind 9), in half
    /// points per line.
    PointWeightsChanged {
        code: u64,
        comment: u64,
        text: u64,
    },
    /// A proposal's bond went back to its proposer (`refund_bond`).
    BondRefunded {
        id: u64,
        proposer: Address,
        amount: u64,
    },
    /// The treasury keeps a proposal's bond: it failed its quorum (finalize) or was canceled
    /// after voting started.
    BondKept {
        id: u64,
        amount: u64,
    },
    /// `delegator` moved its own `weight` from `from` to `to` (zero address: none) at
    /// member_seq `seq` (docs/contract.md, "Delegation").
    DelegateChanged {
        delegator: Address,
        from: Address,
        to: Address,
        weight: u64,
        seq: u64,
    },
    /// `account`'s voting power is `power` from member_seq `seq` on (a new history entry).
    VotingPowerChanged {
        account: Address,
        power: u64,
        seq: u64,
    },
}

impl AppEvent {
    /// The proposal the event is about, if any.
    pub fn proposal_id(&self) -> Option<u64> {
        match self {
            AppEvent::ProposalCreated { id, .. }
            | AppEvent::VoteCast { id, .. }
            | AppEvent::ProposalFinalized { id, .. }
            | AppEvent::ProposalCanceled { id }
            | AppEvent::ProposalExecuted { id, .. }
            | AppEvent::ExecutionReported { id, .. }
            | AppEvent::Attested { id, .. }
            | AppEvent::Agreed { id, .. }
            | AppEvent::RewardClaimed { id, .. }
            | AppEvent::Rebalanced { id, .. }
            | AppEvent::BondRefunded { id, .. }
            | AppEvent::BondKept { id, .. } => Some(*id),
            _ => None,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            AppEvent::ProposalCreated { .. } => "ProposalCreated",
            AppEvent::VoteCast { .. } => "VoteCast",
            AppEvent::ProposalFinalized { .. } => "ProposalFinalized",
            AppEvent::ProposalCanceled { .. } => "ProposalCanceled",
            AppEvent::ProposalExecuted { .. } => "ProposalExecuted",
            AppEvent::ExecutionReported { .. } => "ExecutionReported",
            AppEvent::Heartbeat { .. } => "Heartbeat",
            AppEvent::MemberChanged { .. } => "MemberChanged",
            AppEvent::HostChanged { .. } => "HostChanged",
            AppEvent::Sealed { .. } => "Sealed",
            AppEvent::Attested { .. } => "Attested",
            AppEvent::Agreed { .. } => "Agreed",
            AppEvent::RewardClaimed { .. } => "RewardClaimed",
            AppEvent::ValidatorChanged { .. } => "ValidatorChanged",
            AppEvent::AttestationPolicyChanged { .. } => "AttestationPolicyChanged",
            AppEvent::Rebalanced { .. } => "Rebalanced",
            AppEvent::PointWeightsChanged { .. } => "PointWeightsChanged",
            AppEvent::BondRefunded { .. } => "BondRefunded",
            AppEvent::BondKept { .. } => "BondKept",
            AppEvent::DelegateChanged { .. } => "DelegateChanged",
            AppEvent::VotingPowerChanged { .. } => "VotingPowerChanged",
        }
    }
}

/// The 4-byte selector of an ARC-4 method or ARC-28 event signature.
pub fn selector(signature: &str) -> [u8; 4] {
    let d = Sha512_256::digest(signature.as_bytes());
    [d[0], d[1], d[2], d[3]]
}

const SIGNATURES: [(&str, usize); 20] = [
    (
        "ProposalCreated(uint64,uint8,address,uint64,uint64)",
        8 + 1 + 32 + 8 + 8,
    ),
    (
        "VoteCast(uint64,address,uint8,uint64,uint64)",
        8 + 32 + 1 + 8 + 8,
    ),
    ("ProposalFinalized(uint64,uint8,uint64)", 8 + 1 + 8),
    ("ProposalCanceled(uint64)", 8),
    ("ProposalExecuted(uint64,uint8)", 8 + 1),
    (
        "ExecutionReported(uint64,uint64,uint8,byte[32],uint64,byte[32])",
        8 + 8 + 1 + 32 + 8 + 32,
    ),
    ("MemberChanged(address,uint64,uint64,uint64)", 32 + 24),
    ("HostChanged(uint64,address)", 8 + 32),
    ("Sealed(uint64)", 8),
    (
        "Attested(uint64,uint64,address,uint8,byte[32])",
        8 + 8 + 32 + 1 + 32,
    ),
    ("Agreed(uint64,uint64,byte[32],uint64)", 8 + 8 + 32 + 8),
    (
        "RewardClaimed(uint64,address,uint64,uint64)",
        8 + 32 + 8 + 8,
    ),
    ("ValidatorChanged(address,bool)", 32 + 1),
    ("AttestationPolicyChanged(uint64,uint64)", 16),
    ("Rebalanced(uint64,byte[20],byte[32])", 8 + 20 + 32),
    ("PointWeightsChanged(uint64,uint64,uint64)", 24),
    ("BondRefunded(uint64,address,uint64)", 8 + 32 + 8),
    ("BondKept(uint64,uint64)", 16),
    (
        "DelegateChanged(address,address,address,uint64,uint64)",
        3 * 32 + 16,
    ),
    ("VotingPowerChanged(address,uint64,uint64)", 32 + 16),
];

const HEARTBEAT: &str = "Heartbeat(uint64,byte[32],uint64,uint64,bool,uint64)";

/// The `Heartbeat` event's arguments: host, toplevel, generation, last proposal, drift, at.
fn decode_heartbeat(args: &[u8]) -> Result<AppEvent, LogError> {
    let name = "Heartbeat";
    let expected = 8 + 32 + 8 + 8 + 1 + 8;
    if args.len() != expected {
        return Err(LogError::Length {
            name,
            expected,
            got: args.len(),
        });
    }
    let drift = match args[56] {
        0x00 => false,
        0x80 => true,
        byte => {
            return Err(LogError::Field {
                name,
                problem: Problem::Bool {
                    field: "drift",
                    byte,
                },
            })
        }
    };
    Ok(AppEvent::Heartbeat {
        host_id: u64_at(args, 0),
        toplevel_sha256: arr32(args, 8),
        generation: u64_at(args, 40),
        last_proposal: u64_at(args, 48),
        drift,
        at: u64_at(args, 57),
    })
}

/// What a log line of the app is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Log {
    Event(AppEvent),
    /// An ARC-4 method return value (`0x151f7c75` ++ value).
    Return(Vec<u8>),
}

/// Why a log line could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    #[error("a log of {0} byte(s) is too short for a selector")]
    Short(usize),
    #[error("unknown event selector 0x{0}")]
    UnknownSelector(String),
    #[error("event {name}: expected {expected} bytes of arguments, got {got}")]
    Length {
        name: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("event {name}: {problem}")]
    Field {
        name: &'static str,
        problem: Problem,
    },
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(a)
}

fn addr_at(b: &[u8], at: usize) -> Address {
    let mut a = [0u8; 32];
    a.copy_from_slice(&b[at..at + 32]);
    Address(a)
}

fn arr32(b: &[u8], at: usize) -> [u8; 32] {
    let mut a = [0u8; 32];
    a.copy_from_slice(&b[at..at + 32]);
    a
}

/// Decodes one log line of the app.
pub fn decode_log(log: &[u8]) -> Result<Log, LogError> {
    if log.len() < 4 {
        return Err(LogError::Short(log.len()));
    }
    let (sel, args) = log.split_at(4);
    if sel == RETURN_PREFIX {
        return Ok(Log::Return(args.to_vec()));
    }
    if sel == selector(HEARTBEAT) {
        return decode_heartbeat(args).map(Log::Event);
    }
    let (index, (sig, len)) = SIGNATURES
        .iter()
        .enumerate()
        .find(|(_, (s, _))| selector(s) == sel)
        .ok_or_else(|| LogError::UnknownSelector(hex::encode(sel)))?;
    let name: &'static str = match index {
        0 => "ProposalCreated",
        1 => "VoteCast",
        2 => "ProposalFinalized",
        3 => "ProposalCanceled",
        4 => "ProposalExecuted",
        5 => "ExecutionReported",
        6 => "MemberChanged",
        7 => "HostChanged",
        8 => "Sealed",
        9 => "Attested",
        10 => "Agreed",
        11 => "RewardClaimed",
        12 => "ValidatorChanged",
        13 => "AttestationPolicyChanged",
        14 => "Rebalanced",
        15 => "PointWeightsChanged",
        16 => "BondRefunded",
        17 => "BondKept",
        18 => "DelegateChanged",
        _ => "VotingPowerChanged",
    };
    debug_assert!(sig.starts_with(name));
    if args.len() != *len {
        return Err(LogError::Length {
            name,
            expected: *len,
            got: args.len(),
        });
    }
    let field = |problem| LogError::Field { name, problem };
    let kind = |code: u8| {
        Kind::from_code(code).ok_or(field(Problem::UnknownCode {
            field: "proposal kind",
            code: u64::from(code),
        }))
    };
    Ok(Log::Event(match index {
        0 => AppEvent::ProposalCreated {
            id: u64_at(args, 0),
            kind: kind(args[8])?,
            proposer: addr_at(args, 9),
            start: u64_at(args, 41),
            end: u64_at(args, 49),
        },
        1 => AppEvent::VoteCast {
            id: u64_at(args, 0),
            voter: addr_at(args, 8),
            choice: VoteChoice::from_code(u64::from(args[40])).ok_or(field(
                Problem::UnknownCode {
                    field: "vote choice",
                    code: u64::from(args[40]),
                },
            ))?,
            weight: u64_at(args, 41),
            effective_weight: u64_at(args, 49),
        },
        2 => AppEvent::ProposalFinalized {
            id: u64_at(args, 0),
            queued: match args[8] {
                2 => false,
                3 => true,
                code => {
                    return Err(field(Problem::UnknownCode {
                        field: "finalized state",
                        code: u64::from(code),
                    }))
                }
            },
            eta: u64_at(args, 9),
        },
        3 => AppEvent::ProposalCanceled {
            id: u64_at(args, 0),
        },
        4 => AppEvent::ProposalExecuted {
            id: u64_at(args, 0),
            kind: kind(args[8])?,
        },
        5 => AppEvent::ExecutionReported {
            id: u64_at(args, 0),
            host_id: u64_at(args, 8),
            status: ReportStatus::from_code(u64::from(args[16])).ok_or(field(
                Problem::UnknownCode {
                    field: "report status",
                    code: u64::from(args[16]),
                },
            ))?,
            toplevel_sha256: arr32(args, 17),
            generation: u64_at(args, 49),
            logs_sha256: arr32(args, 57),
        },
        6 => AppEvent::MemberChanged {
            member: addr_at(args, 0),
            weight: u64_at(args, 32),
            seq: u64_at(args, 40),
            total_weight: u64_at(args, 48),
        },
        7 => AppEvent::HostChanged {
            host_id: u64_at(args, 0),
            agent: addr_at(args, 8),
        },
        8 => AppEvent::Sealed {
            total_weight: u64_at(args, 0),
        },
        9 => AppEvent::Attested {
            id: u64_at(args, 0),
            host_id: u64_at(args, 8),
            validator: addr_at(args, 16),
            outcome: Outcome::from_code(u64::from(args[48])).ok_or(field(
                Problem::UnknownCode {
                    field: "attestation outcome",
                    code: u64::from(args[48]),
                },
            ))?,
            closure: arr32(args, 49),
        },
        10 => AppEvent::Agreed {
            id: u64_at(args, 0),
            host_id: u64_at(args, 8),
            closure: arr32(args, 16),
            attestations: u64_at(args, 48),
        },
        11 => AppEvent::RewardClaimed {
            id: u64_at(args, 0),
            validator: addr_at(args, 8),
            amount: u64_at(args, 40),
            hosts: u64_at(args, 48),
        },
        12 => AppEvent::ValidatorChanged {
            validator: addr_at(args, 0),
            enabled: match args[32] {
                0x00 => false,
                0x80 => true,
                byte => {
                    return Err(field(Problem::Bool {
                        field: "enabled",
                        byte,
                    }))
                }
            },
        },
        13 => AppEvent::AttestationPolicyChanged {
            quorum: u64_at(args, 0),
            reward: u64_at(args, 8),
        },
        14 => {
            let mut commit = [0u8; 20];
            commit.copy_from_slice(&args[8..28]);
            AppEvent::Rebalanced {
                id: u64_at(args, 0),
                commit,
                table_hash: arr32(args, 28),
            }
        }
        15 => AppEvent::PointWeightsChanged {
            code: u64_at(args, 0),
            comment: u64_at(args, 8),
            text: u64_at(args, 16),
        },
        16 => AppEvent::BondRefunded {
            id: u64_at(args, 0),
            proposer: addr_at(args, 8),
            amount: u64_at(args, 40),
        },
        17 => AppEvent::BondKept {
            id: u64_at(args, 0),
            amount: u64_at(args, 8),
        },
        18 => AppEvent::DelegateChanged {
            delegator: addr_at(args, 0),
            from: addr_at(args, 32),
            to: addr_at(args, 64),
            weight: u64_at(args, 96),
            seq: u64_at(args, 104),
        },
        _ => AppEvent::VotingPowerChanged {
            account: addr_at(args, 0),
            power: u64_at(args, 32),
            seq: u64_at(args, 40),
        },
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    #[test]
    fn events_decode_and_refuse_bad_lengths_and_codes() {
        let mut log = selector("ProposalFinalized(uint64,uint8,uint64)").to_vec();
        log.extend(7u64.to_be_bytes());
        log.push(3);
        log.extend(99u64.to_be_bytes());
        assert_eq!(
            decode_log(&log).unwrap(),
            Log::Event(AppEvent::ProposalFinalized {
                id: 7,
                queued: true,
                eta: 99
            })
        );
        let mut bad = log.clone();
        bad[12] = 1;
        assert!(matches!(decode_log(&bad), Err(LogError::Field { .. })));
        let mut long = log.clone();
        long.push(0);
        assert!(matches!(decode_log(&long), Err(LogError::Length { .. })));
        assert!(matches!(
            decode_log(&[1, 2, 3, 4]),
            Err(LogError::UnknownSelector(_))
        ));
        assert!(matches!(decode_log(&[1, 2]), Err(LogError::Short(2))));
        assert_eq!(
            decode_log(&[0x15, 0x1f, 0x7c, 0x75, 3]).unwrap(),
            Log::Return(vec![3])
        );
        let mut v = selector("VoteCast(uint64,address,uint8,uint64,uint64)").to_vec();
        v.extend(1u64.to_be_bytes());
        v.extend([4; 32]);
        v.push(2);
        v.extend(5u64.to_be_bytes());
        v.extend(4u64.to_be_bytes());
        match decode_log(&v).unwrap() {
            Log::Event(AppEvent::VoteCast { choice, weight, .. }) => {
                assert_eq!(choice, VoteChoice::Abstain);
                assert_eq!(weight, 5);
            }
            other => panic!("{other:?}"),
        }
        v[4 + 40] = 3;
        assert!(decode_log(&v).is_err());
        let mut r = selector("Rebalanced(uint64,byte[20],byte[32])").to_vec();
        r.extend(9u64.to_be_bytes());
        r.extend([0xc0; 20]);
        r.extend([0x4a; 32]);
        assert_eq!(
            decode_log(&r).unwrap(),
            Log::Event(AppEvent::Rebalanced {
                id: 9,
                commit: [0xc0; 20],
                table_hash: [0x4a; 32]
            })
        );
        r.pop();
        assert!(matches!(decode_log(&r), Err(LogError::Length { .. })));
    }
}
