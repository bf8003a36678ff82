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
    ListUsageRecordGroups, MeteringClient, NewUsageRecordGroup, Partner,
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

// =============================================================================================
// Single report: one table, one driver
// =============================================================================================

/// Which client a scenario uses; every one records its retry waits instead of sleeping.
#[derive(Clone, Copy)]
enum Client {
    /// The default retry policy.
    Default,
    /// The default policy with this per-attempt timeout.
    Timeout(Duration),
    /// [`TIMEOUT`] per attempt, and a retry that waits until the fake stored one group.
    WaitingForOneGroup,
    /// At most this many attempts.
    MaxAttempts(u32),
    /// `Retry-After` is honoured up to this many seconds.
    MaxRetryAfter(u64),
}

impl Env {
    fn client_for(&self, kind: Client) -> MeteringClient {
        match kind {
            Client::Default => self.client(),
            Client::Timeout(t) => self.client_with(RetryPolicy::default(), Some(t)),
            Client::WaitingForOneGroup => self.client_waiting_for_groups(1),
            Client::MaxAttempts(n) => {
                self.client_with(RetryPolicy::default().max_attempts(n), None)
            }
            Client::MaxRetryAfter(s) => self.client_with(
                RetryPolicy::default().max_retry_after(Duration::from_secs(s)),
                None,
            ),
        }
    }
}

/// The waits the client asked for between attempts.
#[derive(Clone, Copy, Debug)]
enum Waits {
    /// None: the call was not retried.
    None,
    /// One full-jitter backoff within the first bound (250 ms): no `Retry-After`.
    OneBackoff,
    /// This many waits, of any length.
    Count(usize),
    /// Exactly these waits, in milliseconds.
    Exactly(&'static [u64]),
}

impl Waits {
    fn check(self, got: &[Duration], name: &str) {
        match self {
            Waits::None => assert!(got.is_empty(), "{name}: {got:?}"),
            Waits::OneBackoff => {
                assert_eq!(got.len(), 1, "{name}: {got:?}");
                assert!(got[0] <= Duration::from_millis(250), "{name}: {got:?}");
            }
            Waits::Count(n) => assert_eq!(got.len(), n, "{name}: {got:?}"),
            Waits::Exactly(ms) => {
                let want: Vec<Duration> = ms.iter().map(|&m| Duration::from_millis(m)).collect();
                assert_eq!(got, want, "{name}");
            }
        }
    }
}

/// What a single report must end in.
#[derive(Clone, Copy)]
enum ReportEnd {
    /// `Ok` with the id of the one group stored.
    Recorded,
    /// `Error::AlreadyReported` with the id of the one group stored: 409, a conflict, not
    /// retryable.
    AlreadyReported,
    /// `Error::Api` with this status and `Retry-After`, not already reported; nothing stored.
    Refused(u16, Option<u64>),
    /// `Error::ReportOutcomeUnknown` with the id that was sent (and stored, when `stored`),
    /// which its message names; its source passes `source`; `status` and `retryable` as given.
    Unknown {
        source: fn(&Error) -> bool,
        stored: bool,
        status: Option<u16>,
        retryable: Option<bool>,
    },
}

/// What the caller does next, acting on the error.
#[derive(Clone, Copy)]
enum Then {
    Nothing,
    /// Re-reports under the id the error handed back: a plain conflict (first attempt of that
    /// call), and still one group stored.
    ResendIsAConflict,
    /// Re-reports under the same id: recorded, one group stored, one more attempt.
    ResendIsRecorded,
}

/// One report scenario: `faults` (fault, requests it affects) on `ReportUsageRecordGroup`, then
/// `report_usage_record_group("ent-1", {id, records: {api_calls: 5}})`.
struct ReportCase {
    name: &'static str,
    faults: fn() -> Vec<(Fault, usize)>,
    client: Client,
    id: Option<&'static str>,
    outcome: ReportEnd,
    attempts: usize,
    waits: Waits,
    then: Then,
}

fn transport(e: &Error) -> bool {
    matches!(e, Error::Transport(_))
}

fn timeout(e: &Error) -> bool {
    matches!(e, Error::Timeout(_))
}

fn api_503(e: &Error) -> bool {
    matches!(e, Error::Api { status: 503, .. })
}

fn decode_200(e: &Error) -> bool {
    matches!(e, Error::Decode { status: 200, .. })
}

/// Asserts `e` is `Error::Api` with `status` and `Retry-After` (seconds), and nothing is stored.
fn assert_refused(env: &Env, name: &str, e: &Error, status: u16, retry_after: Option<u64>) {
    assert!(
        matches!(e, Error::Api { status: s, .. } if *s == status),
        "{name}: {e:?}"
    );
    assert_eq!(
        e.retry_after(),
        retry_after.map(Duration::from_secs),
        "{name}"
    );
    assert!(env.fake.usage_record_groups().is_empty(), "{name}");
}

/// The common shape of a report row: one fault, retried once after a backoff, recorded.
const RETRIED: ReportCase = ReportCase {
    name: "",
    faults: Vec::new,
    client: Client::Default,
    id: None,
    outcome: ReportEnd::Recorded,
    attempts: 2,
    waits: Waits::OneBackoff,
    then: Then::Nothing,
};

/// A report answered with an error at once: one attempt, no wait.
const NOT_RETRIED: ReportCase = ReportCase {
    attempts: 1,
    waits: Waits::None,
    ..RETRIED
};

/// Every attempt failed ambiguously after the group was applied: the id is handed back.
const DROPPED_EVERY_TIME: ReportCase = ReportCase {
    faults: || vec![(Fault::drop_after_apply(), 3)],
    outcome: ReportEnd::Unknown {
        source: transport,
        stored: true,
        status: None,
        retryable: Some(true),
    },
    attempts: 3,
    waits: Waits::Count(2),
    then: Then::ResendIsAConflict,
    ..RETRIED
};

const REPORT_CASES: &[ReportCase] = &[
    ReportCase {
        name: "report_503_once_is_retried",
        faults: || vec![(Fault::status(503), 1)],
        ..RETRIED
    },
    ReportCase {
        name: "report_500_once_is_retried",
        faults: || vec![(Fault::status(500), 1)],
        ..RETRIED
    },
    ReportCase {
        name: "report_502_once_is_retried",
        faults: || vec![(Fault::status(502), 1)],
        ..RETRIED
    },
    ReportCase {
        name: "report_504_once_is_retried",
        faults: || vec![(Fault::status(504), 1)],
        ..RETRIED
    },
    ReportCase {
        name: "report_502_html_from_a_proxy_is_retried",
        faults: || {
            vec![(
                Fault::status(502).body("<html><body>502 Bad Gateway</body></html>"),
                1,
            )]
        },
        ..RETRIED
    },
    ReportCase {
        name: "report_429_with_retry_after_0_waits_exactly_0s",
        faults: || vec![(Fault::status(429).retry_after("0"), 1)],
        waits: Waits::Exactly(&[0]),
        ..RETRIED
    },
    ReportCase {
        name: "report_429_with_retry_after_waits_what_the_server_asks",
        faults: || vec![(Fault::status(429).retry_after("7"), 1)],
        waits: Waits::Exactly(&[7000]),
        ..RETRIED
    },
    ReportCase {
        name: "report_retry_after_as_an_http_date_in_the_past_is_zero",
        faults: || {
            vec![(
                Fault::status(503).retry_after("Thu, 01 Jan 2015 00:00:00 GMT"),
                1,
            )]
        },
        waits: Waits::Exactly(&[0]),
        ..RETRIED
    },
    ReportCase {
        name: "report_custom_max_attempts_is_honoured",
        faults: || vec![(Fault::status(500), 4)],
        client: Client::MaxAttempts(5),
        attempts: 5,
        waits: Waits::Count(4),
        ..RETRIED
    },
    ReportCase {
        name: "report_drop_after_apply_is_already_reported_with_the_stored_id",
        faults: || vec![(Fault::drop_after_apply(), 1)],
        outcome: ReportEnd::AlreadyReported,
        ..RETRIED
    },
    ReportCase {
        name: "report_with_id_drop_after_apply_is_already_reported_with_that_id",
        faults: || vec![(Fault::drop_after_apply(), 1)],
        id: Some("hour-15"),
        outcome: ReportEnd::AlreadyReported,
        ..RETRIED
    },
    ReportCase {
        name: "report_truncated_body_is_already_reported",
        faults: || vec![(Fault::truncate_body(), 1)],
        outcome: ReportEnd::AlreadyReported,
        ..RETRIED
    },
    ReportCase {
        name: "report_drop_then_503_then_409_is_already_reported",
        faults: || vec![(Fault::drop_after_apply(), 1), (Fault::status(503), 1)],
        outcome: ReportEnd::AlreadyReported,
        attempts: 3,
        waits: Waits::Count(2),
        ..RETRIED
    },
    ReportCase {
        name: "report_delay_past_timeout_is_already_reported_once_the_first_attempt_applied",
        faults: || vec![(Fault::delay(DELAY), 1)],
        client: Client::WaitingForOneGroup,
        outcome: ReportEnd::AlreadyReported,
        waits: Waits::Count(1),
        ..RETRIED
    },
    // The other interleaving: the retry reaches the server before the delayed attempt is
    // applied. The retry records the group; the late first attempt is refused with 409. A
    // shorter timeout leaves the retry a wide margin before the delayed attempt applies.
    ReportCase {
        name: "report_delay_past_timeout_retry_first_is_ok_and_the_late_attempt_is_deduplicated",
        faults: || vec![(Fault::delay(DELAY), 1)],
        client: Client::Timeout(Duration::from_millis(120)),
        waits: Waits::Count(1),
        ..RETRIED
    },
    ReportCase {
        name: "report_400_is_not_retried",
        faults: || vec![(Fault::status(400), 1)],
        outcome: ReportEnd::Refused(400, None),
        ..NOT_RETRIED
    },
    ReportCase {
        name: "report_401_is_not_retried",
        faults: || vec![(Fault::status(401), 1)],
        outcome: ReportEnd::Refused(401, None),
        ..NOT_RETRIED
    },
    ReportCase {
        name: "report_403_is_not_retried",
        faults: || vec![(Fault::status(403), 1)],
        outcome: ReportEnd::Refused(403, None),
        ..NOT_RETRIED
    },
    ReportCase {
        name: "report_404_is_not_retried",
        faults: || vec![(Fault::status(404), 1)],
        outcome: ReportEnd::Refused(404, None),
        ..NOT_RETRIED
    },
    // An injected 409 on the first attempt is a plain conflict, not AlreadyReported.
    ReportCase {
        name: "report_409_on_the_first_attempt_is_not_retried_nor_already_reported",
        faults: || vec![(Fault::status(409), 1)],
        outcome: ReportEnd::Refused(409, None),
        ..NOT_RETRIED
    },
    ReportCase {
        name: "report_retry_after_beyond_max_retry_after_is_not_waited_for",
        faults: || vec![(Fault::status(429).retry_after("60"), 1)],
        outcome: ReportEnd::Refused(429, Some(60)),
        ..NOT_RETRIED
    },
    ReportCase {
        name: "report_200_with_an_unreadable_body_is_an_unknown_outcome_not_retried",
        faults: || vec![(Fault::status(200).body("<html>maintenance</html>"), 1)],
        outcome: ReportEnd::Unknown {
            source: decode_200,
            stored: false,
            status: Some(200),
            retryable: None,
        },
        ..NOT_RETRIED
    },
    ReportCase {
        name: "report_drop_on_every_attempt_is_report_outcome_unknown_and_stores_once",
        id: Some("job-7"),
        ..DROPPED_EVERY_TIME
    },
    // After every attempt failed ambiguously, the caller learns the generated id, and
    // reporting again under it cannot bill twice.
    ReportCase {
        name: "report_generated_id_drop_on_every_attempt_hands_the_id_back_so_a_resend_is_deduplicated",
        ..DROPPED_EVERY_TIME
    },
    // A 503 without Retry-After may come from a proxy that forwarded the request: unknown.
    ReportCase {
        name: "report_with_id_503_exhausted_then_rereport_same_id_stores_once",
        faults: || vec![(Fault::status(503), 3)],
        id: Some("hour-14"),
        outcome: ReportEnd::Unknown {
            source: api_503,
            stored: false,
            status: Some(503),
            retryable: Some(true),
        },
        then: Then::ResendIsRecorded,
        ..DROPPED_EVERY_TIME
    },
];

/// Runs one report scenario and checks everything it pins.
fn run_report_case(case: &ReportCase) {
    use Operation::ReportUsageRecordGroup as Report;
    let name = case.name;
    let env = Env::new();
    let c = env.client_for(case.client);
    // The scenarios with a timeout are those where a delayed attempt outlasts it.
    let timeout = match case.client {
        Client::Timeout(t) => Some(t),
        Client::WaitingForOneGroup => Some(TIMEOUT),
        _ => None,
    };
    for (fault, times) in (case.faults)() {
        env.inject(fault, Report, times);
    }
    let started = Instant::now();
    let result = c.report_usage_record_group("ent-1", &params(case.id, 5.0));
    if let Some(timeout) = timeout {
        // The delayed attempt outlasted the client's timeout; let it finish being applied.
        assert!(started.elapsed() >= timeout, "{name}");
        std::thread::sleep((DELAY + Duration::from_millis(50)).saturating_sub(started.elapsed()));
    }
    assert_eq!(env.attempts(Report), case.attempts, "{name}: attempts");
    assert_eq!(env.fake.requests().len(), case.attempts, "{name}: requests");
    case.waits.check(&env.sleeps(), name);
    // Every attempt of one call carried the same body, so the same id.
    let reqs = env.fake.requests();
    assert!(reqs.iter().all(|r| r.body == reqs[0].body), "{name}");
    let sent_id = reqs[0].json().expect("json")["id"]
        .as_str()
        .expect("the client sends an id")
        .to_string();
    if let Some(id) = case.id {
        assert_eq!(sent_id, id, "{name}");
    }
    let stored = || assert_stored_once(&env, "ent-1", 5.0);
    match case.outcome {
        ReportEnd::Recorded => {
            let g = result.unwrap_or_else(|e| panic!("{name}: must be retried: {e:?}"));
            assert_eq!(g.id, stored(), "{name}");
            assert_eq!(g.id, sent_id, "{name}");
        }
        ReportEnd::AlreadyReported => {
            let e = result.expect_err(name);
            let id = stored();
            assert_eq!(id, sent_id, "{name}");
            assert!(
                matches!(&e, Error::AlreadyReported { id: got, .. } if *got == id),
                "{name}: {e:?}"
            );
            assert!(e.is_already_reported(), "{name}");
            assert!(e.is_conflict(), "{name}");
            assert_eq!(e.status(), Some(409), "{name}");
            assert!(!e.is_retryable(), "{name}");
        }
        ReportEnd::Refused(status, retry_after) => {
            let e = result.expect_err(name);
            assert_refused(&env, name, &e, status, retry_after);
            assert!(!e.is_already_reported(), "{name}");
        }
        ReportEnd::Unknown {
            source: source_is,
            stored: was_stored,
            status,
            retryable,
        } => {
            let e = result.expect_err(name);
            let Error::ReportOutcomeUnknown { id, source } = &e else {
                panic!("{name}: expected ReportOutcomeUnknown, got {e:?}");
            };
            assert_eq!(id, &sent_id, "{name}");
            assert!(source_is(source), "{name}: {source:?}");
            assert!(e.to_string().contains(id.as_str()), "{name}: {e}");
            assert!(e.request_may_have_been_sent(), "{name}");
            assert_eq!(e.status(), status, "{name}");
            if let Some(retryable) = retryable {
                assert_eq!(e.is_retryable(), retryable, "{name}");
            }
            if was_stored {
                assert_eq!(stored(), sent_id, "{name}");
            } else {
                assert!(env.fake.usage_record_groups().is_empty(), "{name}");
            }
        }
    }
    match case.then {
        Then::Nothing => {}
        Then::ResendIsAConflict => {
            let e = c
                .report_usage_record_group("ent-1", &params(Some(&sent_id), 5.0))
                .expect_err(name);
            assert!(e.is_conflict(), "{name}: {e:?}");
            assert!(
                !e.is_already_reported(),
                "{name}: first attempt of this call"
            );
            assert_eq!(stored(), sent_id, "{name}");
        }
        Then::ResendIsRecorded => {
            let g = c
                .report_usage_record_group("ent-1", &params(Some(&sent_id), 5.0))
                .unwrap_or_else(|e| panic!("{name}: re-report: {e:?}"));
            assert_eq!(g.id, sent_id, "{name}");
            assert_eq!(stored(), sent_id, "{name}");
            assert_eq!(env.attempts(Report), case.attempts + 1, "{name}");
        }
    }
}

/// Runs the scenarios of `table` whose names start with `prefix`, each on its own fake, in
/// parallel; reports every failing scenario by name.
fn run_table<T: Sync>(table: &[T], name: fn(&T) -> &'static str, prefix: &str, run: fn(&T)) {
    let picked: Vec<&T> = table
        .iter()
        .filter(|c| name(c).starts_with(prefix))
        .collect();
    assert!(!picked.is_empty(), "no scenario named {prefix}*");
    let failed: Vec<&'static str> = std::thread::scope(|s| {
        let handles: Vec<_> = picked
            .iter()
            .map(|&c| (name(c), s.spawn(move || run(c))))
            .collect();
        handles
            .into_iter()
            .filter_map(|(n, h)| h.join().is_err().then_some(n))
            .collect()
    });
    assert!(failed.is_empty(), "failing scenarios: {failed:#?}");
}

// =============================================================================================
// Batch report: one table, one driver
// =============================================================================================

/// What a batch report of three groups must end in.
#[derive(Clone, Copy)]
enum BatchEnd {
    /// `Ok` with three groups, stored exactly once.
    Recorded,
    /// `Error::Api` with this status and `Retry-After` (seconds): the server did not process
    /// the batch, so the outcome is known; nothing stored.
    Refused(u16, Option<u64>),
    /// `Error::OutcomeUnknown` handing the batch back, whose source passes `source`; stored
    /// exactly once (`stored`) or not at all. It has `status`, and the message of its source
    /// (an injected status says `injected {status}`); it is not retryable, may have been sent,
    /// and says not to resend blindly.
    Unknown {
        source: fn(&Error) -> bool,
        status: Option<u16>,
        stored: bool,
    },
}

/// One batch scenario: `faults` on `BatchReportUsageRecordGroups`, then
/// `batch_report_usage_record_groups` of three groups of entitlement `ent-b`.
struct BatchCase {
    name: &'static str,
    faults: fn() -> Vec<(Fault, usize)>,
    client: Client,
    outcome: BatchEnd,
    attempts: usize,
    waits: Waits,
}

fn api(e: &Error) -> bool {
    matches!(e, Error::Api { .. })
}

/// The common shape of a batch row: one fault, answered at once, the batch handed back.
const UNKNOWN: BatchCase = BatchCase {
    name: "",
    faults: Vec::new,
    client: Client::Default,
    outcome: BatchEnd::Unknown {
        source: transport,
        status: None,
        stored: true,
    },
    attempts: 1,
    waits: Waits::None,
};

/// A 5xx without `Retry-After`: not retried, the batch handed back with the `Error::Api` of that
/// status; the fake stored nothing (status faults are answered before applying).
const fn unknown_5xx(status: u16) -> BatchEnd {
    BatchEnd::Unknown {
        source: api,
        status: Some(status),
        stored: false,
    }
}

const BATCH_CASES: &[BatchCase] = &[
    BatchCase {
        name: "batch_429_with_retry_after_is_retried_and_stored_once",
        faults: || vec![(Fault::status(429).retry_after("1"), 1)],
        outcome: BatchEnd::Recorded,
        attempts: 2,
        waits: Waits::Exactly(&[1000]),
        ..UNKNOWN
    },
    BatchCase {
        name: "batch_503_with_retry_after_is_retried_and_stored_once",
        faults: || vec![(Fault::status(503).retry_after("2"), 1)],
        outcome: BatchEnd::Recorded,
        attempts: 2,
        waits: Waits::Exactly(&[2000]),
        ..UNKNOWN
    },
    // The server said it did not process the batch: the outcome is known (not recorded).
    BatchCase {
        name: "batch_503_with_retry_after_exhausted_is_a_plain_api_error",
        faults: || vec![(Fault::status(503).retry_after("1"), 3)],
        outcome: BatchEnd::Refused(503, Some(1)),
        attempts: 3,
        waits: Waits::Exactly(&[1000, 1000]),
        ..UNKNOWN
    },
    BatchCase {
        name: "batch_retry_after_beyond_max_retry_after_is_a_plain_api_error_not_waited_for",
        faults: || vec![(Fault::status(503).retry_after("2"), 1)],
        client: Client::MaxRetryAfter(1),
        outcome: BatchEnd::Refused(503, Some(2)),
        ..UNKNOWN
    },
    BatchCase {
        name: "batch_429_without_retry_after_is_a_plain_api_error",
        faults: || vec![(Fault::status(429), 1)],
        outcome: BatchEnd::Refused(429, None),
        ..UNKNOWN
    },
    BatchCase {
        name: "batch_400_is_a_plain_api_error",
        faults: || vec![(Fault::status(400), 1)],
        outcome: BatchEnd::Refused(400, None),
        ..UNKNOWN
    },
    BatchCase {
        name: "batch_503_without_retry_after_is_outcome_unknown",
        faults: || vec![(Fault::status(503), 1)],
        outcome: unknown_5xx(503),
        ..UNKNOWN
    },
    BatchCase {
        name: "batch_500_is_outcome_unknown",
        faults: || vec![(Fault::status(500), 1)],
        outcome: unknown_5xx(500),
        ..UNKNOWN
    },
    BatchCase {
        name: "batch_502_is_outcome_unknown",
        faults: || vec![(Fault::status(502), 1)],
        outcome: unknown_5xx(502),
        ..UNKNOWN
    },
    BatchCase {
        name: "batch_504_is_outcome_unknown",
        faults: || vec![(Fault::status(504), 1)],
        outcome: unknown_5xx(504),
        ..UNKNOWN
    },
    BatchCase {
        name: "batch_drop_after_apply_is_outcome_unknown_and_stored_exactly_once",
        faults: || vec![(Fault::drop_after_apply(), 1)],
        ..UNKNOWN
    },
    BatchCase {
        name: "batch_truncated_body_is_outcome_unknown_and_stored_once",
        faults: || vec![(Fault::truncate_body(), 1)],
        ..UNKNOWN
    },
    // The delayed request is still applied by the server.
    BatchCase {
        name: "batch_delay_past_timeout_is_outcome_unknown_and_stored_once",
        faults: || vec![(Fault::delay(DELAY), 1)],
        client: Client::Timeout(TIMEOUT),
        outcome: BatchEnd::Unknown {
            source: timeout,
            status: None,
            stored: true,
        },
        ..UNKNOWN
    },
    BatchCase {
        name: "batch_503_with_retry_after_then_drop_is_outcome_unknown_and_stored_once",
        faults: || {
            vec![
                (Fault::status(503).retry_after("1"), 1),
                (Fault::drop_after_apply(), 1),
            ]
        },
        attempts: 2,
        waits: Waits::Exactly(&[1000]),
        ..UNKNOWN
    },
    BatchCase {
        name: "batch_200_with_an_unreadable_body_is_outcome_unknown",
        faults: || vec![(Fault::status(200).body("<html>ok</html>"), 1)],
        outcome: BatchEnd::Unknown {
            source: decode_200,
            status: Some(200),
            stored: false,
        },
        ..UNKNOWN
    },
];

/// Runs one batch scenario and checks everything it pins.
fn run_batch_case(case: &BatchCase) {
    use Operation::BatchReportUsageRecordGroups as Batch;
    let name = case.name;
    let env = Env::new();
    let c = env.client_for(case.client);
    let sent = batch("ent-b", 3);
    for (fault, times) in (case.faults)() {
        env.inject(fault, Batch, times);
    }
    let result = c.batch_report_usage_record_groups(&sent);
    assert_eq!(env.attempts(Batch), case.attempts, "{name}: attempts");
    assert_eq!(env.fake.requests().len(), case.attempts, "{name}: requests");
    case.waits.check(&env.sleeps(), name);
    let stored_once = || {
        // A delayed request is applied after the client gave up on it.
        env.wait_for_stored("ent-b", 3);
        assert_batch_stored_once(&env, "ent-b", &sent);
        assert_eq!(
            env.fake.usage_record_groups().len(),
            3,
            "{name}: one copy, not two"
        );
    };
    match case.outcome {
        BatchEnd::Recorded => {
            let created = result.unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert_eq!(created.len(), 3, "{name}");
            stored_once();
        }
        BatchEnd::Refused(status, retry_after) => {
            assert_refused(&env, name, &result.expect_err(name), status, retry_after);
        }
        BatchEnd::Unknown {
            source: source_is,
            status,
            stored,
        } => {
            let e = result.expect_err(name);
            let Error::OutcomeUnknown { groups, source } = &e else {
                panic!("{name}: expected Error::OutcomeUnknown, got {e:?}");
            };
            assert_eq!(groups, &sent, "{name}: the batch is handed back");
            assert!(source_is(source), "{name}: {source:?}");
            assert!(source.request_may_have_been_sent(), "{name}");
            assert_eq!(e.status(), status, "{name}");
            assert_eq!(e.status(), source.status(), "{name}");
            assert_eq!(e.message(), source.message(), "{name}");
            if let Some(s) = status.filter(|_| matches!(**source, Error::Api { .. })) {
                assert_eq!(
                    e.message(),
                    Some(format!("injected {s}").as_str()),
                    "{name}"
                );
            }
            assert!(!e.is_retryable(), "{name}");
            assert!(e.request_may_have_been_sent(), "{name}");
            assert!(
                e.to_string().contains("do not resend it blindly"),
                "{name}: {e}"
            );
            if stored {
                stored_once();
            } else {
                assert!(env.fake.usage_record_groups().is_empty(), "{name}");
            }
        }
    }
}

#[test]
fn single_report_faults() {
    run_table(REPORT_CASES, |c| c.name, "", run_report_case);
}

#[test]
fn batch_report_faults() {
    run_table(BATCH_CASES, |c| c.name, "", run_batch_case);
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

/// The report and batch rows of this limit are in the tables; a read here.
#[test]
fn read_retry_after_beyond_a_custom_max_retry_after_is_not_waited_for() {
    let env = Env::new();
    let c = env.client_for(Client::MaxRetryAfter(1));
    env.inject(
        Fault::status(503).retry_after("2"),
        Operation::GetUsageMeteringConfigInfo,
        1,
    );
    let e = c.get_usage_metering_config_info().expect_err("not retried");
    assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
    assert_eq!(env.attempts(Operation::GetUsageMeteringConfigInfo), 1);
    assert!(env.sleeps().is_empty());
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
