//! `preview`: what a deploy proposal would change on each host it targets, before anyone votes
//! (issue 17). The toplevel of each host is built at the proposal's base and at its head with
//! Nix, from the member's own clone, the way the agents build it (`git+file` with the commit),
//! and compared: the closure (`nix store diff-closures`: packages added, removed, new versions,
//! size), the systemd units in `etc/systemd/system`, and whether the kernel or initrd changed
//! (then the host needs a reboot to run the new system fully). The clone's diff hash of
//! base..head is checked against the proposal's first: a preview of anything but the approved
//! change would be worse than none.

use super::chain::{app, block_on};
use super::print_json;
use crate::cli::PreviewArgs;
use crate::out::{out, outln};
use anyhow::{bail, Context};
use dao_chain::decode::ProposalPayload;
use dao_core::diff_hash::diff_hash;
use git2::{Oid, Repository};
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// What changes on one host.
#[derive(Debug, Serialize)]
pub struct HostPreview {
    pub host: u64,
    pub flake_output: String,
    pub base_toplevel: PathBuf,
    pub head_toplevel: PathBuf,
    /// `nix store diff-closures` lines: `name: old → new, ±size`.
    pub closure: Vec<String>,
    pub units_added: Vec<String>,
    pub units_removed: Vec<String>,
    pub units_changed: Vec<String>,
    /// Why a reboot is needed (`kernel`, `initrd`), empty when it is not.
    pub reboot: Vec<String>,
}

/// `NAME` → the NixOS toplevel of `nixosConfigurations.NAME`; anything with a dot is taken as
/// the flake output attribute itself.
pub fn flake_output(name: &str) -> String {
    if name.contains('.') {
        name.to_owned()
    } else {
        format!("nixosConfigurations.{name}.config.system.build.toplevel")
    }
}

/// `--host ID=NAME` pairs.
pub fn host_map(flags: &[String]) -> anyhow::Result<BTreeMap<u64, String>> {
    let mut out = BTreeMap::new();
    for f in flags {
        let (id, name) = f
            .split_once('=')
            .with_context(|| format!("--host {f:?}: expected ID=NAME, e.g. 1=web"))?;
        let id: u64 = id
            .trim()
            .parse()
            .with_context(|| format!("--host {f:?}: the host id must be a whole number"))?;
        if out.insert(id, flake_output(name.trim())).is_some() {
            bail!("--host {id} is given twice");
        }
    }
    Ok(out)
}

fn nix(args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("nix")
        .args(["--extra-experimental-features", "nix-command flakes"])
        .args(args)
        .output()
        .map_err(|e| {
            anyhow::anyhow!(
                "preview needs Nix to build the hosts' systems, and `nix` cannot be run ({e}): install Nix, or review the change with `git diff` and `dao-agentctl hash`"
            )
        })?;
    if !out.status.success() {
        bail!(
            "nix {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Removes terminal colour codes (`ESC [ … m`) that Nix may print.
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A bare scratch repository that borrows the clone's objects (git alternates) and has a ref on
/// each commit: Nix's git fetcher wants a ref beside the rev, and the member's clone is left as
/// it was.
fn scratch(clone: &Repository, commits: &[Oid]) -> anyhow::Result<tempfile::TempDir> {
    let dir = tempfile::tempdir().context("cannot create a scratch directory")?;
    let scratch =
        Repository::init_bare(dir.path()).context("cannot create a scratch repository")?;
    // commondir: a worktree's own .git directory holds no objects.
    let objects = clone.commondir().join("objects");
    let alternates = dir.path().join("objects/info/alternates");
    std::fs::write(&alternates, format!("{}\n", objects.display()))
        .with_context(|| format!("cannot write {}", alternates.display()))?;
    for c in commits {
        scratch
            .reference(
                &format!("refs/heads/preview-{c}"),
                *c,
                true,
                "dao-agentctl preview",
            )
            .with_context(|| format!("cannot point a scratch ref at {c}"))?;
    }
    Ok(dir)
}

fn build(repo: &Path, commit: Oid, output: &str) -> anyhow::Result<PathBuf> {
    let flake = format!(
        "git+file://{}?ref=preview-{commit}&rev={commit}#{output}",
        repo.display()
    );
    // The commit may be anyone's: its flake must not change this Nix's settings.
    let json = nix(&[
        "build",
        "--no-link",
        "--json",
        "--option",
        "accept-flake-config",
        "false",
        &flake,
    ])?;
    let v: serde_json::Value = serde_json::from_str(&json)
        .with_context(|| format!("nix build printed what is not JSON: {json}"))?;
    v[0]["outputs"]["out"]
        .as_str()
        .map(PathBuf::from)
        .with_context(|| format!("nix build named no out path: {json}"))
}

/// Unit name → what it is (link target or file content), in `etc/systemd/system`.
fn units(toplevel: &Path) -> BTreeMap<String, String> {
    let dir = toplevel.join("etc/systemd/system");
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let p = e.path();
        let what = std::fs::read_link(&p)
            .map(|t| t.display().to_string())
            .or_else(|_| std::fs::read_to_string(&p))
            .unwrap_or_default();
        out.insert(e.file_name().to_string_lossy().into_owned(), what);
    }
    out
}

/// Where `toplevel/name` points (or what it holds), if it exists.
fn target(toplevel: &Path, name: &str) -> Option<String> {
    let p = toplevel.join(name);
    std::fs::read_link(&p)
        .map(|t| t.display().to_string())
        .ok()
        .or_else(|| std::fs::read(&p).ok().map(|b| format!("{b:?}")))
}

/// Builds and compares one host's toplevel at `base` and `head`.
pub fn preview_host(
    scratch: &Path,
    host: u64,
    output: &str,
    base: Oid,
    head: Oid,
) -> anyhow::Result<HostPreview> {
    let old = build(scratch, base, output).with_context(|| format!("host {host} at {base}"))?;
    let new = build(scratch, head, output).with_context(|| format!("host {host} at {head}"))?;
    let (old_s, new_s) = (old.display().to_string(), new.display().to_string());
    let closure = plain(&nix(&["store", "diff-closures", &old_s, &new_s])?)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_owned())
        .collect();
    let (ua, ub) = (units(&old), units(&new));
    let reboot = ["kernel", "initrd"]
        .into_iter()
        .filter(|n| target(&old, n) != target(&new, n))
        .map(str::to_owned)
        .collect();
    Ok(HostPreview {
        host,
        flake_output: output.to_owned(),
        units_added: ub
            .keys()
            .filter(|k| !ua.contains_key(*k))
            .cloned()
            .collect(),
        units_removed: ua
            .keys()
            .filter(|k| !ub.contains_key(*k))
            .cloned()
            .collect(),
        units_changed: ua
            .iter()
            .filter(|(k, v)| ub.get(*k).is_some_and(|w| w != *v))
            .map(|(k, _)| k.clone())
            .collect(),
        base_toplevel: old,
        head_toplevel: new,
        closure,
        reboot,
    })
}

fn render(p: &HostPreview) -> String {
    let mut s = format!("host {} ({})\n", p.host, p.flake_output);
    s += &format!(
        "  {} -> {}\n",
        p.base_toplevel.display(),
        p.head_toplevel.display()
    );
    if p.closure.is_empty() {
        s += "  closure: no package changes\n";
    }
    for l in &p.closure {
        s += &format!("  closure: {l}\n");
    }
    for (what, list) in [
        ("added", &p.units_added),
        ("removed", &p.units_removed),
        ("changed", &p.units_changed),
    ] {
        if !list.is_empty() {
            s += &format!("  units {what}: {}\n", list.join(", "));
        }
    }
    s += &if p.reboot.is_empty() {
        "  reboot: not needed (kernel and initrd unchanged)\n".to_owned()
    } else {
        format!("  reboot: needed ({} changed)\n", p.reboot.join(" and "))
    };
    s
}

/// Previews `base..head` on each of `targets` that `names` names (the others are skipped).
pub fn preview_change(
    clone: &Repository,
    base: Oid,
    head: Oid,
    targets: &[u64],
    names: &BTreeMap<u64, String>,
) -> anyhow::Result<Vec<HostPreview>> {
    let dir = scratch(clone, &[base, head])?;
    targets
        .iter()
        .filter_map(|h| names.get(h).map(|o| (h, o)))
        .map(|(h, output)| preview_host(dir.path(), *h, output, base, head))
        .collect()
}

/// The previews as text.
pub fn print(previews: &[HostPreview]) {
    for p in previews {
        out!("{}", render(p));
    }
}

pub fn run(a: &PreviewArgs) -> anyhow::Result<ExitCode> {
    let names = host_map(&a.hosts)?;
    let clone = Repository::open(&a.repo).with_context(|| {
        format!(
            "{} is not a git repository (give the governed repository's clone with --repo)",
            a.repo.display()
        )
    })?;
    let app = app(&a.chain)?;
    let (p, hosts) = block_on(async {
        let p = app.proposal(a.id).await?;
        let hosts = match &p.payload {
            ProposalPayload::Deploy { targets, .. } => app.target_ids(targets).await?,
            _ => bail!(
                "proposal {} is a {} proposal: only deploys change hosts",
                a.id,
                p.header.kind.as_str()
            ),
        };
        anyhow::Ok((p, hosts))
    })??;
    let ProposalPayload::Deploy {
        base,
        head,
        diff_hash: claimed,
        ..
    } = &p.payload
    else {
        bail!("proposal {} is not a deploy proposal", a.id);
    };
    let (base, head) = (Oid::from_bytes(base)?, Oid::from_bytes(head)?);
    let local = diff_hash(&clone, base, head).with_context(|| {
        format!(
            "the clone at {} lacks the proposal's commits {base}..{head}: fetch them first",
            a.repo.display()
        )
    })?;
    if local.diff_hash.0 != *claimed {
        bail!(
            "the change {base}..{head} hashes to {} in your clone, but proposal {} claims sha256:{}: every host will refuse it; there is nothing to preview",
            local.diff_hash,
            a.id,
            hex::encode(claimed)
        );
    }
    let previews = preview_change(&clone, base, head, &hosts, &names)?;
    let skipped: Vec<u64> = hosts
        .into_iter()
        .filter(|h| !names.contains_key(h))
        .collect();
    if a.json {
        print_json(&json!({
            "id": a.id, "base": base.to_string(), "head": head.to_string(),
            "diff_hash": local.diff_hash, "hosts": previews, "not_previewed": skipped,
        }))?;
    } else {
        outln!("proposal {}: {base}..{head} ({})", a.id, local.diff_hash);
        print(&previews);
        for h in &skipped {
            outln!("host {h}: not previewed (name its configuration with --host {h}=NAME)");
        }
    }
    Ok(ExitCode::SUCCESS)
}
