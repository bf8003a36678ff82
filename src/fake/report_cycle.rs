//! The fake's "hourly" report cycle: `CREATED` groups go `REPORT_PENDING`, then become usage
//! record reports and end `REPORTED` or `REPORT_FAILED`.
//!
//! Quantities are summed per dimension (v1) or billable metric key (v2) with saturation: a sum
//! that would overflow to infinity stays at `f64::MAX` (or `-f64::MAX`), so a report never
//! carries `inf`, `NaN` or a `null` quantity, whatever was reported. The marketplace exchange
//! (`exchange.rs`) gets one record per key and hour of the groups' timestamps.

use serde_json::{Value, json};

use super::exchange::{self, Failure, Usage};
use super::state::State;
use super::stored::{Group, PRODUCT_ID, Report, time_json};
use super::util::{format_rfc3339, go_number, new_uuid, now_nanos, saturating_add};

/// The message of a report failed by `fail_next_report_for`.
const MARKED_FAILURE: &str = "injected report failure (fail_next_report_for)";

/// How one report ends.
enum Outcome {
    Success,
    Failed {
        message: String,
        marketplace_status: Option<String>,
    },
}

const HOUR: i128 = 3_600_000_000_000;

impl State {
    /// The first half of a cycle: every `CREATED` group becomes `REPORT_PENDING` (Suger has
    /// taken it for the report). Returns their ids.
    pub(crate) fn start_report_cycle(&mut self) -> Vec<String> {
        let now = now_nanos();
        let mut ids = Vec::new();
        for g in self.groups.iter_mut().filter(|g| g.status == "CREATED") {
            g.status = "REPORT_PENDING".to_string();
            g.last_update = now;
            ids.push(g.id.clone());
        }
        ids
    }

    /// One hourly report: see `FakeSuger::run_report_cycle`.
    pub(crate) fn run_report_cycle(&mut self) -> Vec<String> {
        let now = now_nanos();
        // (entitlement, marked to fail, group indexes), in order of first appearance.
        let mut batches: Vec<(String, bool, Vec<usize>)> = Vec::new();
        for (i, g) in self.groups.iter().enumerate() {
            if g.status != "CREATED" && g.status != "REPORT_PENDING" {
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
        for (entitlement, marked, idxs) in batches {
            let outcome = if marked {
                Outcome::Failed {
                    message: MARKED_FAILURE.to_string(),
                    marketplace_status: None,
                }
            } else if let Some(p) = self
                .entitlement_failures
                .iter()
                .position(|f| f.entitlement == entitlement)
            {
                let f = self.entitlement_failures.remove(p);
                Outcome::Failed {
                    message: f.message,
                    marketplace_status: f.marketplace_status,
                }
            } else {
                Outcome::Success
            };
            let failed = matches!(outcome, Outcome::Failed { .. });
            let report_id = new_uuid();
            let report = self.build_report(&report_id, &entitlement, &outcome, &idxs, now);
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
        outcome: &Outcome,
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
            Some(e) => e.1 = saturating_add(e.1, qty),
            None => acc.push((k.to_string(), qty)),
        };
        // Per key and hour, for the marketplace.
        let mut hourly: Vec<Usage> = Vec::new();
        let mut add_hourly = |key: &str, hour: i128, qty: f64| match hourly
            .iter_mut()
            .find(|u| u.key == key && u.hour == hour)
        {
            Some(u) => u.quantity = saturating_add(u.quantity, qty),
            None => hourly.push(Usage {
                key: key.to_string(),
                hour,
                quantity: qty,
            }),
        };
        for g in &groups {
            let hour = g.timestamp - g.timestamp.rem_euclid(HOUR);
            for (k, v) in g.records.iter().flatten() {
                let qty = v.as_f64().unwrap_or(0.0);
                add(&mut v1, k, qty);
                add_hourly(k, hour, qty);
            }
            for r in g.billable.iter().flatten() {
                let k = r.get("key").and_then(Value::as_str).unwrap_or("");
                let qty = r.get("quantity").and_then(Value::as_f64).unwrap_or(0.0);
                add(&mut v2, k, qty);
                add_hourly(k, hour, qty);
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
        let partner = self.partner_of(entitlement).to_string();
        let failure = match outcome {
            Outcome::Success => None,
            Outcome::Failed {
                message,
                marketplace_status,
            } => Some(Failure {
                message,
                status: marketplace_status.as_deref(),
            }),
        };
        let played = exchange::play(
            &partner,
            &buyer,
            entitlement,
            now,
            &hourly,
            failure.as_ref(),
        );
        let prefix = match partner.as_str() {
            "AZURE" => "azure",
            "GCP" => "gcp",
            _ => "aws",
        };
        let failed = failure.is_some();
        let start = groups.iter().map(|g| g.timestamp).min();
        let mut info = json!({
            "status": if failed { "FAILED" } else { "SUCCESS" },
            "message": played.message,
            "usageRecordGroupIds": groups.iter().map(|g| g.id.clone()).collect::<Vec<_>>(),
            "reportedRecords": reported_records,
            "aggregatedBillableRecords": aggregated,
            "startTime": time_json(start),
            "endTime": now_s,
            "partner": partner,
            "awsMeteringRequest": null,
            "awsMeteringResponse": null,
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
        info[format!("{prefix}MeteringRequest")] = played.request;
        info[format!("{prefix}MeteringResponse")] = played.response;
        let json = json!({
            "id": report_id,
            "organizationID": self.org,
            "entitlementID": entitlement,
            "entitlementTermID": "",
            "buyerID": buyer,
            "partner": partner,
            "productID": PRODUCT_ID,
            "creationTime": now_s,
            "info": info,
        });
        Report {
            creation: now,
            entitlement: entitlement.to_string(),
            buyer,
            partner,
            json,
        }
    }
}
