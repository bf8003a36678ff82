//! One pending report as a file: its format, its name (derived from its id: the index of what
//! is pending) and how it is read back.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::api::usage_record_group::CreateUsageRecordGroupParams;

/// One pending report, as stored in `pending/<name>`.
#[derive(Serialize, Deserialize)]
pub(crate) struct Entry {
    /// Format version of the file.
    pub(crate) format: u32,
    #[serde(rename = "entitlementId")]
    pub(crate) entitlement_id: String,
    #[serde(rename = "enqueuedAt", with = "time::serde::rfc3339")]
    pub(crate) enqueued_at: OffsetDateTime,
    /// The report, with its id.
    pub(crate) params: CreateUsageRecordGroupParams,
    /// Failed sends of this entry so far (a 5xx, a timeout, an unknown outcome): its own
    /// backoff, so that one failing report never holds back the others.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) attempts: u32,
    /// Not sent again before this time (after a failure about this entry).
    #[serde(
        rename = "retryAt",
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub(crate) retry_at: Option<OffsetDateTime>,
    /// The identity id of the usage this report revises (its first report's id), for
    /// [`Outbox::enqueue_revised`](crate::Outbox::enqueue_revised); written to the ledger.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) identity: Option<String>,
    /// Which revision of that usage this report is (1: the first report).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) revision: Option<u32>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Entry {
    /// The report's id (checked non-empty by [`read`]).
    pub(crate) fn id(&self) -> &str {
        self.params.id.as_deref().unwrap_or_default()
    }

    /// When the usage happened: its timestamp, else when it was enqueued.
    pub(crate) fn usage_time(&self) -> OffsetDateTime {
        self.params.timestamp.unwrap_or(self.enqueued_at)
    }

    /// `true` when `other` reports the same usage (entitlement and report, whatever the
    /// enqueue time and backoff).
    pub(crate) fn same_report(&self, other: &Entry) -> bool {
        self.entitlement_id == other.entitlement_id
            && serde_json::to_value(&self.params).ok() == serde_json::to_value(&other.params).ok()
    }
}

/// The file name of the report with this id: the id itself where it is made of `a-z`, `0-9` and
/// `-`, any other byte written `_xx` (hex), so that two ids never share a name, not even on a
/// case-insensitive file system. An id whose name would be too long for a file system is named
/// `~` and the UUID v5 of the id.
pub(crate) fn file_name(id: &str) -> String {
    let mut name = String::with_capacity(id.len() + 5);
    for b in id.bytes() {
        match b {
            b'a'..=b'z' | b'0'..=b'9' | b'-' => name.push(char::from(b)),
            _ => {
                let _ = write!(name, "_{b:02x}");
            }
        }
    }
    if name.len() > 200 {
        const NAMESPACE: uuid::Uuid =
            uuid::Uuid::from_u128(0x5d1e_97a4_3c1b_4f0e_9a47_0b8c_e2f1_7d63);
        name = format!("~{}", uuid::Uuid::new_v5(&NAMESPACE, id.as_bytes()));
    }
    name.push_str(".json");
    name
}

/// Why an entry could not be read.
pub(crate) enum ReadError {
    /// The file is gone (sent and removed, or moved, meanwhile).
    Gone,
    /// The file is not a report: the text says why.
    Damaged(String),
}

/// Reads and checks one entry, with its size on disk.
pub(crate) fn read(path: &Path) -> Result<(Entry, u64), ReadError> {
    let bytes = fs::read(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => ReadError::Gone,
        _ => ReadError::Damaged(format!("cannot be read: {e}")),
    })?;
    let entry: Entry = serde_json::from_slice(&bytes)
        .map_err(|e| ReadError::Damaged(format!("is not a report: {e}")))?;
    if entry.entitlement_id.is_empty() || entry.params.id.as_deref().is_none_or(str::is_empty) {
        return Err(ReadError::Damaged(
            "has no entitlement id or no report id".into(),
        ));
    }
    Ok((entry, bytes.len() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_id_made_safe_and_never_shared() {
        assert_eq!(
            file_name("9a1c0b5e-1d2f-5c3a-8b4e-6f7a8b9c0d1e"),
            "9a1c0b5e-1d2f-5c3a-8b4e-6f7a8b9c0d1e.json"
        );
        assert_eq!(file_name("id/with?odd"), "id_2fwith_3fodd.json");
        // Case and the escape character itself are encoded: no two ids share a name.
        assert_ne!(file_name("Ab"), file_name("ab"));
        assert_ne!(file_name("a_41"), file_name("aA"));
        assert_eq!(file_name(".."), "_2e_2e.json");
        let long = "\u{10348}".repeat(36);
        let name = file_name(&long);
        assert!(name.starts_with('~') && name.len() < 60, "{name}");
        assert_ne!(name, file_name(&"\u{10349}".repeat(36)));
    }
}
