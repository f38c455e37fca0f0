//! The `[metrics]` and `[hooks]` sections: where the agent serves Prometheus metrics, and the
//! program it runs after each outcome (docs/configuration.md, docs/metrics.md, docs/hooks.md).

use super::check::Problems;
use super::duration::Span;
use super::Role;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::time::Duration;
use toml::Value;

/// The first port of the three a host's role units use (docs/metrics.md, "Ports").
pub const DEFAULT_METRICS_PORT: u16 = 9470;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    pub enable: Option<bool>,
    pub address: Option<String>,
    pub port: Option<u16>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHooks {
    pub on_outcome: Option<Vec<Value>>,
    pub timeout: Option<Span>,
}

/// `/metrics` in the Prometheus text format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Metrics {
    pub enable: bool,
    /// An IP address, 127.0.0.1 unless set: metrics say what a host runs and when it fails.
    pub address: IpAddr,
    /// The port of an agent running all its roles in one process; with `--role`, the role's
    /// offset is added ([`Metrics::port_for`]).
    pub port: u16,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            enable: false,
            address: IpAddr::from([127, 0, 0, 1]),
            port: DEFAULT_METRICS_PORT,
        }
    }
}

impl Metrics {
    /// The port a process serves on: `port` when it runs every role, `port` + 0, 1 or 2 when it
    /// runs only the watcher, the executor or the validator (one systemd unit per role, each
    /// with a port of its own).
    pub fn port_for(&self, only: Option<Role>) -> u16 {
        let offset = match only {
            None | Some(Role::Watcher) => 0,
            Some(Role::Executor) => 1,
            Some(Role::Validator) => 2,
        };
        self.port.saturating_add(offset)
    }
}

/// What runs after each outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hooks {
    /// Absolute program and its arguments; the facts come in `DAO_*` environment variables.
    pub on_outcome: Option<Vec<String>>,
    /// After this the hook is stopped; the deploy never waits longer.
    pub timeout: Span,
}

impl Default for Hooks {
    fn default() -> Self {
        Hooks {
            on_outcome: None,
            timeout: Span(Duration::from_secs(30)),
        }
    }
}

pub fn check_metrics(raw: Option<RawMetrics>, p: &mut Problems) -> Metrics {
    let Some(raw) = raw else {
        return Metrics::default();
    };
    let default = Metrics::default();
    let address = match raw.address {
        None => default.address,
        Some(a) => match a.parse::<IpAddr>() {
            Ok(ip) => ip,
            Err(_) => {
                p.add(
                    "metrics.address",
                    format!(
                        "{a:?} is not an IP address: use \"127.0.0.1\" (the default), \"::1\", or \
                         the address of an interface Prometheus reaches"
                    ),
                );
                default.address
            }
        },
    };
    let port = raw.port.unwrap_or(default.port);
    // The executor and validator units add 1 and 2 to the port.
    if port == 0 || port > u16::MAX - 2 {
        p.add(
            "metrics.port",
            format!("{port} cannot be used: choose a port from 1 to 65533 (the role units use port, port+1 and port+2)"),
        );
    }
    Metrics {
        enable: raw.enable.unwrap_or(false),
        address,
        port,
    }
}

pub fn check_hooks(raw: Option<RawHooks>, p: &mut Problems) -> Hooks {
    let Some(raw) = raw else {
        return Hooks::default();
    };
    let on_outcome = raw.on_outcome.map(|argv| {
        let argv = p.strings("hooks.on_outcome", &argv);
        match argv.first() {
            None => p.add(
                "hooks.on_outcome",
                "must name a program: [\"/path/to/hook\", \"arg\", …], or leave it out",
            ),
            Some(prog) if !prog.starts_with('/') => p.add(
                "hooks.on_outcome[0]",
                format!("{prog:?} must be an absolute path: the hook runs without a PATH search"),
            ),
            _ => {}
        }
        argv
    });
    let timeout = Span(p.timeout(
        "hooks.timeout",
        raw.timeout.map_or(Hooks::default().timeout.0, |s| s.0),
    ));
    Hooks {
        on_outcome,
        timeout,
    }
}
