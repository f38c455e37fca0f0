//! Pack files read by the diff hash's own pack reader (agent/core/src/diff_hash/pack.rs).
//!
//! The input describes blobs (some of them edits of the one before, so that libgit2's pack
//! builder writes deltas), then byte edits of the written pack and index. The blobs are written
//! as loose objects and hashed (the change from an empty tree to a tree of them), then packed by
//! libgit2 with the loose objects removed and hashed again: the two hashes must be equal, so the
//! pack reader (deltas included) gives what libgit2 gives. Then the edits are applied to the
//! pack or its index and the change is hashed once more: whatever the bytes, no panic, and an
//! error names what it is about. (An edit may also leave a valid stream with other content; the
//! hash then differs, which is docs/diff-hash.md's argument for the reader skipping SHA-1.)

use crate::Cursor;
use dao_core::diff_hash::{self, DiffHashError, Limits};
use git2::{ObjectType, Oid, Repository};

const LIMITS: Limits = Limits {
    max_entries: 512,
    max_path_bytes: 16 * 1024,
};

#[derive(Debug, Clone)]
pub enum Blob {
    /// These bytes, repeated.
    Fresh(Vec<u8>, u8),
    /// The previous blob with these bytes inserted at a position (a delta candidate).
    Edit(u16, Vec<u8>),
}

#[derive(Debug, Clone, Copy)]
pub struct Flip {
    /// The index file when true, else the pack.
    pub index: bool,
    pub at: u64,
    pub xor: u8,
}

#[derive(Debug, Clone, Default)]
pub struct Input {
    pub blobs: Vec<Blob>,
    pub flips: Vec<Flip>,
}

impl Input {
    pub fn read(data: &[u8]) -> Input {
        let mut c = Cursor::new(data);
        let blobs = (0..1 + c.u8() % 6)
            .map(|_| match c.u8() % 3 {
                0 => Blob::Edit(c.u16(), c.short().to_vec()),
                _ => {
                    let bytes = c.short().to_vec();
                    Blob::Fresh(bytes, c.u8())
                }
            })
            .collect();
        let flips = (0..c.u8() % 5)
            .map(|_| Flip {
                index: c.u8() % 4 == 0,
                at: c.u64(),
                xor: c.u8().max(1),
            })
            .collect();
        Input { blobs, flips }
    }

    /// The encoding [`Input::read`] reads, for hand-made seeds.
    pub fn write(&self) -> Vec<u8> {
        let mut out = vec![(self.blobs.len().max(1) - 1) as u8];
        for b in &self.blobs {
            match b {
                Blob::Edit(at, bytes) => {
                    out.push(0);
                    out.extend(at.to_be_bytes());
                    out.push(bytes.len() as u8);
                    out.extend(bytes);
                }
                Blob::Fresh(bytes, repeat) => {
                    out.push(1);
                    out.push(bytes.len() as u8);
                    out.extend(bytes);
                    out.push(*repeat);
                }
            }
        }
        out.push(self.flips.len() as u8);
        for f in &self.flips {
            out.push(if f.index { 0 } else { 1 });
            out.extend(f.at.to_be_bytes());
            out.push(f.xor);
        }
        out
    }
}

fn contents(blobs: &[Blob]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for b in blobs {
        let next = match b {
            Blob::Fresh(bytes, repeat) => bytes.repeat(1 + usize::from(*repeat % 64)),
            Blob::Edit(at, bytes) => {
                let mut prev = out.last().cloned().unwrap_or_default();
                let at = usize::from(*at) % (prev.len() + 1);
                prev.splice(at..at, bytes.iter().copied());
                prev
            }
        };
        out.push(next);
    }
    out
}

fn hash(dir: &std::path::Path, base: Oid, head: Oid) -> Result<[u8; 32], DiffHashError> {
    // A fresh handle: nothing read before the edits is served from libgit2's caches.
    let repo = Repository::open_bare(dir).unwrap();
    diff_hash::diff_hash_within(&repo, base, head, &LIMITS).map(|s| s.diff_hash.0)
}

/// Writes the blobs as loose objects, a tree of them, and two commits: the empty tree (base) and
/// that tree (head).
fn write(dir: &std::path::Path, blobs: &[Blob]) -> (Oid, Oid) {
    let repo = Repository::init_bare(dir).unwrap();
    let odb = repo.odb().unwrap();
    let mut tree = repo.treebuilder(None).unwrap();
    for (i, content) in contents(blobs).iter().enumerate() {
        let oid = odb.write(ObjectType::Blob, content).unwrap();
        tree.insert(format!("f{i}"), oid, 0o100644).unwrap();
    }
    let tree = repo.find_tree(tree.write().unwrap()).unwrap();
    let empty = repo
        .find_tree(repo.treebuilder(None).unwrap().write().unwrap())
        .unwrap();
    let sig = git2::Signature::new("A", "a@example.org", &git2::Time::new(0, 0)).unwrap();
    let base = repo.commit(None, &sig, &sig, "base", &empty, &[]).unwrap();
    let head = repo.commit(None, &sig, &sig, "head", &tree, &[]).unwrap();
    (base, head)
}

/// Runs one input (see the module documentation).
pub fn diff_hash_pack(data: &[u8]) {
    let input = Input::read(data);
    let base_dir = std::path::Path::new("/dev/shm");
    let tmp = if base_dir.is_dir() {
        tempfile::Builder::new()
            .prefix("dao-fuzz-pack-")
            .tempdir_in(base_dir)
    } else {
        tempfile::tempdir()
    }
    .unwrap();
    let (base, head) = write(tmp.path(), &input.blobs);
    let loose = hash(tmp.path(), base, head).expect("well-formed loose objects refused");

    let objects = tmp.path().join("objects");
    let pack_dir = objects.join("pack");
    {
        let repo = Repository::open_bare(tmp.path()).unwrap();
        let mut pb = repo.packbuilder().unwrap();
        pb.insert_commit(base).unwrap();
        pb.insert_commit(head).unwrap();
        pb.write(&pack_dir, 0o644).unwrap();
    }
    for e in std::fs::read_dir(&objects).unwrap().flatten() {
        if e.file_name().len() == 2 {
            std::fs::remove_dir_all(e.path()).unwrap();
        }
    }
    let packed = hash(tmp.path(), base, head).expect("well-formed packed objects refused");
    assert_eq!(
        packed, loose,
        "the pack reader and libgit2's loose reads disagree"
    );

    if input.flips.is_empty() {
        return;
    }
    let file_of = |ext: &str| {
        std::fs::read_dir(&pack_dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == ext))
            .unwrap()
    };
    for (ext, index) in [("pack", false), ("idx", true)] {
        let path = file_of(ext);
        let mut bytes = std::fs::read(&path).unwrap();
        if bytes.is_empty() {
            continue;
        }
        for f in input.flips.iter().filter(|f| f.index == index) {
            let at = (f.at % bytes.len() as u64) as usize;
            bytes[at] ^= f.xor;
        }
        // Written packs are read-only; the edit replaces the file.
        let _ = std::fs::remove_file(&path);
        std::fs::write(&path, &bytes).unwrap();
    }
    match hash(tmp.path(), base, head) {
        Ok(_) => {}
        Err(e) => {
            assert!(!e.to_string().is_empty());
            match e {
                DiffHashError::Read { .. }
                | DiffHashError::MissingObject { .. }
                | DiffHashError::NotACommitId { .. }
                | DiffHashError::WrongObjectType { .. }
                | DiffHashError::MalformedTree { .. }
                | DiffHashError::TooLarge { .. }
                | DiffHashError::Reopen { .. } => {}
                other => panic!("an error that reading a damaged pack cannot give: {other}"),
            }
        }
    }
}
