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
            // --dry-run stops at the first transaction it would send: that is its answer.
            if let Some(dry @ dao_chain::ChainError::DryRun(_)) = e
                .chain()
                .find_map(|c| c.downcast_ref::<dao_chain::ChainError>())
            {
                out::write(format_args!("{dry}\n"));
                return ExitCode::SUCCESS;
            }
            // The whole chain: the outer context says what was being done, the inner errors why.
            eprintln!("dao-agentctl: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
