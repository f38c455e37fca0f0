//! The `dao-agent` daemon end to end on one host: the real binary against the devnet (go-algorand's
//! evaluator), git daemon, Nix and a private bus. Crashes are real: the binary, built with the
//! `failpoints` feature, aborts at a named point (as `kill -9` would) and is started again.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod support;

use dao_chain::decode::ReportStatus;
use dao_chain::Signer;
use sha2::{Digest, Sha256};
use std::time::Duration;
use support::{Behaviour, Fixture, GOOD};

async fn call(
    f: &Fixture,
    method: &str,
    body: &(impl serde::Serialize + zbus::zvariant::DynamicType),
) -> Result<zbus::Message, zbus::Error> {
    let conn = zbus::connection::Builder::address(f.bus.address.as_str())
        .unwrap()
        .build()
        .await
        .unwrap();
    conn.call_method(
        Some(dao_agent::control::BUS_NAME),
        dao_agent::control::OBJECT_PATH,
        Some(dao_agent::control::INTERFACE),
        method,
        body,
    )
    .await
}

async fn status(f: &Fixture) -> serde_json::Value {
    let reply = call(f, "GetStatus", &()).await.unwrap();
    let s: String = reply.body().deserialize().unwrap();
    serde_json::from_str(&s).unwrap()
}

/// Waits until the agent owns its bus name (it is ready).
async fn ready(f: &Fixture) {
    for _ in 0..200 {
        if call(f, "GetStatus", &()).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the agent did not become ready:\n{}", f.log());
}

/// Polls the agent's status until `pred` holds (10 s at most); the last status, and whether it
/// held.
async fn status_until(
    f: &Fixture,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> (serde_json::Value, bool) {
    let mut s = serde_json::Value::Null;
    for _ in 0..100 {
        s = status(f).await;
        if pred(&s) {
            return (s, true);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (s, false)
}

fn sha(path: &str) -> [u8; 32] {
    Sha256::digest(path.as_bytes()).into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applies_refuses_and_rolls_back_each_reported_once() {
    let f = Fixture::new(0).await;
    let agent = f.spawn_agent(&[]);
    ready(&f).await;

    // Approved and healthy: applied, generation 2, reported with its toplevel.
    let v1 = f.commit("v1", GOOD);
    let p1 = f.approve(&f.genesis, &v1, None).await;
    let rec = f.wait_reported(p1);
    assert_eq!(rec["outcome"]["status"], "applied", "{rec}");
    assert_eq!(f.switches(), ["v1 switch"]);
    let top1 = f.build(&v1);
    assert!(f.generation().ends_with("system-2-link"));
    let (report, amended) = f.reports(p1).await;
    let report = report.unwrap();
    assert_eq!(report.status, ReportStatus::Applied);
    assert_eq!(report.generation, 2);
    assert_eq!(report.toplevel_sha256, sha(&top1));
    assert!(amended.is_none());

    // Approved, but the head does not hash to the approved diff: refused, nothing switches.
    let v2 = f.commit("v2", GOOD);
    let p2 = f.approve(&v1, &v2, Some([0xEE; 32])).await;
    let rec = f.wait_reported(p2);
    assert_eq!(rec["outcome"]["status"], "refused", "{rec}");
    assert_eq!(rec["outcome"]["step"], "verify_change");
    assert!(
        rec["outcome"]["reason"]
            .as_str()
            .unwrap()
            .contains("was approved"),
        "{rec}"
    );
    assert_eq!(f.reports(p2).await.0.unwrap().status, ReportStatus::Refused);
    assert_eq!(f.switches(), ["v1 switch"]);

    // Approved from v1 (p2 never applied), but unhealthy: switched, then back to exactly
    // generation 2, and reported rolled back.
    let v3 = {
        // Build v3 on v1, not on the refused v2.
        support_git_reset(&f, &v1);
        f.commit(
            "v3",
            Behaviour {
                healthy: false,
                switch_secs: 0,
            },
        )
    };
    let p3 = f.approve(&v1, &v3, None).await;
    let rec = f.wait_reported(p3);
    assert_eq!(rec["outcome"]["status"], "rolled_back", "{rec}");
    assert_eq!(rec["outcome"]["step"], "confirm_health");
    assert_eq!(rec["previous"]["number"], 2);
    assert_eq!(f.switches(), ["v1 switch", "v3 switch", "v1 switch"]);
    assert!(f.generation().ends_with("system-2-link"));
    let report = f.reports(p3).await.0.unwrap();
    assert_eq!(report.status, ReportStatus::RolledBack);
    assert_eq!((report.generation, report.toplevel_sha256), (2, sha(&top1)));

    // The operator's brake: back to generation 1 over D-Bus, paused, amendment on chain.
    // 0: the generation before the running deployment (proposal 1's recorded previous).
    let reply = call(&f, "Rollback", &(0u64, "brake test")).await.unwrap();
    let rb: serde_json::Value =
        serde_json::from_str(&reply.body().deserialize::<String>().unwrap()).unwrap();
    assert_eq!(rb["to"]["number"], 1, "{rb}");
    assert_eq!(
        rb["proposal"], p1,
        "it undoes the deployment of proposal {p1}: {rb}"
    );
    assert!(rb["amendment"].get("confirmed").is_some(), "{rb}");
    assert!(f.generation().ends_with("system-1-link"));
    assert_eq!(f.switches().last().unwrap(), "genesis switch");
    let (report, amended) = f.reports(p1).await;
    assert_eq!(
        report.unwrap().status,
        ReportStatus::Applied,
        "the report stays"
    );
    assert_eq!(amended.unwrap().status, ReportStatus::RolledBack);
    let s = status(&f).await;
    assert!(
        s["paused"]["reason"]
            .as_str()
            .unwrap()
            .contains("brake test"),
        "{s}"
    );
    // A second amendment is never sent: the chain has it.
    assert!(!f.log().contains("already_reported"), "{}", f.log());
    assert_eq!(agent.terminate().code(), Some(0));
}

/// Points the work tree's branch back at `commit` (a proposal built on another base).
fn support_git_reset(f: &Fixture, commit: &str) {
    dao_testkit::git(&f.work, &["reset", "-q", "--hard", commit]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_at_any_step_is_recovered_applied_and_reported_once() {
    let f = Fixture::new(0).await;
    let mut base = f.genesis.clone();
    let points = [
        "before:fetch_commits",
        "after:verify_change",
        "after:build_toplevel",
        "inside:switch_configuration",
        "after:switch_configuration",
        "after:confirm_health",
        "after:outcome",
        "after:report_sent",
    ];
    for (n, point) in points.iter().enumerate() {
        let version = format!("c{n}");
        let head = f.commit(&version, GOOD);
        let crashing = f.spawn_agent(&[("DAO_AGENT_FAILPOINT", point)]);
        let p = f.approve(&base, &head, None).await;
        let exit = crashing.wait(Duration::from_secs(120));
        assert!(!exit.success(), "{point}: the agent should have aborted");
        let agent = f.spawn_agent(&[]);
        let rec = f.wait_reported(p);
        assert_eq!(rec["outcome"]["status"], "applied", "{point}: {rec}");
        let runs = f
            .switches()
            .iter()
            .filter(|s| **s == format!("{version} switch"))
            .count();
        assert!(
            (1..=2).contains(&runs),
            "{point}: switched to {version} {runs} times"
        );
        let report = f.reports(p).await.0.unwrap();
        assert_eq!(report.status, ReportStatus::Applied, "{point}");
        assert_eq!(report.toplevel_sha256, sha(&f.build(&head)), "{point}");
        assert_eq!(agent.terminate().code(), Some(0), "{point}");
        assert!(
            !f.log().contains("already_reported"),
            "{point}: a report was sent twice:\n{}",
            f.log()
        );
        base = head;
    }
    // Every crash left one generation per version: no version was set twice.
    let gens = std::fs::read_dir(f.host.join("profiles")).unwrap().count() - 1;
    assert_eq!(gens, 1 + points.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_waits_for_the_switch_in_progress() {
    let f = Fixture::new(0).await;
    let agent = f.spawn_agent(&[]);
    ready(&f).await;
    let head = f.commit(
        "slow",
        Behaviour {
            healthy: true,
            switch_secs: 3,
        },
    );
    let p = f.approve(&f.genesis, &head, None).await;
    f.wait_journal(p, Duration::from_secs(120), "the switch to start", |v| {
        v["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["step"] == "switch_configuration")
    });
    let exit = agent.terminate();
    assert_eq!(exit.code(), Some(0), "{}", f.log());
    let rec = f.journal(p).unwrap();
    assert_eq!(rec["outcome"]["status"], "applied", "{rec}");
    assert!(rec["report"].get("confirmed").is_some(), "{rec}");
    assert_eq!(f.switches(), ["slow switch"]);
    assert!(f.log().contains("waiting for proposal"), "{}", f.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_survives_a_restart_and_resume_applies() {
    let f = Fixture::new(0).await;
    let agent = f.spawn_agent(&[]);
    ready(&f).await;
    // Resume on an agent that is not paused says so (false): `dao-agentctl resume` then
    // answers "the agent was not paused" instead of claiming to have resumed it.
    let was: bool = call(&f, "Resume", &())
        .await
        .unwrap()
        .body()
        .deserialize()
        .unwrap();
    assert!(!was);
    call(&f, "Pause", &("maintenance window",)).await.unwrap();
    assert_eq!(agent.terminate().code(), Some(0));

    let agent = f.spawn_agent(&[]);
    ready(&f).await;
    let head = f.commit("v1", GOOD);
    let p = f.approve(&f.genesis, &head, None).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(f.journal(p).is_none(), "applied while paused");
    let s = status(&f).await;
    assert_eq!(s["paused"]["reason"], "maintenance window", "{s}");

    let was: bool = call(&f, "Resume", &())
        .await
        .unwrap()
        .body()
        .deserialize()
        .unwrap();
    assert!(was, "the pause survived the restart, so resume ended it");
    let rec = f.wait_reported(p);
    assert_eq!(rec["outcome"]["status"], "applied");
    assert_eq!(agent.terminate().code(), Some(0));

    // After a restart, status still says how the last deployment ended (from the journal).
    let agent = f.spawn_agent(&[]);
    ready(&f).await;
    let s = status(&f).await;
    assert_eq!(s["last"]["proposal"], p, "{s}");
    assert_eq!(s["last"]["outcome"]["status"], "applied", "{s}");
    drop(agent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_in_the_journal_or_the_config_changes_nothing() {
    let f = Fixture::new(0).await;

    // A configuration with problems: exit 2, every problem named, nothing started.
    let good = std::fs::read_to_string(f.config()).unwrap();
    std::fs::write(
        f.config(),
        good.replace("app_id = ", "app_idd = ") + "\n[bogus]\nx = 1\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dao-agent"))
        .arg("--config")
        .arg(f.config())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("app_idd") && err.contains("bogus") && err.contains("chain.app_id"),
        "{err}"
    );
    std::fs::write(f.config(), &good).unwrap();

    // A corrupt record for the next proposal: the agent does not guess, switches nothing,
    // reports nothing, and says why; once the record is moved aside it applies.
    let next = f.app.global().await.unwrap().proposal_count + 1;
    std::fs::create_dir_all(f.journal_path(next).parent().unwrap()).unwrap();
    std::fs::write(
        f.journal_path(next),
        b"{\"version\": 1, \"proposal\": \"\xff",
    )
    .unwrap();
    let agent = f.spawn_agent(&[]);
    ready(&f).await;
    let head = f.commit("v1", GOOD);
    let p = f.approve(&f.genesis, &head, None).await;
    assert_eq!(p, next);
    let (_, said) = status_until(&f, |s| {
        s["waiting"].as_str().is_some_and(|w| w.contains("corrupt"))
    })
    .await;
    assert!(
        said,
        "status does not say the record is corrupt:\n{}",
        f.log()
    );
    // A corrupt journal is never "ready": the status says halted, with the journal's problem.
    let s = status(&f).await;
    assert_eq!(s["ready"], false, "{s}");
    assert!(s["state"].as_str().unwrap().starts_with("halted"), "{s}");
    assert_eq!(s["dependencies"]["journal"]["ok"], false, "{s}");
    assert!(
        s["dependencies"]["journal"]["problem"]
            .as_str()
            .unwrap()
            .contains("corrupt"),
        "{s}"
    );
    assert!(f.switches().is_empty());
    assert!(f.reports(p).await.0.is_none());
    std::fs::remove_file(f.journal_path(p)).unwrap();
    // The agent retries with backoff; an event would wake it sooner, a restart at once.
    drop(agent);
    let _agent = f.spawn_agent(&[]);
    let rec = f.wait_reported(p);
    assert_eq!(rec["outcome"]["status"], "applied");
}

/// Runs `dao-agent` on the fixture's configuration and bus until it exits by itself.
fn agent_output(f: &Fixture) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_dao-agent"))
        .arg("--config")
        .arg(f.config())
        .env("NIX_CONFIG", dao_testkit::NIX_CONFIG)
        .env("DBUS_SYSTEM_BUS_ADDRESS", &f.bus.address)
        .output()
        .unwrap()
}

/// Findings 3 and 5: a second agent on the same state directory used to switch beside the
/// first and take over its bus name; an executor with another account's key applied changes it
/// could never report. Both now refuse to start, saying why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_agent_or_a_wrong_key_refuses_to_start() {
    let f = Fixture::new(0).await;
    let first = f.spawn_agent(&[]);
    ready(&f).await;
    let second = agent_output(&f);
    assert!(!second.status.success());
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains(&format!("another dao-agent (pid {})", first.pid())),
        "{err}"
    );
    // The first still owns its name and answers.
    assert_eq!(status(&f).await["role"], "executor");
    assert_eq!(first.terminate().code(), Some(0));

    // Another member's key where the host's agent key belongs.
    let good = std::fs::read_to_string(f.config()).unwrap();
    let wrong = f.dn.key_file(2);
    std::fs::write(
        f.config(),
        good.replace(
            &f.dn.key_file(4).display().to_string(),
            &wrong.display().to_string(),
        ),
    )
    .unwrap();
    let out = agent_output(&f);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let mine = Signer::from_file(&wrong).unwrap().address().to_string();
    let agent = Signer::from_file(&f.dn.key_file(4))
        .unwrap()
        .address()
        .to_string();
    assert!(err.contains(&mine) && err.contains(&agent), "{err}");
    assert!(err.contains("registered"), "{err}");
    assert!(f.switches().is_empty());
}

/// Finding 2, end to end: a proposal whose head never reached the remote holds the queue only
/// until an operator skips it (or its window ends); status names the missing commit, the skip is
/// reported failed on chain, and the next proposal is applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_skips_a_stuck_proposal_and_the_queue_moves_on() {
    let f = Fixture::new(0).await;
    let _agent = f.spawn_agent(&[]);
    ready(&f).await;
    let lost = f.commit_unpushed("lost", GOOD);
    let stuck = f.approve(&f.genesis, &lost, None).await;
    let (_, named) = status_until(&f, |s| {
        let git = &s["dependencies"]["git"];
        git["ok"] == false
            && git["problem"]
                .as_str()
                .is_some_and(|p| p.contains("does not have commit") && p.contains(&lost))
    })
    .await;
    assert!(
        named,
        "status does not name the missing commit:\n{}",
        f.log()
    );
    support_git_reset(&f, &f.genesis);
    let next_head = f.commit("v2", GOOD);
    let next = f.approve(&f.genesis, &next_head, None).await;
    // Nothing goes past the stuck proposal: proposals apply in order.
    assert!(f.journal(next).is_none());
    let reply = call(&f, "Skip", &(stuck, "its head was never pushed"))
        .await
        .unwrap();
    let rec: String = reply.body().deserialize().unwrap();
    assert!(rec.contains("skipped by an operator (uid 0)"), "{rec}");
    let r = f.wait_reported(stuck);
    assert_eq!(r["outcome"]["status"], "failed", "{r}");
    assert_eq!(
        f.reports(stuck).await.0.unwrap().status,
        ReportStatus::Failed
    );
    let r = f.wait_reported(next);
    assert_eq!(r["outcome"]["status"], "applied", "{r}");
    assert_eq!(f.switches(), ["v2 switch"]);
    // A second skip of the same proposal is refused, saying why.
    let e = call(&f, "Skip", &(stuck, "again")).await.unwrap_err();
    assert!(e.to_string().contains("already ended"), "{e}");
}
