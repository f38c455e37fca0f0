//! Lines added per commit (docs/contributors.md, "Points").
//!
//! A non-merge commit is credited with the lines it adds relative to its first parent (a root
//! commit: relative to nothing). "Adds" is a multiset difference, not a diff: over all the
//! regular files the commit changes, each (class, trimmed line) counts as often as it occurs
//! more after the commit than before. So the result does not depend on a diff algorithm or on
//! rename detection, and moving code (within a file, or to another file) or re-indenting it
//! earns nothing; copying a file to a new path does earn, as in git's own statistics.
//!
//! Merge commits are skipped: their changes relative to the first parent are the merged
//! branch's commits, which are reachable themselves and counted once there. What a merge writes
//! on its own (a conflict resolution) is not counted.

use super::classify::{classify, family_of, is_binary, Family, LineClass};
use super::history::History;
use super::ContributorsError;
use git2::{Oid, Repository};
use serde::Serialize;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};

/// A file's classified non-blank lines.
type Lines = Vec<(LineClass, Vec<u8>)>;

/// Files larger than this are not counted: nobody writes a megabyte by hand, and tools that
/// generate such files (bundles, dumps, vendored sources) should not make anyone a majority.
pub const MAX_FILE_BYTES: usize = 1 << 20;

/// Lines per class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LineCounts {
    pub code: u64,
    pub comment: u64,
    pub text: u64,
}

impl LineCounts {
    fn add(&mut self, class: LineClass, n: u64) {
        let slot = match class {
            LineClass::Code => &mut self.code,
            LineClass::Comment => &mut self.comment,
            LineClass::Text => &mut self.text,
        };
        *slot = slot.saturating_add(n);
    }

    fn merge(&mut self, other: &LineCounts) {
        self.add(LineClass::Code, other.code);
        self.add(LineClass::Comment, other.comment);
        self.add(LineClass::Text, other.text);
    }
}

/// How much one commit may make the count read. A crafted commit (trees that name each other
/// many times over, a "git bomb") meets these and is refused instead of exhausting memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Tree entries read for one commit, both sides.
    pub max_entries: u64,
    /// Bytes of distinct blobs read for one commit, both sides.
    pub max_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 1_000_000,
            max_bytes: 512 << 20,
        }
    }
}

/// One author's lines and commits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorLines {
    pub lines: LineCounts,
    pub commits: u64,
}

pub(crate) struct Counted {
    pub authors: BTreeMap<String, AuthorLines>,
    pub commits: u64,
    pub merges: u64,
}

/// Counts every non-merge commit of `history`.
pub(crate) fn count(
    repo: &Repository,
    history: &History,
    limits: &Limits,
) -> Result<Counted, ContributorsError> {
    let mut out = Counted {
        authors: BTreeMap::new(),
        commits: 0,
        merges: 0,
    };
    for c in &history.commits {
        if c.is_merge() {
            out.merges += 1;
            continue;
        }
        let lines = commit_lines(repo, c.oid, c.parents.first().copied(), limits)?;
        let a = out.authors.entry(c.author.clone()).or_default();
        a.lines.merge(&lines);
        a.commits += 1;
        out.commits += 1;
    }
    Ok(out)
}

/// The lines commit `oid` adds relative to `parent` (none: the empty tree).
pub fn commit_lines(
    repo: &Repository,
    oid: Oid,
    parent: Option<Oid>,
    limits: &Limits,
) -> Result<LineCounts, ContributorsError> {
    let commit_err = |source| ContributorsError::History {
        at: oid.to_string(),
        source,
    };
    let tree = repo.find_commit(oid).map_err(commit_err)?.tree_id();
    let base = match parent {
        Some(p) => Some(repo.find_commit(p).map_err(commit_err)?.tree_id()),
        None => None,
    };
    let mut walk = Walk {
        repo,
        commit: oid,
        limits,
        entries: 0,
        bytes: 0,
    };
    let files = walk.changed_files(base, tree)?;
    // +1 for every line after the commit, −1 for every line before, per (class, content).
    let mut delta: HashMap<(LineClass, Vec<u8>), i64> = HashMap::new();
    let mut seen: HashMap<(Oid, &'static str), Lines> = HashMap::new();
    for f in &files {
        let family = family_of(&f.path);
        if family == Family::Generated {
            continue;
        }
        for (blob, sign) in [(f.old, -1i64), (f.new, 1i64)] {
            let Some(blob) = blob else { continue };
            let key = (blob, family.name());
            let lines = match seen.entry(key) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => e.insert(walk.lines(blob, family, &f.path)?),
            };
            for line in lines.iter() {
                *delta.entry(line.clone()).or_insert(0) += sign;
            }
        }
    }
    let mut counts = LineCounts::default();
    for ((class, _), d) in delta {
        if d > 0 {
            counts.add(class, d.unsigned_abs());
        }
    }
    Ok(counts)
}

/// A regular file that differs between the two trees (symlinks and submodules are not files
/// anyone wrote lines in).
struct ChangedFile {
    path: Vec<u8>,
    old: Option<Oid>,
    new: Option<Oid>,
}

const TYPE_MASK: u32 = 0o170000;
const TREE: u32 = 0o040000;
const REGULAR: u32 = 0o100000;

struct Walk<'a> {
    repo: &'a Repository,
    commit: Oid,
    limits: &'a Limits,
    entries: u64,
    bytes: u64,
}

fn show(path: &[u8]) -> String {
    String::from_utf8_lossy(path).into_owned()
}

impl Walk<'_> {
    fn too_large(&self, what: String) -> ContributorsError {
        ContributorsError::TooLarge {
            commit: self.commit.to_string(),
            what,
        }
    }

    /// The entries of a tree: name → (mode, id).
    fn entries(
        &mut self,
        oid: Oid,
        dir: &[u8],
    ) -> Result<BTreeMap<Vec<u8>, (u32, Oid)>, ContributorsError> {
        let tree = self
            .repo
            .find_tree(oid)
            .map_err(|source| ContributorsError::MissingObject {
                commit: self.commit.to_string(),
                path: show(dir),
                oid: oid.to_string(),
                source,
            })?;
        self.entries = self.entries.saturating_add(tree.len() as u64);
        if self.entries > self.limits.max_entries {
            return Err(self.too_large(format!(
                "more than {} tree entries",
                self.limits.max_entries
            )));
        }
        let mut out = BTreeMap::new();
        for e in tree.iter() {
            let name = e.name_bytes().to_vec();
            if name.is_empty() || name.contains(&b'/') {
                return Err(ContributorsError::MalformedTree {
                    commit: self.commit.to_string(),
                    path: show(dir),
                    problem: format!("entry name `{}` is empty or contains '/'", show(&name)),
                });
            }
            let mode = u32::try_from(e.filemode_raw()).unwrap_or(0);
            out.insert(name, (mode, e.id()));
        }
        Ok(out)
    }

    /// Regular files that differ between `base` and `head`; identical subtrees are skipped
    /// unread. An explicit stack, because a crafted repository can nest trees deeper than a
    /// thread's stack.
    fn changed_files(
        &mut self,
        base: Option<Oid>,
        head: Oid,
    ) -> Result<Vec<ChangedFile>, ContributorsError> {
        let mut out = Vec::new();
        let mut stack: Vec<(Vec<u8>, Option<Oid>, Option<Oid>)> =
            vec![(Vec::new(), base, Some(head))];
        while let Some((dir, b, h)) = stack.pop() {
            if b == h {
                continue;
            }
            let b = match b {
                Some(oid) => self.entries(oid, &dir)?,
                None => BTreeMap::new(),
            };
            let h = match h {
                Some(oid) => self.entries(oid, &dir)?,
                None => BTreeMap::new(),
            };
            let mut names: Vec<&Vec<u8>> = b.keys().chain(h.keys()).collect();
            names.sort_unstable();
            names.dedup();
            for name in names {
                let (be, he) = (b.get(name), h.get(name));
                let mut path = dir.clone();
                path.extend_from_slice(name);
                let of = |e: Option<&(u32, Oid)>, kind: u32| {
                    e.filter(|(m, _)| m & TYPE_MASK == kind).map(|(_, o)| *o)
                };
                let (bt, ht) = (of(be, TREE), of(he, TREE));
                if bt.is_some() || ht.is_some() {
                    let mut sub = path.clone();
                    sub.push(b'/');
                    stack.push((sub, bt, ht));
                }
                let (old, new) = (of(be, REGULAR), of(he, REGULAR));
                if old != new {
                    out.push(ChangedFile { path, old, new });
                }
            }
        }
        Ok(out)
    }

    /// The classified non-blank lines of a blob; none for binary or oversized content.
    fn lines(&mut self, oid: Oid, family: Family, path: &[u8]) -> Result<Lines, ContributorsError> {
        let missing = |source| ContributorsError::MissingObject {
            commit: self.commit.to_string(),
            path: show(path),
            oid: oid.to_string(),
            source,
        };
        // The header first: an oversized blob is refused without inflating it.
        let odb = self.repo.odb().map_err(missing)?;
        let (size, _) = crate::git_header::read_header(&odb, oid).map_err(missing)?;
        if size > MAX_FILE_BYTES {
            return Ok(Vec::new());
        }
        self.bytes = self.bytes.saturating_add(size as u64);
        if self.bytes > self.limits.max_bytes {
            return Err(self.too_large(format!(
                "more than {} bytes of files to read",
                self.limits.max_bytes
            )));
        }
        let blob = self.repo.find_blob(oid).map_err(missing)?;
        let content = blob.content();
        if is_binary(content) {
            return Ok(Vec::new());
        }
        Ok(classify(family, content)
            .into_iter()
            .map(|(c, l)| (c, l.to_vec()))
            .collect())
    }
}
