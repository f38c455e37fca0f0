//! ARC-4 encoding of the dynamic arguments the app's methods take (`byte[]`/`string`,
//! `uint64[]`, `(address,uint64)[]`), done by `algonaut_abi` (=0.9.0, the SDK's own ABI codec).
//!
//! What stays ours, and why:
//! - the count check before encoding. algonaut 0.9.0 refuses a `byte[]` or `uint64[]` of 65,535
//!   items, although a uint16 header holds 65,535 (`AbiType::tuple` tests `len >= u16::MAX`),
//!   and says "invalid ABI type \"tuple with 65535 types\"", which names neither the field nor
//!   the limit. So our limit is 65,534 and the error names the field: "ARC-4 string: 65535 is
//!   longer than the limit 65534". No call can reach it: the app's own limits are far lower
//!   (a URL of 256 bytes, 16 hosts, 8 weights) and a transaction's arguments total 2 KiB;
//! - static values (`bool`, the 96-byte rules of twelve `uint64`): one byte or big-endian words, where
//!   algonaut would add an error path that cannot be taken;
//! - all decoding of box and global bytes (see the top of `wire.rs` for the evidence).

use super::wire::Problem;
use algonaut_abi::abi_type::{AbiType, AbiValue};
use dao_core::address::Address;

/// The most items algonaut_abi 0.9.0 encodes under one uint16 header (one less than ARC-4's).
pub const MAX_ARC4_ITEMS: usize = u16::MAX as usize - 1;

/// Refuses what algonaut cannot encode under a uint16 header, naming the field.
fn check_count(field: &'static str, n: usize) -> Result<(), Problem> {
    if n > MAX_ARC4_ITEMS {
        return Err(Problem::TooLong {
            field,
            max: MAX_ARC4_ITEMS,
            got: n,
        });
    }
    Ok(())
}

fn encode(field: &'static str, ty: &AbiType, value: AbiValue) -> Result<Vec<u8>, Problem> {
    ty.encode(value).map_err(|e| Problem::Encode {
        field,
        reason: e.to_string(),
    })
}

/// ARC-4 `byte[]` (and `string`, the same bytes): a uint16 length, then the bytes.
pub fn encode_arc4_bytes(b: &[u8]) -> Result<Vec<u8>, Problem> {
    const FIELD: &str = "ARC-4 string";
    check_count(FIELD, b.len())?;
    let items = b.iter().map(|x| AbiValue::Byte(*x)).collect();
    encode(
        FIELD,
        &AbiType::dynamic_array(AbiType::byte()),
        AbiValue::Array(items),
    )
}

/// ARC-4 `uint64[]`: a uint16 count, then each big-endian uint64.
pub fn encode_u64_array(v: &[u64]) -> Result<Vec<u8>, Problem> {
    const FIELD: &str = "ARC-4 array";
    check_count(FIELD, v.len())?;
    let items = v.iter().map(|x| AbiValue::from(*x)).collect();
    encode(
        FIELD,
        &AbiType::dynamic_array(AbiType::UInt { bit_size: 64 }),
        AbiValue::Array(items),
    )
}

/// ARC-4 `(address,uint64)[]`, the weights of a rebalance.
pub fn encode_weights(weights: &[(Address, u64)]) -> Result<Vec<u8>, Problem> {
    const FIELD: &str = "rebalance weights";
    check_count(FIELD, weights.len())?;
    let pair = AbiType::Tuple {
        len: 2,
        child_types: vec![AbiType::Address, AbiType::UInt { bit_size: 64 }],
    };
    let items = weights
        .iter()
        .map(|(a, w)| AbiValue::Array(vec![AbiValue::Address((*a).into()), AbiValue::from(*w)]))
        .collect();
    encode(FIELD, &AbiType::dynamic_array(pair), AbiValue::Array(items))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn algonaut_encodes_as_the_app_expects() {
        // Written out by hand from ARC-4: uint16 count, then the items.
        assert_eq!(encode_arc4_bytes(b"ab").unwrap(), [0, 2, b'a', b'b']);
        assert_eq!(encode_arc4_bytes(b"").unwrap(), [0, 0]);
        assert_eq!(
            encode_u64_array(&[1, u64::MAX]).unwrap(),
            [&[0, 2][..], &1u64.to_be_bytes(), &u64::MAX.to_be_bytes()].concat()
        );
        let w = encode_weights(&[(Address([1; 32]), 7), (Address([2; 32]), 9)]).unwrap();
        let want = [
            &[0, 2][..],
            &[1; 32],
            &7u64.to_be_bytes(),
            &[2; 32],
            &9u64.to_be_bytes(),
        ]
        .concat();
        assert_eq!(w, want);
    }

    #[test]
    fn counts_a_uint16_header_cannot_hold_are_named() {
        let long = vec![b'x'; 65_535];
        assert_eq!(
            encode_arc4_bytes(&long),
            Err(Problem::TooLong {
                field: "ARC-4 string",
                max: 65_534,
                got: 65_535
            })
        );
        let ok = encode_arc4_bytes(&long[1..]).unwrap();
        assert_eq!((ok.len(), &ok[..2]), (2 + 65_534, &[0xff, 0xfe][..]));
        assert_eq!(
            encode_u64_array(&vec![0; 65_535]),
            Err(Problem::TooLong {
                field: "ARC-4 array",
                max: 65_534,
                got: 65_535
            })
        );
        let many = vec![(Address([0; 32]), 0); 65_535];
        assert!(matches!(
            encode_weights(&many),
            Err(Problem::TooLong { got: 65_535, .. })
        ));
    }
}
