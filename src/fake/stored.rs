//! What the fake stores: usage record groups, usage record reports and billable metrics, as
//! private structs serialized the way the Go server answers them.

use serde_json::{Map, Value, json};

use super::util::{GO_ZERO_TIME, format_rfc3339};

/// The partner of an entitlement nobody chose one for.
pub(super) const PARTNER: &str = "AWS";
/// The product id written into usage record reports.
pub(super) const PRODUCT_ID: &str = "fake-product";

pub(super) fn time_json(nanos: Option<i128>) -> Value {
    match nanos {
        Some(n) => Value::String(format_rfc3339(n)),
        None => Value::String(GO_ZERO_TIME.to_string()),
    }
}

/// A stored usage record group.
#[derive(Debug, Clone)]
pub(super) struct Group {
    pub(super) id: String,
    pub(super) entitlement: String,
    pub(super) buyer: String,
    pub(super) partner: String,
    pub(super) serial: i64,
    pub(super) status: String,
    pub(super) records: Option<Map<String, Value>>,
    pub(super) billable: Option<Vec<Value>>,
    pub(super) timestamp: i128,
    pub(super) creation: i128,
    pub(super) last_update: i128,
    pub(super) reported: Option<i128>,
    pub(super) report_id: String,
}

impl Group {
    pub(super) fn meta_info(&self) -> Value {
        json!({
            "SkipValidation": false,
            "billableRecords": self.billable.clone().map_or(Value::Null, Value::Array),
            "lagoAmount": 0,
            "lagoSubscriptionID": "",
            "lagoUsageStartTime": GO_ZERO_TIME,
            "metronomeDailyCostAmount": 0,
            "metronomeInvoiceID": "",
            "metronomeMonthlyInvoiceAmount": 0,
            "metronomeMonthlyInvoiceAmountAdjusted": 0,
            "originRecords": self.records.clone().map_or(Value::Null, Value::Object),
            "source": "API",
            "stripeInvoiceID": "",
            "stripePeriodEndTime": GO_ZERO_TIME,
            "stripePeriodStartTime": GO_ZERO_TIME,
            "stripeSubscriptionItemID": "",
            "stripeUsageRecordSummaryID": "",
            "stripeUsageRecordSummaryTotalUsage": 0,
            "timestamp": format_rfc3339(self.timestamp),
        })
    }

    pub(super) fn to_json(&self, org: &str) -> Value {
        json!({
            "id": self.id,
            "organizationID": org,
            "entitlementID": self.entitlement,
            "buyerID": self.buyer,
            "partner": self.partner,
            "serialID": self.serial,
            "status": self.status,
            "records": self.records.clone().map_or(Value::Null, Value::Object),
            "metaInfo": self.meta_info(),
            "creationTime": format_rfc3339(self.creation),
            "lastUpdateTime": format_rfc3339(self.last_update),
            "reportedTime": time_json(self.reported),
            "usageRecordReportID": self.report_id,
        })
    }
}

/// A stored usage record report (kept as JSON, plus the fields filters need).
#[derive(Debug, Clone)]
pub(super) struct Report {
    pub(super) creation: i128,
    pub(super) entitlement: String,
    pub(super) buyer: String,
    pub(super) partner: String,
    pub(super) json: Value,
}

/// A stored billable metric.
#[derive(Debug, Clone)]
pub(super) struct Metric {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) description: String,
    pub(super) aggregation_type: Value,
    pub(super) info: Value,
    pub(super) status: String,
    pub(super) creation: i128,
    pub(super) last_update: i128,
}

impl Metric {
    pub(super) fn to_json(&self, org: &str) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "organizationId": org,
            "aggregationType": self.aggregation_type,
            "info": self.info,
            "status": self.status,
            "creationTime": format_rfc3339(self.creation),
            "lastUpdateTime": format_rfc3339(self.last_update),
        })
    }
}

/// How an entitlement's next report fails (test hook).
#[derive(Debug, Clone)]
pub(super) struct EntitlementFailure {
    pub(super) entitlement: String,
    pub(super) message: String,
    /// The marketplace's own status for each record (AWS `CustomerNotSubscribed`, Azure
    /// `Expired`, GCP `INVALID_ARGUMENT`, ...); `None`: no answer from the marketplace.
    pub(super) marketplace_status: Option<String>,
}
