//! Ids derived from a usage record group's content, so that re-running a usage file reports
//! each group under the same id and Suger records it once.

use std::collections::BTreeMap;

use serde_json::Value;
use suger_metering::CreateUsageRecordGroupParams;
use time::UtcOffset;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

/// The namespace of derived group ids (a v5 UUID of this crate's URL).
fn namespace() -> Uuid {
    Uuid::new_v5(
        &Uuid::NAMESPACE_URL,
        b"https://crates.io/crates/suger-metering#usage-record-group",
    )
}

/// A UUID v5 of the group's entitlement and content (usage and timestamp; not the id or org),
/// computed over [`canonical`] so that it does not depend on how the models serialize.
pub(crate) fn derived_id(p: &CreateUsageRecordGroupParams) -> String {
    Uuid::new_v5(&namespace(), canonical(p).as_bytes()).to_string()
}

/// The content a derived id is computed from, one item per line: a version line, the
/// entitlement, the timestamp (RFC 3339 in UTC, or empty), then `record DIM=QTY` per v1 record
/// (sorted by dimension) and `billable KEY=QTY PROPS` per v2 record (in file order, properties
/// sorted by name). Strings are JSON-quoted; quantities are Rust's shortest round-trip decimal.
/// Changing this changes every derived id: a re-run after such a change would bill twice.
pub(crate) fn canonical(p: &CreateUsageRecordGroupParams) -> String {
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let timestamp = p
        .timestamp
        .and_then(|t| t.to_offset(UtcOffset::UTC).format(&Rfc3339).ok())
        .unwrap_or_default();
    let mut out = format!(
        "suger-metering usage record group v1\nentitlement {}\ntimestamp {}\n",
        quote(&p.entitlement_id),
        quote(&timestamp)
    );
    for (dim, qty) in &p.records {
        out.push_str(&format!("record {}={qty}\n", quote(dim)));
    }
    for r in &p.billable_records {
        let props: BTreeMap<&String, String> = r
            .properties
            .iter()
            .map(|(k, v)| (k, canonical_json(v)))
            .collect();
        let props: Vec<String> = props
            .iter()
            .map(|(k, v)| format!("{}:{v}", quote(k)))
            .collect();
        out.push_str(&format!(
            "billable {}={} {{{}}}\n",
            quote(&r.key),
            r.quantity,
            props.join(",")
        ));
    }
    out
}

/// JSON with object keys sorted at every level.
fn canonical_json(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let sorted: BTreeMap<&String, String> =
                m.iter().map(|(k, v)| (k, canonical_json(v))).collect();
            let items: Vec<String> = sorted
                .iter()
                .map(|(k, v)| format!("{}:{v}", serde_json::to_string(k).unwrap_or_default()))
                .collect();
            format!("{{{}}}", items.join(","))
        }
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(canonical_json).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}
