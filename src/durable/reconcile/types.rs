//! The typed result of a reconciliation: [`ReconcileState`], [`ReconcileItem`],
//! [`ReconcileReport`], and its options, [`Reconcile`].

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::api::common::Partner;
use crate::api::usage_record_group::UsageRecordGroupStatus;
use crate::api::usage_record_report::MarketplaceVerdict;
use crate::http::serde_util::rfc3339_opt;

/// Where one report stands, from the outbox to the marketplace. Printed in snake_case
/// (`awaiting_report`).
///
/// ```
/// use suger_metering::ReconcileState;
/// assert_eq!(ReconcileState::AwaitingReport.as_str(), "awaiting_report");
/// assert!(ReconcileState::Missing.is_problem());
/// assert!(!ReconcileState::Unexpected.is_problem());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReconcileState {
    /// Suger forwarded it and the marketplace accepted the report (`info.status` `SUCCESS`).
    Reported,
    /// Recorded at Suger, not forwarded yet (`CREATED`, `REPORT_PENDING`).
    AwaitingReport,
    /// `REPORT_FAILED` at Suger, or its report's `info.status` is `FAILED`: the message says why.
    Failed,
    /// `INVALID` at Suger: it refused the content.
    Invalid,
    /// The ledger says Suger recorded it; Suger does not list it.
    Missing,
    /// Suger lists it with other quantities than were sent (see `at_suger`).
    Mismatch,
    /// `DELETED` at Suger.
    Deleted,
    /// Still in the outbox: not recorded by Suger yet.
    Pending,
    /// In the outbox's dead letters: Suger refused it for good.
    Dead,
    /// A group Suger lists for the same entitlements and hours that the ledger does not know
    /// (another producer, or by hand). Not a problem by itself.
    Unexpected,
    /// Was `failed`, inside the marketplace's late-usage window: retried by this
    /// reconciliation (back to `CREATED`, for Suger's next hourly report).
    Retried,
}

impl ReconcileState {
    /// Every state, in the order of their declaration.
    pub const ALL: [ReconcileState; 11] = [
        ReconcileState::Reported,
        ReconcileState::AwaitingReport,
        ReconcileState::Failed,
        ReconcileState::Invalid,
        ReconcileState::Missing,
        ReconcileState::Mismatch,
        ReconcileState::Deleted,
        ReconcileState::Pending,
        ReconcileState::Dead,
        ReconcileState::Unexpected,
        ReconcileState::Retried,
    ];

    /// The snake_case name (`reported`, `awaiting_report`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ReconcileState::Reported => "reported",
            ReconcileState::AwaitingReport => "awaiting_report",
            ReconcileState::Failed => "failed",
            ReconcileState::Invalid => "invalid",
            ReconcileState::Missing => "missing",
            ReconcileState::Mismatch => "mismatch",
            ReconcileState::Deleted => "deleted",
            ReconcileState::Pending => "pending",
            ReconcileState::Dead => "dead",
            ReconcileState::Unexpected => "unexpected",
            ReconcileState::Retried => "retried",
        }
    }

    /// `true` for usage that will not be billed as sent: `failed`, `invalid`, `missing`,
    /// `mismatch` and `dead`.
    pub fn is_problem(self) -> bool {
        matches!(
            self,
            ReconcileState::Failed
                | ReconcileState::Invalid
                | ReconcileState::Missing
                | ReconcileState::Mismatch
                | ReconcileState::Dead
        )
    }
}

impl std::fmt::Display for ReconcileState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One report, reconciled: what was sent, and where it stands.
///
/// Serializes with the CLI's field names: `id`, `entitlementID`, `state`, `hour`, `reportID`,
/// `message`, `sent`, `atSuger` (only for `mismatch`), `partner`, `groupStatus`,
/// `marketplaceRecordID`, `recordedAt`.
///
/// Response-only and `#[non_exhaustive]`: build one from `Default` outside this crate.
///
/// ```
/// use suger_metering::{ReconcileItem, ReconcileState};
/// let mut item = ReconcileItem::default();
/// item.id = "r-1".into();
/// item.state = Some(ReconcileState::Failed);
/// item.message = "the buyer unsubscribed".into();
/// assert!(item.state().is_problem() && !item.is_accepted());
/// assert_eq!(serde_json::to_value(&item)?["state"], "failed");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ReconcileItem {
    /// The usage record group's id (the report id the outbox sent).
    pub id: String,
    /// The entitlement.
    #[serde(rename = "entitlementID")]
    pub entitlement_id: String,
    /// Where it stands. `None` only in a hand-built default.
    pub state: Option<ReconcileState>,
    /// The hour of the usage (UTC).
    #[serde(with = "rfc3339_opt")]
    pub hour: Option<OffsetDateTime>,
    /// The usage record report that carried it to the marketplace, once there is one.
    #[serde(rename = "reportID", skip_serializing_if = "Option::is_none")]
    pub report_id: Option<String>,
    /// Why, in words: the marketplace's message for `failed`, what differs for `mismatch`, ...
    pub message: String,
    /// The usage as sent: v1 records, and v2 billable records summed per key.
    pub sent: BTreeMap<String, f64>,
    /// For `mismatch`: the quantities Suger lists.
    #[serde(rename = "atSuger", skip_serializing_if = "Option::is_none")]
    pub at_suger: Option<BTreeMap<String, f64>>,
    /// The marketplace, when Suger said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partner: Option<Partner>,
    /// The group's status at Suger, when it is listed.
    #[serde(rename = "groupStatus", skip_serializing_if = "Option::is_none")]
    pub group_status: Option<UsageRecordGroupStatus>,
    /// The marketplace's own record id, where its answer has one (AWS `MeteringRecordId`).
    #[serde(
        rename = "marketplaceRecordID",
        skip_serializing_if = "Option::is_none"
    )]
    pub marketplace_record_id: Option<String>,
    /// When Suger recorded it (from the ledger).
    #[serde(
        rename = "recordedAt",
        with = "rfc3339_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub recorded_at: Option<OffsetDateTime>,
    /// The marketplace's verdict on it, once its report is listed (serialized by name:
    /// `accepted`, `not_entitled`, ...). Only [`MarketplaceVerdict::Accepted`] is billed.
    #[serde(
        serialize_with = "verdict_name",
        skip_serializing_if = "Option::is_none"
    )]
    pub verdict: Option<MarketplaceVerdict>,
}

fn verdict_name<S: serde::Serializer>(
    v: &Option<MarketplaceVerdict>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_str(v.name()),
        None => s.serialize_none(),
    }
}

impl ReconcileItem {
    /// The state (`Missing` for a hand-built default).
    pub fn state(&self) -> ReconcileState {
        self.state.unwrap_or(ReconcileState::Missing)
    }

    /// `true` only when the marketplace accepted it: an
    /// [`Accepted`](MarketplaceVerdict::Accepted) verdict, in state `reported` (or
    /// `unexpected`: sent by another producer, accepted all the same).
    pub fn is_accepted(&self) -> bool {
        matches!(
            self.state(),
            ReconcileState::Reported | ReconcileState::Unexpected
        ) && self
            .verdict
            .as_ref()
            .is_some_and(MarketplaceVerdict::is_accepted)
    }
}

/// What a reconciliation found: one item per report, and what it cost.
///
/// Response-only and `#[non_exhaustive]`.
///
/// ```
/// use suger_metering::{ReconcileReport, ReconcileState};
/// let report = ReconcileReport::default();
/// assert_eq!(report.count(ReconcileState::Reported), 0);
/// assert_eq!(report.counts().len(), ReconcileState::ALL.len());
/// assert!(!report.has_problems());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ReconcileReport {
    /// One item per report: the outbox's (pending, dead), the ledger's, and the unexpected
    /// ones Suger lists. Ordered by hour, then entitlement, then id.
    pub items: Vec<ReconcileItem>,
    /// Requests made to Suger: list pages and retries (never one per report).
    pub calls: usize,
    /// Ledger lines that could not be read, skipped.
    #[serde(rename = "damagedLedgerLines")]
    pub damaged_ledger_lines: usize,
    /// The first hour of the range (inclusive).
    #[serde(with = "rfc3339_opt")]
    pub from: Option<OffsetDateTime>,
    /// The end of the range (exclusive).
    #[serde(with = "rfc3339_opt")]
    pub to: Option<OffsetDateTime>,
}

impl ReconcileReport {
    /// How many items are in `state`.
    pub fn count(&self, state: ReconcileState) -> usize {
        self.items.iter().filter(|i| i.state() == state).count()
    }

    /// Every state with its count (zeros included).
    pub fn counts(&self) -> BTreeMap<ReconcileState, usize> {
        ReconcileState::ALL
            .iter()
            .map(|s| (*s, self.count(*s)))
            .collect()
    }

    /// The items whose usage will not be billed as sent ([`ReconcileState::is_problem`]).
    pub fn problems(&self) -> impl Iterator<Item = &ReconcileItem> {
        self.items.iter().filter(|i| i.state().is_problem())
    }

    /// `true` when any item is a problem.
    pub fn has_problems(&self) -> bool {
        self.problems().next().is_some()
    }
}

/// The options of a reconciliation: the range of usage hours, and whether to retry.
///
/// ```
/// use std::time::Duration;
/// use suger_metering::Reconcile;
/// let last_two_days = Reconcile::since(Duration::from_secs(48 * 3600)).retry_failed(true);
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Reconcile {
    /// The first usage hour (inclusive).
    pub from: OffsetDateTime,
    /// The end of the range (exclusive).
    pub to: OffsetDateTime,
    /// Retry `failed` groups still inside their marketplace's late-usage window.
    pub retry_failed: bool,
    /// Page size of the list calls (1 to 1000). Defaults to 1000.
    pub page_size: u32,
}

impl Reconcile {
    /// The usage of the last `window`, up to now.
    pub fn since(window: Duration) -> Reconcile {
        let now = OffsetDateTime::now_utc();
        let back = time::Duration::try_from(window).unwrap_or(time::Duration::MAX);
        Reconcile::between(now.checked_sub(back).unwrap_or(now), now)
    }

    /// The usage of hours in `from..to`.
    pub fn between(from: OffsetDateTime, to: OffsetDateTime) -> Reconcile {
        Reconcile {
            from,
            to,
            retry_failed: false,
            page_size: crate::api::common::MAX_LIST_LIMIT,
        }
    }

    /// The usage of days `first..=last` (UTC).
    pub fn days(first: Date, last: Date) -> Reconcile {
        let end = last.next_day().unwrap_or(last).midnight().assume_utc();
        Reconcile::between(first.midnight().assume_utc(), end)
    }

    /// Retries (once, with [`retry_usage_record_group`](crate::MeteringClient::retry_usage_record_group))
    /// each `failed` group still inside its marketplace's late-usage window (AWS 6 h, Azure
    /// 24 h after the hour); its state becomes `retried`. Older ones stay `failed`, saying so,
    /// and so do those the marketplace refused for a reason a retry cannot change (its
    /// verdict is not entitled, invalid or duplicate).
    /// Defaults to `false`.
    pub fn retry_failed(mut self, retry: bool) -> Self {
        self.retry_failed = retry;
        self
    }

    /// The page size of the list calls, 1 to 1000 (Suger may answer smaller pages).
    /// Defaults to 1000.
    pub fn page_size(mut self, size: u32) -> Self {
        self.page_size = size.clamp(1, crate::api::common::MAX_LIST_LIMIT);
        self
    }
}
