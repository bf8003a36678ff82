//! The operations the fake routes, and the requests it records.

use serde_json::Value;

/// One of the 13 operations of the metering API, as routed by the fake.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// `POST /org/{orgId}/entitlement/{entitlementId}/usageRecordGroup`
    ReportUsageRecordGroup,
    /// `POST /org/{orgId}/batchCreateUsageRecordGroups`
    BatchReportUsageRecordGroups,
    /// `POST /org/{orgId}/batchValidateUsageRecordGroups`
    BatchValidateUsageRecordGroups,
    /// `GET /org/{orgId}/usageRecordGroup`
    ListUsageRecordGroups,
    /// `DELETE /org/{orgId}/usageRecordGroup/{usageRecordGroupId}`
    DeleteUsageRecordGroup,
    /// `POST /org/{orgId}/usageRecordGroup/{usageRecordGroupId}/retry`
    RetryUsageRecordGroup,
    /// `GET /org/{orgId}/usageRecordReport`
    ListUsageRecordReports,
    /// `POST /org/{orgId}/billableMetric`
    CreateBillableMetric,
    /// `GET /org/{orgId}/billableMetric/{billableMetricId}`
    GetBillableMetric,
    /// `GET /org/{orgId}/billableMetric`
    ListBillableMetrics,
    /// `PATCH /org/{orgId}/billableMetric/{billableMetricId}`
    UpdateBillableMetric,
    /// `GET /org/{orgId}/usageMeteringConfigInfo`
    GetUsageMeteringConfigInfo,
    /// `PATCH /org/{orgId}/usageMeteringConfigInfo`
    UpdateUsageMeteringConfigInfo,
}

impl Operation {
    /// Every operation, in the order of the enum.
    pub const ALL: [Operation; 13] = [
        Operation::ReportUsageRecordGroup,
        Operation::BatchReportUsageRecordGroups,
        Operation::BatchValidateUsageRecordGroups,
        Operation::ListUsageRecordGroups,
        Operation::DeleteUsageRecordGroup,
        Operation::RetryUsageRecordGroup,
        Operation::ListUsageRecordReports,
        Operation::CreateBillableMetric,
        Operation::GetBillableMetric,
        Operation::ListBillableMetrics,
        Operation::UpdateBillableMetric,
        Operation::GetUsageMeteringConfigInfo,
        Operation::UpdateUsageMeteringConfigInfo,
    ];

    /// The spec's `operationId`, e.g. `"ReportUsageRecordGroup"` (also the name the
    /// `POST /_fake/faults` admin route and `GET /_fake/requests` use).
    ///
    /// ```
    /// use suger_metering::fake::Operation;
    /// assert_eq!(Operation::ListBillableMetrics.operation_id(), "ListBillableMetrics");
    /// ```
    pub fn operation_id(self) -> &'static str {
        match self {
            Operation::ReportUsageRecordGroup => "ReportUsageRecordGroup",
            Operation::BatchReportUsageRecordGroups => "BatchReportUsageRecordGroups",
            Operation::BatchValidateUsageRecordGroups => "BatchValidateUsageRecordGroups",
            Operation::ListUsageRecordGroups => "ListUsageRecordGroups",
            Operation::DeleteUsageRecordGroup => "DeleteUsageRecordGroup",
            Operation::RetryUsageRecordGroup => "RetryUsageRecordGroup",
            Operation::ListUsageRecordReports => "ListUsageRecordReports",
            Operation::CreateBillableMetric => "CreateBillableMetric",
            Operation::GetBillableMetric => "GetBillableMetric",
            Operation::ListBillableMetrics => "ListBillableMetrics",
            Operation::UpdateBillableMetric => "UpdateBillableMetric",
            Operation::GetUsageMeteringConfigInfo => "GetUsageMeteringConfigInfo",
            Operation::UpdateUsageMeteringConfigInfo => "UpdateUsageMeteringConfigInfo",
        }
    }

    /// The operation with this `operationId` (exact spelling), if any.
    ///
    /// ```
    /// use suger_metering::fake::Operation;
    /// assert_eq!(Operation::from_operation_id("GetBillableMetric"), Some(Operation::GetBillableMetric));
    /// assert_eq!(Operation::from_operation_id("getBillableMetric"), None);
    /// ```
    pub fn from_operation_id(id: &str) -> Option<Operation> {
        Operation::ALL
            .into_iter()
            .find(|op| op.operation_id() == id)
    }
}

/// A request as the fake received it (recorded before any fault or check applies).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// The method, e.g. `"POST"`.
    pub method: String,
    /// The raw path, still percent-encoded, without the query string.
    pub path: String,
    /// The query parameters, percent-decoded, in order.
    pub query: Vec<(String, String)>,
    /// The headers in order, with lowercase names.
    pub headers: Vec<(String, String)>,
    /// The request body (empty when there was none).
    pub body: Vec<u8>,
    /// The operation the request routed to; `None` for an unknown route.
    pub operation: Option<Operation>,
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}
