//! Completions and man pages, generated from the same clap definitions the program parses with.

use crate::cli::Cli;
use anyhow::Context;
use clap::CommandFactory;
use std::path::Path;
use std::process::ExitCode;

pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<ExitCode> {
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "dao-agentctl", &mut script);
    crate::out::write_bytes(&script);
    Ok(ExitCode::SUCCESS)
}

pub fn man(out: &Path) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create the man page directory {}", out.display()))?;
    let cmd = Cli::command();
    clap_mangen::generate_to(cmd, out)
        .with_context(|| format!("cannot write man pages into {}", out.display()))?;
    Ok(ExitCode::SUCCESS)
}
