//! Switching and reverting with real Nix profiles (nix-env generations in a temporary
//! directory) and toplevels whose switch-to-configuration records each activation in a log.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use dao_testkit::NIX_CONFIG;

use dao_agent::executor::activate::{revert_direct, switch_direct, ActivateError, Profile};
use dao_agent::journal::Generation;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(60);

/// Builds a toplevel whose switch appends "<name> <action>" to `log`, then exits `code`.
fn toplevel(name: &str, log: &Path, code: i32) -> PathBuf {
    let nonce = format!("{:?}{}", Instant::now(), std::process::id());
    let script = format!(
        "mkdir -p $out/bin && printf '#!/bin/sh\\necho \"{name} $1\" >> {log}\\nexit {code}\\n' > $out/bin/switch-to-configuration && chmod +x $out/bin/switch-to-configuration",
        log = log.display()
    );
    let expr = format!(
        "derivation {{ name = \"nixos-system-{name}\"; system = \"{}-linux\"; builder = \"/bin/sh\"; PATH = \"/usr/bin:/bin\"; nonce = \"{nonce}\"; args = [ \"-c\" {script:?} ]; }}",
        std::env::consts::ARCH
    );
    let out = Command::new("nix-build")
        .args(["--no-out-link", "-E", &expr])
        .env("NIX_CONFIG", NIX_CONFIG)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

fn profile(dir: &Path) -> Profile {
    std::fs::create_dir_all(dir.join("profiles")).unwrap();
    Profile {
        path: dir.join("profiles/system"),
        nix_env: "nix-env".into(),
        env: vec![("NIX_CONFIG".into(), NIX_CONFIG.into())],
    }
}

fn log_lines(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn switch_records_a_new_generation_and_activates_it() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("switch.log");
    let p = profile(d.path());
    assert_eq!(p.current().unwrap(), None);
    let a = toplevel("a", &log, 0);
    let b = toplevel("b", &log, 0);
    let g1 = p.set(&a, T).unwrap();
    assert_eq!(
        g1,
        Generation {
            number: 1,
            store_path: a.clone()
        }
    );
    let before = p.current().unwrap().unwrap();
    let g2 = p.set(&b, T).unwrap();
    switch_direct(&b, T).unwrap();
    assert_eq!((before.number, g2.number), (1, 2));
    assert_eq!(p.current().unwrap().unwrap().store_path, b);
    assert_eq!(log_lines(&log), ["b switch"]);
}

#[test]
fn a_failed_switch_reverts_to_exactly_the_recorded_generation_not_the_one_below() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("switch.log");
    let p = profile(d.path());
    let (a, b, c) = (
        toplevel("a", &log, 0),
        toplevel("b", &log, 0),
        toplevel("c", &log, 0),
    );
    p.set(&a, T).unwrap();
    p.set(&b, T).unwrap();
    p.set(&c, T).unwrap();
    // An earlier operator rollback: the host runs generation 2 (b) while 3 (c) exists.
    let mut back = Command::new("nix-env");
    back.args(["--switch-generation", "2", "-p"])
        .arg(&p.path)
        .env("NIX_CONFIG", NIX_CONFIG);
    assert!(back.status().unwrap().success());
    let recorded = p.current().unwrap().unwrap();
    assert_eq!(
        recorded,
        Generation {
            number: 2,
            store_path: b.clone()
        }
    );

    let bad = toplevel("bad", &log, 1);
    let g = p.set(&bad, T).unwrap();
    assert_eq!(g.number, 4);
    let e = switch_direct(&bad, T).unwrap_err();
    assert!(e.to_string().starts_with("switch_configuration: "), "{e}");
    revert_direct(&p, &recorded, T).unwrap();
    // Generation 2 (b), not 3 (c), "the one below" 4.
    assert_eq!(p.current().unwrap().unwrap(), recorded);
    assert_eq!(log_lines(&log), ["bad switch", "b switch"]);
}

#[test]
fn a_recorded_generation_that_is_gone_or_replaced_is_never_guessed_at() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("switch.log");
    let p = profile(d.path());
    let (a, b) = (toplevel("a", &log, 0), toplevel("b", &log, 0));
    p.set(&a, T).unwrap();
    let recorded = p.current().unwrap().unwrap();
    p.set(&b, T).unwrap();
    // Gone: someone deleted generation 1.
    std::fs::remove_file(d.path().join("profiles/system-1-link")).unwrap();
    let e = revert_direct(&p, &recorded, T).unwrap_err();
    assert!(matches!(e, ActivateError::GenerationChanged { .. }), "{e}");
    assert!(e.to_string().contains("gone"), "{e}");
    // Replaced: generation 1 now names another system.
    std::os::unix::fs::symlink(&b, d.path().join("profiles/system-1-link")).unwrap();
    let e = revert_direct(&p, &recorded, T).unwrap_err();
    assert!(e.to_string().contains(&b.display().to_string()), "{e}");
    // Nothing was switched, and the profile still points at b (generation 2).
    assert_eq!(log_lines(&log), Vec::<String>::new());
    assert_eq!(p.current().unwrap().unwrap().number, 2);
}

#[test]
fn a_profile_that_points_elsewhere_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let p = profile(d.path());
    std::os::unix::fs::symlink("/etc", &p.path).unwrap();
    let e = p.current().unwrap_err();
    assert!(matches!(e, ActivateError::NotAGeneration { .. }), "{e}");
    std::fs::remove_file(&p.path).unwrap();
    std::os::unix::fs::symlink("system-x-link", &p.path).unwrap();
    assert!(p.current().is_err());
}

/// Finding 4: after `kill -9` of the agent mid-switch (direct mode), the switch child kept
/// running while the restarted agent switched again. A recorded switch that still runs is
/// waited for before anything else happens.
#[test]
fn a_switch_left_running_by_a_killed_agent_is_waited_for() {
    use dao_agent::executor::pipeline::{DirectSwitch, Switcher};
    use std::os::unix::process::CommandExt;
    let d = tempfile::tempdir().unwrap();
    let record = d.path().join("switch.json");
    // The orphaned switch: a process group of its own that lasts 1.5 s.
    let mut child = std::process::Command::new("/bin/sh")
        .args(["-c", "sleep 1.5"])
        .process_group(0)
        .spawn()
        .unwrap();
    let pid = child.id();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let start: u64 = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .nth(19)
        .unwrap()
        .parse()
        .unwrap();
    std::fs::write(
        &record,
        format!(r#"{{"toplevel":"/nix/store/x-system","pid":{pid},"start_time":{start}}}"#),
    )
    .unwrap();
    let reaper = std::thread::spawn(move || child.wait().unwrap());
    let s = DirectSwitch {
        record: Some(record.clone()),
    };
    let t = std::time::Instant::now();
    let waited = s.settle(Duration::from_secs(10)).unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(1000),
        "did not wait: {waited:?}"
    );
    assert_eq!(waited.len(), 1, "{waited:?}");
    assert!(!record.exists());
    reaper.join().unwrap();
    // Nothing recorded: nothing to wait for.
    assert!(s.settle(Duration::from_secs(1)).unwrap().is_empty());
}
