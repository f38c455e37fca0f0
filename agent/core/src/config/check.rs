//! Field checks. Each records a problem under the key's path and returns what it could accept.

use super::Problem;
use crate::address::Address;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;
use toml::Value;

#[derive(Default)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    pub fn add(&mut self, path: &str, message: impl Into<String>) {
        self.0.push(Problem {
            path: path.to_owned(),
            message: message.into(),
        });
    }

    /// Whether a problem was already recorded at `path` (then "missing" would only repeat it).
    pub fn has(&self, path: &str) -> bool {
        self.0.iter().any(|p| p.path == path)
    }

    pub fn require<T>(&mut self, path: &str, value: Option<T>, why: &str) -> Option<T> {
        if value.is_none() && !self.has(path) {
            self.add(path, format!("missing: {why}"));
        }
        value
    }

    /// A list of strings; each element that is not a string is reported by its index.
    pub fn strings(&mut self, path: &str, values: &[Value]) -> Vec<String> {
        let mut out = Vec::new();
        for (i, v) in values.iter().enumerate() {
            match v.as_str() {
                Some(s) => out.push(s.to_owned()),
                None => self.add(
                    &format!("{path}[{i}]"),
                    format!("expected a string, got {}", v.type_str()),
                ),
            }
        }
        out
    }

    /// An absolute, normalized path ("..", "." and empty components refused).
    pub fn abs_path(&mut self, path: &str, value: &str) -> Option<PathBuf> {
        let p = Path::new(value);
        let ok = p.is_absolute()
            && !value.contains('\0')
            && !value.contains("//")
            && p.components()
                .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
        if ok {
            Some(p.to_path_buf())
        } else {
            self.add(
                path,
                format!("expected an absolute path without \"..\" or \".\", got {value:?}"),
            );
            None
        }
    }

    /// A path to a secret: absolute and outside the world-readable Nix store.
    pub fn secret_path(&mut self, path: &str, value: &str) -> Option<PathBuf> {
        let p = self.abs_path(path, value)?;
        if p.starts_with("/nix/store") {
            self.add(
                path,
                "is inside /nix/store, which every user can read: keep secrets outside the store \
                 (systemd credentials, or a file with mode 0600)",
            );
            return None;
        }
        Some(p)
    }

    pub fn url(&mut self, path: &str, value: &str, schemes: &[&str]) -> Option<url::Url> {
        let u = match url::Url::parse(value) {
            Ok(u) => u,
            Err(e) => {
                let hint = if value.contains('@') && value.contains(':') && !value.contains("://") {
                    " (write scp-style remotes as ssh://user@host/path)"
                } else {
                    ""
                };
                self.add(path, format!("{value:?} is not a URL: {e}{hint}"));
                return None;
            }
        };
        if !schemes.contains(&u.scheme()) {
            self.add(
                path,
                format!(
                    "scheme {:?} is not allowed here; use one of: {}",
                    u.scheme(),
                    schemes.join(", ")
                ),
            );
            return None;
        }
        if u.scheme() != "file" && u.host_str().is_none_or(str::is_empty) {
            self.add(path, format!("{value:?} has no host"));
            return None;
        }
        if u.password().is_some() {
            self.add(
                path,
                "contains a password, which would end up in logs and the Nix store: \
                 use a credential file instead",
            );
            return None;
        }
        Some(u)
    }

    pub fn timeout(&mut self, path: &str, d: Duration) -> Duration {
        if d.is_zero() || d > Duration::from_secs(7 * 86_400) {
            self.add(path, "must be more than 0s and at most 7d");
        }
        d
    }

    pub fn program_hash(&mut self, path: &str, value: &str) -> Option<Address> {
        match value.parse::<Address>() {
            Ok(a) => Some(a),
            Err(e) => {
                self.add(path, format!("not a program hash in address form: {e}"));
                None
            }
        }
    }
}

/// Host names appear in logs, unit names and flake attribute paths: short and unambiguous.
pub fn host_name_problem(id: &str) -> Option<String> {
    let ok_chars = id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    let starts_ok = id.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
    (!(ok_chars && starts_ok && id.len() <= 32)).then(|| {
        format!(
            "{id:?} is not a host name: 1 to 32 of A–Z a–z 0–9 . _ -, starting with a letter or digit"
        )
    })
}

pub fn unit_name_problem(unit: &str) -> Option<String> {
    const SUFFIXES: [&str; 10] = [
        ".service", ".socket", ".target", ".mount", ".timer", ".path", ".device", ".swap",
        ".scope", ".slice",
    ];
    let stem = SUFFIXES.iter().find_map(|s| unit.strip_suffix(s));
    let ok = stem.is_some_and(|s| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b":-_.\\@".contains(&b))
    }) && unit.len() <= 255;
    (!ok).then(|| format!("{unit:?} is not a systemd unit name like \"sshd.service\""))
}

pub fn group_name_problem(g: &str) -> Option<String> {
    let ok = g.len() <= 32
        && g.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && g.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    (!ok).then(|| format!("{g:?} is not a group name (lower case, digits, _ and -)"))
}

pub fn flake_output_problem(o: &str) -> Option<String> {
    let ok =
        !o.is_empty() && o.len() <= 256 && o.bytes().all(|b| b.is_ascii_graphic() && b != b'#');
    (!ok).then(|| {
        format!(
            "{o:?} is not a flake output attribute path like \
             \"nixosConfigurations.web-1.config.system.build.toplevel\""
        )
    })
}
