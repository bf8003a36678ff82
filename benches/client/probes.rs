//! Configuration from the environment, and the CPU and memory probes (Linux: getrusage,
//! clock_gettime, /proc/self/status).

use std::io::{self};

use crate::fixtures::*;

// ---------------------------------------------------------------- configuration

pub(crate) fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|&v| v > 0)
        .unwrap_or(default)
}

pub(crate) struct Settings {
    pub(crate) runs: usize,
    pub(crate) w1: usize,
    pub(crate) w2: usize,
    pub(crate) w3: usize,
    pub(crate) w4_total: usize,
    pub(crate) w4_small: usize,
    pub(crate) w5: usize,
    pub(crate) w6: usize,
}

impl Settings {
    pub(crate) fn from_env() -> Self {
        let round = |n: usize| n.div_ceil(PAGE) * PAGE;
        Settings {
            runs: env_usize("BENCH_RUNS", 7),
            w1: env_usize("BENCH_W1_N", 2000),
            w2: env_usize("BENCH_W2_N", 50),
            w3: env_usize("BENCH_W3_N", 30),
            w4_total: round(env_usize("BENCH_W4_TOTAL", 100_000)),
            w4_small: round(env_usize("BENCH_W4_SMALL", 10_000)),
            w5: env_usize("BENCH_W5_N", 1000),
            w6: env_usize("BENCH_W6_N", 2000),
        }
    }
}

// ---------------------------------------------------------------- CPU and memory probes

pub(crate) fn tv_ns(tv: libc::timeval) -> u64 {
    tv.tv_sec as u64 * 1_000_000_000 + tv.tv_usec as u64 * 1000
}

/// `getrusage(who)`: user + sys CPU time in nanoseconds (microsecond resolution) and the
/// number of minor page faults.
pub(crate) fn rusage(who: libc::c_int) -> (u64, u64) {
    // SAFETY: an all-zero `rusage` is a valid value, and getrusage only writes into it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, exclusive pointer for the duration of the call.
    let rc = unsafe { libc::getrusage(who, &mut ru) };
    assert_eq!(rc, 0, "getrusage failed: {}", io::Error::last_os_error());
    (tv_ns(ru.ru_utime) + tv_ns(ru.ru_stime), ru.ru_minflt as u64)
}

/// CPU time of the calling thread, in nanoseconds, from `clock_gettime(CLOCK_THREAD_CPUTIME_ID)`.
///
/// Same quantity as `getrusage(RUSAGE_THREAD)` user+sys, but exact: Linux answers
/// `RUSAGE_THREAD` from the thread's accumulated runtime *without* first adding the slice it
/// is running right now, so a CPU-bound loop with no context switch reads stale by up to a
/// scheduler tick (short in-memory loops then measure 0). Both are reported.
pub(crate) fn thread_cpu_ns() -> u64 {
    // SAFETY: an all-zero `timespec` is valid; clock_gettime only writes into it.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: `ts` is a valid, exclusive pointer for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(
        rc,
        0,
        "clock_gettime failed: {}",
        io::Error::last_os_error()
    );
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// A `kB` field of `/proc/self/status` (`VmRSS`, `VmHWM`).
pub(crate) fn status_kb(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Resets `VmHWM` to the current RSS (Linux >= 4.0); false when not permitted.
pub(crate) fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}
