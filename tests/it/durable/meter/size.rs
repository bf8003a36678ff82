//! The meter and sizes: a full outbox, the journal's size, large v2 seals, the series count.

use std::sync::Arc;
use std::time::Duration;

use super::super::{TempDir, client};
use super::{builder, groups_of, journal_files, total, wait_for};
use suger_metering::fake::FakeSuger;
use suger_metering::{
    CreateUsageRecordGroupParams, Meter, MeteringUsageRecord, Outbox, TransportErrorKind,
};

/// Bytes of the journal segments in `dir`.
fn journal_bytes(dir: &TempDir) -> usize {
    journal_files(dir).iter().map(|(_, b)| b.len()).sum()
}

#[test]
fn a_journal_that_fills_the_outbox_is_still_sealed_and_recovered() {
    const CAP: u64 = 4096;
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("full-journal");
    let meter = Meter::builder(client(&fake))
        .outbox(Outbox::builder(dir.path()).max_bytes(CAP).open().unwrap())
        .flush_interval(Duration::from_secs(3600))
        .journal(true)
        .start()
        .unwrap();
    // One event per entitlement: each becomes a group far larger than its journal line.
    let mut acked = 0;
    let err = loop {
        match meter.add(&format!("ent-{acked}"), "calls", 1.0) {
            Ok(()) => acked += 1,
            Err(e) => break e,
        }
    };
    assert!(err.is_full(), "{err:?}");
    assert!(acked > 20, "{acked}");
    // Nothing half-written: one complete line per acknowledged add.
    let saved = journal_files(&dir);
    let lines: usize = saved
        .iter()
        .map(|(_, b)| {
            assert!(b.is_empty() || b.ends_with(b"\n"));
            b.iter().filter(|c| **c == b'\n').count()
        })
        .sum();
    assert_eq!(lines, acked);
    // The seal stores the groups in the journal's place, over the cap.
    meter.flush().unwrap();
    assert_eq!(meter.outbox().pending().unwrap(), 0);
    assert_eq!(total(&fake, "calls"), acked as f64);
    meter.add("ent-0", "calls", 1.0).unwrap();
    meter.shutdown().unwrap();
    drop(meter);
    assert_eq!(total(&fake, "calls"), acked as f64 + 1.0);

    // The same journal left by a killed process, in a full outbox: the start recovers it.
    let dir2 = TempDir::new("full-journal-restart");
    std::fs::create_dir_all(dir2.join("meter")).unwrap();
    for (path, bytes) in &saved {
        std::fs::write(dir2.join("meter").join(path.file_name().unwrap()), bytes).unwrap();
    }
    let fake2 = FakeSuger::start().unwrap();
    let outbox = Outbox::builder(dir2.path()).max_bytes(CAP).open().unwrap();
    assert!(outbox.used_bytes() >= CAP - 64, "{}", outbox.used_bytes());
    let meter = Meter::builder(client(&fake2))
        .outbox(outbox)
        .journal(true)
        .start()
        .expect("recovery works in a full outbox");
    wait_for(
        || meter.stats().recorded == acked as u64,
        "the recovered groups stored and sent",
    );
    meter.shutdown().unwrap();
    assert_eq!(total(&fake2, "calls"), acked as f64);
}

#[test]
fn the_journal_is_sealed_early_at_its_size_limit() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("journal-size");
    let meter = builder(&fake, &dir)
        .journal(true)
        .max_journal_bytes(2048)
        .start()
        .unwrap();
    for _ in 0..2000 {
        meter.add("ent-1", "calls", 1.0).unwrap();
    }
    // About 90 KB of events; the flush interval is an hour: only the size seals.
    wait_for(
        || journal_bytes(&dir) < 2048,
        "the journal back under its limit",
    );
    wait_for(|| meter.stats().recorded >= 1, "an early seal sent");
    meter.shutdown().unwrap();
    assert_eq!(total(&fake, "calls"), 2000.0);
    assert_eq!(meter.stats().already_recorded, 0);
}

#[test]
fn a_large_v2_seal_is_split_into_parts_under_the_bound_each_recorded() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("v2-split");
    let meter = builder(&fake, &dir).journal(true).start().unwrap();
    const N: u32 = 20_000;
    for i in 0..N {
        meter
            .add_billable(
                "ent-1",
                MeteringUsageRecord::new("tokens", f64::from(i)).property("model", "large"),
            )
            .unwrap();
    }
    let s = meter.shutdown().unwrap();
    assert_eq!((s.pending, s.last_error.as_deref()), (0, None), "{s:?}");
    let reports: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/usageRecordGroup"))
        .collect();
    assert!(reports.len() >= 2, "{}", reports.len());
    for r in &reports {
        assert!(r.body.len() <= 1 << 20, "{} bytes", r.body.len());
    }
    // Every record once, in order, each part under its own id.
    let groups = groups_of(&fake, "ent-1");
    assert_eq!(groups.len(), reports.len());
    assert_eq!(s.recorded, groups.len());
    let mut quantities = Vec::new();
    for g in &groups {
        for r in g["metaInfo"]["billableRecords"].as_array().unwrap() {
            quantities.push(r["quantity"].as_f64().unwrap() as u32);
        }
    }
    assert_eq!(quantities, (0..N).collect::<Vec<_>>());
    let mut ids: Vec<_> = groups.iter().map(|g| g["id"].as_str().unwrap()).collect();
    ids.dedup();
    assert_eq!(ids.len(), groups.len());
}

#[test]
fn a_report_answer_may_be_larger_than_the_response_limit_when_the_request_is() {
    let fake = FakeSuger::start().unwrap();
    let client = fake
        .client_builder()
        .max_response_bytes(64 * 1024)
        .build()
        .unwrap();
    // About 150 KB of records: the answer echoes them all.
    let params = CreateUsageRecordGroupParams {
        id: Some("large-v2".into()),
        billable_records: (0..3000)
            .map(|i| MeteringUsageRecord::new("tokens", f64::from(i)).property("model", "large"))
            .collect(),
        ..Default::default()
    };
    let group = client
        .report_usage_record_group("ent-1", &params)
        .unwrap_or_else(|e| {
            panic!(
                "{e} ({:?})",
                e.transport_error()
                    .map(|t| t.kind() == TransportErrorKind::ResponseTooLarge)
            )
        });
    assert_eq!(group.id, "large-v2");
}

#[test]
fn a_series_added_from_many_threads_is_counted_once() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("series-once");
    // 5 customers × 2 dimensions = 10 series: the cap is not reached.
    let meter = Arc::new(builder(&fake, &dir).max_series(10).start().unwrap());
    let barrier = Arc::new(std::sync::Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (meter, barrier) = (Arc::clone(&meter), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait(); // 8 threads alive at once: 8 shards
                for c in 0..5 {
                    for d in ["calls", "bytes"] {
                        meter.add(&format!("customer-{c}"), d, 1.0).unwrap();
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(meter.stats().series, 10);
    // No early seal happened.
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(meter.outbox().pending().unwrap(), 0);
    assert!(fake.usage_record_groups().is_empty());
    meter.shutdown().unwrap();
    assert_eq!(fake.usage_record_groups().len(), 5);
    assert_eq!(total(&fake, "calls"), 40.0);
    assert_eq!(meter.stats().series, 0);
}
