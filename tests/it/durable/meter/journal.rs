//! The meter's journal: resealed under the same ids, replayed on start, damaged lines, the cap,
//! restarts.

use std::time::Duration;

use super::super::{TempDir, client, files, stored_ids};
use super::{T10, builder, clock, journal_files, lines, total, wait_for};
use suger_metering::fake::FakeSuger;
use suger_metering::{Meter, MeteringUsageRecord, Outbox};

#[test]
fn resealing_the_same_journal_gives_the_same_ids_and_suger_deduplicates() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("reseal");
    let meter = builder(&fake, &dir).journal(true).start().unwrap();
    for _ in 0..10 {
        meter.add("ent-1", "calls", 1.5).unwrap();
    }
    meter
        .add_billable("ent-1", MeteringUsageRecord::new("tokens", 9.0))
        .unwrap();
    // The journal as it is before the seal: one line per event.
    let saved = journal_files(&dir);
    assert_eq!(lines(&saved), 11);
    meter.shutdown().unwrap();
    drop(meter);
    let first_ids = stored_ids(&fake);
    assert_eq!(first_ids.len(), 2);
    // A crash after the groups were enqueued but before the journal was deleted.
    for (path, bytes) in &saved {
        std::fs::write(path, bytes).unwrap();
    }
    let meter = builder(&fake, &dir).journal(true).start().unwrap();
    meter.shutdown().unwrap();
    // Counted over the meter's life: the seal thread stores the recovered groups at once, and
    // the send thread may send them before the shutdown's own send.
    let s = meter.stats();
    assert_eq!((s.recorded, s.already_recorded), (0, 2));
    assert_eq!(stored_ids(&fake), first_ids);
    assert_eq!(total(&fake, "calls"), 15.0);
}

#[test]
fn the_journal_is_sealed_on_start_and_a_torn_last_line_is_ignored() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("replay");
    let meter = builder(&fake, &dir).journal(true).start().unwrap();
    meter.add("ent-1", "calls", 2.0).unwrap();
    meter.add("ent-1", "calls", 3.0).unwrap();
    let saved = journal_files(&dir);
    meter.shutdown().unwrap();
    drop(meter);
    assert_eq!(total(&fake, "calls"), 5.0);
    // The journal as a killed process leaves it (reported to another fake: all new there),
    // plus a torn last line from a write the kill interrupted: never acknowledged.
    let fake2 = FakeSuger::start().unwrap();
    for (path, bytes) in &saved {
        let mut bytes = bytes.clone();
        if !bytes.is_empty() {
            bytes.extend_from_slice(b"[49883,\"ent-1\",\"cal");
        }
        std::fs::write(path, bytes).unwrap();
    }
    let meter = Meter::builder(client(&fake2))
        .outbox(Outbox::open(dir.path()).unwrap())
        .journal(true)
        .start()
        .unwrap();
    // Sealed on start: the seal thread stores it at once, the send thread sends it.
    wait_for(|| meter.stats().recorded == 1, "the recovered group sent");
    assert_eq!(total(&fake2, "calls"), 5.0);
    assert_eq!(meter.stats().damaged, 0);
    meter.add("ent-1", "calls", 1.0).unwrap();
    meter.shutdown().unwrap();
    assert_eq!(total(&fake2, "calls"), 6.0);
}

#[test]
fn a_damaged_journal_line_is_skipped_and_counted() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("damaged-line");
    let meter = builder(&fake, &dir).journal(true).start().unwrap();
    meter.add("ent-1", "calls", 2.0).unwrap();
    let saved = journal_files(&dir);
    drop(meter);
    for (path, bytes) in &saved {
        if !bytes.is_empty() {
            let mut b = b"not json\n[1,\"e\",\"d\",-1]\n".to_vec();
            b.extend_from_slice(bytes);
            std::fs::write(path, b).unwrap();
        }
    }
    let fake2 = FakeSuger::start().unwrap();
    let meter = Meter::builder(client(&fake2))
        .outbox(Outbox::open(dir.path()).unwrap())
        .start()
        .unwrap();
    assert_eq!(meter.stats().damaged, 1 + 1);
    meter.shutdown().unwrap();
    assert_eq!(total(&fake2, "calls"), 2.0);
}

#[test]
fn without_the_journal_nothing_is_written_per_add() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("nojournal");
    let meter = builder(&fake, &dir).start().unwrap();
    meter.add("ent-1", "calls", 2.0).unwrap();
    let journal = journal_files(&dir);
    assert!(!journal.is_empty());
    assert_eq!(lines(&journal), 0);
    meter.shutdown().unwrap();
}

#[test]
fn a_full_outbox_makes_add_fail_and_every_acknowledged_add_is_billed() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("cap-meter");
    let meter = Meter::builder(client(&fake))
        .outbox(Outbox::builder(dir.path()).max_bytes(4096).open().unwrap())
        .flush_interval(Duration::from_secs(3600))
        .journal(true)
        .start()
        .unwrap();
    let mut acked = 0u32;
    let err = loop {
        match meter.add("ent-1", "calls", 1.0) {
            Ok(()) => acked += 1,
            Err(e) => break e,
        }
    };
    assert!(err.is_full(), "{err:?}");
    assert!(acked > 10, "{acked}");
    // The seal frees the journal: usage is accepted again.
    meter.flush().unwrap();
    meter.add("ent-1", "calls", 1.0).unwrap();
    meter.shutdown().unwrap();
    assert_eq!(total(&fake, "calls"), f64::from(acked + 1));
}

#[test]
fn restarts_never_reuse_an_id_for_new_usage_of_the_same_hour() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("restarts");
    for run in 1..=3 {
        for journal in [false, true] {
            let (_now, clk) = clock(T10 + 60);
            let meter = builder(&fake, &dir)
                .journal(journal)
                .clock(clk)
                .start()
                .unwrap();
            meter.add("ent-1", "calls", 1.0).unwrap();
            meter.shutdown().unwrap();
            let s = meter.stats();
            assert_eq!(s.recorded + s.already_recorded, 1, "run {run}: {s:?}");
            // A reused id would be answered 409 and this usage taken as already recorded:
            // the fake's total below would then fall short.
        }
    }
    assert_eq!(total(&fake, "calls"), 6.0);
    // The newest sequence number stays on disk between runs (next to the directory's origin).
    let names = files(&dir.join("meter"));
    let segments = names.iter().filter(|n| n.starts_with("segment-")).count();
    assert!(
        segments > 0 && segments + 1 == names.len() && names.contains(&"origin".to_string()),
        "{names:?}"
    );
}
