//! What the client logs: one event per attempt, retries at info level, and never the API key
//! (neither in the client's own events nor in ureq's, captured at trace level).
//!
//! The logger is global to the test binary, where other tests run in parallel: it keeps only the
//! events of the thread that installed it (the client is blocking, so this test's client and
//! ureq log on this test's thread).

use crate::support::*;

use std::sync::{Mutex, OnceLock};
use std::thread::ThreadId;
use std::time::Duration;

use suger_metering::{NewUsageRecordGroup, RetryPolicy};

struct Capture(Mutex<Vec<(log::Level, String, String)>>, OnceLock<ThreadId>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        if self.1.get() != Some(&std::thread::current().id()) {
            return;
        }
        let mut records = self.0.lock().unwrap_or_else(|e| e.into_inner());
        records.push((
            record.level(),
            record.target().to_string(),
            record.args().to_string(),
        ));
    }
    fn flush(&self) {}
}

static LOGS: Capture = Capture(Mutex::new(Vec::new()), OnceLock::new());

#[test]
fn attempts_and_retries_are_logged_without_the_api_key() {
    LOGS.1
        .set(std::thread::current().id())
        .expect("installed once");
    log::set_logger(&LOGS).expect("the only logger of this test binary");
    log::set_max_level(log::LevelFilter::Trace);

    let mut s = server();
    let failing = s
        .mock("GET", "/org/org-1/billableMetric/bm-1")
        .with_status(503)
        .with_body("\"busy\"")
        .expect(1)
        .create();
    let ok = s
        .mock("GET", "/org/org-1/billableMetric/bm-1")
        .with_status(200)
        .with_body(r#"{"id":"bm-1","name":"API calls"}"#)
        .expect(1)
        .create();
    let batch = s
        .mock("POST", "/org/org-1/batchCreateUsageRecordGroups")
        .with_status(400)
        .with_body("\"bad batch\"")
        .expect(1)
        .create();
    let client = builder(&mut s)
        .retry(RetryPolicy::default().sleep_fn(|_| {}))
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();

    client.get_billable_metric("bm-1").unwrap();
    let groups = [NewUsageRecordGroup {
        entitlement_id: "e".into(),
        records: [("d".to_string(), 1.0)].into(),
        ..Default::default()
    }];
    let err = client
        .batch_report_usage_record_groups(&groups)
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    failing.assert();
    ok.assert();
    batch.assert();

    let records = LOGS.0.lock().unwrap().clone();
    let ours: Vec<(log::Level, String)> = records
        .iter()
        .filter(|(_, target, _)| target.starts_with("suger_metering"))
        .map(|(level, _, msg)| (*level, msg.clone()))
        .collect();
    assert_eq!(ours.len(), 3, "{ours:#?}");
    assert_eq!(ours[0].0, log::Level::Info);
    assert!(
        ours[0]
            .1
            .starts_with("GET /billableMetric/bm-1 failed (attempt 1), retrying in "),
        "{}",
        ours[0].1
    );
    assert!(ours[0].1.contains("HTTP 503: busy"), "{}", ours[0].1);
    assert_eq!(
        ours[1],
        (
            log::Level::Debug,
            "GET /billableMetric/bm-1 -> 200 (attempt 2)".to_string()
        )
    );
    assert_eq!(
        ours[2],
        (
            log::Level::Debug,
            "POST /batchCreateUsageRecordGroups failed (attempt 1): Suger API answered HTTP 400: bad batch"
                .to_string()
        )
    );
    assert!(
        records
            .iter()
            .any(|(_, target, _)| target.starts_with("ureq")),
        "ureq's own trace events were captured too"
    );
    // The test's own mock server (mockito) logs the headers it received; the client side
    // (this crate and ureq) must not.
    for (_, target, msg) in records
        .iter()
        .filter(|(_, target, _)| !target.starts_with("mockito"))
    {
        assert!(!msg.contains(API_KEY), "{target}: {msg}");
    }
}
