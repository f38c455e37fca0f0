//! Every command and every argument says what it is for in `--help` (issue 17: several had
//! empty help texts).

use super::Cli;
use clap::CommandFactory;

fn missing(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
    for arg in cmd.get_arguments() {
        let id = arg.get_id().as_str();
        if matches!(id, "help" | "version") {
            continue;
        }
        if arg
            .get_help()
            .is_none_or(|h| h.to_string().trim().is_empty())
        {
            out.push(format!("{path} {id}"));
        }
    }
    for sub in cmd.get_subcommands() {
        let p = format!("{path} {}", sub.get_name());
        if sub
            .get_about()
            .is_none_or(|h| h.to_string().trim().is_empty())
        {
            out.push(format!("{p} (the command)"));
        }
        missing(sub, &p, out);
    }
}

#[test]
fn every_command_and_argument_has_help() {
    let mut out = Vec::new();
    missing(&Cli::command(), "dao-agentctl", &mut out);
    assert!(out.is_empty(), "no help text:\n{}", out.join("\n"));
}
