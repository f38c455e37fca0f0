//! Builds real git repositories with git2 from the commit scripts of
//! tests/vectors/contributors.json: fixed identities, times and messages, so commit ids are the
//! same on every machine and a table hash can be written down in a vector.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use git2::{IndexEntry, IndexTime, Oid, Repository, Signature, Time};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitSpec {
    pub id: String,
    pub author: String,
    #[serde(default)]
    pub name: Option<String>,
    /// Path → content; `null` deletes the path.
    pub files: BTreeMap<String, Option<String>>,
    /// Default: the previous commit; `[]` makes a root commit.
    #[serde(default)]
    pub parents: Option<Vec<String>>,
}

impl CommitSpec {
    pub fn new(id: &str, author: &str, files: &[(&str, Option<&str>)]) -> CommitSpec {
        CommitSpec {
            id: id.to_owned(),
            author: author.to_owned(),
            name: None,
            files: files
                .iter()
                .map(|(p, c)| ((*p).to_owned(), c.map(str::to_owned)))
                .collect(),
            parents: None,
        }
    }

    pub fn parents(mut self, parents: &[&str]) -> CommitSpec {
        self.parents = Some(parents.iter().map(|p| (*p).to_owned()).collect());
        self
    }
}

pub struct Built {
    pub dir: tempfile::TempDir,
    pub repo: Repository,
    pub ids: BTreeMap<String, Oid>,
}

impl Built {
    pub fn id(&self, name: &str) -> Oid {
        *self
            .ids
            .get(name)
            .unwrap_or_else(|| panic!("no commit `{name}` in the script"))
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

pub const EPOCH: i64 = 1_700_000_000;

/// Builds the script in a new repository; `refs/heads/main` (HEAD) points at its last commit.
pub fn build(commits: &[CommitSpec]) -> Built {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repository::init(dir.path()).unwrap();
    let mut ids = BTreeMap::new();
    let mut previous: Option<Oid> = None;
    let mut index = repo.index().unwrap();
    for (i, c) in commits.iter().enumerate() {
        let parents: Vec<Oid> = match &c.parents {
            Some(ps) => ps.iter().map(|p| ids[p]).collect(),
            None => previous.into_iter().collect(),
        };
        index.clear().unwrap();
        if let Some(first) = parents.first() {
            index
                .read_tree(&repo.find_commit(*first).unwrap().tree().unwrap())
                .unwrap();
        }
        for (path, content) in &c.files {
            match content {
                None => index.remove_path(Path::new(path)).unwrap(),
                Some(text) => index
                    .add_frombuffer(&entry(path, text.len()), text.as_bytes())
                    .unwrap(),
            }
        }
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let name = c
            .name
            .clone()
            .unwrap_or_else(|| c.author.split('@').next().unwrap().to_owned());
        let when = Time::new(EPOCH + 60 * i as i64, 0);
        let sig = Signature::new(&name, &c.author, &when).unwrap();
        let parent_commits: Vec<_> = parents
            .iter()
            .map(|p| repo.find_commit(*p).unwrap())
            .collect();
        let refs: Vec<_> = parent_commits.iter().collect();
        let oid = repo
            .commit(None, &sig, &sig, &format!("{}\n", c.id), &tree, &refs)
            .unwrap();
        ids.insert(c.id.clone(), oid);
        previous = Some(oid);
    }
    if let Some(last) = previous {
        repo.reference("refs/heads/main", last, true, "script")
            .unwrap();
        repo.set_head("refs/heads/main").unwrap();
    }
    drop(index);
    Built { dir, repo, ids }
}

fn entry(path: &str, len: usize) -> IndexEntry {
    IndexEntry {
        ctime: IndexTime::new(0, 0),
        mtime: IndexTime::new(0, 0),
        dev: 0,
        ino: 0,
        mode: 0o100644,
        uid: 0,
        gid: 0,
        file_size: u32::try_from(len).unwrap(),
        id: Oid::ZERO_SHA1,
        flags: 0,
        flags_extended: 0,
        path: path.as_bytes().to_vec(),
    }
}

/// tests/vectors/contributors.json, parsed.
pub fn vectors() -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/contributors.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A vector's commit script.
pub fn script(v: &serde_json::Value) -> Vec<CommitSpec> {
    serde_json::from_value(v["commits"].clone()).unwrap()
}
