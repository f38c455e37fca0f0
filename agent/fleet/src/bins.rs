//! Where the programs and the repository's own files are.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// The workspace's programs the harness runs.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub agent: PathBuf,
    pub agentctl: PathBuf,
}

impl Binaries {
    /// `dao-agent` and `dao-agentctl` next to the running program: `target/<profile>/`, also
    /// for tests and benchmarks, which run from `target/<profile>/deps/`. `DAO_FLEET_BIN_DIR`
    /// overrides the directory.
    pub fn locate() -> Result<Binaries> {
        let dir = match std::env::var_os("DAO_FLEET_BIN_DIR") {
            Some(d) => PathBuf::from(d),
            None => {
                let exe = std::env::current_exe().context("cannot find the running program")?;
                let mut dir = exe
                    .parent()
                    .context("the running program has no directory")?
                    .to_path_buf();
                if dir.file_name().is_some_and(|n| n == "deps") {
                    dir.pop();
                }
                dir
            }
        };
        let release = dir.file_name().is_some_and(|n| n == "release");
        let find = |name: &str| -> Result<PathBuf> {
            let p = dir.join(name);
            if !p.is_file() {
                bail!(
                    "{} is missing: build the workspace's programs first with `cargo build \
                     --workspace --bins{}` (or point DAO_FLEET_BIN_DIR at them)",
                    p.display(),
                    if release { " --release" } else { "" }
                );
            }
            Ok(p)
        };
        let bins = Binaries {
            agent: find("dao-agent")?,
            agentctl: find("dao-agentctl")?,
        };
        bins.warn_if_stale();
        Ok(bins)
    }

    /// Warns (does not fail) when a program is older than the sources it is built from: a test
    /// run alone (`cargo test -p dao-fleet`) does not rebuild other packages' programs.
    fn warn_if_stale(&self) {
        let Ok(repo) = repo_root() else {
            return;
        };
        let newest = [
            "agent/daemon/src",
            "agent/cli/src",
            "agent/chain/src",
            "agent/core/src",
        ]
        .iter()
        .filter_map(|d| newest_mtime(&repo.join(d)))
        .max();
        for bin in [&self.agent, &self.agentctl] {
            let built = std::fs::metadata(bin).and_then(|m| m.modified()).ok();
            if let (Some(built), Some(newest)) = (built, newest) {
                if newest > built {
                    eprintln!(
                        "dao-fleet: warning: {} is older than its sources; run `cargo build \
                         --workspace --bins` to test the current code",
                        bin.display()
                    );
                }
            }
        }
    }
}

fn newest_mtime(dir: &Path) -> Option<std::time::SystemTime> {
    let mut newest = None;
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        let t = if p.is_dir() {
            newest_mtime(&p)
        } else if p.extension().is_some_and(|x| x == "rs") {
            e.metadata().and_then(|m| m.modified()).ok()
        } else {
            None
        };
        newest = newest.max(t);
    }
    newest
}

/// The repository's root (devnet/run, the D-Bus policy, the venv): where this crate was built
/// from, or `DAO_FLEET_REPO`.
pub fn repo_root() -> Result<PathBuf> {
    let root = match std::env::var_os("DAO_FLEET_REPO") {
        Some(r) => PathBuf::from(r),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."),
    };
    let root = root
        .canonicalize()
        .with_context(|| format!("the repository {} is gone", root.display()))?;
    if !root.join("devnet/run").is_file() {
        bail!(
            "{} is not a checkout of nixos-dao-governance (no devnet/run); set DAO_FLEET_REPO",
            root.display()
        );
    }
    Ok(root)
}

/// The D-Bus policy shipped with the agent.
pub fn dbus_policy(repo: &Path) -> PathBuf {
    repo.join("agent/daemon/dbus/io.github.nixos_dao_governance.Agent1.conf")
}

pub use dao_testkit::NIX_CONFIG;
