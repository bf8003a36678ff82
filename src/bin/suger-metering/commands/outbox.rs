//! `outbox status|flush` and `report --file --outbox DIR`.

use std::path::Path;

use serde::Serialize;
use suger_metering::{MeteringClient, Outbox, OutboxError};

use super::connect;
use crate::cli::{Global, OutboxCommand};
use crate::exit::{self, Failure, Op};
use crate::output::{Printer, Row};
use crate::stderr;

/// What `outbox status` and `outbox flush` print (JSON field names in the API's camelCase).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct OutboxSummary {
    recorded: usize,
    already_recorded: usize,
    pending: usize,
    dead: usize,
    /// Files that could not be read as a report, moved to `damaged/` (flush only).
    #[serde(skip_serializing_if = "Option::is_none")]
    damaged: Option<usize>,
    /// Pending reports whose usage is older than AWS Marketplace accepts (6 hours; flush only).
    #[serde(skip_serializing_if = "Option::is_none")]
    overdue: Option<usize>,
    /// Of `recorded`: usage sent more than 6 hours after it happened (flush only).
    #[serde(skip_serializing_if = "Option::is_none")]
    recorded_late: Option<usize>,
    /// Why reports are still pending, if they are.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
}

impl Row for OutboxSummary {
    const HEADERS: &'static [&'static str] = &[
        "RECORDED",
        "ALREADY_RECORDED",
        "PENDING",
        "DEAD",
        "DAMAGED",
        "OVERDUE",
    ];
    fn cells(&self) -> Vec<String> {
        let opt = |n: Option<usize>| n.map_or("-".to_string(), |n| n.to_string());
        vec![
            self.recorded.to_string(),
            self.already_recorded.to_string(),
            self.pending.to_string(),
            self.dead.to_string(),
            opt(self.damaged),
            opt(self.overdue),
        ]
    }
}

pub(crate) fn open(dir: &Path) -> Result<Outbox, Failure> {
    Outbox::open(dir)
        .map_err(|e| failure(&e, Op::Read).context(format!("outbox {}", dir.display())))
}

/// An outbox error as an exit code: a report error as any other; the lock, a full outbox and
/// the disk as exit 1 (nothing was stored, nothing sent).
pub(crate) fn failure(e: &OutboxError, op: Op) -> Failure {
    match e {
        OutboxError::Report(e) => exit::classify(e, op),
        OutboxError::Locked { .. } => Failure::other(
            e.to_string(),
            "another process holds the outbox: let it finish (a killed holder's lock is released)",
        ),
        _ => Failure::other(
            e.to_string(),
            "check the outbox directory and free disk space",
        ),
    }
}

/// `outbox status --dir DIR` / `outbox flush --dir DIR`.
pub(crate) fn run(global: &Global, printer: &Printer, cmd: &OutboxCommand) -> Result<(), Failure> {
    match cmd {
        OutboxCommand::Status { dir } => {
            let outbox = open(dir)?;
            let pending = outbox.pending().map_err(|e| failure(&e, Op::Read))?;
            let dead = outbox.dead_letters().map_err(|e| failure(&e, Op::Read))?;
            let s = OutboxSummary {
                recorded: 0,
                already_recorded: 0,
                pending,
                dead,
                damaged: None,
                overdue: None,
                recorded_late: None,
                last_error: None,
            };
            printer.one(&s, std::slice::from_ref(&s));
            Ok(())
        }
        OutboxCommand::Flush { dir } => {
            let client = connect(global)?;
            flush(&client, printer, &open(dir)?)
        }
    }
}

pub(crate) fn flush(
    client: &MeteringClient,
    printer: &Printer,
    outbox: &Outbox,
) -> Result<(), Failure> {
    let summary = outbox.flush(client).map_err(|e| failure(&e, Op::Report))?;
    let s = OutboxSummary {
        recorded: summary.recorded,
        already_recorded: summary.already_recorded,
        pending: summary.pending,
        dead: summary.dead,
        damaged: Some(summary.damaged),
        overdue: Some(summary.overdue),
        recorded_late: Some(summary.recorded_late),
        last_error: summary.last_error.clone(),
    };
    printer.one(&s, std::slice::from_ref(&s));
    if summary.damaged > 0 {
        stderr::warn(format!(
            "{} files in the outbox could not be read as reports and were moved to {}: inspect them (their usage is not sent)",
            summary.damaged,
            outbox.dir().join("damaged").display()
        ));
    }
    if summary.overdue > 0 {
        stderr::warn(format!(
            "{} pending reports carry usage more than 6 hours old: AWS Marketplace refuses usage reported more than 6 hours late (Azure: 24 hours)",
            summary.overdue
        ));
    }
    if s.pending > 0 {
        // Still waiting (Suger unreachable or answering 5xx): the next flush sends them.
        let why = s
            .last_error
            .as_deref()
            .map(|e| format!(" (last error: {e})"))
            .unwrap_or_default();
        return Err(Failure::still_pending(
            format!("{} reports are still pending in the outbox{why}", s.pending),
            "run `suger-metering outbox flush` again later (cron does): they are sent once",
        ));
    }
    if s.dead > 0 {
        return Err(Failure::other(
            format!("{} reports were refused by Suger and set aside", s.dead),
            "inspect the outbox's dead reports; they will not be sent again",
        ));
    }
    Ok(())
}
