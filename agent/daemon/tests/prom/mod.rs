//! The real Prometheus for the metrics tests (Debian package `prometheus`: `prometheus` and
//! `promtool`): a server on 127.0.0.1 with a fresh TSDB in a temporary directory, scraping the
//! agent every second, killed by its PID when dropped; `/api/v1/query`; the dashboard's queries
//! and the alert rules' expressions from docs/monitoring. Test code: it panics on failure.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Prometheus programs, when installed. Missing: a loud skip, or a failure under CI=true.
pub fn programs() -> Option<(PathBuf, PathBuf)> {
    let find = |name: &str| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        })
    };
    match (find("prometheus"), find("promtool")) {
        (Some(p), Some(t)) => Some((p, t)),
        _ => {
            let msg = "prometheus/promtool are not installed (apt-get install prometheus; \
                       scripts/test installs them): the Prometheus checks cannot run";
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
            eprintln!("\n!!!!!!!! SKIPPED: {msg} !!!!!!!!\n");
            None
        }
    }
}

/// `GET path` on 127.0.0.1:port over HTTP/1.1; the status code and the body.
pub fn http_get(port: u16, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let code = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (code, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n").unwrap();
        let n = usize::from_str_radix(size.trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.push_str(&rest[..n]);
        body = &rest[n + 2..];
    }
}

fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub use dao_testkit::promtool_check_metrics as check_metrics;

pub struct Prometheus {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        // Only the server this test started, by its PID.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// Starts Prometheus on 127.0.0.1, scraping `targets` (host:port) as job "dao-agent" every
    /// second, and waits until it answers.
    pub fn start(program: &Path, targets: &[String]) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let port = dao_testkit::free_port();
        let list: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  \
                 - job_name: dao-agent\n    static_configs:\n      - targets: [{}]\n",
                list.join(", ")
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let child = Command::new(program)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let p = Prometheus {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "prometheus did not listen:\n{}",
                p.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        p
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// The result vector of an instant query (the query is an error if Prometheus refused it).
    pub fn query(&self, q: &str) -> Result<Vec<serde_json::Value>, String> {
        let (code, body) = http_get(self.port, &format!("/api/v1/query?query={}", encode(q)));
        let v: serde_json::Value =
            serde_json::from_str(&body).map_err(|e| format!("{code}: {e}: {body}"))?;
        if v["status"] != "success" {
            return Err(format!("{q}: {body}"));
        }
        Ok(v["data"]["result"].as_array().cloned().unwrap_or_default())
    }

    /// Waits until Prometheus holds at least `n` successful scrapes of every target.
    pub fn wait_scraped(&self, targets: usize, n: u32) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let ok = self
                .query("count_over_time((up{job=\"dao-agent\"} == 1)[5m:1s])")
                .unwrap_or_default();
            let enough = ok.len() == targets
                && ok.iter().all(|r| {
                    r["value"][1]
                        .as_str()
                        .and_then(|s| s.parse::<f64>().ok())
                        .is_some_and(|c| c >= f64::from(n))
                });
            if enough {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "prometheus did not scrape the agent {n} times: {ok:?}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

fn repo_file(rel: &str) -> String {
    std::fs::read_to_string(dao_testkit::repo_root().join(rel)).unwrap()
}

/// Every query of docs/monitoring/dashboard.json, Grafana's variables given values that select
/// every agent: (panel title, query).
pub fn dashboard_queries() -> Vec<(String, String)> {
    let d: serde_json::Value =
        serde_json::from_str(&repo_file("docs/monitoring/dashboard.json")).unwrap();
    let mut out = Vec::new();
    for p in d["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().unwrap() {
            let q = t["expr"]
                .as_str()
                .unwrap()
                .replace("$__rate_interval", "30s")
                .replace("$job", ".+")
                .replace("$instance", ".+");
            out.push((p["title"].as_str().unwrap().to_owned(), q));
        }
    }
    out
}

/// Every alert of docs/monitoring/alerts.yml: (name, expression, the expression without its
/// threshold: the same series, whatever their value).
pub fn alert_expressions() -> Vec<(String, String, String)> {
    let text = repo_file("docs/monitoring/alerts.yml");
    let mut names = Vec::new();
    let mut exprs = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(n) = line.strip_prefix("- alert: ") {
            names.push(n.to_owned());
        } else if let Some(e) = line.strip_prefix("expr: ") {
            exprs.push(e.to_owned());
        }
    }
    assert_eq!(
        names.len(),
        exprs.len(),
        "every alert's expr must stay on one line"
    );
    names
        .into_iter()
        .zip(exprs)
        .map(|(n, e)| {
            let series = without_threshold(&e);
            (n, e, series)
        })
        .collect()
}

/// `X > 30` → `X`: the left side of the last comparison outside brackets and quotes.
pub fn without_threshold(expr: &str) -> String {
    let (mut depth, mut quoted, mut cut) = (0i32, false, None);
    let b = expr.as_bytes();
    for (i, c) in b.iter().enumerate() {
        match c {
            b'"' => quoted = !quoted,
            b'(' | b'{' | b'[' if !quoted => depth += 1,
            b')' | b'}' | b']' if !quoted => depth -= 1,
            // The first character of the last operator (`==`, `>=` are one operator).
            b'>' | b'<' | b'=' | b'!'
                if !quoted && depth == 0 && cut.is_none_or(|c: usize| c + 1 < i) =>
            {
                cut = Some(i);
            }
            _ => {}
        }
    }
    match cut {
        Some(i) => expr[..i].trim().to_owned(),
        None => expr.to_owned(),
    }
}

#[test]
fn thresholds_are_cut_at_the_comparison_outside_brackets() {
    assert_eq!(without_threshold("a > 30"), "a");
    assert_eq!(without_threshold("up{job=\"x\"} == 0"), "up{job=\"x\"}");
    assert_eq!(
        without_threshold("min_over_time(p{state=~\"a|b\"}[2h]) > 0"),
        "min_over_time(p{state=~\"a|b\"}[2h])"
    );
    assert_eq!(without_threshold("x"), "x");
}
