//! Fault-injection tests: for each fault on each kind of operation, prove that no usage record is
//! lost, none is duplicated, and the caller is told the truth.
//!
//! After every scenario the tests look at what the fake stored (`fake.usage_record_groups()`,
//! counted per entitlement, with quantities) and at what it received (`fake.requests()`, the
//! attempt count). Retries never sleep for real: every client gets a `sleep_fn` that records the
//! requested waits. Real waiting happens only where a `delay` fault must outlast the client's
//! timeout.
//!
//! `zz_summary` runs a representative set of scenarios end to end, with a caller that acts only
//! on what the client told it, and prints `faults injected: N, records lost: 0, duplicated: 0`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use serde_json::Value;
use suger_metering::fake::{FakeSuger, Fault, Operation};
use suger_metering::{
    BillableMetric, BillableMetricStatus, CreateUsageRecordGroupParams, Error,
    ListUsageRecordGroups, MeteringClient, MeteringUsageRecordGroup, NewUsageRecordGroup, Partner,
    PartnerUsageMeteringConfig, RetryPolicy, UpdateBillableMetricParams, UsageMeteringConfigInfo,
};

/// Every fault injected by any test of this file (one per affected request).
static FAULTS_INJECTED: AtomicUsize = AtomicUsize::new(0);

/// The client's per-attempt timeout in the `delay` scenarios.
const TIMEOUT: Duration = Duration::from_millis(200);
/// A `delay` fault that outlasts [`TIMEOUT`].
const DELAY: Duration = Duration::from_millis(350);
/// Upper bound for waiting on the fake (never reached when the client behaves).
const PATIENCE: Duration = Duration::from_secs(5);

type Sleeps = Arc<Mutex<Vec<Duration>>>;

/// One fake, with the faults this scenario injected and the waits its clients asked for.
struct Env {
    fake: Arc<FakeSuger>,
    faults: AtomicUsize,
    sleeps: Sleeps,
}

impl Env {
    fn new() -> Env {
        Env {
            fake: Arc::new(FakeSuger::start().expect("start the fake")),
            faults: AtomicUsize::new(0),
            sleeps: Sleeps::default(),
        }
    }

    /// Queues `fault` for `times` requests of `op`, counting them.
    fn inject(&self, fault: Fault, op: Operation, times: usize) {
        self.fake.inject(fault.times(times).only(op));
        self.faults.fetch_add(times, Ordering::SeqCst);
        FAULTS_INJECTED.fetch_add(times, Ordering::SeqCst);
    }

    fn faults(&self) -> usize {
        self.faults.load(Ordering::SeqCst)
    }

    /// A client with the default retry policy whose sleeps are recorded, not slept.
    fn client(&self) -> MeteringClient {
        self.client_with(RetryPolicy::default(), None)
    }

    /// Like [`client`](Self::client), with [`TIMEOUT`] per attempt.
    fn timed_client(&self) -> MeteringClient {
        self.client_with(RetryPolicy::default(), Some(TIMEOUT))
    }

    fn client_with(&self, policy: RetryPolicy, timeout: Option<Duration>) -> MeteringClient {
        let sleeps = Arc::clone(&self.sleeps);
        let policy = policy.sleep_fn(move |d| sleeps.lock().expect("sleeps").push(d));
        let mut b = self.fake.client_builder().retry(policy);
        if let Some(t) = timeout {
            b = b.timeout(t);
        }
        b.build().expect("build client")
    }

    /// A client with [`TIMEOUT`] whose retry waits (really) until the fake has stored
    /// `stored` usage record groups: the delayed first attempt is applied before the retry.
    fn client_waiting_for_groups(&self, stored: usize) -> MeteringClient {
        let sleeps = Arc::clone(&self.sleeps);
        let fake: Weak<FakeSuger> = Arc::downgrade(&self.fake);
        let policy = RetryPolicy::default().sleep_fn(move |d| {
            sleeps.lock().expect("sleeps").push(d);
            if let Some(fake) = fake.upgrade() {
                wait_until(|| fake.usage_record_groups().len() >= stored);
            }
        });
        self.fake
            .client_builder()
            .retry(policy)
            .timeout(TIMEOUT)
            .build()
            .expect("build client")
    }

    fn sleeps(&self) -> Vec<Duration> {
        self.sleeps.lock().expect("sleeps").clone()
    }

    /// Requests the fake received for `op`.
    fn attempts(&self, op: Operation) -> usize {
        self.fake
            .requests()
            .iter()
            .filter(|r| r.operation == Some(op))
            .count()
    }

    /// The stored usage record groups of entitlement `ent` (every status).
    fn stored(&self, ent: &str) -> Vec<Value> {
        self.fake
            .usage_record_groups()
            .into_iter()
            .filter(|g| g["entitlementID"] == ent)
            .collect()
    }

    /// Waits (bounded) until entitlement `ent` has `n` stored groups.
    fn wait_for_stored(&self, ent: &str, n: usize) {
        wait_until(|| self.stored(ent).len() >= n);
    }
}

fn wait_until(mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn params(id: Option<&str>, qty: f64) -> CreateUsageRecordGroupParams {
    CreateUsageRecordGroupParams {
        id: id.map(str::to_string),
        records: [("api_calls".to_string(), qty)].into(),
        ..Default::default()
    }
}

fn batch(ent: &str, n: usize) -> Vec<NewUsageRecordGroup> {
    (0..n)
        .map(|i| NewUsageRecordGroup {
            entitlement_id: ent.to_string(),
            records: [("api_calls".to_string(), (i + 1) as f64)].into(),
            ..Default::default()
        })
        .collect()
}

fn quantity(g: &Value) -> f64 {
    g["records"]["api_calls"].as_f64().expect("api_calls")
}

fn stored_id(g: &Value) -> String {
    g["id"].as_str().expect("id").to_string()
}

/// Asserts `ent` has exactly one stored group, with quantity `qty`; returns its id.
fn assert_stored_once(env: &Env, ent: &str, qty: f64) -> String {
    let stored = env.stored(ent);
    assert_eq!(
        stored.len(),
        1,
        "exactly one group stored for {ent}: {stored:?}"
    );
    assert_eq!(quantity(&stored[0]), qty);
    stored_id(&stored[0])
}

/// Asserts the batch `sent` is stored exactly once (same quantities, in order).
fn assert_batch_stored_once(env: &Env, ent: &str, sent: &[NewUsageRecordGroup]) {
    let stored = env.stored(ent);
    let got: Vec<f64> = stored.iter().map(quantity).collect();
    let want: Vec<f64> = sent.iter().map(|g| g.records["api_calls"]).collect();
    assert_eq!(got, want, "the batch is stored exactly once");
}

fn unwrap_outcome_unknown(
    r: suger_metering::Result<Vec<MeteringUsageRecordGroup>>,
) -> (Vec<NewUsageRecordGroup>, Error) {
    match r {
        Err(Error::OutcomeUnknown { groups, source }) => (groups, *source),
        other => panic!("expected Error::OutcomeUnknown, got {other:?}"),
    }
}

// =============================================================================================
// Single report, id generated by the client
// =============================================================================================

/// A retryable status once on a report: retried, stored once, `Ok`.
fn report_status_once_is_retried(status: u16) {
    let env = Env::new();
    let c = env.client();
    env.inject(Fault::status(status), Operation::ReportUsageRecordGroup, 1);
    let g = c
        .report_usage_record_group("ent-1", &params(None, 5.0))
        .unwrap_or_else(|e| panic!("{status} once must be retried: {e:?}"));
    let id = assert_stored_once(&env, "ent-1", 5.0);
    assert_eq!(g.id, id);
    assert_eq!(env.attempts(Operation::ReportUsageRecordGroup), 2);
    // No Retry-After: a full-jitter backoff within the first bound (250 ms).
    let sleeps = env.sleeps();
    assert_eq!(sleeps.len(), 1);
    assert!(sleeps[0] <= Duration::from_millis(250), "{sleeps:?}");
    // Both attempts carried the same generated id.
    let reqs = env.fake.requests();
    assert_eq!(reqs[0].body, reqs[1].body);
    assert_eq!(reqs[0].json().expect("json")["id"], id.as_str());
}

#[test]
fn report_503_once_is_retried() {
    report_status_once_is_retried(503);
}

#[test]
fn report_500_once_is_retried() {
    report_status_once_is_retried(500);
}

#[test]
fn report_502_once_is_retried() {
    report_status_once_is_retried(502);
}

#[test]
fn report_504_once_is_retried() {
    report_status_once_is_retried(504);
}

#[test]
fn report_502_html_from_a_proxy_is_retried() {
    let env = Env::new();
    let c = env.client();
    env.inject(
        Fault::status(502).body("<html><body>502 Bad Gateway</body></html>"),
        Operation::ReportUsageRecordGroup,
        1,
    );
    c.report_usage_record_group("ent-1", &params(None, 5.0))
        .expect("retried");
    assert_stored_once(&env, "ent-1", 5.0);
    assert_eq!(env.attempts(Operation::ReportUsageRecordGroup), 2);
}

#[test]
fn report_429_with_retry_after_0_waits_exactly_0s() {
    let env = Env::new();
    let c = env.client();
    env.inject(
        Fault::status(429).retry_after("0"),
        Operation::ReportUsageRecordGroup,
        1,
    );
    let g = c
        .report_usage_record_group("ent-1", &params(None, 2.0))
        .expect("retried");
    assert_eq!(g.id, assert_stored_once(&env, "ent-1", 2.0));
    assert_eq!(env.attempts(Operation::ReportUsageRecordGroup), 2);
    assert_eq!(env.sleeps(), [Duration::ZERO]);
}

#[test]
fn report_429_with_retry_after_waits_what_the_server_asks() {
    let env = Env::new();
    let c = env.client();
    env.inject(
        Fault::status(429).retry_after("7"),
        Operation::ReportUsageRecordGroup,
        1,
    );
    c.report_usage_record_group("ent-1", &params(None, 2.0))
        .expect("retried");
    assert_stored_once(&env, "ent-1", 2.0);
    assert_eq!(env.sleeps(), [Duration::from_secs(7)]);
}

#[test]
fn report_drop_after_apply_is_already_reported_with_the_stored_id() {
    let env = Env::new();
    let c = env.client();
    env.inject(
        Fault::drop_after_apply(),
        Operation::ReportUsageRecordGroup,
        1,
    );
    let e = c
        .report_usage_record_group("ent-1", &params(None, 9.0))
        .expect_err("the retry is answered 409");
    let id = assert_stored_once(&env, "ent-1", 9.0);
    match &e {
        Error::AlreadyReported { id: got, .. } => assert_eq!(got, &id),
        other => panic!("expected AlreadyReported, got {other:?}"),
    }
    assert!(e.is_already_reported());
    assert!(e.is_conflict());
    assert_eq!(e.status(), Some(409));
    assert!(!e.is_retryable());
    assert_eq!(env.attempts(Operation::ReportUsageRecordGroup), 2);
    assert_eq!(env.fake.requests().len(), 2);
}

#[test]
fn report_truncated_body_is_already_reported() {
    let env = Env::new();
    let c = env.client();
    env.inject(Fault::truncate_body(), Operation::ReportUsageRecordGroup, 1);
    let e = c
        .report_usage_record_group("ent-1", &params(None, 4.0))
        .expect_err("the retry is answered 409");
    let id = assert_stored_once(&env, "ent-1", 4.0);
    match &e {
        Error::AlreadyReported { id: got, .. } => assert_eq!(got, &id),
        other => panic!("expected AlreadyReported, got {other:?}"),
    }
    assert_eq!(env.attempts(Operation::ReportUsageRecordGroup), 2);
}

#[test]
fn report_delay_past_timeout_is_already_reported_once_the_first_attempt_applied() {
    let env = Env::new();
    let c = env.client_waiting_for_groups(1);
    env.inject(Fault::delay(DELAY), Operation::ReportUsageRecordGroup, 1);
    let started = Instant::now();
    let e = c
        .report_usage_record_group("ent-1", &params(None, 6.0))
        .expect_err("the retry is answered 409");
    assert!(started.elapsed() >= TIMEOUT);
    let id = assert_stored_once(&env, "ent-1", 6.0);
    match &e {
        Error::AlreadyReported { id: got, .. } => assert_eq!(got, &id),
        other => panic!("expected AlreadyReported, got {other:?}"),
    }
    assert_eq!(env.attempts(Operation::ReportUsageRecordGroup), 2);
    assert_eq!(env.sleeps().len(), 1);
}

#[test]
fn report_delay_past_timeout_retry_first_is_ok_and_the_late_attempt_is_deduplicated() {
    // The other interleaving: the retry reaches the server before the delayed attempt is
    // applied. The retry records the group; the late first attempt is refused with 409.
    // A shorter timeout leaves the retry a wide margin before the delayed attempt applies.
    let env = Env::new();
    let c = env.client_with(RetryPolicy::default(), Some(Duration::from_millis(120)));
    env.inject(Fault::delay(DELAY), Operation::ReportUsageRecordGroup, 1);
    let started = Instant::now();
    let g = c
        .report_usage_record_group("ent-1", &params(None, 6.0))
        .expect("the retry records it");
    assert_eq!(env.attempts(Operation::ReportUsageRecordGroup), 2);
    // Let the delayed attempt finish (it is applied, and refused as a duplicate).
    std::thread::sleep((DELAY + Duration::from_millis(50)).saturating_sub(started.elapsed()));
    assert_eq!(assert_stored_once(&env, "ent-1", 6.0), g.id);
    assert_eq!(env.fake.usage_record_groups().len(), 1);
}

/// A status that must not be retried on a report: one request, `Error::Api`, nothing stored.
fn report_status_is_not_retried(status: u16) {
    let env = Env::new();
    let c = env.client();
    env.inject(Fault::status(status), Operation::ReportUsageRecordGroup, 1);
    let e = c
        .report_usage_record_group("ent-1", &params(None, 1.0))
        .expect_err("not retried");
    match &e {
        Error::Api { status: s, .. } => assert_eq!(*s, status),
        other => panic!("expected Error::Api {status}, got {other:?}"),
    }
    assert!(!e.is_already_reported());
    assert_eq!(env.attempts(Operation::ReportUsageRecordGroup), 1);
    assert!(env.sleeps().is_empty());
    assert!(env.fake.usage_record_groups().is_empty());
}

#[test]
fn report_400_is_not_retried() {
    report_status_is_not_retried(400);
}

#[test]
fn report_401_is_not_retried() {
    report_status_is_not_retried(401);
}

#[test]
fn report_404_is_not_retried() {
    report_status_is_not_retried(404);
}

#[test]
fn report_403_and_409_are_not_retried() {
    report_status_is_not_retried(403);
    // An injected 409 on the first attempt is a plain conflict, not AlreadyReported.
    report_status_is_not_retried(409);
}

#[test]
fn report_drop_on_every_attempt_is_report_outcome_unknown_and_stores_once() {
    let env = Env::new();
    let c = env.client();
    env.inject(
        Fault::drop_after_apply(),
        Operation::ReportUsageRecordGroup,
        3,
    );
    let e = c
        .report_usage_record_group("ent-1", &params(Some("job-7"), 3.0))
        .expect_err("every attempt dropped");
    match &e {
        Error::ReportOutcomeUnknown { id, source } => {
            assert_eq!(id, "job-7");
            assert!(matches!(**source, Error::Transport(_)), "{source:?}");
        }
        other => panic!("expected ReportOutcomeUnknown, got {other:?}"),
    }
    assert!(e.request_may_have_been_sent());
    assert!(e.is_retryable());
    assert_eq!(env.attempts(Operation::ReportUsageRecordGroup), 3);
    assert_eq!(assert_stored_once(&env, "ent-1", 3.0), "job-7");
    // The caller re-reports with its id: the server tells it the usage is already recorded.
    let e = c
        .report_usage_record_group("ent-1", &params(Some("job-7"), 3.0))
        .expect_err("409");
    assert!(e.is_conflict());
    assert!(!e.is_already_reported(), "first attempt of this call");
    assert_stored_once(&env, "ent-1", 3.0);
}
#[test]
fn report_generated_id_drop_on_every_attempt_hands_the_id_back_so_a_resend_is_deduplicated() {
    // After every attempt failed ambiguously, the caller learns the generated id, and
    // reporting again under it cannot bill twice.
    let env = Env::new();
    let c = env.client();
    env.inject(
        Fault::drop_after_apply(),
        Operation::ReportUsageRecordGroup,
        3,
    );
    let e = c
        .report_usage_record_group("ent-1", &params(None, 3.0))
        .expect_err("every attempt dropped");
    let Error::ReportOutcomeUnknown {
        id: sent_id,
        source,
    } = &e
    else {
        panic!("expected ReportOutcomeUnknown, got {e:?}");
    };
    assert!(matches!(**source, Error::Transport(_)), "{source:?}");
    assert!(e.request_may_have_been_sent());
    assert!(e.is_retryable());
    let id = assert_stored_once(&env, "ent-1", 3.0);
    assert_eq!(sent_id, &id);
    assert!(e.to_string().contains(&id), "{e}");
    assert_eq!(env.attempts(Operation::ReportUsageRecordGroup), 3);
    // The resend under the same id is deduplicated.
    let resend = c.report_usage_record_group("ent-1", &params(Some(&id), 3.0));
    assert!(
        resend.as_ref().is_err_and(|e| e.is_conflict()),
        "{resend:?}"
    );
    assert_stored_once(&env, "ent-1", 3.0);
}

#[test]
fn report_200_with_an_unreadable_body_is_an_unknown_outcome_not_retried() {
    let env = Env::new();
    let c = env.client();
    env.inject(
        Fault::status(200).body("<html>maintenance</html>"),
        Operation::ReportUsageRecordGroup,
        1,
    );
    let e = c
        .report_usage_record_group("ent-1", &params(None, 3.0))
        .expect_err("decode");
    let Error::ReportOutcomeUnknown { source, .. } = &e else {
        panic!("expected ReportOutcomeUnknown, got {e:?}");
    };
    assert!(
        matches!(**source, Error::Decode { status: 200, .. }),
        "{source:?}"
    );
    assert_eq!(e.status(), Some(200));
    assert!(e.request_may_have_been_sent());
    assert_eq!(env.attempts(Operation::ReportUsageRecordGroup), 1);
    assert!(env.fake.usage_record_groups().is_empty());
}

#[test]
fn report_drop_then_503_then_409_is_already_reported() {
    let env = Env::new();
    let c = env.client();
    env.inject(
        Fault::drop_after_apply(),
        Operation::ReportUsageRecordGroup,
        1,
    );
    env.inject(Fault::status(503), Operation::ReportUsageRecordGroup, 1);
    let e = c
        .report_usage_record_group("ent-1", &params(None, 3.0))
        .expect_err("AlreadyReported");
    let id = assert_stored_once(&env, "ent-1", 3.0);
    assert!(
        matches!(&e, Error::AlreadyReported { id: got, .. } if *got == id),
        "{e:?}"
    );
    assert_eq!(env.attempts(Operation::ReportUsageRecordGroup), 3);
}

// =============================================================================================
// Single report with a caller-given id
// =============================================================================================

#[test]
fn report_with_id_503_exhausted_then_rereport_same_id_stores_once() {
    let env = Env::new();
    let c = env.client();
    env.inject(Fault::status(503), Operation::ReportUsageRecordGroup, 3);
    let e = c
        .report_usage_record_group("ent-1", &params(Some("hour-14"), 8.0))
        .expect_err("retries exhausted");
    // A 503 without Retry-After may come from a proxy that forwarded the request: unknown.
    let Error::ReportOutcomeUnknown { id, source } = &e else {
        panic!("expected ReportOutcomeUnknown, got {e:?}");
    };
    assert_eq!(id, "hour-14");
    assert!(
        matches!(**source, Error::Api { status: 503, .. }),
        "{source:?}"
    );
    assert_eq!(e.status(), Some(503));
    assert!(e.is_retryable());
    assert_eq!(env.attempts(Operation::ReportUsageRecordGroup), 3);
    assert_eq!(env.sleeps().len(), 2);
    assert!(env.fake.usage_record_groups().is_empty());

    let g = c
        .report_usage_record_group("ent-1", &params(Some("hour-14"), 8.0))
        .expect("re-report");
    assert_eq!(g.id, "hour-14");
    assert_eq!(assert_stored_once(&env, "ent-1", 8.0), "hour-14");
    assert_eq!(env.attempts(Operation::ReportUsageRecordGroup), 4);
}

#[test]
fn report_with_id_drop_after_apply_is_already_reported_with_that_id() {
    let env = Env::new();
    let c = env.client();
    env.inject(
        Fault::drop_after_apply(),
        Operation::ReportUsageRecordGroup,
        1,
    );
    let e = c
        .report_usage_record_group("ent-1", &params(Some("hour-15"), 8.0))
        .expect_err("AlreadyReported");
    assert!(
        matches!(&e, Error::AlreadyReported { id, .. } if id == "hour-15"),
        "{e:?}"
    );
    assert_eq!(assert_stored_once(&env, "ent-1", 8.0), "hour-15");
}

#[test]
fn report_custom_max_attempts_is_honoured() {
    let env = Env::new();
    let c = env.client_with(RetryPolicy::default().max_attempts(5), None);
    env.inject(Fault::status(500), Operation::ReportUsageRecordGroup, 4);
    c.report_usage_record_group("ent-1", &params(None, 1.0))
        .expect("5th attempt succeeds");
    assert_eq!(env.attempts(Operation::ReportUsageRecordGroup), 5);
    assert_eq!(env.sleeps().len(), 4);
    assert_stored_once(&env, "ent-1", 1.0);
}

// =============================================================================================
// Batch report
// =============================================================================================

/// A batch answered `status` with `Retry-After: secs` once: the server says it did not process
/// it, so it is resent after exactly that wait and stored once.
fn batch_retried_after(status: u16, secs: u64) {
    let env = Env::new();
    let c = env.client();
    let sent = batch("ent-b", 3);
    env.inject(
        Fault::status(status).retry_after(&secs.to_string()),
        Operation::BatchReportUsageRecordGroups,
        1,
    );
    let created = c.batch_report_usage_record_groups(&sent).expect("retried");
    assert_eq!(created.len(), 3);
    assert_batch_stored_once(&env, "ent-b", &sent);
    assert_eq!(env.attempts(Operation::BatchReportUsageRecordGroups), 2);
    assert_eq!(env.sleeps(), [Duration::from_secs(secs)]);
}

#[test]
fn batch_429_with_retry_after_is_retried_and_stored_once() {
    batch_retried_after(429, 1);
}

#[test]
fn batch_503_with_retry_after_is_retried_and_stored_once() {
    batch_retried_after(503, 2);
}

#[test]
fn batch_503_with_retry_after_exhausted_is_a_plain_api_error() {
    // The server said it did not process the batch: the outcome is known (not recorded).
    let env = Env::new();
    let c = env.client();
    let sent = batch("ent-b", 2);
    env.inject(
        Fault::status(503).retry_after("1"),
        Operation::BatchReportUsageRecordGroups,
        3,
    );
    let e = c
        .batch_report_usage_record_groups(&sent)
        .expect_err("exhausted");
    assert!(
        matches!(e, Error::Api { status: 503, retry_after: Some(d), .. } if d == Duration::from_secs(1)),
        "{e:?}"
    );
    assert_eq!(env.attempts(Operation::BatchReportUsageRecordGroups), 3);
    assert!(env.fake.usage_record_groups().is_empty());
}

#[test]
fn batch_429_without_retry_after_is_a_plain_api_error() {
    let env = Env::new();
    let c = env.client();
    env.inject(
        Fault::status(429),
        Operation::BatchReportUsageRecordGroups,
        1,
    );
    let e = c
        .batch_report_usage_record_groups(&batch("ent-b", 2))
        .expect_err("not retried");
    assert!(matches!(e, Error::Api { status: 429, .. }), "{e:?}");
    assert_eq!(env.attempts(Operation::BatchReportUsageRecordGroups), 1);
    assert!(env.fake.usage_record_groups().is_empty());
}

/// A 5xx without `Retry-After` on a batch: not retried, `OutcomeUnknown` handing the batch
/// back; the fake stored nothing (status faults are answered before applying).
fn batch_5xx_is_outcome_unknown(status: u16) {
    let env = Env::new();
    let c = env.client();
    let sent = batch("ent-b", 3);
    env.inject(
        Fault::status(status),
        Operation::BatchReportUsageRecordGroups,
        1,
    );
    let (groups, source) = unwrap_outcome_unknown(c.batch_report_usage_record_groups(&sent));
    assert_eq!(groups, sent);
    assert!(
        matches!(source, Error::Api { status: s, .. } if s == status),
        "{source:?}"
    );
    assert_eq!(env.attempts(Operation::BatchReportUsageRecordGroups), 1);
    assert!(env.sleeps().is_empty());
    assert!(env.fake.usage_record_groups().is_empty());
}

#[test]
fn batch_503_without_retry_after_is_outcome_unknown() {
    batch_5xx_is_outcome_unknown(503);
}

#[test]
fn batch_500_is_outcome_unknown() {
    batch_5xx_is_outcome_unknown(500);
}

#[test]
fn batch_502_and_504_are_outcome_unknown() {
    batch_5xx_is_outcome_unknown(502);
    batch_5xx_is_outcome_unknown(504);
}

#[test]
fn batch_outcome_unknown_error_helpers() {
    let env = Env::new();
    let c = env.client();
    env.inject(
        Fault::status(500),
        Operation::BatchReportUsageRecordGroups,
        1,
    );
    let e = c
        .batch_report_usage_record_groups(&batch("ent-b", 2))
        .expect_err("unknown");
    assert_eq!(e.status(), Some(500));
    assert_eq!(e.message(), Some("injected 500"));
    assert!(!e.is_retryable());
    assert!(e.request_may_have_been_sent());
    assert!(e.to_string().contains("do not resend it blindly"), "{e}");
}

#[test]
fn batch_drop_after_apply_is_outcome_unknown_and_stored_exactly_once() {
    let env = Env::new();
    let c = env.client();
    let sent = batch("ent-b", 4);
    env.inject(
        Fault::drop_after_apply(),
        Operation::BatchReportUsageRecordGroups,
        1,
    );
    let (groups, source) = unwrap_outcome_unknown(c.batch_report_usage_record_groups(&sent));
    assert_eq!(groups, sent, "the batch is handed back");
    assert!(matches!(source, Error::Transport(_)), "{source:?}");
    assert!(source.request_may_have_been_sent());
    assert_batch_stored_once(&env, "ent-b", &sent);
    assert_eq!(env.fake.usage_record_groups().len(), 4, "one copy, not two");
    assert_eq!(env.attempts(Operation::BatchReportUsageRecordGroups), 1);
    assert_eq!(env.fake.requests().len(), 1);
}

#[test]
fn batch_truncated_body_is_outcome_unknown_and_stored_once() {
    let env = Env::new();
    let c = env.client();
    let sent = batch("ent-b", 3);
    env.inject(
        Fault::truncate_body(),
        Operation::BatchReportUsageRecordGroups,
        1,
    );
    let (groups, source) = unwrap_outcome_unknown(c.batch_report_usage_record_groups(&sent));
    assert_eq!(groups, sent);
    assert!(matches!(source, Error::Transport(_)), "{source:?}");
    assert_batch_stored_once(&env, "ent-b", &sent);
    assert_eq!(env.attempts(Operation::BatchReportUsageRecordGroups), 1);
}

#[test]
fn batch_delay_past_timeout_is_outcome_unknown_and_stored_once() {
    let env = Env::new();
    let c = env.timed_client();
    let sent = batch("ent-b", 3);
    env.inject(
        Fault::delay(DELAY),
        Operation::BatchReportUsageRecordGroups,
        1,
    );
    let (groups, source) = unwrap_outcome_unknown(c.batch_report_usage_record_groups(&sent));
    assert_eq!(groups, sent);
    assert!(matches!(source, Error::Timeout(_)), "{source:?}");
    // The delayed request is still applied by the server.
    env.wait_for_stored("ent-b", 3);
    assert_batch_stored_once(&env, "ent-b", &sent);
    assert_eq!(env.attempts(Operation::BatchReportUsageRecordGroups), 1);
    assert!(env.sleeps().is_empty());
}

#[test]
fn batch_400_is_a_plain_api_error() {
    let env = Env::new();
    let c = env.client();
    env.inject(
        Fault::status(400),
        Operation::BatchReportUsageRecordGroups,
        1,
    );
    let e = c
        .batch_report_usage_record_groups(&batch("ent-b", 2))
        .expect_err("400");
    assert!(matches!(e, Error::Api { status: 400, .. }), "{e:?}");
    assert_eq!(env.attempts(Operation::BatchReportUsageRecordGroups), 1);
    assert!(env.fake.usage_record_groups().is_empty());
}

#[test]
fn batch_validate_is_retried_on_5xx_and_drops() {
    let env = Env::new();
    let c = env.client();
    env.inject(
        Fault::status(503),
        Operation::BatchValidateUsageRecordGroups,
        1,
    );
    env.inject(
        Fault::drop_after_apply(),
        Operation::BatchValidateUsageRecordGroups,
        1,
    );
    assert_eq!(
        c.batch_validate_usage_record_groups(&batch("ent-b", 2))
            .expect("valid"),
        ""
    );
    assert_eq!(env.attempts(Operation::BatchValidateUsageRecordGroups), 3);
    assert!(env.fake.usage_record_groups().is_empty());
}

#[test]
fn batches_drop_on_the_second_batch_only_that_one_is_unknown() {
    let env = Env::new();
    let c = env.client();
    let groups: Vec<NewUsageRecordGroup> = (0..25)
        .map(|i| NewUsageRecordGroup {
            entitlement_id: format!("ent-{i:02}"),
            records: [("api_calls".to_string(), (i + 1) as f64)].into(),
            ..Default::default()
        })
        .collect();
    // The first batch passes through (a zero delay, consumed by it), the second is dropped
    // after being applied, the third has no fault left.
    env.fake
        .inject(Fault::delay(Duration::ZERO).only(Operation::BatchReportUsageRecordGroups));
    env.inject(
        Fault::drop_after_apply(),
        Operation::BatchReportUsageRecordGroups,
        1,
    );
    let outcomes = c.report_usage_record_groups_in_batches(&groups, 10);
    assert_eq!(outcomes.len(), 3);

    assert_eq!(outcomes[0].range, 0..10);
    assert_eq!(outcomes[0].result.as_ref().expect("batch 1").len(), 10);

    assert_eq!(outcomes[1].range, 10..20);
    match &outcomes[1].result {
        Err(Error::OutcomeUnknown { groups: back, .. }) => assert_eq!(back, &groups[10..20]),
        other => panic!("expected OutcomeUnknown for 10..20, got {other:?}"),
    }

    assert_eq!(outcomes[2].range, 20..25);
    assert_eq!(outcomes[2].result.as_ref().expect("batch 3").len(), 5);

    // All 25 recorded exactly once, in order.
    let stored = env.fake.usage_record_groups();
    assert_eq!(stored.len(), 25);
    for (i, g) in stored.iter().enumerate() {
        assert_eq!(g["entitlementID"], format!("ent-{i:02}").as_str());
        assert_eq!(quantity(g), (i + 1) as f64);
    }
    assert_eq!(env.attempts(Operation::BatchReportUsageRecordGroups), 3);
}
#[test]
fn batch_503_with_retry_after_then_drop_is_outcome_unknown_and_stored_once() {
    let env = Env::new();
    let c = env.client();
    let sent = batch("ent-b", 3);
    env.inject(
        Fault::status(503).retry_after("1"),
        Operation::BatchReportUsageRecordGroups,
        1,
    );
    env.inject(
        Fault::drop_after_apply(),
        Operation::BatchReportUsageRecordGroups,
        1,
    );
    let (groups, source) = unwrap_outcome_unknown(c.batch_report_usage_record_groups(&sent));
    assert_eq!(groups, sent);
    assert!(matches!(source, Error::Transport(_)), "{source:?}");
    assert_batch_stored_once(&env, "ent-b", &sent);
    assert_eq!(env.attempts(Operation::BatchReportUsageRecordGroups), 2);
    assert_eq!(env.sleeps(), [Duration::from_secs(1)]);
}

#[test]
fn batch_200_with_an_unreadable_body_is_outcome_unknown() {
    let env = Env::new();
    let c = env.client();
    let sent = batch("ent-b", 2);
    env.inject(
        Fault::status(200).body("<html>ok</html>"),
        Operation::BatchReportUsageRecordGroups,
        1,
    );
    let (groups, source) = unwrap_outcome_unknown(c.batch_report_usage_record_groups(&sent));
    assert_eq!(groups, sent);
    assert!(
        matches!(source, Error::Decode { status: 200, .. }),
        "{source:?}"
    );
    assert_eq!(env.attempts(Operation::BatchReportUsageRecordGroups), 1);
    assert!(env.fake.usage_record_groups().is_empty());
}

// =============================================================================================
// Reads
// =============================================================================================

/// Runs the three reads once each; they must all succeed.
fn run_reads(c: &MeteringClient) {
    let m = c.get_billable_metric("bm-1").expect("get billable metric");
    assert_eq!(m.name, "API calls");
    let page = c
        .list_usage_record_groups(&ListUsageRecordGroups::new())
        .expect("list");
    assert_eq!(page.usage_record_groups.len(), 1);
    c.get_usage_metering_config_info().expect("get config");
}

/// An env with one billable metric and one usage record group.
fn read_env() -> Env {
    let env = Env::new();
    let c = env.client();
    c.create_billable_metric(&BillableMetric {
        id: "bm-1".into(),
        name: "API calls".into(),
        ..Default::default()
    })
    .expect("seed metric");
    c.report_usage_record_group("ent-1", &params(Some("g1"), 1.0))
        .expect("seed group");
    env
}

const READS: [Operation; 3] = [
    Operation::GetBillableMetric,
    Operation::ListUsageRecordGroups,
    Operation::GetUsageMeteringConfigInfo,
];

fn reads_retried_after(fault: impl Fn() -> Fault, timeout: Option<Duration>) {
    let env = read_env();
    let c = env.client_with(RetryPolicy::default(), timeout);
    for op in READS {
        env.inject(fault(), op, 1);
    }
    run_reads(&c);
    for op in READS {
        assert_eq!(env.attempts(op), 2, "{op:?}");
    }
    assert_eq!(env.sleeps().len(), 3);
    assert_eq!(env.fake.usage_record_groups().len(), 1);
}

#[test]
fn reads_503_500_502_504_then_success() {
    for status in [503, 500, 502, 504] {
        reads_retried_after(|| Fault::status(status), None);
    }
}

#[test]
fn reads_408_and_429_then_success() {
    reads_retried_after(|| Fault::status(408), None);
    reads_retried_after(|| Fault::status(429), None);
}

#[test]
fn reads_two_failures_then_success() {
    let env = read_env();
    let c = env.client();
    env.inject(Fault::status(502), Operation::GetBillableMetric, 2);
    c.get_billable_metric("bm-1").expect("3rd attempt");
    assert_eq!(env.attempts(Operation::GetBillableMetric), 3);
}

#[test]
fn reads_three_failures_return_the_last_error() {
    let env = read_env();
    let c = env.client();
    env.inject(Fault::status(504), Operation::GetBillableMetric, 3);
    let e = c.get_billable_metric("bm-1").expect_err("exhausted");
    assert!(matches!(e, Error::Api { status: 504, .. }), "{e:?}");
    assert_eq!(env.attempts(Operation::GetBillableMetric), 3);
}

#[test]
fn reads_drop_after_apply_then_success() {
    reads_retried_after(Fault::drop_after_apply, None);
}

#[test]
fn reads_truncated_body_then_success() {
    reads_retried_after(Fault::truncate_body, None);
}

#[test]
fn reads_delay_past_timeout_then_success() {
    let env = read_env();
    let c = env.timed_client();
    env.inject(Fault::delay(DELAY), Operation::GetBillableMetric, 1);
    let started = Instant::now();
    assert_eq!(c.get_billable_metric("bm-1").expect("retried").id, "bm-1");
    assert!(started.elapsed() >= TIMEOUT);
    assert_eq!(env.attempts(Operation::GetBillableMetric), 2);
    assert_eq!(env.sleeps().len(), 1);
}

#[test]
fn reads_with_retries_disabled_return_the_first_error() {
    let env = read_env();
    let c = env.client_with(RetryPolicy::disabled(), Some(TIMEOUT));

    env.inject(Fault::delay(DELAY), Operation::GetBillableMetric, 1);
    let e = c.get_billable_metric("bm-1").expect_err("timeout");
    assert!(matches!(e, Error::Timeout(_)), "{e:?}");
    assert!(e.is_retryable());
    assert!(e.request_may_have_been_sent());
    assert_eq!(env.attempts(Operation::GetBillableMetric), 1);

    env.inject(
        Fault::drop_after_apply(),
        Operation::ListUsageRecordGroups,
        1,
    );
    let e = c
        .list_usage_record_groups(&ListUsageRecordGroups::new())
        .expect_err("dropped");
    assert!(matches!(e, Error::Transport(_)), "{e:?}");
    assert!(e.request_may_have_been_sent());
    assert_eq!(env.attempts(Operation::ListUsageRecordGroups), 1);

    env.inject(Fault::status(503), Operation::GetUsageMeteringConfigInfo, 1);
    let e = c.get_usage_metering_config_info().expect_err("503");
    assert!(matches!(e, Error::Api { status: 503, .. }), "{e:?}");
    assert_eq!(env.attempts(Operation::GetUsageMeteringConfigInfo), 1);
    assert!(env.sleeps().is_empty());
}

// =============================================================================================
// Updates (PATCH)
// =============================================================================================

#[test]
fn update_billable_metric_drop_after_apply_is_retried_and_ends_right() {
    let env = read_env();
    let c = env.client();
    env.inject(
        Fault::drop_after_apply(),
        Operation::UpdateBillableMetric,
        1,
    );
    let m = c
        .update_billable_metric(
            "bm-1",
            &UpdateBillableMetricParams {
                description: Some("all regions".into()),
                status: Some(BillableMetricStatus::Deleted),
                ..Default::default()
            },
        )
        .expect("retried");
    assert_eq!(m.description, "all regions");
    assert_eq!(m.status, Some(BillableMetricStatus::Deleted));
    assert_eq!(env.attempts(Operation::UpdateBillableMetric), 2);
    let stored = env.fake.billable_metrics();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["description"], "all regions");
    assert_eq!(stored[0]["status"], "DELETED");
    assert_eq!(stored[0]["name"], "API calls");
}

#[test]
fn update_config_drop_after_apply_is_retried_and_ends_right() {
    let env = Env::new();
    let c = env.client();
    let wanted = UsageMeteringConfigInfo {
        partner_usage_metering_configs: vec![PartnerUsageMeteringConfig {
            partner: Some(Partner::Azure),
            enable_dimension_mapping: true,
            ..Default::default()
        }],
    };
    env.inject(
        Fault::drop_after_apply(),
        Operation::UpdateUsageMeteringConfigInfo,
        1,
    );
    env.inject(
        Fault::truncate_body(),
        Operation::UpdateUsageMeteringConfigInfo,
        1,
    );
    assert_eq!(
        c.update_usage_metering_config_info(&wanted)
            .expect("retried"),
        wanted
    );
    assert_eq!(env.attempts(Operation::UpdateUsageMeteringConfigInfo), 3);
    assert_eq!(c.get_usage_metering_config_info().expect("get"), wanted);
}

#[test]
fn update_503_is_retried() {
    let env = read_env();
    let c = env.client();
    env.inject(Fault::status(503), Operation::UpdateBillableMetric, 1);
    c.update_billable_metric(
        "bm-1",
        &UpdateBillableMetricParams {
            name: Some("Calls".into()),
            ..Default::default()
        },
    )
    .expect("retried");
    assert_eq!(env.attempts(Operation::UpdateBillableMetric), 2);
    assert_eq!(env.fake.billable_metrics()[0]["name"], "Calls");
}

// =============================================================================================
// Delete / retry usage record group, create billable metric: not safe to repeat
// =============================================================================================

#[test]
fn delete_drop_after_apply_is_not_retried_and_says_it_may_have_been_sent() {
    let env = read_env();
    let c = env.client();
    env.inject(
        Fault::drop_after_apply(),
        Operation::DeleteUsageRecordGroup,
        1,
    );
    let e = c
        .delete_usage_record_group("g1", None)
        .expect_err("dropped");
    assert!(matches!(e, Error::Transport(_)), "{e:?}");
    assert!(e.request_may_have_been_sent());
    assert_eq!(env.attempts(Operation::DeleteUsageRecordGroup), 1);
    assert!(env.sleeps().is_empty());
    // It was applied.
    assert_eq!(env.fake.usage_record_groups()[0]["status"], "DELETED");
}

#[test]
fn retry_group_drop_after_apply_is_not_retried_and_says_it_may_have_been_sent() {
    let env = read_env();
    let c = env.client();
    env.fake.fail_next_report_for("g1");
    env.fake.run_report_cycle();
    assert_eq!(env.fake.usage_record_groups()[0]["status"], "REPORT_FAILED");
    env.inject(
        Fault::drop_after_apply(),
        Operation::RetryUsageRecordGroup,
        1,
    );
    let e = c.retry_usage_record_group("g1", None).expect_err("dropped");
    assert!(matches!(e, Error::Transport(_)), "{e:?}");
    assert!(e.request_may_have_been_sent());
    assert_eq!(env.attempts(Operation::RetryUsageRecordGroup), 1);
    assert_eq!(env.fake.usage_record_groups()[0]["status"], "CREATED");
}

#[test]
fn create_metric_drop_after_apply_is_not_retried_and_creates_one() {
    let env = Env::new();
    let c = env.client();
    env.inject(
        Fault::drop_after_apply(),
        Operation::CreateBillableMetric,
        1,
    );
    let e = c
        .create_billable_metric(&BillableMetric {
            name: "Storage".into(),
            ..Default::default()
        })
        .expect_err("dropped");
    assert!(matches!(e, Error::Transport(_)), "{e:?}");
    assert!(e.request_may_have_been_sent());
    assert_eq!(env.attempts(Operation::CreateBillableMetric), 1);
    assert_eq!(env.fake.billable_metrics().len(), 1);
}

#[test]
fn unsafe_ops_503_without_retry_after_are_not_retried() {
    let env = read_env();
    let c = env.client();
    env.inject(Fault::status(503), Operation::DeleteUsageRecordGroup, 1);
    env.inject(Fault::status(500), Operation::CreateBillableMetric, 1);
    let e = c.delete_usage_record_group("g1", None).expect_err("503");
    assert_eq!(e.status(), Some(503));
    let e = c
        .create_billable_metric(&BillableMetric {
            name: "Storage".into(),
            ..Default::default()
        })
        .expect_err("500");
    assert_eq!(e.status(), Some(500));
    assert_eq!(env.attempts(Operation::DeleteUsageRecordGroup), 1);
    assert_eq!(env.attempts(Operation::CreateBillableMetric), 2, "seed + 1");
    assert_eq!(env.fake.billable_metrics().len(), 1);
    assert_eq!(env.fake.usage_record_groups()[0]["status"], "CREATED");
}

#[test]
fn unsafe_ops_503_with_retry_after_are_retried() {
    let env = read_env();
    let c = env.client();
    env.inject(
        Fault::status(503).retry_after("1"),
        Operation::CreateBillableMetric,
        1,
    );
    let m = c
        .create_billable_metric(&BillableMetric {
            id: "bm-2".into(),
            name: "Storage".into(),
            ..Default::default()
        })
        .expect("retried");
    assert_eq!(m.id, "bm-2");
    assert_eq!(
        env.attempts(Operation::CreateBillableMetric),
        3,
        "seed, 503, retry"
    );
    assert_eq!(env.fake.billable_metrics().len(), 2);

    env.fake.fail_next_report_for("g1");
    env.fake.run_report_cycle();
    env.inject(
        Fault::status(503).retry_after("1"),
        Operation::RetryUsageRecordGroup,
        1,
    );
    let g = c.retry_usage_record_group("g1", None).expect("retried");
    assert_eq!(
        g.status,
        Some(suger_metering::UsageRecordGroupStatus::Created)
    );
    assert_eq!(env.attempts(Operation::RetryUsageRecordGroup), 2);

    env.inject(
        Fault::status(429).retry_after("0"),
        Operation::DeleteUsageRecordGroup,
        1,
    );
    c.delete_usage_record_group("g1", None).expect("retried");
    assert_eq!(env.attempts(Operation::DeleteUsageRecordGroup), 2);
    assert_eq!(env.fake.usage_record_groups()[0]["status"], "DELETED");
    assert_eq!(
        env.sleeps(),
        [
            Duration::from_secs(1),
            Duration::from_secs(1),
            Duration::ZERO
        ]
    );
}
#[test]
fn delete_delay_past_timeout_is_a_timeout_not_retried_and_applied_later() {
    let env = read_env();
    let c = env.timed_client();
    env.inject(Fault::delay(DELAY), Operation::DeleteUsageRecordGroup, 1);
    let e = c
        .delete_usage_record_group("g1", None)
        .expect_err("timeout");
    assert!(matches!(e, Error::Timeout(_)), "{e:?}");
    assert!(e.request_may_have_been_sent());
    assert_eq!(env.attempts(Operation::DeleteUsageRecordGroup), 1);
    assert!(env.sleeps().is_empty());
    wait_until(|| env.fake.usage_record_groups()[0]["status"] == "DELETED");
    assert_eq!(env.fake.usage_record_groups()[0]["status"], "DELETED");
}

// =============================================================================================
// Retry-After beyond the policy's limit
// =============================================================================================

#[test]
fn retry_after_beyond_max_retry_after_is_not_waited_for() {
    let env = Env::new();
    let c = env.client();
    env.inject(
        Fault::status(429).retry_after("60"),
        Operation::ReportUsageRecordGroup,
        1,
    );
    let e = c
        .report_usage_record_group("ent-1", &params(None, 1.0))
        .expect_err("not retried");
    assert!(matches!(e, Error::Api { status: 429, .. }), "{e:?}");
    assert_eq!(e.retry_after(), Some(Duration::from_secs(60)));
    assert_eq!(env.attempts(Operation::ReportUsageRecordGroup), 1);
    assert!(env.sleeps().is_empty());
    assert!(env.fake.usage_record_groups().is_empty());

    // A custom limit, on a read and on a batch (a plain error: the server did not process it).
    let c = env.client_with(
        RetryPolicy::default().max_retry_after(Duration::from_secs(1)),
        None,
    );
    env.inject(
        Fault::status(503).retry_after("2"),
        Operation::GetUsageMeteringConfigInfo,
        1,
    );
    let e = c.get_usage_metering_config_info().expect_err("not retried");
    assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
    assert_eq!(env.attempts(Operation::GetUsageMeteringConfigInfo), 1);

    env.inject(
        Fault::status(503).retry_after("2"),
        Operation::BatchReportUsageRecordGroups,
        1,
    );
    let e = c
        .batch_report_usage_record_groups(&batch("ent-b", 2))
        .expect_err("not retried");
    assert!(matches!(e, Error::Api { status: 503, .. }), "{e:?}");
    assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
    assert_eq!(env.attempts(Operation::BatchReportUsageRecordGroups), 1);
    assert!(env.sleeps().is_empty());
    assert!(env.fake.usage_record_groups().is_empty());
}

#[test]
fn retry_after_as_an_http_date_in_the_past_is_zero() {
    let env = Env::new();
    let c = env.client();
    env.inject(
        Fault::status(503).retry_after("Thu, 01 Jan 2015 00:00:00 GMT"),
        Operation::ReportUsageRecordGroup,
        1,
    );
    c.report_usage_record_group("ent-1", &params(None, 1.0))
        .expect("retried");
    assert_eq!(env.sleeps(), [Duration::ZERO]);
    assert_stored_once(&env, "ent-1", 1.0);
}

// =============================================================================================
// Summary: a caller that acts only on what it is told
// =============================================================================================

/// What one summary scenario expects to end up recorded, per entitlement: the quantities.
type Expected = BTreeMap<String, Vec<f64>>;

/// A caller's single report: acts on the answer the way the error docs say.
fn caller_report(c: &MeteringClient, ent: &str, id: Option<&str>, qty: f64) {
    match c.report_usage_record_group(ent, &params(id, qty)) {
        // Recorded.
        Ok(_) => {}
        Err(e) if e.is_already_reported() => {}
        // First attempt conflict: the id was recorded before.
        Err(e) if e.is_conflict() => {}
        // Not recorded, or maybe: re-report with the same id (only possible with a caller id).
        Err(e) => {
            let id = id.unwrap_or_else(|| panic!("no id to re-report safely after {e:?}"));
            caller_report(c, ent, Some(id), qty);
        }
    }
}

/// A caller's batch: on `OutcomeUnknown`, it checks what was recorded before resending.
fn caller_batch(c: &MeteringClient, sent: &[NewUsageRecordGroup], in_flight: bool) {
    let started = Instant::now();
    match c.batch_report_usage_record_groups(sent) {
        Ok(created) => assert_eq!(created.len(), sent.len()),
        Err(Error::OutcomeUnknown { groups, .. }) => {
            assert_eq!(groups, sent);
            if in_flight {
                // A request that timed out may still be in flight: wait it out first.
                let settled = DELAY + Duration::from_millis(50);
                std::thread::sleep(settled.saturating_sub(started.elapsed()));
            }
            reconcile(c, &groups);
        }
        Err(e) => {
            assert!(matches!(e, Error::Api { .. }), "{e:?}");
            // A definite refusal: nothing was recorded; send again.
            caller_batch(c, sent, false);
        }
    }
}

/// Resends the groups of a batch of unknown outcome that are not recorded. Each group of the
/// scenarios has its own entitlement and quantity, so "recorded" is decidable by listing.
fn reconcile(c: &MeteringClient, groups: &[NewUsageRecordGroup]) {
    let missing: Vec<NewUsageRecordGroup> = groups
        .iter()
        .filter(|g| {
            let listed: Vec<f64> = c
                .usage_record_groups(
                    &ListUsageRecordGroups::new().entitlement_id(&g.entitlement_id),
                )
                .map(|r| r.expect("list").records["api_calls"])
                .collect();
            !listed.contains(&g.records["api_calls"])
        })
        .cloned()
        .collect();
    if !missing.is_empty() {
        c.batch_report_usage_record_groups(&missing)
            .expect("resend of the missing groups");
    }
}

fn one_group_each(prefix: &str, n: usize) -> Vec<NewUsageRecordGroup> {
    (0..n)
        .map(|i| NewUsageRecordGroup {
            entitlement_id: format!("{prefix}-{i:02}"),
            records: [("api_calls".to_string(), (i + 1) as f64)].into(),
            ..Default::default()
        })
        .collect()
}

fn expect_groups(expected: &mut Expected, groups: &[NewUsageRecordGroup]) {
    for g in groups {
        expected
            .entry(g.entitlement_id.clone())
            .or_default()
            .push(g.records["api_calls"]);
    }
}

/// Runs one summary scenario on its own fake; returns (faults injected, lost, duplicated).
fn summary_scenario(n: usize) -> (usize, usize, usize) {
    use Operation::{BatchReportUsageRecordGroups as Batch, ReportUsageRecordGroup as Report};
    let env = Env::new();
    let mut expected = Expected::new();
    let ent = format!("ent-s{n:02}");
    let report = |fault: Fault, times: usize, id: Option<&str>, c: &MeteringClient| {
        env.inject(fault, Report, times);
        caller_report(c, &ent, id, (n + 1) as f64);
    };
    match n {
        0 => report(Fault::status(503), 1, None, &env.client()),
        1 => report(Fault::status(500), 1, None, &env.client()),
        2 => report(Fault::status(502), 1, None, &env.client()),
        3 => report(Fault::status(504), 1, None, &env.client()),
        4 => report(Fault::status(429).retry_after("0"), 1, None, &env.client()),
        5 => report(Fault::drop_after_apply(), 1, None, &env.client()),
        6 => report(Fault::truncate_body(), 1, None, &env.client()),
        7 => report(
            Fault::delay(DELAY),
            1,
            None,
            &env.client_waiting_for_groups(1),
        ),
        8 => report(Fault::status(503), 3, Some("s-8"), &env.client()),
        9 => report(Fault::drop_after_apply(), 3, Some("s-9"), &env.client()),
        10 => report(Fault::status(400), 1, Some("s-10"), &env.client()),
        11 => report(Fault::status(502), 2, None, &env.client()),
        _ => {}
    }
    if n <= 11 {
        expected.insert(ent.clone(), vec![(n + 1) as f64]);
    }
    let batch_case = |fault: Fault, in_flight: bool, c: &MeteringClient| {
        let sent = one_group_each(&ent, 3);
        env.inject(fault, Batch, 1);
        caller_batch(c, &sent, in_flight);
        sent
    };
    let sent = match n {
        12 => batch_case(Fault::status(429).retry_after("1"), false, &env.client()),
        13 => batch_case(Fault::status(503).retry_after("1"), false, &env.client()),
        14 => batch_case(Fault::status(503), false, &env.client()),
        15 => batch_case(Fault::status(500), false, &env.client()),
        16 => batch_case(Fault::drop_after_apply(), false, &env.client()),
        17 => batch_case(Fault::truncate_body(), false, &env.client()),
        18 => batch_case(Fault::delay(DELAY), true, &env.timed_client()),
        19 => batch_case(Fault::status(400), false, &env.client()),
        20 => {
            let c = env.client();
            let groups = one_group_each(&ent, 25);
            env.fake
                .inject(Fault::delay(Duration::ZERO).only(Operation::BatchReportUsageRecordGroups));
            env.inject(Fault::drop_after_apply(), Batch, 1);
            for outcome in c.report_usage_record_groups_in_batches(&groups, 10) {
                match outcome.result {
                    Ok(created) => assert_eq!(created.len(), outcome.range.len()),
                    Err(Error::OutcomeUnknown { groups: back, .. }) => {
                        assert_eq!(back, &groups[outcome.range]);
                        reconcile(&c, &back);
                    }
                    Err(e) => panic!("unexpected {e:?}"),
                }
            }
            groups
        }
        _ => Vec::new(),
    };
    expect_groups(&mut expected, &sent);

    // Stored vs expected, per entitlement.
    let mut stored = Expected::new();
    for g in env.fake.usage_record_groups() {
        stored
            .entry(g["entitlementID"].as_str().expect("ent").to_string())
            .or_default()
            .push(quantity(&g));
    }
    let (mut lost, mut duplicated) = (0, 0);
    let keys: std::collections::BTreeSet<&String> = expected.keys().chain(stored.keys()).collect();
    for k in keys {
        let want = expected.get(k).cloned().unwrap_or_default();
        let mut got = stored.get(k).cloned().unwrap_or_default();
        for q in &want {
            match got.iter().position(|x| x == q) {
                Some(p) => {
                    got.remove(p);
                }
                None => lost += 1,
            }
        }
        duplicated += got.len();
    }
    assert!(env.faults() > 0, "scenario {n} injected a fault");
    (env.faults(), lost, duplicated)
}

#[test]
fn zz_summary() {
    const SCENARIOS: usize = 21;
    let results: Vec<(usize, usize, usize)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..SCENARIOS)
            .map(|n| s.spawn(move || summary_scenario(n)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("scenario thread"))
            .collect()
    });
    let faults: usize = results.iter().map(|r| r.0).sum();
    let lost: usize = results.iter().map(|r| r.1).sum();
    let duplicated: usize = results.iter().map(|r| r.2).sum();
    let line = format!("faults injected: {faults}, records lost: {lost}, duplicated: {duplicated}");
    println!("{line}");
    // Also straight to the process's stderr, which the test harness does not capture: the
    // line shows in every `cargo test` run, with or without `--nocapture`.
    {
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }
    assert!(FAULTS_INJECTED.load(Ordering::SeqCst) >= faults);
    for (n, r) in results.iter().enumerate() {
        assert_eq!((r.1, r.2), (0, 0), "scenario {n}: (lost, duplicated)");
    }
    assert_eq!(lost, 0);
    assert_eq!(duplicated, 0);
}

// =============================================================================================
// Requests that never reached a server
// =============================================================================================

#[test]
fn a_batch_to_a_closed_port_is_retried_and_reported_as_not_sent() {
    // Bind then drop a listener: nothing listens on that port any more (connection refused).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let sleeps = Arc::new(Mutex::new(Vec::new()));
    let recorded = Arc::clone(&sleeps);
    let client = suger_metering::MeteringClient::builder()
        .api_key("k")
        .org_id("o")
        .base_url(format!("http://127.0.0.1:{port}"))
        .proxy(None)
        .retry(
            RetryPolicy::default()
                .sleep_fn(move |d| recorded.lock().unwrap_or_else(|e| e.into_inner()).push(d)),
        )
        .build()
        .expect("client");
    let e = client
        .batch_report_usage_record_groups(&batch("ent-1", 2))
        .expect_err("nothing listens");
    // Connection refused proves the batch never left: it was retried (3 attempts, 2 waits)
    // and is not reported as an unknown outcome.
    assert!(matches!(e, Error::Transport(_)), "{e:?}");
    assert!(!e.request_may_have_been_sent());
    assert_eq!(sleeps.lock().unwrap().len(), 2);
}
