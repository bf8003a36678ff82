//! Request parsing and validation shared by the handlers: usage record group bodies, query
//! parameters (dates, paging) and billable metric fields.

use serde_json::{Map, Value, json};
use time::Date;

use super::routing::{Reply, bad};
use super::util::{day_of, format_date, go_number, go_zero_nanos, parse_date, parse_rfc3339};

/// Maximum length (in characters) of user-supplied ids.
pub(super) const MAX_ID_CHARS: usize = 36;

/// The validated fields of one new usage record group (single or batch item).
pub(super) struct NewGroup {
    pub(super) entitlement: String,
    pub(super) records: Option<Map<String, Value>>,
    pub(super) billable: Option<Vec<Value>>,
    pub(super) timestamp: Option<i128>,
}

impl NewGroup {
    pub(super) fn all_zero(&self) -> bool {
        let v1 = self.records.iter().flat_map(|m| m.values());
        let v2 = self
            .billable
            .iter()
            .flatten()
            .map(|r| r.get("quantity").unwrap_or(&Value::Null));
        v1.chain(v2).all(|q| q.as_f64().unwrap_or(0.0) == 0.0)
    }
}

pub(super) fn optional_string<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a str>, Reply> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad(format!("{key} must be a string"))),
    }
}

/// Type-checks and normalizes the fields shared by `CreateUsageRecordGroupParams` and
/// `NewUsageRecordGroup` (entitlement, records, billableRecords, timestamp, no metaInfo).
pub(super) fn parse_new_group(obj: &Map<String, Value>) -> Result<NewGroup, Reply> {
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
pub(super) fn parse_batch(body: &[u8]) -> Result<Vec<NewGroup>, Reply> {
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

pub(super) fn parse_json(body: &[u8]) -> Result<Value, Reply> {
    serde_json::from_slice(body).map_err(|e| bad(format!("invalid JSON request body: {e}")))
}

pub(super) fn parse_object(body: &[u8]) -> Result<Map<String, Value>, Reply> {
    match parse_json(body)? {
        Value::Object(m) => Ok(m),
        _ => Err(bad("the request body must be a JSON object")),
    }
}

/// The first value of a query parameter; an empty value counts as absent (as in Go's
/// `c.Query(..) != ""` checks).
pub(super) fn q<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

pub(super) fn date_param(query: &[(String, String)], name: &str) -> Result<Option<Date>, Reply> {
    match q(query, name) {
        None => Ok(None),
        Some(s) => parse_date(s)
            .map(Some)
            .ok_or_else(|| bad(format!("invalid {name} {s:?}: want YYYY-MM-DD"))),
    }
}

/// `startDate`/`endDate` as inclusive UTC day numbers.
pub(super) fn date_range(
    query: &[(String, String)],
) -> Result<(Option<Date>, Option<Date>), Reply> {
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

pub(super) fn in_range(nanos: i128, (start, end): (Option<Date>, Option<Date>)) -> bool {
    let day = day_of(nanos);
    start.is_none_or(|s| day >= s) && end.is_none_or(|e| day <= e)
}

/// `limit` (default 1000, 1..=1000) and `offset` (default 0, >= 0).
pub(super) fn page_params(query: &[(String, String)]) -> Result<(usize, usize), Reply> {
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
pub(super) fn page(list_key: &str, items: Vec<Value>, limit: usize, offset: usize) -> Value {
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
pub(super) fn nil_if_empty(items: Vec<Value>) -> Value {
    if items.is_empty() {
        Value::Null
    } else {
        Value::Array(items)
    }
}

pub(super) fn check_metric_name(name: &str) -> Result<(), Reply> {
    let n = name.chars().count();
    if !(4..=50).contains(&n) {
        return Err(bad(format!("name must be 4 to 50 characters, got {n}")));
    }
    Ok(())
}

pub(super) fn check_metric_description(d: &str) -> Result<(), Reply> {
    let n = d.chars().count();
    if n > 300 {
        return Err(bad(format!(
            "description must be at most 300 characters, got {n}"
        )));
    }
    Ok(())
}
