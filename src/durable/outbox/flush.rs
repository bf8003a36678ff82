//! Sending what is pending: [`Outbox::flush`] and its [`FlushSummary`].

use std::fs;
use std::path::Path;
use std::sync::PoisonError;

use time::{Duration, OffsetDateTime};

use super::{Entry, Outbox, OutboxError};
use super::{deadline, store};
use crate::durable::ledger::LedgerLine;
use crate::http::client::MeteringClient;
use crate::http::error::Error;
use crate::http::text::error_chain;

/// AWS Marketplace accepts usage up to 6 hours late.
pub(crate) const AWS_LATE: Duration = Duration::hours(6);
/// Azure Marketplace accepts usage up to 24 hours late.
pub(crate) const AZURE_LATE: Duration = Duration::hours(24);
/// A flush stops when this many failures in a row came from as many different entitlements:
/// Suger itself looks down, not one entitlement's reports.
const STOP_AFTER_ENTITLEMENTS_FAILING: usize = 3;
/// The first wait of an entry after a failure about it; it doubles with each failure.
pub(crate) const FIRST_BACKOFF: std::time::Duration = std::time::Duration::from_secs(60);
/// The longest wait of an entry between two sends.
pub(crate) const MAX_BACKOFF: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// What one [`Outbox::flush`] did.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct FlushSummary {
    /// Reports Suger answered with 2xx: recorded now, removed from the outbox.
    pub recorded: usize,
    /// Reports Suger answered 409: recorded by an earlier attempt (a lost answer, a crash before
    /// the removal), removed from the outbox.
    pub already_recorded: usize,
    /// Reports still pending after this flush (a timeout, a lost answer, 429, 5xx, or not tried
    /// because the flush stopped early or their own backoff has not passed); they are sent again
    /// by a later flush.
    pub pending: usize,
    /// Of `pending`: reports not tried in this flush because an earlier failure about them (a
    /// 5xx, a timeout) set their own backoff, which has not passed yet. Other reports are sent
    /// meanwhile: one failing report or entitlement never holds back the rest.
    pub backing_off: usize,
    /// Reports Suger refused for good (400, 404, invalid): moved to `dead/` with its message.
    pub dead: usize,
    /// Files that could not be read as a report: moved to `damaged/`.
    pub damaged: usize,
    /// Pending reports whose usage is older than AWS Marketplace accepts (6 hours).
    pub overdue: usize,
    /// Pending reports whose usage is older than Azure Marketplace accepts (24 hours).
    pub overdue_24h: usize,
    /// Pending reports whose marketplace cut-off (the hour + 6 h for AWS, + 24 h for Azure)
    /// comes within the hour: sent first, and warned about before it passes.
    pub near_cutoff: usize,
    /// The last failure that kept a report pending, if any.
    pub last_error: Option<String>,
}

/// What an answer means for an entry.
#[derive(Debug, PartialEq)]
enum Verdict {
    /// Recorded by an earlier attempt (409): remove.
    AlreadyRecorded,
    /// A bad API key: stop, keep everything, return the error.
    Stop,
    /// Suger as a whole cannot take reports now (rate limited, or no connection could be
    /// opened): keep this entry and stop the flush; the next flush starts again.
    Halt,
    /// Will never pass: dead letter.
    Dead,
    /// A failure about this entry (5xx, timeout, unknown outcome, an answer too large): keep it
    /// with its own backoff, and go on with the others.
    Keep,
}

/// Classifies a failed report through the error's predicates and status (not its variants,
/// except `InvalidRequest`, which is stable).
fn verdict(e: &Error) -> Verdict {
    if e.is_already_reported() || e.status() == Some(409) {
        return Verdict::AlreadyRecorded;
    }
    // Nothing reached Suger (DNS, refused connection, TLS, proxy), also when it is the last
    // cause behind an unknown outcome: the connection is at fault, not this report.
    let unreachable = e
        .transport_error()
        .is_some_and(|t| !t.request_may_have_been_sent());
    match e.status() {
        Some(401 | 403) => Verdict::Stop,
        Some(429) => Verdict::Halt,
        _ if unreachable => Verdict::Halt,
        _ if e.is_retryable() => Verdict::Keep,
        Some(400..=499) => Verdict::Dead,
        _ if matches!(e, Error::InvalidRequest { .. }) => Verdict::Dead,
        _ => Verdict::Keep,
    }
}

/// The wait before the next send of an entry that failed `attempts` times: `first`, doubling,
/// at most `max` (by default 1 minute up to 30, well inside AWS's 6 hours).
fn backoff(attempts: u32, first: std::time::Duration, max: std::time::Duration) -> Duration {
    let doublings = attempts.saturating_sub(1).min(16);
    let wait = first.saturating_mul(2_u32.pow(doublings)).min(max);
    Duration::try_from(wait).unwrap_or(Duration::MAX)
}

impl Outbox {
    /// Sends what is pending, each as a single report with its id, and tells what happened.
    ///
    /// Deadlines first: the reports closest to their marketplace's cut-off go first (the usage
    /// hour + 6 h for AWS, + 24 h for Azure; an entitlement's marketplace is known once a
    /// [`reconcile`](crate::reconcile) saw it, until then AWS's 6 h is assumed), then in
    /// enqueue order. Reports still pending within an hour of their cut-off are counted in
    /// [`FlushSummary::near_cutoff`] and logged as a warning, before the cut-off passes.
    ///
    /// * 2xx, or 409 to the id (recorded earlier): the entry is removed.
    /// * A failure about this report (5xx, a timeout, a lost answer, an answer over the size
    ///   limit; after the client's own retries): the entry stays, with its own backoff (1 minute,
    ///   doubling up to 30 minutes; kept in its file), and the flush **goes on** with the others.
    ///   A report that keeps failing, or one entitlement whose reports all fail, never holds
    ///   back the rest. Entries still backing off are skipped (counted in
    ///   [`FlushSummary::backing_off`]).
    /// * A failure about Suger as a whole: 429, a connection that could not be opened (DNS,
    ///   refused, TLS, proxy), or failures from 3 different entitlements in a row: the flush
    ///   stops and keeps the rest for the next flush. A flush never spins.
    /// * 400, 404 or another refusal that will never pass: the entry moves to `dead/` with the
    ///   server's message in `<name>.reason.txt`, and the flush goes on.
    /// * A file that cannot be read as a report moves to `damaged/`; the flush goes on.
    /// * 401 or 403 (a bad API key): the flush stops at once, keeps every entry, and returns
    ///   the error.
    ///
    /// Entries whose usage is older than the marketplaces accept (6 h for AWS, 24 h for Azure)
    /// are counted in the summary and logged as warnings; they are still sent.
    ///
    /// ```
    /// # use suger_metering::fake::FakeSuger;
    /// # use suger_metering::Outbox;
    /// # let fake = FakeSuger::start()?;
    /// # let dir = std::env::temp_dir().join(format!("outbox-doc-flush-{}", std::process::id()));
    /// let outbox = Outbox::open(&dir)?;
    /// let summary = outbox.flush(&fake.client())?;
    /// println!("{} recorded, {} still pending", summary.recorded, summary.pending);
    /// # drop(outbox); std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`OutboxError::Report`] for 401/403 (nothing removed after it); [`OutboxError::Io`] when
    /// the directory cannot be read or an entry cannot be moved aside.
    pub fn flush(&self, client: &MeteringClient) -> Result<FlushSummary, OutboxError> {
        let _one_at_a_time = self
            .flush_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let now = OffsetDateTime::now_utc();
        let mut s = FlushSummary::default();
        // The entitlements of the failures in a row (reset by any success).
        let mut failing: Vec<String> = Vec::new();
        let mut stopped = false;
        // Deadlines first: the reports closest to their marketplace's cut-off.
        let partners = crate::durable::ledger::read_partners(&self.dir().join("ledger"));
        let names = deadline::order(&self.pending, store::list(&self.pending)?, &partners);
        for (name, due) in names {
            let path = self.pending.join(&name);
            if stopped {
                s.pending += 1;
                count_age(&mut s, now, enqueued_at(&name), due);
                continue;
            }
            let (mut entry, size) = match read_entry(&path) {
                Ok(read) => read,
                Err(why) => {
                    self.move_aside(&name, &self.damaged, &why)?;
                    log::warn!(target: "suger_metering", "outbox: damaged entry {name} moved to damaged/: {why}");
                    s.damaged += 1;
                    continue;
                }
            };
            let usage_time = entry.params.timestamp.unwrap_or(entry.enqueued_at);
            if entry.retry_at.is_some_and(|at| at > now) {
                s.pending += 1;
                s.backing_off += 1;
                count_age(&mut s, now, usage_time, due);
                continue;
            }
            let outcome = client.report_usage_record_group(&entry.entitlement_id, &entry.params);
            let verdict = match &outcome {
                Ok(_) => None,
                Err(e) => Some(verdict(e)),
            };
            match verdict {
                None | Some(Verdict::AlreadyRecorded) => {
                    if verdict.is_none() {
                        s.recorded += 1;
                    } else {
                        s.already_recorded += 1;
                    }
                    failing.clear();
                    // The ledger line before the removal: a crash between them leaves the
                    // entry pending, and its resend (409) writes the line once.
                    if let Some(ledger) = &self.ledger {
                        let duplicate = verdict.is_some();
                        let line = LedgerLine::of(
                            &entry.entitlement_id,
                            &entry.params,
                            usage_time,
                            OffsetDateTime::now_utc(),
                            duplicate,
                        );
                        ledger.record(&line);
                    }
                    self.remove(&path, size);
                }
                Some(Verdict::Stop) => return Err(outcome.unwrap_err().into()),
                Some(Verdict::Dead) => {
                    let e = outcome.unwrap_err();
                    let id = entry.params.id.as_deref().unwrap_or_default();
                    log::warn!(target: "suger_metering", "outbox: report {id} refused for good, moved to dead/: {e}");
                    self.move_aside(&name, &self.dead, &error_chain(&e))?;
                    s.dead += 1;
                }
                Some(Verdict::Halt) => {
                    let e = outcome.unwrap_err();
                    s.pending += 1;
                    count_age(&mut s, now, usage_time, due);
                    s.last_error = Some(error_chain(&e));
                    stopped = true;
                }
                Some(Verdict::Keep) => {
                    let e = outcome.unwrap_err();
                    s.pending += 1;
                    count_age(&mut s, now, usage_time, due);
                    entry.attempts = entry.attempts.saturating_add(1);
                    let wait = backoff(entry.attempts, self.backoff.0, self.backoff.1);
                    entry.retry_at = now.checked_add(wait);
                    let id = entry.params.id.as_deref().unwrap_or_default();
                    log::warn!(
                        target: "suger_metering",
                        "outbox: report {id} for entitlement {} failed ({} time(s)), next try after {}: {e}",
                        entry.entitlement_id,
                        entry.attempts,
                        wait
                    );
                    self.rewrite(&path, size, &entry);
                    s.last_error = Some(error_chain(&e));
                    if !failing.contains(&entry.entitlement_id) {
                        failing.push(entry.entitlement_id);
                    }
                    stopped = failing.len() >= STOP_AFTER_ENTITLEMENTS_FAILING;
                }
            }
        }
        if let Some(ledger) = &self.ledger {
            ledger.sync();
            ledger.prune(now);
        }
        if s.near_cutoff > 0 {
            log::warn!(
                target: "suger_metering",
                "outbox: {} pending report(s) reach their marketplace's cut-off within the hour (sent first by the next flush)",
                s.near_cutoff
            );
        }
        if s.overdue > 0 {
            log::warn!(
                target: "suger_metering",
                "outbox: {} pending report(s) hold usage older than 6 hours (AWS Marketplace refuses it), {} older than 24 hours (Azure)",
                s.overdue,
                s.overdue_24h
            );
        }
        Ok(s)
    }

    /// Stores an entry's new backoff in its file (atomically replaced). A failure is only
    /// logged: the entry stays as it was, and is tried again on the next flush.
    fn rewrite(&self, path: &Path, old_size: u64, entry: &Entry) {
        let Ok(bytes) = serde_json::to_vec(entry) else {
            return;
        };
        match store::write_durable(self.tmp_dir(), path, &bytes) {
            Ok(()) => {
                self.charge(bytes.len() as u64);
                self.release(old_size);
            }
            Err(e) => {
                log::warn!(target: "suger_metering", "outbox: cannot store the backoff of {}: {e}", path.display())
            }
        }
    }

    /// Removes a recorded entry. A failure is only logged: the entry is sent again and answered
    /// 409, which removes it then.
    fn remove(&self, path: &Path, size: u64) {
        match fs::remove_file(path) {
            Ok(()) => self.release(size),
            Err(e) => {
                log::warn!(target: "suger_metering", "outbox: cannot remove recorded entry {}: {e}", path.display())
            }
        }
    }

    /// Moves `pending/<name>` into `to`, with `<name>.reason.txt` next to it.
    fn move_aside(&self, name: &str, to: &Path, reason: &str) -> Result<(), OutboxError> {
        let reason_path = to.join(format!("{name}.reason.txt"));
        // The reason first: a crash before the rename leaves the entry pending, to be moved
        // again (and the reason rewritten) by the next flush.
        store::write_durable(
            self.tmp_dir(),
            &reason_path,
            format!("{reason}\n").as_bytes(),
        )?;
        self.charge(reason.len() as u64 + 1);
        let dest = to.join(name);
        fs::rename(self.pending.join(name), &dest)
            .map_err(|e| OutboxError::io("rename", &dest, e))?;
        store::sync_dir(to)?;
        store::sync_dir(&self.pending)
    }
}

/// Reads and checks one entry; the error text says why it is damaged.
fn read_entry(path: &Path) -> Result<(Entry, u64), String> {
    let bytes = fs::read(path).map_err(|e| format!("cannot be read: {e}"))?;
    let entry: Entry =
        serde_json::from_slice(&bytes).map_err(|e| format!("is not a report: {e}"))?;
    if entry.entitlement_id.is_empty() || entry.params.id.as_deref().is_none_or(str::is_empty) {
        return Err("has no entitlement id or no report id".into());
    }
    Ok((entry, bytes.len() as u64))
}

/// The enqueue time encoded at the start of an entry's name (nanoseconds since the epoch).
fn enqueued_at(name: &str) -> OffsetDateTime {
    name.split('-')
        .next()
        .and_then(|n| n.parse::<i128>().ok())
        .and_then(|n| OffsetDateTime::from_unix_timestamp_nanos(n).ok())
        .unwrap_or_else(OffsetDateTime::now_utc)
}

fn count_age(
    s: &mut FlushSummary,
    now: OffsetDateTime,
    usage_time: OffsetDateTime,
    due: Option<OffsetDateTime>,
) {
    s.near_cutoff += usize::from(deadline::near(due, now));
    let age = now - usage_time;
    s.overdue += usize::from(age > AWS_LATE);
    s.overdue_24h += usize::from(age > AZURE_LATE);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16) -> Error {
        Error::Api {
            status,
            message: "m".into(),
            retry_after: None,
        }
    }

    #[test]
    fn verdicts_follow_the_status() {
        assert_eq!(verdict(&api(409)), Verdict::AlreadyRecorded);
        assert_eq!(verdict(&api(401)), Verdict::Stop);
        assert_eq!(verdict(&api(403)), Verdict::Stop);
        assert_eq!(verdict(&api(400)), Verdict::Dead);
        assert_eq!(verdict(&api(404)), Verdict::Dead);
        assert_eq!(verdict(&Error::invalid("records", "x")), Verdict::Dead);
        assert_eq!(verdict(&api(429)), Verdict::Halt);
        for keep in [408, 500, 502, 503, 504] {
            assert_eq!(verdict(&api(keep)), Verdict::Keep, "{keep}");
        }
    }

    #[test]
    fn backoff_doubles_from_a_minute_up_to_half_an_hour() {
        let waits: Vec<i64> = (1..=8)
            .map(|n| backoff(n, FIRST_BACKOFF, MAX_BACKOFF).whole_minutes())
            .collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(
            backoff(u32::MAX, FIRST_BACKOFF, MAX_BACKOFF),
            Duration::minutes(30)
        );
        let zero = std::time::Duration::ZERO;
        assert_eq!(backoff(3, zero, zero), Duration::ZERO);
    }

    #[test]
    fn no_connection_halts_the_flush_even_behind_an_unknown_outcome() {
        use crate::http::transport_error::{TransportError, TransportErrorKind};
        let refused = || Error::Transport(TransportError::of_kind(TransportErrorKind::Connect));
        assert_eq!(verdict(&refused()), Verdict::Halt);
        let unknown = Error::ReportOutcomeUnknown {
            id: "r".into(),
            id_generated: false,
            source: Box::new(refused()),
        };
        assert_eq!(verdict(&unknown), Verdict::Halt);
        let lost = Error::Transport(TransportError::of_kind(TransportErrorKind::ConnectionLost));
        assert_eq!(verdict(&lost), Verdict::Keep);
    }

    #[test]
    fn the_enqueue_time_is_read_back_from_the_name() {
        let t = enqueued_at("00000001764000000000000000-00000001-x.json");
        assert_eq!(t.unix_timestamp(), 1_764_000_000);
    }
}
