//! [`MeteringUsageRecordReport::verdict`]: a report's `info` and the marketplace's answer,
//! folded into one [`MarketplaceVerdict`].

use serde_json::{Value, json};

use super::answer::classify_text;
use super::marketplace;
use super::models::{MeteringUsageRecordReport, UsageRecordReportStatus};
use super::verdict::{MarketplaceRecordVerdict, MarketplaceVerdict};
use crate::api::usage_record_group::MeteringUsageRecordGroup;

/// The worst verdict among `records` that is not accepted, if any.
fn worst(records: &[MarketplaceRecordVerdict]) -> Option<MarketplaceVerdict> {
    records
        .iter()
        .filter(|r| !r.verdict.is_accepted())
        .min_by_key(|r| r.verdict.rank())
        .map(|r| r.verdict.clone())
}

/// The id of the first accepted record.
fn first_id(records: &[MarketplaceRecordVerdict]) -> Option<String> {
    records.iter().find_map(|r| match &r.verdict {
        MarketplaceVerdict::Accepted { record_id } => record_id.clone(),
        _ => None,
    })
}

impl MeteringUsageRecordReport {
    /// The marketplace's verdict for this report as a whole (from `info.status`/`message` and
    /// the partner's response), and per usage record group when the response tells them apart
    /// (see [`verdict_for_group`](Self::verdict_for_group)).
    ///
    /// * `info.status` `SUCCESS`: the worst refused record if the marketplace's answer refuses
    ///   any (the marketplace is trusted over Suger), else `Accepted` (with the first record id).
    ///   A `SUCCESS` whose answer is present but unreadable is `Unknown`.
    /// * `FAILED`: the worst refused record, else what `info.message` names (AWS exception
    ///   names, Azure codes, "not subscribed", "expired", ...), else `Unknown`. Never accepted.
    /// * no status: `Accepted` only when every record of the answer says `Success`/`Accepted`.
    /// * any other status (`CREATED`, `CANCELED`, a new one): a refused record, else `Unknown`.
    ///
    /// AWS, Azure and GCP answers are read with PascalCase, camelCase or snake_case keys, as
    /// a single result or a list, or as a JSON string holding them.
    ///
    /// ```
    /// use suger_metering::{MarketplaceVerdict, MeteringUsageRecordReport};
    /// let report: MeteringUsageRecordReport = serde_json::from_value(serde_json::json!({
    ///     "partner": "AWS",
    ///     "info": {"status": "FAILED", "message": "CustomerNotSubscribed",
    ///              "awsMeteringResponse": {"Results": [{"Status": "CustomerNotSubscribed"}]}}
    /// }))?;
    /// assert!(matches!(report.verdict(), MarketplaceVerdict::NotEntitled { .. }));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn verdict(&self) -> MarketplaceVerdict {
        let Some(info) = &self.info else {
            return MarketplaceVerdict::Unknown { raw: Value::Null };
        };
        let status = info
            .status
            .clone()
            .unwrap_or(UsageRecordReportStatus::Unspecified);
        let answer = marketplace::read(self);
        let records = answer.records.as_deref().unwrap_or_default();
        let suger_raw = || {
            json!({
                "status": status.as_str(),
                "message": info.message,
            })
        };
        let unknown = || MarketplaceVerdict::Unknown {
            raw: answer.raw.clone().unwrap_or_else(suger_raw),
        };
        if let Some(refused) = worst(records) {
            return refused;
        }
        match status {
            UsageRecordReportStatus::Success => match (&answer.records, &answer.raw) {
                (Some(_), _) | (None, None) => MarketplaceVerdict::Accepted {
                    record_id: first_id(records),
                },
                (None, Some(_)) => unknown(),
            },
            UsageRecordReportStatus::Failed => classify_text(&info.message).unwrap_or_else(unknown),
            UsageRecordReportStatus::Unspecified if answer.explicit && !records.is_empty() => {
                MarketplaceVerdict::Accepted {
                    record_id: first_id(records),
                }
            }
            _ => unknown(),
        }
    }

    /// The verdict on each record of the marketplace's answer, in the answer's order (AWS
    /// `Results` then `UnprocessedRecords`; Azure's events; GCP's operations). Empty when the
    /// answer is absent or not recognised.
    ///
    /// ```
    /// use suger_metering::MeteringUsageRecordReport;
    /// let report = MeteringUsageRecordReport::default();
    /// assert!(report.record_verdicts().is_empty());
    /// ```
    pub fn record_verdicts(&self) -> Vec<MarketplaceRecordVerdict> {
        marketplace::read(self).records.unwrap_or_default()
    }

    /// The verdict for one usage record group: `None` when this report does not carry it
    /// (`info.usageRecordGroupIds`). When the marketplace's answer gives per-record verdicts
    /// for the group's dimensions (its `records` keys, or its v2 billable record keys), the
    /// worst of those (or `Accepted` when all were); otherwise the report's
    /// [`verdict`](Self::verdict).
    ///
    /// ```
    /// use suger_metering::{MeteringUsageRecordGroup, MeteringUsageRecordReport};
    /// let report = MeteringUsageRecordReport::default();
    /// let mut group = MeteringUsageRecordGroup::default();
    /// group.id = "g1".into();
    /// assert_eq!(report.verdict_for_group(&group), None);
    /// ```
    pub fn verdict_for_group(
        &self,
        group: &MeteringUsageRecordGroup,
    ) -> Option<MarketplaceVerdict> {
        let info = self.info.as_ref()?;
        if !info.usage_record_group_ids.contains(&group.id) {
            return None;
        }
        let overall = self.verdict();
        let answer = marketplace::read(self);
        // Per record only where a success could be read for the whole report.
        let success = match info.status {
            Some(UsageRecordReportStatus::Success) => true,
            Some(UsageRecordReportStatus::Unspecified) | None => answer.explicit,
            _ => false,
        };
        if !success {
            return Some(overall);
        }
        let mut keys: Vec<&str> = group.records.keys().map(String::as_str).collect();
        if let Some(meta) = &group.meta_info {
            keys.extend(meta.billable_records.iter().map(|r| r.key.as_str()));
        }
        let mine: Vec<MarketplaceRecordVerdict> = answer
            .records
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.dimension.as_deref().is_some_and(|d| keys.contains(&d)))
            .collect();
        if mine.is_empty() {
            return Some(overall);
        }
        Some(worst(&mine).unwrap_or(MarketplaceVerdict::Accepted {
            record_id: first_id(&mine),
        }))
    }
}
