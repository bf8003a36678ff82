//! What the outbox directory knows, read without its lock (a reconciliation runs beside the
//! process that holds it): pending and dead entries, and the ledger.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use time::{Date, OffsetDateTime};

use super::types::ReconcileState;
use crate::durable::ledger::{LedgerLine, hour_of, read_dir_lines};
use crate::durable::outbox::entry::Entry;

/// One report the outbox directory knows about.
#[derive(Clone, Debug)]
pub(crate) struct Known {
    pub(crate) id: String,
    pub(crate) entitlement_id: String,
    pub(crate) hour: Option<OffsetDateTime>,
    /// v1 records and v2 sums per key, as sent.
    pub(crate) records: BTreeMap<String, f64>,
    pub(crate) billable: BTreeMap<String, f64>,
    /// `Pending` or `Dead` for the outbox's entries; `None` for the ledger's (recorded).
    pub(crate) local: Option<ReconcileState>,
    pub(crate) message: String,
    pub(crate) recorded_at: Option<OffsetDateTime>,
}

impl Known {
    fn of_line(line: LedgerLine) -> Known {
        Known {
            id: line.id,
            entitlement_id: line.entitlement_id,
            hour: line.hour,
            records: line.records,
            billable: line.billable,
            local: None,
            message: String::new(),
            recorded_at: line.recorded_at,
        }
    }

    fn of_entry(entry: Entry, state: ReconcileState, message: String) -> Known {
        let usage = entry.params.timestamp.unwrap_or(entry.enqueued_at);
        let line = LedgerLine::of(
            &entry.entitlement_id,
            &entry.params,
            usage,
            entry.enqueued_at,
            false,
        );
        Known {
            local: Some(state),
            message,
            recorded_at: None,
            ..Known::of_line(line)
        }
    }

    /// The usage as sent, v1 and v2 together.
    pub(crate) fn sent(&self) -> BTreeMap<String, f64> {
        let mut sent = self.records.clone();
        sent.extend(self.billable.iter().map(|(k, v)| (k.clone(), *v)));
        sent
    }
}

/// Everything the directory knows whose hour is in `from..to` (all hours when `None`), by id:
/// the pending and dead entries first, then the ledger (a report recorded meanwhile is in
/// both: the ledger wins). Returns the items and the damaged ledger lines skipped.
pub(crate) fn read(
    dir: &Path,
    range: Option<(OffsetDateTime, OffsetDateTime)>,
) -> (BTreeMap<String, Known>, usize) {
    let in_range = |k: &Known| {
        range.is_none_or(|(from, to)| k.hour.is_some_and(|h| h >= hour_of(from) && h < to))
    };
    let mut known = BTreeMap::new();
    for (sub, state) in [
        ("pending", ReconcileState::Pending),
        ("dead", ReconcileState::Dead),
    ] {
        for (name, entry) in entries(&dir.join(sub)) {
            let message = match state {
                ReconcileState::Dead => {
                    fs::read_to_string(dir.join(sub).join(format!("{name}.reason.txt")))
                        .map(|r| r.trim().to_owned())
                        .unwrap_or_default()
                }
                _ => String::new(),
            };
            let k = Known::of_entry(entry, state, message);
            if in_range(&k) {
                known.insert(k.id.clone(), k);
            }
        }
    }
    // Recorded before the first hour is impossible but for clocks: one day of margin.
    let from_day: Option<Date> =
        range.map(|(from, _)| from.date().previous_day().unwrap_or(from.date()));
    let (lines, damaged) = read_dir_lines(&dir.join("ledger"), from_day);
    for line in lines {
        let k = Known::of_line(line);
        if in_range(&k) {
            known.insert(k.id.clone(), k);
        }
    }
    (known, damaged)
}

/// The readable entries of `dir` (`*.json`), with their file names. A file that vanished
/// (sent meanwhile) or cannot be read is skipped.
fn entries(dir: &Path) -> Vec<(String, Entry)> {
    let Ok(read) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in read.flatten() {
        let Some(name) = e.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if !name.ends_with(".json") || name.starts_with('.') {
            continue;
        }
        let Ok(bytes) = fs::read(e.path()) else {
            continue;
        };
        if let Ok(entry) = serde_json::from_slice::<Entry>(&bytes)
            && entry.params.id.as_deref().is_some_and(|id| !id.is_empty())
        {
            out.push((name, entry));
        }
    }
    out
}
