//! An in-process, stateful fake of the Suger Metering HTTP API, for tests.
//!
//! [`FakeSuger::start`] binds `127.0.0.1:0` and serves a hand-written HTTP/1.1 server (std only:
//! one accept thread, one thread per connection, keep-alive, `Content-Length` bodies). It keeps
//! usage record groups, usage record reports, billable metrics and the usage metering config in
//! memory as `serde_json::Value`s, independent of the client's model types, and answers the 13
//! operations of the metering API the way the real Go server does (`null` for empty lists, Go
//! zero time `"0001-01-01T00:00:00Z"` for unset times, RFC 3339 times with nine fractional digits,
//! integral numbers without a fraction, error bodies as JSON strings).
//!
//! Enable it in your tests with the `fake` feature:
//!
//! ```toml
//! [dev-dependencies]
//! suger-metering = { version = "0.1", features = ["fake"] }
//! ```
//!
//! ```
//! use suger_metering::CreateUsageRecordGroupParams;
//! use suger_metering::fake::{FakeSuger, Fault, Operation};
//!
//! let fake = FakeSuger::start().expect("start fake");
//! let client = fake.client(); // a MeteringClient for the fake
//! // The next report is answered 503 once: the client retries, nothing is billed twice.
//! fake.inject(Fault::status(503).only(Operation::ReportUsageRecordGroup));
//! let group = client.report_usage_record_group(
//!     "ent-1",
//!     &CreateUsageRecordGroupParams {
//!         records: [("api_calls".to_string(), 3.0)].into(),
//!         ..Default::default()
//!     },
//! )?;
//! assert_eq!(fake.usage_record_groups().len(), 1);
//! let report_ids = fake.run_report_cycle();
//! assert_eq!(report_ids.len(), 1);
//! # Ok::<(), suger_metering::Error>(())
//! ```
//!
//! # Protocol
//!
//! * Paths are `/org/{orgId}/...`. The raw path is split on `/` first and each segment is then
//!   percent-decoded, so ids may contain an encoded `/`, `?`, spaces or unicode. A bad
//!   percent-encoding is a 400; an unknown route (or a known path with the wrong method) is a 404
//!   whose JSON-string body names the method and path. Query strings are decoded with `+` as space.
//! * Then `Authorization: Key <api_key>` is checked (401 `"unauthorized"`), then the org id in the
//!   path (403).
//! * Request bodies may use `Content-Length` or `Transfer-Encoding: chunked` (other transfer
//!   codings get 501); malformed requests get a 400 and the connection is closed. Responses are `application/json; charset=utf-8` (as Go's gin writes
//!   them) with a `Content-Length`.
//!
//! # Choices where the real API is unspecified
//!
//! * **Pagination**: lists keep insertion order. `nextOffset` is present only when more results
//!   remain after this page (its value is `offset + returned`); on the last page it is omitted.
//! * **`metaInfo` filter** of `listUsageRecordGroups`: a plain substring match against the
//!   group's compact serialized `metaInfo` JSON (keys sorted), e.g. `"source":"API"`.
//! * `startDate`/`endDate` (inclusive, UTC, on `creationTime`) filter only when given; there is
//!   no "last 30 days" default. `status` absent hides `DELETED` groups; the only `source` is `API`.
//! * Any presence of `metaInfo` in a report/batch/validate body (even `null`) is a 400, and so is
//!   a missing `organizationID`/`entitlementID` on `reportUsageRecordGroup`. Ids longer than 36
//!   characters (counted in chars) are a 400. Items of a batch are validated one by one (a bad item
//!   rejects the whole batch); only a batch whose quantities are *all* zero is rejected for zeros.
//! * A body `timestamp` equal to Go's zero time counts as absent (the report time is used).
//!   Timestamps are normalized to UTC.
//! * Every group belongs to buyer `buyer-<entitlementID>` and to its entitlement's partner:
//!   `AWS` unless [`FakeSuger::set_entitlement_partner`] (or a seed's `entitlements`) chose
//!   `AZURE` or `GCP`.
//! * [`FakeSuger::run_report_cycle`] makes one report per entitlement, or two when some of that
//!   entitlement's groups were marked with [`FakeSuger::fail_next_report_for`] (one `SUCCESS`
//!   report for the others, one `FAILED` report for the marked ones). See
//!   [the report cycle](#report-cycle).
//! * Billable metrics: a duplicate `id` is a 400; `status` in the create body is ignored
//!   (always `ACTIVE`); an `organizationId` different from the path is a 400; `PATCH` fields that
//!   are absent or `null` are left unchanged; `GET billableMetric` without `status` lists all.
//! * `PATCH usageMeteringConfigInfo` keeps only `partnerUsageMeteringConfigs` (as Go would decode
//!   the body into its struct).
//!
//! # Report cycle
//!
//! A group goes `CREATED` → `REPORT_PENDING` ([`FakeSuger::start_report_cycle`], optional) →
//! `REPORTED` or `REPORT_FAILED` ([`FakeSuger::run_report_cycle`], which takes `CREATED` and
//! `REPORT_PENDING` groups); a reported group carries `usageRecordReportID` (and, when
//! `REPORTED`, `reportedTime`); `retry` of a `REPORT_FAILED` group puts it back to `CREATED`.
//! Each report's `info` is what Suger keeps: `status` (`SUCCESS`/`FAILED`), `message`,
//! `usageRecordGroupIds`, `reportedRecords` (v1 sums) or `aggregatedBillableRecords` (v2),
//! `partner`, and the partner's own request and answer, one record per key and hour of the
//! groups' timestamps:
//!
//! * AWS (`awsMeteringRequest`/`Response`): `BatchMeterUsage`'s `{"ProductCode",
//!   "UsageRecords"}` and `{"Results": [{"MeteringRecordId", "Status": "Success",
//!   "UsageRecord"}], "UnprocessedRecords": null}`, PascalCase as Go marshals the AWS SDK;
//! * Azure (`azureMetering...`): the batch usage event `{"request": [...]}` and `{"count",
//!   "result": [{"usageEventId", "status": "Accepted", ...}]}`;
//! * GCP (`gcpMetering...`): Service Control's `{"operations": [...]}` and
//!   `{"serviceConfigId", ...}` (no `reportErrors`: all accepted).
//!
//! A test decides the outcomes: [`fail_next_report_for`](FakeSuger::fail_next_report_for)
//! (a group), [`fail_next_report_for_entitlement`](FakeSuger::fail_next_report_for_entitlement)
//! and [`..._with_status`](FakeSuger::fail_next_report_for_entitlement_with_status) (an
//! entitlement's next report, with the marketplace's own status per record, e.g. AWS
//! `CustomerNotSubscribed`), [`set_group_status`](FakeSuger::set_group_status) (e.g.
//! `INVALID`), [`lose_group`](FakeSuger::lose_group),
//! [`alter_group_records`](FakeSuger::alter_group_records), [`max_page_size`](FakeSuger::max_page_size) (pages
//! smaller than asked); [`clear_faults`](FakeSuger::clear_faults) forgets them and
//! [`reset`](FakeSuger::reset) starts over from the seed.
//!
//! # Running it as a server
//!
//! [`FakeSuger::builder`] chooses the host (loopback only: `127.0.0.1`, `::1` or `localhost`;
//! anything else is refused) and port, and preloads a JSON [seed](FakeSugerBuilder::seed). Made
//! for long runs (the `suger-metering fake` command):
//!
//! * **read timeout**: a connection that stays idle, or takes longer than
//!   [`read_timeout`](FakeSugerBuilder::read_timeout) (30 s) to send one request, is closed, so
//!   it cannot hold a thread;
//! * **bounded memory for requests**: only the last
//!   [`max_requests`](FakeSugerBuilder::max_requests) (10 000) are remembered;
//! * **bounded threads**: at most [`max_connections`](FakeSugerBuilder::max_connections) (256)
//!   connections are served at once; one more is closed as soon as it is accepted;
//! * **no overflow**: report-cycle sums saturate at `±f64::MAX` instead of becoming `inf`.
//!
//! # Admin routes
//!
//! Under `/_fake/`, for tests written in any language: no `Authorization` needed, not recorded
//! in [`FakeSuger::requests`], never hit by faults; JSON in and out.
//!
//! | route | body | answer |
//! |---|---|---|
//! | `POST /_fake/report-cycle` | none | `{"usageRecordReportIds": [...]}` |
//! | `POST /_fake/report-cycle/start` | none | `{"usageRecordGroupIds": [...]}` (now `REPORT_PENDING`) |
//! | `POST /_fake/fail-next-report` | `{"usageRecordGroupId": "g1"}` | `{}` |
//! | `POST /_fake/fail-next-report` | `{"entitlementId": "ent-1", "message": "...", "marketplaceStatus": "CustomerNotSubscribed"}` (status optional) | `{}` |
//! | `POST /_fake/entitlement-partner` | `{"entitlementId": "ent-1", "partner": "AZURE"}` | `{}` |
//! | `POST /_fake/group-status` | `{"usageRecordGroupId": "g1", "status": "REPORT_FAILED"}` | the group |
//! | `POST /_fake/lose-group` | `{"usageRecordGroupId": "g1"}` | `{}` (404 if unknown) |
//! | `POST /_fake/alter-group` | `{"usageRecordGroupId": "g1", "records": {"api_calls": 2}}` | the group |
//! | `POST /_fake/max-page-size` | `{"maxPageSize": 5}` (`0` or `null`: no cap) | `{}` |
//! | `POST /_fake/faults` | a fault (below) | `{}` |
//! | `DELETE /_fake/faults` | none | `{}` (like [`FakeSuger::clear_faults`]: queued faults, report failures, page cap) |
//! | `POST /_fake/reset` | none | `{}` (like [`FakeSuger::reset`]) |
//! | `GET /_fake/requests` | none | `[{"method", "path", "query", "body", "operation"}, ...]` |
//! | `DELETE /_fake/requests` | none | `{}` (recorded requests forgotten) |
//! | `GET /_fake/state` | none | `{"usageRecordGroups", "usageRecordReports", "billableMetrics", "usageMeteringConfigInfo"}` |
//!
//! A fault is exactly one of `{"status": 503}` (optional `"retryAfter": "2"`, `"body": "..."`),
//! `{"delayMs": 500}`, `{"dropAfterApply": true}`, `{"truncateBody": true}`, plus optional
//! `"times": n` (default 1) and `"operation": "ReportUsageRecordGroup"` (an `operationId` of the
//! spec). In `GET /_fake/requests`, `query` is a list of `[name, value]` pairs (decoded), `body`
//! the body as text (lossy UTF-8), `operation` the `operationId` or `null`; headers are left out.
//!
//! # Faults
//!
//! [`FakeSuger::inject`] queues [`Fault`]s. Each request (recorded first, whatever its route)
//! consumes the first queued fault that matches it, in FIFO order. Status faults answer before
//! authentication and routing, as a proxy in front of the server would.

mod admin;
mod builder;
mod controls;
mod exchange;
mod fault;
mod hooks;
mod http;
mod operation;
mod parse;
mod report_cycle;
mod routing;
mod seed;
mod server;
mod shared;
mod state;
mod stored;
mod util;

use std::fmt;
use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;

use serde_json::Value;

pub use self::builder::{
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_REQUESTS, DEFAULT_READ_TIMEOUT, FakeSugerBuilder,
};
pub use self::fault::Fault;
pub use self::operation::{Operation, RecordedRequest};
use self::shared::{Shared, lock};

/// The API key the fake accepts (`Authorization: Key fake-api-key`).
const API_KEY: &str = "fake-api-key";
/// The only organization the fake serves.
const ORG_ID: &str = "fake-org";

/// A running fake Suger Metering server. Dropping it stops the server: open connections
/// (including idle keep-alive ones) are shut down, all threads are joined and the port is freed.
pub struct FakeSuger {
    base_url: String,
    shared: Arc<Shared>,
    accept_thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for FakeSuger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeSuger")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl FakeSuger {
    /// Binds `127.0.0.1:0` and starts serving on background threads, with the defaults of
    /// [`FakeSuger::builder`].
    ///
    /// # Errors
    ///
    /// When the socket cannot be bound or the accept thread cannot be spawned.
    pub fn start() -> io::Result<FakeSuger> {
        FakeSuger::builder().start()
    }

    /// A builder to choose the host and port, preload a seed, bound the remembered requests or
    /// change the read timeout.
    ///
    /// ```
    /// use suger_metering::fake::FakeSuger;
    /// let fake = FakeSuger::builder().host("127.0.0.1").port(0).max_requests(100).start()?;
    /// assert!(fake.base_url().starts_with("http://127.0.0.1:"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn builder() -> FakeSugerBuilder {
        FakeSugerBuilder::default()
    }

    pub(crate) fn from_parts(
        base_url: String,
        shared: Arc<Shared>,
        accept_thread: JoinHandle<()>,
    ) -> FakeSuger {
        FakeSuger {
            base_url,
            shared,
            accept_thread: Some(accept_thread),
        }
    }

    /// The base URL, `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The API key the fake accepts: `"fake-api-key"`.
    pub fn api_key(&self) -> &str {
        &self.shared.api_key
    }

    /// A ready [`MeteringClient`](crate::MeteringClient) for the fake, with the default retry
    /// policy and the proxy disabled.
    pub fn client(&self) -> crate::MeteringClient {
        self.client_builder()
            .build()
            .expect("the fake's base URL, key and org id are valid")
    }

    /// A [`MeteringClientBuilder`](crate::MeteringClientBuilder) for the fake (base URL, key,
    /// org id set, proxy disabled), to add your own timeouts or retry policy.
    pub fn client_builder(&self) -> crate::MeteringClientBuilder {
        crate::MeteringClient::builder()
            .base_url(self.base_url())
            .api_key(self.api_key())
            .org_id(self.org_id())
            .no_proxy()
    }

    /// The organization id the fake serves: `"fake-org"`. Any other org in a path gets 403.
    pub fn org_id(&self) -> &str {
        &self.shared.org_id
    }

    /// Runs one "hourly" report: every `CREATED` or `REPORT_PENDING` group becomes `REPORTED`
    /// (with `reportedTime` and `usageRecordReportID` set), or `REPORT_FAILED` when it was
    /// marked with [`fail_next_report_for`](Self::fail_next_report_for) or its entitlement's
    /// next report was made to fail
    /// ([`fail_next_report_for_entitlement`](Self::fail_next_report_for_entitlement)).
    /// Creates one usage record report per entitlement (two if that entitlement has both
    /// marked and unmarked groups), with the partner's request and answer in its `info` (see
    /// [the module docs](self#report-cycle)), and returns the ids of the reports created, in
    /// order.
    pub fn run_report_cycle(&self) -> Vec<String> {
        lock(&self.shared.state).run_report_cycle()
    }

    /// Makes group `usage_record_group_id` fail (become `REPORT_FAILED`, in a `FAILED` report)
    /// at the next report cycle that finds it `CREATED`. The group need not exist yet.
    pub fn fail_next_report_for(&self, usage_record_group_id: &str) {
        lock(&self.shared.state).mark_failure(usage_record_group_id);
    }

    /// Queues a fault rule (see [`Fault`]).
    pub fn inject(&self, fault: Fault) {
        if fault.times > 0 {
            lock(&self.shared.faults).push_back(fault);
        }
    }

    /// Every request received so far, in arrival order (requests too malformed to parse are not
    /// recorded).
    ///
    /// Only the most recent [`max_requests`](FakeSugerBuilder::max_requests) are kept (10 000
    /// by default); older ones are forgotten first. Admin routes (`/_fake/...`) are not recorded.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).iter().cloned().collect()
    }

    /// Forgets every recorded request.
    pub fn clear_requests(&self) {
        lock(&self.shared.requests).clear();
    }

    /// All stored usage record groups (every status, `DELETED` included), serialized as the
    /// server would answer them.
    pub fn usage_record_groups(&self) -> Vec<Value> {
        lock(&self.shared.state).groups_json()
    }

    /// All usage record reports created by [`run_report_cycle`](Self::run_report_cycle).
    pub fn usage_record_reports(&self) -> Vec<Value> {
        lock(&self.shared.state).reports_json()
    }

    /// All billable metrics (every status).
    pub fn billable_metrics(&self) -> Vec<Value> {
        lock(&self.shared.state).metrics_json()
    }

    /// Test hook: sets the status of group `id` (e.g. `"INVALID"`, `"REPORT_FAILED"`).
    ///
    /// # Panics
    ///
    /// If there is no group with that id (a bug in the calling test).
    pub fn set_group_status(&self, id: &str, status: &str) {
        let found = lock(&self.shared.state).set_group_status(id, status);
        assert!(
            found,
            "FakeSuger::set_group_status: no usage record group {id:?}"
        );
    }
}

impl Drop for FakeSuger {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.accept_thread.take() {
            let _ = h.join();
        }
        let (open, handles) = {
            let mut conns = lock(&self.shared.conns);
            (
                std::mem::take(&mut conns.open),
                std::mem::take(&mut conns.handles),
            )
        };
        for stream in open.values() {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
        for h in handles {
            let _ = h.join();
        }
    }
}
