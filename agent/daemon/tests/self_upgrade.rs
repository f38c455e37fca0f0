//! The executor's self-upgrade with the real binary: a deployment whose generation names
//! another agent is applied and reported, and only then does the agent exit with status 75.
//! The test plays systemd: it starts what the new generation names (a wrapper around the same
//! binary, with the new identity), which runs on and never hands over again for that
//! deployment; a deployment that names the same agent, and one that is rolled back, leave it
//! running.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod support;

use dao_chain::decode::ReportStatus;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use support::{Agent, Behaviour, Fixture, GOOD};

fn marker(f: &Fixture) -> PathBuf {
    f.host.join("executor-agent.json")
}

/// Starts `program` as the unit would: `--config`, the marker and this agent's id.
fn spawn(f: &Fixture, program: &Path, id: &str) -> Agent {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(f.host.join("agent.log"))
        .unwrap();
    let child = Command::new(program)
        .arg("--config")
        .arg(f.config())
        .arg("--self-upgrade-marker")
        .arg(marker(f))
        .arg("--self-upgrade-id")
        .arg(id)
        .env("NIX_CONFIG", dao_testkit::NIX_CONFIG)
        .env("DBUS_SYSTEM_BUS_ADDRESS", &f.bus.address)
        .env_remove("DAO_AGENT_FAILPOINT")
        .env_remove("CREDENTIALS_DIRECTORY")
        .stderr(log)
        .spawn()
        .unwrap();
    Agent(child)
}

/// The new generation's agent: a wrapper (another program path, as a new store path would
/// be) that counts its starts and runs the real binary.
fn new_agent(f: &Fixture) -> PathBuf {
    let path = f.root.path().join("new-agent");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\necho started >> {}\nexec {} \"$@\"\n",
            f.host.join("new-agent.starts").display(),
            env!("CARGO_BIN_EXE_dao-agent")
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

async fn status(f: &Fixture) -> Option<serde_json::Value> {
    let conn = zbus::connection::Builder::address(f.bus.address.as_str())
        .ok()?
        .build()
        .await
        .ok()?;
    let reply = conn
        .call_method(
            Some(dao_agent::control::BUS_NAME),
            dao_agent::control::OBJECT_PATH,
            Some(dao_agent::control::INTERFACE),
            "GetStatus",
            &(),
        )
        .await
        .ok()?;
    let s: String = reply.body().deserialize().ok()?;
    serde_json::from_str(&s).ok()
}

/// Waits until the agent answers on the bus and its status satisfies `pred`.
async fn status_until(f: &Fixture, what: &str, pred: impl Fn(&serde_json::Value) -> bool) {
    for _ in 0..1200 {
        if status(f).await.is_some_and(|s| pred(&s)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} did not happen:\n{}", f.log());
}

fn self_upgrade_record(f: &Fixture) -> serde_json::Value {
    let path = f.state().join("executor/self-upgrade.json");
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_that_changes_the_agent_hands_over_after_its_report_once() {
    let f = Fixture::new(0).await;
    // The generation the host runs names agent A, which runs.
    std::fs::write(marker(&f), r#"{"id":"A"}"#).unwrap();
    let old = spawn(&f, Path::new(env!("CARGO_BIN_EXE_dao-agent")), "A");
    status_until(&f, "the old agent's start", |_| true).await;

    // Proposal 1's generation names agent B.
    let v1 = f.commit_naming_agent("v1", GOOD, Some((&marker(&f), "B")));
    let p1 = f.approve(&f.genesis, &v1, None).await;
    let exit = old.wait(Duration::from_secs(300));
    assert_eq!(exit.code(), Some(75), "{}", f.log());

    // When it exited, the outcome was journaled, its report confirmed and on chain: the
    // handover came after the report, never before.
    let rec = f.journal(p1).unwrap();
    assert_eq!(rec["outcome"]["status"], "applied", "{rec}");
    assert!(rec["report"].get("confirmed").is_some(), "{rec}");
    let (report, amended) = f.reports(p1).await;
    assert_eq!(report.unwrap().status, ReportStatus::Applied);
    assert!(amended.is_none());
    assert_eq!(f.switches(), ["v1 switch"]);
    let planned = self_upgrade_record(&f);
    assert_eq!(planned["proposal"], p1);
    assert_eq!(
        (planned["from"].as_str(), planned["to"].as_str()),
        (Some("A"), Some("B"))
    );
    let log = f.log();
    assert!(
        log.contains(&format!("proposal {p1} changed the agent")),
        "{log}"
    );

    // "systemd" starts what the generation names: agent B, from another program path.
    let program = new_agent(&f);
    let new = spawn(&f, &program, "B");
    status_until(&f, "the new agent's start", |s| {
        s["last"]["proposal"] == p1 && s["last"]["outcome"]["status"] == "applied"
    })
    .await;
    assert!(
        f.log()
            .contains(&format!("running the agent proposal {p1} brought")),
        "{}",
        f.log()
    );

    // Proposal 2 names the same agent: applied, reported, and the agent runs on.
    let v2 = f.commit_naming_agent("v2", GOOD, Some((&marker(&f), "B")));
    let p2 = f.approve(&v1, &v2, None).await;
    f.wait_reported(p2);
    // Proposal 3 would bring agent C but is unhealthy: its switch writes C, the revert to v2's
    // generation writes B again, and the rolled-back deployment hands over to no one.
    let v3 = f.commit_naming_agent(
        "v3",
        Behaviour {
            healthy: false,
            switch_secs: 0,
        },
        Some((&marker(&f), "C")),
    );
    let p3 = f.approve(&v2, &v3, None).await;
    let rec = f.wait_reported(p3);
    assert_eq!(rec["outcome"]["status"], "rolled_back", "{rec}");
    status_until(&f, "the status after proposal 3", |s| {
        s["last"]["proposal"] == p3 && s["current"].is_null()
    })
    .await;
    assert_eq!(
        f.switches(),
        ["v1 switch", "v2 switch", "v3 switch", "v2 switch"]
    );
    assert_eq!(
        std::fs::read_to_string(marker(&f)).unwrap().trim(),
        r#"{"id":"B"}"#
    );

    // The new agent stops only when told to, with status 0: it never handed over again.
    assert_eq!(new.terminate().code(), Some(0), "{}", f.log());
    let starts = std::fs::read_to_string(f.host.join("new-agent.starts")).unwrap();
    assert_eq!(starts.lines().count(), 1);
    assert_eq!(self_upgrade_record(&f)["proposal"], p1);
    let log = f.log();
    assert_eq!(
        log.matches("changed the agent: exiting").count(),
        1,
        "{log}"
    );
    for p in [p1, p2] {
        let (report, _) = f.reports(p).await;
        assert_eq!(report.unwrap().status, ReportStatus::Applied);
    }
}
