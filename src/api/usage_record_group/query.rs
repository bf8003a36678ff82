//! The query of `list_usage_record_groups`.

use time::Date;

use super::models::{UsageRecordGroupSource, UsageRecordGroupStatus};
use crate::api::common::Partner;
use crate::api::query::{push_id, push_opt, push_range, setters};
use crate::http::error::{Error, Result};

/// Optional query parameters of [`MeteringClient::list_usage_record_groups`](crate::MeteringClient::list_usage_record_groups).
///
/// Only parameters that were set are sent. At most one of `partner`, `buyer_id` and
/// `entitlement_id` may be set.
///
/// ```
/// use suger_metering::{ListUsageRecordGroups, UsageRecordGroupStatus};
/// use time::macros::date;
/// let q = ListUsageRecordGroups::new()
///     .entitlement_id("ent-1")
///     .status(UsageRecordGroupStatus::Created)
///     .start_date(date!(2026 - 11 - 01))
///     .limit(500);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct ListUsageRecordGroups {
    /// `partner`: only groups of this marketplace (`AWS`, `AZURE`, `GCP`).
    pub partner: Option<Partner>,
    /// `buyerId`: only groups of this buyer.
    pub buyer_id: Option<String>,
    /// `entitlementId`: only groups of this entitlement.
    pub entitlement_id: Option<String>,
    /// `status`: only groups with this status.
    pub status: Option<UsageRecordGroupStatus>,
    /// `source`: only groups from this source.
    pub source: Option<UsageRecordGroupSource>,
    /// `metaInfo`: the server's metaInfo filter.
    pub meta_info: Option<String>,
    /// `startDate` (UTC): the server defaults to 30 days before `end_date`.
    pub start_date: Option<Date>,
    /// `endDate` (UTC): the server defaults to today.
    pub end_date: Option<Date>,
    /// `limit`: page size, 1 to 1000; the server defaults to 1000.
    pub limit: Option<u32>,
    /// `offset`: the server defaults to 0.
    pub offset: Option<u32>,
}

impl ListUsageRecordGroups {
    /// No filters: the server's defaults (the last 30 days, first 1000 groups).
    pub fn new() -> Self {
        Self::default()
    }
    setters! {
        /// Only groups of this marketplace.
        partner: Partner;
        /// Only groups of this buyer.
        buyer_id: String;
        /// Only groups of this entitlement.
        entitlement_id: String;
        /// Only groups with this status.
        status: UsageRecordGroupStatus;
        /// Only groups from this source.
        source: UsageRecordGroupSource;
        /// The server's `metaInfo` filter.
        meta_info: String;
        /// First day (UTC, inclusive).
        start_date: Date;
        /// Last day (UTC).
        end_date: Date;
        /// Page size, 1 to 1000.
        limit: u32;
        /// Number of groups to skip.
        offset: u32;
    }

    /// Checks the parameters and returns the query pairs to send, camelCase, in spec order.
    pub(crate) fn query(&self) -> Result<Vec<(&'static str, String)>> {
        let filters = [
            self.partner.is_some(),
            self.buyer_id.is_some(),
            self.entitlement_id.is_some(),
        ];
        if filters.iter().filter(|set| **set).count() > 1 {
            return Err(Error::invalid(
                "partner/buyer_id/entitlement_id",
                "give at most one of partner, buyer_id and entitlement_id",
            ));
        }
        let mut q = Vec::new();
        push_opt(&mut q, "partner", self.partner.as_ref().map(|p| p.as_str()));
        push_id(&mut q, "buyer_id", "buyerId", self.buyer_id.as_deref())?;
        push_id(
            &mut q,
            "entitlement_id",
            "entitlementId",
            self.entitlement_id.as_deref(),
        )?;
        push_opt(&mut q, "status", self.status.as_ref().map(|s| s.as_str()));
        push_opt(&mut q, "source", self.source.as_ref().map(|s| s.as_str()));
        push_opt(&mut q, "metaInfo", self.meta_info.as_deref());
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
    use crate::api::common::Partner;
    use crate::api::usage_record_group::models::{UsageRecordGroupSource, UsageRecordGroupStatus};
    use time::macros::date;

    #[test]
    fn list_query_sends_only_set_parameters_with_wire_names() {
        assert!(ListUsageRecordGroups::new().query().unwrap().is_empty());
        let q = ListUsageRecordGroups::new()
            .buyer_id("b 1")
            .status(UsageRecordGroupStatus::ReportFailed)
            .source(UsageRecordGroupSource::Api)
            .meta_info("k=v")
            .start_date(date!(2026 - 01 - 02))
            .end_date(date!(2026 - 01 - 31))
            .limit(1000)
            .offset(7)
            .query()
            .unwrap();
        let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(
            q,
            [
                ("buyerId", "b 1"),
                ("status", "REPORT_FAILED"),
                ("source", "API"),
                ("metaInfo", "k=v"),
                ("startDate", "2026-01-02"),
                ("endDate", "2026-01-31"),
                ("limit", "1000"),
                ("offset", "7"),
            ]
        );
        let q = ListUsageRecordGroups::new()
            .partner(Partner::Gcp)
            .query()
            .unwrap();
        assert_eq!(q, [("partner", "GCP".to_string())]);
        let q = ListUsageRecordGroups::new()
            .entitlement_id("e")
            .query()
            .unwrap();
        assert_eq!(q, [("entitlementId", "e".to_string())]);
    }
}
