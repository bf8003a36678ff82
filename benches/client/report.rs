//! Measuring variants round by round, and formatting the results.

use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::{probes::*, server::*};

// ---------------------------------------------------------------- measuring

/// Per-call costs of each run.
#[derive(Default)]
pub(crate) struct Runs {
    /// Calling thread, `CLOCK_THREAD_CPUTIME_ID`, ns.
    pub(crate) thread: Vec<f64>,
    /// Calling thread, `getrusage(RUSAGE_THREAD)` user+sys, ns.
    pub(crate) thread_rusage: Vec<f64>,
    /// `getrusage(RUSAGE_SELF)` minus the server threads' own CPU, ns.
    pub(crate) process: Vec<f64>,
    pub(crate) wall: Vec<f64>,
    /// Minor page faults of the whole process.
    pub(crate) faults: Vec<f64>,
}

/// One measured variant: `n` calls of `f` per run.
pub(crate) struct Variant<'a> {
    pub(crate) n: usize,
    pub(crate) f: Box<dyn FnMut() + 'a>,
    pub(crate) runs: Runs,
}

pub(crate) fn variant<'a>(n: usize, f: impl FnMut() + 'a) -> Variant<'a> {
    Variant {
        n,
        f: Box::new(f),
        runs: Runs::default(),
    }
}

/// Warms every variant up, then measures `runs` rounds; each round runs every variant once
/// in turn, so that background noise spreads over all of them alike.
pub(crate) fn measure(server: &Server, runs: usize, variants: &mut [Variant<'_>]) {
    for v in variants.iter_mut() {
        for _ in 0..v.n.div_ceil(10).max(1) {
            (v.f)();
        }
    }
    for _ in 0..runs {
        for v in variants.iter_mut() {
            let s0 = server.cpu_ns.load(Ordering::SeqCst);
            let (p0, f0) = rusage(libc::RUSAGE_SELF);
            let (r0, _) = rusage(libc::RUSAGE_THREAD);
            let t0 = thread_cpu_ns();
            let w0 = Instant::now();
            for _ in 0..v.n {
                (v.f)();
            }
            let wall = w0.elapsed().as_nanos() as f64;
            let t1 = thread_cpu_ns();
            let (r1, _) = rusage(libc::RUSAGE_THREAD);
            let (p1, f1) = rusage(libc::RUSAGE_SELF);
            let s1 = server.cpu_ns.load(Ordering::SeqCst);
            let n = v.n as f64;
            let r = &mut v.runs;
            r.thread.push((t1 - t0) as f64 / n);
            r.thread_rusage.push((r1 - r0) as f64 / n);
            r.process
                .push(((p1 - p0) as f64 - (s1 - s0) as f64).max(0.0) / n);
            r.wall.push(wall / n);
            r.faults.push((f1 - f0) as f64 / n);
        }
    }
}

pub(crate) fn stats(v: &[f64]) -> (f64, f64, f64) {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let mid = s.len() / 2;
    let median = if s.len() % 2 == 1 {
        s[mid]
    } else {
        (s[mid - 1] + s[mid]) / 2.0
    };
    (median, s[0], s[s.len() - 1])
}

pub(crate) fn median(v: &[f64]) -> f64 {
    stats(v).0
}

pub(crate) fn fmt_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e4 {
        format!("{:.1} µs", ns / 1e3)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

/// `median (min–max)`.
pub(crate) fn cell(v: &[f64]) -> String {
    let (m, lo, hi) = stats(v);
    format!("{} ({}–{})", fmt_ns(m), fmt_ns(lo), fmt_ns(hi))
}

pub(crate) fn ratio(a: &Variant<'_>, b: &Variant<'_>) -> String {
    format!("{:.2}×", median(&a.runs.thread) / median(&b.runs.thread))
}
