//! Setting a fleet up: the devnet, the members' keys, the governed repository, the hosts'
//! sandboxes with generation 1, the DAO's formation (`dao-agentctl form`) and the agents.

use super::ctl::{ctl_display, ctl_run};
use super::{DirGuard, Fleet, FleetOptions, Member, MEMBERS, TOKEN};
use crate::bins::{dbus_policy, repo_root, Binaries, NIX_CONFIG};
use crate::devnet::Devnet;
use crate::host::{AgentSettings, Host};
use crate::interrupt;
use crate::proxy::CountingProxy;
use crate::repo::{run, Flake, GovernedRepo, HostConfig};
use crate::story::{short, Story};
use crate::validator::{Validator, VALIDATORS};
use anyhow::{bail, Context, Result};
use dao_chain::{App, Node};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

impl Fleet {
    /// Sets everything up; on error, what was started is stopped again.
    pub fn start(opts: FleetOptions, story: Story) -> Result<Fleet> {
        let bins = Binaries::locate()?;
        let repo_dir = repo_root()?;
        let root = tempfile::Builder::new()
            .prefix("dao-fleet-")
            .tempdir()
            .context("creating the fleet's directory")?
            .keep();
        let dir = DirGuard {
            path: root.clone(),
            keep: opts.keep,
        };
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o711))?;
        let n = opts.hosts.len();
        if opts.validators > VALIDATORS.len() {
            bail!(
                "FleetOptions.validators is {}, but the fleet has names for {} \
                 (validator::VALIDATORS): ask for fewer, or add names there",
                opts.validators,
                VALIDATORS.len()
            );
        }
        let accounts = u32::try_from(3 + n + opts.validators).context("too many hosts")?;

        let t = Instant::now();
        let devnet = Devnet::start(
            &repo_dir,
            &root.join("devnet"),
            accounts,
            &opts.block_interval,
            &root.join("devnet.log"),
        )?;
        story.ok(&format!(
            "devnet: go-algorand's evaluator behind algod's REST API at {} (pid {}, a block \
             every {} when idle) [{:.1} s]",
            devnet.url,
            devnet.pid(),
            opts.block_interval,
            t.elapsed().as_secs_f64()
        ));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let node = Node::new(&devnet.url, &devnet.token()?)?;

        // Members' keys, as files (never arguments): ../keys/NAME.key from the checkout.
        let keys = root.join("keys");
        std::fs::create_dir_all(&keys)?;
        std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o700))?;
        let mut members = Vec::new();
        for (i, (name, weight)) in MEMBERS.iter().enumerate() {
            let dev = u32::try_from(i + 1)?;
            let key = keys.join(format!("{name}.key"));
            std::fs::copy(devnet.key_file(dev), &key)?;
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))?;
            members.push(Member {
                name: (*name).to_owned(),
                weight: *weight,
                address: devnet.address(dev)?,
                key: format!("../keys/{name}.key"),
            });
        }
        // Validators: the dev accounts after the hosts', keys beside the members'.
        let mut validators = Vec::new();
        for (j, name) in VALIDATORS.iter().take(opts.validators).enumerate() {
            let dev = u32::try_from(4 + n + j)?;
            let key = keys.join(format!("{name}.key"));
            std::fs::copy(devnet.key_file(dev), &key)?;
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))?;
            validators.push(Validator::create(
                name,
                &root.join("validators").join(name),
                &key,
                &devnet.address(dev)?,
            )?);
        }

        // The governed repository, genesis: every host on v1.
        let t = Instant::now();
        let flake = Flake {
            hosts: opts
                .hosts
                .iter()
                .map(|h| (h.clone(), HostConfig::new(1, &format!("{h}: v1"))))
                .collect(),
        };
        let repo = GovernedRepo::create(&root, &flake)?;
        story.ok(&format!(
            "governed flake repository: genesis {} served by git daemon at {} (pid {}) [{:.1} s]",
            short(&repo.genesis),
            repo.url,
            repo.daemon_pid(),
            t.elapsed().as_secs_f64()
        ));

        // Hosts, installed with generation 1 (the genesis configuration).
        let t = Instant::now();
        let mut hosts = Vec::new();
        for (i, name) in opts.hosts.iter().enumerate() {
            let dev = u32::try_from(4 + i)?;
            hosts.push(Host::create(
                u64::try_from(i + 1)?,
                name,
                &root.join("hosts").join(name),
                &devnet.key_file(dev),
                &devnet.address(dev)?,
            )?);
        }
        let tops = build_toplevels(&repo.work, &repo.genesis, &opts.hosts)?;
        for (h, top) in hosts.iter().zip(&tops) {
            interrupt::check()?;
            h.install(top)?;
        }
        story.ok(&format!(
            "{}: generation 1 installed in {} ({}) [{:.1} s]",
            if n <= 3 {
                format!("hosts {}", opts.hosts.join(", "))
            } else {
                format!("{n} hosts")
            },
            if n == 1 {
                "its sandbox".to_owned()
            } else {
                "their sandboxes".to_owned()
            },
            tops.iter()
                .take(3)
                .map(|t| crate::host::system_name(t))
                .collect::<Vec<_>>()
                .join(", "),
            t.elapsed().as_secs_f64()
        ));

        let mut fleet_parts = Parts {
            validators,
            attest: (opts.attest_quorum, opts.attest_reward),
            hosts,
            repo,
            devnet,
            rt,
            members,
            flake,
            bins,
            story,
            root,
            dir,
        };
        let (app_id, sealed_round) = fleet_parts.form()?;
        let Parts {
            validators,
            attest: _,
            hosts,
            repo,
            devnet,
            rt,
            members,
            flake,
            bins,
            story,
            root,
            dir,
        } = fleet_parts;
        let mut fleet = Fleet {
            validators,
            hosts,
            proxies: Vec::new(),
            repo,
            devnet,
            rt,
            app: App::new(node, app_id),
            members,
            flake,
            bins,
            story,
            root,
            sealed_round,
            dir,
        };
        if opts.treasury > 0 {
            fleet.fund_treasury(opts.treasury)?;
        }
        fleet.start_agents(&opts, &repo_dir)?;
        let first: Vec<String> = fleet
            .validators
            .iter()
            .take(opts.validators_started)
            .map(|v| v.name.clone())
            .collect();
        for name in first {
            fleet.start_validator(&name)?;
        }
        Ok(fleet)
    }

    fn start_agents(&mut self, opts: &FleetOptions, repo_dir: &Path) -> Result<()> {
        let t = Instant::now();
        let policy = dbus_policy(repo_dir);
        let upstream: std::net::SocketAddr = self
            .devnet
            .url
            .trim_start_matches("http://")
            .parse()
            .context("the devnet's URL")?;
        for i in 0..self.hosts.len() {
            interrupt::check()?;
            let url = if opts.count_requests {
                let p = CountingProxy::start(&self.rt, upstream)?;
                let url = p.url.clone();
                self.proxies.push(p);
                url
            } else {
                self.devnet.url.clone()
            };
            let h = &mut self.hosts[i];
            h.start_bus(&policy)?;
            h.write_config(&AgentSettings {
                algod_url: &url,
                token_file: &self.devnet.token_file,
                app_id: self.app.app_id,
                remote: &self.repo.url,
                health_timeout: &opts.health_timeout,
            })?;
            let cfg = h.config_path();
            let shown = i == 0 && self.hosts.len() <= 3;
            let r = ctl_run(
                &self.bins.agentctl,
                &self.repo.work,
                &["validate-config".into(), cfg.display().to_string()],
            )?;
            if !r.success {
                bail!(
                    "the configuration of {} is not valid: {}{}",
                    self.hosts[i].name,
                    r.stdout,
                    r.stderr
                );
            }
            if shown {
                self.story
                    .cmd(&format!("dao-agentctl validate-config {}", self.rel(&cfg)));
                self.story.output(&r.stdout);
            }
            self.hosts[i].start_agent(&self.bins.agent)?;
        }
        for h in &mut self.hosts {
            h.wait_ready(opts.ready_timeout)?;
        }
        let pids: Vec<String> = self
            .hosts
            .iter()
            .take(3)
            .map(|h| format!("{} (pid {})", h.name, h.agent_pid().unwrap_or(0)))
            .collect();
        // systemd mode runs switch-to-configuration in a transient unit of the system's
        // systemd; the demo's hosts are sandboxes, so it uses direct mode either way.
        let why = if Path::new("/run/systemd/system").is_dir() {
            "the hosts are sandboxes that leave this machine's systemd alone"
        } else {
            "there is no systemd on this machine"
        };
        self.story.ok(&format!(
            "{} running{}, each on its own system bus (a private dbus-daemon), in direct switch \
             mode ({why}): switch-to-configuration runs as the agent's child, where on NixOS it \
             runs in a transient systemd unit [{:.1} s]",
            if self.hosts.len() <= 3 {
                format!("agents {}", pids.join(", "))
            } else {
                format!("{} agents", self.hosts.len())
            },
            if opts.count_requests {
                ", each behind a counting proxy"
            } else {
                ""
            },
            t.elapsed().as_secs_f64()
        ));
        Ok(())
    }
}

/// What `start` holds before the app exists.
struct Parts {
    validators: Vec<Validator>,
    /// The attestation quorum and reward for `form`.
    attest: (u64, u64),
    hosts: Vec<Host>,
    repo: GovernedRepo,
    devnet: Devnet,
    rt: tokio::runtime::Runtime,
    members: Vec<Member>,
    flake: Flake,
    bins: Binaries,
    story: Story,
    root: PathBuf,
    dir: DirGuard,
}

impl Parts {
    /// `dao-agentctl form`: the app, its members and hosts, sealed. Returns (app id, round).
    fn form(&mut self) -> Result<(u64, u64)> {
        let rules =
            "# Demo rules: a 10-minute vote that ends as soon as it is decided, the shortest \
             timelock the app allows (10 s), and the shortest heartbeat interval (an hour; each \
             agent sends its first heartbeat at start).\n\
             voting_delay = 0\nvoting_period = 600\nsupport_ppm = 500000\nquorum_ppm = 200000\n\
             emergency_period = 300\nemergency_support_ppm = 666667\ntimelock = 10\n\
             grace_period = 86400\nmin_proposer_weight = 1\nvote_cap_ppm = 0\n\
             proposal_bond = 0\nheartbeat_interval = 3600\n";
        std::fs::write(self.repo.work.join("rules.toml"), rules)?;
        let mut args: Vec<String> = vec![
            "form".into(),
            "--repository".into(),
            self.repo.url.clone(),
            "--genesis".into(),
            "HEAD".into(),
        ];
        for m in &self.members {
            args.push("--member".into());
            args.push(format!("{}={}", m.address, m.weight));
        }
        for h in &self.hosts {
            args.push("--host".into());
            args.push(format!("{}={}", h.id, h.address));
        }
        for v in &self.validators {
            args.push("--validator".into());
            args.push(v.address.clone());
        }
        let (quorum, reward) = self.attest;
        if quorum > 0 {
            args.extend(["--attest-quorum".into(), quorum.to_string()]);
        }
        if reward > 0 {
            args.extend(["--attest-reward".into(), reward.to_string()]);
        }
        args.extend(
            [
                "--rules",
                "rules.toml",
                "--network",
                "devnet",
                "--algod",
                &self.devnet.url,
                "--algod-token-file",
                TOKEN,
                "--key",
                "../keys/alice.key",
                "--json",
            ]
            .map(String::from),
        );
        let t = Instant::now();
        let shown = if self.hosts.len() > 3 {
            let mut a: Vec<String> = args
                .iter()
                .take(5 + 2 * self.members.len() + 2)
                .cloned()
                .collect();
            a.push(format!("… ({} --host flags)", self.hosts.len()));
            a
        } else {
            args.clone()
        };
        self.story.cmd(&ctl_display(&shown));
        let r = ctl_run(&self.bins.agentctl, &self.repo.work, &args)?;
        if !r.success {
            bail!("dao-agentctl form failed: {}{}", r.stderr, r.stdout);
        }
        let v = r.json()?;
        let app_id = v["app_id"].as_u64().context("form printed no app_id")?;
        let round = v["sealed_round"].as_u64().unwrap_or(0);
        let members: Vec<String> = self
            .members
            .iter()
            .map(|m| format!("{} {}", m.name, m.weight))
            .collect();
        let hosts: Vec<String> = self
            .hosts
            .iter()
            .take(3)
            .map(|h| format!("{} {}", h.id, h.name))
            .collect();
        let validators = if self.validators.is_empty() {
            String::new()
        } else {
            let names: Vec<&str> = self.validators.iter().map(|v| v.name.as_str()).collect();
            format!(
                "; validators {} (a host switches only to a closure {quorum} of them built; \
                 {reward} µAlgo per matching attestation)",
                names.join(" · ")
            )
        };
        self.story.ok(&format!(
            "DAO formed: app {app_id}; members {}; hosts {}{}{validators}; sealed in round \
             {round}; dao-spec.toml written [{:.1} s]",
            members.join(" · "),
            hosts.join(" · "),
            if self.hosts.len() > 3 {
                format!(" … ({} hosts)", self.hosts.len())
            } else {
                String::new()
            },
            t.elapsed().as_secs_f64()
        ));
        Ok((app_id, round))
    }
}

/// Builds each host's toplevel at `rev` of the checkout (one `nix build`), in host order.
pub fn build_toplevels(work: &Path, rev: &str, hosts: &[String]) -> Result<Vec<PathBuf>> {
    let mut c = Command::new("nix");
    c.env("NIX_CONFIG", NIX_CONFIG).args([
        "build",
        "--no-link",
        "--json",
        "--no-accept-flake-config",
    ]);
    for h in hosts {
        c.arg(format!(
            "git+file://{}?ref=main&rev={rev}#nixosConfigurations.\"{h}\".config.system.build.toplevel",
            work.display()
        ));
    }
    let out = run(c)?;
    let v: serde_json::Value = serde_json::from_str(&out).context("nix build --json")?;
    let list = v.as_array().context("nix build --json printed no list")?;
    // `nix build --json` does not keep the installables' order: match the names
    // (nixos-system-<host>-<version>).
    let built: Vec<PathBuf> = list
        .iter()
        .filter_map(|e| e["outputs"]["out"].as_str().map(PathBuf::from))
        .collect();
    hosts
        .iter()
        .map(|h| {
            built
                .iter()
                .find(|p| {
                    crate::host::system_name(p)
                        .strip_prefix("nixos-system-")
                        .and_then(|r| r.rsplit_once('-'))
                        .is_some_and(|(name, _)| name == h)
                })
                .cloned()
                .with_context(|| format!("nix build gave no toplevel for host {h}"))
        })
        .collect()
}
