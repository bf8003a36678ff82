//! Usage files, read as a stream: CSV (`entitlement_id,dimension,quantity[,timestamp][,id]`,
//! header required, other header names through `--column`) and NDJSON (one
//! `CreateUsageRecordGroupParams` object per line, with `entitlementID`).
//!
//! A file is read twice and never held whole: a first pass checks every group with the
//! library's rules ([`MeteringClient::check_usage_record_group`]) and refuses the file with the
//! line number of the first bad one (exit 2, nothing sent); the second pass sends. Stdin is
//! spooled to a temporary file to be read twice. Memory grows with the number of CSV groups
//! (rows of one entitlement and timestamp, or one `id`, are one group) and with the ids seen
//! (for duplicates), not with the file's bytes.
//!
//! Ids ([`IdRules`]): a given `id`; else the usage's identity (entitlement and timestamp, or
//! `--id-key`) through the library's `usage_record_group_id`; else, or with `--id-from
//! content`, the content id (the ids of every file reported before version 0.2).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde_json::Value;
use suger_metering::{
    CreateUsageRecordGroupParams, MeteringClient, NewUsageRecordGroup, usage_identity_key,
    usage_record_group_content_id, usage_record_group_id,
};
use time::UtcOffset;

use crate::cli::{FileFormat, IdFrom};
use crate::exit::Failure;
use crate::flags::parse_timestamp;
use crate::input::{CSV_COLUMNS, display};
use crate::stderr;

/// One group to report, from one or more lines of the file.
#[derive(Debug, Clone)]
pub(crate) struct FileGroup {
    /// The first line of the file that makes up this group (1-based).
    pub(crate) line: usize,
    /// The body, with `entitlement_id` and `id` set.
    pub(crate) params: CreateUsageRecordGroupParams,
    /// Where the id came from.
    pub(crate) source: IdSource,
}

/// Where a group's id came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IdSource {
    /// The file's `id`.
    Given,
    /// The usage's identity: `usage_record_group_id(entitlement, key)` with this key.
    Identity(String),
    /// The content (entitlement, usage, timestamp).
    Content,
}

/// How groups without an `id` get one.
#[derive(Debug, Clone)]
pub(crate) struct IdRules {
    /// `--id-from`.
    pub(crate) from: IdFrom,
    /// `--id-key`: the identity of groups without a timestamp, a prefix for the others.
    pub(crate) scope: Option<String>,
    /// `--outbox`: a group without an identity is refused (its content id would make a
    /// corrected re-run bill again).
    pub(crate) require_identity: bool,
}

impl IdRules {
    /// Content ids, no warning: batch items carry no id, the ids only find duplicates.
    pub(crate) fn for_batches() -> IdRules {
        IdRules {
            from: IdFrom::Content,
            scope: None,
            require_identity: false,
        }
    }

    fn assign(&self, g: &mut FileGroup) -> Result<(), String> {
        if g.params.id.is_some() {
            g.source = IdSource::Given;
            return Ok(());
        }
        let key = usage_identity_key(self.scope.as_deref(), g.params.timestamp);
        g.source = match (self.from, key) {
            (IdFrom::Identity, Some(key)) => IdSource::Identity(key),
            (IdFrom::Identity, None) if self.require_identity => {
                return Err(
                    "no timestamp and no id: with --outbox every group needs an identity, or a corrected re-run would bill again; give a timestamp or id column, --id-key KEY, or --id-from content"
                        .into(),
                );
            }
            _ => IdSource::Content,
        };
        g.params.id = Some(match &g.source {
            IdSource::Identity(key) => usage_record_group_id(&g.params.entitlement_id, key),
            _ => usage_record_group_content_id(&g.params),
        });
        Ok(())
    }
}

fn bad_line(line: usize, why: impl std::fmt::Display) -> Failure {
    Failure::usage(
        format!("line {line}: {why}"),
        "fix the file and run again; nothing was sent",
    )
}

/// A usage file opened for reading (twice).
pub(crate) struct UsageFile {
    /// What to read: the file, or stdin's spool.
    path: PathBuf,
    /// Its name in messages.
    shown: String,
    format: FileFormat,
    columns: Vec<(String, String)>,
    /// The temporary copy of stdin, removed on drop.
    spool: Option<PathBuf>,
}

impl Drop for UsageFile {
    fn drop(&mut self) {
        if let Some(spool) = &self.spool {
            let _ = std::fs::remove_file(spool);
        }
    }
}

impl UsageFile {
    /// Opens `path` (`-`: stdin, copied to a temporary file) and settles its format.
    pub(crate) fn open(
        path: &Path,
        format: Option<FileFormat>,
        columns: &[(String, String)],
    ) -> Result<UsageFile, Failure> {
        let cannot = |e: std::io::Error| {
            Failure::usage(
                format!("cannot read {}: {e}", display(path)),
                "pass a readable UTF-8 file, or - for stdin",
            )
        };
        let mut file = UsageFile {
            path: path.to_path_buf(),
            shown: display(path),
            format: FileFormat::Csv,
            columns: columns.to_vec(),
            spool: None,
        };
        if path == Path::new("-") {
            let spool = std::env::temp_dir().join(format!(
                "suger-metering-stdin-{}-{}",
                std::process::id(),
                time::OffsetDateTime::now_utc().unix_timestamp_nanos()
            ));
            file.spool = Some(spool.clone());
            let mut out = File::create(&spool).map_err(cannot)?;
            std::io::copy(&mut std::io::stdin().lock(), &mut out).map_err(cannot)?;
            file.path = spool;
        }
        file.format = match format {
            Some(f) => f,
            None => match path.extension().and_then(|e| e.to_str()) {
                Some("csv") => FileFormat::Csv,
                Some("ndjson" | "jsonl" | "json") => FileFormat::Ndjson,
                _ => {
                    let mut first = String::new();
                    let mut r = BufReader::new(File::open(&file.path).map_err(cannot)?);
                    while first.trim().is_empty() && r.read_line(&mut first).map_err(cannot)? > 0 {}
                    if first.trim_start().starts_with('{') {
                        FileFormat::Ndjson
                    } else {
                        FileFormat::Csv
                    }
                }
            },
        };
        Ok(file)
    }

    /// The first pass: every group checked by the library's rules, ids assigned and unique.
    /// Returns how many groups the file holds (at least one).
    pub(crate) fn check(&self, client: &MeteringClient, ids: &IdRules) -> Result<usize, Failure> {
        let mut seen: HashMap<String, usize> = HashMap::new();
        let (mut count, mut from_content) = (0, 0);
        self.groups(client, ids, |g| {
            client
                .check_usage_record_group(&g.params.entitlement_id, &g.params)
                .map_err(|e| bad_line(g.line, e))?;
            let id = g.params.id.clone().unwrap_or_default();
            if let Some(first) = seen.insert(id.clone(), g.line) {
                let why = match &g.source {
                    IdSource::Given => format!("id {id:?} is already used by line {first}"),
                    IdSource::Identity(key) => format!(
                        "same entitlement and identity {key:?} as line {first} (id {id}); merge them, or tell them apart with an id column"
                    ),
                    IdSource::Content => format!(
                        "same usage as line {first} (same derived id {id}); merge them, or tell them apart with a timestamp or an id"
                    ),
                };
                return Err(bad_line(g.line, why));
            }
            count += 1;
            from_content += usize::from(g.source == IdSource::Content);
            Ok(())
        })?;
        if count == 0 {
            return Err(Failure::usage(
                format!("{} holds no usage", self.shown),
                "give a file with at least one usage line; nothing was sent",
            ));
        }
        if from_content > 0 && ids.from == IdFrom::Identity {
            stderr::warn(format!(
                "{from_content} groups have no timestamp: their ids come from their content, so a corrected re-run bills them again; give a timestamp or id column, or --id-key KEY"
            ));
        }
        Ok(count)
    }

    /// Streams the file's groups, ids assigned, to `f`; stops at the first error.
    pub(crate) fn groups(
        &self,
        client: &MeteringClient,
        ids: &IdRules,
        mut f: impl FnMut(FileGroup) -> Result<(), Failure>,
    ) -> Result<(), Failure> {
        let file = File::open(&self.path).map_err(|e| {
            Failure::usage(
                format!("cannot read {}: {e}", self.shown),
                "pass a readable file",
            )
        })?;
        let mut lines = BufReader::new(file)
            .lines()
            .enumerate()
            .map(|(i, l)| l.map(|l| (i + 1, l)).map_err(|e| bad_line(i + 1, e)));
        match self.format {
            FileFormat::Csv => self.csv(&mut lines, client, ids, &mut f),
            FileFormat::Ndjson => {
                for item in lines {
                    let (n, line) = item?;
                    if line.trim().is_empty() {
                        continue;
                    }
                    let mut g = ndjson_group(n, &line)?;
                    ids.assign(&mut g).map_err(|e| bad_line(n, e))?;
                    f(g)?;
                }
                Ok(())
            }
        }
    }

    fn csv(
        &self,
        lines: &mut dyn Iterator<Item = Result<(usize, String), Failure>>,
        client: &MeteringClient,
        ids: &IdRules,
        f: &mut dyn FnMut(FileGroup) -> Result<(), Failure>,
    ) -> Result<(), Failure> {
        let mut lines = lines.filter(|l| !matches!(l, Ok((_, l)) if l.trim().is_empty()));
        let Some(first) = lines.next() else {
            return Ok(());
        };
        let (header_line, header) = first?;
        let names = split_csv(&header).map_err(|e| bad_line(header_line, e))?;
        let col = self.header(header_line, &names)?;
        let mut groups: Vec<FileGroup> = Vec::new();
        let mut index: HashMap<(String, String, String), usize> = HashMap::new();
        for item in lines {
            let (n, line) = item?;
            let fields = split_csv(&line).map_err(|e| bad_line(n, e))?;
            if fields.len() != names.len() {
                let why = format!(
                    "{} fields, but the header has {}",
                    fields.len(),
                    names.len()
                );
                return Err(bad_line(n, why));
            }
            let get = |c: &str| col.get(c).map_or("", |&i| fields[i].as_str());
            let (entitlement, dimension, id) = (get("entitlement_id"), get("dimension"), get("id"));
            let quantity: f64 = get("quantity").parse().map_err(|_| {
                bad_line(n, format!("quantity {:?} is not a number", get("quantity")))
            })?;
            let timestamp = match get("timestamp") {
                "" => None,
                t => Some(parse_timestamp(t).map_err(|e| bad_line(n, e))?),
            };
            // Each row by the library's rules too, so that a sum cannot hide a bad row (a zero
            // row is fine: only a group of zeros is refused).
            let row = CreateUsageRecordGroupParams {
                entitlement_id: entitlement.to_string(),
                records: [(dimension.to_string(), quantity)].into(),
                timestamp,
                ..Default::default()
            };
            if quantity != 0.0 {
                client
                    .check_usage_record_group(entitlement, &row)
                    .map_err(|e| bad_line(n, e))?;
            }
            let key = if id.is_empty() {
                let t = timestamp.map(suger_metering::time_key).unwrap_or_default();
                (entitlement.to_string(), t, String::new())
            } else {
                (String::new(), String::new(), id.to_string())
            };
            let i = *index.entry(key).or_insert_with(|| {
                groups.push(FileGroup {
                    line: n,
                    params: CreateUsageRecordGroupParams {
                        id: (!id.is_empty()).then(|| id.to_string()),
                        records: Default::default(),
                        ..row.clone()
                    },
                    source: IdSource::Content,
                });
                groups.len() - 1
            });
            let g = &mut groups[i];
            if g.params.entitlement_id != entitlement || g.params.timestamp != timestamp {
                let why = format!(
                    "id {id:?} was used on line {} with another entitlement or timestamp",
                    g.line
                );
                return Err(bad_line(n, why));
            }
            *g.params.records.entry(dimension.to_string()).or_insert(0.0) += quantity;
        }
        for mut g in groups {
            ids.assign(&mut g).map_err(|e| bad_line(g.line, e))?;
            f(g)?;
        }
        Ok(())
    }

    /// The column of each known name, from the header line and `--column NAME=HEADER`.
    fn header(&self, n: usize, names: &[String]) -> Result<HashMap<&'static str, usize>, Failure> {
        let mut col: HashMap<&'static str, usize> = HashMap::new();
        for (i, name) in names.iter().enumerate() {
            let mapped = self
                .columns
                .iter()
                .find(|(_, header)| header == name)
                .map(|(ours, _)| ours.clone())
                .unwrap_or_else(|| name.to_ascii_lowercase());
            let Some(known) = CSV_COLUMNS.iter().find(|c| **c == mapped) else {
                return Err(bad_line(
                    n,
                    format!(
                        "unknown column {name:?} (the header line is required: entitlement_id,dimension,quantity[,timestamp][,id]; map other names with --column NAME=HEADER)"
                    ),
                ));
            };
            if col.insert(known, i).is_some() {
                return Err(bad_line(n, format!("column {mapped:?} appears twice")));
            }
        }
        if let Some((ours, header)) = self.columns.iter().find(|(_, h)| !names.contains(h)) {
            return Err(bad_line(
                n,
                format!("--column {ours}={header}: the header has no column {header:?}"),
            ));
        }
        if let Some(missing) = CSV_COLUMNS[..3].iter().find(|c| !col.contains_key(*c)) {
            return Err(bad_line(
                n,
                format!(
                    "the header line lacks column {missing:?} (want entitlement_id,dimension,quantity[,timestamp][,id], or --column {missing}=HEADER)"
                ),
            ));
        }
        Ok(col)
    }
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

const NDJSON_KEYS: [&str; 7] = [
    "id",
    "entitlementID",
    "organizationID",
    "records",
    "billableRecords",
    "timestamp",
    "metaInfo",
];

/// One NDJSON line as a group (parsing only; the rules are checked by the caller).
fn ndjson_group(n: usize, line: &str) -> Result<FileGroup, Failure> {
    let value: Value =
        serde_json::from_str(line).map_err(|e| bad_line(n, format!("invalid JSON: {e}")))?;
    let Value::Object(obj) = &value else {
        return Err(bad_line(n, "want one JSON object per line"));
    };
    if let Some(k) = obj.keys().find(|k| !NDJSON_KEYS.contains(&k.as_str())) {
        let why = format!("unknown field {k:?} (known: {})", NDJSON_KEYS.join(", "));
        return Err(bad_line(n, why));
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
    let mut params: CreateUsageRecordGroupParams = serde_json::from_value(value)
        .map_err(|e| bad_line(n, format!("not a usage record group: {e}")))?;
    params.timestamp = params.timestamp.map(|t| t.to_offset(UtcOffset::UTC));
    Ok(FileGroup {
        line: n,
        params,
        source: IdSource::Content,
    })
}

/// A file's group as a batch item (batch items carry no id).
pub(crate) fn to_item(g: &FileGroup) -> NewUsageRecordGroup {
    NewUsageRecordGroup {
        entitlement_id: g.params.entitlement_id.clone(),
        records: g.params.records.clone(),
        billable_records: g.params.billable_records.clone(),
        timestamp: g.params.timestamp,
        meta_info: None,
    }
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
