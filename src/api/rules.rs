//! The one home of "what a valid usage report is": what the API (and the marketplaces) would
//! refuse, checked before anything is sent or written. The client, the outbox, the meter and
//! the CLI (through [`MeteringClient::check_usage_record_group`](crate::MeteringClient)) all call
//! these; nothing else states a usage rule.

use std::collections::BTreeMap;

use time::{Duration, OffsetDateTime};

use crate::api::ids::{MAX_USAGE_RECORD_GROUP_ID_LEN, check_id};
use crate::api::usage_record_group::models::{
    CreateUsageRecordGroupParams, MeteringUsageRecord, NewUsageRecordGroup,
};
use crate::http::error::{Error, Result};

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

/// Refuses an empty name (an entitlement, a dimension, a billable metric key) in `field`.
pub(crate) fn check_name(field: &'static str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    Ok(())
}

/// Refuses a quantity the marketplaces would refuse: negative, NaN or infinite.
pub(crate) fn check_quantity(field: &'static str, q: f64) -> Result<()> {
    if !q.is_finite() {
        return Err(Error::invalid(
            field,
            format!("quantity {q} is not a finite number"),
        ));
    }
    if q < 0.0 {
        return Err(Error::invalid(
            field,
            format!("quantity {q} is negative (the marketplaces refuse negative usage)"),
        ));
    }
    Ok(())
}

/// Refuses a usage time more than [`MAX_FUTURE_SKEW`] ahead of this machine's clock: the
/// marketplaces refuse future usage.
pub(crate) fn check_timestamp(timestamp: Option<OffsetDateTime>) -> Result<()> {
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
        check_quantity("records", q)?;
        any_non_zero |= q != 0.0;
    }
    Ok(any_non_zero)
}

const ALL_ZERO: &str = "every quantity is zero (the server rejects this)";

/// Checks a batch for report or validation.
pub(crate) fn check_batch(groups: &[NewUsageRecordGroup]) -> Result<()> {
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
pub(crate) fn fill_or_match(field: &mut String, name: &'static str, expected: &str) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn v1(records: &[(&str, f64)]) -> CreateUsageRecordGroupParams {
        CreateUsageRecordGroupParams {
            records: records.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            ..Default::default()
        }
    }

    fn refused(params: &CreateUsageRecordGroupParams) -> (&'static str, String) {
        match check_report("ent-1", params) {
            Err(Error::InvalidRequest { field, reason }) => (field, reason),
            other => panic!("expected InvalidRequest, got {other:?}"),
        }
    }

    #[test]
    fn what_the_marketplaces_would_refuse_is_refused_before_sending() {
        let (field, reason) = refused(&v1(&[("api_calls", -1.0)]));
        assert_eq!(field, "records");
        assert!(reason.contains("negative"), "{reason}");
        let (field, reason) = refused(&v1(&[("", 1.0)]));
        assert_eq!(field, "records");
        assert!(reason.contains("dimension name is empty"), "{reason}");
        let v2 = CreateUsageRecordGroupParams {
            billable_records: vec![MeteringUsageRecord::new("", 1.0)],
            ..Default::default()
        };
        assert_eq!(refused(&v2).0, "billable_records");
        let future = CreateUsageRecordGroupParams {
            timestamp: Some(OffsetDateTime::now_utc() + Duration::minutes(6)),
            ..v1(&[("api_calls", 1.0)])
        };
        assert_eq!(refused(&future).0, "timestamp");
        // Within the allowed clock skew, and in the past, it is fine.
        for t in [Duration::minutes(4), Duration::hours(-30)] {
            let ok = CreateUsageRecordGroupParams {
                timestamp: Some(OffsetDateTime::now_utc() + t),
                ..v1(&[("api_calls", 1.0)])
            };
            assert!(check_report("ent-1", &ok).is_ok());
        }
        // A zero quantity beside a non-zero one is fine; negative zero is zero.
        assert!(check_report("ent-1", &v1(&[("a", 0.0), ("b", -0.0), ("c", 2.0)])).is_ok());
    }

    #[test]
    fn batch_items_follow_the_same_rules() {
        let item = |q: f64| NewUsageRecordGroup {
            entitlement_id: "ent-1".into(),
            records: [("api_calls".to_string(), q)].into(),
            ..Default::default()
        };
        assert!(check_batch(&[item(1.0), item(-2.0)]).is_err());
        let future = NewUsageRecordGroup {
            timestamp: Some(OffsetDateTime::now_utc() + Duration::hours(1)),
            ..item(1.0)
        };
        assert!(matches!(
            check_batch(&[future]),
            Err(Error::InvalidRequest {
                field: "timestamp",
                ..
            })
        ));
    }
}
