//! The `[validator]` section: which hosts a validator builds, what it runs, how it votes
//! (docs/configuration.md, "[validator]").

use super::check::{self, Problems};
use super::duration::Span;
use super::Host;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;
use toml::Value;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawValidator {
    pub hosts: Option<Vec<Value>>,
    pub policy: Option<String>,
    pub check_command: Option<Vec<Value>>,
    pub check_timeout: Option<Span>,
    pub fetch_timeout: Option<Span>,
    pub eval_timeout: Option<Span>,
    pub build_timeout: Option<Span>,
    pub store: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawValidatedHost {
    id: Option<u64>,
    name: Option<String>,
    flake_output: Option<String>,
}

/// Whether a validator only attests or also votes on what it built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VotePolicy {
    /// Attest, never vote (the default: a validator need not be a member).
    Attest,
    /// Also vote: for when every target built and the checks passed, against when one failed,
    /// abstain when the validator could not judge every target.
    Vote,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Validator {
    /// The hosts this validator builds, by their ids in the app.
    pub hosts: Vec<Host>,
    pub policy: VotePolicy,
    /// Run in a work tree of the approved head (absolute program, no PATH search); a non-zero
    /// exit attests `checks_failed`.
    pub check_command: Option<Vec<String>>,
    pub check_timeout: Span,
    pub fetch_timeout: Span,
    pub eval_timeout: Span,
    pub build_timeout: Span,
    /// Build in this Nix store (a chroot store) instead of the system's, so that a validator
    /// sharing a machine with a host still builds everything itself.
    pub store: Option<PathBuf>,
}

impl Validator {
    pub fn host(&self, id: u64) -> Option<&Host> {
        self.hosts.iter().find(|h| h.id == id)
    }
}

fn host(p: &mut Problems, path: &str, v: Value) -> Option<Host> {
    let h = match RawValidatedHost::deserialize(v) {
        Ok(h) => h,
        Err(e) => {
            p.add(
                path,
                format!("expected {{ id = 1, name = \"web-1\" }}: {e}"),
            );
            return None;
        }
    };
    let id = p.require(&format!("{path}.id"), h.id, "the host's id in the app");
    let name = p
        .require(
            &format!("{path}.name"),
            h.name,
            "the host's name, e.g. \"web-1\"",
        )
        .and_then(|n| match check::host_name_problem(&n) {
            Some(m) => {
                p.add(&format!("{path}.name"), m);
                None
            }
            None => Some(n),
        });
    let flake_output = match (h.flake_output, &name) {
        (Some(o), _) => match check::flake_output_problem(&o) {
            Some(m) => {
                p.add(&format!("{path}.flake_output"), m);
                None
            }
            None => Some(o),
        },
        (None, Some(n)) => Some(format!(
            "nixosConfigurations.\"{n}\".config.system.build.toplevel"
        )),
        (None, None) => None,
    };
    Some(Host {
        id: id?,
        name: name?,
        flake_output: flake_output?,
    })
}

pub fn check(raw: RawValidator, p: &mut Problems) -> Option<Validator> {
    let listed = raw.hosts.unwrap_or_default();
    if listed.is_empty() && !p.has("validator.hosts") {
        p.add(
            "validator.hosts",
            "must list the hosts this validator builds: hosts = [{ id = 1, name = \"web-1\" }]",
        );
    }
    let mut hosts: Vec<Host> = Vec::new();
    let mut complete = true;
    for (i, v) in listed.into_iter().enumerate() {
        let path = format!("validator.hosts[{i}]");
        let Some(h) = host(p, &path, v) else {
            complete = false;
            continue;
        };
        if hosts.iter().any(|o| o.id == h.id) {
            p.add(
                &format!("{path}.id"),
                format!("host id {} is listed twice", h.id),
            );
        } else if hosts.iter().any(|o| o.name == h.name) {
            p.add(
                &format!("{path}.name"),
                format!("{:?} is listed twice", h.name),
            );
        } else {
            hosts.push(h);
        }
    }
    let policy = match raw.policy.as_deref() {
        None | Some("attest") => Some(VotePolicy::Attest),
        Some("vote") => Some(VotePolicy::Vote),
        Some(other) => {
            p.add(
                "validator.policy",
                format!("unknown policy {other:?}: expected \"attest\" or \"vote\""),
            );
            None
        }
    };
    let check_command = raw.check_command.map(|argv| {
        let argv = p.strings("validator.check_command", &argv);
        match argv.first() {
            None => p.add(
                "validator.check_command",
                "must name a program: [\"/run/current-system/sw/bin/nix\", \"flake\", \"check\"], or leave it out",
            ),
            Some(prog) if !prog.starts_with('/') => p.add(
                "validator.check_command[0]",
                format!("{prog:?} must be an absolute path: the check runs without a PATH search"),
            ),
            _ => {}
        }
        argv
    });
    let mut span = |key: &str, v: Option<Span>, default: u64| {
        Span(p.timeout(
            &format!("validator.{key}"),
            v.map_or(Duration::from_secs(default), |s| s.0),
        ))
    };
    let check_timeout = span("check_timeout", raw.check_timeout, 1800);
    let fetch_timeout = span("fetch_timeout", raw.fetch_timeout, 300);
    let eval_timeout = span("eval_timeout", raw.eval_timeout, 1800);
    let build_timeout = span("build_timeout", raw.build_timeout, 7200);
    let store = raw.store.and_then(|s| p.abs_path("validator.store", &s));
    if !complete {
        return None;
    }
    Some(Validator {
        hosts,
        policy: policy?,
        check_command,
        check_timeout,
        fetch_timeout,
        eval_timeout,
        build_timeout,
        store,
    })
}
