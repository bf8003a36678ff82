//! [`LedgerStatus`]: the counts of an outbox directory's ledger and of its last
//! reconciliation, read without any lock (for monitoring beside the process that sends).
//! What is pending or dead is [`Outbox::inspect`](crate::Outbox::inspect)'s.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::durable::ledger::read_dir_lines;

/// What an outbox directory's ledger holds, and what its last reconciliation found: see
/// [`ledger_status`]. (What is pending, dead or overdue: [`Outbox::inspect`](crate::Outbox::inspect).)
///
/// Response-only and `#[non_exhaustive]`.
///
/// ```
/// let status = suger_metering::LedgerStatus::default();
/// assert_eq!((status.reports, status.damaged_lines), (0, 0));
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct LedgerStatus {
    /// Reports in the ledger (recorded by Suger, within the retention).
    pub reports: usize,
    /// Ledger lines that could not be read.
    pub damaged_lines: usize,
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

/// Counts the reports in the ledger of the outbox directory `dir` and reads the counts of its
/// last reconciliation. Takes no lock and changes nothing: it runs beside the process that
/// sends the outbox.
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("status-doc-{}", std::process::id()));
/// # let outbox = suger_metering::Outbox::open(&dir)?;
/// let status = suger_metering::ledger_status(&dir)?;
/// assert_eq!(status.reports, 0);
/// assert!(status.last_reconcile.is_none());
/// # drop(outbox); std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// An I/O error when `dir` is not a readable directory.
pub fn ledger_status(dir: impl AsRef<Path>) -> std::io::Result<LedgerStatus> {
    let dir = dir.as_ref();
    std::fs::read_dir(dir)?;
    let (lines, damaged) = read_dir_lines(&dir.join("ledger"), None);
    let last_reconcile = std::fs::read(dir.join("ledger").join("last-reconcile.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    Ok(LedgerStatus {
        reports: lines.len(),
        damaged_lines: damaged,
        last_reconcile,
    })
}
