//! Contract tests for `list_usage_record_reports`.

use crate::support::*;
use suger_metering::*;
use time::macros::date;

#[test]
fn list_without_parameters_sends_no_query_and_decodes_rich_reports() {
    let mut s = server();
    let m = expect_no_body(&mut s, "GET", "/org/org-1/usageRecordReport")
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body(fixture("list_usage_record_reports.json"))
        .create();
    let got = client(&mut s)
        .list_usage_record_reports(&ListUsageRecordReports::new())
        .unwrap();
    m.assert();
    assert_eq!(got, expected::list_usage_record_reports());
}

#[test]
fn list_with_every_setter_sends_every_parameter() {
    // Unlike the usage record group list, the spec lets partner, buyer and entitlement combine.
    let mut s = server();
    let m = expect_no_body(&mut s, "GET", "/org/org-1/usageRecordReport")
        .match_query(exact_query(&[
            ("partner", "AZURE"),
            ("buyerId", "buyer 3+x"),
            ("entitlementId", "ent-2"),
            ("startDate", "2026-02-01"),
            ("endDate", "2026-02-01"),
            ("limit", "1000"),
            ("offset", "2000"),
        ]))
        .with_body(r#"{"usageRecordReports":null,"nextOffset":2001}"#)
        .create();
    let got = client(&mut s)
        .list_usage_record_reports(
            &ListUsageRecordReports::new()
                .partner(Partner::Azure)
                .buyer_id("buyer 3+x")
                .entitlement_id("ent-2")
                .start_date(date!(2026 - 02 - 01))
                .end_date(date!(2026 - 02 - 01))
                .limit(1000)
                .offset(2000),
        )
        .unwrap();
    m.assert();
    let mut want = ListUsageRecordReportsResponse::default();
    want.next_offset = Some(2001);
    assert_eq!(got, want);
}

#[test]
fn list_with_an_unknown_partner_sends_it_verbatim() {
    let mut s = server();
    let m = expect_no_body(&mut s, "GET", "/org/org-1/usageRecordReport")
        .match_query(exact_query(&[("partner", "ORACLE"), ("limit", "1")]))
        .with_body(r#"{"usageRecordReports":[],"nextOffset":null}"#)
        .create();
    let got = client(&mut s)
        .list_usage_record_reports(
            &ListUsageRecordReports::new()
                .partner(Partner::Other("ORACLE".into()))
                .limit(1),
        )
        .unwrap();
    m.assert();
    assert_eq!(got, ListUsageRecordReportsResponse::default());
}
