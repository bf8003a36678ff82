//! Admin routes under `/_fake/`, so that a test in any language can drive the fake from
//! outside: run the report cycle, inject faults, read what was received. They need no
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
        ("POST", "fail-next-report") => {
            let obj = object(body)?;
            let id = string_field(&obj, "usageRecordGroupId")?;
            lock(&shared.state).mark_failure(id);
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
            lock(&shared.faults).clear();
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
