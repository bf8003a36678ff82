//! Small helpers: the clock, RFC 3339 and `YYYY-MM-DD` through the `time` crate,
//! percent-decoding, random ids and Go-like number encoding.

use std::sync::Mutex;

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::macros::{datetime, format_description};
use time::{Date, OffsetDateTime, UtcOffset};

/// Go's zero `time.Time`, as `encoding/json` writes it.
pub(crate) const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Nanoseconds since the Unix epoch (UTC). Strictly increasing across calls, so two objects
/// created one after the other never share a timestamp.
pub(crate) fn now_nanos() -> i128 {
    static LAST: Mutex<i128> = Mutex::new(0);
    let wall = OffsetDateTime::now_utc().unix_timestamp_nanos();
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    let next = if wall > *last { wall } else { *last + 1 };
    *last = next;
    next
}

/// The UTC instant of Unix nanoseconds `nanos` (clamped to the `time` crate's range).
fn instant(nanos: i128) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(if nanos < 0 {
        datetime!(-9999-01-01 0:00 UTC)
    } else {
        datetime!(9999-12-31 23:59:59.999_999_999 UTC)
    })
}

/// The UTC day of an instant given in Unix nanoseconds.
pub(crate) fn day_of(nanos: i128) -> Date {
    instant(nanos).date()
}

/// RFC 3339 in UTC with exactly nine fractional digits: `2026-03-01T10:00:00.123456789Z`.
pub(crate) fn format_rfc3339(nanos: i128) -> String {
    let f =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:9]Z");
    instant(nanos).format(&f).unwrap_or_default()
}

/// `YYYY-MM-DD` of a date.
pub(crate) fn format_date(day: Date) -> String {
    day.format(&format_description!("[year]-[month]-[day]"))
        .unwrap_or_default()
}

/// Parses a strict `YYYY-MM-DD` date.
pub(crate) fn parse_date(s: &str) -> Option<Date> {
    Date::parse(s, &format_description!("[year]-[month]-[day]")).ok()
}

/// Parses an RFC 3339 timestamp (`T` separator as Go requires, `Z` or `±HH:MM`, optional
/// fraction) into Unix nanoseconds (UTC).
pub(crate) fn parse_rfc3339(s: &str) -> Option<i128> {
    if s.as_bytes().get(10) != Some(&b'T') {
        return None;
    }
    let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
    Some(t.to_offset(UtcOffset::UTC).unix_timestamp_nanos())
}

/// Unix nanoseconds of Go's zero time (`0001-01-01T00:00:00Z`).
pub(crate) fn go_zero_nanos() -> i128 {
    datetime!(0001-01-01 0:00 UTC).unix_timestamp_nanos()
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes `s` (and `+` as a space when `plus_as_space`, for query strings). `None` when
/// a `%` is not followed by two hex digits or the result is not UTF-8.
pub(crate) fn percent_decode(s: &str, plus_as_space: bool) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hi = hex(*b.get(i + 1)?)?;
                let lo = hex(*b.get(i + 2)?)?;
                out.push(hi * 16 + lo);
                i += 3;
            }
            b'+' if plus_as_space => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// A random version-4 UUID such as `0f8e3c52-6a1d-4b7e-9c2f-5d4e3b2a1f0e`.
pub(crate) fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A JSON number as Go's `encoding/json` writes a `float64`: integral values without a fraction
/// (`3`, not `3.0`).
pub(crate) fn go_number(f: f64) -> Value {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15 {
        Value::from(f as i64)
    } else {
        serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

/// `a + b`, saturating at `±f64::MAX` instead of overflowing to infinity (both are finite).
pub(crate) fn saturating_add(a: f64, b: f64) -> f64 {
    let s = a + b;
    if s.is_finite() {
        s
    } else if s > 0.0 {
        f64::MAX
    } else {
        -f64::MAX
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_dates_round_trip() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            format_rfc3339(go_zero_nanos()),
            "0001-01-01T00:00:00.000000000Z"
        );
        let t = parse_rfc3339("2026-03-01T10:00:00.123456789Z");
        assert_eq!(
            t.map(format_rfc3339).as_deref(),
            Some("2026-03-01T10:00:00.123456789Z")
        );
        let t = parse_rfc3339("2026-03-01T12:30:00+02:30");
        assert_eq!(
            t.map(format_rfc3339).as_deref(),
            Some("2026-03-01T10:00:00.000000000Z")
        );
        assert_eq!(parse_rfc3339("2026-02-30T10:00:00Z"), None);
        assert_eq!(parse_rfc3339("2026-03-01 10:00:00Z"), None);
        assert_eq!(
            parse_date("2024-02-29").map(format_date).as_deref(),
            Some("2024-02-29")
        );
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_date("2023-1-01"), None);
        assert_eq!(
            format_date(day_of(parse_rfc3339("2026-03-01T23:59:59.9Z").unwrap())),
            "2026-03-01"
        );
    }

    #[test]
    fn decoding_ids_numbers() {
        assert_eq!(percent_decode("a%2Fb%20c", false).as_deref(), Some("a/b c"));
        assert_eq!(percent_decode("a+b", true).as_deref(), Some("a b"));
        assert_eq!(percent_decode("%zz", false), None);
        assert_eq!(percent_decode("%ff", false), None);
        let id = new_uuid();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert_ne!(id, new_uuid());
        assert_eq!(go_number(3.0).to_string(), "3");
        assert_eq!(go_number(2.5).to_string(), "2.5");
        assert_eq!(saturating_add(f64::MAX, f64::MAX), f64::MAX);
        assert_eq!(saturating_add(-f64::MAX, -1e308), -f64::MAX);
        assert_eq!(saturating_add(1.5, 2.0), 3.5);
    }
}
