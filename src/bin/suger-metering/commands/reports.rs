//! `reports list`.

use suger_metering::ListUsageRecordReports;

use super::connect;
use crate::cli::{Global, ReportsCommand};
use crate::exit::Failure;
use crate::input::set_filters;
use crate::output::{Printer, print_listing};

/// `reports list`.
pub(crate) fn run(global: &Global, printer: &Printer, cmd: ReportsCommand) -> Result<(), Failure> {
    let ReportsCommand::List { filters } = cmd;
    let mut q = ListUsageRecordReports::new();
    set_filters!(q, filters);
    let client = connect(global)?;
    print_listing(
        printer,
        "reports",
        filters.all,
        || {
            client
                .list_usage_record_reports(&q)
                .map(|p| (p.usage_record_reports, p.next_offset))
        },
        client.usage_record_reports(&q),
    )
}
