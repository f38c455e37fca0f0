use thiserror::Error;

/// Why a governance action was refused. Each variant's [`RuleError::code`] is the error code the
/// on-chain app reports for the same check (docs/governance-rules.md).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RuleError {
    #[error("proposal {0} does not exist")]
    UnknownProposal(u64),
    #[error("the proposer's weight {weight} is below the minimum proposer weight {required}")]
    InsufficientWeight { weight: u64, required: u64 },
    #[error("voting on proposal {id} starts at {start}, it is {now}")]
    VotingNotStarted { id: u64, start: u64, now: u64 },
    #[error("voting on proposal {id} is closed")]
    VotingClosed { id: u64 },
    #[error("{voter} has already voted on proposal {id}")]
    AlreadyVoted { id: u64, voter: String },
    #[error("{voter} had no weight when proposal {id} was created")]
    NotMember { id: u64, voter: String },
    #[error("proposal {id} is not open (it was finalized or canceled)")]
    NotOpen { id: u64 },
    #[error("the outcome of proposal {id} can still change; finalize after {end}")]
    OutcomeUndecided { id: u64, end: u64 },
    #[error("only the proposer may cancel proposal {id}")]
    NotProposer { id: u64 },
    #[error("proposal {id} is a {kind} proposal, carried out by hosts, not by execute")]
    NotExecutableKind { id: u64, kind: &'static str },
    #[error("proposal {id} is not queued")]
    NotQueued { id: u64 },
    #[error("proposal {id} is timelocked until {eta}")]
    TimelockActive { id: u64, eta: u64 },
    #[error("proposal {id} expired at {expired_at}")]
    Expired { id: u64, expired_at: u64 },
    #[error("the total weight would be {total}, above the maximum {max}")]
    TotalWeightTooLarge { total: u128, max: u64 },
    #[error("invalid rules: {0}")]
    InvalidRules(String),
    #[error("a {kind} proposal needs a {kind} payload")]
    PayloadMismatch { kind: &'static str },
    #[error("bad rebalance list: {0}")]
    BadMembers(String),
    #[error("the DAO has no members: add some before sealing")]
    NoMembers,
    #[error("proposals exist: seal before the first proposal")]
    ProposalsExist,
    #[error(
        "timelock {timelock} s is below the floor of {floor} s: rules must leave a window to react"
    )]
    TimelockBelowFloor { timelock: u64, floor: u64 },
    #[error("proposal_bond {bond} microAlgos is above the largest bond, {max}")]
    BondTooLarge { bond: u64, max: u64 },
    #[error("proposal {id} was made without a bond: there is nothing to refund")]
    NoBond { id: u64 },
    #[error("the bond of proposal {id} was refunded already")]
    BondRefunded { id: u64 },
    #[error("the treasury keeps the bond of proposal {id}: it failed its quorum or was canceled after voting started")]
    BondKept { id: u64 },
    #[error("proposal {id} is still voting: its bond is refundable once it is finalized (or canceled before voting starts)")]
    BondNotFinal { id: u64 },
    #[error("heartbeat_interval {interval} s is outside {min} s (an hour) to {max} s (30 days)")]
    HeartbeatIntervalOutOfRange { interval: u64, min: u64, max: u64 },
    #[error("this would freeze the DAO: {0}")]
    WouldFreezeVote(String),
    #[error("this would freeze the DAO: {0}")]
    WouldFreezeProposer(String),
    #[error("{who} holds no weight now: only a member can delegate")]
    NotMemberNow { who: String },
    #[error("{who} cannot delegate to itself: to vote with its own weight again, undelegate")]
    SelfDelegation { who: String },
    #[error("{to} holds no weight now: delegate to a member of the DAO")]
    DelegateNotMember { to: String },
    #[error("{who} already delegates to {to}: nothing to change")]
    AlreadyDelegated { who: String, to: String },
    #[error("{who} delegates to no one: there is nothing to take back")]
    NotDelegating { who: String },
    #[error("{voter} had no voting power when proposal {id} was created: its weight is delegated (to {delegate} now), and the delegate casts it")]
    WeightDelegated {
        id: u64,
        voter: String,
        delegate: String,
    },
    #[error("the rebalance would lower {member} from {weight} to {listed}: a rebalance never lowers anyone")]
    RebalanceLowersWeight {
        member: String,
        weight: u64,
        listed: u64,
    },
}

impl RuleError {
    /// The snake_case code shared with the on-chain app.
    pub fn code(&self) -> &'static str {
        match self {
            RuleError::UnknownProposal(_) => "unknown_proposal",
            RuleError::InsufficientWeight { .. } => "insufficient_weight",
            RuleError::VotingNotStarted { .. } => "voting_not_started",
            RuleError::VotingClosed { .. } => "voting_closed",
            RuleError::AlreadyVoted { .. } => "already_voted",
            RuleError::NotMember { .. } | RuleError::NotMemberNow { .. } => "not_member",
            RuleError::SelfDelegation { .. } => "self_delegation",
            RuleError::DelegateNotMember { .. } => "delegate_not_member",
            RuleError::AlreadyDelegated { .. } => "already_delegated",
            RuleError::NotDelegating { .. } => "not_delegating",
            RuleError::WeightDelegated { .. } => "weight_delegated",
            RuleError::NotOpen { .. } => "not_open",
            RuleError::OutcomeUndecided { .. } => "outcome_undecided",
            RuleError::NotProposer { .. } => "not_proposer",
            RuleError::NotExecutableKind { .. } => "not_executable_kind",
            RuleError::NotQueued { .. } => "not_queued",
            RuleError::TimelockActive { .. } => "timelock_active",
            RuleError::Expired { .. } => "expired",
            RuleError::TotalWeightTooLarge { .. } => "total_weight_too_large",
            RuleError::InvalidRules(_) => "invalid_rules",
            RuleError::PayloadMismatch { .. } => "payload_mismatch",
            RuleError::BadMembers(_) => "bad_members",
            RuleError::RebalanceLowersWeight { .. } => "rebalance_lowers_weight",
            RuleError::TimelockBelowFloor { .. } => "timelock_below_floor",
            RuleError::BondTooLarge { .. } => "bond_too_large",
            RuleError::NoBond { .. } => "no_bond",
            RuleError::BondRefunded { .. } => "bond_refunded",
            RuleError::BondKept { .. } => "bond_kept",
            RuleError::BondNotFinal { .. } => "bond_not_final",
            RuleError::HeartbeatIntervalOutOfRange { .. } => "heartbeat_interval_out_of_range",
            RuleError::NoMembers => "no_members",
            RuleError::ProposalsExist => "proposals_exist",
            RuleError::WouldFreezeVote(_) => "would_freeze_vote",
            RuleError::WouldFreezeProposer(_) => "would_freeze_proposer",
        }
    }
}
