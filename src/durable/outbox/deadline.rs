//! Deadlines first: the order in which a flush sends what is pending. Each marketplace takes
//! usage only for a while after its hour (AWS 6 h, Azure 24 h), so the reports closest to
//! their cut-off go first. An entitlement's marketplace is known once a reconciliation saw it
//! (`ledger/partners.json`); until then the strictest window (AWS's 6 h) is assumed.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde::Deserialize;
use time::{Duration, OffsetDateTime};

use crate::durable::ledger::{hour_of, late_window};

/// How long before its cut-off a pending report is warned about.
pub(crate) const WARN_BEFORE: Duration = Duration::hours(1);

/// The fields of a pending entry the order needs (the rest of the file is skipped).
#[derive(Deserialize)]
struct Peek {
    #[serde(rename = "entitlementId")]
    entitlement_id: String,
    #[serde(rename = "enqueuedAt", with = "time::serde::rfc3339")]
    enqueued_at: OffsetDateTime,
    #[serde(default)]
    params: PeekParams,
}

#[derive(Default, Deserialize)]
struct PeekParams {
    #[serde(default, with = "time::serde::rfc3339::option")]
    timestamp: Option<OffsetDateTime>,
}

/// The marketplace's cut-off for usage of `usage_time` (the hour + its late window).
pub(crate) fn cutoff(partner: Option<&str>, usage_time: OffsetDateTime) -> OffsetDateTime {
    // Unknown: the strictest window, AWS's.
    let window = partner.and_then(late_window).unwrap_or(Duration::hours(6));
    hour_of(usage_time).saturating_add(window)
}

/// `true` when `due` comes within [`WARN_BEFORE`] of `now` and has not passed.
pub(crate) fn near(due: Option<OffsetDateTime>, now: OffsetDateTime) -> bool {
    due.is_some_and(|d| d > now && d - now <= WARN_BEFORE)
}

/// `names` (files of `pending`) with their cut-off, earliest first; enqueue order among
/// equals. A file that cannot be read (no cut-off) goes last (the flush sets it aside).
pub(crate) fn order(
    pending: &Path,
    names: Vec<String>,
    partners: &BTreeMap<String, String>,
) -> Vec<(String, Option<OffsetDateTime>)> {
    let mut keyed: Vec<(Option<OffsetDateTime>, String)> = names
        .into_iter()
        .map(|name| {
            let peek = fs::read(pending.join(&name))
                .ok()
                .and_then(|b| serde_json::from_slice::<Peek>(&b).ok());
            let due = peek.map(|p| {
                let usage = p.params.timestamp.unwrap_or(p.enqueued_at);
                cutoff(partners.get(&p.entitlement_id).map(String::as_str), usage)
            });
            (due, name)
        })
        .collect();
    // `None` sorts first in Option's order: put unreadable files last instead.
    keyed.sort_by(|a, b| match (a.0, b.0) {
        (Some(x), Some(y)) => x.cmp(&y).then_with(|| a.1.cmp(&b.1)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.1.cmp(&b.1),
    });
    keyed.into_iter().map(|(due, n)| (n, due)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn the_cutoff_is_the_hour_plus_the_marketplace_window() {
        let t = datetime!(2026-11-26 14:35 UTC);
        assert_eq!(cutoff(Some("AWS"), t), datetime!(2026-11-26 20:00 UTC));
        assert_eq!(cutoff(Some("AZURE"), t), datetime!(2026-11-27 14:00 UTC));
        assert_eq!(cutoff(None, t), datetime!(2026-11-26 20:00 UTC));
        let now = datetime!(2026-11-26 19:10 UTC);
        assert!(near(Some(cutoff(None, t)), now));
        assert!(!near(Some(cutoff(Some("AZURE"), t)), now));
        assert!(!near(Some(now), now), "past: overdue, not near");
    }
}
