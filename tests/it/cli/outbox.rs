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

#[test]
fn an_outbox_held_by_another_process_is_exit_1_with_what_to_do() {
    let fake = FakeSuger::start().unwrap();
    let file = temp_file("usage.csv", CSV);
    let dir = file.parent().unwrap().join("outbox");
    let held = suger_metering::Outbox::open(&dir).unwrap();
    let r = run(&fake, &["outbox", "flush", "--dir", dir.to_str().unwrap()]);
    r.code(1).error_line(&["in use", "let it finish"]);
    drop(held);
    assert!(fake.requests().is_empty());
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
