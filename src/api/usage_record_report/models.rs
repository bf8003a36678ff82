//! The usage record report models: what was reported to a marketplace, and a page of them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::api::billable_metric::{BillableMetricAggregationType, BillableMetricInfo};
use crate::api::common::Partner;
use crate::http::error::Result;
use crate::http::serde_util::{is_empty, null_as_default as nd, open_enum, rfc3339_opt};

open_enum! {
    /// Status of a usage record report.
    pub enum UsageRecordReportStatus {
        /// The empty string: Go's zero value (`UsageRecordReportStatus_UNKNOWN`).
        Unspecified = "",
        /// Accepted by the marketplace.
        Success = "SUCCESS",
        /// Refused by the marketplace.
        Failed = "FAILED",
        /// Created, not yet sent.
        Created = "CREATED",
        /// Invoiced.
        Invoiced = "INVOICED",
        /// Deleted.
        Deleted = "DELETED",
        /// Canceled.
        Canceled = "CANCELED",
    }
}

/// A usage record report.
///
/// Response-only and `#[non_exhaustive]`: a later version may add fields. Outside this crate
/// (say, in a test double) build one from `Default` and set its fields:
///
/// ```
/// use suger_metering::MeteringUsageRecordReport;
/// let mut report = MeteringUsageRecordReport::default();
/// report.id = "report-1".into();
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct MeteringUsageRecordReport {
    /// The report's id.
    #[serde(deserialize_with = "nd")]
    pub id: String,
    /// The buyer.
    #[serde(rename = "buyerID", deserialize_with = "nd")]
    pub buyer_id: String,
    /// The entitlement.
    #[serde(rename = "entitlementID", deserialize_with = "nd")]
    pub entitlement_id: String,
    /// The entitlement term.
    #[serde(rename = "entitlementTermID", deserialize_with = "nd")]
    pub entitlement_term_id: String,
    /// The organization.
    #[serde(rename = "organizationID", deserialize_with = "nd")]
    pub organization_id: String,
    /// The marketplace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partner: Option<Partner>,
    /// The product.
    #[serde(rename = "productID", deserialize_with = "nd")]
    pub product_id: String,
    /// When the report was created.
    #[serde(
        rename = "creationTime",
        with = "rfc3339_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub creation_time: Option<OffsetDateTime>,
    /// What was reported, and how the marketplace answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<MeteringUsageRecordReportInfo>,
}

/// Details of a usage record report.
///
/// The marketplaces' raw request and response payloads (`aws_metering_request`, ...,
/// `alibaba_metering_response`) are kept as [`serde_json::Value`]: they are the marketplaces'
/// own formats, passed through unchanged.
///
/// Response-only and `#[non_exhaustive]`: outside this crate, build one from `Default` and set
/// its fields.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct MeteringUsageRecordReportInfo {
    /// The report's status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<UsageRecordReportStatus>,
    /// A message, usually the marketplace's error.
    #[serde(deserialize_with = "nd")]
    pub message: String,
    /// The marketplace the report was sent to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partner: Option<Partner>,
    /// Start of the reported period (UTC).
    #[serde(with = "rfc3339_opt", skip_serializing_if = "Option::is_none")]
    pub start_time: Option<OffsetDateTime>,
    /// End of the reported period (UTC).
    #[serde(with = "rfc3339_opt", skip_serializing_if = "Option::is_none")]
    pub end_time: Option<OffsetDateTime>,
    /// The usage record groups aggregated in this report.
    #[serde(deserialize_with = "nd", skip_serializing_if = "is_empty")]
    pub usage_record_group_ids: Vec<String>,
    /// v2: the aggregated billable records.
    #[serde(deserialize_with = "nd", skip_serializing_if = "is_empty")]
    pub aggregated_billable_records: Vec<AggregatedMeteringUsageRecord>,
    /// v1: the reported records, dimension → quantity.
    #[serde(deserialize_with = "nd", skip_serializing_if = "is_empty")]
    pub reported_records: BTreeMap<String, f64>,
    /// v1: the included records, dimension → quantity.
    #[serde(deserialize_with = "nd", skip_serializing_if = "is_empty")]
    pub included_records: BTreeMap<String, f64>,
    /// v1: the credit records, dimension → quantity.
    #[serde(deserialize_with = "nd", skip_serializing_if = "is_empty")]
    pub credit_records: BTreeMap<String, f64>,
    /// Decimal parts of the quantities carried over, dimension → part.
    #[serde(deserialize_with = "nd", skip_serializing_if = "is_empty")]
    pub decimal_parts: BTreeMap<String, f64>,
    /// New decimal parts after this report, dimension → part.
    #[serde(deserialize_with = "nd", skip_serializing_if = "is_empty")]
    pub new_decimal_parts: BTreeMap<String, f64>,
    /// Category of each dimension.
    #[serde(deserialize_with = "nd", skip_serializing_if = "is_empty")]
    pub dimension_categories: BTreeMap<String, String>,
    /// Public list price of each dimension.
    #[serde(deserialize_with = "nd", skip_serializing_if = "is_empty")]
    pub dimension_unit_list_price: BTreeMap<String, f64>,
    /// Unit price of each dimension.
    #[serde(deserialize_with = "nd", skip_serializing_if = "is_empty")]
    pub dimension_unit_price: BTreeMap<String, f64>,
    /// Records to report before the commit adjustment, at list price.
    #[serde(deserialize_with = "nd", skip_serializing_if = "is_empty")]
    pub records_to_report_before_adjustment_at_list_price: BTreeMap<String, f64>,
    /// The commit amount, if any.
    #[serde(deserialize_with = "nd")]
    pub commit_amount: f64,
    /// The credit amount, if any.
    #[serde(deserialize_with = "nd")]
    pub credit_amount: f64,
    /// Commit used before this report.
    #[serde(deserialize_with = "nd")]
    pub used_commit_amount: f64,
    /// Commit used by this report.
    #[serde(deserialize_with = "nd")]
    pub used_commit_amount_increment: f64,
    /// Credit used before this report.
    #[serde(deserialize_with = "nd")]
    pub used_credit_amount: f64,
    /// Credit used by this report.
    #[serde(deserialize_with = "nd")]
    pub used_credit_amount_increment: f64,
    /// Raw request to AWS Marketplace Metering (AWS's own format).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws_metering_request: Option<serde_json::Value>,
    /// Raw response from AWS Marketplace Metering (AWS's own format).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws_metering_response: Option<serde_json::Value>,
    /// Raw request to Azure Marketplace Metering (Azure's own format).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub azure_metering_request: Option<serde_json::Value>,
    /// Raw response from Azure Marketplace Metering (Azure's own format).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub azure_metering_response: Option<serde_json::Value>,
    /// Raw request to GCP Service Control (Google's own format).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gcp_metering_request: Option<serde_json::Value>,
    /// Raw response from GCP Service Control (Google's own format).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gcp_metering_response: Option<serde_json::Value>,
    /// Raw request to Alibaba's metering service (Alibaba's own format).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alibaba_metering_request: Option<serde_json::Value>,
    /// Raw response from Alibaba's metering service (Alibaba's own format).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alibaba_metering_response: Option<serde_json::Value>,
}

/// A v2 billable record aggregated over a report's period.
///
/// Response-only and `#[non_exhaustive]`: outside this crate, build one from `Default` and set
/// its fields.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct AggregatedMeteringUsageRecord {
    /// The billable metric's key.
    #[serde(deserialize_with = "nd")]
    pub key: String,
    /// The billable metric's display name.
    #[serde(deserialize_with = "nd")]
    pub name: String,
    /// The aggregated quantity.
    #[serde(deserialize_with = "nd")]
    pub quantity: f64,
    /// Amount from the dimension's price model (for reporting billable amounts).
    #[serde(deserialize_with = "nd")]
    pub amount: f64,
    /// How the metric aggregates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billable_metric_aggregation_type: Option<BillableMetricAggregationType>,
    /// The metric's filters and group-bys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billable_metric_info: Option<BillableMetricInfo>,
    /// The group-bys as one string expression.
    #[serde(deserialize_with = "nd")]
    pub group_bys_expression: String,
    /// Unique-count result, for `UNIQUE_COUNT` metrics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unique_count_aggregation_result: Option<UniqueCountAggregationResult>,
}

/// Result of a unique-count aggregation.
///
/// Response-only and `#[non_exhaustive]`: outside this crate, build one from `Default` and set
/// its fields.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct UniqueCountAggregationResult {
    /// Unique property values of the current hour that are new today.
    #[serde(
        deserialize_with = "nd",
        skip_serializing_if = "serde_json::Map::is_empty"
    )]
    pub new_items: serde_json::Map<String, serde_json::Value>,
}

/// A page of usage record reports.
///
/// Response-only and `#[non_exhaustive]`: outside this crate, build one from `Default` and set
/// its fields.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ListUsageRecordReportsResponse {
    /// The reports of this page (empty when the server sends `null`; at most 1000).
    #[serde(
        rename = "usageRecordReports",
        deserialize_with = "crate::http::bounded::page"
    )]
    pub usage_record_reports: Vec<MeteringUsageRecordReport>,
    /// The `offset` of the next page, when there is one.
    #[serde(rename = "nextOffset", skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<u32>,
}
