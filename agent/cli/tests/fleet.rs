//! `fleet` and `audit` on the devnet: hosts' last reports, what waits for them and their success
//! rate, read from the chain alone; and the audit's lineage, which names a host that reported
//! applying a change whose base it never ran.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod support;

use dao_chain::decode::{ReportStatus, Targets};
use dao_chain::txn::DeployProposal;
use dao_chain::Signer;
use dao_testkit::{git, Devnet};
use serde_json::json;
use support::{fleet, form, Ctl};

fn oid(hex_text: &str) -> [u8; 20] {
    hex::decode(hex_text.trim()).unwrap().try_into().unwrap()
}

#[test]
fn fleet_shows_each_host_and_audit_names_a_change_off_the_lineage() {
    let dn = Devnet::start();
    let dir = tempfile::tempdir().unwrap();
    let work = fleet(dir.path());
    let genesis = git(&work, &["rev-parse", "HEAD"]).trim().to_owned();
    let h2 = format!("2={}", dn.address(5));
    let ctl = Ctl {
        dn: &dn,
        spec: form(&dn, dir.path(), &work, &["--host", &h2]),
    };
    std::fs::write(work.join("web.nix"), "{ services.nginx.enable = true; }\n").unwrap();
    git(&work, &["commit", "-q", "-am", "nginx"]);
    let v1 = git(&work, &["rev-parse", "HEAD"]).trim().to_owned();
    let repo = work.to_str().unwrap();
    let p1 = ctl.ok(
        &[
            "submit",
            "--repo",
            repo,
            "--base",
            &genesis,
            "--head",
            &v1,
            "--all-hosts",
            "--description",
            "https://git.example.org/fleet/pulls/1",
        ],
        Some(1),
    )["id"]
        .as_u64()
        .unwrap();
    let id = p1.to_string();
    ctl.ok(&["vote", &id, "for"], Some(1));
    ctl.ok(&["vote", &id, "for"], Some(2));
    ctl.ok(&["finalize", &id], Some(3));
    dn.advance(31);
    // host 1's agent (dev4) reports it applied; host 2 has not acted yet.
    let app = ctl.app();
    let rt = support::runtime();
    let agent1 = Signer::from_file(&dn.key_file(4)).unwrap();
    rt.block_on(app.report(&agent1, p1, 1, ReportStatus::Applied, [1; 32], 2, [0; 32]))
        .unwrap();

    let rows = ctl.ok(&["fleet"], None);
    let row = |h: u64| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["host_id"] == h)
            .unwrap()
            .clone()
    };
    let web = row(1);
    assert_eq!(web["last"]["proposal"], p1, "{rows}");
    assert_eq!(web["last"]["status"], "applied");
    assert_eq!(web["success"], json!({"applied": 1, "of": 1}));
    assert_eq!(web["pending"], json!([]));
    let db = row(2);
    assert!(db["last"].is_null(), "{rows}");
    assert_eq!(db["pending"], json!([p1]), "{rows}");
    let text = String::from_utf8_lossy(&ctl.run(&["fleet"], None).stdout).into_owned();
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("1  1 applied")),
        "{text}"
    );

    // --watch --json: one document a line, again at every new block.
    let mut watch = std::process::Command::new(env!("CARGO_BIN_EXE_dao-agentctl"))
        .args(["fleet", "--watch", "--json", "--spec"])
        .arg(&ctl.spec)
        .arg("--algod-token-file")
        .arg(&dn.token_file)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(watch.stdout.take().unwrap()));
    let first: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(first["hosts"].as_array().unwrap().len(), 2, "{first}");
    ctl.ok(&["deposit", "--amount", "1"], Some(2)); // a transaction, so a new block
    let second: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert!(
        second["round"].as_u64().unwrap() > first["round"].as_u64().unwrap(),
        "{first} then {second}"
    );
    watch.kill().unwrap();
    watch.wait().unwrap();

    let a = ctl.ok(&["audit"], None);
    assert_eq!(a["findings"], json!([]), "{a}");
    assert_eq!(a["lineage"]["hosts"]["1"][0]["head"], v1.as_str());

    // A deploy whose base no host ever ran (sent with the library: submit refuses it), approved
    // and reported applied by host 1: the audit names it and exits 1.
    let member = Signer::from_file(&dn.key_file(1)).unwrap();
    let off = DeployProposal {
        emergency: false,
        base: [0x77; 20],
        head: oid(&v1),
        diff_hash: [0x42; 32],
        targets: Targets::Hosts(vec![1]),
        description_url: "https://git.example.org/fleet/pulls/2".into(),
    };
    let (p2, _) = rt.block_on(app.propose_deploy(&member, &off)).unwrap();
    let id = p2.to_string();
    ctl.ok(&["vote", &id, "for"], Some(1));
    ctl.ok(&["vote", &id, "for"], Some(2));
    ctl.ok(&["finalize", &id], Some(3));
    dn.advance(31);
    rt.block_on(app.report(&agent1, p2, 1, ReportStatus::Applied, [2; 32], 3, [0; 32]))
        .unwrap();
    let out = ctl.run(&["audit", "--json"], None);
    assert_eq!(out.status.code(), Some(1));
    let a: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = a["findings"].to_string();
    assert!(
        findings.contains(&format!("proposal {p2} applied, but its base 7777")),
        "{findings}"
    );
}

fn sha(path: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(path.as_bytes()).into()
}

/// Host 1 applies v1 and heartbeats it; then someone switches it by hand: its next heartbeat
/// carries another toplevel and the drift flag, and `fleet --json` and `audit --json` (with and
/// without `--host`) name it.
#[test]
fn fleet_and_audit_name_a_hand_made_switch_from_the_heartbeats() {
    let dn = Devnet::start();
    let dir = tempfile::tempdir().unwrap();
    let work = fleet(dir.path());
    let genesis = git(&work, &["rev-parse", "HEAD"]).trim().to_owned();
    let h2 = format!("2={}", dn.address(5));
    let ctl = Ctl {
        dn: &dn,
        spec: form(&dn, dir.path(), &work, &["--host", &h2]),
    };
    std::fs::write(work.join("web.nix"), "{ services.nginx.enable = true; }\n").unwrap();
    git(&work, &["commit", "-q", "-am", "nginx"]);
    let v1 = git(&work, &["rev-parse", "HEAD"]).trim().to_owned();
    let p1 = ctl.ok(
        &[
            "submit",
            "--repo",
            work.to_str().unwrap(),
            "--base",
            &genesis,
            "--head",
            &v1,
            "--target",
            "1",
            "--description",
            "https://git.example.org/fleet/pulls/1",
        ],
        Some(1),
    )["id"]
        .as_u64()
        .unwrap();
    let id = p1.to_string();
    ctl.ok(&["vote", &id, "for"], Some(1));
    ctl.ok(&["vote", &id, "for"], Some(2));
    ctl.ok(&["finalize", &id], Some(3));
    dn.advance(31);
    let app = ctl.app();
    let rt = support::runtime();
    let agent1 = Signer::from_file(&dn.key_file(4)).unwrap();
    let approved = "/nix/store/7qicprmwgpwn9fahha1hplsbk8hnq8wf-nixos-system-web-v1";
    rt.block_on(app.report(
        &agent1,
        p1,
        1,
        ReportStatus::Applied,
        sha(approved),
        2,
        [0; 32],
    ))
    .unwrap();
    rt.block_on(app.heartbeat(&agent1, 1, sha(approved), 2, p1, false, true))
        .unwrap();
    let current = dir.path().join("current-system");
    std::os::unix::fs::symlink(approved, &current).unwrap();
    let on_host = [
        "audit",
        "--host",
        "1",
        "--current-system",
        current.to_str().unwrap(),
    ];

    let rows = ctl.ok(&["fleet"], None);
    let web = &rows[0];
    assert_eq!(web["host_id"], 1, "{rows}");
    assert_eq!(
        web["heartbeat"]["toplevel_sha256"],
        hex::encode(sha(approved))
    );
    assert_eq!(web["heartbeat"]["last_proposal"], p1);
    assert_eq!(
        (web["drift"].clone(), web["silent"].clone()),
        (json!(false), json!(false))
    );
    assert_eq!(
        rows[1]["silent"],
        json!(true),
        "host 2 never sent one: {rows}"
    );
    assert_eq!(ctl.ok(&["audit"], None)["findings"], json!([]));
    assert_eq!(ctl.ok(&on_host, None)["findings"], json!([]));

    // By hand: another system, seen by the agent (drift) and in the next heartbeat a day later.
    let hand = "/nix/store/rc3ksw3grsm0na03lmx9m1gxnw4ps8ja-nixos-system-web-by-hand";
    std::fs::remove_file(&current).unwrap();
    std::os::unix::fs::symlink(hand, &current).unwrap();
    let out = ctl.run(
        &on_host
            .iter()
            .copied()
            .chain(["--json"])
            .collect::<Vec<_>>(),
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let a: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        a["findings"].to_string().contains(&format!("runs {hand}")),
        "{a}"
    );
    dn.advance(86_400);
    rt.block_on(app.heartbeat(&agent1, 1, sha(hand), 3, p1, true, false))
        .unwrap();
    let rows = ctl.ok(&["fleet"], None);
    assert_eq!(rows[0]["drift"], json!(true), "{rows}");
    assert_eq!(
        rows[0]["heartbeat"]["toplevel_sha256"],
        hex::encode(sha(hand))
    );
    let out = ctl.run(&["audit", "--json"], None);
    assert_eq!(out.status.code(), Some(1));
    let a: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = a["findings"].to_string();
    assert!(findings.contains("changed without a report"), "{findings}");
    assert!(findings.contains(&hex::encode(sha(hand))), "{findings}");
    assert!(findings.contains("drift"), "{findings}");
    // Two intervals later without a heartbeat: silent.
    dn.advance(2 * 86_400 + 1);
    assert_eq!(ctl.ok(&["fleet"], None)[0]["silent"], json!(true));
}
