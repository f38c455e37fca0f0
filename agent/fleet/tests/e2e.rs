#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! End to end: the demo's scenario (issue 7) on a real devnet, git daemon, Nix, D-Bus and two
//! `dao-agent` processes, asserted step by step.
//!
//! Needs root, nix-bin, dbus-daemon, the repository's .venv and the workspace's programs
//! (`cargo test --workspace` builds them; alone: `cargo build --workspace --bins` first).

use dao_chain::decode::ReportStatus;
use dao_fleet::host::system_name;
use dao_fleet::scenario::{path_sha256, Scenario};
use dao_fleet::Story;
use std::collections::BTreeMap;
use std::path::Path;

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            let state = s.rsplit_once(')').unwrap().1.trim_start().chars().next();
            state != Some('Z')
        })
        .unwrap_or(false)
}

#[test]
fn a_governed_fleet_applies_refuses_and_rolls_back_exactly_as_approved() {
    let mut s = Scenario::start(false, Story::new(false)).expect("set up the fleet");
    let web = s.fleet.host("web").unwrap().id;
    let db = s.fleet.host("db").unwrap().id;
    let root = s.fleet.root.clone();
    let pids = s.fleet.pids();
    assert_eq!(pids.len(), 6, "devnet, git daemon, two agents, two buses");

    // Before anything: both hosts run generation 1, the genesis configuration.
    for name in ["web", "db"] {
        let st = s.fleet.host(name).unwrap().state().unwrap();
        assert_eq!(st.generation, Some(1));
        assert_eq!(st.generations, [1]);
        assert_eq!(
            system_name(st.running.as_deref().unwrap()),
            format!("nixos-system-{name}-1")
        );
    }

    // 1. A change for both hosts, one member against: applied on both.
    let p1 = s.change_both().unwrap();
    assert_eq!(p1.decided.id, 1);
    assert_eq!(p1.decided.state, "queued");
    let shown = s.fleet.show(1).unwrap();
    assert_eq!(shown["tally"]["for"], 80);
    assert_eq!(shown["tally"]["against"], 20);
    assert_eq!(shown["tally"]["abstain"], 0);
    assert_eq!(shown["payload"]["diff_hash"], p1.decided.diff_hash.as_str());
    for (id, name) in [(web, "web"), (db, "db")] {
        let r = &p1.reports[&id];
        assert_eq!(r.status, ReportStatus::Applied, "{name}");
        assert_eq!(r.generation, 2, "{name}");
        let st = &p1.states[&id];
        assert_eq!(st.generation, Some(2), "{name}");
        assert_eq!(st.generations, [1, 2], "{name}");
        let running = st.running.as_deref().unwrap();
        assert_eq!(st.profile_path.as_deref(), Some(running), "{name}");
        assert_eq!(system_name(running), format!("nixos-system-{name}-2"));
        // The report names exactly the toplevel the host runs.
        assert_eq!(r.toplevel_sha256, path_sha256(running), "{name}");
        assert_eq!(
            p1.switches[&id],
            [format!("{name} v1 switch"), format!("{name} v2 switch")]
        );
        let motd = std::fs::read_to_string(running.join("etc/motd")).unwrap();
        assert!(motd.contains("v2, maintenance window"), "{name}: {motd}");
    }

    // 2. A change that breaks web's health check; its vote stays open.
    let p2 = s.propose_unhealthy().unwrap();
    assert_eq!(p2.id, 2);

    // 3. A tampered proposal (head does not match the approved diff hash): refused by both.
    let p3 = s.tampered().unwrap();
    assert_eq!(p3.decided.id, 3);
    assert_eq!(p3.decided.state, "queued");
    for (id, name) in [(web, "web"), (db, "db")] {
        let r = &p3.reports[&id];
        assert_eq!(r.status, ReportStatus::Refused, "{name}");
        assert_eq!(
            r.generation, 2,
            "{name}: the refused change changed nothing"
        );
        let (status, step, reason) = &p3.journal[&id];
        assert_eq!(status, "refused");
        assert_eq!(step, "verify_change");
        assert!(
            reason.contains(&p3.decided.diff_hash) && reason.contains("approved"),
            "{name}: {reason}"
        );
        assert_eq!(p3.states[&id].generation, Some(2), "{name}");
        assert_eq!(p3.states[&id].generations, [1, 2], "{name}");
        assert_eq!(p3.switches[&id].len(), 2, "{name}: no switch happened");
        // Mallory's key never reached the host.
        let running = p3.states[&id].running.as_deref().unwrap();
        let keys = std::fs::read_to_string(running.join("etc/ssh/authorized_keys.root")).unwrap();
        assert!(!keys.contains("mallory"), "{name}");
    }

    // 4. The health-breaking change: applied on web, rolled back to exactly generation 2.
    let p2 = s.finish_unhealthy(p2).unwrap();
    assert_eq!(p2.decided.state, "queued");
    let r = &p2.reports[&web];
    assert_eq!(r.status, ReportStatus::RolledBack);
    assert_eq!(
        r.generation, 2,
        "the report names the generation web runs again"
    );
    let (status, step, _) = &p2.journal[&web];
    assert_eq!(status, "rolled_back");
    assert_eq!(step, "confirm_health");
    let w = &p2.states[&web];
    assert_eq!(w.generation, Some(2));
    assert_eq!(
        w.generations,
        [1, 2, 3],
        "v4 became generation 3, and stays in the profile"
    );
    assert_eq!(
        system_name(w.running.as_deref().unwrap()),
        "nixos-system-web-2"
    );
    assert_eq!(
        r.toplevel_sha256,
        path_sha256(w.running.as_deref().unwrap())
    );
    assert_eq!(
        p2.switches[&web],
        [
            "web v1 switch",
            "web v2 switch",
            "web v4 switch",
            "web v2 switch"
        ]
    );
    // db is not targeted: untouched, no report, no journal record.
    assert!(!p2.reports.contains_key(&db));
    assert!(!p2.journal.contains_key(&db));
    assert_eq!(s.fleet.reports(2, db).unwrap(), (None, None));
    assert_eq!(p2.states[&db].generation, Some(2));
    assert_eq!(p2.switches[&db].len(), 2);

    // 5. The operator's rollback on db; an unprivileged caller is refused; resume.
    let b = s.operator_rollback(1).unwrap();
    assert!(b.rollback.success, "{}", b.rollback.stderr);
    assert_eq!(b.state.generation, Some(1));
    assert_eq!(b.state.generations, [1, 2]);
    assert_eq!(
        system_name(b.state.running.as_deref().unwrap()),
        "nixos-system-db-1"
    );
    assert_eq!(b.report.unwrap().status, ReportStatus::Applied);
    let amended = b.amended.unwrap();
    assert_eq!(amended.status, ReportStatus::RolledBack);
    assert_eq!(amended.generation, 1);
    assert_eq!(
        amended.toplevel_sha256,
        path_sha256(b.state.running.as_deref().unwrap())
    );
    assert!(!b.unprivileged.success, "uid 65534 must not roll back");
    assert!(
        b.unprivileged.stderr.contains("uid 65534"),
        "the refusal names the caller: {}",
        b.unprivileged.stderr
    );
    assert!(b.status.stdout.contains("PAUSED"), "{}", b.status.stdout);
    assert!(b.resume.success, "{}", b.resume.stderr);
    assert!(b.status_after_resume["paused"].is_null());
    assert_eq!(
        b.state_after_resume, b.state,
        "nothing is re-applied after resume"
    );
    // web was not touched by db's rollback.
    assert_eq!(
        s.fleet.host("web").unwrap().state().unwrap().generation,
        Some(2)
    );

    // 6. `show` for each proposal agrees with the reports.
    let shown = s.show_all(&[1, 2, 3]).unwrap();
    assert!(shown.iter().all(|v| v["verified"] == true));
    let reports: Vec<usize> = shown
        .iter()
        .map(|v| v["reports"].as_array().unwrap().len())
        .collect();
    assert_eq!(reports, [2, 1, 2], "proposal 2 targets web only");

    // Exactly one report per (proposal, host) on chain, plus db's one amendment.
    let counts = s.count_reports().unwrap();
    let expected: BTreeMap<(u64, u64, String), usize> = [
        ((1, web, "applied"), 1),
        ((1, db, "applied"), 1),
        ((1, db, "rolled_back"), 1),
        ((2, web, "rolled_back"), 1),
        ((3, web, "refused"), 1),
        ((3, db, "refused"), 1),
    ]
    .into_iter()
    .map(|((p, h, st), n)| ((p, h, st.to_owned()), n))
    .collect();
    assert_eq!(counts, expected);

    // Every check the demo's summary shows passed too.
    let failed: Vec<_> = s.checks.iter().filter(|c| !c.ok()).collect();
    assert!(failed.is_empty(), "{failed:#?}");

    // Cleanup: every process the fleet started is gone, and its directory removed.
    drop(s);
    for pid in pids {
        assert!(!alive(pid), "pid {pid} still runs");
    }
    assert!(!Path::new(&root).exists(), "{} remains", root.display());
}
