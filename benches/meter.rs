//! Cost of the durable outbox and the usage meter.
//!
//! Run with `cargo bench --bench meter` (a plain `main`, no harness crate; about 20 s).
//!
//! * `meter.add` on an existing series, 1 and 2 threads, journal off and on: wall time per
//!   call (median of `BENCH_RUNS` runs) and heap allocations per call, counted by a global
//!   allocator wrapper.
//! * `Outbox::enqueue`: wall time per report (each one fsyncs a file and a directory).
//! * `Outbox::flush` against the loopback fake server: reports per second.
//! * The journal: bytes per `add`, and the most the journal holds on disk while `BENCH_JOURNAL`
//!   [1000000] adds run, without a size limit (as before `max_journal_bytes`) and with the
//!   default 4 MiB.
//!
//! `BENCH_ONLY=journal` runs only the journal measure.
//!
//! The outbox lives in `BENCH_DIR` (default: the system temp dir), so the numbers are those of
//! that file system. Iteration counts: `BENCH_ADDS` [2000000] per run without the journal
//! (a tenth of it with), `BENCH_ENQUEUES` [300], `BENCH_FLUSH` [2000]; `BENCH_RUNS` [5].

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use suger_metering::fake::FakeSuger;
use suger_metering::{CreateUsageRecordGroupParams, Meter, Outbox};

/// Counts every allocation of the process.
struct Counting;
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn fresh_dir(tag: &str) -> PathBuf {
    let base = std::env::var_os("BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    let dir = base.join(format!("suger-bench-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn median(mut xs: Vec<f64>) -> (f64, f64, f64) {
    xs.sort_by(f64::total_cmp);
    (xs[xs.len() / 2], xs[0], xs[xs.len() - 1])
}

/// A meter that only seals when told, in a fresh directory.
fn meter(fake: &FakeSuger, tag: &str, journal: bool) -> (PathBuf, Meter) {
    let dir = fresh_dir(tag);
    let meter = Meter::builder(fake.client())
        .outbox(Outbox::open(&dir).unwrap())
        .flush_interval(Duration::from_secs(3600))
        .journal(journal)
        .start()
        .unwrap();
    (dir, meter)
}

fn usage(id: String) -> CreateUsageRecordGroupParams {
    CreateUsageRecordGroupParams {
        id: Some(id),
        records: [("api_calls".to_string(), 120.0)].into(),
        ..Default::default()
    }
}

/// ns per `add` and allocations per `add`, `threads` threads on one meter, each on its own
/// existing series.
fn bench_add(fake: &FakeSuger, threads: usize, journal: bool, n: u64, runs: u64) {
    let (dir, meter) = meter(fake, "add", journal);
    let dims: Vec<String> = (0..threads).map(|t| format!("dimension-{t}")).collect();
    for d in &dims {
        meter.add("entitlement-0123456789", d, 1.0).unwrap(); // the series exists
    }
    let mut per_call = Vec::new();
    for _ in 0..runs {
        let t0 = Instant::now();
        std::thread::scope(|s| {
            for d in &dims {
                let meter = &meter;
                s.spawn(move || {
                    for _ in 0..n {
                        meter.add("entitlement-0123456789", d, 1.0).unwrap();
                    }
                });
            }
        });
        let elapsed = t0.elapsed();
        // Latency of one call as each thread sees it (threads run at the same time).
        per_call.push(elapsed.as_nanos() as f64 / n as f64);
        meter.flush().unwrap(); // seal, so the journal does not grow across runs
        for d in &dims {
            meter.add("entitlement-0123456789", d, 1.0).unwrap();
        }
    }
    meter.shutdown().unwrap();
    drop(meter);
    let _ = std::fs::remove_dir_all(&dir);
    let (med, min, max) = median(per_call);
    println!(
        "| `meter.add`, {threads} thread{}, journal {} | {med:.0} ns ({min:.0}–{max:.0}) per call | {:.1} M calls/s in all |",
        if threads > 1 { "s" } else { "" },
        if journal { "on" } else { "off" },
        threads as f64 * 1e3 / med,
    );
}

/// Heap allocations per `add` on an existing series, counted on the calling thread's run
/// (no thread spawned while counting).
fn count_allocations(fake: &FakeSuger, journal: bool, n: u64) {
    let (dir, meter) = meter(fake, "alloc", journal);
    meter
        .add("entitlement-0123456789", "dimension", 1.0)
        .unwrap();
    // Let the meter's new background thread finish starting (it allocates as it does).
    std::thread::sleep(Duration::from_millis(100));
    let a0 = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..n {
        meter
            .add("entitlement-0123456789", "dimension", 1.0)
            .unwrap();
    }
    let allocs = ALLOCATIONS.load(Ordering::Relaxed) - a0;
    println!(
        "| `meter.add` allocations, existing series, journal {} | {allocs} in {n} calls | |",
        if journal { "on" } else { "off" }
    );
    meter.shutdown().unwrap();
    drop(meter);
    let _ = std::fs::remove_dir_all(&dir);
}

fn bench_enqueue(n: u64) {
    let dir = fresh_dir("enqueue");
    let outbox = Outbox::open(&dir).unwrap();
    let t0 = Instant::now();
    for i in 0..n {
        outbox
            .enqueue("entitlement-0123456789", &usage(format!("bench-{i}")))
            .unwrap();
    }
    let per = t0.elapsed().as_secs_f64() * 1e6 / n as f64;
    println!(
        "| `outbox.enqueue`, 1 thread | {per:.0} µs per report | {:.0} reports/s |",
        1e6 / per
    );
    drop(outbox);
    let _ = std::fs::remove_dir_all(&dir);
}

fn bench_flush(n: u64) {
    let fake = FakeSuger::start().unwrap();
    let dir = fresh_dir("flush");
    let outbox = Outbox::open(&dir).unwrap();
    for i in 0..n {
        outbox
            .enqueue("entitlement-0123456789", &usage(format!("flush-{i}")))
            .unwrap();
    }
    // The floor: the same reports sent directly with the client, nothing on disk (to a fake of
    // its own: the fake's work grows with the groups it holds).
    let floor_fake = FakeSuger::start().unwrap();
    let client = floor_fake.client();
    let t0 = Instant::now();
    for i in 0..n {
        client
            .report_usage_record_group("entitlement-0123456789", &usage(format!("direct-{i}")))
            .unwrap();
    }
    let direct = t0.elapsed().as_secs_f64();
    println!(
        "| `report_usage_record_group` directly (the floor), {n} reports | {:.0} µs per report | {:.0} reports/s |",
        direct * 1e6 / n as f64,
        n as f64 / direct
    );
    let client = fake.client();
    let t0 = Instant::now();
    let summary = outbox.flush(&client).unwrap();
    let elapsed = t0.elapsed().as_secs_f64();
    assert_eq!(summary.recorded as u64, n);
    println!(
        "| `outbox.flush`, {n} reports, loopback fake | {:.0} µs per report | {:.0} reports/s |",
        elapsed * 1e6 / n as f64,
        n as f64 / elapsed
    );
    drop(outbox);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Bytes of the journal segments in the outbox `dir`.
fn journal_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir.join("meter"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().starts_with("segment-"))
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Journal bytes per `add`, and the most the journal holds while `n` adds run (sampled every
/// 1000 adds), without a size limit and with the default one.
fn bench_journal_bytes(fake: &FakeSuger, n: u64) {
    for (label, limit) in [
        ("no size limit (before)", u64::MAX),
        ("`max_journal_bytes` 4 MiB (after)", 4 << 20),
    ] {
        let dir = fresh_dir("journal-bytes");
        let meter = Meter::builder(fake.client())
            .outbox(Outbox::open(&dir).unwrap())
            .flush_interval(Duration::from_secs(3600))
            .journal(true)
            .max_journal_bytes(limit)
            .start()
            .unwrap();
        let mut peak = 0;
        for i in 0..n {
            meter
                .add("entitlement-0123456789", "dimension", 1.0)
                .unwrap();
            if i % 1000 == 999 {
                peak = peak.max(journal_bytes(&dir));
            }
        }
        peak = peak.max(journal_bytes(&dir));
        if limit == u64::MAX {
            println!(
                "| journal bytes per `add` (entitlement of 22 characters, dimension of 9) | {:.1} B | |",
                peak as f64 / n as f64
            );
        }
        println!(
            "| most journal on disk during {n} adds, {label} | {:.1} MB | |",
            peak as f64 / 1e6
        );
        meter.shutdown().unwrap();
        drop(meter);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn main() {
    let fake = FakeSuger::start().unwrap();
    if std::env::var("BENCH_ONLY").as_deref() == Ok("journal") {
        println!("| operation | size | |");
        println!("|---|---|---|");
        bench_journal_bytes(&fake, env("BENCH_JOURNAL", 1_000_000));
        return;
    }
    let runs = env("BENCH_RUNS", 5);
    let adds = env("BENCH_ADDS", 2_000_000);
    println!("| operation | time | |");
    println!("|---|---|---|");
    for journal in [false, true] {
        let n = if journal { adds / 10 } else { adds };
        for threads in [1, 2] {
            bench_add(&fake, threads, journal, n, runs);
        }
    }
    count_allocations(&fake, false, adds / 10);
    count_allocations(&fake, true, adds / 10);
    bench_enqueue(env("BENCH_ENQUEUES", 300));
    bench_flush(env("BENCH_FLUSH", 2000));
    bench_journal_bytes(&fake, env("BENCH_JOURNAL", 1_000_000));
}
