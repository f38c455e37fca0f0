//! The journal on a real filesystem: atomic replacement, leftovers of interrupted writes, and
//! strict reading of anything that is not exactly a record.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use dao_agent::journal::{
    Generation, Journal, JournalError, Outcome, Record, Report, Status, Step, StepEntry, StepState,
};
use dao_core::diff_hash::DiffHash;
use std::os::unix::fs::PermissionsExt;

fn record(proposal: u64, host: u64) -> Record {
    let mut r = Record::new(
        proposal,
        host,
        &"a".repeat(40),
        &"b".repeat(40),
        DiffHash([7; 32]),
    );
    r.steps.push(StepEntry {
        step: Step::FetchCommits,
        state: StepState::Done,
        at_ms: 1_700_000_000_000,
        detail: Some("git://127.0.0.1/fleet.git".into()),
    });
    r
}

#[test]
fn a_record_round_trips_and_is_private() {
    let d = tempfile::tempdir().unwrap();
    let j = Journal::open(&d.path().join("journal")).unwrap();
    let mut r = record(3, 1);
    r.previous = Some(Generation {
        number: 41,
        store_path: "/nix/store/abc-nixos-system".into(),
    });
    r.outcome = Some(Outcome {
        status: Status::RolledBack,
        step: Some(Step::ConfirmHealth),
        reason: Some("nginx.service failed".into()),
    });
    r.report = Report::Submitted { txid: "TX".into() };
    j.put(&r).unwrap();
    assert_eq!(j.get(3, 1).unwrap(), Some(r.clone()));
    assert_eq!(j.get(3, 2).unwrap(), None);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&d.path().join("journal")), 0o700);
    assert_eq!(mode(&j.path_of(3, 1)), 0o600);
    assert_eq!(r.last(Step::FetchCommits), Some(StepState::Done));
    assert_eq!(r.last(Step::BuildToplevel), None);
}

#[test]
fn a_put_replaces_the_whole_record() {
    let d = tempfile::tempdir().unwrap();
    let j = Journal::open(d.path()).unwrap();
    let mut r = record(5, 2);
    j.put(&r).unwrap();
    r.steps.push(StepEntry {
        step: Step::VerifyChange,
        state: StepState::Started,
        at_ms: 1,
        detail: None,
    });
    j.put(&r).unwrap();
    assert_eq!(j.get(5, 2).unwrap().unwrap().steps.len(), 2);
    let names: Vec<_> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["proposal-5-host-2.json"]);
}

#[test]
fn an_interrupted_write_leaves_the_previous_record_and_its_leftover_is_removed() {
    let d = tempfile::tempdir().unwrap();
    let j = Journal::open(d.path()).unwrap();
    let r = record(8, 1);
    j.put(&r).unwrap();
    // A crash between writing the temporary file and renaming it: half a record.
    let tmp = j.path_of(8, 1).with_extension("json.tmp");
    std::fs::write(&tmp, b"{\"version\": 1, \"propo").unwrap();
    let j = Journal::open(d.path()).unwrap();
    assert!(!tmp.exists());
    assert_eq!(j.get(8, 1).unwrap(), Some(r));
    assert_eq!(j.all().unwrap().len(), 1);
}

#[test]
fn records_are_listed_in_order() {
    let d = tempfile::tempdir().unwrap();
    let j = Journal::open(d.path()).unwrap();
    for (p, h) in [(10, 2), (2, 1), (10, 1)] {
        j.put(&record(p, h)).unwrap();
    }
    let keys: Vec<_> = j
        .all()
        .unwrap()
        .iter()
        .map(|r| (r.proposal, r.host))
        .collect();
    assert_eq!(keys, [(2, 1), (10, 1), (10, 2)]);
}

#[test]
fn anything_that_is_not_exactly_a_record_is_refused_with_its_file_named() {
    let good = serde_json::to_value(record(4, 1)).unwrap();
    let mut unknown = good.clone();
    unknown["extra"] = 1.into();
    let mut future = good.clone();
    future["version"] = 2.into();
    let mut bad_hash = good.clone();
    bad_hash["diff_hash"] = "sha256:xyz".into();
    let mut bad_step = good.clone();
    bad_step["steps"][0]["step"] = "launch_missiles".into();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("truncated", b"{\"version\":".to_vec(), "EOF"),
        ("garbage", vec![0xff, 0x00, 0x13], "expected value"),
        (
            "unknown field",
            serde_json::to_vec(&unknown).unwrap(),
            "unknown field `extra`",
        ),
        (
            "future version",
            serde_json::to_vec(&future).unwrap(),
            "version 2 is not 1",
        ),
        (
            "bad diff hash",
            serde_json::to_vec(&bad_hash).unwrap(),
            "not a diff hash",
        ),
        (
            "bad step",
            serde_json::to_vec(&bad_step).unwrap(),
            "unknown variant `launch_missiles`",
        ),
    ];
    for (what, bytes, needle) in cases {
        let d = tempfile::tempdir().unwrap();
        let j = Journal::open(d.path()).unwrap();
        let path = j.path_of(4, 1);
        std::fs::write(&path, &bytes).unwrap();
        for e in [j.get(4, 1).unwrap_err(), j.all().unwrap_err()] {
            assert!(matches!(e, JournalError::Corrupt { .. }), "{what}: {e}");
            let text = e.to_string();
            assert!(text.contains(&path.display().to_string()), "{what}: {text}");
            assert!(text.contains(needle), "{what}: {text}");
        }
        // Refusing changes nothing: the evidence stays for the operator.
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "{what}");
    }
}

#[test]
fn a_record_under_another_records_name_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let j = Journal::open(d.path()).unwrap();
    j.put(&record(1, 1)).unwrap();
    std::fs::rename(j.path_of(1, 1), j.path_of(2, 1)).unwrap();
    let e = j.get(2, 1).unwrap_err();
    assert!(
        e.to_string().contains("belongs in proposal-1-host-1.json"),
        "{e}"
    );
}
