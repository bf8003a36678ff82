//! `trace ID [--outbox DIR]`: one report, followed to the marketplace's verdict. Exit 0 only
//! when the marketplace accepted it.

use super::connect;
use super::reconcile::{ItemRow, failure};
use crate::cli::{Global, TraceArgs};
use crate::exit::Failure;
use crate::output::Printer;

/// `suger-metering trace ID`.
pub(crate) fn run(global: &Global, printer: &Printer, args: &TraceArgs) -> Result<(), Failure> {
    let client = connect(global)?;
    let item = suger_metering::trace(&client, args.outbox.as_deref(), &args.id)
        .map_err(|e| failure(&e))?;
    let accepted = item.is_accepted();
    let (state, verdict) = (
        item.state(),
        item.verdict
            .as_ref()
            .map_or_else(|| "none yet".to_owned(), ToString::to_string),
    );
    let row = ItemRow(item);
    printer.one(&row, std::slice::from_ref(&row));
    if accepted {
        return Ok(());
    }
    let message = format!(
        "report {} is {state}, not accepted by the marketplace (verdict: {verdict})",
        args.id
    );
    let next = "see its message; run `suger-metering reconcile` for every report";
    Err(if state.is_problem() {
        Failure::not_billed(message, next)
    } else {
        Failure::other(message, next)
    })
}
