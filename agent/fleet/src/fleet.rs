//! The harness: a devnet, the governed repository and its git daemon, a DAO of three members,
//! and N sandboxed hosts each running `dao-agent`; then proposals, votes and the hosts' reports.
//! Everything it starts is stopped by PID, and its directory removed, when it is dropped.

use crate::bins::{dbus_policy, repo_root, Binaries, NIX_CONFIG};
use crate::devnet::Devnet;
use crate::host::{AgentSettings, Host};
use crate::interrupt;
use crate::proxy::CountingProxy;
use crate::repo::{run, Flake, GovernedRepo, HostConfig};
use crate::story::{short, Story};
use anyhow::{bail, Context, Result};
use dao_chain::decode::{ReportStatus, Targets};
use dao_chain::events::{decode_log, AppEvent, Log};
use dao_chain::{App, Node};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub struct FleetOptions {
    /// Host names; host ids are 1, 2, … in this order.
    pub hosts: Vec<String>,
    /// `executor.health.timeout` of every host.
    pub health_timeout: String,
    /// The devnet's empty-block interval.
    pub block_interval: String,
    /// Put a counting proxy in front of the devnet for each agent (benchmarks).
    pub count_requests: bool,
    /// Keep the directory (logs, journals, repositories) instead of removing it.
    pub keep: bool,
    /// How long an agent may take to be ready.
    pub ready_timeout: Duration,
}

impl FleetOptions {
    pub fn new(hosts: &[&str]) -> FleetOptions {
        FleetOptions {
            hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
            health_timeout: "3s".into(),
            block_interval: "2s".into(),
            count_requests: false,
            keep: false,
            ready_timeout: Duration::from_secs(60),
        }
    }
}

/// A member of the DAO and its key file.
#[derive(Debug, Clone)]
pub struct Member {
    pub name: String,
    pub weight: u64,
    pub address: String,
    /// Relative to the checkout, where the commands run: `../keys/alice.key`.
    pub key: String,
}

/// The members: different weights, so one against vote does not decide.
pub const MEMBERS: [(&str, u64); 3] = [("alice", 50), ("bob", 30), ("carol", 20)];

/// A finished `dao-agentctl` run.
#[derive(Debug, Clone)]
pub struct CtlRun {
    pub success: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl CtlRun {
    pub fn json(&self) -> Result<serde_json::Value> {
        serde_json::from_str(&self.stdout)
            .with_context(|| format!("dao-agentctl printed no JSON: {}", self.stdout))
    }
}

/// A host's report as it landed on chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Landed {
    pub status: ReportStatus,
    pub generation: u64,
    pub toplevel_sha256: [u8; 32],
    /// When the harness saw it, since the reference instant given to the wait.
    pub after: Duration,
    /// The round of the report, from the host's journal.
    pub round: Option<u64>,
}

pub fn status_name(s: ReportStatus) -> &'static str {
    s.as_str()
}

/// Wall-clock milliseconds since the Unix epoch (the journal's clock).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The directory of a fleet, removed last unless kept.
struct DirGuard {
    path: PathBuf,
    keep: bool,
}

impl Drop for DirGuard {
    fn drop(&mut self) {
        if self.keep {
            println!("kept {}", self.path.display());
        } else if let Err(e) = std::fs::remove_dir_all(&self.path) {
            eprintln!("dao-fleet: cannot remove {}: {e}", self.path.display());
        }
    }
}

/// When each block was first seen (wall-clock ms), recorded by a follower of the devnet.
#[derive(Clone, Default)]
pub struct BlockClock {
    seen: Arc<Mutex<BTreeMap<u64, u64>>>,
}

impl BlockClock {
    pub fn at(&self, round: u64) -> Option<u64> {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&round)
            .copied()
    }

    /// The last round seen at or before `ms`.
    pub fn round_at(&self, ms: u64) -> Option<u64> {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(_, t)| **t <= ms)
            .map(|(r, _)| *r)
            .max()
    }
}

// Fields drop in this order: agents and buses, proxies, git daemon, devnet, runtime, directory.
pub struct Fleet {
    pub hosts: Vec<Host>,
    pub proxies: Vec<CountingProxy>,
    pub repo: GovernedRepo,
    pub devnet: Devnet,
    pub rt: tokio::runtime::Runtime,
    pub app: App,
    pub members: Vec<Member>,
    /// The configuration on branch main.
    pub flake: Flake,
    pub bins: Binaries,
    pub story: Story,
    pub root: PathBuf,
    pub sealed_round: u64,
    dir: DirGuard,
}

/// The token file as the commands see it from the checkout.
const TOKEN: &str = "../devnet/algod.token";

fn ctl_display(args: &[String]) -> String {
    let mut out = String::from("dao-agentctl");
    for a in args {
        out.push(' ');
        if a.contains(' ') || a.is_empty() {
            out.push_str(&format!("{a:?}"));
        } else if a.len() == 58 && a.chars().all(|c| c.is_ascii_alphanumeric()) {
            out.push_str(&short(a));
        } else if let Some((k, v)) = a.split_once('=').filter(|(_, v)| v.len() == 58) {
            out.push_str(&format!("{k}={}", short(v)));
        } else if let Some((k, v)) = a.split_once('=').filter(|(k, _)| k.len() == 58) {
            out.push_str(&format!("{}={v}", short(k)));
        } else {
            out.push_str(a);
        }
    }
    out
}

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
        let accounts = u32::try_from(3 + n).context("too many hosts")?;

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
        fleet.start_agents(&opts, &repo_dir)?;
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

    /// A path under the fleet's directory, as `$FLEET/…`.
    pub fn rel(&self, p: &Path) -> String {
        match p.strip_prefix(&self.root) {
            Ok(r) => format!("$FLEET/{}", r.display()),
            Err(_) => p.display().to_string(),
        }
    }

    pub fn host(&self, name: &str) -> Result<&Host> {
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .with_context(|| format!("no host {name}"))
    }

    pub fn member(&self, name: &str) -> Result<&Member> {
        self.members
            .iter()
            .find(|m| m.name == name)
            .with_context(|| format!("no member {name}"))
    }

    /// Runs `dao-agentctl` in the checkout (where dao-spec.toml is), showing the command.
    pub fn ctl(&self, args: &[String]) -> Result<CtlRun> {
        self.story.cmd(&ctl_display(args));
        ctl_run(&self.bins.agentctl, &self.repo.work, args)
    }

    /// Like [`Fleet::ctl`], and an error when the command fails.
    pub fn ctl_ok(&self, args: &[String]) -> Result<CtlRun> {
        let r = self.ctl(args)?;
        if !r.success {
            bail!(
                "`{}` failed: {}{}",
                ctl_display(args),
                r.stderr.trim(),
                r.stdout.trim()
            );
        }
        Ok(r)
    }

    /// A local command for a host's agent (`--bus` its system bus); `as_nobody` runs it as
    /// uid/gid 65534 without groups.
    pub fn local(&self, host: &Host, args: &[&str], as_nobody: bool) -> Result<CtlRun> {
        let mut full: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        full.push("--bus".into());
        full.push(host.bus_address.clone());
        let shown: Vec<String> = full
            .iter()
            .map(|a| {
                a.strip_prefix("unix:path=").map_or(a.clone(), |p| {
                    format!("unix:path={}", self.rel(Path::new(p)))
                })
            })
            .collect();
        if as_nobody {
            self.story.cmd(&format!(
                "setpriv --reuid 65534 --regid 65534 --clear-groups {}",
                ctl_display(&shown)
            ));
            let mut c = Command::new("setpriv");
            c.args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
                .arg(&self.bins.agentctl)
                .args(&full)
                .current_dir("/");
            output(c)
        } else {
            self.story.cmd(&ctl_display(&shown));
            ctl_run(&self.bins.agentctl, &self.repo.work, &full)
        }
    }

    fn chain_args(&self, mut args: Vec<String>, key: Option<&Member>) -> Vec<String> {
        if let Some(m) = key {
            args.push("--key".into());
            args.push(m.key.clone());
        }
        args.push("--algod-token-file".into());
        args.push(TOKEN.into());
        args
    }

    /// Commits `flake` on top of `parent` as `author`, moves `branch` there and pushes it.
    pub fn commit(
        &self,
        branch: &str,
        parent: &str,
        author: &str,
        message: &str,
        flake: &Flake,
    ) -> Result<String> {
        let id = self.repo.commit(branch, parent, author, message, flake)?;
        self.repo.push(&id, branch)?;
        Ok(id)
    }

    /// `dao-agentctl submit`: returns the proposal id and the diff hash it computed.
    pub fn submit(
        &self,
        base: &str,
        head: &str,
        targets: &Targets,
        description: &str,
        proposer: &Member,
    ) -> Result<(u64, String)> {
        let mut args = vec![
            "submit".into(),
            "--base".into(),
            base[..12.min(base.len())].into(),
            "--head".into(),
            head[..12.min(head.len())].into(),
        ];
        match targets {
            Targets::All => args.push("--all-hosts".into()),
            Targets::Hosts(h) => {
                for id in h {
                    args.push("--target".into());
                    args.push(id.to_string());
                }
            }
        }
        args.push("--description".into());
        args.push(description.into());
        args.push("--json".into());
        let v = self
            .ctl_ok(&self.chain_args(args, Some(proposer)))?
            .json()?;
        let id = v["id"].as_u64().context("submit printed no id")?;
        let hash = v["diff_hash"]
            .as_str()
            .context("submit printed no diff_hash")?
            .to_owned();
        Ok((id, hash))
    }

    /// `dao-agentctl vote ID CHOICE` as `member`.
    pub fn vote(&self, id: u64, member: &Member, choice: &str) -> Result<u64> {
        let args = vec![
            "vote".into(),
            id.to_string(),
            choice.into(),
            "--json".into(),
        ];
        let v = self.ctl_ok(&self.chain_args(args, Some(member)))?.json()?;
        v["round"].as_u64().context("vote printed no round")
    }

    /// `dao-agentctl finalize ID`: the round and the new state (queued or defeated).
    pub fn finalize(&self, id: u64, member: &Member) -> Result<(u64, String)> {
        let args = vec!["finalize".into(), id.to_string(), "--json".into()];
        let v = self.ctl_ok(&self.chain_args(args, Some(member)))?.json()?;
        Ok((
            v["round"].as_u64().context("finalize printed no round")?,
            v["state"].as_str().unwrap_or("?").to_owned(),
        ))
    }

    /// `dao-agentctl hash BASE HEAD`: the canonical diff hash.
    pub fn hash(&self, base: &str, head: &str) -> Result<String> {
        let r = self.ctl_ok(&[
            "hash".into(),
            base[..12.min(base.len())].into(),
            head[..12.min(head.len())].into(),
        ])?;
        Ok(r.stdout.trim().to_owned())
    }

    /// `dao-agentctl show ID --json`.
    pub fn show(&self, id: u64) -> Result<serde_json::Value> {
        let args = vec!["show".into(), id.to_string(), "--json".into()];
        self.ctl_ok(&self.chain_args(args, None))?.json()
    }

    /// Runs an async chain call on the fleet's runtime.
    pub fn chain<T>(&self, f: impl std::future::Future<Output = T>) -> T {
        self.rt.block_on(f)
    }

    pub fn last_round(&self) -> Result<u64> {
        Ok(self.chain(self.app.node.last_round())?)
    }

    /// The report (and its rollback amendment) of a host on a proposal.
    pub fn reports(
        &self,
        id: u64,
        host: u64,
    ) -> Result<(
        Option<dao_chain::decode::Report>,
        Option<dao_chain::decode::Report>,
    )> {
        Ok(self.chain(self.app.reports(id, host))?)
    }

    /// What a host is doing about a proposal, from its journal: the outcome, or the last step.
    pub fn host_step(&self, host: &Host, id: u64) -> String {
        match host.journal(id) {
            Ok(Some(j)) => match j["outcome"]["status"].as_str() {
                Some(s) => match j["report"].as_object().and_then(|o| o.keys().next()) {
                    Some(r) if r == "confirmed" => format!("{s}, reported"),
                    _ => format!("{s}, reporting"),
                },
                None => j["steps"]
                    .as_array()
                    .and_then(|s| s.last())
                    .and_then(|e| e["step"].as_str())
                    .unwrap_or("starting")
                    .to_owned(),
            },
            Ok(None) => "waiting".into(),
            Err(e) => format!("journal unreadable: {e}"),
        }
    }

    /// Waits until every host in `hosts` (ids) has a report of `id` on chain, showing progress.
    /// A host is looked up on chain once its journal says its report is confirmed, and every
    /// few seconds regardless (the chain is the truth; the journal only says when to look).
    pub fn wait_reports(
        &mut self,
        id: u64,
        hosts: &[u64],
        since: Instant,
        timeout: Duration,
    ) -> Result<BTreeMap<u64, Landed>> {
        let mut landed: BTreeMap<u64, Landed> = BTreeMap::new();
        let mut last_look: BTreeMap<u64, Instant> = BTreeMap::new();
        let fallback = Duration::from_millis(2000 + 100 * hosts.len() as u64);
        let step = Duration::from_millis(300);
        let start = Instant::now();
        let mut last_error: Option<String> = None;
        loop {
            interrupt::check()?;
            for h in &mut self.hosts {
                h.check_agent()?;
            }
            for &hid in hosts {
                if landed.contains_key(&hid) {
                    continue;
                }
                let host = self
                    .hosts
                    .iter()
                    .find(|h| h.id == hid)
                    .with_context(|| format!("no host {hid}"))?;
                let journal = host.journal(id)?;
                // The agent saw its report confirmed: the chain has it. Otherwise look now and
                // then (a host may report without a journal record), not to load the devnet.
                let confirmed = journal
                    .as_ref()
                    .is_some_and(|j| !j["report"]["confirmed"].is_null());
                let due = last_look.get(&hid).is_none_or(|t| t.elapsed() >= fallback);
                if !(confirmed && last_look.get(&hid).is_none_or(|t| t.elapsed() >= step) || due) {
                    continue;
                }
                last_look.insert(hid, Instant::now());
                // A busy devnet may not answer in time: look again later, until the deadline.
                let report = match self.reports(id, hid) {
                    Ok((report, _)) => report,
                    Err(e) => {
                        last_error = Some(format!("{e:#}"));
                        None
                    }
                };
                if let Some(r) = report {
                    let round = journal
                        .as_ref()
                        .and_then(|j| j["report"]["confirmed"]["round"].as_u64());
                    landed.insert(
                        hid,
                        Landed {
                            status: r.status,
                            generation: r.generation,
                            toplevel_sha256: r.toplevel_sha256,
                            after: since.elapsed(),
                            round,
                        },
                    );
                }
            }
            if landed.len() == hosts.len() {
                // The report's round, once the journals record its confirmation.
                let t = Instant::now();
                while landed.values().any(|l| l.round.is_none())
                    && t.elapsed() < Duration::from_secs(5)
                {
                    interrupt::sleep(Duration::from_millis(50))?;
                    for (hid, l) in landed.iter_mut().filter(|(_, l)| l.round.is_none()) {
                        if let Some(h) = self.hosts.iter().find(|h| h.id == *hid) {
                            l.round = h
                                .journal(id)?
                                .and_then(|j| j["report"]["confirmed"]["round"].as_u64());
                        }
                    }
                }
                return Ok(landed);
            }
            if start.elapsed() > timeout {
                bail!(
                    "proposal {id}: no report after {} s from host(s) {:?}; their logs are in \
                     {}/hosts/*/var/log/dao-agent.log (run with --keep to look){}",
                    timeout.as_secs(),
                    hosts
                        .iter()
                        .filter(|h| !landed.contains_key(h))
                        .collect::<Vec<_>>(),
                    self.root.display(),
                    last_error
                        .map(|e| format!("; the last chain error: {e}"))
                        .unwrap_or_default()
                );
            }
            let shown: Vec<String> = self
                .hosts
                .iter()
                .filter(|h| hosts.contains(&h.id))
                .take(4)
                .map(|h| format!("{} {}", h.name, self.host_step(h, id)))
                .collect();
            let more = if hosts.len() > 4 {
                format!(" (+{} more; {} reported)", hosts.len() - 4, landed.len())
            } else {
                String::new()
            };
            let round = self.last_round().unwrap_or(0);
            self.story.progress(
                &format!("proposal {id}: {}{more}", shown.join(" · ")),
                &format!("{:.1} s, round {round}", since.elapsed().as_secs_f64()),
            );
            interrupt::sleep(Duration::from_millis(100))?;
        }
    }

    /// Every ExecutionReported event of the app: `(round, proposal, host, status)`.
    pub fn report_events(&self) -> Result<Vec<(u64, u64, u64, ReportStatus)>> {
        let last = self.last_round()?;
        let mut out = Vec::new();
        for round in self.sealed_round..=last {
            for (_, app_id, lines) in self.chain(self.app.node.block_logs(round))? {
                if app_id != self.app.app_id {
                    continue;
                }
                for l in lines {
                    if let Ok(Log::Event(AppEvent::ExecutionReported {
                        id,
                        host_id,
                        status,
                        ..
                    })) = decode_log(&l)
                    {
                        out.push((round, id, host_id, status));
                    }
                }
            }
        }
        Ok(out)
    }

    /// The last round and when it was made (wall-clock ms), from algod's
    /// `time-since-last-round`: exact to a millisecond or so, whatever the answer's latency.
    pub fn last_block_made(&self) -> Result<(u64, u64)> {
        use std::io::{Read, Write};
        let addr = self.devnet.url.trim_start_matches("http://").to_owned();
        let mut s = std::net::TcpStream::connect(&addr)?;
        s.set_read_timeout(Some(Duration::from_secs(15)))?;
        let asked = now_ms();
        write!(
            s,
            "GET /v2/status HTTP/1.0\r\nHost: {addr}\r\nX-Algo-API-Token: {}\r\n\r\n",
            self.devnet.token()?
        )?;
        let mut text = String::new();
        s.read_to_string(&mut text)?;
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b)
            .context("algod's status has no body")?;
        let v: serde_json::Value = serde_json::from_str(body).context("algod's status")?;
        let round = v["last-round"].as_u64().context("status: no last-round")?;
        let since_ns = v["time-since-last-round"].as_u64().unwrap_or(0);
        Ok((round, asked.saturating_sub(since_ns / 1_000_000)))
    }

    /// Records when each new block appears, from now on.
    pub fn block_clock(&self) -> Result<BlockClock> {
        let clock = BlockClock::default();
        let seen = Arc::clone(&clock.seen);
        let node = self.app.node.clone();
        let mut last = self.last_round()?;
        seen.lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(last, now_ms());
        self.rt.spawn(async move {
            while let Ok(r) = node.wait_for_block_after(last).await {
                let t = now_ms();
                let mut m = seen.lock().unwrap_or_else(|e| e.into_inner());
                for round in last + 1..=r {
                    m.insert(round, t);
                }
                drop(m);
                last = last.max(r);
            }
        });
        Ok(clock)
    }

    /// Stops every agent, bus, the git daemon and the devnet, in that order; the first error.
    pub fn stop(&mut self) -> Result<()> {
        let mut first: Result<()> = Ok(());
        for h in &mut self.hosts {
            if let Err(e) = h.stop() {
                if first.is_ok() {
                    first = Err(e);
                }
            }
        }
        if let Err(e) = self.repo.stop() {
            if first.is_ok() {
                first = Err(e);
            }
        }
        if let Err(e) = self.devnet.stop() {
            if first.is_ok() {
                first = Err(e);
            }
        }
        first
    }

    /// The PIDs of everything the fleet started (to check they are gone afterwards).
    pub fn pids(&self) -> Vec<u32> {
        let mut out = vec![self.devnet.pid(), self.repo.daemon_pid()];
        for h in &self.hosts {
            out.extend(h.agent_pid());
            out.extend(h.bus_pid());
        }
        out
    }

    pub fn all_ids(&self) -> Vec<u64> {
        self.hosts.iter().map(|h| h.id).collect()
    }

    pub fn keep(&mut self, keep: bool) {
        self.dir.keep = keep;
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        let n = self.pids().len();
        match self.stop() {
            Ok(()) => self.story.say(&format!(
                "stopped the {n} processes the fleet started (agents, buses, git daemon, devnet){}",
                if self.dir.keep {
                    String::new()
                } else {
                    format!(" and removed {}", self.root.display())
                }
            )),
            Err(e) => eprintln!("dao-fleet: stopping the fleet: {e}"),
        }
    }
}

/// What `start` holds before the app exists.
struct Parts {
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
            "# Demo rules: a 10-minute vote that ends as soon as it is decided, no timelock.\n\
             voting_delay = 0\nvoting_period = 600\nsupport_ppm = 500000\nquorum_ppm = 200000\n\
             emergency_period = 300\nemergency_support_ppm = 666667\ntimelock = 0\n\
             grace_period = 86400\nmin_proposer_weight = 1\nvote_cap_ppm = 0\n";
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
        self.story.ok(&format!(
            "DAO formed: app {app_id}; members {}; hosts {}{}; sealed in round {round}; \
             dao-spec.toml written [{:.1} s]",
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

fn output(mut c: Command) -> Result<CtlRun> {
    let out = c
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("cannot run {:?}", c.get_program()))?;
    Ok(CtlRun {
        success: out.status.success(),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

fn ctl_run(bin: &Path, cwd: &Path, args: &[String]) -> Result<CtlRun> {
    interrupt::check()?;
    let mut c = Command::new(bin);
    c.args(args).current_dir(cwd).env("NIX_CONFIG", NIX_CONFIG);
    output(c)
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
