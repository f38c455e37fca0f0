mod docs;
mod hash;
mod validate_config;

use crate::cli::Command;
use std::process::ExitCode;

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Hash {
            repo,
            base,
            head,
            json,
        } => hash::run(&repo, &base, &head, json),
        Command::ValidateConfig { file, json } => validate_config::run(&file, json),
        Command::Completions { shell } => docs::completions(shell),
        Command::Man { out } => docs::man(&out),
    }
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
