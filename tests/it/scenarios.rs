//! Scenario tests: the real client against the in-process fake, one test per rule of the fake
//! (dedup on id, generated ids, client-side refusals, v1/v2 records, batches, validation, every
//! list filter, delete/retry state rules, the report cycle, billable metrics, the config, auth
//! and pagination).

use std::collections::{BTreeMap, HashSet};

use serde_json::{Value, json};
use suger_metering::fake::{FakeSuger, Fault, Operation};
use suger_metering::{
    BillableMetric, BillableMetricAggregationType, BillableMetricInfo, BillableMetricStatus,
    CreateUsageRecordGroupParams, Error, ListBillableMetrics, ListUsageRecordGroups,
    ListUsageRecordReports, MeteringClient, MeteringUsageRecord, NewUsageRecordGroup, Partner,
    PartnerUsageMeteringConfig, RetryPolicy, UpdateBillableMetricParams, UsageMeteringConfigInfo,
    UsageMeteringDimensionMappingMode, UsageMeteringDimensionMappingValue, UsageRecordGroupSource,
    UsageRecordGroupStatus, UsageRecordReportStatus,
};
use time::{Date, Duration as TimeDuration};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn start() -> FakeSuger {
    FakeSuger::start().expect("start the fake")
}

/// A client for the fake that never sleeps between retries.
fn client(fake: &FakeSuger) -> MeteringClient {
    fake.client_builder()
        .retry(RetryPolicy::default().sleep_fn(|_| {}))
        .build()
        .expect("build client")
}

fn records(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
    pairs.iter().map(|(k, v)| ((*k).to_string(), *v)).collect()
}

fn params(id: Option<&str>, pairs: &[(&str, f64)]) -> CreateUsageRecordGroupParams {
    CreateUsageRecordGroupParams {
        id: id.map(str::to_string),
        records: records(pairs),
        ..Default::default()
    }
}

fn new_group(entitlement: &str, pairs: &[(&str, f64)]) -> NewUsageRecordGroup {
    NewUsageRecordGroup {
        entitlement_id: entitlement.to_string(),
        records: records(pairs),
        ..Default::default()
    }
}

/// Requests the fake received for one operation.
fn requests_for(fake: &FakeSuger, op: Operation) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.operation == Some(op))
        .count()
}

fn stored_ids(fake: &FakeSuger) -> Vec<String> {
    fake.usage_record_groups()
        .iter()
        .map(|g| g["id"].as_str().expect("id is a string").to_string())
        .collect()
}

fn stored_group(fake: &FakeSuger, id: &str) -> Value {
    fake.usage_record_groups()
        .into_iter()
        .find(|g| g["id"] == id)
        .unwrap_or_else(|| panic!("no stored group {id:?}"))
}

fn ids(groups: &[suger_metering::MeteringUsageRecordGroup]) -> Vec<String> {
    groups.iter().map(|g| g.id.clone()).collect()
}

/// The query of the last request the fake received, as (name, value) pairs.
fn last_query(fake: &FakeSuger) -> Vec<(String, String)> {
    fake.requests().last().expect("a request").query.clone()
}

fn is_uuid_shaped(id: &str) -> bool {
    id.len() == 36
        && id.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

// ---------------------------------------------------------------------------------------------
// Reporting
// ---------------------------------------------------------------------------------------------

#[test]
fn report_with_explicit_id_then_same_id_again_is_already_reported() {
    let fake = start();
    let c = client(&fake);
    let p = params(Some("run-2026-11-26T14"), &[("api_calls", 120.0)]);

    let first = c
        .report_usage_record_group("ent-1", &p)
        .expect("first report");
    assert_eq!(first.id, "run-2026-11-26T14");
    assert_eq!(first.entitlement_id, "ent-1");
    assert_eq!(first.organization_id, "fake-org");
    assert_eq!(first.status, Some(UsageRecordGroupStatus::Created));
    assert_eq!(first.records, records(&[("api_calls", 120.0)]));

    let second = c
        .report_usage_record_group("ent-1", &p)
        .expect_err("a second report with the same id is answered 409");
    match &second {
        Error::AlreadyReported { id, retried, .. } => {
            assert_eq!((id.as_str(), *retried), ("run-2026-11-26T14", false));
        }
        other => panic!("expected AlreadyReported, got {other:?}"),
    }
    assert!(second.is_conflict());
    assert!(second.is_already_reported());
    assert!(!second.is_retryable());
    assert_eq!(
        second.message(),
        Some("usage record group \"run-2026-11-26T14\" has already been reported")
    );

    // Two requests, one per call: a 409 on the first attempt is never retried.
    assert_eq!(requests_for(&fake, Operation::ReportUsageRecordGroup), 2);
    assert_eq!(fake.requests().len(), 2);
    assert_eq!(stored_ids(&fake), ["run-2026-11-26T14"]);
}

#[test]
fn report_without_id_stores_the_generated_uuid_that_is_returned() {
    let fake = start();
    let c = client(&fake);
    let group = c
        .report_usage_record_group("ent-1", &params(None, &[("api_calls", 3.0)]))
        .expect("report");

    assert!(is_uuid_shaped(&group.id), "{:?}", group.id);
    assert_eq!(stored_ids(&fake), std::slice::from_ref(&group.id));

    // The id was generated by the client and sent in the body, with the org and entitlement
    // filled in from the call.
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(
        reqs[0].path,
        "/org/fake-org/entitlement/ent-1/usageRecordGroup"
    );
    let body = reqs[0].json().expect("JSON body");
    assert_eq!(body["id"], group.id);
    assert_eq!(body["entitlementID"], "ent-1");
    assert_eq!(body["organizationID"], "fake-org");
    assert_eq!(body["records"], json!({"api_calls": 3.0}));
    assert!(body.get("metaInfo").is_none());

    // Two reports without ids get two different ids.
    let other = c
        .report_usage_record_group("ent-1", &params(None, &[("api_calls", 3.0)]))
        .expect("report");
    assert_ne!(other.id, group.id);
    assert_eq!(stored_ids(&fake), [group.id, other.id]);
}

#[test]
fn all_zero_report_is_refused_before_anything_is_sent() {
    let fake = start();
    let c = client(&fake);

    let e = c
        .report_usage_record_group("ent-1", &params(Some("z"), &[("a", 0.0), ("b", 0.0)]))
        .expect_err("all zero");
    assert!(
        matches!(
            e,
            Error::InvalidRequest {
                field: "records",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(!e.request_may_have_been_sent());

    let v2 = CreateUsageRecordGroupParams {
        billable_records: vec![MeteringUsageRecord::new("cpu", 0.0)],
        ..Default::default()
    };
    let e = c
        .report_usage_record_group("ent-1", &v2)
        .expect_err("all zero v2");
    assert!(
        matches!(
            e,
            Error::InvalidRequest {
                field: "records",
                ..
            }
        ),
        "{e:?}"
    );

    let e = c
        .batch_report_usage_record_groups(&[
            new_group("ent-1", &[("a", 0.0)]),
            new_group("ent-2", &[("b", 0.0)]),
        ])
        .expect_err("all zero batch");
    assert!(
        matches!(
            e,
            Error::InvalidRequest {
                field: "records",
                ..
            }
        ),
        "{e:?}"
    );

    assert_eq!(fake.requests().len(), 0);
    assert!(fake.usage_record_groups().is_empty());
}

#[test]
fn a_batch_with_some_zero_items_is_accepted() {
    let fake = start();
    let c = client(&fake);
    let created = c
        .batch_report_usage_record_groups(&[
            new_group("ent-1", &[("a", 0.0)]),
            new_group("ent-2", &[("b", 4.0)]),
        ])
        .expect("only an all-zero batch is refused");
    assert_eq!(created.len(), 2);
    assert_eq!(fake.usage_record_groups().len(), 2);
}

#[test]
fn other_client_side_refusals_send_nothing() {
    let fake = start();
    let c = client(&fake);
    let long_id = "x".repeat(37);
    let cases: Vec<(&str, CreateUsageRecordGroupParams, &str)> = vec![
        ("ent-1", params(Some(&long_id), &[("a", 1.0)]), "id"),
        ("ent-1", params(Some(""), &[("a", 1.0)]), "id"),
        ("", params(None, &[("a", 1.0)]), "entitlement_id"),
        ("ent-1", params(None, &[]), "records"),
        ("ent-1", params(None, &[("a", f64::NAN)]), "records"),
        (
            "ent-1",
            CreateUsageRecordGroupParams {
                records: records(&[("a", 1.0)]),
                billable_records: vec![MeteringUsageRecord::new("k", 1.0)],
                ..Default::default()
            },
            "records",
        ),
        (
            "ent-1",
            CreateUsageRecordGroupParams {
                records: records(&[("a", 1.0)]),
                entitlement_id: "ent-2".into(),
                ..Default::default()
            },
            "entitlement_id",
        ),
        (
            "ent-1",
            CreateUsageRecordGroupParams {
                records: records(&[("a", 1.0)]),
                organization_id: "other-org".into(),
                ..Default::default()
            },
            "organization_id",
        ),
        (
            "ent-1",
            CreateUsageRecordGroupParams {
                records: records(&[("a", 1.0)]),
                meta_info: Some(Default::default()),
                ..Default::default()
            },
            "meta_info",
        ),
    ];
    for (ent, p, field) in cases {
        match c.report_usage_record_group(ent, &p) {
            Err(Error::InvalidRequest { field: f, .. }) => assert_eq!(f, field, "{p:?}"),
            other => panic!("expected InvalidRequest on {field} for {p:?}, got {other:?}"),
        }
    }
    // 36 characters is fine (counted in characters, not bytes).
    let id36: String = "é".repeat(36);
    c.report_usage_record_group("ent-1", &params(Some(&id36), &[("a", 1.0)]))
        .expect("36 characters");
    assert_eq!(fake.requests().len(), 1);
    assert_eq!(stored_ids(&fake), [id36]);
}

#[test]
fn v2_billable_records_are_stored_and_records_is_sent_as_an_empty_object() {
    let fake = start();
    let c = client(&fake);
    let p = CreateUsageRecordGroupParams {
        id: Some("v2-1".into()),
        billable_records: vec![
            MeteringUsageRecord::new("cpu_hours", 2.5).property("region", "us-east-1"),
            MeteringUsageRecord::new("requests", 10.0),
        ],
        ..Default::default()
    };
    let group = c
        .report_usage_record_group("ent-v2", &p)
        .expect("report v2");

    let body = fake.requests()[0].json().expect("JSON body");
    assert_eq!(body["records"], json!({}));
    assert_eq!(
        body["billableRecords"],
        json!([
            {"key": "cpu_hours", "quantity": 2.5, "properties": {"region": "us-east-1"}},
            {"key": "requests", "quantity": 10}
        ])
    );

    // Returned: no v1 records (the server's `null`), the v2 records in metaInfo.
    assert!(group.records.is_empty());
    let meta = group.meta_info.expect("metaInfo");
    assert_eq!(meta.billable_records, p.billable_records);
    assert_eq!(meta.source, Some(UsageRecordGroupSource::Api));

    // Stored.
    let stored = stored_group(&fake, "v2-1");
    assert_eq!(stored["records"], Value::Null);
    assert_eq!(
        stored["metaInfo"]["billableRecords"],
        json!([
            {"key": "cpu_hours", "quantity": 2.5, "properties": {"region": "us-east-1"}},
            {"key": "requests", "quantity": 10, "properties": null}
        ])
    );
    assert_eq!(stored["entitlementID"], "ent-v2");
}

#[test]
fn ids_with_reserved_characters_are_percent_encoded_and_round_trip() {
    let fake = start();
    let c = client(&fake);
    let ent = "ent 1/../ü?x=1";
    let g = c
        .report_usage_record_group(ent, &params(Some("id/with space"), &[("a", 1.0)]))
        .expect("report");
    assert_eq!(g.entitlement_id, ent);
    assert_eq!(
        fake.requests()[0].path,
        "/org/fake-org/entitlement/ent%201%2F..%2F%C3%BC%3Fx%3D1/usageRecordGroup"
    );
    let stored = stored_group(&fake, "id/with space");
    assert_eq!(stored["entitlementID"], ent);
    assert_eq!(
        list_ids(&c, &ListUsageRecordGroups::new().entitlement_id(ent)),
        ["id/with space"]
    );
    let deleted = c
        .delete_usage_record_group("id/with space", None)
        .expect("delete");
    assert_eq!(deleted.status, Some(UsageRecordGroupStatus::Deleted));
}

#[test]
fn report_with_a_timestamp_keeps_it() {
    let fake = start();
    let c = client(&fake);
    let at = time::macros::datetime!(2026-03-01 10:00:00.123456789 +02:00);
    let p = CreateUsageRecordGroupParams {
        id: Some("ts".into()),
        records: records(&[("a", 1.0)]),
        timestamp: Some(at),
        ..Default::default()
    };
    let g = c.report_usage_record_group("ent-1", &p).expect("report");
    assert_eq!(g.meta_info.expect("metaInfo").timestamp, Some(at));
    assert_eq!(
        stored_group(&fake, "ts")["metaInfo"]["timestamp"],
        "2026-03-01T08:00:00.123456789Z"
    );
}

#[test]
fn batch_report_creates_each_group() {
    let fake = start();
    let c = client(&fake);
    let batch = vec![
        new_group("ent-a", &[("api_calls", 1.0)]),
        new_group("ent-b", &[("api_calls", 2.0), ("storage_gb", 0.5)]),
        NewUsageRecordGroup {
            entitlement_id: "ent-a".into(),
            billable_records: vec![MeteringUsageRecord::new("cpu", 7.0)],
            ..Default::default()
        },
    ];
    let created = c.batch_report_usage_record_groups(&batch).expect("batch");
    assert_eq!(created.len(), 3);
    assert_eq!(
        requests_for(&fake, Operation::BatchReportUsageRecordGroups),
        1
    );
    assert_eq!(fake.requests().len(), 1);

    let stored = fake.usage_record_groups();
    assert_eq!(stored.len(), 3);
    assert_eq!(stored_ids(&fake), ids(&created));
    assert_eq!(
        ids(&created).into_iter().collect::<HashSet<_>>().len(),
        3,
        "distinct ids"
    );
    for (i, (sent, got)) in batch.iter().zip(&created).enumerate() {
        assert_eq!(got.entitlement_id, sent.entitlement_id, "item {i}");
        assert_eq!(got.records, sent.records, "item {i}");
        assert_eq!(
            got.status,
            Some(UsageRecordGroupStatus::Created),
            "item {i}"
        );
        assert_eq!(stored[i]["entitlementID"], sent.entitlement_id.as_str());
        assert!(is_uuid_shaped(&got.id), "{}", got.id);
    }
    assert_eq!(
        created[2]
            .meta_info
            .as_ref()
            .expect("meta")
            .billable_records,
        batch[2].billable_records
    );
    // The request body is the list of items, without ids or metaInfo.
    let body = fake.requests()[0].json().expect("JSON");
    let items = body.as_array().expect("array");
    assert_eq!(items.len(), 3);
    for item in items {
        assert!(item.get("id").is_none());
        assert!(item.get("metaInfo").is_none());
    }
    assert_eq!(items[2]["records"], json!({}));
}

#[test]
fn batch_validate_answers_empty_for_valid_and_the_reason_otherwise() {
    let fake = start();
    let c = client(&fake);
    let verdict = c
        .batch_validate_usage_record_groups(&[
            new_group("ent-a", &[("api_calls", 1.0)]),
            new_group("ent-b", &[("api_calls", 0.0)]),
        ])
        .expect("validate");
    assert_eq!(verdict, "");

    // An empty billable-record key is refused by the client, before anything is sent.
    let refused = c
        .batch_validate_usage_record_groups(&[NewUsageRecordGroup {
            entitlement_id: "ent-a".into(),
            billable_records: vec![MeteringUsageRecord::new("", 1.0)],
            ..Default::default()
        }])
        .expect_err("an empty key is refused");
    assert!(
        matches!(
            refused,
            Error::InvalidRequest {
                field: "billable_records",
                ..
            }
        ),
        "{refused:?}"
    );
    // What only the server knows comes back as a 400 with a description: the verdict.
    fake.inject(
        Fault::status(400)
            .body(r#""usageRecordGroups[0]: entitlement ent-z is not active""#)
            .only(Operation::BatchValidateUsageRecordGroups),
    );
    let verdict = c
        .batch_validate_usage_record_groups(&[new_group("ent-z", &[("api_calls", 1.0)])])
        .expect("validate");
    assert_eq!(
        verdict,
        "usageRecordGroups[0]: entitlement ent-z is not active"
    );

    assert_eq!(
        requests_for(&fake, Operation::BatchValidateUsageRecordGroups),
        2
    );
    assert!(fake.usage_record_groups().is_empty(), "nothing recorded");
}

// ---------------------------------------------------------------------------------------------
// Listing
// ---------------------------------------------------------------------------------------------

/// Reports 6 groups: ent-a x3 (api_calls 1,2,3), ent-b x2 (api_calls 3, storage 1), ent-c x1 (v2).
fn seed(fake: &FakeSuger, c: &MeteringClient) -> Date {
    let g = c
        .report_usage_record_group("ent-a", &params(Some("a1"), &[("api_calls", 1.0)]))
        .expect("seed");
    for (ent, id, pairs) in [
        ("ent-a", "a2", &[("api_calls", 2.0)][..]),
        ("ent-a", "a3", &[("api_calls", 3.0)][..]),
        ("ent-b", "b1", &[("api_calls", 3.0)][..]),
        ("ent-b", "b2", &[("storage_gb", 1.0)][..]),
    ] {
        c.report_usage_record_group(ent, &params(Some(id), pairs))
            .expect("seed");
    }
    c.report_usage_record_group(
        "ent-c",
        &CreateUsageRecordGroupParams {
            id: Some("c1".into()),
            billable_records: vec![MeteringUsageRecord::new("cpu", 1.0)],
            ..Default::default()
        },
    )
    .expect("seed");
    assert_eq!(fake.usage_record_groups().len(), 6);
    g.creation_time.expect("creation time").date()
}

fn list_ids(c: &MeteringClient, q: &ListUsageRecordGroups) -> Vec<String> {
    let page = c.list_usage_record_groups(q).expect("list");
    ids(&page.usage_record_groups)
}

#[test]
fn list_with_every_filter() {
    let fake = start();
    let c = client(&fake);
    let today = seed(&fake, &c);
    let all = ["a1", "a2", "a3", "b1", "b2", "c1"];

    // No filter: everything, no nextOffset, no query sent.
    let page = c
        .list_usage_record_groups(&ListUsageRecordGroups::new())
        .expect("list");
    assert_eq!(ids(&page.usage_record_groups), all);
    assert_eq!(page.next_offset, None);
    assert_eq!(last_query(&fake), []);

    // partner
    assert_eq!(
        list_ids(&c, &ListUsageRecordGroups::new().partner(Partner::Aws)),
        all
    );
    assert_eq!(
        last_query(&fake),
        [("partner".to_string(), "AWS".to_string())]
    );
    assert!(list_ids(&c, &ListUsageRecordGroups::new().partner(Partner::Gcp)).is_empty());

    // buyer
    assert_eq!(
        list_ids(&c, &ListUsageRecordGroups::new().buyer_id("buyer-ent-b")),
        ["b1", "b2"]
    );
    assert_eq!(
        last_query(&fake),
        [("buyerId".to_string(), "buyer-ent-b".to_string())]
    );

    // entitlement
    assert_eq!(
        list_ids(&c, &ListUsageRecordGroups::new().entitlement_id("ent-a")),
        ["a1", "a2", "a3"]
    );
    assert_eq!(
        last_query(&fake),
        [("entitlementId".to_string(), "ent-a".to_string())]
    );

    // status
    fake.set_group_status("a2", "INVALID");
    assert_eq!(
        list_ids(
            &c,
            &ListUsageRecordGroups::new().status(UsageRecordGroupStatus::Invalid)
        ),
        ["a2"]
    );
    assert_eq!(
        last_query(&fake),
        [("status".to_string(), "INVALID".to_string())]
    );
    assert_eq!(
        list_ids(
            &c,
            &ListUsageRecordGroups::new().status(UsageRecordGroupStatus::Created)
        ),
        ["a1", "a3", "b1", "b2", "c1"]
    );
    // An unknown status is sent as is and decodes as Other.
    fake.set_group_status("b2", "ARCHIVED");
    let page = c
        .list_usage_record_groups(
            &ListUsageRecordGroups::new().status(UsageRecordGroupStatus::Other("ARCHIVED".into())),
        )
        .expect("list");
    assert_eq!(ids(&page.usage_record_groups), ["b2"]);
    assert_eq!(
        page.usage_record_groups[0].status,
        Some(UsageRecordGroupStatus::Other("ARCHIVED".into()))
    );

    // source
    assert_eq!(
        list_ids(
            &c,
            &ListUsageRecordGroups::new().source(UsageRecordGroupSource::Api)
        ),
        all
    );
    assert_eq!(
        last_query(&fake),
        [("source".to_string(), "API".to_string())]
    );
    assert!(
        list_ids(
            &c,
            &ListUsageRecordGroups::new().source(UsageRecordGroupSource::Stripe)
        )
        .is_empty()
    );

    // metaInfo: a substring of the compact metaInfo JSON.
    assert_eq!(
        list_ids(
            &c,
            &ListUsageRecordGroups::new().meta_info(r#""api_calls":3"#)
        ),
        ["a3", "b1"]
    );
    assert_eq!(
        last_query(&fake),
        [("metaInfo".to_string(), r#""api_calls":3"#.to_string())]
    );
    assert_eq!(
        list_ids(
            &c,
            &ListUsageRecordGroups::new().meta_info(r#""key":"cpu""#)
        ),
        ["c1"]
    );

    // dates (inclusive, UTC, on creationTime)
    let yesterday = today - TimeDuration::days(1);
    let tomorrow = today + TimeDuration::days(1);
    assert_eq!(
        list_ids(
            &c,
            &ListUsageRecordGroups::new()
                .start_date(today)
                .end_date(today)
        ),
        all
    );
    assert_eq!(
        last_query(&fake),
        [
            ("startDate".to_string(), today.to_string()),
            ("endDate".to_string(), today.to_string()),
        ]
    );
    assert!(list_ids(&c, &ListUsageRecordGroups::new().start_date(tomorrow)).is_empty());
    assert!(list_ids(&c, &ListUsageRecordGroups::new().end_date(yesterday)).is_empty());
    assert_eq!(
        list_ids(&c, &ListUsageRecordGroups::new().start_date(yesterday)),
        all
    );

    // limit / offset / nextOffset
    let page = c
        .list_usage_record_groups(&ListUsageRecordGroups::new().limit(4))
        .expect("list");
    assert_eq!(ids(&page.usage_record_groups), ["a1", "a2", "a3", "b1"]);
    assert_eq!(page.next_offset, Some(4));
    let page = c
        .list_usage_record_groups(&ListUsageRecordGroups::new().limit(4).offset(4))
        .expect("list");
    assert_eq!(ids(&page.usage_record_groups), ["b2", "c1"]);
    assert_eq!(page.next_offset, None);
    assert_eq!(
        last_query(&fake),
        [
            ("limit".to_string(), "4".to_string()),
            ("offset".to_string(), "4".to_string()),
        ]
    );
    let page = c
        .list_usage_record_groups(&ListUsageRecordGroups::new().offset(100))
        .expect("list");
    assert!(page.usage_record_groups.is_empty());
    assert_eq!(page.next_offset, None);

    // Everything combined.
    let page = c
        .list_usage_record_groups(
            &ListUsageRecordGroups::new()
                .entitlement_id("ent-a")
                .status(UsageRecordGroupStatus::Created)
                .source(UsageRecordGroupSource::Api)
                .meta_info("api_calls")
                .start_date(today)
                .end_date(today)
                .limit(1)
                .offset(1),
        )
        .expect("list");
    assert_eq!(ids(&page.usage_record_groups), ["a3"]);
    assert_eq!(page.next_offset, None);
    let q: Vec<String> = last_query(&fake).into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        q,
        [
            "entitlementId",
            "status",
            "source",
            "metaInfo",
            "startDate",
            "endDate",
            "limit",
            "offset"
        ]
    );

    // Client-side refusals send nothing.
    let before = fake.requests().len();
    let others = [
        ListUsageRecordGroups::new().limit(0),
        ListUsageRecordGroups::new().limit(1001),
        ListUsageRecordGroups::new().entitlement_id(""),
        ListUsageRecordGroups::new()
            .start_date(tomorrow)
            .end_date(today),
    ];
    for bad in crate::support::conflicting_id_filters()
        .into_iter()
        .chain(others)
    {
        let e = c.list_usage_record_groups(&bad).expect_err("refused");
        assert!(matches!(e, Error::InvalidRequest { .. }), "{bad:?}: {e:?}");
    }
    assert_eq!(fake.requests().len(), before);
}

// ---------------------------------------------------------------------------------------------
// Delete and retry
// ---------------------------------------------------------------------------------------------

#[test]
fn delete_created_ok_reported_400_unknown_404() {
    let fake = start();
    let c = client(&fake);
    let today = seed(&fake, &c);

    // CREATED -> DELETED, with and without creationDate.
    let deleted = c.delete_usage_record_group("a1", None).expect("delete");
    assert_eq!(deleted.id, "a1");
    assert_eq!(deleted.status, Some(UsageRecordGroupStatus::Deleted));
    assert_eq!(stored_group(&fake, "a1")["status"], "DELETED");
    let deleted = c
        .delete_usage_record_group("a2", Some(today))
        .expect("delete with creation date");
    assert_eq!(deleted.status, Some(UsageRecordGroupStatus::Deleted));
    assert_eq!(
        last_query(&fake),
        [("creationDate".to_string(), today.to_string())]
    );

    // INVALID can be deleted too.
    fake.set_group_status("a3", "INVALID");
    c.delete_usage_record_group("a3", None)
        .expect("delete INVALID");

    // Deleted groups are hidden unless asked for.
    assert_eq!(
        list_ids(&c, &ListUsageRecordGroups::new()),
        ["b1", "b2", "c1"]
    );
    assert_eq!(
        list_ids(
            &c,
            &ListUsageRecordGroups::new().status(UsageRecordGroupStatus::Deleted)
        ),
        ["a1", "a2", "a3"]
    );

    // REPORTED cannot be deleted.
    fake.run_report_cycle();
    assert_eq!(stored_group(&fake, "b1")["status"], "REPORTED");
    let e = c
        .delete_usage_record_group("b1", None)
        .expect_err("REPORTED");
    assert_eq!(e.status(), Some(400));
    assert!(matches!(e, Error::Api { status: 400, .. }));
    assert_eq!(
        e.message(),
        Some(
            "usage record group \"b1\" has status REPORTED and cannot be deleted; only CREATED or INVALID can"
        )
    );
    assert_eq!(stored_group(&fake, "b1")["status"], "REPORTED");
    // A DELETED group cannot be deleted again.
    let e = c
        .delete_usage_record_group("a1", None)
        .expect_err("DELETED");
    assert_eq!(e.status(), Some(400));

    // Unknown id, or the wrong creation date: 404.
    let e = c
        .delete_usage_record_group("nope", None)
        .expect_err("unknown");
    assert!(e.is_not_found(), "{e:?}");
    assert!(matches!(e, Error::Api { status: 404, .. }));
    let e = c
        .delete_usage_record_group("c1", Some(today - TimeDuration::days(1)))
        .expect_err("wrong date");
    assert!(e.is_not_found(), "{e:?}");
    assert_eq!(stored_group(&fake, "c1")["status"], "REPORTED");

    // Ids are percent-encoded: a `/` in an id cannot change the route.
    let e = c
        .delete_usage_record_group("a/../b1", None)
        .expect_err("unknown");
    assert!(e.is_not_found());
    assert_eq!(
        fake.requests().last().expect("request").path,
        "/org/fake-org/usageRecordGroup/a%2F..%2Fb1"
    );
    assert_eq!(
        c.delete_usage_record_group("", None)
            .expect_err("empty")
            .status(),
        None
    );
}

#[test]
fn report_cycle_reports_groups_and_lists_reports() {
    let fake = start();
    let c = client(&fake);
    seed(&fake, &c);

    let report_ids = fake.run_report_cycle();
    assert_eq!(report_ids.len(), 3, "one report per entitlement");

    let groups = c
        .list_usage_record_groups(&ListUsageRecordGroups::new())
        .expect("list")
        .usage_record_groups;
    assert_eq!(groups.len(), 6);
    for g in &groups {
        assert_eq!(g.status, Some(UsageRecordGroupStatus::Reported), "{}", g.id);
        assert!(g.reported_time.is_some(), "{}", g.id);
        assert!(report_ids.contains(&g.usage_record_report_id), "{}", g.id);
    }
    assert_eq!(
        list_ids(
            &c,
            &ListUsageRecordGroups::new().status(UsageRecordGroupStatus::Reported)
        )
        .len(),
        6
    );

    let page = c
        .list_usage_record_reports(&ListUsageRecordReports::new())
        .expect("reports");
    let listed: Vec<String> = page
        .usage_record_reports
        .iter()
        .map(|r| r.id.clone())
        .collect();
    assert_eq!(listed, report_ids);
    assert_eq!(page.next_offset, None);
    let a = &page.usage_record_reports[0];
    assert_eq!(a.entitlement_id, "ent-a");
    assert_eq!(a.buyer_id, "buyer-ent-a");
    assert_eq!(a.partner, Some(Partner::Aws));
    let info = a.info.as_ref().expect("info");
    assert_eq!(info.status, Some(UsageRecordReportStatus::Success));
    assert_eq!(info.usage_record_group_ids, ["a1", "a2", "a3"]);
    assert_eq!(info.reported_records, records(&[("api_calls", 6.0)]));
    let c1 = &page.usage_record_reports[2].info.as_ref().expect("info");
    assert_eq!(c1.usage_record_group_ids, ["c1"]);
    assert_eq!(c1.aggregated_billable_records.len(), 1);
    assert_eq!(c1.aggregated_billable_records[0].key, "cpu");
    assert_eq!(c1.aggregated_billable_records[0].quantity, 1.0);

    // Filters of the report list.
    let by_ent = c
        .list_usage_record_reports(&ListUsageRecordReports::new().entitlement_id("ent-b"))
        .expect("reports");
    assert_eq!(by_ent.usage_record_reports.len(), 1);
    assert_eq!(by_ent.usage_record_reports[0].id, report_ids[1]);
    let by_buyer = c
        .list_usage_record_reports(&ListUsageRecordReports::new().buyer_id("buyer-ent-c"))
        .expect("reports");
    assert_eq!(by_buyer.usage_record_reports[0].id, report_ids[2]);
    let none = c
        .list_usage_record_reports(&ListUsageRecordReports::new().partner(Partner::Azure))
        .expect("reports");
    assert!(none.usage_record_reports.is_empty());
    let paged = c
        .list_usage_record_reports(&ListUsageRecordReports::new().limit(2))
        .expect("reports");
    assert_eq!(paged.usage_record_reports.len(), 2);
    assert_eq!(paged.next_offset, Some(2));

    // A second cycle finds nothing to report.
    assert!(fake.run_report_cycle().is_empty());
}

#[test]
fn failed_report_then_retry_goes_back_to_created() {
    let fake = start();
    let c = client(&fake);
    seed(&fake, &c);
    fake.fail_next_report_for("a2");

    let report_ids = fake.run_report_cycle();
    assert_eq!(
        report_ids.len(),
        4,
        "ent-a has a SUCCESS and a FAILED report"
    );
    assert_eq!(stored_group(&fake, "a2")["status"], "REPORT_FAILED");
    assert_eq!(stored_group(&fake, "a1")["status"], "REPORTED");
    assert_eq!(
        list_ids(
            &c,
            &ListUsageRecordGroups::new().status(UsageRecordGroupStatus::ReportFailed)
        ),
        ["a2"]
    );
    let failed: Vec<_> = c
        .list_usage_record_reports(&ListUsageRecordReports::new())
        .expect("reports")
        .usage_record_reports
        .into_iter()
        .filter(|r| {
            r.info.as_ref().and_then(|i| i.status.clone()) == Some(UsageRecordReportStatus::Failed)
        })
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(
        failed[0]
            .info
            .as_ref()
            .expect("info")
            .usage_record_group_ids,
        ["a2"]
    );

    let retried = c.retry_usage_record_group("a2", None).expect("retry");
    assert_eq!(retried.id, "a2");
    assert_eq!(retried.status, Some(UsageRecordGroupStatus::Created));
    assert_eq!(stored_group(&fake, "a2")["status"], "CREATED");
    let req = fake.requests().last().expect("request").clone();
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/org/fake-org/usageRecordGroup/a2/retry");
    assert_eq!(req.body, b"");
    assert_eq!(req.header("content-length"), Some("0"));
    assert_eq!(req.header("transfer-encoding"), None);
    assert_eq!(req.header("content-type"), None);

    // Retrying a CREATED (or REPORTED) group is a 400, an unknown one a 404.
    let e = c.retry_usage_record_group("a2", None).expect_err("CREATED");
    assert!(matches!(e, Error::Api { status: 400, .. }), "{e:?}");
    assert_eq!(
        e.message(),
        Some(
            "usage record group \"a2\" has status CREATED and cannot be retried; only REPORT_FAILED can"
        )
    );
    let e = c
        .retry_usage_record_group("a1", None)
        .expect_err("REPORTED");
    assert_eq!(e.status(), Some(400));
    let e = c.retry_usage_record_group("zz", None).expect_err("unknown");
    assert!(e.is_not_found());

    // The next cycle reports it.
    assert_eq!(fake.run_report_cycle().len(), 1);
    assert_eq!(stored_group(&fake, "a2")["status"], "REPORTED");
}

// ---------------------------------------------------------------------------------------------
// Billable metrics and config
// ---------------------------------------------------------------------------------------------

#[test]
fn billable_metric_create_get_list_update_and_not_found() {
    let fake = start();
    let c = client(&fake);

    let created = c
        .create_billable_metric(&BillableMetric {
            id: "bm-calls".into(),
            name: "API calls".into(),
            description: "every call".into(),
            aggregation_type: Some(BillableMetricAggregationType::Sum),
            info: Some(BillableMetricInfo {
                group_bys: vec!["region".into()],
                ..Default::default()
            }),
            // Ignored by the server: always ACTIVE.
            status: Some(BillableMetricStatus::Deleted),
            ..Default::default()
        })
        .expect("create");
    assert_eq!(created.id, "bm-calls");
    assert_eq!(created.name, "API calls");
    assert_eq!(created.organization_id, "fake-org");
    assert_eq!(created.status, Some(BillableMetricStatus::Active));
    assert_eq!(
        created.aggregation_type,
        Some(BillableMetricAggregationType::Sum)
    );
    assert_eq!(
        created.info.as_ref().expect("info").group_bys,
        ["region".to_string()]
    );
    assert!(created.creation_time.is_some());

    // Without an id the server assigns one.
    let second = c
        .create_billable_metric(&BillableMetric {
            name: "Storage".into(),
            ..Default::default()
        })
        .expect("create");
    assert!(is_uuid_shaped(&second.id), "{}", second.id);
    assert_eq!(second.info, None);

    // A duplicate id is a 400 and creates nothing.
    let e = c
        .create_billable_metric(&BillableMetric {
            id: "bm-calls".into(),
            name: "Again".into(),
            ..Default::default()
        })
        .expect_err("duplicate");
    assert!(matches!(e, Error::Api { status: 400, .. }), "{e:?}");
    assert_eq!(fake.billable_metrics().len(), 2);

    // Name rules are checked before sending.
    let before = fake.requests().len();
    for name in ["abc", &"n".repeat(51)] {
        let e = c
            .create_billable_metric(&BillableMetric {
                name: name.to_string(),
                ..Default::default()
            })
            .expect_err("bad name");
        assert!(matches!(e, Error::InvalidRequest { field: "name", .. }));
    }
    assert_eq!(fake.requests().len(), before);

    let got = c.get_billable_metric("bm-calls").expect("get");
    assert_eq!(got, created);

    let all = c
        .list_billable_metrics(&ListBillableMetrics::new())
        .expect("list");
    assert_eq!(
        all.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        ["bm-calls", second.id.as_str()]
    );
    assert!(
        c.list_billable_metrics(&ListBillableMetrics::new().status(BillableMetricStatus::Deleted))
            .expect("list")
            .is_empty(),
        "the server's null decodes as empty"
    );

    let updated = c
        .update_billable_metric(
            "bm-calls",
            &UpdateBillableMetricParams {
                description: Some("calls, all regions".into()),
                status: Some(BillableMetricStatus::Deleted),
                ..Default::default()
            },
        )
        .expect("update");
    assert_eq!(updated.name, "API calls", "absent fields unchanged");
    assert_eq!(updated.description, "calls, all regions");
    assert_eq!(updated.status, Some(BillableMetricStatus::Deleted));
    let body = fake
        .requests()
        .last()
        .expect("request")
        .json()
        .expect("JSON");
    assert_eq!(
        body,
        json!({"description": "calls, all regions", "status": "DELETED"})
    );

    let deleted = c
        .list_billable_metrics(&ListBillableMetrics::new().status(BillableMetricStatus::Deleted))
        .expect("list");
    assert_eq!(
        deleted.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        ["bm-calls"]
    );
    assert_eq!(
        last_query(&fake),
        [("status".to_string(), "DELETED".to_string())]
    );
    let active = c
        .list_billable_metrics(&ListBillableMetrics::new().status(BillableMetricStatus::Active))
        .expect("list");
    assert_eq!(
        active.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        [second.id.as_str()]
    );

    let e = c.get_billable_metric("missing").expect_err("404");
    assert!(e.is_not_found(), "{e:?}");
    assert!(matches!(e, Error::Api { status: 404, .. }));
    let e = c
        .update_billable_metric(
            "missing",
            &UpdateBillableMetricParams {
                name: Some("Renamed".into()),
                ..Default::default()
            },
        )
        .expect_err("404");
    assert!(e.is_not_found(), "{e:?}");
    assert_eq!(fake.billable_metrics().len(), 2);
}

#[test]
fn config_get_null_as_empty_and_patch_round_trip() {
    let fake = start();
    let c = client(&fake);

    let initial = c.get_usage_metering_config_info().expect("get");
    assert_eq!(initial, UsageMeteringConfigInfo::default());
    assert!(initial.partner_usage_metering_configs.is_empty());

    let wanted = UsageMeteringConfigInfo {
        partner_usage_metering_configs: vec![
            PartnerUsageMeteringConfig {
                partner: Some(Partner::Aws),
                enable_dimension_mapping: true,
                enable_billable_dimension: true,
                dimension_mapping_v2: [(
                    "api_calls".to_string(),
                    vec![UsageMeteringDimensionMappingValue {
                        dimension_key: "calls".into(),
                        convertion_multiplier: Some(0.5),
                        mapping_mode: Some(UsageMeteringDimensionMappingMode::Quantity),
                        ..Default::default()
                    }],
                )]
                .into(),
                ..Default::default()
            },
            PartnerUsageMeteringConfig {
                partner: Some(Partner::Gcp),
                enable_commit_with_additional_usage_metering: true,
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let updated = c.update_usage_metering_config_info(&wanted).expect("patch");
    assert_eq!(updated, wanted);
    let req = fake.requests().last().expect("request").clone();
    assert_eq!(req.method, "PATCH");
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(c.get_usage_metering_config_info().expect("get"), wanted);

    // Back to empty: sent as [], answered as [].
    let cleared = c
        .update_usage_metering_config_info(&UsageMeteringConfigInfo::default())
        .expect("patch");
    assert!(cleared.partner_usage_metering_configs.is_empty());
    assert_eq!(
        fake.requests().last().expect("request").json(),
        Some(json!({"partnerUsageMeteringConfigs": []}))
    );
    assert_eq!(
        c.get_usage_metering_config_info().expect("get"),
        UsageMeteringConfigInfo::default()
    );
}

// ---------------------------------------------------------------------------------------------
// Auth
// ---------------------------------------------------------------------------------------------

#[test]
fn a_wrong_api_key_is_a_401_and_not_retried() {
    let fake = start();
    let c = fake
        .client_builder()
        .api_key("wrong-key")
        .retry(RetryPolicy::default().sleep_fn(|_| panic!("a 401 must not be retried")))
        .build()
        .expect("build");
    let e = c.get_billable_metric("bm-1").expect_err("401");
    match &e {
        Error::Api {
            status, message, ..
        } => {
            assert_eq!(*status, 401);
            assert_eq!(message, "unauthorized");
        }
        other => panic!("expected Error::Api 401, got {other:?}"),
    }
    assert!(!e.is_retryable());
    assert!(!format!("{e} {e:?}").contains("wrong-key"));

    let e = c
        .report_usage_record_group("ent-1", &params(None, &[("a", 1.0)]))
        .expect_err("401");
    assert_eq!(e.status(), Some(401));
    assert!(!e.is_already_reported());
    assert_eq!(fake.requests().len(), 2);
    assert_eq!(
        fake.requests()[0].header("authorization"),
        Some("Key wrong-key")
    );
    assert!(fake.usage_record_groups().is_empty());

    // The right key is sent as `Authorization: Key <key>`.
    client(&fake).get_usage_metering_config_info().expect("ok");
    assert_eq!(
        fake.requests()[2].header("authorization"),
        Some("Key fake-api-key")
    );
    assert_eq!(
        fake.requests()[2].header("accept"),
        Some("application/json")
    );
}

#[test]
fn another_org_is_a_403() {
    let fake = start();
    let c = fake
        .client_builder()
        .org_id("other-org")
        .retry(RetryPolicy::default().sleep_fn(|_| {}))
        .build()
        .expect("build");
    let e = c
        .list_billable_metrics(&ListBillableMetrics::new())
        .expect_err("403");
    assert!(matches!(e, Error::Api { status: 403, .. }), "{e:?}");
    assert_eq!(fake.requests().len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Pagination iterators
// ---------------------------------------------------------------------------------------------

#[test]
fn usage_record_groups_iterator_walks_every_page() {
    let fake = start();
    let c = client(&fake);
    let batch: Vec<_> = (0..50)
        .map(|i| new_group("ent-1", &[("api_calls", f64::from(i + 1))]))
        .collect();
    c.batch_report_usage_record_groups(&batch).expect("seed");
    let expected = stored_ids(&fake);
    assert_eq!(expected.len(), 50);
    let before = fake.requests().len();

    let got: Vec<String> = c
        .usage_record_groups(&ListUsageRecordGroups::new().limit(7))
        .map(|g| g.expect("page").id)
        .collect();
    assert_eq!(got, expected, "every group once, in order");
    assert_eq!(got.iter().collect::<HashSet<_>>().len(), 50);

    let reqs = &fake.requests()[before..];
    assert_eq!(reqs.len(), 8, "7 pages of 7 and one of 1");
    for (i, r) in reqs.iter().enumerate() {
        assert_eq!(r.operation, Some(Operation::ListUsageRecordGroups));
        let mut want = vec![("limit".to_string(), "7".to_string())];
        if i > 0 {
            want.push(("offset".to_string(), (i * 7).to_string()));
        }
        assert_eq!(r.query, want, "request {i}");
    }

    // Starting at an offset, with a filter.
    let tail: Vec<String> = c
        .usage_record_groups(
            &ListUsageRecordGroups::new()
                .entitlement_id("ent-1")
                .limit(20)
                .offset(45),
        )
        .map(|g| g.expect("page").id)
        .collect();
    assert_eq!(tail, expected[45..]);

    // An empty result: one request, no items.
    let before = fake.requests().len();
    assert_eq!(
        c.usage_record_groups(&ListUsageRecordGroups::new().entitlement_id("none"))
            .count(),
        0
    );
    assert_eq!(fake.requests().len(), before + 1);
}

#[test]
fn usage_record_reports_iterator_walks_every_page() {
    let fake = start();
    let c = client(&fake);
    let batch: Vec<_> = (0..50)
        .map(|i| new_group(&format!("ent-{i:02}"), &[("api_calls", 1.0)]))
        .collect();
    c.batch_report_usage_record_groups(&batch).expect("seed");
    let report_ids = fake.run_report_cycle();
    assert_eq!(report_ids.len(), 50);
    let before = fake.requests().len();

    let got: Vec<String> = c
        .usage_record_reports(&ListUsageRecordReports::new().limit(7))
        .map(|r| r.expect("page").id)
        .collect();
    assert_eq!(got, report_ids);
    assert_eq!(got.iter().collect::<HashSet<_>>().len(), 50);

    let reqs = &fake.requests()[before..];
    assert_eq!(reqs.len(), 8);
    for (i, r) in reqs.iter().enumerate() {
        assert_eq!(r.operation, Some(Operation::ListUsageRecordReports));
        let mut want = vec![("limit".to_string(), "7".to_string())];
        if i > 0 {
            want.push(("offset".to_string(), (i * 7).to_string()));
        }
        assert_eq!(r.query, want, "request {i}");
    }
}

#[test]
fn iterator_yields_an_error_once_and_stops() {
    let fake = start();
    let c = fake
        .client_builder()
        .retry(RetryPolicy::disabled())
        .build()
        .expect("build");
    let batch: Vec<_> = (0..10)
        .map(|_| new_group("ent-1", &[("api_calls", 1.0)]))
        .collect();
    c.batch_report_usage_record_groups(&batch).expect("seed");
    // The second page fails.
    fake.inject(
        suger_metering::fake::Fault::delay(std::time::Duration::ZERO)
            .only(Operation::ListUsageRecordGroups),
    );
    fake.inject(suger_metering::fake::Fault::status(400).only(Operation::ListUsageRecordGroups));
    let items: Vec<_> = c
        .usage_record_groups(&ListUsageRecordGroups::new().limit(4))
        .collect();
    assert_eq!(items.len(), 5);
    assert!(items[..4].iter().all(Result::is_ok));
    assert_eq!(items[4].as_ref().expect_err("error").status(), Some(400));
    assert_eq!(requests_for(&fake, Operation::ListUsageRecordGroups), 2);
}
