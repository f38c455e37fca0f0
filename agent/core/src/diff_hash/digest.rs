//! The 32-byte digest of each side of the changed paths. Blob contents are read and hashed on
//! every core; each distinct blob is read once however many paths name it. Blobs in the
//! repository's packs are read by [`pack`](super::pack), straight from the pack files; the rest
//! (loose objects, alternates, whatever that reader leaves) through libgit2, each thread with
//! its own repository handle (libgit2 handles are not shared across threads). With one worker
//! (one blob to read, or one core) the calling thread does the work with the caller's
//! repository.

use super::error::DiffHashError;
use super::pack::{Inflater, Packs};
use super::tree::{show, Change, Side};
use git2::{ObjectType, Oid, Repository};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

#[derive(Debug, Clone, Copy)]
pub struct SideDigest {
    pub digest: [u8; 32],
    /// Content bytes: the blob's size, 0 for a gitlink.
    pub size: u64,
}

pub struct Digests {
    blobs: HashMap<Oid, SideDigest>,
}

impl Digests {
    pub fn side(&self, side: &Side) -> Result<SideDigest, DiffHashError> {
        if side.is_gitlink() {
            return Ok(SideDigest {
                digest: Sha256::digest(side.oid.to_string().as_bytes()).into(),
                size: 0,
            });
        }
        self.blobs
            .get(&side.oid)
            .copied()
            .ok_or_else(|| DiffHashError::MalformedTree {
                path: side.oid.to_string(),
                problem: "blob digest missing (internal error; please report)".into(),
            })
    }
}

/// Hashes every distinct blob named by a changed path.
pub fn digest_blobs(repo: &Repository, changes: &[Change]) -> Result<Digests, DiffHashError> {
    // The first path naming each blob, for error messages.
    let mut named: HashMap<Oid, &[u8]> = HashMap::new();
    for c in changes {
        for side in [c.base, c.head].into_iter().flatten() {
            if !side.is_gitlink() {
                named.entry(side.oid).or_insert(&c.path);
            }
        }
    }
    let work: Vec<(Oid, &[u8])> = named.into_iter().collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(work.len().max(1))
        .min(16);
    let next = AtomicUsize::new(0);
    // A repository that exists only in memory has no directory, and no packs to read.
    let objects = repo.commondir().join("objects");
    let packs = if objects.is_absolute() {
        Packs::open(&objects)
    } else {
        Packs::empty()
    };
    let limit = whole_blob_limit(threads);
    if threads == 1 {
        // No thread to start and no second handle to open. This is also what lets a repository
        // that exists only in memory (`Repository::from_odb`, a mempack backend) be hashed.
        let mut fallback = Fallback::Caller(repo);
        let blobs = hash_all(&packs, &mut fallback, &work, &next, limit)?
            .into_iter()
            .collect();
        return Ok(Digests { blobs });
    }
    let results = Mutex::new(HashMap::with_capacity(work.len()));
    let first_error: Mutex<Option<DiffHashError>> = Mutex::new(None);
    let git_dir = repo.path().to_path_buf();

    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut fallback = Fallback::Own {
                    git_dir: &git_dir,
                    repo: None,
                };
                match hash_all(&packs, &mut fallback, &work, &next, limit) {
                    Ok(local) => {
                        if let Ok(mut r) = results.lock() {
                            r.extend(local);
                        }
                    }
                    Err(e) => {
                        // Stop the other workers early: the whole hash fails anyway.
                        next.store(work.len(), Ordering::Relaxed);
                        record(&first_error, e);
                    }
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().ok().flatten() {
        return Err(e);
    }
    let blobs = results.into_inner().unwrap_or_default();
    Ok(Digests { blobs })
}

/// The largest blob a worker inflates whole; larger ones are streamed. A worker holds at most
/// about three such buffers at once (a delta's base, the delta and its result) besides the
/// compressed bytes, so this keeps the blobs in flight, over all workers, near 32 MiB.
fn whole_blob_limit(threads: usize) -> usize {
    ((32 << 20) / (4 * threads.max(1))).clamp(256 << 10, 4 << 20)
}

/// How libgit2 maps packs, set once per process before the first object is read: it maps them
/// in windows of 1 GiB, up to 8 GiB at once, and every page a read touches counts in the
/// process's resident memory, so the peak grew with the pack. Bounded windows keep it flat in
/// the size of the change (docs/diff-hash.md, "Cost").
///
/// libgit2's check that every object read hashes to its id stays on: the option is process-wide,
/// and outside the diff hash (the lineage, the commits' trees) nothing else re-checks what the
/// persistent checkout holds. The blobs read from packs by [`Packs`] skip it; docs/diff-hash.md
/// ("Cost") says why the diff hash does not need it.
pub fn tune_libgit2() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: process-wide plain integers that libgit2 reads when it maps a window; set once,
        // before this process's first diff hash maps one. A window already mapped stays valid.
        #[allow(unsafe_code)]
        unsafe {
            let _ = git2::opts::set_mwindow_size(PACK_WINDOW);
            let _ = git2::opts::set_mwindow_mapped_limit(PACK_WINDOWS_MAPPED);
        }
    });
}

/// Pack window size and the most mapped at once (see [`tune_libgit2`]).
const PACK_WINDOW: usize = 8 << 20;
const PACK_WINDOWS_MAPPED: usize = 32 << 20;

/// Where a worker reads what the packs do not hold: the caller's repository, or its own handle,
/// opened on first need (most changes never need it).
enum Fallback<'a> {
    Caller(&'a Repository),
    Own {
        git_dir: &'a Path,
        repo: Option<Repository>,
    },
}

impl Fallback<'_> {
    fn odb(&mut self) -> Result<git2::Odb<'_>, DiffHashError> {
        let (repo, git_dir) = match self {
            Fallback::Caller(repo) => (&**repo, repo.path().to_path_buf()),
            Fallback::Own { git_dir, repo } => {
                let opened = match repo.take() {
                    Some(r) => r,
                    None => {
                        Repository::open(&**git_dir).map_err(|source| DiffHashError::Reopen {
                            path: git_dir.to_path_buf(),
                            source,
                        })?
                    }
                };
                (&*repo.insert(opened), git_dir.to_path_buf())
            }
        };
        repo.odb().map_err(|source| DiffHashError::Reopen {
            path: git_dir,
            source,
        })
    }
}

/// Takes blobs off the shared list until it is empty.
fn hash_all(
    packs: &Packs,
    fallback: &mut Fallback<'_>,
    work: &[(Oid, &[u8])],
    next: &AtomicUsize,
    limit: usize,
) -> Result<Vec<(Oid, SideDigest)>, DiffHashError> {
    let mut inflater = Inflater::new();
    let mut local = Vec::new();
    while let Some((oid, path)) = work.get(next.fetch_add(1, Ordering::Relaxed)) {
        let mut hasher = Sha256::new();
        let packed = packs.read_blob(&mut inflater, oid.as_bytes(), limit, &mut |content| {
            hasher.update(content)
        });
        let digest = match packed {
            Some(size) => SideDigest {
                digest: hasher.finalize().into(),
                size,
            },
            None => hash_blob(&fallback.odb()?, *oid, path)?,
        };
        local.push((*oid, digest));
    }
    Ok(local)
}

fn record(slot: &Mutex<Option<DiffHashError>>, e: DiffHashError) {
    if let Ok(mut s) = slot.lock() {
        s.get_or_insert(e);
    }
}

/// Through libgit2: streams loose objects (libgit2 can stream only those), reads packed ones
/// whole.
fn hash_blob(odb: &git2::Odb<'_>, oid: Oid, path: &[u8]) -> Result<SideDigest, DiffHashError> {
    let missing = |source| DiffHashError::MissingObject {
        oid: oid.to_string(),
        path: show(path),
        source,
    };
    let wrong = |found: ObjectType| DiffHashError::WrongObjectType {
        path: show(path),
        oid: oid.to_string(),
        found: found.str(),
        expected: "blob",
    };
    let mut hasher = Sha256::new();
    if let Ok((mut reader, size, kind)) = odb.reader(oid) {
        if kind != ObjectType::Blob {
            return Err(wrong(kind));
        }
        let mut buf = vec![0u8; 1 << 16];
        let mut total = 0u64;
        loop {
            let n = reader
                .read(&mut buf)
                .map_err(|source| DiffHashError::Read {
                    path: show(path),
                    source,
                })?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            total += n as u64;
        }
        if total != size as u64 {
            return Err(DiffHashError::Read {
                path: show(path),
                source: std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("object {oid} has {total} bytes, its header says {size}"),
                ),
            });
        }
        return Ok(SideDigest {
            digest: hasher.finalize().into(),
            size: total,
        });
    }
    let object = odb.read(oid).map_err(missing)?;
    if object.kind() != ObjectType::Blob {
        return Err(wrong(object.kind()));
    }
    hasher.update(object.data());
    Ok(SideDigest {
        digest: hasher.finalize().into(),
        size: object.len() as u64,
    })
}
