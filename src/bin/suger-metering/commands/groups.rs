//! `groups list|delete|retry`.

use suger_metering::ListUsageRecordGroups;

use super::connect;
use crate::cli::{Global, GroupIdArgs, GroupsCommand};
use crate::exit::{self, Failure, Op};
use crate::input::set_filters;
use crate::output::{Printer, print_listing};

/// `groups ...`.
pub(crate) fn run(global: &Global, printer: &Printer, cmd: GroupsCommand) -> Result<(), Failure> {
    match cmd {
        GroupsCommand::List { filters, status } => {
            let mut q = ListUsageRecordGroups::new();
            set_filters!(q, filters);
            q.status = status;
            let client = connect(global)?;
            print_listing(
                printer,
                "groups",
                filters.all,
                || {
                    client
                        .list_usage_record_groups(&q)
                        .map(|p| (p.usage_record_groups, p.next_offset))
                },
                client.usage_record_groups(&q),
            )
        }
        GroupsCommand::Delete(args) => group_action(global, printer, &args, true),
        GroupsCommand::Retry(args) => group_action(global, printer, &args, false),
    }
}

fn group_action(
    global: &Global,
    printer: &Printer,
    args: &GroupIdArgs,
    delete: bool,
) -> Result<(), Failure> {
    let date = args.date;
    let client = connect(global)?;
    let result = if delete {
        client.delete_usage_record_group(&args.id, date)
    } else {
        client.retry_usage_record_group(&args.id, date)
    };
    // Neither is deduplicated: after an unknown outcome, look before running it again.
    let check = "suger-metering groups list";
    let group = result.map_err(|e| exit::classify(&e, Op::Change(check)))?;
    printer.one(&group, std::slice::from_ref(&group));
    Ok(())
}
