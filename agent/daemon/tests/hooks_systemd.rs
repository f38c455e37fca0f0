//! The `on_outcome` hook under systemd: a transient unit of its own, started over D-Bus, with
//! its facts in the environment; a failing hook is a failure and a hanging one is stopped by
//! systemd at the timeout (systemd 252 in an isolated container, dao_testkit::systemd).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use dao_agent::hooks::systemd::{run, UNIT_PREFIX};
use dao_agent::hooks::Ran;
use dao_testkit::systemd::{write_script, SystemdContainer};
use std::path::PathBuf;
use std::time::Duration;

fn env(proposal: &str) -> Vec<(String, String)> {
    [("DAO_PROPOSAL", proposal), ("DAO_OUTCOME", "applied")]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn a_hook_runs_in_a_transient_unit_and_a_failing_or_hanging_one_is_reported() {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("hooks_systemd");
    let Some(c) = SystemdContainer::start(&base, &[], &[]) else {
        return;
    };
    let bus = c.bus_address();
    let share = c.share();
    let hook = c.dir().join("hook.sh");
    write_script(
        &hook,
        &format!(
            "s={share}\nenv | sort > $s/env-$DAO_PROPOSAL\ncat /proc/self/cgroup > $s/cgroup-$DAO_PROPOSAL\n\
             case \"$1\" in\n  fail) exit 4 ;;\n  hang) echo hanging > $s/hang; exec sleep 600 ;;\nesac\n",
            share = share.display()
        ),
    );
    let argv = |how: &str| vec![hook.display().to_string(), how.to_owned()];

    let ran = run(
        Some(&bus),
        1,
        &argv("ok"),
        &env("1"),
        Duration::from_secs(30),
    );
    assert_eq!(ran, Ran::Ok, "{}", c.log());
    let recorded = std::fs::read_to_string(share.join("env-1")).unwrap();
    assert!(recorded.contains("DAO_PROPOSAL=1\n"), "{recorded}");
    assert!(recorded.contains("DAO_OUTCOME=applied\n"), "{recorded}");
    // Its own unit, not the caller's.
    let cgroup = std::fs::read_to_string(share.join("cgroup-1")).unwrap();
    assert!(
        cgroup.contains(&format!("/{UNIT_PREFIX}1-")),
        "not in a hook unit: {cgroup}"
    );

    let ran = run(
        Some(&bus),
        2,
        &argv("fail"),
        &env("2"),
        Duration::from_secs(30),
    );
    match ran {
        Ran::Failed(why) => assert!(why.contains(UNIT_PREFIX), "{why}"),
        other => panic!("a failing hook: {other:?}"),
    }

    let ran = run(
        Some(&bus),
        3,
        &argv("hang"),
        &env("3"),
        Duration::from_secs(1),
    );
    assert_eq!(ran, Ran::TimedOut, "{}", c.log());
    assert!(share.join("hang").exists(), "the hanging hook never ran");

    // A program that does not exist: the unit fails, reported as a failure, not a hang.
    let ran = run(
        Some(&bus),
        4,
        &["/nonexistent/hook".to_owned()],
        &env("4"),
        Duration::from_secs(30),
    );
    assert!(matches!(ran, Ran::Failed(_)), "{ran:?}");
}
