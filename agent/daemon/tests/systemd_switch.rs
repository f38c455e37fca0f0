#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The transient-unit switch against a real systemd 252 in an isolated container (see
//! dao_testkit::systemd): the switch runs once in a unit of its own that is collected after,
//! failures and timeouts name the unit, a switch unit left from before a restart is waited for,
//! the switch survives its caller being killed, and units_active reads units' states.

use dao_agent::executor::confirm::{confirm, Check};
use dao_agent::executor::pipeline::Switcher;
use dao_agent::executor::systemd::{unit_name, SwitchError, SystemdSwitch, UNIT_PREFIX};
use dao_agent::executor::units::{check_units, units_active};
use dao_testkit::systemd::{write_script, SystemdContainer};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use zbus::zvariant::{OwnedObjectPath, Value};

const CHILD_ROLE: &str = "DAO_SYSTEMD_TEST_CHILD";

fn container() -> Option<SystemdContainer> {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("systemd_switch");
    let c = SystemdContainer::start(
        &base,
        &[
            (
                "held.service",
                "[Unit]\nDescription=a service that stays up\n[Service]\nExecStart=/bin/sleep infinity\n",
            ),
            (
                "idle.service",
                "[Unit]\nDescription=a service nobody started\n[Service]\nExecStart=/bin/sleep infinity\n",
            ),
        ],
        &["held.service"],
    )?;
    eprintln!(
        "systemd container: PID 1 is {}, ready after {:?}",
        c.pid1(),
        c.ready_after
    );
    Some(c)
}

/// A toplevel whose `bin/switch-to-configuration` records its activation in the container's
/// share: a start line (time in ns, its arguments), its cgroup, then after `sleep` seconds an
/// end line, and exits with `exit`.
fn toplevel(c: &SystemdContainer, name: &str, sleep: &str, exit: i32) -> PathBuf {
    let dir = c.dir().join("toplevels").join(name);
    let rec = c.share().join("activations");
    write_script(
        &dir.join("bin/switch-to-configuration"),
        &format!(
            "rec={rec}\n\
             echo \"start {name} $(date +%s%N) $*\" >> $rec\n\
             echo \"cgroup {name} $(cat /proc/self/cgroup | tr '\\n' ' ')\" >> $rec\n\
             sleep {sleep}\n\
             echo \"end {name} $(date +%s%N)\" >> $rec\n\
             exit {exit}\n",
            rec = rec.display()
        ),
    );
    dir
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Event {
    kind: String,
    name: String,
    rest: String,
}

fn events(c: &SystemdContainer) -> Vec<Event> {
    let text = std::fs::read_to_string(c.share().join("activations")).unwrap_or_default();
    text.lines()
        .map(|l| {
            let mut parts = l.splitn(3, ' ');
            Event {
                kind: parts.next().unwrap_or_default().to_owned(),
                name: parts.next().unwrap_or_default().to_owned(),
                rest: parts.next().unwrap_or_default().to_owned(),
            }
        })
        .collect()
}

fn time_of(c: &SystemdContainer, kind: &str, name: &str) -> u128 {
    let e = events(c);
    let found: Vec<&Event> = e
        .iter()
        .filter(|e| e.kind == kind && e.name == name)
        .collect();
    assert_eq!(found.len(), 1, "one {kind} of {name} expected: {e:?}");
    found[0]
        .rest
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("{e:?}"))
}

fn wait_for_event(c: &SystemdContainer, kind: &str, name: &str, within: Duration) {
    let deadline = Instant::now() + within;
    while !events(c).iter().any(|e| e.kind == kind && e.name == name) {
        assert!(
            Instant::now() < deadline,
            "no {kind} of {name} within {within:?}: {:?}\n{}",
            events(c),
            c.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

async fn connect(c: &SystemdContainer) -> zbus::Connection {
    zbus::connection::Builder::address(c.bus_address().as_str())
        .unwrap()
        .build()
        .await
        .unwrap()
}

/// Whether systemd still has `unit` loaded.
fn loaded(c: &SystemdContainer, unit: &str) -> bool {
    block_on(async {
        let conn = connect(c).await;
        let reply = conn
            .call_method(
                Some("org.freedesktop.systemd1"),
                "/org/freedesktop/systemd1",
                Some("org.freedesktop.systemd1.Manager"),
                "GetUnit",
                &(unit,),
            )
            .await;
        match reply {
            Ok(_) => true,
            Err(zbus::Error::MethodError(name, _, _))
                if name.as_str() == "org.freedesktop.systemd1.NoSuchUnit" =>
            {
                false
            }
            Err(e) => panic!("GetUnit {unit}: {e}"),
        }
    })
}

fn assert_collected(c: &SystemdContainer, unit: &str) {
    let deadline = Instant::now() + Duration::from_secs(3);
    while loaded(c, unit) {
        assert!(
            Instant::now() < deadline,
            "{unit} is still loaded 3 s after the switch"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The unit's cgroup as the host sees it: gone once systemd is done with the unit.
fn unit_cgroup(c: &SystemdContainer, unit: &str) -> PathBuf {
    c.cgroup().join("system.slice").join(unit)
}

fn switcher(c: &SystemdContainer) -> SystemdSwitch {
    SystemdSwitch::with_address(c.bus_address()).with_stop_timeout(Duration::from_secs(5))
}

#[test]
fn a_switch_runs_once_in_a_transient_unit_that_is_collected_after() {
    let Some(c) = container() else { return };
    let top = toplevel(&c, "good", "0.2", 0);
    let start = Instant::now();
    let run = switcher(&c).run(&top, Duration::from_secs(30)).unwrap();
    eprintln!("switch took {:?}", start.elapsed());
    assert!(run.unit.starts_with(UNIT_PREFIX), "{run:?}");
    assert!(run.unit.ends_with(".service"), "{run:?}");
    assert!(run.waited_for.is_empty(), "{run:?}");

    let e = events(&c);
    let starts: Vec<&Event> = e.iter().filter(|e| e.kind == "start").collect();
    assert_eq!(starts.len(), 1, "exactly one activation: {e:?}");
    assert!(starts[0].rest.ends_with(" switch"), "{e:?}");
    assert_eq!(e.iter().filter(|e| e.kind == "end").count(), 1, "{e:?}");
    // It ran in its own unit's cgroup, not the caller's.
    let cgroup = &e.iter().find(|e| e.kind == "cgroup").unwrap().rest;
    assert!(
        cgroup.contains(&format!("/system.slice/{}", run.unit)),
        "{cgroup}"
    );
    assert_collected(&c, &run.unit);
    assert!(!unit_cgroup(&c, &run.unit).exists());

    // The pipeline's face of it: the Switcher trait.
    let again = toplevel(&c, "good-again", "0", 0);
    Switcher::switch(&switcher(&c), &again, Duration::from_secs(30)).unwrap();
    assert_eq!(events(&c).iter().filter(|e| e.kind == "start").count(), 2);
}

#[test]
fn a_failing_switch_names_its_unit_its_exit_status_and_its_log() {
    let Some(c) = container() else { return };
    let top = toplevel(&c, "bad", "0", 3);
    let err = switcher(&c).run(&top, Duration::from_secs(30)).unwrap_err();
    let SwitchError::Failed {
        ref unit,
        ref result,
        ref status,
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!(result, "exit-code");
    assert_eq!(status, "exit status 3");
    let text = err.to_string();
    assert!(text.contains(unit.as_str()), "{text}");
    assert!(text.contains(&format!("journalctl -u {unit}")), "{text}");
    assert_collected(&c, unit);

    // Through the Switcher trait, as the pipeline sees it.
    let e = Switcher::switch(&switcher(&c), &top, Duration::from_secs(30))
        .unwrap_err()
        .to_string();
    eprintln!("{e}");
    assert!(e.contains(UNIT_PREFIX), "{e}");
    assert!(e.contains("exit status 3"), "{e}");
    assert!(e.contains("exit-code"), "{e}");
    assert!(e.contains("journalctl -u dao-governance-switch-"), "{e}");
    assert!(e.contains("switch_configuration"), "{e}");
    assert_eq!(events(&c).iter().filter(|e| e.kind == "start").count(), 2);
}

#[test]
fn a_hanging_switch_is_stopped_at_its_timeout() {
    let Some(c) = container() else { return };
    let top = toplevel(&c, "hang", "600", 0);
    let start = Instant::now();
    let err = switcher(&c).run(&top, Duration::from_secs(1)).unwrap_err();
    let took = start.elapsed();
    eprintln!("{err} (after {took:?})");
    let SwitchError::TimedOut {
        ref unit,
        timeout,
        stopped,
    } = err
    else {
        panic!("{err:?}")
    };
    assert!(stopped, "{err}");
    assert_eq!(timeout, Duration::from_secs(1));
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(6),
        "{took:?}"
    );
    let text = err.to_string();
    assert!(text.contains(unit.as_str()), "{text}");
    assert!(text.contains("within 1 s"), "{text}");
    assert!(text.contains(&format!("journalctl -u {unit}")), "{text}");
    // Stopped: its processes are gone with its cgroup, and it never got to its end.
    assert_collected(&c, unit);
    assert!(!unit_cgroup(&c, unit).exists());
    wait_for_event(&c, "start", "hang", Duration::from_secs(1));
    assert!(
        !events(&c).iter().any(|e| e.kind == "end"),
        "{:?}",
        events(&c)
    );

    let e = Switcher::switch(&switcher(&c), &top, Duration::from_millis(500))
        .unwrap_err()
        .to_string();
    assert!(e.contains("did not finish within 0.5 s"), "{e}");
    assert!(e.contains("journalctl -u dao-governance-switch-"), "{e}");
}

/// Starts a switch unit as an agent from before a restart did, then lets go of it (that agent's
/// connection closes).
fn start_leftover(c: &SystemdContainer, top: &Path) -> String {
    let unit = unit_name(top, 1);
    block_on(async {
        let conn = connect(c).await;
        let program = top.join("bin/switch-to-configuration");
        let program = program.to_str().unwrap().to_owned();
        let props: Vec<(&str, Value<'_>)> = vec![
            ("Description", Value::from("a switch from before a restart")),
            ("Type", Value::from("oneshot")),
            (
                "ExecStart",
                Value::from(vec![(
                    program.clone(),
                    vec![program.clone(), "switch".to_owned()],
                    false,
                )]),
            ),
            ("CollectMode", Value::from("inactive-or-failed")),
            ("AddRef", Value::from(true)),
        ];
        let aux: Vec<(&str, Vec<(&str, Value<'_>)>)> = Vec::new();
        let reply = conn
            .call_method(
                Some("org.freedesktop.systemd1"),
                "/org/freedesktop/systemd1",
                Some("org.freedesktop.systemd1.Manager"),
                "StartTransientUnit",
                &(unit.as_str(), "fail", props, aux),
            )
            .await
            .unwrap();
        let _job: OwnedObjectPath = reply.body().deserialize().unwrap();
    });
    unit
}

#[test]
fn a_switch_unit_left_from_before_a_restart_is_waited_for() {
    let Some(c) = container() else { return };
    let old = toplevel(&c, "old", "1.5", 0);
    let new = toplevel(&c, "new", "0", 0);
    let leftover = start_leftover(&c, &old);
    wait_for_event(&c, "start", "old", Duration::from_secs(5));

    // A fresh switcher, as after the agent's restart.
    let run = switcher(&c).run(&new, Duration::from_secs(30)).unwrap();
    assert_eq!(run.waited_for, vec![leftover.clone()], "{run:?}");
    let old_end = time_of(&c, "end", "old");
    let new_start = time_of(&c, "start", "new");
    assert!(
        old_end <= new_start,
        "the switches overlapped: {:?}",
        events(&c)
    );
    assert_collected(&c, &leftover);
    assert_collected(&c, &run.unit);
}

#[test]
fn an_earlier_switch_still_running_past_the_timeout_is_not_overlapped() {
    let Some(c) = container() else { return };
    let old = toplevel(&c, "slow", "3", 0);
    let new = toplevel(&c, "next", "0", 0);
    let leftover = start_leftover(&c, &old);
    wait_for_event(&c, "start", "slow", Duration::from_secs(5));
    let err = switcher(&c)
        .run(&new, Duration::from_millis(500))
        .unwrap_err();
    let SwitchError::Busy { ref unit, .. } = err else {
        panic!("{err:?}")
    };
    assert_eq!(unit, &leftover);
    assert!(err.to_string().contains(&leftover), "{err}");
    assert!(
        !events(&c).iter().any(|e| e.name == "next"),
        "a second switch started: {:?}",
        events(&c)
    );
}

#[test]
fn units_active_names_the_first_unit_that_is_not_active() {
    let Some(c) = container() else { return };
    let addr = c.bus_address();
    let t = Duration::from_secs(5);
    let units = |u: &[&str]| u.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    check_units(
        Some(&addr),
        &units(&["dao-testkit.target", "dbus.service", "held.service"]),
        t,
    )
    .unwrap();
    let e = check_units(Some(&addr), &units(&["held.service", "idle.service"]), t).unwrap_err();
    assert!(e.contains("idle.service is inactive (dead)"), "{e}");
    let e = check_units(Some(&addr), &units(&["missing.service", "idle.service"]), t).unwrap_err();
    assert!(e.contains("missing.service does not exist"), "{e}");

    // The async form, on a connection of the caller's.
    block_on(async {
        let conn = connect(&c).await;
        units_active(&conn, &units(&["held.service"]))
            .await
            .unwrap();
        let e = units_active(&conn, &units(&["idle.service"]))
            .await
            .unwrap_err();
        assert!(e.contains("idle.service"), "{e}");
    });

    // As a health check of the pipeline, on the system bus of DBUS_SYSTEM_BUS_ADDRESS (in a
    // child process: the environment is process-wide).
    let out = child("check-units", &c, &[("UNITS", "held.service dbus.service")]);
    assert!(out.contains("CHILD-RESULT: Ok(())"), "{out}");
    let out = child("check-units", &c, &[("UNITS", "held.service idle.service")]);
    assert!(out.contains("CHILD-RESULT: Err("), "{out}");
    assert!(
        out.contains("units held.service, idle.service: unit idle.service is inactive"),
        "{out}"
    );
}

/// Runs this test binary's `child_role` test as a child process in `role`.
fn child_command(role: &str, c: &SystemdContainer, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "child_role", "--nocapture", "--test-threads=1"])
        .env(CHILD_ROLE, role)
        .env("DBUS_SYSTEM_BUS_ADDRESS", c.bus_address())
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

fn child(role: &str, c: &SystemdContainer, env: &[(&str, &str)]) -> String {
    let out = child_command(role, c, env).output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Not a test of its own: what a child process does (nothing in a normal run).
#[test]
fn child_role() {
    let Ok(role) = std::env::var(CHILD_ROLE) else {
        return;
    };
    match role.as_str() {
        "check-units" => {
            let units: Vec<String> = std::env::var("UNITS")
                .unwrap()
                .split(' ')
                .map(str::to_owned)
                .collect();
            // A deadline the busiest machine meets: with 300 ms, a loaded CI machine's first
            // bus connection outlived it and the check reported "did not answer" instead of
            // the unit's state. The failing case waits the whole deadline out.
            let r = confirm(
                &[Check::Units(units)],
                Duration::from_secs(5),
                Duration::from_millis(500),
            )
            .map_err(|e| e.to_string());
            println!("CHILD-RESULT: {r:?}");
        }
        "switch" => {
            // The system bus, as the agent finds it.
            let top = PathBuf::from(std::env::var("TOPLEVEL").unwrap());
            let r = SystemdSwitch::system().run(&top, Duration::from_secs(60));
            println!("CHILD-RESULT: {r:?}");
        }
        other => panic!("unknown role {other}"),
    }
}

#[test]
fn the_switch_survives_its_caller_being_killed() {
    let Some(c) = container() else { return };
    let top = toplevel(&c, "orphan", "1.5", 0);
    let mut caller = child_command("switch", &c, &[("TOPLEVEL", top.to_str().unwrap())])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Its second line, written once it runs.
    wait_for_event(&c, "cgroup", "orphan", Duration::from_secs(10));
    // kill -9 the caller (our child, by its PID) mid-switch.
    caller.kill().unwrap();
    caller.wait().unwrap();
    let cgroup = events(&c)
        .into_iter()
        .find(|e| e.kind == "cgroup")
        .unwrap()
        .rest;
    let unit = cgroup
        .split('/')
        .find(|p| p.starts_with(UNIT_PREFIX))
        .unwrap_or_else(|| panic!("not in a switch unit's cgroup: {cgroup}"))
        .trim()
        .to_owned();
    assert!(loaded(&c, &unit), "{unit} went with its caller");

    // The next switch (a restarted agent) waits for the orphan; the orphan completes.
    let next = toplevel(&c, "after", "0", 0);
    let run = switcher(&c).run(&next, Duration::from_secs(30)).unwrap();
    assert_eq!(run.waited_for, vec![unit.clone()]);
    assert!(time_of(&c, "end", "orphan") <= time_of(&c, "start", "after"));
    // Its caller's reference went with the caller: collected once finished.
    assert_collected(&c, &unit);
    assert!(!unit_cgroup(&c, &unit).exists());
}

#[test]
fn a_bus_restart_mid_switch_does_not_lose_the_switch() {
    let Some(c) = container() else { return };
    let top = toplevel(&c, "through-restart", "2", 0);
    let addr = c.bus_address();
    let switching = std::thread::spawn(move || {
        SystemdSwitch::with_address(addr).run(&top, Duration::from_secs(30))
    });
    wait_for_event(&c, "start", "through-restart", Duration::from_secs(10));
    // Stop the bus daemon under the switch (as a switch that restarts it would); dbus.socket
    // starts it again on the next connection.
    block_on(async {
        let conn = connect(&c).await;
        let _ = conn
            .call_method(
                Some("org.freedesktop.systemd1"),
                "/org/freedesktop/systemd1",
                Some("org.freedesktop.systemd1.Manager"),
                "StopUnit",
                &("dbus.service", "replace"),
            )
            .await;
    });
    let run = switching.join().unwrap();
    let run = run.unwrap_or_else(|e| panic!("{e}\n{}", c.log()));
    assert_eq!(
        events(&c).iter().filter(|e| e.kind == "end").count(),
        1,
        "{:?}",
        events(&c)
    );
    assert_collected(&c, &run.unit);
}
