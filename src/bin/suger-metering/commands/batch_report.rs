//! `batch-report --file FILE`: one batch call per slice of the file (no ids, so not deduplicated).

use suger_metering::{MeteringClient, NewUsageRecordGroup};

use super::connect;
use crate::cli::{FileArgs, Global};
use crate::exit::{self, Failure, Op};
use crate::input;
use crate::output::Printer;

/// A file's groups as batch items (no ids: refused when the file gives some).
fn batch_items(
    global: &Global,
    args: &FileArgs,
) -> Result<(MeteringClient, Vec<NewUsageRecordGroup>), Failure> {
    let client = connect(global)?;
    let groups = input::read_groups(&args.file, args.format, client.org_id())?;
    let items = groups.iter().map(input::to_item).collect();
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
pub(crate) fn run(global: &Global, printer: &Printer, args: &FileArgs) -> Result<(), Failure> {
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
