//! The executor pipeline end to end on real components (the host is `pipeline_host`: a governed
//! flake in git, real Nix builds, a real nix-env profile; the one test double is the chain
//! boundary, `FileReporter`). Crash tests run this test binary again
//! as a child that aborts at a named point of the pipeline (as `kill -9` would: no cleanup),
//! then recover in the parent.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod pipeline_host;

use dao_agent::executor::pipeline::PipelineError;
use dao_agent::executor::Approved;
use dao_agent::journal::{Report, Status, Step};
use git2::Oid;
use pipeline_host::{lineage, status, Behaviour, Host, GOOD};
use std::path::Path;
use std::process::Command;
#[test]
fn an_approved_change_is_applied_and_reported_once() {
    let h = Host::new();
    let base = h.commit("v1", GOOD);
    h.install(base);
    let head = h.commit("v2", GOOD);
    let a = h.approve(3, base, head);
    let rec = h.run(&a, &lineage(base), h.remote()).unwrap();
    assert_eq!(status(&rec), Status::Applied, "{:?}", rec.outcome);
    assert_eq!(h.switches(), ["v2 switch"]);
    let current = h.profile().current().unwrap().unwrap();
    assert_eq!(current.number, 2);
    assert_eq!(h.current_system(), Some(current.store_path.clone()));
    assert_eq!(rec.previous.as_ref().unwrap().number, 1);
    assert!(matches!(rec.report, Report::Confirmed { .. }));
    // Exactly once: running it again changes nothing and sends nothing.
    let again = h.run(&a, &lineage(base), h.remote()).unwrap();
    assert_eq!(again.report, rec.report);
    assert_eq!(h.switches(), ["v2 switch"]);
    let reports = h.reporter().all();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0]["status"], "applied");
    assert_eq!(reports[0]["generation"], 2);
    assert!(h.dir.join("state/gcroots/proposal-3").exists());
}

#[test]
fn a_head_that_does_not_match_its_approved_hash_is_refused_and_nothing_is_built() {
    let h = Host::new();
    let base = h.commit("v1", GOOD);
    h.install(base);
    let approved_head = h.commit("v2", GOOD);
    let tampered = h.commit("v2-with-extra", GOOD);
    let mut a = h.approve(4, base, approved_head);
    a.head = tampered;
    let rec = h.run(&a, &lineage(base), h.remote()).unwrap();
    assert_eq!(status(&rec), Status::Refused);
    assert_eq!(rec.outcome.as_ref().unwrap().step, Some(Step::VerifyChange));
    assert!(rec
        .outcome
        .as_ref()
        .unwrap()
        .reason
        .as_ref()
        .unwrap()
        .contains("refusing it"));
    assert!(rec.toplevel.is_none() && rec.previous.is_none());
    assert_eq!(h.switches(), Vec::<String>::new());
    assert_eq!(h.profile().current().unwrap().unwrap().number, 1);
    assert_eq!(h.reporter().all()[0]["status"], "refused");
}

#[test]
fn a_base_outside_the_approved_lineage_is_refused() {
    let h = Host::new();
    let base = h.commit("v1", GOOD);
    h.install(base);
    let elsewhere = h.commit("v1b", GOOD);
    let head = h.commit("v2", GOOD);
    let a = h.approve(5, elsewhere, head);
    let rec = h.run(&a, &lineage(base), h.remote()).unwrap();
    assert_eq!(status(&rec), Status::Refused);
    assert!(rec
        .outcome
        .unwrap()
        .reason
        .unwrap()
        .contains("no chain of approved proposals"));
    assert_eq!(h.switches(), Vec::<String>::new());
}

#[test]
fn a_change_that_does_not_build_fails_and_the_host_is_untouched() {
    let h = Host::new();
    let base = h.commit("v1", GOOD);
    h.install(base);
    let head = h.commit(
        "v2",
        Behaviour {
            build_ok: false,
            ..GOOD
        },
    );
    let rec = h
        .run(&h.approve(6, base, head), &lineage(base), h.remote())
        .unwrap();
    assert_eq!(status(&rec), Status::Failed);
    assert_eq!(
        rec.outcome.as_ref().unwrap().step,
        Some(Step::BuildToplevel)
    );
    assert!(rec
        .outcome
        .unwrap()
        .reason
        .unwrap()
        .contains("this version does not build"));
    assert_eq!(h.profile().current().unwrap().unwrap().number, 1);
    assert_eq!(h.switches(), Vec::<String>::new());
}

#[test]
fn a_failing_switch_rolls_back_to_the_recorded_generation() {
    let h = Host::new();
    let base = h.commit("v1", GOOD);
    h.install(base);
    let before = h.profile().current().unwrap().unwrap();
    let head = h.commit(
        "v2",
        Behaviour {
            switch_ok: false,
            ..GOOD
        },
    );
    let rec = h
        .run(&h.approve(7, base, head), &lineage(base), h.remote())
        .unwrap();
    assert_eq!(status(&rec), Status::RolledBack);
    assert_eq!(
        rec.outcome.as_ref().unwrap().step,
        Some(Step::SwitchConfiguration)
    );
    assert_eq!(h.profile().current().unwrap().unwrap(), before);
    assert_eq!(h.switches(), ["v2 switch", "v1 switch"]);
    assert_eq!(h.current_system(), Some(before.store_path));
    assert_eq!(h.reporter().all()[0]["status"], "rolled_back");
}

#[test]
fn a_failing_health_check_rolls_back_to_the_recorded_generation() {
    let h = Host::new();
    let base = h.commit("v1", GOOD);
    h.install(base);
    let before = h.profile().current().unwrap().unwrap();
    let head = h.commit(
        "v2",
        Behaviour {
            healthy: false,
            ..GOOD
        },
    );
    let rec = h
        .run(&h.approve(8, base, head), &lineage(base), h.remote())
        .unwrap();
    assert_eq!(status(&rec), Status::RolledBack);
    assert_eq!(
        rec.outcome.as_ref().unwrap().step,
        Some(Step::ConfirmHealth)
    );
    assert_eq!(h.profile().current().unwrap().unwrap(), before);
    assert_eq!(h.current_system(), Some(before.store_path));
    assert_eq!(h.switches(), ["v2 switch", "v1 switch"]);
    let reports = h.reporter().all();
    assert_eq!(
        (reports.len(), reports[0]["generation"].as_u64()),
        (1, Some(1))
    );
}

#[test]
fn a_remote_that_is_down_is_retried_later_not_reported() {
    let h = Host::new();
    let base = h.commit("v1", GOOD);
    h.install(base);
    let head = h.commit("v2", GOOD);
    let a = h.approve(9, base, head);
    let down = vec!["file:///nonexistent/fleet.git".to_owned()];
    let e = h.run(&a, &lineage(base), down).unwrap_err();
    assert!(
        matches!(
            e,
            PipelineError::Retry {
                step: Step::FetchCommits,
                ..
            }
        ),
        "{e}"
    );
    assert!(h.reporter().all().is_empty());
    // When the remote is back, the same proposal goes through.
    let rec = h.run(&a, &lineage(base), h.remote()).unwrap();
    assert_eq!(status(&rec), Status::Applied);
}

#[test]
fn with_the_journal_lost_the_chains_report_prevents_a_second_deployment() {
    let h = Host::new();
    let base = h.commit("v1", GOOD);
    h.install(base);
    let head = h.commit("v2", GOOD);
    let a = h.approve(10, base, head);
    h.run(&a, &lineage(base), h.remote()).unwrap();
    std::fs::remove_dir_all(h.dir.join("state/journal")).unwrap();
    let rec = h.run(&a, &lineage(base), h.remote()).unwrap();
    assert_eq!(status(&rec), Status::Applied);
    assert!(rec
        .outcome
        .unwrap()
        .reason
        .unwrap()
        .contains("already reported on chain"));
    assert_eq!(h.switches(), ["v2 switch"]);
    assert_eq!(h.reporter().all().len(), 1);
}

// ---- crashes -------------------------------------------------------------------------------

const CHILD: &str = "DAO_TEST_CRASH_CHILD_DIR";

/// Runs in the child process only: applies proposal 11 and is expected to die on the way.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD) else {
        return; // not the child: nothing to do
    };
    let h = Host::at(Path::new(&dir));
    let (base, a) = crash_proposal(&h);
    let _ = h.run(&a, &lineage(base), h.remote());
}

fn crash_proposal(h: &Host) -> (Oid, Approved) {
    let ids: Vec<String> = std::fs::read_to_string(h.dir.join("commits"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let base = Oid::from_str(&ids[0]).unwrap();
    let head = Oid::from_str(&ids[1]).unwrap();
    (base, h.approve(11, base, head))
}

fn crash_at(point: &str, head_behaviour: Behaviour) -> Host {
    let h = Host::new();
    let base = h.commit("v1", GOOD);
    h.install(base);
    let head = h.commit("v2", head_behaviour);
    std::fs::write(h.dir.join("commits"), format!("{base}\n{head}\n")).unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD, &h.dir)
        .env("DAO_AGENT_FAILPOINT", point)
        .output()
        .unwrap();
    assert!(!out.status.success(), "{point}: the child did not crash");
    h
}

#[test]
fn a_crash_at_any_step_boundary_ends_applied_with_exactly_one_report() {
    let points = [
        "before:fetch_commits",
        "after:fetch_commits",
        "before:verify_change",
        "after:verify_change",
        "before:dry_build",
        "after:dry_build",
        "before:build_toplevel",
        "after:build_toplevel",
        "before:switch_configuration",
        "inside:switch_configuration",
        "after:switch_configuration",
        "before:confirm_health",
        "after:confirm_health",
        "after:outcome",
        "after:report_sent",
    ];
    for point in points {
        let h = crash_at(point, GOOD);
        let (base, a) = crash_proposal(&h);
        let rec = h
            .run(&a, &lineage(base), h.remote())
            .unwrap_or_else(|e| panic!("{point}: {e}"));
        assert_eq!(status(&rec), Status::Applied, "{point}: {:?}", rec.outcome);
        let current = h.profile().current().unwrap().unwrap();
        assert_eq!(current.number, 2, "{point}");
        assert_eq!(h.current_system(), Some(current.store_path), "{point}");
        assert_eq!(
            h.reporter().all().len(),
            1,
            "{point}: reports {:?}",
            h.reporter().all()
        );
        // The switch ran once, or twice when the crash cut it off after the profile was set
        // (switch-to-configuration is idempotent); never anything else.
        let switches = h.switches();
        assert!(
            !switches.is_empty() && switches.iter().all(|s| s == "v2 switch"),
            "{point}: {switches:?}"
        );
    }
}

#[test]
fn a_crash_while_rolling_back_finishes_the_rollback() {
    for point in ["before:revert_configuration", "after:revert_configuration"] {
        let h = crash_at(
            point,
            Behaviour {
                healthy: false,
                ..GOOD
            },
        );
        let (base, a) = crash_proposal(&h);
        let rec = h.run(&a, &lineage(base), h.remote()).unwrap();
        assert_eq!(
            status(&rec),
            Status::RolledBack,
            "{point}: {:?}",
            rec.outcome
        );
        assert_eq!(h.profile().current().unwrap().unwrap().number, 1, "{point}");
        assert_eq!(h.reporter().all().len(), 1, "{point}");
        // Never switched forward again after the crash.
        assert_eq!(
            h.switches().iter().filter(|s| *s == "v2 switch").count(),
            1,
            "{point}"
        );
    }
}

/// Finding 1: a deploy whose fetch kept failing until its window ended was applied once the
/// remote came back. The chain is re-read before acting, whatever the journal says.
#[test]
fn an_expired_proposal_is_never_applied_even_with_a_journal_record() {
    let h = Host::new();
    let base = h.commit("v1", GOOD);
    h.install(base);
    let head = h.commit("v2", GOOD);
    let a = h.approve(11, base, head);
    let down = vec!["file:///nonexistent/fleet.git".to_owned()];
    let e = h.run(&a, &lineage(base), down).unwrap_err();
    assert!(matches!(e, PipelineError::Retry { .. }), "{e}");
    // The journal now holds the failed fetch; the window ends; the remote comes back.
    std::fs::write(h.reporter().0.with_extension("expired"), "11\n").unwrap();
    let rec = h.run(&a, &lineage(base), h.remote()).unwrap();
    let o = rec.outcome.as_ref().unwrap();
    assert_eq!(o.status, Status::Failed, "{o:?}");
    assert!(
        o.reason.as_deref().unwrap().starts_with("expired:"),
        "{o:?}"
    );
    assert!(
        h.switches().is_empty(),
        "an expired proposal was switched to"
    );
    assert_eq!(h.profile().current().unwrap().unwrap().number, 1);
    let reports = h.reporter().all();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0]["status"], "failed");
}

/// Finding 2: a head that is not on the remote was retried forever with "Broken pipe", holding
/// the queue. The error says the remote answers but lacks the commit, and the proposal ends
/// (failed, expired) when its window does.
#[test]
fn an_unfetchable_commit_ends_when_its_window_does() {
    let h = Host::new();
    let base = h.commit("v1", GOOD);
    h.install(base);
    let head = h.commit("v2", GOOD);
    let mut a = h.approve(12, base, head);
    // A commit id nobody pushed.
    a.head = Oid::from_str("1234567890123456789012345678901234567890").unwrap();
    let e = h.run(&a, &lineage(base), h.remote()).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains(
            "answers but does not have commit(s) 1234567890123456789012345678901234567890"
        ),
        "{text}"
    );
    assert!(!text.contains("unreachable"), "{text}");
    // A remote that is down is named as such instead.
    let down = vec!["file:///nonexistent/fleet.git".to_owned()];
    let e = h.run(&a, &lineage(base), down).unwrap_err();
    assert!(e.to_string().contains("unreachable"), "{e}");
    std::fs::write(h.reporter().0.with_extension("expired"), "12\n").unwrap();
    let rec = h.run(&a, &lineage(base), h.remote()).unwrap();
    assert_eq!(status(&rec), Status::Failed);
    assert!(h.switches().is_empty());
    assert_eq!(h.reporter().all().len(), 1);
}
