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
//! * Every group belongs to partner `AWS` and buyer `buyer-<entitlementID>`.
//! * [`FakeSuger::run_report_cycle`] makes one report per entitlement, or two when some of that
//!   entitlement's groups were marked with [`FakeSuger::fail_next_report_for`] (one `SUCCESS`
//!   report for the others, one `FAILED` report for the marked ones).
//! * Billable metrics: a duplicate `id` is a 400; `status` in the create body is ignored
//!   (always `ACTIVE`); an `organizationId` different from the path is a 400; `PATCH` fields that
//!   are absent or `null` are left unchanged; `GET billableMetric` without `status` lists all.
//! * `PATCH usageMeteringConfigInfo` keeps only `partnerUsageMeteringConfigs` (as Go would decode
//!   the body into its struct).
//!
//! # Faults
//!
//! [`FakeSuger::inject`] queues [`Fault`]s. Each request (recorded first, whatever its route)
//! consumes the first queued fault that matches it, in FIFO order. Status faults answer before
//! authentication and routing, as a proxy in front of the server would.

mod parse;
mod report_cycle;
mod routing;
mod server;
mod state;
mod util;

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use serde_json::Value;

use self::server::{Conns, Shared, lock};
use self::state::State;

/// The API key the fake accepts (`Authorization: Key fake-api-key`).
const API_KEY: &str = "fake-api-key";
/// The only organization the fake serves.
const ORG_ID: &str = "fake-org";

/// One of the 13 operations of the metering API, as routed by the fake.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// `POST /org/{orgId}/entitlement/{entitlementId}/usageRecordGroup`
    ReportUsageRecordGroup,
    /// `POST /org/{orgId}/batchCreateUsageRecordGroups`
    BatchReportUsageRecordGroups,
    /// `POST /org/{orgId}/batchValidateUsageRecordGroups`
    BatchValidateUsageRecordGroups,
    /// `GET /org/{orgId}/usageRecordGroup`
    ListUsageRecordGroups,
    /// `DELETE /org/{orgId}/usageRecordGroup/{usageRecordGroupId}`
    DeleteUsageRecordGroup,
    /// `POST /org/{orgId}/usageRecordGroup/{usageRecordGroupId}/retry`
    RetryUsageRecordGroup,
    /// `GET /org/{orgId}/usageRecordReport`
    ListUsageRecordReports,
    /// `POST /org/{orgId}/billableMetric`
    CreateBillableMetric,
    /// `GET /org/{orgId}/billableMetric/{billableMetricId}`
    GetBillableMetric,
    /// `GET /org/{orgId}/billableMetric`
    ListBillableMetrics,
    /// `PATCH /org/{orgId}/billableMetric/{billableMetricId}`
    UpdateBillableMetric,
    /// `GET /org/{orgId}/usageMeteringConfigInfo`
    GetUsageMeteringConfigInfo,
    /// `PATCH /org/{orgId}/usageMeteringConfigInfo`
    UpdateUsageMeteringConfigInfo,
}

/// A request as the fake received it (recorded before any fault or check applies).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The method, e.g. `"POST"`.
    pub method: String,
    /// The raw path, still percent-encoded, without the query string.
    pub path: String,
    /// The query parameters, percent-decoded, in order.
    pub query: Vec<(String, String)>,
    /// The headers in order, with lowercase names.
    pub headers: Vec<(String, String)>,
    /// The request body (empty when there was none).
    pub body: Vec<u8>,
    /// The operation the request routed to; `None` for an unknown route.
    pub operation: Option<Operation>,
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// What a fault does.
#[derive(Clone, Debug)]
pub(crate) enum FaultKind {
    Status {
        status: u16,
        retry_after: Option<String>,
        body: Option<String>,
    },
    Delay(Duration),
    DropAfterApply,
    TruncateBody,
}

/// A fault rule for [`FakeSuger::inject`], built in builder style:
/// `Fault::status(429).retry_after("2").times(2).only(Operation::ListUsageRecordGroups)`.
#[derive(Clone, Debug)]
pub struct Fault {
    kind: FaultKind,
    times: usize,
    only: Option<Operation>,
}

impl Fault {
    fn new(kind: FaultKind) -> Fault {
        Fault {
            kind,
            times: 1,
            only: None,
        }
    }

    /// Answers `status` with a JSON-string body such as `"injected 503"`; the request is NOT
    /// applied to the state (and neither authenticated nor routed).
    #[must_use]
    pub fn status(status: u16) -> Fault {
        Fault::new(FaultKind::Status {
            status,
            retry_after: None,
            body: None,
        })
    }

    /// Adds a `Retry-After: value` header to a status fault. No effect on other faults.
    #[must_use]
    pub fn retry_after(mut self, value: &str) -> Fault {
        if let FaultKind::Status { retry_after, .. } = &mut self.kind {
            *retry_after = Some(value.to_string());
        }
        self
    }

    /// Replaces the body of a status fault with `raw` (e.g. an HTML page or `""`). Its
    /// Content-Type is `text/html` when it starts with `<`, `application/json` when it parses as
    /// JSON, `text/plain` otherwise. No effect on other faults.
    #[must_use]
    pub fn body(mut self, raw: &str) -> Fault {
        if let FaultKind::Status { body, .. } = &mut self.kind {
            *body = Some(raw.to_string());
        }
        self
    }

    /// Sleeps `d`, then handles the request normally (applied and answered). If the fake is
    /// dropped during the sleep, the connection is closed at once, without applying the request.
    #[must_use]
    pub fn delay(d: Duration) -> Fault {
        Fault::new(FaultKind::Delay(d))
    }

    /// Applies the request to the state, then closes the connection without writing a single
    /// response byte.
    #[must_use]
    pub fn drop_after_apply() -> Fault {
        Fault::new(FaultKind::DropAfterApply)
    }

    /// Applies the request, sends the status line and headers with the full `Content-Length`
    /// but only the first half of the body, then closes the connection.
    #[must_use]
    pub fn truncate_body() -> Fault {
        Fault::new(FaultKind::TruncateBody)
    }

    /// How many matching requests this fault affects. Defaults to 1; 0 makes it a no-op.
    #[must_use]
    pub fn times(mut self, n: usize) -> Fault {
        self.times = n;
        self
    }

    /// Restricts the fault to requests of operation `op`. Defaults to any request, including
    /// ones that route nowhere.
    #[must_use]
    pub fn only(mut self, op: Operation) -> Fault {
        self.only = Some(op);
        self
    }
}

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
    /// Binds `127.0.0.1:0` and starts serving on background threads.
    ///
    /// # Errors
    ///
    /// When the socket cannot be bound or the accept thread cannot be spawned.
    pub fn start() -> io::Result<FakeSuger> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            api_key: API_KEY.to_string(),
            org_id: ORG_ID.to_string(),
            state: Mutex::new(State::new(ORG_ID)),
            faults: Mutex::new(VecDeque::new()),
            requests: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            conns: Mutex::new(Conns::default()),
        });
        let sh = Arc::clone(&shared);
        let accept_thread = thread::Builder::new()
            .name("fake-suger-accept".to_string())
            .spawn(move || server::accept_loop(listener, sh))?;
        Ok(FakeSuger {
            base_url: format!("http://{addr}"),
            shared,
            accept_thread: Some(accept_thread),
        })
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
            .proxy(None)
    }

    /// The organization id the fake serves: `"fake-org"`. Any other org in a path gets 403.
    pub fn org_id(&self) -> &str {
        &self.shared.org_id
    }

    /// Runs one "hourly" report: every `CREATED` group becomes `REPORTED` (with `reportedTime`
    /// and `usageRecordReportID` set), or `REPORT_FAILED` when it was marked with
    /// [`fail_next_report_for`](Self::fail_next_report_for). Creates one usage record report per
    /// entitlement (two if that entitlement has both failing and succeeding groups) and returns
    /// the ids of the reports created, in order.
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
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
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
