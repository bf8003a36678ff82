//! Many producers, one sender (issue 16, items 3 and 4): enqueue from many outboxes of one
//! directory at once, at most one pending report per id, one sender at a time, a status that
//! only reads, and a byte cap that counts every process's reports.

use std::time::Duration;

use super::{TempDir, client, files, report_requests, stored_ids, usage};
use suger_metering::fake::FakeSuger;
use suger_metering::{CreateUsageRecordGroupParams, Meter, Outbox, OutboxError, OutboxStatus};

#[test]
fn enqueueing_a_pending_id_again_stores_nothing() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("dedup");
    let outbox = Outbox::open(dir.path()).unwrap();
    let hour = usage(Some("ent-1-2026-11-26T14"), "calls", 2653.0);
    // An outage and hourly re-runs of the same job: stored once.
    for _ in 0..3 {
        assert_eq!(
            outbox.enqueue("ent-1", &hour).unwrap(),
            "ent-1-2026-11-26T14"
        );
    }
    assert_eq!(outbox.pending().unwrap(), 1);
    assert_eq!(files(&dir.join("pending")).len(), 1);
    assert!(files(&dir.join("tmp")).is_empty());
    // A different report under the same id: a clear error, nothing stored.
    let corrected = usage(Some("ent-1-2026-11-26T14"), "calls", 2654.0);
    match outbox.enqueue("ent-1", &corrected) {
        Err(OutboxError::AlreadyPending { id, .. }) => assert_eq!(id, "ent-1-2026-11-26T14"),
        other => panic!("{other:?}"),
    }
    match outbox.enqueue("ent-2", &hour) {
        Err(OutboxError::AlreadyPending { .. }) => {}
        other => panic!("another entitlement is another report: {other:?}"),
    }
    assert_eq!(outbox.pending().unwrap(), 1);
    // Another Outbox of the directory (another process) sees the same index.
    let other = Outbox::open(dir.path()).unwrap();
    assert_eq!(
        other.enqueue("ent-1", &hour).unwrap(),
        "ent-1-2026-11-26T14"
    );
    assert!(matches!(
        other.enqueue("ent-1", &corrected),
        Err(OutboxError::AlreadyPending { .. })
    ));
    assert_eq!(outbox.pending().unwrap(), 1);

    let s = outbox.flush(&client(&fake)).unwrap();
    assert_eq!((s.recorded, s.pending), (1, 0));
    assert_eq!(fake.usage_record_groups()[0]["records"]["calls"], 2653);
    // Sent: the id is no longer pending, so it is stored again, and Suger's 409 settles it.
    outbox.enqueue("ent-1", &hour).unwrap();
    let s = outbox.flush(&client(&fake)).unwrap();
    assert_eq!((s.recorded, s.already_recorded), (0, 1));
    assert_eq!(stored_ids(&fake), ["ent-1-2026-11-26T14"]);
}

#[test]
fn threads_of_many_outboxes_enqueueing_the_same_ids_store_each_once() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("dedup-race");
    let outboxes: Vec<Outbox> = (0..4).map(|_| Outbox::open(dir.path()).unwrap()).collect();
    std::thread::scope(|s| {
        for (t, outbox) in outboxes.iter().enumerate() {
            for half in 0..2 {
                s.spawn(move || {
                    for i in 0..25 {
                        // Each id from 8 threads of 4 outboxes, in different orders.
                        let i = if (t + half) % 2 == 0 { i } else { 24 - i };
                        let id = format!("same-{i}");
                        assert_eq!(
                            outbox
                                .enqueue("ent-1", &usage(Some(&id), "calls", 1.0))
                                .unwrap(),
                            id
                        );
                        outbox
                            .enqueue(
                                "ent-1",
                                &usage(Some(&format!("own-{t}-{half}-{i}")), "calls", 1.0),
                            )
                            .unwrap();
                    }
                });
            }
        }
    });
    assert_eq!(outboxes[0].pending().unwrap(), 25 + 4 * 2 * 25);
    assert!(files(&dir.join("tmp")).is_empty());
    let s = outboxes[1].flush(&client(&fake)).unwrap();
    assert_eq!((s.recorded, s.already_recorded, s.pending), (225, 0, 0));
    assert_eq!(report_requests(&fake), 225);
}

#[test]
fn the_status_only_reads_and_works_while_a_meter_sends() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("status");
    // Nothing there: an error, and nothing is created.
    assert!(matches!(
        Outbox::inspect(dir.path()),
        Err(OutboxError::Io { .. })
    ));
    assert!(!dir.path().exists());

    let meter = Meter::builder(client(&fake))
        .outbox(Outbox::open(dir.path()).unwrap())
        .flush_interval(Duration::from_secs(3600))
        .start()
        .unwrap();
    let writer = Outbox::open(dir.path()).unwrap();
    let now = time::OffsetDateTime::now_utc();
    for (id, hours) in [("h7", 7), ("h25", 25), ("h1", 1)] {
        let params = CreateUsageRecordGroupParams {
            timestamp: Some(now - time::Duration::hours(hours)),
            ..usage(Some(id), "calls", 1.0)
        };
        writer.enqueue("ent-1", &params).unwrap();
    }
    let before = files(dir.path());
    let status = Outbox::inspect(dir.path()).unwrap();
    assert_eq!(
        (
            status.pending,
            status.overdue,
            status.overdue_24h,
            status.dead,
            status.damaged
        ),
        (3, 2, 1, 0, 0)
    );
    assert_eq!(status.bytes, writer.used_bytes());
    assert_eq!(writer.status().unwrap(), status);
    assert_eq!(files(dir.path()), before, "inspect wrote nothing");
    assert_eq!(meter.flush().unwrap().recorded, 3);
    // Nothing pending; what is left is the meter's own `meter/origin` (the directory's identity).
    let origin = std::fs::metadata(dir.join("meter/origin")).unwrap().len();
    let mut expected = OutboxStatus::default();
    expected.bytes = origin;
    assert_eq!(Outbox::inspect(dir.path()).unwrap(), expected);
}

#[test]
fn the_size_cap_counts_the_reports_of_every_process() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("cap-shared");
    let a = Outbox::builder(dir.path()).max_bytes(1500).open().unwrap();
    let b = Outbox::builder(dir.path()).max_bytes(1500).open().unwrap();
    let mut stored = 0;
    while a
        .enqueue("ent-1", &usage(Some(&format!("a{stored}")), "calls", 1.0))
        .is_ok()
    {
        stored += 1;
    }
    assert!(stored >= 3, "{stored}");
    // `b` measured the directory when it opened (empty), but counts `a`'s reports: its
    // measurement is at most 250 ms old when it decides.
    std::thread::sleep(Duration::from_millis(300));
    let err = b
        .enqueue("ent-1", &usage(Some("b0"), "calls", 1.0))
        .unwrap_err();
    assert!(err.is_full(), "{err:?}");
    assert_eq!(b.used_bytes(), a.used_bytes());
    // `b` sends them all; `a` sees the space freed at once (a refusal measures again).
    assert_eq!(b.flush(&client(&fake)).unwrap().recorded, stored);
    a.enqueue("ent-1", &usage(Some("a-after"), "calls", 1.0))
        .unwrap();
}

#[test]
fn many_opens_of_a_new_directory_at_once_all_succeed_and_enqueue() {
    for round in 0..10 {
        let dir = TempDir::new(&format!("open-race-{round}"));
        let barrier = std::sync::Barrier::new(8);
        std::thread::scope(|s| {
            for t in 0..8 {
                let (dir, barrier) = (&dir, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    let outbox = Outbox::open(dir.path()).unwrap();
                    outbox
                        .enqueue("ent-1", &usage(Some(&format!("t{t}")), "calls", 1.0))
                        .unwrap();
                });
            }
        });
        let outbox = Outbox::open(dir.path()).unwrap();
        assert_eq!(outbox.pending().unwrap(), 8);
        assert!(files(&dir.join("tmp")).is_empty());
        let id = std::fs::read_to_string(dir.join("producer-id")).unwrap();
        uuid::Uuid::parse_str(id.trim()).unwrap();
    }
}
