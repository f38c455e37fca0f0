//! The command line, as clap definitions: shared by the program, its completions and man pages.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Governance-gated GitOps for NixOS fleets: propose, vote, verify and operate.
#[derive(Debug, Parser)]
#[command(name = "dao-agentctl", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the canonical diff hash of the change from BASE to HEAD (docs/diff-hash.md).
    ///
    /// This is the hash a proposal carries and every host verifies before it builds anything.
    Hash {
        /// The git repository (a work tree or a bare repository).
        #[arg(long, default_value = ".", value_name = "PATH")]
        repo: PathBuf,
        /// The commit the change starts from (any revision naming a commit).
        base: String,
        /// The commit the change ends at.
        head: String,
        /// Print JSON: the hash, both commit ids, changed paths and bytes hashed.
        #[arg(long)]
        json: bool,
    },
    /// Check an agent configuration file and report every problem with its key path.
    ///
    /// Exits 0 when the file is valid, 1 when it is not. The NixOS module runs this at build time.
    ValidateConfig {
        /// The TOML configuration file.
        file: PathBuf,
        /// Print JSON: validity, the problems, and the configuration with its defaults.
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the man pages (dao-agentctl.1 and one per command) into a directory.
    Man {
        /// Where to write them.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}
