//! Replays contracts/vectors/governance.json through the rules engine. The app's test suite
//! replays the same file on chain.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use dao_core::rules::{Choice, Governance, Kind, Payload, ProposalState, Rules, Tally};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: u32,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    scenarios: Vec<Scenario>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    name: String,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    rules: Rules,
    members: BTreeMap<String, u64>,
    steps: Vec<Step>,
}

// No deny_unknown_fields here: serde cannot combine it with flatten; `Op` denies them instead.
#[derive(Deserialize)]
struct Step {
    at: u64,
    #[serde(flatten)]
    op: Op,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
enum Op {
    SetMember {
        member: String,
        weight: u64,
    },
    /// The creator's seal: refused unless the DAO is live (docs/governance-rules.md, "Liveness").
    Seal,
    Propose {
        by: String,
        kind: Kind,
        id: Option<u64>,
        #[serde(default)]
        payload: Option<PayloadSpec>,
    },
    Vote {
        by: String,
        proposal: u64,
        choice: Choice,
    },
    Finalize {
        proposal: u64,
        #[serde(default)]
        state: Option<ProposalState>,
        #[serde(default)]
        eta: Option<u64>,
    },
    Cancel {
        by: String,
        proposal: u64,
    },
    Execute {
        proposal: u64,
    },
    /// `by` delegates all of its own weight to `to` (docs/governance-rules.md, "Delegation").
    Delegate {
        by: String,
        to: String,
    },
    /// `by` takes its own weight back.
    Undelegate {
        by: String,
    },
    /// Anyone asks for the proposal's bond back (docs/governance-rules.md, "Proposal bond").
    RefundBond {
        proposal: u64,
        #[serde(default)]
        amount: Option<u64>,
    },
    Check {
        /// The proposal the proposal fields are about; a check of powers alone may omit it.
        #[serde(default)]
        proposal: Option<u64>,
        #[serde(default)]
        state: Option<ProposalState>,
        #[serde(default)]
        tally: Option<Tally>,
        #[serde(default)]
        voted_weight: Option<u64>,
        #[serde(default)]
        eta: Option<u64>,
        #[serde(default)]
        total: Option<u64>,
        #[serde(default)]
        quorum_votes: Option<u64>,
        /// The bond paid with the proposal (0: none).
        #[serde(default)]
        bond: Option<u64>,
        /// "none", "held", "refunded" or "kept".
        #[serde(default)]
        bond_status: Option<String>,
        /// Every bond the app holds, all proposals together.
        #[serde(default)]
        bonds_held: Option<u64>,
        /// Voting power now, per named address.
        #[serde(default)]
        power: Option<BTreeMap<String, u64>>,
        /// The delegate now, per named address (null: none).
        #[serde(default)]
        delegates: Option<BTreeMap<String, Option<String>>>,
    },
}

#[derive(Deserialize)]
#[serde(untagged, deny_unknown_fields)]
enum PayloadSpec {
    Membership { member: String, weight: u64 },
    Parameters { rules: Rules },
    Rebalance { weights: Vec<(String, u64)> },
}

const SHARED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../contracts/vectors/governance.json"
);
/// The app suite's own extra scenarios, in the same format: the engine must agree with them too.
const APP_EXTRA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../contracts/tests/vectors_local.json"
);

fn load_from(path: &str) -> File {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn load() -> File {
    load_from(SHARED)
}

fn run(s: &Scenario) -> Result<(), String> {
    let mut g = Governance::new(s.rules).map_err(|e| e.to_string())?;
    for (m, w) in &s.members {
        g.set_member(m, *w).map_err(|e| e.to_string())?;
    }
    let mut last_at = 0;
    for (i, step) in s.steps.iter().enumerate() {
        let here = |msg: String| format!("step {i} (at {}): {msg}", step.at);
        if step.at < last_at {
            return Err(here("steps go back in time".into()));
        }
        last_at = step.at;
        let before = g.clone();
        let now = step.at;
        let result: Result<(), dao_core::rules::RuleError> = match &step.op {
            Op::SetMember { member, weight } => g.set_member(member, *weight),
            Op::Seal => g.seal(),
            Op::Propose {
                by,
                kind,
                id,
                payload,
            } => {
                let payload = match payload {
                    None => Payload::Other,
                    Some(PayloadSpec::Membership { member, weight }) => Payload::Membership {
                        member: member.clone(),
                        weight: *weight,
                    },
                    Some(PayloadSpec::Parameters { rules }) => Payload::Parameters(*rules),
                    Some(PayloadSpec::Rebalance { weights }) => Payload::Rebalance {
                        weights: weights.clone(),
                    },
                };
                g.propose(by, *kind, payload, now).and_then(|got| {
                    if step.error.is_none() && *id != Some(got) {
                        return Err(dao_core::rules::RuleError::InvalidRules(format!(
                            "VECTOR MISMATCH: expected id {id:?}, got {got}"
                        )));
                    }
                    Ok(())
                })
            }
            Op::Vote {
                by,
                proposal,
                choice,
            } => g.vote(by, *proposal, *choice, now),
            Op::Finalize {
                proposal,
                state,
                eta,
            } => g.finalize(*proposal, now).map(|got| {
                if let Some(want) = state {
                    assert_eq!(got, *want, "{}", here("finalize state".into()));
                }
                if let Some(want) = eta {
                    let p = g.proposal(*proposal).unwrap();
                    assert_eq!(p.eta, Some(*want), "{}", here("finalize eta".into()));
                }
            }),
            Op::Cancel { by, proposal } => g.cancel(by, *proposal, now),
            Op::Delegate { by, to } => g.delegate(by, to, now),
            Op::Undelegate { by } => g.undelegate(by, now),
            Op::Execute { proposal } => g.execute(*proposal, now),
            Op::RefundBond { proposal, amount } => g.refund_bond(*proposal).map(|got| {
                if let Some(want) = amount {
                    assert_eq!(got, *want, "{}", here("refunded amount".into()));
                }
            }),
            Op::Check {
                proposal,
                state,
                tally,
                voted_weight,
                eta,
                total,
                quorum_votes,
                bond,
                bond_status,
                bonds_held,
                power,
                delegates,
            } => {
                let mut diffs = Vec::new();
                for (who, want) in power.iter().flatten() {
                    let got = g.power(who);
                    if got != *want {
                        diffs.push(format!("power of {who}: expected {want}, got {got}"));
                    }
                }
                for (who, want) in delegates.iter().flatten() {
                    let got = g.delegate_of(who);
                    if got != want.as_deref() {
                        diffs.push(format!("delegate of {who}: expected {want:?}, got {got:?}"));
                    }
                }
                if let Some(id) = proposal {
                    let p = g.proposal(*id).map_err(|e| here(e.to_string()))?;
                    let mut cmp = |what: &str, want: String, got: String| {
                        if want != got {
                            diffs.push(format!("{what}: expected {want}, got {got}"));
                        }
                    };
                    if let Some(w) = state {
                        cmp("state", w.to_string(), p.state_at(now).to_string());
                    }
                    if let Some(w) = tally {
                        cmp("tally", format!("{w:?}"), format!("{:?}", p.tally));
                    }
                    if let Some(w) = voted_weight {
                        cmp("voted_weight", w.to_string(), p.voted_weight.to_string());
                    }
                    if let Some(w) = eta {
                        cmp("eta", format!("{:?}", Some(*w)), format!("{:?}", p.eta));
                    }
                    if let Some(w) = total {
                        cmp("total", w.to_string(), p.total.to_string());
                    }
                    if let Some(w) = quorum_votes {
                        cmp("quorum_votes", w.to_string(), p.quorum_votes.to_string());
                    }
                    if let Some(w) = bond {
                        cmp(
                            "bond",
                            w.to_string(),
                            p.bond.map_or(0, |b| b.amount).to_string(),
                        );
                    }
                    if let Some(w) = bond_status {
                        let got = p.bond.map_or("none", |b| b.status.as_str());
                        cmp("bond_status", w.clone(), got.to_string());
                    }
                    if let Some(w) = bonds_held {
                        cmp("bonds_held", w.to_string(), g.bonds_held().to_string());
                    }
                }
                if !diffs.is_empty() {
                    return Err(here(diffs.join("; ")));
                }
                Ok(())
            }
        };
        match (&step.error, result) {
            (None, Ok(())) => {}
            (None, Err(e)) => return Err(here(format!("unexpected error {}: {e}", e.code()))),
            (Some(want), Ok(())) => {
                return Err(here(format!("expected error {want}, got success")))
            }
            (Some(want), Err(e)) => {
                if e.code() != want {
                    return Err(here(format!(
                        "expected error {want}, got {}: {e}",
                        e.code()
                    )));
                }
                if g != before {
                    return Err(here(format!("failed action {want} changed the state")));
                }
            }
        }
    }
    Ok(())
}

#[test]
fn every_scenario_vector_holds_in_the_rules_engine() {
    let file = load();
    assert_eq!(file.version, 1);
    assert!(file.scenarios.len() >= 20, "the vector file lost scenarios");
    let failures: Vec<String> = file
        .scenarios
        .iter()
        .filter_map(|s| run(s).err().map(|e| format!("{}: {e}", s.name)))
        .collect();
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn the_app_suites_extra_scenarios_hold_in_the_rules_engine_too() {
    let file = load_from(APP_EXTRA);
    assert!(!file.scenarios.is_empty());
    let failures: Vec<String> = file
        .scenarios
        .iter()
        .filter_map(|s| run(s).err().map(|e| format!("{}: {e}", s.name)))
        .collect();
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn the_vectors_cover_every_error_code_and_state() {
    let file = load();
    let text = serde_json::to_string(
        &serde_json::from_str::<serde_json::Value>(
            &std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../contracts/vectors/governance.json"
            ))
            .unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    for code in [
        "unknown_proposal",
        "insufficient_weight",
        "voting_not_started",
        "voting_closed",
        "already_voted",
        "not_member",
        "not_open",
        "outcome_undecided",
        "not_proposer",
        "not_executable_kind",
        "not_queued",
        "timelock_active",
        "expired",
        "total_weight_too_large",
        "invalid_rules",
        "bad_members",
        "rebalance_lowers_weight",
        "timelock_below_floor",
        "bond_too_large",
        "no_bond",
        "bond_refunded",
        "bond_kept",
        "bond_not_final",
        "heartbeat_interval_out_of_range",
        "would_freeze_vote",
        "would_freeze_proposer",
        "self_delegation",
        "delegate_not_member",
        "already_delegated",
        "not_delegating",
        "weight_delegated",
    ] {
        assert!(
            text.contains(&format!("\"error\":\"{code}\"")),
            "no vector expects {code}"
        );
    }
    for state in ProposalState::ALL {
        assert!(
            text.contains(&format!("\"state\":\"{state}\"")),
            "no vector reaches {state}"
        );
    }
    assert!(!file.scenarios.is_empty());
}

/// A delegation scenario in the vector format, written here so that the runner's delegation ops
/// are tested whatever the shared file holds.
const LOCAL_DELEGATION: &str = r#"{
  "version": 1,
  "scenarios": [{
    "name": "local: delegate, vote, undelegate",
    "rules": {"voting_delay": 10, "voting_period": 100, "support_ppm": 500000,
              "quorum_ppm": 200000, "emergency_period": 50, "emergency_support_ppm": 666667,
              "timelock": 3600, "grace_period": 600, "min_proposer_weight": 1,
              "vote_cap_ppm": 0, "proposal_bond": 0, "heartbeat_interval": 86400},
    "members": {"alice": 10, "bob": 5, "carol": 1},
    "steps": [
      {"at": 0, "op": "delegate", "by": "alice", "to": "alice", "error": "self_delegation"},
      {"at": 0, "op": "delegate", "by": "dave", "to": "bob", "error": "not_member"},
      {"at": 0, "op": "delegate", "by": "alice", "to": "dave", "error": "delegate_not_member"},
      {"at": 0, "op": "undelegate", "by": "alice", "error": "not_delegating"},
      {"at": 0, "op": "delegate", "by": "alice", "to": "bob"},
      {"at": 0, "op": "delegate", "by": "alice", "to": "bob", "error": "already_delegated"},
      {"at": 0, "op": "check", "power": {"alice": 0, "bob": 15, "carol": 1},
       "delegates": {"alice": "bob", "bob": null}},
      {"at": 1, "op": "propose", "by": "alice", "kind": "deploy", "id": 1},
      {"at": 11, "op": "vote", "by": "alice", "proposal": 1, "choice": "for",
       "error": "weight_delegated"},
      {"at": 11, "op": "vote", "by": "bob", "proposal": 1, "choice": "for"},
      {"at": 12, "op": "undelegate", "by": "alice"},
      {"at": 12, "op": "check", "proposal": 1, "voted_weight": 15,
       "tally": {"for": 15, "against": 0, "abstain": 0},
       "power": {"alice": 10, "bob": 5}, "delegates": {"alice": null}}
    ]
  }]
}"#;

#[test]
fn the_runner_replays_delegation_ops_and_checks_powers_and_delegates() {
    let file: File = serde_json::from_str(LOCAL_DELEGATION).unwrap();
    for s in &file.scenarios {
        run(s).unwrap();
    }
    // The checker can fail: a wrong power or delegate is reported, naming what differs.
    for (wrong, what) in [
        (
            r#""power": {"alice": 10, "bob": 5}"#,
            r#""power": {"alice": 0, "bob": 5}"#,
        ),
        (
            r#""delegates": {"alice": null}"#,
            r#""delegates": {"alice": "bob"}"#,
        ),
    ] {
        let text = LOCAL_DELEGATION.replace(wrong, what);
        assert_ne!(text, LOCAL_DELEGATION);
        let file: File = serde_json::from_str(&text).unwrap();
        let e = run(&file.scenarios[0]).unwrap_err();
        assert!(e.contains("of alice"), "{e}");
    }
}
