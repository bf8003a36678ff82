//! `outbox status|flush` and `report --file --outbox DIR`.

use std::path::Path;

use serde::Serialize;
use suger_metering::{MeteringClient, Outbox, OutboxError, OutboxStatus, ReconcileState};

use super::connect;
use crate::cli::{Format, Global, OutboxCommand};
use crate::exit::{self, Failure, Op};
use crate::input::FileGroup;
use crate::output::{Printer, Row};

/// What `outbox status` and `outbox flush` print (JSON field names in the API's camelCase).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct OutboxSummary {
    recorded: usize,
    already_recorded: usize,
    pending: usize,
    dead: usize,
}

impl Row for OutboxSummary {
    const HEADERS: &'static [&'static str] = &["RECORDED", "ALREADY_RECORDED", "PENDING", "DEAD"];
    fn cells(&self) -> Vec<String> {
        [
            self.recorded,
            self.already_recorded,
            self.pending,
            self.dead,
        ]
        .iter()
        .map(ToString::to_string)
        .collect()
    }
}

fn open(dir: &Path) -> Result<Outbox, Failure> {
    Outbox::open(dir)
        .map_err(|e| failure(&e, Op::Other).context(format!("outbox {}", dir.display())))
}

/// An outbox error as an exit code: a report error as any other; the lock, a full outbox and
/// the disk as exit 1 (nothing was stored, nothing sent).
fn failure(e: &OutboxError, op: Op) -> Failure {
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
        OutboxCommand::Status { dir } if global.output == Some(Format::Prometheus) => {
            let status = suger_metering::outbox_status(dir).map_err(|e| {
                Failure::other(
                    format!("cannot read the outbox {}: {e}", dir.display()),
                    "check the directory",
                )
            })?;
            print!("{}", prometheus(dir, &status));
            Ok(())
        }
        OutboxCommand::Status { dir } => {
            let outbox = open(dir)?;
            let pending = outbox.pending().map_err(|e| failure(&e, Op::Other))?;
            let dead = outbox.dead_letters().map_err(|e| failure(&e, Op::Other))?;
            let s = OutboxSummary {
                recorded: 0,
                already_recorded: 0,
                pending,
                dead,
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

fn flush(client: &MeteringClient, printer: &Printer, outbox: &Outbox) -> Result<(), Failure> {
    let summary = outbox.flush(client).map_err(|e| failure(&e, Op::Report))?;
    let s = OutboxSummary {
        recorded: summary.recorded,
        already_recorded: summary.already_recorded,
        pending: summary.pending,
        dead: summary.dead,
    };
    printer.one(&s, std::slice::from_ref(&s));
    if s.pending > 0 {
        // Still waiting (Suger unreachable or answering 5xx): the next flush sends them.
        return Err(Failure::new(
            exit::UNKNOWN,
            format!("{} reports are still pending in the outbox", s.pending),
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

/// `report --file FILE --outbox DIR`: enqueue every group (ids derived from the file), then flush.
pub(crate) fn enqueue_and_flush(
    client: &MeteringClient,
    printer: &Printer,
    dir: &Path,
    groups: &[FileGroup],
) -> Result<(), Failure> {
    let outbox = open(dir)?;
    for g in groups {
        outbox
            .enqueue(&g.params.entitlement_id, &g.params)
            .map_err(|e| failure(&e, Op::Other).context(format!("line {}", g.line)))?;
    }
    flush(client, printer, &outbox)
}

/// `outbox status --output prometheus`: the Prometheus text format, for node_exporter's
/// textfile collector (`... > /var/lib/node_exporter/suger.prom`).
fn prometheus(dir: &Path, s: &OutboxStatus) -> String {
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
        &one(s.ledger_reports),
    );
    gauge(
        "ledger_damaged_lines",
        "Ledger lines that could not be read.",
        &one(s.damaged_ledger_lines),
    );
    if let Some(last) = &s.last_reconcile {
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
