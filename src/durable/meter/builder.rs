//! [`MeterBuilder`]: the options of a [`Meter`], and its start.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, SystemTime};

use super::journal;
use super::schedule::Schedule;
use super::threads;
use super::window::Sums;
use super::{
    Clock, DEFAULT_FLUSH_INTERVAL, DEFAULT_MAX_JOURNAL_BYTES, DEFAULT_MAX_REPORT_BYTES,
    DEFAULT_MAX_SERIES, DEFAULT_SHUTDOWN_TIMEOUT, Inner, Meter, MeterError, MeterStats, Padded,
    SHARDS, Shard, Signal, cap_hour, lock,
};
use crate::durable::outbox::{Outbox, OutboxError};
use crate::http::client::MeteringClient;
use crate::http::error::Error;

/// Options of a [`Meter`], from [`Meter::builder`].
///
/// ```
/// use std::time::Duration;
/// use suger_metering::{fake::FakeSuger, Meter, Outbox};
/// # let dir = std::env::temp_dir().join(format!("meter-doc-builder-{}", std::process::id()));
/// let fake = FakeSuger::start()?;
/// let meter = Meter::builder(fake.client())
///     .outbox(Outbox::open(&dir)?)
///     .flush_interval(Duration::from_secs(60))
///     .journal(true)
///     .max_series(100_000)
///     .max_journal_bytes(4 << 20)
///     .max_report_bytes(1 << 20)
///     .shutdown_timeout(Duration::from_secs(10))
///     .start()?;
/// meter.shutdown()?;
/// # drop(meter); std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "a builder does nothing until .start() is called"]
pub struct MeterBuilder {
    client: MeteringClient,
    outbox: Option<Outbox>,
    flush_interval: Duration,
    journal: bool,
    max_series: usize,
    max_journal_bytes: u64,
    max_report_bytes: usize,
    shutdown_timeout: Duration,
    clock: Option<Clock>,
    reconcile: Option<(Duration, Duration)>,
}

impl MeterBuilder {
    pub(super) fn new(client: MeteringClient) -> Self {
        MeterBuilder {
            client,
            outbox: None,
            flush_interval: DEFAULT_FLUSH_INTERVAL,
            journal: false,
            max_series: DEFAULT_MAX_SERIES,
            max_journal_bytes: DEFAULT_MAX_JOURNAL_BYTES,
            max_report_bytes: DEFAULT_MAX_REPORT_BYTES,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            clock: None,
            reconcile: None,
        }
    }

    /// The outbox the meter seals into and sends from. Required.
    pub fn outbox(mut self, outbox: Outbox) -> Self {
        self.outbox = Some(outbox);
        self
    }

    /// How often the background thread seals (and the send thread then sends). Defaults to
    /// 60 s.
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

    /// The series (v1 entitlement × dimension × hour, plus v2 records) held before the
    /// background thread is asked to seal early. New series are refused with
    /// [`MeterError::TooManySeries`] while twice this many are held. Defaults to 100,000.
    pub fn max_series(mut self, max: usize) -> Self {
        self.max_series = max.max(1);
        self
    }

    /// The journal size at which the background thread is asked to seal early, so that the
    /// disk the journal takes is bounded by this size rather than by the event rate (one line
    /// per event: about 50 to 70 bytes for a v1 event). Each early seal makes one report per
    /// series held, so a smaller size means more reports at a high event rate. Defaults to
    /// 4 MiB.
    pub fn max_journal_bytes(mut self, bytes: u64) -> Self {
        self.max_journal_bytes = bytes.max(1);
        self
    }

    /// The largest request body of a v2 group: an entitlement's records of one hour beyond it
    /// are split into several groups, each with its own stable id. Defaults to 1 MiB.
    pub fn max_report_bytes(mut self, bytes: usize) -> Self {
        self.max_report_bytes = bytes;
        self
    }

    /// How long [`Meter::shutdown`] and dropping the meter wait for the last sending.
    /// Defaults to 10 s.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Replaces the clock that decides an event's hour window (a test seam). Defaults to
    /// `SystemTime::now`.
    #[doc(hidden)]
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

    /// Recovers what a previous run left (seals its journal again under the same ids) and
    /// starts the background threads; the seal thread stores the recovered groups in the
    /// outbox at once, before anything added since.
    ///
    /// Starting does not fail when the recovered groups cannot be stored (a full disk): the
    /// meter then stalls ([`MeterError::Stalled`] from `add`) until a later seal stores them.
    /// It never fails because of the clock.
    ///
    /// # Errors
    /// [`MeterError::Report`] with [`Error::InvalidRequest`] without an outbox or with a zero
    /// flush interval; [`MeterError::Outbox`] when the journal cannot be read or its next
    /// segments created.
    pub fn start(self) -> Result<Meter, MeterError> {
        let outbox = self
            .outbox
            .ok_or_else(|| Error::invalid("outbox", "is required: .outbox(Outbox::open(dir)?)"))?;
        if self.flush_interval.is_zero() {
            return Err(Error::invalid("flush_interval", "must not be zero").into());
        }
        // The journal and the sending are this process's alone, for the meter's life.
        outbox.hold_send_lock()?;
        let run = uuid::Uuid::new_v4();
        let cap = cap_hour(self.clock.as_ref());
        let recovered = journal::recover(&outbox, run, SHARDS, self.max_report_bytes, cap)?;
        let shards = recovered
            .segments
            .into_iter()
            .map(|segment| {
                Padded(Mutex::new(Shard {
                    sums: Sums::default(),
                    segment,
                    buf: Vec::with_capacity(256),
                }))
            })
            .collect();
        let inner = Arc::new(Inner {
            client: self.client,
            outbox,
            journal: self.journal,
            max_series: self.max_series,
            max_journal_bytes: self.max_journal_bytes,
            max_report_bytes: self.max_report_bytes,
            clock: self.clock,
            run,
            shards,
            series: AtomicUsize::new(0),
            registry: Mutex::new(HashSet::new()),
            latest_hour: AtomicU64::new(0),
            journal_bytes: AtomicU64::new(0),
            seal_asked: AtomicBool::new(false),
            seq: AtomicU64::new(recovered.next),
            closed: AtomicBool::new(false),
            backlog: Mutex::new(recovered.sealed),
            stalled: AtomicBool::new(false),
            stats: Mutex::new(MeterStats {
                damaged: recovered.damaged,
                ..MeterStats::default()
            }),
            schedule: self
                .reconcile
                .map(|(interval, window)| Schedule::new(interval, window)),
            signal: Mutex::new(Signal::default()),
            wake: Condvar::new(),
        });
        let threads = threads::spawn(&inner, self.flush_interval)
            .map_err(|e| OutboxError::io("spawn thread", "suger-meter", e))?;
        if !lock(&inner.backlog).is_empty() {
            // The seal thread stores what the previous run left at once (two fsyncs per group:
            // not the start's to wait for); a failure is logged and stalls the meter.
            inner.ask_seal();
        }
        Ok(Meter {
            inner,
            threads: Mutex::new(Some(threads)),
            shutdown_timeout: self.shutdown_timeout,
        })
    }
}
