//! The governed repository: a flake whose hosts' toplevels build offline, its members' checkout,
//! and the bare copy a `git daemon` serves on 127.0.0.1 (what the hosts fetch from).

use crate::interrupt;
use crate::process::Proc;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One host's configuration in the flake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostConfig {
    pub version: u32,
    /// The message of the day: the visible part of the configuration.
    pub motd: String,
    /// Whether the system passes its health check (`/run/current-system/healthy` exists).
    pub healthy: bool,
    /// SSH keys allowed to log in as root (what a tampered change would like to add).
    pub root_keys: Vec<String>,
    /// Whether the toplevel builds to the same bytes everywhere. When false, its build writes
    /// the build time and random bytes into `etc/build-id`: every builder gets another
    /// closure, which is what validators exist to catch.
    pub reproducible: bool,
}

impl HostConfig {
    pub fn new(version: u32, motd: &str) -> HostConfig {
        HostConfig {
            version,
            motd: motd.to_owned(),
            healthy: true,
            root_keys: Vec::new(),
            reproducible: true,
        }
    }
}

/// The fleet's flake: `nixosConfigurations.<host>.config.system.build.toplevel` for each host,
/// the agent's default flake output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flake {
    pub hosts: BTreeMap<String, HostConfig>,
}

fn nix_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '$' => out.push_str("\\$"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Flake {
    /// The flake.nix text.
    pub fn render(&self) -> String {
        let system = format!("{}-linux", std::env::consts::ARCH);
        let mut hosts = String::new();
        for (name, h) in &self.hosts {
            let keys: String = h
                .root_keys
                .iter()
                .map(|k| format!("{} ", nix_string(k)))
                .collect();
            // Only a host that is not reproducible names the flag: the others' text, and so
            // their derivations, stay what they were.
            let reproducible = if h.reproducible {
                ""
            } else {
                "          reproducible = false;\n"
            };
            hosts.push_str(&format!(
                "        {name} = host {{\n          name = {};\n          version = {};\n          \
                 motd = {};\n          healthy = {};\n          rootKeys = [ {}];\n{reproducible}        }};\n",
                nix_string(name),
                h.version,
                nix_string(&h.motd),
                h.healthy,
                keys,
            ));
        }
        format!(
            r#"# The fleet's NixOS configurations, governed by nixos-dao-governance: a change reaches a
# host only as an approved proposal.
#
# A stand-in for real NixOS systems, so that it builds offline without nixpkgs: each host's
# toplevel is a plain derivation whose bin/switch-to-configuration, like NixOS's, points the
# host's /run/current-system at itself. In the demo a host's "/" is its sandbox directory,
# which its agent passes on as DAO_FLEET_HOST_ROOT.
{{
  outputs = {{ self }}:
    let
      toplevel = {{ name, version, motd, healthy, rootKeys, reproducible ? true }}: derivation {{
        name = "nixos-system-${{name}}-${{toString version}}";
        system = "{system}";
        builder = "/bin/sh";
        PATH = "/usr/bin:/bin";
        inherit motd;
        keys = builtins.concatStringsSep "\n" rootKeys;
        healthy = if healthy then "1" else "";
        args = [ "-c" (''
          set -eu
          mkdir -p $out/bin $out/etc/ssh
          printf '%s\n' "$motd" > $out/etc/motd
          printf '%s\n' "$keys" > $out/etc/ssh/authorized_keys.root
          if [ -n "$healthy" ]; then touch $out/healthy; fi
          cat > $out/bin/switch-to-configuration <<EOF
          #!/bin/sh
          # switch-to-configuration of ${{name}} v${{toString version}}: a stand-in (see flake.nix).
          set -eu
          root="\''${{DAO_FLEET_HOST_ROOT:?not a sandboxed demo host}}"
          mkdir -p "\$root/run"
          ln -sfn $out "\$root/run/current-system"
          echo "\$(date +%s%3N) ${{name}} v${{toString version}} \$1" >> "\$root/switch.log"
          EOF
          chmod +x $out/bin/switch-to-configuration
        '' + (if reproducible then "" else ''
          # Not reproducible on purpose: no two builds of this system give the same bytes.
          printf '%s %s\n' "$(date +%s%N)" "$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" \
            > $out/etc/build-id
        '')) ];
      }};
      host = args: {{ config.system.build.toplevel = toplevel args; }};
    in {{
      nixosConfigurations = {{
{hosts}      }};
    }};
}}
"#
        )
    }
}

/// A `git` command that ignores the user's and system's configuration.
pub fn git(dir: &Path) -> Command {
    let mut c = Command::new("git");
    c.arg("-C")
        .arg(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null());
    c
}

/// Runs a command, returns its trimmed stdout; a failure names the command and its stderr.
pub fn run(mut cmd: Command) -> Result<String> {
    let desc = format!("{:?}", cmd);
    let out = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("cannot run {desc}"))?;
    if !out.status.success() {
        bail!(
            "{desc} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

pub struct GovernedRepo {
    /// The members' checkout (branch main).
    pub work: PathBuf,
    /// The bare repository the git daemon serves.
    pub served: PathBuf,
    /// What hosts fetch from: `git://127.0.0.1:PORT/fleet.git`.
    pub url: String,
    pub genesis: String,
    daemon: Proc,
}

impl GovernedRepo {
    /// Creates the checkout with `flake` as its genesis commit, the served bare copy, and the
    /// git daemon.
    pub fn create(root: &Path, flake: &Flake) -> Result<GovernedRepo> {
        let work = root.join("work");
        let srv = root.join("git");
        let served = srv.join("fleet.git");
        std::fs::create_dir_all(&work)?;
        std::fs::create_dir_all(&srv)?;
        run({
            let mut c = git(&work);
            c.args(["init", "-q", "-b", "main"]);
            c
        })?;
        std::fs::write(work.join("flake.nix"), flake.render())?;
        std::fs::write(
            work.join(".gitignore"),
            "# written by `dao-agentctl form`; commit it in a real fleet\ndao-spec.toml\nrules.toml\n",
        )?;
        let genesis = commit_all(&work, "alice", "fleet: genesis, every host on v1")?;
        run({
            let mut c = Command::new("git");
            c.env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .args(["clone", "-q", "--bare"])
                .arg(&work)
                .arg(&served);
            c
        })?;
        // libgit2 speaks protocol v0/v1: fetching a commit by id needs this.
        run({
            let mut c = git(&served);
            c.args(["config", "uploadpack.allowReachableSHA1InWant", "true"]);
            c
        })?;
        let (daemon, port) = start_git_daemon(&srv, root)?;
        Ok(GovernedRepo {
            work,
            served,
            url: format!("git://127.0.0.1:{port}/fleet.git"),
            genesis,
            daemon,
        })
    }

    pub fn daemon_pid(&self) -> u32 {
        self.daemon.pid()
    }

    /// Stops the git daemon.
    pub fn stop(&mut self) -> Result<()> {
        self.daemon.stop(crate::process::GRACE)
    }

    /// Commits `flake` on top of `parent` (any revision) as `author`; moves `branch` there.
    pub fn commit(
        &self,
        branch: &str,
        parent: &str,
        author: &str,
        message: &str,
        flake: &Flake,
    ) -> Result<String> {
        run({
            let mut c = git(&self.work);
            c.args(["switch", "-q", "-C", branch, parent]);
            c
        })?;
        std::fs::write(self.work.join("flake.nix"), flake.render())?;
        let id = commit_all(&self.work, author, message)?;
        run({
            let mut c = git(&self.work);
            c.args(["switch", "-q", "main"]);
            c
        })?;
        Ok(id)
    }

    /// Pushes `rev` to the served repository as `refs/heads/<branch>`.
    pub fn push(&self, rev: &str, branch: &str) -> Result<()> {
        run({
            let mut c = git(&self.work);
            c.arg("push")
                .arg("-q")
                .arg("-f")
                .arg(&self.served)
                .arg(format!("{rev}:refs/heads/{branch}"));
            c
        })?;
        Ok(())
    }

    /// The files a change touches, for the narration.
    pub fn changed_files(&self, base: &str, head: &str) -> Result<String> {
        run({
            let mut c = git(&self.work);
            c.args(["diff", "--stat=72", base, head]);
            c
        })
    }

    /// The unified diff of a change (for the narration).
    pub fn diff(&self, base: &str, head: &str) -> Result<String> {
        run({
            let mut c = git(&self.work);
            c.args(["diff", "-U0", "--no-color", base, head]);
            c
        })
    }
}

fn commit_all(work: &Path, author: &str, message: &str) -> Result<String> {
    let email = format!("{author}@fleet.example.org");
    run({
        let mut c = git(work);
        c.args(["add", "-A"]);
        c
    })?;
    run({
        let mut c = git(work);
        c.env("GIT_AUTHOR_NAME", author)
            .env("GIT_AUTHOR_EMAIL", &email)
            .env("GIT_COMMITTER_NAME", author)
            .env("GIT_COMMITTER_EMAIL", &email)
            .args(["commit", "-q", "-m", message]);
        c
    })?;
    run({
        let mut c = git(work);
        c.args(["rev-parse", "HEAD"]);
        c
    })
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn start_git_daemon(base: &Path, root: &Path) -> Result<(Proc, u16)> {
    let mut last = String::new();
    for attempt in 0..10 {
        interrupt::check()?;
        let port = free_port()?;
        let pid_file = root.join(format!("git-daemon.{attempt}.pid"));
        let out = Command::new("git")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .args([
                "daemon",
                "--export-all",
                "--reuseaddr",
                "--listen=127.0.0.1",
                // Every agent fetches at once; the default limit (32) would turn some away.
                "--max-connections=0",
                "--detach",
            ])
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", base.display()))
            .arg(format!("--pid-file={}", pid_file.display()))
            .stdin(Stdio::null())
            .output()
            .context("cannot run `git daemon`")?;
        if !out.status.success() {
            last = String::from_utf8_lossy(&out.stderr).into_owned();
            continue;
        }
        let start = Instant::now();
        let mut proc = None;
        while start.elapsed() < Duration::from_secs(10) {
            if proc.is_none() {
                proc = std::fs::read_to_string(&pid_file)
                    .ok()
                    .and_then(|p| p.trim().parse::<u32>().ok())
                    .map(|pid| Proc::detached("the git daemon", pid, "daemon"));
            }
            if let Some(p) = proc.take() {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Ok((p, port));
                }
                proc = Some(p);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // Dropping `proc` stops a daemon that started but never listened.
        last = "it did not listen within 10 s".into();
    }
    bail!("the git daemon did not start: {last}")
}
