//! Git's delta encoding (pack-format.txt, "Deltified representation"): the sizes of the source
//! and of the result, then instructions that copy a range of the source or insert literal bytes.
//! Pack data is outside input, so every size and range is checked before it is used; a delta
//! that does not fit its source is refused, never applied in part.

/// Why a delta cannot be applied. The pack reader answers any of them by leaving the object to
/// libgit2, whose error then names the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeltaError {
    Truncated,
    SourceSize,
    TooLarge,
    CopyOutOfRange,
    ReservedOp,
    ResultSize,
}

/// A little-endian base-128 number, as the delta header writes its two sizes.
fn varint(data: &[u8], at: &mut usize) -> Result<u64, DeltaError> {
    let mut value = 0u64;
    let mut shift = 0u32;
    loop {
        let byte = *data.get(*at).ok_or(DeltaError::Truncated)?;
        *at += 1;
        if shift > 63 {
            return Err(DeltaError::TooLarge);
        }
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
        shift += 7;
    }
}

/// Applies `delta` to `source`; refuses a result larger than `limit` bytes before allocating it.
pub fn apply(source: &[u8], delta: &[u8], limit: usize) -> Result<Vec<u8>, DeltaError> {
    let mut at = 0;
    if varint(delta, &mut at)? != source.len() as u64 {
        return Err(DeltaError::SourceSize);
    }
    let size = usize::try_from(varint(delta, &mut at)?).map_err(|_| DeltaError::TooLarge)?;
    if size > limit {
        return Err(DeltaError::TooLarge);
    }
    let mut out = Vec::with_capacity(size);
    while let Some(&op) = delta.get(at) {
        at += 1;
        if op & 0x80 != 0 {
            // Bits 0-3 say which offset bytes follow, bits 4-6 which size bytes.
            let mut fields = [0u64; 2];
            for (bit, shift) in (0..7).map(|bit| (bit, (bit % 4) * 8)) {
                if op & (1 << bit) != 0 {
                    let byte = *delta.get(at).ok_or(DeltaError::Truncated)?;
                    at += 1;
                    fields[bit / 4] |= u64::from(byte) << shift;
                }
            }
            let [offset, mut len] = fields;
            if len == 0 {
                len = 0x10000;
            }
            let range = usize::try_from(offset)
                .ok()
                .zip(usize::try_from(offset + len).ok())
                .and_then(|(start, end)| source.get(start..end))
                .ok_or(DeltaError::CopyOutOfRange)?;
            if out.len() + range.len() > size {
                return Err(DeltaError::ResultSize);
            }
            out.extend_from_slice(range);
        } else if op != 0 {
            let literal = delta
                .get(at..at + usize::from(op))
                .ok_or(DeltaError::Truncated)?;
            at += usize::from(op);
            if out.len() + literal.len() > size {
                return Err(DeltaError::ResultSize);
            }
            out.extend_from_slice(literal);
        } else {
            return Err(DeltaError::ReservedOp);
        }
    }
    if out.len() != size {
        return Err(DeltaError::ResultSize);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(source: u64, result: u64) -> Vec<u8> {
        let mut out = Vec::new();
        for mut n in [source, result] {
            loop {
                let byte = (n & 0x7f) as u8;
                n >>= 7;
                if n == 0 {
                    out.push(byte);
                    break;
                }
                out.push(byte | 0x80);
            }
        }
        out
    }

    const SOURCE: &[u8] = b"the quick brown fox jumps over the lazy dog";

    #[test]
    fn copies_and_inserts_make_the_result() {
        let mut d = sizes(SOURCE.len() as u64, 13);
        // Copy 5 bytes from offset 4 ("quick"), insert " cat", copy 4 bytes from offset 40.
        d.extend_from_slice(&[0x80 | 0x01 | 0x10, 4, 5]);
        d.extend_from_slice(&[4, b' ', b'c', b'a', b't']);
        d.extend_from_slice(&[0x80 | 0x01 | 0x10, 39, 4]);
        assert_eq!(apply(SOURCE, &d, 1 << 20).unwrap(), b"quick cat dog");
    }

    #[test]
    fn a_copy_of_size_zero_means_64_kib() {
        let source = vec![7u8; 0x10000];
        let mut d = sizes(0x10000, 0x10000);
        d.push(0x80); // offset 0, size 0
        assert_eq!(apply(&source, &d, 1 << 20).unwrap(), source);
    }

    #[test]
    fn a_delta_that_does_not_fit_its_source_is_refused() {
        let mut wrong_source = sizes(SOURCE.len() as u64 + 1, 1);
        wrong_source.extend_from_slice(&[1, b'x']);
        assert_eq!(
            apply(SOURCE, &wrong_source, 1 << 20),
            Err(DeltaError::SourceSize)
        );

        let mut past_end = sizes(SOURCE.len() as u64, 10);
        past_end.extend_from_slice(&[0x80 | 0x01 | 0x10, 40, 10]);
        assert_eq!(
            apply(SOURCE, &past_end, 1 << 20),
            Err(DeltaError::CopyOutOfRange)
        );

        let mut reserved = sizes(SOURCE.len() as u64, 1);
        reserved.push(0);
        assert_eq!(
            apply(SOURCE, &reserved, 1 << 20),
            Err(DeltaError::ReservedOp)
        );

        let mut cut = sizes(SOURCE.len() as u64, 3);
        cut.extend_from_slice(&[3, b'a']);
        assert_eq!(apply(SOURCE, &cut, 1 << 20), Err(DeltaError::Truncated));
    }

    #[test]
    fn the_result_must_be_the_size_the_header_says() {
        let mut short = sizes(SOURCE.len() as u64, 5);
        short.extend_from_slice(&[2, b'a', b'b']);
        assert_eq!(apply(SOURCE, &short, 1 << 20), Err(DeltaError::ResultSize));

        let mut long = sizes(SOURCE.len() as u64, 1);
        long.extend_from_slice(&[2, b'a', b'b']);
        assert_eq!(apply(SOURCE, &long, 1 << 20), Err(DeltaError::ResultSize));
    }

    #[test]
    fn a_result_over_the_limit_is_refused_before_it_is_allocated() {
        let mut d = sizes(SOURCE.len() as u64, 1 << 40);
        d.push(0x80);
        assert_eq!(apply(SOURCE, &d, 1 << 20), Err(DeltaError::TooLarge));
    }
}
