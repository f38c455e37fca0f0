//! What the CLI's devnet tests share: running dao-agentctl against a formed DAO, and forming it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use dao_testkit::{git, Devnet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Rules with no voting delay and a 10 s timelock, so tests move through a vote quickly.
pub const RULES: &str =
    "voting_delay = 0\nvoting_period = 100\nsupport_ppm = 500000\nquorum_ppm = 200000\n\
emergency_period = 50\nemergency_support_ppm = 666667\ntimelock = 10\ngrace_period = 1000\n\
min_proposer_weight = 1\nvote_cap_ppm = 0\nproposal_bond = 0\nheartbeat_interval = 86400\n";

/// dao-agentctl pointed at one DAO (its repo-spec file) on a devnet.
pub struct Ctl<'a> {
    pub dn: &'a Devnet,
    pub spec: PathBuf,
}

impl Ctl<'_> {
    /// Runs dao-agentctl with the spec file and the devnet's token; `key` is dev account n.
    pub fn run(&self, args: &[&str], key: Option<u32>) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_dao-agentctl"));
        c.args(args)
            .arg("--spec")
            .arg(&self.spec)
            .arg("--algod-token-file")
            .arg(&self.dn.token_file);
        if let Some(n) = key {
            c.arg("--key").arg(self.dn.key_file(n));
        }
        c.output().unwrap()
    }

    /// Runs with `--json`, must succeed; the parsed output.
    pub fn ok(&self, args: &[&str], key: Option<u32>) -> serde_json::Value {
        let mut all = args.to_vec();
        all.push("--json");
        let out = self.run(&all, key);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Must fail with status 1; its standard error.
    pub fn fails(&self, args: &[&str], key: Option<u32>) -> String {
        let out = self.run(args, key);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?} should fail: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// The DAO's app through the chain library, for what the CLI will not send (a forged
    /// proposal, a host's report).
    pub fn app(&self) -> dao_chain::App {
        let spec = std::fs::read_to_string(&self.spec).unwrap();
        let id: u64 = spec
            .lines()
            .find_map(|l| l.strip_prefix("app_id = "))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let node =
            dao_chain::Node::with_token_file(&self.dn.url, Some(self.dn.token_file.as_path()))
                .unwrap();
        dao_chain::App::new(node, id)
    }

    /// Votes for with dev1 and dev2 (80 of 100), finalizes, waits out the timelock (tests keep
    /// it at most 30 s), executes.
    pub fn pass_and_execute(&self, id: u64) -> serde_json::Value {
        let id = id.to_string();
        self.ok(&["vote", &id, "for"], Some(1));
        self.ok(&["vote", &id, "for"], Some(2));
        self.ok(&["finalize", &id], Some(3));
        self.dn.advance(31);
        self.ok(&["execute", &id], Some(3))
    }
}

/// A one-commit repository in `dir/fleet`.
pub fn fleet(dir: &Path) -> PathBuf {
    let work = dir.join("fleet");
    std::fs::create_dir(&work).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::write(work.join("web.nix"), "{ services.nginx.enable = false; }\n").unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "genesis"]);
    work
}

/// Forms a DAO of dev1 50, dev2 30, dev3 20 with host 1's agent dev4, genesis at `work`'s
/// HEAD, plus `extra` flags; the spec file is `dir/dao-spec.toml`.
pub fn form(dn: &Devnet, dir: &Path, work: &Path, extra: &[&str]) -> PathBuf {
    form_at(dn, dir, work, "https://git.example.org/fleet.git", extra)
}

/// [`form`] with the governed repository pinned at `repository`.
pub fn form_at(dn: &Devnet, dir: &Path, work: &Path, repository: &str, extra: &[&str]) -> PathBuf {
    let rules = dir.join("rules.toml");
    std::fs::write(&rules, RULES).unwrap();
    let spec = dir.join("dao-spec.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_dao-agentctl"))
        .args(["form", "--repository", repository])
        .args(["--genesis", "HEAD", "--repo"])
        .arg(work)
        .args(["--member", &format!("{}=50", dn.address(1))])
        .args(["--member", &format!("{}=30", dn.address(2))])
        .args(["--member", &format!("{}=20", dn.address(3))])
        .args(["--host", &format!("1={}", dn.address(4))])
        .arg("--rules")
        .arg(&rules)
        .args(["--network", "devnet", "--algod", &dn.url])
        .arg("--algod-token-file")
        .arg(&dn.token_file)
        .arg("--key")
        .arg(dn.key_file(1))
        .arg("--out")
        .arg(&spec)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    spec
}

/// A runtime for the chain library's calls in a test.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}
