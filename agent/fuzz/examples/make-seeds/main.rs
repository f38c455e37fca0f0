//! Writes the hand-made seeds of every target into agent/fuzz/seeds/<target>/ (docs/fuzzing.md):
//! real-shaped blocks, boxes, payloads, configurations, journal records and git trees, valid and
//! broken, so that the fuzzers start at the interesting places. Seeds a fuzzer found are kept
//! beside them under their hash; this program never deletes those.
//!
//!     cargo run -p dao-fuzz --example make-seeds

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use dao_agent::journal::{Generation, Outcome, Record, Report, Status, Step, StepEntry, StepState};
use dao_chain::decode::{
    self, BoxKey, GlobalValue, ProposalBox, ProposalHeader, ProposalPayload, Targets,
};
use dao_chain::events::AppEvent;
use dao_core::address::Address;
use dao_core::contributors::PointWeights;
use dao_core::diff_hash::DiffHash;
use dao_core::rules::{Kind, Rules, Stored};
use dao_fuzz::chain::{
    encode_event, encode_global, encode_header, write_box, write_global, write_logs,
};
use std::path::{Path, PathBuf};

mod git_seeds;

fn put(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("seeds")
        .join(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn a(n: u8) -> Address {
    Address([n; 32])
}

fn b64(b: &[u8]) -> String {
    data_encoding::BASE64.encode(b)
}

fn all_events() -> Vec<AppEvent> {
    vec![
        AppEvent::ProposalCreated {
            id: 7,
            kind: Kind::Deploy,
            proposer: a(1),
            start: 1_700_000_060,
            end: 1_700_259_260,
        },
        AppEvent::VoteCast {
            id: 7,
            voter: a(2),
            choice: dao_chain::decode::VoteChoice::For,
            weight: 40,
            effective_weight: 40,
        },
        AppEvent::ProposalFinalized {
            id: 7,
            queued: true,
            eta: 1_700_262_860,
        },
        AppEvent::ProposalCanceled { id: 8 },
        AppEvent::ProposalExecuted {
            id: 9,
            kind: Kind::Membership,
        },
        AppEvent::ExecutionReported {
            id: 7,
            host_id: 1,
            status: dao_chain::decode::ReportStatus::Applied,
            toplevel_sha256: [0x11; 32],
            generation: 42,
            logs_sha256: [0x22; 32],
        },
        AppEvent::MemberChanged {
            member: a(3),
            weight: 10,
            seq: 4,
            total_weight: 100,
        },
        AppEvent::HostChanged {
            host_id: 2,
            agent: a(4),
        },
        AppEvent::Sealed { total_weight: 100 },
    ]
}

fn chain_block() {
    let events: Vec<Vec<u8>> = all_events().iter().map(encode_event).collect();
    let txid = "G3CIFQ7NTYV4KDP2XH5M2BDZUOJ6S3XWAO5JD6VUWWF4VO3XTS5A";
    let other = "NJQ2VH6UYG3M2YOZ4B6PZ6TMKQ7Q7UY6X3KDN5QXG4H7SXU3IS7A";
    let ret = [vec![0x15, 0x1f, 0x7c, 0x75], 7u64.to_be_bytes().to_vec()].concat();
    // The JSON bodies algod (and the devnet) answer with.
    let body = |entries: &[(u64, &str, &[Vec<u8>])]| {
        let logs: Vec<String> = entries
            .iter()
            .map(|(app, tx, lines)| {
                let l: Vec<String> = lines.iter().map(|x| format!("\"{}\"", b64(x))).collect();
                format!(
                    "{{\"txId\": \"{tx}\", \"application-index\": {app}, \"logs\": [{}]}}",
                    l.join(", ")
                )
            })
            .collect();
        format!("\0{{\"logs\": [{}]}}", logs.join(", ")).into_bytes()
    };
    put(
        "chain_block",
        "logs-json-every-event",
        &body(&[(1001, txid, &events), (5, other, &[vec![1, 2, 3]])]),
    );
    put(
        "chain_block",
        "logs-json-return-and-vote",
        &body(&[(1001, txid, &[events[1].clone(), ret.clone()])]),
    );
    put("chain_block", "logs-json-empty", b"\0{\"logs\": []}");
    put(
        "chain_block",
        "block-json",
        format!(
            "\0{{\"block\": {{\"earn\": 0, \"fees\": \"A7NMWS3NT3IUDMLVO26ULGXGIIOUQ3ND2TXSER6EBGRZNOBOUIQXHIBGDE\", \
             \"frac\": 0, \"gen\": \"devnet-v1\", \"gh\": \"{}\", \"prev\": \"blk-AAAA\", \"proto\": \"future\", \
             \"rate\": 0, \"rnd\": 77, \"rwcalr\": 500000, \"seed\": \"{}\", \"tc\": 1005, \
             \"ts\": 1700000000, \"txn\": \"{}\"}}}}",
            b64(&[1; 32]),
            b64(&[2; 32]),
            b64(&[3; 32])
        )
        .as_bytes(),
    );
    put(
        "chain_block",
        "logs-every-event",
        &write_logs(&[
            (txid, true, events.clone()),
            (other, false, vec![vec![9; 5]]),
        ]),
    );
    put(
        "chain_block",
        "logs-return-value",
        &write_logs(&[(txid, true, vec![ret, events[3].clone()])]),
    );
    let mut bad = events[2].clone();
    bad[12] = 1; // a finalized state that is neither defeated nor queued
    put(
        "chain_block",
        "logs-bad-state",
        &write_logs(&[(txid, true, vec![events[0].clone(), bad])]),
    );
    let mut long = events[8].clone();
    long.push(0);
    put(
        "chain_block",
        "logs-long-event",
        &write_logs(&[(txid, true, vec![long])]),
    );
}

fn header(kind: Kind, stored: Stored) -> ProposalHeader {
    ProposalHeader {
        proposer: a(1),
        kind,
        stored,
        created: 1_700_000_000,
        start: 1_700_000_060,
        end: 1_700_259_260,
        member_seq: 4,
        total: 100,
        support_ppm: 500_000,
        quorum_votes: 20,
        cap_weight: 100,
        timelock: 3600,
        grace_period: 604_800,
        for_: 60,
        against: 10,
        abstain: 5,
        voted_weight: 75,
        eta: 1_700_262_860,
        voters: 3,
    }
}

fn payloads() -> Vec<(&'static str, Kind, ProposalPayload)> {
    let url = "https://git.example.org/fleet/infra/pulls/12".to_owned();
    vec![
        (
            "deploy-hosts",
            Kind::Deploy,
            ProposalPayload::Deploy {
                base: [0xaa; 20],
                head: [0xbb; 20],
                diff_hash: [0xcc; 32],
                targets: Targets::Hosts(vec![1, 2, 3]),
                description_url: url.clone(),
            },
        ),
        (
            "emergency-all",
            Kind::Emergency,
            ProposalPayload::Deploy {
                base: [0xaa; 20],
                head: [0xbb; 20],
                diff_hash: [0xcc; 32],
                targets: Targets::All,
                description_url: String::new(),
            },
        ),
        (
            "membership",
            Kind::Membership,
            ProposalPayload::Membership {
                member: a(5),
                weight: 25,
                description_url: url.clone(),
            },
        ),
        (
            "hosts",
            Kind::Hosts,
            ProposalPayload::Hosts {
                host_id: 3,
                agent: a(6),
                description_url: url.clone(),
            },
        ),
        (
            "parameters",
            Kind::Parameters,
            ProposalPayload::Parameters {
                rules: Rules::default(),
                description_url: url.clone(),
            },
        ),
        (
            "treasury",
            Kind::Treasury,
            ProposalPayload::Treasury {
                receiver: a(7),
                amount: 1_000_000,
                description_url: url.clone(),
            },
        ),
        (
            "validator",
            Kind::Validator,
            ProposalPayload::Validator {
                validator: a(8),
                enabled: true,
                description_url: url.clone(),
            },
        ),
        (
            "attestation-policy",
            Kind::AttestationPolicy,
            ProposalPayload::AttestationPolicy {
                quorum: 2,
                reward: 1_000,
                description_url: url.clone(),
            },
        ),
        (
            "rebalance",
            Kind::Rebalance,
            ProposalPayload::Rebalance {
                commit: [0x5a; 20],
                table_hash: [0x77; 32],
                points: PointWeights::default(),
                weights: vec![(a(2), 45), (a(3), 64)],
                description_url: url.clone(),
            },
        ),
        (
            "point-weights",
            Kind::PointWeights,
            ProposalPayload::PointWeights {
                weights: PointWeights {
                    code: 4,
                    comment: 0,
                    text: 1,
                },
                description_url: url,
            },
        ),
    ]
}

fn box_seed(name: &str, key: &BoxKey, value: &[u8]) {
    // The other key is of the next kind along: a member box is also read as a history entry...
    let sel = match key {
        BoxKey::Member(_) => 1,
        BoxKey::History(..) => 2,
        BoxKey::Proposal(_) => 3,
        BoxKey::Vote(..) => 4,
        BoxKey::Host(_) => 5,
        BoxKey::Report(..) => 6,
        BoxKey::Rollback(..) => 0,
        BoxKey::Validator(_) => 7,
        BoxKey::AttestPolicy(_) => 8,
        BoxKey::Attestation(..) => 9,
        BoxKey::Validation(..) => 10,
        BoxKey::Claim(..)
        | BoxKey::ClosureCount(..)
        | BoxKey::Bond(_)
        | BoxKey::Heartbeat(_)
        | BoxKey::Delegate(_) => 6,
    };
    put("chain_box", name, &write_box(key, sel, value));
}

fn chain_box() {
    let u = |v: &[u64]| -> Vec<u8> { v.iter().flat_map(|x| x.to_be_bytes()).collect() };
    box_seed("member", &BoxKey::Member(a(2)), &u(&[40, 3]));
    box_seed("history", &BoxKey::History(a(2), 1), &u(&[4, 40]));
    box_seed("vote", &BoxKey::Vote(7, a(2)), &u(&[1, 40, 40]));
    box_seed("host", &BoxKey::Host(1), &[9; 32]);
    box_seed("delegate", &BoxKey::Delegate(a(2)), &[3; 32]);
    let report = [
        u(&[0]),
        vec![0x11; 32],
        u(&[42]),
        vec![0x22; 32],
        u(&[1_700_263_000]),
    ]
    .concat();
    box_seed("report", &BoxKey::Report(7, 1), &report);
    let rolled = [
        u(&[2]),
        vec![0x11; 32],
        u(&[41]),
        vec![0x22; 32],
        u(&[1_700_264_000]),
    ]
    .concat();
    box_seed("rollback", &BoxKey::Rollback(7, 1), &rolled);
    for (i, (name, kind, payload)) in payloads().into_iter().enumerate() {
        let p = ProposalBox {
            id: 7 + i as u64,
            header: header(kind, Stored::Queued),
            payload,
        };
        let mut value = encode_header(&p.header);
        value.extend(dao_fuzz::arc4::encode_payload(&p.payload));
        box_seed(&format!("proposal-{name}"), &BoxKey::Proposal(p.id), &value);
    }
    box_seed("validator", &BoxKey::Validator(a(3)), &u(&[1_700_000_000]));
    box_seed("attest-policy", &BoxKey::AttestPolicy(7), &u(&[2, 1_000]));
    let attestation = [u(&[0]), vec![0x33; 32], u(&[1_700_000_100])].concat();
    box_seed(
        "attestation",
        &BoxKey::Attestation(7, 1, a(3)),
        &attestation,
    );
    let validation = [u(&[2, 2, 1]), vec![0x33; 32], u(&[1_700_000_200])].concat();
    box_seed("validation", &BoxKey::Validation(7, 1), &validation);
    box_seed(
        "claim",
        &BoxKey::Claim(7, a(3)),
        &u(&[2_000, 2, 1_700_000_300]),
    );
    // A vote box read with a member key is refused.
    box_seed("vote-as-member", &BoxKey::Member(a(2)), &u(&[1, 40, 40]));
    let g = decode::GlobalState {
        rules: Rules::default(),
        repo: "https://git.example.org/fleet/infra.git".into(),
        genesis: [0x5a; 20],
        member_seq: 4,
        total_weight: 100,
        proposal_count: 12,
        sealed: true,
        validators: 3,
        attest_quorum: 2,
        attest_reward: 1_000,
        point_weights: PointWeights::default(),
        members: 3,
        bonds_held: 0,
    };
    put("chain_box", "global", &write_global(&encode_global(&g)));
    let mut dup = encode_global(&g);
    dup.push((b"sealed".to_vec(), GlobalValue::Uint(1)));
    put("chain_box", "global-duplicate-key", &write_global(&dup));
    let mut bad_rules = encode_global(&g);
    bad_rules[0].1 = GlobalValue::Bytes(vec![0; 96]);
    put(
        "chain_box",
        "global-invalid-rules",
        &write_global(&bad_rules),
    );
}

fn arc4() {
    for (name, kind, payload) in payloads() {
        let mut out = vec![kind.code()];
        out.extend(dao_fuzz::arc4::encode_payload(&payload));
        put("arc4", &format!("payload-{name}"), &out);
    }
    let mut s = vec![6];
    s.extend(decode::encode_arc4_bytes("https://example.org/ünïcode".as_bytes()).unwrap());
    put("arc4", "string", &s);
    let mut r = vec![7];
    r.extend(decode::encode_rules(&Rules::default()));
    put("arc4", "rules", &r);
    let mut bad = vec![7];
    bad.extend(decode::encode_rules(&Rules {
        support_ppm: 2_000_000,
        ..Rules::default()
    }));
    put("arc4", "rules-invalid", &bad);
}

fn config() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples");
    for name in ["executor.toml", "watcher.toml"] {
        put("config", name, &std::fs::read(examples.join(name)).unwrap());
    }
    put(
        "config",
        "every-problem.toml",
        br#"roles = ["watcher", "watcher", "builder", 3]
state_dir = "relative/dir"
colour = "blue"

[chain]
algod_url = "ftp://127.0.0.1:4001"
algod_token_file = "/nix/store/abc-token"
app_id = 0
network = "moonnet"
allowed_program_hashes = ["NOTANADDRESS", 5]

[host]
id = -1
name = "web 1"
flake_output = "nixosConfigurations.x; rm -rf /"

[source]
allowed_remotes = ["gopher://example.org/repo", 7]
checkout_dir = "/var/lib/../tmp"
shallow = "yes"

[executor]
system_profile = "/nix//var"
switch_mode = "teleport"
operator_group = "-bad"
fetch_timeout = "5 minutes"
build_timeout = "30m1h"

[executor.health]
timeout = "1w"
required_units = ["sshd", "../x.service"]
command = ["curl", "http://127.0.0.1/"]

[keys]
account_key_file = "key"
"#,
    );
    put(
        "config",
        "syntax-error.toml",
        b"roles = [\"watcher\"\n[chain\napp_id = 1",
    );
    put(
        "config",
        "watcher-defaults.toml",
        br#"roles = ["watcher"]
[chain]
algod_url = "http://[::1]:4001/"
app_id = 9223372036854775807
network = "devnet"
allowed_program_hashes = []
[executor]
dry_build_timeout = "2d"
switch_timeout = "500ms"
"#,
    );
}

fn journal() {
    let diff: DiffHash = "sha256:da98fb5a8df88302090bffc87c4e9697956a03a39ce0770c3443a597022ead5b"
        .parse()
        .unwrap();
    let mut r = Record::new(
        7,
        1,
        "1f7a2b3c4d5e6f708192a3b4c5d6e7f801234567",
        "89abcdef0123456789abcdef0123456789abcdef",
        diff,
    );
    let pretty = |r: &Record| serde_json::to_vec_pretty(r).unwrap();
    put("journal", "new", &pretty(&r));
    for (i, step) in [
        Step::FetchCommits,
        Step::VerifyChange,
        Step::DryBuild,
        Step::BuildToplevel,
        Step::SwitchConfiguration,
    ]
    .into_iter()
    .enumerate()
    {
        let at = 1_700_000_000_000 + 1000 * i as u64;
        r.steps.push(StepEntry {
            step,
            state: StepState::Started,
            at_ms: at,
            detail: None,
        });
        r.steps.push(StepEntry {
            step,
            state: StepState::Done,
            at_ms: at + 500,
            detail: Some(format!("{step:?} took 0.5 s")),
        });
    }
    r.previous = Some(Generation {
        number: 41,
        store_path: PathBuf::from("/nix/store/3k1w5yqz8m8a1ky0m9d7g5d4x2n0r1bb-nixos-system-web-1"),
    });
    r.toplevel = Some(PathBuf::from(
        "/nix/store/9x2c7lmb3j0d4q8z1s5v6w7y0a1b2c3d-nixos-system-web-1",
    ));
    put("journal", "switched", &pretty(&r));
    r.steps.push(StepEntry {
        step: Step::ConfirmHealth,
        state: StepState::Failed,
        at_ms: 1_700_000_090_000,
        detail: Some("sshd.service is not active".into()),
    });
    r.steps.push(StepEntry {
        step: Step::RevertConfiguration,
        state: StepState::Done,
        at_ms: 1_700_000_091_000,
        detail: None,
    });
    r.outcome = Some(Outcome {
        status: Status::RolledBack,
        step: Some(Step::ConfirmHealth),
        reason: Some("sshd.service is not active".into()),
    });
    r.report = Report::Submitted {
        txid: "G3CIFQ7NTYV4KDP2XH5M2BDZUOJ6S3XWAO5JD6VUWWF4VO3XTS5A".into(),
    };
    put("journal", "rolled-back-submitted", &pretty(&r));
    r.report = Report::Confirmed {
        txid: "G3CIFQ7NTYV4KDP2XH5M2BDZUOJ6S3XWAO5JD6VUWWF4VO3XTS5A".into(),
        round: 1234,
    };
    put(
        "journal",
        "rolled-back-confirmed",
        &serde_json::to_vec(&r).unwrap(),
    );
    let mut text = String::from_utf8(pretty(&r)).unwrap();
    text = text.replace("\"version\": 1", "\"version\": 2");
    put("journal", "other-version", text.as_bytes());
    put("journal", "truncated", &pretty(&r)[..200]);
}

fn main() {
    chain_block();
    chain_box();
    arc4();
    config();
    journal();
    for (name, bytes) in git_seeds::seeds() {
        put("diff_hash", &name, &bytes);
    }
    for (name, bytes) in git_seeds::pack_seeds() {
        put("diff_hash_pack", &name, &bytes);
    }
    println!("seeds written under {}/seeds", env!("CARGO_MANIFEST_DIR"));
}
