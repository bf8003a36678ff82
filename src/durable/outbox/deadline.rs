//! Deadlines first: the order in which a flush sends what is pending. Each marketplace takes
//! usage only for a while after its hour (AWS 6 h, Azure 24 h), so the reports closest to
//! their cut-off go first. An entitlement's marketplace is known once a reconciliation saw it
//! (`ledger/partners.json`); until then the strictest window (AWS's 6 h) is assumed.

use time::{Duration, OffsetDateTime};

use crate::durable::ledger::{hour_of, late_window};

/// How long before its cut-off a pending report is warned about.
pub(crate) const WARN_BEFORE: Duration = Duration::hours(1);

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
