//! The validator's judgement on real components (docs/validators.md): a real governed flake in
//! git, fetched and verified, each host's toplevel built with real Nix, the closure hashed —
//! the same hash an executor computes for the same commit — and each kind of failure named.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod pipeline_host;

use dao_agent::executor::build::Nix;
use dao_agent::executor::closure;
use dao_agent::validator::judge::{Judge, Judged};
use dao_chain::validation::Outcome;
use dao_core::config::{Host as ValidatedHost, Span, Validator, VotePolicy};
use dao_testkit::NIX_CONFIG;
use pipeline_host::{hex, lineage, status, Behaviour, Host, GOOD};
use std::time::Duration;

fn judge(h: &Host, check: Option<Vec<String>>) -> Judge {
    let s = |secs| Span(Duration::from_secs(secs));
    Judge {
        checkout: h.dir.join("validator/checkout"),
        allowed_remotes: h.remote(),
        pinned_remote: h.remote()[0].clone(),
        shallow: false,
        nix: Nix {
            program: "nix".into(),
            env: vec![("NIX_CONFIG".into(), NIX_CONFIG.into())],
        },
        dir: h.dir.join("validator"),
        cfg: Validator {
            hosts: vec![web()],
            policy: VotePolicy::Attest,
            check_command: check,
            check_timeout: s(30),
            fetch_timeout: s(30),
            eval_timeout: s(60),
            build_timeout: s(60),
            store: None,
        },
    }
}

fn web() -> ValidatedHost {
    ValidatedHost {
        id: 1,
        name: "web".into(),
        flake_output: "hosts.web".into(),
    }
}

fn findings(j: Judged) -> Vec<dao_agent::validator::judge::Finding> {
    match j {
        Judged::Findings(f) => f,
        other => panic!("expected findings, got {other:?}"),
    }
}

#[test]
fn a_validator_attests_the_closure_the_executor_builds_for_the_same_commit() {
    let h = Host::new();
    let base = h.commit("v1", GOOD);
    h.install(base);
    let head = h.commit("v2", GOOD);
    let a = h.approve(3, base, head);
    let f = findings(judge(&h, None).judge(&a, &[web()]));
    assert_eq!(f.len(), 1);
    assert_eq!((f[0].host, f[0].outcome), (1, Outcome::Built), "{f:?}");

    // The executor builds the same commit and hashes its closure: the same value.
    let rec = h.run(&a, &lineage(base), h.remote()).unwrap();
    assert_eq!(status(&rec), dao_agent::journal::Status::Applied);
    let nix = Nix {
        program: "nix".into(),
        env: vec![("NIX_CONFIG".into(), NIX_CONFIG.into())],
    };
    let mine = closure::of_toplevel(
        &nix,
        rec.toplevel.as_ref().unwrap(),
        None,
        Duration::from_secs(60),
    )
    .unwrap();
    assert_eq!(hex(&f[0].closure), hex(&mine));
    assert!(f[0].detail.contains(&hex(&mine)), "{}", f[0].detail);
}

#[test]
fn each_failure_is_named_by_its_outcome() {
    let h = Host::new();
    let base = h.commit("v1", GOOD);
    let broken = h.commit(
        "v2",
        Behaviour {
            build_ok: false,
            ..GOOD
        },
    );
    let f = findings(judge(&h, None).judge(&h.approve(4, base, broken), &[web()]));
    assert_eq!(f[0].outcome, Outcome::BuildFailed, "{f:?}");
    assert_eq!(f[0].closure, [0; 32]);

    // The check command runs in a work tree of the head: it sees the head's flake.nix.
    let good = h.commit("v3", GOOD);
    let check = |script: &str| Some(vec!["/bin/sh".into(), "-c".into(), script.into()]);
    let passing = check("test -f flake.nix && test \"$DAO_PROPOSAL\" = 5");
    let f = findings(judge(&h, passing).judge(&h.approve(5, broken, good), &[web()]));
    assert_eq!(f[0].outcome, Outcome::Built, "{f:?}");
    let failing = check("echo 'the fleet check failed' >&2; exit 3");
    let f = findings(judge(&h, failing).judge(&h.approve(6, broken, good), &[web()]));
    assert_eq!(f[0].outcome, Outcome::ChecksFailed, "{f:?}");
    assert!(
        f[0].detail.contains("the fleet check failed"),
        "{}",
        f[0].detail
    );

    // An output that is no NixOS system cannot be evaluated for this host.
    let mut j = judge(&h, None);
    j.cfg.hosts[0].flake_output = "hosts.nope".into();
    let nope = ValidatedHost {
        flake_output: "hosts.nope".into(),
        ..web()
    };
    let f = findings(j.judge(&h.approve(7, broken, good), &[nope]));
    assert_eq!(f[0].outcome, Outcome::EvalFailed, "{f:?}");
}

#[test]
fn a_change_that_does_not_verify_is_never_built() {
    let h = Host::new();
    let base = h.commit("v1", GOOD);
    let head = h.commit("v2", GOOD);
    let mut a = h.approve(8, base, head);
    a.diff_hash.0[0] ^= 1;
    match judge(&h, None).judge(&a, &[web()]) {
        Judged::Unverified(why) => {
            assert!(why.contains("diff hash") || why.contains("hash"), "{why}")
        }
        other => panic!("expected unverified, got {other:?}"),
    }
    assert!(
        !h.dir.join("validator/gc-roots").exists(),
        "something was built"
    );
}
