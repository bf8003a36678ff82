//! The one home of "how a report id is made": the rules the API sets for ids, and every id the
//! crate makes (random ids, ids from the usage's identity, ids from its content, the meter's
//! window ids). The client, the outbox, the meter and the CLI call these; changing any formula
//! here changes ids that users' re-runs rely on, so each is pinned by a test.

use std::collections::BTreeMap;

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use crate::api::usage_record_group::models::CreateUsageRecordGroupParams;
use crate::http::error::{Error, Result};

/// Longest `id` of a usage record group the API accepts.
pub const MAX_USAGE_RECORD_GROUP_ID_LEN: usize = 36;

/// Refuses an empty path id.
pub(crate) fn check_id(field: &'static str, id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    Ok(())
}

/// A new random id (UUID v4, 36 characters) for a usage report that has none.
pub(crate) fn new_report_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A stable usage record group id derived from your own data: the same `entitlement_id` and
/// `key` give the same id on every run, on every machine, forever; different entitlements never
/// share an id.
///
/// Suger deduplicates reports on their id (a repeat is answered 409, which
/// [`Error::is_already_reported`] calls recorded), and ids are unique per *organization*, so an id
/// must tell apart your customers as well as your usage periods. `"{entitlement}-{hour}"` is
/// tempting, but does not fit the 36-character limit when the entitlement id is itself a UUID.
/// This helper hashes both into a UUID v5 (36 characters).
///
/// `key` is whatever identifies the usage within the entitlement: the usage hour for an hourly
/// job (`"2026-11-26T14"`), a batch or file name, an invoice line.
///
/// ```
/// use suger_metering::usage_record_group_id;
/// let id = usage_record_group_id("entitlement-1", "2026-11-26T14");
/// assert_eq!(id, usage_record_group_id("entitlement-1", "2026-11-26T14"));
/// assert_ne!(id, usage_record_group_id("entitlement-2", "2026-11-26T14"));
/// assert_eq!(id.len(), 36);
/// ```
pub fn usage_record_group_id(entitlement_id: &str, key: &str) -> String {
    // Length-prefixed, so that ("a-b", "c") and ("a", "b-c") differ.
    let name = format!("{}:{entitlement_id}{key}", entitlement_id.len());
    uuid::Uuid::new_v5(&namespace(), name.as_bytes()).to_string()
}

/// The namespace of [`usage_record_group_id`]: UUID v5 of the URL namespace and Suger's usage
/// record group URL. Fixed forever: changing it would change every derived id.
fn namespace() -> uuid::Uuid {
    uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_URL,
        b"https://api.suger.cloud/usageRecordGroup",
    )
}

/// The id of revision `revision` of the usage whose identity id is `identity_id`: revision 1
/// is `identity_id` itself; a later one (a correction reported after the first was recorded,
/// see [`Outbox::enqueue_revised`](crate::Outbox::enqueue_revised)) is
/// `usage_record_group_id(entitlement_id, "{identity_id}#r{revision}")`. Stable forever, so a
/// re-run of a correction is answered "already recorded", never billed twice.
///
/// ```
/// use suger_metering::{usage_record_group_id, usage_record_group_revision_id};
/// let base = usage_record_group_id("entitlement-1", "2026-11-26T14:00:00Z");
/// assert_eq!(usage_record_group_revision_id("entitlement-1", &base, 1), base);
/// assert_eq!(
///     usage_record_group_revision_id("entitlement-1", &base, 2),
///     usage_record_group_id("entitlement-1", &format!("{base}#r2"))
/// );
/// ```
pub fn usage_record_group_revision_id(
    entitlement_id: &str,
    identity_id: &str,
    revision: u32,
) -> String {
    if revision <= 1 {
        return identity_id.to_owned();
    }
    usage_record_group_id(entitlement_id, &format!("{identity_id}#r{revision}"))
}

/// The key of usage identified by when it happened: the timestamp in RFC 3339, UTC, whole
/// seconds or more precise as given (`2026-11-26T14:00:00Z`). With [`usage_record_group_id`] it
/// gives the id of "this entitlement's usage at this time", whatever its quantities: a corrected
/// re-export of the same hour gets the same id (the CLI's default for usage with a timestamp).
///
/// ```
/// use suger_metering::{time_key, usage_record_group_id};
/// use suger_metering::time::OffsetDateTime;
/// let t = OffsetDateTime::from_unix_timestamp(1_795_701_600)?; // 2026-11-26T14:00:00Z
/// assert_eq!(time_key(t), "2026-11-26T14:00:00Z");
/// let id = usage_record_group_id("entitlement-1", &time_key(t));
/// # Ok::<(), suger_metering::time::error::ComponentRange>(())
/// ```
pub fn time_key(timestamp: OffsetDateTime) -> String {
    timestamp
        .to_offset(UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// The identity key of usage: what identifies it within its entitlement, for
/// [`usage_record_group_id`]. The usage's time ([`time_key`]), a scope you choose (a batch or
/// file name, a source: what `suger-metering --id-key` gives), or both as `"{scope}/{time}"`;
/// `None` when neither is known (such usage has no identity: give it an id).
///
/// Give a scope when two sources report the same entitlement and hour (different dimensions
/// from different files): with the time alone they would share an id, and the second would be
/// answered "already recorded".
///
/// ```
/// use suger_metering::usage_identity_key;
/// use suger_metering::time::OffsetDateTime;
/// let t = OffsetDateTime::from_unix_timestamp(1_795_701_600)?; // 2026-11-26T14:00:00Z
/// assert_eq!(usage_identity_key(None, Some(t)).as_deref(), Some("2026-11-26T14:00:00Z"));
/// assert_eq!(usage_identity_key(Some("storage"), Some(t)).as_deref(), Some("storage/2026-11-26T14:00:00Z"));
/// assert_eq!(usage_identity_key(Some("run-7"), None).as_deref(), Some("run-7"));
/// assert_eq!(usage_identity_key(None, None), None);
/// # Ok::<(), suger_metering::time::error::ComponentRange>(())
/// ```
pub fn usage_identity_key(
    scope: Option<&str>,
    timestamp: Option<OffsetDateTime>,
) -> Option<String> {
    match (scope, timestamp) {
        (Some(scope), Some(t)) => Some(format!("{scope}/{}", time_key(t))),
        (Some(scope), None) => Some(scope.to_owned()),
        (None, Some(t)) => Some(time_key(t)),
        (None, None) => None,
    }
}

/// A usage record group id derived from the group's **content**: the entitlement, the usage
/// (records or billable records with their properties) and the timestamp; not the id or the
/// organization. Two reports of identical content get the same id; a corrected quantity gets
/// another id (and so is billed again: prefer [`usage_record_group_id`] with the usage's
/// identity). This is the id `suger-metering report --file --id-from content` gives, and the
/// default of files reported before version 0.2: it never changes.
///
/// ```
/// use suger_metering::{CreateUsageRecordGroupParams, usage_record_group_content_id};
/// let p = CreateUsageRecordGroupParams {
///     entitlement_id: "e1".into(),
///     records: [("api_calls".to_string(), 2.0)].into(),
///     ..Default::default()
/// };
/// assert_eq!(usage_record_group_content_id(&p), usage_record_group_content_id(&p.clone()));
/// ```
pub fn usage_record_group_content_id(params: &CreateUsageRecordGroupParams) -> String {
    uuid::Uuid::new_v5(&content_namespace(), content_canonical(params).as_bytes()).to_string()
}

/// The namespace of content ids (a v5 UUID of this crate's URL). Fixed forever.
fn content_namespace() -> uuid::Uuid {
    uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_URL,
        b"https://crates.io/crates/suger-metering#usage-record-group",
    )
}

/// The content a content id is computed from, one item per line: a version line, the
/// entitlement, the timestamp (RFC 3339 in UTC, or empty), then `record DIM=QTY` per v1 record
/// (sorted by dimension) and `billable KEY=QTY PROPS` per v2 record (in the given order,
/// properties sorted by name). Strings are JSON-quoted; quantities are Rust's shortest
/// round-trip decimal. Changing this changes every content id: a re-run would bill twice.
pub(crate) fn content_canonical(p: &CreateUsageRecordGroupParams) -> String {
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let timestamp = p.timestamp.map(time_key).unwrap_or_default();
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

/// The id of one group the meter seals: UUID v5 of the producer id and
/// `"{seq}/{hour}/{entitlement}/{kind}"` (`kind` is `v1` or `v2`), so that sealing the same
/// events again gives the same ids.
pub(crate) fn window_id(
    producer: &uuid::Uuid,
    seq: u64,
    hour: u64,
    entitlement: &str,
    kind: &str,
) -> String {
    uuid::Uuid::new_v5(
        producer,
        format!("{seq}/{hour}/{entitlement}/{kind}").as_bytes(),
    )
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_ids_are_random_v4_uuids() {
        let a = new_report_id();
        let b = new_report_id();
        assert_ne!(a, b);
        let u = uuid::Uuid::parse_str(&a).unwrap();
        assert_eq!(u.get_version_num(), 4);
        assert_eq!(a.len(), 36);
    }

    #[test]
    fn derived_ids_are_pinned_forever() {
        // Pinned values: if this test fails, re-runs of users' jobs would bill twice.
        assert_eq!(
            usage_record_group_id("entitlement-1", "2026-11-26T14"),
            usage_record_group_id("entitlement-1", "2026-11-26T14")
        );
        assert_ne!(
            usage_record_group_id("a-b", "c"),
            usage_record_group_id("a", "b-c")
        );
        let u = uuid::Uuid::parse_str(&usage_record_group_id("e", "k")).unwrap();
        assert_eq!(u.get_version_num(), 5);
        // Computed with the code before ids moved here (and with Python's uuid.uuid5).
        assert_eq!(
            usage_record_group_id("entitlement-1", "2026-11-26T14"),
            PINNED_KEY_ID
        );
    }

    const PINNED_KEY_ID: &str = "4ec46858-f512-581c-8d07-a55e1bc6a2f8";

    #[test]
    fn revision_ids_are_pinned_forever() {
        // Pinned: a re-run of a correction must find the same id (answered 409, not billed).
        assert_eq!(
            usage_record_group_revision_id("entitlement-1", PINNED_KEY_ID, 1),
            PINNED_KEY_ID
        );
        let r2 = usage_record_group_revision_id("entitlement-1", PINNED_KEY_ID, 2);
        assert_eq!(
            r2,
            usage_record_group_id("entitlement-1", &format!("{PINNED_KEY_ID}#r2"))
        );
        assert_eq!(r2, PINNED_R2_ID);
        assert_ne!(
            r2,
            usage_record_group_revision_id("entitlement-1", PINNED_KEY_ID, 3)
        );
        assert_ne!(
            r2,
            usage_record_group_revision_id("entitlement-2", PINNED_KEY_ID, 2)
        );
    }

    // Computed with Python's uuid.uuid5.
    const PINNED_R2_ID: &str = "1b683720-9015-59c6-9585-1e0b9230d63f";

    #[test]
    fn window_ids_are_pinned_forever() {
        // The meter's formula before this module owned it: recovery of an old journal must
        // seal under the same ids.
        let producer = uuid::Uuid::from_u128(7);
        assert_eq!(
            window_id(&producer, 3, 10, "a", "v1"),
            uuid::Uuid::new_v5(&producer, b"3/10/a/v1").to_string()
        );
        assert_eq!(
            window_id(&producer, 3, 10, "a", "v1"),
            "7ecb9025-743c-5d4b-a5c5-8d32b5d6e7f8"
        );
    }

    #[test]
    fn time_keys_are_utc_rfc3339() {
        let t = OffsetDateTime::parse("2026-03-01T12:00:00+02:00", &Rfc3339).unwrap();
        assert_eq!(time_key(t), "2026-03-01T10:00:00Z");
    }

    #[test]
    fn content_ids_are_pinned_and_ignore_the_id_org_and_offset() {
        let p = CreateUsageRecordGroupParams {
            entitlement_id: "e1".into(),
            timestamp: Some(OffsetDateTime::parse("2026-03-01T12:00:00+02:00", &Rfc3339).unwrap()),
            records: [("b".to_string(), 1.5), ("a".to_string(), 2.0)].into(),
            ..Default::default()
        };
        assert_eq!(
            content_canonical(&p),
            "suger-metering usage record group v1\nentitlement \"e1\"\ntimestamp \"2026-03-01T10:00:00Z\"\nrecord \"a\"=2\nrecord \"b\"=1.5\n"
        );
        // Pinned (computed with the CLI's code before the move, checked with Python's
        // uuid.uuid5): a change here makes re-running an old file bill twice.
        assert_eq!(
            usage_record_group_content_id(&p),
            "73c373a7-37b6-51f7-8402-3b4644056631"
        );
        let mut other = p.clone();
        other.id = Some("x".into());
        other.organization_id = "org".into();
        assert_eq!(
            usage_record_group_content_id(&other),
            usage_record_group_content_id(&p)
        );
        other.entitlement_id = "e2".into();
        assert_ne!(
            usage_record_group_content_id(&other),
            usage_record_group_content_id(&p)
        );
    }

    #[test]
    fn billable_properties_are_sorted_in_the_canonical_form() {
        let p: CreateUsageRecordGroupParams = serde_json::from_str(
            r#"{"entitlementID":"e","billableRecords":[{"key":"k","quantity":3,"properties":{"z":{"b":1,"a":[2]},"m":"x"}}]}"#,
        )
        .unwrap();
        assert!(
            content_canonical(&p)
                .ends_with("billable \"k\"=3 {\"m\":\"x\",\"z\":{\"a\":[2],\"b\":1}}\n")
        );
    }
}
