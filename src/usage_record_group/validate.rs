//! Checks of usage before it is sent: what the API (and the marketplaces) would refuse.

use std::collections::BTreeMap;

use super::models::{MeteringUsageRecord, NewUsageRecordGroup};
use crate::error::{Error, Result};

/// Checks the usage of one group: exactly one of records/billable records, finite quantities,
/// no metaInfo. Returns whether any quantity is non-zero.
pub(super) fn check_usage(
    records: &BTreeMap<String, f64>,
    billable_records: &[MeteringUsageRecord],
    meta_info: bool,
) -> Result<bool> {
    if meta_info {
        return Err(Error::invalid(
            "meta_info",
            "is read-only and must not be set when reporting or validating",
        ));
    }
    match (records.is_empty(), billable_records.is_empty()) {
        (false, false) => {
            return Err(Error::invalid(
                "records",
                "give either v1 records or v2 billable_records, not both",
            ));
        }
        (true, true) => {
            return Err(Error::invalid(
                "records",
                "no usage: give v1 records or v2 billable_records",
            ));
        }
        _ => {}
    }
    let quantities = records
        .values()
        .copied()
        .chain(billable_records.iter().map(|r| r.quantity));
    let mut any_non_zero = false;
    for q in quantities {
        if !q.is_finite() {
            return Err(Error::invalid(
                "records",
                format!("quantity {q} is not a finite number"),
            ));
        }
        any_non_zero |= q != 0.0;
    }
    Ok(any_non_zero)
}

pub(super) const ALL_ZERO: &str = "every quantity is zero (the server rejects this)";

/// Checks a batch for report or validation.
pub(super) fn check_batch(groups: &[NewUsageRecordGroup]) -> Result<()> {
    if groups.is_empty() {
        return Err(Error::invalid("usage_record_groups", "the batch is empty"));
    }
    let mut any_non_zero = false;
    for g in groups {
        if g.entitlement_id.is_empty() {
            return Err(Error::invalid("entitlement_id", "must not be empty"));
        }
        any_non_zero |= check_usage(&g.records, &g.billable_records, g.meta_info.is_some())?;
    }
    if !any_non_zero {
        return Err(Error::invalid("records", ALL_ZERO));
    }
    Ok(())
}

/// Fills an empty body field from the path, or refuses a body that names something else.
pub(super) fn fill_or_match(field: &mut String, name: &'static str, expected: &str) -> Result<()> {
    if field.is_empty() {
        expected.clone_into(field);
    } else if field != expected {
        return Err(Error::invalid(
            name,
            format!("the body names {field:?} but the request is for {expected:?}"),
        ));
    }
    Ok(())
}
