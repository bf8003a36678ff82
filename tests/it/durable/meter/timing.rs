//! The meter and time: a clock stepped back, seals on schedule while Suger is slow, a bounded
//! `add` and a bounded `shutdown`.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::super::{TempDir, client, report_requests};
use super::{HOUR, T10, builder, calls_by_hour, clock, groups_of, journal_files, total, wait_for};
use suger_metering::fake::{FakeSuger, Fault, Operation};
use suger_metering::{Meter, MeterError, Outbox};

/// Seconds since the epoch, now.
fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn usage_added_under_a_clock_that_went_back_is_billed_never_dropped() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("clock-back");
    let real = now_secs();
    // The clock runs 2 hours ahead, then is stepped back to the right time.
    let (now, clk) = clock(real + 2 * HOUR);
    let meter = builder(&fake, &dir).clock(clk).start().unwrap();
    for _ in 0..500 {
        meter.add("ent-1", "calls", 1.0).unwrap();
    }
    now.store(real, Ordering::SeqCst);
    for _ in 0..500 {
        meter.add("ent-1", "calls", 1.0).unwrap();
    }
    let s = meter.shutdown().unwrap();
    assert_eq!((s.recorded, s.pending, s.dead), (1, 0, 0), "{s:?}");
    assert_eq!(total(&fake, "calls"), 1000.0);
    assert_eq!(meter.stats().damaged, 0);
    // One group: the adds after the step went to the latest hour seen; it is timestamped with
    // the current hour, not one in the future.
    let groups = groups_of(&fake, "ent-1");
    assert_eq!(groups.len(), 1);
    let hour = time::OffsetDateTime::from_unix_timestamp((real / HOUR * HOUR) as i64).unwrap();
    let ts = groups[0]["metaInfo"]["timestamp"].as_str().unwrap();
    assert_eq!(
        time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339).unwrap(),
        hour
    );
}

#[test]
fn after_a_seal_usage_under_a_clock_that_went_back_goes_to_its_own_hour_again() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("clock-back-seal");
    let (now, clk) = clock(T10 + 2 * HOUR + 60); // 12:01, 2 hours ahead
    let meter = builder(&fake, &dir).clock(clk).start().unwrap();
    meter.add("ent-1", "calls", 1.0).unwrap();
    now.store(T10 + 60, Ordering::SeqCst); // stepped back to 10:01
    meter.flush().unwrap(); // the 12:00 window, timestamped 10:00 (not in the future)
    meter.add("ent-1", "calls", 2.0).unwrap(); // 10:01: its own hour again
    now.store(T10 + HOUR + 60, Ordering::SeqCst);
    meter.add("ent-1", "calls", 4.0).unwrap(); // 11:01
    meter.shutdown().unwrap();
    assert_eq!(
        calls_by_hour(&fake, "ent-1"),
        [
            ("2026-11-26T10:00:00.000000000Z".to_string(), 1.0),
            ("2026-11-26T10:00:00.000000000Z".to_string(), 2.0),
            ("2026-11-26T11:00:00.000000000Z".to_string(), 4.0),
        ]
    );
}

#[test]
fn a_journal_written_under_a_clock_ahead_never_stops_the_start() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("clock-journal");
    let (_now, clk) = clock(now_secs() + 3 * HOUR);
    let meter = builder(&fake, &dir)
        .journal(true)
        .clock(clk)
        .start()
        .unwrap();
    meter.add("ent-1", "calls", 3.0).unwrap();
    // The journal as a killed process leaves it.
    let saved = journal_files(&dir);
    meter.shutdown().unwrap();
    drop(meter);
    for (path, bytes) in &saved {
        std::fs::write(path, bytes).unwrap();
    }
    // Restarted with the clock right (and another fake: the usage is new there).
    let fake2 = FakeSuger::start().unwrap();
    let meter = Meter::builder(client(&fake2))
        .outbox(Outbox::open(dir.path()).unwrap())
        .journal(true)
        .start()
        .expect("the start does not wait for the clock");
    meter.shutdown().unwrap();
    assert_eq!(total(&fake2, "calls"), 3.0);
    assert_eq!(meter.stats().damaged, 0);
}

#[test]
fn seals_keep_their_schedule_while_a_flush_waits_for_suger() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("seal-schedule");
    let meter = builder(&fake, &dir)
        .flush_interval(Duration::from_millis(50))
        .shutdown_timeout(Duration::from_millis(100))
        .start()
        .unwrap();
    // Suger takes 20 s to answer the first report.
    fake.inject(Fault::delay(Duration::from_secs(20)).only(Operation::ReportUsageRecordGroup));
    meter.add("ent-1", "calls", 1.0).unwrap();
    wait_for(
        || report_requests(&fake) == 1,
        "the first report is under way",
    );
    // While that flush waits, the next usage is sealed on schedule (not 20 s later).
    meter.add("ent-2", "calls", 2.0).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while meter.outbox().pending().unwrap() < 2 {
        assert!(
            Instant::now() < deadline,
            "no seal while the flush waits: pending {}",
            meter.outbox().pending().unwrap()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(report_requests(&fake), 1, "one flush at a time");
}

#[test]
fn shutdown_waits_at_most_the_shutdown_timeout_and_keeps_what_is_unsent() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("shutdown-slow");
    let meter = builder(&fake, &dir)
        .shutdown_timeout(Duration::from_millis(200))
        .start()
        .unwrap();
    meter.add("ent-1", "calls", 2.0).unwrap();
    fake.inject(Fault::delay(Duration::from_secs(3)).only(Operation::ReportUsageRecordGroup));
    let started = Instant::now();
    let s = meter.shutdown().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!((s.recorded, s.pending), (0, 1), "{s:?}");
    assert!(
        s.last_error
            .as_deref()
            .unwrap()
            .contains("shutdown timeout"),
        "{s:?}"
    );
    assert!(matches!(
        meter.add("ent-1", "calls", 1.0),
        Err(MeterError::Closed)
    ));
    // The report under way completes in the background; the next run settles it (409 or sent).
    std::thread::sleep(Duration::from_millis(3500));
    drop(meter);
    let outbox = Outbox::open(dir.path()).unwrap();
    outbox.flush(&client(&fake)).unwrap();
    assert_eq!(outbox.pending().unwrap(), 0);
    assert_eq!(total(&fake, "calls"), 2.0);
}

#[test]
fn the_add_that_reaches_max_series_hands_the_seal_to_the_background() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("series-bg");
    // Room for no group at all: any seal fails (the outbox is full).
    let meter = Meter::builder(client(&fake))
        .outbox(Outbox::builder(dir.path()).max_bytes(64).open().unwrap())
        .flush_interval(Duration::from_secs(3600))
        .max_series(2)
        .start()
        .unwrap();
    meter.add("ent-1", "a", 1.0).unwrap();
    meter.add("ent-1", "b", 1.0).unwrap();
    // Reaches the cap: the seal is the background thread's, and its failure is not this
    // add's (before, this add sealed in the caller's thread and returned the seal's error).
    meter.add("ent-1", "c", 1.0).unwrap();
    wait_for(
        || meter.add("ent-1", "d", 1.0).is_err(),
        "the background seal failed",
    );
    let err = meter.add("ent-1", "d", 1.0).unwrap_err();
    assert!(
        matches!(err, MeterError::Stalled { .. }) && err.is_full(),
        "{err:?}"
    );
    assert!(meter.stats().last_error.unwrap().contains("full"));
}

#[test]
fn shutdown_twice_sends_again_within_the_bound() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("shutdown-twice");
    let meter = builder(&fake, &dir).start().unwrap();
    meter.add("ent-1", "calls", 1.0).unwrap();
    fake.inject(
        Fault::status(503)
            .times(3)
            .only(Operation::ReportUsageRecordGroup),
    );
    let first = meter.shutdown().unwrap();
    assert_eq!((first.recorded, first.pending), (0, 1), "{first:?}");
    let second = meter.shutdown().unwrap();
    assert_eq!((second.recorded, second.pending), (1, 0), "{second:?}");
    assert_eq!(total(&fake, "calls"), 1.0);
}

#[test]
fn new_series_are_refused_while_twice_max_series_wait_for_the_seal() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("too-many-series");
    let meter = builder(&fake, &dir).max_series(1).start().unwrap();
    // New series faster than the seal thread takes them (each seal creates and fsyncs files
    // first): sooner or later one finds twice the cap held.
    let mut acked = 0;
    let err = loop {
        assert!(acked < 100_000, "never refused");
        match meter.add(&format!("ent-{acked}"), "calls", 1.0) {
            Ok(()) => acked += 1,
            Err(e) => break e,
        }
    };
    assert!(
        matches!(err, MeterError::TooManySeries { held, max: 1, .. } if held >= 2),
        "{err:?}"
    );
    // The refused event was not counted; every accepted one is billed.
    meter.shutdown().unwrap();
    assert_eq!(total(&fake, "calls"), f64::from(acked));
}
