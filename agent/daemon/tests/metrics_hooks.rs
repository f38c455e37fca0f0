//! `/metrics` and the `on_outcome` hook on one host, end to end: the real `dao-agent` (watcher and
//! executor) against the devnet, a git daemon, Nix and a private bus, then the real Prometheus
//! scraping it and answering every dashboard query and alert expression of docs/monitoring.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod prom;
mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};
use support::{Behaviour, Fixture, GOOD};

/// A hook that records its environment, fails for a refused proposal and hangs (past its
/// timeout) for a rolled back one.
fn write_hook(dir: &Path) -> String {
    let script = dir.join("hook.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nenv | sort > {d}/hook-$DAO_PROPOSAL.env\ncase \"$DAO_OUTCOME\" in\n  \
             refused) echo 'the hook fails on purpose' >&2; exit 3 ;;\n  \
             rolled_back) echo $$ > {d}/hang.pid; exec sleep 600 ;;\nesac\n",
            d = dir.display()
        ),
    )
    .unwrap();
    let mut perms = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&script, perms).unwrap();
    script.display().to_string()
}

fn env_file(dir: &Path, proposal: u64) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(dir.join(format!("hook-{proposal}.env"))).unwrap();
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The value of the sample `name` (with its labels as written) in a scrape.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

fn wait_for(f: &Fixture, what: &str, pred: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !pred() {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen:\n{}",
            f.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Label names a series may carry: closed sets only, never a proposal, commit or path.
const LABELS: [&str; 8] = [
    "role",
    "dependency",
    "state",
    "step",
    "outcome",
    "kind",
    "result",
    "version",
];

fn assert_bounded_labels(text: &str) {
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((_, rest)) = line.split_once('{') else {
            continue;
        };
        let labels = rest.split_once('}').unwrap().0;
        for pair in labels.split(',') {
            let (k, _) = pair.split_once('=').unwrap();
            assert!(
                LABELS.contains(&k) || k == "le",
                "unbounded label {k:?} in {line}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_hooks_follow_each_outcome_and_prometheus_answers_every_query() {
    let f = Fixture::new(0).await;
    let port = dao_testkit::free_port();
    let hooks = f.root.path().join("hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    let hook = write_hook(&hooks);
    f.write_config(&format!(
        "[metrics]\nenable = true\nport = {port}\n[hooks]\non_outcome = [\"{hook}\", \"--from-test\"]\ntimeout = \"2s\"\n"
    ));
    // Both followers: the watcher's and the executor's.
    let cfg = std::fs::read_to_string(f.config()).unwrap();
    std::fs::write(
        f.config(),
        cfg.replace(
            "roles = [\"executor\"]",
            "roles = [\"watcher\", \"executor\"]",
        ),
    )
    .unwrap();
    let agent = f.spawn_agent(&[]);
    wait_for(&f, "ready", || f.log().contains("INFO ready"));

    let (code, first) = prom::http_get(port, "/metrics");
    assert_eq!(code, 200, "{first}");
    assert_eq!(
        sample(
            &first,
            &format!(
                "dao_agent_build_info{{version=\"{}\"}}",
                env!("CARGO_PKG_VERSION")
            )
        ),
        Some(1.0),
        "{first}"
    );
    assert_eq!(sample(&first, "dao_agent_drift"), Some(0.0));
    assert_eq!(sample(&first, "dao_agent_paused"), Some(0.0));
    assert_eq!(
        sample(&first, "dao_agent_outcomes_total{outcome=\"applied\"}"),
        Some(0.0)
    );
    assert_eq!(prom::http_get(port, "/other").0, 404);

    // Applied: the hook records the facts.
    let v1 = f.commit("v1", GOOD);
    let p1 = f.approve(&f.genesis, &v1, None).await;
    let rec = f.wait_reported(p1);
    assert_eq!(rec["outcome"]["status"], "applied", "{rec}");
    wait_for(&f, "the hook of proposal 1", || {
        hooks.join(format!("hook-{p1}.env")).exists() && f.log().contains("on_outcome hook ran")
    });
    let env = env_file(&hooks, p1);
    assert_eq!(env["DAO_OUTCOME"], "applied");
    assert_eq!(env["DAO_PROPOSAL"], p1.to_string());
    assert_eq!(env["DAO_COMMIT"], v1);
    assert_eq!(env["DAO_BASE"], f.genesis);
    assert_eq!(env["DAO_HOST"], "web");
    assert_eq!(env["DAO_HOST_ID"], "1");
    assert_eq!(env["DAO_APP_ID"], f.app.app_id.to_string());
    assert_eq!(env["DAO_GENERATION"], "2");
    assert_eq!(env["DAO_PREVIOUS_GENERATION"], "1");
    assert_eq!(env["DAO_TOPLEVEL"], f.build(&v1));
    assert_eq!(env["DAO_RUNNING_TOPLEVEL"], f.build(&v1));
    // Built from nothing: no key, token or bus of the agent's.
    let names: Vec<&str> = env.keys().map(String::as_str).collect();
    assert!(
        names
            .iter()
            .all(|k| k.starts_with("DAO_") || ["PATH", "PWD", "SHLVL", "_"].contains(k)),
        "{names:?}"
    );

    // Refused, and the hook fails: the outcome and its report are unaffected.
    let v2 = f.commit("v2", GOOD);
    let p2 = f.approve(&v1, &v2, Some([0xEE; 32])).await;
    let rec = f.wait_reported(p2);
    assert_eq!(rec["outcome"]["status"], "refused", "{rec}");
    wait_for(&f, "the failing hook", || {
        f.log().contains("on_outcome hook failed")
    });
    assert!(f.log().contains("the hook fails on purpose"), "{}", f.log());

    // Rolled back, and the hook hangs: stopped at its timeout, the agent goes on meanwhile.
    dao_testkit::git(&f.work, &["reset", "-q", "--hard", &v1]);
    let v3 = f.commit(
        "v3",
        Behaviour {
            healthy: false,
            switch_secs: 0,
        },
    );
    let p3 = f.approve(&v1, &v3, None).await;
    let rec = f.wait_reported(p3);
    assert_eq!(rec["outcome"]["status"], "rolled_back", "{rec}");
    wait_for(&f, "the hanging hook's stop", || {
        f.log().contains("on_outcome hook stopped at its timeout")
    });
    let hung: u32 = std::fs::read_to_string(hooks.join("hang.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        !Path::new(&format!("/proc/{hung}")).exists(),
        "the hanging hook (pid {hung}) was not stopped"
    );
    assert_eq!(env_file(&hooks, p3)["DAO_OUTCOME"], "rolled_back");
    assert_eq!(env_file(&hooks, p3)["DAO_PREVIOUS_GENERATION"], "2");

    let (_, text) = prom::http_get(port, "/metrics");
    for (series, want) in [
        ("dao_agent_outcomes_total{outcome=\"applied\"}", 1.0),
        ("dao_agent_outcomes_total{outcome=\"refused\"}", 1.0),
        ("dao_agent_outcomes_total{outcome=\"rolled_back\"}", 1.0),
        ("dao_agent_outcomes_total{outcome=\"failed\"}", 0.0),
        ("dao_agent_rollbacks_total{kind=\"automatic\"}", 1.0),
        ("dao_agent_rollbacks_total{kind=\"operator\"}", 0.0),
        ("dao_agent_proposals{state=\"applied\"}", 1.0),
        ("dao_agent_proposals{state=\"refused\"}", 1.0),
        ("dao_agent_proposals{state=\"rolled_back\"}", 1.0),
        ("dao_agent_proposals{state=\"in_progress\"}", 0.0),
        ("dao_agent_hook_runs_total{result=\"ok\"}", 1.0),
        ("dao_agent_hook_runs_total{result=\"failed\"}", 1.0),
        ("dao_agent_hook_runs_total{result=\"timed_out\"}", 1.0),
        ("dao_agent_dependency_up{dependency=\"algod\"}", 1.0),
        ("dao_agent_dependency_up{dependency=\"git\"}", 1.0),
        ("dao_agent_dependency_up{dependency=\"journal\"}", 1.0),
        (
            "dao_agent_step_duration_seconds_count{step=\"switch_configuration\"}",
            2.0,
        ),
        (
            "dao_agent_step_duration_seconds_count{step=\"revert_configuration\"}",
            1.0,
        ),
    ] {
        assert_eq!(sample(&text, series), Some(want), "{series} in:\n{text}");
    }
    let applied_at = rec_time(&f, p1);
    assert_eq!(
        sample(&text, "dao_agent_last_successful_deploy_timestamp_seconds"),
        Some(applied_at),
        "{text}"
    );
    for role in ["watcher", "executor"] {
        let seen = sample(&text, &format!("dao_agent_chain_round{{role=\"{role}\"}}"));
        assert!(seen.is_some_and(|r| r > 0.0), "{role}: {text}");
        assert!(sample(
            &text,
            &format!("dao_agent_follower_lag_rounds{{role=\"{role}\"}}")
        )
        .is_some());
    }
    assert_bounded_labels(&text);
    let token = std::fs::read_to_string(&f.dn.token_file).unwrap();
    assert!(!text.contains(token.trim()), "the algod token leaked");
    assert!(!text.contains(&v1) && !text.contains(&f.remote), "{text}");

    if let Some((prometheus, promtool)) = prom::programs() {
        prom::check_metrics(&promtool, &text).unwrap();
        // The checker is not a rubber stamp: a counter without `_total` is refused.
        let broken = text.replace("dao_agent_outcomes_total", "dao_agent_outcomes");
        assert!(prom::check_metrics(&promtool, &broken).is_err());
        check_queries(&prometheus, port);
    }
    assert_eq!(agent.terminate().code(), Some(0));
}

/// The unix time (s) of the last step of proposal `p`'s record.
fn rec_time(f: &Fixture, p: u64) -> f64 {
    let rec = f.journal(p).unwrap();
    let ms = rec["steps"].as_array().unwrap().last().unwrap()["at_ms"]
        .as_u64()
        .unwrap();
    #[allow(clippy::cast_precision_loss)]
    let s = ms as f64 / 1000.0;
    s
}

/// Prometheus scrapes the agent; every dashboard query and every alert's series has data.
fn check_queries(prometheus: &Path, port: u16) {
    let p = prom::Prometheus::start(prometheus, &[format!("127.0.0.1:{port}")]);
    p.wait_scraped(1, 5);
    let mut empty = Vec::new();
    let queries = prom::dashboard_queries();
    assert!(queries.len() >= 10, "{queries:?}");
    for (title, q) in &queries {
        match p.query(q) {
            Ok(r) if !r.is_empty() => {}
            other => empty.push(format!("dashboard {title:?}: {q} -> {other:?}")),
        }
    }
    let alerts = prom::alert_expressions();
    assert!(alerts.len() >= 4, "{alerts:?}");
    for (name, expr, series) in &alerts {
        // The rule as written must be valid PromQL too.
        if let Err(e) = p.query(expr) {
            empty.push(format!("alert {name}: {expr}: {e}"));
        }
        match p.query(series) {
            Ok(r) if !r.is_empty() => {}
            other => empty.push(format!("alert {name}: {series} -> {other:?}")),
        }
    }
    assert!(
        empty.is_empty(),
        "queries without data:\n{}",
        empty.join("\n")
    );
    // A query of a series the agent does not export has no data: the check can fail.
    assert!(p.query("dao_agent_no_such_series").unwrap().is_empty());
}

#[test]
fn promtool_accepts_the_alert_rules() {
    let Some((_, promtool)) = prom::programs() else {
        return;
    };
    let rules = dao_testkit::repo_root().join("docs/monitoring/alerts.yml");
    let out = std::process::Command::new(&promtool)
        .args(["check", "rules"])
        .arg(&rules)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // And refuses a broken one.
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("alerts.yml");
    std::fs::write(
        &broken,
        std::fs::read_to_string(&rules)
            .unwrap()
            .replace("> 30", "> > 30"),
    )
    .unwrap();
    let out = std::process::Command::new(&promtool)
        .args(["check", "rules"])
        .arg(&broken)
        .output()
        .unwrap();
    assert!(!out.status.success());
}
