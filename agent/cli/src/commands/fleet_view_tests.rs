//! `fleet` and `audit` from reports and heartbeats, without a chain.

use super::*;

fn report(status: ReportStatus, generation: u64) -> Report {
    Report {
        status,
        toplevel_sha256: [generation as u8; 32],
        generation,
        logs_sha256: [0; 32],
        reported_at: 1_000,
    }
}

fn no_beats() -> Beats {
    Beats {
        last: BTreeMap::new(),
        interval: 3_600,
    }
}

fn beat(toplevel: u8, at: u64, drift: bool) -> Heartbeat {
    Heartbeat {
        toplevel_sha256: [toplevel; 32],
        generation: 9,
        last_proposal: 1,
        drift,
        at,
    }
}

#[test]
fn heartbeats_show_age_drift_and_silence_and_audit_names_an_unreported_toplevel() {
    let hosts = [(1, Address([4; 32])), (2, Address([5; 32]))];
    // host 1 reported toplevel [2; 32] at 1_000
    let deploys = [deploy(
        1,
        "g",
        "a",
        1,
        Some(report(ReportStatus::Applied, 2)),
    )];
    let mut beats = no_beats();
    beats.last.insert(1, beat(2, 1_500, false));
    let r = rows(&hosts, &deploys, &beats, 10, 2_000);
    assert_eq!(r[0]["heartbeat"]["age_s"], 500);
    assert_eq!(
        (r[0]["drift"].clone(), r[0]["silent"].clone()),
        (json!(false), json!(false))
    );
    // host 2 never sent one: silent
    assert_eq!(
        (r[1]["heartbeat"].clone(), r[1]["silent"].clone()),
        (Value::Null, json!(true))
    );
    // more than two intervals: silent
    assert_eq!(
        rows(&hosts, &deploys, &beats, 10, 1_500 + 7_201)[0]["silent"],
        json!(true)
    );
    let (_, clean) = audit("g", &hosts[..1], &deploys, &beats);
    assert!(clean.is_empty(), "{clean:?}");
    // someone switched host 1 by hand: another toplevel, and the agent saw drift
    beats.last.insert(1, beat(7, 1_600, true));
    assert_eq!(
        rows(&hosts, &deploys, &beats, 10, 2_000)[0]["drift"],
        json!(true)
    );
    let (_, f) = audit("g", &hosts[..1], &deploys, &beats);
    assert_eq!(f.len(), 2, "{f:?}");
    assert!(f[0].contains("drift"), "{f:?}");
    assert!(f[1].contains("changed without a report") && f[1].contains(&"07".repeat(32)));
    // a heartbeat older than the last report says nothing about it
    beats.last.insert(1, beat(7, 900, false));
    assert!(audit("g", &hosts[..1], &deploys, &beats).1.is_empty());
}

fn deploy(id: u64, base: &str, head: &str, host: u64, r: Option<Report>) -> Deploy {
    Deploy {
        id,
        state: "queued".into(),
        base: base.into(),
        head: head.into(),
        reports: BTreeMap::from([(host, (r, None))]),
    }
}

#[test]
fn audit_follows_each_host_and_names_what_does_not_add_up() {
    let hosts = [
        (1, Address([4; 32])),
        (2, Address([4; 32])),
        (3, Address([0; 32])),
    ];
    let deploys = [
        deploy(1, "g", "a", 1, Some(report(ReportStatus::Applied, 2))),
        deploy(2, "a", "b", 1, Some(report(ReportStatus::Failed, 2))),
        // generation goes back without a rollback report
        deploy(3, "a", "c", 1, Some(report(ReportStatus::Applied, 2))),
        // a base host 1 never ran ("b" failed)
        deploy(4, "b", "d", 1, Some(report(ReportStatus::Applied, 5))),
    ];
    let (lineage, findings) = audit("g", &hosts, &deploys, &no_beats());
    assert_eq!(findings.len(), 3, "{findings:?}");
    assert!(findings[0].contains("hosts [1, 2] share the agent"));
    assert!(findings[1].contains("proposal 3 applied as generation 2"));
    assert!(findings[2].contains("proposal 4 applied, but its base b"));
    assert_eq!(lineage["hosts"]["1"].as_array().unwrap().len(), 4);
    let (_, clean) = audit("g", &hosts[2..], &deploys[..2], &no_beats());
    assert!(clean.is_empty(), "{clean:?}");
}

#[test]
fn audit_follows_the_order_the_host_acted_in_not_proposal_ids() {
    // An emergency proposal (id 2) made after deploy 1 but applied first, then deploy 1
    // on top of it: consistent, whatever the ids say.
    let hosts = [(1, Address([4; 32]))];
    let mut first = report(ReportStatus::Applied, 2);
    first.reported_at = 500;
    let deploys = [
        deploy(1, "e", "a", 1, Some(report(ReportStatus::Applied, 3))),
        deploy(2, "g", "e", 1, Some(first)),
    ];
    let (lineage, findings) = audit("g", &hosts, &deploys, &no_beats());
    assert!(findings.is_empty(), "{findings:?}");
    assert_eq!(lineage["hosts"]["1"][0]["proposal"], 2);
}

#[test]
fn rows_count_the_last_deploys_and_what_still_waits() {
    let hosts = [(1, Address([4; 32]))];
    let mut waiting = deploy(3, "b", "c", 1, None);
    waiting.state = "active".into();
    let mut dead = deploy(4, "b", "c", 1, None);
    dead.state = "defeated".into();
    let deploys = [
        deploy(1, "g", "a", 1, Some(report(ReportStatus::Refused, 1))),
        deploy(2, "a", "b", 1, Some(report(ReportStatus::Applied, 2))),
        waiting,
        dead,
    ];
    let r = &rows(&hosts, &deploys, &no_beats(), 1, 2_000)[0];
    assert_eq!(r["success"], json!({"applied": 1, "of": 1}));
    assert_eq!(r["pending"], json!([3]));
    assert_eq!(r["last"]["proposal"], 2);
    let r = &rows(&hosts, &deploys, &no_beats(), 10, 2_000)[0];
    assert_eq!(r["success"], json!({"applied": 1, "of": 2}));
}
