//! Timestamps a client sends, read strictly as RFC 3339 section 5.6 `date-time`: `T` between
//! date and time, seconds always, `Z` or a numeric offset. chrono's own `Deserialize` (its
//! `FromStr`) also takes a space for the `T` and other relaxed forms, which a JSON Schema
//! validator's `format: date-time` refuses: the server and the published schema must agree.
//!
//! Use on request fields: `#[serde(deserialize_with = "crate::rfc3339::deserialize")]`, or
//! `crate::rfc3339::deserialize_option` for an optional one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};

/// `text` as a UTC instant, if it is an RFC 3339 `date-time`: `YYYY-MM-DD`, `T` (or `t`, as
/// section 5.6 allows), `hh:mm:ss`, optional fraction, then `Z` (`z`) or `+hh:mm` / `-hh:mm`.
pub fn parse(text: &str) -> Option<DateTime<Utc>> {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        b.get(range)
            .is_some_and(|s| s.iter().all(u8::is_ascii_digit))
    };
    let at = |i: usize, c: &[u8]| b.get(i).is_some_and(|x| c.contains(x));
    let date_time = digits(0..4)
        && at(4, b"-")
        && digits(5..7)
        && at(7, b"-")
        && digits(8..10)
        && at(10, b"Tt")
        && digits(11..13)
        && at(13, b":")
        && digits(14..16)
        && at(16, b":")
        && digits(17..19);
    if !date_time {
        return None;
    }
    let mut i = 19;
    if at(i, b".") {
        let start = i + 1;
        i = start;
        while at(i, b"0123456789") {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    let offset = &b[i..];
    let offset_ok = matches!(offset, [b'Z' | b'z'])
        || (offset.len() == 6
            && matches!(offset[0], b'+' | b'-')
            && offset[1..3].iter().all(u8::is_ascii_digit)
            && offset[3] == b':'
            && offset[4..6].iter().all(u8::is_ascii_digit));
    if !offset_ok {
        return None;
    }
    // The shape is RFC 3339's; chrono checks the ranges (month 1-12, day of month, 23:59:60).
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

const EXPECTED: &str = "an RFC 3339 date-time, e.g. 2026-01-31T09:30:00Z";

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let text = String::deserialize(d)?;
    parse(&text).ok_or_else(|| serde::de::Error::custom(format!("expected {EXPECTED}")))
}

pub fn deserialize_option<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(text) => parse(&text)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("expected {EXPECTED}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn rfc3339_only() {
        for good in [
            "2026-01-31T09:30:00Z",
            "2026-01-31t09:30:00z",
            "2026-01-31T09:30:00.123Z",
            "2026-01-31T09:30:00+01:00",
            "2026-01-31T09:30:00-05:30",
        ] {
            assert!(parse(good).is_some(), "{good}");
        }
        assert_eq!(
            parse("2026-01-31T10:30:00+01:00"),
            parse("2026-01-31T09:30:00Z")
        );
        for bad in [
            "2026-01-31 09:30:00Z",
            "2026-01-31T09:30Z",
            "2026-01-31T09:30:00",
            "2026-01-31T09:30:00+0100",
            "2026-01-31T09:30:00+01",
            "2026-01-31T09:30:00.Z",
            "2026-1-31T09:30:00Z",
            "2026-02-30T09:30:00Z",
            "2026-01-31T24:30:00Z",
            " 2026-01-31T09:30:00Z",
            "2026-01-31T09:30:00Z ",
            "+2026-01-31T09:30:00Z",
            "",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }
}
