//! `MarketplaceVerdict`: every verdict from fixtures of each marketplace (tests/fixtures/verdict),
//! and the property that nothing unrecognised is ever accepted.

use serde_json::{Map, Value, json};
use suger_metering::{MarketplaceVerdict, MeteringUsageRecordGroup, MeteringUsageRecordReport};

use crate::support::fixture;

mod property;

/// The named case of fixture file `verdict/{partner}.json`, as a report.
fn case(partner: &str, name: &str) -> MeteringUsageRecordReport {
    let all: Value = serde_json::from_str(&fixture(&format!("verdict/{partner}.json"))).unwrap();
    let one = all
        .get(name)
        .unwrap_or_else(|| panic!("no case {name} in {partner}.json"));
    serde_json::from_value(one.clone()).unwrap()
}

fn not_entitled(message: &str) -> MarketplaceVerdict {
    MarketplaceVerdict::NotEntitled {
        message: message.into(),
    }
}

#[test]
fn aws_verdicts() {
    use MarketplaceVerdict::*;
    let v = |name| case("aws", name).verdict();
    assert_eq!(
        v("success"),
        Accepted {
            record_id: Some("35155d37-56cb-423f-8554-5c4f3e3ff56d".into())
        }
    );
    assert_eq!(
        v("success_camel_case_single"),
        Accepted {
            record_id: Some("m-camel".into())
        }
    );
    assert_eq!(
        v("success_meter_usage_as_string"),
        Accepted {
            record_id: Some("m-string".into())
        }
    );
    assert_eq!(
        v("duplicate"),
        Duplicate {
            quantity_accepted_before: None
        }
    );
    let too_late = case("aws", "too_late");
    assert_eq!(
        too_late.verdict(),
        TooLate {
            message: too_late.info.as_ref().unwrap().message.clone()
        }
    );
    assert_eq!(
        v("too_late_error_body"),
        TooLate {
            message: "com.amazonaws.awsmpmetering#TimestampOutOfBoundsException: Timestamp is out of bounds".into()
        }
    );
    // Suger said SUCCESS, but AWS refused one of the two records: the marketplace wins.
    assert_eq!(
        v("not_subscribed"),
        not_entitled("AWS: CustomerNotSubscribed: the customer is not subscribed to the product")
    );
    let invalid = v("invalid_dimension");
    assert!(
        matches!(&invalid, Invalid { reason } if reason.contains("InvalidUsageDimensionException: Dimension storage_gb")),
        "{invalid:?}"
    );
    assert!(
        matches!(v("unprocessed"), Retryable { message } if message.contains("UnprocessedRecords"))
    );
    let unknown = v("unknown");
    assert!(
        matches!(&unknown, Unknown { raw } if raw["Status"] == "Pending"),
        "{unknown:?}"
    );
    assert!(!unknown.is_accepted());
}

#[test]
fn aws_record_verdicts_say_which_record() {
    let records = case("aws", "not_subscribed").record_verdicts();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].dimension.as_deref(), Some("api_calls"));
    assert_eq!(records[0].quantity, Some(3.0));
    assert_eq!(records[0].customer.as_deref(), Some("cust-1"));
    assert_eq!(
        records[0].timestamp.as_deref(),
        Some("2026-03-01T10:00:00Z")
    );
    assert_eq!(
        records[0].verdict,
        MarketplaceVerdict::Accepted {
            record_id: Some("m-ok".into())
        }
    );
    assert_eq!(records[1].dimension.as_deref(), Some("storage_gb"));
    assert_eq!(records[1].verdict.name(), "not_entitled");
}

#[test]
fn verdict_for_group_follows_the_groups_dimensions() {
    let report = case("aws", "not_subscribed");
    let group = |id: &str, dims: &[&str]| {
        let mut g = MeteringUsageRecordGroup::default();
        g.id = id.into();
        g.records = dims.iter().map(|d| (d.to_string(), 1.0)).collect();
        g
    };
    assert_eq!(
        report.verdict_for_group(&group("g-1", &["api_calls"])),
        Some(MarketplaceVerdict::Accepted {
            record_id: Some("m-ok".into())
        })
    );
    assert_eq!(
        report
            .verdict_for_group(&group("g-1", &["storage_gb"]))
            .map(|v| v.name()),
        Some("not_entitled")
    );
    // A dimension the answer does not name: the report's verdict.
    assert_eq!(
        report.verdict_for_group(&group("g-1", &["other"])),
        Some(report.verdict())
    );
    // A group this report does not carry.
    assert_eq!(
        report.verdict_for_group(&group("g-2", &["api_calls"])),
        None
    );
}

#[test]
fn azure_verdicts() {
    use MarketplaceVerdict::*;
    let v = |name| case("azure", name).verdict();
    assert_eq!(
        v("success"),
        Accepted {
            record_id: Some("0a9a9a9a-1111-4222-8333-444455556666".into())
        }
    );
    assert_eq!(
        v("success_single_event"),
        Accepted {
            record_id: Some("ev-single".into())
        }
    );
    // The 409 body: the quantity Azure accepted earlier is kept.
    assert_eq!(
        v("duplicate"),
        Duplicate {
            quantity_accepted_before: Some(5.0)
        }
    );
    assert_eq!(
        v("duplicate_in_batch"),
        Duplicate {
            quantity_accepted_before: Some(7.0)
        }
    );
    assert_eq!(
        v("too_late"),
        TooLate {
            message:
                "Azure: Expired: usage older than 24 hours: The usage event is older than 24 hours."
                    .into()
        }
    );
    assert_eq!(
        v("not_subscribed"),
        not_entitled("Azure: ResourceNotFound: The resource id is not found.")
    );
    assert_eq!(
        v("invalid_dimension"),
        Invalid {
            reason: "Azure: InvalidDimension: The dimension storage is not valid for plan plan-1."
                .into()
        }
    );
    assert_eq!(
        v("unprocessed"),
        Retryable {
            message: "TooManyRequests: Rate exceeded, try again later.".into()
        }
    );
    let unknown = v("unknown");
    assert!(
        matches!(&unknown, Unknown { raw } if raw["status"] == "Queued"),
        "{unknown:?}"
    );
}

#[test]
fn gcp_verdicts() {
    use MarketplaceVerdict::*;
    let v = |name| case("gcp", name).verdict();
    assert_eq!(
        v("success"),
        Accepted {
            record_id: Some("7b9c0d1e-2f3a-4b5c-8d6e-7f8091a2b3c4".into())
        }
    );
    assert_eq!(
        v("duplicate"),
        Duplicate {
            quantity_accepted_before: None
        }
    );
    assert_eq!(
        v("too_late"),
        TooLate {
            message: "GCP: INVALID_ARGUMENT: Timestamp too old: the operation's start time is more than 1 hour in the past.".into()
        }
    );
    assert_eq!(
        v("not_subscribed"),
        not_entitled(
            "GCP: FAILED_PRECONDITION: The consumer project_number:123456789 has no active entitlement."
        )
    );
    assert_eq!(
        v("invalid_dimension"),
        Invalid {
            reason: "GCP: INVALID_ARGUMENT: Unknown metric fake-product.example.com/storage."
                .into()
        }
    );
    assert_eq!(
        v("unprocessed"),
        Retryable {
            message: "GCP: UNAVAILABLE: The service is currently unavailable.".into()
        }
    );
    assert!(matches!(v("unknown"), Unknown { raw } if raw["operationId"] == "op-1"));
    let records = case("gcp", "success").record_verdicts();
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0].dimension.as_deref(),
        Some("fake-product.example.com/api_calls")
    );
    assert_eq!(records[0].quantity, Some(3.0));
    assert_eq!(
        records[0].customer.as_deref(),
        Some("project_number:123456789")
    );
}

/// A report with `info.status` and one marketplace answer.
pub(crate) fn report_with(
    partner: &str,
    status: &str,
    message: &str,
    key: &str,
    answer: Value,
) -> MeteringUsageRecordReport {
    let mut info = Map::new();
    info.insert("status".into(), json!(status));
    info.insert("message".into(), json!(message));
    info.insert(key.into(), answer);
    serde_json::from_value(json!({"partner": partner, "info": info})).unwrap()
}

#[test]
fn suger_status_alone() {
    use MarketplaceVerdict::*;
    let r = |status: &str, message: &str| {
        report_with("AWS", status, message, "awsMeteringResponse", Value::Null).verdict()
    };
    assert_eq!(r("SUCCESS", ""), Accepted { record_id: None });
    // Suger's own expired credential is not late usage.
    assert!(matches!(
        r(
            "FAILED",
            "ExpiredTokenException: The security token included in the request is expired"
        ),
        Retryable { .. }
    ));
    assert!(matches!(r("FAILED", "usage event expired"), TooLate { .. }));
    assert_eq!(
        r(
            "FAILED",
            "CustomerNotEntitledException: the customer is not entitled"
        ),
        not_entitled("CustomerNotEntitledException: the customer is not entitled")
    );
    assert!(matches!(
        r("FAILED", "ThrottlingException: Rate exceeded"),
        Retryable { .. }
    ));
    assert_eq!(
        r("FAILED", "something broke"),
        Unknown {
            raw: json!({"status": "FAILED", "message": "something broke"})
        }
    );
    assert_eq!(
        r("CREATED", ""),
        Unknown {
            raw: json!({"status": "CREATED", "message": ""})
        }
    );
    assert_eq!(
        MeteringUsageRecordReport::default().verdict(),
        Unknown { raw: Value::Null }
    );
    // FAILED with an answer that accepted everything: still not accepted.
    let contradiction = report_with(
        "AWS",
        "FAILED",
        "",
        "awsMeteringResponse",
        json!({"Results": [{"MeteringRecordId": "m", "Status": "Success"}]}),
    );
    assert!(!contradiction.verdict().is_accepted());
    // SUCCESS with an answer that cannot be read: not proven.
    let unreadable = report_with(
        "AWS",
        "SUCCESS",
        "",
        "awsMeteringResponse",
        json!({"weird": 1}),
    );
    assert_eq!(
        unreadable.verdict(),
        Unknown {
            raw: json!({"weird": 1})
        }
    );
}
