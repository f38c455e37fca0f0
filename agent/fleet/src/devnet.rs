//! The devnet (devnet/run): an algod-compatible endpoint on 127.0.0.1 over go-algorand's
//! evaluator, with prefunded dev accounts.

use crate::interrupt;
use crate::process::Proc;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub struct Devnet {
    proc: Proc,
    pub url: String,
    pub token_file: PathBuf,
    /// The state directory: token, dev accounts' keys.
    pub dir: PathBuf,
    pub log: PathBuf,
}

impl Devnet {
    /// Starts `devnet/run` with `accounts` dev accounts; its files go under `dir`.
    pub fn start(
        repo: &Path,
        dir: &Path,
        accounts: u32,
        block_interval: &str,
        log: &Path,
    ) -> Result<Devnet> {
        let venv = repo.join(".venv/bin/python");
        if !venv.is_file() {
            bail!(
                "the devnet needs the repository's venv ({} is missing): run scripts/demo, which \
                 creates it, or `python3 -m venv .venv && .venv/bin/pip install -r \
                 contracts/requirements.txt`",
                venv.display()
            );
        }
        let ready_file = dir.with_extension("ready");
        let mut cmd = Command::new(repo.join("devnet/run"));
        cmd.args(["--port", "0", "--accounts", &accounts.to_string()])
            .args(["--block-interval", block_interval])
            .arg("--state-dir")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&ready_file)?)
            .stderr(std::fs::File::create(log)?);
        let mut proc = Proc::spawn("the devnet", cmd)?;
        let start = Instant::now();
        let ready: serde_json::Value = loop {
            interrupt::check()?;
            let text = std::fs::read_to_string(&ready_file).unwrap_or_default();
            if let Some(line) = text.lines().next().filter(|_| text.contains('\n')) {
                break serde_json::from_str(line)
                    .with_context(|| format!("the devnet's ready line {line:?}"))?;
            }
            if let Some(status) = proc.exited() {
                bail!(
                    "the devnet exited ({status}) before it was ready:\n{}",
                    tail(log)
                );
            }
            if start.elapsed() > Duration::from_secs(90) {
                bail!("the devnet was not ready after 90 s:\n{}", tail(log));
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let url = ready["url"]
            .as_str()
            .context("the devnet's ready line has no url")?
            .to_owned();
        let token_file = ready["token_file"]
            .as_str()
            .context("the devnet's ready line has no token_file")?
            .into();
        Ok(Devnet {
            proc,
            url,
            token_file,
            dir: dir.to_path_buf(),
            log: log.to_path_buf(),
        })
    }

    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    pub fn token(&self) -> Result<String> {
        Ok(std::fs::read_to_string(&self.token_file)
            .with_context(|| format!("reading {}", self.token_file.display()))?
            .trim()
            .to_owned())
    }

    /// The key file of dev account `n` (1-based): a 25-word mnemonic, mode 0600.
    pub fn key_file(&self, n: u32) -> PathBuf {
        self.dir.join(format!("accounts/dev{n}.mnemonic"))
    }

    /// The address of dev account `n`.
    pub fn address(&self, n: u32) -> Result<String> {
        let path = self.dir.join("accounts.json");
        let accounts: serde_json::Value = serde_json::from_slice(
            &std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?,
        )?;
        Ok(accounts[format!("dev{n}")]
            .as_str()
            .with_context(|| format!("the devnet has no account dev{n}"))?
            .to_owned())
    }

    /// Stops the devnet (SIGTERM; it answers pending long polls and exits).
    pub fn stop(&mut self) -> Result<()> {
        self.proc.stop(crate::process::GRACE)
    }
}

/// The last lines of a log file, for errors.
pub fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}
