//! Diff-hash speed and peak memory against the pipeline it replaces, on the same repository in
//! one run:
//!
//!     cargo bench -p dao-core --bench diff_hash
//!
//! Generates a repository whose head commit changes 10,000 files holding about 1 GiB in all
//! (DAO_BENCH_FILES and DAO_BENCH_MIB change that; DAO_BENCH_REPO=DIR keeps the repository in
//! DIR and reuses it on the next run, for profiling), then runs `dao_core::diff_hash` and
//! `git diff --binary --full-index BASE HEAD | sha256sum` three times each (DAO_BENCH_RUNS),
//! alternately, so that both sides meet the same load of a shared machine, every run in a fresh
//! child process. For each side it prints the best wall time, the best CPU time (steadier
//! than the wall clock on a busy machine, but blind to our use of every core) and the peak
//! resident memory, then the ratios. The peak is the kernel's own figure (VmHWM for ours; for
//! git's, ru_maxrss of the pipeline's processes, the larger of git and sha256sum): pages mapped
//! from the pack count, as they do for an operator watching the host.
//!
//! Targets (docs/diff-hash.md, "Cost"): at least 4× faster than the git pipeline, and a peak
//! under 64 MiB.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a bench fails loudly

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

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

fn rev(dir: &Path, r: &str) -> String {
    let o = git(dir).args(["rev-parse", r]).output().unwrap();
    assert!(
        o.status.success(),
        "git rev-parse {r} failed in {}",
        dir.display()
    );
    String::from_utf8(o.stdout).unwrap().trim().to_owned()
}

fn generate(dir: &Path, files: u64, total: u64) {
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
}

/// The peak resident set of this process so far, from the kernel, in bytes.
fn own_peak() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap();
    kb << 10
}

/// CPU seconds (user and system) and, for the children, the largest peak resident set in bytes,
/// of this process or of its waited-for descendants.
fn usage(who: nix::sys::resource::UsageWho) -> (f64, u64) {
    let u = nix::sys::resource::getrusage(who).expect("getrusage");
    let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    (
        secs(u.user_time()) + secs(u.system_time()),
        (u.max_rss() as u64) << 10,
    )
}

/// Child mode: one measurement, printed as `seconds cpu_seconds peak_bytes hash`.
fn child(side: &str, repo: &Path, base: &str, head: &str) {
    use nix::sys::resource::UsageWho;
    let t = Instant::now();
    let (hash, (cpu, peak)) = match side {
        "ours" => {
            let r = git2::Repository::open(repo).unwrap();
            let b = git2::Oid::from_str(base).unwrap();
            let h = git2::Oid::from_str(head).unwrap();
            let s = dao_core::diff_hash::diff_hash(&r, b, h).unwrap();
            (
                format!("{} {} {}", s.diff_hash, s.changed_paths, s.bytes_hashed),
                (usage(UsageWho::RUSAGE_SELF).0, own_peak()),
            )
        }
        "git" => {
            let pipeline = format!(
                "git -C '{}' diff --binary --full-index {base} {head} | sha256sum",
                repo.display()
            );
            let out = Command::new("sh")
                .args(["-c", &pipeline])
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .output()
                .unwrap();
            assert!(out.status.success(), "the git pipeline failed");
            let sum = String::from_utf8_lossy(&out.stdout);
            (
                sum.split_whitespace().next().unwrap_or("").to_owned(),
                usage(UsageWho::RUSAGE_CHILDREN),
            )
        }
        other => panic!("unknown side {other}"),
    };
    let secs = t.elapsed().as_secs_f64();
    println!("{secs} {cpu} {peak} {hash}");
}

struct Measured {
    best_secs: f64,
    best_cpu: f64,
    peak_bytes: u64,
    output: String,
}

impl Measured {
    fn new() -> Measured {
        Measured {
            best_secs: f64::INFINITY,
            best_cpu: f64::INFINITY,
            peak_bytes: 0,
            output: String::new(),
        }
    }
}

/// One more run of `side`, folded into `m`.
fn measure(m: &mut Measured, side: &str, repo: &Path, base: &str, head: &str) {
    let me = std::env::current_exe().unwrap();
    let out = Command::new(&me)
        .args(["--child", side])
        .arg(repo)
        .args([base, head])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the {side} child failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut f = text.trim().splitn(4, ' ');
    let secs: f64 = f.next().unwrap().parse().unwrap();
    let cpu: f64 = f.next().unwrap().parse().unwrap();
    let peak: u64 = f.next().unwrap().parse().unwrap();
    m.best_secs = m.best_secs.min(secs);
    m.best_cpu = m.best_cpu.min(cpu);
    m.peak_bytes = m.peak_bytes.max(peak);
    m.output = f.next().unwrap_or("").to_owned();
}

/// The machine's load average over the last minute, as the kernel reports it.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        child(&args[2], Path::new(&args[3]), &args[4], &args[5]);
        return;
    }
    let files = env_or("DAO_BENCH_FILES", 10_000);
    let mib = env_or("DAO_BENCH_MIB", 1024);
    let _tmp;
    let dir: PathBuf = match std::env::var_os("DAO_BENCH_REPO") {
        Some(d) => PathBuf::from(d),
        None => {
            _tmp = tempfile::tempdir().unwrap();
            _tmp.path().to_path_buf()
        }
    };
    if !dir.join(".git").exists() {
        std::fs::create_dir_all(&dir).unwrap();
        eprintln!("generating {files} changed files, {mib} MiB of changed content …");
        let t = Instant::now();
        generate(&dir, files, mib << 20);
        eprintln!("generated in {:.1} s", t.elapsed().as_secs_f64());
    }
    let (base, head) = (rev(&dir, "main~1"), rev(&dir, "main"));

    let load_before = load();
    let (mut ours, mut theirs) = (Measured::new(), Measured::new());
    for _ in 0..env_or("DAO_BENCH_RUNS", 3).max(1) {
        measure(&mut ours, "ours", &dir, &base, &head);
        measure(&mut theirs, "git", &dir, &base, &head);
    }
    let mut o = ours.output.split(' ');
    let (hash, paths, bytes) = (
        o.next().unwrap().to_owned(),
        o.next().unwrap().to_owned(),
        o.next().unwrap().parse::<u64>().unwrap(),
    );
    let mb = bytes as f64 / (1 << 20) as f64;
    let mib_of = |b: u64| b as f64 / (1 << 20) as f64;
    println!("diff-hash benchmark: {paths} changed paths, {mb:.0} MiB of content on both sides");
    println!(
        "load average {load_before} before, {} after, on {} cores",
        load(),
        std::thread::available_parallelism().map_or(1, usize::from)
    );
    println!(
        "{:<44} {:>9} {:>9} {:>12} {:>14}",
        "", "seconds", "MiB/s", "CPU seconds", "peak RSS MiB"
    );
    for (name, m) in [
        ("dao_core::diff_hash", &ours),
        ("git diff --binary --full-index | sha256sum", &theirs),
    ] {
        println!(
            "{:<44} {:>9.3} {:>9.0} {:>12.3} {:>14.1}",
            name,
            m.best_secs,
            mb / m.best_secs,
            m.best_cpu,
            mib_of(m.peak_bytes)
        );
    }
    println!(
        "speed: git pipeline time / diff_hash time = {:.2}×  (target ≥ 4.00); CPU time {:.2}× on {} cores",
        theirs.best_secs / ours.best_secs,
        theirs.best_cpu / ours.best_cpu,
        std::thread::available_parallelism().map_or(1, usize::from)
    );
    println!(
        "memory: diff_hash peak {:.1} MiB  (target < 64), git pipeline peak {:.1} MiB",
        mib_of(ours.peak_bytes),
        mib_of(theirs.peak_bytes)
    );
    println!("{hash}");
}
