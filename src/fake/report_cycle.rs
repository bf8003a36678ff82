//! The fake's "hourly" report cycle: `CREATED` groups become usage record reports.
//!
//! Quantities are summed per dimension (v1) or billable metric key (v2) with saturation: a sum
//! that would overflow to infinity stays at `f64::MAX` (or `-f64::MAX`), so a report never
//! carries `inf`, `NaN` or a `null` quantity, whatever was reported.

use serde_json::{Value, json};

use super::parse::nil_if_empty;
use super::state::{Group, PARTNER, PRODUCT_ID, Report, State, time_json};
use super::util::{format_rfc3339, go_number, new_uuid, now_nanos, saturating_add};

impl State {
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
            Some(e) => e.1 = saturating_add(e.1, qty),
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
