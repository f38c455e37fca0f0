//! `preview` on the devnet with real Nix builds: a deploy proposal's change to two hosts is built
//! at base and head from a flake that builds offline, and compared — a package's new version,
//! systemd units added and changed, a new kernel (reboot needed) on one host and nothing on the
//! other. A proposal whose hash is not its change's, and one that is not a deploy, are refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod support;

use dao_testkit::{git, Devnet, NIX_CONFIG};
use std::path::Path;
use std::process::{Command, Output};
use support::{form, Ctl};

/// A flake of two hosts, web and db. web's system refers to a package `hello` (so it is in its
/// closure), has systemd units and a kernel; `v` is web's version of everything.
fn flake(v: u32, extra_unit: bool) -> String {
    let system = format!("{}-linux", std::env::consts::ARCH);
    let extra = if extra_unit {
        "printf '[Service]\\nExecStart=/bin/true\\n' > $out/etc/systemd/system/motd.service"
    } else {
        ""
    };
    format!(
        r#"{{
  outputs = {{ self }}:
    let
      sh = name: script: derivation {{
        inherit name;
        system = "{system}";
        builder = "/bin/sh";
        PATH = "/usr/bin:/bin";
        args = [ "-c" script ];
      }};
      hello = sh "hello-1.{v}" "mkdir -p $out/bin; echo 'echo hello {v}' > $out/bin/hello";
      web = sh "nixos-system-web" ''
        mkdir -p $out/bin $out/etc/systemd/system
        echo ${{hello}} > $out/etc/hello-path
        printf '[Service]\nExecStart=/bin/nginx -v{v}\n' > $out/etc/systemd/system/nginx.service
        echo kernel-{v} > $out/kernel
        echo initrd > $out/initrd
        {extra}
      '';
      db = sh "nixos-system-db" ''
        mkdir -p $out/etc/systemd/system
        echo kernel > $out/kernel
      '';
    in {{
      nixosConfigurations.web.config.system.build.toplevel = web;
      nixosConfigurations.db.config.system.build.toplevel = db;
    }};
}}
"#
    )
}

fn preview(ctl: &Ctl, repo: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dao-agentctl"))
        .arg("preview")
        .args(args)
        .arg("--repo")
        .arg(repo)
        .arg("--spec")
        .arg(&ctl.spec)
        .arg("--algod-token-file")
        .arg(&ctl.dn.token_file)
        .env("NIX_CONFIG", NIX_CONFIG)
        .output()
        .unwrap()
}

#[test]
fn preview_builds_both_sides_and_names_what_changes_per_host() {
    let dn = Devnet::start();
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("fleet");
    std::fs::create_dir(&work).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::write(work.join("flake.nix"), flake(0, false)).unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "genesis"]);
    let base = git(&work, &["rev-parse", "HEAD"]).trim().to_owned();
    let h2 = format!("2={}", dn.address(5));
    let ctl = Ctl {
        dn: &dn,
        spec: form(&dn, dir.path(), &work, &["--host", &h2]),
    };
    std::fs::write(work.join("flake.nix"), flake(1, true)).unwrap();
    git(
        &work,
        &[
            "commit",
            "-q",
            "-am",
            "hello 1.1, nginx v1, a motd unit, kernel 1",
        ],
    );
    let head = git(&work, &["rev-parse", "HEAD"]).trim().to_owned();
    let repo = work.to_str().unwrap();
    // submit --dry-run --preview: the same preview, before anything is sent, and nothing sent.
    let dry = Command::new(env!("CARGO_BIN_EXE_dao-agentctl"))
        .args([
            "submit",
            "--repo",
            repo,
            "--base",
            &base,
            "--head",
            &head,
            "--all-hosts",
        ])
        .args(["--description", "https://git.example.org/fleet/pulls/1"])
        .args([
            "--preview",
            "--host",
            "1=web",
            "--dry-run",
            "--json",
            "--spec",
        ])
        .arg(&ctl.spec)
        .arg("--algod-token-file")
        .arg(&dn.token_file)
        .arg("--key")
        .arg(dn.key_file(1))
        .env("NIX_CONFIG", NIX_CONFIG)
        .output()
        .unwrap();
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let d: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert_eq!(d["dry_run"], true);
    assert_eq!(d["targets"], serde_json::json!([1, 2]));
    assert_eq!(
        d["preview"][0]["reboot"],
        serde_json::json!(["kernel"]),
        "{d}"
    );
    assert_eq!(ctl.ok(&["proposals"], None).as_array().unwrap().len(), 0);
    let sub = ctl.ok(
        &[
            "submit",
            "--repo",
            repo,
            "--base",
            &base,
            "--head",
            &head,
            "--all-hosts",
            "--description",
            "https://git.example.org/fleet/pulls/1",
        ],
        Some(1),
    );
    let id = sub["id"].as_u64().unwrap().to_string();

    let out = preview(
        &ctl,
        &work,
        &[&id, "--host", "1=web", "--host", "2=db", "--json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let host = |n: u64| {
        v["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["host"] == n)
            .unwrap_or_else(|| panic!("no host {n}: {v}"))
            .clone()
    };
    let web = host(1);
    let closure = web["closure"].to_string();
    assert!(closure.contains("hello: 1.0 → 1.1"), "{web}");
    assert_eq!(
        web["units_added"],
        serde_json::json!(["motd.service"]),
        "{web}"
    );
    assert_eq!(
        web["units_changed"],
        serde_json::json!(["nginx.service"]),
        "{web}"
    );
    assert_eq!(web["reboot"], serde_json::json!(["kernel"]), "{web}");
    let db = host(2);
    assert_eq!(
        db["base_toplevel"], db["head_toplevel"],
        "db did not change: {db}"
    );
    assert_eq!(db["closure"], serde_json::json!([]), "{db}");
    assert_eq!(db["reboot"], serde_json::json!([]), "{db}");

    // Text for people; a host without a name is said to be skipped, not silently left out.
    let out = preview(&ctl, &work, &[&id, "--host", "1=web"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("reboot: needed (kernel changed)"), "{text}");
    assert!(text.contains("host 2: not previewed"), "{text}");

    // Without Nix, preview says what it needs instead of failing obscurely.
    let out = Command::new(env!("CARGO_BIN_EXE_dao-agentctl"))
        .args(["preview", &id, "--host", "1=web", "--repo", repo, "--spec"])
        .arg(&ctl.spec)
        .arg("--algod-token-file")
        .arg(&dn.token_file)
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("preview needs Nix"), "{e}");

    // A proposal whose claimed hash is not its change's is refused before anything is built.
    let signer = dao_chain::Signer::from_file(&dn.key_file(2)).unwrap();
    let app = ctl.app();
    let commit = |s: &str| -> [u8; 20] { hex::decode(s).unwrap().try_into().unwrap() };
    let forged = dao_chain::txn::DeployProposal {
        emergency: false,
        base: commit(&base),
        head: commit(&head),
        diff_hash: [0x42; 32],
        targets: dao_chain::decode::Targets::All,
        description_url: "https://git.example.org/fleet/pulls/2".into(),
    };
    let rt = support::runtime();
    let (forged_id, _) = rt.block_on(app.propose_deploy(&signer, &forged)).unwrap();
    let out = preview(&ctl, &work, &[&forged_id.to_string(), "--host", "1=web"]);
    assert_eq!(out.status.code(), Some(1));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("every host will refuse it"), "{e}");

    let m = ctl.ok(
        &[
            "propose-membership",
            "--member",
            &dn.address(6),
            "--weight",
            "1",
            "--url",
            "https://x.example/1",
        ],
        Some(1),
    );
    let out = preview(&ctl, &work, &[&m["id"].as_u64().unwrap().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("only deploys change hosts"));
}
