//! `[metrics]` and `[hooks]`: defaults, the per-role ports, and each bad value named by its key.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use dao_core::config::{parse, Role, DEFAULT_METRICS_PORT};
use std::net::IpAddr;
use std::time::Duration;

const MINIMAL: &str = r#"
roles = ["watcher"]
[chain]
algod_url = "http://127.0.0.1:4001"
app_id = 7
network = "devnet"
"#;

fn problems(extra: &str) -> Vec<String> {
    parse(&format!("{MINIMAL}{extra}"))
        .map(|c| panic!("expected problems, parsed {c:?}"))
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn metrics_and_hooks_are_off_by_default_and_metrics_stay_on_loopback() {
    let c = parse(MINIMAL).unwrap();
    assert!(!c.metrics.enable);
    assert_eq!(c.metrics.address, IpAddr::from([127, 0, 0, 1]));
    assert_eq!(c.metrics.port, DEFAULT_METRICS_PORT);
    assert!(c.hooks.on_outcome.is_none());
    assert_eq!(c.hooks.timeout.0, Duration::from_secs(30));
    // An enabled section without an address still binds loopback only.
    let c = parse(&format!("{MINIMAL}[metrics]\nenable = true\n")).unwrap();
    assert!(c.metrics.enable);
    assert_eq!(c.metrics.address, IpAddr::from([127, 0, 0, 1]));
}

#[test]
fn each_role_unit_gets_its_own_port() {
    let c = parse(&format!("{MINIMAL}[metrics]\nenable = true\nport = 9500\n")).unwrap();
    let m = &c.metrics;
    assert_eq!(m.port_for(None), 9500);
    assert_eq!(m.port_for(Some(Role::Watcher)), 9500);
    assert_eq!(m.port_for(Some(Role::Executor)), 9501);
    assert_eq!(m.port_for(Some(Role::Validator)), 9502);
}

#[test]
fn hooks_take_an_absolute_program_and_a_timeout() {
    let c = parse(&format!(
        "{MINIMAL}[hooks]\non_outcome = [\"/run/hook\", \"--json\"]\ntimeout = \"5s\"\n"
    ))
    .unwrap();
    assert_eq!(
        c.hooks.on_outcome.as_deref(),
        Some(&["/run/hook".to_owned(), "--json".to_owned()][..])
    );
    assert_eq!(c.hooks.timeout.0, Duration::from_secs(5));
}

#[test]
fn bad_metrics_and_hooks_are_each_named_by_their_key() {
    let p = problems(
        "[metrics]\nenable = true\naddress = \"localhost\"\nport = 65535\n\
         [hooks]\non_outcome = [\"curl\", 3]\ntimeout = \"0s\"\n",
    );
    let expected = [
        "metrics.address: \"localhost\" is not an IP address",
        "metrics.port: 65535 cannot be used",
        "hooks.on_outcome[1]: expected a string",
        "hooks.on_outcome[0]: \"curl\" must be an absolute path",
        "hooks.timeout: must be more than 0s",
    ];
    for e in expected {
        assert!(p.iter().any(|x| x.starts_with(e)), "no {e:?} in {p:#?}");
    }
    assert_eq!(p.len(), expected.len(), "{p:#?}");
    assert!(problems("[hooks]\non_outcome = []\n")[0]
        .starts_with("hooks.on_outcome: must name a program"));
    assert!(problems("[metrics]\nport = 0\n")[0].starts_with("metrics.port: 0 cannot be used"));
    assert!(problems("[metrics]\nlisten = \"x\"\n")[0].contains("unknown field `listen`"));
}

#[test]
fn drift_reports_by_default_reads_run_current_system_and_names_a_bad_policy() {
    use dao_core::config::{DriftPolicy, DEFAULT_CURRENT_SYSTEM};
    let c = parse(MINIMAL).unwrap();
    assert_eq!(c.executor.drift, DriftPolicy::Report);
    assert_eq!(
        c.executor.current_system,
        std::path::PathBuf::from(DEFAULT_CURRENT_SYSTEM)
    );
    let c = parse(&format!(
        "{MINIMAL}[executor]\ndrift = \"reactivate\"\ncurrent_system = \"/srv/host/current-system\"\n"
    ))
    .unwrap();
    assert_eq!(c.executor.drift, DriftPolicy::Reactivate);
    assert_eq!(
        c.executor.current_system,
        std::path::PathBuf::from("/srv/host/current-system")
    );
    let p = problems("[executor]\ndrift = \"revert\"\ncurrent_system = \"run/current-system\"\n");
    assert!(
        p.iter()
            .any(|m| m.starts_with("executor.drift:") && m.contains("\"reactivate\"")),
        "{p:?}"
    );
    assert!(
        p.iter().any(|m| m.starts_with("executor.current_system:")),
        "{p:?}"
    );
}
