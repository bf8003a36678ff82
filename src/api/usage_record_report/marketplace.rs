//! Reading each marketplace's raw answer, as Suger keeps it in a report's `info`, into one
//! [`MarketplaceRecordVerdict`] per record.
//!
//! The shapes (checked against the marketplaces' own API references):
//!
//! * **AWS** `BatchMeterUsage`: `{"Results": [{"MeteringRecordId", "Status": "Success" |
//!   "CustomerNotSubscribed" | "DuplicateRecord", "UsageRecord": {"CustomerIdentifier",
//!   "Dimension", "Quantity", "Timestamp"}}], "UnprocessedRecords": [UsageRecord]}`;
//!   `MeterUsage`: `{"MeteringRecordId"}`; an error: `{"__type": "...Exception", "message"}`.
//! * **Azure** usage event: `{"usageEventId", "status": "Accepted" | "Expired" | "Duplicate" |
//!   "Error" | "ResourceNotFound" | "ResourceNotAuthorized" | "ResourceNotActive" |
//!   "InvalidDimension" | "InvalidQuantity" | "BadArgument", "resourceId", "dimension",
//!   "quantity", "effectiveStartTime", "error": {"code", "message", "additionalInfo":
//!   {"acceptedMessage": {..., "quantity"}}}}`; a batch: `{"count", "result": [event]}`; the
//!   409 duplicate: `{"code": "Conflict", "message", "additionalInfo": {"acceptedMessage"}}`.
//! * **GCP** Service Control `services.report`: `{"reportErrors": [{"operationId", "status":
//!   {"code", "message"}}]}`: every operation of the request without an error was accepted.
//!
//! Keys are matched ignoring case, `_` and `-` (PascalCase, camelCase and snake_case alike); a
//! list may be a single object; an answer kept as a JSON string is parsed first. Nothing here
//! panics on any JSON, and nothing unrecognised becomes `Accepted`.

use std::borrow::Cow;

use serde_json::Value;

use super::answer::{classify_text, get, has, joined, list, number, record, text};
use super::models::MeteringUsageRecordReport;
use super::verdict::{MarketplaceRecordVerdict, MarketplaceVerdict};
use crate::api::common::Partner;

/// What was read from a report's marketplace answer.
pub(super) struct Answer {
    /// One verdict per record; `None` when there is no answer or it is not recognised.
    pub(super) records: Option<Vec<MarketplaceRecordVerdict>>,
    /// The answer itself, when one is present (not `null`, `""` or `{}`).
    pub(super) raw: Option<Value>,
    /// Whether acceptance was said in words (AWS `Success`, Azure `Accepted`), rather than
    /// inferred from the absence of an error (GCP).
    pub(super) explicit: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Aws,
    Azure,
    Gcp,
}

fn present(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.trim().is_empty(),
        Some(Value::Object(m)) => !m.is_empty(),
        Some(_) => true,
    }
}

/// An answer kept as a JSON string is parsed; anything else is used as it is.
fn decode(v: &Value) -> Cow<'_, Value> {
    match v {
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(parsed) => Cow::Owned(parsed),
            Err(_) => Cow::Borrowed(v),
        },
        _ => Cow::Borrowed(v),
    }
}

/// Reads the answer of the report's marketplace (its partner's answer first, else the first
/// one present).
pub(super) fn read(report: &MeteringUsageRecordReport) -> Answer {
    let none = Answer {
        records: None,
        raw: None,
        explicit: false,
    };
    let Some(info) = &report.info else {
        return none;
    };
    let preferred = match report.partner.as_ref().or(info.partner.as_ref()) {
        Some(Partner::Aws | Partner::AwsChina) => Some(Kind::Aws),
        Some(Partner::Azure | Partner::Microsoft) => Some(Kind::Azure),
        Some(Partner::Gcp | Partner::Google) => Some(Kind::Gcp),
        _ => None,
    };
    let gcp_request = info.gcp_metering_request.as_ref().map(decode);
    let candidates = [
        (Kind::Aws, info.aws_metering_response.as_ref()),
        (Kind::Azure, info.azure_metering_response.as_ref()),
        (Kind::Gcp, info.gcp_metering_response.as_ref()),
    ];
    let usable = |(kind, resp): &(Kind, Option<&Value>)| {
        present(*resp) || (*kind == Kind::Gcp && present(gcp_request.as_deref()))
    };
    let pick = preferred
        .and_then(|p| candidates.iter().find(|c| c.0 == p && usable(c)))
        .or_else(|| candidates.iter().find(|c| usable(c)));
    let Some(&(kind, resp)) = pick else {
        return none;
    };
    let resp = resp.filter(|r| present(Some(r))).map(decode);
    let raw = resp.as_deref().cloned();
    let records = match (kind, resp.as_deref()) {
        (Kind::Aws, Some(r)) => aws(r),
        (Kind::Azure, Some(r)) => azure(r),
        (Kind::Gcp, r) => gcp(r, gcp_request.as_deref()),
        (_, None) => None,
    };
    // AWS's MeterUsage answer and GCP's say nothing in words: acceptance is inferred.
    let explicit = match (kind, &raw) {
        (Kind::Aws, Some(r)) => has(r, &["results", "unprocessedrecords"]),
        (Kind::Azure, _) => true,
        _ => false,
    };
    Answer {
        records,
        raw,
        explicit,
    }
}

// ---- AWS ----

fn aws(resp: &Value) -> Option<Vec<MarketplaceRecordVerdict>> {
    resp.as_object()?;
    if has(resp, &["results", "unprocessedrecords"]) {
        let mut out: Vec<_> = list(get(resp, &["results"]))
            .into_iter()
            .map(aws_result)
            .collect();
        out.extend(list(get(resp, &["unprocessedrecords"])).into_iter().map(|u| {
            aws_usage(
                u,
                MarketplaceVerdict::Retryable {
                    message: "AWS: UnprocessedRecords: the record was not processed; it may be sent again".to_string(),
                },
            )
        }));
        return Some(out);
    }
    if let Some(id) = text(get(resp, &["meteringrecordid"])) {
        let verdict = MarketplaceVerdict::Accepted {
            record_id: Some(id),
        };
        return Some(vec![record(verdict)]);
    }
    // An error answer: {"__type": "TimestampOutOfBoundsException", "message": "..."}.
    let code = text(get(resp, &["type", "code", "errorcode"]));
    let message = text(get(resp, &["message", "errormessage"]));
    let verdict = classify_text(&joined(&[code, message]))?;
    Some(vec![record(verdict)])
}

fn aws_usage(u: &Value, verdict: MarketplaceVerdict) -> MarketplaceRecordVerdict {
    MarketplaceRecordVerdict {
        dimension: text(get(u, &["dimension"])),
        quantity: number(get(u, &["quantity"])),
        customer: text(get(u, &["customeridentifier", "customerawsaccountid"])),
        timestamp: text(get(u, &["timestamp"])),
        verdict,
    }
}

fn aws_result(r: &Value) -> MarketplaceRecordVerdict {
    let usage = get(r, &["usagerecord"]).unwrap_or(r);
    let id = text(get(r, &["meteringrecordid"]));
    let verdict = match text(get(r, &["status"])) {
        None => MarketplaceVerdict::Unknown { raw: r.clone() },
        Some(s) => match s.to_ascii_lowercase().as_str() {
            "success" => MarketplaceVerdict::Accepted { record_id: id },
            "customernotsubscribed" => MarketplaceVerdict::NotEntitled {
                message: format!("AWS: {s}: the customer is not subscribed to the product"),
            },
            "duplicaterecord" => MarketplaceVerdict::Duplicate {
                quantity_accepted_before: None,
            },
            _ => classify_text(&format!("AWS: {s}"))
                .unwrap_or_else(|| MarketplaceVerdict::Unknown { raw: r.clone() }),
        },
    };
    aws_usage(usage, verdict)
}

// ---- Azure ----

fn azure(resp: &Value) -> Option<Vec<MarketplaceRecordVerdict>> {
    resp.as_object()?;
    if has(resp, &["result", "results"]) {
        let events = list(get(resp, &["result", "results"]));
        return Some(events.into_iter().map(azure_event).collect());
    }
    if has(resp, &["status", "usageeventid"]) {
        return Some(vec![azure_event(resp)]);
    }
    azure_error(resp).map(|v| vec![record(v)])
}

/// `additionalInfo.acceptedMessage.quantity` of an Azure answer or error.
fn accepted_before(v: Option<&Value>) -> Option<f64> {
    let info = get(v?, &["additionalinfo"])?;
    number(get(get(info, &["acceptedmessage"])?, &["quantity"]))
}

/// An Azure error body, bare or under `"error"`; `None` when it names nothing known.
fn azure_error(v: &Value) -> Option<MarketplaceVerdict> {
    let err = get(v, &["error"]).filter(|e| e.is_object()).unwrap_or(v);
    let code = text(get(err, &["code"]));
    let before = accepted_before(Some(err)).or_else(|| accepted_before(Some(v)));
    if before.is_some()
        || code
            .as_deref()
            .is_some_and(|c| c.eq_ignore_ascii_case("conflict"))
    {
        return Some(MarketplaceVerdict::Duplicate {
            quantity_accepted_before: before,
        });
    }
    let details: Vec<Option<String>> = list(get(err, &["details"]))
        .into_iter()
        .map(|d| text(get(d, &["message"])))
        .collect();
    let mut parts = vec![code, text(get(err, &["message"]))];
    parts.extend(details);
    classify_text(&joined(&parts))
}

fn azure_event(e: &Value) -> MarketplaceRecordVerdict {
    let status = text(get(e, &["status"]));
    let error = get(e, &["error"]);
    let error_message = error.and_then(|x| text(get(x, &["message"])));
    let say = |what: &str| joined(&[Some(format!("Azure: {what}")), error_message.clone()]);
    let word = status.as_deref().unwrap_or_default();
    let verdict = match status.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("accepted") => MarketplaceVerdict::Accepted {
            record_id: text(get(e, &["usageeventid"])),
        },
        Some("duplicate") => MarketplaceVerdict::Duplicate {
            quantity_accepted_before: accepted_before(error).or_else(|| accepted_before(Some(e))),
        },
        Some("expired") => MarketplaceVerdict::TooLate {
            message: say("Expired: usage older than 24 hours"),
        },
        Some("resourcenotfound" | "resourcenotauthorized" | "resourcenotactive") => {
            MarketplaceVerdict::NotEntitled { message: say(word) }
        }
        Some("invaliddimension" | "invalidquantity" | "badargument") => {
            MarketplaceVerdict::Invalid { reason: say(word) }
        }
        _ => error
            .and_then(azure_error)
            .or_else(|| status.as_deref().and_then(|s| classify_text(&say(s))))
            .unwrap_or_else(|| MarketplaceVerdict::Unknown { raw: e.clone() }),
    };
    MarketplaceRecordVerdict {
        dimension: text(get(e, &["dimension"])),
        quantity: number(get(e, &["quantity"])),
        customer: text(get(e, &["resourceid", "resourceuri"])),
        timestamp: text(get(e, &["effectivestarttime"])),
        verdict,
    }
}

// ---- GCP ----

/// `google.rpc.Code` names, by number (the fake's GCP answers use them too).
pub(crate) const GRPC_CODES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// A `google.rpc.Code`, by number or name.
fn gcp_code(code: Option<&Value>, message: Option<String>, raw: &Value) -> MarketplaceVerdict {
    let name = match code {
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|i| GRPC_CODES.get(usize::try_from(i).ok()?))
            .map(|s| s.to_string()),
        Some(Value::String(s)) => Some(s.trim().to_ascii_uppercase()),
        _ => None,
    };
    let message = joined(&[name.as_ref().map(|n| format!("GCP: {n}")), message]);
    match name.as_deref() {
        Some("INVALID_ARGUMENT") => match classify_text(&message) {
            Some(late @ MarketplaceVerdict::TooLate { .. }) => late,
            _ => MarketplaceVerdict::Invalid { reason: message },
        },
        Some("OUT_OF_RANGE") => MarketplaceVerdict::TooLate { message },
        Some("NOT_FOUND" | "PERMISSION_DENIED" | "FAILED_PRECONDITION") => {
            MarketplaceVerdict::NotEntitled { message }
        }
        Some("ALREADY_EXISTS") => MarketplaceVerdict::Duplicate {
            quantity_accepted_before: None,
        },
        Some(
            "DEADLINE_EXCEEDED" | "RESOURCE_EXHAUSTED" | "ABORTED" | "INTERNAL" | "UNAVAILABLE",
        ) => MarketplaceVerdict::Retryable { message },
        _ => MarketplaceVerdict::Unknown { raw: raw.clone() },
    }
}

fn gcp(resp: Option<&Value>, request: Option<&Value>) -> Option<Vec<MarketplaceRecordVerdict>> {
    if let Some(r) = resp {
        r.as_object()?;
        // A whole-call error: {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message"}}.
        if let Some(err) = get(r, &["error"]).filter(|_| !has(r, &["reporterrors"])) {
            let code = get(err, &["status"]).or_else(|| get(err, &["code"]));
            let verdict = gcp_code(code, text(get(err, &["message"])), r);
            return Some(vec![record(verdict)]);
        }
    }
    let errors: Vec<(Option<String>, MarketplaceVerdict)> = resp
        .map(|r| list(get(r, &["reporterrors"])))
        .unwrap_or_default()
        .into_iter()
        .map(|e| {
            let status = get(e, &["status"]);
            let code = status.and_then(|s| get(s, &["code"]));
            let message = status.and_then(|s| text(get(s, &["message"])));
            (text(get(e, &["operationid"])), gcp_code(code, message, e))
        })
        .collect();
    let mut out = Vec::new();
    let mut matched = vec![false; errors.len()];
    for op in request
        .map(|r| list(get(r, &["operations"])))
        .unwrap_or_default()
    {
        let id = text(get(op, &["operationid"]));
        let verdict = match errors
            .iter()
            .position(|(eid, _)| eid.is_some() && *eid == id)
        {
            Some(i) => {
                matched[i] = true;
                errors[i].1.clone()
            }
            None => MarketplaceVerdict::Accepted {
                record_id: id.clone(),
            },
        };
        let sets = list(get(op, &["metricvaluesets"]));
        let base = |dimension: Option<String>, quantity: Option<f64>| MarketplaceRecordVerdict {
            dimension,
            quantity,
            customer: text(get(op, &["consumerid"])),
            timestamp: text(get(op, &["starttime"])),
            verdict: verdict.clone(),
        };
        if sets.is_empty() {
            out.push(base(None, None));
        }
        for set in sets {
            let value = list(get(set, &["metricvalues"])).into_iter().next();
            let quantity = value.and_then(|v| {
                number(get(v, &["int64value", "doublevalue"]))
                    .or_else(|| number(get(get(v, &["distributionvalue"])?, &["count"])))
            });
            out.push(base(text(get(set, &["metricname"])), quantity));
        }
    }
    for (i, (_, verdict)) in errors.into_iter().enumerate() {
        if !matched[i] {
            out.push(record(verdict));
        }
    }
    Some(out)
}
