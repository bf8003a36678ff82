//! The report cycle's controls as admin routes under `/_fake/`, for tests in any language.

use crate::support::fake::admin;
use serde_json::json;
use suger_metering::fake::FakeSuger;
use suger_metering::{ListUsageRecordGroups, UsageRecordGroupStatus};

use super::{report, reports, status};

#[test]
fn report_outcomes_decided_over_http() {
    let fake = FakeSuger::start().unwrap();
    let c = fake.client();
    let ok = (200, json!({}));
    assert_eq!(
        admin(
            &fake,
            "POST",
            "entitlement-partner",
            Some(json!({"entitlementId": "ent-az", "partner": "AZURE"}))
        ),
        ok
    );
    report(&c, "ent-az", "a1", &[("api_calls", 4.0)]);
    report(&c, "ent-aws", "b1", &[("api_calls", 1.0)]);
    report(&c, "ent-aws", "b2", &[("api_calls", 1.0)]);
    let body =
        json!({"entitlementId": "ent-az", "message": "too old", "marketplaceStatus": "Expired"});
    assert_eq!(admin(&fake, "POST", "fail-next-report", Some(body)), ok);
    assert_eq!(
        admin(
            &fake,
            "POST",
            "fail-next-report",
            Some(json!({"entitlementId": "ent-aws"}))
        ),
        ok
    );

    let (code, started) = admin(&fake, "POST", "report-cycle/start", None);
    assert_eq!(
        (code, started),
        (200, json!({"usageRecordGroupIds": ["a1", "b1", "b2"]}))
    );
    assert_eq!(
        status(&c, "b1"),
        Some(UsageRecordGroupStatus::ReportPending)
    );
    let (code, ran) = admin(&fake, "POST", "report-cycle", None);
    assert_eq!(code, 200);
    assert_eq!(ran["usageRecordReportIds"].as_array().unwrap().len(), 2);

    let az = &reports(&c, "ent-az")[0];
    assert_eq!(az.verdict().name(), "too_late");
    let event = &az
        .info
        .as_ref()
        .unwrap()
        .azure_metering_response
        .as_ref()
        .unwrap()["result"][0];
    assert_eq!(event["status"], "Expired");
    assert_eq!(
        event["error"],
        json!({"code": "Expired", "message": "too old"})
    );
    let aws = reports(&c, "ent-aws")[0].info.clone().unwrap();
    assert_eq!(
        aws.message, "report failed",
        "no message given: a generic one"
    );
    assert_eq!(status(&c, "b2"), Some(UsageRecordGroupStatus::ReportFailed));
}

#[test]
fn lose_alter_and_page_over_http() {
    let fake = FakeSuger::start().unwrap();
    let c = fake.client();
    for i in 0..7 {
        report(&c, "ent-1", &format!("g{i}"), &[("api_calls", 3.0)]);
    }
    assert_eq!(
        admin(
            &fake,
            "POST",
            "lose-group",
            Some(json!({"usageRecordGroupId": "g0"}))
        ),
        (200, json!({}))
    );
    let (code, body) = admin(
        &fake,
        "POST",
        "lose-group",
        Some(json!({"usageRecordGroupId": "g0"})),
    );
    assert_eq!(
        (code, body),
        (404, json!("usage record group \"g0\" not found"))
    );

    let (code, group) = admin(
        &fake,
        "POST",
        "alter-group",
        Some(json!({"usageRecordGroupId": "g1", "records": {"api_calls": 2}})),
    );
    assert_eq!(code, 200);
    assert_eq!(group["records"], json!({"api_calls": 2}));
    assert_eq!(group["metaInfo"]["originRecords"], json!({"api_calls": 2}));
    let (code, _) = admin(
        &fake,
        "POST",
        "alter-group",
        Some(json!({"usageRecordGroupId": "g1", "records": {"api_calls": "x"}})),
    );
    assert_eq!(code, 400);
    let (code, _) = admin(
        &fake,
        "POST",
        "alter-group",
        Some(json!({"usageRecordGroupId": "nope", "records": {}})),
    );
    assert_eq!(code, 404);

    assert_eq!(
        admin(
            &fake,
            "POST",
            "max-page-size",
            Some(json!({"maxPageSize": 4}))
        ),
        (200, json!({}))
    );
    let page = c
        .list_usage_record_groups(&ListUsageRecordGroups::new())
        .unwrap();
    assert_eq!(
        (page.usage_record_groups.len(), page.next_offset),
        (4, Some(4))
    );
    assert_eq!(
        c.usage_record_groups(&ListUsageRecordGroups::new()).count(),
        6
    );
    let (code, _) = admin(
        &fake,
        "POST",
        "max-page-size",
        Some(json!({"maxPageSize": -1})),
    );
    assert_eq!(code, 400);
    admin(
        &fake,
        "POST",
        "max-page-size",
        Some(json!({"maxPageSize": null})),
    );
    let page = c
        .list_usage_record_groups(&ListUsageRecordGroups::new())
        .unwrap();
    assert_eq!(
        (page.usage_record_groups.len(), page.next_offset),
        (6, None)
    );
}

#[test]
fn clear_and_reset_over_http() {
    let fake = FakeSuger::builder()
        .seed(json!({"usageRecordGroups": [{"id": "s1", "entitlementID": "ent-1", "records": {"x": 1}}]}))
        .start()
        .unwrap();
    let c = fake.client();
    report(&c, "ent-1", "g1", &[("api_calls", 1.0)]);
    admin(
        &fake,
        "POST",
        "fail-next-report",
        Some(json!({"usageRecordGroupId": "g1"})),
    );
    admin(
        &fake,
        "POST",
        "max-page-size",
        Some(json!({"maxPageSize": 1})),
    );
    admin(
        &fake,
        "POST",
        "faults",
        Some(json!({"status": 503, "times": 9})),
    );
    assert_eq!(admin(&fake, "DELETE", "faults", None), (200, json!({})));
    assert_eq!(
        c.list_usage_record_groups(&ListUsageRecordGroups::new())
            .unwrap()
            .usage_record_groups
            .len(),
        2
    );
    admin(&fake, "POST", "report-cycle", None);
    assert_eq!(status(&c, "g1"), Some(UsageRecordGroupStatus::Reported));

    assert_eq!(admin(&fake, "POST", "reset", None), (200, json!({})));
    let (_, state) = admin(&fake, "GET", "state", None);
    assert_eq!(state["usageRecordGroups"].as_array().unwrap().len(), 1);
    assert_eq!(state["usageRecordGroups"][0]["id"], "s1");
    assert_eq!(state["usageRecordReports"], json!([]));
    assert_eq!(admin(&fake, "GET", "requests", None), (200, json!([])));
}

#[test]
fn bad_admin_bodies_are_400_and_change_nothing() {
    let fake = FakeSuger::start().unwrap();
    for (path, body) in [
        (
            "entitlement-partner",
            json!({"entitlementId": "e", "partner": "ORACLE"}),
        ),
        ("entitlement-partner", json!({"entitlementId": "e"})),
        (
            "fail-next-report",
            json!({"entitlementId": "e", "message": 3}),
        ),
        ("fail-next-report", json!({"entitlementId": ""})),
        ("lose-group", json!({})),
        ("alter-group", json!({"usageRecordGroupId": "g"})),
    ] {
        let (code, answer) = admin(&fake, "POST", path, Some(body.clone()));
        assert_eq!(code, 400, "{path} {body}: {answer}");
        assert!(answer.is_string(), "{answer}");
    }
    let c = fake.client();
    report(&c, "e", "g", &[("api_calls", 1.0)]);
    fake.run_report_cycle();
    let r = &reports(&c, "e")[0];
    assert_eq!(r.partner, Some(suger_metering::Partner::Aws));
    assert!(
        r.verdict().is_accepted(),
        "no failure was queued by the bad bodies"
    );
}
