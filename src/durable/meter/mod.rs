//! Aggregates high-frequency usage in memory and reports it through an [`Outbox`]: [`Meter`].

mod builder;
mod error;
mod ids;
mod journal;
mod schedule;
mod seal;
mod threads;
mod window;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

pub use self::builder::MeterBuilder;
use std::collections::BTreeMap;

pub use self::error::MeterError;
use self::journal::{Sealed, Segment};
use self::schedule::Schedule;
use self::window::{Sums, hour_of};
use crate::api::usage_record_group::MeteringUsageRecord;
use crate::durable::outbox::{FlushSummary, Outbox};
use crate::durable::reconcile::{ReconcileItem, ReconcileState};
use crate::http::client::MeteringClient;
use crate::http::error::Error;

/// Default [`MeterBuilder::flush_interval`].
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(60);
/// Default [`MeterBuilder::max_series`].
pub const DEFAULT_MAX_SERIES: usize = 100_000;
/// Default [`MeterBuilder::shutdown_timeout`].
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`MeterBuilder::max_journal_bytes`]: 4 MiB.
pub const DEFAULT_MAX_JOURNAL_BYTES: u64 = 4 << 20;
/// Default [`MeterBuilder::max_report_bytes`]: 1 MiB.
pub const DEFAULT_MAX_REPORT_BYTES: usize = 1 << 20;

type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Aggregates usage in memory, per entitlement and dimension inside UTC hour windows, and
/// reports it through an [`Outbox`] so that it is never lost and never billed twice.
///
/// * [`add`](Meter::add) sums v1 usage; [`add_billable`](Meter::add_billable) keeps v2 records
///   as added (Suger aggregates them by the billable metric's rules).
/// * Every [`flush_interval`](MeterBuilder::flush_interval) a background thread *seals* the
///   open sums into one group per entitlement and hour (its `timestamp` is the start of the
///   hour the usage happened in, so a report sent late is billed to the right hour) and
///   enqueues them into the outbox; a second thread sends what the outbox holds. Seals keep
///   their schedule however slow Suger is.
/// * Report ids are UUID v5 of a run id (made by each start and written in the journal's file
///   names before use), the seal number, the hour and the entitlement: sealing the same journal
///   again after a crash gives the same ids, and Suger deduplicates; a copied or restored
///   outbox directory never reuses the original's ids for new usage.
/// * Memory is bounded by the number of series (v1 entitlement × dimension × hour, counted
///   once however many threads add to it, plus v2 records held), not by the event rate:
///   reaching [`max_series`](MeterBuilder::max_series) asks the background thread to seal
///   early (`add` never seals itself).
/// * v2 groups are split into parts of at most
///   [`max_report_bytes`](MeterBuilder::max_report_bytes) of request body, each with its own
///   stable id.
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
/// * The journal costs one line per event (about 50 to 70 bytes for a v1 event, the record's
///   JSON for a v2 one). When it reaches [`max_journal_bytes`](MeterBuilder::max_journal_bytes)
///   (4 MiB) it is sealed early (by the background thread: what is added meanwhile goes on
///   growing it), so the disk it takes is bounded by that size and the seal's pace, not by the
///   event rate (measured by `benches/meter.rs`). Sealing journaled usage never fails for the outbox's size cap: the groups take the
///   journal's place.
///
/// # Clocks
///
/// An event is added to the hour of the meter's clock, or, if the clock went back, to the
/// latest hour seen while that hour's window is open (until the next seal; then to its own
/// hour again). A group is never timestamped later than the current hour: usage added while
/// the clock was ahead is billed to the current hour, never dropped or refused as future
/// usage. Starting never fails because of the clock.
///
/// # Short-lived processes, shutdown and `fork`
///
/// * Call [`shutdown`](Meter::shutdown) before the process exits: it seals, sends (waiting at
///   most [`shutdown_timeout`](MeterBuilder::shutdown_timeout) for the sending), and stops the
///   threads. Dropping the meter does the same. What is not sent stays in the outbox for the
///   next run. `std::process::exit` runs no destructors: without `shutdown`, unsealed usage is
///   then lost unless the journal is on.
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
    /// The seal thread and the send thread, until stopped.
    threads: Mutex<Option<Vec<JoinHandle<()>>>>,
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
    /// Open series held in memory: v1 (entitlement, dimension, hour) counted once whatever
    /// the threads adding to it, plus v2 records.
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
    max_journal_bytes: u64,
    max_report_bytes: usize,
    clock: Option<Clock>,
    /// This start's run id: the namespace of the ids of its seals.
    run: uuid::Uuid,
    /// Threads add to different shards (by thread), so they rarely wait for each other.
    shards: Box<[Padded]>,
    /// Series held: the v1 series in `registry` plus the v2 records in all shards.
    series: AtomicUsize,
    /// Every v1 series held, once.
    registry: Mutex<HashSet<SeriesKey>>,
    /// The latest hour an event was added to.
    latest_hour: AtomicU64,
    /// Bytes of the open journal segments.
    journal_bytes: AtomicU64,
    /// A seal was asked of the seal thread and has not started yet.
    seal_asked: AtomicBool,
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
    signal: Mutex<Signal>,
    wake: Condvar,
}

/// A v1 series: (seal sequence, hour, entitlement, dimension).
type SeriesKey = (u64, u64, String, String);

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

/// What the caller and the two background threads tell each other.
#[derive(Default)]
struct Signal {
    /// Seal now (the series cap or the journal size was reached).
    seal: bool,
    /// Send now (a seal happened).
    send: bool,
    /// The threads are to end.
    stop: bool,
    /// The send thread sends once more before it ends, and leaves the result here.
    final_send: bool,
    final_result: Option<Result<FlushSummary, MeterError>>,
    sealer_done: bool,
    sender_done: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The latest hour a group may be timestamped with: the current hour of the meter's clock and
/// of the system's (the API refuses usage in the future).
fn cap_hour(clock: Option<&Clock>) -> u64 {
    let system = hour_of(SystemTime::now());
    clock.map_or(system, |c| hour_of(c()).min(system))
}

impl Meter {
    /// Options for a meter reporting through `client`; [`MeterBuilder::outbox`] is required.
    pub fn builder(client: MeteringClient) -> MeterBuilder {
        MeterBuilder::new(client)
    }

    /// Adds `quantity` to the v1 dimension `dimension` of `entitlement_id` in the current UTC
    /// hour. Sums are sealed into reports every flush interval.
    ///
    /// For an existing series this reads the clock, locks the calling thread's shard (threads
    /// are spread over 8 shards, so they rarely wait for each other), looks up two `&str` keys
    /// and adds: no allocation. A new series also takes a lock shared by all threads, once.
    /// With the journal on, the event is also written to the journal (one `write`) before this
    /// returns. `add` never seals or sends itself: it asks the background thread to.
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
    /// [`MeterError::Report`] with [`Error::InvalidRequest`] for an empty entitlement or
    /// dimension, or a quantity that is negative, NaN or infinite; [`MeterError::Closed`]
    /// after [`shutdown`](Meter::shutdown); [`MeterError::Stalled`] while sealed usage cannot
    /// be stored; [`MeterError::TooManySeries`] for a new series while twice `max_series` are
    /// held; [`MeterError::Outbox`] ([`Full`](crate::OutboxError::Full) or
    /// [`Io`](crate::OutboxError::Io)) when the journal cannot be written.
    /// In every error case the event was not counted, and nothing was written.
    pub fn add(
        &self,
        entitlement_id: &str,
        dimension: &str,
        quantity: f64,
    ) -> Result<(), MeterError> {
        check_name("entitlement_id", entitlement_id)?;
        check_name("dimension", dimension)?;
        check_quantity(quantity)?;
        let inner = &*self.inner;
        let hour = inner.hour();
        let event = (hour, entitlement_id, dimension, quantity.to_bits());
        let mut sh = inner.lock_open(my_shard())?;
        sh.sums.enter(hour);
        let Shard { sums, segment, buf } = &mut *sh;
        if let Some(sum) = sums.existing(entitlement_id, dimension) {
            if inner.journal {
                inner.append(segment, buf, &event)?;
            }
            *sum += quantity;
            return Ok(());
        }
        // New in this shard; maybe not in the meter.
        let key = (
            segment.seq,
            hour,
            entitlement_id.to_owned(),
            dimension.to_owned(),
        );
        if !lock(&inner.registry).contains(&key) {
            inner.make_room()?;
        }
        if inner.journal {
            inner.append(segment, buf, &event)?;
        }
        sums.insert(entitlement_id, dimension, quantity);
        inner.count_series(key);
        Ok(())
    }

    /// Adds a v2 billable record for `entitlement_id` in the current UTC hour. Records are not
    /// summed (Suger aggregates them by the billable metric's rules): each is sent as added, in
    /// the entitlement's v2 group of that hour (split into parts under
    /// [`max_report_bytes`](MeterBuilder::max_report_bytes)).
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
    ) -> Result<(), MeterError> {
        check_name("entitlement_id", entitlement_id)?;
        check_name("key", &record.key)?;
        check_quantity(record.quantity)?;
        let inner = &*self.inner;
        let hour = inner.hour();
        let mut sh = inner.lock_open(my_shard())?;
        inner.make_room()?;
        sh.sums.enter(hour);
        let Shard { sums, segment, buf } = &mut *sh;
        if inner.journal {
            inner.append(segment, buf, &(hour, entitlement_id, &record))?;
        }
        sums.push(entitlement_id, record);
        inner.series.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    /// Seals what was added so far into the outbox, then sends what the outbox holds, in the
    /// calling thread. Blocks until done (the sending as long as [`Outbox::flush`]).
    ///
    /// # Errors
    /// When sealing fails (the usage stays in memory and is sealed again later), or as
    /// [`Outbox::flush`].
    pub fn flush(&self) -> Result<FlushSummary, MeterError> {
        let sealed = self.inner.seal();
        let sent = self.inner.send();
        sealed?;
        sent
    }

    /// Refuses new usage, seals what was added, sends what the outbox holds and stops the
    /// background threads, waiting at most [`shutdown_timeout`](MeterBuilder::shutdown_timeout)
    /// for the sending. Call it before the process exits.
    ///
    /// What is not sent within the timeout stays in the outbox for the next run; the send under
    /// way then goes on in the background until its own HTTP timeout (a report it completes is
    /// recorded, one it does not stays pending), and the summary returned says how many reports
    /// are pending, with `last_error` telling that the timeout passed.
    ///
    /// Worst case: the time to seal (local disk: two fsyncs per report sealed, and an earlier
    /// seal under way) plus `shutdown_timeout`. Nothing here waits on Suger beyond that.
    /// A second call sends again, with the same bound.
    ///
    /// The summary is that of this last send; what the send thread sent before it is counted
    /// in [`stats`](Meter::stats).
    ///
    /// # Errors
    /// As [`flush`](Meter::flush).
    pub fn shutdown(&self) -> Result<FlushSummary, MeterError> {
        self.inner.closed.store(true, Ordering::SeqCst);
        let sealed = self.inner.seal();
        let sent = self.stop(true, self.shutdown_timeout);
        sealed?;
        match sent {
            Some(result) => result,
            None => Ok(FlushSummary {
                pending: self.inner.outbox.pending()?,
                last_error: Some(format!(
                    "the sending did not end within the shutdown timeout ({:?}); what is unsent stays in the outbox",
                    self.shutdown_timeout
                )),
                ..FlushSummary::default()
            }),
        }
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
}

impl Drop for Meter {
    /// Like [`shutdown`](Meter::shutdown) (the same bound), unless it was called.
    fn drop(&mut self) {
        if lock(&self.threads).is_none() {
            return;
        }
        self.inner.closed.store(true, Ordering::SeqCst);
        if let Err(e) = self.inner.seal() {
            log::error!(target: "suger_metering", "meter: could not seal usage on drop: {e}");
        }
        self.stop(true, self.shutdown_timeout);
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

// The usage rules live in one place (`api::rules`): the meter states none of its own.
fn check_name(field: &'static str, value: &str) -> Result<(), Error> {
    crate::api::rules::check_name(field, value)
}

fn check_quantity(q: f64) -> Result<(), Error> {
    crate::api::rules::check_quantity("quantity", q)
}
