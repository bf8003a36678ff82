//! What an outbox holds, read without any lock ([`Outbox::inspect`]), and dead letters moved
//! back after a fix ([`Outbox::requeue_dead`]).

use std::fs;
use std::path::Path;

use time::OffsetDateTime;

use super::entry::{self, ReadError};
use super::flush::{AWS_LATE, AZURE_LATE};
use super::store::{self, Published};
use super::{Outbox, OutboxError};

/// What an outbox directory holds: [`Outbox::inspect`], [`Outbox::status`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutboxStatus {
    /// Reports still to send (files in `pending/`).
    pub pending: usize,
    /// Of `pending`: reports waiting for their own backoff after a failure about them.
    pub backing_off: usize,
    /// Of `pending`: reports whose usage is older than AWS Marketplace accepts (6 hours).
    pub overdue: usize,
    /// Of `pending`: reports whose usage is older than Azure Marketplace accepts (24 hours).
    pub overdue_24h: usize,
    /// Dead letters: reports Suger refused for good (`dead/`).
    pub dead: usize,
    /// Files set aside because they could not be read as a report (`damaged/`).
    pub damaged: usize,
    /// Bytes of the waiting reports and the meter's journal: what counts against
    /// [`OutboxBuilder::max_bytes`](crate::OutboxBuilder::max_bytes).
    pub bytes: u64,
}

impl Outbox {
    /// Reads what the outbox in `dir` holds, without opening it: nothing is created, written or
    /// locked, so it works while other processes enqueue and send (and with read-only access).
    ///
    /// ```
    /// # use suger_metering::{CreateUsageRecordGroupParams, Outbox};
    /// # let dir = std::env::temp_dir().join(format!("outbox-doc-inspect-{}", std::process::id()));
    /// # let outbox = Outbox::open(&dir)?;
    /// # outbox.enqueue("e", &CreateUsageRecordGroupParams { records: [("calls".to_string(), 1.0)].into(), ..Default::default() })?;
    /// let status = Outbox::inspect(&dir)?;
    /// assert_eq!((status.pending, status.dead), (1, 0));
    /// # drop(outbox); std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), suger_metering::OutboxError>(())
    /// ```
    ///
    /// # Errors
    /// [`OutboxError::Io`] when the directory (or its `pending/`) does not exist or cannot be
    /// read.
    pub fn inspect(dir: impl AsRef<Path>) -> Result<OutboxStatus, OutboxError> {
        let dir = dir.as_ref();
        let pending = dir.join("pending");
        let now = OffsetDateTime::now_utc();
        let mut s = OutboxStatus::default();
        for name in store::list(&pending)? {
            let Ok((entry, _)) = entry::read(&pending.join(&name)) else {
                // Gone meanwhile, or damaged (the next flush moves it aside).
                continue;
            };
            s.pending += 1;
            s.backing_off += usize::from(entry.retry_at.is_some_and(|at| at > now));
            let age = now - entry.usage_time();
            s.overdue += usize::from(age > AWS_LATE);
            s.overdue_24h += usize::from(age > AZURE_LATE);
        }
        let json_files = |sub: &str| -> Result<usize, OutboxError> {
            let d = dir.join(sub);
            if !d.exists() {
                return Ok(0);
            }
            Ok(store::list(&d)?
                .iter()
                .filter(|n| !n.ends_with(".reason.txt"))
                .count())
        };
        s.dead = json_files("dead")?;
        s.damaged = json_files("damaged")?;
        s.bytes = ["pending", "tmp", "meter"]
            .iter()
            .map(|d| store::dir_bytes(&dir.join(d)))
            .sum();
        Ok(s)
    }

    /// [`Outbox::inspect`] of this outbox's directory.
    ///
    /// # Errors
    /// As [`Outbox::inspect`].
    pub fn status(&self) -> Result<OutboxStatus, OutboxError> {
        Outbox::inspect(self.dir())
    }

    /// Moves every dead letter back to `pending/`, to be sent by the next flush: after the
    /// cause is fixed (a wrong base URL, a dimension missing from the metering config). Returns
    /// how many were moved. Each gets a fresh backoff; its id is unchanged, so a report Suger
    /// did record after all is answered 409 and counted once.
    ///
    /// A dead letter whose id is pending again is removed when the pending report is the same,
    /// and kept (logged) when it differs. Moved reports count against the size cap again
    /// (whatever the cap). Takes no lock.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("outbox-doc-requeue-{}", std::process::id()));
    /// let outbox = suger_metering::Outbox::open(&dir)?;
    /// let moved = outbox.requeue_dead()?;
    /// println!("{moved} dead letters will be sent again");
    /// # drop(outbox); std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), suger_metering::OutboxError>(())
    /// ```
    ///
    /// # Errors
    /// [`OutboxError::Io`] when a directory cannot be read or a file cannot be written; what
    /// was moved before stays moved.
    pub fn requeue_dead(&self) -> Result<usize, OutboxError> {
        let mut moved = 0;
        for name in store::list(&self.dead)? {
            if name.ends_with(".reason.txt") {
                continue;
            }
            let path = self.dead.join(&name);
            let mut entry = match entry::read(&path) {
                Ok((entry, _)) => entry,
                Err(ReadError::Gone) => continue,
                Err(ReadError::Damaged(why)) => {
                    log::warn!(target: "suger_metering", "outbox: dead letter {name} not moved back: it {why}");
                    continue;
                }
            };
            entry.attempts = 0;
            entry.retry_at = None;
            let bytes = serde_json::to_vec(&entry)
                .map_err(|e| OutboxError::io("encode", &path, std::io::Error::other(e)))?;
            let dest = self.pending.join(entry::file_name(entry.id()));
            let keep = match store::publish_new(&self.tmp, &dest, &bytes)? {
                Published::Durable => false,
                Published::Unsynced(e) => return Err(e),
                Published::Exists => match entry::read(&dest) {
                    Ok((pending, _)) => !pending.same_report(&entry),
                    Err(_) => true,
                },
            };
            if keep {
                log::warn!(
                    target: "suger_metering",
                    "outbox: dead letter {name} not moved back: a different report with id {} is pending",
                    entry.id()
                );
                continue;
            }
            self.space.charge_entry(bytes.len() as u64);
            for p in [path, self.dead.join(format!("{name}.reason.txt"))] {
                match fs::remove_file(&p) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(OutboxError::io("remove", &p, e)),
                }
            }
            moved += 1;
        }
        if moved > 0 {
            store::sync_dir(&self.dead)?;
            log::info!(target: "suger_metering", "outbox: {moved} dead letter(s) moved back to pending");
        }
        Ok(moved)
    }
}
