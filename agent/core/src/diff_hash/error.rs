use std::path::PathBuf;
use thiserror::Error;

/// Why a diff hash could not be computed. Paths in git are bytes; they are shown lossily.
#[derive(Debug, Error)]
pub enum DiffHashError {
    #[error("{} is not a git repository (give the repository with --repo): {source}", path.display())]
    NotARepository {
        path: PathBuf,
        #[source]
        source: git2::Error,
    },
    #[error("unknown revision `{rev}`: fetch it or check its spelling ({source})")]
    UnknownRevision {
        rev: String,
        #[source]
        source: git2::Error,
    },
    #[error("revision `{rev}` names a {kind}, not a commit")]
    NotACommit { rev: String, kind: &'static str },
    #[error("{oid} is not a commit in this repository ({source})")]
    NotACommitId {
        oid: String,
        #[source]
        source: git2::Error,
    },
    #[error("object {oid} for `{path}` is missing or unreadable (is this a shallow or partial clone?): {source}")]
    MissingObject {
        oid: String,
        path: String,
        #[source]
        source: git2::Error,
    },
    #[error("`{path}` names object {oid}, a {found}, where a {expected} was expected")]
    WrongObjectType {
        path: String,
        oid: String,
        found: &'static str,
        expected: &'static str,
    },
    #[error("cannot open the object database of {} to read blobs: {source}", path.display())]
    Reopen {
        path: PathBuf,
        #[source]
        source: git2::Error,
    },
    #[error("malformed tree at `{path}`: {problem}")]
    MalformedTree { path: String, problem: String },
    #[error("the change is too large to hash: {what}; no NixOS configuration comes near this, a repository built to exhaust memory does")]
    TooLarge { what: String },
    #[error("`{0}` is not a diff hash: expected sha256:<64 lowercase hex digits>")]
    BadHashText(String),
    #[error("reading `{path}`: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
}
