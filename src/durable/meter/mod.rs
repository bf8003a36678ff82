//! Aggregates high-frequency usage in memory and reports it through an [`Outbox`]: [`Meter`].

mod builder;
mod engine;
mod journal;
mod schedule;
mod window;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

pub use self::builder::MeterBuilder;
use std::collections::BTreeMap;

use self::journal::Segment;
use self::schedule::Schedule;
use self::window::{Group, Sums};
use crate::api::usage_record_group::MeteringUsageRecord;
use crate::durable::outbox::{FlushSummary, Outbox, OutboxError};
use crate::durable::reconcile::{ReconcileItem, ReconcileState};
use crate::http::client::MeteringClient;
use crate::http::error::Error;

/// Default [`MeterBuilder::flush_interval`].
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(60);
/// Default [`MeterBuilder::max_series`].
pub const DEFAULT_MAX_SERIES: usize = 100_000;
/// Default [`MeterBuilder::shutdown_timeout`].
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Aggregates usage in memory, per entitlement and dimension inside UTC hour windows, and
/// reports it through an [`Outbox`] so that it is never lost and never billed twice.
///
/// * [`add`](Meter::add) sums v1 usage; [`add_billable`](Meter::add_billable) keeps v2 records
///   as added (Suger aggregates them by the billable metric's rules).
/// * Every [`flush_interval`](MeterBuilder::flush_interval) a background thread *seals* the
///   open sums into one group per entitlement and hour (its `timestamp` is the start of the
///   hour the usage happened in, so a report sent late is billed to the right hour), enqueues
///   them into the outbox, then flushes the outbox.
/// * Report ids are UUID v5 of the outbox's producer id, the hour and a seal sequence number:
///   sealing the same journal again after a crash gives the same ids, and Suger deduplicates.
/// * Memory is bounded by the number of series (v1 entitlement × dimension, plus v2 records
///   held), not by the event rate: reaching [`max_series`](MeterBuilder::max_series) seals
///   early.
///
/// # Durability of `add`
///
/// * Without the journal (the default), usage lives in memory until the next seal: a crash
///   loses at most what was added since the last seal (at most one `flush_interval`).
/// * With [`journal(true)`](MeterBuilder::journal), `add` returns only after the event is
///   written to an append-only journal in the outbox directory (one `write`, no fsync), and
///   the next start seals what the journal holds (under the same ids as a seal of it that was
///   under way when the process died). That survives a killed process (`kill -9`, a
///   panic, an OOM kill) at any instant, losing nothing acknowledged and billing nothing twice;
///   it does **not** survive a power cut or kernel crash (the page cache is not flushed).
///   What is in the outbox survives both.
///
/// # Short-lived processes, shutdown and `fork`
///
/// * Call [`shutdown`](Meter::shutdown) before the process exits: it seals, sends, and stops the
///   thread. Dropping the meter does the same but waits at most
///   [`shutdown_timeout`](MeterBuilder::shutdown_timeout) for the sending; what is not sent
///   stays in the outbox for the next run. `std::process::exit` runs no destructors: without
///   `shutdown`, unsealed usage is then lost unless the journal is on.
/// * A cron job that reports a few numbers needs no meter: [`Outbox::enqueue`] then
///   [`Outbox::flush`].
/// * After `fork`, the child has no background thread and shares the outbox's lock and journal
///   file with the parent: do not use an inherited meter in the child. Start the meter after
///   forking, in the process that reports.
///
/// `Meter` is `Send + Sync`: share it by reference or in an `Arc`.
///
/// ```
/// use std::time::Duration;
/// use suger_metering::fake::FakeSuger;
/// use suger_metering::{Meter, MeteringUsageRecord, Outbox};
///
/// let fake = FakeSuger::start()?;
/// # let dir = std::env::temp_dir().join(format!("meter-doc-{}", std::process::id()));
/// let meter = Meter::builder(fake.client())
///     .outbox(Outbox::open(&dir)?)
///     .flush_interval(Duration::from_secs(60))
///     .journal(true)
///     .start()?;
/// meter.add("entitlement-1", "api_calls", 1.0)?;
/// meter.add("entitlement-1", "api_calls", 2.0)?;
/// meter.add_billable("entitlement-1", MeteringUsageRecord::new("tokens", 512.0))?;
/// meter.shutdown()?;
/// let stats = meter.stats();
/// assert_eq!((stats.recorded, stats.pending), (2, 0)); // one v1 group, one v2 group
/// # drop(meter); std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Meter {
    inner: Arc<Inner>,
    thread: Mutex<Option<JoinHandle<()>>>,
    shutdown_timeout: Duration,
}

/// What a [`Meter`] has done so far, from [`Meter::stats`].
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct MeterStats {
    /// Reports in the outbox still to send.
    pub pending: usize,
    /// Reports recorded by Suger (2xx) since the meter started.
    pub recorded: u64,
    /// Reports Suger had already recorded (409: a lost answer or a crash) since the start.
    pub already_recorded: u64,
    /// Reports moved to the dead letters (refused for good) since the start.
    pub dead: u64,
    /// Damaged outbox files and journal lines moved aside or skipped since the start.
    pub damaged: u64,
    /// Pending reports whose usage is older than AWS Marketplace accepts (6 hours), at the
    /// last flush. Logged as warnings; they are still sent.
    pub overdue: usize,
    /// Pending reports whose usage is older than Azure Marketplace accepts (24 hours).
    pub overdue_24h: usize,
    /// Open series (and v2 records) held in memory.
    pub series: usize,
    /// The last error of a seal or flush since the start, if any (a later success does not
    /// clear it).
    pub last_error: Option<String>,
    /// Reports per state at the meter's last reconciliation
    /// ([`MeterBuilder::reconcile_every`]); empty until one ran.
    pub reconciled: BTreeMap<ReconcileState, usize>,
    /// The problems that reconciliation found (`failed`, `invalid`, `missing`, `mismatch`,
    /// `dead`), each also logged as a warning once.
    pub problems: Vec<ReconcileItem>,
}

struct Inner {
    client: MeteringClient,
    outbox: Outbox,
    journal: bool,
    max_series: usize,
    clock: Option<Clock>,
    /// Threads add to different shards (by thread), so they rarely wait for each other.
    shards: Box<[Padded]>,
    /// Series held in all shards.
    series: AtomicUsize,
    /// The current seal sequence number (the journal segments' number).
    seq: AtomicU64,
    /// Set by `shutdown`/Drop: `add` is refused.
    closed: AtomicBool,
    /// Seals whose groups are not all in the outbox yet; its lock serializes seals.
    backlog: Mutex<Vec<Sealed>>,
    /// Set while the backlog cannot be enqueued: `add` is refused.
    stalled: AtomicBool,
    stats: Mutex<MeterStats>,
    /// Its own reconciliation, when asked for.
    schedule: Option<Schedule>,
    stop: Mutex<Stop>,
    wake: Condvar,
}

/// Number of shards. Fixed, so that a journal written by one run is read the same by the next.
const SHARDS: usize = 8;

/// A shard on its own cache lines.
#[repr(align(128))]
struct Padded(Mutex<Shard>);

/// What one shard holds: its sums and its journal segment.
struct Shard {
    sums: Sums,
    segment: Segment,
    buf: Vec<u8>,
}

/// The shard of the calling thread.
#[inline]
fn my_shard() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local!(static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS);
    SHARD.with(|s| *s)
}

#[derive(Default)]
struct Stop {
    requested: bool,
    /// Send what is pending before the thread ends (Drop); `shutdown` sends it itself.
    final_flush: bool,
    done: bool,
}

/// A seal not yet fully in the outbox.
struct Sealed {
    groups: Vec<Group>,
    /// How many of `groups` are in the outbox.
    enqueued: usize,
    /// Its journal segments, deleted once every group is in the outbox.
    segments: Vec<std::path::PathBuf>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Meter {
    /// Options for a meter reporting through `client`; [`MeterBuilder::outbox`] is required.
    pub fn builder(client: MeteringClient) -> MeterBuilder {
        MeterBuilder {
            client,
            outbox: None,
            flush_interval: DEFAULT_FLUSH_INTERVAL,
            journal: false,
            max_series: DEFAULT_MAX_SERIES,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            clock: None,
            reconcile: None,
        }
    }

    /// Adds `quantity` to the v1 dimension `dimension` of `entitlement_id` in the current UTC
    /// hour. Sums are sealed into reports every flush interval.
    ///
    /// For an existing series this reads the clock, locks the calling thread's shard (threads
    /// are spread over 8 shards, so they rarely wait for each other), looks up two `&str` keys
    /// and adds: no allocation.
    /// With the journal on, the event is also written to the journal (one `write`) before this
    /// returns.
    ///
    /// ```
    /// # use suger_metering::{fake::FakeSuger, Meter, Outbox};
    /// # let fake = FakeSuger::start()?;
    /// # let dir = std::env::temp_dir().join(format!("meter-doc-add-{}", std::process::id()));
    /// # let meter = Meter::builder(fake.client()).outbox(Outbox::open(&dir)?).start()?;
    /// meter.add("entitlement-1", "api_calls", 1.0)?;
    /// # meter.shutdown()?; drop(meter); std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`OutboxError::Report`] with [`Error::InvalidRequest`] for an empty entitlement or
    /// dimension, or a quantity that is negative, NaN or infinite; [`OutboxError::Closed`]
    /// after [`shutdown`](Meter::shutdown); [`OutboxError::Stalled`] while sealed usage cannot
    /// be stored; [`OutboxError::Full`]/[`OutboxError::Io`] when the journal cannot be written.
    /// In every error case the event was not counted.
    pub fn add(
        &self,
        entitlement_id: &str,
        dimension: &str,
        quantity: f64,
    ) -> Result<(), OutboxError> {
        check_name("entitlement_id", entitlement_id)?;
        check_name("dimension", dimension)?;
        check_quantity(quantity)?;
        let inner = &*self.inner;
        let hour = inner.hour();
        let event = (hour, entitlement_id, dimension, quantity.to_bits());
        let shard = my_shard();
        let mut sh = inner.lock_open(shard)?;
        sh.sums.enter(hour);
        let Shard {
            sums, segment, buf, ..
        } = &mut *sh;
        if let Some(sum) = sums.existing(entitlement_id, dimension) {
            if inner.journal {
                segment.append(buf, &inner.outbox, &event)?;
            }
            *sum += quantity;
            return Ok(());
        }
        if inner.series.load(Ordering::Relaxed) >= inner.max_series {
            drop(sh);
            inner.seal()?;
            sh = inner.lock_open(shard)?;
            sh.sums.enter(hour);
        }
        let Shard {
            sums, segment, buf, ..
        } = &mut *sh;
        if inner.journal {
            segment.append(buf, &inner.outbox, &event)?;
        }
        sums.insert(entitlement_id, dimension, quantity);
        inner.series.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Adds a v2 billable record for `entitlement_id` in the current UTC hour. Records are not
    /// summed (Suger aggregates them by the billable metric's rules): each is sent as added, in
    /// the entitlement's v2 group of that hour.
    ///
    /// ```
    /// # use suger_metering::{fake::FakeSuger, Meter, MeteringUsageRecord, Outbox};
    /// # let fake = FakeSuger::start()?;
    /// # let dir = std::env::temp_dir().join(format!("meter-doc-bill-{}", std::process::id()));
    /// # let meter = Meter::builder(fake.client()).outbox(Outbox::open(&dir)?).start()?;
    /// meter.add_billable("entitlement-1", MeteringUsageRecord::new("tokens", 512.0).property("model", "large"))?;
    /// # meter.shutdown()?; drop(meter); std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`add`](Meter::add); the record's `key` must not be empty.
    pub fn add_billable(
        &self,
        entitlement_id: &str,
        record: MeteringUsageRecord,
    ) -> Result<(), OutboxError> {
        check_name("entitlement_id", entitlement_id)?;
        check_name("key", &record.key)?;
        check_quantity(record.quantity)?;
        let inner = &*self.inner;
        let hour = inner.hour();
        let shard = my_shard();
        if inner.series.load(Ordering::Relaxed) >= inner.max_series {
            inner.seal()?;
        }
        let mut sh = inner.lock_open(shard)?;
        sh.sums.enter(hour);
        let Shard {
            sums, segment, buf, ..
        } = &mut *sh;
        if inner.journal {
            segment.append(buf, &inner.outbox, &(hour, entitlement_id, &record))?;
        }
        sums.push(entitlement_id, record);
        inner.series.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Seals what was added so far into the outbox, then sends what the outbox holds. Blocks
    /// until done.
    ///
    /// # Errors
    /// When sealing fails (the usage stays in memory and is sealed again later), or as
    /// [`Outbox::flush`].
    pub fn flush(&self) -> Result<FlushSummary, OutboxError> {
        let sealed = self.inner.seal();
        let sent = self.inner.send();
        sealed?;
        sent
    }

    /// Refuses new usage, seals what was added, stops the background thread (waiting for it)
    /// and sends what the outbox holds. What cannot be sent now stays in the outbox for the next
    /// run. Call it before the process exits.
    ///
    /// # Errors
    /// As [`flush`](Meter::flush).
    pub fn shutdown(&self) -> Result<FlushSummary, OutboxError> {
        self.inner.closed.store(true, Ordering::SeqCst);
        let sealed = self.inner.seal();
        self.stop_thread(false, None);
        let sent = self.inner.send();
        sealed?;
        sent
    }

    /// Counters and the last error; `pending` is read from the outbox directory.
    pub fn stats(&self) -> MeterStats {
        let mut stats = lock(&self.inner.stats).clone();
        if let Ok(n) = self.inner.outbox.pending() {
            stats.pending = n;
        }
        stats.series = self.inner.series.load(Ordering::Relaxed);
        stats
    }

    /// The outbox the meter reports through.
    pub fn outbox(&self) -> &Outbox {
        &self.inner.outbox
    }

    /// Asks the thread to end and waits for it (at most `timeout` when given: the thread is
    /// left to finish on its own after that).
    fn stop_thread(&self, final_flush: bool, timeout: Option<Duration>) {
        let Some(handle) = lock(&self.thread).take() else {
            return;
        };
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut stop = lock(&self.inner.stop);
        stop.requested = true;
        stop.final_flush = final_flush;
        self.inner.wake.notify_all();
        // `done` is set by the thread as it ends; `is_finished` also covers a thread that died.
        while !stop.done && !handle.is_finished() {
            let wait = match deadline {
                None => Duration::from_millis(100),
                Some(d) => d
                    .saturating_duration_since(Instant::now())
                    .min(Duration::from_millis(100)),
            };
            if wait.is_zero() {
                break;
            }
            stop = self
                .inner
                .wake
                .wait_timeout(stop, wait)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        let done = stop.done || handle.is_finished();
        drop(stop);
        if done {
            let _ = handle.join();
        } else {
            log::warn!(target: "suger_metering", "meter: the last flush did not end within the shutdown timeout; what is unsent stays in the outbox");
        }
    }
}

impl Drop for Meter {
    /// Like [`shutdown`](Meter::shutdown), but waits at most the
    /// [`shutdown_timeout`](MeterBuilder::shutdown_timeout) for the sending.
    fn drop(&mut self) {
        if lock(&self.thread).is_none() {
            return;
        }
        self.inner.closed.store(true, Ordering::SeqCst);
        if let Err(e) = self.inner.seal() {
            log::error!(target: "suger_metering", "meter: could not seal usage on drop: {e}");
        }
        self.stop_thread(true, Some(self.shutdown_timeout));
    }
}

impl std::fmt::Debug for Meter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Meter")
            .field("outbox", &self.inner.outbox.dir())
            .field("journal", &self.inner.journal)
            .finish_non_exhaustive()
    }
}

fn check_name(field: &'static str, value: &str) -> Result<(), Error> {
    if value.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    Ok(())
}

fn check_quantity(q: f64) -> Result<(), Error> {
    if !(q.is_finite() && q >= 0.0) {
        return Err(Error::invalid(
            "quantity",
            format!("{q} is not a finite number >= 0 (the marketplaces refuse negative usage)"),
        ));
    }
    Ok(())
}
