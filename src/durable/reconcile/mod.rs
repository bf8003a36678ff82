//! Did it reach the marketplace? [`reconcile`] compares what the outbox sent (its ledger,
//! pending and dead reports) with what Suger lists, and follows each group to its usage
//! record report; [`trace`] follows one report the same way.

mod classify;
mod fetch;
mod local;
mod status;
mod types;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use time::{Date, Duration, OffsetDateTime};

use self::classify::{classify, group_hour};
use self::fetch::Fetcher;
use self::local::Known;
pub use self::status::{LastReconcile, LedgerStatus, ledger_status};
pub use self::types::{Reconcile, ReconcileItem, ReconcileReport, ReconcileState};
use crate::api::common::{MAX_LIST_LIMIT, Partner};
use crate::api::usage_record_group::{MeteringUsageRecordGroup, UsageRecordGroupStatus};
use crate::api::usage_record_report::{MarketplaceVerdict, MeteringUsageRecordReport};
use crate::durable::ledger::write_side_file;
use crate::durable::outbox::OutboxError;
use crate::http::client::MeteringClient;
use crate::http::error::Error;

/// How far back [`trace`] looks for a report the ledger does not know: 35 days.
const TRACE_DAYS: i64 = 35;

/// Reconciles the reports whose usage hour is in `options`' range: the outbox directory's
/// ledger, pending and dead reports against what Suger lists. One item per report, each with
/// a [`ReconcileState`].
///
/// Reads the directory **without** its lock, so it runs beside the process that holds the
/// outbox (a cron job next to your service). Costs pages, not calls per report: per
/// entitlement, one listing of groups over the creation dates of the range (widened by a day
/// on each side: Suger filters on creation time), one of reports, and one of `DELETED` groups
/// only when some are not listed; each follows `nextOffset`. With
/// [`retry_failed`](Reconcile::retry_failed), one retry per `failed` group inside its
/// marketplace's late-usage window.
///
/// Writes the counts to `ledger/last-reconcile.json` (for `outbox status --output
/// prometheus`) and each entitlement's marketplace to `ledger/partners.json` (for the
/// deadlines of a flush); a failure to write them is only logged.
///
/// ```
/// use std::time::Duration;
/// use suger_metering::fake::FakeSuger;
/// use suger_metering::{CreateUsageRecordGroupParams, Outbox, Reconcile, ReconcileState};
///
/// let fake = FakeSuger::start()?;
/// # let dir = std::env::temp_dir().join(format!("reconcile-doc-{}", std::process::id()));
/// let outbox = Outbox::open(&dir)?;
/// let usage = CreateUsageRecordGroupParams {
///     records: [("api_calls".to_string(), 120.0)].into(),
///     ..Default::default()
/// };
/// let id = outbox.enqueue("entitlement-1", &usage)?;
/// outbox.flush(&fake.client())?;
/// fake.run_report_cycle();
///
/// let found = suger_metering::reconcile(&fake.client(), &dir, &Reconcile::since(Duration::from_secs(48 * 3600)))?;
/// assert_eq!(found.items[0].id, id);
/// assert_eq!(found.items[0].state(), ReconcileState::Reported);
/// assert!(!found.has_problems());
/// # drop(outbox); std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`OutboxError::Report`] with the error of a list call (401/403: a bad key; a transport
/// error: Suger could not be reached), or of a retry refused with 401/403. A damaged ledger
/// line is never an error: it is skipped and counted in
/// [`damaged_ledger_lines`](ReconcileReport::damaged_ledger_lines).
pub fn reconcile(
    client: &MeteringClient,
    outbox_dir: impl AsRef<Path>,
    options: &Reconcile,
) -> Result<ReconcileReport, OutboxError> {
    let dir = outbox_dir.as_ref();
    let (from, to) = (options.from, options.to);
    let (known, damaged) = local::read(dir, Some((from, to)));
    let mut fetch = Fetcher {
        client,
        page_size: options.page_size.clamp(1, MAX_LIST_LIMIT),
        calls: 0,
    };
    let entitlements: BTreeSet<&str> = known.values().map(|k| k.entitlement_id.as_str()).collect();
    let days = widened(
        known
            .values()
            .filter_map(|k| k.recorded_at.map(|t| t.date()))
            // `to` is exclusive: its last instant is the day before when it is midnight.
            .chain([
                from.date(),
                (to - Duration::nanoseconds(1)).date().max(from.date()),
            ]),
    );
    let mut groups: HashMap<String, MeteringUsageRecordGroup> = HashMap::new();
    for ent in &entitlements {
        let listed = fetch.groups(Some(ent), days, None)?;
        groups.extend(listed.into_iter().map(|g| (g.id.clone(), g)));
    }
    // Suger may leave DELETED groups out of a listing: ask for them where some are missing.
    let missing: BTreeSet<&str> = known
        .values()
        .filter(|k| k.local.is_none() && !groups.contains_key(&k.id))
        .map(|k| k.entitlement_id.as_str())
        .collect();
    for ent in missing {
        let listed = fetch.groups(Some(ent), days, Some(UsageRecordGroupStatus::Deleted))?;
        for g in listed {
            groups.entry(g.id.clone()).or_insert(g);
        }
    }
    let reports = fetch_reports(&mut fetch, &groups, days)?;
    let report_of = ReportIndex::new(&reports);
    let mut items: Vec<ReconcileItem> = known
        .values()
        .map(|k| {
            let g = groups.get(&k.id);
            classify(Some(k), g, g.and_then(|g| report_of.get(g)))
        })
        .collect();
    let in_range = |g: &MeteringUsageRecordGroup| {
        group_hour(g).is_some_and(|h| h >= crate::durable::ledger::hour_of(from) && h < to)
    };
    items.extend(
        groups
            .values()
            .filter(|g| !known.contains_key(&g.id) && in_range(g))
            .map(|g| classify(None, Some(g), report_of.get(g))),
    );
    if options.retry_failed {
        retry_failed(&mut fetch, &mut items, &groups, OffsetDateTime::now_utc())?;
    }
    items.sort_by(|a, b| {
        (a.hour, &a.entitlement_id, &a.id).cmp(&(b.hour, &b.entitlement_id, &b.id))
    });
    let report = ReconcileReport {
        items,
        calls: fetch.calls,
        damaged_ledger_lines: damaged,
        from: Some(from),
        to: Some(to),
    };
    remember(dir, &report);
    Ok(report)
}

/// Follows one report by its id, the way [`reconcile`] does: to its group at Suger, its usage
/// record report and the marketplace's answer.
///
/// With `outbox_dir`, the ledger (or the outbox's pending and dead reports) tell its
/// entitlement and when it was recorded: a few pages. Without, or when the ledger does not
/// know it, every group created in the last 35 days is listed (any entitlement).
///
/// ```
/// # use suger_metering::fake::FakeSuger;
/// # use suger_metering::ReconcileState;
/// # let fake = FakeSuger::start()?;
/// # let params = suger_metering::CreateUsageRecordGroupParams { id: Some("r-1".into()), records: [("api_calls".to_string(), 1.0)].into(), ..Default::default() };
/// # fake.client().report_usage_record_group("entitlement-1", &params)?;
/// # fake.run_report_cycle();
/// let item = suger_metering::trace(&fake.client(), None, "r-1")?;
/// assert_eq!(item.state(), ReconcileState::Unexpected); // not sent by an outbox
/// assert!(item.report_id.is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`OutboxError::Report`]: [`Error::InvalidRequest`] for an empty id (nothing sent), or the
/// error of a list call.
pub fn trace(
    client: &MeteringClient,
    outbox_dir: Option<&Path>,
    id: &str,
) -> Result<ReconcileItem, OutboxError> {
    if id.trim().is_empty() {
        return Err(Error::invalid("id", "must not be empty").into());
    }
    let known: Option<Known> = outbox_dir.and_then(|d| local::read(d, None).0.remove(id));
    let mut fetch = Fetcher {
        client,
        page_size: MAX_LIST_LIMIT,
        calls: 0,
    };
    if let Some(k) = known.as_ref().filter(|k| k.local.is_some()) {
        return Ok(classify(Some(k), None, None));
    }
    let today = OffsetDateTime::now_utc().date();
    let (ent, days) = match known.as_ref() {
        Some(k) => {
            let at = k.recorded_at.or(k.hour).map_or(today, |t| t.date());
            (Some(k.entitlement_id.as_str()), widened([at]))
        }
        None => (None, widened([today - Duration::days(TRACE_DAYS), today])),
    };
    let mut group = fetch
        .groups(ent, days, None)?
        .into_iter()
        .find(|g| g.id == id);
    if group.is_none() {
        let deleted = fetch.groups(ent, days, Some(UsageRecordGroupStatus::Deleted))?;
        group = deleted.into_iter().find(|g| g.id == id);
    }
    let groups: HashMap<String, MeteringUsageRecordGroup> =
        group.into_iter().map(|g| (g.id.clone(), g)).collect();
    let reports = fetch_reports(&mut fetch, &groups, days)?;
    let g = groups.get(id);
    Ok(classify(
        known.as_ref(),
        g,
        g.and_then(|g| ReportIndex::new(&reports).get(g)),
    ))
}

/// The earliest and latest of `days`, widened by a day on each side.
fn widened(days: impl IntoIterator<Item = Date>) -> (Date, Date) {
    let days: Vec<Date> = days.into_iter().collect();
    let today = OffsetDateTime::now_utc().date();
    let first = days.iter().min().copied().unwrap_or(today);
    let last = days.iter().max().copied().unwrap_or(today);
    (
        first.previous_day().unwrap_or(first),
        last.next_day().unwrap_or(last),
    )
}

/// The reports of the entitlements of `groups` that were forwarded, over their creation
/// dates up to the groups' last change (a report comes after its groups).
fn fetch_reports(
    fetch: &mut Fetcher<'_>,
    groups: &HashMap<String, MeteringUsageRecordGroup>,
    (start, end): (Date, Date),
) -> Result<HashMap<String, MeteringUsageRecordReport>, Error> {
    let mut per_ent: BTreeMap<&str, Date> = BTreeMap::new();
    for g in groups.values() {
        let forwarded = !g.usage_record_report_id.is_empty()
            || matches!(
                g.status,
                Some(UsageRecordGroupStatus::Reported | UsageRecordGroupStatus::ReportFailed)
            );
        if forwarded {
            let last = [g.last_update_time, g.reported_time]
                .into_iter()
                .flatten()
                .map(|t| t.date())
                .max()
                .unwrap_or(end);
            let e = per_ent.entry(g.entitlement_id.as_str()).or_insert(end);
            *e = (*e).max(last.next_day().unwrap_or(last));
        }
    }
    let mut reports = HashMap::new();
    for (ent, last) in per_ent {
        reports.extend(fetch.reports(Some(ent), (start, last))?);
    }
    Ok(reports)
}

/// A group's report: by the group's `usageRecordReportID`, else by the report's
/// `info.usageRecordGroupIds`.
struct ReportIndex<'r> {
    by_id: &'r HashMap<String, MeteringUsageRecordReport>,
    by_group: HashMap<&'r str, &'r MeteringUsageRecordReport>,
}

impl<'r> ReportIndex<'r> {
    fn new(by_id: &'r HashMap<String, MeteringUsageRecordReport>) -> Self {
        let mut by_group = HashMap::new();
        for r in by_id.values() {
            for g in r.info.iter().flat_map(|i| &i.usage_record_group_ids) {
                by_group.insert(g.as_str(), r);
            }
        }
        ReportIndex { by_id, by_group }
    }

    fn get(&self, g: &MeteringUsageRecordGroup) -> Option<&'r MeteringUsageRecordReport> {
        self.by_id
            .get(&g.usage_record_report_id)
            .or_else(|| self.by_group.get(g.id.as_str()).copied())
    }
}

/// How late a marketplace accepts usage, after its hour.
fn late_window(partner: Option<&Partner>) -> Option<Duration> {
    crate::durable::ledger::late_window(partner?.as_str())
}

/// Retries each `failed` item whose group is `REPORT_FAILED` and whose hour is still inside
/// its marketplace's window, once; the item becomes `retried`. Not one the marketplace refused
/// for a reason a retry cannot change (not entitled, invalid, duplicate).
fn retry_failed(
    fetch: &mut Fetcher<'_>,
    items: &mut [ReconcileItem],
    groups: &HashMap<String, MeteringUsageRecordGroup>,
    now: OffsetDateTime,
) -> Result<(), OutboxError> {
    for item in items
        .iter_mut()
        .filter(|i| i.state() == ReconcileState::Failed)
    {
        let Some(g) = groups.get(&item.id) else {
            continue;
        };
        if g.status != Some(UsageRecordGroupStatus::ReportFailed) {
            item.message = format!(
                "{}; not retried: Suger retries only REPORT_FAILED groups",
                item.message
            );
            continue;
        }
        // A refusal that a retry cannot change stays failed (and keeps alerting).
        if let Some(
            v @ (MarketplaceVerdict::NotEntitled { .. }
            | MarketplaceVerdict::Invalid { .. }
            | MarketplaceVerdict::Duplicate { .. }),
        ) = &item.verdict
        {
            item.message = format!(
                "{}; not retried: the marketplace's answer ({}) would not change",
                item.message,
                v.name()
            );
            continue;
        }
        let partner = item.partner.as_ref();
        let name = partner.map_or("the marketplace", Partner::as_str);
        let Some(window) = late_window(partner) else {
            item.message = format!(
                "{}; not retried: the late-usage window of {name} is not known",
                item.message
            );
            continue;
        };
        let Some(deadline) = item.hour.and_then(|h| h.checked_add(window)) else {
            continue;
        };
        if now >= deadline {
            item.message = format!(
                "{}; not retried: {name} accepts usage up to {} hours after its hour (until {deadline})",
                item.message,
                window.whole_hours()
            );
            continue;
        }
        fetch.calls += 1;
        match fetch
            .client
            .retry_usage_record_group(&g.id, g.creation_time.map(|t| t.date()))
        {
            Ok(_) => {
                item.state = Some(ReconcileState::Retried);
                item.message = format!(
                    "retried: back to CREATED for Suger's next hourly report (was: {})",
                    item.message
                );
            }
            Err(e) if matches!(e.status(), Some(401 | 403)) => return Err(e.into()),
            Err(e) => item.message = format!("{}; the retry failed: {e}", item.message),
        }
    }
    Ok(())
}

/// Stores the counts of this reconciliation and each entitlement's marketplace in `ledger/`.
fn remember(dir: &Path, report: &ReconcileReport) {
    let ledger = dir.join("ledger");
    if !ledger.is_dir() {
        return;
    }
    let counts: BTreeMap<&str, usize> = report
        .counts()
        .into_iter()
        .map(|(s, n)| (s.as_str(), n))
        .collect();
    let last = serde_json::json!({
        "at": OffsetDateTime::now_utc().unix_timestamp(),
        "calls": report.calls,
        "damagedLedgerLines": report.damaged_ledger_lines,
        "counts": counts,
    });
    let partners: BTreeMap<&str, &str> = report
        .items
        .iter()
        .filter_map(|i| Some((i.entitlement_id.as_str(), i.partner.as_ref()?.as_str())))
        .collect();
    let mut all = crate::durable::ledger::read_partners(&ledger);
    all.extend(
        partners
            .into_iter()
            .map(|(e, p)| (e.to_owned(), p.to_owned())),
    );
    for (name, value) in [
        ("last-reconcile.json", last),
        ("partners.json", serde_json::json!(all)),
    ] {
        if let Err(e) = write_side_file(&ledger, name, value.to_string().as_bytes()) {
            log::warn!(target: "suger_metering", "reconcile: cannot write ledger/{name}: {e}");
        }
    }
}
