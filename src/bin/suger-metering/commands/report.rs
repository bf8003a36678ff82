//! `report ENTITLEMENT --record ...` and `report --file FILE [--outbox DIR]`.

use suger_metering::{
    CreateUsageRecordGroupParams, MeteringClient, OutboxError, Revision, usage_identity_key,
    usage_record_group_id,
};
use time::OffsetDateTime;

use super::connect;
use crate::cli::{Global, ReportArgs};
use crate::exit::{self, Failure, Op};
use crate::input;
use crate::output::Printer;
use crate::stderr;
use crate::usage_file::{IdRules, IdSource, UsageFile};

/// How late AWS Marketplace still accepts usage (Azure: 24 hours).
const AWS_LATE: time::Duration = time::Duration::hours(6);

/// `report ENTITLEMENT --record ...` or `report --file FILE`.
pub(crate) fn run(global: &Global, printer: &Printer, args: &ReportArgs) -> Result<(), Failure> {
    if let Some(path) = &args.file {
        let client = connect(global)?;
        let file = UsageFile::open(path, args.format, &args.columns)?;
        let ids = IdRules {
            from: args.id_from,
            scope: args.id_key.clone(),
            require_identity: args.outbox.is_some(),
        };
        let count = file.check(&client, &ids)?;
        if let Some(dir) = &args.outbox {
            return enqueue_and_flush(&client, printer, dir, &file, &ids);
        }
        return report_file(&client, printer, &file, &ids, count);
    }
    let entitlement = args.entitlement.clone().unwrap_or_default();
    let mut params = CreateUsageRecordGroupParams {
        id: args.id.clone(),
        entitlement_id: entitlement.clone(),
        timestamp: args.timestamp,
        ..Default::default()
    };
    for r in &args.records {
        let (k, q) = input::parse_record(r)?;
        *params.records.entry(k).or_insert(0.0) += q;
    }
    for b in &args.billable {
        params.billable_records.push(input::parse_billable(b)?);
    }
    // The id: --id, else the usage's identity (--id-key and/or --timestamp), else random.
    if params.id.is_none()
        && let Some(key) = usage_identity_key(args.id_key.as_deref(), args.timestamp)
    {
        params.id = Some(usage_record_group_id(&entitlement, &key));
    }
    let client = connect(global)?;
    client
        .check_usage_record_group(&entitlement, &params)
        .map_err(|e| exit::classify(&e, Op::Report))?;
    // Without any, pick one here so that an "outcome unknown" can say which id to re-run with
    // (re-running the same command would pick a new one and could bill twice).
    let generated = params.id.is_none();
    let id = params
        .id
        .get_or_insert_with(|| uuid::Uuid::new_v4().to_string())
        .clone();
    if generated {
        stderr::warn(format!(
            "no --id, --id-key or --timestamp: this report gets the random id {id}, so running the command again bills again; add --id-key KEY (e.g. the usage hour) or --timestamp to make a re-run safe"
        ));
    }
    warn_if_late(1, params.timestamp);
    match client.report_usage_record_group(&entitlement, &params) {
        Ok(group) => {
            printer.one(&group, std::slice::from_ref(&group));
            Ok(())
        }
        Err(e) if e.is_already_reported() => {
            stderr::note(format!(
                "usage record group {id} was already recorded; not billed again"
            ));
            Ok(())
        }
        Err(e) => {
            let failure = exit::classify(&e, Op::Report);
            if generated && failure.is_unknown() {
                return Err(failure.next(format!(
                    "re-run the same command with --id {id} added: Suger then records it once"
                )));
            }
            Err(failure)
        }
    }
}

/// Warns about usage sent later than AWS Marketplace accepts it (6 hours after the hour).
pub(crate) fn warn_if_late(count: usize, timestamp: Option<OffsetDateTime>) {
    if count > 0 && timestamp.is_some_and(|t| OffsetDateTime::now_utc() - t > AWS_LATE) {
        stderr::warn(format!(
            "{count} report(s) carry usage more than 6 hours old: AWS Marketplace refuses usage reported more than 6 hours late (Azure: 24 hours); check them later with `suger-metering groups list`"
        ));
    }
}

/// Reports each group under its id; stops at the first failure (a re-run is safe: recorded
/// groups are answered 409 and counted as already recorded).
fn report_file(
    client: &MeteringClient,
    printer: &Printer,
    file: &UsageFile,
    ids: &IdRules,
    count: usize,
) -> Result<(), Failure> {
    let mut out = printer.list();
    let (mut already, mut late, mut oldest) = (0, 0, None);
    let result = file.groups(client, ids, |g| {
        let id = g.params.id.clone().unwrap_or_default();
        if let Some(t) = g.params.timestamp
            && OffsetDateTime::now_utc() - t > AWS_LATE
        {
            late += 1;
            oldest = Some(t);
        }
        match client.report_usage_record_group(&g.params.entitlement_id, &g.params) {
            Ok(group) => {
                out.push(group);
                Ok(())
            }
            Err(e) if e.is_already_reported() => {
                already += 1;
                stderr::note(format!(
                    "group {id} (line {}) was already recorded; not billed again",
                    g.line
                ));
                Ok(())
            }
            Err(e) => {
                let sent = out.count() + already;
                Err(exit::classify(&e, Op::Report)
                    .context(format!(
                        "group {id} (line {}), after {} recorded and {already} already recorded",
                        g.line,
                        out.count()
                    ))
                    .after_sent(sent))
            }
        }
    });
    let recorded = out.count();
    out.finish();
    stderr::note(format!(
        "{recorded} recorded, {already} already recorded, of {count} groups"
    ));
    warn_if_late(late, oldest);
    result
}

/// `report --file FILE --outbox DIR`: enqueue every group (checked already), then flush.
/// Groups with an identity (a timestamp, `--id-key`, an id column) are stored as corrections of
/// what the outbox's ledger says was recorded for them; a negative correction is not sent and
/// makes the command exit 5 (after the others are stored and flushed).
fn enqueue_and_flush(
    client: &MeteringClient,
    printer: &Printer,
    dir: &std::path::Path,
    file: &UsageFile,
    ids: &IdRules,
) -> Result<(), Failure> {
    let outbox = super::outbox::open(dir)?;
    let (mut stored, mut already) = (0, 0);
    let mut refused: Option<Failure> = None;
    file.groups(client, ids, |g| {
        let ent = &g.params.entitlement_id;
        let failed = |e: &OutboxError, stored: usize| {
            super::outbox::failure(e, Op::Report)
                .context(format!("line {}", g.line))
                .after_sent(stored)
        };
        if g.source == IdSource::Content {
            outbox
                .enqueue(ent, &g.params)
                .map_err(|e| failed(&e, stored))?;
            stored += 1;
            return Ok(());
        }
        match outbox.enqueue_revised(client, ent, &g.params) {
            Ok(Revision::AlreadyRecorded { .. }) => already += 1,
            Ok(Revision::Difference { id, revision, .. }) => {
                stored += 1;
                stderr::note(format!(
                    "group {} (line {}) was recorded with other quantities and forwarded: reporting the difference as revision {revision}, id {id}",
                    g.params.id.as_deref().unwrap_or_default(),
                    g.line
                ));
            }
            Ok(Revision::Replaced { deleted, id, .. }) => {
                stored += 1;
                stderr::note(format!(
                    "group {} (line {}) was not forwarded yet: deleted {} at Suger, reporting the corrected group as {id}",
                    g.params.id.as_deref().unwrap_or_default(),
                    g.line,
                    deleted.join(", ")
                ));
            }
            Ok(_) => stored += 1,
            Err(e @ OutboxError::NegativeCorrection { .. }) => {
                let f = failed(&e, 0);
                match refused.take() {
                    Some(first) => {
                        // Both lines are shown; the first decides the message.
                        refused = Some(first.worse(f));
                    }
                    None => refused = Some(f),
                }
            }
            Err(e) => return Err(failed(&e, stored)),
        }
        Ok(())
    })?;
    if already > 0 {
        stderr::note(format!(
            "{already} group(s) already recorded with the same quantities: not sent"
        ));
    }
    let flushed = super::outbox::flush_counting(client, printer, &outbox, already);
    match (refused, flushed) {
        (None, flushed) => flushed,
        (Some(refused), Ok(())) => Err(refused),
        (Some(refused), Err(f)) => Err(refused.worse(f)),
    }
}
