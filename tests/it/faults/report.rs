//! Single report: one table of fault scenarios, one driver.

use super::*;

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
    /// Re-reports under the id the error handed back: already reported (before that call, so
    /// `retried` is false), and still one group stored.
    ResendIsAlreadyReported,
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
    then: Then::ResendIsAlreadyReported,
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
    // reporting again under it cannot bill twice; resending the same params (no id) could, so
    // the error is not retryable as it stands.
    ReportCase {
        name: "report_generated_id_drop_on_every_attempt_hands_the_id_back_so_a_resend_is_deduplicated",
        outcome: ReportEnd::Unknown {
            source: transport,
            stored: true,
            status: None,
            retryable: Some(false),
        },
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
            let Error::ReportOutcomeUnknown { id, source, .. } = &e else {
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
        Then::ResendIsAlreadyReported => {
            let e = c
                .report_usage_record_group("ent-1", &params(Some(&sent_id), 5.0))
                .expect_err(name);
            assert!(e.is_conflict(), "{name}: {e:?}");
            assert!(e.is_already_reported(), "{name}: {e:?}");
            assert!(
                matches!(e, Error::AlreadyReported { retried: false, .. }),
                "{name}: recorded before this call: {e:?}"
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

#[test]
fn single_report_faults() {
    run_table(REPORT_CASES, |c| c.name, run_report_case);
}
