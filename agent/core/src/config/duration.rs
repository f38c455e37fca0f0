//! Durations in configuration: `90s`, `10m`, `1h30m`, `500ms`, `2d`.

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::Duration;

pub const EXPECTED: &str = "a duration like \"90s\"";

/// A duration written as whole numbers with units (ms, s, m, h, d), largest unit first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span(pub Duration);

pub fn parse(text: &str) -> Result<Duration, String> {
    let err = || format!("expected {EXPECTED}, got {text:?}");
    let units: [(&str, u64); 5] = [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ];
    let mut rest = text;
    let mut total_ms: u64 = 0;
    let mut last_rank = usize::MAX;
    if rest.is_empty() {
        return Err(err());
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 12 {
            return Err(err());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| err())?;
        rest = &rest[digits..];
        let letters = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..letters];
        rest = &rest[letters..];
        let (rank, factor) = units
            .iter()
            .enumerate()
            .find(|(_, (u, _))| *u == unit)
            .map(|(i, (_, f))| (i, *f))
            .ok_or_else(err)?;
        // Largest unit first and each unit once: "1h30m", not "30m1h" or "1m1m".
        if last_rank != usize::MAX && rank <= last_rank {
            return Err(err());
        }
        last_rank = rank;
        total_ms = n
            .checked_mul(factor)
            .and_then(|v| total_ms.checked_add(v))
            .ok_or_else(err)?;
    }
    Ok(Duration::from_millis(total_ms))
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = u64::try_from(self.0.as_millis()).unwrap_or(u64::MAX);
        if ms == 0 {
            return f.write_str("0s");
        }
        for (unit, factor) in [
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1000),
            ("ms", 1),
        ] {
            if ms >= factor {
                write!(f, "{}{unit}", ms / factor)?;
                ms %= factor;
            }
        }
        Ok(())
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Span, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Span;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Span, E> {
                parse(v).map(Span).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        for (text, ms, canonical) in [
            ("90s", 90_000, "1m30s"),
            ("10m", 600_000, "10m"),
            ("1h30m", 5_400_000, "1h30m"),
            ("500ms", 500, "500ms"),
            ("2d", 172_800_000, "2d"),
            ("1m1s1ms", 61_001, "1m1s1ms"),
            ("0s", 0, "0s"),
            ("3600s", 3_600_000, "1h"),
        ] {
            let d = parse(text).unwrap();
            assert_eq!(d, Duration::from_millis(ms), "{text}");
            assert_eq!(Span(d).to_string(), canonical, "{text}");
            assert_eq!(parse(canonical).unwrap(), d, "{canonical}");
        }
        assert_eq!(Span(Duration::from_secs(5400)).to_string(), "1h30m");
    }

    #[test]
    fn refuses_everything_else() {
        for bad in [
            "",
            "90",
            "s",
            "90 s",
            "1.5h",
            "-5s",
            "30m1h",
            "1m1m",
            "1w",
            "5S",
            "1h 30m",
            "9999999999999s",
            "999999999999d",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(
                e.starts_with("expected a duration like \"90s\""),
                "{bad}: {e}"
            );
        }
    }
}
