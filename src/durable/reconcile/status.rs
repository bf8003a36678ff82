//! [`OutboxStatus`]: the counts of an outbox directory and of its last reconciliation, read
//! without the lock (for monitoring beside the process that holds it).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use time::OffsetDateTime;

use super::local::pending_usage_times;
use crate::durable::ledger::read_dir_lines;

/// What an outbox directory holds, and what its last reconciliation found: see
/// [`outbox_status`].
///
/// Response-only and `#[non_exhaustive]`.
///
/// ```
/// let status = suger_metering::OutboxStatus::default();
/// assert_eq!((status.pending, status.dead, status.overdue), (0, 0, 0));
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct OutboxStatus {
    /// Reports waiting to be sent.
    pub pending: usize,
    /// Dead letters: reports Suger refused for good.
    pub dead: usize,
    /// Pending reports whose usage is older than AWS Marketplace accepts (6 hours).
    pub overdue: usize,
    /// Pending reports whose usage is older than Azure Marketplace accepts (24 hours).
    pub overdue_24h: usize,
    /// Reports in the ledger (recorded by Suger, within the retention).
    pub ledger_reports: usize,
    /// Ledger lines that could not be read.
    pub damaged_ledger_lines: usize,
    /// The last reconciliation (by [`reconcile`](crate::reconcile) on this directory), if any.
    pub last_reconcile: Option<LastReconcile>,
}

/// The counts of the last reconciliation, as stored in `ledger/last-reconcile.json`.
///
/// Response-only and `#[non_exhaustive]`.
///
/// ```
/// let last = suger_metering::LastReconcile::default();
/// assert_eq!(last.counts.get("failed"), None);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct LastReconcile {
    /// When it ran (Unix seconds).
    pub at: i64,
    /// Requests it made.
    pub calls: usize,
    /// Items per state, by the state's snake_case name (`reported`, `failed`, ...).
    pub counts: BTreeMap<String, usize>,
    /// Damaged ledger lines it skipped.
    #[serde(rename = "damagedLedgerLines")]
    pub damaged_ledger_lines: usize,
}

/// Counts what the outbox directory `dir` holds (pending, dead, overdue, the ledger) and reads
/// the counts of its last reconciliation. Takes no lock and changes nothing: it runs beside
/// the process that holds the outbox.
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("status-doc-{}", std::process::id()));
/// # let outbox = suger_metering::Outbox::open(&dir)?;
/// let status = suger_metering::outbox_status(&dir)?;
/// assert_eq!(status.pending, 0);
/// assert!(status.last_reconcile.is_none());
/// # drop(outbox); std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// An I/O error when `dir` is not a readable directory.
pub fn outbox_status(dir: impl AsRef<Path>) -> std::io::Result<OutboxStatus> {
    let dir = dir.as_ref();
    std::fs::read_dir(dir)?;
    let now = OffsetDateTime::now_utc();
    let pending = pending_usage_times(&dir.join("pending"));
    let dead = pending_usage_times(&dir.join("dead")).len();
    let older = |h: i64| {
        pending
            .iter()
            .filter(|t| now - **t > time::Duration::hours(h))
            .count()
    };
    let (lines, damaged) = read_dir_lines(&dir.join("ledger"), None);
    let last_reconcile = std::fs::read(dir.join("ledger").join("last-reconcile.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    Ok(OutboxStatus {
        pending: pending.len(),
        dead,
        overdue: older(6),
        overdue_24h: older(24),
        ledger_reports: lines.len(),
        damaged_ledger_lines: damaged,
        last_reconcile,
    })
}
