//! Refusals that are not about the reports (issue 17, items 4 and 9): a wrong base URL or a
//! gateway refusing everything keeps the backlog pending; dead letters go back after a fix and
//! never hold the size cap; overdue usage is counted by its usage time, tried or not.

use std::time::Duration;

use super::{TempDir, client, client_no_retry, files, report_requests, stored_ids, usage};
use suger_metering::fake::{FakeSuger, Fault, Operation};
use suger_metering::{CreateUsageRecordGroupParams, MeteringClient, Outbox, RetryPolicy};

const REPORT: Operation = Operation::ReportUsageRecordGroup;

fn enqueue_n(outbox: &Outbox, n: usize) {
    for i in 0..n {
        outbox
            .enqueue("ent-1", &usage(Some(&format!("r{i}")), "calls", 1.0))
            .unwrap();
    }
}

#[test]
fn a_gateway_answering_404_to_everything_stops_the_flush_and_keeps_the_backlog() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("gateway-404");
    let outbox = Outbox::open(dir.path()).unwrap();
    enqueue_n(&outbox, 10);
    // Go's default answer for a path nobody serves: plain text, not Suger's JSON string.
    fake.inject(
        Fault::status(404)
            .body("404 page not found\n")
            .times(3)
            .only(REPORT),
    );
    let s = outbox.flush(&client(&fake)).unwrap();
    assert_eq!(
        (s.recorded, s.dead, s.pending, s.suspect_refusals),
        (0, 0, 10, 3)
    );
    assert_eq!(report_requests(&fake), 3, "stopped after 3 in a row");
    let why = s.last_error.unwrap();
    assert!(
        why.contains("404") && why.contains("base URL") && why.contains("page not found"),
        "{why}"
    );
    assert!(files(&dir.join("dead")).is_empty());
    assert_eq!(outbox.pending().unwrap(), 10);
    // Fixed (the fault is used up): everything is sent.
    assert_eq!(outbox.flush(&client(&fake)).unwrap().recorded, 10);
}

#[test]
fn a_wrong_base_path_never_moves_the_backlog_to_dead() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("wrong-path");
    let outbox = Outbox::open(dir.path()).unwrap();
    enqueue_n(&outbox, 5);
    // An HTML 400 from a proxy that does not know the path.
    let proxy = "<html><body>400 Bad Request</body></html>";
    fake.inject(Fault::status(400).body(proxy).times(3).only(REPORT));
    let s = outbox.flush(&client_no_retry(&fake)).unwrap();
    assert_eq!((s.dead, s.pending, s.suspect_refusals), (0, 5, 3));
    // An empty body is no Suger error body either.
    fake.inject(Fault::status(404).body("").times(3).only(REPORT));
    let s = outbox.flush(&client_no_retry(&fake)).unwrap();
    assert_eq!((s.dead, s.pending), (0, 5));
}

#[test]
fn fewer_than_three_suspect_refusals_or_suger_refusals_are_dead_letters() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("suspects");
    let outbox = Outbox::open(dir.path()).unwrap();
    enqueue_n(&outbox, 6);
    // Two plain-text 404s, then a report that passes: they were refusals of those reports.
    fake.inject(
        Fault::status(404)
            .body("no such entitlement")
            .times(2)
            .only(REPORT),
    );
    let s = outbox.flush(&client_no_retry(&fake)).unwrap();
    assert_eq!((s.recorded, s.dead, s.pending), (4, 2, 0));
    // Suger's own refusals (JSON strings) are dead letters however many in a row.
    for i in 10..15 {
        outbox
            .enqueue("ent-1", &usage(Some(&format!("r{i}")), "calls", 1.0))
            .unwrap();
    }
    fake.inject(
        Fault::status(404)
            .body("\"entitlement not found\"")
            .times(5)
            .only(REPORT),
    );
    let s = outbox.flush(&client_no_retry(&fake)).unwrap();
    assert_eq!((s.dead, s.pending, s.suspect_refusals), (5, 0, 0));
    assert_eq!(outbox.dead_letters().unwrap(), 7);
}

#[test]
fn dead_letters_are_moved_back_after_a_fix_and_sent_once() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("requeue");
    let outbox = Outbox::open(dir.path()).unwrap();
    enqueue_n(&outbox, 3);
    fake.inject(
        Fault::status(400)
            .body("\"unknown dimension calls\"")
            .times(3)
            .only(REPORT),
    );
    let s = outbox.flush(&client(&fake)).unwrap();
    assert_eq!((s.dead, s.pending), (3, 0));
    assert_eq!(files(&dir.join("dead")).len(), 6);
    // The metering config is fixed: move them back, send them.
    assert_eq!(outbox.requeue_dead().unwrap(), 3);
    assert!(files(&dir.join("dead")).is_empty(), "reasons removed too");
    assert_eq!(outbox.pending().unwrap(), 3);
    assert_eq!(outbox.requeue_dead().unwrap(), 0);
    let s = outbox.flush(&client(&fake)).unwrap();
    assert_eq!((s.recorded, s.dead, s.pending), (3, 0, 0));
    assert_eq!(stored_ids(&fake), ["r0", "r1", "r2"]);
}

#[test]
fn a_dead_letter_whose_id_is_pending_again_is_not_stored_twice() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("requeue-dup");
    let outbox = Outbox::open(dir.path()).unwrap();
    outbox
        .enqueue("ent-1", &usage(Some("same"), "calls", 1.0))
        .unwrap();
    outbox
        .enqueue("ent-1", &usage(Some("other"), "calls", 1.0))
        .unwrap();
    fake.inject(Fault::status(400).body("\"bad\"").times(2).only(REPORT));
    assert_eq!(outbox.flush(&client(&fake)).unwrap().dead, 2);
    // Enqueued again meanwhile: the same report, and a different one under the other id.
    outbox
        .enqueue("ent-1", &usage(Some("same"), "calls", 1.0))
        .unwrap();
    outbox
        .enqueue("ent-1", &usage(Some("other"), "calls", 9.0))
        .unwrap();
    assert_eq!(
        outbox.requeue_dead().unwrap(),
        1,
        "the same report: dead copy dropped"
    );
    assert_eq!(outbox.pending().unwrap(), 2);
    assert_eq!(
        outbox.dead_letters().unwrap(),
        1,
        "a different report stays dead"
    );
    assert_eq!(outbox.flush(&client(&fake)).unwrap().recorded, 2);
    let groups = fake.usage_record_groups();
    assert_eq!(groups.len(), 2);
}

#[test]
fn dead_letters_do_not_hold_the_size_cap() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("cap-dead");
    let outbox = Outbox::builder(dir.path()).max_bytes(1500).open().unwrap();
    let mut stored = 0;
    while outbox
        .enqueue("ent-1", &usage(Some(&format!("r{stored}")), "calls", 1.0))
        .is_ok()
    {
        stored += 1;
    }
    fake.inject(
        Fault::status(400)
            .body("\"unknown dimension\"")
            .times(usize::MAX)
            .only(REPORT),
    );
    assert_eq!(outbox.flush(&client(&fake)).unwrap().dead, stored);
    assert_eq!(outbox.used_bytes(), 0);
    // The cap is free again for new usage.
    for i in 0..stored {
        outbox
            .enqueue("ent-1", &usage(Some(&format!("new{i}")), "calls", 1.0))
            .unwrap();
    }
}

#[test]
fn reports_not_tried_are_overdue_by_their_usage_time() {
    let dir = TempDir::new("overdue-untried");
    let outbox = Outbox::open(dir.path()).unwrap();
    let now = time::OffsetDateTime::now_utc();
    for (id, hours) in [("h7", 7), ("h8", 8), ("h30", 30), ("h1", 1)] {
        let params = CreateUsageRecordGroupParams {
            timestamp: Some(now - time::Duration::hours(hours)),
            ..usage(Some(id), "calls", 1.0)
        };
        outbox.enqueue("ent-1", &params).unwrap();
    }
    // Suger unreachable: the first report stops the flush, the others are not tried.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = MeteringClient::builder()
        .api_key("k")
        .org_id("o")
        .base_url(format!("http://127.0.0.1:{port}"))
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .retry(RetryPolicy::disabled())
        .build()
        .unwrap();
    let s = outbox.flush(&client).unwrap();
    assert_eq!((s.pending, s.overdue, s.overdue_24h), (4, 3, 1));
}
