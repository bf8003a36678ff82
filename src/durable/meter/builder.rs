//! [`MeterBuilder`]: the options of a [`Meter`], and recovery of what a previous run left.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, SystemTime};

use super::journal::{self, Segment};
use super::schedule::Schedule;
use super::window::{Sums, groups};
use super::{Clock, Inner, Meter, MeterStats, Padded, SHARDS, Shard, Stop};
use crate::durable::outbox::{Outbox, OutboxError};
use crate::http::client::MeteringClient;
use crate::http::error::Error;

/// Options of a [`Meter`], from [`Meter::builder`].
pub struct MeterBuilder {
    pub(super) client: MeteringClient,
    pub(super) outbox: Option<Outbox>,
    pub(super) flush_interval: Duration,
    pub(super) journal: bool,
    pub(super) max_series: usize,
    pub(super) shutdown_timeout: Duration,
    pub(super) clock: Option<Clock>,
    pub(super) reconcile: Option<(Duration, Duration)>,
}

impl MeterBuilder {
    /// The outbox the meter seals into and sends from. Required.
    pub fn outbox(mut self, outbox: Outbox) -> Self {
        self.outbox = Some(outbox);
        self
    }

    /// How often the background thread seals and sends. Defaults to 60 s.
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = interval;
        self
    }

    /// Journals every `add` before it returns (see "Durability of `add`" on [`Meter`]).
    /// Defaults to `false`.
    pub fn journal(mut self, on: bool) -> Self {
        self.journal = on;
        self
    }

    /// The most series (v1 entitlement × dimension, plus v2 records) held before sealing
    /// early. Defaults to 100,000.
    pub fn max_series(mut self, max: usize) -> Self {
        self.max_series = max.max(1);
        self
    }

    /// How long dropping the meter waits for the last flush. Defaults to 10 s.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Replaces the clock that decides an event's hour window (for tests). Defaults to
    /// `SystemTime::now`.
    pub fn clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Reconciles on the meter's own schedule: every `interval`, the usage of the last
    /// `window` ([`reconcile`](crate::reconcile) on the outbox's directory). The counts per
    /// state and the problems land in [`MeterStats::reconciled`] and
    /// [`MeterStats::problems`]; each problem is logged as a warning once, with its id,
    /// entitlement, hour and message. Off by default; the first one runs after one
    /// `interval`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use suger_metering::{fake::FakeSuger, Meter, Outbox};
    /// # let fake = FakeSuger::start()?;
    /// # let dir = std::env::temp_dir().join(format!("meter-doc-reconcile-{}", std::process::id()));
    /// let meter = Meter::builder(fake.client())
    ///     .outbox(Outbox::open(&dir)?)
    ///     .reconcile_every(Duration::from_secs(3600), Duration::from_secs(48 * 3600))
    ///     .start()?;
    /// # meter.shutdown()?; drop(meter); std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reconcile_every(mut self, interval: Duration, window: Duration) -> Self {
        self.reconcile = Some((interval, window));
        self
    }

    /// Recovers what a previous run left (seals its journal again under the same ids, replays
    /// the open part) and starts the background thread.
    ///
    /// # Errors
    /// [`OutboxError::Report`] with [`Error::InvalidRequest`] without an outbox or with a zero
    /// flush interval; [`OutboxError::Io`]/[`OutboxError::Full`] when the recovered usage
    /// cannot be stored.
    pub fn start(self) -> Result<Meter, OutboxError> {
        let outbox = self
            .outbox
            .ok_or_else(|| Error::invalid("outbox", "is required: .outbox(Outbox::open(dir)?)"))?;
        if self.flush_interval.is_zero() {
            return Err(Error::invalid("flush_interval", "must not be zero").into());
        }
        let (shards, seq, damaged) = recover(&outbox)?;
        let inner = Arc::new(Inner {
            client: self.client,
            outbox,
            journal: self.journal,
            max_series: self.max_series,
            clock: self.clock,
            shards,
            series: AtomicUsize::new(0),
            seq: AtomicU64::new(seq),
            closed: AtomicBool::new(false),
            backlog: Mutex::new(Vec::new()),
            stalled: AtomicBool::new(false),
            stats: Mutex::new(MeterStats {
                damaged,
                ..MeterStats::default()
            }),
            schedule: self
                .reconcile
                .map(|(interval, window)| Schedule::new(interval, window)),
            stop: Mutex::new(Stop::default()),
            wake: Condvar::new(),
        });
        let bg = Arc::clone(&inner);
        let interval = self.flush_interval;
        let thread = std::thread::Builder::new()
            .name("suger-meter".into())
            .spawn(move || bg.run(interval))
            .map_err(|e| OutboxError::io("spawn thread", "suger-meter", e))?;
        Ok(Meter {
            inner,
            thread: Mutex::new(Some(thread)),
            shutdown_timeout: self.shutdown_timeout,
        })
    }
}

/// Seals every journal segment a previous run left, each under its own sequence number (the
/// same events give the same ids as any seal of them that run made), then starts the next
/// sequence. Returns the shards, their sequence number and the damaged journal lines.
fn recover(outbox: &Outbox) -> Result<(Box<[Padded]>, u64, u64), OutboxError> {
    let dir = journal::segment_dir(outbox);
    crate::durable::outbox::store::ensure_dir(&dir)?;
    let left = journal::segments(&dir)?;
    // The next sequence's files exist before any old one is deleted: the newest sequence
    // number is never lost, so no id is ever derived twice from one number.
    let next = left.keys().next_back().map_or(0, |last| last + 1);
    let shards = (0..SHARDS)
        .map(|i| {
            Ok(Padded(Mutex::new(Shard {
                sums: Sums::default(),
                segment: Segment::create(&dir, next, i)?,
                buf: Vec::with_capacity(256),
            })))
        })
        .collect::<Result<Box<[Padded]>, OutboxError>>()?;
    crate::durable::outbox::store::sync_dir(&dir)?;
    let mut damaged = 0;
    for (seq, files) in left {
        let mut windows = Vec::new();
        let mut journal_len = 0;
        for path in &files {
            let mut sums = Sums::default();
            let (len, bad) = journal::replay(path, &mut sums)?;
            journal_len += len;
            damaged += bad;
            windows.extend(sums.take());
        }
        // The groups take the journal's place under the cap (so a cap filled by the journal
        // cannot block the seal that empties it); if they cannot be stored, it counts again.
        outbox.release(journal_len);
        for (ent, params) in groups(&outbox.producer_id(), seq, windows) {
            outbox
                .enqueue(&ent, &params)
                .inspect_err(|_| outbox.charge(journal_len))?;
        }
        for path in &files {
            journal::delete(path)?;
        }
    }
    Ok((shards, next, damaged))
}
