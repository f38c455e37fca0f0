//! propose-rebalance and `show --repo` against the devnet, with a real repository built here:
//! three contributors bind their devnet addresses, the proposal carries the table `rebalance`
//! prints, `show` recomputes it (and says so when it differs), and the executed proposal sets
//! the weights.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod support;

use dao_testkit::{git, Devnet};
use std::path::{Path, PathBuf};
use std::process::Command;
use support::Ctl;

/// The description link every proposal here carries.
const U: &str = "https://git.example.org/fleet/issues/16";

/// Lines of Nix by three authors, each binding its dev account's address in its own commit:
/// dev1's author writes 60 lines, dev2's 30, dev3's 10.
fn contributors_repo(dir: &Path, dn: &Devnet) -> PathBuf {
    let work = dir.join("fleet");
    std::fs::create_dir(&work).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    let mut bindings = String::new();
    for (n, lines) in [(1u32, 60), (2, 30), (3, 10)] {
        let body: String = (0..lines)
            .map(|i| format!("  services.a{n}x{i}.enable = true;\n"))
            .collect();
        std::fs::write(work.join(format!("host{n}.nix")), body).unwrap();
        bindings.push_str(&format!("a{n}@example.org {}\n", dn.address(n)));
        std::fs::write(work.join("daoContributors.txt"), &bindings).unwrap();
        git(&work, &["add", "."]);
        let author = format!("a{n} <a{n}@example.org>");
        git(&work, &["commit", "-q", "--author", &author, "-m", "hosts"]);
    }
    work
}

#[test]
fn propose_rebalance_show_recomputes_and_execute_sets_the_weights() {
    let dn = Devnet::start();
    let dir = tempfile::tempdir().unwrap();
    let work = contributors_repo(dir.path(), &dn);
    let spec = support::form(&dn, dir.path(), &work, &[]);
    let ctl = Ctl { dn: &dn, spec };
    let repo = work.to_str().unwrap();

    // An exact mint too small to reach the targets would lower someone: refused, by name.
    let out = ctl.run(
        &[
            "propose-rebalance",
            "--repo",
            repo,
            "--at",
            "HEAD",
            "--mint",
            "1",
            "--url",
            U,
        ],
        Some(1),
    );
    assert_eq!(out.status.code(), Some(1));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("cannot reach the targets without taking weight"),
        "{e}"
    );

    let p = ctl.ok(
        &[
            "propose-rebalance",
            "--repo",
            repo,
            "--at",
            "HEAD",
            "--url",
            "https://git.example.org/fleet/rebalance",
        ],
        Some(1),
    );
    let id = p["id"].as_u64().unwrap();
    assert_eq!(p["kind"], "rebalance");
    // The same table the read-only command prints for the weights on chain.
    let members = format!(
        "{}=50,{}=30,{}=20",
        dn.address(1),
        dn.address(2),
        dn.address(3)
    );
    let offline: serde_json::Value = {
        let out = Command::new(env!("CARGO_BIN_EXE_dao-agentctl"))
            .args(["rebalance", "--repo", repo, "--at", "HEAD", "--json"])
            .args(["--members", &members])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    assert_eq!(p["table_hash"], offline["hash"]);
    assert_eq!(p["commit"], offline["commit"]);
    // dev3's author has 10 % of the points and 20 % of the weight: it sets the total and mints
    // nothing, so only two members are listed.
    let listed = p["weights"].as_array().unwrap();
    assert_eq!(listed.len(), 2, "{p}");
    for w in listed {
        let row = offline["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["address"] == w["address"])
            .unwrap();
        assert_eq!(w["weight"], row["new"], "{row}");
    }

    // show: without a repository it says how to check; with it, it recomputes and matches.
    let shown = ctl.ok(&["show", &id.to_string()], None);
    assert_eq!(shown["rebalance_check"]["checked"], false);
    assert!(shown["rebalance_check"]["how"]
        .as_str()
        .unwrap()
        .contains("--repo"));
    let shown = ctl.ok(&["show", &id.to_string(), "--repo", repo], None);
    assert_eq!(shown["rebalance_check"]["matches"], true, "{shown}");
    // The table is recomputed with the point weights the proposal recorded: other ones given
    // on the command line are named as ignored, and the table still matches.
    let v = ctl.ok(
        &[
            "show",
            &id.to_string(),
            "--repo",
            repo,
            "--point-weights",
            "code=2",
        ],
        None,
    );
    assert_eq!(v["rebalance_check"]["matches"], true, "{v}");
    assert_eq!(
        v["payload"]["point_weights_text"],
        "code=1,comment=0.5,text=0.5"
    );
    assert!(v["rebalance_check"]["note"]
        .as_str()
        .unwrap()
        .contains("ignored"));
    let text = ctl.run(&["show", &id.to_string(), "--repo", repo], None);
    assert!(String::from_utf8_lossy(&text.stdout).contains("table hash matches"));

    ctl.ok(&["vote", &id.to_string(), "for"], Some(1));
    ctl.ok(&["vote", &id.to_string(), "for"], Some(2));
    ctl.ok(&["finalize", &id.to_string()], Some(3));
    dn.advance(11);
    ctl.ok(&["execute", &id.to_string()], Some(3));
    let now = ctl.ok(&["members"], None);
    for w in listed {
        let m = now
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["address"] == w["address"])
            .unwrap();
        assert_eq!(m["weight"], w["weight"]);
    }
    // After execution the table still recomputes: it is judged at the proposal's snapshot.
    let shown = ctl.ok(&["show", &id.to_string(), "--repo", repo], None);
    assert_eq!(shown["rebalance_check"]["matches"], true, "{shown}");
}

/// Kind 9 from the command line: `contributors` counts with the app's point weights (and says
/// so), a proposal changes them, propose-rebalance refuses others, a rebalance made before the
/// change still recomputes, and a proposal whose hash was not computed from the repository is
/// caught by `show`.
#[test]
fn point_weights_are_the_daos_and_show_catches_a_made_up_table() {
    let dn = Devnet::start();
    let dir = tempfile::tempdir().unwrap();
    let work = contributors_repo(dir.path(), &dn);
    let spec = support::form(&dn, dir.path(), &work, &[]);
    let ctl = Ctl { dn: &dn, spec };
    let repo = work.to_str().unwrap();

    let c = ctl.ok(&["contributors", "--repo", repo], None);
    assert_eq!(c["weights"]["code"], 2, "{c}");
    assert!(c["point_weights_source"]
        .as_str()
        .unwrap()
        .starts_with("app "));
    let early = ctl.ok(
        &[
            "propose-rebalance",
            "--repo",
            repo,
            "--at",
            "HEAD",
            "--url",
            U,
        ],
        Some(1),
    )["id"]
        .as_u64()
        .unwrap();

    // Nothing to change, and a bad value, are refused before anything is sent.
    let out = ctl.run(
        &["propose-point-weights", "--code", "1", "--url", U],
        Some(1),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing would change"));
    let out = ctl.run(
        &["propose-point-weights", "--code", "3", "--url", U],
        Some(5),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("proposing needs at least 1"));
    let out = ctl.run(
        &["propose-point-weights", "--code", "0.3", "--url", U],
        Some(1),
    );
    assert_eq!(out.status.code(), Some(2), "clap refuses the value");
    let out = ctl.run(
        &["propose-point-weights", "--code", "1001", "--url", U],
        Some(1),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("above the most the app accepts"));

    let p = ctl.ok(
        &["propose-point-weights", "--code", "3", "--url", U],
        Some(1),
    );
    assert_eq!(p["half_points"]["code"], 6);
    assert_eq!(
        p["half_points"]["comment"], 1,
        "classes left out keep theirs"
    );
    let id = p["id"].as_u64().unwrap();
    ctl.ok(&["vote", &id.to_string(), "for"], Some(1));
    ctl.ok(&["vote", &id.to_string(), "for"], Some(2));
    ctl.ok(&["finalize", &id.to_string()], Some(3));
    dn.advance(11);
    ctl.ok(&["execute", &id.to_string()], Some(3));
    let c = ctl.ok(&["contributors", "--repo", repo], None);
    assert_eq!(c["weights"]["code"], 6, "{c}");

    // The proposer cannot choose other point weights than the DAO's.
    let out = ctl.run(
        &[
            "propose-rebalance",
            "--repo",
            repo,
            "--at",
            "HEAD",
            "--url",
            U,
            "--point-weights",
            "code=1",
        ],
        Some(1),
    );
    assert_eq!(out.status.code(), Some(1));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("differ from the app's"), "{e}");
    // The rebalance proposed before the change recorded the old weights and still matches.
    let v = ctl.ok(&["show", &early.to_string(), "--repo", repo], None);
    assert_eq!(v["rebalance_check"]["matches"], true, "{v}");
    assert_eq!(
        v["rebalance_check"]["point_weights"],
        "code=1,comment=0.5,text=0.5"
    );

    // A proposal whose table hash was made up: show recomputes, says so, and exits 1.
    let app = ctl.app();
    let signer = dao_chain::Signer::from_file(&dn.key_file(1)).unwrap();
    let head = git(&work, &["rev-parse", "HEAD"]);
    let commit: [u8; 20] = hex::decode(head.trim()).unwrap().try_into().unwrap();
    let weights = vec![(dn.address(2).parse().unwrap(), 31u64)];
    let rt = support::runtime();
    let (bogus, _) = rt
        .block_on(app.propose_rebalance(&signer, commit, [0xab; 32], &weights, "u"))
        .unwrap();
    let out = ctl.run(
        &["show", &bogus.to_string(), "--repo", repo, "--json"],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["rebalance_check"]["hash_matches"], false, "{v}");
    assert_eq!(v["rebalance_check"]["weights_match"], false, "{v}");
}

/// A rebalance proposed while a member delegates: the app's history holds voting power, so the
/// delegator reads 0 there and its delegate both weights. `show` recomputes from the own
/// weights (those of now, since only delegations came after), and after the execution changed
/// weights it says it cannot check rather than reporting a mismatch.
#[test]
fn show_recomputes_a_rebalance_made_while_a_member_delegates() {
    let dn = Devnet::start();
    let dir = tempfile::tempdir().unwrap();
    let work = contributors_repo(dir.path(), &dn);
    let spec = support::form(&dn, dir.path(), &work, &[]);
    let ctl = Ctl { dn: &dn, spec };
    let repo = work.to_str().unwrap();

    ctl.ok(&["delegate", &dn.address(1)], Some(3));
    let p = ctl.ok(
        &[
            "propose-rebalance",
            "--repo",
            repo,
            "--at",
            "HEAD",
            "--url",
            U,
        ],
        Some(1),
    );
    let id = p["id"].as_u64().unwrap();
    let shown = ctl.ok(&["show", &id.to_string(), "--repo", repo], None);
    assert_eq!(shown["rebalance_check"]["matches"], true, "{shown}");

    ctl.ok(&["vote", &id.to_string(), "for"], Some(1));
    ctl.ok(&["vote", &id.to_string(), "for"], Some(2));
    ctl.ok(&["finalize", &id.to_string()], Some(3));
    dn.advance(11);
    ctl.ok(&["execute", &id.to_string()], Some(3));
    let shown = ctl.ok(&["show", &id.to_string(), "--repo", repo], None);
    assert_eq!(shown["rebalance_check"]["checked"], false, "{shown}");
    assert!(
        shown["rebalance_check"]["how"]
            .as_str()
            .unwrap()
            .contains("a delegation was in force"),
        "{shown}"
    );
}
