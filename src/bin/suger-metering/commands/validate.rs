//! `validate --file FILE`: the library's checks of every group, then Suger's validation
//! endpoint (in slices of `--batch-size`); nothing is recorded.

use super::batch_report::in_batches;
use super::connect;
use crate::cli::{FileArgs, Global};
use crate::exit::{self, Failure, Op};
use crate::output::{Note, Printer};

/// `validate --file FILE`.
pub(crate) fn run(global: &Global, printer: &Printer, args: &FileArgs) -> Result<(), Failure> {
    let client = connect(global)?;
    let count = in_batches(&client, args, false, |start, items| {
        let message = client
            .batch_validate_usage_record_groups(&items)
            .map_err(|e| exit::classify(&e, Op::Read))?;
        if !message.is_empty() {
            return Err(Failure::usage(
                format!(
                    "Suger says groups {}..{} of the file are invalid: {message}",
                    start + 1,
                    start + items.len()
                ),
                "fix the file and validate again",
            ));
        }
        Ok(())
    })?;
    let note = Note {
        result: format!("valid: {count} groups"),
    };
    printer.one(&note, std::slice::from_ref(&note));
    Ok(())
}
