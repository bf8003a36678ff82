//! The fake's report cycle as a test sees it through the client: realistic report `info` for
//! each marketplace (read back with `verdict()`), and the outcomes a test decides (failed
//! entitlements, lost and altered groups, small pages, clear and reset). Admin routes: `admin`.

mod admin;

use serde_json::{Value, json};
use suger_metering::fake::{FakeSuger, Fault, Operation};
use suger_metering::time::macros::datetime;
use suger_metering::{
    CreateUsageRecordGroupParams, ListUsageRecordGroups, ListUsageRecordReports,
    MarketplaceVerdict, MeteringClient, MeteringUsageRecord, MeteringUsageRecordGroup,
    MeteringUsageRecordReport, Partner, UsageRecordGroupStatus, UsageRecordReportStatus,
};

fn params(id: &str, records: &[(&str, f64)]) -> CreateUsageRecordGroupParams {
    CreateUsageRecordGroupParams {
        id: Some(id.to_string()),
        records: records.iter().map(|(k, q)| (k.to_string(), *q)).collect(),
        ..Default::default()
    }
}

fn report(c: &MeteringClient, ent: &str, id: &str, records: &[(&str, f64)]) {
    c.report_usage_record_group(ent, &params(id, records))
        .expect("report");
}

fn reports(c: &MeteringClient, ent: &str) -> Vec<MeteringUsageRecordReport> {
    c.usage_record_reports(&ListUsageRecordReports::new().entitlement_id(ent))
        .collect::<Result<_, _>>()
        .expect("reports")
}

fn group(c: &MeteringClient, id: &str) -> Option<MeteringUsageRecordGroup> {
    c.usage_record_groups(&ListUsageRecordGroups::new())
        .map(|g| g.expect("group"))
        .find(|g| g.id == id)
}

fn status(c: &MeteringClient, id: &str) -> Option<UsageRecordGroupStatus> {
    group(c, id).and_then(|g| g.status)
}

#[test]
fn aws_reports_carry_batch_meter_usage_per_hour_and_are_accepted() {
    let fake = FakeSuger::start().unwrap();
    let c = fake.client();
    let at = |h: u8| CreateUsageRecordGroupParams {
        timestamp: Some(datetime!(2026-03-01 00:30 UTC).replace_hour(h).unwrap()),
        ..params(&format!("g{h}"), &[("api_calls", 2.0), ("storage_gb", 1.5)])
    };
    c.report_usage_record_group("ent-1", &at(10)).unwrap();
    c.report_usage_record_group("ent-1", &at(11)).unwrap();
    let ids = fake.run_report_cycle();
    assert_eq!(ids.len(), 1);

    let r = &reports(&c, "ent-1")[0];
    assert_eq!(r.id, ids[0]);
    assert_eq!(r.partner, Some(Partner::Aws));
    let info = r.info.as_ref().unwrap();
    assert_eq!(info.status, Some(UsageRecordReportStatus::Success));
    assert_eq!(info.message, "");
    assert_eq!(info.usage_record_group_ids, ["g10", "g11"]);
    assert_eq!(
        info.reported_records,
        [
            ("api_calls".to_string(), 4.0),
            ("storage_gb".to_string(), 3.0)
        ]
        .into()
    );
    assert_eq!(info.azure_metering_response, None);
    let req = info.aws_metering_request.as_ref().unwrap();
    assert_eq!(req["ProductCode"], "fake-product");
    let records = req["UsageRecords"].as_array().unwrap();
    // One record per dimension and hour, quantities rounded as AWS takes integers.
    assert_eq!(records.len(), 4);
    assert_eq!(
        records[0],
        json!({"CustomerIdentifier": "buyer-ent-1", "CustomerAWSAccountID": null,
            "Dimension": "api_calls", "Quantity": 2, "Timestamp": "2026-03-01T10:00:00Z",
            "UsageAllocations": null})
    );
    assert_eq!(records[3]["Timestamp"], "2026-03-01T11:00:00Z");
    let resp = info.aws_metering_response.as_ref().unwrap();
    let results = resp["Results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    assert!(results.iter().all(|x| x["Status"] == "Success"));
    assert_eq!(results[1]["UsageRecord"], records[1]);
    let first_id = results[0]["MeteringRecordId"].as_str().unwrap().to_string();
    assert_eq!(first_id.len(), 36);
    assert_eq!(
        r.verdict(),
        MarketplaceVerdict::Accepted {
            record_id: Some(first_id)
        }
    );
    assert_eq!(r.record_verdicts().len(), 4);
    let g = group(&c, "g10").unwrap();
    assert_eq!(g.status, Some(UsageRecordGroupStatus::Reported));
    assert_eq!(g.usage_record_report_id, r.id);
    assert!(g.reported_time.is_some());
    assert_eq!(r.verdict_for_group(&g).map(|v| v.is_accepted()), Some(true));
}

#[test]
fn azure_and_gcp_entitlements_get_their_marketplaces_shapes() {
    let fake = FakeSuger::builder()
        .seed(json!({"entitlements": [{"id": "ent-gcp", "partner": "gcp"}]}))
        .start()
        .unwrap();
    let c = fake.client();
    report(&c, "ent-az", "a1", &[("api_calls", 3.0)]);
    // Chosen after the group was stored: the group follows.
    fake.set_entitlement_partner("ent-az", "AZURE");
    report(&c, "ent-gcp", "p1", &[("api_calls", 4.0)]);
    assert_eq!(group(&c, "a1").unwrap().partner, Some(Partner::Azure));
    fake.run_report_cycle();

    let az = &reports(&c, "ent-az")[0];
    assert_eq!(az.partner, Some(Partner::Azure));
    let info = az.info.as_ref().unwrap();
    assert_eq!(info.aws_metering_request, None);
    let event = &info.azure_metering_request.as_ref().unwrap()["request"][0];
    assert_eq!(event["dimension"], "api_calls");
    assert_eq!(event["quantity"], 3);
    assert_eq!(event["resourceId"], "ent-az");
    let result = &info.azure_metering_response.as_ref().unwrap()["result"][0];
    assert_eq!(result["status"], "Accepted");
    let event_id = result["usageEventId"].as_str().unwrap().to_string();
    assert_eq!(
        az.verdict(),
        MarketplaceVerdict::Accepted {
            record_id: Some(event_id)
        }
    );
    let none = c
        .list_usage_record_reports(&ListUsageRecordReports::new().partner(Partner::Azure))
        .unwrap();
    assert_eq!(none.usage_record_reports.len(), 1);

    let gcp = &reports(&c, "ent-gcp")[0];
    assert_eq!(gcp.partner, Some(Partner::Gcp));
    let info = gcp.info.as_ref().unwrap();
    let op = &info.gcp_metering_request.as_ref().unwrap()["operations"][0];
    assert_eq!(
        op["metricValueSets"][0],
        json!({"metricName": "fake-product/api_calls", "metricValues": [{"int64Value": "4"}]})
    );
    assert_eq!(
        info.gcp_metering_response.as_ref().unwrap()["reportErrors"],
        Value::Null
    );
    assert_eq!(
        gcp.verdict(),
        MarketplaceVerdict::Accepted {
            record_id: op["operationId"].as_str().map(str::to_string)
        }
    );
}

#[test]
#[should_panic(expected = "not one the fake plays")]
fn an_unknown_partner_is_a_test_bug() {
    FakeSuger::start()
        .unwrap()
        .set_entitlement_partner("e", "ORACLE");
}

#[test]
fn a_seed_with_a_bad_partner_names_the_item() {
    let e = FakeSuger::builder()
        .seed(json!({"entitlements": [{"id": "e", "partner": "X"}]}))
        .start()
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
    assert!(e.to_string().contains("entitlements[0]"), "{e}");
}

/// Each (partner, marketplace status) the test decides, and the verdict it reads back.
#[test]
fn failed_entitlements_read_back_as_each_verdict() {
    let fake = FakeSuger::start().unwrap();
    let c = fake.client();
    let cases = [
        ("AWS", "CustomerNotSubscribed", "not_entitled"),
        ("AWS", "DuplicateRecord", "duplicate"),
        ("AWS", "TimestampOutOfBoundsException", "too_late"),
        ("AWS", "InvalidUsageDimensionException", "invalid"),
        ("AWS", "UnprocessedRecords", "retryable"),
        ("AWS", "Pending", "unknown"),
        ("AZURE", "Expired", "too_late"),
        ("AZURE", "Duplicate", "duplicate"),
        ("AZURE", "ResourceNotFound", "not_entitled"),
        ("AZURE", "InvalidDimension", "invalid"),
        ("GCP", "INVALID_ARGUMENT", "invalid"),
        ("GCP", "FAILED_PRECONDITION", "not_entitled"),
        ("GCP", "UNAVAILABLE", "retryable"),
    ];
    for (i, (partner, status, _)) in cases.iter().enumerate() {
        let ent = format!("ent-{i}");
        fake.set_entitlement_partner(&ent, partner);
        report(&c, &ent, &format!("g-{i}"), &[("api_calls", 5.0)]);
        fake.fail_next_report_for_entitlement_with_status(&ent, status, "refused by the test");
    }
    report(&c, "ent-ok", "g-ok", &[("api_calls", 1.0)]);
    fake.run_report_cycle();
    for (i, (partner, status, want)) in cases.iter().enumerate() {
        let r = &reports(&c, &format!("ent-{i}"))[0];
        let info = r.info.as_ref().unwrap();
        assert_eq!(
            info.status,
            Some(UsageRecordReportStatus::Failed),
            "{partner} {status}"
        );
        let verdict = r.verdict();
        assert_eq!(verdict.name(), *want, "{partner} {status}: {verdict:?}");
        assert!(!verdict.is_accepted());
        assert_eq!(status_of(&c, i), Some(UsageRecordGroupStatus::ReportFailed));
    }
    // Azure's duplicate keeps the quantity accepted before; AWS's exception reads as the SDK's.
    assert_eq!(
        reports(&c, "ent-7")[0].verdict(),
        MarketplaceVerdict::Duplicate {
            quantity_accepted_before: Some(5.0)
        }
    );
    let aws_late = reports(&c, "ent-2")[0].info.clone().unwrap();
    assert!(
        aws_late.message.contains("BatchMeterUsage"),
        "{}",
        aws_late.message
    );
    assert!(
        aws_late
            .message
            .ends_with("TimestampOutOfBoundsException: refused by the test")
    );
    assert_eq!(aws_late.aws_metering_response, None);
    // Other entitlements are not touched.
    assert!(reports(&c, "ent-ok")[0].verdict().is_accepted());
}

fn status_of(c: &MeteringClient, i: usize) -> Option<UsageRecordGroupStatus> {
    status(c, &format!("g-{i}"))
}

#[test]
fn an_entitlement_fails_once_then_its_retried_group_is_reported() {
    let fake = FakeSuger::start().unwrap();
    let c = fake.client();
    report(&c, "ent-1", "g1", &[("api_calls", 1.0)]);
    report(&c, "ent-1", "g2", &[("api_calls", 2.0)]);
    report(&c, "ent-2", "h1", &[("api_calls", 3.0)]);
    fake.fail_next_report_for_entitlement("ent-1", "the buyer's subscription ended");
    fake.run_report_cycle();
    let failed = &reports(&c, "ent-1")[0];
    let info = failed.info.as_ref().unwrap();
    assert_eq!(info.status, Some(UsageRecordReportStatus::Failed));
    assert_eq!(info.message, "the buyer's subscription ended");
    assert_eq!(info.usage_record_group_ids, ["g1", "g2"]);
    assert_eq!(info.aws_metering_response, None);
    assert!(info.aws_metering_request.is_some());
    assert!(matches!(
        failed.verdict(),
        MarketplaceVerdict::Unknown { .. }
    ));
    assert_eq!(status(&c, "g1"), Some(UsageRecordGroupStatus::ReportFailed));
    assert_eq!(status(&c, "h1"), Some(UsageRecordGroupStatus::Reported));

    let retried = c.retry_usage_record_group("g1", None).unwrap();
    assert_eq!(retried.status, Some(UsageRecordGroupStatus::Created));
    let ids = fake.run_report_cycle();
    assert_eq!(ids.len(), 1, "only g1 again, and it succeeds this time");
    let g1 = group(&c, "g1").unwrap();
    assert_eq!(g1.status, Some(UsageRecordGroupStatus::Reported));
    assert_eq!(g1.usage_record_report_id, ids[0]);
    assert_eq!(status(&c, "g2"), Some(UsageRecordGroupStatus::ReportFailed));
}

#[test]
fn groups_go_report_pending_before_they_are_reported() {
    let fake = FakeSuger::start().unwrap();
    let c = fake.client();
    report(&c, "ent-1", "g1", &[("api_calls", 1.0)]);
    assert_eq!(fake.start_report_cycle(), ["g1"]);
    assert_eq!(
        status(&c, "g1"),
        Some(UsageRecordGroupStatus::ReportPending)
    );
    assert!(group(&c, "g1").unwrap().usage_record_report_id.is_empty());
    report(&c, "ent-1", "g2", &[("api_calls", 1.0)]);
    let ids = fake.run_report_cycle();
    assert_eq!(ids.len(), 1);
    for id in ["g1", "g2"] {
        assert_eq!(
            status(&c, id),
            Some(UsageRecordGroupStatus::Reported),
            "{id}"
        );
    }
    assert!(fake.start_report_cycle().is_empty());
}

#[test]
fn a_lost_group_disappears_and_its_id_is_free_again() {
    let fake = FakeSuger::start().unwrap();
    let c = fake.client();
    report(&c, "ent-1", "g1", &[("api_calls", 1.0)]);
    report(&c, "ent-1", "g2", &[("api_calls", 1.0)]);
    fake.lose_group("g1");
    assert!(group(&c, "g1").is_none());
    assert!(group(&c, "g2").is_some());
    assert_eq!(fake.usage_record_groups().len(), 1);
    assert!(
        c.retry_usage_record_group("g1", None)
            .unwrap_err()
            .is_not_found()
    );
    // Suger never recorded it: the same id is not a duplicate.
    report(&c, "ent-1", "g1", &[("api_calls", 1.0)]);
    assert_eq!(status(&c, "g1"), Some(UsageRecordGroupStatus::Created));
}

#[test]
#[should_panic(expected = "FakeSuger::lose_group: no usage record group \"nope\"")]
fn losing_an_unknown_group_is_a_test_bug() {
    FakeSuger::start().unwrap().lose_group("nope");
}

#[test]
fn altered_groups_show_other_quantities_than_were_sent() {
    let fake = FakeSuger::start().unwrap();
    let c = fake.client();
    report(
        &c,
        "ent-1",
        "g1",
        &[("api_calls", 3.0), ("storage_gb", 1.0)],
    );
    let v2 = CreateUsageRecordGroupParams {
        id: Some("v2".into()),
        billable_records: vec![
            MeteringUsageRecord::new("tokens", 10.0),
            MeteringUsageRecord::new("images", 2.0),
        ],
        ..Default::default()
    };
    c.report_usage_record_group("ent-1", &v2).unwrap();
    fake.alter_group_records("g1", [("api_calls", 2.0)]);
    fake.alter_group_records("v2", [("tokens", 7.5)]);
    let g1 = group(&c, "g1").unwrap();
    assert_eq!(g1.records, [("api_calls".to_string(), 2.0)].into());
    assert_eq!(g1.meta_info.unwrap().origin_records, g1.records);
    let billable = group(&c, "v2").unwrap().meta_info.unwrap().billable_records;
    let q: Vec<(&str, f64)> = billable
        .iter()
        .map(|r| (r.key.as_str(), r.quantity))
        .collect();
    assert_eq!(q, [("tokens", 7.5), ("images", 2.0)]);
    // The report carries the altered quantities.
    fake.run_report_cycle();
    let info = reports(&c, "ent-1")[0].info.clone().unwrap();
    assert_eq!(
        info.reported_records,
        [("api_calls".to_string(), 2.0)].into()
    );
}

#[test]
fn pages_are_smaller_than_asked_with_a_correct_next_offset() {
    let fake = FakeSuger::start().unwrap();
    let c = fake.client();
    for i in 0..53 {
        report(
            &c,
            &format!("ent-{}", i % 3),
            &format!("g{i:02}"),
            &[("api_calls", 1.0)],
        );
    }
    fake.max_page_size(5);
    let mut offsets = Vec::new();
    let mut seen = Vec::new();
    let mut q = ListUsageRecordGroups::new().limit(1000);
    loop {
        let page = c.list_usage_record_groups(&q).unwrap();
        assert!(page.usage_record_groups.len() <= 5);
        seen.extend(page.usage_record_groups.into_iter().map(|g| g.id));
        match page.next_offset {
            Some(next) => {
                offsets.push(next);
                q = q.offset(next);
            }
            None => break,
        }
    }
    assert_eq!(seen.len(), 53);
    assert_eq!(seen[52], "g52");
    assert_eq!(offsets, (1..=10).map(|p| p * 5).collect::<Vec<u32>>());
    // The iterator follows the small pages; `limit` smaller than the cap still rules.
    assert_eq!(
        c.usage_record_groups(&ListUsageRecordGroups::new()).count(),
        53
    );
    let two = c
        .list_usage_record_groups(&ListUsageRecordGroups::new().limit(2))
        .unwrap();
    assert_eq!(
        (two.usage_record_groups.len(), two.next_offset),
        (2, Some(2))
    );
    fake.run_report_cycle();
    let page = c
        .list_usage_record_reports(&ListUsageRecordReports::new())
        .unwrap();
    assert_eq!(
        (page.usage_record_reports.len(), page.next_offset),
        (3, None)
    );
    fake.max_page_size(2);
    let page = c
        .list_usage_record_reports(&ListUsageRecordReports::new())
        .unwrap();
    assert_eq!(
        (page.usage_record_reports.len(), page.next_offset),
        (2, Some(2))
    );
    fake.max_page_size(0);
    assert_eq!(
        c.list_usage_record_groups(&ListUsageRecordGroups::new())
            .unwrap()
            .usage_record_groups
            .len(),
        53
    );
}

#[test]
fn clear_faults_and_reset_forget_what_tests_decided() {
    let fake = FakeSuger::builder()
        .seed(json!({
            "entitlements": [{"id": "ent-az", "partner": "AZURE"}],
            "usageRecordGroups": [{"id": "seeded", "entitlementID": "ent-az", "records": {"api_calls": 1}}]
        }))
        .start()
        .unwrap();
    let c = fake
        .client_builder()
        .retry(suger_metering::RetryPolicy::disabled())
        .build()
        .unwrap();
    report(&c, "ent-1", "g1", &[("api_calls", 1.0)]);
    fake.inject(
        Fault::status(503)
            .times(5)
            .only(Operation::ListUsageRecordGroups),
    );
    fake.fail_next_report_for("g1");
    fake.fail_next_report_for_entitlement("ent-az", "no");
    fake.max_page_size(1);
    fake.clear_faults();
    let page = c
        .list_usage_record_groups(&ListUsageRecordGroups::new())
        .unwrap();
    assert_eq!(page.usage_record_groups.len(), 2, "no fault, no page cap");
    fake.run_report_cycle();
    assert_eq!(status(&c, "g1"), Some(UsageRecordGroupStatus::Reported));
    assert!(reports(&c, "ent-az")[0].verdict().is_accepted());

    fake.inject(Fault::status(503).times(5));
    fake.set_entitlement_partner("ent-az", "GCP");
    fake.reset();
    assert!(fake.requests().is_empty());
    assert!(fake.usage_record_reports().is_empty());
    let groups = fake.usage_record_groups();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["id"], "seeded");
    assert_eq!(groups[0]["status"], "CREATED");
    assert_eq!(groups[0]["partner"], "AZURE", "the seed's partner again");
    assert_eq!(
        c.usage_record_groups(&ListUsageRecordGroups::new()).count(),
        1
    );
}
