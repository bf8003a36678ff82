//! One report's state, from what the outbox knows, the group Suger lists, and its report.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use super::local::Known;
use super::types::{ReconcileItem, ReconcileState};
use crate::api::common::Partner;
use crate::api::usage_record_group::{MeteringUsageRecordGroup, UsageRecordGroupStatus};
use crate::api::usage_record_report::{
    MarketplaceVerdict, MeteringUsageRecordReport, UsageRecordReportStatus,
};
use crate::durable::ledger::hour_of;

/// The item of one report. `known` is what the outbox directory knows (none for an
/// unexpected group), `group` what Suger lists (none when it does not), `report` the usage
/// record report that carried the group.
pub(crate) fn classify(
    known: Option<&Known>,
    group: Option<&MeteringUsageRecordGroup>,
    report: Option<&MeteringUsageRecordReport>,
) -> ReconcileItem {
    let mut item = ReconcileItem {
        id: known.map_or_else(
            || group.map(|g| g.id.clone()).unwrap_or_default(),
            |k| k.id.clone(),
        ),
        entitlement_id: known.map_or_else(
            || group.map(|g| g.entitlement_id.clone()).unwrap_or_default(),
            |k| k.entitlement_id.clone(),
        ),
        hour: known
            .and_then(|k| k.hour)
            .or_else(|| group.and_then(group_hour)),
        sent: known.map(Known::sent).unwrap_or_default(),
        recorded_at: known.and_then(|k| k.recorded_at),
        partner: group
            .and_then(|g| g.partner.clone())
            .or_else(|| report.and_then(|r| r.partner.clone()))
            .filter(|p| *p != Partner::Unspecified),
        group_status: group.and_then(|g| g.status.clone()),
        report_id: report.map(|r| r.id.clone()),
        ..Default::default()
    };
    item.verdict = match (group, report) {
        (Some(g), Some(r)) => Some(r.verdict_for_group(g).unwrap_or_else(|| r.verdict())),
        _ => None,
    };
    let (state, message) = state_of(known, group, report, item.verdict.as_ref());
    item.state = Some(state);
    item.message = message;
    if matches!(
        state,
        ReconcileState::Reported | ReconcileState::AwaitingReport
    ) && let (Some(k), Some(g)) = (known, group)
        && let Some((at_suger, why)) = mismatch(k, g)
    {
        item.state = Some(ReconcileState::Mismatch);
        item.message = why;
        item.at_suger = Some(at_suger);
    }
    if let Some(MarketplaceVerdict::Accepted { record_id }) = &item.verdict {
        item.marketplace_record_id = record_id.clone();
    }
    item
}

fn state_of(
    known: Option<&Known>,
    group: Option<&MeteringUsageRecordGroup>,
    report: Option<&MeteringUsageRecordReport>,
    verdict: Option<&MarketplaceVerdict>,
) -> (ReconcileState, String) {
    use ReconcileState as S;
    if let Some(k) = known
        && let Some(local) = k.local
    {
        let message = match (local, group) {
            (S::Pending, Some(_)) => {
                "still in the outbox, and listed by Suger: its resend is answered 409 and settles it".to_owned()
            }
            (S::Pending, None) => "still in the outbox: not recorded by Suger yet".to_owned(),
            _ => k.message.clone(),
        };
        return (local, message);
    }
    let Some(g) = group else {
        if known.is_none() {
            return (
                S::Missing,
                "neither the outbox nor Suger knows it".to_owned(),
            );
        }
        let when = known
            .and_then(|k| k.recorded_at)
            .map_or_else(String::new, |t| format!(" at {t}"));
        return (
            S::Missing,
            format!("Suger answered that it recorded it{when}, but does not list it"),
        );
    };
    let status = g
        .status
        .clone()
        .unwrap_or(UsageRecordGroupStatus::Other(String::new()));
    let report_status = report
        .and_then(|r| r.info.as_ref())
        .and_then(|i| i.status.clone());
    let report_message = report
        .and_then(|r| r.info.as_ref())
        .map(|i| i.message.trim().to_owned())
        .filter(|m| !m.is_empty());
    let (state, message) = match status {
        UsageRecordGroupStatus::Deleted => (S::Deleted, "DELETED at Suger".to_owned()),
        UsageRecordGroupStatus::Invalid => (
            S::Invalid,
            "INVALID at Suger: it refused the content".to_owned(),
        ),
        UsageRecordGroupStatus::ReportFailed => (
            S::Failed,
            report_message
                .or_else(|| verdict.map(|v| format!("REPORT_FAILED at Suger: {v}")))
                .unwrap_or_else(|| "REPORT_FAILED at Suger".to_owned()),
        ),
        UsageRecordGroupStatus::Created | UsageRecordGroupStatus::ReportPending => (
            S::AwaitingReport,
            format!(
                "{} at Suger: not forwarded to the marketplace yet",
                status.as_str()
            ),
        ),
        UsageRecordGroupStatus::Reported => match report_status {
            Some(UsageRecordReportStatus::Failed) => (
                S::Failed,
                report_message.unwrap_or_else(|| match verdict {
                    Some(v) => format!("the marketplace refused the report: {v}"),
                    None => "the marketplace refused the report".to_owned(),
                }),
            ),
            // The marketplace is trusted over Suger: a record it refused in a SUCCESS report
            // is not billed.
            Some(UsageRecordReportStatus::Success) => match verdict {
                Some(MarketplaceVerdict::Accepted { .. }) | None => (S::Reported, String::new()),
                Some(v @ MarketplaceVerdict::Unknown { .. }) => (
                    S::Reported,
                    format!("SUCCESS at Suger; the marketplace's answer was not recognised ({v})"),
                ),
                Some(v) => (
                    S::Failed,
                    format!("SUCCESS at Suger, but the marketplace answered {v}"),
                ),
            },
            Some(other) => (
                S::AwaitingReport,
                format!(
                    "REPORTED at Suger, but its report's status is {:?}",
                    other.as_str()
                ),
            ),
            None if report.is_some() => (
                S::AwaitingReport,
                "REPORTED at Suger, but its report has no status".to_owned(),
            ),
            None => (
                S::AwaitingReport,
                format!(
                    "REPORTED at Suger, but its report {:?} is not listed",
                    g.usage_record_report_id
                ),
            ),
        },
        _ => (
            S::AwaitingReport,
            format!(
                "status {:?} at Suger (unknown to this version)",
                status.as_str()
            ),
        ),
    };
    if known.is_none() {
        return (
            S::Unexpected,
            format!(
                "not sent by this outbox; {}",
                if message.is_empty() {
                    status.as_str().to_owned()
                } else {
                    message
                }
            ),
        );
    }
    (state, message)
}

/// The usage hour of a listed group: its `metaInfo.timestamp`, else its creation time.
pub(crate) fn group_hour(g: &MeteringUsageRecordGroup) -> Option<OffsetDateTime> {
    g.meta_info
        .as_ref()
        .and_then(|m| m.timestamp)
        .or(g.creation_time)
        .map(hour_of)
}

/// What Suger lists, when it differs from what was sent: `metaInfo.originRecords` (before
/// dimension mapping) when present, else `records`; v2 records summed per key.
fn mismatch(k: &Known, g: &MeteringUsageRecordGroup) -> Option<(BTreeMap<String, f64>, String)> {
    let meta = g.meta_info.as_ref();
    let mut at_suger = match meta.map(|m| &m.origin_records) {
        Some(origin) if !origin.is_empty() => origin.clone(),
        _ => g.records.clone(),
    };
    for r in meta
        .map(|m| m.billable_records.as_slice())
        .unwrap_or_default()
    {
        *at_suger.entry(r.key.clone()).or_insert(0.0) += r.quantity;
    }
    let sent = k.sent();
    let mut differ: Vec<String> = Vec::new();
    let keys: std::collections::BTreeSet<&String> = sent.keys().chain(at_suger.keys()).collect();
    for key in keys {
        let (a, b) = (
            sent.get(key).copied().unwrap_or(0.0),
            at_suger.get(key).copied().unwrap_or(0.0),
        );
        if !same(a, b) {
            differ.push(format!("{key}: sent {a}, Suger lists {b}"));
        }
    }
    (!differ.is_empty()).then(|| {
        (
            at_suger,
            format!("other quantities at Suger: {}", differ.join("; ")),
        )
    })
}

/// Equal up to the rounding of a JSON round trip.
fn same(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}
