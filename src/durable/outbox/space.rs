//! The outbox's byte cap ([`OutboxBuilder::max_bytes`](crate::OutboxBuilder::max_bytes)): the
//! one owner of what counts against it. Every write that the cap covers asks here first.
//!
//! What counts: `pending/` and `tmp/` (reports waiting or being written, by any process) and the
//! meter's journal (`meter/`). What does not: dead letters and damaged files (out of the flow,
//! kept for inspection; they never block new usage).
//!
//! Several processes write into one directory, so the cap is checked against the directory's
//! real size: measured again when the measurement is older than [`REFRESH`] (or than 20 times
//! its own duration, so that a large backlog is not listed on every write) and before any
//! refusal; between measurements, this process adds what it writes itself. The cap may thus be
//! passed by what other processes wrote since the last measurement (at most [`REFRESH`]
//! earlier, or one report per process writing at the same instant).
//!
//! The journal belongs to the process that holds the send lock (its meter): that process counts
//! it exactly ([`Space::reserve_journal`], [`Space::release_journal`]); others measure it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::error::OutboxError;
use super::store;

/// The longest a measurement of the directory is trusted.
pub(crate) const REFRESH: Duration = Duration::from_millis(250);

#[derive(Debug)]
pub(crate) struct Space {
    max: u64,
    /// `pending/` and `tmp/`.
    entry_dirs: [PathBuf; 2],
    journal_dir: PathBuf,
    /// Bytes of `pending/` and `tmp/`: the last measurement plus this process's writes since.
    entries: AtomicU64,
    /// Bytes of the journal: this process's own count while it holds the journal, else measured.
    journal: AtomicU64,
    own_journal: AtomicBool,
    /// When the last measurement was taken, and how long it took.
    measured: Mutex<(Instant, Duration)>,
}

impl Space {
    pub(crate) fn new(max: u64, pending: PathBuf, tmp: PathBuf, journal_dir: PathBuf) -> Space {
        let space = Space {
            max,
            entry_dirs: [pending, tmp],
            journal_dir,
            entries: AtomicU64::new(0),
            journal: AtomicU64::new(0),
            own_journal: AtomicBool::new(false),
            measured: Mutex::new((Instant::now(), Duration::ZERO)),
        };
        space.measure();
        space
    }

    /// This process now holds the journal (the send lock, for a meter): from the size on disk,
    /// it counts the journal itself.
    pub(crate) fn own_journal(&self) {
        self.journal
            .store(store::dir_bytes(&self.journal_dir), Ordering::Relaxed);
        self.own_journal.store(true, Ordering::Relaxed);
    }

    /// Measures the directory now.
    fn measure(&self) {
        let started = Instant::now();
        let entries = self.entry_dirs.iter().map(|d| store::dir_bytes(d)).sum();
        self.entries.store(entries, Ordering::Relaxed);
        if !self.own_journal.load(Ordering::Relaxed) {
            self.journal
                .store(store::dir_bytes(&self.journal_dir), Ordering::Relaxed);
        }
        *self.measured.lock().unwrap_or_else(PoisonError::into_inner) =
            (Instant::now(), started.elapsed());
    }

    /// Measures again when the last measurement is older than `max_age` (or 20 times its own
    /// duration, whichever is longer).
    fn measure_if_older(&self, max_age: Duration) {
        let (at, took) = *self.measured.lock().unwrap_or_else(PoisonError::into_inner);
        if at.elapsed() > max_age.max(took * 20) {
            self.measure();
        }
    }

    fn used(&self) -> u64 {
        self.entries
            .load(Ordering::Relaxed)
            .saturating_add(self.journal.load(Ordering::Relaxed))
    }

    /// Bytes counted against the cap, measured now.
    pub(crate) fn used_now(&self) -> u64 {
        self.measure();
        self.used()
    }

    /// Counts `n` more bytes on `counter`, or refuses them with [`OutboxError::Full`] (after a
    /// fresh measurement: space another process freed is seen).
    fn reserve(&self, counter: &AtomicU64, n: u64) -> Result<(), OutboxError> {
        if self.max == u64::MAX {
            counter.fetch_add(n, Ordering::Relaxed);
            return Ok(());
        }
        self.measure_if_older(REFRESH);
        for attempt in 0..2 {
            let fits = self.used().checked_add(n).is_some_and(|t| t <= self.max);
            if fits {
                counter.fetch_add(n, Ordering::Relaxed);
                return Ok(());
            }
            if attempt == 0 {
                self.measure_if_older(Duration::ZERO);
            }
        }
        Err(OutboxError::Full {
            limit: self.max,
            used: self.used(),
            needed: n,
        })
    }

    /// Room for a report of `n` bytes about to be written into `pending/`.
    pub(crate) fn reserve_entry(&self, n: u64) -> Result<(), OutboxError> {
        self.reserve(&self.entries, n)
    }

    /// A report's write failed or stored nothing: its `n` bytes are not on disk.
    pub(crate) fn unreserve_entry(&self, n: u64) {
        sub(&self.entries, n);
    }

    /// `n` bytes moved into `pending/` count, whatever the cap (dead letters moved back).
    pub(crate) fn charge_entry(&self, n: u64) {
        self.entries.fetch_add(n, Ordering::Relaxed);
    }

    /// Room for `n` bytes appended to the journal.
    pub(crate) fn reserve_journal(&self, n: u64) -> Result<(), OutboxError> {
        self.reserve(&self.journal, n)
    }

    /// `n` bytes of the journal no longer count (removed, or replaced by reports).
    pub(crate) fn release_journal(&self, n: u64) {
        sub(&self.journal, n);
    }
}

fn sub(counter: &AtomicU64, n: u64) {
    let _ = counter.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
        Some(v.saturating_sub(n))
    });
}
