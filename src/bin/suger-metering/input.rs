//! Usage files: CSV (`entitlement_id,dimension,quantity[,timestamp][,id]`, header required) and
//! NDJSON (one `CreateUsageRecordGroupParams` object per line, with `entitlementID`).
//!
//! The whole file is read and checked before anything is sent: any bad line fails the command
//! with its line number (exit 2) and nothing is sent. CSV rows with the same entitlement and
//! timestamp (or the same `id`) form one group, summing repeated dimensions. A group without an
//! `id` gets one derived from its content: a UUID v5 of the entitlement, the usage and the
//! timestamp, so running the same file twice reports each group under the same id and Suger
//! records it once. (Two genuinely separate usages with identical content and no timestamp
//! would share an id: give them a timestamp or an id.)

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::Path;

use serde_json::Value;
use suger_metering::{CreateUsageRecordGroupParams, MAX_USAGE_RECORD_GROUP_ID_LEN};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use crate::cli::FileFormat;
use crate::exit::Failure;
use crate::ids::derived_id;

/// One group to report, from one or more lines of the file.
#[derive(Debug, Clone)]
pub(crate) struct FileGroup {
    /// The first line of the file that makes up this group (1-based).
    pub(crate) line: usize,
    /// The body, with `entitlement_id` and `id` set (the id given, or derived).
    pub(crate) params: CreateUsageRecordGroupParams,
    /// Whether the file gave the id (rather than it being derived).
    pub(crate) explicit_id: bool,
}

fn bad_line(line: usize, why: impl std::fmt::Display) -> Failure {
    Failure::usage(
        format!("line {line}: {why}"),
        "fix the file and run again; nothing was sent",
    )
}

/// `path` for messages (`stdin` for `-`).
pub(crate) fn display(path: &Path) -> String {
    if path == Path::new("-") {
        "stdin".to_string()
    } else {
        path.display().to_string()
    }
}

/// Reads `path` (`-` for stdin).
pub(crate) fn read_text(path: &Path) -> Result<String, Failure> {
    let mut text = String::new();
    let result = if path == Path::new("-") {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(path).map(|t| text = t)
    };
    result.map_err(|e| {
        Failure::usage(
            format!("cannot read {}: {e}", display(path)),
            "pass a readable UTF-8 file, or - for stdin",
        )
    })?;
    Ok(text)
}

/// Reads and checks every group of a usage file for organization `org`.
pub(crate) fn read_groups(
    path: &Path,
    format: Option<FileFormat>,
    org: &str,
) -> Result<Vec<FileGroup>, Failure> {
    let text = read_text(path)?;
    let format = format.unwrap_or_else(|| detect(path, &text));
    let groups = match format {
        FileFormat::Csv => parse_csv(&text)?,
        FileFormat::Ndjson => parse_ndjson(&text)?,
    };
    if groups.is_empty() {
        return Err(Failure::usage(
            format!("{} holds no usage", display(path)),
            "give a file with at least one usage line; nothing was sent",
        ));
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    for g in &groups {
        check(&g.params, org).map_err(|why| bad_line(g.line, why))?;
        let id = g.params.id.clone().unwrap_or_default();
        if let Some(first) = seen.insert(id.clone(), g.line) {
            let why = if g.explicit_id {
                format!("id {id:?} is already used by line {first}")
            } else {
                format!(
                    "same usage as line {first} (same derived id {id}); merge them, or tell them apart with a timestamp or an id"
                )
            };
            return Err(bad_line(g.line, why));
        }
    }
    Ok(groups)
}

fn detect(path: &Path, text: &str) -> FileFormat {
    match path.extension().and_then(|e| e.to_str()) {
        Some("csv") => FileFormat::Csv,
        Some("ndjson" | "jsonl" | "json") => FileFormat::Ndjson,
        _ if text.trim_start().starts_with('{') => FileFormat::Ndjson,
        _ => FileFormat::Csv,
    }
}

/// The rules the API documents, checked for every group before anything is sent.
fn check(p: &CreateUsageRecordGroupParams, org: &str) -> Result<(), String> {
    if p.entitlement_id.trim().is_empty() {
        return Err("entitlementID is empty".into());
    }
    if let Some(id) = &p.id {
        if id.trim().is_empty() {
            return Err("id is empty".into());
        }
        if id.chars().count() > MAX_USAGE_RECORD_GROUP_ID_LEN {
            return Err(format!(
                "id {id:?} is longer than {MAX_USAGE_RECORD_GROUP_ID_LEN} characters"
            ));
        }
    }
    if !p.organization_id.is_empty() && p.organization_id != org {
        return Err(format!(
            "organizationID {:?} is not the organization {org:?} the key is used for",
            p.organization_id
        ));
    }
    if p.meta_info.is_some() {
        return Err("metaInfo is read-only and must not be sent".into());
    }
    match (p.records.is_empty(), p.billable_records.is_empty()) {
        (false, false) => return Err("use records (v1) or billableRecords (v2), not both".into()),
        (true, true) => return Err("no usage: give records or billableRecords".into()),
        _ => {}
    }
    let quantities = p.records.iter().map(|(k, q)| (k.as_str(), *q)).chain(
        p.billable_records
            .iter()
            .map(|r| (r.key.as_str(), r.quantity)),
    );
    let mut any_nonzero = false;
    for (key, q) in quantities {
        if key.trim().is_empty() {
            return Err("a dimension or billable metric key is empty".into());
        }
        if !q.is_finite() || q < 0.0 {
            return Err(format!(
                "quantity of {key:?} is {q}: want a finite number >= 0"
            ));
        }
        any_nonzero |= q != 0.0;
    }
    if !any_nonzero {
        return Err("every quantity is zero (Suger refuses such a report)".into());
    }
    Ok(())
}

/// Parses an RFC 3339 timestamp, normalized to UTC.
pub(crate) fn parse_timestamp(s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map(|t| t.to_offset(UtcOffset::UTC))
        .map_err(|e| format!("timestamp {s:?} is not RFC 3339 ({e})"))
}

/// Splits one CSV line: commas, with `"..."` fields where `""` is a quote.
fn split_csv(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cur.push(c),
            (false, '"') if cur.trim().is_empty() => {
                cur.clear();
                quoted = true;
            }
            (false, ',') => fields.push(std::mem::take(&mut cur).trim().to_string()),
            (false, c) => cur.push(c),
        }
    }
    if quoted {
        return Err("unterminated quoted field".into());
    }
    fields.push(cur.trim().to_string());
    Ok(fields)
}

const CSV_COLUMNS: [&str; 5] = ["entitlement_id", "dimension", "quantity", "timestamp", "id"];

pub(crate) fn parse_csv(text: &str) -> Result<Vec<FileGroup>, Failure> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((header_line, header)) = lines.next() else {
        return Ok(Vec::new());
    };
    let names = split_csv(header).map_err(|e| bad_line(header_line, e))?;
    let mut col: HashMap<&str, usize> = HashMap::new();
    for (i, name) in names.iter().enumerate() {
        let name = name.to_ascii_lowercase();
        let Some(known) = CSV_COLUMNS.iter().find(|c| **c == name) else {
            return Err(bad_line(
                header_line,
                format!(
                    "unknown column {name:?} (the header line is required: entitlement_id,dimension,quantity[,timestamp][,id])"
                ),
            ));
        };
        if col.insert(known, i).is_some() {
            return Err(bad_line(
                header_line,
                format!("column {name:?} appears twice"),
            ));
        }
    }
    for required in &CSV_COLUMNS[..3] {
        if !col.contains_key(required) {
            return Err(bad_line(
                header_line,
                format!(
                    "the header line lacks column {required:?} (want entitlement_id,dimension,quantity[,timestamp][,id])"
                ),
            ));
        }
    }
    let mut groups: Vec<FileGroup> = Vec::new();
    let mut index: HashMap<(String, String, String), usize> = HashMap::new();
    for (n, line) in lines {
        let fields = split_csv(line).map_err(|e| bad_line(n, e))?;
        if fields.len() != names.len() {
            return Err(bad_line(
                n,
                format!(
                    "{} fields, but the header has {}",
                    fields.len(),
                    names.len()
                ),
            ));
        }
        let get = |c: &str| col.get(c).map_or("", |&i| fields[i].as_str());
        let entitlement = get("entitlement_id");
        let dimension = get("dimension");
        if entitlement.is_empty() || dimension.is_empty() {
            return Err(bad_line(
                n,
                "entitlement_id and dimension must not be empty",
            ));
        }
        let quantity: f64 = get("quantity")
            .parse()
            .map_err(|_| bad_line(n, format!("quantity {:?} is not a number", get("quantity"))))?;
        if !quantity.is_finite() || quantity < 0.0 {
            return Err(bad_line(
                n,
                format!("quantity {quantity} must be a finite number >= 0"),
            ));
        }
        let timestamp = match get("timestamp") {
            "" => None,
            t => Some(parse_timestamp(t).map_err(|e| bad_line(n, e))?),
        };
        let id = get("id");
        let ts_key = timestamp
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_default();
        let key = if id.is_empty() {
            (entitlement.to_string(), ts_key, String::new())
        } else {
            (String::new(), String::new(), id.to_string())
        };
        let i = *index.entry(key).or_insert_with(|| {
            groups.push(FileGroup {
                line: n,
                params: CreateUsageRecordGroupParams {
                    id: (!id.is_empty()).then(|| id.to_string()),
                    entitlement_id: entitlement.to_string(),
                    timestamp,
                    ..Default::default()
                },
                explicit_id: !id.is_empty(),
            });
            groups.len() - 1
        });
        let g = &mut groups[i];
        if g.params.entitlement_id != entitlement || g.params.timestamp != timestamp {
            return Err(bad_line(
                n,
                format!(
                    "id {id:?} was used on line {} with another entitlement or timestamp",
                    g.line
                ),
            ));
        }
        *g.params.records.entry(dimension.to_string()).or_insert(0.0) += quantity;
    }
    for g in &mut groups {
        if g.params.id.is_none() {
            g.params.id = Some(derived_id(&g.params));
        }
    }
    Ok(groups)
}

const NDJSON_KEYS: [&str; 7] = [
    "id",
    "entitlementID",
    "organizationID",
    "records",
    "billableRecords",
    "timestamp",
    "metaInfo",
];

pub(crate) fn parse_ndjson(text: &str) -> Result<Vec<FileGroup>, Failure> {
    let mut groups = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let value: Value =
            serde_json::from_str(line).map_err(|e| bad_line(n, format!("invalid JSON: {e}")))?;
        let Value::Object(obj) = &value else {
            return Err(bad_line(n, "want one JSON object per line"));
        };
        if let Some(k) = obj.keys().find(|k| !NDJSON_KEYS.contains(&k.as_str())) {
            return Err(bad_line(
                n,
                format!("unknown field {k:?} (known: {})", NDJSON_KEYS.join(", ")),
            ));
        }
        if obj
            .get("entitlementID")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(bad_line(
                n,
                "entitlementID (a non-empty string) is required",
            ));
        }
        let mut params: CreateUsageRecordGroupParams = serde_json::from_value(value.clone())
            .map_err(|e| bad_line(n, format!("not a usage record group: {e}")))?;
        params.timestamp = params.timestamp.map(|t| t.to_offset(UtcOffset::UTC));
        let explicit_id = params.id.is_some();
        if !explicit_id {
            params.id = Some(derived_id(&params));
        }
        groups.push(FileGroup {
            line: n,
            params,
            explicit_id,
        });
    }
    Ok(groups)
}

/// `DIM=QTY` of `--record`.
pub(crate) fn parse_record(s: &str) -> Result<(String, f64), Failure> {
    let bad = || {
        Failure::usage(
            format!("--record {s:?} is not DIMENSION=QUANTITY"),
            "write it like --record api_calls=120",
        )
    };
    let (k, v) = s.split_once('=').ok_or_else(bad)?;
    let q: f64 = v.trim().parse().map_err(|_| bad())?;
    if k.trim().is_empty() {
        return Err(bad());
    }
    Ok((k.trim().to_string(), q))
}

/// `KEY=QTY[,PROP=VALUE...]` of `--billable`: property values that parse as JSON numbers or
/// booleans are sent as such, others as strings.
pub(crate) fn parse_billable(s: &str) -> Result<suger_metering::MeteringUsageRecord, Failure> {
    let mut parts = s.split(',');
    let (key, qty) = parse_record(parts.next().unwrap_or_default()).map_err(|_| {
        Failure::usage(
            format!("--billable {s:?} is not KEY=QUANTITY[,PROPERTY=VALUE...]"),
            "write it like --billable api_calls=3,region=eu",
        )
    })?;
    let mut record = suger_metering::MeteringUsageRecord::new(key, qty);
    let mut props = BTreeMap::new();
    for p in parts {
        let (k, v) = p
            .split_once('=')
            .filter(|(k, _)| !k.trim().is_empty())
            .ok_or_else(|| {
                Failure::usage(
                    format!("--billable property {p:?} is not PROPERTY=VALUE"),
                    "write it like --billable api_calls=3,region=eu",
                )
            })?;
        let value = match serde_json::from_str::<Value>(v.trim()) {
            Ok(n @ (Value::Number(_) | Value::Bool(_))) => n,
            _ => Value::String(v.trim().to_string()),
        };
        props.insert(k.trim().to_string(), value);
    }
    record.properties = props.into_iter().collect();
    Ok(record)
}

/// Checks a single report built from flags (the same rules as a file's groups).
pub(crate) fn check_flags(p: &CreateUsageRecordGroupParams, org: &str) -> Result<(), Failure> {
    check(p, org)
        .map_err(|why| Failure::usage(why, "fix the flags and run again; nothing was sent"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_split_with_quotes() {
        assert_eq!(
            split_csv(r#"a, "b,c" ,"d""e""#).unwrap(),
            ["a", "b,c", "d\"e"]
        );
        assert!(split_csv(r#"a,"b"#).is_err());
    }
}
