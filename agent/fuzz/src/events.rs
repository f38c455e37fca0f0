//! The app's events written by hand from docs/contract.md ("Events"): an independent encoder the
//! chain_block target compares the decoder against.

use dao_chain::events::{self, AppEvent};

/// The signature and argument bytes of an event (docs/contract.md, "Events").
pub fn encode_event(e: &AppEvent) -> Vec<u8> {
    let u = |v: &u64| v.to_be_bytes().to_vec();
    let (sig, args): (&str, Vec<Vec<u8>>) = match e {
        AppEvent::ProposalCreated {
            id,
            kind,
            proposer,
            start,
            end,
        } => (
            "ProposalCreated(uint64,uint8,address,uint64,uint64)",
            vec![
                u(id),
                vec![kind.code()],
                proposer.0.to_vec(),
                u(start),
                u(end),
            ],
        ),
        AppEvent::VoteCast {
            id,
            voter,
            choice,
            weight,
            effective_weight,
        } => (
            "VoteCast(uint64,address,uint8,uint64,uint64)",
            vec![
                u(id),
                voter.0.to_vec(),
                vec![choice.code()],
                u(weight),
                u(effective_weight),
            ],
        ),
        AppEvent::ProposalFinalized { id, queued, eta } => (
            "ProposalFinalized(uint64,uint8,uint64)",
            // The new stored state: 2 defeated, 3 queued.
            vec![u(id), vec![if *queued { 3 } else { 2 }], u(eta)],
        ),
        AppEvent::ProposalCanceled { id } => ("ProposalCanceled(uint64)", vec![u(id)]),
        AppEvent::ProposalExecuted { id, kind } => (
            "ProposalExecuted(uint64,uint8)",
            vec![u(id), vec![kind.code()]],
        ),
        AppEvent::ExecutionReported {
            id,
            host_id,
            status,
            toplevel_sha256,
            generation,
            logs_sha256,
        } => (
            "ExecutionReported(uint64,uint64,uint8,byte[32],uint64,byte[32])",
            vec![
                u(id),
                u(host_id),
                vec![status.code()],
                toplevel_sha256.to_vec(),
                u(generation),
                logs_sha256.to_vec(),
            ],
        ),
        AppEvent::Heartbeat {
            host_id,
            toplevel_sha256,
            generation,
            last_proposal,
            drift,
            at,
        } => (
            "Heartbeat(uint64,byte[32],uint64,uint64,bool,uint64)",
            vec![
                u(host_id),
                toplevel_sha256.to_vec(),
                u(generation),
                u(last_proposal),
                vec![if *drift { 0x80 } else { 0 }],
                u(at),
            ],
        ),
        AppEvent::MemberChanged {
            member,
            weight,
            seq,
            total_weight,
        } => (
            "MemberChanged(address,uint64,uint64,uint64)",
            vec![member.0.to_vec(), u(weight), u(seq), u(total_weight)],
        ),
        AppEvent::HostChanged { host_id, agent } => (
            "HostChanged(uint64,address)",
            vec![u(host_id), agent.0.to_vec()],
        ),
        AppEvent::Sealed { total_weight } => ("Sealed(uint64)", vec![u(total_weight)]),
        AppEvent::Attested {
            id,
            host_id,
            validator,
            outcome,
            closure,
        } => (
            "Attested(uint64,uint64,address,uint8,byte[32])",
            vec![
                u(id),
                u(host_id),
                validator.0.to_vec(),
                vec![outcome.code()],
                closure.to_vec(),
            ],
        ),
        AppEvent::Agreed {
            id,
            host_id,
            closure,
            attestations,
        } => (
            "Agreed(uint64,uint64,byte[32],uint64)",
            vec![u(id), u(host_id), closure.to_vec(), u(attestations)],
        ),
        AppEvent::RewardClaimed {
            id,
            validator,
            amount,
            hosts,
        } => (
            "RewardClaimed(uint64,address,uint64,uint64)",
            vec![u(id), validator.0.to_vec(), u(amount), u(hosts)],
        ),
        AppEvent::ValidatorChanged { validator, enabled } => (
            "ValidatorChanged(address,bool)",
            vec![validator.0.to_vec(), vec![if *enabled { 0x80 } else { 0 }]],
        ),
        AppEvent::AttestationPolicyChanged { quorum, reward } => (
            "AttestationPolicyChanged(uint64,uint64)",
            vec![u(quorum), u(reward)],
        ),
        AppEvent::Rebalanced {
            id,
            commit,
            table_hash,
        } => (
            "Rebalanced(uint64,byte[20],byte[32])",
            vec![u(id), commit.to_vec(), table_hash.to_vec()],
        ),
        AppEvent::PointWeightsChanged {
            code,
            comment,
            text,
        } => (
            "PointWeightsChanged(uint64,uint64,uint64)",
            vec![u(code), u(comment), u(text)],
        ),
        AppEvent::BondRefunded {
            id,
            proposer,
            amount,
        } => (
            "BondRefunded(uint64,address,uint64)",
            vec![u(id), proposer.0.to_vec(), u(amount)],
        ),
        AppEvent::BondKept { id, amount } => ("BondKept(uint64,uint64)", vec![u(id), u(amount)]),
        AppEvent::DelegateChanged {
            delegator,
            from,
            to,
            weight,
            seq,
        } => (
            "DelegateChanged(address,address,address,uint64,uint64)",
            vec![
                delegator.0.to_vec(),
                from.0.to_vec(),
                to.0.to_vec(),
                u(weight),
                u(seq),
            ],
        ),
        AppEvent::VotingPowerChanged {
            account,
            power,
            seq,
        } => (
            "VotingPowerChanged(address,uint64,uint64)",
            vec![account.0.to_vec(), u(power), u(seq)],
        ),
    };
    assert!(sig.starts_with(e.name()));
    let mut out = events::selector(sig).to_vec();
    out.extend(args.concat());
    out
}
