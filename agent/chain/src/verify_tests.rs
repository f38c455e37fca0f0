#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::decode::Targets;

fn rules() -> Rules {
    Rules {
        voting_delay: 10,
        voting_period: 100,
        timelock: 20,
        grace_period: 30,
        ..Rules::default()
    }
}

fn a(n: u8) -> Address {
    Address([n; 32])
}

/// Proposal 1 created at 1000 with total 100 (alice 60, bob 40), alice for, bob against.
fn fixture() -> (ProposalBox, Vec<VoteEvidence>) {
    let r = rules();
    let header = ProposalHeader {
        proposer: a(1),
        kind: Kind::Deploy,
        stored: Stored::Voting,
        created: 1000,
        start: 1010,
        end: 1110,
        member_seq: 2,
        total: 100,
        support_ppm: r.support_ppm,
        quorum_votes: quorum_votes(100, r.quorum_ppm),
        cap_weight: 100,
        timelock: 20,
        grace_period: 30,
        for_: 60,
        against: 40,
        abstain: 0,
        voted_weight: 100,
        eta: 0,
        voters: 2,
    };
    let p = ProposalBox {
        id: 1,
        header,
        payload: ProposalPayload::Deploy {
            base: [0; 20],
            head: [1; 20],
            diff_hash: [2; 32],
            targets: Targets::All,
            description_url: String::new(),
        },
    };
    let votes = vec![
        VoteEvidence {
            voter: a(1),
            record: VoteRecord {
                choice: VoteChoice::For,
                weight: 60,
                effective_weight: 60,
            },
            history: vec![HistoryEntry { seq: 1, weight: 60 }],
        },
        VoteEvidence {
            voter: a(2),
            record: VoteRecord {
                choice: VoteChoice::Against,
                weight: 40,
                effective_weight: 40,
            },
            history: vec![
                HistoryEntry { seq: 2, weight: 40 },
                HistoryEntry { seq: 3, weight: 90 },
            ],
        },
    ];
    (p, votes)
}

fn known() -> RulesKnowledge {
    RulesKnowledge {
        candidates: vec![rules()],
        complete: true,
    }
}

fn field(e: VerifyError) -> String {
    match e {
        VerifyError::Disagreement { field, .. } => field,
        other => panic!("{other}"),
    }
}

#[test]
fn a_consistent_proposal_verifies_and_derives_its_state() {
    let (p, votes) = fixture();
    let v = verify(&p, &votes, &known(), 1050).unwrap();
    assert!(v.rules_checked);
    assert_eq!(v.state, ProposalState::Active);
    assert_eq!(v.engine.tally.for_, 60);
    let v = verify(&p, &votes, &known(), 1110).unwrap();
    assert_eq!(v.state, ProposalState::Succeeded);
}

#[test]
fn a_tally_that_is_not_the_sum_of_the_votes_is_refused() {
    let (mut p, votes) = fixture();
    p.header.for_ = 61;
    assert_eq!(
        field(verify(&p, &votes, &known(), 1050).unwrap_err()),
        "for"
    );
    let (mut p, votes) = fixture();
    p.header.voted_weight = 99;
    assert_eq!(
        field(verify(&p, &votes, &known(), 1050).unwrap_err()),
        "voted_weight"
    );
    let (mut p, votes) = fixture();
    p.header.voters = 3;
    assert_eq!(
        field(verify(&p, &votes, &known(), 1050).unwrap_err()),
        "voters"
    );
}

#[test]
fn vote_weights_are_checked_against_the_snapshot() {
    // bob's later weight (90, seq 3) must not count: the snapshot is member_seq 2.
    let (p, mut votes) = fixture();
    votes[1].record.weight = 90;
    votes[1].record.effective_weight = 90;
    let f = field(verify(&p, &votes, &known(), 1050).unwrap_err());
    assert!(f.contains("weight"), "{f}");
    let (p, mut votes) = fixture();
    votes[0].record.effective_weight = 59;
    let f = field(verify(&p, &votes, &known(), 1050).unwrap_err());
    assert!(f.contains("effective"), "{f}");
}

#[test]
fn numbers_fixed_at_creation_are_recomputed() {
    let (mut p, votes) = fixture();
    p.header.quorum_votes = 1;
    let e = verify(&p, &votes, &known(), 1050).unwrap_err();
    assert!(e.to_string().contains("quorum_votes"), "{e}");
    // Unknown past rules: not an error, but not checked either.
    let partial = RulesKnowledge {
        candidates: vec![rules()],
        complete: false,
    };
    assert!(!verify(&p, &votes, &partial, 1050).unwrap().rules_checked);
    let (mut p, votes) = fixture();
    p.header.quorum_votes = 101;
    assert_eq!(
        field(verify(&p, &votes, &partial, 1050).unwrap_err()),
        "quorum_votes"
    );
}

#[test]
fn stored_states_must_agree_with_the_outcome() {
    let (mut p, votes) = fixture();
    p.header.stored = Stored::Defeated;
    assert_eq!(
        field(verify(&p, &votes, &known(), 1200).unwrap_err()),
        "stored state"
    );
    let (mut p, mut votes) = fixture();
    // bob for, alice against: 40 for / 60 against does not pass, yet queued.
    votes[0].record.choice = VoteChoice::Against;
    votes[1].record.choice = VoteChoice::For;
    p.header.for_ = 40;
    p.header.against = 60;
    p.header.stored = Stored::Queued;
    p.header.eta = 1130;
    assert_eq!(
        field(verify(&p, &votes, &known(), 1200).unwrap_err()),
        "stored state"
    );
    let (mut p, votes) = fixture();
    p.header.stored = Stored::Queued;
    p.header.eta = 1130;
    let v = verify(&p, &votes, &known(), 1140).unwrap();
    assert_eq!(v.state, ProposalState::Queued);
    let v = verify(&p, &votes, &known(), 1160).unwrap();
    assert_eq!(v.state, ProposalState::Expired);
    p.header.stored = Stored::Executed;
    assert_eq!(
        field(verify(&p, &votes, &known(), 1140).unwrap_err()),
        "stored state"
    );
}

#[test]
fn kinds_six_to_eight_verify_with_their_payloads_and_not_with_another() {
    let url = String::new();
    for (kind, payload) in [
        (
            Kind::Validator,
            ProposalPayload::Validator {
                validator: a(3),
                enabled: true,
                description_url: url.clone(),
            },
        ),
        (
            Kind::AttestationPolicy,
            ProposalPayload::AttestationPolicy {
                quorum: 1,
                reward: 0,
                description_url: url.clone(),
            },
        ),
        (
            Kind::Rebalance,
            ProposalPayload::Rebalance {
                commit: [4; 20],
                table_hash: [5; 32],
                points: dao_core::contributors::PointWeights::default(),
                weights: vec![(a(1), 70), (a(2), 45)],
                description_url: url.clone(),
            },
        ),
    ] {
        let (mut p, votes) = fixture();
        p.header.kind = kind;
        p.payload = payload;
        let v = verify(&p, &votes, &known(), 1050).unwrap();
        assert_eq!(v.engine.kind, kind);
        // the same payload under another kind is refused
        p.header.kind = Kind::Membership;
        assert_eq!(
            field(verify(&p, &votes, &known(), 1050).unwrap_err()),
            "payload"
        );
    }
}

/// A proposal decided with a delegated vote, its chain data taken from the rules engine: alice
/// 60, bob 30 and carol 10, carol delegating to bob before the proposal (bob's power 40);
/// bob votes for with 40, alice against with 60. Returns the proposal, the votes and carol's
/// history (power 10, then 0).
fn delegated_fixture() -> (ProposalBox, Vec<VoteEvidence>, Vec<HistoryEntry>) {
    use dao_core::rules::{Choice, Governance};
    // The engine wants a valid emergency period; a deploy proposal's numbers do not use it.
    let mut g = Governance::new(Rules {
        emergency_period: 50,
        ..rules()
    })
    .unwrap();
    for (m, w) in [("alice", 60), ("bob", 30), ("carol", 10)] {
        g.set_member(m, w).unwrap();
    }
    g.delegate("carol", "bob", 0).unwrap();
    let id = g
        .propose("alice", Kind::Deploy, Payload::Other, 1000)
        .unwrap();
    g.vote("bob", id, Choice::For, 1010).unwrap();
    g.vote("alice", id, Choice::Against, 1010).unwrap();
    let e = g.proposal(id).unwrap().clone();
    let history = |who: &str| -> Vec<HistoryEntry> {
        g.powers[who]
            .iter()
            .map(|(seq, weight)| HistoryEntry {
                seq: *seq,
                weight: *weight,
            })
            .collect()
    };
    let (mut p, _) = fixture();
    p.header.member_seq = e.member_seq;
    p.header.for_ = e.tally.for_;
    p.header.against = e.tally.against;
    p.header.voted_weight = e.voted_weight;
    let vote = |n: u8, choice, weight: u64, who: &str| VoteEvidence {
        voter: a(n),
        record: VoteRecord {
            choice,
            weight,
            effective_weight: weight,
        },
        history: history(who),
    };
    let votes = vec![
        vote(1, VoteChoice::Against, 60, "alice"),
        vote(2, VoteChoice::For, 40, "bob"),
    ];
    (p, votes, history("carol"))
}

#[test]
fn a_proposal_decided_with_delegated_votes_verifies() {
    let (p, votes, _) = delegated_fixture();
    assert_eq!((p.header.for_, p.header.against), (40, 60));
    let v = verify(&p, &votes, &known(), 1110).unwrap();
    assert_eq!(v.state, ProposalState::Defeated);
    assert_eq!(v.engine.voted_weight, 100);
}

#[test]
fn a_vote_whose_weight_is_not_the_power_at_the_snapshot_is_refused() {
    // bob casting only his own weight: not his power at the snapshot.
    let (p, mut votes, _) = delegated_fixture();
    votes[1].record.weight = 30;
    votes[1].record.effective_weight = 30;
    let f = field(verify(&p, &votes, &known(), 1050).unwrap_err());
    assert!(f.contains("weight of"), "{f}");
    // carol's delegated weight cast a second time, by carol: her power at the snapshot is 0.
    let (mut p, mut votes, carol) = delegated_fixture();
    p.header.against += 10;
    p.header.voted_weight += 10;
    p.header.voters = 3;
    votes.push(VoteEvidence {
        voter: a(3),
        record: VoteRecord {
            choice: VoteChoice::Against,
            weight: 10,
            effective_weight: 10,
        },
        history: carol,
    });
    let f = field(verify(&p, &votes, &known(), 1050).unwrap_err());
    assert!(f.contains(&a(3).to_string()), "{f}");
}
