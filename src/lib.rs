#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod base_url;
mod billable_metric;
mod bounded;
mod builder;
mod client;
mod common;
mod config_info;
mod encode;
mod error;
#[cfg(feature = "fake")]
pub mod fake;
mod ids;
mod meter;
mod outbox;
mod pages;
mod query;
mod retry;
mod serde_util;
mod text;
mod tls;
mod transport;
mod transport_error;
mod usage_record_group;
mod usage_record_report;

pub use billable_metric::*;
pub use builder::{DEFAULT_MAX_IDLE_CONNECTIONS, MeteringClientBuilder};
pub use client::{DEFAULT_BASE_URL, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, MeteringClient};
pub use common::*;
pub use config_info::*;
pub use error::{Error, Result};
pub use ids::{MAX_USAGE_RECORD_GROUP_ID_LEN, usage_record_group_id};
pub use meter::{Meter, MeterBuilder, MeterStats};
pub use outbox::{FlushSummary, Outbox, OutboxBuilder, OutboxError};
pub use retry::{DEFAULT_DEADLINE, RetryPolicy};
pub use transport_error::{TransportError, TransportErrorKind};
pub use usage_record_group::*;
pub use usage_record_report::*;

/// The `time` crate, whose `Date` and `OffsetDateTime` appear in this crate's API: use
/// `suger_metering::time::macros::date!` and friends without adding the dependency yourself.
pub use time;
