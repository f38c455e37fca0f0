//! A hook as a child of the agent: its own process group, killed as a whole at the timeout
//! (the executor's command runner, `executor/command.rs`).

use super::Ran;
use crate::executor::command::{self, CommandError};
use std::process::Command;
use std::time::Duration;

pub fn run(argv: &[String], env: &[(String, String)], timeout: Duration) -> Ran {
    let Some((program, args)) = argv.split_first() else {
        return Ran::NotStarted("hooks.on_outcome names no program".into());
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir("/");
    match command::run(cmd, timeout) {
        Ok(_) => Ran::Ok,
        Err(CommandError::Spawn { source, .. }) => Ran::NotStarted(source.to_string()),
        Err(CommandError::Failed { status, stderr, .. }) => {
            Ran::Failed(format!("{status}: {}", stderr.trim()))
        }
        Err(CommandError::TimedOut { .. }) => Ran::TimedOut,
    }
}
