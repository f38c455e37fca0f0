//! Canonical diff hash v1 (docs/diff-hash.md): the SHA-256 of a byte stream that names every path
//! changed between two commits with its mode and content digest on each side. It is what members
//! approve and what hosts verify, so any two implementations must agree on it byte for byte:
//! rename detection, diff algorithms and commit metadata play no part.

mod delta;
mod digest;
mod error;
mod pack;
mod tree;

pub use error::DiffHashError;

use git2::{ObjectType, Oid, Repository};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// The header that starts every stream; the version is part of what is hashed.
pub const HEADER: &[u8] = b"dao-diff-hash/v1\n";

/// A canonical diff hash, written `sha256:<64 lowercase hex>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DiffHash(pub [u8; 32]);

impl DiffHash {
    /// The hash of a change that changes nothing: the header alone.
    pub fn empty() -> DiffHash {
        DiffHash(Sha256::digest(HEADER).into())
    }
}

impl fmt::Display for DiffHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", hex::encode(self.0))
    }
}

impl FromStr for DiffHash {
    type Err = DiffHashError;

    fn from_str(s: &str) -> Result<DiffHash, DiffHashError> {
        let bad = || DiffHashError::BadHashText(s.chars().take(80).collect());
        let hex_part = s.strip_prefix("sha256:").ok_or_else(bad)?;
        if hex_part.len() != 64 || hex_part.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(hex_part, &mut out).map_err(|_| bad())?;
        Ok(DiffHash(out))
    }
}

impl Serialize for DiffHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DiffHash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<DiffHash, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// How much work hashing one change may take. A change of a NixOS configuration comes nowhere
/// near the defaults (all of nixpkgs is about 100,000 entries); a repository built to exhaust
/// memory or time (trees that name each other many times over: a few kilobytes that stand for
/// billions of paths) meets them and is refused with [`DiffHashError::TooLarge`] instead of
/// taking the process down. Together they bound the walk's memory to a few hundred MiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Tree entries read, over both commits (identical subtrees are not read).
    pub max_entries: u64,
    /// Bytes of the full paths of all the entries read, added up.
    pub max_path_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 1_000_000,
            max_path_bytes: 128 << 20,
        }
    }
}

/// The diff hash of two commits and what went into it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffSummary {
    pub diff_hash: DiffHash,
    pub base: String,
    pub head: String,
    /// Paths in the stream.
    pub changed_paths: u64,
    /// Content bytes of the files and symlinks on both sides of the changed paths.
    pub bytes_hashed: u64,
}

impl DiffSummary {
    /// The two trees are identical.
    pub fn is_empty(&self) -> bool {
        self.changed_paths == 0
    }
}

/// Resolves `base` and `head` (any revision git understands that names a commit) in the
/// repository at `repo_path` and hashes the change between them.
pub fn diff_hash_revisions(
    repo_path: &Path,
    base: &str,
    head: &str,
) -> Result<DiffSummary, DiffHashError> {
    let repo = Repository::open(repo_path).map_err(|source| DiffHashError::NotARepository {
        path: repo_path.to_path_buf(),
        source,
    })?;
    let base = resolve_commit(&repo, base)?;
    let head = resolve_commit(&repo, head)?;
    diff_hash(&repo, base, head)
}

/// Resolves a revision to a commit id; tags are followed, trees and blobs are refused.
pub fn resolve_commit(repo: &Repository, rev: &str) -> Result<Oid, DiffHashError> {
    let object = repo
        .revparse_single(rev)
        .map_err(|source| DiffHashError::UnknownRevision {
            rev: rev.to_owned(),
            source,
        })?;
    let kind = object.kind();
    object
        .peel(ObjectType::Commit)
        .map(|c| c.id())
        .map_err(|_| DiffHashError::NotACommit {
            rev: rev.to_owned(),
            kind: kind.map_or("unknown object", |k| k.str()),
        })
}

/// The canonical diff hash of the change from commit `base` to commit `head`, within the default
/// [`Limits`].
pub fn diff_hash(repo: &Repository, base: Oid, head: Oid) -> Result<DiffSummary, DiffHashError> {
    diff_hash_within(repo, base, head, &Limits::default())
}

/// [`diff_hash`] within other limits.
pub fn diff_hash_within(
    repo: &Repository,
    base: Oid,
    head: Oid,
    limits: &Limits,
) -> Result<DiffSummary, DiffHashError> {
    digest::tune_libgit2();
    let tree_of = |oid: Oid| -> Result<Oid, DiffHashError> {
        let commit = repo
            .find_commit(oid)
            .map_err(|source| DiffHashError::NotACommitId {
                oid: oid.to_string(),
                source,
            })?;
        Ok(commit.tree_id())
    };
    let mut changes = tree::changed_paths(repo, tree_of(base)?, tree_of(head)?, limits)?;
    changes.sort_unstable_by(|a, b| a.path.cmp(&b.path));
    let digests = digest::digest_blobs(repo, &changes)?;

    let mut stream = Sha256::new();
    stream.update(HEADER);
    let mut bytes_hashed = 0u64;
    for change in &changes {
        stream.update(&change.path);
        stream.update([0]);
        for side in [&change.base, &change.head] {
            let (mode, digest) = match side {
                None => ("0".to_owned(), [0u8; 32]),
                Some(entry) => {
                    let d = digests.side(entry)?;
                    bytes_hashed += d.size;
                    (format!("{:o}", entry.mode), d.digest)
                }
            };
            stream.update(mode.as_bytes());
            stream.update([0]);
            stream.update(digest);
        }
    }
    Ok(DiffSummary {
        diff_hash: DiffHash(stream.finalize().into()),
        base: base.to_string(),
        head: head.to_string(),
        changed_paths: changes.len() as u64,
        bytes_hashed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_empty_change_is_the_hash_of_the_header() {
        // Computed independently: python3 -c "import hashlib; print(hashlib.sha256(b'dao-diff-hash/v1\n').hexdigest())"
        assert_eq!(
            DiffHash::empty().to_string(),
            "sha256:867576b128ac435c478cfffddf4e9917439367d88e6a93d15326a410d71d0210"
        );
    }

    #[test]
    fn hash_text_round_trips_and_bad_text_is_refused() {
        let h = DiffHash([0xab; 32]);
        assert_eq!(h.to_string().parse::<DiffHash>().unwrap(), h);
        for bad in [
            "",
            "sha256:",
            "sha256:abab",
            "sha1:abababababababababababababababababababababababababababababababab",
            "sha256:ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB",
            "sha256:zbababababababababababababababababababababababababababababababab",
            "sha256:abababababababababababababababababababababababababababababababab00",
        ] {
            let e = bad.parse::<DiffHash>().unwrap_err();
            assert!(e.to_string().contains("sha256:<64 lowercase hex"), "{e}");
        }
    }
}
