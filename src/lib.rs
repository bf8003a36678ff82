//! A blocking, dependency-light client for the [Suger](https://suger.io) Metering API: report
//! usage for software sold on the AWS, Azure and GCP marketplaces, and inspect it.
//!
//! No async runtime: HTTP goes through [`ureq`] 3, JSON through `serde_json`. Every one of the
//! API's 13 metering operations is one method of [`MeteringClient`].
//!
//! # Quick start
//!
//! ```no_run
//! use suger_metering::{CreateUsageRecordGroupParams, ListUsageRecordGroups, MeteringClient};
//!
//! let client = MeteringClient::builder()
//!     .api_key(std::env::var("SUGER_API_KEY").unwrap_or_default())
//!     .org_id("my-org-id")
//!     .build()?;
//!
//! // Report usage. Give an id: Suger deduplicates on it (a repeat is answered 409).
//! let group = client.report_usage_record_group(
//!     "my-entitlement-id",
//!     &CreateUsageRecordGroupParams {
//!         id: Some("2026-11-26T14-ent1".into()),
//!         records: [("api_calls".to_string(), 1200.0)].into(),
//!         ..Default::default()
//!     },
//! )?;
//!
//! // List it back.
//! let page = client.list_usage_record_groups(
//!     &ListUsageRecordGroups::new().entitlement_id("my-entitlement-id"),
//! )?;
//! # Ok::<(), suger_metering::Error>(())
//! ```
//!
//! # Operations
//!
//! | method | HTTP |
//! |---|---|
//! | [`report_usage_record_group`](MeteringClient::report_usage_record_group) | `POST /org/{orgId}/entitlement/{entitlementId}/usageRecordGroup` |
//! | [`batch_report_usage_record_groups`](MeteringClient::batch_report_usage_record_groups) | `POST /org/{orgId}/batchCreateUsageRecordGroups` |
//! | [`batch_validate_usage_record_groups`](MeteringClient::batch_validate_usage_record_groups) | `POST /org/{orgId}/batchValidateUsageRecordGroups` |
//! | [`list_usage_record_groups`](MeteringClient::list_usage_record_groups) | `GET /org/{orgId}/usageRecordGroup` |
//! | [`delete_usage_record_group`](MeteringClient::delete_usage_record_group) | `DELETE /org/{orgId}/usageRecordGroup/{id}` |
//! | [`retry_usage_record_group`](MeteringClient::retry_usage_record_group) | `POST /org/{orgId}/usageRecordGroup/{id}/retry` |
//! | [`list_usage_record_reports`](MeteringClient::list_usage_record_reports) | `GET /org/{orgId}/usageRecordReport` |
//! | [`create_billable_metric`](MeteringClient::create_billable_metric) | `POST /org/{orgId}/billableMetric` |
//! | [`get_billable_metric`](MeteringClient::get_billable_metric) | `GET /org/{orgId}/billableMetric/{id}` |
//! | [`list_billable_metrics`](MeteringClient::list_billable_metrics) | `GET /org/{orgId}/billableMetric` |
//! | [`update_billable_metric`](MeteringClient::update_billable_metric) | `PATCH /org/{orgId}/billableMetric/{id}` |
//! | [`get_usage_metering_config_info`](MeteringClient::get_usage_metering_config_info) | `GET /org/{orgId}/usageMeteringConfigInfo` |
//! | [`update_usage_metering_config_info`](MeteringClient::update_usage_metering_config_info) | `PATCH /org/{orgId}/usageMeteringConfigInfo` |
//!
//! # Configuration
//!
//! | builder method | default | |
//! |---|---|---|
//! | [`api_key`](MeteringClientBuilder::api_key) | required | sent as `Authorization: Key <api key>`; never printed |
//! | [`org_id`](MeteringClientBuilder::org_id) | required | an API key belongs to one organization |
//! | [`base_url`](MeteringClientBuilder::base_url) | `https://api.suger.cloud` | `https://` only (plain `http://` to loopback for tests) |
//! | [`timeout`](MeteringClientBuilder::timeout) | 30 s | one attempt end to end, including reading the body |
//! | [`connect_timeout`](MeteringClientBuilder::connect_timeout) | 10 s | DNS, TCP and TLS handshake |
//! | [`proxy`](MeteringClientBuilder::proxy) | from `HTTPS_PROXY`/`NO_PROXY`/... | `None` disables proxying |
//!
//! [`MeteringClient::from_env`] reads `SUGER_API_KEY`, `SUGER_ORG_ID` and, optionally,
//! `SUGER_API_BASE_URL`. Redirects are never followed. TLS certificates are verified (rustls
//! with the webpki roots).
//!
//! # Errors
//!
//! Every method returns [`Result<T, Error>`](Error). Arguments that break a rule the API
//! documents (empty ids, a group id over 36 characters, both or neither of `records` and
//! `billable_records`, all quantities zero, a NaN quantity, `limit` outside 1..=1000, ...) are
//! refused with [`Error::InvalidRequest`] **before anything is sent**. A non-2xx answer is
//! [`Error::Api`] with the status and the server's message (Suger's Go server sends error
//! bodies as JSON strings; the quotes are removed). [`Error::Timeout`] and [`Error::Transport`]
//! mean no usable answer arrived: the request *may* have been applied (see
//! [`Error::request_may_have_been_sent`]). [`Error::Decode`] keeps the status and a short
//! excerpt of a body that did not match the API's schema.
//!
//! # Billing safety: retries and idempotency
//!
//! * Every usage report carries an id: yours, or a random UUID the client generates for the call.
//!   Suger deduplicates on it (a repeat is answered 409), so reports are retried after timeouts,
//!   dropped connections, 429 and 5xx without billing twice. A 409 to a retry comes back as
//!   [`Error::AlreadyReported`] (recorded once); a report that never got a definite answer as
//!   [`Error::ReportOutcomeUnknown`] with the id to resend it under.
//! * Batch items have no id: a batch is resent only when it provably never reached Suger; a batch
//!   sent without a definite answer is [`Error::OutcomeUnknown`], carrying the batch back.
//! * [`RetryPolicy`] documents exactly what is retried for which operation; the default makes up
//!   to 3 attempts with full-jitter backoff and honours `Retry-After` up to 30 s.
//!   [`RetryPolicy::disabled`] turns retries off.
//! * [`MeteringClient::usage_record_groups`] and [`MeteringClient::usage_record_reports`] page
//!   through a whole listing lazily, one page in memory at a time;
//!   [`MeteringClient::report_usage_record_groups_in_batches`] reports any number of groups in
//!   batches and tells per batch what happened.
//!
//! # Never lose usage: [`Outbox`] and [`Meter`]
//!
//! [`Outbox`] is a durable queue of single usage reports in a directory: `enqueue` returns
//! once the report is fsynced, `flush` sends each with its id and removes it only once Suger
//! answered 2xx or 409, so outages and crashes neither lose nor duplicate usage. [`Meter`]
//! sums high-frequency usage per entitlement and dimension inside UTC hours and seals it into
//! an outbox every flush interval, under deterministic ids (UUID v5) so that a re-seal after
//! a crash is deduplicated; with its journal on, an acknowledged `add` survives `kill -9`.
//! Both report problems with [`OutboxError`]. Cron jobs use the outbox alone; services use a
//! meter and call [`Meter::shutdown`] before exiting.
//!
//! # Logging
//!
//! Through the [`log`](https://docs.rs/log) facade (target `suger_metering`): one `debug` event
//! per attempt (method, path, status or error, attempt number) and an `info` event per retry with
//! its delay. Headers are never logged; the API key appears in no event.
//!
//! # Features
//!
//! | feature | default | |
//! |---|---|---|
//! | `rustls` | yes | TLS through rustls with the webpki root certificates |
//! | `fake` | no | `fake::FakeSuger`, an in-process fake of the Metering API for your tests |
//!
//! # Decoding Go's JSON
//!
//! `null` lists and maps decode as empty, Go's zero time (`0001-01-01T00:00:00Z`) as `None`,
//! fields the crate does not know are ignored, and enum values it does not know are kept in an
//! `Other(String)` variant, so a new server value never breaks decoding.
//!
//! # Minimum Rust version
//!
//! 1.89: `std::fs::File::try_lock`, the [`Outbox`]'s lock (`time` 0.3.55 alone needs 1.88).

#![warn(missing_docs)]

pub mod billable_metric;
pub mod client;
pub mod config_info;
pub mod error;
#[cfg(feature = "fake")]
pub mod fake;
pub mod meter;
pub mod outbox;
mod pages;
mod query;
mod retry;
mod serde_util;
mod transport;
pub mod usage_record_group;
pub mod usage_record_report;

pub use billable_metric::*;
pub use client::{
    DEFAULT_BASE_URL, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, MeteringClient,
    MeteringClientBuilder,
};
pub use config_info::*;
pub use error::{Error, Result};
pub use meter::{Meter, MeterBuilder, MeterStats};
pub use outbox::{FlushSummary, Outbox, OutboxBuilder, OutboxError};
pub use retry::RetryPolicy;
pub use usage_record_group::*;
pub use usage_record_report::*;

/// The README's examples, compiled as doc tests so that they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
