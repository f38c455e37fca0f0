//! One governed host on real components, for the daemon's tests and benchmark: a fleet flake in a
//! git repository served by `git daemon` on 127.0.0.1, the devnet (go-algorand's evaluator)
//! with a formed and sealed DAO, a Nix system profile with generation 1 installed, a private
//! system-type dbus-daemon, and the `dao-agent` binary run against them in direct switch mode.
//! Test code: it panics on failure, by design.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use dao_chain::decode::{Report, Targets, VoteChoice};
use dao_chain::txn::DeployProposal;
use dao_chain::{App, Node, Signer};
use dao_core::rules::Rules;
use dao_testkit::bus::Bus;
use dao_testkit::{git, Devnet, GitDaemon, NIX_CONFIG};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

pub const HOST: u64 = 1;

pub fn rules() -> Rules {
    Rules {
        voting_delay: 0,
        voting_period: 3600,
        support_ppm: 500_000,
        quorum_ppm: 200_000,
        emergency_period: 600,
        emergency_support_ppm: 666_667,
        // The floor: the app refuses a shorter timelock; `approve` moves the clock past it.
        timelock: dao_core::rules::TIMELOCK_FLOOR,
        grace_period: 3600,
        min_proposer_weight: 1,
        vote_cap_ppm: 0,
        proposal_bond: 0,
        heartbeat_interval: dao_core::rules::HEARTBEAT_DEFAULT,
    }
}

/// How a version of the host's toplevel behaves when switched to.
#[derive(Debug, Clone, Copy)]
pub struct Behaviour {
    pub healthy: bool,
    /// Seconds switch-to-configuration takes.
    pub switch_secs: u32,
}

pub const GOOD: Behaviour = Behaviour {
    healthy: true,
    switch_secs: 0,
};

/// A running `dao-agent`; SIGTERM by PID on drop.
pub struct Agent(pub Child);

impl Agent {
    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Waits for the agent to exit by itself.
    pub fn wait(mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(s) = self.0.try_wait().unwrap() {
                std::mem::forget(self);
                return s;
            }
            assert!(Instant::now() < deadline, "dao-agent did not exit");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn terminate(self) -> ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        self.wait(Duration::from_secs(120))
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}

pub struct Fixture {
    pub root: tempfile::TempDir,
    pub work: PathBuf,
    pub srv: PathBuf,
    pub remote: String,
    pub git_daemon: GitDaemon,
    pub dn: Devnet,
    pub app: App,
    pub members: Vec<Signer>,
    pub host: PathBuf,
    pub bus: Bus,
    pub genesis: String,
}

impl Fixture {
    /// A host on `files` extra files of fleet configuration, running the genesis commit.
    pub async fn new(files: usize) -> Fixture {
        let root = tempfile::tempdir().unwrap();
        let work = root.path().join("work");
        let host = root.path().join("host");
        std::fs::create_dir_all(&work).unwrap();
        std::fs::create_dir_all(host.join("profiles")).unwrap();
        git(&work, &["init", "-q", "-b", "main"]);
        for i in 0..files {
            let d = work.join(format!("modules/m{:02}", i % 100));
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(
                d.join(format!("f{i:05}.nix")),
                format!("{{ services.s{i}.enable = {}; }}\n", i % 2 == 0),
            )
            .unwrap();
        }
        write_flake(&work, &host, "genesis", GOOD);
        git(&work, &["add", "-A"]);
        git(&work, &["commit", "-q", "-m", "genesis"]);
        let genesis = git(&work, &["rev-parse", "HEAD"]);

        let srv = root.path().join("srv");
        std::fs::create_dir_all(&srv).unwrap();
        git(
            root.path(),
            &[
                "clone",
                "-q",
                "--bare",
                work.to_str().unwrap(),
                srv.join("fleet.git").to_str().unwrap(),
            ],
        );
        git(
            &srv.join("fleet.git"),
            &["config", "uploadpack.allowReachableSHA1InWant", "true"],
        );
        let git_daemon = GitDaemon::start(&srv);
        let remote = git_daemon.url("fleet.git");

        let dn = Devnet::start();
        let token = std::fs::read_to_string(&dn.token_file).unwrap();
        let node = Node::new(&dn.url, token.trim()).unwrap();
        let creator = Signer::from_file(&dn.key_file(1)).unwrap();
        let members = vec![
            Signer::from_file(&dn.key_file(2)).unwrap(),
            Signer::from_file(&dn.key_file(3)).unwrap(),
        ];
        let agent_addr = Signer::from_file(&dn.key_file(4)).unwrap().address();
        let contracts = dao_testkit::repo_root().join("contracts/build");
        let app = node
            .create_app(
                &creator,
                &std::fs::read(contracts.join("app.bin")).unwrap(),
                &std::fs::read(contracts.join("clear.bin")).unwrap(),
                &rules(),
                &remote,
                oid_bytes(&genesis),
            )
            .await
            .unwrap();
        for (m, w) in members.iter().zip([60u64, 40]) {
            app.set_member(&creator, &m.address(), w).await.unwrap();
        }
        app.set_host(&creator, HOST, &agent_addr).await.unwrap();
        app.seal(&creator).await.unwrap();

        let bus = dao_testkit::bus::start(dao_testkit::bus::Policy::Open);
        let f = Fixture {
            root,
            work,
            srv,
            remote,
            git_daemon,
            dn,
            app,
            members,
            host,
            bus,
            genesis,
        };
        let gen1 = f.build(&f.genesis.clone());
        let ok = Command::new("nix-env")
            .arg("-p")
            .arg(f.profile())
            .arg("--set")
            .arg(&gen1)
            .env("NIX_CONFIG", NIX_CONFIG)
            .status()
            .unwrap();
        assert!(ok.success());
        f.write_config("");
        f
    }

    pub fn profile(&self) -> PathBuf {
        self.host.join("profiles/system")
    }

    pub fn config(&self) -> PathBuf {
        self.host.join("agent.toml")
    }

    pub fn state(&self) -> PathBuf {
        self.host.join("state")
    }

    /// Writes the agent's configuration; `extra` is appended (more TOML).
    pub fn write_config(&self, extra: &str) {
        self.write_config_with("", extra);
    }

    /// [`Fixture::write_config`], with `executor` added to the `[executor]` table.
    pub fn write_config_with(&self, executor: &str, extra: &str) {
        std::fs::write(
            self.config(),
            format!(
                "roles = [\"executor\"]\nstate_dir = \"{state}\"\n[chain]\nalgod_url = \"{url}\"\nalgod_token_file = \"{token}\"\napp_id = {app_id}\nnetwork = \"devnet\"\n[host]\nid = {HOST}\nname = \"web\"\nflake_output = \"hosts.web\"\n[source]\nallowed_remotes = [\"{remote}\"]\n[executor]\nsystem_profile = \"{profile}\"\nswitch_mode = \"direct\"\ncurrent_system = \"{host}/current-system\"\n{executor}\n[executor.health]\ntimeout = \"3s\"\ncommand = [\"/bin/sh\", \"-c\", \"test -e {host}/current-system/healthy\"]\n[keys]\naccount_key_file = \"{key}\"\n{extra}",
                state = self.state().display(),
                url = self.dn.url,
                token = self.dn.token_file.display(),
                app_id = self.app.app_id,
                remote = self.remote,
                profile = self.profile().display(),
                host = self.host.display(),
                key = self.dn.key_file(4).display(),
            ),
        )
        .unwrap();
    }

    /// Starts `dao-agent` on this host, with extra environment; its log goes to agent.log.
    pub fn spawn_agent(&self, env: &[(&str, &str)]) -> Agent {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.host.join("agent.log"))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_dao-agent"))
            .arg("--config")
            .arg(self.config())
            .env("NIX_CONFIG", NIX_CONFIG)
            .env("DBUS_SYSTEM_BUS_ADDRESS", &self.bus.address)
            .env_remove("DAO_AGENT_FAILPOINT")
            .envs(env.iter().copied())
            .stderr(log)
            .spawn()
            .unwrap();
        Agent(child)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.host.join("agent.log")).unwrap_or_default()
    }

    /// Every activation, in order: "VERSION switch".
    pub fn switches(&self) -> Vec<String> {
        std::fs::read_to_string(self.host.join("switch.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Commits a new fleet version on top of the work tree's HEAD without pushing it (a commit
    /// the remote will never have); returns the commit.
    pub fn commit_unpushed(&self, version: &str, b: Behaviour) -> String {
        write_flake(&self.work, &self.host, version, b);
        git(&self.work, &["commit", "-q", "-am", version]);
        git(&self.work, &["rev-parse", "HEAD"])
    }

    /// Commits a new fleet version on top of the work tree's HEAD, pushes it; returns the commit.
    pub fn commit(&self, version: &str, b: Behaviour) -> String {
        self.commit_naming_agent(version, b, None)
    }

    /// [`Fixture::commit`], of a version whose switch writes `{"id": ID}` to `MARKER`, as a
    /// NixOS generation's activation writes /etc/dao-governance/executor-agent.json.
    pub fn commit_naming_agent(
        &self,
        version: &str,
        b: Behaviour,
        agent: Option<(&Path, &str)>,
    ) -> String {
        write_flake_with(&self.work, &self.host, version, b, agent);
        git(&self.work, &["commit", "-q", "-am", version]);
        git(
            &self.work,
            &[
                "push",
                "-q",
                "--force",
                self.srv.join("fleet.git").to_str().unwrap(),
                "HEAD:main",
            ],
        );
        git(&self.work, &["rev-parse", "HEAD"])
    }

    /// Builds the host's toplevel at `commit`; returns its store path.
    pub fn build(&self, commit: &str) -> String {
        let out = Command::new("nix")
            .args(["build", "--no-link", "--json"])
            .arg(format!(
                "git+file://{}?ref=main&rev={commit}#hosts.web",
                self.work.display()
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
        v[0]["outputs"]["out"].as_str().unwrap().to_owned()
    }

    /// Proposes base..head with `diff_hash` (the true one when None), votes it through and
    /// finalizes it; returns the proposal id.
    pub async fn approve(&self, base: &str, head: &str, diff_hash: Option<[u8; 32]>) -> u64 {
        let hash = diff_hash.unwrap_or_else(|| {
            dao_core::diff_hash::diff_hash_revisions(&self.work, base, head)
                .unwrap()
                .diff_hash
                .0
        });
        let p = DeployProposal {
            emergency: false,
            base: oid_bytes(base),
            head: oid_bytes(head),
            diff_hash: hash,
            targets: Targets::All,
            description_url: format!("https://git.example/fleet/commit/{head}"),
        };
        let (id, _) = self.app.propose_deploy(&self.members[0], &p).await.unwrap();
        for m in &self.members {
            self.app.vote(m, id, VoteChoice::For).await.unwrap();
        }
        self.app.finalize(&self.members[0], id).await.unwrap();
        self.dn.advance(rules().timelock);
        id
    }

    pub fn journal_path(&self, id: u64) -> PathBuf {
        self.state()
            .join("executor/journal")
            .join(format!("proposal-{id}-host-{HOST}.json"))
    }

    pub fn journal(&self, id: u64) -> Option<serde_json::Value> {
        let bytes = std::fs::read(self.journal_path(id)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Waits until `pred` holds of the journal record of `id`.
    pub fn wait_journal(
        &self,
        id: u64,
        limit: Duration,
        what: &str,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(v) = self.journal(id) {
                if pred(&v) {
                    return v;
                }
            }
            assert!(
                Instant::now() < deadline,
                "proposal {id}: {what} did not happen; journal: {:?}\nagent log:\n{}",
                self.journal(id),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the outcome to be journaled and its report confirmed.
    pub fn wait_reported(&self, id: u64) -> serde_json::Value {
        self.wait_journal(id, Duration::from_secs(180), "a confirmed report", |v| {
            v["outcome"].is_object() && v["report"].get("confirmed").is_some()
        })
    }

    pub async fn reports(&self, id: u64) -> (Option<Report>, Option<Report>) {
        self.app.reports(id, HOST).await.unwrap()
    }

    /// The generation the profile points at.
    pub fn generation(&self) -> String {
        std::fs::read_link(self.profile())
            .unwrap()
            .display()
            .to_string()
    }
}

pub fn oid_bytes(hex_id: &str) -> [u8; 20] {
    let mut b = [0u8; 20];
    b.copy_from_slice(&hex::decode(hex_id).unwrap());
    b
}

/// The fleet flake: `hosts.web` is a plain derivation (it builds offline) whose
/// switch-to-configuration records the activation and its action, takes `switch_secs`, and
/// points `HOST/current-system` at itself as NixOS does (not for `boot`, which only changes the
/// bootloader); healthy versions carry a `healthy` file.
fn write_flake(work: &Path, host: &Path, version: &str, b: Behaviour) {
    write_flake_with(work, host, version, b, None);
}

fn write_flake_with(
    work: &Path,
    host: &Path,
    version: &str,
    b: Behaviour,
    agent: Option<(&Path, &str)>,
) {
    let (agent_file, write_marker) = match agent {
        Some((marker, id)) => (
            format!("echo '{{\"id\":\"{id}\"}}' > $out/agent.json; "),
            format!("cp '$out'/agent.json {}\\n", marker.display()),
        ),
        None => (String::new(), String::new()),
    };
    let script = format!(
        "mkdir -p $out/bin; {agent_file}{healthy}printf '#!/bin/sh\\nsleep {secs}\\necho \"{version} $1\" >> {log}\\n{write_marker}[ \"$1\" = boot ] || ln -sfn '$out' {current}\\n' > $out/bin/switch-to-configuration; chmod +x $out/bin/switch-to-configuration",
        healthy = if b.healthy { "touch $out/healthy; " } else { "" },
        secs = b.switch_secs,
        log = host.join("switch.log").display(),
        current = host.join("current-system").display(),
    );
    std::fs::write(
        work.join("flake.nix"),
        format!(
            "{{\n  outputs = {{ self }}: {{\n    hosts.web = derivation {{ name = \"nixos-system-web-{version}\"; system = \"{}-linux\"; builder = \"/bin/sh\"; PATH = \"/usr/bin:/bin\"; args = [ \"-c\" {script:?} ]; }};\n  }};\n}}\n",
            std::env::consts::ARCH
        ),
    )
    .unwrap();
}
