//! `dao-agentctl` as the fleet's members and operators run it: chain commands from the members'
//! checkout (where dao-spec.toml is), local commands over a host's system bus.

use super::{CtlRun, Fleet, Member, TOKEN};
use crate::bins::NIX_CONFIG;
use crate::host::Host;
use crate::interrupt;
use crate::repo::Flake;
use crate::story::short;
use anyhow::{bail, Context, Result};
use dao_chain::decode::Targets;
use std::path::Path;
use std::process::{Command, Stdio};

pub(super) fn ctl_display(args: &[String]) -> String {
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

    /// Like [`Fleet::ctl`] without showing the command: what the harness reads for itself
    /// (polling a host's status, JSON behind a line already shown).
    pub fn ctl_quiet(&self, args: &[String]) -> Result<CtlRun> {
        ctl_run(&self.bins.agentctl, &self.repo.work, args)
    }

    /// `dao-agentctl status --json` of a host, not shown (for polling).
    pub fn status_quiet(&self, host: &Host) -> Result<serde_json::Value> {
        let args = [
            "status".into(),
            "--json".into(),
            "--bus".into(),
            host.bus_address.clone(),
        ];
        let r = self.ctl_quiet(&args)?;
        if !r.success {
            bail!(
                "`dao-agentctl status` of {} failed: {}",
                host.name,
                r.stderr.trim()
            );
        }
        r.json()
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

    /// `args` with the signing key (a path from the checkout: `../keys/NAME.key`) and the
    /// devnet's token file.
    pub(crate) fn chain_args(&self, mut args: Vec<String>, key: Option<&str>) -> Vec<String> {
        if let Some(k) = key {
            args.push("--key".into());
            args.push(k.to_owned());
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
            .ctl_ok(&self.chain_args(args, Some(&proposer.key)))?
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
        let v = self
            .ctl_ok(&self.chain_args(args, Some(&member.key)))?
            .json()?;
        v["round"].as_u64().context("vote printed no round")
    }

    /// `dao-agentctl finalize ID`: the round and the new state (queued or defeated).
    pub fn finalize(&self, id: u64, member: &Member) -> Result<(u64, String)> {
        let args = vec!["finalize".into(), id.to_string(), "--json".into()];
        let v = self
            .ctl_ok(&self.chain_args(args, Some(&member.key)))?
            .json()?;
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
}

pub(super) fn output(mut c: Command) -> Result<CtlRun> {
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

pub(super) fn ctl_run(bin: &Path, cwd: &Path, args: &[String]) -> Result<CtlRun> {
    interrupt::check()?;
    let mut c = Command::new(bin);
    c.args(args).current_dir(cwd).env("NIX_CONFIG", NIX_CONFIG);
    output(c)
}
