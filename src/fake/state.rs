//! The state machine behind the 13 operations. Everything here works on `serde_json::Value`
//! and private structs, independent of the client crate's model types.

use serde_json::{Value, json};

use super::parse::{
    MAX_ID_CHARS, NewGroup, check_metric_description, check_metric_name, date_param, date_range,
    in_range, nil_if_empty, optional_string, page, page_params, parse_batch, parse_new_group,
    parse_object, q,
};
use super::routing::{HResult, Reply, Route, bad, error};
use super::stored::{EntitlementFailure, Group, Metric, Report};
use super::util::{day_of, new_uuid, now_nanos};

/// The whole fake server state.
#[derive(Debug)]
pub(crate) struct State {
    pub(super) org: String,
    pub(super) groups: Vec<Group>,
    pub(super) reports: Vec<Report>,
    pub(super) metrics: Vec<Metric>,
    pub(super) config: Value,
    pub(super) next_serial: i64,
    /// Group ids whose next report fails (`fail_next_report_for`).
    pub(super) fail_marks: Vec<String>,
    /// Entitlements whose next report fails, with the message and marketplace status.
    pub(super) entitlement_failures: Vec<EntitlementFailure>,
    /// Entitlement → partner (`AWS`, `AZURE`, `GCP`); absent: [`PARTNER`].
    pub(super) partners: Vec<(String, String)>,
    /// Most items a list page carries, whatever `limit` asks (test hook).
    pub(super) max_page_size: Option<usize>,
    /// The seed the state was loaded from, for `reset`.
    pub(super) seed: Option<Value>,
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
            entitlement_failures: Vec::new(),
            partners: Vec::new(),
            max_page_size: None,
            seed: None,
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

    pub(super) fn store_group(&mut self, id: String, g: NewGroup) -> Value {
        let now = now_nanos();
        let group = Group {
            id,
            buyer: format!("buyer-{}", g.entitlement),
            partner: self.partner_of(&g.entitlement).to_string(),
            entitlement: g.entitlement,
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
        Ok(page(
            "usageRecordGroups",
            items,
            self.page_limit(limit),
            offset,
        ))
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
        Ok(page(
            "usageRecordReports",
            items,
            self.page_limit(limit),
            offset,
        ))
    }

    pub(super) fn create_metric(&mut self, body: &[u8]) -> HResult {
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

    pub(super) fn update_config(&mut self, body: &[u8]) -> HResult {
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
}
