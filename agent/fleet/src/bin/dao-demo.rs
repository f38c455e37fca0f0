//! `dao-demo`: the whole path of a change through a governed fleet, narrated (README command 1;
//! `scripts/demo` installs what it needs and runs it).
//!
//!     dao-demo [--keep] [--dump DIR]
//!
//! Exit status: 0 when every outcome was the expected one, 1 when one was not, 2 when the demo
//! could not run (a missing program, an interrupted run).

use clap::Parser;
use dao_fleet::{interrupt, Scenario, Story};
use std::path::PathBuf;
use std::process::ExitCode;

/// Runs a DAO-governed fleet of two NixOS hosts on this machine (a local devnet, a git daemon,
/// two sandboxed dao-agents, two reproducible-build validators) through the timeline of issues 7
/// and 14 and checks every outcome.
///
/// Exit status: 0 when every outcome was the expected one, 1 when one was not, 2 when the demo
/// could not run (a missing program, an interrupted run, a bad argument).
#[derive(Parser)]
// `--keep --keep` was accepted before clap: a repeated flag is not an error.
#[command(name = "dao-demo", version, args_override_self = true)]
struct Args {
    /// Keep the fleet's directory (logs, journals, repositories, configurations).
    #[arg(long)]
    keep: bool,
    /// At the end, write each agent's last /metrics scrape (metrics-<agent>.txt) and
    /// `dao-agentctl fleet --json` and `audit --json` (fleet.json, audit.json) into DIR.
    #[arg(long, value_name = "DIR")]
    dump: Option<PathBuf>,
}

fn main() -> ExitCode {
    // A bad argument exits 2 with the usage, --help and --version exit 0 (clap's own codes).
    let Args { keep, dump } = Args::parse();
    // Signals only set a flag; every wait checks it, so the fleet is always cleaned up.
    let _signals = match interrupt::install() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("dao-demo: cannot handle signals: {e}");
            return ExitCode::from(2);
        }
    };

    let story = Story::new(false);
    story.raw(
        "nixos-dao-governance: a change to a NixOS fleet reaches a host only when the DAO \
         approved it.\nThree members (alice 50, bob 30, carol 20) govern two hosts, web and db, \
         from an Algorand app on a local devnet;\neach host's dao-agent applies only approved \
         changes and reports every outcome on chain;\ntwo validators, vera and victor, build \
         every change in Nix stores of their own and attest it on chain,\nand a host switches \
         only to a system both of them built too.",
    );
    let code = match Scenario::start(keep, story) {
        Err(e) => {
            eprintln!("\ndao-demo: the fleet could not be set up: {e:#}");
            ExitCode::from(2)
        }
        Ok(mut s) => {
            let ran = s.run_all();
            let mut all_ok = s.summary(ran.is_ok());
            if let Some(dir) = &dump {
                match s.dump(dir) {
                    Ok(files) => {
                        s.fleet
                            .story
                            .section(&format!("Dumped into {}", dir.display()));
                        for f in files {
                            s.fleet.story.output(&f.display().to_string());
                        }
                    }
                    Err(e) => {
                        s.fleet.story.bad(&format!("the dump failed: {e:#}"));
                        all_ok = false;
                    }
                }
            }
            match ran {
                Err(e) => {
                    s.fleet.story.bad(&format!("the demo stopped: {e:#}"));
                    if !interrupt::interrupted() {
                        s.fleet
                            .story
                            .say("run `scripts/demo --keep` to keep the logs");
                    }
                    ExitCode::from(if interrupt::interrupted() { 2 } else { 1 })
                }
                Ok(()) if all_ok => ExitCode::SUCCESS,
                Ok(()) => ExitCode::FAILURE,
            }
            // `s` is dropped here: agents, buses, git daemon and devnet stopped by PID, the
            // directory removed unless --keep.
        }
    };
    code
}
