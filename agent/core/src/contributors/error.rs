use crate::diff_hash::DiffHashError;
use std::path::PathBuf;
use thiserror::Error;

/// Why contributor points or bindings could not be computed. Each says what to do about it.
#[derive(Debug, Error)]
pub enum ContributorsError {
    #[error("{} is not a git repository (give the repository with --repo): {source}", path.display())]
    NotARepository {
        path: PathBuf,
        #[source]
        source: git2::Error,
    },
    #[error(transparent)]
    Revision(#[from] DiffHashError),
    #[error("{} is a shallow clone: points need the whole history; run `git fetch --unshallow` there first", path.display())]
    Shallow { path: PathBuf },
    #[error("cannot read the history of {at} (is this a partial clone?): {source}")]
    History {
        at: String,
        #[source]
        source: git2::Error,
    },
    #[error("commit {commit}: object {oid} for `{path}` is missing or unreadable (is this a partial clone?): {source}")]
    MissingObject {
        commit: String,
        path: String,
        oid: String,
        #[source]
        source: git2::Error,
    },
    #[error("commit {commit}: malformed tree at `{path}`: {problem}")]
    MalformedTree {
        commit: String,
        path: String,
        problem: String,
    },
    #[error("commit {commit} is too large to count: {what}; no hand-written change comes near this, a repository built to exhaust memory does")]
    TooLarge { commit: String, what: String },
    #[error("the .mailmap at {commit} cannot be used: {problem}; fix it in a new commit and count at that one")]
    Mailmap { commit: String, problem: String },
    #[error("{what} does not fit in 64 bits: the point weights are too large")]
    Overflow { what: String },
    #[error("--require-signed: cannot run `{}` to verify commit signatures ({source}); install git or leave out --require-signed", program.display())]
    GitMissing {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("--require-signed: git cannot verify the signature of commit {commit}: {message}")]
    Verifier { commit: String, message: String },
}
