//! Sending what is pending: [`Outbox::flush`] and its [`FlushSummary`].

use std::fs;
use std::path::Path;
use std::sync::PoisonError;

use time::{Duration, OffsetDateTime};

use std::collections::BTreeMap;

use super::entry::{self, Entry, ReadError};
use super::verdict::{Verdict, backoff, verdict};
use super::{Outbox, OutboxError};
use super::{deadline, store};
use crate::api::usage_record_group::MeteringUsageRecordGroup;
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
/// A flush stops when this many reports in a row were refused for good with the same status
/// and no Suger error body (not a JSON string): a wrong base URL or a gateway refusing
/// everything, not these reports. They stay pending.
const STOP_AFTER_SUSPECT_REFUSALS: usize = 3;
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
    /// Of `pending`: reports kept because the flush stopped after 3 refusals in a row with the
    /// same status and no Suger error body (a wrong base URL, a gateway answering 404 or 400 to
    /// everything): they were not moved to `dead/`. `last_error` says which answer.
    pub suspect_refusals: usize,
    /// Pending reports whose usage (its timestamp, else its enqueue time) is older than AWS
    /// Marketplace accepts (6 hours), whether tried in this flush or not.
    pub overdue: usize,
    /// Pending reports whose usage is older than Azure Marketplace accepts (24 hours).
    pub overdue_24h: usize,
    /// Of `recorded`: reports sent now whose usage was already older than AWS Marketplace
    /// accepts (6 hours). Suger recorded them, but the marketplace may refuse them: flagged
    /// (and logged as a warning) when sent, not only while pending.
    pub recorded_late: usize,
    /// Pending reports whose marketplace cut-off (the hour + 6 h for AWS, + 24 h for Azure)
    /// comes within the hour: sent first, and warned about before it passes.
    pub near_cutoff: usize,
    /// The last failure that kept a report pending, if any.
    pub last_error: Option<String>,
}

/// A pending entry, as found by a flush before sending.
struct Queued {
    name: String,
    enqueued_at: OffsetDateTime,
    usage_time: OffsetDateTime,
    retry_at: Option<OffsetDateTime>,
    /// The marketplace's cut-off for this usage.
    due: OffsetDateTime,
}

/// One entry read back for sending.
struct Tried {
    name: String,
    entry: Entry,
}

/// The state of one flush.
struct Run {
    now: OffsetDateTime,
    s: FlushSummary,
    /// The entitlements of the failures in a row (reset by any success).
    failing: Vec<String>,
    /// Refused with no Suger error body, in a row and with the same status: not moved to
    /// `dead/` yet.
    suspects: Vec<(Tried, Error)>,
    stopped: bool,
    /// Each entitlement's marketplace, where a reconciliation saw it.
    partners: BTreeMap<String, String>,
}

impl Run {
    /// The marketplace's cut-off for an entry's usage.
    fn due(&self, entitlement_id: &str, usage_time: OffsetDateTime) -> OffsetDateTime {
        deadline::cutoff(
            self.partners.get(entitlement_id).map(String::as_str),
            usage_time,
        )
    }

    /// An entry stays pending.
    fn keep_entry(&mut self, entry: &Entry) {
        let usage_time = entry.usage_time();
        let due = self.due(&entry.entitlement_id, usage_time);
        self.keep(usage_time, due);
    }

    /// An entry stays pending.
    fn keep(&mut self, usage_time: OffsetDateTime, due: OffsetDateTime) {
        self.s.pending += 1;
        self.s.near_cutoff += usize::from(deadline::near(Some(due), self.now));
        let age = self.now - usage_time;
        self.s.overdue += usize::from(age > AWS_LATE);
        self.s.overdue_24h += usize::from(age > AZURE_LATE);
    }
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
    ///   [`requeue_dead`](Outbox::requeue_dead) moves dead letters back after a fix.
    /// * But 3 such refusals in a row with the same status and no Suger error body (Suger
    ///   answers errors as a JSON string; a wrong base URL or a gateway answers HTML, plain text
    ///   or nothing) stop the flush and keep all of them pending: one wrong setting never moves
    ///   the whole backlog to `dead/` ([`FlushSummary::suspect_refusals`]).
    /// * A file that cannot be read as a report moves to `damaged/`; the flush goes on.
    /// * 401 or 403 (a bad API key): the flush stops at once, keeps every entry, and returns
    ///   the error.
    ///
    /// Entries whose usage is older than the marketplaces accept (6 h for AWS, 24 h for Azure)
    /// are counted in the summary and logged as warnings; they are still sent.
    ///
    /// Only one process sends an outbox at a time: the flush takes the directory's send lock
    /// (unless this outbox holds it for its life, as a [`Meter`](crate::Meter)'s does) and
    /// fails with [`OutboxError::Locked`] at once when another process holds it: that process
    /// is sending (a service's meter, another flush); nothing was sent by this call.
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
    /// [`OutboxError::Locked`] when another process is sending; [`OutboxError::Report`] for
    /// 401/403 (nothing removed after it); [`OutboxError::Io`] when the directory cannot be read
    /// or an entry cannot be moved aside.
    pub fn flush(&self, client: &MeteringClient) -> Result<FlushSummary, OutboxError> {
        let _one_at_a_time = self
            .flush_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let _sending = self.send_lock()?;
        let mut run = Run {
            now: OffsetDateTime::now_utc(),
            s: FlushSummary::default(),
            failing: Vec::new(),
            suspects: Vec::new(),
            stopped: false,
            partners: crate::durable::ledger::read_partners(&self.dir().join("ledger")),
        };
        for q in self.queue(&mut run)? {
            if run.stopped {
                run.keep(q.usage_time, q.due);
                continue;
            }
            if q.retry_at.is_some_and(|at| at > run.now) {
                run.s.backing_off += 1;
                run.keep(q.usage_time, q.due);
                continue;
            }
            let path = self.pending.join(&q.name);
            let (entry, _) = match entry::read(&path) {
                Ok(read) => read,
                Err(ReadError::Gone) => continue,
                Err(ReadError::Damaged(why)) => {
                    self.set_damaged(&mut run.s, &q.name, &why)?;
                    continue;
                }
            };
            let outcome = client.report_usage_record_group(&entry.entitlement_id, &entry.params);
            let tried = Tried {
                name: q.name,
                entry,
            };
            self.settle(&mut run, tried, outcome)?;
        }
        // Fewer suspect refusals than the limit: refusals after all.
        self.bury_suspects(&mut run)?;
        if let Some(ledger) = &self.ledger {
            ledger.sync();
            ledger.prune(run.now);
        }
        if run.s.near_cutoff > 0 {
            log::warn!(
                target: "suger_metering",
                "outbox: {} pending report(s) reach their marketplace's cut-off within the hour (sent first by the next flush)",
                run.s.near_cutoff
            );
        }
        if run.s.overdue > 0 {
            log::warn!(
                target: "suger_metering",
                "outbox: {} pending report(s) hold usage older than 6 hours (AWS Marketplace refuses it), {} older than 24 hours (Azure)",
                run.s.overdue,
                run.s.overdue_24h
            );
        }
        Ok(run.s)
    }

    /// Every pending entry, closest to its marketplace's cut-off first, then oldest first (by
    /// enqueue time), read once for its times; damaged files are moved aside.
    fn queue(&self, run: &mut Run) -> Result<Vec<Queued>, OutboxError> {
        let mut queue = Vec::new();
        for name in store::list(&self.pending)? {
            match entry::read(&self.pending.join(&name)) {
                Ok((entry, _)) => queue.push(Queued {
                    enqueued_at: entry.enqueued_at,
                    usage_time: entry.usage_time(),
                    retry_at: entry.retry_at,
                    due: run.due(&entry.entitlement_id, entry.usage_time()),
                    name,
                }),
                Err(ReadError::Gone) => {}
                Err(ReadError::Damaged(why)) => self.set_damaged(&mut run.s, &name, &why)?,
            }
        }
        // Deadlines first, then enqueue order.
        queue.sort_by(|a, b| (a.due, a.enqueued_at, &a.name).cmp(&(b.due, b.enqueued_at, &b.name)));
        Ok(queue)
    }

    fn set_damaged(&self, s: &mut FlushSummary, name: &str, why: &str) -> Result<(), OutboxError> {
        self.move_aside(name, &self.damaged, why)?;
        log::warn!(target: "suger_metering", "outbox: damaged entry {name} moved to damaged/: {why}");
        s.damaged += 1;
        Ok(())
    }

    /// What a report's outcome does to its entry and to the flush: the one place that settles
    /// an entry (removed as recorded, kept with a backoff, moved to `dead/`).
    fn settle(
        &self,
        run: &mut Run,
        tried: Tried,
        outcome: Result<MeteringUsageRecordGroup, Error>,
    ) -> Result<(), OutboxError> {
        let e = match outcome {
            Ok(_) => {
                self.bury_suspects(run)?;
                run.s.recorded += 1;
                let usage_time = tried.entry.usage_time();
                if run.now - usage_time > AWS_LATE {
                    run.s.recorded_late += 1;
                    let id = tried.entry.params.id.as_deref().unwrap_or_default();
                    log::warn!(target: "suger_metering", "outbox: report {id} was sent more than 6 hours after its usage ({usage_time}): AWS Marketplace may refuse it (Azure accepts 24 hours)");
                }
                run.failing.clear();
                self.record_in_ledger(&tried.entry, false);
                self.remove(&self.pending.join(&tried.name));
                return Ok(());
            }
            Err(e) => e,
        };
        let verdict = verdict(&e);
        if !matches!(verdict, Verdict::Suspect(_) | Verdict::Stop | Verdict::Halt) {
            self.bury_suspects(run)?;
        }
        match verdict {
            Verdict::AlreadyRecorded => {
                run.s.already_recorded += 1;
                run.failing.clear();
                self.record_in_ledger(&tried.entry, true);
                self.remove(&self.pending.join(&tried.name));
            }
            Verdict::Stop => return Err(e.into()),
            Verdict::Dead => self.bury(run, tried, &e)?,
            Verdict::Suspect(status) => {
                let same = run
                    .suspects
                    .first()
                    .is_none_or(|(_, first)| first.status() == Some(status));
                if !same {
                    self.bury_suspects(run)?;
                }
                run.suspects.push((tried, e));
                if run.suspects.len() >= STOP_AFTER_SUSPECT_REFUSALS {
                    let (_, e) = &run.suspects[run.suspects.len() - 1];
                    let why = format!(
                        "stopped after {} reports in a row were refused with HTTP {status} and no Suger error body (a wrong base URL, or a gateway in front of Suger?); they are kept pending: {}",
                        run.suspects.len(),
                        error_chain(e)
                    );
                    log::warn!(target: "suger_metering", "outbox: {why}");
                    run.s.last_error = Some(why);
                    run.stopped = true;
                    for (t, _) in std::mem::take(&mut run.suspects) {
                        run.s.suspect_refusals += 1;
                        run.keep_entry(&t.entry);
                    }
                }
            }
            Verdict::Halt => {
                for (t, _) in std::mem::take(&mut run.suspects) {
                    run.keep_entry(&t.entry);
                }
                run.keep_entry(&tried.entry);
                run.s.last_error = Some(error_chain(&e));
                run.stopped = true;
            }
            Verdict::Keep => {
                run.keep_entry(&tried.entry);
                let Tried { name, mut entry } = tried;
                entry.attempts = entry.attempts.saturating_add(1);
                let wait = backoff(entry.attempts, self.backoff.0, self.backoff.1);
                entry.retry_at = run.now.checked_add(wait);
                log::warn!(
                    target: "suger_metering",
                    "outbox: report {} for entitlement {} failed ({} time(s)), next try after {}: {e}",
                    entry.id(),
                    entry.entitlement_id,
                    entry.attempts,
                    wait
                );
                self.rewrite(&self.pending.join(&name), &entry);
                run.s.last_error = Some(error_chain(&e));
                if !run.failing.contains(&entry.entitlement_id) {
                    run.failing.push(entry.entitlement_id);
                }
                run.stopped = run.failing.len() >= STOP_AFTER_ENTITLEMENTS_FAILING;
            }
        }
        Ok(())
    }

    /// Moves a refused entry to `dead/` with the server's message.
    fn bury(&self, run: &mut Run, tried: Tried, e: &Error) -> Result<(), OutboxError> {
        log::warn!(target: "suger_metering", "outbox: report {} refused for good, moved to dead/: {e}", tried.entry.id());
        self.move_aside(&tried.name, &self.dead, &error_chain(e))?;
        run.s.dead += 1;
        Ok(())
    }

    /// The suspect refusals held so far were refusals after all: dead letters.
    fn bury_suspects(&self, run: &mut Run) -> Result<(), OutboxError> {
        for (tried, e) in std::mem::take(&mut run.suspects) {
            self.bury(run, tried, &e)?;
        }
        Ok(())
    }

    /// Stores an entry's new backoff in its file (atomically replaced). A failure is only
    /// logged: the entry stays as it was, and is tried again on the next flush.
    fn rewrite(&self, path: &Path, entry: &Entry) {
        let Ok(bytes) = serde_json::to_vec(entry) else {
            return;
        };
        if let Err(e) = store::write_durable(self.tmp_dir(), path, &bytes) {
            log::warn!(target: "suger_metering", "outbox: cannot store the backoff of {}: {e}", path.display());
        }
    }

    /// Removes a recorded entry. A failure is only logged: the entry is sent again and answered
    /// 409, which removes it then.
    /// The ledger line of a recorded entry, before its removal: a crash between them leaves the
    /// entry pending, and its resend (409) writes the line once. `duplicate`: answered 409.
    fn record_in_ledger(&self, entry: &Entry, duplicate: bool) {
        if let Some(ledger) = &self.ledger {
            let mut line = LedgerLine::of(
                &entry.entitlement_id,
                &entry.params,
                entry.usage_time(),
                OffsetDateTime::now_utc(),
                duplicate,
            );
            line.identity.clone_from(&entry.identity);
            line.revision = entry.revision;
            ledger.record(&line);
        }
    }

    fn remove(&self, path: &Path) {
        if let Err(e) = fs::remove_file(path) {
            log::warn!(target: "suger_metering", "outbox: cannot remove recorded entry {}: {e}", path.display());
        }
    }

    /// Moves `pending/<name>` into `to`, with `<name>.reason.txt` next to it (neither counts
    /// against the size cap).
    fn move_aside(&self, name: &str, to: &Path, reason: &str) -> Result<(), OutboxError> {
        let reason_path = to.join(format!("{name}.reason.txt"));
        // The reason first: a crash before the rename leaves the entry pending, to be moved
        // again (and the reason rewritten) by the next flush.
        store::write_durable(
            self.tmp_dir(),
            &reason_path,
            format!("{reason}\n").as_bytes(),
        )?;
        let dest = to.join(name);
        fs::rename(self.pending.join(name), &dest)
            .map_err(|e| OutboxError::io("rename", &dest, e))?;
        store::sync_dir(to)?;
        store::sync_dir(&self.pending)
    }
}
