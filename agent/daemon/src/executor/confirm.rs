//! ConfirmHealth: after a switch, every configured check must pass within the health timeout,
//! else the host goes back to the recorded generation. Checks are polled: a service that takes
//! a few seconds to come up is fine, one that never does is not.

use super::command;
use git2::{Direction, Remote};
use std::process::Command;
use std::time::{Duration, Instant};
use thiserror::Error;

/// One health check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// A program (absolute path, no shell) that must exit 0.
    Command(Vec<String>),
    /// The governed repository's remote must answer again: the host can still be governed.
    Remote(String),
    /// These systemd units must all be active (asked over the system bus).
    Units(Vec<String>),
    /// algod must answer again: the host can still follow the chain (and so be governed).
    Chain {
        url: String,
        token_file: Option<std::path::PathBuf>,
    },
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Check::Command(argv) => write!(f, "command `{}`", argv.join(" ")),
            Check::Remote(url) => write!(f, "remote {url}"),
            Check::Units(units) => write!(f, "units {}", units.join(", ")),
            Check::Chain { url, .. } => write!(f, "algod {url}"),
        }
    }
}

#[derive(Debug, Error)]
#[error("health checks still failing after {} s: {}", timeout.as_secs_f64(), failing.iter().map(|(c, why)| format!("{c}: {why}")).collect::<Vec<_>>().join("; "))]
pub struct HealthError {
    pub timeout: Duration,
    pub failing: Vec<(Check, String)>,
}

fn run_check(check: &Check, budget: Duration) -> Result<(), String> {
    match check {
        Check::Command(argv) => {
            let (program, args) = argv.split_first().ok_or("empty command")?;
            let mut c = Command::new(program);
            c.args(args);
            command::run(c, budget)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        Check::Remote(url) => {
            super::fetch::set_socket_timeouts(budget);
            let mut remote =
                Remote::create_detached(url.as_str()).map_err(|e| e.message().to_owned())?;
            remote
                .connect(Direction::Fetch)
                .map_err(|e| e.message().to_owned())?;
            let listed = remote
                .list()
                .map(|refs| refs.len())
                .map_err(|e| e.message().to_owned())?;
            let _ = remote.disconnect();
            if listed == 0 {
                return Err("it answered but advertises no refs".into());
            }
            Ok(())
        }
        Check::Units(units) => super::units::check_units(None, units, budget),
        Check::Chain { url, token_file } => {
            let node = dao_chain::Node::with_token_file(url, token_file.as_deref())
                .map_err(|e| e.to_string())?;
            super::systemd::bus::block_on(|| async {
                tokio::time::timeout(budget, node.last_round())
                    .await
                    .map_err(|_| format!("no answer within {} s", budget.as_secs_f64()))?
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
            .map_err(|e| e.to_string())?
        }
    }
}

/// The least time a poll started before the deadline is given to answer. The last poll often
/// starts with only milliseconds left; cut off that short, a check that answers a little slowly
/// (a first system-bus connection on a loaded machine) reports "did not answer" instead of what
/// is wrong, which is the reason the operator needs. A failing confirmation may so end up to this
/// much after its timeout.
const LEAST_ANSWER_TIME: Duration = Duration::from_secs(1);

/// Polls `checks` every `interval` until all pass (Ok) or `timeout` has passed (the last reason
/// of each check that still fails).
pub fn confirm(checks: &[Check], timeout: Duration, interval: Duration) -> Result<(), HealthError> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let failing: Vec<(Check, String)> = checks
            .iter()
            .filter_map(|c| {
                run_check(c, left.max(LEAST_ANSWER_TIME))
                    .err()
                    .map(|why| (c.clone(), why))
            })
            .collect();
        if failing.is_empty() {
            return Ok(());
        }
        if Instant::now() + interval >= deadline {
            return Err(HealthError { timeout, failing });
        }
        std::thread::sleep(interval);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(script: &str) -> Check {
        Check::Command(vec!["/bin/sh".into(), "-c".into(), script.into()])
    }

    #[test]
    fn passing_checks_confirm_at_once() {
        let start = Instant::now();
        confirm(
            &[cmd("true")],
            Duration::from_secs(5),
            Duration::from_millis(50),
        )
        .unwrap();
        assert!(start.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn a_check_that_comes_up_within_the_timeout_passes() {
        let d = tempfile::tempdir().unwrap();
        let count = d.path().join("count");
        // Fails twice, passes on the third poll.
        let script = format!(
            "n=$(cat {0} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {0}; test $n -ge 3",
            count.display()
        );
        confirm(
            &[cmd(&script)],
            Duration::from_secs(5),
            Duration::from_millis(50),
        )
        .unwrap();
        assert_eq!(std::fs::read_to_string(&count).unwrap().trim(), "3");
    }

    #[test]
    fn a_check_that_never_passes_fails_with_its_reason() {
        let e = confirm(
            &[cmd("true"), cmd("echo nginx is down >&2; exit 1")],
            Duration::from_millis(400),
            Duration::from_millis(100),
        )
        .unwrap_err();
        assert_eq!(e.failing.len(), 1);
        let text = e.to_string();
        assert!(text.contains("nginx is down"), "{text}");
    }

    #[test]
    fn a_poll_started_before_the_deadline_has_time_to_say_what_is_wrong() {
        // The check answers after 300 ms, later than the whole timeout: it still gets to.
        let e = confirm(
            // printf, so that the reason is not in the command line the error also quotes.
            &[cmd(
                "sleep 0.3; printf 'the unit is %s' inactive >&2; exit 1",
            )],
            Duration::from_millis(200),
            Duration::from_millis(100),
        )
        .unwrap_err();
        let text = e.to_string();
        assert!(text.contains("the unit is inactive"), "{text}");
    }

    #[test]
    fn an_unreachable_remote_fails_its_check() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("git://127.0.0.1:{port}/fleet.git");
        let e = confirm(
            &[Check::Remote(url.clone())],
            Duration::from_millis(300),
            Duration::from_millis(100),
        )
        .unwrap_err();
        assert!(e.to_string().contains(&url), "{e}");
    }
}
