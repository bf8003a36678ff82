//! `batch-report --file FILE`: one batch call per slice of the file (no ids, so not deduplicated).

use std::num::NonZeroUsize;

use suger_metering::{MeteringClient, NewUsageRecordGroup};

use super::connect;
use crate::cli::{FileArgs, Global};
use crate::exit::{self, Failure, Op};
use crate::output::Printer;
use crate::stderr;
use crate::usage_file::{IdRules, IdSource, UsageFile, to_item};

/// Checks the file (with `refuse_ids`, a file that gives ids is refused: batch items carry
/// none), then streams it to `f` in slices of `--batch-size` items: (index of the first item,
/// the items).
pub(crate) fn in_batches(
    client: &MeteringClient,
    args: &FileArgs,
    refuse_ids: bool,
    mut f: impl FnMut(usize, Vec<NewUsageRecordGroup>) -> Result<(), Failure>,
) -> Result<usize, Failure> {
    let file = UsageFile::open(&args.file, args.format, &args.columns)?;
    let ids = IdRules::for_batches();
    let count = file.check(client, &ids)?;
    // Refused before anything is sent: a second pass over the ids, then the batches.
    file.groups(client, &ids, |g| match g.source {
        IdSource::Given if refuse_ids => Err(Failure::usage(
            format!(
                "line {}: batch items carry no id, but this one has id {:?}",
                g.line,
                g.params.id.as_deref().unwrap_or_default()
            ),
            "use `suger-metering report --file` to report with ids (deduplicated), or drop the ids; nothing was sent",
        )),
        _ => Ok(()),
    })?;
    let size = args.batch_size as usize;
    let (mut batch, mut start) = (Vec::with_capacity(size), 0);
    file.groups(client, &ids, |g| {
        batch.push(to_item(&g));
        if batch.len() == size {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(size));
            f(start, full)?;
            start += size;
        }
        Ok(())
    })?;
    if !batch.is_empty() {
        f(start, batch)?;
    }
    Ok(count)
}

/// `batch-report --file FILE`: every batch is sent even after one fails; the exit code is
/// the worst outcome (an unknown outcome first).
pub(crate) fn run(global: &Global, printer: &Printer, args: &FileArgs) -> Result<(), Failure> {
    let client = connect(global)?;
    let mut out = printer.list();
    let mut failure: Option<Failure> = None;
    let mut noted = false;
    let size = NonZeroUsize::new(args.batch_size as usize);
    in_batches(&client, args, true, |start, items| {
        if !noted {
            noted = true;
            stderr::warn(
                "batch items carry no id, so Suger cannot deduplicate them: sending this file again bills it again (`report --file` is safe to re-run)",
            );
        }
        for outcome in client.report_usage_record_groups_in_batches(&items, size) {
            match outcome.result {
                Ok(created) => created.into_iter().for_each(|g| out.push(g)),
                Err(e) => {
                    let f = exit::classify(&e, Op::Batch).context(format!(
                        "groups {}..{} of the file",
                        start + outcome.range.start + 1,
                        start + outcome.range.end
                    ));
                    failure = Some(match failure.take() {
                        None => f,
                        Some(first) => first.worse(f),
                    });
                }
            }
        }
        Ok(())
    })?;
    out.finish();
    failure.map_or(Ok(()), Err)
}
