//! Checks of usage before it is sent: what the API (and the marketplaces) would refuse.

use std::collections::BTreeMap;

use time::{Duration, OffsetDateTime};

use super::models::{CreateUsageRecordGroupParams, MeteringUsageRecord, NewUsageRecordGroup};
use crate::error::{Error, Result};
use crate::ids::{MAX_USAGE_RECORD_GROUP_ID_LEN, check_id};

/// How far in the future a usage `timestamp` may lie (clock skew between hosts).
pub(crate) const MAX_FUTURE_SKEW: Duration = Duration::minutes(5);

/// Checks a single report before anything is sent or written: the entitlement, the id, the
/// usage and its timestamp.
pub(crate) fn check_report(
    entitlement_id: &str,
    params: &CreateUsageRecordGroupParams,
) -> Result<()> {
    check_id("entitlement_id", entitlement_id)?;
    if let Some(id) = &params.id {
        check_id("id", id)?;
        if id.chars().count() > MAX_USAGE_RECORD_GROUP_ID_LEN {
            return Err(Error::invalid(
                "id",
                format!("is longer than {MAX_USAGE_RECORD_GROUP_ID_LEN} characters"),
            ));
        }
    }
    check_timestamp(params.timestamp)?;
    if !check_usage(
        &params.records,
        &params.billable_records,
        params.meta_info.is_some(),
    )? {
        return Err(Error::invalid("records", ALL_ZERO));
    }
    Ok(())
}

/// Refuses a usage time more than [`MAX_FUTURE_SKEW`] ahead of this machine's clock: the
/// marketplaces refuse future usage.
fn check_timestamp(timestamp: Option<OffsetDateTime>) -> Result<()> {
    if let Some(t) = timestamp
        && t > OffsetDateTime::now_utc() + MAX_FUTURE_SKEW
    {
        return Err(Error::invalid(
            "timestamp",
            format!("{t} is more than 5 minutes in the future"),
        ));
    }
    Ok(())
}

/// Checks the usage of one group: exactly one of records/billable records, finite quantities,
/// no metaInfo. Returns whether any quantity is non-zero.
fn check_usage(
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
    if records.keys().any(String::is_empty) {
        return Err(Error::invalid("records", "a dimension name is empty"));
    }
    if billable_records.iter().any(|r| r.key.is_empty()) {
        return Err(Error::invalid(
            "billable_records",
            "a billable metric key is empty",
        ));
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
        if q < 0.0 {
            return Err(Error::invalid(
                "records",
                format!("quantity {q} is negative (the marketplaces refuse negative usage)"),
            ));
        }
        any_non_zero |= q != 0.0;
    }
    Ok(any_non_zero)
}

const ALL_ZERO: &str = "every quantity is zero (the server rejects this)";

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
        check_timestamp(g.timestamp)?;
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
