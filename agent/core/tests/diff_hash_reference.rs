//! The git2 implementation of the canonical diff hash against an independent implementation of
//! docs/diff-hash.md (tests/reference/diff_hash_ref.py, written from the specification alone and
//! reading raw tree objects through the git CLI), on fixture repositories that cover every case
//! the specification names; and bad input, which must give an error that names the problem.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use dao_testkit::git_stdin as git;

use dao_core::diff_hash::{
    diff_hash, diff_hash_revisions, diff_hash_within, resolve_commit, DiffHash, DiffHashError,
    Limits,
};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Deserialize)]
struct Case {
    name: String,
    repo: PathBuf,
    base: String,
    head: String,
}

#[derive(Deserialize, Debug, PartialEq)]
struct Reference {
    diff_hash: String,
    changed_paths: u64,
    bytes_hashed: u64,
}

fn reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference")
}

fn python(args: &[&std::ffi::OsStr]) -> Vec<u8> {
    let out = Command::new("python3").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "python3 {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn agrees_with_the_independent_implementation_on_every_fixture() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = reference_dir().join("make_fixtures.py");
    let cases: Vec<Case> =
        serde_json::from_slice(&python(&[fixtures.as_os_str(), dir.path().as_os_str()])).unwrap();
    assert!(cases.len() >= 20, "fixtures lost cases: {}", cases.len());
    let oracle = reference_dir().join("diff_hash_ref.py");
    let mut seen_empty = false;
    for case in &cases {
        let ours = diff_hash_revisions(&case.repo, &case.base, &case.head)
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let theirs: Reference = serde_json::from_slice(&python(&[
            oracle.as_os_str(),
            "--json".as_ref(),
            case.repo.as_os_str(),
            case.base.as_ref(),
            case.head.as_ref(),
        ]))
        .unwrap();
        assert_eq!(
            Reference {
                diff_hash: ours.diff_hash.to_string(),
                changed_paths: ours.changed_paths,
                bytes_hashed: ours.bytes_hashed,
            },
            theirs,
            "case {}",
            case.name
        );
        if ours.is_empty() {
            assert_eq!(ours.diff_hash, DiffHash::empty(), "case {}", case.name);
            seen_empty = true;
        } else {
            // The direction of a change is part of what is approved.
            let back = diff_hash_revisions(&case.repo, &case.head, &case.base).unwrap();
            assert_ne!(
                back.diff_hash, ours.diff_hash,
                "case {} reversed",
                case.name
            );
        }
    }
    assert!(seen_empty, "no fixture exercises the empty change");
}

/// A repository with two commits: `one` (a.txt) and `two` (a.txt changed, b.txt added).
fn small_repo() -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    git(p, &["init", "-q", "-b", "main"], None);
    std::fs::write(p.join("a.txt"), "one\n").unwrap();
    git(p, &["add", "a.txt"], None);
    git(p, &["commit", "-q", "-m", "one"], None);
    let one = git(p, &["rev-parse", "HEAD"], None);
    std::fs::write(p.join("a.txt"), "two\n").unwrap();
    std::fs::write(p.join("b.txt"), "b\n").unwrap();
    git(p, &["add", "a.txt", "b.txt"], None);
    git(p, &["commit", "-q", "-m", "two"], None);
    let two = git(p, &["rev-parse", "HEAD"], None);
    (dir, one, two)
}

#[test]
fn revisions_tags_and_abbreviations_resolve_to_commits() {
    let (dir, one, two) = small_repo();
    git(dir.path(), &["tag", "-a", "-m", "t", "v2", &two], None);
    let full = diff_hash_revisions(dir.path(), &one, &two).unwrap();
    for (b, h) in [("HEAD~1", "HEAD"), (&one[..10], "v2"), (&one, "main")] {
        assert_eq!(
            diff_hash_revisions(dir.path(), b, h).unwrap(),
            full,
            "{b} {h}"
        );
    }
    assert_eq!(full.changed_paths, 2);
    assert_eq!(full.bytes_hashed, 4 + 4 + 2);
}

#[test]
fn not_a_repository_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let e = diff_hash_revisions(dir.path(), "a", "b").unwrap_err();
    let text = e.to_string();
    assert!(text.contains("is not a git repository"), "{text}");
    assert!(text.contains(&dir.path().display().to_string()), "{text}");
}

#[test]
fn an_unknown_revision_is_named() {
    let (dir, one, _) = small_repo();
    for bad in [
        "no-such-branch",
        "0123456789abcdef0123456789abcdef01234567",
        "HEAD~9",
    ] {
        let e = diff_hash_revisions(dir.path(), &one, bad).unwrap_err();
        assert!(
            e.to_string().contains(&format!("unknown revision `{bad}`")),
            "{e}"
        );
    }
}

#[test]
fn a_tree_or_blob_is_not_a_commit() {
    let (dir, one, _) = small_repo();
    let tree = git(dir.path(), &["rev-parse", "HEAD^{tree}"], None);
    let blob = git(dir.path(), &["rev-parse", "HEAD:a.txt"], None);
    for (rev, kind) in [(tree.as_str(), "tree"), (blob.as_str(), "blob")] {
        let e = diff_hash_revisions(dir.path(), &one, rev).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("revision `{rev}` names a {kind}, not a commit")
        );
    }
}

#[test]
fn a_missing_blob_is_an_error_naming_its_path() {
    let (dir, one, two) = small_repo();
    let blob = git(dir.path(), &["rev-parse", "HEAD:b.txt"], None);
    let loose = dir
        .path()
        .join(".git/objects")
        .join(&blob[..2])
        .join(&blob[2..]);
    std::fs::remove_file(loose).unwrap();
    let e = diff_hash_revisions(dir.path(), &one, &two).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("`b.txt`") && text.contains(&blob), "{text}");
}

/// The hash covers content, not object ids: a blob whose stored bytes are not what its id says
/// (libgit2 streams a loose object without checking its id) hashes as the bytes it holds, so
/// the change no longer matches what was approved.
#[test]
fn content_that_is_not_what_its_id_says_changes_the_hash() {
    let (dir, one, two) = small_repo();
    let approved = diff_hash_revisions(dir.path(), &one, &two).unwrap();
    let loose = |repo: &Path, oid: &str| repo.join(".git/objects").join(&oid[..2]).join(&oid[2..]);
    // The same path with other content, in a second repository.
    let (other, _, _) = small_repo();
    std::fs::write(other.path().join("b.txt"), "B\n").unwrap();
    git(other.path(), &["commit", "-q", "-am", "other b"], None);
    let genuine = diff_hash_revisions(other.path(), "HEAD~2", "HEAD").unwrap();
    let other_blob = git(other.path(), &["rev-parse", "HEAD:b.txt"], None);

    // Swap the stored bytes of two's b.txt for the other content, keeping two's object id.
    let blob = git(dir.path(), &["rev-parse", &format!("{two}:b.txt")], None);
    let target = loose(dir.path(), &blob);
    let mut perms = std::fs::metadata(&target).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&target, perms).unwrap();
    std::fs::copy(loose(other.path(), &other_blob), &target).unwrap();

    let tampered = diff_hash_revisions(dir.path(), &one, &two).unwrap();
    assert_ne!(tampered.diff_hash, approved.diff_hash);
    assert_eq!(tampered.diff_hash, genuine.diff_hash);
}

/// Writes a raw tree object (git's own tools refuse to make these).
fn raw_tree(dir: &Path, entries: &[(&str, &[u8], &str)]) -> String {
    let mut raw = Vec::new();
    for (mode, name, oid) in entries {
        raw.extend_from_slice(mode.as_bytes());
        raw.push(b' ');
        raw.extend_from_slice(name);
        raw.push(0);
        raw.extend_from_slice(&hex_bytes(oid));
    }
    git(
        dir,
        &["hash-object", "-t", "tree", "-w", "--literally", "--stdin"],
        Some(&raw),
    )
}

fn hex_bytes(h: &str) -> Vec<u8> {
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
        .collect()
}

fn commit_of(dir: &Path, tree: &str) -> String {
    git(dir, &["commit-tree", tree, "-m", "crafted"], None)
}

#[test]
fn trees_where_two_entries_claim_one_path_are_refused() {
    let (dir, one, _) = small_repo();
    let p = dir.path();
    let blob = git(p, &["rev-parse", "HEAD:a.txt"], None);
    let inner = raw_tree(p, &[("100644", b"b", &blob)]);
    for (what, entries) in [
        (
            "contains '/'",
            vec![
                ("100644", &b"a/b"[..], blob.as_str()),
                ("40000", b"a", &inner),
            ],
        ),
        (
            "appears twice",
            vec![
                ("100644", &b"x"[..], blob.as_str()),
                ("100644", b"x", &blob),
            ],
        ),
    ] {
        let tree = raw_tree(p, &entries);
        let head = commit_of(p, &tree);
        let e = diff_hash_revisions(p, &one, &head).unwrap_err();
        assert!(e.to_string().contains("malformed tree"), "{what}: {e}");
        assert!(e.to_string().contains(what), "{what}: {e}");
    }
}

#[test]
fn a_directory_entry_that_points_at_a_blob_is_refused() {
    let (dir, one, _) = small_repo();
    let p = dir.path();
    let blob = git(p, &["rev-parse", "HEAD:a.txt"], None);
    let tree = raw_tree(p, &[("40000", b"d", &blob)]);
    let head = commit_of(p, &tree);
    let e = diff_hash_revisions(p, &one, &head).unwrap_err();
    // Not "missing or unreadable (is this a shallow or partial clone?)": the object is there, it
    // is of the wrong kind (the diff_hash fuzz target saw that message on every such tree).
    assert_eq!(
        e.to_string(),
        format!("`d` names object {blob}, a blob, where a tree was expected")
    );
}

#[test]
fn a_tree_that_does_not_parse_is_malformed_not_missing() {
    let (dir, one, _) = small_repo();
    let p = dir.path();
    let blob = git(p, &["rev-parse", "HEAD:a.txt"], None);
    // An entry cut short: the object id ends after 5 of its 20 bytes.
    let broken = git(
        p,
        &["hash-object", "-t", "tree", "-w", "--literally", "--stdin"],
        Some(b"100644 a\0short"),
    );
    let tree = raw_tree(p, &[("40000", b"d", &broken), ("100644", b"f", &blob)]);
    let head = commit_of(p, &tree);
    let e = diff_hash_revisions(p, &one, &head).unwrap_err();
    assert!(
        e.to_string().starts_with(&format!(
            "malformed tree at `d`: object {broken} does not parse: "
        )),
        "{e}"
    );
    // A commit whose tree is a blob.
    let text = format!(
        "tree {blob}\nauthor A <a@example.org> 0 +0000\ncommitter A <a@example.org> 0 +0000\n\nx\n"
    );
    let odd = git(
        p,
        &[
            "hash-object",
            "-t",
            "commit",
            "-w",
            "--literally",
            "--stdin",
        ],
        Some(text.as_bytes()),
    );
    let e = diff_hash_revisions(p, &one, &odd).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("`.` names object {blob}, a blob, where a tree was expected")
    );
}

#[test]
fn a_file_entry_that_points_at_a_tree_is_refused() {
    let (dir, one, _) = small_repo();
    let p = dir.path();
    let tree_id = git(p, &["rev-parse", "HEAD^{tree}"], None);
    let tree = raw_tree(p, &[("100644", b"f", &tree_id)]);
    let head = commit_of(p, &tree);
    let e = diff_hash_revisions(p, &one, &head).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("`f` names object {tree_id}, a tree, where a blob was expected")
    );
}

#[test]
fn very_deep_trees_do_not_exhaust_the_stack() {
    let (dir, one, _) = small_repo();
    let p = dir.path();
    let blob = git(p, &["rev-parse", "HEAD:a.txt"], None);
    let mut tree = raw_tree(p, &[("100644", b"leaf", &blob)]);
    for _ in 0..3000 {
        tree = raw_tree(p, &[("40000", b"d", &tree)]);
    }
    let head = commit_of(p, &tree);
    let repo = git2::Repository::open(p).unwrap();
    let base = resolve_commit(&repo, &one).unwrap();
    let head = resolve_commit(&repo, &head).unwrap();
    // Run on a small stack: recursion 3000 deep would overflow it.
    let path = p.to_path_buf();
    let summary = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            let repo = git2::Repository::open(path).unwrap();
            diff_hash(&repo, base, head).map(|s| s.changed_paths)
        })
        .unwrap()
        .join()
        .unwrap()
        .unwrap();
    assert_eq!(summary, 2); // a.txt removed, d/d/…/leaf added
    drop(repo);
}

#[test]
fn the_worked_example_of_the_documentation_holds() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    git(p, &["init", "-q", "-b", "main"], None);
    std::fs::write(p.join("a.txt"), "one\n").unwrap();
    std::fs::create_dir(p.join("d")).unwrap();
    std::fs::write(p.join("d/x"), "x\n").unwrap();
    git(p, &["add", "."], None);
    git(p, &["commit", "-q", "-m", "base"], None);
    std::fs::write(p.join("a.txt"), "two\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p.join("a.txt"), std::fs::Permissions::from_mode(0o755)).unwrap();
    git(p, &["rm", "-q", "d/x"], None);
    std::fs::write(p.join("d"), "y\n").unwrap();
    std::os::unix::fs::symlink("a.txt", p.join("link")).unwrap();
    git(p, &["add", "-A"], None);
    git(p, &["commit", "-q", "-m", "head"], None);
    let s = diff_hash_revisions(p, "HEAD~1", "HEAD").unwrap();
    assert_eq!(
        s.diff_hash.to_string(),
        "sha256:da98fb5a8df88302090bffc87c4e9697956a03a39ce0770c3443a597022ead5b"
    );
    assert_eq!((s.changed_paths, s.bytes_hashed), (4, 17));
}

/// A "git bomb": 14 small trees, each naming the one below 16 times, stand for 16^13 paths in
/// about 6 KB. Walking them all exhausted memory and aborted the process (found by the
/// diff_hash fuzz target, agent/fuzz); the walk is bounded and refuses such a change by name.
#[test]
fn a_git_bomb_is_refused_not_walked() {
    let (dir, one, _) = small_repo();
    let p = dir.path();
    let blob = git(p, &["rev-parse", "HEAD:a.txt"], None);
    let names: Vec<Vec<u8>> = (b'a'..=b'p').map(|c| vec![c]).collect();
    let leaves: Vec<(&str, &[u8], &str)> = names
        .iter()
        .map(|n| ("100644", n.as_slice(), blob.as_str()))
        .collect();
    let mut tree = raw_tree(p, &leaves);
    for _ in 0..12 {
        let dirs: Vec<(&str, &[u8], &str)> = names
            .iter()
            .map(|n| ("40000", n.as_slice(), tree.as_str()))
            .collect();
        tree = raw_tree(p, &dirs);
    }
    let bomb = commit_of(p, &tree);
    let e = diff_hash_revisions(p, &one, &bomb).unwrap_err();
    assert!(matches!(e, DiffHashError::TooLarge { .. }), "{e}");
    assert!(
        e.to_string()
            .starts_with("the change is too large to hash: more than 1000000 tree entries"),
        "{e}"
    );
}

#[test]
fn each_limit_of_the_walk_is_named() {
    let (dir, one, two) = small_repo();
    let repo = git2::Repository::open(dir.path()).unwrap();
    let base = resolve_commit(&repo, &one).unwrap();
    let head = resolve_commit(&repo, &two).unwrap();
    let limits = Limits::default();
    assert!(diff_hash_within(&repo, base, head, &limits).is_ok());
    // One entry in `one`'s tree and two in `two`'s: three entries read; two paths, "a.txt" and
    // "b.txt", 10 bytes.
    let entries = Limits {
        max_entries: 2,
        ..limits
    };
    let e = diff_hash_within(&repo, base, head, &entries).unwrap_err();
    assert!(e.to_string().contains("more than 2 tree entries"), "{e}");
    let paths = Limits {
        max_path_bytes: 9,
        ..limits
    };
    let e = diff_hash_within(&repo, base, head, &paths).unwrap_err();
    assert!(
        e.to_string()
            .contains("more than 9 bytes of paths (the last one `b.txt`)"),
        "{e}"
    );
    let exact = Limits {
        max_entries: 3,
        max_path_bytes: 10,
    };
    assert!(diff_hash_within(&repo, base, head, &exact).is_ok());
}
