//! `Outbox::enqueue` from several processes at once into one directory (many producers, one
//! sender), and the cost of the byte cap with a backlog.
//!
//! Run with `cargo bench --bench outbox` (a plain `main`, no harness crate; a few seconds).
//! The bench re-runs its own binary as the writer processes (env `BENCH_OUTBOX_CHILD`).
//!
//! * 1 and 2 writer processes, each enqueueing `BENCH_ENQUEUES` [300] reports (each fsyncs a
//!   file and a directory) once a start file appears: wall time per report and reports per
//!   second over all processes.
//! * One process with a backlog of `BENCH_BACKLOG` [5000] pending reports, without and with
//!   `max_bytes` (which measures the directory at most every 250 ms, and before refusing).
//!
//! The outbox lives in `BENCH_DIR` (default: the system temp dir), so the numbers are those of
//! that file system.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use suger_metering::{CreateUsageRecordGroupParams, Outbox};

const CHILD: &str = "BENCH_OUTBOX_CHILD";

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn fresh_dir(tag: &str) -> PathBuf {
    let base = std::env::var_os("BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    let dir = base.join(format!("suger-bench-outbox-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn usage(id: String) -> CreateUsageRecordGroupParams {
    CreateUsageRecordGroupParams {
        id: Some(id),
        records: [("api_calls".to_string(), 120.0)].into(),
        ..Default::default()
    }
}

/// A writer process: waits for the start file, enqueues `n` reports, prints the elapsed
/// nanoseconds.
fn child(dir: &Path, n: u64) {
    let outbox = Outbox::open(dir).unwrap();
    let start = dir.join("start");
    while !start.exists() {
        std::thread::sleep(Duration::from_micros(200));
    }
    let t = Instant::now();
    for i in 0..n {
        outbox
            .enqueue("ent-1", &usage(format!("p{}-{i}", std::process::id())))
            .unwrap();
    }
    println!("{}", t.elapsed().as_nanos());
}

/// `procs` writer processes at once: (wall time of the slowest, reports).
fn processes(procs: usize, n: u64) -> (Duration, u64) {
    let dir = fresh_dir(&format!("p{procs}"));
    drop(Outbox::open(&dir).unwrap());
    let children: Vec<_> = (0..procs)
        .map(|_| {
            Command::new(std::env::current_exe().unwrap())
                .env(CHILD, &dir)
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(dir.join("start"), b"").unwrap();
    let slowest = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success());
            let ns: u64 = String::from_utf8(out.stdout)
                .unwrap()
                .trim()
                .parse()
                .unwrap();
            Duration::from_nanos(ns)
        })
        .max()
        .unwrap();
    let pending = Outbox::open(&dir).unwrap().pending().unwrap() as u64;
    assert_eq!(pending, procs as u64 * n);
    let _ = std::fs::remove_dir_all(&dir);
    (slowest, pending)
}

/// One process with `backlog` pending reports: time per enqueue, with or without a cap.
fn with_backlog(backlog: u64, n: u64, cap: Option<u64>) -> Duration {
    let dir = fresh_dir("backlog");
    let outbox = Outbox::open(&dir).unwrap();
    outbox.enqueue("ent-1", &usage("seed".into())).unwrap();
    let seed = std::fs::read(dir.join("pending/seed.json")).unwrap();
    // The backlog, written directly (the bench measures enqueue, not the backlog's making).
    for i in 0..backlog {
        std::fs::write(dir.join(format!("pending/old-{i}.json")), &seed).unwrap();
    }
    let mut builder = Outbox::builder(&dir);
    if let Some(cap) = cap {
        builder = builder.max_bytes(cap);
    }
    let outbox = builder.open().unwrap();
    let t = Instant::now();
    for i in 0..n {
        outbox.enqueue("ent-1", &usage(format!("new-{i}"))).unwrap();
    }
    let per = t.elapsed() / n as u32;
    let _ = std::fs::remove_dir_all(&dir);
    per
}

fn main() {
    let n = env("BENCH_ENQUEUES", 300);
    if let Some(dir) = std::env::var_os(CHILD) {
        child(Path::new(&dir), n);
        return;
    }
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    println!("Outbox::enqueue from several processes into one directory ({n} reports each)");
    for procs in [1, 2] {
        let (wall, reports) = processes(procs, n);
        println!(
            "  {procs} process(es): {reports} reports in {wall:.2?}: {:.0} µs per report, {:.0} reports/s in all",
            wall.as_secs_f64() * 1e6 / reports as f64,
            reports as f64 / wall.as_secs_f64()
        );
    }
    let backlog = env("BENCH_BACKLOG", 5000);
    println!("Outbox::enqueue with {backlog} reports pending, one process");
    let free = with_backlog(backlog, n, None);
    let capped = with_backlog(backlog, n, Some(1 << 30));
    println!("  no cap: {free:.2?} per report; max_bytes(1 GiB): {capped:.2?} per report");
}
