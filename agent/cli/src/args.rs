//! The argument types several commands share, and the parsers of argument values: a leaf that
//! the command line (cli.rs) and the commands both use, so neither depends on the other for
//! them.

use dao_core::contributors::rebalance::Mint;
use dao_core::contributors::{parse_half, Options, PointWeights, Signatures};
use std::path::PathBuf;

/// Where the app is. Each flag overrides the repo-spec file.
#[derive(Debug, clap::Args)]
pub struct ChainArgs {
    /// The repo-spec file written by `form`.
    #[arg(long, value_name = "FILE", default_value = "dao-spec.toml")]
    pub spec: PathBuf,
    /// algod's REST endpoint, e.g. http://127.0.0.1:4001.
    #[arg(long, value_name = "URL")]
    pub algod: Option<String>,
    /// A file holding algod's API token.
    #[arg(long, value_name = "FILE")]
    pub algod_token_file: Option<PathBuf>,
    /// The governance app's id.
    #[arg(long, value_name = "ID")]
    pub app_id: Option<u64>,
}

/// The account that signs: a key file (mode 0600: a 25-word mnemonic or a 64-hex seed). Keys
/// are never taken from arguments or the environment.
#[derive(Debug, clap::Args)]
pub struct KeyArgs {
    /// The signing key file (mode 0600: a 25-word mnemonic or a 64-hex seed).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Check everything and say what would be sent; sign nothing for real, send nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// What every proposal command takes besides its own arguments.
#[derive(Debug, clap::Args)]
pub struct ProposalOpts {
    /// Where members read about it: an http(s) link, at most 256 bytes.
    #[arg(long, value_name = "URL")]
    pub url: String,
    #[command(flatten)]
    pub chain: ChainArgs,
    #[command(flatten)]
    pub key: KeyArgs,
    /// Print JSON (for scripts) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The rules that decide points and bindings; whoever recomputes a table must use the same.
#[derive(Debug, clap::Args)]
pub struct RulesArgs {
    /// Points per line of each class, e.g. code=1,comment=0.5,text=0.5 (the defaults); whole
    /// numbers or halves.
    #[arg(long, value_name = "CLASS=POINTS,...")]
    pub point_weights: Option<PointWeights>,
    /// Trust only daoContributors.txt entries from commits that `git verify-commit` accepts and
    /// that are signed by their author (needs git, and gpg or ssh-keygen with
    /// gpg.ssh.allowedSignersFile configured).
    #[arg(long)]
    pub require_signed: bool,
}

impl RulesArgs {
    /// The options for counting with `weights` (see `points::choose` for which ones).
    pub fn options(&self, weights: PointWeights) -> Options {
        Options {
            weights,
            signatures: if self.require_signed {
                Signatures::require()
            } else {
                Signatures::Ignore
            },
            ..Options::default()
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct ContributorsArgs {
    /// The git repository (a work tree or a bare repository).
    #[arg(long, default_value = ".", value_name = "PATH")]
    pub repo: PathBuf,
    /// The commit to count at: every commit reachable from it counts.
    #[arg(long, default_value = "HEAD", value_name = "COMMIT")]
    pub at: String,
    #[command(flatten)]
    pub rules: RulesArgs,
    /// The app whose point weights count (without --point-weights): the repo-spec file if
    /// present, or --app-id and --algod; with neither, the defaults.
    #[command(flatten)]
    pub chain: ChainArgs,
    /// Print JSON: every author's lines, points, share and bindings, and the ignored entries.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct RebalanceArgs {
    /// The git repository (a work tree or a bare repository).
    #[arg(long, default_value = ".", value_name = "PATH")]
    pub repo: PathBuf,
    /// The commit whose history sets the targets; recorded in the table.
    #[arg(long, value_name = "COMMIT")]
    pub at: String,
    /// Members' current weights: ADDRESS=WEIGHT,ADDRESS=WEIGHT inline, or a JSON file (what
    /// `dao-agentctl members --json` prints, or {"ADDRESS": WEIGHT}).
    #[arg(long, visible_alias = "weights", value_name = "FILE_OR_INLINE")]
    pub members: String,
    /// How much to mint: `minimal` (the smallest total that reaches the targets with nobody
    /// losing weight) or an exact number of weight units, refused if someone would lose.
    #[arg(long, default_value = "minimal", value_name = "minimal|UNITS")]
    pub mint: Mint,
    #[command(flatten)]
    pub rules: RulesArgs,
    /// The app whose point weights count (as for `contributors`).
    #[command(flatten)]
    pub chain: ChainArgs,
    /// Print JSON: the table, its totals and its hash.
    #[arg(long)]
    pub json: bool,
}

/// `--code 1`, `--comment 0.5`: points per line as half points.
pub fn parse_points(s: &str) -> Result<u64, String> {
    parse_half(s.trim())
        .ok_or_else(|| format!("`{s}`: points per line are a whole number or a half (1, 0.5, 2.5)"))
}

/// `1.5algo`, `2 ALGO`, `2500000` (µAlgo), `2500000ualgo` or `µalgo`/`microalgo` suffixes.
pub fn parse_amount(text: &str) -> Result<u64, String> {
    let t = text.trim().to_ascii_lowercase();
    let bad = || {
        format!(
            "`{text}`: give µAlgo (2500000) or Algo with a suffix (2.5algo), at most 6 decimals"
        )
    };
    let micro = ["µalgo", "ualgo", "microalgo", "microalgos"];
    if let Some(n) = micro.iter().find_map(|s| t.strip_suffix(s)) {
        return n.trim().parse::<u64>().map_err(|_| bad());
    }
    let Some(algo) = ["algos", "algo"].iter().find_map(|s| t.strip_suffix(s)) else {
        return t.parse::<u64>().map_err(|_| bad());
    };
    let (whole, frac) = algo.trim().split_once('.').unwrap_or((algo.trim(), ""));
    if whole.is_empty() || frac.len() > 6 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let whole = whole.parse::<u64>().map_err(|_| bad())?;
    let frac = format!("{frac:0<6}").parse::<u64>().map_err(|_| bad())?;
    whole
        .checked_mul(1_000_000)
        .and_then(|w| w.checked_add(frac))
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn points_parse_as_halves() {
        assert_eq!(parse_points("2.5"), Ok(5));
        assert_eq!(parse_points("0"), Ok(0));
        assert!(parse_points("0.25").unwrap_err().contains("a half"));
        assert!(parse_points("-1").is_err());
    }

    #[test]
    fn amounts_in_algo_and_microalgo() {
        assert_eq!(parse_amount("2500000"), Ok(2_500_000));
        assert_eq!(parse_amount("2.5algo"), Ok(2_500_000));
        assert_eq!(parse_amount("2.5 ALGO"), Ok(2_500_000));
        assert_eq!(parse_amount("0.000001algo"), Ok(1));
        assert_eq!(parse_amount("7µalgo"), Ok(7));
        assert_eq!(parse_amount("7 microAlgos"), Ok(7));
        for bad in [
            "",
            "algo",
            "1.0000001algo",
            "-1",
            "1e6",
            "2.5",
            ".5algo",
            "99999999999999algo",
        ] {
            assert!(parse_amount(bad).is_err(), "{bad}");
        }
    }
}
