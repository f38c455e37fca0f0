//! Test support shared by the workspace's test suites: git without the user's configuration,
//! a git daemon on 127.0.0.1, and the Nix settings that let Debian's nix-bin build offline.
//! Test code: it panics on failure, by design.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod bus;
pub mod systemd;

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Nix settings for tests: flakes, no sandbox (no build users here), no substituters (no network).
pub const NIX_CONFIG: &str =
    "experimental-features = nix-command flakes\nsandbox = false\nsubstituters =\nbuild-users-group =";

/// A `git` command in `dir` that ignores the user's and system's configuration and has a fixed
/// identity.
pub fn git_command(dir: &Path) -> Command {
    let mut c = Command::new("git");
    c.arg("-C")
        .arg(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.org")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.org");
    c
}

/// Runs git in `dir`, panics on failure, returns its trimmed stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    git_stdin(dir, args, None)
}

/// Runs git in `dir` with `stdin` as its input.
pub fn git_stdin(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> String {
    let mut child = git_command(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `git daemon` serving the repositories under a directory on 127.0.0.1; stopped, by its PID,
/// on drop.
pub struct GitDaemon {
    pid: u32,
    pub port: u16,
    _pid_dir: tempfile::TempDir,
}

impl GitDaemon {
    pub fn start(base: &Path) -> GitDaemon {
        for _ in 0..20 {
            let port = free_port();
            let pid_dir = tempfile::tempdir().unwrap();
            let pid_file = pid_dir.path().join("pid");
            let ok = Command::new("git")
                .args([
                    "daemon",
                    "--export-all",
                    "--reuseaddr",
                    "--listen=127.0.0.1",
                    "--detach",
                ])
                .arg(format!("--port={port}"))
                .arg(format!("--base-path={}", base.display()))
                .arg(format!("--pid-file={}", pid_file.display()))
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .status()
                .unwrap()
                .success();
            if !ok {
                continue;
            }
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(5) {
                let pid = std::fs::read_to_string(&pid_file)
                    .ok()
                    .and_then(|p| p.trim().parse().ok());
                if let Some(pid) = pid {
                    if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                        return GitDaemon {
                            pid,
                            port,
                            _pid_dir: pid_dir,
                        };
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("git daemon did not start");
    }

    /// The git:// URL of a repository it serves.
    pub fn url(&self, repo: &str) -> String {
        format!("git://127.0.0.1:{}/{repo}", self.port)
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.pid.to_string()).status();
    }
}

/// The repository's root, for test programs that live there (devnet/run).
pub fn repo_root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A devnet (devnet/run) on 127.0.0.1, port 0, in a temporary state directory; SIGTERM by PID
/// on drop. Needs the repository's .venv (scripts/test creates it).
pub struct Devnet {
    child: std::process::Child,
    pub pid: u32,
    pub url: String,
    pub token_file: std::path::PathBuf,
    pub dir: tempfile::TempDir,
}

impl Devnet {
    pub fn start() -> Devnet {
        use std::io::BufRead;
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("dn");
        let mut child = Command::new(repo_root().join("devnet/run"))
            .args(["--port", "0", "--accounts", "8", "--state-dir"])
            .arg(&state)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start devnet/run");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let ready: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("devnet ready line {line:?}: {e}"));
        let pid = u32::try_from(ready["pid"].as_u64().unwrap()).unwrap();
        assert_eq!(pid, child.id(), "devnet/run execs down to the server");
        Devnet {
            child,
            pid,
            url: ready["url"].as_str().unwrap().to_owned(),
            token_file: ready["token_file"].as_str().unwrap().into(),
            dir,
        }
    }

    /// The key file (mode 0600, 25-word mnemonic) of prefunded dev account `n` (1-based).
    pub fn key_file(&self, n: u32) -> std::path::PathBuf {
        self.dir.path().join(format!("dn/accounts/dev{n}.mnemonic"))
    }

    /// The address of dev account `n`.
    pub fn address(&self, n: u32) -> String {
        let accounts: serde_json::Value = serde_json::from_slice(
            &std::fs::read(self.dir.path().join("dn/accounts.json")).unwrap(),
        )
        .unwrap();
        accounts[format!("dev{n}")].as_str().unwrap().to_owned()
    }

    /// Moves block time forward by `seconds` (one empty block).
    pub fn advance(&self, seconds: u64) {
        let token = std::fs::read_to_string(&self.token_file).unwrap();
        let addr = self.url.trim_start_matches("http://");
        let body = format!("{{\"seconds\": {seconds}}}");
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        write!(
            s,
            "POST /devnet/advance HTTP/1.1\r\nHost: {addr}\r\nX-Algo-API-Token: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            token.trim(),
            body.len()
        )
        .unwrap();
        let mut out = String::new();
        std::io::Read::read_to_string(&mut s, &mut out).unwrap();
        assert!(out.contains("round"), "advance: {out}");
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `promtool check metrics` on a scrape: its output when it refuses it.
pub fn promtool_check_metrics(promtool: &Path, text: &str) -> Result<(), String> {
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// xorshift64*: a fixed sequence from a seed, so a seeded test checks the same cases every run.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A value below `n` (which must not be 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}
