//! `report`, `batch-report` and `validate`.

use suger_metering::{CreateUsageRecordGroupParams, MeteringClient, NewUsageRecordGroup};

use crate::cli::{FileArgs, Global, ReportArgs};
use crate::exit::{self, Failure, Op};
use crate::input::{self, FileGroup};
use crate::output::{Note, Printer};

/// `report ENTITLEMENT --record ...` or `report --file FILE`.
pub(crate) fn report(global: &Global, printer: &Printer, args: &ReportArgs) -> Result<(), Failure> {
    if let Some(path) = &args.file {
        let client = crate::connect(global)?;
        let groups = input::read_groups(path, args.format, client.org_id())?;
        if let Some(dir) = &args.outbox {
            return crate::commands::outbox::enqueue_and_flush(&client, printer, dir, &groups);
        }
        return report_groups(&client, printer, &groups);
    }
    let entitlement = args.entitlement.clone().unwrap_or_default();
    let mut params = CreateUsageRecordGroupParams {
        id: args.id.clone(),
        entitlement_id: entitlement.clone(),
        ..Default::default()
    };
    for r in &args.records {
        let (k, q) = input::parse_record(r)?;
        *params.records.entry(k).or_insert(0.0) += q;
    }
    for b in &args.billable {
        params.billable_records.push(input::parse_billable(b)?);
    }
    if let Some(t) = &args.timestamp {
        params.timestamp = Some(
            input::parse_timestamp(t)
                .map_err(|e| Failure::usage(e, "give --timestamp like 2026-03-01T10:00:00Z"))?,
        );
    }
    let client = crate::connect(global)?;
    input::check_flags(&params, client.org_id())?;
    // Without --id, pick one here so that an "outcome unknown" can say which id to re-run with
    // (re-running the same command would pick a new one and could bill twice).
    let generated = params.id.is_none();
    let id = params
        .id
        .get_or_insert_with(|| uuid::Uuid::new_v4().to_string())
        .clone();
    match client.report_usage_record_group(&entitlement, &params) {
        Ok(group) => {
            printer.one(&group, std::slice::from_ref(&group));
            Ok(())
        }
        Err(e) if e.is_already_reported() => {
            eprintln!(
                "suger-metering: usage record group {id} was already recorded; not billed again"
            );
            Ok(())
        }
        Err(e) => {
            let failure = exit::classify(&e, Op::Report);
            if generated && failure.code == exit::UNKNOWN {
                return Err(failure.next(format!(
                    "re-run the same command with --id {id} added: Suger then records it once"
                )));
            }
            Err(failure)
        }
    }
}

/// Reports each group under its id; stops at the first failure (a re-run is safe: recorded
/// groups are answered 409 and counted as already recorded).
fn report_groups(
    client: &MeteringClient,
    printer: &Printer,
    groups: &[FileGroup],
) -> Result<(), Failure> {
    let mut out = printer.list();
    let mut already = 0;
    let mut failure = None;
    for g in groups {
        let id = g.params.id.clone().unwrap_or_default();
        match client.report_usage_record_group(&g.params.entitlement_id, &g.params) {
            Ok(group) => out.push(group),
            Err(e) if e.is_already_reported() => {
                already += 1;
                eprintln!(
                    "suger-metering: group {id} (line {}) was already recorded; not billed again",
                    g.line
                );
            }
            Err(e) => {
                failure = Some(exit::classify(&e, Op::Report).context(format!(
                    "group {id} (line {}), after {} recorded and {already} already recorded",
                    g.line,
                    out.count()
                )));
                break;
            }
        }
    }
    let recorded = out.count();
    out.finish();
    eprintln!(
        "suger-metering: {recorded} recorded, {already} already recorded, of {} groups",
        groups.len()
    );
    failure.map_or(Ok(()), Err)
}

fn to_item(g: &FileGroup) -> NewUsageRecordGroup {
    NewUsageRecordGroup {
        entitlement_id: g.params.entitlement_id.clone(),
        records: g.params.records.clone(),
        billable_records: g.params.billable_records.clone(),
        timestamp: g.params.timestamp,
        meta_info: None,
    }
}

/// A file's groups as batch items (no ids: refused when the file gives some).
fn batch_items(
    global: &Global,
    args: &FileArgs,
) -> Result<(MeteringClient, Vec<NewUsageRecordGroup>), Failure> {
    let client = crate::connect(global)?;
    let groups = input::read_groups(&args.file, args.format, client.org_id())?;
    let items = groups.iter().map(to_item).collect();
    if let Some(g) = groups.iter().find(|g| g.explicit_id) {
        return Err(Failure::usage(
            format!(
                "line {}: batch items carry no id, but this one has id {:?}",
                g.line,
                g.params.id.as_deref().unwrap_or_default()
            ),
            "use `suger-metering report --file` to report with ids (deduplicated), or drop the ids",
        ));
    }
    Ok((client, items))
}

/// `batch-report --file FILE`.
pub(crate) fn batch_report(
    global: &Global,
    printer: &Printer,
    args: &FileArgs,
) -> Result<(), Failure> {
    let (client, items) = batch_items(global, args)?;
    eprintln!(
        "suger-metering: note: batch items carry no id, so Suger cannot deduplicate them: sending this file again bills it again (`report --file` is safe to re-run)"
    );
    let mut out = printer.list();
    let mut first_failure = None;
    for outcome in client.report_usage_record_groups_in_batches(&items, None) {
        match outcome.result {
            Ok(created) => created.into_iter().for_each(|g| out.push(g)),
            Err(e) => {
                let f = exit::classify(&e, Op::Batch).context(format!(
                    "groups {}..{} of the file",
                    outcome.range.start + 1,
                    outcome.range.end
                ));
                if first_failure.is_some() {
                    f.print_and_exit_code();
                } else {
                    first_failure = Some(f);
                }
            }
        }
    }
    out.finish();
    first_failure.map_or(Ok(()), Err)
}

/// `validate --file FILE`: local checks, then Suger's validation endpoint.
pub(crate) fn validate(global: &Global, printer: &Printer, args: &FileArgs) -> Result<(), Failure> {
    let client = crate::connect(global)?;
    let groups = input::read_groups(&args.file, args.format, client.org_id())?;
    let items: Vec<NewUsageRecordGroup> = groups.iter().map(to_item).collect();
    let message = client
        .batch_validate_usage_record_groups(&items)
        .map_err(|e| exit::classify(&e, Op::Other))?;
    if !message.is_empty() {
        return Err(Failure::usage(
            format!("Suger says the file is invalid: {message}"),
            "fix the file and validate again",
        ));
    }
    let note = Note {
        result: format!("valid: {} groups", items.len()),
    };
    printer.one(&note, std::slice::from_ref(&note));
    Ok(())
}
