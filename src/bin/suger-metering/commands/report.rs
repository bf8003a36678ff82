//! `report ENTITLEMENT --record ...` and `report --file FILE [--outbox DIR]`.

use suger_metering::{CreateUsageRecordGroupParams, MeteringClient};

use super::connect;
use crate::cli::{Global, ReportArgs};
use crate::exit::{self, Failure, Op};
use crate::input::{self, FileGroup};
use crate::output::Printer;

/// `report ENTITLEMENT --record ...` or `report --file FILE`.
pub(crate) fn run(global: &Global, printer: &Printer, args: &ReportArgs) -> Result<(), Failure> {
    if let Some(path) = &args.file {
        let client = connect(global)?;
        let groups = input::read_groups(path, args.format, client.org_id())?;
        if let Some(dir) = &args.outbox {
            return super::outbox::enqueue_and_flush(&client, printer, dir, &groups);
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
    let client = connect(global)?;
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
