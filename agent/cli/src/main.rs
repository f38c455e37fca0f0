//! dao-agentctl: the command-line client of nixos-dao-governance.

// Standard output goes through `out` (a closed pipe ends quietly instead of panicking).
#![deny(clippy::print_stdout)]

mod args;
mod cli;
mod commands;
mod out;
mod spec;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            // The whole chain: the outer context says what was being done, the inner errors why.
            eprintln!("dao-agentctl: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
