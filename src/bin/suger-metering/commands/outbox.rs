//! `outbox status|flush|requeue-dead` and `report --file --outbox DIR`.
//!
//! Many producers, one sender: enqueueing never waits for anyone, and a flush while another
//! process (a service's meter) sends the outbox is not a failure: that process sends them.

use std::path::Path;

use serde::Serialize;
use suger_metering::{
    LedgerStatus, MeteringClient, Outbox, OutboxError, OutboxStatus, ReconcileState,
};

use super::connect;
use crate::cli::{Format, Global, OutboxCommand};
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
        OutboxError::AlreadyPending { .. } => Failure::other(
            e.to_string(),
            "give this usage its own id, or wait until the pending report is sent",
        ),
        OutboxError::NegativeCorrection { .. } => Failure::not_billed(
            e.to_string(),
            "what was recorded stays billed; credit the customer another way if it was too much",
        ),
        OutboxError::MaybePending { .. } => Failure::other(
            e.to_string(),
            "check the disk; run the same command again (the same ids are stored once)",
        ),
        _ => Failure::other(
            e.to_string(),
            "check the outbox directory and free disk space",
        ),
    }
}

/// `outbox status --dir DIR` / `outbox flush --dir DIR` / `outbox requeue-dead --dir DIR`.
pub(crate) fn run(global: &Global, printer: &Printer, cmd: &OutboxCommand) -> Result<(), Failure> {
    match cmd {
        OutboxCommand::Status { dir } if global.output == Some(Format::Prometheus) => {
            // Only reads: no lock, nothing created.
            let status = Outbox::inspect(dir)
                .map_err(|e| failure(&e, Op::Read).context(format!("outbox {}", dir.display())))?;
            let ledger = suger_metering::ledger_status(dir).map_err(|e| {
                Failure::other(
                    format!("cannot read the ledger of {}: {e}", dir.display()),
                    "check the directory",
                )
            })?;
            print!("{}", prometheus(dir, &status, &ledger));
            Ok(())
        }
        OutboxCommand::Status { dir } => {
            // Only reads: no lock, nothing created.
            let status = Outbox::inspect(dir)
                .map_err(|e| failure(&e, Op::Read).context(format!("outbox {}", dir.display())))?;
            let s = OutboxSummary {
                recorded: 0,
                already_recorded: 0,
                pending: status.pending,
                dead: status.dead,
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
        OutboxCommand::RequeueDead { dir } => {
            let outbox = open(dir)?;
            let requeued = outbox.requeue_dead().map_err(|e| failure(&e, Op::Read))?;
            let s = Requeued {
                requeued,
                pending: outbox.pending().map_err(|e| failure(&e, Op::Read))?,
                dead: outbox.dead_letters().map_err(|e| failure(&e, Op::Read))?,
            };
            printer.one(&s, std::slice::from_ref(&s));
            Ok(())
        }
    }
}

/// What `outbox requeue-dead` prints.
#[derive(Debug, Serialize)]
struct Requeued {
    requeued: usize,
    pending: usize,
    dead: usize,
}

impl Row for Requeued {
    const HEADERS: &'static [&'static str] = &["REQUEUED", "PENDING", "DEAD"];
    fn cells(&self) -> Vec<String> {
        [self.requeued, self.pending, self.dead]
            .iter()
            .map(ToString::to_string)
            .collect()
    }
}

pub(crate) fn flush(
    client: &MeteringClient,
    printer: &Printer,
    outbox: &Outbox,
) -> Result<(), Failure> {
    flush_counting(client, printer, outbox, 0)
}

/// [`flush`], with `already` reports found recorded before it (by the ledger, `report --file
/// --outbox`) counted in `alreadyRecorded`.
pub(crate) fn flush_counting(
    client: &MeteringClient,
    printer: &Printer,
    outbox: &Outbox,
    already: usize,
) -> Result<(), Failure> {
    let summary = match outbox.flush(client) {
        Ok(summary) => summary,
        Err(e @ OutboxError::Locked { .. }) => {
            // Another process (a service's meter, another flush) is sending this outbox: it
            // sends what is pending. Not a failure of this job.
            let pending = outbox.pending().map_err(|e| failure(&e, Op::Read))?;
            let s = OutboxSummary {
                recorded: 0,
                already_recorded: 0,
                pending,
                dead: 0,
                damaged: None,
                overdue: None,
                recorded_late: None,
                last_error: None,
            };
            printer.one(&s, std::slice::from_ref(&s));
            stderr::note(format!(
                "{e}; it sends the {pending} pending report(s), nothing to do"
            ));
            return Ok(());
        }
        Err(e) => return Err(failure(&e, Op::Report)),
    };
    let s = OutboxSummary {
        recorded: summary.recorded,
        already_recorded: summary.already_recorded + already,
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
            "inspect the outbox's dead reports (dead/*.reason.txt); after fixing the cause, `suger-metering outbox requeue-dead` sends them again",
        ));
    }
    Ok(())
}

/// `outbox status --output prometheus`: the Prometheus text format, for node_exporter's
/// textfile collector (`... > /var/lib/node_exporter/suger.prom`).
fn prometheus(dir: &Path, s: &OutboxStatus, ledger: &LedgerStatus) -> String {
    let label = format!(
        "dir=\"{}\"",
        dir.display()
            .to_string()
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    );
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, samples: &[(String, f64)]| {
        out +=
            &format!("# HELP suger_metering_{name} {help}\n# TYPE suger_metering_{name} gauge\n");
        for (labels, v) in samples {
            out += &format!("suger_metering_{name}{{{labels}}} {v}\n");
        }
    };
    let one = |v: usize| [(label.clone(), v as f64)];
    gauge(
        "outbox_pending",
        "Reports waiting in the outbox.",
        &one(s.pending),
    );
    gauge(
        "outbox_dead",
        "Reports Suger refused for good (dead letters).",
        &one(s.dead),
    );
    gauge(
        "outbox_overdue",
        "Pending reports whose usage is older than AWS Marketplace accepts (6 hours).",
        &one(s.overdue),
    );
    gauge(
        "outbox_overdue_24h",
        "Pending reports whose usage is older than Azure Marketplace accepts (24 hours).",
        &one(s.overdue_24h),
    );
    gauge(
        "ledger_reports",
        "Reports Suger recorded, kept in the ledger.",
        &one(ledger.reports),
    );
    gauge(
        "ledger_damaged_lines",
        "Ledger lines that could not be read.",
        &one(ledger.damaged_lines),
    );
    if let Some(last) = &ledger.last_reconcile {
        let per_state: Vec<(String, f64)> = ReconcileState::ALL
            .iter()
            .map(|st| {
                let n = last.counts.get(st.as_str()).copied().unwrap_or(0);
                (format!("{label},state=\"{st}\""), n as f64)
            })
            .collect();
        gauge(
            "reconcile_reports",
            "Reports per state at the last reconcile.",
            &per_state,
        );
        gauge(
            "reconcile_last_run_timestamp_seconds",
            "When the last reconcile ran (Unix time).",
            &[(label.clone(), last.at as f64)],
        );
    }
    out
}
