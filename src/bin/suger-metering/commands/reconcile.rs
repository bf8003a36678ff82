//! `reconcile --outbox DIR [--since 48h | --from DATE [--to DATE]] [--retry-failed]`: did the
//! usage reach the marketplace? One row per report; exit 5 when some will not be billed.

use std::time::Duration;

use serde::Serialize;
use suger_metering::{OutboxError, Reconcile, ReconcileItem, ReconcileReport, ReconcileState};
use time::format_description::well_known::Rfc3339;

use super::connect;
use crate::cli::{Global, ReconcileArgs};
use crate::exit::{self, Failure, Op};
use crate::output::{Printer, Row};
use crate::stderr;

/// One reconciled report as a row (JSON: the library's field names, `id`, `entitlementID`,
/// `state`, `hour`, `reportID`, `message`, `sent`, `atSuger`, ...).
#[derive(Serialize)]
#[serde(transparent)]
pub(crate) struct ItemRow(pub(crate) ReconcileItem);

impl Row for ItemRow {
    const HEADERS: &'static [&'static str] = &[
        "ID",
        "ENTITLEMENT",
        "STATE",
        "HOUR",
        "REPORT",
        "VERDICT",
        "SENT",
        "MESSAGE",
    ];
    fn cells(&self) -> Vec<String> {
        let i = &self.0;
        let sent = i
            .sent
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        vec![
            i.id.clone(),
            i.entitlement_id.clone(),
            i.state().to_string(),
            i.hour
                .and_then(|h| h.format(&Rfc3339).ok())
                .unwrap_or_default(),
            i.report_id.clone().unwrap_or_default(),
            i.verdict
                .as_ref()
                .map(|v| v.name().to_owned())
                .unwrap_or_default(),
            sent,
            i.message.clone(),
        ]
    }
}

/// A library error of `reconcile`/`trace` as an exit code: 3 for a bad key, 4 when Suger could
/// not be reached (or did not answer in time), else as any other command.
pub(crate) fn failure(e: &OutboxError) -> Failure {
    match e {
        OutboxError::Report(err) if !matches!(err.status(), Some(401 | 403)) => {
            if err.transport_error().is_some() {
                return Failure::unreachable(
                    err.to_string(),
                    "Suger could not be reached: check the network and --base-url, then run again",
                );
            }
            exit::classify(err, Op::Read)
        }
        OutboxError::Report(err) => exit::classify(err, Op::Read),
        other => Failure::other(other.to_string(), "check the outbox directory"),
    }
}

fn options(args: &ReconcileArgs) -> Result<Reconcile, Failure> {
    let range = match (&args.since, &args.from) {
        (_, Some(from)) => {
            let first = *from;
            let last = args
                .to
                .unwrap_or_else(|| time::OffsetDateTime::now_utc().date());
            if last < first {
                return Err(Failure::usage(
                    format!("--to {last} is before --from {first}"),
                    "give --to on or after --from",
                ));
            }
            Reconcile::days(first, last)
        }
        (Some(since), None) => Reconcile::since(*since),
        (None, None) => Reconcile::since(Duration::from_secs(48 * 3600)),
    };
    Ok(range.retry_failed(args.retry_failed))
}

/// `suger-metering reconcile`.
pub(crate) fn run(global: &Global, printer: &Printer, args: &ReconcileArgs) -> Result<(), Failure> {
    let options = options(args)?;
    if !args.outbox.is_dir() {
        return Err(Failure::usage(
            format!("--outbox {} is not a directory", args.outbox.display()),
            "give the outbox directory your service writes to",
        ));
    }
    let client = connect(global)?;
    let report =
        suger_metering::reconcile(&client, &args.outbox, &options).map_err(|e| failure(&e))?;
    let mut list = printer.list::<ItemRow>();
    for item in &report.items {
        list.push(ItemRow(item.clone()));
    }
    list.finish();
    stderr::note(format!("reconcile: {}", summary(&report)));
    let problems = report.problems().count();
    if problems > 0 {
        return Err(Failure::not_billed(
            format!("{problems} report(s) will not be billed as sent"),
            "see the rows in state failed, invalid, missing, mismatch or dead (--retry-failed retries failed ones inside the window)",
        ));
    }
    Ok(())
}

/// `55 reports: 50 reported, 5 failed; 14 calls; 0 damaged ledger lines`.
fn summary(r: &ReconcileReport) -> String {
    let counts: Vec<String> = ReconcileState::ALL
        .iter()
        .map(|s| (s, r.count(*s)))
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    format!(
        "{} reports: {}; {} calls; {} damaged ledger lines",
        r.items.len(),
        if counts.is_empty() {
            "none".to_owned()
        } else {
            counts.join(", ")
        },
        r.calls,
        r.damaged_ledger_lines
    )
}
