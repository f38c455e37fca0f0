//! Finds the changed paths of two trees. Identical subtrees (same id) are skipped without reading
//! them: they cannot hold a changed path. An explicit stack instead of recursion, because a
//! crafted repository can nest trees deeper than any thread's stack; and a bounded walk
//! ([`Limits`]), because a few kilobytes of trees that name each other many times over (a "git
//! bomb") stand for more paths than any memory holds.

use super::error::DiffHashError;
use super::Limits;
use git2::{ObjectType, Oid, Repository};
use std::collections::BTreeMap;

const TYPE_MASK: u32 = 0o170000;
const TREE: u32 = 0o040000;
const GITLINK: u32 = 0o160000;

/// One side of a changed path: a file, symlink or gitlink (never a tree).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Side {
    pub mode: u32,
    pub oid: Oid,
}

impl Side {
    pub fn is_gitlink(&self) -> bool {
        self.mode & TYPE_MASK == GITLINK
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: Vec<u8>,
    pub base: Option<Side>,
    pub head: Option<Side>,
}

struct Entry {
    mode: u32,
    oid: Oid,
}

impl Entry {
    fn is_tree(&self) -> bool {
        self.mode & TYPE_MASK == TREE
    }
    fn side(&self) -> Side {
        Side {
            mode: self.mode,
            oid: self.oid,
        }
    }
}

pub fn show(path: &[u8]) -> String {
    String::from_utf8_lossy(path).into_owned()
}

/// The entries of a tree by name. Names must be non-empty and free of `/`, and unique: otherwise
/// two entries could claim one path and the stream would not be canonical.
fn entries(
    repo: &Repository,
    oid: Oid,
    dir: &[u8],
    budget: &mut Budget<'_>,
) -> Result<BTreeMap<Vec<u8>, Entry>, DiffHashError> {
    let where_ = || show(dir.strip_suffix(b"/").unwrap_or(b"."));
    let tree = repo.find_tree(oid).map_err(|source| {
        // Say which: another kind of object, a tree that does not parse, or no object at all.
        match repo
            .odb()
            .and_then(|odb| crate::git_header::read_header(&odb, oid))
        {
            Ok((_, Some(ObjectType::Tree))) => DiffHashError::MalformedTree {
                path: where_(),
                problem: format!("object {oid} does not parse: {}", source.message()),
            },
            Ok((_, Some(kind))) => DiffHashError::WrongObjectType {
                path: where_(),
                oid: oid.to_string(),
                found: kind.str(),
                expected: "tree",
            },
            Ok((_, None)) => DiffHashError::MalformedTree {
                path: where_(),
                problem: format!(
                    "object {oid} has a type no git object may have (a damaged repository): {}",
                    source.message()
                ),
            },
            Err(_) => DiffHashError::MissingObject {
                oid: oid.to_string(),
                path: where_(),
                source,
            },
        }
    })?;
    budget.read(tree.len() as u64)?;
    let mut out = BTreeMap::new();
    for entry in tree.iter() {
        let name = entry.name_bytes().to_vec();
        if name.is_empty() || name.contains(&b'/') {
            return Err(DiffHashError::MalformedTree {
                path: where_(),
                problem: format!("entry name `{}` is empty or contains '/'", show(&name)),
            });
        }
        let e = Entry {
            mode: u32::try_from(entry.filemode_raw()).unwrap_or(u32::MAX),
            oid: entry.id(),
        };
        if out.insert(name.clone(), e).is_some() {
            return Err(DiffHashError::MalformedTree {
                path: where_(),
                problem: format!("entry `{}` appears twice", show(&name)),
            });
        }
    }
    Ok(out)
}

/// What the walk has used of its [`Limits`].
struct Budget<'a> {
    limits: &'a Limits,
    entries: u64,
    path_bytes: u64,
}

impl Budget<'_> {
    fn read(&mut self, entries: u64) -> Result<(), DiffHashError> {
        self.entries = self.entries.saturating_add(entries);
        if self.entries > self.limits.max_entries {
            return Err(DiffHashError::TooLarge {
                what: format!("more than {} tree entries to read", self.limits.max_entries),
            });
        }
        Ok(())
    }

    fn path(&mut self, path: &[u8]) -> Result<(), DiffHashError> {
        self.path_bytes = self.path_bytes.saturating_add(path.len() as u64);
        if self.path_bytes > self.limits.max_path_bytes {
            return Err(DiffHashError::TooLarge {
                what: format!(
                    "more than {} bytes of paths (the last one `{}`)",
                    self.limits.max_path_bytes,
                    show(&path[..path.len().min(80)])
                ),
            });
        }
        Ok(())
    }
}

/// Every changed path between the trees `base` and `head`, in no particular order, within
/// `limits`.
pub fn changed_paths(
    repo: &Repository,
    base: Oid,
    head: Oid,
    limits: &Limits,
) -> Result<Vec<Change>, DiffHashError> {
    let mut budget = Budget {
        limits,
        entries: 0,
        path_bytes: 0,
    };
    let mut out = Vec::new();
    // (directory prefix ending in '/', or empty at the root; base tree; head tree)
    let mut stack: Vec<(Vec<u8>, Option<Oid>, Option<Oid>)> =
        vec![(Vec::new(), Some(base), Some(head))];
    while let Some((dir, b, h)) = stack.pop() {
        if b == h {
            continue;
        }
        let b = match b {
            Some(oid) => entries(repo, oid, &dir, &mut budget)?,
            None => BTreeMap::new(),
        };
        let h = match h {
            Some(oid) => entries(repo, oid, &dir, &mut budget)?,
            None => BTreeMap::new(),
        };
        let mut names: Vec<&Vec<u8>> = b.keys().chain(h.keys()).collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            let (be, he) = (b.get(name), h.get(name));
            let mut path = dir.clone();
            path.extend_from_slice(name);
            budget.path(&path)?;
            let subtree = |e: Option<&Entry>| e.filter(|e| e.is_tree()).map(|e| e.oid);
            let leaf = |e: Option<&Entry>| e.filter(|e| !e.is_tree()).map(Entry::side);
            let (bt, ht) = (subtree(be), subtree(he));
            if bt.is_some() || ht.is_some() {
                let mut sub = path.clone();
                sub.push(b'/');
                stack.push((sub, bt, ht));
            }
            let (bl, hl) = (leaf(be), leaf(he));
            if (bl.is_some() || hl.is_some()) && bl != hl {
                out.push(Change {
                    path,
                    base: bl,
                    head: hl,
                });
            }
        }
    }
    Ok(out)
}
