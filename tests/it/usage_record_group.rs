//! Contract tests for the six usage record group operations: exact method, path, query, headers
//! and JSON body on the wire, and the decoded answer.

use crate::support::*;
use serde_json::json;
use suger_metering::*;
use time::Date;
use time::macros::{date, datetime};

const REPORT_PATH: &str = "/org/org-1/entitlement/ent-1/usageRecordGroup";

// ---------------------------------------------------------------------------------------------
// report_usage_record_group
// ---------------------------------------------------------------------------------------------

/// Reports `params` for `ent-1`, which must send exactly `sent`; answered with the v1 fixture.
fn report_sending(
    sent: serde_json::Value,
    params: CreateUsageRecordGroupParams,
) -> MeteringUsageRecordGroup {
    let answer = fixture("report_usage_record_group.json");
    answered_json("POST", REPORT_PATH, sent, &answer, |c| {
        c.report_usage_record_group("ent-1", &params)
    })
    .unwrap()
}

#[test]
fn report_v1_fills_entitlement_and_org_and_decodes_the_group() {
    let sent = json!({
        "id": "urg-2026-03-01T10-ent-1",
        "entitlementID": "ent-1",
        "organizationID": "org-1",
        "records": { "api_calls": 1200.0, "storage_gb": 0.5 },
        "timestamp": "2026-03-01T10:00:00.123456789Z"
    });
    let got = report_sending(
        sent,
        CreateUsageRecordGroupParams {
            id: Some("urg-2026-03-01T10-ent-1".into()),
            records: expected::quantities(&[("api_calls", 1200.0), ("storage_gb", 0.5)]),
            timestamp: Some(datetime!(2026-03-01 10:00:00.123456789 UTC)),
            ..Default::default()
        },
    );
    assert_eq!(got, expected::report_usage_record_group());
}

#[test]
fn report_v2_sends_records_as_empty_object_and_keeps_the_timestamp_offset() {
    let sent = json!({
        "id": "5d1c7a2e-0b7f-4c1e-9a57-3f2b8c9d0e11",
        "entitlementID": "ent-2",
        "organizationID": "org-1",
        "records": {},
        "billableRecords": [
            { "key": "tokens", "quantity": 3, "properties": { "model": "large", "weight": 2.5, "cached": false } },
            { "key": "seats", "quantity": 1 }
        ],
        "timestamp": "2026-02-28T23:59:59.999999999-08:00"
    });
    let got = answered_json(
        "POST",
        "/org/org-1/entitlement/ent-2/usageRecordGroup",
        sent,
        &fixture("usage_record_group_v2.json"),
        |c| {
            c.report_usage_record_group(
                "ent-2",
                &CreateUsageRecordGroupParams {
                    id: Some("5d1c7a2e-0b7f-4c1e-9a57-3f2b8c9d0e11".into()),
                    // Naming the same entitlement and org as the path is fine.
                    entitlement_id: "ent-2".into(),
                    organization_id: "org-1".into(),
                    billable_records: vec![
                        MeteringUsageRecord::new("tokens", 3.0)
                            .property("model", "large")
                            .property("weight", 2.5)
                            .property("cached", false),
                        MeteringUsageRecord::new("seats", 1.0),
                    ],
                    timestamp: Some(datetime!(2026-02-28 23:59:59.999999999 -08:00)),
                    ..Default::default()
                },
            )
        },
    )
    .unwrap();
    assert_eq!(got, expected::usage_record_group_v2());
}

#[test]
fn report_without_id_or_timestamp_sends_a_generated_uuid_and_no_timestamp() {
    // The client gives every report an id so that the server can deduplicate a retried report.
    // Everything else in the body is exact; the id must be a 36-character UUID v4.
    let mut s = server();
    let m = s
        .mock("POST", REPORT_PATH)
        .match_header("authorization", AUTHORIZATION)
        .match_header("accept", "application/json")
        .match_header(
            "content-type",
            mockito::Matcher::Regex("^application/json".into()),
        )
        .match_request(|req| {
            let mut body: serde_json::Value = serde_json::from_slice(req.body().unwrap()).unwrap();
            let Some(id) = body.as_object_mut().unwrap().remove("id") else {
                return false;
            };
            let id = id.as_str().unwrap_or_default().to_owned();
            let uuid_v4 = id.len() == 36
                && id.match_indices('-').map(|(i, _)| i).eq([8, 13, 18, 23])
                && &id[14..15] == "4"
                && id.chars().all(|c| c == '-' || c.is_ascii_hexdigit());
            uuid_v4
                && body
                    == json!({
                        "entitlementID": "ent-1",
                        "organizationID": "org-1",
                        "records": { "api_calls": 7.0 }
                    })
        })
        .with_status(200)
        .with_body(fixture("report_usage_record_group.json"))
        .create();

    let got = client(&mut s)
        .report_usage_record_group(
            "ent-1",
            &CreateUsageRecordGroupParams {
                records: expected::quantities(&[("api_calls", 7.0)]),
                ..Default::default()
            },
        )
        .unwrap();

    m.assert();
    assert_eq!(got.id, "urg-2026-03-01T10-ent-1");
}

#[test]
fn report_with_one_zero_and_one_non_zero_quantity_is_sent() {
    let sent = json!({
        "id": "g-1",
        "entitlementID": "ent-1",
        "organizationID": "org-1",
        "records": { "a": 0.0, "b": 2.5 }
    });
    report_sending(
        sent,
        CreateUsageRecordGroupParams {
            id: Some("g-1".into()),
            records: expected::quantities(&[("a", 0.0), ("b", 2.5)]),
            ..Default::default()
        },
    );
}

// ---------------------------------------------------------------------------------------------
// batch_report_usage_record_groups
// ---------------------------------------------------------------------------------------------

fn batch() -> Vec<NewUsageRecordGroup> {
    vec![
        NewUsageRecordGroup {
            entitlement_id: "ent-1".into(),
            records: expected::quantities(&[("api_calls", 5.0)]),
            timestamp: Some(datetime!(2026-03-01 10:00:00 UTC)),
            ..Default::default()
        },
        // An all-zero group is fine in a batch that has usage elsewhere.
        NewUsageRecordGroup {
            entitlement_id: "ent-2".into(),
            billable_records: vec![
                MeteringUsageRecord::new("tokens", 0.0).property("model", "small"),
            ],
            ..Default::default()
        },
    ]
}

fn batch_json() -> serde_json::Value {
    json!([
        {
            "entitlementID": "ent-1",
            "records": { "api_calls": 5.0 },
            "timestamp": "2026-03-01T10:00:00Z"
        },
        {
            "entitlementID": "ent-2",
            "records": {},
            "billableRecords": [ { "key": "tokens", "quantity": 0, "properties": { "model": "small" } } ]
        }
    ])
}

#[test]
fn batch_report_sends_the_items_without_ids_and_decodes_the_groups() {
    let sent = batch_json();
    let got = answered_json(
        "POST",
        "/org/org-1/batchCreateUsageRecordGroups",
        sent,
        &fixture("batch_report_usage_record_groups.json"),
        |c| c.batch_report_usage_record_groups(&batch()),
    )
    .unwrap();
    assert_eq!(got, expected::batch_report_usage_record_groups());
}

#[test]
fn batch_report_answered_null_is_an_empty_list() {
    let sent = batch_json();
    let got = answered_json(
        "POST",
        "/org/org-1/batchCreateUsageRecordGroups",
        sent,
        "null",
        |c| c.batch_report_usage_record_groups(&batch()),
    )
    .unwrap();
    assert_eq!(got, Vec::<MeteringUsageRecordGroup>::new());
}

// ---------------------------------------------------------------------------------------------
// batch_validate_usage_record_groups
// ---------------------------------------------------------------------------------------------

fn validate(status: usize, body: &str) -> suger_metering::Result<String> {
    let mut s = server();
    let m = expect_json(
        &mut s,
        "POST",
        "/org/org-1/batchValidateUsageRecordGroups",
        batch_json(),
    )
    .with_status(status)
    .with_header("content-type", "application/json")
    .with_body(body)
    .expect(1)
    .create();
    let got = client_without_retries(&mut s).batch_validate_usage_record_groups(&batch());
    m.assert();
    got
}

#[test]
fn batch_validate_200_with_an_empty_json_string_is_valid() {
    assert_eq!(validate(200, r#""""#).unwrap(), "");
}

#[test]
fn batch_validate_200_with_an_empty_body_is_valid() {
    assert_eq!(validate(200, "").unwrap(), "");
}

#[test]
fn batch_validate_400_returns_the_servers_description() {
    assert_eq!(
        validate(
            400,
            r#""usage record group 1: dimension \"tokens\" not found""#
        )
        .unwrap(),
        r#"usage record group 1: dimension "tokens" not found"#
    );
}

#[test]
fn batch_validate_500_is_an_api_error() {
    match validate(500, r#""validation failed for usage record group""#) {
        Err(Error::Api {
            status: 500,
            message,
            retry_after: None,
            ..
        }) => assert_eq!(message, "validation failed for usage record group"),
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// list_usage_record_groups
// ---------------------------------------------------------------------------------------------

#[test]
fn list_without_parameters_sends_no_query() {
    let mut s = server();
    let m = expect_no_body(&mut s, "GET", "/org/org-1/usageRecordGroup")
        .with_body(fixture("list_usage_record_groups.json"))
        .create();
    let got = client(&mut s)
        .list_usage_record_groups(&ListUsageRecordGroups::new())
        .unwrap();
    m.assert();
    assert_eq!(got, expected::list_usage_record_groups());
}

#[test]
fn list_with_entitlement_and_every_other_setter_sends_them_all() {
    let mut s = server();
    let m = expect_no_body(&mut s, "GET", "/org/org-1/usageRecordGroup")
        .match_query(exact_query(&[
            ("entitlementId", "ent 1/é"),
            ("status", "REPORT_FAILED"),
            ("source", "METRONOME"),
            ("metaInfo", "k=v&x"),
            ("startDate", "2026-01-05"),
            ("endDate", "2026-02-09"),
            ("limit", "500"),
            ("offset", "1000"),
        ]))
        .with_body(fixture("list_usage_record_groups_null.json"))
        .create();
    let got = client(&mut s)
        .list_usage_record_groups(
            &ListUsageRecordGroups::new()
                .entitlement_id("ent 1/é")
                .status(UsageRecordGroupStatus::ReportFailed)
                .source(UsageRecordGroupSource::Metronome)
                .meta_info("k=v&x")
                .start_date(date!(2026 - 01 - 05))
                .end_date(date!(2026 - 02 - 09))
                .limit(500)
                .offset(1000),
        )
        .unwrap();
    m.assert();
    assert_eq!(got, ListUsageRecordGroupsResponse::default());
}

#[test]
fn list_with_partner_sends_partner() {
    let mut s = server();
    let m = expect_no_body(&mut s, "GET", "/org/org-1/usageRecordGroup")
        .match_query(exact_query(&[
            ("partner", "AWS"),
            ("status", "CREATED"),
            ("limit", "1"),
        ]))
        .with_body(r#"{"usageRecordGroups":[],"nextOffset":1}"#)
        .create();
    let got = client(&mut s)
        .list_usage_record_groups(
            &ListUsageRecordGroups::new()
                .partner(Partner::Aws)
                .status(UsageRecordGroupStatus::Created)
                .limit(1),
        )
        .unwrap();
    m.assert();
    assert_eq!(got.usage_record_groups, vec![]);
    assert_eq!(got.next_offset, Some(1));
}

#[test]
fn list_with_buyer_sends_buyer_id() {
    let mut s = server();
    let m = expect_no_body(&mut s, "GET", "/org/org-1/usageRecordGroup")
        .match_query(exact_query(&[
            ("buyerId", "buyer-9"),
            ("source", ""),
            ("offset", "0"),
        ]))
        .with_body(r#"{"usageRecordGroups":null}"#)
        .create();
    let got = client(&mut s)
        .list_usage_record_groups(
            &ListUsageRecordGroups::new()
                .buyer_id("buyer-9")
                .source(UsageRecordGroupSource::Unspecified)
                .offset(0),
        )
        .unwrap();
    m.assert();
    assert_eq!(got, ListUsageRecordGroupsResponse::default());
}

// ---------------------------------------------------------------------------------------------
// delete_usage_record_group, retry_usage_record_group
// ---------------------------------------------------------------------------------------------

type DeleteOrRetry = fn(&MeteringClient, Option<Date>) -> Result<MeteringUsageRecordGroup>;

/// Both send no body, and `creationDate` in the query exactly when it is given.
#[test]
fn delete_and_retry_send_the_creation_date_only_when_given() {
    let operations: [(&str, &str, &str, DeleteOrRetry, MeteringUsageRecordGroup); 2] = [
        (
            "DELETE",
            "/org/org-1/usageRecordGroup/urg-a",
            "delete_usage_record_group.json",
            |c, day| c.delete_usage_record_group("urg-a", day),
            expected::delete_usage_record_group(),
        ),
        (
            "POST",
            "/org/org-1/usageRecordGroup/urg-failed/retry",
            "retry_usage_record_group.json",
            |c, day| c.retry_usage_record_group("urg-failed", day),
            expected::retry_usage_record_group(),
        ),
    ];
    let with_date: &[(&str, &str)] = &[("creationDate", "2026-01-09")];
    for (method, path, body, call, want) in operations {
        for (day, query) in [(Some(date!(2026 - 01 - 09)), with_date), (None, &[][..])] {
            let got = answered(method, path, query, &fixture(body), |c| call(c, day));
            assert_eq!(got.unwrap(), want, "{method} {path} {query:?}");
        }
    }
}
