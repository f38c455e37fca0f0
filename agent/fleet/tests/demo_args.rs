#![allow(clippy::expect_used)]
//! dao-demo's command line: what it accepts and what it says, without starting a fleet.

use std::process::{Command, Output};

fn demo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dao-demo"))
        .args(args)
        .output()
        .expect("dao-demo runs")
}

#[test]
fn help_names_the_flag_and_exits_zero() {
    for flag in ["--help", "-h"] {
        let out = demo(&[flag]);
        assert_eq!(out.status.code(), Some(0), "{flag}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Usage: dao-demo [OPTIONS]"), "{flag}: {text}");
        assert!(text.contains("--keep"), "{flag}: {text}");
        assert!(text.contains("--dump <DIR>"), "{flag}: {text}");
        assert!(text.contains("two NixOS hosts"), "{flag}: {text}");
    }
    let long = String::from_utf8_lossy(&demo(&["--help"]).stdout).into_owned();
    assert!(long.contains("Exit status: 0 when every outcome"), "{long}");
}

#[test]
fn an_unknown_argument_is_named_and_exits_two_without_a_fleet() {
    for bad in [&["--kep"][..], &["extra"][..], &["--keep", "now"][..]] {
        let out = demo(bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("Usage: dao-demo"), "{bad:?}: {err}");
        assert!(
            out.stdout.is_empty(),
            "{bad:?} started something: {:?}",
            out.stdout
        );
    }
    let err = String::from_utf8_lossy(&demo(&["--kep"]).stderr).into_owned();
    assert!(err.contains("'--kep'"), "{err}");
    // --dump needs its directory.
    let out = demo(&["--dump"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "{:?}", out.stdout);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        err.contains("a value is required for '--dump <DIR>'"),
        "{err}"
    );
}
