#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! End to end: the demo's scenario (issues 7 and 14) on a real devnet, git daemon, Nix, D-Bus,
//! two host agents and two validators (`dao-agent --role validator`, each with its own chroot
//! store) with an attestation quorum of 2, asserted step by step.
//!
//! Needs root, nix-bin, dbus-daemon, the repository's .venv and the workspace's programs
//! (`cargo test --workspace` builds them; alone: `cargo build --workspace --bins` first).

use dao_chain::decode::ReportStatus;
use dao_fleet::host::system_name;
use dao_fleet::scenario::{path_sha256, Scenario, ATTEST_REWARD};
use dao_fleet::Story;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The hex closure in a journal detail such as "2 validators agreed on closure sha256:<hex>, …".
fn closure_in(detail: &str) -> Option<&str> {
    let hex = detail.split("sha256:").nth(1)?.get(..64)?;
    hex.chars().all(|c| c.is_ascii_hexdigit()).then_some(hex)
}

/// The attestations JSON of one host.
fn host_attestations(v: &Value, host: u64) -> &Value {
    v["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["host_id"] == host)
        .unwrap_or_else(|| panic!("no attestations listed for host {host}: {v}"))
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            let state = s.rsplit_once(')').unwrap().1.trim_start().chars().next();
            state != Some('Z')
        })
        .unwrap_or(false)
}

/// promtool, when installed; missing: a loud skip, or a failure under CI=true.
fn promtool() -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("promtool"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        let msg = "promtool is not installed (apt-get install prometheus): the dump's metrics are not checked";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
        eprintln!("\n!!!!!!!! SKIPPED: {msg} !!!!!!!!\n");
    }
    found
}

#[test]
fn a_governed_fleet_applies_refuses_and_rolls_back_exactly_as_approved() {
    let mut s = Scenario::start(false, Story::new(false)).expect("set up the fleet");
    let web = s.fleet.host("web").unwrap().id;
    let db = s.fleet.host("db").unwrap().id;
    let root = s.fleet.root.clone();
    assert_eq!(
        s.fleet.pids().len(),
        7,
        "devnet, git daemon, two agents, two buses, one validator (the other starts in step 1)"
    );
    let validators: BTreeMap<String, String> = s
        .fleet
        .validators
        .iter()
        .map(|v| (v.address.clone(), v.name.clone()))
        .collect();
    assert_eq!(validators.len(), 2);
    assert!(s.fleet.validator("vera").unwrap().started());
    assert!(!s.fleet.validator("victor").unwrap().started());

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

    // 1, the quorum: both hosts built and said they await attestations, still on generation 1,
    // while only vera ran; victor started only then, and both hosts applied after.
    assert!(s.fleet.validator("victor").unwrap().started());
    assert_eq!(p1.held.keys().copied().collect::<Vec<_>>(), [web, db]);
    for (id, h) in &p1.held {
        assert!(
            h.state.starts_with("awaiting attestations: proposal 1:"),
            "host {id}: {}",
            h.state
        );
        assert_eq!(
            h.host.generation,
            Some(1),
            "host {id} switched before the quorum"
        );
        assert_eq!(h.host.generations, [1], "host {id}");
    }
    let att1 = s.show_attestations(1, 2, true).unwrap();
    assert_eq!(att1["quorum"], 2);
    assert_eq!(att1["reward"], ATTEST_REWARD);
    for (id, name) in [(web, "web"), (db, "db")] {
        let h = host_attestations(&att1, id);
        assert_eq!(h["attestations"], 2, "{name}");
        let agreed = h["agreed_closure"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: {h}"));
        let list = h["attested"].as_array().unwrap();
        let who: BTreeSet<&str> = list
            .iter()
            .map(|x| validators[x["validator"].as_str().unwrap()].as_str())
            .collect();
        assert_eq!(who, BTreeSet::from(["vera", "victor"]), "{name}");
        for x in list {
            assert_eq!(x["outcome"], "built", "{name}: {x}");
            assert_eq!(x["closure"], agreed, "{name}: {x}");
            assert_eq!(x["agrees"], true, "{name}: {x}");
        }
        // The host waited, then activated exactly the closure the validators agreed on.
        let q = &p1.quorum[&id];
        assert!(q.waited, "{name}: {q:?}");
        assert_eq!(q.state, "done", "{name}: {q:?}");
        assert_eq!(closure_in(&q.detail), Some(agreed), "{name}: {q:?}");
        assert!(q.detail.ends_with("which this host built too"), "{q:?}");
    }
    // Each validator built both systems itself, in its own chroot store.
    for v in &s.fleet.validators {
        let built: Vec<String> = std::fs::read_dir(v.store().join("nix/store"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        for system in ["nixos-system-web-2", "nixos-system-db-2"] {
            assert!(
                built.iter().any(|n| n.ends_with(system)),
                "{} has no {system} in its store: {built:?}",
                v.name
            );
        }
    }
    // Different hosts, different systems, different closures.
    assert_ne!(
        host_attestations(&att1, web)["agreed_closure"],
        host_attestations(&att1, db)["agreed_closure"]
    );

    // 1, the rewards: each validator is paid once, reward × 2 hosts; a second claim is refused.
    let rewards = s.claim_rewards(1).unwrap();
    assert_eq!(rewards.claims.len(), 2);
    for (name, c) in &rewards.claims {
        assert!(c.run.success, "{name}: {}", c.run.stderr);
        assert_eq!(c.amount, 2 * ATTEST_REWARD, "{name}");
        assert_eq!(c.hosts, [web, db], "{name}");
        assert!(
            c.after > c.before,
            "{name}: the claim must pay more than it costs"
        );
        assert!(
            c.after - c.before < c.amount,
            "{name}: the claimant pays the fees and its claim record's deposit"
        );
    }
    assert!(!rewards.again.success, "a second claim was paid");
    assert!(
        rewards.again.stderr.contains("already claimed"),
        "the refusal says why: {}",
        rewards.again.stderr
    );
    // The treasury paid both rewards and received both claim records' deposits (2,500 + 400 ×
    // (41 + 24) bytes each), nothing else.
    assert_eq!(
        rewards.treasury_before - rewards.treasury_after,
        4 * ATTEST_REWARD - 2 * 28_500
    );

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

    // 3, the validators: they verify the change as the hosts do and attest nothing for it;
    // `attestations` still lists every targeted host (all of them), each with none.
    let att3 = s.fleet.attestations(3).unwrap();
    assert_eq!(att3["hosts"].as_array().unwrap().len(), 2, "{att3}");
    for id in [web, db] {
        let h = host_attestations(&att3, id);
        assert_eq!(h["attestations"], 0, "{h}");
        assert_eq!(h["attested"], serde_json::json!([]), "{h}");
        assert!(h["agreed_closure"].is_null(), "{h}");
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

    // 6. A change that is not reproducible: the validators disagree, every host refuses it
    // without switching.
    let before: BTreeMap<u64, _> = [web, db]
        .into_iter()
        .map(|id| {
            let h = s.fleet.hosts.iter().find(|h| h.id == id).unwrap();
            (id, (h.state().unwrap(), h.switches().unwrap()))
        })
        .collect();
    let p4 = s.not_reproducible().unwrap();
    assert_eq!(p4.decided.id, 4);
    assert_eq!(p4.decided.state, "queued");
    let att4 = s.fleet.attestations(4).unwrap();
    for (id, name) in [(web, "web"), (db, "db")] {
        let r = &p4.reports[&id];
        assert_eq!(r.status, ReportStatus::NotReproducible, "{name}");
        let (status, step, reason) = &p4.journal[&id];
        assert_eq!(status, "not_reproducible", "{name}");
        assert_eq!(step, "await_attestations", "{name}");
        assert!(reason.contains("can no longer agree"), "{name}: {reason}");
        let (state, switches) = &before[&id];
        assert_eq!(
            &p4.states[&id], state,
            "{name}: nothing changed on the host"
        );
        assert_eq!(&p4.switches[&id], switches, "{name}: no switch ran");
        assert_eq!(r.generation, state.generation.unwrap(), "{name}");
        assert!(
            !system_name(p4.states[&id].running.as_deref().unwrap()).ends_with("-5"),
            "{name} runs v5"
        );
        let h = host_attestations(&att4, id);
        assert_eq!(h["attestations"], 2, "{name}");
        assert!(h["agreed_closure"].is_null(), "{name}: {h}");
        let closures: BTreeSet<&str> = h["attested"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                assert_eq!(x["outcome"], "built", "{name}: {x}");
                assert_eq!(x["agrees"], false, "{name}: {x}");
                x["closure"].as_str().unwrap()
            })
            .collect();
        assert_eq!(closures.len(), 2, "{name}: two builds, two closures");
    }
    assert_eq!(p4.states[&web].generation, Some(2));
    assert_eq!(
        p4.states[&db].generation,
        Some(1),
        "db since the operator's rollback"
    );

    // 7. `show` for each proposal agrees with the reports.
    let shown = s.show_all(&[1, 2, 3, 4]).unwrap();
    assert!(shown.iter().all(|v| v["verified"] == true));
    let reports: Vec<usize> = shown
        .iter()
        .map(|v| v["reports"].as_array().unwrap().len())
        .collect();
    assert_eq!(reports, [2, 1, 2, 2], "proposal 2 targets web only");
    assert_eq!(
        shown[3]["reports"][0]["report"]["status"],
        "not_reproducible"
    );
    // ... and each deploy's outcome is what its hosts did.
    let outcomes: Vec<&str> = shown
        .iter()
        .map(|v| v["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        ["mixed", "rolled_back", "refused", "not_reproducible"]
    );

    // `fleet` and `audit` read the same from the chain alone: both hosts last reported
    // proposal 4, nothing waits for them, and their lineage is consistent.
    let (rows, audit) = s.fleet_and_audit().unwrap();
    for r in rows.as_array().unwrap() {
        assert_eq!(r["last"]["proposal"], 4, "{rows}");
        assert_eq!(r["pending"], serde_json::json!([]), "{rows}");
    }
    assert_eq!(audit["findings"], serde_json::json!([]), "{audit}");

    // `dao-demo --dump`: each agent's last scrape, and the chain's view of the fleet.
    let dump = tempfile::tempdir().unwrap();
    let files = s.dump(dump.path()).unwrap();
    assert_eq!(files.len(), 6, "{files:?}");
    for agent in ["web", "db", "vera", "victor"] {
        let text =
            std::fs::read_to_string(dump.path().join(format!("metrics-{agent}.txt"))).unwrap();
        assert!(
            text.contains("dao_agent_build_info{version="),
            "{agent}: {text}"
        );
        if let Some(promtool) = promtool() {
            if let Err(e) = dao_testkit::promtool_check_metrics(&promtool, &text) {
                panic!("{agent}: promtool refuses the scrape: {e}");
            }
        }
    }
    let web_metrics = std::fs::read_to_string(dump.path().join("metrics-web.txt")).unwrap();
    assert!(
        web_metrics.contains("dao_agent_outcomes_total{outcome=\"not_reproducible\"} 1"),
        "{web_metrics}"
    );
    // db's operator rollback (step 5) is counted as one, and nothing rolled it back by itself.
    let db_metrics = std::fs::read_to_string(dump.path().join("metrics-db.txt")).unwrap();
    for line in [
        "dao_agent_rollbacks_total{kind=\"operator\"} 1",
        "dao_agent_rollbacks_total{kind=\"automatic\"} 0",
    ] {
        assert!(
            db_metrics.lines().any(|l| l == line),
            "{line}: {db_metrics}"
        );
    }
    let dumped: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dump.path().join("fleet.json")).unwrap())
            .unwrap();
    assert_eq!(dumped, rows);
    let ids: BTreeSet<u64> = dumped
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["host_id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, BTreeSet::from([web, db]));
    // Every host heartbeats from its start: what it runs, never silent, no drift, and its
    // last outcome beside it.
    for r in dumped.as_array().unwrap() {
        let beat = &r["heartbeat"];
        assert_eq!(
            beat["toplevel_sha256"].as_str().map(str::len),
            Some(64),
            "{r}"
        );
        assert_eq!(
            (r["silent"].clone(), r["drift"].clone()),
            (serde_json::json!(false), serde_json::json!(false)),
            "{r}"
        );
        assert!(r["last"]["status"].is_string(), "{r}");
    }
    let dumped_audit: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dump.path().join("audit.json")).unwrap())
            .unwrap();
    assert_eq!(dumped_audit, audit);

    // Exactly one report per (proposal, host) on chain, plus db's one amendment.
    let counts = s.count_reports().unwrap();
    let expected: BTreeMap<(u64, u64, String), usize> = [
        ((1, web, "applied"), 1),
        ((1, db, "applied"), 1),
        ((1, db, "rolled_back"), 1),
        ((2, web, "rolled_back"), 1),
        ((3, web, "refused"), 1),
        ((3, db, "refused"), 1),
        ((4, web, "not_reproducible"), 1),
        ((4, db, "not_reproducible"), 1),
    ]
    .into_iter()
    .map(|((p, h, st), n)| ((p, h, st.to_owned()), n))
    .collect();
    assert_eq!(counts, expected);

    // What the validators did over the whole scenario: both attested every host of 1, 2 and 4
    // (nothing for the tampered 3), agreed except on 4; the hosts waited on proposal 1.
    let t = s.validator_tally().unwrap();
    let pairs: BTreeMap<(u64, u64), usize> = [(1, web), (1, db), (2, web), (4, web), (4, db)]
        .into_iter()
        .map(|k| (k, 2))
        .collect();
    assert_eq!(t.attestations, pairs);
    assert_eq!(t.agreed, BTreeSet::from([(1, web), (1, db), (2, web)]));
    assert!(
        t.waited.is_superset(&BTreeSet::from([(1, web), (1, db)])),
        "{t:?}"
    );
    assert_eq!(t.not_reproducible, 2);
    assert_eq!(t.rewards, 4 * ATTEST_REWARD);

    // Every check the demo's summary shows passed too.
    let failed: Vec<_> = s.checks.iter().filter(|c| !c.ok()).collect();
    assert!(failed.is_empty(), "{failed:#?}");

    // Cleanup: every process the fleet started is gone, and its directory removed (with the
    // validators' chroot stores).
    let pids = s.fleet.pids();
    assert_eq!(pids.len(), 8, "… and both validators");
    drop(s);
    for pid in pids {
        assert!(!alive(pid), "pid {pid} still runs");
    }
    assert!(!Path::new(&root).exists(), "{} remains", root.display());
}
