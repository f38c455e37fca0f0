//! `dao-agent`: the nixos-dao-governance agent daemon (see the library's `daemon` module).

use clap::{Parser, ValueEnum};
use dao_agent::daemon;
use dao_core::config::Role;
use std::path::PathBuf;
use std::process::ExitCode;

/// Follows the governance app and applies the approved changes to this host.
#[derive(Debug, Parser)]
#[command(name = "dao-agent", version)]
struct Args {
    /// The agent's TOML configuration (docs/configuration.md).
    #[arg(long, value_name = "PATH", default_value = daemon::DEFAULT_CONFIG)]
    config: PathBuf,
    /// Run only this role (it must be listed in the file's `roles`); all of them by default.
    #[arg(long, value_enum)]
    role: Option<RoleArg>,
    /// The file in which the running generation names its executor's agent (the NixOS module
    /// writes /etc/dao-governance/executor-agent.json); with --self-upgrade-id, the executor
    /// exits with status 75 after a deployment that changed the agent, for its unit to start
    /// the new one.
    #[arg(long, value_name = "PATH", requires = "self_upgrade_id")]
    self_upgrade_marker: Option<PathBuf>,
    /// Who this agent is, as the marker names it (the module: a hash of the agent's store path
    /// and configuration file).
    #[arg(long, value_name = "ID", requires = "self_upgrade_marker")]
    self_upgrade_id: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RoleArg {
    Watcher,
    Executor,
    Validator,
}

fn main() -> ExitCode {
    let args = Args::parse();
    daemon::logging::init();
    let role = args.role.map(|r| match r {
        RoleArg::Watcher => Role::Watcher,
        RoleArg::Executor => Role::Executor,
        RoleArg::Validator => Role::Validator,
    });
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("dao-agent: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let upgrade = match (args.self_upgrade_marker, args.self_upgrade_id) {
        (Some(marker), Some(id)) => Some(daemon::upgrade::SelfUpgrade { marker, id }),
        _ => None,
    };
    match runtime.block_on(daemon::run_with(&args.config, role, upgrade)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // stderr reaches the journal too under systemd.
            eprintln!("dao-agent: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
