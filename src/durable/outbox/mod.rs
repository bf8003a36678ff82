//! A durable queue of usage reports in a directory: [`Outbox`].
//!
//! Layout of the directory:
//!
//! | path | what |
//! |---|---|
//! | `lock` | the send lock (`flock`): held by a [`flush`](Outbox::flush) while it runs, and by a [`Meter`](crate::Meter) for its life (its journal); enqueueing never takes it |
//! | `producer-id` | a UUID made once; the ids of a [`Meter`](crate::Meter) journal written before run ids derive from it; made anew when the meter finds the directory copied |
//! | `tmp/` | files being written, each locked by its writer; leftovers of a dead writer (never acknowledged) are removed on open |
//! | `pending/` | one JSON file per report still to send, named after its id (`<id>.json`, see [`entry::file_name`]): at most one pending report per id |
//! | `dead/` | reports Suger refused for good (400/404), each with `<name>.reason.txt`; [`Outbox::requeue_dead`] moves them back |
//! | `damaged/` | files that could not be read as a report, moved aside |
//! | `meter/` | the meter's journal segments, and `origin` (the directory's device and inode) |
//! | `ledger/` | what Suger recorded, one file per day (see [`reconcile`](crate::reconcile)) |

mod correction;
mod deadline;
pub(crate) mod entry;
pub(crate) mod error;
mod flush;
mod revise;
mod space;
mod status;
pub(crate) mod store;
mod verdict;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use self::entry::Entry;
pub use self::error::OutboxError;
pub use self::flush::FlushSummary;
pub use self::revise::Revision;
use self::space::Space;
pub use self::status::OutboxStatus;
use self::store::Published;
use super::ledger::{DEFAULT_LEDGER_RETENTION, Ledger};
use crate::api::ids::new_report_id;
use crate::api::rules::{check_report, fill_or_match};
use crate::api::usage_record_group::CreateUsageRecordGroupParams;
use crate::http::error::Error;

/// How long [`Outbox::hold_send_lock`] waits for a flush of another process to end.
const HOLD_WAIT: Duration = Duration::from_secs(5);

/// A durable queue of single usage reports in a directory, sent with their ids so that Suger
/// records each exactly once.
///
/// * [`enqueue`](Outbox::enqueue) validates the report, gives it an id when it has none, and
///   returns only once it is on disk: written to `tmp/`, fsynced, linked into `pending/` under
///   a name derived from its id, the directory fsynced (the maildir pattern). A crash at any
///   instant leaves the report either pending, complete, or absent; never half-written, never
///   pending twice: a report whose id is already pending is not stored again.
/// * [`flush`](Outbox::flush) sends what is pending, closest to its marketplace's cut-off
///   first, each as a single report with its id. An entry is removed only once Suger answered 2xx or 409 (this id is recorded); a
///   crash between that answer and the removal leaves the entry pending, and its resend is
///   answered 409: recorded once.
/// * **Many producers, one sender.** Any number of processes (a pre-fork server's workers, cron
///   jobs, scripts) and threads may open the same directory and enqueue at once: enqueueing
///   takes no lock. Sending does: the directory's `lock` file is locked (`flock`, released by
///   the kernel when the process ends, even by `kill -9`) by a flush while it runs, and by a
///   [`Meter`](crate::Meter) for its life. A flush while another process holds it fails with
///   [`OutboxError::Locked`] at once: that process is sending. [`pending`](Outbox::pending),
///   [`dead_letters`](Outbox::dead_letters) and [`Outbox::inspect`] only read.
///
/// `Outbox` is `Send + Sync`: threads may enqueue and flush concurrently (the flushes of one
/// `Outbox` run one at a time).
///
/// ```
/// use suger_metering::fake::FakeSuger;
/// use suger_metering::{CreateUsageRecordGroupParams, Outbox};
///
/// let fake = FakeSuger::start()?;
/// # let dir = std::env::temp_dir().join(format!("outbox-doc-{}", std::process::id()));
/// let outbox = Outbox::open(&dir)?;
/// let id = outbox.enqueue(
///     "entitlement-1",
///     &CreateUsageRecordGroupParams {
///         records: [("api_calls".to_string(), 120.0)].into(),
///         ..Default::default()
///     },
/// )?;
/// assert_eq!(outbox.pending()?, 1);
/// let summary = outbox.flush(&fake.client())?;
/// assert_eq!(summary.recorded, 1);
/// assert_eq!(outbox.pending()?, 0);
/// assert_eq!(fake.usage_record_groups()[0]["id"], id.as_str());
/// # drop(outbox); std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # After `fork`
///
/// A held send lock (a meter's) belongs to the open file, which a forked child shares: start the
/// meter in the process that reports, after forking. Enqueueing from forked workers is fine
/// (open the outbox in each, or share one opened before the fork: it holds no lock). Files are
/// opened close-on-exec, so a program started with `exec` holds nothing.
#[derive(Debug)]
pub struct Outbox {
    dir: PathBuf,
    tmp: PathBuf,
    pending: PathBuf,
    dead: PathBuf,
    damaged: PathBuf,
    /// The byte cap and what counts against it.
    space: Space,
    /// The send lock when held for the life of the outbox (by a meter).
    held: Mutex<Option<File>>,
    flush_lock: Mutex<()>,
    producer: uuid::Uuid,
    /// An entry's first wait after a failure about it, and the longest.
    backoff: (Duration, Duration),
    /// What Suger recorded (`None` with a retention of zero).
    pub(crate) ledger: Option<Ledger>,
    /// The ledger read per usage identity, for [`Outbox::enqueue_revised`].
    identities: Mutex<correction::Index>,
}

/// Options of an [`Outbox`]: `Outbox::builder(dir).max_bytes(64 << 20).open()`.
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until .open() is called"]
pub struct OutboxBuilder {
    dir: PathBuf,
    max_bytes: Option<u64>,
    backoff: (Duration, Duration),
    ledger_retention: Duration,
}

impl OutboxBuilder {
    /// Caps the bytes of the reports waiting in the outbox directory (`pending/`, `tmp/`) and
    /// of the meter's journal. A write past the cap fails with [`OutboxError::Full`] and writes
    /// nothing. Dead letters and damaged files do not count (they never block new usage;
    /// [`Outbox::requeue_dead`] makes them count again).
    ///
    /// With several processes writing into the directory, the cap is checked against the
    /// directory's size measured at most 250 ms earlier (and again before any refusal), plus
    /// this process's own writes since: it may be passed by what other processes wrote in that
    /// time. Defaults to no cap (the disk's size: a full disk fails the same way, as an I/O
    /// error).
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = Some(bytes);
        self
    }

    /// How long a report waits before it is sent again after a failure about it (a 5xx, a
    /// timeout, an unknown outcome): `first` after the first failure, doubling with each one,
    /// at most `max`. Defaults to 1 minute and 30 minutes. Other reports are sent meanwhile.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # let dir = std::env::temp_dir().join(format!("outbox-doc-backoff-{}", std::process::id()));
    /// let outbox = suger_metering::Outbox::builder(&dir)
    ///     .retry_backoff(Duration::from_secs(30), Duration::from_secs(600))
    ///     .open()?;
    /// # drop(outbox); std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), suger_metering::OutboxError>(())
    /// ```
    pub fn retry_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.backoff = (first, max.max(first));
        self
    }

    /// How long the ledger keeps the record of each report Suger recorded (in `ledger/`, one
    /// file per day, a few hundred bytes per report), for [`reconcile`](crate::reconcile).
    /// Older day files are removed on open and by flushes. `Duration::ZERO` keeps no ledger.
    /// Defaults to 35 days. The ledger is not counted against [`max_bytes`](Self::max_bytes):
    /// the retention bounds it.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # let dir = std::env::temp_dir().join(format!("outbox-doc-ledger-{}", std::process::id()));
    /// let outbox = suger_metering::Outbox::builder(&dir)
    ///     .ledger_retention(Duration::from_secs(7 * 24 * 3600))
    ///     .open()?;
    /// # drop(outbox); std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), suger_metering::OutboxError>(())
    /// ```
    pub fn ledger_retention(mut self, retention: Duration) -> Self {
        self.ledger_retention = retention;
        self
    }

    /// Opens the outbox (see [`Outbox::open`]).
    ///
    /// # Errors
    /// [`OutboxError::Io`] when it cannot be created or read.
    pub fn open(self) -> Result<Outbox, OutboxError> {
        let dir = self.dir;
        let created = !dir.exists();
        store::ensure_dir(&dir)?;
        if created && let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            store::sync_dir(parent)?;
        }
        let sub = |name: &str| -> Result<PathBuf, OutboxError> {
            let p = dir.join(name);
            store::ensure_dir(&p)?;
            Ok(p)
        };
        let (tmp, pending, dead, damaged, meter) = (
            sub("tmp")?,
            sub("pending")?,
            sub("dead")?,
            sub("damaged")?,
            sub("meter")?,
        );
        let removed = store::clear_tmp(&tmp)?;
        if removed > 0 {
            log::info!(target: "suger_metering", "outbox: removed {removed} unfinished temporary file(s)");
        }
        let producer = store::producer_id(&dir, &tmp)?;
        let ledger = if self.ledger_retention.is_zero() {
            None
        } else {
            Some(Ledger::open(&dir, self.ledger_retention)?)
        };
        store::sync_dir(&dir)?;
        let space = Space::new(
            self.max_bytes.unwrap_or(u64::MAX),
            pending.clone(),
            tmp.clone(),
            meter,
        );
        Ok(Outbox {
            tmp,
            pending,
            dead,
            damaged,
            space,
            held: Mutex::new(None),
            flush_lock: Mutex::new(()),
            producer,
            backoff: self.backoff,
            ledger,
            identities: Mutex::default(),
            dir,
        })
    }
}

impl Outbox {
    /// Opens the outbox in `dir`, creating the directory if missing, with no size cap. Takes
    /// no lock: any number of processes may open one directory and enqueue at once.
    ///
    /// Removes leftover temporary files (reports whose `enqueue` never returned, in a process
    /// that died).
    ///
    /// # Errors
    /// [`OutboxError::Io`] when it cannot be created or read.
    pub fn open(dir: impl AsRef<Path>) -> Result<Outbox, OutboxError> {
        Outbox::builder(dir).open()
    }

    /// Options before opening: `Outbox::builder(dir).max_bytes(64 << 20).open()`.
    pub fn builder(dir: impl AsRef<Path>) -> OutboxBuilder {
        OutboxBuilder {
            dir: dir.as_ref().to_path_buf(),
            max_bytes: None,
            backoff: (verdict::FIRST_BACKOFF, verdict::MAX_BACKOFF),
            ledger_retention: DEFAULT_LEDGER_RETENTION,
        }
    }

    /// The outbox directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stores one report for `entitlement_id` durably and returns its id.
    ///
    /// Validates like [`report_usage_record_group`](crate::MeteringClient::report_usage_record_group)
    /// (nothing is written when invalid) and gives the report a random UUID when `params.id` is
    /// `None`. Returns only once the report is on disk (fsynced file and directory). Safe from
    /// any number of threads and processes at once.
    ///
    /// **At most one pending report per id.** When a report with this id is already pending
    /// (a re-run of a job during an outage, two workers enqueueing the same usage), nothing is
    /// stored: `enqueue` returns the id when the pending report is the same (entitlement and
    /// content), and [`OutboxError::AlreadyPending`] when it differs.
    ///
    /// Give every report its own id: Suger answers 409 to an id it already recorded, and the
    /// outbox takes that answer as "recorded" (it cannot tell a resend from a reused id).
    ///
    /// ```
    /// # use suger_metering::{CreateUsageRecordGroupParams, Outbox};
    /// # let dir = std::env::temp_dir().join(format!("outbox-doc-enq-{}", std::process::id()));
    /// # let outbox = Outbox::open(&dir)?;
    /// let usage = CreateUsageRecordGroupParams {
    ///     id: Some("ent1-2026-11-26T14".into()),
    ///     records: [("api_calls".to_string(), 120.0)].into(),
    ///     ..Default::default()
    /// };
    /// assert_eq!(outbox.enqueue("entitlement-1", &usage)?, "ent1-2026-11-26T14");
    /// // Again (a re-run): stored once.
    /// assert_eq!(outbox.enqueue("entitlement-1", &usage)?, "ent1-2026-11-26T14");
    /// assert_eq!(outbox.pending()?, 1);
    /// # drop(outbox); std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), suger_metering::OutboxError>(())
    /// ```
    ///
    /// # Errors
    /// [`OutboxError::Report`] with [`Error::InvalidRequest`] for invalid usage;
    /// [`OutboxError::AlreadyPending`] when a different report with this id is pending;
    /// [`OutboxError::Full`] past the size cap; [`OutboxError::Io`] when the disk fails (full:
    /// `StorageFull`). In these cases nothing was stored. [`OutboxError::MaybePending`] when the
    /// report was stored but the disk could not confirm it (the directory fsync failed): it
    /// may be sent; enqueue it again only with the same id.
    pub fn enqueue(
        &self,
        entitlement_id: &str,
        params: &CreateUsageRecordGroupParams,
    ) -> Result<String, OutboxError> {
        self.enqueue_with(entitlement_id, params, false)
    }

    fn enqueue_with(
        &self,
        entitlement_id: &str,
        params: &CreateUsageRecordGroupParams,
        over_cap: bool,
    ) -> Result<String, OutboxError> {
        // The same rules as a direct report: nothing invalid is ever stored.
        check_report(entitlement_id, params)?;
        let mut params = params.clone();
        fill_or_match(&mut params.entitlement_id, "entitlement_id", entitlement_id)?;
        let id = params.id.get_or_insert_with(new_report_id).clone();
        let entry = Entry {
            format: 1,
            entitlement_id: entitlement_id.to_owned(),
            enqueued_at: OffsetDateTime::now_utc(),
            params,
            attempts: 0,
            retry_at: None,
            identity: None,
            revision: None,
        };
        let bytes = serde_json::to_vec(&entry)
            .map_err(|e| Error::invalid("records", format!("cannot be serialized to JSON: {e}")))?;
        let n = bytes.len() as u64;
        let dest = self.pending.join(entry::file_name(&id));
        if over_cap {
            self.space.charge_entry(n);
        } else {
            self.space.reserve_entry(n)?;
        }
        let stored = self.publish(&dest, &bytes, &entry);
        if matches!(
            stored,
            Ok(false) | Err(PublishError::Before(_) | PublishError::Different)
        ) {
            self.space.unreserve_entry(n);
        }
        match stored {
            Ok(_) => Ok(id),
            Err(PublishError::Before(e)) => Err(e),
            Err(PublishError::Different) => Err(OutboxError::AlreadyPending { id }),
            Err(PublishError::After(e)) => Err(OutboxError::MaybePending {
                id,
                source: Box::new(e),
            }),
        }
    }

    /// [`enqueue`](Outbox::enqueue) for reports whose ids are derived from their usage (the
    /// meter's seals): a report whose id is pending already, or that may be pending, is stored
    /// as far as the caller is concerned (before, a second copy was stored and answered 409).
    /// `over_cap`: usage whose bytes are already on disk and counted (the meter's journal,
    /// removed once its groups are stored) is counted against the cap but not refused by it,
    /// so that a cap filled by a journal never blocks the seal that empties it.
    pub(crate) fn enqueue_derived(
        &self,
        entitlement_id: &str,
        params: &CreateUsageRecordGroupParams,
        over_cap: bool,
    ) -> Result<(), OutboxError> {
        match self.enqueue_with(entitlement_id, params, over_cap) {
            Ok(_) => Ok(()),
            Err(e @ (OutboxError::AlreadyPending { .. } | OutboxError::MaybePending { .. })) => {
                log::warn!(target: "suger_metering", "outbox: {e}");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Links the entry into `pending/` unless its id is pending. `Ok(true)`: stored now;
    /// `Ok(false)`: the same report was pending already.
    fn publish(&self, dest: &Path, bytes: &[u8], entry: &Entry) -> Result<bool, PublishError> {
        // A pending entry with this id may be sent and removed between the link and the read:
        // then store this one (a resend of a recorded id is answered 409: recorded once).
        for _ in 0..3 {
            match store::publish_new(&self.tmp, dest, bytes).map_err(PublishError::Before)? {
                Published::Durable => return Ok(true),
                Published::Unsynced(e) => return Err(PublishError::After(e)),
                Published::Exists => match entry::read(dest) {
                    Ok((pending, _)) if pending.same_report(entry) => return Ok(false),
                    Ok(_) | Err(entry::ReadError::Damaged(_)) => {
                        return Err(PublishError::Different);
                    }
                    Err(entry::ReadError::Gone) => continue,
                },
            }
        }
        Err(PublishError::Different)
    }

    /// The number of reports still to send (files in `pending/`). Only reads; takes no lock.
    ///
    /// # Errors
    /// [`OutboxError::Io`] when the directory cannot be read.
    pub fn pending(&self) -> Result<usize, OutboxError> {
        Ok(store::list(&self.pending)?.len())
    }

    /// The number of dead letters: reports Suger refused for good, kept in `dead/` with the
    /// server's message in `<name>.reason.txt`. Once the cause is fixed,
    /// [`requeue_dead`](Outbox::requeue_dead) moves them back to be sent again.
    ///
    /// # Errors
    /// [`OutboxError::Io`] when the directory cannot be read.
    pub fn dead_letters(&self) -> Result<usize, OutboxError> {
        Ok(store::list(&self.dead)?
            .iter()
            .filter(|n| n.ends_with(".json"))
            .count())
    }

    /// Bytes counted against the size cap: the reports waiting (`pending/`, `tmp/`) and the
    /// meter's journal, measured now. Dead letters and damaged files do not count.
    pub fn used_bytes(&self) -> u64 {
        self.space.used_now()
    }

    pub(crate) fn producer_id(&self) -> uuid::Uuid {
        self.producer
    }

    pub(crate) fn tmp_dir(&self) -> &Path {
        &self.tmp
    }

    /// Takes the send lock for the life of this outbox (a meter: its journal and its flushes
    /// are this process's alone), waiting up to 5 seconds for a flush of another process.
    ///
    /// # Errors
    /// [`OutboxError::Locked`] when another process still holds it.
    pub(crate) fn hold_send_lock(&self) -> Result<(), OutboxError> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if held.is_some() {
            return Ok(());
        }
        let deadline = Instant::now() + HOLD_WAIT;
        let lock = loop {
            match store::lock(&self.dir) {
                Err(OutboxError::Locked { .. }) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                other => break other?,
            }
        };
        *held = Some(lock);
        self.space.own_journal();
        Ok(())
    }

    /// The send lock for one flush: `None` when this outbox holds it for its life, else taken
    /// now (released when the returned file is dropped).
    fn send_lock(&self) -> Result<Option<File>, OutboxError> {
        if self
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
        {
            return Ok(None);
        }
        store::lock(&self.dir).map(Some)
    }

    /// Counts `n` more journal bytes against the cap, or refuses them.
    pub(crate) fn reserve(&self, n: u64) -> Result<(), OutboxError> {
        self.space.reserve_journal(n)
    }

    /// Gives back `n` journal bytes (removed, or replaced by reports in `pending/`).
    pub(crate) fn release(&self, n: u64) {
        self.space.release_journal(n);
    }
}

/// Why [`Outbox::publish`] stored nothing, or may have.
enum PublishError {
    /// Before the link: nothing stored.
    Before(OutboxError),
    /// A different report with this id is pending.
    Different,
    /// Linked, but the directory fsync failed.
    After(OutboxError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(id: &str) -> CreateUsageRecordGroupParams {
        CreateUsageRecordGroupParams {
            id: Some(id.into()),
            records: [("calls".to_string(), 1.0)].into(),
            ..Default::default()
        }
    }

    /// Issue 17, item 3: an error after the link (the directory fsync) no longer says "nothing
    /// stored": the report is pending, and the error carries its id.
    #[test]
    fn a_failure_after_the_link_says_the_report_may_be_pending() {
        let dir = std::env::temp_dir().join(format!("outbox-unit-sync-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let outbox = Outbox::open(&dir).unwrap();
        store::FAIL_NEXT_DIR_SYNC.with(|f| f.set(true));
        let err = outbox.enqueue("ent-1", &usage("r-1")).unwrap_err();
        match &err {
            OutboxError::MaybePending { id, source } => {
                assert_eq!(id, "r-1");
                assert!(matches!(**source, OutboxError::Io { op: "fsync", .. }));
            }
            other => panic!("{other:?}"),
        }
        let text = err.to_string();
        assert!(
            text.contains("r-1") && text.contains("may be pending") && !text.contains("nothing"),
            "{text}"
        );
        assert_eq!(outbox.pending().unwrap(), 1);
        // Enqueued again with its id (as the error says): stored once.
        assert_eq!(outbox.enqueue("ent-1", &usage("r-1")).unwrap(), "r-1");
        assert_eq!(outbox.pending().unwrap(), 1);
        drop(outbox);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
