//! Git object input to the canonical diff hash.
//!
//! The input describes objects (blobs, trees whose entries have any mode, any name and point at
//! an earlier object or at any id, and raw bytes stored as a tree, blob or commit), written with
//! their exact bytes into the object database of a scratch repository, and two commits whose trees
//! are two of them. The real [`dao_core::diff_hash::diff_hash_within`] hashes the change; it must
//! never panic, an error must name what it is about, and when every tree involved is well formed
//! and within the limits the hash, the number of changed paths and the bytes hashed must equal
//! those of a second, independent implementation of docs/diff-hash.md over the objects as
//! described.

use crate::Cursor;
use dao_core::diff_hash::{self, DiffHashError, Limits, HEADER};
use git2::{ObjectType, Oid, Repository};
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone)]
pub enum Obj {
    Blob(Vec<u8>),
    Tree(Vec<Entry>),
    Raw(RawKind, Vec<u8>),
}

#[derive(Debug, Clone, Copy)]
pub enum RawKind {
    Tree,
    Blob,
    Commit,
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub mode: Mode,
    pub name: Vec<u8>,
    pub target: Target,
}

#[derive(Debug, Clone)]
pub enum Mode {
    File,
    Executable,
    Symlink,
    Directory,
    Gitlink,
    /// Any 16-bit mode, in octal (libgit2 stores modes in 16 bits).
    Number(u16),
    /// Whatever bytes stand where the octal mode belongs.
    Text(Vec<u8>),
}

#[derive(Debug, Clone)]
pub enum Target {
    /// One of the objects before this one (modulo their number).
    Earlier(u8),
    Id([u8; 20]),
}

#[derive(Debug, Clone)]
pub struct Input {
    pub base: u8,
    pub head: u8,
    pub objects: Vec<Obj>,
}

/// What the independent implementation knows of an object.
enum Known {
    Blob(Vec<u8>),
    /// A tree as described: `None` when it is not well formed (an entry name that is empty or
    /// holds `/` or NUL, a name twice, a mode that is not octal digits).
    Tree(Option<BTreeMap<Vec<u8>, (u32, Oid)>>),
    Other,
}

const MAX_OBJECTS: usize = 24;

/// Small limits, so that a bomb (trees naming each other many times over: the fuzzer builds
/// them easily, and its coverage feedback favours them) is refused in microseconds instead of
/// slowing every later input down. Real changes stay far below the default limits; these small
/// ones drive the same walk to them.
const LIMITS: Limits = Limits {
    max_entries: 512,
    max_path_bytes: 16 * 1024,
};

struct Scratch {
    dir: tempfile::TempDir,
    repo: Repository,
    uses: u32,
}

thread_local! {
    static SCRATCH: RefCell<Option<Scratch>> = const { RefCell::new(None) };
}

/// Fresh objects are kept in memory (a mempack backend) when the process runs on one CPU: then
/// [`diff_hash::diff_hash`] reads every blob on the calling thread, through this repository
/// handle, as it does on a one-CPU host. On more CPUs its worker threads open the repository
/// again from disk, so the objects must be written there, which is ten times slower.
fn in_memory() -> bool {
    std::thread::available_parallelism().map_or(1, usize::from) == 1
}

/// Keeps this process on one of the CPUs it may use (which one depends on its pid, so that
/// parallel fuzzing jobs spread out); see [`in_memory`]. `DAO_FUZZ_ALL_CPUS=1` leaves it free.
fn pin_to_one_cpu() {
    use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
    use nix::unistd::Pid;
    if std::env::var_os("DAO_FUZZ_ALL_CPUS").is_some() {
        return;
    }
    let Ok(mask) = sched_getaffinity(Pid::from_raw(0)) else {
        return;
    };
    let cpus: Vec<usize> = (0..CpuSet::count())
        .filter(|&c| mask.is_set(c).unwrap_or(false))
        .collect();
    if cpus.is_empty() {
        return;
    }
    let mut one = CpuSet::new();
    if one
        .set(cpus[std::process::id() as usize % cpus.len()])
        .is_ok()
    {
        let _ = sched_setaffinity(Pid::from_raw(0), &one);
    }
}

fn open_scratch(dir: &std::path::Path) -> Repository {
    let repo = Repository::open_bare(dir).unwrap();
    if in_memory() {
        repo.odb().unwrap().add_new_mempack_backend(1000).unwrap();
    }
    repo
}

/// A bare repository in a scratch directory (on tmpfs when there is one). Its handle, and the
/// objects it holds, are renewed every few thousand inputs so that they do not pile up.
fn with_repo<T>(f: impl FnOnce(&Repository) -> T) -> T {
    SCRATCH.with(|cell| {
        let mut slot = cell.borrow_mut();
        match slot.as_mut() {
            None => {
                pin_to_one_cpu();
                let base = std::env::var_os("DAO_FUZZ_TMPDIR")
                    .map(std::path::PathBuf::from)
                    .or_else(|| {
                        let shm = std::path::Path::new("/dev/shm");
                        shm.is_dir().then(|| shm.to_path_buf())
                    })
                    .unwrap_or_else(std::env::temp_dir);
                // libFuzzer ends the process with exit(), which may skip the destructor that
                // would remove the directory: remove those of processes that are gone.
                let prefix = "dao-fuzz-git-";
                for e in std::fs::read_dir(&base).into_iter().flatten().flatten() {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let pid = name
                        .strip_prefix(prefix)
                        .and_then(|rest| rest.split('-').next())
                        .and_then(|p| p.parse::<u32>().ok());
                    if pid.is_some_and(|p| !std::path::Path::new(&format!("/proc/{p}")).exists()) {
                        let _ = std::fs::remove_dir_all(e.path());
                    }
                }
                let dir = tempfile::Builder::new()
                    .prefix(&format!("{prefix}{}-", std::process::id()))
                    .tempdir_in(base)
                    .unwrap();
                Repository::init_bare(dir.path()).unwrap();
                let repo = open_scratch(dir.path());
                *slot = Some(Scratch { dir, repo, uses: 0 });
            }
            Some(s) if s.uses >= 5000 => {
                if !in_memory() {
                    // Loose objects: start over with an empty object directory.
                    let objects = s.dir.path().join("objects");
                    for e in std::fs::read_dir(&objects).into_iter().flatten().flatten() {
                        if e.file_name().len() == 2 {
                            let _ = std::fs::remove_dir_all(e.path());
                        }
                    }
                }
                s.repo = open_scratch(s.dir.path());
                s.uses = 0;
            }
            Some(_) => {}
        }
        let s = slot.as_mut().unwrap();
        s.uses += 1;
        f(&s.repo)
    })
}

fn mode_text(mode: &Mode) -> (Vec<u8>, Option<u32>) {
    let n = match mode {
        Mode::File => 0o100644,
        Mode::Executable => 0o100755,
        Mode::Symlink => 0o120000,
        Mode::Directory => 0o040000,
        Mode::Gitlink => 0o160000,
        Mode::Number(n) => u32::from(*n),
        Mode::Text(t) => return (t.clone(), None),
    };
    (format!("{n:o}").into_bytes(), Some(n))
}

fn is_dir(mode: u32) -> bool {
    mode & 0o170000 == 0o040000
}

fn is_gitlink(mode: u32) -> bool {
    mode & 0o170000 == 0o160000
}

impl Input {
    /// `base`, `head` (indexes of the objects whose trees the two commits have, modulo their
    /// number), then objects until the bytes run out. An object is a tag byte (mod 3) and:
    /// 0 a blob (two-byte length, content); 1 a tree (entry count mod 17, entries); 2 raw bytes
    /// (kind byte mod 3: tree, blob, commit; two-byte length; bytes). An entry is a mode byte
    /// (mod 7: file, executable, symlink, directory, gitlink, a two-byte number, text with a
    /// one-byte length), a name (one-byte length), and a target byte: below 0xf0 an earlier
    /// object (modulo their number), otherwise a 20-byte object id.
    pub fn read(data: &[u8]) -> Input {
        let mut c = Cursor::new(data);
        let (base, head) = (c.u8(), c.u8());
        let mut objects = Vec::new();
        while !c.is_empty() && objects.len() < MAX_OBJECTS {
            objects.push(match c.u8() % 3 {
                0 => {
                    let n = c.u16();
                    Obj::Blob(c.bytes(usize::from(n)).to_vec())
                }
                1 => {
                    let n = c.u8() % 17;
                    Obj::Tree((0..n).map(|_| read_entry(&mut c)).collect())
                }
                _ => {
                    let kind = match c.u8() % 3 {
                        0 => RawKind::Tree,
                        1 => RawKind::Blob,
                        _ => RawKind::Commit,
                    };
                    let n = c.u16();
                    Obj::Raw(kind, c.bytes(usize::from(n)).to_vec())
                }
            });
        }
        Input {
            base,
            head,
            objects,
        }
    }

    /// The bytes [`Input::read`] reads back as this input.
    pub fn write(&self) -> Vec<u8> {
        let len16 = |n: usize| u16::try_from(n).unwrap().to_be_bytes();
        let short = |out: &mut Vec<u8>, b: &[u8]| {
            out.push(u8::try_from(b.len()).unwrap());
            out.extend(b);
        };
        let mut out = vec![self.base, self.head];
        for o in &self.objects {
            match o {
                Obj::Blob(b) => {
                    out.push(0);
                    out.extend(len16(b.len()));
                    out.extend(b);
                }
                Obj::Tree(entries) => {
                    out.push(1);
                    out.push(u8::try_from(entries.len()).unwrap());
                    for e in entries {
                        match &e.mode {
                            Mode::File => out.push(0),
                            Mode::Executable => out.push(1),
                            Mode::Symlink => out.push(2),
                            Mode::Directory => out.push(3),
                            Mode::Gitlink => out.push(4),
                            Mode::Number(n) => {
                                out.push(5);
                                out.extend(n.to_be_bytes());
                            }
                            Mode::Text(t) => {
                                out.push(6);
                                short(&mut out, t);
                            }
                        }
                        short(&mut out, &e.name);
                        match e.target {
                            Target::Earlier(i) => out.push(i.min(0xef)),
                            Target::Id(id) => {
                                out.push(0xff);
                                out.extend(id);
                            }
                        }
                    }
                }
                Obj::Raw(kind, b) => {
                    out.push(2);
                    out.push(*kind as u8);
                    out.extend(len16(b.len()));
                    out.extend(b);
                }
            }
        }
        out
    }
}

fn read_entry(c: &mut Cursor<'_>) -> Entry {
    let mode = match c.u8() % 7 {
        0 => Mode::File,
        1 => Mode::Executable,
        2 => Mode::Symlink,
        3 => Mode::Directory,
        4 => Mode::Gitlink,
        5 => Mode::Number(c.u16()),
        _ => Mode::Text(c.short().to_vec()),
    };
    let name = c.short().to_vec();
    let t = c.u8();
    let target = if t < 0xf0 {
        Target::Earlier(t)
    } else {
        let mut id = [0u8; 20];
        let b = c.bytes(20);
        id[..b.len()].copy_from_slice(b);
        Target::Id(id)
    };
    Entry { mode, name, target }
}

/// Runs one input (see the module documentation and [`Input::read`]).
pub fn diff_hash(data: &[u8]) {
    let input = Input::read(data);
    if input.objects.is_empty() {
        return;
    }
    with_repo(|repo| run(repo, &input));
}

/// The objects written, what the independent implementation knows of them, and the two commits
/// with their trees.
struct Written {
    known: HashMap<Oid, Known>,
    base: Oid,
    head: Oid,
    base_tree: Oid,
    head_tree: Oid,
}

fn write(repo: &Repository, input: &Input) -> Written {
    let odb = repo.odb().unwrap();
    let mut oids: Vec<Oid> = Vec::new();
    let mut known: HashMap<Oid, Known> = HashMap::new();
    for obj in &input.objects {
        let (kind, bytes, k) = match obj {
            Obj::Blob(b) => (ObjectType::Blob, b.clone(), Known::Blob(b.clone())),
            Obj::Raw(RawKind::Blob, b) => (ObjectType::Blob, b.clone(), Known::Blob(b.clone())),
            Obj::Raw(RawKind::Tree, b) => (ObjectType::Tree, b.clone(), Known::Tree(None)),
            Obj::Raw(RawKind::Commit, b) => (ObjectType::Commit, b.clone(), Known::Other),
            Obj::Tree(entries) => {
                let mut bytes = Vec::new();
                let mut map = BTreeMap::new();
                let mut well_formed = true;
                for e in entries {
                    let oid = match e.target {
                        Target::Earlier(i) if !oids.is_empty() => oids[usize::from(i) % oids.len()],
                        Target::Earlier(_) => Oid::ZERO_SHA1,
                        Target::Id(raw) => Oid::from_bytes(&raw).unwrap(),
                    };
                    let (text, mode) = mode_text(&e.mode);
                    bytes.extend(&text);
                    bytes.push(b' ');
                    bytes.extend(&e.name);
                    bytes.push(0);
                    bytes.extend(oid.as_bytes());
                    let name_ok =
                        !e.name.is_empty() && !e.name.contains(&b'/') && !e.name.contains(&0);
                    match mode {
                        Some(m) if name_ok && !map.contains_key(&e.name) => {
                            map.insert(e.name.clone(), (m, oid));
                        }
                        _ => well_formed = false,
                    }
                }
                (
                    ObjectType::Tree,
                    bytes,
                    Known::Tree(well_formed.then_some(map)),
                )
            }
        };
        let oid = odb.write(kind, &bytes).unwrap();
        oids.push(oid);
        known.entry(oid).or_insert(k);
    }
    let commit = |i: u8| {
        let tree = oids[usize::from(i) % oids.len()];
        let text = format!(
            "tree {tree}\nauthor A <a@example.org> 0 +0000\ncommitter A <a@example.org> 0 +0000\n\nfuzz\n"
        );
        (
            tree,
            odb.write(ObjectType::Commit, text.as_bytes()).unwrap(),
        )
    };
    let (base_tree, base) = commit(input.base);
    let (head_tree, head) = commit(input.head);
    Written {
        known,
        base,
        head,
        base_tree,
        head_tree,
    }
}

fn run(repo: &Repository, input: &Input) {
    let Written {
        known,
        base,
        head,
        base_tree,
        head_tree,
    } = write(repo, input);
    let expected = reference(&known, base_tree, head_tree);
    let got = diff_hash::diff_hash_within(repo, base, head, &LIMITS);
    match (got, expected) {
        (Ok(s), Some(want)) => {
            assert_eq!(s.diff_hash.0, want.0, "the hash differs from the reference");
            assert_eq!(s.changed_paths, want.1, "changed paths differ");
            assert_eq!(s.bytes_hashed, want.2, "bytes hashed differ");
            assert_eq!(s.base, base.to_string());
            assert_eq!(s.head, head.to_string());
        }
        (Ok(s), None) => {
            if base_tree == head_tree {
                assert!(s.is_empty());
            }
        }
        (Err(e), Some(_)) => panic!("well-formed trees within the limits refused: {e}"),
        (Err(e), None) => check_error(repo, &e),
    }
}

/// An error names the problem: a missing object is really missing, an object of the wrong kind
/// is there and of that kind, a malformed tree says how.
fn check_error(repo: &Repository, e: &DiffHashError) {
    let text = e.to_string();
    assert!(!text.is_empty());
    let odb = repo.odb().unwrap();
    let oid_of = |s: &str| Oid::from_str(s).unwrap_or_else(|_| panic!("not an object id: {text}"));
    match e {
        DiffHashError::MalformedTree { problem, .. } => assert!(!problem.is_empty(), "{text}"),
        DiffHashError::MissingObject { oid, .. } => {
            assert!(!odb.exists(oid_of(oid)), "the object is there: {text}");
        }
        DiffHashError::WrongObjectType {
            oid,
            found,
            expected,
            ..
        } => {
            assert_ne!(found, expected, "{text}");
            let (_, kind) = dao_core::git_header::read_header(&odb, oid_of(oid)).unwrap();
            assert_eq!(kind.map(|k| k.str()), Some(*found), "{text}");
        }
        DiffHashError::NotACommitId { .. }
        | DiffHashError::Read { .. }
        | DiffHashError::TooLarge { .. } => {}
        other => panic!("an error that hashing objects cannot give: {other}"),
    }
}

/// docs/diff-hash.md over the described objects: `(hash, changed paths, bytes hashed)`, or `None`
/// when some tree involved is not well formed, or the full listing of the two trees exceeds the
/// limits (the real walk, which skips identical subtrees, reads less: within the limits here, it
/// must be within them too).
fn reference(known: &HashMap<Oid, Known>, base: Oid, head: Oid) -> Option<([u8; 32], u64, u64)> {
    let mut budget = (0u64, 0u64);
    let b = list(known, base, &mut budget)?;
    let h = list(known, head, &mut budget)?;
    let mut paths: Vec<&Vec<u8>> = b.keys().chain(h.keys()).collect();
    paths.sort();
    paths.dedup();
    let mut stream = HEADER.to_vec();
    let mut changed = 0u64;
    let mut bytes = 0u64;
    for p in paths {
        let (bs, hs) = (b.get(p), h.get(p));
        if bs.map(|s| (s.0, s.1)) == hs.map(|s| (s.0, s.1)) {
            continue;
        }
        changed += 1;
        stream.extend(p);
        stream.push(0);
        for side in [bs, hs] {
            match side {
                None => {
                    stream.extend(b"0\0");
                    stream.extend([0u8; 32]);
                }
                Some((mode, oid, content)) => {
                    stream.extend(format!("{mode:o}").as_bytes());
                    stream.push(0);
                    match content {
                        Some(c) => {
                            stream.extend(Sha256::digest(c));
                            bytes += c.len() as u64;
                        }
                        None => stream.extend(Sha256::digest(oid.to_string().as_bytes())),
                    }
                }
            }
        }
    }
    Some((Sha256::digest(&stream).into(), changed, bytes))
}

type Listing<'a> = BTreeMap<Vec<u8>, (u32, Oid, Option<&'a [u8]>)>;

/// Every non-directory path under a tree: mode, id and content (`None` for a gitlink). `budget`
/// counts the entries and the bytes of their paths, as [`Limits`] does.
fn list<'a>(
    known: &'a HashMap<Oid, Known>,
    root: Oid,
    budget: &mut (u64, u64),
) -> Option<Listing<'a>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![(Vec::new(), root)];
    while let Some((dir, oid)) = stack.pop() {
        let Some(Known::Tree(Some(entries))) = known.get(&oid) else {
            return None;
        };
        budget.0 += entries.len() as u64;
        if budget.0 > LIMITS.max_entries {
            return None;
        }
        for (name, (mode, target)) in entries {
            let mut path = dir.clone();
            path.extend(name);
            budget.1 += path.len() as u64;
            if budget.1 > LIMITS.max_path_bytes {
                return None;
            }
            if is_dir(*mode) {
                path.push(b'/');
                stack.push((path, *target));
            } else if is_gitlink(*mode) {
                out.insert(path, (*mode, *target, None));
            } else {
                let Some(Known::Blob(content)) = known.get(target) else {
                    return None;
                };
                out.insert(path, (*mode, *target, Some(content.as_slice())));
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The independent implementation gives the hash docs/diff-hash.md computes for its worked
    /// example (the seed `worked-example`), so the agreement the target checks means something.
    #[test]
    fn the_reference_agrees_with_the_worked_example() {
        let seed = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds/diff_hash/worked-example"),
        )
        .unwrap();
        let input = Input::read(&seed);
        assert_eq!(Input::read(&input.write()).write(), seed);
        let w = with_repo(|repo| write(repo, &input));
        let (hash, changed, bytes) = reference(&w.known, w.base_tree, w.head_tree).unwrap();
        assert_eq!(
            hex::encode(hash),
            "da98fb5a8df88302090bffc87c4e9697956a03a39ce0770c3443a597022ead5b"
        );
        assert_eq!((changed, bytes), (4, 17));
        diff_hash(&seed);
    }
}
