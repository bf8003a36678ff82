//! The usage record group models: what is sent and what the server answers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::api::common::Partner;
use crate::http::serde_util::{is_empty, null_as_default as nd, open_enum, rfc3339_opt};
pub use crate::http::usage_record::{
    MeteringUsageRecord, MeteringUsageRecordGroupMetaInfo, NewUsageRecordGroup,
    UsageRecordGroupSource,
};

open_enum! {
    /// Status of a usage record group.
    pub enum UsageRecordGroupStatus {
        /// Accepted, waiting for the next hourly report. Can be deleted.
        Created = "CREATED",
        /// Deleted.
        Deleted = "DELETED",
        /// Failed validation. Can be deleted.
        Invalid = "INVALID",
        /// Reported to the marketplace.
        Reported = "REPORTED",
        /// Being reported.
        ReportPending = "REPORT_PENDING",
        /// Reporting to the marketplace failed. Can be retried.
        ReportFailed = "REPORT_FAILED",
    }
}

/// The body of [`MeteringClient::report_usage_record_group`](crate::MeteringClient::report_usage_record_group).
///
/// Give it an `id` (at most 36 characters) so that the report is deduplicated: Suger answers
/// 409 to a second report with the same id. `entitlement_id` and `organization_id` may be left
/// empty: the client fills them from the call's entitlement id and its org id.
///
/// Build it with `..Default::default()` (the way to build every request type of this crate: a
/// field added in a later version then takes its default and your code keeps compiling):
///
/// ```
/// use suger_metering::CreateUsageRecordGroupParams;
/// let params = CreateUsageRecordGroupParams {
///     id: Some("4f0c5f8e-2b7a-5c1e-9d3a-0e6b7c8d9e10".into()),
///     records: [("api_calls".to_string(), 1200.0)].into(),
///     ..Default::default()
/// };
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CreateUsageRecordGroupParams {
    /// The group's id, at most 36 characters; Suger deduplicates reports on it. When `None`,
    /// the client generates a random UUID for the call, so that its own retries cannot bill
    /// twice; set it yourself (derived from your usage data) to make a re-run of your job safe
    /// too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The entitlement; must equal the call's `entitlement_id` (filled in when empty).
    #[serde(rename = "entitlementID", deserialize_with = "nd")]
    pub entitlement_id: String,
    /// The organization; must equal the client's org id (filled in when empty).
    #[serde(rename = "organizationID", deserialize_with = "nd")]
    pub organization_id: String,
    /// v1 usage: dimension → quantity. Always sent (as `{}` when `billable_records` is used).
    #[serde(deserialize_with = "nd")]
    pub records: BTreeMap<String, f64>,
    /// v2 usage records. Use either these or `records`, not both.
    #[serde(
        rename = "billableRecords",
        deserialize_with = "nd",
        skip_serializing_if = "is_empty"
    )]
    pub billable_records: Vec<MeteringUsageRecord>,
    /// When the usage happened. Optional: the server uses the time it receives the report.
    #[serde(with = "rfc3339_opt", skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<OffsetDateTime>,
    /// Read-only: must stay `None` (the request is refused otherwise).
    #[serde(rename = "metaInfo", skip_serializing_if = "Option::is_none")]
    pub meta_info: Option<MeteringUsageRecordGroupMetaInfo>,
}

/// A stored usage record group, as the server answers it.
///
/// Response-only and `#[non_exhaustive]`: a later version may add fields. Outside this crate
/// (say, in a test double) build one from `Default` and set its fields:
///
/// ```
/// use suger_metering::{MeteringUsageRecordGroup, UsageRecordGroupStatus};
/// let mut group = MeteringUsageRecordGroup::default();
/// group.id = "group-1".into();
/// group.status = Some(UsageRecordGroupStatus::Created);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct MeteringUsageRecordGroup {
    /// The group's id.
    #[serde(deserialize_with = "nd")]
    pub id: String,
    /// The buyer.
    #[serde(rename = "buyerID", deserialize_with = "nd")]
    pub buyer_id: String,
    /// The entitlement.
    #[serde(rename = "entitlementID", deserialize_with = "nd")]
    pub entitlement_id: String,
    /// The organization.
    #[serde(rename = "organizationID", deserialize_with = "nd")]
    pub organization_id: String,
    /// The marketplace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partner: Option<Partner>,
    /// v1 usage: dimension → quantity (empty for v2 groups).
    #[serde(deserialize_with = "nd")]
    pub records: BTreeMap<String, f64>,
    /// Status (`CREATED`, `REPORTED`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<UsageRecordGroupStatus>,
    /// Server-side details, including v2 `billable_records` and the source.
    #[serde(rename = "metaInfo", skip_serializing_if = "Option::is_none")]
    pub meta_info: Option<MeteringUsageRecordGroupMetaInfo>,
    /// A serial number assigned by the server.
    #[serde(rename = "serialID", deserialize_with = "nd")]
    pub serial_id: i64,
    /// The usage record report that carried this group, once reported.
    #[serde(rename = "usageRecordReportID", deserialize_with = "nd")]
    pub usage_record_report_id: String,
    /// When the group was created.
    #[serde(
        rename = "creationTime",
        with = "rfc3339_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub creation_time: Option<OffsetDateTime>,
    /// When the group last changed.
    #[serde(
        rename = "lastUpdateTime",
        with = "rfc3339_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_update_time: Option<OffsetDateTime>,
    /// When the group was reported to the marketplace; `None` until then (Go's zero time).
    #[serde(
        rename = "reportedTime",
        with = "rfc3339_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub reported_time: Option<OffsetDateTime>,
}

/// A page of usage record groups.
///
/// Response-only and `#[non_exhaustive]`: outside this crate, build one from `Default` and set
/// its fields.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ListUsageRecordGroupsResponse {
    /// The groups of this page (empty when the server sends `null`; at most 1000).
    #[serde(
        rename = "usageRecordGroups",
        deserialize_with = "crate::http::bounded::page"
    )]
    pub usage_record_groups: Vec<MeteringUsageRecordGroup>,
    /// The `offset` of the next page, when there is one.
    #[serde(rename = "nextOffset", skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::common::Partner;

    #[test]
    fn enums_keep_unknown_values() {
        let s: UsageRecordGroupStatus = serde_json::from_str(r#""ARCHIVED""#).unwrap();
        assert_eq!(s, UsageRecordGroupStatus::Other("ARCHIVED".into()));
        assert_eq!(serde_json::to_string(&s).unwrap(), r#""ARCHIVED""#);
        let p: Partner = serde_json::from_str(r#""""#).unwrap();
        assert_eq!(p, Partner::Unspecified);
        assert_eq!(Partner::from("AWS_CHINA"), Partner::AwsChina);
    }

    #[test]
    fn a_usage_record_read_and_sent_again_is_unchanged() {
        let read = serde_json::json!({
            "key": "tokens",
            "quantity": 3,
            "properties": { "model": "large", "weight": 1e-75, "tags": ["a", null] },
            "unit": "token",
            "sampledAt": null
        });
        let group: MeteringUsageRecordGroup = serde_json::from_value(serde_json::json!({
            "metaInfo": { "billableRecords": [read.clone()] }
        }))
        .unwrap();
        let record = &group.meta_info.unwrap().billable_records[0];
        assert_eq!(record.quantity, 3.0);
        assert_eq!(record.extra["unit"], "token");
        let sent = serde_json::to_string(&NewUsageRecordGroup {
            entitlement_id: "e".into(),
            billable_records: vec![record.clone()],
            ..Default::default()
        })
        .unwrap();
        let sent: serde_json::Value = serde_json::from_str(&sent).unwrap();
        assert_eq!(sent["billableRecords"][0], read);
    }

    #[test]
    fn a_usage_record_built_in_code_sends_only_what_was_set() {
        let r = MeteringUsageRecord::new("seats", 2.0);
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"key":"seats","quantity":2}"#
        );
        let r: MeteringUsageRecord =
            serde_json::from_str(r#"{"key":"k","quantity":null,"properties":null}"#).unwrap();
        assert_eq!(r, MeteringUsageRecord::new("k", 0.0));
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"key":"k","quantity":0}"#
        );
    }
}
