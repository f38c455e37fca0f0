//! One host of the executor pipeline tests on real components: a governed flake in a real git
//! repository, real Nix builds, a real nix-env profile, toplevels whose switch-to-configuration
//! records every activation and moves a `current-system` link as NixOS's does.
//!
//! The one test double is at the chain boundary: `FileReporter` keeps reports (and what the
//! validators attested) in files instead of the app.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use dao_testkit::{git, NIX_CONFIG};

use dao_agent::edges::host::{
    CheckHealth, DiskFiles, GitSource, HostSystem, NixBuilder, SystemClock,
};
use dao_agent::edges::Edges;
use dao_agent::executor::activate::Profile;
use dao_agent::executor::build::Nix;
use dao_agent::executor::confirm::Check;
use dao_agent::executor::pipeline::{
    Attestations, DirectSwitch, Executor, Gate, Lineage, OutcomeReport, PipelineError, ReportError,
    Reporter, Standing, Timeouts,
};
use dao_agent::executor::Approved;
use dao_agent::journal::{Journal, Record, Status};
use dao_chain::validation::Validation;
use dao_core::diff_hash::diff_hash_revisions;
use git2::Oid;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

/// Test double for the chain: reports as JSON lines in a file, shared across processes.
pub struct FileReporter(pub PathBuf);

impl FileReporter {
    pub fn all(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.0)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// The gate's side of the test double: proposals listed in `<reports>.expired` have expired.
impl Gate for FileReporter {
    fn standing(&self, proposal: u64) -> Result<Standing, ReportError> {
        let expired = std::fs::read_to_string(self.0.with_extension("expired")).unwrap_or_default();
        Ok(
            if expired.lines().any(|l| l.trim() == proposal.to_string()) {
                Standing::Expired(format!("proposal {proposal}'s window ended"))
            } else {
                Standing::Open
            },
        )
    }

    /// `<reports>.attest` holds `{"<proposal>": {"quorum", "validators", "attestations",
    /// "best", "agreed": hex or null}}`: what validators have said so far.
    fn attestations(&self, proposal: u64, _host: u64) -> Result<Attestations, ReportError> {
        let text = std::fs::read_to_string(self.0.with_extension("attest")).unwrap_or_default();
        let all: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let a = &all[proposal.to_string()];
        let n = |k: &str| a[k].as_u64().unwrap_or(0);
        let agreed = a["agreed"]
            .as_str()
            .map(|h| hex::decode(h).unwrap().try_into().unwrap());
        Ok(Attestations {
            quorum: n("quorum"),
            validators: n("validators"),
            validation: Validation {
                attestations: n("attestations"),
                best: n("best"),
                agreed,
                agreed_at: 0,
            },
        })
    }
}

impl Reporter for FileReporter {
    fn find(&self, proposal: u64, host: u64) -> Result<Option<Status>, ReportError> {
        Ok(self
            .all()
            .iter()
            .find(|r| r["proposal"] == proposal && r["host"] == host)
            .map(|r| serde_json::from_value(r["status"].clone()).unwrap()))
    }

    fn send(&self, r: &OutcomeReport) -> Result<(String, u64), ReportError> {
        use std::io::Write;
        let line = serde_json::json!({
            "proposal": r.proposal, "host": r.host, "status": r.status,
            "generation": r.generation, "toplevel_sha256": hex(&r.toplevel_sha256),
        });
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.0)
            .unwrap();
        writeln!(f, "{line}").unwrap();
        f.sync_all().unwrap();
        Ok((format!("TX{}", self.all().len()), 7))
    }
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A host in a temporary directory: the governed repository, its state, its profile.
pub struct Host {
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

/// How a version of the fleet's toplevel behaves.
#[derive(Clone, Copy)]
pub struct Behaviour {
    pub build_ok: bool,
    pub switch_ok: bool,
    pub healthy: bool,
}

pub const GOOD: Behaviour = Behaviour {
    build_ok: true,
    switch_ok: true,
    healthy: true,
};

impl Host {
    pub fn new() -> Host {
        let tmp = tempfile::tempdir().unwrap();
        let h = Host {
            dir: tmp.path().to_path_buf(),
            _tmp: Some(tmp),
        };
        std::fs::create_dir_all(h.dir.join("work")).unwrap();
        std::fs::create_dir_all(h.dir.join("profiles")).unwrap();
        git(&h.dir.join("work"), &["init", "-q", "-b", "main"]);
        h
    }

    /// Re-opens a host a crashed child left behind.
    pub fn at(dir: &Path) -> Host {
        Host {
            dir: dir.to_path_buf(),
            _tmp: None,
        }
    }

    pub fn log(&self) -> PathBuf {
        self.dir.join("switch.log")
    }

    pub fn switches(&self) -> Vec<String> {
        std::fs::read_to_string(self.log())
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Commits a fleet version whose toplevel `web` behaves as told; returns the commit.
    pub fn commit(&self, version: &str, b: Behaviour) -> Oid {
        let script = format!(
            "{fail}mkdir -p $out/bin; {healthy}printf '#!/bin/sh\\necho \"{version} $1\" >> {log}\\n{switch}ln -sfn '$out' {current}\\n' > $out/bin/switch-to-configuration; chmod +x $out/bin/switch-to-configuration",
            fail = if b.build_ok { "" } else { "echo 'this version does not build' >&2; exit 1; " },
            healthy = if b.healthy { "touch $out/healthy; " } else { "" },
            switch = if b.switch_ok { "" } else { "exit 1\\n" },
            log = self.log().display(),
            current = self.dir.join("current-system").display(),
        );
        let flake = format!(
            "{{\n  outputs = {{ self }}: {{\n    hosts.web = derivation {{ name = \"nixos-system-web-{version}\"; system = \"{}-linux\"; builder = \"/bin/sh\"; PATH = \"/usr/bin:/bin\"; args = [ \"-c\" {script:?} ]; }};\n  }};\n}}\n",
            std::env::consts::ARCH
        );
        let work = self.dir.join("work");
        std::fs::write(work.join("flake.nix"), flake).unwrap();
        git(&work, &["add", "flake.nix"]);
        git(&work, &["commit", "-q", "--allow-empty", "-m", version]);
        Oid::from_str(&git(&work, &["rev-parse", "HEAD"])).unwrap()
    }

    pub fn approve(&self, proposal: u64, base: Oid, head: Oid) -> Approved {
        let s = diff_hash_revisions(&self.dir.join("work"), &base.to_string(), &head.to_string())
            .unwrap();
        Approved {
            proposal,
            base,
            head,
            diff_hash: s.diff_hash,
        }
    }

    pub fn nix(&self) -> Nix {
        Nix {
            program: "nix".into(),
            env: vec![("NIX_CONFIG".into(), NIX_CONFIG.into())],
        }
    }

    pub fn profile(&self) -> Profile {
        Profile {
            path: self.dir.join("profiles/system"),
            nix_env: "nix-env".into(),
            env: vec![("NIX_CONFIG".into(), NIX_CONFIG.into())],
        }
    }

    /// Builds `commit` and makes it generation 1, as if the host had been installed with it.
    pub fn install(&self, commit: Oid) {
        let out = Command::new("nix")
            .args(["build", "--no-link", "--json"])
            .arg(format!(
                "git+file://{}?ref=main&rev={commit}#hosts.web",
                self.dir.join("work").display()
            ))
            .env("NIX_CONFIG", NIX_CONFIG)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let path = PathBuf::from(v[0]["outputs"]["out"].as_str().unwrap());
        self.profile().set(&path, Duration::from_secs(30)).unwrap();
    }

    pub fn reporter(&self) -> FileReporter {
        FileReporter(self.dir.join("chain-reports.jsonl"))
    }

    pub fn current_system(&self) -> Option<PathBuf> {
        std::fs::read_link(self.dir.join("current-system")).ok()
    }

    pub fn run(
        &self,
        approved: &Approved,
        lineage: &Lineage,
        remotes: Vec<String>,
    ) -> Result<Record, PipelineError> {
        let journal = Journal::open(&self.dir.join("state/journal")).unwrap();
        let reporter = self.reporter();
        let health_file = format!(
            "test -e {}/healthy",
            self.dir.join("current-system").display()
        );
        let edges = Edges {
            clock: Arc::new(SystemClock),
            files: Arc::new(DiskFiles),
            source: Arc::new(GitSource {
                checkout: self.dir.join("state/checkout"),
                allowed_remotes: remotes,
                pinned_remote: None,
                shallow: false,
            }),
            builder: Arc::new(NixBuilder {
                nix: self.nix(),
                checkout: self.dir.join("state/checkout"),
                flake_output: "hosts.web".into(),
                shallow: false,
                gc_roots: self.dir.join("state/gcroots"),
            }),
            system: Arc::new(HostSystem {
                profile: self.profile(),
                switcher: Box::new(DirectSwitch {
                    record: Some(self.dir.join("state/switch.json")),
                }),
                current_system: self.dir.join("current-system"),
            }),
            health: Arc::new(CheckHealth(vec![Check::Command(vec![
                "/bin/sh".into(),
                "-c".into(),
                health_file,
            ])])),
        };
        let exec = Executor {
            host: 1,
            timeouts: Timeouts {
                fetch: Duration::from_secs(20),
                dry_build: Duration::from_secs(60),
                build: Duration::from_secs(60),
                switch: Duration::from_secs(30),
                health: Duration::from_millis(600),
                health_interval: Duration::from_millis(100),
            },
            edges: &edges,
            journal: &journal,
            reporter: &reporter,
            gate: &reporter,
        };
        exec.run(approved, lineage)
    }

    pub fn remote(&self) -> Vec<String> {
        vec![format!("file://{}", self.dir.join("work").display())]
    }
}

pub fn lineage(running: Oid) -> Lineage {
    Lineage {
        running,
        last_applied: None,
        approved: vec![],
    }
}

pub fn status(rec: &Record) -> Status {
    rec.outcome.as_ref().unwrap().status
}
