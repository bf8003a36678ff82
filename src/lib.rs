#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod api;
mod durable;
#[cfg(feature = "fake")]
pub mod fake;
mod http;

// The public API, by name: everything a user can name is listed here (and in `public-api.txt`,
// which CI compares: `.ci/public-api`). Nothing else is public.

// The client: configuration, errors, retries (`http/`).
pub use http::builder::{DEFAULT_MAX_IDLE_CONNECTIONS, MeteringClientBuilder};
pub use http::client::{
    DEFAULT_BASE_URL, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, MeteringClient,
};
pub use http::error::{Error, Result};
pub use http::retry::{DEFAULT_DEADLINE, RetryPolicy};
pub use http::transport_error::{TransportError, TransportErrorKind};

// The resources (`api/`): shared types, then one block per resource.
pub use api::common::{MAX_LIST_LIMIT, Partner, date};
pub use api::ids::{
    MAX_USAGE_RECORD_GROUP_ID_LEN, time_key, usage_identity_key, usage_record_group_content_id,
    usage_record_group_id, usage_record_group_revision_id,
};

pub use api::usage_record_group::{
    BatchOutcome, CreateUsageRecordGroupParams, DEFAULT_BATCH_SIZE, ListUsageRecordGroups,
    ListUsageRecordGroupsResponse, MeteringUsageRecord, MeteringUsageRecordGroup,
    MeteringUsageRecordGroupMetaInfo, NewUsageRecordGroup, UsageRecordGroupSource,
    UsageRecordGroupStatus,
};

pub use api::usage_record_report::{
    AggregatedMeteringUsageRecord, ListUsageRecordReports, ListUsageRecordReportsResponse,
    MarketplaceRecordVerdict, MarketplaceVerdict, MeteringUsageRecordReport,
    MeteringUsageRecordReportInfo, UniqueCountAggregationResult, UsageRecordReportStatus,
};

pub use api::billable_metric::{
    BillableMetric, BillableMetricAggregationType, BillableMetricFilter, BillableMetricFilterGroup,
    BillableMetricFilterOperation, BillableMetricFilterValueType, BillableMetricInfo,
    BillableMetricStatus, ListBillableMetrics, MAX_BILLABLE_METRIC_DESCRIPTION_LEN,
    MAX_BILLABLE_METRIC_ID_LEN, MAX_BILLABLE_METRIC_NAME_LEN, MIN_BILLABLE_METRIC_NAME_LEN,
    UpdateBillableMetricParams,
};

pub use api::config_info::{
    PartnerUsageMeteringConfig, UsageMeteringConfigInfo, UsageMeteringDimensionMappingMode,
    UsageMeteringDimensionMappingValue,
};

// What survives a crash (`durable/`).
pub use durable::ledger::DEFAULT_LEDGER_RETENTION;
pub use durable::meter::{Meter, MeterBuilder, MeterError, MeterStats};
pub use durable::outbox::{
    FlushSummary, Outbox, OutboxBuilder, OutboxError, OutboxStatus, Revision,
};
pub use durable::reconcile::{
    LastReconcile, LedgerStatus, Reconcile, ReconcileItem, ReconcileReport, ReconcileState,
    ledger_status, reconcile, trace,
};

/// The `time` crate, whose `Date` and `OffsetDateTime` appear in this crate's API. Its macros
/// (`time::macros::date!`) expand to paths under `::time` and so need a direct `time`
/// dependency in your crate; without one, use [`date`].
pub use time;
