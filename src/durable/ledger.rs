//! The ledger: what Suger recorded, kept in the outbox directory so that
//! [`reconcile`](crate::reconcile) can follow every report to the marketplace.
//!
//! `ledger/YYYY-MM-DD.ndjson`, one file per day (UTC) of recording, append-only, one JSON line
//! of a few hundred bytes per report that Suger answered 2xx or 409. A line is written (one
//! `write` of the whole line, `O_APPEND`) **before** its entry leaves `pending/`: a crash
//! between Suger's answer and the line leaves the entry pending, and its resend (answered 409)
//! writes the line then. A crash in the middle of a line leaves a damaged last line: it is
//! ended on open (so the next line starts clean) and skipped, counted, by readers. Files older
//! than the retention (35 days by default) are removed on open and by flushes.
//!
//! `ledger/partners.json` holds each entitlement's marketplace as a reconciliation saw it
//! (the deadlines of a flush), and `ledger/last-reconcile.json` the counts of the last one.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use super::outbox::error::OutboxError;
use super::outbox::store;
use crate::api::usage_record_group::CreateUsageRecordGroupParams;
use crate::http::serde_util::rfc3339_opt;

/// How long ledger files are kept by default: 35 days
/// ([`OutboxBuilder::ledger_retention`](crate::OutboxBuilder::ledger_retention)).
///
/// ```
/// assert_eq!(suger_metering::DEFAULT_LEDGER_RETENTION.as_secs(), 35 * 24 * 3600);
/// ```
pub const DEFAULT_LEDGER_RETENTION: std::time::Duration =
    std::time::Duration::from_secs(35 * 24 * 3600);

/// One line of the ledger: a report Suger recorded.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct LedgerLine {
    pub(crate) id: String,
    #[serde(rename = "entitlementID")]
    pub(crate) entitlement_id: String,
    /// The hour of the usage (UTC, truncated to the hour).
    #[serde(with = "rfc3339_opt")]
    pub(crate) hour: Option<OffsetDateTime>,
    /// When Suger answered 2xx or 409.
    #[serde(rename = "recordedAt", with = "rfc3339_opt")]
    pub(crate) recorded_at: Option<OffsetDateTime>,
    /// v1 usage as sent, dimension → quantity.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) records: BTreeMap<String, f64>,
    /// v2 usage as sent, summed per billable metric key.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) billable: BTreeMap<String, f64>,
    /// Recorded by an earlier attempt (Suger answered 409).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) duplicate: bool,
    /// The identity id of the usage this report revises (the id of its first report), when it
    /// was enqueued by [`Outbox::enqueue_revised`](crate::Outbox::enqueue_revised).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) identity: Option<String>,
    /// Which revision of that usage it is (1: the first report).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) revision: Option<u32>,
    /// A deletion: the group `id` recorded earlier was deleted at Suger (before it was
    /// forwarded), so it bills nothing. Readers drop the earlier line of this id.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) deleted: bool,
}

impl LedgerLine {
    /// The line of a report Suger just recorded.
    pub(crate) fn of(
        entitlement_id: &str,
        params: &CreateUsageRecordGroupParams,
        usage_time: OffsetDateTime,
        recorded_at: OffsetDateTime,
        duplicate: bool,
    ) -> LedgerLine {
        let mut billable = BTreeMap::new();
        for r in &params.billable_records {
            *billable.entry(r.key.clone()).or_insert(0.0) += r.quantity;
        }
        LedgerLine {
            id: params.id.clone().unwrap_or_default(),
            entitlement_id: entitlement_id.to_owned(),
            hour: Some(hour_of(usage_time)),
            recorded_at: Some(recorded_at),
            records: params.records.clone(),
            billable,
            duplicate,
            ..LedgerLine::default()
        }
    }

    /// The line saying that group `id` was deleted at Suger.
    pub(crate) fn deletion(
        entitlement_id: &str,
        id: &str,
        identity: Option<&str>,
        at: OffsetDateTime,
    ) -> LedgerLine {
        LedgerLine {
            id: id.to_owned(),
            entitlement_id: entitlement_id.to_owned(),
            recorded_at: Some(at),
            identity: identity.map(str::to_owned),
            deleted: true,
            ..LedgerLine::default()
        }
    }
}

/// How late a marketplace accepts usage after its hour: AWS (and AWS China) 6 hours, Azure
/// 24 hours; `None` for another or an unknown one.
pub(crate) fn late_window(partner: &str) -> Option<time::Duration> {
    match partner {
        "AWS" | "AWS_CHINA" => Some(time::Duration::hours(6)),
        "AZURE" => Some(time::Duration::hours(24)),
        _ => None,
    }
}

/// `t` truncated to its hour, in UTC.
pub(crate) fn hour_of(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.replace_time(time::Time::from_hms(t.hour(), 0, 0).unwrap_or(time::Time::MIDNIGHT))
}

/// The writer side, owned by the [`Outbox`](crate::Outbox) that holds the lock.
#[derive(Debug)]
pub(crate) struct Ledger {
    dir: PathBuf,
    retention: time::Duration,
    /// The open file of the current day, and whether it has unsynced lines.
    file: Mutex<Option<(Date, File, bool)>>,
    /// Ids in the ledger, loaded on the first 409 (a resend after a crash or a lost answer),
    /// so that a report recorded once has one line.
    ids: Mutex<Option<HashSet<String>>>,
    /// The day of the last pruning.
    pruned: Mutex<Option<Date>>,
}

impl Ledger {
    /// Opens `outbox_dir/ledger` (creating it), ends a damaged last line and prunes old files.
    pub(crate) fn open(
        outbox_dir: &Path,
        retention: std::time::Duration,
    ) -> Result<Ledger, OutboxError> {
        let dir = outbox_dir.join("ledger");
        store::ensure_dir(&dir)?;
        for name in day_files(&dir) {
            end_damaged_line(&dir.join(name.1));
        }
        let ledger = Ledger {
            dir,
            retention: time::Duration::try_from(retention).unwrap_or(time::Duration::MAX),
            file: Mutex::new(None),
            ids: Mutex::new(None),
            pruned: Mutex::new(None),
        };
        ledger.prune(OffsetDateTime::now_utc());
        Ok(ledger)
    }

    /// Appends the line of a recorded report. A 409 whose id is in the ledger already writes
    /// nothing. Errors are logged, never returned: the usage is at Suger, only its trace is
    /// missing (a later reconciliation lists it as `unexpected`).
    pub(crate) fn record(&self, line: &LedgerLine) {
        if line.deleted {
            return self.record_deletion(line);
        }
        let mut ids = self.ids.lock().unwrap_or_else(PoisonError::into_inner);
        if line.duplicate && ids.is_none() {
            *ids = Some(
                read_dir_lines(&self.dir, None)
                    .0
                    .into_iter()
                    .map(|l| l.id)
                    .collect(),
            );
        }
        if let Some(ids) = ids.as_mut()
            && !ids.insert(line.id.clone())
        {
            return;
        }
        if let Err(e) = self.append(line) {
            log::warn!(target: "suger_metering", "ledger: cannot record report {}: {e}", line.id);
        }
    }

    /// Appends a deletion line and syncs it at once: until it is on disk, a later correction
    /// would count the deleted group as billed (never twice, but too little).
    fn record_deletion(&self, line: &LedgerLine) {
        match self.append(line) {
            Ok(()) => self.sync(),
            Err(e) => {
                log::warn!(target: "suger_metering", "ledger: cannot record the deletion of {}: {e}", line.id);
            }
        }
    }

    /// The ledger directory (`outbox/ledger`).
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    fn append(&self, line: &LedgerLine) -> std::io::Result<()> {
        let mut text = serde_json::to_string(line).map_err(std::io::Error::other)?;
        text.push('\n');
        let day = line
            .recorded_at
            .unwrap_or_else(OffsetDateTime::now_utc)
            .date();
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        if file.as_ref().is_none_or(|(d, _, _)| *d != day) {
            if let Some((_, f, true)) = file.as_ref() {
                f.sync_data()?;
            }
            let path = self.dir.join(day_file_name(day));
            let f = OpenOptions::new().create(true).append(true).open(&path)?;
            store::sync_dir(&self.dir).map_err(std::io::Error::other)?;
            *file = Some((day, f, false));
        }
        let (_, f, dirty) = file.as_mut().expect("opened above");
        // One write: a line is whole, or (after a crash inside the write) a damaged last line.
        f.write_all(text.as_bytes())?;
        *dirty = true;
        Ok(())
    }

    /// Makes the lines written so far durable (once per flush, not once per line).
    pub(crate) fn sync(&self) {
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, f, dirty)) = file.as_mut().filter(|(_, _, dirty)| *dirty) {
            match f.sync_data() {
                Ok(()) => *dirty = false,
                Err(e) => log::warn!(target: "suger_metering", "ledger: cannot sync: {e}"),
            }
        }
    }

    /// Removes the day files older than the retention; at most once a day.
    pub(crate) fn prune(&self, now: OffsetDateTime) {
        let today = now.date();
        let mut pruned = self.pruned.lock().unwrap_or_else(PoisonError::into_inner);
        if *pruned == Some(today) {
            return;
        }
        *pruned = Some(today);
        let removed = prune_dir(&self.dir, now, self.retention);
        if removed > 0 {
            log::info!(target: "suger_metering", "ledger: removed {removed} file(s) older than the retention");
            let _ = store::sync_dir(&self.dir);
            // Forget the ids: they are read again from what is left when needed.
            *self.ids.lock().unwrap_or_else(PoisonError::into_inner) = None;
        }
    }
}

/// Removes the day files of `dir` whose day ended more than `retention` before `now`.
pub(crate) fn prune_dir(dir: &Path, now: OffsetDateTime, retention: time::Duration) -> usize {
    let mut removed = 0;
    for (day, name) in day_files(dir) {
        let end = day
            .next_day()
            .map_or(OffsetDateTime::now_utc(), |d| d.midnight().assume_utc());
        if now - end > retention && fs::remove_file(dir.join(&name)).is_ok() {
            removed += 1;
        }
    }
    removed
}

fn day_file_name(day: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}.ndjson",
        day.year(),
        u8::from(day.month()),
        day.day()
    )
}

/// The day files of `dir` (`YYYY-MM-DD.ndjson`), oldest first; other names are ignored.
pub(crate) fn day_files(dir: &Path) -> Vec<(Date, String)> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let mut days: Vec<(Date, String)> = store::list(dir)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|name| {
            let day = Date::parse(name.strip_suffix(".ndjson")?, fmt).ok()?;
            Some((day, name))
        })
        .collect();
    days.sort();
    days
}

/// Appends a newline to a regular file whose last byte is not one (a line cut by a crash).
fn end_damaged_line(path: &Path) {
    let Ok(meta) = fs::metadata(path) else { return };
    if !meta.is_file() || meta.len() == 0 {
        return;
    }
    let ended = (|| {
        let mut f = OpenOptions::new().read(true).append(true).open(path)?;
        f.seek(SeekFrom::End(-1))?;
        let mut last = [0u8; 1];
        f.read_exact(&mut last)?;
        if last[0] != b'\n' {
            f.write_all(b"\n")?;
            f.sync_data()?;
        }
        Ok::<(), std::io::Error>(())
    })();
    if let Err(e) = ended {
        log::warn!(target: "suger_metering", "ledger: cannot end the last line of {}: {e}", path.display());
    }
}

/// Reads the lines of every day file of `dir` from day `from` on (all when `None`): the lines
/// (first one per id; a group deleted at Suger later is left out, its deletion line too) and the
/// number of damaged lines skipped.
pub(crate) fn read_dir_lines(dir: &Path, from: Option<Date>) -> (Vec<LedgerLine>, usize) {
    let mut seen = HashSet::new();
    let mut lines = Vec::new();
    let mut damaged = 0;
    for (day, name) in day_files(dir) {
        if from.is_some_and(|from| day < from) {
            continue;
        }
        let path = dir.join(&name);
        // Only regular files: never block on something else put there.
        if !fs::metadata(&path).is_ok_and(|m| m.is_file()) {
            continue;
        }
        let Ok(file) = File::open(&path) else {
            continue;
        };
        for raw in BufReader::new(file).split(b'\n') {
            let Ok(raw) = raw else {
                damaged += 1;
                break;
            };
            if raw.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<LedgerLine>(&raw) {
                Ok(line) if line.deleted => {
                    lines.retain(|l: &LedgerLine| l.id != line.id);
                    seen.insert(line.id);
                }
                Ok(line) if !line.id.is_empty() && !line.entitlement_id.is_empty() => {
                    if seen.insert(line.id.clone()) {
                        lines.push(line);
                    }
                }
                _ => damaged += 1,
            }
        }
    }
    if damaged > 0 {
        log::warn!(target: "suger_metering", "ledger: skipped {damaged} damaged line(s) in {}", dir.display());
    }
    (lines, damaged)
}

/// Each entitlement's marketplace, as the last reconciliations saw it (`partners.json`).
pub(crate) fn read_partners(ledger_dir: &Path) -> BTreeMap<String, String> {
    fs::read(ledger_dir.join("partners.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Writes `bytes` to `dir/name` atomically (a temporary file in `dir`, renamed), without the
/// outbox's lock: reconciliation runs beside the process that holds it.
pub(crate) fn write_side_file(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, dir.join(name))
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_line_is_compact_and_reads_back() {
        let params = CreateUsageRecordGroupParams {
            id: Some("4f0c5f8e-2b7a-5c1e-9d3a-0e6b7c8d9e10".into()),
            records: [("api_calls".to_string(), 120.0)].into(),
            ..Default::default()
        };
        let line = LedgerLine::of(
            "entitlement-1",
            &params,
            datetime!(2026-11-26 14:35:10 UTC),
            datetime!(2026-11-26 14:40:00.5 UTC),
            false,
        );
        let text = serde_json::to_string(&line).unwrap();
        assert_eq!(
            text,
            r#"{"id":"4f0c5f8e-2b7a-5c1e-9d3a-0e6b7c8d9e10","entitlementID":"entitlement-1","hour":"2026-11-26T14:00:00Z","recordedAt":"2026-11-26T14:40:00.5Z","records":{"api_calls":120.0}}"#
        );
        assert_eq!(serde_json::from_str::<LedgerLine>(&text).unwrap(), line);
    }

    #[test]
    fn a_deleted_group_is_left_out_of_what_readers_see() {
        let dir = std::env::temp_dir().join(format!("ledger-unit-del-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let ledger = Ledger::open(&dir, DEFAULT_LEDGER_RETENTION).unwrap();
        let now = OffsetDateTime::now_utc();
        let params = |id: &str| CreateUsageRecordGroupParams {
            id: Some(id.into()),
            records: [("calls".to_string(), 1.0)].into(),
            ..Default::default()
        };
        for id in ["a", "b"] {
            ledger.record(&LedgerLine::of("e", &params(id), now, now, false));
        }
        ledger.record(&LedgerLine::deletion("e", "a", Some("a"), now));
        ledger.sync();
        let (lines, damaged) = read_dir_lines(&dir.join("ledger"), None);
        assert_eq!(damaged, 0);
        let ids: Vec<&str> = lines.iter().map(|l| l.id.as_str()).collect();
        assert_eq!(ids, ["b"]);
        let text = fs::read_to_string(dir.join("ledger").join(day_file_name(now.date()))).unwrap();
        assert!(
            text.lines()
                .last()
                .unwrap()
                .contains(r#""identity":"a","deleted":true"#),
            "{text}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_hour_is_taken_in_utc() {
        let t = datetime!(2026-11-26 01:30 +02:00);
        assert_eq!(hour_of(t), datetime!(2026-11-25 23:00 UTC));
    }
}
