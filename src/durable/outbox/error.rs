//! The error of the [`Outbox`](crate::Outbox).

use std::io;
use std::path::PathBuf;

use crate::http::error::Error;

/// Everything that can go wrong with an [`Outbox`](crate::Outbox): the crate's [`Error`] for
/// what concerns a report (invalid usage, a refused API key), plus what concerns the directory
/// on disk. (The [`Meter`](crate::Meter) has its own [`MeterError`](crate::MeterError), which
/// wraps this one.)
///
/// Whenever `enqueue` returns an error, **nothing was stored**: the caller still holds
/// the usage and decides what to do with it (retry later, log it, fail the job). The one
/// exception says so by its name: [`OutboxError::MaybePending`] (stored, but not confirmed on
/// disk: enqueue it again only with the same id).
///
/// ```
/// use suger_metering::{CreateUsageRecordGroupParams, Error, Outbox, OutboxError};
/// # let dir = std::env::temp_dir().join(format!("outbox-doc-err-{}", std::process::id()));
/// let outbox = Outbox::open(&dir)?;
/// let err = outbox.enqueue("", &CreateUsageRecordGroupParams::default()).unwrap_err();
/// assert!(matches!(err, OutboxError::Report(Error::InvalidRequest { .. })));
/// # drop(outbox); std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), OutboxError>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutboxError {
    /// A report was refused or failed: [`Error::InvalidRequest`] when `enqueue` was given
    /// usage that breaks a rule of the API (nothing was written), or the error that stopped a
    /// flush (HTTP 401/403: a bad API key; every entry is kept).
    #[error(transparent)]
    Report(#[from] Error),

    /// Another process (or another [`Outbox`](crate::Outbox) of this directory in this one) is
    /// sending this outbox: a flush, or a [`Meter`](crate::Meter), which holds the send lock for
    /// its life. Only sending is exclusive; enqueueing never is. The lock is released when its
    /// holder is done or its process ends (even by `kill -9`).
    #[error("the outbox {} is being sent by another process (or another Outbox in this one)", dir.display())]
    #[non_exhaustive]
    Locked {
        /// The outbox directory.
        dir: PathBuf,
    },

    /// Storing this would take the outbox over its configured size cap
    /// ([`OutboxBuilder::max_bytes`](crate::OutboxBuilder::max_bytes)). Nothing was written.
    #[error(
        "the outbox is full: {used} of {limit} bytes used, {needed} more needed; nothing was written"
    )]
    #[non_exhaustive]
    Full {
        /// The configured cap in bytes.
        limit: u64,
        /// Bytes in use.
        used: u64,
        /// Bytes this write needed.
        needed: u64,
    },

    /// A file system operation failed (a full disk is `io::ErrorKind::StorageFull`).
    /// Nothing was stored by the call that returned it.
    #[error("outbox I/O error ({op} {}): {source}", path.display())]
    #[non_exhaustive]
    Io {
        /// What was being done, e.g. `"write"`, `"rename"`, `"fsync"`.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// A different report with this id is already pending (a report with the same entitlement
    /// and content makes `enqueue` return its id instead). Nothing was stored. Suger records one
    /// report per id: give this usage an id of its own, or wait until the pending one is sent.
    #[error("a different report with id {id} is already pending in the outbox; nothing was stored")]
    #[non_exhaustive]
    AlreadyPending {
        /// The report's id.
        id: String,
    },

    /// A corrected report of usage asks for less than Suger recorded and forwarded to the
    /// marketplace already ([`Outbox::enqueue_revised`](crate::Outbox::enqueue_revised)):
    /// usage cannot be un-billed (the marketplaces refuse negative usage). Nothing was stored
    /// or sent; what was recorded stays billed. (An earlier report not yet forwarded is
    /// deleted and replaced instead.)
    #[error(
        "usage {id}: {dimension} was recorded as {recorded} and already forwarded to the marketplace; {requested} would need a negative correction, which the marketplaces refuse: nothing was sent"
    )]
    #[non_exhaustive]
    NegativeCorrection {
        /// The usage's identity id (its first report's id).
        id: String,
        /// The dimension (or billable metric key) that went down.
        dimension: String,
        /// What Suger recorded for it, all revisions together.
        recorded: f64,
        /// What the corrected report asks for.
        requested: f64,
    },

    /// The report **was stored** (it is pending and will be sent), but the directory that holds
    /// it could not be synced to disk afterwards: it may not survive a power cut. Do not enqueue
    /// this usage again under another id (it would bill twice); enqueueing it again with this
    /// `id` is safe (it is stored once).
    #[error(
        "report {id} may be pending in the outbox: stored, but not confirmed on disk; enqueue it again only with the same id"
    )]
    #[non_exhaustive]
    MaybePending {
        /// The report's id.
        id: String,
        /// The directory sync that failed.
        #[source]
        source: Box<OutboxError>,
    },
}

impl OutboxError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        OutboxError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// The crate [`Error`] inside [`OutboxError::Report`].
    pub fn report_error(&self) -> Option<&Error> {
        match self {
            OutboxError::Report(e) => Some(e),
            _ => None,
        }
    }

    /// The HTTP status of the answer that caused it, if any (e.g. 401).
    pub fn status(&self) -> Option<u16> {
        self.report_error().and_then(Error::status)
    }

    /// `true` when the disk or the configured cap is full: [`OutboxError::Full`] or an I/O
    /// error `StorageFull`/`QuotaExceeded`.
    pub fn is_full(&self) -> bool {
        match self {
            OutboxError::Full { .. } => true,
            OutboxError::Io { source, .. } => matches!(
                source.kind(),
                io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
            ),
            _ => false,
        }
    }
}
