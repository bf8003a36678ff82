//! The usage meter against the fake server: windows, ids, journal, caps, shutdown.

mod ids;
mod journal;
mod size;
mod timing;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{TempDir, client, files};
use serde_json::Value;
use suger_metering::fake::{FakeSuger, Fault, Operation};
use suger_metering::{Error, Meter, MeterBuilder, MeterError, MeteringUsageRecord, Outbox};

const HOUR: u64 = 3600;
/// 2026-11-26T10:00:00Z
const T10: u64 = 1_795_687_200;

/// A clock the test moves: seconds since the epoch.
fn clock(
    start: u64,
) -> (
    Arc<AtomicU64>,
    impl Fn() -> SystemTime + Send + Sync + 'static,
) {
    let now = Arc::new(AtomicU64::new(start));
    let n = Arc::clone(&now);
    (now, move || {
        UNIX_EPOCH + Duration::from_secs(n.load(Ordering::SeqCst))
    })
}

fn builder(fake: &FakeSuger, dir: &TempDir) -> MeterBuilder {
    Meter::builder(client(fake))
        .outbox(
            // A report that failed is sent again by the next flush (no backoff in between).
            Outbox::builder(dir.path())
                .retry_backoff(Duration::ZERO, Duration::ZERO)
                .open()
                .unwrap(),
        )
        .flush_interval(Duration::from_secs(3600))
}

/// `(hour timestamp, calls)` of each group of `ent` at the fake, sorted.
fn calls_by_hour(fake: &FakeSuger, ent: &str) -> Vec<(String, f64)> {
    let mut by_hour: Vec<(String, f64)> = groups_of(fake, ent)
        .iter()
        .map(|g| {
            let ts = g["metaInfo"]["timestamp"].as_str().unwrap().to_owned();
            (ts, g["records"]["calls"].as_f64().unwrap())
        })
        .collect();
    by_hour.sort_by(|a, b| a.partial_cmp(b).unwrap());
    by_hour
}

fn groups_of(fake: &FakeSuger, ent: &str) -> Vec<Value> {
    fake.usage_record_groups()
        .into_iter()
        .filter(|g| g["entitlementID"] == ent)
        .collect()
}

/// Sum of dimension `dim` over every group the fake stored.
fn total(fake: &FakeSuger, dim: &str) -> f64 {
    fake.usage_record_groups()
        .iter()
        .filter_map(|g| g["records"][dim].as_f64())
        .sum()
}

/// Waits (at most 10 s) until `done` holds.
fn wait_for(done: impl Fn() -> bool, what: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn adds_are_summed_into_one_group_per_entitlement_and_hour() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("sum");
    let (_now, clk) = clock(T10 + 125);
    let meter = builder(&fake, &dir).clock(clk).start().unwrap();
    meter.add("ent-1", "calls", 1.0).unwrap();
    meter.add("ent-1", "calls", 2.5).unwrap();
    meter.add("ent-1", "bytes", 100.0).unwrap();
    meter.add("ent-2", "calls", 4.0).unwrap();
    let s = meter.shutdown().unwrap();
    assert_eq!((s.recorded, s.pending), (2, 0));
    let g1 = groups_of(&fake, "ent-1");
    assert_eq!(g1.len(), 1);
    assert_eq!(
        g1[0]["records"],
        serde_json::json!({"bytes": 100, "calls": 3.5})
    );
    assert_eq!(
        g1[0]["metaInfo"]["timestamp"],
        "2026-11-26T10:00:00.000000000Z"
    );
    let id = g1[0]["id"].as_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 5);
    assert_eq!(
        groups_of(&fake, "ent-2")[0]["records"],
        serde_json::json!({"calls": 4})
    );
    let stats = meter.stats();
    assert_eq!((stats.recorded, stats.pending, stats.series), (2, 0, 0));
    assert_eq!(stats.last_error, None);
}

#[test]
fn no_group_mixes_two_hours_and_each_keeps_its_hour() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("hours");
    let (now, clk) = clock(T10 + HOUR - 1);
    let meter = builder(&fake, &dir).clock(clk).start().unwrap();
    meter.add("ent-1", "calls", 1.0).unwrap(); // 10:59:59
    now.store(T10 + HOUR, Ordering::SeqCst);
    meter.add("ent-1", "calls", 2.0).unwrap(); // 11:00:00
    now.store(T10 + 3 * HOUR + 5, Ordering::SeqCst);
    meter.add("ent-1", "calls", 4.0).unwrap(); // 13:00:05, sent at once
    meter.shutdown().unwrap();
    assert_eq!(
        calls_by_hour(&fake, "ent-1"),
        [
            ("2026-11-26T10:00:00.000000000Z".to_string(), 1.0),
            ("2026-11-26T11:00:00.000000000Z".to_string(), 2.0),
            ("2026-11-26T13:00:00.000000000Z".to_string(), 4.0),
        ]
    );
}

#[test]
fn billable_records_are_carried_as_added_in_their_own_group() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("v2");
    let meter = builder(&fake, &dir).start().unwrap();
    meter
        .add_billable(
            "ent-1",
            MeteringUsageRecord::new("tokens", 512.0).property("model", "large"),
        )
        .unwrap();
    meter
        .add_billable("ent-1", MeteringUsageRecord::new("tokens", 100.0))
        .unwrap();
    meter.add("ent-1", "calls", 1.0).unwrap();
    meter.shutdown().unwrap();
    let groups = groups_of(&fake, "ent-1");
    assert_eq!(groups.len(), 2, "a group is either v1 or v2");
    let v2 = groups
        .iter()
        .find(|g| g["records"].is_null() || g["records"] == serde_json::json!({}))
        .unwrap();
    assert_eq!(
        v2["metaInfo"]["billableRecords"],
        serde_json::json!([
            {"key": "tokens", "quantity": 512, "properties": {"model": "large"}},
            {"key": "tokens", "quantity": 100, "properties": null}
        ])
    );
}

#[test]
fn invalid_usage_is_refused_and_not_counted() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("invalid");
    let meter = builder(&fake, &dir).journal(true).start().unwrap();
    for (ent, dim, q, field) in [
        ("", "calls", 1.0, "entitlement_id"),
        ("e", "", 1.0, "dimension"),
        ("e", "calls", -1.0, "quantity"),
        ("e", "calls", f64::NAN, "quantity"),
        ("e", "calls", f64::INFINITY, "quantity"),
    ] {
        match meter.add(ent, dim, q) {
            Err(MeterError::Report(Error::InvalidRequest { field: f, .. })) => {
                assert_eq!(f, field)
            }
            other => panic!("{ent:?} {dim:?} {q}: {other:?}"),
        }
    }
    let err = meter
        .add_billable("e", MeteringUsageRecord::new("", 1.0))
        .unwrap_err();
    assert!(matches!(
        err,
        MeterError::Report(Error::InvalidRequest { field: "key", .. })
    ));
    assert_eq!(meter.stats().series, 0);
    meter.shutdown().unwrap();
    assert!(fake.usage_record_groups().is_empty());
}

#[test]
fn the_outbox_is_required_and_the_interval_not_zero() {
    let fake = FakeSuger::start().unwrap();
    let err = Meter::builder(fake.client()).start().unwrap_err();
    assert!(matches!(
        err,
        MeterError::Report(Error::InvalidRequest {
            field: "outbox",
            ..
        })
    ));
    let dir = TempDir::new("zero");
    let err = builder(&fake, &dir)
        .flush_interval(Duration::ZERO)
        .start()
        .unwrap_err();
    assert!(matches!(
        err,
        MeterError::Report(Error::InvalidRequest {
            field: "flush_interval",
            ..
        })
    ));
}

#[test]
fn reaching_the_series_cap_seals_early() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("cap-series");
    let meter = builder(&fake, &dir).max_series(2).start().unwrap();
    meter.add("ent-1", "a", 1.0).unwrap();
    meter.add("ent-1", "b", 1.0).unwrap();
    meter.add("ent-1", "a", 1.0).unwrap(); // existing: no seal
    assert_eq!(meter.outbox().pending().unwrap(), 0);
    assert_eq!(meter.stats().series, 2);
    // A third series: the seal thread is asked to seal (the flush interval is an hour), and
    // takes this series with the others (it was added before `add` let go of its shard).
    meter.add("ent-1", "c", 1.0).unwrap();
    wait_for(
        || meter.stats().recorded == 1,
        "the early seal and its sending",
    );
    assert_eq!(meter.stats().series, 0);
    meter.shutdown().unwrap();
    let groups = fake.usage_record_groups();
    assert_eq!(groups.len(), 1);
    assert_eq!(
        groups[0]["records"],
        serde_json::json!({"a": 2, "b": 1, "c": 1})
    );
}

#[test]
fn the_background_thread_seals_and_sends_every_interval() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("interval");
    let meter = builder(&fake, &dir)
        .flush_interval(Duration::from_millis(50))
        .start()
        .unwrap();
    meter.add("ent-1", "calls", 3.0).unwrap();
    // The fake stores the group before the meter has read the answer: wait for the meter.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while meter.stats().recorded == 0 {
        assert!(std::time::Instant::now() < deadline, "never sent");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(total(&fake, "calls"), 3.0);
    meter.shutdown().unwrap();
    assert_eq!(fake.usage_record_groups().len(), 1);
}

#[test]
fn drop_seals_and_sends() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("drop");
    let meter = builder(&fake, &dir).start().unwrap();
    meter.add("ent-1", "calls", 2.0).unwrap();
    drop(meter);
    assert_eq!(total(&fake, "calls"), 2.0);
    assert_eq!(Outbox::open(dir.path()).unwrap().pending().unwrap(), 0);
}

#[test]
fn drop_waits_at_most_the_shutdown_timeout_and_keeps_what_is_unsent() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("drop-slow");
    let meter = builder(&fake, &dir)
        .shutdown_timeout(Duration::from_millis(200))
        .start()
        .unwrap();
    meter.add("ent-1", "calls", 2.0).unwrap();
    fake.inject(Fault::delay(Duration::from_secs(3)).only(Operation::ReportUsageRecordGroup));
    let started = std::time::Instant::now();
    drop(meter);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // Sealed into the outbox before dropping: the next run sends it (or settles it by 409).
    std::thread::sleep(Duration::from_millis(3500));
    let outbox = Outbox::open(dir.path()).unwrap();
    outbox.flush(&client(&fake)).unwrap();
    assert_eq!(total(&fake, "calls"), 2.0);
}

#[test]
fn usage_after_shutdown_is_refused() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("closed");
    let meter = builder(&fake, &dir).start().unwrap();
    meter.shutdown().unwrap();
    assert!(matches!(
        meter.add("ent-1", "calls", 1.0),
        Err(MeterError::Closed)
    ));
    // A second shutdown is harmless.
    meter.shutdown().unwrap();
}

#[test]
fn threads_share_a_meter_and_every_add_is_counted_once() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("threads");
    let meter = Arc::new(
        builder(&fake, &dir)
            .flush_interval(Duration::from_millis(20))
            .journal(true)
            .start()
            .unwrap(),
    );
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let meter = Arc::clone(&meter);
            std::thread::spawn(move || {
                for _ in 0..5000 {
                    meter.add("ent-1", "calls", 1.0).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    meter.shutdown().unwrap();
    assert_eq!(total(&fake, "calls"), 10_000.0);
    // All ids distinct (the fake would have answered 409 otherwise).
    assert_eq!(meter.stats().already_recorded, 0);
}

#[test]
fn stats_count_dead_letters_and_the_last_error() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("stats");
    let meter = builder(&fake, &dir).start().unwrap();
    meter.add("ent-1", "calls", 1.0).unwrap();
    fake.inject(
        Fault::status(400)
            .body("\"unknown dimension\"")
            .only(Operation::ReportUsageRecordGroup),
    );
    let s = meter.flush().unwrap();
    assert_eq!(s.dead, 1);
    meter.add("ent-1", "calls", 1.0).unwrap();
    fake.inject(
        Fault::status(503)
            .times(3)
            .only(Operation::ReportUsageRecordGroup),
    );
    meter.flush().unwrap();
    let stats = meter.stats();
    assert_eq!((stats.dead, stats.pending, stats.recorded), (1, 1, 0));
    assert!(
        stats.last_error.as_deref().unwrap().contains("503"),
        "{stats:?}"
    );
    meter.flush().unwrap();
    assert_eq!(meter.stats().recorded, 1);
    assert_eq!(meter.stats().pending, 0);
}

/// Every journal file of the outbox in `dir`, with its content.
fn journal_files(dir: &TempDir) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let seg_dir = dir.join("meter");
    files(&seg_dir)
        .into_iter()
        .filter(|n| n.starts_with("segment-"))
        .map(|n| (seg_dir.join(&n), std::fs::read(seg_dir.join(&n)).unwrap()))
        .collect()
}

fn lines(files: &[(std::path::PathBuf, Vec<u8>)]) -> usize {
    files
        .iter()
        .map(|(_, b)| b.iter().filter(|c| **c == b'\n').count())
        .sum()
}
