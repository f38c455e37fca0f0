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

fn form_with(dn: &Devnet, dir: &Path, work: &Path, args: &[&str]) -> Output {
    let rules = dir.join("rules.toml");
    std::fs::write(&rules, RULES).unwrap();
    Command::new(env!("CARGO_BIN_EXE_dao-agentctl"))
        .args(["form", "--genesis", "HEAD", "--repo"])
        .arg(work)
        .arg("--rules")
        .arg(&rules)
        .args(["--algod", &dn.url])
        .arg("--algod-token-file")
        .arg(&dn.token_file)
        .arg("--key")
        .arg(dn.key_file(1))
        .args(args)
        .output()
        .unwrap()
}

fn balance(dn: &Devnet, n: u32) -> u64 {
    let node = dao_chain::Node::with_token_file(&dn.url, Some(dn.token_file.as_path())).unwrap();
    let rt = support::runtime();
    rt.block_on(node.balance(&dn.address(n).parse().unwrap()))
        .unwrap()
        .0
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
