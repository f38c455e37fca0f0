//! FetchCommits: brings the approved commits into the agent's own bare checkout, by commit id,
//! from the allow-listed remotes only, within a deadline, trying each remote in turn.
//!
//! What a remote serves is not trusted: after a fetch the commits must be present under exactly
//! the ids approved on chain, and verify.rs hashes their trees itself.

use git2::{AutotagOption, FetchOptions, Oid, RemoteCallbacks, Repository};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use thiserror::Error;

/// Where the commits came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// Every commit was already in the checkout.
    AlreadyPresent,
    /// Fetched from this remote.
    Remote(String),
}

/// One remote that did not deliver, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub url: String,
    pub reason: String,
}

#[derive(Debug, Error)]
pub enum FetchError {
    #[error("the checkout {} cannot be opened or created: {source}", path.display())]
    Checkout {
        path: PathBuf,
        #[source]
        source: git2::Error,
    },
    #[error("remote {url} is not in source.allowed_remotes; refusing to fetch from it")]
    NotAllowed { url: String },
    #[error("no remote to fetch from: source.allowed_remotes is empty")]
    NoRemotes,
    #[error("no allowed remote delivered commit(s) {commits}: {}", Attempts(.attempts))]
    AllRemotesFailed {
        commits: String,
        attempts: Vec<Attempt>,
    },
}

struct Attempts<'a>(&'a [Attempt]);

impl fmt::Display for Attempts<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", a.url, a.reason)?;
        }
        Ok(())
    }
}

/// Opens the agent's bare checkout, creating it on first use.
pub fn open_checkout(path: &Path) -> Result<Repository, FetchError> {
    let err = |source| FetchError::Checkout {
        path: path.to_path_buf(),
        source,
    };
    match Repository::open_bare(path) {
        Ok(r) => Ok(r),
        Err(_) if !path.exists() || is_empty_dir(path) => Repository::init_bare(path).map_err(err),
        Err(e) => Err(err(e)),
    }
}

fn is_empty_dir(path: &Path) -> bool {
    std::fs::read_dir(path).is_ok_and(|mut d| d.next().is_none())
}

fn has_commit(repo: &Repository, oid: Oid) -> bool {
    repo.find_commit(oid).is_ok()
}

/// Fetches `commits` into the bare checkout at `checkout`; `shallow` fetches only the commits
/// themselves (depth 1), without history.
///
/// `preferred`, when given (the repository URL pinned in the app), is tried first, and must be
/// one of `allowed`; then the other allowed remotes in their configured order. Each remote gets
/// the whole `timeout`: a remote that is down, hangs, or lacks a commit is skipped with its
/// reason, and the error lists every remote tried.
pub fn fetch_commits(
    checkout: &Path,
    allowed: &[String],
    preferred: Option<&str>,
    commits: &[Oid],
    shallow: bool,
    timeout: Duration,
) -> Result<Fetched, FetchError> {
    if let Some(p) = preferred {
        if !allowed.iter().any(|a| a == p) {
            return Err(FetchError::NotAllowed { url: p.to_owned() });
        }
    }
    let repo = open_checkout(checkout)?;
    if commits.iter().all(|c| has_commit(&repo, *c)) {
        return Ok(Fetched::AlreadyPresent);
    }
    if allowed.is_empty() {
        return Err(FetchError::NoRemotes);
    }
    let order = preferred.into_iter().chain(
        allowed
            .iter()
            .map(String::as_str)
            .filter(|a| Some(*a) != preferred),
    );
    let wanted: Vec<Oid> = commits
        .iter()
        .copied()
        .filter(|c| !has_commit(&repo, *c))
        .collect();
    let mut attempts = Vec::new();
    for url in order {
        match fetch_from(&repo, url, commits, shallow, timeout) {
            Ok(()) => {
                let missing: Vec<String> = commits
                    .iter()
                    .filter(|c| !has_commit(&repo, **c))
                    .map(Oid::to_string)
                    .collect();
                if missing.is_empty() {
                    return Ok(Fetched::Remote(url.to_owned()));
                }
                attempts.push(Attempt {
                    url: url.to_owned(),
                    reason: format!(
                        "the remote answers but does not have commit(s) {} (never pushed, or \
                         force-pushed away)",
                        missing.join(", ")
                    ),
                });
            }
            Err(reason) => attempts.push(Attempt {
                url: url.to_owned(),
                reason: classify(url, &wanted, &reason, timeout),
            }),
        }
    }
    Err(FetchError::AllRemotesFailed {
        commits: commits
            .iter()
            .map(Oid::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        attempts,
    })
}

/// Says which of the two a failed fetch was: a remote that cannot be reached (it may come back:
/// retry), or one that answers but does not have the commits (the proposal names commits that
/// were never pushed or were force-pushed away). libgit2 reports the second as a transport
/// error ("Broken pipe", "unexpected EOF") because the server hangs up on an unknown want, so
/// the remote is asked again for its refs alone.
fn classify(url: &str, commits: &[Oid], raw: &str, timeout: Duration) -> String {
    if raw.starts_with("timed out") {
        return format!("unreachable: {raw}");
    }
    set_socket_timeouts(timeout);
    let answered = git2::Remote::create_detached(url).is_ok_and(|mut r| {
        let ok = r.connect(git2::Direction::Fetch).is_ok() && r.list().is_ok();
        let _ = r.disconnect();
        ok
    });
    if answered {
        let ids: Vec<String> = commits.iter().map(Oid::to_string).collect();
        format!(
            "the remote answers but does not have commit(s) {} (never pushed, or force-pushed \
             away; git said: {raw})",
            ids.join(", ")
        )
    } else {
        format!("unreachable: {raw}")
    }
}

/// Sets libgit2's connect and read timeouts for the next network operation.
pub(crate) fn set_socket_timeouts(timeout: Duration) {
    let millis = i32::try_from(timeout.as_millis())
        .unwrap_or(i32::MAX)
        .max(1);
    // SAFETY: sets libgit2 process-wide options (plain integers); the agent runs one network
    // operation at a time and sets the values before each, so none sees a value change mid-way.
    #[allow(unsafe_code)]
    unsafe {
        let _ = git2::opts::set_server_connect_timeout_in_milliseconds(millis);
        let _ = git2::opts::set_server_timeout_in_milliseconds(millis);
    }
}

/// One fetch of the commits by id, no tags, aborted at the deadline.
fn fetch_from(
    repo: &Repository,
    url: &str,
    commits: &[Oid],
    shallow: bool,
    timeout: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    // libgit2 has no per-call timeout: a socket read timeout catches a remote that sends
    // nothing, the progress callback one that trickles.
    set_socket_timeouts(timeout);
    let mut remote = repo
        .remote_anonymous(url)
        .map_err(|e| format!("not a usable remote URL: {}", e.message()))?;
    let mut callbacks = RemoteCallbacks::new();
    callbacks.transfer_progress(|_| Instant::now() < deadline);
    callbacks.sideband_progress(|_| Instant::now() < deadline);
    let mut options = FetchOptions::new();
    options
        .remote_callbacks(callbacks)
        .download_tags(AutotagOption::None);
    if shallow {
        options.depth(1);
    }
    let refspecs: Vec<String> = commits.iter().map(Oid::to_string).collect();
    remote
        .fetch(&refspecs, Some(&mut options), None)
        .map_err(|e| {
            if Instant::now() >= deadline {
                format!("timed out after {} s", timeout.as_secs_f64())
            } else {
                e.message().to_owned()
            }
        })
}
