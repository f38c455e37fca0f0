//! dao-agentctl as users run it: the real binary, real git repositories, real files.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use dao_testkit::git;

use std::path::Path;
use std::process::{Command, Output};

fn ctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dao-agentctl"))
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Commits: c1 (hosts/web.nix), c2 (web.nix changed), c3 (same tree as c2).
fn repo() -> (tempfile::TempDir, [String; 3]) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    git(p, &["init", "-q", "-b", "main"]);
    std::fs::create_dir(p.join("hosts")).unwrap();
    std::fs::write(
        p.join("hosts/web.nix"),
        "{ networking.hostName = \"web\"; }\n",
    )
    .unwrap();
    git(p, &["add", "."]);
    git(p, &["commit", "-q", "-m", "one"]);
    let c1 = git(p, &["rev-parse", "HEAD"]);
    std::fs::write(
        p.join("hosts/web.nix"),
        "{ networking.hostName = \"web-1\"; }\n",
    )
    .unwrap();
    git(p, &["commit", "-q", "-am", "two"]);
    let c2 = git(p, &["rev-parse", "HEAD"]);
    git(p, &["commit", "-q", "--allow-empty", "-m", "three"]);
    let c3 = git(p, &["rev-parse", "HEAD"]);
    (d, [c1, c2, c3])
}

#[test]
fn hash_prints_the_canonical_hash() {
    let (d, [c1, c2, _]) = repo();
    let repo_arg = d.path().to_str().unwrap();
    let out = ctl(&["hash", "--repo", repo_arg, &c1, &c2]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line = text(&out.stdout);
    let want = dao_core::diff_hash::diff_hash_revisions(d.path(), &c1, &c2)
        .unwrap()
        .diff_hash
        .to_string();
    assert_eq!(line, format!("{want}\n"));
    assert!(line.starts_with("sha256:") && line.trim().len() == 71);
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn hash_json_has_the_counts() {
    let (d, [c1, c2, _]) = repo();
    let out = ctl(&[
        "hash",
        "--json",
        "--repo",
        d.path().to_str().unwrap(),
        &c1,
        &c2,
    ]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["changed_paths"], 1);
    let sizes = "{ networking.hostName = \"web\"; }\n".len()
        + "{ networking.hostName = \"web-1\"; }\n".len();
    assert_eq!(v["bytes_hashed"], sizes);
    assert_eq!(v["base"], c1.as_str());
    assert_eq!(v["head"], c2.as_str());
    assert_eq!(v["empty"], false);
}

#[test]
fn hash_of_identical_trees_is_the_empty_change_and_says_so() {
    let (d, [_, c2, c3]) = repo();
    let out = ctl(&["hash", "--repo", d.path().to_str().unwrap(), &c2, &c3]);
    assert!(out.status.success());
    assert_eq!(
        text(&out.stdout).trim(),
        "sha256:867576b128ac435c478cfffddf4e9917439367d88e6a93d15326a410d71d0210"
    );
    assert!(text(&out.stderr).contains("identical trees; this is the empty change"));
}

#[test]
fn hash_defaults_to_the_current_directory() {
    let (d, [c1, c2, _]) = repo();
    let out = Command::new(env!("CARGO_BIN_EXE_dao-agentctl"))
        .args(["hash", &c1, &c2])
        .current_dir(d.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn hash_errors_name_the_problem_and_exit_non_zero() {
    let (d, [c1, _, _]) = repo();
    let r = d.path().to_str().unwrap();
    let tree = git(d.path(), &["rev-parse", "HEAD^{tree}"]);
    let empty = tempfile::tempdir().unwrap();
    for (args, needle) in [
        (
            vec!["hash", "--repo", r, &c1, "nope"],
            "unknown revision `nope`",
        ),
        (
            vec!["hash", "--repo", r, &c1, &tree],
            "names a tree, not a commit",
        ),
        (
            vec!["hash", "--repo", empty.path().to_str().unwrap(), "a", "b"],
            "is not a git repository",
        ),
    ] {
        let out = ctl(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = text(&out.stderr);
        assert!(
            err.starts_with("dao-agentctl: error: cannot hash the change"),
            "{err}"
        );
        assert!(err.contains(needle), "{err}");
        assert_eq!(text(&out.stdout), "");
    }
    // Usage errors are clap's: exit 2.
    assert_eq!(ctl(&["hash", "only-one"]).status.code(), Some(2));
}

#[test]
fn validate_config_accepts_the_documented_examples() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples");
    for f in ["executor.toml", "watcher.toml"] {
        let file = examples.join(f);
        let out = ctl(&["validate-config", file.to_str().unwrap()]);
        assert!(out.status.success(), "{f}: {}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains(": valid (roles: "),
            "{}",
            text(&out.stdout)
        );
    }
}

#[test]
fn validate_config_reports_every_problem_with_its_key() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("agent.toml");
    std::fs::write(
        &f,
        "roles = [\"watcher\"]\n[chain]\nalgod_url = \"http://127.0.0.1:4001\"\napp_id = 1\nnetwork = \"devnet\"\n[executor.health]\ntimeout = \"soon\"\nrequired_units = [\"sshd\"]\n",
    )
    .unwrap();
    let fs = f.to_str().unwrap();
    let out = ctl(&["validate-config", fs]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "{fs}: executor.health.timeout: expected a duration like \"90s\", got \"soon\""
        )),
        "{err}"
    );
    assert!(err.contains("executor.health.required_units[0]"), "{err}");
    assert!(err.contains("2 problems"), "{err}");

    let out = ctl(&["validate-config", "--json", fs]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["problems"][0]["path"], "executor.health.timeout");
    assert_eq!(v["config"], serde_json::Value::Null);
}

#[test]
fn validate_config_json_shows_the_defaults_of_a_valid_file() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples");
    let out = ctl(&[
        "validate-config",
        "--json",
        examples.join("watcher.toml").to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["config"]["executor"]["health"]["timeout"], "1m30s");
    assert_eq!(v["config"]["state_dir"], "/var/lib/dao-governance");
}

#[test]
fn validate_config_of_a_missing_file_names_it() {
    let out = ctl(&["validate-config", "/nonexistent/agent.toml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cannot read the configuration file /nonexistent/agent.toml")
    );
}

#[test]
fn completions_and_man_pages_come_from_the_command_definitions() {
    for shell in ["bash", "zsh", "fish"] {
        let out = ctl(&["completions", shell]);
        assert!(out.status.success());
        let script = text(&out.stdout);
        for sub in ["hash", "validate-config"] {
            assert!(script.contains(sub), "{shell} completion lacks {sub}");
        }
    }
    let d = tempfile::tempdir().unwrap();
    let out = ctl(&["man", "--out", d.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let main = std::fs::read_to_string(d.path().join("dao-agentctl.1")).unwrap();
    assert!(
        main.starts_with(".ie") || main.contains(".TH dao-agentctl"),
        "{main}"
    );
    let hash = std::fs::read_to_string(d.path().join("dao-agentctl-hash.1")).unwrap();
    assert!(hash.contains("canonical diff hash"), "{hash}");
}

/// Runs dao-agentctl with a standard output whose reader is already gone, as in `… | head -1`
/// once head has exited: the first write fails, every time, with no race against a reader.
fn ctl_into_closed_pipe(args: &[&str]) -> Output {
    let (read, write) = nix::unistd::pipe().unwrap();
    drop(read);
    Command::new(env!("CARGO_BIN_EXE_dao-agentctl"))
        .args(args)
        .stdout(std::process::Stdio::from(write))
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn a_closed_pipe_ends_quietly_with_141_never_a_panic() {
    let (d, [c1, c2, _]) = repo();
    let repo = d.path().to_str().unwrap();
    for args in [
        vec!["hash", "--repo", repo, &c1, &c2],
        vec!["hash", "--repo", repo, &c1, &c2, "--json"],
        vec!["completions", "bash"],
        vec!["contributors", "--repo", repo, "--spec", "/nonexistent"],
    ] {
        let out = ctl_into_closed_pipe(&args);
        assert_eq!(
            out.status.code(),
            Some(141),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stderr.is_empty(), "{args:?}: {}", text(&out.stderr));
    }
}
