use crate::support::*;
use mockito::Matcher;

#[test]
fn get_billable_metric_sends_auth_and_decodes() {
    let mut s = server();
    let m = s
        .mock("GET", "/org/org-1/billableMetric/bm%201")
        .match_header("authorization", "Key test-key-s3cr3t")
        .match_header("accept", "application/json")
        .match_header("user-agent", Matcher::Regex("^suger-metering-rust/".into()))
        .match_header("content-type", Matcher::Missing)
        .with_status(200)
        .with_body(r#"{"id":"bm 1","name":"API calls","organizationId":"org-1","status":"ACTIVE","creationTime":"2026-03-01T10:00:00.123456789Z","lastUpdateTime":"0001-01-01T00:00:00Z","info":{"filterGroups":null,"groupBys":null}}"#)
        .create();
    let all = catch_all(&mut s);
    let bm = client(&s).get_billable_metric("bm 1").unwrap();
    m.assert();
    assert_catch_all(&all);
    assert_eq!(bm.name, "API calls");
    assert_eq!(
        bm.status,
        Some(suger_metering::BillableMetricStatus::Active)
    );
    assert_eq!(bm.last_update_time, None);
}
