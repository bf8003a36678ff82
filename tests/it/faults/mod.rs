//! Fault-injection tests: for each fault on each kind of operation, prove that no usage record is
//! lost, none is duplicated, and the caller is told the truth.
//!
//! After every scenario the tests look at what the fake stored (`fake.usage_record_groups()`,
//! counted per entitlement, with quantities) and at what it received (`fake.requests()`, the
//! attempt count). Retries never sleep for real: every client gets a `sleep_fn` that records the
//! requested waits. Real waiting happens only where a `delay` fault must outlast the client's
//! timeout.
//!
//! `report` and `batch` hold one table each: a row per scenario, named after the behaviour it
//! pins (fault, client, outcome, attempts at the server, waits), run by one driver on its own
//! fake. `operations` covers reads, updates and the operations that are unsafe to repeat.
//! `summary::zz_summary` runs a representative set of scenarios end to end, with a caller that
//! acts only on what the client told it, and prints
//! `faults injected: N, records lost: 0, duplicated: 0`.

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

mod batch;
mod operations;
mod report;
mod summary;

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
// What the tables share
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

/// Runs every scenario of `table`, each on its own fake, in parallel; fails naming every
/// scenario that failed.
fn run_table<T: Sync>(table: &[T], name: fn(&T) -> &'static str, run: fn(&T)) {
    let failed: Vec<&'static str> = std::thread::scope(|s| {
        let handles: Vec<_> = table
            .iter()
            .map(|c| (name(c), s.spawn(move || run(c))))
            .collect();
        handles
            .into_iter()
            .filter_map(|(n, h)| h.join().is_err().then_some(n))
            .collect()
    });
    assert!(failed.is_empty(), "failing scenarios: {failed:#?}");
}
