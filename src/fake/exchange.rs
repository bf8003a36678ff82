//! The marketplace's side of a report: what Suger would have sent to AWS, Azure or GCP for a
//! report's usage and what the marketplace answered, in each one's own JSON shape (AWS
//! `BatchMeterUsage` PascalCase as Go marshals the AWS SDK's types; Azure's batch usage event
//! API; GCP Service Control `services.report`).

use serde_json::{Map, Value, json};

use super::parse::nil_if_empty;
use super::stored::PRODUCT_ID;
use super::util::{format_rfc3339, go_number, new_uuid};
use crate::api::usage_record_report::marketplace::GRPC_CODES;

/// One hour of one dimension (v1) or billable metric key (v2), summed over a report's groups.
pub(super) struct Usage {
    pub(super) key: String,
    /// Start of the hour, in nanoseconds since the epoch.
    pub(super) hour: i128,
    pub(super) quantity: f64,
}

/// How the marketplace answers (test hook): `None` accepts everything.
pub(super) struct Failure<'a> {
    pub(super) message: &'a str,
    /// The marketplace's own status for each record; `None`: no answer at all.
    pub(super) status: Option<&'a str>,
}

/// The request sent, the answer, and Suger's `info.message`.
pub(super) struct Exchange {
    pub(super) request: Value,
    pub(super) response: Value,
    pub(super) message: String,
}

const HOUR: i128 = 3_600_000_000_000;

/// A whole hour as Go's RFC 3339 writes it (no fraction).
fn hour_text(nanos: i128) -> String {
    format_rfc3339(nanos).replace(".000000000", "")
}

/// Plays one report's exchange with `partner` (`AWS`, `AZURE` or `GCP`).
pub(super) fn play(
    partner: &str,
    buyer: &str,
    entitlement: &str,
    now: i128,
    usage: &[Usage],
    failure: Option<&Failure<'_>>,
) -> Exchange {
    let message = failure.map_or_else(String::new, |f| {
        if f.message.is_empty() {
            f.status.unwrap_or("report failed").to_string()
        } else {
            f.message.to_string()
        }
    });
    let (request, response, message) = match partner {
        "AZURE" => {
            let (req, resp) = azure(entitlement, now, usage, failure);
            (req, resp, message)
        }
        "GCP" => {
            let (req, resp) = gcp(buyer, entitlement, usage, failure);
            (req, resp, message)
        }
        _ => aws(buyer, usage, failure, message),
    };
    Exchange {
        request,
        response,
        message,
    }
}

fn with(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        b.extend(e);
    }
    base
}

fn aws(
    buyer: &str,
    usage: &[Usage],
    failure: Option<&Failure<'_>>,
    message: String,
) -> (Value, Value, String) {
    let records: Vec<Value> = usage
        .iter()
        .map(|u| {
            json!({
                "CustomerIdentifier": buyer,
                "CustomerAWSAccountID": null,
                "Dimension": u.key,
                "Quantity": u.quantity.round() as i64,
                "Timestamp": hour_text(u.hour),
                "UsageAllocations": null,
            })
        })
        .collect();
    let request =
        json!({ "ProductCode": PRODUCT_ID, "UsageRecords": nil_if_empty(records.clone()) });
    let results = |status: &str, ids: bool| {
        let items = records
            .iter()
            .map(|r| {
                json!({
                    "MeteringRecordId": if ids { Value::String(new_uuid()) } else { Value::Null },
                    "Status": status,
                    "UsageRecord": r,
                })
            })
            .collect();
        json!({"Results": nil_if_empty(items), "UnprocessedRecords": null, "ResultMetadata": {}})
    };
    match failure {
        None => (request, results("Success", true), message),
        Some(Failure { status: None, .. }) => (request, Value::Null, message),
        Some(Failure {
            status: Some(s), ..
        }) if s.ends_with("Exception") => {
            let text = format!(
                "operation error Marketplace Metering: BatchMeterUsage, https response error StatusCode: 400, RequestID: {}, {s}: {message}",
                new_uuid()
            );
            (request, Value::Null, text)
        }
        Some(Failure {
            status: Some(s), ..
        }) if s.eq_ignore_ascii_case("UnprocessedRecords") => {
            let unprocessed = nil_if_empty(records.clone());
            let resp =
                json!({"Results": null, "UnprocessedRecords": unprocessed, "ResultMetadata": {}});
            (request, resp, message)
        }
        Some(Failure {
            status: Some(s), ..
        }) => (request, results(s, false), message),
    }
}

fn azure(
    entitlement: &str,
    now: i128,
    usage: &[Usage],
    failure: Option<&Failure<'_>>,
) -> (Value, Value) {
    let events: Vec<Value> = usage
        .iter()
        .map(|u| {
            json!({
                "resourceId": entitlement,
                "planId": "fake-plan",
                "dimension": u.key,
                "quantity": go_number(u.quantity),
                "effectiveStartTime": hour_text(u.hour),
            })
        })
        .collect();
    let request = json!({ "request": events.clone() });
    let time = format_rfc3339(now);
    let answer = |status: Option<&str>, message: &str| {
        let result: Vec<Value> = events
            .iter()
            .map(|e| match status {
                None => with(
                    e.clone(),
                    json!({"usageEventId": new_uuid(), "status": "Accepted", "messageTime": time}),
                ),
                Some(s) if s.eq_ignore_ascii_case("Duplicate") => {
                    let earlier = with(
                        e.clone(),
                        json!({"usageEventId": new_uuid(), "status": "Duplicate", "messageTime": time}),
                    );
                    with(
                        e.clone(),
                        json!({"usageEventId": null, "status": "Duplicate", "messageTime": time,
                            "error": {"code": "Conflict", "message": "This usage event already exist.",
                                "additionalInfo": {"acceptedMessage": earlier}}}),
                    )
                }
                Some(s) => with(
                    e.clone(),
                    json!({"usageEventId": null, "status": s, "messageTime": time,
                        "error": {"code": s, "message": message}}),
                ),
            })
            .collect();
        json!({"count": result.len(), "result": result})
    };
    let response = match failure {
        None => answer(None, ""),
        Some(Failure { status: None, .. }) => Value::Null,
        Some(Failure {
            status: Some(s),
            message,
        }) => answer(Some(s), message),
    };
    (request, response)
}

/// A status as a `google.rpc.Code` number: a number, or a code name; anything else 2
/// (`UNKNOWN`).
fn grpc_code(status: &str) -> u64 {
    status.trim().parse::<u64>().ok().unwrap_or_else(|| {
        GRPC_CODES
            .iter()
            .position(|n| n.eq_ignore_ascii_case(status.trim()))
            .map_or(2, |i| i as u64)
    })
}

fn gcp(
    buyer: &str,
    entitlement: &str,
    usage: &[Usage],
    failure: Option<&Failure<'_>>,
) -> (Value, Value) {
    let operations: Vec<Value> = usage
        .iter()
        .map(|u| {
            let mut labels = Map::new();
            labels.insert(
                "cloudmarketplace.googleapis.com/resource_name".to_string(),
                json!(entitlement),
            );
            json!({
                "operationId": new_uuid(),
                "operationName": format!("{PRODUCT_ID}/usage_report"),
                "consumerId": format!("project:{buyer}"),
                "startTime": hour_text(u.hour),
                "endTime": hour_text(u.hour + HOUR),
                "metricValueSets": [{
                    "metricName": format!("{PRODUCT_ID}/{}", u.key),
                    "metricValues": [{"int64Value": (u.quantity.round() as i64).to_string()}],
                }],
                "userLabels": labels,
            })
        })
        .collect();
    let ids: Vec<Value> = operations
        .iter()
        .map(|o| o["operationId"].clone())
        .collect();
    let request = json!({ "operations": nil_if_empty(operations), "serviceConfigId": "" });
    let config = json!({"serviceConfigId": "fake-config-1", "serviceRolloutId": "fake-rollout-1"});
    let response = match failure {
        None => config,
        Some(Failure { status: None, .. }) => Value::Null,
        Some(Failure {
            status: Some(s),
            message,
        }) => {
            let errors: Vec<Value> = ids
                .into_iter()
                .map(|id| json!({"operationId": id, "status": {"code": grpc_code(s), "message": message}}))
                .collect();
            with(config, json!({ "reportErrors": errors }))
        }
    };
    (request, response)
}
