//! Logs: to the journal with structured fields (PROPOSAL, COMMIT, STEP, …) when systemd runs the
//! agent (JOURNAL_STREAM is set), plain text on stderr otherwise. The level comes from
//! `DAO_AGENT_LOG` (tracing's filter syntax, default `info`). Secrets are never logged: keys
//! and tokens are read from files and never passed to a log macro.

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter =
        EnvFilter::try_from_env("DAO_AGENT_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let journald = std::env::var_os("JOURNAL_STREAM")
        .and_then(|_| tracing_journald::layer().ok())
        .map(|l| {
            l.with_field_prefix(None)
                .with_syslog_identifier("dao-agent".into())
        });
    match journald {
        Some(layer) => {
            let _ = tracing_subscriber::registry()
                .with(filter)
                .with(layer)
                .try_init();
        }
        None => {
            let _ = tracing_subscriber::registry()
                .with(filter)
                .with(
                    tracing_subscriber::fmt::layer()
                        .with_writer(std::io::stderr)
                        .with_ansi(false)
                        .with_target(false),
                )
                .try_init();
        }
    }
}
