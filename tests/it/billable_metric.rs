//! Contract tests for the four billable metric operations.

use crate::support::*;
use serde_json::json;
use suger_metering::*;

// ---------------------------------------------------------------------------------------------
// create_billable_metric
// ---------------------------------------------------------------------------------------------

#[test]
fn create_sends_every_set_field_with_lowercase_organization_id() {
    let mut s = server();
    let m = expect_json(
        &mut s,
        "POST",
        "/org/org-1/billableMetric",
        json!({
            "id": "bm-1",
            "name": "LLM tokens",
            "description": "Tokens processed, by model",
            "organizationId": "org-1",
            "aggregationType": "SUM",
            "info": {
                "filterGroups": [
                    { "filters": [
                        { "name": "model", "operation": "IS", "value": "large", "valueType": "STRING" },
                        { "name": "weight", "operation": "GTE", "value": 2.5, "valueType": "FLOAT" }
                    ] },
                    {}
                ],
                "groupBys": ["region", "model"]
            },
            "status": "ACTIVE",
            // A field the crate does not model, read from the fixture: sent back as it was.
            "createdBy": "user-1"
        }),
    )
    .with_status(200)
    .with_header("content-type", "application/json")
    .with_body(fixture("billable_metric.json"))
    .create();

    let mut metric = expected::billable_metric();
    metric.creation_time = None; // read-only: not sent when None
    let got = client(&mut s).create_billable_metric(&metric).unwrap();

    m.assert();
    assert_eq!(got, expected::billable_metric());
}

#[test]
fn create_with_only_a_name_sends_only_the_name() {
    let answer = r#"{"id":"bm-new","name":"API calls","organizationId":"org-1","aggregationType":"","status":"ACTIVE","info":null,"creationTime":"2026-03-01T10:00:00Z","lastUpdateTime":"2026-03-01T10:00:00Z"}"#;
    let sent = json!({ "name": "API calls" });
    let got = answered_json("POST", "/org/org-1/billableMetric", sent, answer, |c| {
        c.create_billable_metric(&BillableMetric {
            name: "API calls".into(),
            ..Default::default()
        })
    })
    .unwrap();
    assert_eq!(
        got,
        BillableMetric {
            id: "bm-new".into(),
            name: "API calls".into(),
            description: String::new(),
            organization_id: "org-1".into(),
            aggregation_type: Some(BillableMetricAggregationType::Other(String::new())),
            info: None,
            status: Some(BillableMetricStatus::Active),
            creation_time: Some(time::macros::datetime!(2026-03-01 10:00:00 UTC)),
            last_update_time: Some(time::macros::datetime!(2026-03-01 10:00:00 UTC)),
            ..Default::default()
        }
    );
}

// ---------------------------------------------------------------------------------------------
// get_billable_metric
// ---------------------------------------------------------------------------------------------

#[test]
fn get_sends_no_body_and_decodes_the_metric() {
    let mut s = server();
    let m = expect_no_body(&mut s, "GET", "/org/org-1/billableMetric/bm-1")
        .with_body(fixture("billable_metric.json"))
        .create();
    let got = client(&mut s).get_billable_metric("bm-1").unwrap();
    m.assert();
    assert_eq!(got, expected::billable_metric());
}

// ---------------------------------------------------------------------------------------------
// list_billable_metrics
// ---------------------------------------------------------------------------------------------

#[test]
fn list_without_status_sends_no_query() {
    let mut s = server();
    let m = expect_no_body(&mut s, "GET", "/org/org-1/billableMetric")
        .with_body(fixture("list_billable_metrics.json"))
        .create();
    let got = client(&mut s)
        .list_billable_metrics(&ListBillableMetrics::new())
        .unwrap();
    m.assert();
    assert_eq!(got, expected::list_billable_metrics());
}

#[test]
fn list_active_sends_status_active() {
    let mut s = server();
    let m = expect_no_body(&mut s, "GET", "/org/org-1/billableMetric")
        .match_query(exact_query(&[("status", "ACTIVE")]))
        .with_body("null")
        .create();
    let got = client(&mut s)
        .list_billable_metrics(&ListBillableMetrics::new().status(BillableMetricStatus::Active))
        .unwrap();
    m.assert();
    assert_eq!(got, Vec::<BillableMetric>::new());
}

#[test]
fn list_deleted_sends_status_deleted() {
    let mut s = server();
    let m = expect_no_body(&mut s, "GET", "/org/org-1/billableMetric")
        .match_query(exact_query(&[("status", "DELETED")]))
        .with_body("[]")
        .create();
    let got = client(&mut s)
        .list_billable_metrics(&ListBillableMetrics::new().status(BillableMetricStatus::Deleted))
        .unwrap();
    m.assert();
    assert!(got.is_empty());
}

// ---------------------------------------------------------------------------------------------
// update_billable_metric
// ---------------------------------------------------------------------------------------------

#[test]
fn update_sends_only_the_fields_that_are_set() {
    let sent = json!({ "description": "API calls, all regions" });
    let got = answered_json(
        "PATCH",
        "/org/org-1/billableMetric/bm-1",
        sent,
        &fixture("billable_metric.json"),
        |c| {
            c.update_billable_metric(
                "bm-1",
                &UpdateBillableMetricParams {
                    description: Some("API calls, all regions".into()),
                    ..Default::default()
                },
            )
        },
    )
    .unwrap();
    assert_eq!(got, expected::billable_metric());
}

#[test]
fn update_with_every_field_sends_all_three() {
    let answer = r#"{"id":"bm-1","name":"Tokens","status":"DELETED","lastUpdateTime":"2026-03-05T01:02:03.000000004Z"}"#;
    let sent = json!({ "name": "Tokens", "description": "", "status": "DELETED" });
    let got = answered_json(
        "PATCH",
        "/org/org-1/billableMetric/bm-1",
        sent,
        answer,
        |c| {
            c.update_billable_metric(
                "bm-1",
                &UpdateBillableMetricParams {
                    name: Some("Tokens".into()),
                    description: Some(String::new()),
                    status: Some(BillableMetricStatus::Deleted),
                },
            )
        },
    )
    .unwrap();
    assert_eq!(
        got,
        BillableMetric {
            id: "bm-1".into(),
            name: "Tokens".into(),
            status: Some(BillableMetricStatus::Deleted),
            last_update_time: Some(time::macros::datetime!(2026-03-05 01:02:03.000000004 UTC)),
            ..Default::default()
        }
    );
}

#[test]
fn update_with_nothing_set_sends_an_empty_object() {
    let mut s = server();
    let m = expect_json(&mut s, "PATCH", "/org/org-1/billableMetric/bm-1", json!({}))
        .with_body(fixture("billable_metric.json"))
        .create();
    let got = client(&mut s)
        .update_billable_metric("bm-1", &UpdateBillableMetricParams::default())
        .unwrap();
    m.assert();
    assert_eq!(got.id, "bm-1");
}
