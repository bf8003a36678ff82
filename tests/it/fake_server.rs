//! The fake as a long-running server, over real TCP: host/port choice, loopback only, read
//! timeouts, the bound on remembered requests, saturating report sums, seeds and admin routes.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use crate::support::fake::admin;
use serde_json::{Value, json};
use suger_metering::fake::{FakeSuger, Operation};
use suger_metering::{
    CreateUsageRecordGroupParams, ListBillableMetrics, ListUsageRecordGroups,
    ListUsageRecordReports, RetryPolicy,
};

fn report(qty: f64, id: &str) -> CreateUsageRecordGroupParams {
    CreateUsageRecordGroupParams {
        id: Some(id.to_string()),
        records: [("api_calls".to_string(), qty)].into(),
        ..Default::default()
    }
}

#[test]
fn starts_on_the_port_asked_for_and_only_on_loopback() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let fake = FakeSuger::builder()
        .host("127.0.0.1")
        .port(port)
        .start()
        .unwrap();
    assert_eq!(fake.base_url(), format!("http://127.0.0.1:{port}"));
    assert!(
        fake.client()
            .list_billable_metrics(&ListBillableMetrics::new())
            .unwrap()
            .is_empty()
    );
    // The port is taken now: a second fake on it fails to bind.
    let err = FakeSuger::builder().port(port).start().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AddrInUse);
    for host in ["0.0.0.0", "::", "10.0.0.1", "example.com"] {
        let err = FakeSuger::builder().host(host).start().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{host}");
        assert!(err.to_string().contains("loopback"), "{err}");
    }
    let fake = FakeSuger::builder().host("localhost").start().unwrap();
    assert!(fake.base_url().starts_with("http://127.0.0.1:"));
}

/// Reads until EOF or error; `Ok(bytes)` when the server closed the connection.
fn read_until_closed(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut out = Vec::new();
    stream.read_to_end(&mut out)?;
    Ok(out)
}

#[test]
fn idle_and_half_sent_connections_are_closed_after_the_read_timeout() {
    let fake = FakeSuger::builder()
        .read_timeout(Duration::from_millis(200))
        .start()
        .unwrap();
    let addr = fake.base_url().trim_start_matches("http://").to_string();
    // Idle: connects, sends nothing.
    let mut idle = TcpStream::connect(&addr).unwrap();
    // Half-sent: a head announcing 10 body bytes, and only 3 of them.
    let mut half = TcpStream::connect(&addr).unwrap();
    half.write_all(
        b"POST /org/fake-org/billableMetric HTTP/1.1\r\nHost: x\r\nAuthorization: Key fake-api-key\r\nContent-Length: 10\r\n\r\n{\"a",
    )
    .unwrap();
    // The server closes both (a read timeout on our side would be an Err here).
    assert_eq!(read_until_closed(&mut idle).unwrap(), b"");
    assert_eq!(read_until_closed(&mut half).unwrap(), b"");
    // The half-sent request was never applied nor recorded.
    assert!(fake.requests().is_empty());
    assert!(fake.billable_metrics().is_empty());
    // And the fake still serves.
    assert!(
        fake.client()
            .list_billable_metrics(&ListBillableMetrics::new())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn connections_beyond_the_limit_are_closed_at_once() {
    let fake = FakeSuger::builder()
        .max_connections(2)
        .read_timeout(Duration::from_secs(60))
        .start()
        .unwrap();
    let addr = fake.base_url().trim_start_matches("http://").to_string();
    let client = fake.client();
    // Two idle connections take both places (a served request proves each was accepted).
    // (The kernel hands connections to accept() in order: these two come first.)
    let held: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    let mut third = TcpStream::connect(&addr).unwrap();
    third
        .write_all(b"GET /org/fake-org/billableMetric HTTP/1.1\r\nHost: x\r\nAuthorization: Key fake-api-key\r\n\r\n")
        .unwrap();
    // Closed without an answer, long before the 60 s read timeout (a read timeout here is Err).
    assert_eq!(read_until_closed(&mut third).unwrap(), b"");
    assert!(fake.requests().is_empty());
    drop(held);
    // Places freed (once the server has seen both closes): served again.
    let served = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        client
            .list_billable_metrics(&ListBillableMetrics::new())
            .is_ok()
    });
    assert!(served);
}

#[test]
fn remembers_only_the_most_recent_requests() {
    let fake = FakeSuger::builder().max_requests(3).start().unwrap();
    let client = fake.client();
    for limit in 1..=5 {
        client
            .list_usage_record_groups(&ListUsageRecordGroups::new().limit(limit))
            .unwrap();
    }
    let limits: Vec<String> = fake
        .requests()
        .iter()
        .map(|r| {
            r.query
                .iter()
                .find(|(k, _)| k == "limit")
                .unwrap()
                .1
                .clone()
        })
        .collect();
    assert_eq!(limits, ["3", "4", "5"]);
    fake.clear_requests();
    assert!(fake.requests().is_empty());
    let none = FakeSuger::builder().max_requests(0).start().unwrap();
    none.client()
        .list_billable_metrics(&ListBillableMetrics::new())
        .unwrap();
    assert!(none.requests().is_empty());
}

#[test]
fn report_cycle_sums_saturate_instead_of_overflowing() {
    let fake = FakeSuger::start().unwrap();
    let client = fake.client();
    client
        .report_usage_record_group("ent-1", &report(1.5e308, "g1"))
        .unwrap();
    client
        .report_usage_record_group("ent-1", &report(1.5e308, "g2"))
        .unwrap();
    assert_eq!(fake.run_report_cycle().len(), 1);
    let raw = &fake.usage_record_reports()[0];
    assert_eq!(raw["info"]["reportedRecords"]["api_calls"], json!(f64::MAX));
    let reports = client
        .list_usage_record_reports(&ListUsageRecordReports::new())
        .unwrap();
    let info = reports.usage_record_reports[0].info.clone().unwrap();
    assert_eq!(info.reported_records["api_calls"], f64::MAX);
}

#[test]
fn a_seed_preloads_metrics_groups_and_config() {
    let seed = json!({
        "billableMetrics": [{"id": "m1", "name": "API calls", "aggregationType": "SUM"}],
        "usageRecordGroups": [
            {"id": "g1", "entitlementID": "ent-1", "records": {"api_calls": 3},
             "timestamp": "2026-03-01T10:00:00Z", "status": "REPORT_FAILED"},
            {"entitlementID": "ent-2", "billableRecords": [{"key": "m1", "quantity": 2}]}
        ],
        "usageMeteringConfigInfo": {"partnerUsageMeteringConfigs": [{"partner": "AWS", "enableDimensionMapping": true}]}
    });
    let fake = FakeSuger::builder().seed(seed).start().unwrap();
    let client = fake.client();
    assert_eq!(client.get_billable_metric("m1").unwrap().name, "API calls");
    let groups = fake.usage_record_groups();
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0]["id"], "g1");
    assert_eq!(groups[0]["status"], "REPORT_FAILED");
    assert_eq!(
        groups[0]["metaInfo"]["timestamp"],
        "2026-03-01T10:00:00.000000000Z"
    );
    assert_eq!(groups[1]["status"], "CREATED");
    assert_eq!(groups[1]["id"].as_str().unwrap().len(), 36);
    // The seeded REPORT_FAILED group can be retried through the API.
    client.retry_usage_record_group("g1", None).unwrap();
    let config = client.get_usage_metering_config_info().unwrap();
    assert!(config.partner_usage_metering_configs[0].enable_dimension_mapping);
    // Nothing in a seed is a request.
    assert_eq!(fake.requests().len(), 3);

    for (seed, names) in [
        (
            json!({"usageRecordGroups": [{"records": {"a": 1}}]}),
            "usageRecordGroups[0]",
        ),
        (
            json!({"billableMetrics": [{"name": "ab"}]}),
            "billableMetrics[0]",
        ),
        (
            json!({"usageRecordGroups": [{"id": "x", "entitlementID": "e", "records": {"a": 1}}, {"id": "x", "entitlementID": "e", "records": {"a": 1}}]}),
            "usageRecordGroups[1]",
        ),
        (json!({"groups": []}), "unknown key"),
        (json!([1]), "JSON object"),
    ] {
        let err = FakeSuger::builder().seed(seed.clone()).start().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData, "{seed}");
        assert!(err.to_string().contains(names), "{seed}: {err}");
    }
}

#[test]
fn admin_routes_drive_the_fake_from_outside() {
    let fake = FakeSuger::start().unwrap();
    let client = fake
        .client_builder()
        .retry(RetryPolicy::disabled())
        .build()
        .unwrap();

    // Faults from JSON: one 503 on ListBillableMetrics only.
    let (status, _) = admin(
        &fake,
        "POST",
        "faults",
        Some(json!({"status": 503, "retryAfter": "1", "operation": "ListBillableMetrics"})),
    );
    assert_eq!(status, 200);
    client.get_usage_metering_config_info().unwrap();
    let err = client
        .list_billable_metrics(&ListBillableMetrics::new())
        .unwrap_err();
    assert_eq!(err.status(), Some(503));
    client
        .list_billable_metrics(&ListBillableMetrics::new())
        .unwrap();
    // A bad fault is a 400 naming the problem; DELETE clears queued faults.
    let (status, body) = admin(
        &fake,
        "POST",
        "faults",
        Some(json!({"status": 503, "delayMs": 5})),
    );
    assert_eq!(status, 400);
    assert!(body.as_str().unwrap().contains("exactly one"), "{body}");
    admin(
        &fake,
        "POST",
        "faults",
        Some(json!({"status": 500, "times": 5})),
    );
    assert_eq!(admin(&fake, "DELETE", "faults", None).0, 200);
    client
        .list_billable_metrics(&ListBillableMetrics::new())
        .unwrap();

    // Report, fail one group at the next cycle, run the cycle from outside.
    client
        .report_usage_record_group("ent-1", &report(2.0, "ok-1"))
        .unwrap();
    client
        .report_usage_record_group("ent-1", &report(3.0, "bad-1"))
        .unwrap();
    let (status, _) = admin(
        &fake,
        "POST",
        "fail-next-report",
        Some(json!({"usageRecordGroupId": "bad-1"})),
    );
    assert_eq!(status, 200);
    let (status, body) = admin(&fake, "POST", "report-cycle", None);
    assert_eq!(status, 200);
    assert_eq!(body["usageRecordReportIds"].as_array().unwrap().len(), 2);
    let (_, state) = admin(&fake, "GET", "state", None);
    let statuses: Vec<(&str, &str)> = state["usageRecordGroups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["id"].as_str().unwrap(), g["status"].as_str().unwrap()))
        .collect();
    assert_eq!(statuses, [("ok-1", "REPORTED"), ("bad-1", "REPORT_FAILED")]);
    assert_eq!(state["usageRecordReports"].as_array().unwrap().len(), 2);
    assert_eq!(
        state["usageMeteringConfigInfo"],
        json!({"partnerUsageMeteringConfigs": null})
    );

    // Set a status from outside, then the API sees it.
    let (status, group) = admin(
        &fake,
        "POST",
        "group-status",
        Some(json!({"usageRecordGroupId": "ok-1", "status": "INVALID"})),
    );
    assert_eq!((status, group["status"].as_str()), (200, Some("INVALID")));
    client.delete_usage_record_group("ok-1", None).unwrap();
    let (status, _) = admin(
        &fake,
        "POST",
        "group-status",
        Some(json!({"usageRecordGroupId": "nope", "status": "INVALID"})),
    );
    assert_eq!(status, 404);

    // Requests as JSON, admin calls not among them.
    let (_, requests) = admin(&fake, "GET", "requests", None);
    let ops: Vec<&str> = requests
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["operation"].as_str().unwrap())
        .collect();
    assert_eq!(
        ops,
        [
            "GetUsageMeteringConfigInfo",
            "ListBillableMetrics",
            "ListBillableMetrics",
            "ListBillableMetrics",
            "ReportUsageRecordGroup",
            "ReportUsageRecordGroup",
            "DeleteUsageRecordGroup",
        ]
    );
    let first_report = &requests[4];
    assert_eq!(first_report["method"], "POST");
    assert_eq!(
        first_report["path"],
        "/org/fake-org/entitlement/ent-1/usageRecordGroup"
    );
    let body: Value = serde_json::from_str(first_report["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["id"], "ok-1");
    assert_eq!(fake.requests().len(), 7);
    assert_eq!(admin(&fake, "DELETE", "requests", None).0, 200);
    assert!(fake.requests().is_empty());

    let (status, body) = admin(&fake, "GET", "nope", None);
    assert_eq!(status, 404);
    assert!(body.as_str().unwrap().contains("/_fake/nope"));
}

#[test]
fn operation_ids_round_trip() {
    for op in Operation::ALL {
        assert_eq!(Operation::from_operation_id(op.operation_id()), Some(op));
    }
    assert_eq!(Operation::ALL.len(), 13);
}
