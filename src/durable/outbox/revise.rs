//! Corrections that bill only the difference: [`Outbox::enqueue_revised`] and its [`Revision`].
//!
//! The ledger says what Suger recorded for each usage identity (the id of its first report,
//! and the revisions after it); a corrected re-run compares with it and reports, within
//! Suger's rules, only what changed.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::PoisonError;

use time::OffsetDateTime;

use super::correction::{
    History, billed, difference, difference_params, fingerprint, read_index, usage_of,
};
use super::entry::{self, Entry};
use super::{Outbox, OutboxError, store};
use crate::api::ids::usage_record_group_revision_id;
use crate::api::rules::{check_report, fill_or_match};
use crate::api::usage_record_group::{
    CreateUsageRecordGroupParams, ListUsageRecordGroups, UsageRecordGroupStatus,
};
use crate::durable::ledger::{Ledger, LedgerLine};
use crate::http::client::MeteringClient;
use crate::http::error::Error;

/// What [`Outbox::enqueue_revised`] did with a report of usage that may have been reported
/// before.
///
/// ```
/// use suger_metering::Revision;
/// fn say(outcome: &Revision) -> String {
///     match outcome {
///         Revision::AlreadyRecorded { id, .. } => format!("{id}: already recorded, nothing sent"),
///         Revision::Difference { id, revision, .. } => format!("{id}: the difference, revision {revision}"),
///         other => format!("{}: stored", other.id()),
///     }
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Revision {
    /// Nothing was recorded for this usage yet: stored under its own id (replacing a pending
    /// report of the same usage that was never sent), or under a new revision id when what was
    /// recorded has been deleted at Suger (a deleted id is never reused).
    #[non_exhaustive]
    Stored {
        /// The report's id (the identity id).
        id: String,
    },
    /// Suger recorded exactly these quantities already: nothing stored, nothing sent.
    #[non_exhaustive]
    AlreadyRecorded {
        /// The identity id.
        id: String,
    },
    /// Suger recorded less and has forwarded it to the marketplace: only the positive
    /// difference per dimension is stored, as revision `revision` under
    /// [`usage_record_group_revision_id`](crate::usage_record_group_revision_id).
    #[non_exhaustive]
    Difference {
        /// The id of the difference report.
        id: String,
        /// Its revision (2 for the first correction).
        revision: u32,
    },
    /// Suger had not forwarded the earlier report(s) yet (`CREATED`): they were deleted at
    /// Suger, and the corrected report is stored whole under a new revision id (a deleted id is
    /// never reused).
    #[non_exhaustive]
    Replaced {
        /// The ids deleted at Suger.
        deleted: Vec<String>,
        /// The id of the corrected report.
        id: String,
    },
}

impl Revision {
    /// The id stored (or already recorded).
    pub fn id(&self) -> &str {
        match self {
            Revision::Stored { id }
            | Revision::AlreadyRecorded { id }
            | Revision::Difference { id, .. }
            | Revision::Replaced { id, .. } => id,
        }
    }
}

impl Outbox {
    /// Stores a report of usage that may have been reported before (a re-run of a nightly
    /// export, corrected), so that Suger bills, in the end, what this report says, never twice,
    /// within its rules. `params.id` is the usage's **identity** id (e.g.
    /// [`usage_record_group_id`](crate::usage_record_group_id)`(entitlement, hour)`): the same
    /// for every run. The ledger (what this outbox's flushes saw Suger record, kept
    /// [`ledger_retention`](crate::OutboxBuilder::ledger_retention)) says what was recorded for
    /// it:
    ///
    /// * nothing: stored like [`enqueue`](Outbox::enqueue) ([`Revision::Stored`]);
    /// * the same quantities: nothing stored, nothing sent ([`Revision::AlreadyRecorded`]);
    /// * other quantities, and every earlier report of it is still `CREATED` at Suger (not yet
    ///   forwarded by its hourly report cycle; one list call): those are deleted at Suger (the
    ///   deletion kept in the ledger) and the corrected report is stored whole under revision
    ///   id `usage_record_group_revision_id(entitlement, id, n)` ([`Revision::Replaced`]);
    /// * more than was recorded, once forwarded: only the positive difference per dimension is
    ///   stored, under that revision id ([`Revision::Difference`]);
    /// * less than was recorded, once forwarded: usage cannot be un-billed (the marketplaces
    ///   refuse negative usage): nothing is stored or sent, [`OutboxError::NegativeCorrection`].
    ///
    /// A report of this usage still pending in the outbox and never tried is replaced (nothing
    /// was billed), while holding the send lock so that no flush sends it meanwhile. Without
    /// the lock (another process is sending) or when the pending report was tried already (it
    /// may be recorded), a different report is refused with [`OutboxError::AlreadyPending`].
    /// Without a ledger (a retention of zero) this is `enqueue`.
    ///
    /// ```
    /// # use suger_metering::fake::FakeSuger;
    /// use suger_metering::{CreateUsageRecordGroupParams, Outbox, Revision, usage_record_group_id};
    /// # let fake = FakeSuger::start()?;
    /// # let client = fake.client();
    /// # let dir = std::env::temp_dir().join(format!("outbox-doc-revised-{}", std::process::id()));
    /// let outbox = Outbox::open(&dir)?;
    /// let hour = |calls: f64| CreateUsageRecordGroupParams {
    ///     id: Some(usage_record_group_id("entitlement-1", "2026-11-26T14")),
    ///     records: [("api_calls".to_string(), calls)].into(),
    ///     ..Default::default()
    /// };
    /// outbox.enqueue_revised(&client, "entitlement-1", &hour(2653.0))?;
    /// outbox.flush(&client)?;
    /// fake.run_report_cycle(); // forwarded to the marketplace
    /// // Re-exported after a late event: only the difference is reported.
    /// match outbox.enqueue_revised(&client, "entitlement-1", &hour(2654.0))? {
    ///     Revision::Difference { revision, .. } => assert_eq!(revision, 2),
    ///     other => panic!("{other:?}"),
    /// }
    /// outbox.flush(&client)?;
    /// assert_eq!(fake.usage_record_groups()[1]["records"]["api_calls"], 1.0);
    /// # drop(outbox); std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`enqueue`](Outbox::enqueue), plus [`Error::InvalidRequest`] (in
    /// [`OutboxError::Report`]) without `params.id`;
    /// [`OutboxError::NegativeCorrection`]; [`OutboxError::Report`] when Suger could not be
    /// asked or a deletion failed (nothing stored; deletions done are in the ledger). In all of
    /// these, nothing was stored.
    pub fn enqueue_revised(
        &self,
        client: &MeteringClient,
        entitlement_id: &str,
        params: &CreateUsageRecordGroupParams,
    ) -> Result<Revision, OutboxError> {
        check_report(entitlement_id, params)?;
        let mut params = params.clone();
        fill_or_match(&mut params.entitlement_id, "entitlement_id", entitlement_id)?;
        let Some(base) = params.id.clone() else {
            return Err(Error::invalid(
                "id",
                "enqueue_revised needs the usage's identity id, e.g. usage_record_group_id(entitlement, hour)",
            )
            .into());
        };
        let Some(ledger) = &self.ledger else {
            return self
                .enqueue(entitlement_id, &params)
                .map(|id| Revision::Stored { id });
        };
        let _one_at_a_time = self
            .flush_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let lock = match self.send_lock() {
            Ok(lock) => Some(lock),
            Err(OutboxError::Locked { .. }) => None,
            Err(e) => return Err(e),
        };
        let history = self.history(ledger, entitlement_id, &base);
        let pending = self.pending_of(entitlement_id, &base, history.max_revision);
        let replaceable = lock.is_some() && pending.iter().all(|(_, e)| e.attempts == 0);
        let stored = |revision: u32, report: CreateUsageRecordGroupParams| {
            self.store_revision(
                entitlement_id,
                &base,
                revision,
                report,
                &pending,
                replaceable,
            )
        };
        if history.lines.is_empty() {
            // Nothing billed. After deletions (a correction whose store failed), a new
            // revision: a deleted id is never reused.
            let revision = match history.max_revision {
                0 => 1,
                n => n + 1,
            };
            return stored(revision, params).map(|id| Revision::Stored { id });
        }
        let wanted = usage_of(&params);
        let diff = difference(&wanted, &billed(&history.lines));
        if diff.as_ref().is_ok_and(BTreeMap::is_empty) {
            self.drop_pending(&pending, replaceable, None)?;
            return Ok(Revision::AlreadyRecorded { id: base });
        }
        let next = history.max_revision.max(1) + 1;
        // Changed: may the earlier reports still be deleted at Suger?
        let statuses = statuses_at_suger(client, entitlement_id, &history.lines)?;
        let mut remaining = Vec::new();
        let mut gone = Vec::new();
        for line in history.lines {
            match statuses.get(&line.id) {
                Some((UsageRecordGroupStatus::Deleted, _)) => gone.push(line.id),
                _ => remaining.push(line),
            }
        }
        for id in &gone {
            ledger.record(&LedgerLine::deletion(
                entitlement_id,
                id,
                Some(&base),
                OffsetDateTime::now_utc(),
            ));
        }
        let deletable = |l: &LedgerLine| {
            matches!(
                statuses.get(&l.id),
                Some((
                    UsageRecordGroupStatus::Created | UsageRecordGroupStatus::Invalid,
                    _
                ))
            )
        };
        let mut deleted = Vec::new();
        if remaining.iter().all(deletable) {
            while let Some(line) = remaining.first() {
                let day = statuses.get(&line.id).and_then(|(_, d)| *d);
                match client.delete_usage_record_group(&line.id, day) {
                    Ok(_) => {}
                    // Forwarded meanwhile (400), or gone: count it as billed.
                    Err(e) if matches!(e.status(), Some(400 | 404)) => {
                        log::info!(target: "suger_metering", "outbox: group {} could not be deleted ({e}); reporting the difference instead", line.id);
                        break;
                    }
                    Err(e) => return Err(e.into()),
                }
                ledger.record(&LedgerLine::deletion(
                    entitlement_id,
                    &line.id,
                    Some(&base),
                    OffsetDateTime::now_utc(),
                ));
                deleted.push(remaining.remove(0).id);
            }
        }
        if remaining.is_empty() {
            return stored(next, params).map(|id| Revision::Replaced { deleted, id });
        }
        match difference(&wanted, &billed(&remaining)) {
            Err((dimension, recorded, requested)) => {
                self.drop_pending(&pending, replaceable, None)?;
                Err(OutboxError::NegativeCorrection {
                    id: base,
                    dimension,
                    recorded,
                    requested,
                })
            }
            Ok(diff) if diff.is_empty() => {
                self.drop_pending(&pending, replaceable, None)?;
                Ok(Revision::AlreadyRecorded { id: base })
            }
            Ok(diff) => {
                let report = difference_params(&params, &diff)?;
                stored(next, report).map(|id| Revision::Difference { id, revision: next })
            }
        }
    }

    /// The ledger's history of one identity (the index read again when the ledger changed).
    fn history(&self, ledger: &Ledger, entitlement_id: &str, base: &str) -> History {
        let mut index = self
            .identities
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let now = fingerprint(ledger.dir());
        if now != index.fingerprint || index.fingerprint.is_empty() {
            index.histories = read_index(ledger.dir());
            index.fingerprint = now;
        }
        index
            .histories
            .get(&(entitlement_id.to_owned(), base.to_owned()))
            .cloned()
            .unwrap_or_default()
    }

    /// The pending reports of one identity: its first id, and the revisions after the
    /// ledger's last one.
    fn pending_of(&self, entitlement_id: &str, base: &str, recorded: u32) -> Vec<(PathBuf, Entry)> {
        let mut out = Vec::new();
        let mut revision = 1;
        loop {
            let id = usage_record_group_revision_id(entitlement_id, base, revision);
            let path = self.pending.join(entry::file_name(&id));
            match entry::read(&path) {
                Ok((e, _)) if e.entitlement_id == entitlement_id => out.push((path, e)),
                Ok(_) | Err(entry::ReadError::Damaged(_)) => {}
                Err(entry::ReadError::Gone) if revision > recorded => break,
                Err(entry::ReadError::Gone) => {}
            }
            revision += 1;
        }
        out
    }

    /// Stores `report` as revision `revision` of identity `base`, replacing the pending reports
    /// of that identity when `replaceable`.
    fn store_revision(
        &self,
        entitlement_id: &str,
        base: &str,
        revision: u32,
        mut report: CreateUsageRecordGroupParams,
        pending: &[(PathBuf, Entry)],
        replaceable: bool,
    ) -> Result<String, OutboxError> {
        let id = usage_record_group_revision_id(entitlement_id, base, revision);
        report.id = Some(id.clone());
        let entry = Entry {
            format: 1,
            entitlement_id: entitlement_id.to_owned(),
            enqueued_at: OffsetDateTime::now_utc(),
            params: report,
            attempts: 0,
            retry_at: None,
            identity: Some(base.to_owned()),
            revision: Some(revision),
        };
        let dest = self.pending.join(entry::file_name(&id));
        if pending
            .iter()
            .any(|(p, e)| *p == dest && e.same_report(&entry))
        {
            // The same report is pending already: nothing to do but drop stale others.
            self.drop_pending(pending, replaceable, Some(&dest))?;
            return Ok(id);
        }
        if !pending.is_empty() && !replaceable {
            let (_, e) = &pending[0];
            return Err(OutboxError::AlreadyPending {
                id: e.id().to_owned(),
            });
        }
        let bytes = serde_json::to_vec(&entry)
            .map_err(|e| Error::invalid("records", format!("cannot be serialized to JSON: {e}")))?;
        self.space.reserve_entry(bytes.len() as u64)?;
        // Atomic: the pending report of this id (never sent) is replaced whole, or kept.
        if let Err(e) = store::write_durable(&self.tmp, &dest, &bytes) {
            self.space.unreserve_entry(bytes.len() as u64);
            return Err(e);
        }
        self.drop_pending(pending, replaceable, Some(&dest))?;
        Ok(id)
    }

    /// Removes the pending reports of an identity that a correction supersedes (never sent),
    /// except `keep`.
    fn drop_pending(
        &self,
        pending: &[(PathBuf, Entry)],
        replaceable: bool,
        keep: Option<&Path>,
    ) -> Result<(), OutboxError> {
        if !replaceable {
            return match pending.iter().find(|(p, _)| Some(p.as_path()) != keep) {
                Some((_, e)) => Err(OutboxError::AlreadyPending {
                    id: e.id().to_owned(),
                }),
                None => Ok(()),
            };
        }
        let mut removed = false;
        for (path, _) in pending.iter().filter(|(p, _)| Some(p.as_path()) != keep) {
            match fs::remove_file(path) {
                Ok(()) => removed = true,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(OutboxError::io("remove", path, e)),
            }
        }
        if removed {
            store::sync_dir(&self.pending)?;
        }
        Ok(())
    }
}

/// The status at Suger of the groups of `lines`, and the day each was created (for a delete):
/// one listing of the entitlement's groups around the days they were recorded, and one of its
/// deleted groups when some are missing from it. A group found in neither is left out (counted
/// as billed).
fn statuses_at_suger(
    client: &MeteringClient,
    entitlement_id: &str,
    lines: &[LedgerLine],
) -> Result<HashMap<String, (UsageRecordGroupStatus, Option<time::Date>)>, OutboxError> {
    let mut wanted: HashSet<&str> = lines.iter().map(|l| l.id.as_str()).collect();
    let days: Vec<time::Date> = lines
        .iter()
        .filter_map(|l| l.recorded_at.map(|t| t.date()))
        .collect();
    let mut query = ListUsageRecordGroups::new().entitlement_id(entitlement_id);
    if let (Some(first), Some(last)) = (days.iter().min(), days.iter().max()) {
        // Suger's creation time may differ from ours by a clock's skew.
        query = query
            .start_date(first.previous_day().unwrap_or(*first))
            .end_date(last.next_day().unwrap_or(*last));
    }
    let mut out = HashMap::new();
    for q in [query.clone(), query.status(UsageRecordGroupStatus::Deleted)] {
        for group in client.usage_record_groups(&q) {
            let group = group?;
            if wanted.remove(group.id.as_str()) {
                let status = group
                    .status
                    .clone()
                    .unwrap_or(UsageRecordGroupStatus::Other(String::new()));
                let day = group
                    .creation_time
                    .map(|t| t.to_offset(time::UtcOffset::UTC).date());
                out.insert(group.id, (status, day));
            }
            if wanted.is_empty() {
                return Ok(out);
            }
        }
    }
    for id in wanted {
        log::warn!(target: "suger_metering", "outbox: group {id} of the ledger is not listed at Suger; counted as billed");
    }
    Ok(out)
}
