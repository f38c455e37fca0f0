//! A short fuzzing run of every target without libFuzzer, for CI (docs/fuzzing.md): each target
//! replays its seeds, then runs for a few seconds on random mutations of them. There is no
//! coverage feedback (that takes the instrumented build of `cargo fuzz`, which is minutes of
//! compiling); this uses the ordinary build the test suite already made.
//!
//!     dao-fuzz-smoke [--seconds N] [--seed S] [--seeds DIR] [--artifacts DIR] [TARGET...]
//!     dao-fuzz-smoke TARGET FILE...      (runs the target once on each file: a replay)
//!
//! An input that breaks a property is written to the artifacts directory
//! (agent/fuzz/fuzz/artifacts/TARGET/, where `cargo fuzz` puts its own) and the run fails; the
//! message says how to replay it. The last line of stdout is a JSON summary.

// A panic is how a target reports a broken property; this program catches it.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use sha2::{Digest, Sha256};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

const MAX_LEN: usize = 4096;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const INTERESTING: [u8; 12] = [0, 1, 2, 3, 0x7f, 0x80, 0xff, 16, 32, 42, 77, 80];

/// One to eight random edits of a seed: bit flips, byte sets, boundary values, inserts,
/// deletions, duplicated ranges, splices from another seed, truncation.
fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut d = seeds[rng.below(seeds.len())].clone();
    for _ in 0..1 + rng.below(8) {
        let len = d.len();
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                d[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                d[i] = rng.next() as u8;
            }
            2 if len > 0 => {
                let i = rng.below(len);
                d[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            3 => {
                let i = rng.below(len + 1);
                let n = 1 + rng.below(8);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                d.splice(i..i, bytes);
            }
            4 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below(16.min(len - i));
                d.drain(i..i + n);
            }
            5 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below(32.min(len - i));
                let chunk = d[i..i + n].to_vec();
                let at = rng.below(len + 1);
                d.splice(at..at, chunk);
            }
            6 => {
                let other = &seeds[rng.below(seeds.len())];
                if !other.is_empty() {
                    let i = rng.below(other.len());
                    let n = 1 + rng.below(64.min(other.len() - i));
                    let at = rng.below(len + 1);
                    d.splice(at..at, other[i..i + n].iter().copied());
                }
            }
            7 if len >= 8 => {
                let i = rng.below(len - 7);
                let v: u64 = match rng.below(5) {
                    0 => 0,
                    1 => u64::MAX,
                    2 => u64::from(u16::MAX),
                    3 => len as u64,
                    _ => 1 << rng.below(64),
                };
                d[i..i + 8].copy_from_slice(&v.to_be_bytes());
            }
            8 if len > 0 => d.truncate(rng.below(len)),
            _ => {}
        }
    }
    d.truncate(MAX_LEN);
    d
}

struct Args {
    seconds: f64,
    seed: u64,
    seeds: PathBuf,
    artifacts: PathBuf,
    targets: Vec<String>,
    files: Vec<PathBuf>,
}

fn args() -> Result<Args, String> {
    let fuzz_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut a = Args {
        seconds: 10.0,
        seed: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1,
        seeds: fuzz_dir.join("seeds"),
        artifacts: fuzz_dir.join("fuzz/artifacts"),
        targets: Vec::new(),
        files: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--seconds" => {
                a.seconds = value("--seconds")?
                    .parse()
                    .map_err(|e| format!("--seconds: {e}"))?
            }
            "--seed" => {
                a.seed = value("--seed")?
                    .parse::<u64>()
                    .map_err(|e| format!("--seed: {e}"))?
                    | 1
            }
            "--seeds" => a.seeds = value("--seeds")?.into(),
            "--artifacts" => a.artifacts = value("--artifacts")?.into(),
            "-h" | "--help" => {
                return Err(
                    "usage: dao-fuzz-smoke [--seconds N] [--seed S] [--seeds DIR] \
                            [--artifacts DIR] [TARGET...] | TARGET FILE..."
                        .into(),
                )
            }
            t if dao_fuzz::TARGETS.iter().any(|(n, _)| *n == t) => a.targets.push(t.into()),
            f if std::path::Path::new(f).is_file() => a.files.push(f.into()),
            other => {
                let names: Vec<&str> = dao_fuzz::TARGETS.iter().map(|(n, _)| *n).collect();
                return Err(format!(
                    "unknown argument {other:?}; the targets are {}",
                    names.join(", ")
                ));
            }
        }
    }
    if !a.files.is_empty() && a.targets.len() != 1 {
        return Err("to replay files, name one target".into());
    }
    Ok(a)
}

fn main() -> ExitCode {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("dao-fuzz-smoke: {e}");
            return ExitCode::from(2);
        }
    };
    if !a.files.is_empty() {
        let (_, target) = dao_fuzz::TARGETS
            .iter()
            .find(|(n, _)| *n == a.targets[0])
            .expect("checked in args()");
        for f in &a.files {
            let input = std::fs::read(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            target(&input);
            println!("{}: passes", f.display());
        }
        return ExitCode::SUCCESS;
    }
    println!("seed {}", a.seed);
    let mut summary = Vec::new();
    let mut failed = false;
    for (name, target) in dao_fuzz::TARGETS {
        if !a.targets.is_empty() && !a.targets.iter().any(|t| t == name) {
            continue;
        }
        let dir = a.seeds.join(name);
        let mut seeds: Vec<(PathBuf, Vec<u8>)> = match std::fs::read_dir(&dir) {
            Ok(rd) => rd
                .flatten()
                .map(|e| (e.path(), std::fs::read(e.path()).unwrap_or_default()))
                .collect(),
            Err(e) => {
                eprintln!("dao-fuzz-smoke: {}: {e}", dir.display());
                return ExitCode::from(2);
            }
        };
        seeds.sort();
        let mut rng = Rng(a.seed ^ Sha256::digest(name.as_bytes())[0] as u64);
        let start = Instant::now();
        let budget = Duration::from_secs_f64(a.seconds);
        let mut execs = 0u64;
        let bytes: Vec<Vec<u8>> = seeds.iter().map(|(_, b)| b.clone()).collect();
        let mut i = 0;
        let crash = loop {
            let input = if i < bytes.len() {
                bytes[i].clone()
            } else if start.elapsed() >= budget {
                break None;
            } else {
                mutate(&mut rng, &bytes)
            };
            i += 1;
            execs += 1;
            if catch_unwind(AssertUnwindSafe(|| target(&input))).is_err() {
                break Some(input);
            }
        };
        let secs = start.elapsed().as_secs_f64();
        let rate = execs as f64 / secs.max(1e-9);
        println!(
            "{name}: {execs} executions in {secs:.1} s ({rate:.0}/s), {} seeds",
            bytes.len()
        );
        if let Some(input) = crash {
            failed = true;
            let dir = a.artifacts.join(name);
            let _ = std::fs::create_dir_all(&dir);
            let path = dir.join(format!("crash-{}", hex::encode(Sha256::digest(&input))));
            match std::fs::write(&path, &input) {
                Ok(()) => eprintln!(
                    "dao-fuzz-smoke: {name} broke a property (the panic above) on {}\n  \
                     replay: cargo run -p dao-fuzz --bin dao-fuzz-smoke -- {name} {}\n  \
                     (the seed {} replays the whole run)",
                    path.display(),
                    path.display(),
                    a.seed
                ),
                Err(e) => eprintln!(
                    "dao-fuzz-smoke: {name} broke a property; writing the input failed: {e}"
                ),
            }
        }
        summary.push(format!(
            "\"{name}\": {{\"executions\": {execs}, \"seconds\": {secs:.1}, \"crashed\": {}}}",
            crash_flag(failed)
        ));
        if failed {
            break;
        }
    }
    println!("{{{}}}", summary.join(", "));
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn crash_flag(failed: bool) -> &'static str {
    if failed {
        "true"
    } else {
        "false"
    }
}
