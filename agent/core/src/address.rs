//! Algorand addresses: 32 bytes (a public key, or a program hash), written as 58 characters of
//! RFC 4648 base32 without padding over the bytes and a 4-byte checksum (the last four bytes of
//! their SHA-512/256).

use sha2::{Digest, Sha512_256};
use std::fmt;
use std::str::FromStr;

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address(pub [u8; 32]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("an Algorand address has 58 characters, this one has {0}")]
    Length(usize),
    #[error("`{0}` is not a base32 character (A–Z, 2–7)")]
    Character(char),
    #[error("the checksum does not match: a character is mistyped")]
    Checksum,
}

impl Address {
    /// The address of a program: SHA-512/256 of "Program" followed by its bytecode.
    pub fn of_program(bytecode: &[u8]) -> Address {
        let mut h = Sha512_256::new();
        h.update(b"Program");
        h.update(bytecode);
        Address(h.finalize().into())
    }

    fn checksum(bytes: &[u8; 32]) -> [u8; 4] {
        let d = Sha512_256::digest(bytes);
        [d[28], d[29], d[30], d[31]]
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = self.0.to_vec();
        raw.extend_from_slice(&Address::checksum(&self.0));
        let (mut acc, mut bits) = (0u32, 0u32);
        let mut out = String::with_capacity(58);
        for b in raw {
            acc = (acc << 8) | u32::from(b);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(char::from(ALPHABET[((acc >> bits) & 31) as usize]));
            }
        }
        if bits > 0 {
            out.push(char::from(ALPHABET[((acc << (5 - bits)) & 31) as usize]));
        }
        f.write_str(&out)
    }
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Address, AddressError> {
        let n = s.chars().count();
        if n != 58 {
            return Err(AddressError::Length(n));
        }
        let (mut acc, mut bits) = (0u32, 0u32);
        let mut raw = Vec::with_capacity(36);
        for c in s.chars() {
            let v = ALPHABET
                .iter()
                .position(|a| char::from(*a) == c)
                .ok_or(AddressError::Character(c))?;
            acc = (acc << 5) | v as u32;
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                raw.push(((acc >> bits) & 0xff) as u8);
            }
        }
        // 58 · 5 = 290 bits = 36 bytes and 2 spare bits, which must be zero.
        if raw.len() != 36 || acc & ((1 << bits) - 1) != 0 {
            return Err(AddressError::Checksum);
        }
        let mut key = [0u8; 32];
        key.copy_from_slice(&raw[..32]);
        if raw[32..] != Address::checksum(&key) {
            return Err(AddressError::Checksum);
        }
        Ok(Address(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_zero_address_is_the_well_known_one() {
        // Algorand's zero address, as printed by every SDK.
        let zero = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAY5HFKQ";
        assert_eq!(Address([0; 32]).to_string(), zero);
        assert_eq!(zero.parse::<Address>().unwrap(), Address([0; 32]));
    }

    #[test]
    fn round_trips_and_refuses_typos() {
        let a = Address([7; 32]);
        let text = a.to_string();
        assert_eq!(text.parse::<Address>().unwrap(), a);
        let mut typo = text.clone().into_bytes();
        typo[10] = if typo[10] == b'A' { b'B' } else { b'A' };
        let typo = String::from_utf8(typo).unwrap();
        assert_eq!(typo.parse::<Address>(), Err(AddressError::Checksum));
        assert_eq!(text[1..].parse::<Address>(), Err(AddressError::Length(57)));
        let lower = text.to_lowercase();
        assert!(matches!(
            lower.parse::<Address>(),
            Err(AddressError::Character(_))
        ));
    }
}
