//! The attestation quorum on real components (docs/validators.md): a host with a real Nix build
//! waits while validators have not agreed, activates only the closure they agreed on when it is
//! its own, and refuses (not reproducible) when they agreed on another or can no longer agree.
//! The chain boundary is the test double `FileReporter`, fed what validators attested.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod pipeline_host;

use dao_agent::executor::build::Nix;
use dao_agent::executor::closure;
use dao_agent::executor::pipeline::PipelineError;
use dao_agent::journal::{Journal, Status, Step, StepState};
use dao_testkit::NIX_CONFIG;
use pipeline_host::{hex, lineage, status, Host, GOOD};
use serde_json::json;
use std::time::Duration;

fn attest(h: &Host, facts: serde_json::Value) {
    std::fs::write(
        h.dir.join("chain-reports.attest"),
        serde_json::to_vec(&facts).unwrap(),
    )
    .unwrap();
}

fn closure_of(path: &std::path::Path) -> String {
    let nix = Nix {
        program: "nix".into(),
        env: vec![("NIX_CONFIG".into(), NIX_CONFIG.into())],
    };
    hex(&closure::of_toplevel(&nix, path, None, Duration::from_secs(60)).unwrap())
}

#[test]
fn a_host_waits_for_the_quorum_then_applies_only_the_agreed_closure() {
    let h = Host::new();
    let base = h.commit("v1", GOOD);
    h.install(base);
    let head = h.commit("v2", GOOD);
    let a = h.approve(3, base, head);
    attest(
        &h,
        json!({"3": {"quorum": 2, "validators": 3, "attestations": 1, "best": 1, "agreed": null}}),
    );
    let waited = h.run(&a, &lineage(base), h.remote());
    assert!(
        matches!(&waited, Err(PipelineError::Awaiting { proposal: 3, reason }) if reason.contains("1 of 2")),
        "{waited:?}"
    );
    assert!(
        h.switches().is_empty(),
        "switched before the validators agreed"
    );
    assert_eq!(h.profile().current().unwrap().unwrap().number, 1);
    assert!(h.reporter().all().is_empty(), "waiting is not an outcome");
    let rec = Journal::open(&h.dir.join("state/journal"))
        .unwrap()
        .get(3, 1)
        .unwrap()
        .unwrap();
    let last = rec.steps.last().unwrap();
    assert_eq!(
        (last.step, last.state),
        (Step::AwaitAttestations, StepState::Started)
    );
    let toplevel = rec.toplevel.clone().unwrap();

    // Still waiting: no second "started" entry, nothing built again that changes anything.
    assert!(h.run(&a, &lineage(base), h.remote()).is_err());
    let rec = Journal::open(&h.dir.join("state/journal"))
        .unwrap()
        .get(3, 1)
        .unwrap()
        .unwrap();
    let waits = rec
        .steps
        .iter()
        .filter(|e| e.step == Step::AwaitAttestations)
        .count();
    assert_eq!(waits, 1);

    let mine = closure_of(&toplevel);
    attest(
        &h,
        json!({"3": {"quorum": 2, "validators": 3, "attestations": 2, "best": 2, "agreed": mine}}),
    );
    let rec = h.run(&a, &lineage(base), h.remote()).unwrap();
    assert_eq!(status(&rec), Status::Applied, "{:?}", rec.outcome);
    assert_eq!(h.switches(), ["v2 switch"]);
    let done = rec
        .steps
        .iter()
        .find(|e| e.step == Step::AwaitAttestations && e.state == StepState::Done);
    assert!(
        done.unwrap().detail.as_deref().unwrap().contains(&mine),
        "{rec:?}"
    );
}

#[test]
fn a_host_whose_build_differs_from_the_agreed_one_refuses_it() {
    let h = Host::new();
    let base = h.commit("v1", GOOD);
    h.install(base);
    let head = h.commit("v2", GOOD);
    let a = h.approve(4, base, head);
    let other = "ab".repeat(32);
    attest(
        &h,
        json!({"4": {"quorum": 2, "validators": 2, "attestations": 2, "best": 2, "agreed": other}}),
    );
    let rec = h.run(&a, &lineage(base), h.remote()).unwrap();
    assert_eq!(status(&rec), Status::NotReproducible, "{:?}", rec.outcome);
    let why = rec.outcome.as_ref().unwrap().reason.clone().unwrap();
    assert!(
        why.contains(&other) && why.contains("not reproducible"),
        "{why}"
    );
    assert!(h.switches().is_empty());
    assert_eq!(h.profile().current().unwrap().unwrap().number, 1);
    let reports = h.reporter().all();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0]["status"], "not_reproducible");
}

#[test]
fn a_host_stops_waiting_once_the_validators_can_no_longer_agree() {
    let h = Host::new();
    let base = h.commit("v1", GOOD);
    h.install(base);
    let head = h.commit("v2", GOOD);
    let a = h.approve(5, base, head);
    // Two validators, quorum two, and they attested different closures: no agreement, ever.
    attest(
        &h,
        json!({"5": {"quorum": 2, "validators": 2, "attestations": 2, "best": 1, "agreed": null}}),
    );
    let rec = h.run(&a, &lineage(base), h.remote()).unwrap();
    assert_eq!(status(&rec), Status::NotReproducible, "{:?}", rec.outcome);
    assert!(rec
        .outcome
        .unwrap()
        .reason
        .unwrap()
        .contains("can no longer agree"));
    assert!(h.switches().is_empty());
}
