//! The repo-spec file (`dao-spec.toml`), committed to the governed repository by `form`: where
//! its DAO lives. It is a pointer, not a source of truth: agents check the app's program hash,
//! seal and pinned repository on chain themselves.

use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepoSpec {
    pub network: String,
    pub app_id: u64,
    /// The approval program's hash when the app was formed (address form).
    pub approval_program_hash: String,
    pub repository: String,
    pub genesis_commit: String,
    /// A convenient default for the CLI; hosts use their own configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algod_url: Option<String>,
}

const HEADER: &str =
    "# Where this repository's governance app lives (written by `dao-agentctl form`).\n\
# The chain is the source of truth: agents verify the app's program hash, seal and pinned\n\
# repository themselves. Commit this file.\n";

impl RepoSpec {
    pub fn load(path: &Path) -> anyhow::Result<RepoSpec> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the repo-spec file {}", path.display()))?;
        toml::from_str(&text).with_context(|| {
            format!(
                "{} is not a repo-spec file (see docs/governance.md)",
                path.display()
            )
        })
    }

    /// Writes the file; refuses to replace one that points at another app.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        if path.exists() {
            let old = RepoSpec::load(path)?;
            if old.app_id != self.app_id || old.network != self.network {
                anyhow::bail!(
                    "{} already points at app {} on {}: move it aside to record app {}",
                    path.display(),
                    old.app_id,
                    old.network,
                    self.app_id
                );
            }
        }
        let body = toml::to_string(self).context("cannot write the repo-spec file")?;
        std::fs::write(path, format!("{HEADER}{body}"))
            .with_context(|| format!("cannot write {}", path.display()))
    }
}
