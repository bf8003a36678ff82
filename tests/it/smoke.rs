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
    let bm = client(&mut s).get_billable_metric("bm 1").unwrap();
    m.assert();
    assert_eq!(bm.name, "API calls");
    assert_eq!(
        bm.status,
        Some(suger_metering::BillableMetricStatus::Active)
    );
    assert_eq!(bm.last_update_time, None);
}

/// The guard itself can fail a test: a request that matched none of the test's mocks.
#[test]
#[should_panic(expected = "Expected 0 request(s)")]
fn the_mock_server_guard_fails_a_test_whose_request_matched_no_mock() {
    let mut s = server();
    let _m = s.mock("GET", "/org/org-1/billableMetric/bm-1").create();
    let e = client_without_retries(&mut s)
        .get_billable_metric("other")
        .unwrap_err();
    assert_eq!(e.status(), Some(599), "answered by the catch-all");
}

/// A request beyond what a mock expects also reaches a catch-all (mockito 1.7 prefers the
/// last matching mock once every earlier one has its hits).
#[test]
#[should_panic(expected = "Expected 0 request(s)")]
fn the_mock_server_guard_fails_a_test_that_sent_one_request_too_many() {
    let mut s = server();
    let _m = s
        .mock("GET", "/org/org-1/billableMetric/bm-1")
        .with_body(r#"{"id":"bm-1"}"#)
        .expect(1)
        .create();
    let c = client_without_retries(&mut s);
    c.get_billable_metric("bm-1").unwrap();
    let e = c.get_billable_metric("bm-1").unwrap_err();
    assert_eq!(e.status(), Some(599), "answered by the catch-all");
}
