//! The meter's ids across copies of an outbox directory and across the upgrade to run ids.

use super::super::{TempDir, files};
use super::{HOUR, T10, builder, clock, journal_files, total};
use suger_metering::fake::FakeSuger;

/// Copies the outbox directory `from` to `to` (files and sub-directories).
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

fn producer_id(dir: &TempDir) -> String {
    std::fs::read_to_string(dir.join("producer-id")).unwrap()
}

#[test]
fn a_copied_outbox_directory_never_reuses_the_original_s_ids() {
    let fake = FakeSuger::start().unwrap();
    let original = TempDir::new("copy-orig");
    // A smoke run, then the directory is copied (an image built after it, a restored backup).
    let (_now, clk) = clock(T10 + 60);
    let meter = builder(&fake, &original).clock(clk).start().unwrap();
    meter.add("ent-1", "calls", 1.0).unwrap();
    meter.shutdown().unwrap();
    drop(meter);
    let copy = TempDir::new("copy-copy");
    copy_dir(original.path(), copy.path());
    // Both run in the same hour with different usage.
    let mut runs = Vec::new();
    for (dir, quantity) in [(&original, 100.0), (&copy, 250.0)] {
        let (_now, clk) = clock(T10 + 120);
        let meter = builder(&fake, dir).clock(clk).start().unwrap();
        meter.add("ent-1", "calls", quantity).unwrap();
        meter.shutdown().unwrap();
        let s = meter.stats();
        runs.push((s.recorded, s.already_recorded));
    }
    assert_eq!(runs, [(1, 0), (1, 0)]);
    assert_eq!(total(&fake, "calls"), 351.0);
    // The copy was detected: it has a producer id of its own now; the original kept its own.
    assert_ne!(producer_id(&copy), producer_id(&original));
    let (_now, clk) = clock(T10 + 180);
    let before = producer_id(&original);
    builder(&fake, &original)
        .clock(clk)
        .start()
        .unwrap()
        .shutdown()
        .unwrap();
    assert_eq!(producer_id(&original), before);
}

#[test]
fn a_copy_of_an_unsealed_journal_is_billed_once() {
    let fake = FakeSuger::start().unwrap();
    let original = TempDir::new("copy-journal");
    let meter = builder(&fake, &original).journal(true).start().unwrap();
    for _ in 0..10 {
        meter.add("ent-1", "calls", 1.0).unwrap();
    }
    // The directory as a backup taken now holds it: the journal not sealed yet.
    let copy = TempDir::new("copy-journal-copy");
    copy_dir(original.path(), copy.path());
    meter.shutdown().unwrap();
    drop(meter);
    // The restored copy seals the copied journal under the original's ids: deduplicated.
    let meter = builder(&fake, &copy).journal(true).start().unwrap();
    meter.shutdown().unwrap();
    let s = meter.stats(); // over the meter's life (the recovered group may be sent early)
    assert_eq!((s.recorded, s.already_recorded), (0, 1), "{s:?}");
    assert_eq!(total(&fake, "calls"), 10.0);
}

#[test]
fn a_journal_of_the_previous_version_is_sealed_under_its_old_ids() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("legacy-journal");
    // The previous version's layout: `segment-<seq>-<shard>.log`, ids UUID v5 of the producer
    // id and "{seq}/{hour}/{entitlement}/v1|v2".
    drop(suger_metering::Outbox::open(dir.path()).unwrap());
    let producer = uuid::Uuid::parse_str(producer_id(&dir).trim()).unwrap();
    let hour = T10 / HOUR;
    let line = format!("[{hour},\"ent-1\",\"calls\",{}]\n", 7.0f64.to_bits());
    std::fs::write(
        dir.join("meter")
            .join("segment-00000000000000000005-03.log"),
        line,
    )
    .unwrap();
    std::fs::write(
        dir.join("meter")
            .join("segment-00000000000000000006-00.log"),
        "",
    )
    .unwrap();
    let meter = builder(&fake, &dir).journal(true).start().unwrap();
    meter.shutdown().unwrap();
    let groups = fake.usage_record_groups();
    assert_eq!(groups.len(), 1);
    let expected = uuid::Uuid::new_v5(&producer, format!("5/{hour}/ent-1/v1").as_bytes());
    assert_eq!(groups[0]["id"], expected.to_string());
    assert_eq!(total(&fake, "calls"), 7.0);
    // Only the new run's segments are left, after the old ones' numbers.
    let left: Vec<_> = journal_files(&dir)
        .into_iter()
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        !left.is_empty()
            && left
                .iter()
                .all(|n| n.starts_with("segment-0000000000000000000") && n.len() > 50),
        "{left:?} {:?}",
        files(&dir.join("meter"))
    );
}
