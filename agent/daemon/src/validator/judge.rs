//! What a validator finds for one deploy proposal: it fetches and verifies the change exactly as
//! an executor does, runs the configured check in a work tree of the head, and evaluates and
//! builds each of its hosts' toplevels (never switching), down to each closure's hash.

use crate::executor::build::{build_toplevel_in, dry_build, Nix, Target};
use crate::executor::{closure, command, fetch_commits, verify_change, Approved};
use dao_chain::validation::Outcome;
use dao_core::config::{Host, Validator};
use git2::{build::CheckoutBuilder, Repository};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where and how a validator works.
pub struct Judge {
    pub checkout: PathBuf,
    pub allowed_remotes: Vec<String>,
    pub pinned_remote: String,
    pub shallow: bool,
    pub nix: Nix,
    /// The validator's own work trees (for the check command) and GC roots.
    pub dir: PathBuf,
    pub cfg: Validator,
}

/// One host's finding, as attested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub host: u64,
    pub outcome: Outcome,
    /// The closure hash when built, else zero.
    pub closure: [u8; 32],
    /// What happened, for the log (the failing command's message, the closure's hash).
    pub detail: String,
}

#[derive(Debug)]
pub enum Judged {
    /// The change verified; one finding per host asked about.
    Findings(Vec<Finding>),
    /// The fetched commits are not what was approved: nothing is built or attested.
    Unverified(String),
    /// Nothing decided (a remote down, the store unreadable): try again later.
    Later(String),
}

impl Judge {
    fn store(&self) -> Option<&Path> {
        self.cfg.store.as_deref()
    }

    pub fn judge(&self, approved: &Approved, hosts: &[Host]) -> Judged {
        let commits = [approved.base, approved.head];
        if let Err(e) = fetch_commits(
            &self.checkout,
            &self.allowed_remotes,
            Some(&self.pinned_remote),
            &commits,
            self.shallow,
            self.cfg.fetch_timeout.0,
        ) {
            return Judged::Later(e.to_string());
        }
        let repo = match Repository::open_bare(&self.checkout) {
            Ok(r) => r,
            Err(e) => return Judged::Later(format!("cannot open the checkout: {e}")),
        };
        if let Err(e) = verify_change(&repo, approved) {
            return Judged::Unverified(e.to_string());
        }
        let checks = match self.run_checks(&repo, approved) {
            Ok(c) => c,
            Err(e) => return Judged::Later(e),
        };
        let mut findings = Vec::new();
        for host in hosts {
            match self.build(approved, host) {
                Ok(mut f) => {
                    if let (Outcome::Built, Some(why)) = (f.outcome, &checks) {
                        f.outcome = Outcome::ChecksFailed;
                        f.closure = [0; 32];
                        f.detail = why.clone();
                    }
                    findings.push(f);
                }
                Err(later) => return Judged::Later(later),
            }
        }
        Judged::Findings(findings)
    }

    /// Runs the check command in a fresh work tree of the head: None when it passed (or none is
    /// configured), else why it failed. Err: the work tree could not be made (try again later).
    fn run_checks(&self, repo: &Repository, approved: &Approved) -> Result<Option<String>, String> {
        let Some(argv) = &self.cfg.check_command else {
            return Ok(None);
        };
        let Some((program, args)) = argv.split_first() else {
            return Ok(None);
        };
        let tree_dir = self
            .dir
            .join("work")
            .join(format!("proposal-{}", approved.proposal));
        let _ = std::fs::remove_dir_all(&tree_dir);
        std::fs::create_dir_all(&tree_dir)
            .map_err(|e| format!("cannot create {}: {e}", tree_dir.display()))?;
        let tree = repo
            .find_commit(approved.head)
            .and_then(|c| c.tree())
            .map_err(|e| format!("cannot read the tree of {}: {e}", approved.head))?;
        repo.checkout_tree(
            tree.as_object(),
            Some(CheckoutBuilder::new().force().target_dir(&tree_dir)),
        )
        .map_err(|e| {
            format!(
                "cannot check out {} into {}: {e}",
                approved.head,
                tree_dir.display()
            )
        })?;
        let mut c = Command::new(program);
        c.args(args)
            .current_dir(&tree_dir)
            .env("DAO_PROPOSAL", approved.proposal.to_string())
            .env("DAO_HEAD_COMMIT", approved.head.to_string());
        let result = command::run(c, self.cfg.check_timeout.0);
        let _ = std::fs::remove_dir_all(&tree_dir);
        Ok(result
            .err()
            .map(|e| format!("the check command failed: {e}")))
    }

    /// Evaluates and builds one host's toplevel; Err only when nothing can be said yet.
    fn build(&self, approved: &Approved, host: &Host) -> Result<Finding, String> {
        let target = Target {
            checkout: &self.checkout,
            proposal: approved.proposal,
            commit: approved.head,
            flake_output: &host.flake_output,
            shallow: self.shallow,
        };
        let finding = |outcome, closure, detail: String| Finding {
            host: host.id,
            outcome,
            closure,
            detail,
        };
        if let Err(e) = dry_build(&self.nix, &target, self.cfg.eval_timeout.0) {
            return Ok(finding(Outcome::EvalFailed, [0; 32], e.to_string()));
        }
        let roots = self.dir.join("gc-roots");
        std::fs::create_dir_all(&roots)
            .map_err(|e| format!("cannot create {}: {e}", roots.display()))?;
        let gc_root = roots.join(format!("proposal-{}-host-{}", approved.proposal, host.id));
        let built = match build_toplevel_in(
            &self.nix,
            &target,
            &gc_root,
            self.cfg.build_timeout.0,
            self.store(),
        ) {
            Ok(b) => b,
            Err(e) => return Ok(finding(Outcome::BuildFailed, [0; 32], e.to_string())),
        };
        let hash = closure::of_toplevel(&self.nix, &built.out_path, self.store(), CLOSURE_TIMEOUT)
            .map_err(|e| format!("reading the closure of {}: {e}", built.out_path.display()))?;
        Ok(finding(
            Outcome::Built,
            hash,
            format!(
                "built {} with closure sha256:{}",
                built.out_path.display(),
                hex::encode(hash)
            ),
        ))
    }
}

const CLOSURE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);
