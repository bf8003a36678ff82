//! Routing and the state machine behind the 13 operations. Everything here works on
//! `serde_json::Value` and private structs, independent of the client crate's model types.

use serde_json::{Map, Value, json};

use super::Operation;
use super::util::{
    GO_ZERO_TIME, day_of, format_date, format_rfc3339, go_number, go_zero_nanos, new_uuid,
    now_nanos, parse_date, parse_rfc3339, percent_decode,
};

/// The partner every fake entitlement belongs to.
const PARTNER: &str = "AWS";
/// The product id written into usage record reports.
const PRODUCT_ID: &str = "fake-product";
/// Maximum length (in characters) of user-supplied ids.
const MAX_ID_CHARS: usize = 36;

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

fn bad(message: impl Into<String>) -> Reply {
    error(400, message)
}

type HResult = Result<Value, Reply>;

fn time_json(nanos: Option<i128>) -> Value {
    match nanos {
        Some(n) => Value::String(format_rfc3339(n)),
        None => Value::String(GO_ZERO_TIME.to_string()),
    }
}

/// A stored usage record group.
#[derive(Debug, Clone)]
struct Group {
    id: String,
    entitlement: String,
    buyer: String,
    partner: String,
    serial: i64,
    status: String,
    records: Option<Map<String, Value>>,
    billable: Option<Vec<Value>>,
    timestamp: i128,
    creation: i128,
    last_update: i128,
    reported: Option<i128>,
    report_id: String,
}

impl Group {
    fn meta_info(&self) -> Value {
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

    fn to_json(&self, org: &str) -> Value {
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
struct Report {
    creation: i128,
    entitlement: String,
    buyer: String,
    partner: String,
    json: Value,
}

/// A stored billable metric.
#[derive(Debug, Clone)]
struct Metric {
    id: String,
    name: String,
    description: String,
    aggregation_type: Value,
    info: Value,
    status: String,
    creation: i128,
    last_update: i128,
}

impl Metric {
    fn to_json(&self, org: &str) -> Value {
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

/// The whole fake server state.
#[derive(Debug)]
pub(crate) struct State {
    org: String,
    groups: Vec<Group>,
    reports: Vec<Report>,
    metrics: Vec<Metric>,
    config: Value,
    next_serial: i64,
    fail_marks: Vec<String>,
}

/// The validated fields of one new usage record group (single or batch item).
struct NewGroup {
    entitlement: String,
    records: Option<Map<String, Value>>,
    billable: Option<Vec<Value>>,
    timestamp: Option<i128>,
}

impl NewGroup {
    fn all_zero(&self) -> bool {
        let v1 = self.records.iter().flat_map(|m| m.values());
        let v2 = self
            .billable
            .iter()
            .flatten()
            .map(|r| r.get("quantity").unwrap_or(&Value::Null));
        v1.chain(v2).all(|q| q.as_f64().unwrap_or(0.0) == 0.0)
    }
}

fn optional_string<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, Reply> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad(format!("{key} must be a string"))),
    }
}

/// Type-checks and normalizes the fields shared by `CreateUsageRecordGroupParams` and
/// `NewUsageRecordGroup` (entitlement, records, billableRecords, timestamp, no metaInfo).
fn parse_new_group(obj: &Map<String, Value>) -> Result<NewGroup, Reply> {
    if obj.contains_key("metaInfo") {
        return Err(bad("metaInfo is read-only and must not be sent"));
    }
    let entitlement = optional_string(obj, "entitlementID")?
        .ok_or_else(|| bad("entitlementID is required"))?
        .to_string();
    let records = match obj.get("records") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => {
            let mut out = Map::new();
            for (k, v) in m {
                let q = v
                    .as_f64()
                    .ok_or_else(|| bad(format!("records[{k:?}] must be a number")))?;
                out.insert(k.clone(), go_number(q));
            }
            Some(out)
        }
        Some(_) => return Err(bad("records must be an object of numbers")),
    };
    let billable = match obj.get("billableRecords") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let Value::Object(r) = item else {
                    return Err(bad(format!("billableRecords[{i}] must be an object")));
                };
                let key = optional_string(r, "key")?
                    .ok_or_else(|| bad(format!("billableRecords[{i}].key is required")))?;
                let quantity = match r.get("quantity") {
                    None | Some(Value::Null) => 0.0,
                    Some(v) => v.as_f64().ok_or_else(|| {
                        bad(format!("billableRecords[{i}].quantity must be a number"))
                    })?,
                };
                let properties = match r.get("properties") {
                    None | Some(Value::Null) => Value::Null,
                    Some(p @ Value::Object(_)) => p.clone(),
                    Some(_) => {
                        return Err(bad(format!(
                            "billableRecords[{i}].properties must be an object"
                        )));
                    }
                };
                out.push(
                    json!({"key": key, "quantity": go_number(quantity), "properties": properties}),
                );
            }
            Some(out)
        }
        Some(_) => return Err(bad("billableRecords must be an array")),
    };
    let has_v1 = records.as_ref().is_some_and(|m| !m.is_empty());
    let has_v2 = billable.as_ref().is_some_and(|v| !v.is_empty());
    match (has_v1, has_v2) {
        (true, true) => {
            return Err(bad(
                "records (v1) and billableRecords (v2) must not be used together",
            ));
        }
        (false, false) => return Err(bad("either records or billableRecords must be given")),
        _ => {}
    }
    let timestamp = match optional_string(obj, "timestamp")? {
        None => None,
        Some(s) => {
            let t = parse_rfc3339(s)
                .ok_or_else(|| bad(format!("timestamp {s:?} is not an RFC 3339 time")))?;
            (t != go_zero_nanos()).then_some(t)
        }
    };
    Ok(NewGroup {
        entitlement,
        records: if has_v1 { records } else { None },
        billable: if has_v2 { billable } else { None },
        timestamp,
    })
}

/// Parses a batch body (array of `NewUsageRecordGroup`), applying every batch rule.
fn parse_batch(body: &[u8]) -> Result<Vec<NewGroup>, Reply> {
    let Value::Array(items) = parse_json(body)? else {
        return Err(bad(
            "the request body must be a JSON array of usage record groups",
        ));
    };
    if items.is_empty() {
        return Err(bad("no usage record groups given"));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Value::Object(obj) = item else {
            return Err(bad(format!("usageRecordGroups[{i}] must be an object")));
        };
        let g = parse_new_group(obj).map_err(|r| match r.body {
            Value::String(m) => bad(format!("usageRecordGroups[{i}]: {m}")),
            _ => r,
        })?;
        out.push(g);
    }
    if out.iter().all(NewGroup::all_zero) {
        return Err(bad("all the quantity of usage records are zero"));
    }
    Ok(out)
}

fn parse_json(body: &[u8]) -> Result<Value, Reply> {
    serde_json::from_slice(body).map_err(|e| bad(format!("invalid JSON request body: {e}")))
}

fn parse_object(body: &[u8]) -> Result<Map<String, Value>, Reply> {
    match parse_json(body)? {
        Value::Object(m) => Ok(m),
        _ => Err(bad("the request body must be a JSON object")),
    }
}

/// The first value of a query parameter; an empty value counts as absent (as in Go's
/// `c.Query(..) != ""` checks).
fn q<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

fn date_param(query: &[(String, String)], name: &str) -> Result<Option<i64>, Reply> {
    match q(query, name) {
        None => Ok(None),
        Some(s) => parse_date(s)
            .map(Some)
            .ok_or_else(|| bad(format!("invalid {name} {s:?}: want YYYY-MM-DD"))),
    }
}

/// `startDate`/`endDate` as inclusive UTC day numbers.
fn date_range(query: &[(String, String)]) -> Result<(Option<i64>, Option<i64>), Reply> {
    let start = date_param(query, "startDate")?;
    let end = date_param(query, "endDate")?;
    if let (Some(s), Some(e)) = (start, end)
        && s > e
    {
        return Err(bad(format!(
            "startDate {} is after endDate {}",
            format_date(s),
            format_date(e)
        )));
    }
    Ok((start, end))
}

fn in_range(nanos: i128, (start, end): (Option<i64>, Option<i64>)) -> bool {
    let day = day_of(nanos);
    start.is_none_or(|s| day >= s) && end.is_none_or(|e| day <= e)
}

/// `limit` (default 1000, 1..=1000) and `offset` (default 0, >= 0).
fn page_params(query: &[(String, String)]) -> Result<(usize, usize), Reply> {
    let limit = match q(query, "limit") {
        None => 1000,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (1..=1000).contains(&n) => n as usize,
            _ => return Err(bad(format!("invalid limit {s:?}: want 1 to 1000"))),
        },
    };
    let offset = match q(query, "offset") {
        None => 0,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n >= 0 => n as usize,
            _ => return Err(bad(format!("invalid offset {s:?}: want 0 or more"))),
        },
    };
    Ok((limit, offset))
}

/// `{listKey: page or null, "nextOffset": n only when more results remain}`.
fn page(list_key: &str, items: Vec<Value>, limit: usize, offset: usize) -> Value {
    let total = items.len();
    let page: Vec<Value> = items.into_iter().skip(offset).take(limit).collect();
    let end = offset.saturating_add(page.len());
    let mut out = Map::new();
    out.insert(list_key.to_string(), nil_if_empty(page));
    if end < total {
        out.insert("nextOffset".to_string(), Value::from(end));
    }
    Value::Object(out)
}

/// A Go nil slice: `null` when empty.
fn nil_if_empty(items: Vec<Value>) -> Value {
    if items.is_empty() {
        Value::Null
    } else {
        Value::Array(items)
    }
}

fn check_metric_name(name: &str) -> Result<(), Reply> {
    let n = name.chars().count();
    if !(4..=50).contains(&n) {
        return Err(bad(format!("name must be 4 to 50 characters, got {n}")));
    }
    Ok(())
}

fn check_metric_description(d: &str) -> Result<(), Reply> {
    let n = d.chars().count();
    if n > 300 {
        return Err(bad(format!(
            "description must be at most 300 characters, got {n}"
        )));
    }
    Ok(())
}

impl State {
    /// An empty state for organization `org`.
    pub(crate) fn new(org: &str) -> State {
        State {
            org: org.to_string(),
            groups: Vec::new(),
            reports: Vec::new(),
            metrics: Vec::new(),
            config: json!({ "partnerUsageMeteringConfigs": null }),
            next_serial: 1,
            fail_marks: Vec::new(),
        }
    }

    /// Runs one route against the state. Authentication and the org check happened already.
    pub(crate) fn dispatch(
        &mut self,
        route: &Route,
        query: &[(String, String)],
        body: &[u8],
    ) -> Reply {
        let result = match route {
            Route::ReportGroup { entitlement } => self.report_group(entitlement, body),
            Route::BatchReportGroups => self.batch_report(body),
            Route::BatchValidateGroups => parse_batch(body).map(|_| Value::String(String::new())),
            Route::ListGroups => self.list_groups(query),
            Route::DeleteGroup { id } => self.delete_group(id, query),
            Route::RetryGroup { id } => self.retry_group(id, query),
            Route::ListReports => self.list_reports(query),
            Route::CreateMetric => self.create_metric(body),
            Route::GetMetric { id } => self
                .metrics
                .iter()
                .find(|m| &m.id == id)
                .map(|m| m.to_json(&self.org))
                .ok_or_else(|| error(404, format!("billable metric {id:?} not found"))),
            Route::ListMetrics => {
                let status = q(query, "status");
                let items = self
                    .metrics
                    .iter()
                    .filter(|m| status.is_none_or(|s| m.status == s))
                    .map(|m| m.to_json(&self.org))
                    .collect();
                Ok(nil_if_empty(items))
            }
            Route::UpdateMetric { id } => self.update_metric(id, body),
            Route::GetConfig => Ok(self.config.clone()),
            Route::UpdateConfig => self.update_config(body),
        };
        match result {
            Ok(body) => Reply { status: 200, body },
            Err(reply) => reply,
        }
    }

    fn store_group(&mut self, id: String, g: NewGroup) -> Value {
        let now = now_nanos();
        let group = Group {
            id,
            buyer: format!("buyer-{}", g.entitlement),
            entitlement: g.entitlement,
            partner: PARTNER.to_string(),
            serial: self.next_serial,
            status: "CREATED".to_string(),
            records: g.records,
            billable: g.billable,
            timestamp: g.timestamp.unwrap_or(now),
            creation: now,
            last_update: now,
            reported: None,
            report_id: String::new(),
        };
        self.next_serial += 1;
        let out = group.to_json(&self.org);
        self.groups.push(group);
        out
    }

    fn report_group(&mut self, entitlement: &str, body: &[u8]) -> HResult {
        let obj = parse_object(body)?;
        let id = match optional_string(&obj, "id")? {
            None => None,
            Some(id) if id.chars().count() > MAX_ID_CHARS => {
                return Err(bad(format!("id must be at most {MAX_ID_CHARS} characters")));
            }
            Some(id) => Some(id.to_string()),
        };
        match optional_string(&obj, "organizationID")? {
            None => return Err(bad("organizationID is required")),
            Some(o) if o != self.org => {
                return Err(bad(format!(
                    "organizationID {o:?} does not match the organization in the path"
                )));
            }
            Some(_) => {}
        }
        let g = parse_new_group(&obj)?;
        if g.entitlement != entitlement {
            return Err(bad(format!(
                "entitlementID {:?} does not match the entitlement in the path",
                g.entitlement
            )));
        }
        if g.all_zero() {
            return Err(bad("all the quantity of usage records are zero"));
        }
        let id = match id {
            Some(id) if self.groups.iter().any(|x| x.id == id) => {
                return Err(error(
                    409,
                    format!("usage record group {id:?} has already been reported"),
                ));
            }
            Some(id) => id,
            None => new_uuid(),
        };
        Ok(self.store_group(id, g))
    }

    fn batch_report(&mut self, body: &[u8]) -> HResult {
        let items = parse_batch(body)?;
        let out = items
            .into_iter()
            .map(|g| self.store_group(new_uuid(), g))
            .collect();
        Ok(Value::Array(out))
    }

    fn list_groups(&self, query: &[(String, String)]) -> HResult {
        let partner = q(query, "partner");
        let buyer = q(query, "buyerId");
        let ent = q(query, "entitlementId");
        if [partner, buyer, ent].iter().filter(|x| x.is_some()).count() > 1 {
            return Err(bad(
                "give at most one of partner, buyerId and entitlementId",
            ));
        }
        let status = q(query, "status");
        let source = q(query, "source");
        let meta = q(query, "metaInfo");
        let range = date_range(query)?;
        let (limit, offset) = page_params(query)?;
        let items = self
            .groups
            .iter()
            .filter(|g| {
                partner.is_none_or(|p| g.partner == p)
                    && buyer.is_none_or(|b| g.buyer == b)
                    && ent.is_none_or(|e| g.entitlement == e)
                    && match status {
                        Some(s) => g.status == s,
                        None => g.status != "DELETED",
                    }
                    && source.is_none_or(|s| s == "API")
                    && meta.is_none_or(|m| g.meta_info().to_string().contains(m))
                    && in_range(g.creation, range)
            })
            .map(|g| g.to_json(&self.org))
            .collect();
        Ok(page("usageRecordGroups", items, limit, offset))
    }

    /// Finds a group for delete/retry, honouring `creationDate`.
    fn find_group(&self, id: &str, query: &[(String, String)]) -> Result<usize, Reply> {
        let date = date_param(query, "creationDate")?;
        let not_found = || error(404, format!("usage record group {id:?} not found"));
        let idx = self
            .groups
            .iter()
            .position(|g| g.id == id)
            .ok_or_else(not_found)?;
        match date {
            Some(d) if day_of(self.groups[idx].creation) != d => Err(not_found()),
            _ => Ok(idx),
        }
    }

    fn delete_group(&mut self, id: &str, query: &[(String, String)]) -> HResult {
        let idx = self.find_group(id, query)?;
        let g = &mut self.groups[idx];
        if g.status != "CREATED" && g.status != "INVALID" {
            return Err(bad(format!(
                "usage record group {id:?} has status {} and cannot be deleted; only CREATED or INVALID can",
                g.status
            )));
        }
        g.status = "DELETED".to_string();
        g.last_update = now_nanos();
        Ok(g.to_json(&self.org))
    }

    fn retry_group(&mut self, id: &str, query: &[(String, String)]) -> HResult {
        let idx = self.find_group(id, query)?;
        let g = &mut self.groups[idx];
        if g.status != "REPORT_FAILED" {
            return Err(bad(format!(
                "usage record group {id:?} has status {} and cannot be retried; only REPORT_FAILED can",
                g.status
            )));
        }
        g.status = "CREATED".to_string();
        g.last_update = now_nanos();
        Ok(g.to_json(&self.org))
    }

    fn list_reports(&self, query: &[(String, String)]) -> HResult {
        let partner = q(query, "partner");
        let buyer = q(query, "buyerId");
        let ent = q(query, "entitlementId");
        let range = date_range(query)?;
        let (limit, offset) = page_params(query)?;
        let items = self
            .reports
            .iter()
            .filter(|r| {
                partner.is_none_or(|p| r.partner == p)
                    && buyer.is_none_or(|b| r.buyer == b)
                    && ent.is_none_or(|e| r.entitlement == e)
                    && in_range(r.creation, range)
            })
            .map(|r| r.json.clone())
            .collect();
        Ok(page("usageRecordReports", items, limit, offset))
    }

    fn create_metric(&mut self, body: &[u8]) -> HResult {
        let obj = parse_object(body)?;
        let id = match optional_string(&obj, "id")? {
            None => new_uuid(),
            Some(id) if id.chars().count() > MAX_ID_CHARS => {
                return Err(bad(format!("id must be at most {MAX_ID_CHARS} characters")));
            }
            Some(id) if self.metrics.iter().any(|m| m.id == id) => {
                return Err(bad(format!("billable metric {id:?} already exists")));
            }
            Some(id) => id.to_string(),
        };
        let name = optional_string(&obj, "name")?.unwrap_or("");
        check_metric_name(name)?;
        let description = optional_string(&obj, "description")?.unwrap_or("");
        check_metric_description(description)?;
        if let Some(o) = optional_string(&obj, "organizationId")?
            && o != self.org
        {
            return Err(bad(format!(
                "organizationId {o:?} does not match the organization in the path"
            )));
        }
        let aggregation_type = match obj.get("aggregationType") {
            None | Some(Value::Null) => Value::String(String::new()),
            Some(v @ Value::String(_)) => v.clone(),
            Some(_) => return Err(bad("aggregationType must be a string")),
        };
        let info = match obj.get("info") {
            None => Value::Null,
            Some(v @ (Value::Object(_) | Value::Null)) => v.clone(),
            Some(_) => return Err(bad("info must be an object")),
        };
        let now = now_nanos();
        let m = Metric {
            id,
            name: name.to_string(),
            description: description.to_string(),
            aggregation_type,
            info,
            status: "ACTIVE".to_string(),
            creation: now,
            last_update: now,
        };
        let out = m.to_json(&self.org);
        self.metrics.push(m);
        Ok(out)
    }

    fn update_metric(&mut self, id: &str, body: &[u8]) -> HResult {
        let obj = parse_object(body)?;
        let string_field = |key: &str| match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(bad(format!("{key} must be a string"))),
        };
        let name = string_field("name")?;
        let description = string_field("description")?;
        let status = string_field("status")?;
        if let Some(n) = &name {
            check_metric_name(n)?;
        }
        if let Some(d) = &description {
            check_metric_description(d)?;
        }
        if let Some(s) = &status
            && s != "ACTIVE"
            && s != "DELETED"
        {
            return Err(bad(format!("invalid status {s:?}: want ACTIVE or DELETED")));
        }
        let m = self
            .metrics
            .iter_mut()
            .find(|m| m.id == id)
            .ok_or_else(|| error(404, format!("billable metric {id:?} not found")))?;
        if let Some(n) = name {
            m.name = n;
        }
        if let Some(d) = description {
            m.description = d;
        }
        if let Some(s) = status {
            m.status = s;
        }
        m.last_update = now_nanos();
        Ok(m.to_json(&self.org))
    }

    fn update_config(&mut self, body: &[u8]) -> HResult {
        let obj = parse_object(body)?;
        let configs = match obj.get("partnerUsageMeteringConfigs") {
            None | Some(Value::Null) => Value::Null,
            Some(Value::Array(items)) => {
                if items.iter().any(|i| !i.is_object()) {
                    return Err(bad("partnerUsageMeteringConfigs items must be objects"));
                }
                Value::Array(items.clone())
            }
            Some(_) => return Err(bad("partnerUsageMeteringConfigs must be an array")),
        };
        self.config = json!({ "partnerUsageMeteringConfigs": configs });
        Ok(self.config.clone())
    }

    /// Marks a group id so that it fails at the next report cycle that processes it.
    pub(crate) fn mark_failure(&mut self, id: &str) {
        self.fail_marks.push(id.to_string());
    }

    /// Sets a group's status (test hook). Returns false when there is no such group.
    pub(crate) fn set_group_status(&mut self, id: &str, status: &str) -> bool {
        match self.groups.iter_mut().find(|g| g.id == id) {
            Some(g) => {
                g.status = status.to_string();
                g.last_update = now_nanos();
                true
            }
            None => false,
        }
    }

    /// All stored groups (every status), serialized.
    pub(crate) fn groups_json(&self) -> Vec<Value> {
        self.groups.iter().map(|g| g.to_json(&self.org)).collect()
    }

    /// All usage record reports, serialized.
    pub(crate) fn reports_json(&self) -> Vec<Value> {
        self.reports.iter().map(|r| r.json.clone()).collect()
    }

    /// All billable metrics (every status), serialized.
    pub(crate) fn metrics_json(&self) -> Vec<Value> {
        self.metrics.iter().map(|m| m.to_json(&self.org)).collect()
    }

    /// One hourly report: see `FakeSuger::run_report_cycle`.
    pub(crate) fn run_report_cycle(&mut self) -> Vec<String> {
        let now = now_nanos();
        // (entitlement, failed, group indexes), in order of first appearance.
        let mut batches: Vec<(String, bool, Vec<usize>)> = Vec::new();
        for (i, g) in self.groups.iter().enumerate() {
            if g.status != "CREATED" {
                continue;
            }
            let failed = match self.fail_marks.iter().position(|m| *m == g.id) {
                Some(p) => {
                    self.fail_marks.remove(p);
                    true
                }
                None => false,
            };
            match batches
                .iter_mut()
                .find(|(e, f, _)| *e == g.entitlement && *f == failed)
            {
                Some(b) => b.2.push(i),
                None => batches.push((g.entitlement.clone(), failed, vec![i])),
            }
        }
        let mut ids = Vec::with_capacity(batches.len());
        for (entitlement, failed, idxs) in batches {
            let report_id = new_uuid();
            let report = self.build_report(&report_id, &entitlement, failed, &idxs, now);
            for &i in &idxs {
                let g = &mut self.groups[i];
                g.status = if failed { "REPORT_FAILED" } else { "REPORTED" }.to_string();
                g.last_update = now;
                g.reported = (!failed).then_some(now);
                g.report_id = report_id.clone();
            }
            self.reports.push(report);
            ids.push(report_id);
        }
        ids
    }

    fn build_report(
        &self,
        report_id: &str,
        entitlement: &str,
        failed: bool,
        idxs: &[usize],
        now: i128,
    ) -> Report {
        let groups: Vec<&Group> = idxs.iter().map(|&i| &self.groups[i]).collect();
        let buyer = groups.first().map_or_else(String::new, |g| g.buyer.clone());
        // Summed v1 records and aggregated v2 records, in first-seen key order.
        let mut v1: Vec<(String, f64)> = Vec::new();
        let mut v2: Vec<(String, f64)> = Vec::new();
        let add = |acc: &mut Vec<(String, f64)>, k: &str, qty: f64| match acc
            .iter_mut()
            .find(|(key, _)| key == k)
        {
            Some(e) => e.1 += qty,
            None => acc.push((k.to_string(), qty)),
        };
        for g in &groups {
            for (k, v) in g.records.iter().flatten() {
                add(&mut v1, k, v.as_f64().unwrap_or(0.0));
            }
            for r in g.billable.iter().flatten() {
                let k = r.get("key").and_then(Value::as_str).unwrap_or("");
                let qty = r.get("quantity").and_then(Value::as_f64).unwrap_or(0.0);
                add(&mut v2, k, qty);
            }
        }
        let reported_records = if v1.is_empty() {
            Value::Null
        } else {
            Value::Object(v1.iter().map(|(k, v)| (k.clone(), go_number(*v))).collect())
        };
        let aggregated = if v2.is_empty() {
            Value::Null
        } else {
            Value::Array(
                v2.iter()
                    .map(|(k, v)| {
                        json!({
                            "key": k,
                            "name": "",
                            "quantity": go_number(*v),
                            "amount": 0,
                            "billableMetricAggregationType": "SUM",
                            "billableMetricInfo": null,
                            "groupBysExpression": "",
                            "uniqueCountAggregationResult": null,
                        })
                    })
                    .collect(),
            )
        };
        let now_s = format_rfc3339(now);
        let usage: Vec<Value> = v1
            .iter()
            .chain(v2.iter())
            .map(|(k, v)| {
                json!({
                    "CustomerIdentifier": buyer,
                    "Dimension": k,
                    "Quantity": v.round() as i64,
                    "Timestamp": now_s,
                    "UsageAllocations": null,
                })
            })
            .collect();
        let aws_request =
            json!({ "ProductCode": PRODUCT_ID, "UsageRecords": nil_if_empty(usage.clone()) });
        let aws_response = if failed {
            Value::Null
        } else {
            let results: Vec<Value> = usage
                .iter()
                .map(|u| {
                    json!({
                        "meteringRecordId": new_uuid(),
                        "status": "Success",
                        "usageRecord": {
                            "customerIdentifier": u["CustomerIdentifier"],
                            "dimension": u["Dimension"],
                            "quantity": u["Quantity"],
                            "timestamp": u["Timestamp"],
                            "usageAllocations": null,
                        },
                    })
                })
                .collect();
            json!({ "resultMetadata": {}, "results": nil_if_empty(results), "unprocessedRecords": null })
        };
        let start = groups.iter().map(|g| g.timestamp).min();
        let info = json!({
            "status": if failed { "FAILED" } else { "SUCCESS" },
            "message": if failed { "injected report failure (fail_next_report_for)" } else { "" },
            "usageRecordGroupIds": groups.iter().map(|g| g.id.clone()).collect::<Vec<_>>(),
            "reportedRecords": reported_records,
            "aggregatedBillableRecords": aggregated,
            "startTime": time_json(start),
            "endTime": now_s,
            "partner": PARTNER,
            "awsMeteringRequest": aws_request,
            "awsMeteringResponse": aws_response,
            "azureMeteringRequest": null,
            "azureMeteringResponse": null,
            "gcpMeteringRequest": null,
            "gcpMeteringResponse": null,
            "alibabaMeteringRequest": null,
            "alibabaMeteringResponse": null,
            "commitAmount": 0,
            "creditAmount": 0,
            "creditRecords": null,
            "decimalParts": null,
            "dimensionCategories": null,
            "dimensionUnitListPrice": null,
            "dimensionUnitPrice": null,
            "includedRecords": null,
            "newDecimalParts": null,
            "recordsToReportBeforeAdjustmentAtListPrice": null,
            "usedCommitAmount": 0,
            "usedCommitAmountIncrement": 0,
            "usedCreditAmount": 0,
            "usedCreditAmountIncrement": 0,
        });
        let json = json!({
            "id": report_id,
            "organizationID": self.org,
            "entitlementID": entitlement,
            "entitlementTermID": "",
            "buyerID": buyer,
            "partner": PARTNER,
            "productID": PRODUCT_ID,
            "creationTime": now_s,
            "info": info,
        });
        Report {
            creation: now,
            entitlement: entitlement.to_string(),
            buyer,
            partner: PARTNER.to_string(),
            json,
        }
    }
}
