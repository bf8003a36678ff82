//! Typed flag values, parsed by clap (a bad value is a usage error, exit 2, before anything is
//! read or sent). Parsing only: what a valid report is, the library decides.

use std::time::Duration;

use suger_metering::{BillableMetricStatus, Partner, UsageRecordGroupStatus};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// Seconds: a finite number > 0 (at most a year). `inf`, `nan`, `0` and `-1` are refused.
pub(crate) fn parse_secs(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !(secs.is_finite() && secs > 0.0 && secs <= 365.0 * 86_400.0) {
        return Err(format!(
            "{s:?} is not a number of seconds > 0 and at most a year"
        ));
    }
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{s:?}: {e}"))
}

/// `YYYY-MM-DD`.
pub(crate) fn parse_date(s: &str) -> Result<Date, String> {
    Date::parse(s.trim(), &format_description!("[year]-[month]-[day]"))
        .map_err(|_| format!("{s:?} is not a date: write it as YYYY-MM-DD, e.g. 2026-03-01"))
}

/// A usage time: RFC 3339 (`2026-03-01T10:00:00Z`, any offset) or an hour in UTC
/// (`2026-03-01T10`); normalized to UTC.
pub(crate) fn parse_timestamp(s: &str) -> Result<OffsetDateTime, String> {
    let t = s.trim();
    if let Ok(t) = OffsetDateTime::parse(t, &Rfc3339) {
        return Ok(t.to_offset(UtcOffset::UTC));
    }
    PrimitiveDateTime::parse(t, &format_description!("[year]-[month]-[day]T[hour]"))
        .map(PrimitiveDateTime::assume_utc)
        .map_err(|_| {
            format!(
                "timestamp {s:?} is neither RFC 3339 (2026-03-01T10:00:00Z) nor an hour in UTC (2026-03-01T10)"
            )
        })
}

/// `NAME=HEADER` of `--column`.
pub(crate) fn parse_column(s: &str) -> Result<(String, String), String> {
    let (name, header) = s
        .split_once('=')
        .filter(|(n, h)| !n.trim().is_empty() && !h.trim().is_empty())
        .ok_or_else(|| format!("{s:?} is not NAME=HEADER, e.g. entitlement_id=customer_id"))?;
    let name = name.trim().to_ascii_lowercase();
    let name = if name == "entitlement" {
        "entitlement_id".to_string()
    } else {
        name
    };
    if !crate::input::CSV_COLUMNS.contains(&name.as_str()) {
        return Err(format!(
            "{name:?} is not a column name (want one of {})",
            crate::input::CSV_COLUMNS.join(", ")
        ));
    }
    Ok((name, header.trim().to_string()))
}

/// A value the library knows by name (case-insensitive), or a clear refusal.
fn known<T>(
    what: &str,
    s: &str,
    parse: fn(&str) -> T,
    is_known: fn(&T) -> bool,
) -> Result<T, String> {
    let v = parse(&s.trim().to_ascii_uppercase());
    if is_known(&v) {
        Ok(v)
    } else {
        Err(format!("{s:?} is not a {what} this version knows"))
    }
}

/// `--status` of `groups list`.
pub(crate) fn parse_group_status(s: &str) -> Result<UsageRecordGroupStatus, String> {
    known(
        "usage record group status (CREATED, REPORT_PENDING, REPORTED, REPORT_FAILED, INVALID, DELETED)",
        s,
        |x| UsageRecordGroupStatus::from(x),
        |v| !matches!(v, UsageRecordGroupStatus::Other(_)),
    )
}

/// `--status` of `metrics`.
pub(crate) fn parse_metric_status(s: &str) -> Result<BillableMetricStatus, String> {
    known(
        "billable metric status (ACTIVE, DELETED)",
        s,
        |x| BillableMetricStatus::from(x),
        |v| !matches!(v, BillableMetricStatus::Other(_)),
    )
}

/// `--partner`.
pub(crate) fn parse_partner(s: &str) -> Result<Partner, String> {
    known(
        "partner (AWS, AZURE, GCP, ...)",
        s,
        |x| Partner::from(x),
        |v| !matches!(v, Partner::Other(_) | Partner::Unspecified),
    )
}

/// `--since 48h`: a number and a unit, `s`, `m`, `h` or `d`.
pub(crate) fn parse_since(s: &str) -> Result<Duration, String> {
    let bad = || format!("{s:?} is not a duration: write a number and a unit: 90m, 48h, 2d");
    let s = s.trim();
    let unit_at = s
        .find(|c: char| !c.is_ascii_digit())
        .filter(|i| *i > 0)
        .ok_or_else(bad)?;
    let n: u64 = s[..unit_at].parse().map_err(|_| bad())?;
    let secs = match &s[unit_at..] {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(secs)
        .filter(|t| *t > 0 && *t <= 366 * 86_400)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{s:?} is out of range: give more than nothing and at most a year"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn since_takes_a_number_and_a_unit() {
        use super::parse_since;
        use std::time::Duration;
        assert_eq!(parse_since("48h").unwrap(), Duration::from_secs(48 * 3600));
        assert_eq!(parse_since("90m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_since("2d").unwrap(), Duration::from_secs(172_800));
        for bad in ["", "h", "48", "48x", "-1h", "1.5h", "0h", "99999d", "48 h"] {
            assert!(parse_since(bad).is_err(), "{bad}");
        }
    }

    use super::*;

    #[test]
    fn seconds_must_be_finite_and_positive() {
        assert_eq!(parse_secs("1.5"), Ok(Duration::from_millis(1500)));
        for bad in ["inf", "nan", "NaN", "-1", "0", "1e300", "x"] {
            assert!(parse_secs(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timestamps_are_rfc3339_or_an_hour() {
        let want = OffsetDateTime::parse("2026-03-01T10:00:00Z", &Rfc3339).unwrap();
        assert_eq!(parse_timestamp("2026-03-01T10"), Ok(want));
        assert_eq!(parse_timestamp("2026-03-01T12:00:00+02:00"), Ok(want));
        assert!(parse_timestamp("2026-03-01 10").is_err());
        assert!(parse_timestamp("2026-03-01T10:00:00").is_err());
    }

    #[test]
    fn enums_are_case_insensitive_and_known() {
        assert_eq!(parse_partner("aws"), Ok(Partner::Aws));
        assert!(parse_partner("AWZ").is_err());
        assert_eq!(
            parse_group_status("report_failed"),
            Ok(UsageRecordGroupStatus::ReportFailed)
        );
        assert!(parse_group_status("FAILED").is_err());
        assert_eq!(
            parse_metric_status("Active"),
            Ok(BillableMetricStatus::Active)
        );
    }
}
