//! dao-agentctl's governance commands as a member runs them, against the devnet (go-algorand's
//! evaluator behind algod's REST API) and a real git checkout.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod support;

use dao_testkit::{git, Devnet};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use support::{Ctl, RULES};

fn fleet(dir: &Path) -> (String, String) {
    let work = dir.join("fleet");
    std::fs::create_dir(&work).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::write(work.join("web.nix"), "{ services.nginx.enable = false; }\n").unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "genesis"]);
    let base = git(&work, &["rev-parse", "HEAD"]);
    std::fs::write(work.join("web.nix"), "{ services.nginx.enable = true; }\n").unwrap();
    git(&work, &["commit", "-q", "-am", "nginx"]);
    let head = git(&work, &["rev-parse", "HEAD"]);
    (base, head)
}

#[test]
fn form_propose_vote_finalize_and_inspect_with_the_cli_alone() {
    let dn = Devnet::start();
    let dir = tempfile::tempdir().unwrap();
    let (base, head) = fleet(dir.path());
    let work = dir.path().join("fleet");
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, RULES).unwrap();
    let spec = dir.path().join("dao-spec.toml");
    let m = Ctl {
        dn: &dn,
        spec: spec.clone(),
    };

    // form: three members with different weights, two hosts, sealed.
    let formed = {
        let out = Command::new(env!("CARGO_BIN_EXE_dao-agentctl"))
            .args([
                "form",
                "--json",
                "--repository",
                "https://git.example.org/fleet.git",
            ])
            .args(["--genesis", "HEAD~1", "--repo"])
            .arg(&work)
            .args(["--member", &format!("{}=50", dn.address(1))])
            .args(["--member", &format!("{}=30", dn.address(2))])
            .args(["--member", &format!("{}=20", dn.address(3))])
            .args(["--host", &format!("1={}", dn.address(4))])
            .args(["--host", &format!("2={}", dn.address(5))])
            .arg("--rules")
            .arg(&rules)
            .args(["--network", "devnet", "--algod", &dn.url])
            .arg("--algod-token-file")
            .arg(&dn.token_file)
            .arg("--key")
            .arg(dn.key_file(1))
            .arg("--out")
            .arg(&spec)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let spec_text = std::fs::read_to_string(&spec).unwrap();
    assert!(
        spec_text.contains(&format!("app_id = {}", formed["app_id"])),
        "{spec_text}"
    );
    assert!(
        spec_text.contains(&format!("genesis_commit = \"{base}\"")),
        "{spec_text}"
    );

    let members = m.ok(&["members"], None);
    let weights: Vec<u64> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["weight"].as_u64().unwrap())
        .collect();
    assert_eq!(weights, [50, 30, 20]);
    let hosts = m.ok(&["hosts"], None);
    assert_eq!(hosts[1]["agent"], dn.address(5).as_str());

    // An empty change is refused before anything is sent.
    let repo = work.to_str().unwrap();
    let e = m.fails(
        &[
            "submit",
            "--repo",
            repo,
            "--base",
            &head,
            "--head",
            &head,
            "--target",
            "1",
            "--description",
            "https://x",
        ],
        Some(2),
    );
    assert!(e.contains("changes nothing"), "{e}");
    // So are a host that is not registered, a description that is not a link, and a base off
    // the approved lineage (here: the head, which no proposal has reached yet).
    let side = {
        std::fs::write(work.join("db.nix"), "{ }\n").unwrap();
        git(&work, &["add", "."]);
        git(&work, &["commit", "-q", "-m", "db"]);
        let side = git(&work, &["rev-parse", "HEAD"]);
        git(&work, &["reset", "-q", "--hard", "HEAD~1"]);
        side
    };
    let submit = |base: &str, target: &str, description: &str| {
        m.fails(
            &[
                "submit",
                "--repo",
                repo,
                "--base",
                base,
                "--head",
                &side,
                "--target",
                target,
                "--description",
                description,
            ],
            Some(2),
        )
    };
    let url = "https://git.example.org/fleet/pulls/9";
    for (b, t, d, expect) in [
        (base.as_str(), "9", url, "host 9 is not registered"),
        (base.as_str(), "1", "see the wiki", "not an http(s) URL"),
        (
            head.as_str(),
            "1",
            url,
            "neither the genesis commit nor the head",
        ),
    ] {
        let e = submit(b, t, d);
        assert!(e.contains(expect), "{e}");
    }
    assert_eq!(m.ok(&["proposals"], None).as_array().unwrap().len(), 0);

    let sub = m.ok(
        &[
            "submit",
            "--repo",
            repo,
            "--base",
            &base,
            "--head",
            &head,
            "--target",
            "1",
            "--description",
            "https://git.example.org/fleet/pulls/1",
        ],
        Some(2),
    );
    assert_eq!(sub["id"], 1);
    let local = dao_core::diff_hash::diff_hash_revisions(&work, &base, &head).unwrap();
    assert_eq!(sub["diff_hash"], local.diff_hash.to_string());

    m.ok(&["vote", "1", "for"], Some(1));
    m.ok(&["vote", "1", "against"], Some(3));
    let e = m.fails(&["vote", "1", "for"], Some(1));
    assert!(e.contains("already voted"), "{e}"); // said before anything is sent
                                                 // 50 for, 20 against, 30 still to vote: the outcome can still change.
    let e = m.fails(&["finalize", "1"], Some(3));
    assert!(e.contains("outcome_undecided"), "{e}");
    m.ok(&["vote", "1", "abstain"], Some(2));
    let fin = m.ok(&["finalize", "1"], Some(3));
    assert_eq!(fin["state"], "queued");

    let list = m.ok(&["proposals"], None);
    assert_eq!(list[0]["state"], "queued");
    assert!(
        list[0]["end_time"].as_str().unwrap().ends_with('Z'),
        "{list}"
    );
    assert!(list[0]["outcome"].is_null(), "no host reported yet: {list}");
    // Text is for people: dates and distances, not JSON and not epoch seconds.
    let text = m.run(&["show", "1"], None);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.starts_with("proposal 1 · deploy · queued\n"), "{text}");
    assert!(text.contains(" UTC (") && text.contains(" ago)"), "{text}");
    assert!(!text.trim_start().starts_with('{'), "{text}");
    assert_eq!(list[0]["verified"], true);
    assert_eq!(
        list[0]["tally"],
        serde_json::json!({"for": 50, "against": 20, "abstain": 30})
    );
    let shown = m.ok(&["show", "1"], None);
    assert_eq!(shown["votes"].as_array().unwrap().len(), 3);
    assert_eq!(shown["payload"]["targets"], serde_json::json!([1]));
    assert_eq!(shown["payload"]["head"], head.as_str());
    assert_eq!(shown["reports"][0]["host"], 1);
    assert!(shown["reports"][0]["report"].is_null());

    // A key file others can read is refused, with the fix named.
    let loose = dir.path().join("loose.key");
    std::fs::copy(dn.key_file(2), &loose).unwrap();
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dao-agentctl"))
        .args(["cancel", "1", "--spec"])
        .arg(&spec)
        .arg("--algod-token-file")
        .arg(&dn.token_file)
        .arg("--key")
        .arg(&loose)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("chmod 600"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn without_a_spec_file_or_flags_the_cli_says_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dao-agentctl"))
        .args(["proposals", "--spec"])
        .arg(dir.path().join("dao-spec.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no algod URL: pass --algod"));
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "app_id = \"seven\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dao-agentctl"))
        .args(["members", "--spec"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a repo-spec file"));
}
