//! Dry-build and build with real Nix (Debian's nix-bin) from a real bare checkout: toplevels are
//! plain derivations whose builder is /bin/sh, so they build offline.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use dao_testkit::{git, NIX_CONFIG};

use dao_agent::executor::build::{build_toplevel, dry_build, BuildError, Nix, Target};
use dao_agent::executor::command::CommandError;
use git2::Oid;
use std::path::Path;
use std::time::{Duration, Instant};

fn nix() -> Nix {
    Nix {
        program: "nix".into(),
        env: vec![("NIX_CONFIG".into(), NIX_CONFIG.into())],
    }
}

/// A flake whose `hosts.NAME` outputs run `script` as their builder, committed, and fetched
/// (full history) into a bare checkout as the agent would. Returns (tempdir, checkout, commit).
fn flake(script_by_host: &[(&str, &str)]) -> (tempfile::TempDir, std::path::PathBuf, Oid) {
    let d = tempfile::tempdir().unwrap();
    let work = d.path().join("work");
    std::fs::create_dir(&work).unwrap();
    // A nonce keeps every test's derivations distinct, so each really builds.
    let nonce = format!("{:?}{}", Instant::now(), std::process::id());
    let system = format!("{}-linux", std::env::consts::ARCH);
    let hosts: String = script_by_host
        .iter()
        .map(|(name, script)| {
            format!(
                "    hosts.{name} = derivation {{ name = \"nixos-system-{name}\"; system = \"{system}\"; \
                 builder = \"/bin/sh\"; PATH = \"/usr/bin:/bin\"; nonce = \"{nonce}\"; \
                 args = [ \"-c\" {script:?} ]; }};\n"
            )
        })
        .collect();
    std::fs::write(
        work.join("flake.nix"),
        format!("{{\n  outputs = {{ self }}: {{\n{hosts}  }};\n}}\n"),
    )
    .unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    git(&work, &["add", "flake.nix"]);
    git(&work, &["commit", "-q", "-m", "fleet"]);
    let commit = git(&work, &["rev-parse", "HEAD"]);
    let checkout = d.path().join("checkout");
    git(
        d.path(),
        &["init", "-q", "--bare", checkout.to_str().unwrap()],
    );
    git(&checkout, &["fetch", "-q", work.to_str().unwrap(), &commit]);
    (d, checkout, Oid::from_str(&commit).unwrap())
}

const TOPLEVEL: &str = "mkdir -p $out/bin && printf '#!/bin/sh\\necho switch \"$@\"\\n' > $out/bin/switch-to-configuration && chmod +x $out/bin/switch-to-configuration";
const T: Duration = Duration::from_secs(120);

fn target<'a>(checkout: &'a Path, commit: Oid, output: &'a str) -> Target<'a> {
    Target {
        checkout,
        proposal: 4,
        commit,
        flake_output: output,
        shallow: false,
    }
}

#[test]
fn dry_build_then_build_gives_the_toplevel_and_its_gc_root() {
    let (d, checkout, commit) = flake(&[("web", TOPLEVEL)]);
    let t = target(&checkout, commit, "hosts.web");
    let planned = dry_build(&nix(), &t, T).unwrap();
    assert!(!planned.out_path.exists(), "a dry build builds nothing");
    let root = d.path().join("gcroots/proposal-4");
    std::fs::create_dir_all(root.parent().unwrap()).unwrap();
    let built = build_toplevel(&nix(), &t, &root, T).unwrap();
    assert_eq!(built, planned);
    assert!(built.out_path.join("bin/switch-to-configuration").exists());
    assert_eq!(std::fs::read_link(&root).unwrap(), built.out_path);
    assert!(t.flake_ref().contains(&format!("rev={commit}")));
}

#[test]
fn a_failing_build_reports_nix_and_the_builders_words() {
    let (d, checkout, commit) = flake(&[(
        "web",
        "echo 'deliberate failure in the builder' >&2; exit 1",
    )]);
    let t = target(&checkout, commit, "hosts.web");
    let e = build_toplevel(&nix(), &t, &d.path().join("root"), T).unwrap_err();
    let text = e.to_string();
    assert!(
        matches!(
            e,
            BuildError::Nix {
                step: "build_toplevel",
                ..
            }
        ),
        "{text}"
    );
    // Nix's own words for a builder that failed, then the builder's: not an evaluation error
    // that merely quotes the script.
    assert!(text.contains("builder for"), "{text}");
    assert!(
        text.contains("> deliberate failure in the builder"),
        "{text}"
    );
    assert!(!d.path().join("root").exists());
}

#[test]
fn an_output_that_is_not_a_nixos_toplevel_is_refused() {
    let (d, checkout, commit) = flake(&[("web", "mkdir -p $out && echo hello > $out/readme")]);
    let t = target(&checkout, commit, "hosts.web");
    let e = build_toplevel(&nix(), &t, &d.path().join("root"), T).unwrap_err();
    assert!(matches!(e, BuildError::NotAToplevel { .. }), "{e}");
    assert!(e
        .to_string()
        .contains("no executable bin/switch-to-configuration"));
}

#[test]
fn an_attribute_that_does_not_exist_fails_the_dry_build() {
    let (_d, checkout, commit) = flake(&[("web", TOPLEVEL)]);
    let t = target(&checkout, commit, "hosts.db");
    let e = dry_build(&nix(), &t, T).unwrap_err();
    let text = e.to_string();
    assert!(
        matches!(
            e,
            BuildError::Nix {
                step: "dry_build",
                ..
            }
        ),
        "{text}"
    );
    assert!(text.contains("hosts.db") || text.contains("'db'"), "{text}");
}

#[test]
fn a_build_over_its_deadline_is_stopped() {
    let (d, checkout, commit) = flake(&[("web", "sleep 4; exit 1")]);
    let t = target(&checkout, commit, "hosts.web");
    let start = Instant::now();
    let e = build_toplevel(&nix(), &t, &d.path().join("root"), Duration::from_secs(1)).unwrap_err();
    assert!(
        matches!(
            e,
            BuildError::Nix {
                source: CommandError::TimedOut { .. },
                ..
            }
        ),
        "{e}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn a_commit_missing_from_the_checkout_cannot_be_built() {
    let (d, checkout, _) = flake(&[("web", TOPLEVEL)]);
    let missing = Oid::from_bytes(&[0xab; 20]).unwrap();
    let e = dry_build(&nix(), &target(&checkout, missing, "hosts.web"), T).unwrap_err();
    assert!(matches!(e, BuildError::Ref { .. }), "{e}");
    drop(d);
}
