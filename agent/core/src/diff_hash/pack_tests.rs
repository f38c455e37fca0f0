//! The pack reader against libgit2 on packs that git itself wrote: whole entries, offset and
//! id deltas, streamed blobs; and what it must leave to libgit2 (corrupt data, other kinds).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use super::*;
use crate::diff_hash::{diff_hash, diff_hash_revisions};
use dao_testkit::git;
use git2::{ObjectType, Oid, Repository};
use std::path::PathBuf;

/// Text that compresses (so git stores deltas between its versions) but is not trivial.
fn text(seed: u64, lines: usize) -> String {
    (0..lines)
        .map(|n| {
            format!(
                "line {n} of a host configuration, seed {}\n",
                seed * 7 + n as u64
            )
        })
        .collect()
}

/// Hex digits that compress only to about half: a stream of many reads.
fn noise(seed: u64, len: usize) -> String {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = String::with_capacity(len + 17);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.push_str(&format!("{x:016x}\n"));
    }
    out
}

/// A repository with four versions of a growing file, a large file that changes once and a
/// small one, committed loose; returns it with its first and last commits.
fn history() -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    git(p, &["init", "-q", "-b", "main"]);
    let mut commits = Vec::new();
    for version in 0..4u64 {
        let mut host = text(1, 2000);
        host.push_str(&text(100 + version, 50 * (version as usize + 1)));
        std::fs::write(p.join("host.nix"), host).unwrap();
        std::fs::write(p.join("small.txt"), format!("v{version}\n")).unwrap();
        std::fs::write(p.join("big.bin"), noise(9 + version / 3, 3 * STREAM_CHUNK)).unwrap();
        git(p, &["add", "-A"]);
        git(p, &["commit", "-q", "-m", &format!("v{version}")]);
        commits.push(git(p, &["rev-parse", "HEAD"]));
    }
    (dir, commits[0].clone(), commits[3].clone())
}

fn objects(dir: &Path) -> PathBuf {
    dir.join(".git/objects")
}

/// Every blob of the repository: id, and the content libgit2 reads for it.
fn blobs(dir: &Path) -> Vec<(Oid, Vec<u8>)> {
    let repo = Repository::open(dir).unwrap();
    let odb = repo.odb().unwrap();
    let mut out = Vec::new();
    odb.foreach(|oid| {
        let o = odb.read(*oid).unwrap();
        if o.kind() == ObjectType::Blob {
            out.push((*oid, o.data().to_vec()));
        }
        true
    })
    .unwrap();
    out
}

fn read(packs: &Packs, id: Oid, limit: usize) -> Option<Vec<u8>> {
    let mut content = Vec::new();
    let size = packs.read_blob(&mut Inflater::new(), id.as_bytes(), limit, &mut |c| {
        content.extend_from_slice(c)
    })?;
    assert_eq!(
        size,
        content.len() as u64,
        "the size must be what was handed on"
    );
    Some(content)
}

/// The type of the pack entry that stores `id`.
fn entry_kind(packs: &Packs, id: Oid) -> u8 {
    let (pack, offset) = packs.find(id.as_bytes()).unwrap();
    pack.header(offset).unwrap().kind
}

#[test]
fn offset_deltas_read_as_libgit2_reads_them() {
    let (dir, first, last) = history();
    let loose = diff_hash_revisions(dir.path(), &first, &last).unwrap();
    git(dir.path(), &["repack", "-adfq"]);
    let packs = Packs::open(&objects(dir.path()));
    let all = blobs(dir.path());
    let kinds: Vec<u8> = all.iter().map(|(id, _)| entry_kind(&packs, *id)).collect();
    assert!(
        kinds.contains(&OBJ_OFS_DELTA),
        "no delta to test: {kinds:?}"
    );
    for (id, content) in &all {
        assert_eq!(read(&packs, *id, 1 << 20).as_ref(), Some(content), "{id}");
    }
    // And the diff hash over the packs is the one over the loose objects.
    let packed = diff_hash_revisions(dir.path(), &first, &last).unwrap();
    assert_eq!(packed, loose);
}

#[test]
fn id_deltas_read_as_libgit2_reads_them() {
    let (dir, ..) = history();
    git(
        dir.path(),
        &["-c", "repack.useDeltaBaseOffset=false", "repack", "-adfq"],
    );
    let packs = Packs::open(&objects(dir.path()));
    let all = blobs(dir.path());
    let kinds: Vec<u8> = all.iter().map(|(id, _)| entry_kind(&packs, *id)).collect();
    assert!(kinds.contains(&OBJ_REF_DELTA), "no id delta: {kinds:?}");
    assert!(!kinds.contains(&OBJ_OFS_DELTA), "{kinds:?}");
    for (id, content) in &all {
        assert_eq!(read(&packs, *id, 1 << 20).as_ref(), Some(content), "{id}");
    }
}

#[test]
fn a_blob_over_the_limit_is_streamed_and_a_delta_over_it_left_to_libgit2() {
    let (dir, ..) = history();
    git(dir.path(), &["repack", "-adfq"]);
    let packs = Packs::open(&objects(dir.path()));
    let all = blobs(dir.path());
    let (mut streamed, mut left, mut longest) = (0, 0, 0);
    for (id, content) in &all {
        let kind = entry_kind(&packs, *id);
        let got = read(&packs, *id, 4096);
        if content.len() <= 4096 {
            continue;
        }
        if kind == OBJ_BLOB {
            assert_eq!(got.as_ref(), Some(content), "{id}");
            streamed += 1;
            longest = longest.max(content.len());
        } else {
            assert_eq!(got, None, "a delta over the limit must not be resolved");
            left += 1;
        }
    }
    assert!(streamed > 0 && left > 0, "streamed {streamed}, left {left}");
    // One blob's compressed stream is longer than a chunk, so it took several reads.
    assert!(longest > 2 * STREAM_CHUNK, "{longest}");
}

#[test]
fn an_object_that_is_not_a_blob_or_not_in_the_packs_is_left_to_libgit2() {
    let (dir, _, last) = history();
    git(dir.path(), &["repack", "-adfq"]);
    std::fs::write(dir.path().join("new.txt"), "loose\n").unwrap();
    let loose = git(dir.path(), &["hash-object", "-w", "new.txt"]);
    let packs = Packs::open(&objects(dir.path()));
    let commit = Oid::from_str(&last).unwrap();
    assert_eq!(read(&packs, commit, 1 << 20), None);
    assert_eq!(read(&packs, Oid::from_str(&loose).unwrap(), 1 << 20), None);
    assert!(Packs::open(&dir.path().join("nowhere")).packs.is_empty());
}

/// Makes the pack file writable and returns it with the repository's one index.
fn pack_files(dir: &Path) -> (PathBuf, PathBuf) {
    let pack_dir = objects(dir).join("pack");
    let mut idx = None;
    for e in std::fs::read_dir(&pack_dir).unwrap() {
        let p = e.unwrap().path();
        let mut perms = std::fs::metadata(&p).unwrap().permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perms.set_readonly(false);
        std::fs::set_permissions(&p, perms).unwrap();
        if p.extension().is_some_and(|x| x == "idx") {
            assert!(idx.is_none(), "one pack expected");
            idx = Some(p);
        }
    }
    let idx = idx.unwrap();
    (idx.with_extension("pack"), idx)
}

#[test]
fn corrupt_pack_data_is_not_hashed() {
    let (dir, first, last) = history();
    git(dir.path(), &["repack", "-adfq"]);
    let (pack_path, _) = pack_files(dir.path());
    let repo = Repository::open(dir.path()).unwrap();
    let head = repo.find_commit(Oid::from_str(&last).unwrap()).unwrap();
    let small = head.tree().unwrap().get_name("small.txt").unwrap().id();
    let packs = Packs::open(&objects(dir.path()));
    let (pack, offset) = packs.find(small.as_bytes()).unwrap();
    let data_at = pack.header(offset).unwrap().data_at;
    drop(packs);

    // Flip a bit inside the blob's zlib stream, past its two-byte header.
    let mut bytes = std::fs::read(&pack_path).unwrap();
    bytes[data_at as usize + 3] ^= 0x10;
    std::fs::write(&pack_path, &bytes).unwrap();
    let packs = Packs::open(&objects(dir.path()));
    assert_eq!(read(&packs, small, 1 << 20), None);
    // libgit2 then reads it, and refuses it.
    let base = Oid::from_str(&first).unwrap();
    let err = diff_hash(&repo, base, head.id()).unwrap_err();
    assert!(err.to_string().contains("small.txt"), "{err}");
}

#[test]
fn a_packed_blob_that_is_not_what_its_id_says_changes_the_hash() {
    let (dir, first, last) = history();
    let approved = diff_hash_revisions(dir.path(), &first, &last).unwrap();
    git(dir.path(), &["repack", "-adfq"]);
    let head = format!("{last}:small.txt");
    let small = Oid::from_str(&git(dir.path(), &["rev-parse", &head])).unwrap();
    let other = format!("{first}:small.txt");
    let other = Oid::from_str(&git(dir.path(), &["rev-parse", &other])).unwrap();

    // Point the index entry of HEAD's small.txt at the entry of BASE's: same id, other bytes.
    let (_, idx_path) = pack_files(dir.path());
    let packs = Packs::open(&objects(dir.path()));
    let (_, their_offset) = packs.find(other.as_bytes()).unwrap();
    let pack = &packs.packs[0];
    let n = (0..pack.count)
        .find(|n| {
            let at = 8 + 1024 + n * ID_LEN;
            &pack.index[at..at + ID_LEN] == small.as_bytes()
        })
        .unwrap();
    let at = 8 + 1024 + pack.count * (ID_LEN + 4) + n * 4;
    let mut index = std::fs::read(&idx_path).unwrap();
    index[at..at + 4].copy_from_slice(&u32::try_from(their_offset).unwrap().to_be_bytes());
    std::fs::write(&idx_path, &index).unwrap();

    let packs = Packs::open(&objects(dir.path()));
    assert_eq!(read(&packs, small, 1 << 20).unwrap(), b"v0\n");
    let tampered = diff_hash_revisions(dir.path(), &first, &last).unwrap();
    assert_ne!(tampered.diff_hash, approved.diff_hash);
}

#[derive(serde::Deserialize)]
struct Case {
    name: String,
    repo: PathBuf,
    base: String,
    head: String,
}

#[test]
fn every_reference_fixture_hashes_the_same_from_packs_as_from_loose_objects() {
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/make_fixtures.py");
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cases: Vec<Case> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(cases.len() >= 20, "fixtures lost cases: {}", cases.len());
    let loose: Vec<_> = cases
        .iter()
        .map(|c| diff_hash_revisions(&c.repo, &c.base, &c.head).unwrap())
        .collect();
    let mut repos: Vec<&PathBuf> = cases.iter().map(|c| &c.repo).collect();
    repos.sort();
    repos.dedup();
    for repo in repos {
        git(repo, &["repack", "-adfq"]);
        assert!(!Packs::open(&repo.join(".git/objects")).packs.is_empty());
    }
    for (case, loose) in cases.iter().zip(&loose) {
        let packed = diff_hash_revisions(&case.repo, &case.base, &case.head).unwrap();
        assert_eq!(&packed, loose, "{}", case.name);
    }
}
