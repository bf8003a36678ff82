//! Batch report: one table of fault scenarios, one driver; batches split in several requests;
//! a batch that never reached a server.

use super::*;

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
            let Error::BatchOutcomeUnknown { groups, source, .. } = &e else {
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
fn batch_report_faults() {
    run_table(BATCH_CASES, |c| c.name, run_batch_case);
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
    let outcomes =
        c.report_usage_record_groups_in_batches(&groups, std::num::NonZeroUsize::new(10));
    assert_eq!(outcomes.len(), 3);

    assert_eq!(outcomes[0].range, 0..10);
    assert_eq!(outcomes[0].result.as_ref().expect("batch 1").len(), 10);

    assert_eq!(outcomes[1].range, 10..20);
    match &outcomes[1].result {
        Err(Error::BatchOutcomeUnknown { groups: back, .. }) => assert_eq!(back, &groups[10..20]),
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
        .no_proxy()
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
