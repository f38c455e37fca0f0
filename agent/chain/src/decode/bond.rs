//! The `d` box: the bond paid with a proposal (docs/contract.md, "Proposal bond").

use super::box_key::BoxKey;
use super::wire::{be, err, exact, DecodeError, Problem};
use dao_core::rules::{Bond, BondStatus};

/// Size of a `d` box: bond, status, settled_at, canceled_early (four uint64).
pub const BOND_LEN: usize = 32;

/// A proposal's bond as the app keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BondBox {
    pub bond: Bond,
    /// When it was refunded or kept (0 while held).
    pub settled_at: u64,
}

/// Decodes proposal `id`'s `d` box and refuses what the app never writes: an unknown status, a
/// flag other than 0 or 1, a zero bond, or a settled time on a held bond.
pub fn decode_bond(id: u64, bytes: &[u8]) -> Result<BondBox, DecodeError> {
    bond_fields(bytes).map_err(|p| err(BoxKey::Bond(id).to_string(), p))
}

fn bond_fields(bytes: &[u8]) -> Result<BondBox, Problem> {
    exact(bytes, BOND_LEN)?;
    let (amount, code, settled_at, early) = (
        be(bytes),
        be(&bytes[8..]),
        be(&bytes[16..]),
        be(&bytes[24..]),
    );
    let status = BondStatus::from_code(code).ok_or(Problem::UnknownCode {
        field: "bond status",
        code,
    })?;
    let value = |field, expected, got| Problem::Value {
        field,
        expected,
        got,
    };
    if amount == 0 {
        return Err(value("bond", "above 0 (no bond has no box)", 0));
    }
    if early > 1 {
        return Err(value("canceled_early", "0 or 1", early));
    }
    if status == BondStatus::Held && settled_at != 0 {
        return Err(value("settled_at", "0 while the bond is held", settled_at));
    }
    Ok(BondBox {
        bond: Bond {
            amount,
            status,
            canceled_before_start: early == 1,
        },
        settled_at,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn raw(words: [u64; 4]) -> Vec<u8> {
        words.iter().flat_map(|w| w.to_be_bytes()).collect()
    }

    #[test]
    fn each_status_decodes_and_what_the_app_never_writes_is_refused() {
        let b = decode_bond(1, &raw([5, 0, 0, 1])).unwrap();
        assert_eq!(b.bond.status, BondStatus::Held);
        assert!(b.bond.canceled_before_start);
        let b = decode_bond(1, &raw([5, 1, 77, 0])).unwrap();
        assert_eq!((b.bond.status, b.settled_at), (BondStatus::Refunded, 77));
        assert_eq!(
            decode_bond(1, &raw([5, 2, 77, 0])).unwrap().bond.status,
            BondStatus::Kept
        );
        for bad in [[5, 3, 0, 0], [0, 0, 0, 0], [5, 0, 0, 2], [5, 0, 9, 0]] {
            assert!(decode_bond(1, &raw(bad)).is_err(), "{bad:?}");
        }
        assert!(decode_bond(1, &raw([5, 0, 0, 0])[..31]).is_err());
    }
}
