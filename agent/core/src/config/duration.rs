//! Durations in configuration: `90s`, `10m`, `1h30m`, `500ms`, `2d`, and every other form
//! `humantime` reads (`1h 30m`, `90 seconds`, `1w`) — the systemd time span syntax, which is
//! also what the NixOS module hands to systemd.
//!
//! Why `humantime` and our own serde glue rather than `humantime-serde`: its visitor reports a
//! bad value as `invalid value: string "soon", expected a duration`, while the configuration's
//! message (asserted by the CLI's tests and shown in docs/configuration.md) is
//! `expected a duration like "90s", got "soon"`; and its serializer writes `1m 30s`, where
//! `validate-config --json` prints `1m30s`. The glue is the two impls below.

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::Duration;

pub const EXPECTED: &str = "a duration like \"90s\"";

/// A duration written as numbers with units (`1h30m`, `90s`, `1h 30m`, `2 days`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span(pub Duration);

/// Parses `text` with humantime; the error names the value and the expected form.
pub fn parse(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|_| format!("expected {EXPECTED}, got {text:?}"))
}

/// Largest unit first, without spaces (`1h30m`, `1s500us`): what `validate-config --json` and
/// the status show, and every such text parses back to the same duration.
impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ns = self.0.as_nanos();
        if ns == 0 {
            return f.write_str("0s");
        }
        const S: u128 = 1_000_000_000;
        for (unit, factor) in [
            ("d", 86_400 * S),
            ("h", 3_600 * S),
            ("m", 60 * S),
            ("s", S),
            ("ms", 1_000_000),
            ("us", 1_000),
            ("ns", 1),
        ] {
            if ns >= factor {
                write!(f, "{}{unit}", ns / factor)?;
                ns %= factor;
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

    /// The syntax is a superset of the one before humantime: systemd's forms parse too, and
    /// what they print parses back to the same duration (the config fuzzer's round trip).
    #[test]
    fn systemd_forms_parse_and_print_back() {
        for (text, d, canonical) in [
            ("1h 30m", Duration::from_secs(5400), "1h30m"),
            ("90 seconds", Duration::from_secs(90), "1m30s"),
            ("5min", Duration::from_secs(300), "5m"),
            ("1w", Duration::from_secs(7 * 86_400), "7d"),
            ("30m1h", Duration::from_secs(5400), "1h30m"),
            ("1.5h", Duration::from_secs(5400), "1h30m"),
            ("1s500us", Duration::from_micros(1_000_500), "1s500us"),
            ("7ns", Duration::from_nanos(7), "7ns"),
            ("1M", Duration::from_secs(2_630_016), "30d10h33m36s"),
        ] {
            assert_eq!(parse(text).unwrap(), d, "{text}");
            assert_eq!(Span(d).to_string(), canonical, "{text}");
            assert_eq!(parse(canonical).unwrap(), d, "{canonical}");
        }
    }

    #[test]
    fn refuses_everything_else() {
        for bad in [
            "",
            "90",
            "s",
            "-5s",
            "5S",
            "soon",
            "90 sekunden",
            "h1",
            "99999999999999999999s",
            "999999999999999y",
        ] {
            let e = parse(bad).expect_err(bad);
            assert_eq!(e, format!("expected a duration like \"90s\", got {bad:?}"));
        }
    }
}
