//! Routing: which of the 13 operations a method and raw path name, and the error replies
//! every handler shares.

use serde_json::Value;

use super::operation::Operation;
use super::util::percent_decode;

/// A matched route with its percent-decoded path parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    ReportGroup { entitlement: String },
    BatchReportGroups,
    BatchValidateGroups,
    ListGroups,
    DeleteGroup { id: String },
    RetryGroup { id: String },
    ListReports,
    CreateMetric,
    GetMetric { id: String },
    ListMetrics,
    UpdateMetric { id: String },
    GetConfig,
    UpdateConfig,
}

impl Route {
    /// The public operation this route implements.
    pub(crate) fn operation(&self) -> Operation {
        match self {
            Route::ReportGroup { .. } => Operation::ReportUsageRecordGroup,
            Route::BatchReportGroups => Operation::BatchReportUsageRecordGroups,
            Route::BatchValidateGroups => Operation::BatchValidateUsageRecordGroups,
            Route::ListGroups => Operation::ListUsageRecordGroups,
            Route::DeleteGroup { .. } => Operation::DeleteUsageRecordGroup,
            Route::RetryGroup { .. } => Operation::RetryUsageRecordGroup,
            Route::ListReports => Operation::ListUsageRecordReports,
            Route::CreateMetric => Operation::CreateBillableMetric,
            Route::GetMetric { .. } => Operation::GetBillableMetric,
            Route::ListMetrics => Operation::ListBillableMetrics,
            Route::UpdateMetric { .. } => Operation::UpdateBillableMetric,
            Route::GetConfig => Operation::GetUsageMeteringConfigInfo,
            Route::UpdateConfig => Operation::UpdateUsageMeteringConfigInfo,
        }
    }
}

/// Why a path did not route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RouteError {
    /// No such route (or wrong method): 404.
    NotFound,
    /// A segment is not valid percent-encoded UTF-8: 400.
    BadEncoding,
}

/// Routes `method` + raw (still percent-encoded) `path`: splits on `/` first, then decodes each
/// segment, so an encoded `/` inside an id never changes the route. Returns the decoded org id.
pub(crate) fn route(method: &str, raw_path: &str) -> Result<(String, Route), RouteError> {
    let rest = raw_path.strip_prefix('/').ok_or(RouteError::NotFound)?;
    let segs: Vec<String> = rest
        .split('/')
        .map(|s| percent_decode(s, false))
        .collect::<Option<_>>()
        .ok_or(RouteError::BadEncoding)?;
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    if s.len() < 3 || s[0] != "org" || s[1].is_empty() {
        return Err(RouteError::NotFound);
    }
    let id = |x: &str| x.to_string();
    let r = match (method, &s[2..]) {
        ("POST", ["entitlement", ent, "usageRecordGroup"]) if !ent.is_empty() => {
            Route::ReportGroup {
                entitlement: id(ent),
            }
        }
        ("POST", ["batchCreateUsageRecordGroups"]) => Route::BatchReportGroups,
        ("POST", ["batchValidateUsageRecordGroups"]) => Route::BatchValidateGroups,
        ("GET", ["usageRecordGroup"]) => Route::ListGroups,
        ("DELETE", ["usageRecordGroup", g]) if !g.is_empty() => Route::DeleteGroup { id: id(g) },
        ("POST", ["usageRecordGroup", g, "retry"]) if !g.is_empty() => {
            Route::RetryGroup { id: id(g) }
        }
        ("GET", ["usageRecordReport"]) => Route::ListReports,
        ("POST", ["billableMetric"]) => Route::CreateMetric,
        ("GET", ["billableMetric"]) => Route::ListMetrics,
        ("GET", ["billableMetric", m]) if !m.is_empty() => Route::GetMetric { id: id(m) },
        ("PATCH", ["billableMetric", m]) if !m.is_empty() => Route::UpdateMetric { id: id(m) },
        ("GET", ["usageMeteringConfigInfo"]) => Route::GetConfig,
        ("PATCH", ["usageMeteringConfigInfo"]) => Route::UpdateConfig,
        _ => return Err(RouteError::NotFound),
    };
    Ok((s[1].to_string(), r))
}

/// A status and a JSON body to send.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Value,
}

/// An error reply: the body is a JSON string, as the Go server writes it.
pub(crate) fn error(status: u16, message: impl Into<String>) -> Reply {
    Reply {
        status,
        body: Value::String(message.into()),
    }
}

pub(crate) fn bad(message: impl Into<String>) -> Reply {
    error(400, message)
}

pub(crate) type HResult = Result<Value, Reply>;
