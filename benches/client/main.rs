//! Client-side CPU cost of `suger_metering::MeteringClient` against a loopback server, compared
//! with a bare `ureq::Agent` doing the same HTTP exchange and with an in-memory decode.
//!
//! Run with `cargo bench --bench client`. Linux only (`getrusage(RUSAGE_THREAD)`, `/proc`).
//!
//! The HTTP/1.1 server runs on threads inside this process (keep-alive, TCP_NODELAY, request
//! bodies read fully) and answers every route with response bytes built before anything is
//! measured. "Thread CPU" is the user+sys time of the calling thread, read with
//! `clock_gettime(CLOCK_THREAD_CPUTIME_ID)`: the same counter as `getrusage(RUSAGE_THREAD)`,
//! which is reported next to it but can lag by a scheduler tick in CPU-bound loops. "Process
//! CPU" is `getrusage(RUSAGE_SELF)` minus what the server threads report for themselves, so it
//! also includes short-lived helper threads the client spawns (ureq's DNS resolver thread).
//! Variants of one workload run interleaved, round by round.
//!
//! Iteration counts come from environment variables (defaults in brackets):
//! `BENCH_RUNS` [7] runs per variant, and per run `BENCH_W1_N` [2000], `BENCH_W2_N` [50],
//! `BENCH_W3_N` [30], `BENCH_W5_N` [1000], `BENCH_W6_N` [2000] calls; W4 iterates
//! `BENCH_W4_TOTAL` [100000] and `BENCH_W4_SMALL` [10000] groups.

fn main() {
    #[cfg(target_os = "linux")]
    workloads::main();
    #[cfg(not(target_os = "linux"))]
    eprintln!("benches/client needs Linux (getrusage(RUSAGE_THREAD) and /proc)");
}

#[cfg(target_os = "linux")]
mod bare;
#[cfg(target_os = "linux")]
mod fixtures;
#[cfg(target_os = "linux")]
mod probes;
#[cfg(target_os = "linux")]
mod report;
#[cfg(target_os = "linux")]
mod server;
#[cfg(target_os = "linux")]
mod workloads;
