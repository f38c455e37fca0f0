//! dao-agentctl's validator commands against the devnet: forming with validators and a quorum,
//! listing them, governing the set and the policy by proposal, and the refusals that are decided
//! before anything is sent.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod support;

use dao_testkit::{git, Devnet};
use std::path::Path;
use std::process::{Command, Output};
use support::Ctl;

fn form(dn: &Devnet, dir: &Path, spec: &Path, extra: &[String]) -> Output {
    let work = dir.join("fleet");
    if !work.exists() {
        std::fs::create_dir(&work).unwrap();
        git(&work, &["init", "-q", "-b", "main"]);
        std::fs::write(work.join("web.nix"), "{ }\n").unwrap();
        git(&work, &["add", "."]);
        git(&work, &["commit", "-q", "-m", "genesis"]);
    }
    let rules = dir.join("rules.toml");
    std::fs::write(
        &rules,
        "voting_delay = 0\nvoting_period = 100\nsupport_ppm = 500000\nquorum_ppm = 200000\n\
         emergency_period = 50\nemergency_support_ppm = 666667\ntimelock = 10\n\
         grace_period = 1000\nmin_proposer_weight = 1\nvote_cap_ppm = 0\n",
    )
    .unwrap();
    Command::new(env!("CARGO_BIN_EXE_dao-agentctl"))
        .args([
            "form",
            "--json",
            "--repository",
            "https://git.example.org/fleet.git",
        ])
        .args(["--genesis", "HEAD", "--repo"])
        .arg(&work)
        .args(["--member", &format!("{}=60", dn.address(1))])
        .args(["--member", &format!("{}=40", dn.address(2))])
        .args(["--host", &format!("1={}", dn.address(3))])
        .args(extra)
        .arg("--rules")
        .arg(&rules)
        .args(["--network", "devnet", "--algod", &dn.url])
        .arg("--algod-token-file")
        .arg(&dn.token_file)
        .arg("--key")
        .arg(dn.key_file(1))
        .arg("--out")
        .arg(spec)
        .output()
        .unwrap()
}

#[test]
fn validators_are_formed_listed_and_governed_and_bad_input_sends_nothing() {
    let dn = Devnet::start();
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("dao-spec.toml");
    let v = |n| format!("--validator={}", dn.address(n));

    // A quorum no validator set can meet is refused before anything is created.
    let out = form(&dn, dir.path(), &spec, &[v(6), "--attest-quorum=2".into()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--attest-quorum 2 is more than the 1 --validator(s)"),
        "{err}"
    );
    assert!(
        !spec.exists(),
        "form wrote a spec file for an app it refused to form"
    );
    let out = form(&dn, dir.path(), &spec, &[v(6), v(6)]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("is listed twice"));

    let out = form(
        &dn,
        dir.path(),
        &spec,
        &[
            v(6),
            v(7),
            "--attest-quorum=2".into(),
            "--attest-reward=1000".into(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let formed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            formed["validators"].as_u64(),
            formed["attest_quorum"].as_u64()
        ),
        (Some(2), Some(2))
    );
    let c = Ctl {
        dn: &dn,
        spec: spec.clone(),
    };

    let listed = c.ok(&["validators"], None);
    assert_eq!(listed["attest_quorum"], 2);
    assert_eq!(listed["attest_reward"], 1000);
    let mut addrs: Vec<String> = listed["validators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["address"].as_str().unwrap().to_owned())
        .collect();
    addrs.sort();
    let mut want = vec![dn.address(6), dn.address(7)];
    want.sort();
    assert_eq!(addrs, want);

    // Policies that could never be met, and no-op set changes, are refused before sending.
    let url = "https://git.example.org/fleet/pulls/9";
    let e = c.run(
        &[
            "propose-attestation-policy",
            "--quorum",
            "3",
            "--reward",
            "0",
            "--url",
            url,
        ],
        Some(1),
    );
    assert!(String::from_utf8_lossy(&e.stderr).contains("more than the 2 validator(s)"));
    let e = c.run(
        &["propose-validator", "--add", &dn.address(6), "--url", url],
        Some(1),
    );
    assert!(String::from_utf8_lossy(&e.stderr).contains("is in the validator set already"));
    assert_eq!(c.ok(&["proposals"], None).as_array().map(Vec::len), Some(0));

    // Adding a third validator by proposal: propose, vote, finalize, execute.
    let p = c.ok(
        &["propose-validator", "--add", &dn.address(8), "--url", url],
        Some(2),
    );
    let id = p["id"].as_u64().unwrap().to_string();
    c.ok(&["vote", &id, "for"], Some(1));
    c.ok(&["vote", &id, "for"], Some(2));
    c.ok(&["finalize", &id], Some(1));
    // The timelock floor: nothing executes in the block that queued it.
    dn.advance(10);
    c.ok(&["execute", &id], Some(1));
    let listed = c.ok(&["validators"], None);
    assert_eq!(listed["validators"].as_array().map(Vec::len), Some(3));
    let shown = c.ok(&["show", &id], None);
    assert_eq!(shown["kind"], "validator", "{shown}");

    // attestations is about deploys only, and says so.
    let e = c.run(&["attestations", &id], None);
    assert!(String::from_utf8_lossy(&e.stderr).contains("only deploys are attested"));
    // Nothing to claim where nothing was attested.
    let e = c.run(&["claim-reward", &id], Some(6));
    assert_eq!(e.status.code(), Some(1));
}
