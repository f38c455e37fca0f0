//! Points from real repositories: what the vectors cannot hold (big files, symlinks, crafted or
//! damaged repositories) and the refusals.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod contributors_support;

use contributors_support::{build, CommitSpec};
use dao_core::contributors::points::{commit_lines, MAX_FILE_BYTES};
use dao_core::contributors::{
    contributors, contributors_at, ContributorsError, Limits, LineCounts, Options,
};
use dao_testkit::git;

fn lines(code: u64, comment: u64, text: u64) -> LineCounts {
    LineCounts {
        code,
        comment,
        text,
    }
}

#[test]
fn files_over_the_size_limit_are_not_counted() {
    let big = "x = 1\n".repeat(MAX_FILE_BYTES / 6 + 1);
    assert!(big.len() > MAX_FILE_BYTES);
    let built = build(&[CommitSpec::new(
        "c1",
        "alice@example.org",
        &[("big.sh", Some(&big)), ("small.sh", Some("echo\n# c\n"))],
    )]);
    let got = commit_lines(&built.repo, built.id("c1"), None, &Limits::default()).unwrap();
    assert_eq!(got, lines(1, 1, 0));
}

#[test]
fn copying_a_file_counts_and_renaming_it_does_not() {
    let body = "fn a() {}\nfn b() {}\n";
    let built = build(&[
        CommitSpec::new("c1", "alice@example.org", &[("a.rs", Some(body))]),
        CommitSpec::new("c2", "bob@example.org", &[("b.rs", Some(body))]),
        CommitSpec::new(
            "c3",
            "carol@example.org",
            &[("b.rs", None), ("c.rs", Some(body))],
        ),
    ]);
    let l = |id: &str, parent: &str| {
        commit_lines(
            &built.repo,
            built.id(id),
            Some(built.id(parent)),
            &Limits::default(),
        )
        .unwrap()
    };
    assert_eq!(l("c2", "c1"), lines(2, 0, 0), "a copy is new lines");
    assert_eq!(l("c3", "c2"), lines(0, 0, 0), "a rename is not");
}

#[test]
fn symlinks_are_not_files_anyone_wrote() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    git(p, &["init", "-q", "-b", "main"]);
    std::fs::write(p.join("a.rs"), "fn a() {}\n").unwrap();
    std::os::unix::fs::symlink("a-target-path-that-is-long.rs", p.join("link.rs")).unwrap();
    git(p, &["add", "."]);
    git(p, &["commit", "-q", "-m", "one"]);
    let r = contributors(p, "HEAD", &Options::default()).unwrap();
    assert_eq!(r.authors.len(), 1);
    assert_eq!(r.authors[0].lines, lines(1, 0, 0));
}

#[test]
fn a_crafted_commit_meets_the_limits_instead_of_memory() {
    let files: Vec<(String, String)> = (0..50)
        .map(|i| (format!("d{}/f{i}.rs", i % 5), format!("fn f{i}() {{}}\n")))
        .collect();
    let refs: Vec<(&str, Option<&str>)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), Some(c.as_str())))
        .collect();
    let built = build(&[CommitSpec::new("c1", "alice@example.org", &refs)]);
    let tight = Limits {
        max_entries: 20,
        max_bytes: 1 << 20,
    };
    let e = commit_lines(&built.repo, built.id("c1"), None, &tight).unwrap_err();
    assert!(matches!(e, ContributorsError::TooLarge { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains(&built.id("c1").to_string()) && msg.contains("more than 20 tree entries"),
        "{msg}"
    );

    let tight = Limits {
        max_entries: 1000,
        max_bytes: 100,
    };
    let e = commit_lines(&built.repo, built.id("c1"), None, &tight).unwrap_err();
    assert!(e.to_string().contains("more than 100 bytes"), "{e}");
    // Within the defaults it counts.
    let got = commit_lines(&built.repo, built.id("c1"), None, &Limits::default()).unwrap();
    assert_eq!(got, lines(50, 0, 0));
}

#[test]
fn a_missing_blob_is_named_not_skipped() {
    let built = build(&[
        CommitSpec::new("c1", "alice@example.org", &[("a.rs", Some("fn a() {}\n"))]),
        CommitSpec::new(
            "c2",
            "bob@example.org",
            &[("gone.rs", Some("fn gone() {}\n"))],
        ),
    ]);
    let blob = built
        .repo
        .find_commit(built.id("c2"))
        .unwrap()
        .tree()
        .unwrap()
        .get_name("gone.rs")
        .unwrap()
        .id()
        .to_string();
    let loose = built
        .repo
        .path()
        .join("objects")
        .join(&blob[..2])
        .join(&blob[2..]);
    std::fs::remove_file(loose).unwrap();
    let e = contributors_at(&built.repo, built.id("c2"), &Options::default()).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("gone.rs") && msg.contains(&blob) && msg.contains("partial clone"),
        "{msg}"
    );
}

#[test]
fn a_shallow_clone_is_refused_with_the_fix() {
    let built = build(&[
        CommitSpec::new("c1", "alice@example.org", &[("a.rs", Some("fn a() {}\n"))]),
        CommitSpec::new("c2", "bob@example.org", &[("b.rs", Some("fn b() {}\n"))]),
    ]);
    let d = tempfile::tempdir().unwrap();
    let url = format!("file://{}", built.path().display());
    git(d.path(), &["clone", "-q", "--depth", "1", &url, "shallow"]);
    let e = contributors(&d.path().join("shallow"), "HEAD", &Options::default()).unwrap_err();
    assert!(matches!(e, ContributorsError::Shallow { .. }), "{e}");
    assert!(e.to_string().contains("git fetch --unshallow"), "{e}");
}

#[test]
fn unknown_revisions_and_non_repositories_are_named() {
    let built = build(&[CommitSpec::new(
        "c1",
        "alice@example.org",
        &[("a.rs", Some("x\n"))],
    )]);
    let e = contributors(built.path(), "no-such-branch", &Options::default()).unwrap_err();
    assert!(
        e.to_string().contains("unknown revision `no-such-branch`"),
        "{e}"
    );
    let empty = tempfile::tempdir().unwrap();
    let e = contributors(empty.path(), "HEAD", &Options::default()).unwrap_err();
    assert!(e.to_string().contains("is not a git repository"), "{e}");
}

#[test]
fn an_annotated_tag_counts_at_its_commit() {
    let built = build(&[
        CommitSpec::new("c1", "alice@example.org", &[("a.rs", Some("fn a() {}\n"))]),
        CommitSpec::new("c2", "bob@example.org", &[("b.rs", Some("fn b() {}\n"))]),
    ]);
    git(
        built.path(),
        &[
            "tag",
            "-a",
            "-m",
            "release",
            "v1",
            &built.id("c1").to_string(),
        ],
    );
    let r = contributors(built.path(), "v1", &Options::default()).unwrap();
    assert_eq!(r.commit, built.id("c1").to_string());
    assert_eq!(r.commits_counted, 1);
}

#[test]
fn a_mailmap_that_is_not_utf8_is_refused() {
    let built = build(&[CommitSpec::new(
        "c1",
        "alice@example.org",
        &[("a.rs", Some("x\n"))],
    )]);
    // git2's index takes bytes; the script's contents are strings, so write this one directly.
    let repo = &built.repo;
    let blob = repo.blob(b"A <a@x> <\xff@x>\n").unwrap();
    let mut tb = repo
        .treebuilder(Some(
            &repo.find_commit(built.id("c1")).unwrap().tree().unwrap(),
        ))
        .unwrap();
    tb.insert(".mailmap", blob, 0o100644).unwrap();
    let tree = repo.find_tree(tb.write().unwrap()).unwrap();
    let sig = git2::Signature::new("a", "alice@example.org", &git2::Time::new(1, 0)).unwrap();
    let parent = repo.find_commit(built.id("c1")).unwrap();
    let c2 = repo
        .commit(None, &sig, &sig, "m\n", &tree, &[&parent])
        .unwrap();
    let e = contributors_at(repo, c2, &Options::default()).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains(".mailmap") && msg.contains("not UTF-8"),
        "{msg}"
    );
}

#[test]
fn the_same_script_gives_the_same_commits_and_report() {
    let script = [
        CommitSpec::new("c1", "alice@example.org", &[("a.nix", Some("{ }\n# c\n"))]),
        CommitSpec::new("c2", "bob@example.org", &[("README.md", Some("hi\n"))]),
    ];
    let (a, b) = (build(&script), build(&script));
    assert_eq!(
        a.ids, b.ids,
        "fixed identities and times make fixed commit ids"
    );
    let ra = contributors_at(&a.repo, a.id("c2"), &Options::default()).unwrap();
    let rb = contributors_at(&b.repo, b.id("c2"), &Options::default()).unwrap();
    assert_eq!(
        serde_json::to_string(&ra).unwrap(),
        serde_json::to_string(&rb).unwrap()
    );
    let emails: Vec<&str> = ra.authors.iter().map(|a| a.email.as_str()).collect();
    assert_eq!(emails, ["alice@example.org", "bob@example.org"]);
    assert_eq!(ra.authors[0].share_ppm + ra.authors[1].share_ppm, 1_000_000);
}
