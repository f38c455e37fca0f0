//! Drift on one host, end to end: the real `dao-agent` against the devnet, a git daemon, Nix and
//! a private bus; "someone" switches the host by hand (`nix-env --set` and the toplevel's own
//! switch-to-configuration, as `nixos-rebuild switch` does) and the agent must name it in
//! status, the metric and the hook, never report it as a deployment of its own, and under
//! `reactivate` switch back to the approved generation (or refuse, by name, when that
//! generation is gone).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod support;

use std::io::{Read, Write};
use std::process::Command;
use std::time::{Duration, Instant};
use support::{Fixture, GOOD};

async fn call(f: &Fixture, method: &str) -> Result<String, zbus::Error> {
    let conn = zbus::connection::Builder::address(f.bus.address.as_str())?
        .build()
        .await?;
    let reply = conn
        .call_method(
            Some(dao_agent::control::BUS_NAME),
            dao_agent::control::OBJECT_PATH,
            Some(dao_agent::control::INTERFACE),
            method,
            &(),
        )
        .await?;
    Ok(match method {
        "GetStatus" => reply.body().deserialize::<String>()?,
        _ => String::new(),
    })
}

async fn status(f: &Fixture) -> serde_json::Value {
    serde_json::from_str(&call(f, "GetStatus").await.unwrap()).unwrap()
}

async fn ready(f: &Fixture) {
    for _ in 0..400 {
        if call(f, "GetStatus").await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the agent did not become ready:\n{}", f.log());
}

/// Wakes the agent for a pass (a resume of an agent that is not paused only wakes it), then
/// polls status until `pred` holds.
async fn pass_until(
    f: &Fixture,
    what: &str,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        call(f, "Resume").await.unwrap();
        let s = status(f).await;
        if pred(&s) {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not happen; status {s}\nagent log:\n{}",
            f.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The agent's /metrics page.
fn metrics(port: u16) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut page = String::new();
    s.read_to_string(&mut page).unwrap();
    page
}

/// `nixos-rebuild switch`, by hand: a new profile generation and its switch.
fn switch_by_hand(f: &Fixture, toplevel: &str) {
    let ok = Command::new("nix-env")
        .arg("-p")
        .arg(f.profile())
        .arg("--set")
        .arg(toplevel)
        .env("NIX_CONFIG", dao_testkit::NIX_CONFIG)
        .status()
        .unwrap();
    assert!(ok.success());
    let ok = Command::new(format!("{toplevel}/bin/switch-to-configuration"))
        .arg("switch")
        .status()
        .unwrap();
    assert!(ok.success());
}

fn running(f: &Fixture) -> String {
    std::fs::read_link(f.host.join("current-system"))
        .unwrap()
        .display()
        .to_string()
}

/// Deploys v1 through the chain; returns (proposal, its toplevel) and a hand-made toplevel.
async fn deployed_then_hand_built(f: &Fixture) -> (u64, String, String) {
    let v1 = f.commit("v1", GOOD);
    let id = f.approve(&f.genesis, &v1, None).await;
    let rec = f.wait_reported(id);
    assert_eq!(rec["outcome"]["status"], "applied", "{rec}");
    let applied = rec["toplevel"].as_str().unwrap().to_owned();
    assert_eq!(running(f), applied);
    let hand = f.commit_unpushed("by-hand", GOOD);
    (id, applied, f.build(&hand))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_made_switch_is_reported_as_drift_not_as_ours_and_survives_a_restart() {
    let f = Fixture::new(0).await;
    let port = dao_testkit::free_port();
    let hook_log = f.root.path().join("hook.log");
    f.write_config(&format!(
        "[metrics]\nenable = true\nport = {port}\n[hooks]\non_outcome = [\"/bin/sh\", \"-c\", \
         \"echo \\\"$DAO_OUTCOME $DAO_RUNNING_TOPLEVEL $DAO_TOPLEVEL\\\" >> {}\"]\n",
        hook_log.display()
    ));
    let agent = f.spawn_agent(&[]);
    ready(&f).await;
    let (id, applied, hand) = deployed_then_hand_built(&f).await;
    let s = status(&f).await;
    assert!(s["drift"].is_null(), "no drift before the hand switch: {s}");
    let page = metrics(port);
    assert!(page.contains("\ndao_agent_drift 0\n"), "{page}");

    switch_by_hand(&f, &hand);
    let s = pass_until(&f, "drift in status", |s| s["drift"].is_object()).await;
    let d = &s["drift"];
    assert_eq!(d["running"], hand.as_str(), "{s}");
    assert_eq!(d["approved"], applied.as_str(), "{s}");
    assert_eq!(d["approved_by"], format!("proposal {id} (applied)"), "{s}");
    assert_eq!(d["policy"], "report", "{s}");
    // Report only: the host is left on the hand-made system.
    assert_eq!(running(&f), hand);
    // A scrape's page is served again for a moment (metrics/server.rs): ask until it is new.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !metrics(port).contains("\ndao_agent_drift 1\n") {
        assert!(Instant::now() < deadline, "dao_agent_drift stays 0");
        std::thread::sleep(Duration::from_millis(200));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&hook_log)
        .unwrap_or_default()
        .contains("drift ")
    {
        assert!(Instant::now() < deadline, "no drift hook:\n{}", f.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    let hooks = std::fs::read_to_string(&hook_log).unwrap();
    assert!(
        hooks.contains(&format!("drift {hand} {applied}")),
        "{hooks}"
    );
    // Never ours: no journal record and no report but the deployment's own.
    let records = std::fs::read_dir(f.state().join("executor/journal"))
        .unwrap()
        .count();
    assert_eq!(records, 1);
    let (report, amendment) = f.reports(id).await;
    assert!(report.is_some() && amendment.is_none());

    // A restart finds it again from the journal alone.
    assert!(agent.terminate().success());
    let _agent = f.spawn_agent(&[]);
    ready(&f).await;
    let s = pass_until(&f, "drift after a restart", |s| s["drift"].is_object()).await;
    assert_eq!(s["drift"]["running"], hand.as_str(), "{s}");

    // Switching back by hand ends it.
    switch_by_hand(&f, &applied);
    pass_until(&f, "drift to end", |s| s["drift"].is_null()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reactivate_switches_back_to_the_approved_generation_and_refuses_when_it_is_gone() {
    let f = Fixture::new(0).await;
    f.write_config_with("drift = \"reactivate\"", "");
    let _agent = f.spawn_agent(&[]);
    ready(&f).await;
    let (id, applied, hand) = deployed_then_hand_built(&f).await;
    let approved_generation = f.generation();
    let before = f.switches().len();

    switch_by_hand(&f, &hand);
    assert_eq!(running(&f), hand);
    pass_until(&f, "the approved system to run again", |s| {
        s["drift"].is_null() && running(&f) == applied
    })
    .await;
    // Back on exactly the generation the deployment made, through one switch of the agent's.
    assert_eq!(f.generation(), approved_generation);
    let switches = f.switches();
    assert_eq!(switches.len(), before + 2, "{switches:?}");
    assert_eq!(switches.last().unwrap(), "v1 switch", "{switches:?}");
    let (report, amendment) = f.reports(id).await;
    assert!(report.is_some() && amendment.is_none());

    // The approved generation garbage-collected: refused by name, the host left as it is.
    switch_by_hand(&f, &hand);
    let ok = Command::new("nix-env")
        .arg("-p")
        .arg(f.profile())
        .args(["--delete-generations", "old"])
        .env("NIX_CONFIG", dao_testkit::NIX_CONFIG)
        .status()
        .unwrap();
    assert!(ok.success());
    let s = pass_until(&f, "a named refusal", |s| {
        s["drift"]["refused"].as_str().is_some()
    })
    .await;
    let why = s["drift"]["refused"].as_str().unwrap();
    assert!(why.starts_with("approved_generation_gone:"), "{why}");
    assert!(why.contains(&applied), "{why}");
    assert_eq!(running(&f), hand);
    assert_eq!(s["drift"]["running"], hand.as_str());
}

/// `nixos-rebuild test`, by hand: the toplevel's switch only, the profile left where it was.
fn activate_by_hand(toplevel: &str) {
    let ok = Command::new(format!("{toplevel}/bin/switch-to-configuration"))
        .arg("test")
        .status()
        .unwrap();
    assert!(ok.success());
}

fn reactivation(f: &Fixture) -> serde_json::Value {
    let path = f.state().join("executor/reactivation.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reactivation_killed_half_way_is_finished_and_a_failed_one_goes_back_to_what_ran() {
    let f = Fixture::new(0).await;
    f.write_config_with("drift = \"reactivate\"", "");
    let agent = f.spawn_agent(&[]);
    ready(&f).await;
    let (id, applied, hand) = deployed_then_hand_built(&f).await;
    let approved_generation = f.generation();
    assert!(agent.terminate().success());

    // Killed right after pointing the profile at the approved generation: the profile and the
    // running system are apart until the next agent's first pass finishes the reactivation.
    switch_by_hand(&f, &hand);
    let hand_generation = f.generation();
    let crashing = f.spawn_agent(&[("DAO_AGENT_FAILPOINT", "reactivate:after:set_profile")]);
    let exit = crashing.wait(Duration::from_secs(120));
    assert!(
        !exit.success(),
        "the agent should have aborted:\n{}",
        f.log()
    );
    assert_eq!(f.generation(), approved_generation);
    assert_eq!(running(&f), hand);
    let r = reactivation(&f);
    assert!(r["outcome"].is_null(), "{r}");
    assert_eq!(r["running"], hand.as_str(), "{r}");
    // The profile's generation when it began: "system-N-link" is generation N.
    let number = r["profile"]["number"].as_u64().unwrap();
    assert_eq!(hand_generation, format!("system-{number}-link"), "{r}");
    let agent = f.spawn_agent(&[]);
    ready(&f).await;
    let s = pass_until(&f, "the interrupted reactivation to finish", |s| {
        s["reactivation"]["outcome"]["ended"] == "reactivated"
    })
    .await;
    assert!(s["drift"].is_null(), "{s}");
    assert_eq!(running(&f), applied);
    assert_eq!(f.generation(), approved_generation);
    assert!(agent.terminate().success());

    // `nixos-rebuild test` of the hand-made system, then a reactivation whose health check
    // fails: back to the hand-activated system itself, the profile on the generation it had.
    let health = format!("test -e {}/current-system/healthy", f.host.display());
    let unhealthy_when_approved = format!(
        "test \\\"$(readlink {}/current-system)\\\" != {applied}",
        f.host.display()
    );
    f.write_config_with("drift = \"reactivate\"", "");
    let config = std::fs::read_to_string(f.config()).unwrap();
    assert!(config.contains(&health));
    std::fs::write(
        f.config(),
        config.replace(&health, &unhealthy_when_approved),
    )
    .unwrap();
    activate_by_hand(&hand);
    assert_eq!(running(&f), hand);
    let before = f.switches().len();
    let _agent = f.spawn_agent(&[]);
    ready(&f).await;
    pass_until(&f, "the reactivation to fail and go back", |s| {
        s["reactivation"]["outcome"]["ended"] == "reverted"
    })
    .await;
    assert_eq!(
        running(&f),
        hand,
        "back on the system that ran, not the profile's"
    );
    assert_eq!(
        f.generation(),
        approved_generation,
        "the profile where it was"
    );
    // Forward to the approved system, then back: the bootloader to the profile's generation
    // (`boot`), the hand-made system activated only (`test`): a `switch` of it would make it
    // the next boot, which `nixos-rebuild test` never did.
    let switches = f.switches();
    assert_eq!(switches.len(), before + 3, "{switches:?}");
    let approved_version = switches[before].split(' ').next().unwrap().to_owned();
    assert_eq!(
        &switches[before..],
        [
            format!("{approved_version} switch"),
            format!("{approved_version} boot"),
            "by-hand test".to_owned()
        ],
        "{switches:?}"
    );
    let why = pass_until(&f, "the refusal in status", |s| {
        s["drift"]["refused"].is_string()
    })
    .await;
    let refused = why["drift"]["refused"].as_str().unwrap();
    assert!(refused.contains("the host is back on"), "{refused}");
    assert!(refused.contains(&hand), "{refused}");
    // Never a deployment: one record, one report, no amendment.
    let records = std::fs::read_dir(f.state().join("executor/journal"))
        .unwrap()
        .count();
    assert_eq!(records, 1);
    let (report, amendment) = f.reports(id).await;
    assert!(report.is_some() && amendment.is_none());
}

fn sha(path: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(path.as_bytes()).into()
}

/// Waits for a heartbeat on chain that `pred` accepts.
async fn heartbeat_until(
    f: &Fixture,
    what: &str,
    pred: impl Fn(&dao_chain::decode::Heartbeat) -> bool,
) -> dao_chain::decode::Heartbeat {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        call(f, "Resume").await.unwrap();
        if let Some(h) = f.app.last_heartbeat(support::HOST).await.unwrap() {
            if pred(&h) {
                return h;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not happen; status {}\nagent log:\n{}",
            status(f).await,
            f.log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_go_at_start_then_once_per_interval_and_carry_the_drift() {
    let f = Fixture::new(0).await;
    let _agent = f.spawn_agent(&[]);
    ready(&f).await;
    // The first one at start: the host runs generation 1, has reported nothing, has no drift.
    let first = heartbeat_until(&f, "the first heartbeat", |_| true).await;
    let gen1 = std::fs::read_link(f.profile().with_file_name("system-1-link")).unwrap();
    assert_eq!(first.toplevel_sha256, sha(gen1.to_str().unwrap()));
    assert_eq!(
        (first.generation, first.last_proposal, first.drift),
        (1, 0, false)
    );
    let s = pass_until(&f, "the heartbeat in status", |s| {
        s["heartbeat"]["last_at"] == first.at
    })
    .await;
    assert_eq!(s["heartbeat"]["next_at"], first.at + 86_400, "{s}");

    let (id, _applied, hand) = deployed_then_hand_built(&f).await;
    switch_by_hand(&f, &hand);
    pass_until(&f, "drift in status", |s| s["drift"].is_object()).await;
    // Not before the interval, in chain time: the box still holds the first heartbeat.
    assert_eq!(
        f.app.last_heartbeat(support::HOST).await.unwrap(),
        Some(first)
    );
    f.dn.advance(86_400);
    let next = heartbeat_until(&f, "the next heartbeat", |h| h.at > first.at).await;
    assert_eq!(next.toplevel_sha256, sha(&hand));
    assert_eq!((next.last_proposal, next.drift), (id, true));
    assert!(next.at >= first.at + 86_400);
    assert!(f.log().contains("heartbeat sent"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_stuck_on_a_proposal_still_heartbeats() {
    let f = Fixture::new(0).await;
    // Approved, but its commit never reached the remote: every pass retries the fetch.
    let lost = f.commit_unpushed("lost", GOOD);
    let id = f.approve(&f.genesis, &lost, None).await;
    let _agent = f.spawn_agent(&[]);
    ready(&f).await;
    let first = heartbeat_until(&f, "a heartbeat while stuck", |_| true).await;
    assert_eq!((first.last_proposal, first.drift), (0, false));
    assert!(f.journal(id).is_none_or(|r| r["outcome"].is_null()));
}
