//! Reads blobs straight from the repository's pack files, for the diff hash only: libgit2
//! inflates through zlib in small steps and re-hashes every object it reads with SHA-1 (with
//! collision detection), which was most of a diff hash's time; here each entry is inflated whole
//! by libdeflate, about half again as fast, on the worker threads (docs/diff-hash.md, "Cost",
//! says why these reads need no SHA-1 check and why every other read keeps it).
//!
//! This is a fast path, not a second object database: whatever it does not handle (loose
//! objects, alternates, an index it cannot read, a delta chain too deep or too large, data that
//! does not inflate) it answers with `None`, and the caller reads that object through libgit2,
//! whose error, if any, then names the problem. Pack files are read with `pread` into buffers of
//! a bounded size, not mapped, so their pages never count in the process's resident memory.

use super::delta;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// An object id of SHA-1 repositories, the only ones libgit2 opens.
const ID_LEN: usize = 20;
/// Index files and their sorted offsets kept in memory, in all (36 bytes an object: about
/// 450,000 objects); objects of packs beyond are left to libgit2.
const MAX_INDEX_BYTES: u64 = 16 << 20;
/// Deltas followed down to their base before giving up (git writes at most 50 by default).
const MAX_CHAIN: usize = 64;
/// Compressed bytes read per step when a blob is too large to inflate whole.
const STREAM_CHUNK: usize = 256 << 10;

const OBJ_BLOB: u8 = 3;
const OBJ_OFS_DELTA: u8 = 6;
const OBJ_REF_DELTA: u8 = 7;

struct Pack {
    file: File,
    /// The whole `.idx` file (version 2), checked against the pack it describes.
    index: Vec<u8>,
    count: usize,
    /// Where the pack's trailing checksum starts: no entry's data reaches past it.
    data_end: u64,
    /// Every entry's offset, in order: an entry's data ends where the next entry starts, so
    /// exactly its compressed bytes are read.
    starts: Vec<u64>,
}

/// The packs of one object directory.
pub struct Packs {
    packs: Vec<Pack>,
}

/// One worker's inflater and reusable buffers.
pub struct Inflater {
    libdeflate: libdeflater::Decompressor,
    compressed: Vec<u8>,
    content: Vec<u8>,
}

impl Inflater {
    pub fn new() -> Inflater {
        Inflater {
            libdeflate: libdeflater::Decompressor::new(),
            compressed: Vec::new(),
            content: Vec::new(),
        }
    }
}

struct Header {
    kind: u8,
    /// The inflated size of this entry's data (for a delta, of the delta itself).
    size: u64,
    data_at: u64,
    base: Base,
}

enum Base {
    None,
    Offset(u64),
    Id([u8; ID_LEN]),
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// The first `len` bytes of a reused buffer, grown when needed. Never shrunk: blobs of all sizes
/// alternate, and zeroing the regrown part each time would be work for nothing.
fn grown(buf: &mut Vec<u8>, len: usize) -> &mut [u8] {
    if buf.len() < len {
        buf.resize(len, 0);
    }
    &mut buf[..len]
}

impl Pack {
    /// Opens `<name>.idx` and its `<name>.pack`, or `None` when either is unreadable, not
    /// version 2, or not the index of that pack.
    fn open(idx_path: &Path, budget: &mut u64) -> Option<Pack> {
        let idx_len = std::fs::metadata(idx_path).ok()?.len();
        *budget = budget.checked_sub(idx_len)?;
        let index = std::fs::read(idx_path).ok()?;
        if index.get(..8)? != b"\xfftOc\x00\x00\x00\x02" {
            return None;
        }
        let count = usize::try_from(be32(&index, 8 + 255 * 4)?).ok()?;
        // The sorted offsets below count against the same budget.
        *budget = budget.checked_sub(u64::try_from(count).ok()?.checked_mul(8)?)?;
        // Header, fan-out, ids, CRCs, 4-byte offsets, 8-byte offsets (a multiple of 8), and the
        // two checksums: any other length is another format (a SHA-256 repository's, say).
        let fixed = 8 + 1024 + count.checked_mul(ID_LEN + 8)? + 2 * ID_LEN;
        let large = index.len().checked_sub(fixed)?;
        if large % 8 != 0 {
            return None;
        }
        let file = File::open(idx_path.with_extension("pack")).ok()?;
        let pack_len = file.metadata().ok()?.len();
        let mut head = [0u8; 12];
        file.read_exact_at(&mut head, 0).ok()?;
        let mut trailer = [0u8; ID_LEN];
        let data_end = pack_len.checked_sub(ID_LEN as u64)?;
        file.read_exact_at(&mut trailer, data_end).ok()?;
        let same_pack = index.get(fixed - 2 * ID_LEN..fixed - ID_LEN)? == trailer;
        let version_ok = matches!(be32(&head, 4)?, 2 | 3);
        if &head[..4] != b"PACK" || !version_ok || be32(&head, 8)? as usize != count || !same_pack {
            return None;
        }
        let mut pack = Pack {
            file,
            index,
            count,
            data_end,
            starts: Vec::new(),
        };
        let mut starts = (0..count)
            .map(|n| pack.offset_at(n))
            .collect::<Option<Vec<u64>>>()?;
        starts.sort_unstable();
        pack.starts = starts;
        Some(pack)
    }

    /// Where the entry whose data starts at `data_at` ends.
    fn end_of(&self, data_at: u64) -> u64 {
        let next = self.starts.partition_point(|s| *s < data_at);
        self.starts
            .get(next)
            .copied()
            .unwrap_or(self.data_end)
            .min(self.data_end)
    }

    /// Where the object `id` starts in this pack.
    fn offset_of(&self, id: &[u8]) -> Option<u64> {
        let first = usize::from(*id.first()?);
        let lo = if first == 0 {
            0
        } else {
            be32(&self.index, 8 + (first - 1) * 4)? as usize
        };
        let hi = (be32(&self.index, 8 + first * 4)? as usize).min(self.count);
        let ids = 8 + 1024;
        let (mut lo, mut hi) = (lo, hi);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let at = ids + mid * ID_LEN;
            match self.index.get(at..at + ID_LEN)?.cmp(id) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return self.offset_at(mid),
            }
        }
        None
    }

    fn offset_at(&self, n: usize) -> Option<u64> {
        let offsets = 8 + 1024 + self.count * (ID_LEN + 4);
        let small = be32(&self.index, offsets + n * 4)?;
        if small & 0x8000_0000 == 0 {
            return Some(u64::from(small));
        }
        let large = offsets + self.count * 4 + (small & 0x7fff_ffff) as usize * 8;
        be64(&self.index, large)
    }

    /// The entry header at `offset`: type and size, then a delta's base.
    fn header(&self, offset: u64) -> Option<Header> {
        let mut raw = [0u8; 32];
        let room = usize::try_from(self.data_end.checked_sub(offset)?)
            .unwrap_or(usize::MAX)
            .min(raw.len());
        let raw = &mut raw[..room];
        self.file.read_exact_at(raw, offset).ok()?;
        parse_header(raw, offset)
    }

    /// Reads the entry at `offset` into the worker's buffer with one `pread` (header and data,
    /// when its data is no larger than a blob of `limit` bytes can need) and returns its header.
    fn read_entry(&self, offset: u64, w: &mut Inflater, limit: usize) -> Option<Header> {
        let entry_len = self.end_of(offset.checked_add(1)?).checked_sub(offset)?;
        let len = entry_len.min(32 + deflate_bound(limit as u64)?);
        let raw = grown(&mut w.compressed, usize::try_from(len).ok()?);
        self.file.read_exact_at(raw, offset).ok()?;
        parse_header(raw, offset)
    }

    /// Inflates the entry data at `h` into `out`, which must be exactly `h.size` long.
    fn inflate_into(&self, h: &Header, w: &mut Inflater, out: &mut [u8]) -> Option<()> {
        let len = deflate_bound(h.size)?.min(self.end_of(h.data_at).checked_sub(h.data_at)?);
        let compressed = grown(&mut w.compressed, usize::try_from(len).ok()?);
        self.file.read_exact_at(compressed, h.data_at).ok()?;
        // libdeflate checks the stream's Adler-32.
        let n = w.libdeflate.zlib_decompress(compressed, out).ok()?;
        (n == out.len()).then_some(())
    }

    fn inflate(&self, h: &Header, w: &mut Inflater, limit: usize) -> Option<Vec<u8>> {
        let size = usize::try_from(h.size).ok().filter(|s| *s <= limit)?;
        let mut out = vec![0u8; size];
        self.inflate_into(h, w, &mut out)?;
        Some(out)
    }

    /// Inflates a blob too large to hold whole, handing its content to `sink` piece by piece.
    fn stream(&self, h: &Header, sink: &mut dyn FnMut(&[u8])) -> Option<u64> {
        let mut z = flate2::Decompress::new(true);
        let mut input = vec![0u8; STREAM_CHUNK];
        let mut output = vec![0u8; STREAM_CHUNK];
        let (mut next, mut used, mut filled) = (h.data_at, 0, 0);
        loop {
            if used == filled {
                filled = STREAM_CHUNK.min(usize::try_from(self.data_end.checked_sub(next)?).ok()?);
                if filled == 0 {
                    return None;
                }
                self.file.read_exact_at(&mut input[..filled], next).ok()?;
                next += filled as u64;
                used = 0;
            }
            let (in0, out0) = (z.total_in(), z.total_out());
            let status = z
                .decompress(
                    &input[used..filled],
                    &mut output,
                    flate2::FlushDecompress::None,
                )
                .ok()?;
            let consumed = usize::try_from(z.total_in() - in0).ok()?;
            let produced = usize::try_from(z.total_out() - out0).ok()?;
            used += consumed;
            sink(output.get(..produced)?);
            if z.total_out() > h.size {
                return None;
            }
            if status == flate2::Status::StreamEnd {
                // zlib has checked the stream's Adler-32 by now.
                return (z.total_out() == h.size).then_some(h.size);
            }
            if consumed == 0 && produced == 0 && used < filled {
                return None;
            }
        }
    }
}

/// No zlib stream of `size` bytes needs more (a stored block costs 5 bytes per 64 KiB): an index
/// that claims more cannot make us read more. A longer stream fails to inflate and goes to
/// libgit2.
fn deflate_bound(size: u64) -> Option<u64> {
    size.checked_add(size / 1024 + 64)
}

/// Parses the entry header at the start of `raw`, which was read at `offset`.
fn parse_header(raw: &[u8], offset: u64) -> Option<Header> {
    let mut at = 0;
    let mut byte = *raw.first()?;
    let kind = (byte >> 4) & 7;
    let mut size = u64::from(byte & 0x0f);
    let mut shift = 4;
    while byte & 0x80 != 0 {
        at += 1;
        byte = *raw.get(at)?;
        if shift > 57 {
            return None;
        }
        size |= u64::from(byte & 0x7f) << shift;
        shift += 7;
    }
    at += 1;
    let base = match kind {
        OBJ_OFS_DELTA => {
            // Each continuation adds one before shifting (pack-format.txt).
            let mut byte = *raw.get(at)?;
            at += 1;
            let mut back = u64::from(byte & 0x7f);
            while byte & 0x80 != 0 {
                byte = *raw.get(at)?;
                at += 1;
                back = back.checked_add(1)?.checked_mul(128)? | u64::from(byte & 0x7f);
            }
            Base::Offset(offset.checked_sub(back).filter(|_| back > 0)?)
        }
        OBJ_REF_DELTA => {
            let id = raw.get(at..at + ID_LEN)?.try_into().ok()?;
            at += ID_LEN;
            Base::Id(id)
        }
        _ => Base::None,
    };
    Some(Header {
        kind,
        size,
        data_at: offset.checked_add(at as u64)?,
        base,
    })
}

impl Packs {
    /// No packs: every read goes to libgit2.
    pub fn empty() -> Packs {
        Packs { packs: Vec::new() }
    }

    /// The packs under `objects/pack` of `objects_dir`; none when there is no such directory.
    pub fn open(objects_dir: &Path) -> Packs {
        let mut budget = MAX_INDEX_BYTES;
        let mut names: Vec<_> = std::fs::read_dir(objects_dir.join("pack"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "idx"))
            .collect();
        names.sort();
        let packs = names
            .iter()
            .filter_map(|p| Pack::open(p, &mut budget))
            .collect();
        Packs { packs }
    }

    fn find(&self, id: &[u8]) -> Option<(&Pack, u64)> {
        self.packs
            .iter()
            .find_map(|p| p.offset_of(id).map(|off| (p, off)))
    }

    /// Hands the content of blob `id` to `sink` and returns its size, or `None` when it is not
    /// in these packs, not a blob, or not readable here (then `sink` may have had part of it:
    /// the caller starts over). Blobs up to `limit` bytes are inflated whole, larger ones are
    /// streamed; a delta chain is resolved only while each step stays within `limit`.
    pub fn read_blob(
        &self,
        w: &mut Inflater,
        id: &[u8],
        limit: usize,
        sink: &mut dyn FnMut(&[u8]),
    ) -> Option<u64> {
        let (pack, offset) = self.find(id)?;
        let h = pack.read_entry(offset, w, limit)?;
        match h.kind {
            OBJ_BLOB if h.size > limit as u64 => pack.stream(&h, sink),
            OBJ_BLOB => {
                // The entry is in the buffer already: its data ends where the next entry starts,
                // or sooner for a stream that long.
                let start = usize::try_from(h.data_at - offset).ok()?;
                let len =
                    deflate_bound(h.size)?.min(pack.end_of(h.data_at).checked_sub(h.data_at)?);
                let compressed = w
                    .compressed
                    .get(start..start + usize::try_from(len).ok()?)?;
                let out = grown(&mut w.content, usize::try_from(h.size).ok()?);
                // libdeflate checks the stream's Adler-32.
                let n = w.libdeflate.zlib_decompress(compressed, out).ok()?;
                if n != out.len() {
                    return None;
                }
                sink(out);
                Some(h.size)
            }
            OBJ_OFS_DELTA | OBJ_REF_DELTA => {
                let content = self.resolve(pack, h, w, limit)?;
                sink(&content);
                Some(content.len() as u64)
            }
            _ => None,
        }
    }

    /// Follows a delta chain down to its base, then applies the deltas back up; the result
    /// must be a blob.
    fn resolve(&self, pack: &Pack, top: Header, w: &mut Inflater, limit: usize) -> Option<Vec<u8>> {
        let mut chain = vec![(pack, top)];
        let mut content = loop {
            let (pack, h) = chain.last()?;
            let (pack, offset) = match h.base {
                Base::Offset(at) => (*pack, at),
                Base::Id(id) => self.find(&id)?,
                Base::None => break None,
            };
            if chain.len() > MAX_CHAIN {
                return None;
            }
            let h = pack.header(offset)?;
            if matches!(h.base, Base::None) {
                if h.kind != OBJ_BLOB {
                    return None;
                }
                break Some(pack.inflate(&h, w, limit)?);
            }
            chain.push((pack, h));
        }?;
        for (pack, h) in chain.iter().rev() {
            let delta = pack.inflate(h, w, limit)?;
            content = delta::apply(&content, &delta, limit).ok()?;
        }
        Some(content)
    }
}

#[cfg(test)]
#[path = "pack_tests.rs"]
mod tests;
