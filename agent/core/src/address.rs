//! Algorand addresses: 32 bytes (a public key, or a program hash), written as 58 characters of
//! RFC 4648 base32 without padding over the bytes and a 4-byte checksum (the last four bytes of
//! their SHA-512/256).
//!
//! The base32, the checksum and the program and application hashes are `algonaut_core`'s (the SDK
//! the chain client already signs with). Our type stays because callers need what algonaut's does
//! not carry: an order (`Ord`, for sorted member lists and maps), a `Debug` that shows the bytes,
//! and errors that name the problem. algonaut's `FromStr` answers with a `String` such as "Error
//! decoding base32: DecodeError { position: 3, kind: Symbol }"; we check the length and the
//! alphabet first, so a typed address gets "has 57 characters" or "`a` is not a base32
//! character" and only a well-formed one with a wrong checksum gets "the checksum does not match".

use std::fmt;
use std::str::FromStr;

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
        let hash = algonaut_core::CompiledTeal(bytecode.to_vec()).hash();
        Address(algonaut_core::Address::from(hash).0)
    }

    /// The address of an application's account: SHA-512/256 of "appID" followed by its id.
    pub fn of_app(app_id: u64) -> Address {
        Address(algonaut_core::AppId(app_id).address().0)
    }
}

impl From<Address> for algonaut_core::Address {
    fn from(a: Address) -> Self {
        algonaut_core::Address(a.0)
    }
}

impl From<algonaut_core::Address> for Address {
    fn from(a: algonaut_core::Address) -> Self {
        Address(a.0)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&algonaut_core::Address(self.0), f)
    }
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Address, AddressError> {
        let n = s.chars().count();
        if n != 58 {
            return Err(AddressError::Length(n));
        }
        // Lowercase and padding (`=`) are refused here by name; algonaut would refuse them too,
        // but with a `DecodeError` debug print.
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_uppercase() || ('2'..='7').contains(c)))
        {
            return Err(AddressError::Character(c));
        }
        // What is left for algonaut to refuse is a wrong checksum, or nonzero spare bits in the
        // last character (58 · 5 = 290 bits = 36 bytes and 2 spare bits): both are a mistyped
        // character.
        algonaut_core::Address::from_str(s)
            .map(Address::from)
            .map_err(|_| AddressError::Checksum)
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

    #[test]
    fn refusals_name_the_problem_the_way_ours_did() {
        let text = Address([7; 32]).to_string();
        // Computed independently: python3 base64.b32encode(bytes([7]*32) + sha512_256(...)[-4:]).
        assert_eq!(
            text,
            "A4DQOBYHA4DQOBYHA4DQOBYHA4DQOBYHA4DQOBYHA4DQOBYHA4DVZ36IB4"
        );
        // Padding is not part of an address: 64 characters with `=`, or `=` in place of one.
        let padded = format!("{text}======");
        assert_eq!(padded.parse::<Address>(), Err(AddressError::Length(64)));
        let one_pad = format!("{}=", &text[..57]);
        assert_eq!(
            one_pad.parse::<Address>(),
            Err(AddressError::Character('='))
        );
        // A lowercase letter is named, not reported as a checksum failure.
        let one_lower = format!("{}a{}", &text[..5], &text[6..]);
        assert_eq!(
            one_lower.parse::<Address>(),
            Err(AddressError::Character('a'))
        );
        // Length counts characters, not bytes.
        let wide = format!("{}é", &text[..57]);
        assert_eq!(wide.parse::<Address>(), Err(AddressError::Character('é')));
        assert_eq!("".parse::<Address>(), Err(AddressError::Length(0)));
        // The 2 spare bits of the last character must be zero: `5` (11101) sets one, `4` does not.
        let spare = format!("{}5", &text[..57]);
        assert_eq!(spare.parse::<Address>(), Err(AddressError::Checksum));
    }

    #[test]
    fn program_and_application_addresses_are_the_known_ones() {
        // Computed independently with Python's hashlib sha512_256 and base32.
        assert_eq!(
            Address::of_program(&[0x06, 0x81, 0x01]).to_string(),
            "ZG2RRCHBZ4K2QKP3NGMYVF2MVG7YW2TSNJPVFVLEGX7KGQ46QVPJGOFTK4"
        );
        assert_eq!(
            Address::of_app(1).to_string(),
            "WCS6TVPJRBSARHLN2326LRU5BYVJZUKI2VJ53CAWKYYHDE455ZGKANWMGM"
        );
    }
}
