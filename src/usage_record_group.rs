//! Usage record groups: report (one or a batch), validate, list, delete and retry.
//!
//! A usage record group is one report of usage for one entitlement: either v1 `records`
//! (dimension → quantity) or v2 `billable_records` (billable metric key, quantity, properties),
//! never both.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use ureq::http::Method;

use crate::client::MeteringClient;
use crate::error::{Error, Result};
use crate::pages::paginate;
use crate::query::{push_id, push_opt, push_range, setters, ymd};
use crate::retry::new_report_id;
use crate::serde_util::{is_empty, null_as_default as nd, open_enum, rfc3339_opt};
use crate::transport::Request;

/// Longest `id` of a usage record group the API accepts.
pub const MAX_USAGE_RECORD_GROUP_ID_LEN: usize = 36;
/// Largest `limit` of a list call.
pub const MAX_LIST_LIMIT: u32 = 1000;

open_enum! {
    /// A cloud marketplace or billing partner.
    pub enum Partner {
        /// The empty string: Go's zero value (`Partner_UNKNOWN`).
        Unspecified = "",
        /// Adyen.
        Adyen = "ADYEN",
        /// Alibaba Cloud Marketplace.
        Alibaba = "ALIBABA",
        /// AWS Marketplace.
        Aws = "AWS",
        /// AWS Marketplace China.
        AwsChina = "AWS_CHINA",
        /// Azure Marketplace.
        Azure = "AZURE",
        /// Chargebee.
        Chargebee = "CHARGEBEE",
        /// Databricks.
        Databricks = "DATABRICKS",
        /// DocuSign.
        Docusign = "DOCUSIGN",
        /// Google Cloud Marketplace.
        Gcp = "GCP",
        /// Google.
        Google = "GOOGLE",
        /// HubSpot.
        Hubspot = "HUBSPOT",
        /// Intuit.
        Intuit = "INTUIT",
        /// Lago.
        Lago = "LAGO",
        /// Marketo.
        Marketo = "MARKETO",
        /// Metronome.
        Metronome = "METRONOME",
        /// Microsoft.
        Microsoft = "MICROSOFT",
        /// Oracle.
        Oracle = "ORACLE",
        /// Orb.
        Orb = "ORB",
        /// Red Hat.
        Redhat = "REDHAT",
        /// Salesforce.
        Salesforce = "SALESFORCE",
        /// Slack.
        Slack = "SLACK",
        /// Snowflake.
        Snowflake = "SNOWFLAKE",
        /// Stripe.
        Stripe = "STRIPE",
        /// Zoho.
        Zoho = "ZOHO",
    }
}

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
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MeteringUsageRecord {
    /// The billable metric's key.
    #[serde(deserialize_with = "nd")]
    pub key: String,
    /// The quantity (or numeric value) of the billable metric.
    #[serde(deserialize_with = "nd")]
    pub quantity: f64,
    /// Properties matched against the billable metric's filters (arbitrary JSON values).
    #[serde(
        deserialize_with = "nd",
        skip_serializing_if = "serde_json::Map::is_empty"
    )]
    pub properties: serde_json::Map<String, serde_json::Value>,
}

impl MeteringUsageRecord {
    /// A record for billable metric `key` with no properties.
    pub fn new(key: impl Into<String>, quantity: f64) -> Self {
        MeteringUsageRecord {
            key: key.into(),
            quantity,
            properties: serde_json::Map::new(),
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

/// The body of [`MeteringClient::report_usage_record_group`].
///
/// Give it an `id` (at most 36 characters) so that the report is deduplicated: Suger answers
/// 409 to a second report with the same id. `entitlement_id` and `organization_id` may be left
/// empty: the client fills them from the call's entitlement id and its org id.
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

/// One item of a batch report or validation.
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

/// A stored usage record group, as the server answers it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
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

/// Server-side details of a usage record group. Read-only: never sent when reporting.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
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

/// A page of usage record groups.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ListUsageRecordGroupsResponse {
    /// The groups of this page (empty when the server sends `null`).
    #[serde(rename = "usageRecordGroups", deserialize_with = "nd")]
    pub usage_record_groups: Vec<MeteringUsageRecordGroup>,
    /// The `offset` of the next page, when there is one.
    #[serde(rename = "nextOffset", skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<u32>,
}

/// Default batch size of [`MeteringClient::report_usage_record_groups_in_batches`].
///
/// Suger does not document a limit for `batchCreateUsageRecordGroups`; 1000 matches the API's
/// largest page (`limit` max 1000), keeps a request body around 250 KB for v1 groups, and
/// bounds what one lost answer can leave in doubt.
pub const DEFAULT_BATCH_SIZE: usize = 1000;

/// What happened to one batch of [`MeteringClient::report_usage_record_groups_in_batches`].
#[derive(Debug)]
pub struct BatchOutcome {
    /// The batch: indexes into the slice that was passed in.
    pub range: std::ops::Range<usize>,
    /// The created groups (recorded), or why the batch was not, or may not have been, recorded.
    pub result: Result<Vec<MeteringUsageRecordGroup>>,
}

/// Optional query parameters of [`MeteringClient::list_usage_record_groups`].
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

/// Checks the usage of one group: exactly one of records/billable records, finite quantities,
/// no metaInfo. Returns whether any quantity is non-zero.
fn check_usage(
    records: &BTreeMap<String, f64>,
    billable_records: &[MeteringUsageRecord],
    meta_info: bool,
) -> Result<bool> {
    if meta_info {
        return Err(Error::invalid(
            "meta_info",
            "is read-only and must not be set when reporting or validating",
        ));
    }
    match (records.is_empty(), billable_records.is_empty()) {
        (false, false) => {
            return Err(Error::invalid(
                "records",
                "give either v1 records or v2 billable_records, not both",
            ));
        }
        (true, true) => {
            return Err(Error::invalid(
                "records",
                "no usage: give v1 records or v2 billable_records",
            ));
        }
        _ => {}
    }
    let quantities = records
        .values()
        .copied()
        .chain(billable_records.iter().map(|r| r.quantity));
    let mut any_non_zero = false;
    for q in quantities {
        if !q.is_finite() {
            return Err(Error::invalid(
                "records",
                format!("quantity {q} is not a finite number"),
            ));
        }
        any_non_zero |= q != 0.0;
    }
    Ok(any_non_zero)
}

const ALL_ZERO: &str = "every quantity is zero (the server rejects this)";

/// Checks a batch for report or validation.
fn check_batch(groups: &[NewUsageRecordGroup]) -> Result<()> {
    if groups.is_empty() {
        return Err(Error::invalid("usage_record_groups", "the batch is empty"));
    }
    let mut any_non_zero = false;
    for g in groups {
        if g.entitlement_id.is_empty() {
            return Err(Error::invalid("entitlement_id", "must not be empty"));
        }
        any_non_zero |= check_usage(&g.records, &g.billable_records, g.meta_info.is_some())?;
    }
    if !any_non_zero {
        return Err(Error::invalid("records", ALL_ZERO));
    }
    Ok(())
}

/// Refuses an empty path id.
pub(crate) fn check_id(field: &'static str, id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    Ok(())
}

/// `?creationDate=YYYY-MM-DD` when given.
fn creation_date_query(creation_date: Option<Date>) -> Result<Vec<(&'static str, String)>> {
    creation_date
        .map(|d| Ok(("creationDate", ymd("creation_date", d)?)))
        .into_iter()
        .collect()
}

impl MeteringClient {
    /// Reports one usage record group for an entitlement.
    ///
    /// `POST /org/{orgId}/entitlement/{entitlementId}/usageRecordGroup`
    ///
    /// Every report carries an id: `params.id`, or a random UUID the client generates when it
    /// is `None`. Suger deduplicates on it, so the client retries a report after a timeout, a
    /// dropped connection or a 5xx (see [`RetryPolicy`](crate::RetryPolicy)) without risk of
    /// billing twice. If a retry is answered 409, an earlier attempt was recorded: the call
    /// returns [`Error::AlreadyReported`], which means *recorded once*, not *lost*. A 409 on the
    /// first attempt is an [`Error::Api`] with [`Error::is_conflict`]: the id was used before.
    /// When no attempt got a definite answer, the call returns [`Error::ReportOutcomeUnknown`]
    /// with the id that was sent: report again with that id to settle it.
    ///
    /// Empty `entitlement_id`/`organization_id` in `params` are filled from the arguments.
    ///
    /// ```no_run
    /// # let client = suger_metering::MeteringClient::from_env()?;
    /// use suger_metering::CreateUsageRecordGroupParams;
    /// let group = client.report_usage_record_group(
    ///     "entitlement-1",
    ///     &CreateUsageRecordGroupParams {
    ///         id: Some("2026-11-26T14:00-ent1".into()),
    ///         records: [("api_calls".to_string(), 120.0)].into(),
    ///         ..Default::default()
    ///     },
    /// )?;
    /// println!("{} is {:?}", group.id, group.status);
    /// # Ok::<(), suger_metering::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] (nothing sent) for an empty entitlement id, an id longer than
    /// 36 characters, both or neither of `records`/`billable_records`, all quantities zero, a
    /// NaN or infinite quantity, `meta_info` set, or a body naming another org or entitlement.
    /// [`Error::Api`] with 400, 409 or 5xx from the server; transport and decode errors.
    pub fn report_usage_record_group(
        &self,
        entitlement_id: &str,
        params: &CreateUsageRecordGroupParams,
    ) -> Result<MeteringUsageRecordGroup> {
        check_id("entitlement_id", entitlement_id)?;
        if let Some(id) = &params.id {
            check_id("id", id)?;
            if id.chars().count() > MAX_USAGE_RECORD_GROUP_ID_LEN {
                return Err(Error::invalid(
                    "id",
                    format!("is longer than {MAX_USAGE_RECORD_GROUP_ID_LEN} characters"),
                ));
            }
        }
        if !check_usage(
            &params.records,
            &params.billable_records,
            params.meta_info.is_some(),
        )? {
            return Err(Error::invalid("records", ALL_ZERO));
        }
        let mut body = params.clone();
        fill_or_match(&mut body.entitlement_id, "entitlement_id", entitlement_id)?;
        fill_or_match(&mut body.organization_id, "organization_id", self.org_id())?;
        let id = body.id.get_or_insert_with(new_report_id).clone();
        let req = Request::new(
            Method::POST,
            &["entitlement", entitlement_id, "usageRecordGroup"],
        )
        .json(&body)?
        .idempotent();
        let unknown = |e: Error, id: String| Error::ReportOutcomeUnknown {
            id,
            source: Box::new(e),
        };
        match self.fetch_tracked(&req) {
            // Recorded, but the answer is unreadable: the caller still gets the id.
            (Ok(answer), _) => answer.decode().map_err(|e| unknown(e, id)),
            // A 409 to a retry, after an attempt that may have been applied: that attempt was.
            (
                Err(Error::Api {
                    status: 409,
                    message,
                    ..
                }),
                true,
            ) => Err(Error::AlreadyReported { id, message }),
            (Err(e), _) if e.outcome_unknown() => Err(unknown(e, id)),
            (Err(e), _) => Err(e),
        }
    }

    /// Reports a batch of usage record groups in one request.
    ///
    /// `POST /org/{orgId}/batchCreateUsageRecordGroups`
    ///
    /// Batch items carry no id, so the server cannot deduplicate them. The client resends a
    /// batch only when it provably never reached the server. When the batch was sent but no
    /// definite answer came back (timeout, dropped connection, 5xx), the call returns
    /// [`Error::OutcomeUnknown`] carrying the batch: it may or may not have been recorded, and
    /// sending it again may bill twice.
    ///
    /// ```no_run
    /// # let client = suger_metering::MeteringClient::from_env()?;
    /// use suger_metering::NewUsageRecordGroup;
    /// let groups = client.batch_report_usage_record_groups(&[NewUsageRecordGroup {
    ///     entitlement_id: "entitlement-1".into(),
    ///     records: [("api_calls".to_string(), 120.0)].into(),
    ///     ..Default::default()
    /// }])?;
    /// # Ok::<(), suger_metering::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] (nothing sent) for an empty batch, an item with an empty
    /// entitlement id, both or neither of `records`/`billable_records`, a NaN or infinite
    /// quantity or `meta_info` set, or when every quantity of the whole batch is zero.
    pub fn batch_report_usage_record_groups(
        &self,
        groups: &[NewUsageRecordGroup],
    ) -> Result<Vec<MeteringUsageRecordGroup>> {
        check_batch(groups)?;
        let req = Request::new(Method::POST, &["batchCreateUsageRecordGroups"]).json(groups)?;
        match self
            .fetch(&req)
            .and_then(|answer| answer.decode::<Option<Vec<_>>>())
        {
            Ok(created) => Ok(created.unwrap_or_default()),
            Err(e) if e.outcome_unknown() => Err(Error::OutcomeUnknown {
                groups: groups.to_vec(),
                source: Box::new(e),
            }),
            Err(e) => Err(e),
        }
    }

    /// Validates a batch of usage record groups without recording anything.
    ///
    /// `POST /org/{orgId}/batchValidateUsageRecordGroups`
    ///
    /// Returns the server's verdict: an empty string when the batch is valid, otherwise the
    /// description the server gave (with HTTP 200 or 400).
    ///
    /// ```no_run
    /// # let client = suger_metering::MeteringClient::from_env()?;
    /// # let groups: Vec<suger_metering::NewUsageRecordGroup> = vec![];
    /// let verdict = client.batch_validate_usage_record_groups(&groups)?;
    /// if verdict.is_empty() { println!("valid") } else { println!("invalid: {verdict}") }
    /// # Ok::<(), suger_metering::Error>(())
    /// ```
    ///
    /// # Errors
    /// The same [`Error::InvalidRequest`] rules as a batch report; [`Error::Api`] for statuses
    /// other than 200 and 400 (a 500 may be a failed validation or a server fault).
    pub fn batch_validate_usage_record_groups(
        &self,
        groups: &[NewUsageRecordGroup],
    ) -> Result<String> {
        check_batch(groups)?;
        let req = Request::new(Method::POST, &["batchValidateUsageRecordGroups"])
            .json(groups)?
            .idempotent();
        match self.fetch(&req) {
            Ok(answer) if answer.body.iter().all(u8::is_ascii_whitespace) => Ok(String::new()),
            Ok(answer) => answer.decode(),
            Err(Error::Api {
                status: 400,
                message,
                ..
            }) => Ok(message),
            Err(e) => Err(e),
        }
    }

    /// Lists usage record groups, one page.
    ///
    /// `GET /org/{orgId}/usageRecordGroup`
    ///
    /// ```no_run
    /// # let client = suger_metering::MeteringClient::from_env()?;
    /// use suger_metering::ListUsageRecordGroups;
    /// let page = client.list_usage_record_groups(
    ///     &ListUsageRecordGroups::new().entitlement_id("entitlement-1").limit(100),
    /// )?;
    /// for g in &page.usage_record_groups { println!("{} {:?}", g.id, g.status) }
    /// # Ok::<(), suger_metering::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] (nothing sent) for more than one of partner/buyer/entitlement,
    /// an empty id filter, `limit` outside 1..=1000, or `start_date` after `end_date`.
    pub fn list_usage_record_groups(
        &self,
        query: &ListUsageRecordGroups,
    ) -> Result<ListUsageRecordGroupsResponse> {
        self.call(Request::new(Method::GET, &["usageRecordGroup"]).query(query.query()?))
    }

    /// Iterates over every usage record group matching `query`, fetching pages lazily by
    /// `offset`/`nextOffset` (page size: `query.limit`, else the server's 1000).
    ///
    /// Holds at most one page in memory. Stops at an empty page or when `nextOffset` is missing
    /// or does not advance; an error is yielded once and ends the iteration.
    ///
    /// ```no_run
    /// # let client = suger_metering::MeteringClient::from_env()?;
    /// use suger_metering::ListUsageRecordGroups;
    /// let mut total = 0.0;
    /// for group in client.usage_record_groups(&ListUsageRecordGroups::new().entitlement_id("entitlement-1")) {
    ///     total += group?.records.values().sum::<f64>();
    /// }
    /// # Ok::<(), suger_metering::Error>(())
    /// ```
    pub fn usage_record_groups(
        &self,
        query: &ListUsageRecordGroups,
    ) -> impl Iterator<Item = Result<MeteringUsageRecordGroup>> + '_ {
        paginate(
            self,
            query.clone(),
            query.offset.unwrap_or(0),
            |client, q| {
                let page = client.list_usage_record_groups(q)?;
                Ok((page.usage_record_groups, page.next_offset))
            },
            |q, offset| q.offset = Some(offset),
        )
    }

    /// Reports any number of usage record groups in batches of `batch_size` (0 means
    /// [`DEFAULT_BATCH_SIZE`]), one request per batch, and tells for each batch what happened.
    ///
    /// Every batch is attempted, whatever happened to the others. A batch whose result is
    /// `Ok` was recorded; one with [`Error::OutcomeUnknown`] may or may not have been; any
    /// other error means it was not recorded (e.g. [`Error::InvalidRequest`] for a batch whose
    /// quantities are all zero, or a 400 from the server).
    ///
    /// ```no_run
    /// # let client = suger_metering::MeteringClient::from_env()?;
    /// # let groups: Vec<suger_metering::NewUsageRecordGroup> = vec![];
    /// for outcome in client.report_usage_record_groups_in_batches(&groups, 0) {
    ///     match outcome.result {
    ///         Ok(created) => println!("groups {:?}: {} recorded", outcome.range, created.len()),
    ///         Err(e) => eprintln!("groups {:?}: {e}", outcome.range),
    ///     }
    /// }
    /// # Ok::<(), suger_metering::Error>(())
    /// ```
    pub fn report_usage_record_groups_in_batches(
        &self,
        groups: &[NewUsageRecordGroup],
        batch_size: usize,
    ) -> Vec<BatchOutcome> {
        let size = if batch_size == 0 {
            DEFAULT_BATCH_SIZE
        } else {
            batch_size
        };
        let mut start = 0;
        groups
            .chunks(size)
            .map(|chunk| {
                let range = start..start + chunk.len();
                start = range.end;
                BatchOutcome {
                    range,
                    result: self.batch_report_usage_record_groups(chunk),
                }
            })
            .collect()
    }

    /// Deletes a usage record group. Only groups with status `CREATED` or `INVALID` can be
    /// deleted. `creation_date` (UTC) helps the server find the group.
    ///
    /// `DELETE /org/{orgId}/usageRecordGroup/{usageRecordGroupId}?creationDate=YYYY-MM-DD`
    ///
    /// ```no_run
    /// # let client = suger_metering::MeteringClient::from_env()?;
    /// let deleted = client.delete_usage_record_group("group-1", Some(time::macros::date!(2026 - 11 - 26)))?;
    /// # Ok::<(), suger_metering::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] for an empty id; [`Error::Api`] 404 for an unknown group
    /// ([`Error::is_not_found`]), 400 when its status forbids deletion.
    pub fn delete_usage_record_group(
        &self,
        usage_record_group_id: &str,
        creation_date: Option<Date>,
    ) -> Result<MeteringUsageRecordGroup> {
        check_id("usage_record_group_id", usage_record_group_id)?;
        self.call(
            Request::new(Method::DELETE, &["usageRecordGroup", usage_record_group_id])
                .query(creation_date_query(creation_date)?),
        )
    }

    /// Retries a usage record group whose report failed: `REPORT_FAILED` becomes `CREATED`, to be
    /// reported in the next hourly cycle.
    ///
    /// `POST /org/{orgId}/usageRecordGroup/{usageRecordGroupId}/retry?creationDate=YYYY-MM-DD`
    ///
    /// ```no_run
    /// # let client = suger_metering::MeteringClient::from_env()?;
    /// let group = client.retry_usage_record_group("group-1", None)?;
    /// # Ok::<(), suger_metering::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] for an empty id; [`Error::Api`] 404 for an unknown group,
    /// 400 when it is not `REPORT_FAILED`.
    pub fn retry_usage_record_group(
        &self,
        usage_record_group_id: &str,
        creation_date: Option<Date>,
    ) -> Result<MeteringUsageRecordGroup> {
        check_id("usage_record_group_id", usage_record_group_id)?;
        self.call(
            Request::new(
                Method::POST,
                &["usageRecordGroup", usage_record_group_id, "retry"],
            )
            .query(creation_date_query(creation_date)?),
        )
    }
}

/// Fills an empty body field from the path, or refuses a body that names something else.
fn fill_or_match(field: &mut String, name: &'static str, expected: &str) -> Result<()> {
    if field.is_empty() {
        expected.clone_into(field);
    } else if field != expected {
        return Err(Error::invalid(
            name,
            format!("the body names {field:?} but the request is for {expected:?}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
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

    #[test]
    fn enums_keep_unknown_values() {
        let s: UsageRecordGroupStatus = serde_json::from_str(r#""ARCHIVED""#).unwrap();
        assert_eq!(s, UsageRecordGroupStatus::Other("ARCHIVED".into()));
        assert_eq!(serde_json::to_string(&s).unwrap(), r#""ARCHIVED""#);
        let p: Partner = serde_json::from_str(r#""""#).unwrap();
        assert_eq!(p, Partner::Unspecified);
        assert_eq!(Partner::from("AWS_CHINA"), Partner::AwsChina);
    }
}
