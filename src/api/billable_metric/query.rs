//! [`ListBillableMetrics`]: the optional filters of a billable metric listing.

use super::models::BillableMetricStatus;
use crate::api::query::{push_opt, setters};
use crate::http::error::Result;

/// Optional query parameters of [`MeteringClient::list_billable_metrics`], the same shape as
/// the other list calls' ([`ListUsageRecordGroups`](crate::ListUsageRecordGroups)). Only
/// parameters that were set are sent.
///
/// ```
/// use suger_metering::{BillableMetricStatus, ListBillableMetrics};
/// let all = ListBillableMetrics::new();
/// let active = ListBillableMetrics::new().status(BillableMetricStatus::Active);
/// ```
///
/// [`MeteringClient::list_billable_metrics`]: crate::MeteringClient::list_billable_metrics
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct ListBillableMetrics {
    /// `status`: only metrics with this status (`ACTIVE`, `DELETED`, ...).
    pub status: Option<BillableMetricStatus>,
}

impl ListBillableMetrics {
    /// No filters: every billable metric of the organization.
    pub fn new() -> Self {
        Self::default()
    }
    setters! {
        /// Only metrics with this status.
        status: BillableMetricStatus;
    }

    /// Checks the parameters and returns the query pairs to send, in spec order.
    pub(crate) fn query(&self) -> Result<Vec<(&'static str, String)>> {
        let mut q = Vec::new();
        push_opt(&mut q, "status", self.status.as_ref().map(|s| s.as_str()));
        Ok(q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_query_wire_names() {
        assert!(ListBillableMetrics::new().query().unwrap().is_empty());
        let q = ListBillableMetrics::new()
            .status(BillableMetricStatus::Deleted)
            .query()
            .unwrap();
        assert_eq!(q, [("status", "DELETED".to_owned())]);
        // A status this crate does not know yet is sent as given.
        let q = ListBillableMetrics::new()
            .status(BillableMetricStatus::from("ARCHIVED"))
            .query()
            .unwrap();
        assert_eq!(q, [("status", "ARCHIVED".to_owned())]);
    }
}
