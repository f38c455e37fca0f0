//! Diff-hash throughput against the pipeline it replaces, on the same repository in one run:
//!
//!     cargo bench -p dao-core --bench diff_hash
//!
//! Generates a repository whose head commit changes 10,000 files holding about 1 GiB in all
//! (DAO_BENCH_FILES and DAO_BENCH_MIB change that), then times `dao_core::diff_hash` and
//! `git diff --binary --full-index BASE HEAD | sha256sum`, each best of three, and prints both
//! times and their ratio. The target is to be no slower than the git pipeline.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a bench fails loudly

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Deterministic text that neither compresses to nothing nor diffs trivially: lines of hex.
fn content(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 80);
    while out.len() < len {
        for _ in 0..4 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            out.extend_from_slice(format!("{x:016x} ").as_bytes());
        }
        out.push(b'\n');
    }
    out.truncate(len);
    out
}

fn git(dir: &Path) -> Command {
    let mut c = Command::new("git");
    c.arg("-C")
        .arg(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1");
    c
}

fn generate(dir: &Path, files: u64, total: u64) -> (String, String) {
    assert!(git(dir)
        .args(["init", "-q", "-b", "main"])
        .status()
        .unwrap()
        .success());
    let mut fi = git(dir)
        .args(["fast-import", "--quiet"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut w = std::io::BufWriter::new(fi.stdin.take().unwrap());
    let big = (total / files.max(1)) as usize;
    for (n, (label, size)) in [("base", 1024usize), ("head", big)].into_iter().enumerate() {
        writeln!(w, "commit refs/heads/main").unwrap();
        writeln!(
            w,
            "committer Bench <bench@example.org> {} +0000",
            1_700_000_000 + n
        )
        .unwrap();
        writeln!(w, "data {}\n{label}", label.len()).unwrap();
        for i in 0..files {
            let body = content(i * 2 + n as u64, size);
            writeln!(w, "M 100644 inline hosts/d{:03}/f{i:05}.nix", i % 100).unwrap();
            writeln!(w, "data {}", body.len()).unwrap();
            w.write_all(&body).unwrap();
            writeln!(w).unwrap();
        }
    }
    drop(w);
    assert!(fi.wait().unwrap().success());
    let rev = |r: &str| {
        let o = git(dir).args(["rev-parse", r]).output().unwrap();
        String::from_utf8(o.stdout).unwrap().trim().to_owned()
    };
    (rev("main~1"), rev("main"))
}

fn best_of<T>(n: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best: Option<(Duration, T)> = None;
    for _ in 0..n {
        let t = Instant::now();
        let v = f();
        let d = t.elapsed();
        if best.as_ref().is_none_or(|(b, _)| d < *b) {
            best = Some((d, v));
        }
    }
    best.unwrap()
}

fn main() {
    let files = env_or("DAO_BENCH_FILES", 10_000);
    let mib = env_or("DAO_BENCH_MIB", 1024);
    let dir = tempfile::tempdir().unwrap();
    eprintln!("generating {files} changed files, {mib} MiB of changed content …");
    let t = Instant::now();
    let (base, head) = generate(dir.path(), files, mib << 20);
    eprintln!("generated in {:.1} s", t.elapsed().as_secs_f64());

    let repo = git2::Repository::open(dir.path()).unwrap();
    let b = git2::Oid::from_str(&base).unwrap();
    let h = git2::Oid::from_str(&head).unwrap();
    let (ours, summary) = best_of(3, || dao_core::diff_hash::diff_hash(&repo, b, h).unwrap());

    let pipeline = format!(
        "git -C '{}' diff --binary --full-index {base} {head} | sha256sum",
        dir.path().display()
    );
    let (theirs, out) = best_of(3, || {
        Command::new("sh")
            .args(["-c", &pipeline])
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .unwrap()
    });
    assert!(out.status.success(), "the git pipeline failed");

    let mb = summary.bytes_hashed as f64 / (1 << 20) as f64;
    println!(
        "diff-hash benchmark: {} changed paths, {:.0} MiB of content on both sides",
        summary.changed_paths, mb
    );
    println!("{:<52} {:>9} {:>11}", "", "seconds", "MiB/s");
    println!(
        "{:<52} {:>9.3} {:>11.0}",
        "dao_core::diff_hash",
        ours.as_secs_f64(),
        mb / ours.as_secs_f64()
    );
    println!(
        "{:<52} {:>9.3} {:>11.0}",
        "git diff --binary --full-index | sha256sum",
        theirs.as_secs_f64(),
        mb / theirs.as_secs_f64()
    );
    println!(
        "ratio (git pipeline time / diff_hash time): {:.2}×  (target ≥ 1.00)",
        theirs.as_secs_f64() / ours.as_secs_f64()
    );
    println!("{}", summary.diff_hash);
}
