//! The agent's configuration (TOML, snake_case keys), documented in docs/configuration.md.
//!
//! [`parse`] reports every problem in a file at once, each under its key path
//! (`executor.health.timeout: expected a duration like "90s"`), so an operator fixes a file in
//! one round; the NixOS module runs it at build time through `dao-agentctl validate-config`.

mod check;
mod drift;
mod duration;
mod monitoring;
mod rate;
mod raw;
mod validator;

pub use drift::{DriftPolicy, DEFAULT_CURRENT_SYSTEM};
pub use duration::Span;
pub use monitoring::{Hooks, Metrics, DEFAULT_METRICS_PORT};
pub use rate::{RequestRate, MIN_REQUEST_RATE};
pub use validator::{Validator, VotePolicy};

use crate::address::Address;
use check::Problems;
use raw::Raw;
use serde::Serialize;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;
use toml::Value;

/// One thing wrong with a configuration, under the key path it concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Dotted key path (`executor.health.timeout`, `source.allowed_remotes[2]`); empty for a
    /// syntax error, whose message names the line.
    pub path: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Watcher,
    Executor,
    /// Builds every proposal for its hosts and attests on chain; never switches anything.
    Validator,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Network {
    Devnet,
    Localnet,
    Testnet,
    Betanet,
    Mainnet,
}

/// How `switch-to-configuration` runs: in a transient systemd unit (survives the agent's own
/// restart), or as a child of the agent where there is no systemd (the demo).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SwitchMode {
    Systemd,
    Direct,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Config {
    pub roles: Vec<Role>,
    pub state_dir: PathBuf,
    pub chain: Chain,
    pub host: Option<Host>,
    pub source: Option<Source>,
    pub executor: Executor,
    /// Present when the validator role is on.
    pub validator: Option<Validator>,
    pub keys: Keys,
    pub metrics: Metrics,
    pub hooks: Hooks,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Chain {
    pub algod_url: String,
    pub algod_token_file: Option<PathBuf>,
    pub app_id: u64,
    pub network: Network,
    /// Program hashes accepted besides the released ones built into the agent.
    pub allowed_program_hashes: Vec<String>,
    /// The highest fee, µAlgo, the agent pays for one transaction when the node asks more
    /// than the minimum under congestion (docs/operations.md, "Fees").
    pub max_fee: u64,
    /// At most this many requests per second to algod, from every role of the agent together
    /// (docs/operations.md, "Capacity"); None: no budget.
    pub max_requests_per_second: Option<RequestRate>,
}

/// `chain.max_fee` when unset: ten times the minimum fee.
pub const DEFAULT_MAX_FEE: u64 = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Host {
    /// The host's id in the app (`set_host`); proposals target hosts by it.
    pub id: u64,
    /// The host's name, for people: logs, status, the default flake output.
    pub name: String,
    pub flake_output: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    pub allowed_remotes: Vec<String>,
    pub checkout_dir: PathBuf,
    /// Fetch the approved commits without their history. Needs a Nix whose git fetcher accepts
    /// shallow repositories (`shallow=1`); Nix 2.8 does not.
    pub shallow: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Executor {
    pub system_profile: PathBuf,
    pub switch_mode: SwitchMode,
    pub operator_group: Option<String>,
    pub fetch_timeout: Span,
    pub dry_build_timeout: Span,
    pub build_timeout: Span,
    pub switch_timeout: Span,
    pub health: Health,
    pub drift: DriftPolicy,
    /// The link to the system the host runs (`/run/current-system`): what drift is read from.
    pub current_system: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    pub timeout: Span,
    pub required_units: Vec<String>,
    pub command: Option<Vec<String>>,
    pub check_chain: bool,
    pub check_remote: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Keys {
    pub account_key_file: Option<PathBuf>,
}

impl Config {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

pub const DEFAULT_STATE_DIR: &str = "/var/lib/dao-governance";
pub const DEFAULT_SYSTEM_PROFILE: &str = "/nix/var/nix/profiles/system";

/// Parses and checks a configuration file's text.
pub fn parse(text: &str) -> Result<Config, Vec<Problem>> {
    let mut problems = Problems::default();
    let table: toml::Table = match toml::from_str(text) {
        Ok(t) => t,
        Err(e) => {
            problems.add("", e.to_string().trim_end().to_owned());
            return Err(problems.0);
        }
    };
    let raw = typed_raw(table, &mut problems);
    let config = check(raw, &mut problems);
    match config {
        Some(c) if problems.0.is_empty() => Ok(c),
        _ => Err(problems.0),
    }
}

/// Deserializes the raw layer, recording each type error or unknown key and removing that key
/// before trying again, so that every such problem is reported, not just the first.
fn typed_raw(mut table: toml::Table, problems: &mut Problems) -> Raw {
    // Each round removes one key, so this ends; the bound is a guard, not a limit users meet.
    for _ in 0..10_000 {
        let value = Value::Table(table.clone());
        match serde_path_to_error::deserialize::<_, Raw>(value) {
            Ok(raw) => return raw,
            Err(e) => {
                let keys: Vec<String> = e
                    .path()
                    .iter()
                    .filter_map(|s| match s {
                        serde_path_to_error::Segment::Map { key } => Some(key.clone()),
                        _ => None,
                    })
                    .collect();
                let message = e.inner().to_string();
                // toml appends "in `path`" on a second line: the path is already ours.
                let message = message.lines().next().unwrap_or_default();
                let message = tidy_expected_struct(message);
                problems.add(&keys.join("."), message);
                if keys.is_empty() || !remove(&mut table, &keys) {
                    return Raw::default();
                }
            }
        }
    }
    Raw::default()
}

fn tidy_expected_struct(message: &str) -> String {
    match message.find("expected struct ") {
        Some(i) => format!("{}expected a table", &message[..i]),
        None => message.to_owned(),
    }
}

fn remove(table: &mut toml::Table, keys: &[String]) -> bool {
    match keys {
        [] => false,
        [last] => table.remove(last).is_some(),
        [first, rest @ ..] => match table.get_mut(first) {
            Some(Value::Table(t)) => remove(t, rest),
            _ => false,
        },
    }
}

fn check(raw: Raw, p: &mut Problems) -> Option<Config> {
    // Roles.
    let mut roles = Vec::new();
    let role_values = p.require(
        "roles",
        raw.roles,
        "list the roles of this host, e.g. roles = [\"watcher\", \"executor\"]",
    );
    for (i, r) in p
        .strings("roles", &role_values.unwrap_or_default())
        .iter()
        .enumerate()
    {
        let role = match r.as_str() {
            "watcher" => Role::Watcher,
            "executor" => Role::Executor,
            "validator" => Role::Validator,
            other => {
                p.add(
                    &format!("roles[{i}]"),
                    format!(
                        "unknown role {other:?}: expected \"watcher\", \"executor\" or \"validator\""
                    ),
                );
                continue;
            }
        };
        if roles.contains(&role) {
            p.add(&format!("roles[{i}]"), format!("{r:?} is listed twice"));
        } else {
            roles.push(role);
        }
    }
    if roles.is_empty() && !p.0.iter().any(|x| x.path.starts_with("roles")) {
        p.add(
            "roles",
            "must name at least one role: \"watcher\", \"executor\" or \"validator\"",
        );
    }
    let executor_role = roles.contains(&Role::Executor);
    let validator_role = roles.contains(&Role::Validator);
    // Both fetch the governed repository and sign transactions.
    let fetches = executor_role || validator_role;

    let state_dir = p.abs_path(
        "state_dir",
        raw.state_dir.as_deref().unwrap_or(DEFAULT_STATE_DIR),
    );

    // Chain.
    let chain_raw = p.require(
        "chain",
        raw.chain,
        "the [chain] section says which app to follow",
    );
    let chain = chain_raw.and_then(|c| {
        let url = p
            .require("chain.algod_url", c.algod_url, "the algod REST endpoint, e.g. \"http://127.0.0.1:4001\"")
            .and_then(|u| p.url("chain.algod_url", &u, &["http", "https"]).map(|_| u));
        let token = c
            .algod_token_file
            .and_then(|t| p.secret_path("chain.algod_token_file", &t));
        let app_id = p.require("chain.app_id", c.app_id, "the governance app's id");
        if app_id == Some(0) {
            p.add("chain.app_id", "must be an application id above 0");
        }
        let network = p
            .require("chain.network", c.network, "one of devnet, localnet, testnet, betanet, mainnet")
            .and_then(|n| match n.as_str() {
                "devnet" => Some(Network::Devnet),
                "localnet" => Some(Network::Localnet),
                "testnet" => Some(Network::Testnet),
                "betanet" => Some(Network::Betanet),
                "mainnet" => Some(Network::Mainnet),
                other => {
                    p.add(
                        "chain.network",
                        format!("unknown network {other:?}: expected devnet, localnet, testnet, betanet or mainnet"),
                    );
                    None
                }
            });
        let hashes_path = "chain.allowed_program_hashes";
        let hashes: Vec<String> = p
            .strings(hashes_path, &c.allowed_program_hashes.unwrap_or_default())
            .into_iter()
            .enumerate()
            .filter_map(|(i, h)| {
                p.program_hash(&format!("{hashes_path}[{i}]"), &h)
                    .map(|a: Address| a.to_string())
            })
            .collect();
        let max_fee = c.max_fee.unwrap_or(DEFAULT_MAX_FEE);
        if max_fee < 1_000 {
            p.add(
                "chain.max_fee",
                format!("{max_fee} µAlgo is below the protocol's minimum fee of 1000: no transaction could be sent"),
            );
        }
        let max_requests_per_second = rate::checked(c.max_requests_per_second, p);
        Some(Chain {
            algod_url: url?,
            algod_token_file: token,
            app_id: app_id.filter(|a| *a > 0)?,
            network: network?,
            allowed_program_hashes: hashes,
            max_fee,
            max_requests_per_second,
        })
    });

    // Host.
    let host = match raw.host {
        None => {
            if executor_role {
                p.add(
                    "host",
                    "missing: the executor needs [host] with its id and name",
                );
            }
            None
        }
        Some(h) => {
            let id = p.require(
                "host.id",
                h.id,
                "this host's id in the app (the number given to set_host)",
            );
            let name = p
                .require("host.name", h.name, "this host's name, e.g. \"web-1\"")
                .and_then(|n| match check::host_name_problem(&n) {
                    Some(m) => {
                        p.add("host.name", m);
                        None
                    }
                    None => Some(n),
                });
            let output = match (h.flake_output, &name) {
                (Some(o), _) => match check::flake_output_problem(&o) {
                    Some(m) => {
                        p.add("host.flake_output", m);
                        None
                    }
                    None => Some(o),
                },
                (None, Some(name)) => Some(format!(
                    "nixosConfigurations.\"{name}\".config.system.build.toplevel"
                )),
                (None, None) => None,
            };
            match (id, name, output) {
                (Some(id), Some(name), Some(flake_output)) => Some(Host {
                    id,
                    name,
                    flake_output,
                }),
                _ => None,
            }
        }
    };

    // Source.
    let source = match raw.source {
        None => {
            if fetches {
                p.add(
                    "source",
                    format!(
                        "missing: the {} needs [source] with its allowed remotes",
                        if executor_role {
                            "executor"
                        } else {
                            "validator"
                        }
                    ),
                );
            }
            None
        }
        Some(s) => {
            let list = s.allowed_remotes.unwrap_or_default();
            let remotes: Vec<String> = p
                .strings("source.allowed_remotes", &list)
                .into_iter()
                .enumerate()
                .filter_map(|(i, r)| {
                    p.url(
                        &format!("source.allowed_remotes[{i}]"),
                        &r,
                        &["https", "http", "ssh", "git", "file"],
                    )
                    .map(|_| r)
                })
                .collect();
            if list.is_empty() && fetches {
                p.add(
                    "source.allowed_remotes",
                    "must list at least one remote of the governed repository",
                );
            }
            let checkout = match (s.checkout_dir, &state_dir) {
                (Some(c), _) => p.abs_path("source.checkout_dir", &c),
                (None, Some(sd)) => Some(sd.join("checkout")),
                (None, None) => None,
            };
            checkout.map(|checkout_dir| Source {
                allowed_remotes: remotes,
                checkout_dir,
                shallow: s.shallow.unwrap_or(false),
            })
        }
    };

    // Executor.
    let e = raw.executor.unwrap_or_default();
    let system_profile = p.abs_path(
        "executor.system_profile",
        e.system_profile
            .as_deref()
            .unwrap_or(DEFAULT_SYSTEM_PROFILE),
    );
    let switch_mode = match e.switch_mode.as_deref() {
        None | Some("systemd") => Some(SwitchMode::Systemd),
        Some("direct") => Some(SwitchMode::Direct),
        Some(other) => {
            p.add(
                "executor.switch_mode",
                format!("unknown switch mode {other:?}: expected \"systemd\" or \"direct\""),
            );
            None
        }
    };
    if let Some(g) = &e.operator_group {
        if let Some(m) = check::group_name_problem(g) {
            p.add("executor.operator_group", m);
        }
    }
    let mut span = |key: &str, v: Option<Span>, default: Duration| {
        Span(p.timeout(&format!("executor.{key}"), v.map_or(default, |s| s.0)))
    };
    let fetch_timeout = span("fetch_timeout", e.fetch_timeout, Duration::from_secs(300));
    let dry_build_timeout = span(
        "dry_build_timeout",
        e.dry_build_timeout,
        Duration::from_secs(1800),
    );
    let build_timeout = span("build_timeout", e.build_timeout, Duration::from_secs(7200));
    let switch_timeout = span("switch_timeout", e.switch_timeout, Duration::from_secs(900));
    let (drift, current_system) = drift::check(e.drift.as_deref(), e.current_system.as_deref(), p);
    let h = e.health.unwrap_or_default();
    let health_timeout = Span(p.timeout(
        "executor.health.timeout",
        h.timeout.map_or(Duration::from_secs(90), |s| s.0),
    ));
    let units: Vec<String> = p
        .strings(
            "executor.health.required_units",
            &h.required_units.unwrap_or_default(),
        )
        .into_iter()
        .enumerate()
        .filter(|(i, u)| match check::unit_name_problem(u) {
            Some(m) => {
                p.add(&format!("executor.health.required_units[{i}]"), m);
                false
            }
            None => true,
        })
        .map(|(_, u)| u)
        .collect();
    let command = h.command.map(|argv| {
        let argv = p.strings("executor.health.command", &argv);
        match argv.first() {
            None => p.add(
                "executor.health.command",
                "must name a program: [\"/path/to/check\", \"arg\", …], or leave it out",
            ),
            Some(prog) if !prog.starts_with('/') => p.add(
                "executor.health.command[0]",
                format!("{prog:?} must be an absolute path: the check runs without a PATH search"),
            ),
            _ => {}
        }
        argv
    });

    // Keys.
    let key_file = raw
        .keys
        .and_then(|k| k.account_key_file)
        .and_then(|k| p.secret_path("keys.account_key_file", &k));
    // Optional even for the executor and the validator: without it the agent reads the systemd
    // credential `account-key` (agent/daemon/src/daemon/credentials.rs), which is how the
    // NixOS module hands the key over. Whether the key exists is known only where the agent
    // runs, so its start names the option and the credential when neither is there.

    // Validator.
    let validator = match raw.validator {
        Some(v) => validator::check(v, p),
        None => {
            if validator_role {
                p.add(
                    "validator",
                    "missing: the validator needs [validator] with the hosts it builds",
                );
            }
            None
        }
    };

    let metrics = monitoring::check_metrics(raw.metrics, p);
    let hooks = monitoring::check_hooks(raw.hooks, p);

    Some(Config {
        metrics,
        hooks,
        roles,
        state_dir: state_dir?,
        chain: chain?,
        host,
        source,
        executor: Executor {
            system_profile: system_profile?,
            switch_mode: switch_mode?,
            operator_group: e.operator_group,
            fetch_timeout,
            dry_build_timeout,
            build_timeout,
            switch_timeout,
            health: Health {
                timeout: health_timeout,
                required_units: units,
                command,
                check_chain: h.check_chain.unwrap_or(true),
                check_remote: h.check_remote.unwrap_or(true),
            },
            drift: drift?,
            current_system: current_system?,
        },
        validator,
        keys: Keys {
            account_key_file: key_file,
        },
    })
}
