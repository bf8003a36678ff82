//! Cost of the ledger and of reconciliation.
//!
//! Run with `cargo bench --bench reconcile` (a plain `main`, no harness crate; about 30 s).
//!
//! * `reconcile` of `BENCH_REPORTS` [10000] ledger entries over `BENCH_ENTITLEMENTS` [20]
//!   entitlements against the loopback fake (after its report cycle): requests made (pages,
//!   not reports), wall time, and the calling thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`;
//!   the fake serves on its own threads), at page sizes 1000 and 100.
//! * Ledger bytes per report (the day files' size over the reports).
//! * `Outbox::flush` throughput with the ledger on and off (`ledger_retention(ZERO)`),
//!   `BENCH_FLUSH` [2000] reports each, `BENCH_RUNS` [3] interleaved runs: median and best
//!   (other load only slows a run down).
//!
//! The outboxes live in `BENCH_DIR` (default: the system temp dir).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use suger_metering::fake::FakeSuger;
use suger_metering::{
    CreateUsageRecordGroupParams, MeteringClient, Outbox, Reconcile, ReconcileState, RetryPolicy,
};

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

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid pointer to a timespec, a valid clock id.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn client(fake: &FakeSuger) -> MeteringClient {
    fake.client_builder()
        .retry(RetryPolicy::disabled())
        .build()
        .unwrap()
}

fn usage(id: String) -> CreateUsageRecordGroupParams {
    CreateUsageRecordGroupParams {
        id: Some(id),
        records: [("api_calls".to_string(), 3.0)].into(),
        ..Default::default()
    }
}

/// Enqueues `n` reports over `entitlements` entitlements and flushes them: reports per second
/// of the flush.
fn fill_and_flush(fake: &FakeSuger, outbox: &Outbox, tag: &str, n: u64, entitlements: u64) -> f64 {
    for i in 0..n {
        let id = format!("{tag}-{i}");
        outbox
            .enqueue(&format!("ent-{}", i % entitlements), &usage(id))
            .unwrap();
    }
    let start = Instant::now();
    let s = outbox.flush(&client(fake)).unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(s.recorded as u64, n, "{s:?}");
    n as f64 / secs
}

fn ledger_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir.join("ledger"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".ndjson"))
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let reports = env("BENCH_REPORTS", 10_000);
    let entitlements = env("BENCH_ENTITLEMENTS", 20);
    let flush_n = env("BENCH_FLUSH", 2000);
    let runs = env("BENCH_RUNS", 3);
    let fake = FakeSuger::builder().max_requests(100).start().unwrap();

    // Reconcile.
    let dir = fresh_dir("reconcile");
    let outbox = Outbox::open(&dir).unwrap();
    let t = Instant::now();
    fill_and_flush(&fake, &outbox, "rec", reports, entitlements);
    println!(
        "setup: {reports} reports over {entitlements} entitlements enqueued and flushed in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    fake.run_report_cycle();
    let bytes = ledger_bytes(&dir);
    println!(
        "ledger: {bytes} bytes for {reports} reports = {:.0} bytes per report",
        bytes as f64 / reports as f64
    );
    let c = client(&fake);
    for page in [1000, 100] {
        let options = Reconcile::since(Duration::from_secs(48 * 3600)).page_size(page);
        let mut walls = Vec::new();
        let mut cpus = Vec::new();
        let mut calls = 0;
        for _ in 0..runs {
            let (w, cpu) = (Instant::now(), thread_cpu());
            let r = suger_metering::reconcile(&c, &dir, &options).unwrap();
            cpus.push((thread_cpu() - cpu).as_secs_f64() * 1e3);
            walls.push(w.elapsed().as_secs_f64() * 1e3);
            assert_eq!(r.count(ReconcileState::Reported) as u64, reports);
            calls = r.calls;
        }
        println!(
            "reconcile {reports} reports, pages of {page}: {calls} calls; wall {:.0} ms, thread CPU {:.0} ms (median of {runs})",
            median(walls),
            median(cpus)
        );
    }
    drop(outbox);
    let _ = std::fs::remove_dir_all(&dir);

    // Flush with the ledger on and off, interleaved.
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for run in 0..runs {
        for ledger in [true, false] {
            let dir = fresh_dir(&format!("flush-{ledger}-{run}"));
            let retention = if ledger {
                suger_metering::DEFAULT_LEDGER_RETENTION
            } else {
                Duration::ZERO
            };
            let outbox = Outbox::builder(&dir)
                .ledger_retention(retention)
                .open()
                .unwrap();
            let rate = fill_and_flush(
                &fake,
                &outbox,
                &format!("f{ledger}{run}"),
                flush_n,
                entitlements,
            );
            if ledger {
                on.push(rate)
            } else {
                off.push(rate)
            }
            drop(outbox);
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    let best = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    let (best_on, best_off) = (best(&on), best(&off));
    let (on, off) = (median(on), median(off));
    println!(
        "flush {flush_n} reports: ledger on {on:.0} reports/s, off {off:.0} reports/s ({:.2}x) median; best {best_on:.0} vs {best_off:.0} ({:.2}x)",
        on / off,
        best_on / best_off
    );
}
