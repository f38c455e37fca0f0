//! DryBuild and BuildToplevel: evaluate and build this host's toplevel from the verified commit
//! in the agent's own checkout, with Nix. The build's out-link under the state directory is its
//! GC root, so the approved system survives a garbage collection until it is replaced.

use super::command::{self, CommandError};
use git2::Oid;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use thiserror::Error;

/// What to build: a commit of the checkout and the flake output attribute.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    pub checkout: &'a Path,
    pub proposal: u64,
    pub commit: Oid,
    pub flake_output: &'a str,
    /// The checkout is shallow: tell Nix (needs a Nix that supports shallow git inputs).
    pub shallow: bool,
}

impl Target<'_> {
    /// The ref the agent points at the commit: Nix's git fetcher wants a ref besides the rev.
    pub fn ref_name(&self) -> String {
        format!("dao/proposal-{}", self.proposal)
    }

    pub fn flake_ref(&self) -> String {
        format!(
            "git+file://{}?ref={}&rev={}{}#{}",
            self.checkout.display(),
            self.ref_name(),
            self.commit,
            if self.shallow { "&shallow=1" } else { "" },
            self.flake_output
        )
    }
}

#[derive(Debug, Error)]
pub enum BuildError {
    #[error("cannot point {ref_name} at {commit} in the checkout: {source}")]
    Ref {
        ref_name: String,
        commit: Oid,
        #[source]
        source: git2::Error,
    },
    #[error("{step}: {source}")]
    Nix {
        step: &'static str,
        #[source]
        source: CommandError,
    },
    #[error("{step}: nix printed what is not the expected JSON ({problem}): {output}")]
    BadOutput {
        step: &'static str,
        problem: String,
        output: String,
    },
    #[error(
        "{} has no executable bin/switch-to-configuration: the flake output is not a NixOS \
         system toplevel",
        path.display()
    )]
    NotAToplevel { path: PathBuf },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    pub drv_path: PathBuf,
    pub out_path: PathBuf,
}

#[derive(Deserialize)]
struct NixBuildJson {
    #[serde(rename = "drvPath")]
    drv_path: PathBuf,
    outputs: std::collections::BTreeMap<String, PathBuf>,
}

fn parse(step: &'static str, stdout: &[u8]) -> Result<Built, BuildError> {
    let bad = |problem: String| BuildError::BadOutput {
        step,
        problem,
        output: String::from_utf8_lossy(stdout).chars().take(500).collect(),
    };
    let items: Vec<NixBuildJson> =
        serde_json::from_slice(stdout).map_err(|e| bad(e.to_string()))?;
    let [item] = <[NixBuildJson; 1]>::try_from(items)
        .map_err(|v| bad(format!("{} derivations instead of one", v.len())))?;
    let out_path = item
        .outputs
        .get("out")
        .cloned()
        .ok_or_else(|| bad("no `out` output".into()))?;
    if !out_path.starts_with("/nix/store/") || !item.drv_path.starts_with("/nix/store/") {
        return Err(bad("paths outside /nix/store".into()));
    }
    Ok(Built {
        drv_path: item.drv_path,
        out_path,
    })
}

fn point_ref(target: &Target<'_>) -> Result<(), BuildError> {
    let err = |source| BuildError::Ref {
        ref_name: target.ref_name(),
        commit: target.commit,
        source,
    };
    let repo = git2::Repository::open_bare(target.checkout).map_err(err)?;
    repo.reference(
        &format!("refs/heads/{}", target.ref_name()),
        target.commit,
        true,
        "dao-agent: approved head",
    )
    .map_err(err)?;
    Ok(())
}

/// How to run Nix: the program and any environment it needs beyond the agent's own (tests and
/// the demo pass `NIX_CONFIG` here rather than changing the agent's environment).
#[derive(Debug, Clone)]
pub struct Nix {
    pub program: PathBuf,
    pub env: Vec<(String, String)>,
}

impl Nix {
    pub(crate) fn command(&self) -> Command {
        let mut c = Command::new(&self.program);
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
        // The agent builds what was approved, nothing else: no nixConfig from the repository.
        c.args(["--extra-experimental-features", "nix-command flakes"])
            .arg("--no-accept-flake-config");
        c
    }
}

/// Evaluates the toplevel and lists what would be built, without building it.
pub fn dry_build(nix: &Nix, target: &Target<'_>, timeout: Duration) -> Result<Built, BuildError> {
    point_ref(target)?;
    let mut c = nix.command();
    c.args(["build", "--dry-run", "--json"])
        .arg(target.flake_ref());
    let out = command::run(c, timeout).map_err(|source| BuildError::Nix {
        step: "dry_build",
        source,
    })?;
    parse("dry_build", &out.stdout)
}

/// Builds the toplevel; `gc_root` becomes the out-link that keeps it alive.
pub fn build_toplevel(
    nix: &Nix,
    target: &Target<'_>,
    gc_root: &Path,
    timeout: Duration,
) -> Result<Built, BuildError> {
    build_toplevel_in(nix, target, gc_root, timeout, None)
}

/// [`build_toplevel`] into the Nix store whose files live under `store_root` (a chroot store, as
/// a validator may use: `/nix/store/…` paths are then found under `<store_root>/nix/store/…`).
pub fn build_toplevel_in(
    nix: &Nix,
    target: &Target<'_>,
    gc_root: &Path,
    timeout: Duration,
    store_root: Option<&Path>,
) -> Result<Built, BuildError> {
    point_ref(target)?;
    let mut c = nix.command();
    c.args(["build", "--json", "--out-link"])
        .arg(gc_root)
        .arg(target.flake_ref());
    let out = command::run(c, timeout).map_err(|source| BuildError::Nix {
        step: "build_toplevel",
        source,
    })?;
    let built = parse("build_toplevel", &out.stdout)?;
    let on_disk = match store_root {
        Some(root) => root.join(built.out_path.strip_prefix("/").unwrap_or(&built.out_path)),
        None => built.out_path.clone(),
    };
    let switch = on_disk.join("bin/switch-to-configuration");
    let executable = std::fs::metadata(&switch)
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0)
        .unwrap_or(false);
    if !executable {
        return Err(BuildError::NotAToplevel {
            path: built.out_path,
        });
    }
    Ok(built)
}
