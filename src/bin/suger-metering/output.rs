//! `--output table|json|ndjson`: JSON keeps the API's own field names (the models' serde
//! names), so `jq` filters written for the API work unchanged.

use std::io::{IsTerminal, Write};

use serde::Serialize;
use suger_metering::{
    BillableMetric, Error, MeteringUsageRecordGroup, MeteringUsageRecordReport,
    PartnerUsageMeteringConfig,
};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::cli::Format;
use crate::exit::{self, Failure, Op};
use crate::stderr;

/// A type shown as one row of a table.
pub(crate) trait Row {
    /// The column titles.
    const HEADERS: &'static [&'static str];
    /// The cells, in the order of [`Row::HEADERS`].
    fn cells(&self) -> Vec<String>;
}

/// Writes results to stdout in the chosen format.
pub(crate) struct Printer {
    format: Format,
}

impl Printer {
    /// `format`, or table on a terminal and json otherwise.
    pub(crate) fn new(format: Option<Format>) -> Printer {
        let format = format.unwrap_or(if std::io::stdout().is_terminal() {
            Format::Table
        } else {
            Format::Json
        });
        Printer { format }
    }

    /// One API object (`value`), shown in a table as `rows`.
    pub(crate) fn one<T: Serialize, R: Row>(&self, value: &T, rows: &[R]) {
        let mut out = std::io::stdout().lock();
        let _ = match self.format {
            // Prometheus is `outbox status`'s own; main refuses it elsewhere.
            Format::Json | Format::Prometheus => writeln!(out, "{}", pretty(value)),
            Format::Ndjson => writeln!(out, "{}", compact(value)),
            Format::Table => write_table(&mut out, rows),
        };
    }

    /// A list printed item by item (JSON: one array, streamed).
    pub(crate) fn list<R: Row + Serialize>(&self) -> ListWriter<'_, R> {
        ListWriter {
            printer: self,
            count: 0,
            rows: Vec::new(),
        }
    }
}

/// See [`Printer::list`].
pub(crate) struct ListWriter<'a, R> {
    printer: &'a Printer,
    count: usize,
    rows: Vec<R>,
}

impl<R: Row + Serialize> ListWriter<'_, R> {
    /// Prints (or, for a table, keeps) one item.
    pub(crate) fn push(&mut self, item: R) {
        let mut out = std::io::stdout().lock();
        let _ = match self.printer.format {
            Format::Json | Format::Prometheus => {
                let sep = if self.count == 0 { "[\n  " } else { ",\n  " };
                write!(out, "{sep}{}", compact(&item))
            }
            Format::Ndjson => writeln!(out, "{}", compact(&item)),
            Format::Table => {
                self.rows.push(item);
                Ok(())
            }
        };
        self.count += 1;
    }

    /// How many items were pushed.
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// Closes the list (the JSON array, or prints the table).
    pub(crate) fn finish(self) {
        let mut out = std::io::stdout().lock();
        let _ = match self.printer.format {
            Format::Json | Format::Prometheus if self.count == 0 => writeln!(out, "[]"),
            Format::Json | Format::Prometheus => writeln!(out, "\n]"),
            Format::Ndjson => Ok(()),
            Format::Table => write_table(&mut out, &self.rows),
        };
        let _ = out.flush();
    }
}

fn pretty<T: Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

fn compact<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

fn write_table<R: Row>(out: &mut impl Write, rows: &[R]) -> std::io::Result<()> {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            r.cells()
                .iter()
                .map(|c| c.replace(['\n', '\t'], " "))
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = R::HEADERS.iter().map(|h| h.chars().count()).collect();
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cols: Vec<&str>| {
        let last = cols.len().saturating_sub(1);
        cols.iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if i == last {
                    c.to_string()
                } else {
                    format!("{c:<w$}")
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
    };
    writeln!(out, "{}", line(R::HEADERS.to_vec()))?;
    for row in &cells {
        writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

fn time_cell(t: Option<OffsetDateTime>) -> String {
    t.and_then(|t| t.format(&Rfc3339).ok()).unwrap_or_default()
}

fn opt_str<T>(v: &Option<T>, f: impl Fn(&T) -> &str) -> String {
    v.as_ref().map(|x| f(x).to_string()).unwrap_or_default()
}

fn records_cell(records: impl IntoIterator<Item = (String, f64)>) -> String {
    records
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

impl Row for MeteringUsageRecordGroup {
    const HEADERS: &'static [&'static str] = &["ID", "ENTITLEMENT", "STATUS", "CREATED", "RECORDS"];
    fn cells(&self) -> Vec<String> {
        let billable = self.meta_info.iter().flat_map(|m| {
            m.billable_records
                .iter()
                .map(|r| (r.key.clone(), r.quantity))
        });
        let v1 = self.records.iter().map(|(k, v)| (k.clone(), *v));
        vec![
            self.id.clone(),
            self.entitlement_id.clone(),
            opt_str(&self.status, |s| s.as_str()),
            time_cell(self.creation_time),
            records_cell(v1.chain(billable)),
        ]
    }
}

impl Row for MeteringUsageRecordReport {
    const HEADERS: &'static [&'static str] = &[
        "ID",
        "ENTITLEMENT",
        "STATUS",
        "PARTNER",
        "CREATED",
        "GROUPS",
    ];
    fn cells(&self) -> Vec<String> {
        let info = self.info.as_ref();
        vec![
            self.id.clone(),
            self.entitlement_id.clone(),
            info.map(|i| opt_str(&i.status, |s| s.as_str()))
                .unwrap_or_default(),
            opt_str(&self.partner, |p| p.as_str()),
            time_cell(self.creation_time),
            info.map_or(0, |i| i.usage_record_group_ids.len())
                .to_string(),
        ]
    }
}

impl Row for BillableMetric {
    const HEADERS: &'static [&'static str] = &["ID", "NAME", "STATUS", "AGGREGATION", "CREATED"];
    fn cells(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.name.clone(),
            opt_str(&self.status, |s| s.as_str()),
            opt_str(&self.aggregation_type, |a| a.as_str()),
            time_cell(self.creation_time),
        ]
    }
}

impl Row for PartnerUsageMeteringConfig {
    const HEADERS: &'static [&'static str] = &[
        "PARTNER",
        "BILLABLE_DIMENSION",
        "DIMENSION_MAPPING",
        "COMMIT_METERING",
        "MAPPINGS",
    ];
    fn cells(&self) -> Vec<String> {
        vec![
            opt_str(&self.partner, |p| p.as_str()),
            self.enable_billable_dimension.to_string(),
            self.enable_dimension_mapping.to_string(),
            self.enable_commit_with_additional_usage_metering
                .to_string(),
            (self.dimension_mapping.len() + self.dimension_mapping_v2.len()).to_string(),
        ]
    }
}

/// A one-line message as a table row (for results that are not API objects).
#[derive(Debug, Serialize)]
pub(crate) struct Note {
    /// What happened.
    pub(crate) result: String,
}

impl Row for Note {
    const HEADERS: &'static [&'static str] = &["RESULT"];
    fn cells(&self) -> Vec<String> {
        vec![self.result.clone()]
    }
}

/// Prints the items of a listing: one page, or with `all` every page (progress on stderr when
/// stderr is a terminal).
pub(crate) fn print_listing<T: Row + Serialize>(
    printer: &Printer,
    what: &str,
    all: bool,
    page: impl FnOnce() -> Result<(Vec<T>, Option<u32>), Error>,
    every: impl Iterator<Item = Result<T, Error>>,
) -> Result<(), Failure> {
    let mut out = printer.list();
    if !all {
        let (items, next) = page().map_err(|e| exit::classify(&e, Op::Read))?;
        items.into_iter().for_each(|i| out.push(i));
        out.finish();
        if let Some(next) = next {
            stderr::note(format!(
                "more {what} remain: run with --all, or --offset {next}"
            ));
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
                    exit::classify(&e, Op::Read).context(format!("after {} {what}", out.count())),
                );
                break;
            }
        }
        if progress && out.count().is_multiple_of(1000) {
            stderr::progress(format!("{} {what} fetched...", out.count()), false);
        }
    }
    if progress && out.count() >= 1000 {
        stderr::progress(format!("{} {what} fetched.", out.count()), true);
    }
    out.finish();
    failure.map_or(Ok(()), Err)
}
