//! `groups list|delete|retry` and `reports list`.

use std::io::IsTerminal;

use serde::Serialize;
use suger_metering::{
    Error, ListUsageRecordGroups, ListUsageRecordReports, Partner, UsageRecordGroupStatus,
};
use time::Date;
use time::macros::format_description;

use crate::cli::{Global, GroupIdArgs, GroupsCommand, ListArgs, ReportsCommand};
use crate::exit::{self, Failure, Op};
use crate::output::{Printer, Row};

/// Parses a `YYYY-MM-DD` flag value.
pub(crate) fn parse_date(flag: &str, s: &str) -> Result<Date, Failure> {
    Date::parse(s, &format_description!("[year]-[month]-[day]")).map_err(|_| {
        Failure::usage(
            format!("{flag} {s:?} is not a date"),
            format!("write it as YYYY-MM-DD, e.g. {flag} 2026-03-01"),
        )
    })
}

fn opt_date(flag: &str, s: &Option<String>) -> Result<Option<Date>, Failure> {
    s.as_deref().map(|s| parse_date(flag, s)).transpose()
}

/// Copies the shared `ListArgs` filters into either listing's query (same field names).
macro_rules! set_filters {
    ($q:ident, $f:ident) => {
        check_limit(&$f)?;
        $q.entitlement_id = $f.entitlement.clone();
        $q.buyer_id = $f.buyer.clone();
        $q.partner = $f.partner.as_deref().map(Partner::from);
        $q.start_date = opt_date("--from", &$f.from)?;
        $q.end_date = opt_date("--to", &$f.to)?;
        $q.limit = $f.limit;
        $q.offset = $f.offset;
    };
}

fn check_limit(f: &ListArgs) -> Result<(), Failure> {
    match f.limit {
        Some(n) if !(1..=1000).contains(&n) => Err(Failure::usage(
            format!("--limit {n} is out of range"),
            "give --limit from 1 to 1000",
        )),
        _ => Ok(()),
    }
}

/// Prints the items of a listing: one page, or with `all` every page (progress on stderr when
/// stderr is a terminal).
fn print_listing<T: Row + Serialize>(
    printer: &Printer,
    what: &str,
    all: bool,
    page: impl FnOnce() -> Result<(Vec<T>, Option<u32>), Error>,
    every: impl Iterator<Item = Result<T, Error>>,
) -> Result<(), Failure> {
    let mut out = printer.list();
    if !all {
        let (items, next) = page().map_err(|e| exit::classify(&e, Op::Other))?;
        items.into_iter().for_each(|i| out.push(i));
        out.finish();
        if let Some(next) = next {
            eprintln!("suger-metering: more {what} remain: run with --all, or --offset {next}");
        }
        return Ok(());
    }
    let progress = std::io::stderr().is_terminal();
    let mut failure = None;
    for item in every {
        match item {
            Ok(i) => out.push(i),
            Err(e) => {
                failure = Some(
                    exit::classify(&e, Op::Other).context(format!("after {} {what}", out.count())),
                );
                break;
            }
        }
        if progress && out.count().is_multiple_of(1000) {
            eprint!("\rsuger-metering: {} {what} fetched...", out.count());
        }
    }
    if progress && out.count() >= 1000 {
        eprintln!("\rsuger-metering: {} {what} fetched.   ", out.count());
    }
    out.finish();
    failure.map_or(Ok(()), Err)
}

/// `groups ...`.
pub(crate) fn groups(
    global: &Global,
    printer: &Printer,
    cmd: GroupsCommand,
) -> Result<(), Failure> {
    match cmd {
        GroupsCommand::List { filters, status } => {
            let mut q = ListUsageRecordGroups::new();
            set_filters!(q, filters);
            q.status = status.as_deref().map(UsageRecordGroupStatus::from);
            let client = crate::connect(global)?;
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
    let date = opt_date("--date", &args.date)?;
    let client = crate::connect(global)?;
    let result = if delete {
        client.delete_usage_record_group(&args.id, date)
    } else {
        client.retry_usage_record_group(&args.id, date)
    };
    let group = result.map_err(|e| exit::classify(&e, Op::Other))?;
    printer.one(&group, std::slice::from_ref(&group));
    Ok(())
}

/// `reports list`.
pub(crate) fn reports(
    global: &Global,
    printer: &Printer,
    cmd: ReportsCommand,
) -> Result<(), Failure> {
    let ReportsCommand::List { filters } = cmd;
    let mut q = ListUsageRecordReports::new();
    set_filters!(q, filters);
    let client = crate::connect(global)?;
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
