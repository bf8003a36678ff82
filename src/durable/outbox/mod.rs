//! A durable queue of usage reports in a directory: [`Outbox`].
//!
//! Layout of the directory:
//!
//! | path | what |
//! |---|---|
//! | `lock` | locked (`flock`) for the life of the [`Outbox`]: one holder at a time |
//! | `producer-id` | a UUID made once; the [`Meter`](crate::Meter) derives its report ids from it |
//! | `tmp/` | files being written; leftovers (never acknowledged) are removed on open |
//! | `pending/` | one JSON file per report still to send, named in enqueue order |
//! | `dead/` | reports Suger refused for good (400/404), each with `<name>.reason.txt` |
//! | `damaged/` | files that could not be read as a report, moved aside |
//! | `meter/` | the meter's journal segments |
//! | `ledger/` | what Suger recorded, one file per day (see [`reconcile`](crate::reconcile)) |

mod deadline;
pub(crate) mod error;
mod flush;
pub(crate) mod store;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub use self::error::OutboxError;
pub use self::flush::FlushSummary;
use super::ledger::{DEFAULT_LEDGER_RETENTION, Ledger};
use crate::api::ids::new_report_id;
use crate::api::usage_record_group::CreateUsageRecordGroupParams;
use crate::api::usage_record_group::validate::{check_report, fill_or_match};
use crate::http::error::Error;

/// One pending report, as stored in `pending/<name>`.
#[derive(Serialize, Deserialize)]
pub(crate) struct Entry {
    /// Format version of the file.
    pub(crate) format: u32,
    #[serde(rename = "entitlementId")]
    pub(crate) entitlement_id: String,
    #[serde(rename = "enqueuedAt", with = "time::serde::rfc3339")]
    pub(crate) enqueued_at: OffsetDateTime,
    /// The report, with its id.
    pub(crate) params: CreateUsageRecordGroupParams,
    /// Failed sends of this entry so far (a 5xx, a timeout, an unknown outcome): its own
    /// backoff, so that one failing report never holds back the others.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) attempts: u32,
    /// Not sent again before this time (after a failure about this entry).
    #[serde(
        rename = "retryAt",
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub(crate) retry_at: Option<OffsetDateTime>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A durable queue of single usage reports in a directory, sent with their ids so that Suger
/// records each exactly once.
///
/// * [`enqueue`](Outbox::enqueue) validates the report, gives it an id when it has none, and
///   returns only once it is on disk: written to `tmp/`, fsynced, renamed into `pending/`, the
///   directory fsynced (the maildir pattern). A crash at any instant leaves the report either
///   pending, complete, or absent; never half-written, never pending twice.
/// * [`flush`](Outbox::flush) sends what is pending, closest to its marketplace's cut-off
///   first, each as a single report with its id. An entry is removed only once Suger answered 2xx or 409 (this id is recorded); a
///   crash between that answer and the removal leaves the entry pending, and its resend is
///   answered 409: recorded once.
/// * One holder at a time: the directory's `lock` file is locked for the life of the `Outbox`
///   (`flock`, released by the kernel when the process ends, even by `kill -9`). A second
///   [`open`](Outbox::open), from this process or another, fails with [`OutboxError::Locked`].
///
/// `Outbox` is `Send + Sync`: threads may enqueue and flush concurrently (flushes run one at a
/// time).
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
/// The lock belongs to the open file, which a forked child shares: parent and child must not
/// both use the outbox. Use it in one of them only (open it after forking, in the process that
/// reports). Files are opened close-on-exec, so a program started with `exec` holds nothing.
#[derive(Debug)]
pub struct Outbox {
    dir: PathBuf,
    tmp: PathBuf,
    pending: PathBuf,
    dead: PathBuf,
    damaged: PathBuf,
    /// Held (locked) for the life of the outbox.
    _lock: std::fs::File,
    max_bytes: u64,
    /// Bytes of everything the outbox directory holds (pending, dead, damaged, journal).
    used: AtomicU64,
    seq: AtomicU64,
    flush_lock: Mutex<()>,
    producer: uuid::Uuid,
    /// An entry's first wait after a failure about it, and the longest.
    backoff: (Duration, Duration),
    /// What Suger recorded (`None` with a retention of zero).
    pub(crate) ledger: Option<Ledger>,
}

/// Options of an [`Outbox`]: `Outbox::builder(dir).max_bytes(64 << 20).open()`.
#[derive(Clone, Debug)]
pub struct OutboxBuilder {
    dir: PathBuf,
    max_bytes: Option<u64>,
    backoff: (Duration, Duration),
    ledger_retention: Duration,
}

impl OutboxBuilder {
    /// Caps the bytes the outbox directory may hold (pending and dead reports, the meter's
    /// journal). A write past the cap fails with [`OutboxError::Full`] and writes nothing.
    /// Defaults to no cap (the disk's size: a full disk fails the same way, as an I/O error).
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
    /// [`OutboxError::Locked`] when another `Outbox` holds the directory;
    /// [`OutboxError::Io`] when it cannot be created or read.
    pub fn open(self) -> Result<Outbox, OutboxError> {
        let dir = self.dir;
        let created = !dir.exists();
        store::ensure_dir(&dir)?;
        if created && let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            store::sync_dir(parent)?;
        }
        let lock = store::lock(&dir)?;
        let sub = |name: &str| -> Result<PathBuf, OutboxError> {
            let p = dir.join(name);
            store::ensure_dir(&p)?;
            Ok(p)
        };
        let (tmp, pending, dead, damaged) =
            (sub("tmp")?, sub("pending")?, sub("dead")?, sub("damaged")?);
        sub("meter")?;
        let removed = store::clear(&tmp)?;
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
        let used = [&pending, &dead, &damaged, &dir.join("meter")]
            .iter()
            .map(|d| store::dir_bytes(d))
            .sum();
        Ok(Outbox {
            tmp,
            pending,
            dead,
            damaged,
            _lock: lock,
            max_bytes: self.max_bytes.unwrap_or(u64::MAX),
            used: AtomicU64::new(used),
            seq: AtomicU64::new(0),
            flush_lock: Mutex::new(()),
            producer,
            backoff: self.backoff,
            ledger,
            dir,
        })
    }
}

impl Outbox {
    /// Opens the outbox in `dir`, creating the directory if missing, with no size cap.
    ///
    /// Removes leftover temporary files (reports whose `enqueue` never returned).
    ///
    /// # Errors
    /// [`OutboxError::Locked`] when another `Outbox` holds the directory, in this process or
    /// another; [`OutboxError::Io`] when it cannot be created or read.
    pub fn open(dir: impl AsRef<Path>) -> Result<Outbox, OutboxError> {
        Outbox::builder(dir).open()
    }

    /// Options before opening: `Outbox::builder(dir).max_bytes(64 << 20).open()`.
    pub fn builder(dir: impl AsRef<Path>) -> OutboxBuilder {
        OutboxBuilder {
            dir: dir.as_ref().to_path_buf(),
            max_bytes: None,
            backoff: (flush::FIRST_BACKOFF, flush::MAX_BACKOFF),
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
    /// `None`. Returns only once the report is on disk (fsynced file and directory).
    ///
    /// Give every report its own id: Suger answers 409 to an id it already recorded, and the
    /// outbox takes that answer as "recorded" (it cannot tell a resend from a reused id).
    ///
    /// ```
    /// # use suger_metering::{CreateUsageRecordGroupParams, Outbox};
    /// # let dir = std::env::temp_dir().join(format!("outbox-doc-enq-{}", std::process::id()));
    /// # let outbox = Outbox::open(&dir)?;
    /// let id = outbox.enqueue(
    ///     "entitlement-1",
    ///     &CreateUsageRecordGroupParams {
    ///         id: Some("ent1-2026-11-26T14".into()),
    ///         records: [("api_calls".to_string(), 120.0)].into(),
    ///         ..Default::default()
    ///     },
    /// )?;
    /// assert_eq!(id, "ent1-2026-11-26T14");
    /// # drop(outbox); std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), suger_metering::OutboxError>(())
    /// ```
    ///
    /// # Errors
    /// [`OutboxError::Report`] with [`Error::InvalidRequest`] for invalid usage;
    /// [`OutboxError::Full`] past the size cap; [`OutboxError::Io`] when the disk fails (full:
    /// `StorageFull`). In every error case nothing was stored.
    pub fn enqueue(
        &self,
        entitlement_id: &str,
        params: &CreateUsageRecordGroupParams,
    ) -> Result<String, OutboxError> {
        // The same rules as a direct report: nothing invalid is ever stored.
        check_report(entitlement_id, params)?;
        let mut params = params.clone();
        fill_or_match(&mut params.entitlement_id, "entitlement_id", entitlement_id)?;
        let id = params.id.get_or_insert_with(new_report_id).clone();
        let now = OffsetDateTime::now_utc();
        let entry = Entry {
            format: 1,
            entitlement_id: entitlement_id.to_owned(),
            enqueued_at: now,
            params,
            attempts: 0,
            retry_at: None,
        };
        let bytes = serde_json::to_vec(&entry)
            .map_err(|e| Error::invalid("records", format!("cannot be serialized to JSON: {e}")))?;
        // Sortable by enqueue time; unique within this process (the lock excludes others),
        // and never an existing name, even if the clock went back (a rename would replace it).
        let dest = loop {
            let name = format!(
                "{:020}-{:08}-{}.json",
                now.unix_timestamp_nanos(),
                self.seq.fetch_add(1, Ordering::Relaxed),
                file_safe(&id)
            );
            let dest = self.pending.join(name);
            if !dest.exists() {
                break dest;
            }
        };
        self.reserve(bytes.len() as u64)?;
        if let Err(e) = store::write_durable(&self.tmp, &dest, &bytes) {
            self.release(bytes.len() as u64);
            return Err(e);
        }
        Ok(id)
    }

    /// The number of reports still to send (files in `pending/`).
    ///
    /// # Errors
    /// [`OutboxError::Io`] when the directory cannot be read.
    pub fn pending(&self) -> Result<usize, OutboxError> {
        Ok(store::list(&self.pending)?.len())
    }

    /// The number of dead letters: reports Suger refused for good, kept in `dead/` with the
    /// server's message in `<name>.reason.txt`. Move a file back into `pending/` to send it
    /// again once the cause is fixed.
    ///
    /// # Errors
    /// [`OutboxError::Io`] when the directory cannot be read.
    pub fn dead_letters(&self) -> Result<usize, OutboxError> {
        Ok(store::list(&self.dead)?
            .iter()
            .filter(|n| n.ends_with(".json"))
            .count())
    }

    /// Bytes the outbox directory holds, as counted against the size cap.
    pub fn used_bytes(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    pub(crate) fn producer_id(&self) -> uuid::Uuid {
        self.producer
    }

    pub(crate) fn tmp_dir(&self) -> &Path {
        &self.tmp
    }

    /// Counts `n` more bytes against the cap, or refuses them.
    pub(crate) fn reserve(&self, n: u64) -> Result<(), OutboxError> {
        self.used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                used.checked_add(n).filter(|total| *total <= self.max_bytes)
            })
            .map(drop)
            .map_err(|used| OutboxError::Full {
                limit: self.max_bytes,
                used,
                needed: n,
            })
    }

    /// Counts `n` bytes that are on disk already, whatever the cap.
    pub(crate) fn charge(&self, n: u64) {
        self.used.fetch_add(n, Ordering::Relaxed);
    }

    /// Gives back `n` bytes (a file was removed).
    pub(crate) fn release(&self, n: u64) {
        let _ = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                Some(used.saturating_sub(n))
            });
    }
}

/// `id` reduced to characters that are safe in a file name (the id itself is in the file).
fn file_safe(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
