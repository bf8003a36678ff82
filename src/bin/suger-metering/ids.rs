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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{parse_csv, parse_ndjson};

    #[test]
    fn derived_ids_are_pinned_and_ignore_the_id_org_and_offset() {
        let text = "entitlement_id,dimension,quantity,timestamp\ne1,b,1.5,2026-03-01T12:00:00+02:00\ne1,a,2,2026-03-01T10:00:00Z\n";
        let groups = parse_csv(text).unwrap();
        assert_eq!(groups.len(), 1);
        let p = &groups[0].params;
        assert_eq!(
            canonical(p),
            "suger-metering usage record group v1\nentitlement \"e1\"\ntimestamp \"2026-03-01T10:00:00Z\"\nrecord \"a\"=2\nrecord \"b\"=1.5\n"
        );
        // Pinned (checked with Python's uuid.uuid5): a change here makes re-running an old
        // file bill twice.
        assert_eq!(p.id.as_deref(), Some(derived_id(p).as_str()));
        assert_eq!(derived_id(p), "73c373a7-37b6-51f7-8402-3b4644056631");
        let mut other = p.clone();
        other.id = Some("x".into());
        other.organization_id = "org".into();
        assert_eq!(derived_id(&other), derived_id(p));
        other.entitlement_id = "e2".into();
        assert_ne!(derived_id(&other), derived_id(p));
    }

    #[test]
    fn billable_properties_are_sorted_in_the_canonical_form() {
        let line = r#"{"entitlementID":"e","billableRecords":[{"key":"k","quantity":3,"properties":{"z":{"b":1,"a":[2]},"m":"x"}}]}"#;
        let groups = parse_ndjson(line).unwrap();
        assert!(
            canonical(&groups[0].params)
                .ends_with("billable \"k\"=3 {\"m\":\"x\",\"z\":{\"a\":[2],\"b\":1}}\n")
        );
    }
}
