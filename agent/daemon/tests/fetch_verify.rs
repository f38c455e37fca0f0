//! Fetch and verify against real remotes: `git daemon` on 127.0.0.1 serving real repositories,
//! a port with nothing behind it, and a listener that accepts and never answers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use dao_testkit::{free_port, git, GitDaemon};

use dao_agent::executor::confirm::{confirm, Check};
use dao_agent::executor::{
    fetch_commits, verify_change, Approved, FetchError, Fetched, VerifyError,
};
use dao_core::diff_hash::{diff_hash_revisions, DiffHash};
use git2::Oid;
use std::net::TcpListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The governed repository: base (genesis), head (an approved change), and a tampered head that
/// changes one more file than what was approved.
struct Fleet {
    _dir: tempfile::TempDir,
    served: PathBuf,
    base: Oid,
    head: Oid,
    tampered: Oid,
    approved_hash: DiffHash,
}

fn fleet(name: &str, flavour: &str) -> Fleet {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::write(
        work.join("flake.nix"),
        format!("# {flavour}\n{{ outputs = {{ self }}: {{ }}; }}\n"),
    )
    .unwrap();
    std::fs::write(work.join("web.nix"), "{ services.nginx.enable = false; }\n").unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "genesis"]);
    let base = git(&work, &["rev-parse", "HEAD"]);
    std::fs::write(work.join("web.nix"), "{ services.nginx.enable = true; }\n").unwrap();
    git(&work, &["commit", "-q", "-am", "enable nginx"]);
    let head = git(&work, &["rev-parse", "HEAD"]);
    std::fs::write(work.join("backdoor.nix"), "{ users.users.eve = { }; }\n").unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "--amend", "-m", "enable nginx"]);
    let tampered = git(&work, &["rev-parse", "HEAD"]);
    git(&work, &["branch", "approved", &head]);
    let approved_hash = diff_hash_revisions(&work, &base, &head).unwrap().diff_hash;
    let served_root = dir.path().join("served");
    std::fs::create_dir(&served_root).unwrap();
    let served = served_root.join(name);
    git(
        dir.path(),
        &[
            "clone",
            "-q",
            "--bare",
            work.to_str().unwrap(),
            served.to_str().unwrap(),
        ],
    );
    git(
        &served,
        &["config", "uploadpack.allowReachableSHA1InWant", "true"],
    );
    Fleet {
        _dir: dir,
        served,
        base: Oid::from_str(&base).unwrap(),
        head: Oid::from_str(&head).unwrap(),
        tampered: Oid::from_str(&tampered).unwrap(),
        approved_hash,
    }
}

const T: Duration = Duration::from_secs(20);

#[test]
fn fetches_by_commit_id_and_verifies_the_approved_change() {
    let f = fleet("fleet.git", "ours");
    let d = GitDaemon::start(f.served.parent().unwrap());
    let url = d.url("fleet.git");
    let checkout = tempfile::tempdir().unwrap();
    let co = checkout.path().join("checkout");
    let got = fetch_commits(
        &co,
        std::slice::from_ref(&url),
        Some(&url),
        &[f.base, f.head],
        true, // shallow: depth-1 fetches by id work against git daemon
        T,
    )
    .unwrap();
    assert_eq!(got, Fetched::Remote(url.clone()));
    let repo = git2::Repository::open_bare(&co).unwrap();
    let approved = Approved {
        proposal: 1,
        base: f.base,
        head: f.head,
        diff_hash: f.approved_hash,
    };
    verify_change(&repo, &approved).unwrap();
    // A second fetch finds everything already there and asks no remote.
    drop(d);
    assert_eq!(
        fetch_commits(&co, &[url], None, &[f.base, f.head], false, T).unwrap(),
        Fetched::AlreadyPresent
    );
}

#[test]
fn a_head_that_does_not_match_the_approved_hash_is_refused() {
    let f = fleet("fleet.git", "ours");
    let d = GitDaemon::start(f.served.parent().unwrap());
    let url = d.url("fleet.git");
    let co = tempfile::tempdir().unwrap();
    fetch_commits(co.path(), &[url], None, &[f.base, f.tampered], false, T).unwrap();
    let repo = git2::Repository::open_bare(co.path()).unwrap();
    let e = verify_change(
        &repo,
        &Approved {
            proposal: 7,
            base: f.base,
            head: f.tampered,
            diff_hash: f.approved_hash,
        },
    )
    .unwrap_err();
    assert!(
        matches!(e, VerifyError::DiffHashMismatch { proposal: 7, .. }),
        "{e}"
    );
    let text = e.to_string();
    assert!(
        text.contains(&f.approved_hash.to_string()) && text.contains("refusing"),
        "{text}"
    );
}

#[test]
fn a_commit_missing_from_the_checkout_is_not_verified() {
    let f = fleet("fleet.git", "ours");
    let co = tempfile::tempdir().unwrap();
    let repo = dao_agent::executor::fetch::open_checkout(co.path()).unwrap();
    let e = verify_change(
        &repo,
        &Approved {
            proposal: 2,
            base: f.base,
            head: f.head,
            diff_hash: f.approved_hash,
        },
    )
    .unwrap_err();
    assert!(
        matches!(e, VerifyError::MissingCommit { proposal: 2, .. }),
        "{e}"
    );
}

#[test]
fn a_remote_that_is_down_is_named_and_the_next_one_is_tried() {
    let f = fleet("fleet.git", "ours");
    let d = GitDaemon::start(f.served.parent().unwrap());
    let down = format!("git://127.0.0.1:{}/fleet.git", free_port());
    let up = d.url("fleet.git");
    let co = tempfile::tempdir().unwrap();
    let got = fetch_commits(
        co.path(),
        &[down.clone(), up.clone()],
        None,
        &[f.head],
        false,
        T,
    )
    .unwrap();
    assert_eq!(got, Fetched::Remote(up));

    let co = tempfile::tempdir().unwrap();
    let e = fetch_commits(
        co.path(),
        std::slice::from_ref(&down),
        None,
        &[f.head],
        false,
        T,
    )
    .unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, FetchError::AllRemotesFailed { .. }));
    assert!(
        text.contains(&down) && text.contains(&f.head.to_string()),
        "{text}"
    );
}

#[test]
fn a_remote_that_hangs_times_out_with_its_url() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accept connections and hold them open without a word, for as long as the test runs.
    let holder = std::thread::spawn(move || {
        let mut held = Vec::new();
        listener.set_nonblocking(true).unwrap();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if let Ok((s, _)) = listener.accept() {
                held.push(s);
            }
            std::thread::sleep(Duration::from_millis(10));
            if held.len() > 3 {
                break;
            }
        }
        held
    });
    let url = format!("git://127.0.0.1:{port}/fleet.git");
    let co = tempfile::tempdir().unwrap();
    let oid = Oid::from_bytes(&[1; 20]).unwrap();
    let start = Instant::now();
    let e = fetch_commits(
        co.path(),
        std::slice::from_ref(&url),
        None,
        &[oid],
        false,
        Duration::from_secs(2),
    )
    .unwrap_err();
    let took = start.elapsed();
    let text = e.to_string();
    assert!(text.contains(&url), "{text}");
    // Bounded: the timeout, not forever. (The bound is generous: libgit2's timeout is per read.)
    assert!(took < Duration::from_secs(25), "took {took:?}: {text}");
    drop(holder);
}

#[test]
fn a_remote_that_serves_another_repository_is_refused() {
    let f = fleet("fleet.git", "ours");
    let other = fleet("fleet.git", "a different repository");
    let d = GitDaemon::start(other.served.parent().unwrap());
    let url = d.url("fleet.git");
    let co = tempfile::tempdir().unwrap();
    let e = fetch_commits(
        co.path(),
        std::slice::from_ref(&url),
        None,
        &[f.base, f.head],
        false,
        T,
    )
    .unwrap_err();
    let text = e.to_string();
    assert!(text.contains(&url), "{text}");
    let repo = git2::Repository::open_bare(co.path()).unwrap();
    assert!(repo.find_commit(f.head).is_err());
}

#[test]
fn a_remote_not_on_the_allow_list_is_never_contacted() {
    let f = fleet("fleet.git", "ours");
    let d = GitDaemon::start(f.served.parent().unwrap());
    let evil = d.url("fleet.git");
    let allowed = vec![format!("git://127.0.0.1:{}/fleet.git", free_port())];
    let co = tempfile::tempdir().unwrap();
    let e = fetch_commits(co.path(), &allowed, Some(&evil), &[f.head], false, T).unwrap_err();
    assert!(matches!(e, FetchError::NotAllowed { .. }), "{e}");
    assert!(e.to_string().contains("not in source.allowed_remotes"));
    // Nothing was fetched (nor even a checkout created).
    assert!(std::fs::read_dir(co.path()).unwrap().next().is_none());
}

#[test]
fn a_checkout_path_holding_something_else_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let co = dir.path().join("checkout");
    std::fs::create_dir(&co).unwrap();
    std::fs::write(co.join("notes.txt"), "mine").unwrap();
    let e = fetch_commits(
        &co,
        &["file:///nonexistent".into()],
        None,
        &[Oid::ZERO_SHA1],
        false,
        T,
    )
    .unwrap_err();
    assert!(matches!(e, FetchError::Checkout { .. }), "{e}");
    assert_eq!(
        std::fs::read_to_string(co.join("notes.txt")).unwrap(),
        "mine"
    );
}

#[test]
fn the_remote_health_check_passes_against_a_live_remote() {
    let f = fleet("fleet.git", "ours");
    let d = GitDaemon::start(f.served.parent().unwrap());
    confirm(
        &[Check::Remote(d.url("fleet.git"))],
        Duration::from_secs(10),
        Duration::from_millis(100),
    )
    .unwrap();
}
