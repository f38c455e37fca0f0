//! What every decoder's errors must satisfy, whichever target found them.

use dao_chain::decode::{DecodeError, Problem};

/// A decoder's problem must agree with itself: a "length" error names two different lengths, a
/// "too short" error a minimum above what it got, and so on; and it must say something.
pub fn check_problem(p: &Problem) {
    match p {
        Problem::Length { expected, got } => assert_ne!(expected, got, "{p}"),
        Problem::TooShort { min, got } => assert!(min > got, "{p}"),
        Problem::Trailing { extra } => assert!(*extra > 0, "{p}"),
        Problem::Offset { expected, got, .. } => assert_ne!(expected, got, "{p}"),
        Problem::LengthHeader {
            declared,
            available,
            ..
        } => assert_ne!(declared, available, "{p}"),
        Problem::TooLong { max, got, .. } => assert!(got > max, "{p}"),
        Problem::Targets { all_hosts, listed } => assert_eq!(*all_hosts, *listed > 0, "{p}"),
        Problem::Bool { byte, .. } => assert!(*byte != 0 && *byte != 0x80, "{p}"),
        Problem::InvalidRules(text) => assert!(!text.is_empty(), "{p}"),
        _ => {}
    }
    assert!(!p.to_string().is_empty());
}

pub fn check_decode_error(e: &DecodeError, what: &str) {
    assert_eq!(e.what, what);
    check_problem(&e.problem);
    assert_eq!(e.to_string(), format!("{}: {}", e.what, e.problem));
}
