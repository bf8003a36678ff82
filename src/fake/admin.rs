//! Admin routes under `/_fake/`, so that a test in any language can drive the fake from
//! outside: run the report cycle, decide its outcomes, inject faults, read what was received. They need no
//! `Authorization`, are not recorded in [`FakeSuger::requests`](super::FakeSuger::requests)
//! and are never hit by faults. Bodies and answers are JSON.
//!
//! The routes are documented in the module docs of `suger_metering::fake`.

use serde_json::{Map, Value, json};

use super::fault::Fault;
use super::routing::{Reply, bad, error};
use super::shared::{Shared, lock};

/// Every admin path starts with this.
pub(crate) const PREFIX: &str = "/_fake/";

fn ok(body: Value) -> Reply {
    Reply { status: 200, body }
}

fn object(body: &[u8]) -> Result<Map<String, Value>, Reply> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(bad("the body must be a JSON object")),
    }
}

fn string_field<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<&'a str, Reply> {
    obj.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad(format!("{key} (a non-empty string) is required")))
}

fn optional_str<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, Reply> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad(format!("{key} must be a string"))),
    }
}

/// `"records": {"dimension": quantity, ...}` with finite numbers.
fn records_field(obj: &Map<String, Value>) -> Result<Vec<(String, f64)>, Reply> {
    let need = || bad("records (an object of dimension to finite number) is required");
    let map = obj
        .get("records")
        .and_then(Value::as_object)
        .ok_or_else(need)?;
    map.iter()
        .map(|(k, v)| {
            let q = v.as_f64().filter(|q| q.is_finite()).ok_or_else(need)?;
            Ok((k.clone(), q))
        })
        .collect()
}

/// Handles `method` on admin path `path` (after [`PREFIX`]).
pub(crate) fn handle(shared: &Shared, method: &str, path: &str, body: &[u8]) -> Reply {
    route(shared, method, path, body).unwrap_or_else(|r| r)
}

fn route(shared: &Shared, method: &str, path: &str, body: &[u8]) -> Result<Reply, Reply> {
    Ok(match (method, path) {
        ("POST", "report-cycle") => {
            let ids = lock(&shared.state).run_report_cycle();
            ok(json!({ "usageRecordReportIds": ids }))
        }
        ("POST", "report-cycle/start") => {
            let ids = lock(&shared.state).start_report_cycle();
            ok(json!({ "usageRecordGroupIds": ids }))
        }
        ("POST", "fail-next-report") => {
            let obj = object(body)?;
            if obj.contains_key("entitlementId") {
                let ent = string_field(&obj, "entitlementId")?;
                let message = optional_str(&obj, "message")?.unwrap_or_default();
                let status = optional_str(&obj, "marketplaceStatus")?;
                lock(&shared.state).fail_entitlement(ent, message, status);
            } else {
                let id = string_field(&obj, "usageRecordGroupId")?;
                lock(&shared.state).mark_failure(id);
            }
            ok(json!({}))
        }
        ("POST", "entitlement-partner") => {
            let obj = object(body)?;
            let ent = string_field(&obj, "entitlementId")?;
            let partner = string_field(&obj, "partner")?;
            lock(&shared.state).set_partner(ent, partner).map_err(bad)?;
            ok(json!({}))
        }
        ("POST", "lose-group") => {
            let obj = object(body)?;
            let id = string_field(&obj, "usageRecordGroupId")?;
            if !lock(&shared.state).lose_group(id) {
                return Err(error(404, format!("usage record group {id:?} not found")));
            }
            ok(json!({}))
        }
        ("POST", "alter-group") => {
            let obj = object(body)?;
            let id = string_field(&obj, "usageRecordGroupId")?;
            let records = records_field(&obj)?;
            let mut state = lock(&shared.state);
            if !state.alter_group_records(id, &records) {
                return Err(error(404, format!("usage record group {id:?} not found")));
            }
            let group = state.groups_json().into_iter().find(|g| g["id"] == id);
            ok(group.unwrap_or(Value::Null))
        }
        ("POST", "max-page-size") => {
            let obj = object(body)?;
            let n = match obj.get("maxPageSize") {
                None | Some(Value::Null) => 0,
                Some(v) => v
                    .as_u64()
                    .ok_or_else(|| bad("maxPageSize must be a whole number (0: no cap)"))?,
            };
            lock(&shared.state).max_page_size =
                (n > 0).then(|| usize::try_from(n).unwrap_or(usize::MAX));
            ok(json!({}))
        }
        ("POST", "reset") => {
            shared.reset();
            ok(json!({}))
        }
        ("POST", "group-status") => {
            let obj = object(body)?;
            let id = string_field(&obj, "usageRecordGroupId")?;
            let status = string_field(&obj, "status")?;
            let mut state = lock(&shared.state);
            if !state.set_group_status(id, status) {
                return Err(error(404, format!("usage record group {id:?} not found")));
            }
            let group = state.groups_json().into_iter().find(|g| g["id"] == id);
            ok(group.unwrap_or(Value::Null))
        }
        ("POST", "faults") => {
            let value: Value = serde_json::from_slice(body)
                .map_err(|e| bad(format!("invalid JSON fault: {e}")))?;
            let fault = Fault::from_json(&value).map_err(bad)?;
            if fault.times > 0 {
                lock(&shared.faults).push_back(fault);
            }
            ok(json!({}))
        }
        ("DELETE", "faults") => {
            shared.clear_faults();
            ok(json!({}))
        }
        ("GET", "requests") => {
            let list: Vec<Value> = lock(&shared.requests)
                .iter()
                .map(|r| {
                    json!({
                        "method": r.method,
                        "path": r.path,
                        "query": r.query,
                        "body": String::from_utf8_lossy(&r.body),
                        "operation": r.operation.map(|op| op.operation_id()),
                    })
                })
                .collect();
            ok(Value::Array(list))
        }
        ("DELETE", "requests") => {
            lock(&shared.requests).clear();
            ok(json!({}))
        }
        ("GET", "state") => {
            let state = lock(&shared.state);
            ok(json!({
                "usageRecordGroups": state.groups_json(),
                "usageRecordReports": state.reports_json(),
                "billableMetrics": state.metrics_json(),
                "usageMeteringConfigInfo": state.config_json(),
            }))
        }
        _ => {
            return Err(error(
                404,
                format!(
                    "no admin route {method} {PREFIX}{path}; see the suger_metering::fake docs"
                ),
            ));
        }
    })
}
