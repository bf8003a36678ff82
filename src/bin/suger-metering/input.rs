//! Small inputs: file reading, `--record`/`--billable` values, JSON object files and the list
//! filters. Usage files are in `usage_file.rs`.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::exit::Failure;

/// The CSV column names of a usage file (`--column` maps other header names onto them).
pub(crate) const CSV_COLUMNS: [&str; 5] =
    ["entitlement_id", "dimension", "quantity", "timestamp", "id"];

/// `path` for messages (`stdin` for `-`).
pub(crate) fn display(path: &Path) -> String {
    if path == Path::new("-") {
        "stdin".to_string()
    } else {
        path.display().to_string()
    }
}

/// Reads a small file whole (`-` for stdin): a JSON object, a seed, a key. Usage files are
/// streamed instead (`usage_file.rs`).
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

/// Copies the shared `ListArgs` filters (typed by clap) into either listing's query (same
/// field names).
macro_rules! set_filters {
    ($q:ident, $f:ident) => {
        $q.entitlement_id = $f.entitlement.clone();
        $q.buyer_id = $f.buyer.clone();
        $q.partner = $f.partner.clone();
        $q.start_date = $f.from;
        $q.end_date = $f.to;
        $q.limit = $f.limit;
        $q.offset = $f.offset;
    };
}

pub(crate) use set_filters;

/// Reads a JSON object file into `T`, refusing fields `T` does not know (they would be
/// silently dropped, and a read-modify-write would lose them).
pub(crate) fn read_json_file<T: DeserializeOwned + Serialize>(
    path: &std::path::Path,
    what: &str,
) -> Result<T, Failure> {
    let text = read_text(path)?;
    let bad = |why: String| {
        Failure::usage(
            format!("{}: {why}", path.display()),
            format!("give {what} as a JSON object; nothing was sent"),
        )
    };
    let value: Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("invalid JSON: {e}")))?;
    if !value.is_object() {
        return Err(bad("not a JSON object".into()));
    }
    let typed: T =
        serde_json::from_value(value.clone()).map_err(|e| bad(format!("not {what}: {e}")))?;
    let back = serde_json::to_value(&typed).unwrap_or(Value::Null);
    let mut lost = Vec::new();
    lost_fields(&value, &back, "", &mut lost);
    if !lost.is_empty() {
        return Err(bad(format!(
            "fields this version of suger-metering does not know would be lost: {}",
            lost.join(", ")
        )));
    }
    Ok(typed)
}

/// Paths of non-empty values in `given` that are missing from `kept`.
fn lost_fields(given: &Value, kept: &Value, path: &str, out: &mut Vec<String>) {
    match (given, kept) {
        (Value::Object(g), Value::Object(k)) => {
            for (key, v) in g {
                let p = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match k.get(key) {
                    Some(kv) => lost_fields(v, kv, &p, out),
                    None if !is_empty(v) => out.push(p),
                    None => {}
                }
            }
        }
        (Value::Array(g), Value::Array(k)) => {
            for (i, (gv, kv)) in g.iter().zip(k).enumerate() {
                lost_fields(gv, kv, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.values().all(is_empty),
    }
}
