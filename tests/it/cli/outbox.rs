//! `report --file --outbox DIR`, `outbox status` and `outbox flush`: what could not be sent
//! stays on disk and is sent once by a later flush (cron).

use super::{run, temp_file};
use serde_json::json;
use suger_metering::fake::{FakeSuger, Fault, Operation};

const CSV: &str = "entitlement_id,dimension,quantity,timestamp\n\
ent-1,api_calls,2,2026-03-01T10:00:00Z\n\
ent-2,api_calls,1,2026-03-01T10:00:00Z\n";

#[test]
fn an_outbox_keeps_what_suger_refused_until_a_later_flush_sends_it_once() {
    let fake = FakeSuger::start().unwrap();
    let file = temp_file("usage.csv", CSV);
    let dir = file.parent().unwrap().join("outbox");
    let (path, dir) = (file.to_str().unwrap(), dir.to_str().unwrap());

    // Suger answers 503 to both reports: they are enqueued, kept, and the outcome is open.
    fake.inject(
        Fault::status(503)
            .times(2)
            .only(Operation::ReportUsageRecordGroup),
    );
    let summary = |pending: u64, recorded: u64, already: u64| json!({"recorded": recorded, "alreadyRecorded": already, "pending": pending, "dead": 0});
    // The counts of a summary (flushes add `damaged`, `overdue` and `lastError`).
    let counts = |v: serde_json::Value| json!({"recorded": v["recorded"], "alreadyRecorded": v["alreadyRecorded"], "pending": v["pending"], "dead": v["dead"]});
    let r = run(
        &fake,
        &[
            "--max-attempts",
            "1",
            "report",
            "--file",
            path,
            "--outbox",
            dir,
        ],
    );
    assert_eq!(counts(r.code(4).json()), summary(2, 0, 0));
    r.error_line(&["2 reports are still pending", "outbox flush"]);
    assert!(fake.usage_record_groups().is_empty());

    let status = run(&fake, &["outbox", "status", "--dir", dir]);
    assert_eq!(counts(status.code(0).json()), summary(2, 0, 0));

    // Each failed report waits (its own backoff, kept in its file) before it is sent again:
    // a flush right now sends nothing.
    let r = run(&fake, &["outbox", "flush", "--dir", dir]);
    assert_eq!(counts(r.code(4).json()), summary(2, 0, 0));
    assert!(fake.usage_record_groups().is_empty());
    expire_backoffs(std::path::Path::new(dir));

    // The cron job's flush, a few minutes later, sends both.
    let r = run(&fake, &["outbox", "flush", "--dir", dir]);
    assert_eq!(counts(r.code(0).json()), summary(0, 2, 0));
    assert_eq!(fake.usage_record_groups().len(), 2);

    // The same file again: the same derived ids, already recorded, nothing billed twice.
    let r = run(&fake, &["report", "--file", path, "--outbox", dir]);
    assert_eq!(counts(r.code(0).json()), summary(0, 0, 2));
    assert_eq!(fake.usage_record_groups().len(), 2);
    let status = run(&fake, &["outbox", "status", "--dir", dir]);
    assert_eq!(counts(status.code(0).json()), summary(0, 0, 0));
}

/// Issue 16, item 4: the README's cron line while a service's meter sends the same outbox.
#[test]
fn while_a_service_sends_the_outbox_cron_enqueues_and_flush_exits_0() {
    let fake = FakeSuger::start().unwrap();
    let file = temp_file("usage.csv", CSV);
    let dir = file.parent().unwrap().join("outbox");
    let meter = suger_metering::Meter::builder(fake.client())
        .outbox(suger_metering::Outbox::open(&dir).unwrap())
        .flush_interval(std::time::Duration::from_secs(3600))
        .start()
        .unwrap();
    let (path, d) = (file.to_str().unwrap(), dir.to_str().unwrap());
    // A cron job enqueues into the service's outbox: stored, and the service sends it.
    let r = run(&fake, &["report", "--file", path, "--outbox", d]);
    assert_eq!(
        r.code(0).json(),
        json!({"recorded": 0, "alreadyRecorded": 0, "pending": 2, "dead": 0})
    );
    assert!(r.stderr.contains("being sent by another process"), "{r:?}");
    // The cron flush: not a failure, nothing sent by it.
    let r = run(&fake, &["outbox", "flush", "--dir", d]);
    assert_eq!(r.code(0).json()["pending"], 2);
    assert!(
        r.stderr.contains("being sent by another process") && r.stderr.contains("nothing to do"),
        "{r:?}"
    );
    assert!(!r.stderr.contains("error"), "{r:?}");
    // The status reads a live outbox.
    let status = run(&fake, &["outbox", "status", "--dir", d]);
    assert_eq!(status.code(0).json()["pending"], 2);
    assert!(fake.usage_record_groups().is_empty());
    assert_eq!(meter.flush().unwrap().recorded, 2);
    assert_eq!(fake.usage_record_groups().len(), 2);
}

#[test]
fn outbox_status_of_a_missing_directory_fails_and_creates_nothing() {
    let fake = FakeSuger::start().unwrap();
    let dir = temp_file("unused", "").with_file_name("no-outbox-here");
    let r = run(&fake, &["outbox", "status", "--dir", dir.to_str().unwrap()]);
    r.code(1).error_line(&["no-outbox-here"]);
    assert!(!dir.exists());
}

/// Issue 17, item 4: dead letters go back after a fix.
#[test]
fn requeue_dead_moves_refused_reports_back_and_the_next_flush_sends_them() {
    let fake = FakeSuger::start().unwrap();
    let file = temp_file("usage.csv", CSV);
    let dir = file.parent().unwrap().join("outbox");
    let (path, d) = (file.to_str().unwrap(), dir.to_str().unwrap());
    fake.inject(
        Fault::status(400)
            .body("\"unknown dimension api_calls\"")
            .times(2)
            .only(Operation::ReportUsageRecordGroup),
    );
    let r = run(&fake, &["report", "--file", path, "--outbox", d]);
    r.code(1)
        .error_line(&["2 reports were refused", "requeue-dead"]);
    let r = run(&fake, &["outbox", "requeue-dead", "--dir", d]);
    assert_eq!(
        r.code(0).json(),
        json!({"requeued": 2, "pending": 2, "dead": 0})
    );
    let r = run(&fake, &["outbox", "flush", "--dir", d]);
    assert_eq!(r.code(0).json()["recorded"], 2);
    assert_eq!(fake.usage_record_groups().len(), 2);
    let r = run(&fake, &["outbox", "requeue-dead", "--dir", d]);
    assert_eq!(r.code(0).json()["requeued"], 0);
}

/// Moves every pending entry's `retryAt` into the past: what a few minutes of waiting does.
fn expire_backoffs(dir: &std::path::Path) {
    for entry in std::fs::read_dir(dir.join("pending")).unwrap() {
        let path = entry.unwrap().path();
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert!(v["retryAt"].is_string(), "{v}");
        v["retryAt"] = "2000-01-01T00:00:00Z".into();
        std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
    }
}
