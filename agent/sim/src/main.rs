//! `dao-sim run --seeds A..B [--json] [--trace] [--mutant NAME] [--soak]`, `dao-sim mutants`.

use clap::{Parser, Subcommand};
use dao_sim::run::{run, Schedule};
use std::collections::BTreeMap;
use std::process::ExitCode;

/// The fault-schedule simulator of the real executor (docs/safety.md).
#[derive(Debug, Parser)]
#[command(name = "dao-sim", version)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the schedules of a seed range and checks every invariant after every step.
    Run {
        /// Seeds to run, half-open: `0..200`.
        #[arg(long, default_value = "0..200")]
        seeds: String,
        /// Runs 10,000 seeds from the start of --seeds.
        #[arg(long)]
        soak: bool,
        /// Prints every step, fault and pass (use with one seed to replay it).
        #[arg(long)]
        trace: bool,
        /// The last line of stdout is one JSON object with the figures.
        #[arg(long)]
        json: bool,
        /// Puts a known bug back (builds with the `mutants` feature only).
        #[arg(long, value_name = "NAME")]
        mutant: Option<String>,
    },
    /// Lists the mutants.
    Mutants {
        #[arg(long)]
        json: bool,
    },
}

fn seeds(text: &str) -> Result<(u64, u64), String> {
    let (a, b) = text
        .split_once("..")
        .ok_or_else(|| format!("--seeds {text:?}: write a range, like 0..200"))?;
    let a: u64 = a
        .trim()
        .parse()
        .map_err(|e| format!("--seeds {text:?}: {a:?} is not a number: {e}"))?;
    let b: u64 = b
        .trim()
        .parse()
        .map_err(|e| format!("--seeds {text:?}: {b:?} is not a number: {e}"))?;
    if b <= a {
        return Err(format!("--seeds {text:?}: the range is empty"));
    }
    Ok((a, b))
}

fn set_mutant(name: Option<&str>) -> Result<(), String> {
    let Some(name) = name else { return Ok(()) };
    if !dao_agent::mutants::ALL.iter().any(|(n, _)| *n == name) {
        return Err(format!(
            "--mutant {name:?}: no such mutant; `dao-sim mutants` lists them"
        ));
    }
    #[cfg(feature = "mutants")]
    {
        dao_agent::mutants::set(Some(name));
        Ok(())
    }
    #[cfg(not(feature = "mutants"))]
    Err("--mutant needs a build with the mutants feature: cargo run -p dao-sim --features mutants -- …".into())
}

fn main() -> ExitCode {
    match Args::parse().command {
        Command::Mutants { json } => {
            if json {
                let names: Vec<&str> = dao_agent::mutants::ALL.iter().map(|(n, _)| *n).collect();
                println!("{}", serde_json::json!(names));
            } else {
                for (n, what) in dao_agent::mutants::ALL {
                    println!("{n:20} {what}");
                }
            }
            ExitCode::SUCCESS
        }
        Command::Run {
            seeds: range,
            soak,
            trace,
            json,
            mutant,
        } => {
            let (a, mut b) = match seeds(&range) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("dao-sim: {e}");
                    return ExitCode::from(2);
                }
            };
            if soak {
                b = a.saturating_add(10_000);
            }
            if let Err(e) = set_mutant(mutant.as_deref()) {
                eprintln!("dao-sim: {e}");
                return ExitCode::from(2);
            }
            // A panic in the agent is a finding, reported by the run: keep stderr quiet.
            std::panic::set_hook(Box::new(|_| {}));
            report((a..b).map(|s| run(s, trace)), json)
        }
    }
}

fn report(schedules: impl Iterator<Item = Schedule>, json: bool) -> ExitCode {
    let (mut n, mut steps) = (0u64, 0u64);
    let mut violations = Vec::new();
    let mut faults: BTreeMap<&'static str, u64> = BTreeMap::new();
    for s in schedules {
        n += 1;
        steps += s.steps;
        for (k, v) in s.faults {
            *faults.entry(k).or_insert(0) += v;
        }
        for (invariant, detail) in s.violations {
            if !json {
                println!("seed {}: {invariant}: {detail}", s.seed);
            }
            violations.push(serde_json::json!({
                "seed": s.seed,
                "invariant": invariant,
                "detail": detail,
                "replay": format!("dao-sim run --seeds {}..{} --trace", s.seed, s.seed + 1),
            }));
        }
    }
    let ok = violations.is_empty();
    if json {
        println!(
            "{}",
            serde_json::json!({
                "schedules": n, "steps": steps, "violations": violations, "faults": faults,
            })
        );
    } else {
        println!(
            "{n} schedules, {steps} steps, {} violations; faults: {}",
            violations.len(),
            faults
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
