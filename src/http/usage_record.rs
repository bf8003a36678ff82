//! The usage record types that the wire error hands back: [`Error::BatchOutcomeUnknown`]
//! carries the batch ([`NewUsageRecordGroup`]s) it could not settle, so the types of a batch
//! item live here, below the error, and the usage record group resource re-exports them.
//!
//! [`Error::BatchOutcomeUnknown`]: crate::Error::BatchOutcomeUnknown

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::http::serde_util::{go_f64, is_empty, null_as_default as nd, open_enum, rfc3339_opt};

open_enum! {
    /// Where a usage record group came from.
    pub enum UsageRecordGroupSource {
        /// The empty string: Go's zero value (`UsageRecordGroupSourceUNKNOWN`).
        Unspecified = "",
        /// The Suger API.
        Api = "API",
        /// Suger itself.
        Internal = "INTERNAL",
        /// Lago.
        Lago = "LAGO",
        /// Metronome.
        Metronome = "METRONOME",
        /// Orb.
        Orb = "ORB",
        /// Stripe.
        Stripe = "STRIPE",
    }
}

/// One v2 usage record: a quantity for a billable metric.
///
/// Build it with [`MeteringUsageRecord::new`] or with `..Default::default()` (the way to build
/// every request type of this crate: a field added in a later version then takes its default
/// and your code keeps compiling).
///
/// A record read from Suger (in [`MeteringUsageRecordGroupMetaInfo::billable_records`]) and
/// sent again keeps what it was read with: unmodelled fields stay in `extra`, the properties
/// and the quantity come back as the same JSON values (`3` stays `3`, `1e-75` keeps its bits).
/// A `null` or missing quantity comes back as `0` (Go's zero value), and empty or `null`
/// properties are left out.
///
/// ```
/// use suger_metering::MeteringUsageRecord;
/// let by_new = MeteringUsageRecord::new("tokens", 1200.0).property("model", "large");
/// let by_default = MeteringUsageRecord {
///     key: "tokens".into(),
///     quantity: 1200.0,
///     ..Default::default()
/// };
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MeteringUsageRecord {
    /// The billable metric's key.
    #[serde(deserialize_with = "nd")]
    pub key: String,
    /// The quantity (or numeric value) of the billable metric. Sent as Go writes numbers: an
    /// integral value without a fraction (`3`, not `3.0`).
    #[serde(with = "go_f64")]
    pub quantity: f64,
    /// Properties matched against the billable metric's filters (arbitrary JSON values).
    #[serde(
        deserialize_with = "nd",
        skip_serializing_if = "serde_json::Map::is_empty"
    )]
    pub properties: serde_json::Map<String, serde_json::Value>,
    /// Fields of the server's answer that this version of the crate does not model, sent back
    /// unchanged. Don't put a modelled field's wire name here: it would be sent twice.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl MeteringUsageRecord {
    /// A record for billable metric `key` with no properties.
    pub fn new(key: impl Into<String>, quantity: f64) -> Self {
        MeteringUsageRecord {
            key: key.into(),
            quantity,
            properties: serde_json::Map::new(),
            extra: serde_json::Map::new(),
        }
    }

    /// Adds a property (chainable).
    pub fn property(
        mut self,
        name: impl Into<String>,
        value: impl Into<serde_json::Value>,
    ) -> Self {
        self.properties.insert(name.into(), value.into());
        self
    }
}

/// One item of a batch report or validation.
///
/// Build it with `..Default::default()` (the way to build every request type of this crate: a
/// field added in a later version then takes its default and your code keeps compiling):
///
/// ```
/// use suger_metering::{MeteringUsageRecord, NewUsageRecordGroup};
/// let item = NewUsageRecordGroup {
///     entitlement_id: "entitlement-1".into(),
///     billable_records: vec![MeteringUsageRecord::new("tokens", 1200.0)],
///     ..Default::default()
/// };
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NewUsageRecordGroup {
    /// The entitlement the usage belongs to. Required.
    #[serde(rename = "entitlementID", deserialize_with = "nd")]
    pub entitlement_id: String,
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
    /// When the usage happened. Optional: the server uses the time it receives the batch.
    #[serde(with = "rfc3339_opt", skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<OffsetDateTime>,
    /// Read-only: must stay `None` (the request is refused otherwise).
    #[serde(rename = "metaInfo", skip_serializing_if = "Option::is_none")]
    pub meta_info: Option<MeteringUsageRecordGroupMetaInfo>,
}

/// Server-side details of a usage record group. Read-only: never sent when reporting.
///
/// Response-only and `#[non_exhaustive]`: outside this crate, build one from `Default` and set
/// its fields.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct MeteringUsageRecordGroupMetaInfo {
    /// Whether validation of the group was skipped.
    #[serde(rename = "SkipValidation", deserialize_with = "nd")]
    pub skip_validation: bool,
    /// v2 usage records.
    #[serde(
        rename = "billableRecords",
        deserialize_with = "nd",
        skip_serializing_if = "is_empty"
    )]
    pub billable_records: Vec<MeteringUsageRecord>,
    /// The records as reported, before dimension mapping.
    #[serde(
        rename = "originRecords",
        deserialize_with = "nd",
        skip_serializing_if = "is_empty"
    )]
    pub origin_records: BTreeMap<String, f64>,
    /// Where the group came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<UsageRecordGroupSource>,
    /// When the usage happened.
    #[serde(with = "rfc3339_opt", skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<OffsetDateTime>,
    /// Lago amount (dollars).
    #[serde(rename = "lagoAmount", deserialize_with = "nd")]
    pub lago_amount: f64,
    /// Lago subscription id.
    #[serde(rename = "lagoSubscriptionID", deserialize_with = "nd")]
    pub lago_subscription_id: String,
    /// Lago usage start time.
    #[serde(
        rename = "lagoUsageStartTime",
        with = "rfc3339_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub lago_usage_start_time: Option<OffsetDateTime>,
    /// Metronome daily cost amount (dollars).
    #[serde(rename = "metronomeDailyCostAmount", deserialize_with = "nd")]
    pub metronome_daily_cost_amount: f64,
    /// Metronome invoice id.
    #[serde(rename = "metronomeInvoiceID", deserialize_with = "nd")]
    pub metronome_invoice_id: String,
    /// Metronome monthly invoice amount (dollars).
    #[serde(rename = "metronomeMonthlyInvoiceAmount", deserialize_with = "nd")]
    pub metronome_monthly_invoice_amount: f64,
    /// Metronome monthly invoice amount adjusted by the discount (dollars).
    #[serde(
        rename = "metronomeMonthlyInvoiceAmountAdjusted",
        deserialize_with = "nd"
    )]
    pub metronome_monthly_invoice_amount_adjusted: f64,
    /// Stripe invoice id.
    #[serde(rename = "stripeInvoiceID", deserialize_with = "nd")]
    pub stripe_invoice_id: String,
    /// Stripe period start time.
    #[serde(
        rename = "stripePeriodStartTime",
        with = "rfc3339_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub stripe_period_start_time: Option<OffsetDateTime>,
    /// Stripe period end time.
    #[serde(
        rename = "stripePeriodEndTime",
        with = "rfc3339_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub stripe_period_end_time: Option<OffsetDateTime>,
    /// Stripe subscription item id.
    #[serde(rename = "stripeSubscriptionItemID", deserialize_with = "nd")]
    pub stripe_subscription_item_id: String,
    /// Stripe usage record summary id.
    #[serde(rename = "stripeUsageRecordSummaryID", deserialize_with = "nd")]
    pub stripe_usage_record_summary_id: String,
    /// Stripe usage record summary total usage.
    #[serde(rename = "stripeUsageRecordSummaryTotalUsage", deserialize_with = "nd")]
    pub stripe_usage_record_summary_total_usage: i64,
}
