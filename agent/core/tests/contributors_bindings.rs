//! Bindings from real repositories: `--require-signed` against `git verify-commit` with ssh
//! keys made here, the attacks it answers, and the file's edge cases.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod contributors_support;

use contributors_support::{build, CommitSpec};
use dao_core::contributors::{
    contributors, contributors_at, ContributorsError, IgnoredReason, Options, Report, Signatures,
    BINDINGS_FILE,
};
use dao_testkit::{git, git_command};
use std::path::{Path, PathBuf};
use std::process::Command;

const A1: &str = "AEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEA5RCDXMI";
const A2: &str = "AIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBMXPWWNQ";
const A3: &str = "AMBQGAYDAMBQGAYDAMBQGAYDAMBQGAYDAMBQGAYDAMBQGAYDAMB5DBBASI";

fn bound(r: &Report, email: &str) -> Vec<String> {
    r.authors
        .iter()
        .find(|a| a.email == email)
        .map(|a| a.bindings.iter().map(|b| b.address.to_string()).collect())
        .unwrap_or_default()
}

fn keygen(dir: &Path, name: &str) -> PathBuf {
    let key = dir.join(name);
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen is needed to test --require-signed");
    assert!(status.success());
    key
}

/// A repository whose commits are made by the git CLI, ssh signing configured in the
/// repository: alice's and mallory's keys are allowed signers under their emails; `stranger`
/// has a key nobody listed.
struct Signed {
    dir: tempfile::TempDir,
    keys: tempfile::TempDir,
}

impl Signed {
    fn new() -> Signed {
        let dir = tempfile::tempdir().unwrap();
        let keys = tempfile::tempdir().unwrap();
        let p = dir.path();
        git(p, &["init", "-q", "-b", "main"]);
        let mut allowed = String::new();
        for who in ["alice", "mallory", "stranger"] {
            let key = keygen(keys.path(), who);
            if who != "stranger" {
                let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
                allowed.push_str(&format!("{who}@example.org {public}"));
            }
        }
        let allowed_file = keys.path().join("allowed_signers");
        std::fs::write(&allowed_file, allowed).unwrap();
        git(p, &["config", "gpg.format", "ssh"]);
        git(
            p,
            &[
                "config",
                "gpg.ssh.allowedSignersFile",
                allowed_file.to_str().unwrap(),
            ],
        );
        Signed { dir, keys }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Appends `line` to the file and commits it as `author`, signed with `key` if given.
    fn commit(&self, author: &str, line: &str, key: Option<&str>) {
        let f = self.path().join(BINDINGS_FILE);
        let mut text = std::fs::read_to_string(&f).unwrap_or_default();
        text.push_str(line);
        text.push('\n');
        std::fs::write(&f, text).unwrap();
        git(self.path(), &["add", BINDINGS_FILE]);
        let who = format!("{} <{author}>", author.split('@').next().unwrap());
        let mut args = vec!["commit".to_owned(), "-q".into(), "-m".into(), line.into()];
        args.push(format!("--author={who}"));
        if let Some(k) = key {
            let key = self.keys.path().join(k);
            args.push(format!("--gpg-sign={}", key.display()));
        }
        let out = git_command(self.path()).args(&args).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn report(&self, signatures: Signatures) -> Result<Report, ContributorsError> {
        let options = Options {
            signatures,
            ..Options::default()
        };
        contributors(self.path(), "HEAD", &options)
    }
}

fn reasons(r: &Report) -> Vec<(String, IgnoredReason)> {
    r.ignored
        .iter()
        .map(|i| (i.entry.clone(), i.reason.clone()))
        .collect()
}

#[test]
fn require_signed_trusts_only_entries_signed_by_their_author() {
    let s = Signed::new();
    // Alice binds A1 in a commit she signs: trusted.
    s.commit(
        "alice@example.org",
        &format!("alice@example.org {A1}"),
        Some("alice"),
    );
    // Unsigned: bound without --require-signed, refused with it.
    s.commit(
        "alice@example.org",
        &format!("alice@example.org {A2}"),
        None,
    );
    // Mallory forges Alice as the author of an entry for Alice, signed with his own key.
    s.commit(
        "alice@example.org",
        &format!("alice@example.org {A3}"),
        Some("mallory"),
    );

    let plain = s.report(Signatures::Ignore).unwrap();
    assert_eq!(bound(&plain, "alice@example.org"), [A1, A2, A3]);
    assert!(!plain.signatures_required);

    let signed = s.report(Signatures::require()).unwrap();
    assert!(signed.signatures_required);
    assert_eq!(bound(&signed, "alice@example.org"), [A1]);
    let got = reasons(&signed);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].1, IgnoredReason::Unsigned);
    assert_eq!(
        got[1].1,
        IgnoredReason::SignerNotAuthor {
            signer: "mallory@example.org".into()
        }
    );
    assert!(got[0].0.ends_with(A2) && got[1].0.ends_with(A3));
}

#[test]
fn a_key_nobody_allowed_does_not_verify() {
    let s = Signed::new();
    s.commit(
        "alice@example.org",
        &format!("alice@example.org {A1}"),
        Some("stranger"),
    );
    let r = s.report(Signatures::require()).unwrap();
    assert!(bound(&r, "alice@example.org").is_empty());
    match &r.ignored[..] {
        [i] => assert!(
            matches!(&i.reason, IgnoredReason::BadSignature { message } if message.contains("No principal matched")),
            "{:?}",
            i.reason
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn without_git_or_its_verifier_require_signed_is_an_error_not_a_verdict() {
    let s = Signed::new();
    s.commit(
        "alice@example.org",
        &format!("alice@example.org {A1}"),
        Some("alice"),
    );

    let e = s
        .report(Signatures::Require {
            git: PathBuf::from("/nonexistent/git"),
        })
        .unwrap_err();
    assert!(matches!(e, ContributorsError::GitMissing { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("/nonexistent/git") && msg.contains("install git"),
        "{msg}"
    );

    git(
        s.path(),
        &["config", "gpg.ssh.program", "/nonexistent/ssh-keygen"],
    );
    let e = s.report(Signatures::require()).unwrap_err();
    assert!(matches!(e, ContributorsError::Verifier { .. }), "{e}");
    assert!(e.to_string().contains("install gnupg or openssh"), "{e}");

    git(s.path(), &["config", "--unset", "gpg.ssh.program"]);
    git(
        s.path(),
        &["config", "--unset", "gpg.ssh.allowedSignersFile"],
    );
    let e = s.report(Signatures::require()).unwrap_err();
    assert!(e.to_string().contains("gpg.ssh.allowedSignersFile"), "{e}");
}

#[test]
fn entries_only_a_merge_wrote_or_outside_the_root_bind_nothing() {
    let built = build(&[
        CommitSpec::new("c1", "alice@example.org", &[("a.rs", Some("x\n"))]),
        CommitSpec::new(
            "b1",
            "bob@example.org",
            &[(BINDINGS_FILE, Some(&format!("bob@example.org {A2}\n")))],
        )
        .parents(&["c1"]),
        CommitSpec::new(
            "c2",
            "alice@example.org",
            &[(
                "sub/daoContributors.txt",
                Some(&format!("alice@example.org {A3}\n")),
            )],
        )
        .parents(&["c1"]),
        // Alice merges, and the merge alone writes her entry.
        CommitSpec::new(
            "m",
            "alice@example.org",
            &[(
                BINDINGS_FILE,
                Some(&format!("bob@example.org {A2}\nalice@example.org {A1}\n")),
            )],
        )
        .parents(&["c2", "b1"]),
    ]);
    let r = contributors_at(&built.repo, built.id("m"), &Options::default()).unwrap();
    assert_eq!(bound(&r, "bob@example.org"), [A2]);
    assert!(bound(&r, "alice@example.org").is_empty());
}

#[test]
fn an_oversized_file_is_reported_not_read() {
    let mut big = format!("alice@example.org {A1}\n");
    while big.len() <= dao_core::contributors::points::MAX_FILE_BYTES {
        big.push_str("# padding padding padding padding padding padding padding\n");
    }
    let built = build(&[
        CommitSpec::new("c1", "alice@example.org", &[(BINDINGS_FILE, Some(&big))]),
        CommitSpec::new(
            "c2",
            "bob@example.org",
            &[(BINDINGS_FILE, Some(&format!("bob@example.org {A2}\n")))],
        ),
    ]);
    let r = contributors_at(&built.repo, built.id("c2"), &Options::default()).unwrap();
    assert!(bound(&r, "alice@example.org").is_empty());
    assert_eq!(bound(&r, "bob@example.org"), [A2]);
    match &r.ignored[..] {
        [i] => {
            assert!(
                matches!(i.reason, IgnoredReason::FileTooLarge { bytes } if bytes as usize == big.len())
            );
            assert!(i.reason.to_string().contains("was not read"));
        }
        other => panic!("{other:?}"),
    }
}
