#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod api;
mod durable;
#[cfg(feature = "fake")]
pub mod fake;
mod http;

pub use api::billable_metric::*;
pub use api::common::*;
pub use api::config_info::*;
pub use api::ids::{MAX_USAGE_RECORD_GROUP_ID_LEN, usage_record_group_id};
pub use api::usage_record_group::*;
pub use api::usage_record_report::*;
pub use durable::ledger::DEFAULT_LEDGER_RETENTION;
pub use durable::meter::{Meter, MeterBuilder, MeterStats};
pub use durable::outbox::{FlushSummary, Outbox, OutboxBuilder, OutboxError};
pub use durable::reconcile::{
    LastReconcile, OutboxStatus, Reconcile, ReconcileItem, ReconcileReport, ReconcileState,
    outbox_status, reconcile, trace,
};
pub use http::builder::{DEFAULT_MAX_IDLE_CONNECTIONS, MeteringClientBuilder};
pub use http::client::{
    DEFAULT_BASE_URL, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, MeteringClient,
};
pub use http::error::{Error, Result};
pub use http::retry::{DEFAULT_DEADLINE, RetryPolicy};
pub use http::transport_error::{TransportError, TransportErrorKind};

/// The `time` crate, whose `Date` and `OffsetDateTime` appear in this crate's API: use
/// `suger_metering::time::macros::date!` and friends without adding the dependency yourself.
pub use time;
