//! The real edges: this host's clock, disk, git, Nix, system profile, switch and health checks.

use super::{Action, Switcher};
use super::{BuildTarget, Builder, Clock, Files, Health, InstanceLock, Source, System};
use crate::executor::activate::{ActivateError, Profile};
use crate::executor::build::{build_toplevel, dry_build, Nix, Target};
use crate::executor::closure;
use crate::executor::confirm::{confirm, Check};
use crate::executor::fetch::{fetch_commits, FetchError, Fetched};
use crate::executor::{verify_change, Approved};
use crate::journal::record::Generation;
use git2::Oid;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// Replaces `path` with `bytes` atomically and durably ([`dao_core::fsio::replace`]: a temporary
/// file beside it, mode 0600, fsync, rename, fsync of the directory). A crash leaves the old file
/// or the new one, never a mix. The error names the file the failing step was on.
pub fn replace_file(path: &Path, bytes: &[u8]) -> Result<(), (PathBuf, io::Error)> {
    dao_core::fsio::replace(path, bytes, 0o600).map_err(|e| (e.path, e.source))
}

/// The state directory on disk.
pub struct DiskFiles;

/// An flock(2) on the instance lock file, held while this value lives.
struct HeldLock(#[allow(dead_code)] nix::fcntl::Flock<File>);

impl InstanceLock for HeldLock {}

impl Files for DiskFiles {
    fn read(&self, path: &Path) -> io::Result<Option<Vec<u8>>> {
        match fs::read(path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn replace(&self, path: &Path, bytes: &[u8]) -> Result<(), (PathBuf, io::Error)> {
        replace_file(path, bytes)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        match fs::remove_file(path) {
            Ok(()) => match path.parent() {
                Some(dir) => File::open(dir).and_then(|d| d.sync_all()),
                None => Ok(()),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn create_dir(&self, dir: &Path) -> io::Result<()> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(dir)? {
            out.push(entry?.path());
        }
        out.sort();
        Ok(out)
    }

    fn lock_instance(&self, path: &Path) -> Result<Box<dyn InstanceLock>, String> {
        use nix::fcntl::{Flock, FlockArg};
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(|e| format!("cannot open the instance lock {}: {e}", path.display()))?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(mut held) => {
                // Who holds it, for the next instance's message; the lock is what counts.
                let me = format!("{}\n", std::process::id());
                let written = held
                    .set_len(0)
                    .and_then(|()| held.rewind())
                    .and_then(|()| held.write_all(me.as_bytes()));
                if let Err(e) = written {
                    return Err(format!("cannot write {}: {e}", path.display()));
                }
                Ok(Box::new(HeldLock(held)))
            }
            Err((mut f, nix::errno::Errno::EWOULDBLOCK)) => {
                let mut holder = String::new();
                let _ = f.read_to_string(&mut holder);
                let holder = holder.trim();
                Err(format!(
                    "another dao-agent (pid {}) already runs on this state directory (it holds \
                     {}); one agent per state directory: stop it first, or give this one its \
                     own state_dir",
                    if holder.is_empty() { "unknown" } else { holder },
                    path.display()
                ))
            }
            Err((_, e)) => Err(format!("cannot lock {}: {e}", path.display())),
        }
    }
}

/// The agent's bare checkout and the allow-listed remotes.
pub struct GitSource {
    pub checkout: PathBuf,
    pub allowed_remotes: Vec<String>,
    /// The repository URL pinned in the app: tried first, and must be allowed.
    pub pinned_remote: Option<String>,
    pub shallow: bool,
}

impl Source for GitSource {
    fn fetch(&self, commits: &[Oid], timeout: Duration) -> Result<Fetched, FetchError> {
        fetch_commits(
            &self.checkout,
            &self.allowed_remotes,
            self.pinned_remote.as_deref(),
            commits,
            self.shallow,
            timeout,
        )
    }

    fn verify(&self, plan: &[Approved]) -> Result<(), String> {
        let repo = git2::Repository::open_bare(&self.checkout).map_err(|e| e.to_string())?;
        for a in plan {
            verify_change(&repo, a).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// Nix builds of the host's flake output from the checkout.
pub struct NixBuilder {
    pub nix: Nix,
    pub checkout: PathBuf,
    pub flake_output: String,
    pub shallow: bool,
    /// Where each proposal's out-link (its GC root) lives.
    pub gc_roots: PathBuf,
}

impl NixBuilder {
    fn target(&self, t: BuildTarget) -> Target<'_> {
        Target {
            checkout: &self.checkout,
            proposal: t.proposal,
            commit: t.commit,
            flake_output: &self.flake_output,
            shallow: self.shallow,
        }
    }
}

impl Builder for NixBuilder {
    fn dry_build(&self, t: BuildTarget, timeout: Duration) -> Result<(), String> {
        dry_build(&self.nix, &self.target(t), timeout)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn build(&self, t: BuildTarget, timeout: Duration) -> Result<PathBuf, String> {
        fs::create_dir_all(&self.gc_roots)
            .map_err(|e| format!("cannot create {}: {e}", self.gc_roots.display()))?;
        let gc_root = self.gc_roots.join(format!("proposal-{}", t.proposal));
        build_toplevel(&self.nix, &self.target(t), &gc_root, timeout)
            .map(|b| b.out_path)
            .map_err(|e| e.to_string())
    }

    fn closure(&self, toplevel: &Path) -> Result<[u8; 32], String> {
        closure::of_toplevel(&self.nix, toplevel, None, CLOSURE_TIMEOUT).map_err(|e| e.to_string())
    }
}

/// Reading a closure's hashes from the store database takes seconds even for a large system.
const CLOSURE_TIMEOUT: Duration = Duration::from_secs(300);

/// The system profile (nix-env) and the switch, directly or in a transient systemd unit.
pub struct HostSystem {
    pub profile: Profile,
    pub switcher: Box<dyn Switcher + Send + Sync>,
    /// `/run/current-system` on a host (`executor.current_system`).
    pub current_system: PathBuf,
}

impl System for HostSystem {
    fn current(&self) -> Result<Option<Generation>, ActivateError> {
        self.profile.current()
    }

    fn generation(&self, number: u64) -> Result<Generation, ActivateError> {
        self.profile.generation(number)
    }

    fn set(&self, toplevel: &Path, timeout: Duration) -> Result<Generation, ActivateError> {
        self.profile.set(toplevel, timeout)
    }

    fn restore(&self, generation: &Generation, timeout: Duration) -> Result<(), ActivateError> {
        self.profile.restore(generation, timeout)
    }

    fn switch(&self, toplevel: &Path, timeout: Duration) -> Result<(), ActivateError> {
        self.switcher.switch(toplevel, timeout)
    }

    fn activate(
        &self,
        toplevel: &Path,
        action: Action,
        timeout: Duration,
    ) -> Result<(), ActivateError> {
        self.switcher.run_action(toplevel, action, timeout)
    }

    fn settle(&self, timeout: Duration) -> Result<Vec<String>, ActivateError> {
        self.switcher.settle(timeout)
    }

    fn running(&self) -> std::io::Result<Option<PathBuf>> {
        match std::fs::read_link(&self.current_system) {
            Ok(target) => Ok(Some(target)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// The configured health checks, run for real.
pub struct CheckHealth(pub Vec<Check>);

impl Health for CheckHealth {
    fn confirm(&self, timeout: Duration, interval: Duration) -> Result<(), String> {
        confirm(&self.0, timeout, interval).map_err(|e| e.to_string())
    }
}
