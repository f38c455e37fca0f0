//! `form` refuses bad input before it sends anything (issue 17): a weight or total above 10^12,
//! a member or host given twice, host 0, an scp-style repository, a --network the node does not
//! serve, an --out that exists. "Nothing sent" is checked on the devnet: the creator's balance
//! (every transaction costs a fee) does not move.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod support;

use dao_testkit::Devnet;
use std::path::Path;
use std::process::{Command, Output};
use support::{fleet, form, RULES};

/// `form` with the devnet and the rules; dev1 signs unless `args` name another `--key`.
fn form_with(dn: &Devnet, dir: &Path, work: &Path, args: &[&str]) -> Output {
    let rules = dir.join("rules.toml");
    std::fs::write(&rules, RULES).unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_dao-agentctl"));
    c.args(["form", "--genesis", "HEAD", "--repo"])
        .arg(work)
        .arg("--rules")
        .arg(&rules)
        .args(["--algod", &dn.url])
        .arg("--algod-token-file")
        .arg(&dn.token_file)
        .args(args);
    if !args.contains(&"--key") {
        c.arg("--key").arg(dn.key_file(1));
    }
    c.output().unwrap()
}

fn balance(dn: &Devnet, n: u32) -> u64 {
    balances(dn, &dn.address(n)).0
}

/// An account's balance and minimum balance.
fn balances(dn: &Devnet, address: &str) -> (u64, u64) {
    let node = dao_chain::Node::with_token_file(&dn.url, Some(dn.token_file.as_path())).unwrap();
    let rt = support::runtime();
    rt.block_on(node.balance(&address.parse().unwrap()))
        .unwrap()
}

#[test]
fn bad_input_to_form_sends_nothing() {
    let dn = Devnet::start();
    let dir = tempfile::tempdir().unwrap();
    let work = fleet(dir.path());
    let out = dir.path().join("dao-spec.toml");
    let out = out.to_str().unwrap();
    let (a1, a2, a4) = (dn.address(1), dn.address(2), dn.address(4));
    let repo = "https://git.example.org/fleet.git";
    let m = |a: &str, w: &str| format!("{a}={w}");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["--member".into(), m(&a1, "1000000000001")],
            "more than 1000000000000",
        ),
        (
            vec![
                "--member".into(),
                m(&a1, "600000000000"),
                "--member".into(),
                m(&a2, "400000000001"),
            ],
            "more than 1000000000000",
        ),
        (
            vec![
                "--member".into(),
                m(&a1, "5"),
                "--member".into(),
                m(&a1, "6"),
            ],
            "given twice",
        ),
        (
            vec!["--member".into(), m(&a1, "5"), "--host".into(), m("0", &a4)],
            "host ids start at 1",
        ),
        (
            vec![
                "--member".into(),
                m(&a1, "5"),
                "--host".into(),
                m("1", &a4),
                "--host".into(),
                m("1", &a2),
            ],
            "given twice",
        ),
        (
            vec![
                "--member".into(),
                m(&a1, "5"),
                "--network".into(),
                "mainnet".into(),
            ],
            "the node serves",
        ),
        (
            vec![
                "--member".into(),
                m(&a1, "5"),
                "--network".into(),
                "moonnet".into(),
            ],
            "is not one of",
        ),
    ];
    let before = balance(&dn, 1);
    for (args, expect) in &cases {
        let mut all: Vec<&str> = vec!["--repository", repo, "--out", out];
        all.extend(args.iter().map(String::as_str));
        let o = form_with(&dn, dir.path(), &work, &all);
        let e = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {e}");
        assert!(e.contains(expect), "{args:?}: expected `{expect}` in: {e}");
    }
    let scp = form_with(
        &dn,
        dir.path(),
        &work,
        &[
            "--repository",
            "git@git.example.org:fleet.git",
            "--out",
            out,
            "--member",
            &m(&a1, "5"),
        ],
    );
    assert!(String::from_utf8_lossy(&scp.stderr).contains("scp-style"));
    let nowhere = form_with(
        &dn,
        dir.path(),
        &work,
        &[
            "--repository",
            repo,
            "--out",
            "/nonexistent/dir/dao-spec.toml",
            "--member",
            &m(&a1, "5"),
        ],
    );
    assert_eq!(nowhere.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&nowhere.stderr).contains("cannot write in /nonexistent/dir"));
    // --dry-run gets as far as the first transaction, says what it is, and sends nothing.
    let dry = form_with(
        &dn,
        dir.path(),
        &work,
        &[
            "--repository",
            repo,
            "--out",
            out,
            "--member",
            &m(&a1, "5"),
            "--dry-run",
        ],
    );
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let said = String::from_utf8_lossy(&dry.stdout);
    assert!(
        said.contains("create an app") && said.contains("nothing was sent"),
        "{said}"
    );
    assert_eq!(balance(&dn, 1), before, "a refused form sent a transaction");
    assert!(!Path::new(out).exists());

    // An account that cannot pay for the whole formation is refused before the first
    // transaction: a fresh key nobody funded.
    let poor = dir.path().join("poor.key");
    std::fs::write(&poor, "11".repeat(32)).unwrap();
    std::fs::set_permissions(&poor, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let o = form_with(
        &dn,
        dir.path(),
        &work,
        &[
            "--repository",
            repo,
            "--out",
            out,
            "--member",
            &m(&a1, "5"),
            "--key",
            poor.to_str().unwrap(),
        ],
    );
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(
        e.contains("can spend 0 µAlgo") && e.contains("forming the DAO"),
        "{e}"
    );

    // What form says it costs is what it costs: the creator's spending plus the minimum
    // balance the app adds to it (fees at the devnet's minimum).
    let (spent0, min0) = balances(&dn, &a1);
    let o = form_with(
        &dn,
        dir.path(),
        &work,
        &[
            "--repository",
            repo,
            "--out",
            out,
            "--json",
            "--member",
            &m(&a1, "5"),
            "--member",
            &m(&a2, "3"),
            "--host",
            &m("1", &a4),
            "--validator",
            &dn.address(6),
            "--attest-quorum",
            "1",
            "--point-weights",
            "code=2",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let (spent1, min1) = balances(&dn, &a1);
    assert_eq!(
        (spent0 - spent1) + (min1 - min0),
        v["cost"].as_u64().unwrap(),
        "{v}"
    );
    std::fs::remove_file(out).unwrap();

    // A formed DAO's spec file is never overwritten by a second form, which sends nothing.
    let spec = form(&dn, dir.path(), &work, &[]);
    let before = balance(&dn, 1);
    let again = form_with(
        &dn,
        dir.path(),
        &work,
        &[
            "--repository",
            repo,
            "--out",
            spec.to_str().unwrap(),
            "--member",
            &m(&a1, "5"),
        ],
    );
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));
    assert_eq!(balance(&dn, 1), before);
}
