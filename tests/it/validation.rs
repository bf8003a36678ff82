//! Every rule the client enforces refuses with `Error::InvalidRequest` and sends nothing (the
//! catch-all mocks expect zero hits); the values just inside each limit are sent.

use crate::support::*;
use serde_json::json;
use suger_metering::*;
use time::Month;
use time::macros::date;

/// Runs `call` against a server where every route is a catch-all expecting no hit, asserts
/// nothing was sent, and returns the `InvalidRequest` field and reason.
fn refused<T: std::fmt::Debug>(
    call: impl FnOnce(&MeteringClient) -> suger_metering::Result<T>,
) -> (&'static str, String) {
    let mut s = server();
    let result = call(&client(&mut s));
    let (field, reason) = invalid(result);
    assert!(!reason.is_empty());
    (field, reason)
}

fn v1(pairs: &[(&str, f64)]) -> CreateUsageRecordGroupParams {
    CreateUsageRecordGroupParams {
        id: Some("g-1".into()),
        records: expected::quantities(pairs),
        ..Default::default()
    }
}

fn item(entitlement: &str, pairs: &[(&str, f64)]) -> NewUsageRecordGroup {
    NewUsageRecordGroup {
        entitlement_id: entitlement.into(),
        records: expected::quantities(pairs),
        ..Default::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Empty ids
// ---------------------------------------------------------------------------------------------

#[test]
fn report_with_an_empty_entitlement_id_is_refused() {
    let (field, reason) = refused(|c| c.report_usage_record_group("", &v1(&[("a", 1.0)])));
    assert_eq!(field, "entitlement_id");
    assert_eq!(reason, "must not be empty");
}

#[test]
fn report_with_an_empty_group_id_is_refused() {
    let params = CreateUsageRecordGroupParams {
        id: Some(String::new()),
        ..v1(&[("a", 1.0)])
    };
    let (field, _) = refused(|c| c.report_usage_record_group("ent-1", &params));
    assert_eq!(field, "id");
}

#[test]
fn delete_with_an_empty_id_is_refused() {
    let (field, reason) = refused(|c| c.delete_usage_record_group("", None));
    assert_eq!(field, "usage_record_group_id");
    assert_eq!(reason, "must not be empty");
    let (field, _) = refused(|c| c.delete_usage_record_group("", Some(date!(2026 - 03 - 02))));
    assert_eq!(field, "usage_record_group_id");
}

#[test]
fn retry_with_an_empty_id_is_refused() {
    let (field, reason) = refused(|c| c.retry_usage_record_group("", None));
    assert_eq!(field, "usage_record_group_id");
    assert_eq!(reason, "must not be empty");
}

#[test]
fn get_billable_metric_with_an_empty_id_is_refused() {
    let (field, reason) = refused(|c| c.get_billable_metric(""));
    assert_eq!(field, "billable_metric_id");
    assert_eq!(reason, "must not be empty");
}

#[test]
fn update_billable_metric_with_an_empty_id_is_refused() {
    let params = UpdateBillableMetricParams {
        name: Some("Tokens".into()),
        ..Default::default()
    };
    let (field, _) = refused(|c| c.update_billable_metric("", &params));
    assert_eq!(field, "billable_metric_id");
}

// ---------------------------------------------------------------------------------------------
// Usage record group id length
// ---------------------------------------------------------------------------------------------

#[test]
fn group_id_of_37_characters_is_refused() {
    let params = CreateUsageRecordGroupParams {
        id: Some("a".repeat(37)),
        ..v1(&[("a", 1.0)])
    };
    let (field, reason) = refused(|c| c.report_usage_record_group("ent-1", &params));
    assert_eq!(field, "id");
    assert!(reason.contains("36"), "{reason}");

    let params = CreateUsageRecordGroupParams {
        id: Some("é".repeat(37)),
        ..v1(&[("a", 1.0)])
    };
    let (field, _) = refused(|c| c.report_usage_record_group("ent-1", &params));
    assert_eq!(field, "id");
}

#[test]
fn group_id_of_exactly_36_unicode_characters_is_sent() {
    let id = "é".repeat(36); // 72 bytes, 36 characters
    let sent = json!({
        "id": id,
        "entitlementID": "ent-1",
        "organizationID": "org-1",
        "records": { "a": 1.0 }
    });
    answered_json(
        "POST",
        "/org/org-1/entitlement/ent-1/usageRecordGroup",
        sent,
        &fixture("report_usage_record_group.json"),
        |c| {
            c.report_usage_record_group(
                "ent-1",
                &CreateUsageRecordGroupParams {
                    id: Some(id.clone()),
                    ..v1(&[("a", 1.0)])
                },
            )
        },
    )
    .unwrap();
}

// ---------------------------------------------------------------------------------------------
// Records: v1 xor v2, not all zero, finite
// ---------------------------------------------------------------------------------------------

#[test]
fn report_with_both_records_and_billable_records_is_refused() {
    let params = CreateUsageRecordGroupParams {
        billable_records: vec![MeteringUsageRecord::new("tokens", 1.0)],
        ..v1(&[("a", 1.0)])
    };
    let (field, reason) = refused(|c| c.report_usage_record_group("ent-1", &params));
    assert_eq!(field, "records");
    assert!(reason.contains("not both"), "{reason}");
}

#[test]
fn report_with_neither_records_nor_billable_records_is_refused() {
    let (field, reason) = refused(|c| c.report_usage_record_group("ent-1", &v1(&[])));
    assert_eq!(field, "records");
    assert!(reason.contains("no usage"), "{reason}");
}

#[test]
fn report_where_every_v1_quantity_is_zero_is_refused() {
    let (field, reason) =
        refused(|c| c.report_usage_record_group("ent-1", &v1(&[("a", 0.0), ("b", -0.0)])));
    assert_eq!(field, "records");
    assert!(reason.contains("zero"), "{reason}");
}

#[test]
fn report_where_every_v2_quantity_is_zero_is_refused() {
    let params = CreateUsageRecordGroupParams {
        id: Some("g-1".into()),
        billable_records: vec![
            MeteringUsageRecord::new("tokens", 0.0),
            MeteringUsageRecord::new("seats", 0.0).property("plan", "pro"),
        ],
        ..Default::default()
    };
    let (field, reason) = refused(|c| c.report_usage_record_group("ent-1", &params));
    assert_eq!(field, "records");
    assert!(reason.contains("zero"), "{reason}");
}

#[test]
fn report_with_a_nan_or_infinite_quantity_is_refused() {
    for q in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let (field, reason) =
            refused(|c| c.report_usage_record_group("ent-1", &v1(&[("a", 1.0), ("b", q)])));
        assert_eq!(field, "records", "{q}");
        assert!(reason.contains("finite"), "{reason}");

        let params = CreateUsageRecordGroupParams {
            id: Some("g-1".into()),
            billable_records: vec![MeteringUsageRecord::new("tokens", q)],
            ..Default::default()
        };
        let (field, _) = refused(|c| c.report_usage_record_group("ent-1", &params));
        assert_eq!(field, "records", "{q}");
    }
}

#[test]
fn report_with_meta_info_is_refused() {
    let params = CreateUsageRecordGroupParams {
        meta_info: Some(MeteringUsageRecordGroupMetaInfo::default()),
        ..v1(&[("a", 1.0)])
    };
    let (field, reason) = refused(|c| c.report_usage_record_group("ent-1", &params));
    assert_eq!(field, "meta_info");
    assert!(reason.contains("read-only"), "{reason}");
}

#[test]
fn report_naming_another_entitlement_than_the_path_is_refused() {
    let params = CreateUsageRecordGroupParams {
        entitlement_id: "ent-2".into(),
        ..v1(&[("a", 1.0)])
    };
    let (field, reason) = refused(|c| c.report_usage_record_group("ent-1", &params));
    assert_eq!(field, "entitlement_id");
    assert!(
        reason.contains("ent-2") && reason.contains("ent-1"),
        "{reason}"
    );
}

#[test]
fn report_naming_another_org_than_the_client_is_refused() {
    let params = CreateUsageRecordGroupParams {
        organization_id: "org-2".into(),
        ..v1(&[("a", 1.0)])
    };
    let (field, reason) = refused(|c| c.report_usage_record_group("ent-1", &params));
    assert_eq!(field, "organization_id");
    assert!(
        reason.contains("org-2") && reason.contains("org-1"),
        "{reason}"
    );
}

// ---------------------------------------------------------------------------------------------
// Batches (report and validate)
// ---------------------------------------------------------------------------------------------

#[test]
fn empty_batch_is_refused() {
    let (field, _) = refused(|c| c.batch_report_usage_record_groups(&[]));
    assert_eq!(field, "usage_record_groups");
    let (field, _) = refused(|c| c.batch_validate_usage_record_groups(&[]));
    assert_eq!(field, "usage_record_groups");
}

#[test]
fn batch_where_every_quantity_of_every_group_is_zero_is_refused() {
    let batch = [
        item("ent-1", &[("a", 0.0)]),
        NewUsageRecordGroup {
            entitlement_id: "ent-2".into(),
            billable_records: vec![MeteringUsageRecord::new("tokens", 0.0)],
            ..Default::default()
        },
    ];
    let (field, reason) = refused(|c| c.batch_report_usage_record_groups(&batch));
    assert_eq!(field, "records");
    assert!(reason.contains("zero"), "{reason}");
    let (field, _) = refused(|c| c.batch_validate_usage_record_groups(&batch));
    assert_eq!(field, "records");
}

#[test]
fn batch_with_one_zero_group_and_one_non_zero_group_is_sent() {
    let batch = [item("ent-1", &[("a", 0.0)]), item("ent-2", &[("a", 2.0)])];
    let body = json!([
        { "entitlementID": "ent-1", "records": { "a": 0.0 } },
        { "entitlementID": "ent-2", "records": { "a": 2.0 } }
    ]);
    let mut s = server();
    let report = expect_json(
        &mut s,
        "POST",
        "/org/org-1/batchCreateUsageRecordGroups",
        body.clone(),
    )
    .with_body("[]")
    .create();
    let validate = expect_json(
        &mut s,
        "POST",
        "/org/org-1/batchValidateUsageRecordGroups",
        body,
    )
    .with_body(r#""""#)
    .create();
    let c = client(&mut s);
    assert_eq!(c.batch_report_usage_record_groups(&batch).unwrap(), vec![]);
    assert_eq!(c.batch_validate_usage_record_groups(&batch).unwrap(), "");
    report.assert();
    validate.assert();
}

#[test]
fn batch_item_with_an_empty_entitlement_is_refused() {
    let batch = [item("ent-1", &[("a", 1.0)]), item("", &[("a", 1.0)])];
    let (field, _) = refused(|c| c.batch_report_usage_record_groups(&batch));
    assert_eq!(field, "entitlement_id");
    let (field, _) = refused(|c| c.batch_validate_usage_record_groups(&batch));
    assert_eq!(field, "entitlement_id");
}

#[test]
fn batch_item_with_both_or_neither_kind_of_records_is_refused() {
    let both = NewUsageRecordGroup {
        billable_records: vec![MeteringUsageRecord::new("tokens", 1.0)],
        ..item("ent-1", &[("a", 1.0)])
    };
    let (field, _) = refused(|c| c.batch_report_usage_record_groups(std::slice::from_ref(&both)));
    assert_eq!(field, "records");
    let (field, _) = refused(|c| c.batch_validate_usage_record_groups(&[both]));
    assert_eq!(field, "records");
    let neither = item("ent-1", &[]);
    let (field, _) =
        refused(|c| c.batch_report_usage_record_groups(&[item("ent-2", &[("a", 1.0)]), neither]));
    assert_eq!(field, "records");
}

#[test]
fn batch_with_a_nan_quantity_is_refused() {
    let batch = [
        item("ent-1", &[("a", 1.0)]),
        item("ent-2", &[("a", f64::NAN)]),
    ];
    let (field, _) = refused(|c| c.batch_report_usage_record_groups(&batch));
    assert_eq!(field, "records");
    let (field, _) = refused(|c| c.batch_validate_usage_record_groups(&batch));
    assert_eq!(field, "records");
}

#[test]
fn batch_report_with_meta_info_is_refused() {
    let batch = [NewUsageRecordGroup {
        meta_info: Some({
            let mut meta = MeteringUsageRecordGroupMetaInfo::default();
            meta.skip_validation = true;
            meta
        }),
        ..item("ent-1", &[("a", 1.0)])
    }];
    let (field, _) = refused(|c| c.batch_report_usage_record_groups(&batch));
    assert_eq!(field, "meta_info");
}

#[test]
fn batch_validate_with_meta_info_is_refused() {
    let batch = [
        item("ent-1", &[("a", 1.0)]),
        NewUsageRecordGroup {
            meta_info: Some(MeteringUsageRecordGroupMetaInfo::default()),
            ..item("ent-2", &[("a", 1.0)])
        },
    ];
    let (field, _) = refused(|c| c.batch_validate_usage_record_groups(&batch));
    assert_eq!(field, "meta_info");
}

// ---------------------------------------------------------------------------------------------
// List parameters
// ---------------------------------------------------------------------------------------------

#[test]
fn list_limit_0_and_1001_are_refused() {
    for limit in [0, 1001, u32::MAX] {
        let (field, reason) =
            refused(|c| c.list_usage_record_groups(&ListUsageRecordGroups::new().limit(limit)));
        assert_eq!(field, "limit");
        assert_eq!(reason, format!("must be between 1 and 1000, got {limit}"));
        let (field, _) =
            refused(|c| c.list_usage_record_reports(&ListUsageRecordReports::new().limit(limit)));
        assert_eq!(field, "limit");
    }
}

#[test]
fn list_limit_1_and_1000_are_sent() {
    let mut s = server();
    let mut mocks = vec![];
    for limit in ["1", "1000"] {
        mocks.push(
            expect_no_body(&mut s, "GET", "/org/org-1/usageRecordGroup")
                .match_query(exact_query(&[("limit", limit)]))
                .with_body(r#"{"usageRecordGroups":[]}"#)
                .create(),
        );
        mocks.push(
            expect_no_body(&mut s, "GET", "/org/org-1/usageRecordReport")
                .match_query(exact_query(&[("limit", limit)]))
                .with_body(r#"{"usageRecordReports":[]}"#)
                .create(),
        );
    }
    let c = client(&mut s);
    for limit in [1, 1000] {
        c.list_usage_record_groups(&ListUsageRecordGroups::new().limit(limit))
            .unwrap();
        c.list_usage_record_reports(&ListUsageRecordReports::new().limit(limit))
            .unwrap();
    }
    for m in &mocks {
        m.assert();
    }
}

#[test]
fn start_date_after_end_date_is_refused() {
    let (field, reason) = refused(|c| {
        c.list_usage_record_groups(
            &ListUsageRecordGroups::new()
                .start_date(date!(2026 - 03 - 02))
                .end_date(date!(2026 - 03 - 01)),
        )
    });
    assert_eq!(field, "start_date");
    assert!(reason.contains("2026-03-02"), "{reason}");
    let (field, _) = refused(|c| {
        c.list_usage_record_reports(
            &ListUsageRecordReports::new()
                .start_date(date!(2026 - 03 - 02))
                .end_date(date!(2026 - 03 - 01)),
        )
    });
    assert_eq!(field, "start_date");
}

#[test]
fn start_date_equal_to_end_date_is_sent() {
    let mut s = server();
    let m = expect_no_body(&mut s, "GET", "/org/org-1/usageRecordGroup")
        .match_query(exact_query(&[
            ("startDate", "2026-03-01"),
            ("endDate", "2026-03-01"),
        ]))
        .with_body(r#"{"usageRecordGroups":[]}"#)
        .create();
    client(&mut s)
        .list_usage_record_groups(
            &ListUsageRecordGroups::new()
                .start_date(date!(2026 - 03 - 01))
                .end_date(date!(2026 - 03 - 01)),
        )
        .unwrap();
    m.assert();
}

#[test]
fn a_date_that_is_not_four_digit_year_is_refused() {
    let year_zero = time::Date::from_calendar_date(0, Month::January, 1).unwrap();
    let (field, _) = refused(|c| {
        c.list_usage_record_groups(&ListUsageRecordGroups::new().start_date(year_zero))
    });
    assert_eq!(field, "start_date");
    let (field, _) = refused(|c| c.delete_usage_record_group("g-1", Some(year_zero)));
    assert_eq!(field, "creation_date");
}

#[test]
fn more_than_one_of_partner_buyer_and_entitlement_is_refused() {
    for q in conflicting_id_filters() {
        let (field, _) = refused(|c| c.list_usage_record_groups(&q));
        assert_eq!(field, "partner/buyer_id/entitlement_id", "{q:?}");
    }
}

#[test]
fn an_empty_id_filter_is_refused() {
    let (field, _) =
        refused(|c| c.list_usage_record_groups(&ListUsageRecordGroups::new().buyer_id("")));
    assert_eq!(field, "buyer_id");
    let (field, _) =
        refused(|c| c.list_usage_record_groups(&ListUsageRecordGroups::new().entitlement_id("")));
    assert_eq!(field, "entitlement_id");
    let (field, _) =
        refused(|c| c.list_usage_record_reports(&ListUsageRecordReports::new().buyer_id("")));
    assert_eq!(field, "buyer_id");
}

// ---------------------------------------------------------------------------------------------
// Billable metrics
// ---------------------------------------------------------------------------------------------

fn metric(name: &str) -> BillableMetric {
    BillableMetric {
        name: name.into(),
        ..Default::default()
    }
}

#[test]
fn billable_metric_name_of_3_or_51_characters_is_refused() {
    for name in ["abc".to_string(), "ééé".to_string(), "n".repeat(51)] {
        let (field, reason) = refused(|c| c.create_billable_metric(&metric(&name)));
        assert_eq!(field, "name", "{name}");
        assert!(reason.contains("4 to 50"), "{reason}");
        let params = UpdateBillableMetricParams {
            name: Some(name.clone()),
            ..Default::default()
        };
        let (field, _) = refused(|c| c.update_billable_metric("bm-1", &params));
        assert_eq!(field, "name", "{name}");
    }
    let (field, _) = refused(|c| c.create_billable_metric(&metric("")));
    assert_eq!(field, "name");
}

#[test]
fn billable_metric_name_of_4_and_50_characters_is_sent() {
    let names = ["éééé".to_string(), "n".repeat(50)];
    let mut s = server();
    let mut mocks = vec![];
    for name in &names {
        mocks.push(
            expect_json(
                &mut s,
                "POST",
                "/org/org-1/billableMetric",
                json!({ "name": name }),
            )
            .with_body(fixture("billable_metric.json"))
            .create(),
        );
        mocks.push(
            expect_json(
                &mut s,
                "PATCH",
                "/org/org-1/billableMetric/bm-1",
                json!({ "name": name }),
            )
            .with_body(fixture("billable_metric.json"))
            .create(),
        );
    }
    let c = client(&mut s);
    for name in &names {
        c.create_billable_metric(&metric(name)).unwrap();
        c.update_billable_metric(
            "bm-1",
            &UpdateBillableMetricParams {
                name: Some(name.clone()),
                ..Default::default()
            },
        )
        .unwrap();
    }
    for m in &mocks {
        m.assert();
    }
}

#[test]
fn billable_metric_description_of_301_characters_is_refused_and_300_is_sent() {
    let long = "d".repeat(301);
    let (field, reason) = refused(|c| {
        c.create_billable_metric(&BillableMetric {
            description: long.clone(),
            ..metric("Tokens")
        })
    });
    assert_eq!(field, "description");
    assert!(reason.contains("300"), "{reason}");
    let params = UpdateBillableMetricParams {
        description: Some(long.clone()),
        ..Default::default()
    };
    let (field, _) = refused(|c| c.update_billable_metric("bm-1", &params));
    assert_eq!(field, "description");

    let ok = "é".repeat(300);
    let sent = json!({ "name": "Tokens", "description": ok });
    answered_json(
        "POST",
        "/org/org-1/billableMetric",
        sent,
        &fixture("billable_metric.json"),
        |c| {
            c.create_billable_metric(&BillableMetric {
                description: ok.clone(),
                ..metric("Tokens")
            })
        },
    )
    .unwrap();
}

#[test]
fn billable_metric_id_of_37_characters_is_refused() {
    let (field, _) = refused(|c| {
        c.create_billable_metric(&BillableMetric {
            id: "i".repeat(37),
            ..metric("Tokens")
        })
    });
    assert_eq!(field, "id");
}

#[test]
fn nothing_is_refused_for_the_read_and_config_calls() {
    // Sanity check of the helper: the calls without rules reach the server.
    let mut s = server();
    let m = expect_no_body(&mut s, "GET", "/org/org-1/usageMeteringConfigInfo")
        .with_body("{}")
        .create();
    let got = client(&mut s).get_usage_metering_config_info().unwrap();
    m.assert();
    assert_eq!(got.partner_usage_metering_configs, vec![]);
}
