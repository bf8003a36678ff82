//! [`ListUsageRecordReports`]: the optional filters of a usage record report listing.

use time::Date;

use crate::api::common::Partner;
use crate::api::query::{push_id, push_opt, push_range, setters};
use crate::http::error::Result;

/// Optional query parameters of [`MeteringClient::list_usage_record_reports`].
/// Only parameters that were set are sent.
///
/// ```
/// use suger_metering::{ListUsageRecordReports, Partner};
/// let q = ListUsageRecordReports::new().partner(Partner::Aws).limit(100);
/// ```
///
/// [`MeteringClient::list_usage_record_reports`]: crate::MeteringClient::list_usage_record_reports
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct ListUsageRecordReports {
    /// `partner`: only reports to this marketplace (`AWS`, `AZURE`, `GCP`).
    pub partner: Option<Partner>,
    /// `buyerId`: only reports of this buyer.
    pub buyer_id: Option<String>,
    /// `entitlementId`: only reports of this entitlement.
    pub entitlement_id: Option<String>,
    /// `startDate` (UTC): the server defaults to 30 days before `end_date`.
    pub start_date: Option<Date>,
    /// `endDate` (UTC): the server defaults to today.
    pub end_date: Option<Date>,
    /// `limit`: page size, 1 to 1000; the server defaults to 1000.
    pub limit: Option<u32>,
    /// `offset`: the server defaults to 0.
    pub offset: Option<u32>,
}

impl ListUsageRecordReports {
    /// No filters: the server's defaults (the last 30 days, first 1000 reports).
    pub fn new() -> Self {
        Self::default()
    }
    setters! {
        /// Only reports to this marketplace.
        partner: Partner;
        /// Only reports of this buyer.
        buyer_id: String;
        /// Only reports of this entitlement.
        entitlement_id: String;
        /// First day (UTC, inclusive).
        start_date: Date;
        /// Last day (UTC).
        end_date: Date;
        /// Page size, 1 to 1000.
        limit: u32;
        /// Number of reports to skip.
        offset: u32;
    }

    /// Checks the parameters and returns the query pairs to send, camelCase, in spec order.
    pub(crate) fn query(&self) -> Result<Vec<(&'static str, String)>> {
        let mut q = Vec::new();
        push_opt(&mut q, "partner", self.partner.as_ref().map(|p| p.as_str()));
        push_id(&mut q, "buyer_id", "buyerId", self.buyer_id.as_deref())?;
        push_id(
            &mut q,
            "entitlement_id",
            "entitlementId",
            self.entitlement_id.as_deref(),
        )?;
        push_range(
            &mut q,
            self.start_date,
            self.end_date,
            self.limit,
            self.offset,
        )?;
        Ok(q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn list_query_wire_names() {
        assert!(ListUsageRecordReports::new().query().unwrap().is_empty());
        let q = ListUsageRecordReports::new()
            .partner(Partner::Azure)
            .buyer_id("b")
            .entitlement_id("e")
            .start_date(date!(2026 - 02 - 01))
            .end_date(date!(2026 - 02 - 01))
            .limit(1)
            .offset(0)
            .query()
            .unwrap();
        let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(
            q,
            [
                ("partner", "AZURE"),
                ("buyerId", "b"),
                ("entitlementId", "e"),
                ("startDate", "2026-02-01"),
                ("endDate", "2026-02-01"),
                ("limit", "1"),
                ("offset", "0"),
            ]
        );
    }
}
