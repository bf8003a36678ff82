//! `validate --file FILE`: the file's local checks, then Suger's validation endpoint.

use suger_metering::NewUsageRecordGroup;

use super::connect;
use crate::cli::{FileArgs, Global};
use crate::exit::{self, Failure, Op};
use crate::input;
use crate::output::{Note, Printer};

/// `validate --file FILE`: local checks, then Suger's validation endpoint.
pub(crate) fn run(global: &Global, printer: &Printer, args: &FileArgs) -> Result<(), Failure> {
    let client = connect(global)?;
    let groups = input::read_groups(&args.file, args.format, client.org_id())?;
    let items: Vec<NewUsageRecordGroup> = groups.iter().map(input::to_item).collect();
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
