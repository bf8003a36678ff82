//! A group's life after it is reported: delete and retry follow the state rules, the
//! report cycle forwards groups and lists its reports, a failed report goes back to `CREATED`.

use suger_metering::{
    Error, ListUsageRecordGroups, ListUsageRecordReports, Partner, UsageRecordGroupStatus,
    UsageRecordReportStatus,
};
use time::Duration as TimeDuration;

use crate::support::fake::*;

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
