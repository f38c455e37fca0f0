//! The commits reachable from one commit, in an order every implementation can reproduce, and
//! the identity each is credited to.

use super::ContributorsError;
use git2::{Mailmap, Oid, Repository, Signature, Sort};
use std::collections::HashMap;

/// The `.mailmap` of the counted commit, not of the working tree or the user's configuration
/// (`Repository::mailmap` reads those): identities must follow from the commit alone.
pub(crate) struct MailmapAt {
    pub map: Mailmap,
    pub present: bool,
}

pub(crate) fn mailmap_at(repo: &Repository, at: Oid) -> Result<MailmapAt, ContributorsError> {
    let problem = |problem: String| ContributorsError::Mailmap {
        commit: at.to_string(),
        problem,
    };
    let tree = repo
        .find_commit(at)
        .and_then(|c| c.tree())
        .map_err(|source| ContributorsError::History {
            at: at.to_string(),
            source,
        })?;
    let blob = match tree.get_name(".mailmap") {
        Some(entry) if entry.filemode() & 0o170000 == 0o100000 => repo
            .find_blob(entry.id())
            .map_err(|e| problem(format!("its blob cannot be read: {}", e.message())))?,
        _ => {
            let map = Mailmap::new().map_err(|e| problem(e.message().to_owned()))?;
            return Ok(MailmapAt {
                map,
                present: false,
            });
        }
    };
    let text = std::str::from_utf8(blob.content())
        .map_err(|e| problem(format!("it is not UTF-8 ({e})")))?;
    let map = Mailmap::from_buffer(text).map_err(|e| problem(e.message().to_owned()))?;
    Ok(MailmapAt { map, present: true })
}

/// An identity: an email, lowercased (git itself matches emails without regard to case).
pub(crate) fn identity(email: &[u8]) -> String {
    String::from_utf8_lossy(email).to_lowercase()
}

/// The identity of `sig` after the mailmap.
pub(crate) fn resolve(map: &Mailmap, sig: &Signature<'_>) -> String {
    match map.resolve_signature(sig) {
        Ok(mapped) => identity(mapped.email_bytes()),
        Err(_) => identity(sig.email_bytes()),
    }
}

/// The identity of an email written in `daoContributors.txt`, through the same mailmap. Only
/// email-keyed mailmap lines can match: the entry has no name (git needs one; the email stands in).
pub(crate) fn resolve_email(map: &Mailmap, email: &str) -> String {
    match Signature::new(email, email, &git2::Time::new(0, 0)) {
        Ok(sig) => resolve(map, &sig),
        Err(_) => identity(email.as_bytes()),
    }
}

pub(crate) struct CommitInfo {
    pub oid: Oid,
    pub parents: Vec<Oid>,
    /// The author's email after the mailmap, lowercased.
    pub author: String,
    /// The author's email as written in the commit, lowercased.
    pub author_raw: String,
}

impl CommitInfo {
    pub fn is_merge(&self) -> bool {
        self.parents.len() > 1
    }
}

pub(crate) struct History {
    /// Every commit reachable from the counted one, parents before children: ordered by
    /// generation (the longest path from a root), then committer time, then commit id. Any
    /// implementation can compute this order from the objects alone; "most recently bound"
    /// and "first bound" mean later and earlier in it.
    pub commits: Vec<CommitInfo>,
}

impl History {
    pub fn walk(repo: &Repository, at: Oid, map: &Mailmap) -> Result<History, ContributorsError> {
        let err = |source| ContributorsError::History {
            at: at.to_string(),
            source,
        };
        let mut walk = repo.revwalk().map_err(err)?;
        // libgit2's own order serves only to see parents first; the order kept is ours.
        walk.set_sorting(Sort::TOPOLOGICAL | Sort::REVERSE)
            .map_err(err)?;
        walk.push(at).map_err(err)?;
        let mut generation: HashMap<Oid, u64> = HashMap::new();
        let mut keyed = Vec::new();
        for oid in walk {
            let oid = oid.map_err(err)?;
            let commit = repo.find_commit(oid).map_err(err)?;
            let parents: Vec<Oid> = commit.parent_ids().collect();
            let g = parents
                .iter()
                .filter_map(|p| generation.get(p))
                .max()
                .map_or(0, |g| g + 1);
            generation.insert(oid, g);
            let author = commit.author();
            let info = CommitInfo {
                oid,
                parents,
                author: resolve(map, &author),
                author_raw: identity(author.email_bytes()),
            };
            keyed.push(((g, commit.time().seconds(), oid), info));
        }
        keyed.sort_by_key(|k| k.0);
        Ok(History {
            commits: keyed.into_iter().map(|(_, c)| c).collect(),
        })
    }
}
