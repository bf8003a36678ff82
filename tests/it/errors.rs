//! Non-2xx answers become `Error::Api` with the server's message, status, `Retry-After` and the
//! right classification. Clients here send every request once (`RetryPolicy::disabled()`), so
//! each mock expects exactly one hit; retries themselves are not under test here, except where
//! a 409 on a report means something else on a retry.

use std::time::Duration;

use crate::support::*;
use suger_metering::*;

/// Serves `status`, `body` and optional extra headers on GET /billableMetric/bm-1, once.
fn get_metric_answered(status: usize, body: &str, headers: &[(&str, &str)]) -> Error {
    let mut s = server();
    let mut mock = expect_no_body(&mut s, "GET", "/org/org-1/billableMetric/bm-1")
        .with_status(status)
        .with_body(body)
        .expect(1);
    for (name, value) in headers {
        mock = mock.with_header(*name, value);
    }
    let m = mock.create();
    let result = client_without_retries(&mut s).get_billable_metric("bm-1");
    m.assert();
    result.expect_err("a non-2xx answer is an error")
}

/// Reports group `g-1` (`api_calls: 1`) for `ent-1` to a server that answers the attempts, in
/// order, with `answers` (status, `Retry-After`, body), each expected exactly once. Retries are
/// on, without real waits. Returns the error.
fn report_g1_answered(answers: &[(usize, Option<&str>, &str)]) -> Error {
    let mut s = server();
    let mocks: Vec<mockito::Mock> = answers
        .iter()
        .map(|&(status, retry_after, body)| {
            let mut m = s
                .mock("POST", "/org/org-1/entitlement/ent-1/usageRecordGroup")
                .with_status(status)
                .with_body(body)
                .expect(1);
            if let Some(value) = retry_after {
                m = m.with_header("retry-after", value);
            }
            m.create()
        })
        .collect();
    let client = builder(&mut s)
        .retry(RetryPolicy::default().sleep_fn(|_| {}))
        .build()
        .unwrap();
    let e = client
        .report_usage_record_group(
            "ent-1",
            &CreateUsageRecordGroupParams {
                id: Some("g-1".into()),
                records: expected::quantities(&[("api_calls", 1.0)]),
                ..Default::default()
            },
        )
        .unwrap_err();
    for m in &mocks {
        m.assert();
    }
    e
}

/// Asserts `e` is `Error::Api` with `status`, `message` and no `Retry-After`, and that it
/// displays as `Suger API answered HTTP {status}: {message}`.
fn assert_api(e: &Error, status: u16, message: &str) {
    assert_eq!(api_parts(e), (status, message, None));
    assert_eq!(e.status(), Some(status));
    assert_eq!(
        e.to_string(),
        format!("Suger API answered HTTP {status}: {message}")
    );
}

/// Batch-reports one group (with the API key) to a server that answers `status` and `body`,
/// once; returns the batch and the error.
fn batch_answered(status: usize, body: &str) -> (Vec<NewUsageRecordGroup>, Error) {
    let batch = vec![NewUsageRecordGroup {
        entitlement_id: "ent-1".into(),
        records: expected::quantities(&[("api_calls", 3.0)]),
        ..Default::default()
    }];
    let mut s = server();
    let m = s
        .mock("POST", "/org/org-1/batchCreateUsageRecordGroups")
        .match_header("authorization", AUTHORIZATION)
        .with_status(status)
        .with_body(body)
        .expect(1)
        .create();
    let e = client_without_retries(&mut s)
        .batch_report_usage_record_groups(&batch)
        .unwrap_err();
    m.assert();
    (batch, e)
}

fn api_parts(e: &Error) -> (u16, &str, Option<Duration>) {
    match e {
        Error::Api {
            status,
            message,
            retry_after,
            ..
        } => (*status, message.as_str(), *retry_after),
        other => panic!("expected Error::Api, got {other:?}"),
    }
}

#[test]
fn status_400_with_a_json_string_body_is_the_unquoted_message() {
    let mut s = server();
    let m = s
        .mock("POST", "/org/org-1/entitlement/ent-1/usageRecordGroup")
        .match_header("authorization", AUTHORIZATION)
        .with_status(400)
        .with_header("content-type", "application/json")
        .with_body(r#""all the quantity of usage records are zero""#)
        .expect(1)
        .create();
    let e = client_without_retries(&mut s)
        .report_usage_record_group(
            "ent-1",
            &CreateUsageRecordGroupParams {
                id: Some("g-1".into()),
                records: expected::quantities(&[("api_calls", 0.25)]),
                ..Default::default()
            },
        )
        .unwrap_err();
    m.assert();

    assert_api(&e, 400, "all the quantity of usage records are zero");
    assert_eq!(
        e.message(),
        Some("all the quantity of usage records are zero")
    );
    assert!(!e.is_retryable());
    assert!(!e.is_not_found());
    assert!(!e.is_conflict());
    assert!(!e.is_already_reported());
    assert_eq!(e.retry_after(), None);
    assert!(e.request_may_have_been_sent());
}

#[test]
fn json_string_message_keeps_escaped_quotes_and_unicode() {
    let e = get_metric_answered(400, r#""name \"tokens\" is taken \u00e9""#, &[]);
    assert_eq!(api_parts(&e), (400, r#"name "tokens" is taken é"#, None));
    assert_eq!(
        e.to_string(),
        r#"Suger API answered HTTP 400: name "tokens" is taken é"#
    );
}

#[test]
fn json_string_message_with_gos_html_escapes_is_unescaped() {
    // Go's encoding/json escapes <, > and & in strings.
    let e = get_metric_answered(400, r#""limit must be \u003e 0 \u0026 \u003c= 1000""#, &[]);
    assert_eq!(api_parts(&e), (400, "limit must be > 0 & <= 1000", None));
}

#[test]
fn json_object_error_body_gives_its_message_field() {
    let e = get_metric_answered(400, r#"{"message":"bad request: limit","code":17}"#, &[]);
    assert_eq!(api_parts(&e), (400, "bad request: limit", None));
}

#[test]
fn a_very_long_json_string_message_is_clipped() {
    let body = format!("\"{}\"", "x".repeat(50_000));
    let e = get_metric_answered(400, &body, &[]);
    let (status, message, _) = api_parts(&e);
    assert_eq!(status, 400);
    assert!(message.starts_with("xxxxxxxxxx"), "{message}");
    assert!(message.len() <= 1_003, "message is {} bytes", message.len());
    assert!(e.to_string().len() < 1_100);
}

#[test]
fn status_404_is_not_found() {
    let e = get_metric_answered(404, r#""billable metric not found""#, &[]);
    assert_api(&e, 404, "billable metric not found");
    assert!(e.is_not_found());
    assert!(!e.is_conflict());
    assert!(!e.is_retryable());
}

#[test]
fn status_404_on_delete_is_not_found() {
    let mut s = server();
    let m = expect_no_body(&mut s, "DELETE", "/org/org-1/usageRecordGroup/nope")
        .with_status(404)
        .with_body(r#""usageRecordGroup not found""#)
        .expect(1)
        .create();
    let e = client_without_retries(&mut s)
        .delete_usage_record_group("nope", None)
        .unwrap_err();
    m.assert();
    assert!(e.is_not_found());
    assert_eq!(e.message(), Some("usageRecordGroup not found"));
}

#[test]
fn status_409_on_a_first_report_with_the_callers_id_is_already_reported() {
    // A re-run with the caller's own id: Suger's ids are unique per organization, so a 409
    // says this usage is recorded, before this call.
    let e = report_g1_answered(&[(409, None, r#""usage record group g-1 already exists""#)]);
    match &e {
        Error::AlreadyReported {
            id,
            message,
            retried,
            ..
        } => {
            assert_eq!(id, "g-1");
            assert_eq!(message, "usage record group g-1 already exists");
            assert!(!retried);
        }
        other => panic!("expected AlreadyReported, got {other:?}"),
    }
    assert!(e.is_conflict());
    assert!(e.is_already_reported());
    assert!(!e.is_not_found());
    assert!(!e.is_retryable());
    assert!(e.request_may_have_been_sent());
}

#[test]
fn status_409_on_a_retried_report_is_already_reported() {
    // The first attempt's answer is lost (503), the retry is answered 409: recorded once.
    let e = report_g1_answered(&[(503, None, ""), (409, None, r#""duplicate id""#)]);
    match &e {
        Error::AlreadyReported {
            id,
            message,
            retried,
            ..
        } => {
            assert_eq!(id, "g-1");
            assert_eq!(message, "duplicate id");
            assert!(retried);
        }
        other => panic!("expected AlreadyReported, got {other:?}"),
    }
    assert!(e.is_already_reported());
    assert!(e.is_conflict());
    assert_eq!(e.status(), Some(409));
    assert!(!e.is_retryable());
    assert_eq!(
        e.to_string(),
        "usage record group g-1 is already recorded at Suger (HTTP 409: duplicate id)"
    );
}

#[test]
fn status_409_after_a_rate_limited_attempt_was_recorded_before_this_call() {
    // Attempt 1 is refused unprocessed (429 + Retry-After), so attempt 2's 409 cannot come
    // from an earlier attempt of this call: the caller's id was recorded before it.
    let e = report_g1_answered(&[
        (429, Some("0"), r#""rate limited""#),
        (409, None, r#""duplicate id""#),
    ]);
    assert!(
        matches!(&e, Error::AlreadyReported { id, message, retried: false, .. }
            if id == "g-1" && message == "duplicate id"),
        "{e:?}"
    );
    assert!(e.is_already_reported());
}

#[test]
fn status_500_with_an_html_body_is_a_trimmed_excerpt() {
    let e = get_metric_answered(
        500,
        "\n  <html><body><h1>500 Internal Server Error</h1></body></html>\r\n\n",
        &[("content-type", "text/html")],
    );
    assert_eq!(
        api_parts(&e),
        (
            500,
            "<html><body><h1>500 Internal Server Error</h1></body></html>",
            None
        )
    );
    assert!(e.is_retryable());
    assert_eq!(
        e.to_string(),
        "Suger API answered HTTP 500: <html><body><h1>500 Internal Server Error</h1></body></html>"
    );
}

#[test]
fn status_500_with_a_large_html_body_is_a_short_excerpt() {
    let body = format!(
        "<html><head><title>500</title></head><body>{}</body></html>",
        "<p>stack frame</p>".repeat(10_000)
    );
    let e = get_metric_answered(500, &body, &[("content-type", "text/html")]);
    let (status, message, _) = api_parts(&e);
    assert_eq!(status, 500);
    assert!(message.len() <= 304, "message is {} bytes", message.len());
    assert!(message.len() >= 100, "message is {} bytes", message.len());
    assert!(
        body.starts_with(message.trim_end_matches('…')),
        "the message is the start of the body"
    );
}

#[test]
fn status_502_with_an_empty_body_says_so() {
    let e = get_metric_answered(502, "", &[]);
    assert_api(&e, 502, "(empty body)");
    assert!(e.is_retryable());
}

#[test]
fn status_504_with_a_blank_body_says_empty() {
    let e = get_metric_answered(504, " \r\n\t\n", &[]);
    assert_eq!(api_parts(&e), (504, "(empty body)", None));
    assert!(e.is_retryable());
}

#[test]
fn status_401_is_not_retryable() {
    let e = get_metric_answered(401, r#""invalid api key""#, &[]);
    assert_api(&e, 401, "invalid api key");
    assert!(!e.is_retryable());
    assert!(!e.is_not_found());
}

#[test]
fn status_403_with_plain_text_is_not_retryable() {
    let e = get_metric_answered(403, "Forbidden\n", &[("content-type", "text/plain")]);
    assert_api(&e, 403, "Forbidden");
    assert!(!e.is_retryable());
}

#[test]
fn status_429_with_retry_after_gives_the_delay() {
    let e = get_metric_answered(429, r#""rate limit exceeded""#, &[("Retry-After", "7")]);
    assert_eq!(
        api_parts(&e),
        (429, "rate limit exceeded", Some(Duration::from_secs(7)))
    );
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    assert!(e.is_retryable());
    assert_eq!(e.status(), Some(429));
    assert_eq!(
        e.to_string(),
        "Suger API answered HTTP 429: rate limit exceeded"
    );
}

#[test]
fn status_503_with_retry_after_gives_the_delay() {
    let e = get_metric_answered(
        503,
        "Service Unavailable",
        &[("retry-after", "7"), ("content-type", "text/plain")],
    );
    assert_eq!(
        api_parts(&e),
        (503, "Service Unavailable", Some(Duration::from_secs(7)))
    );
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    assert!(e.is_retryable());
    assert_eq!(
        e.to_string(),
        "Suger API answered HTTP 503: Service Unavailable"
    );
}

#[test]
fn retry_after_as_a_past_http_date_is_zero_and_garbage_is_none() {
    let e = get_metric_answered(503, "", &[("retry-after", "Thu, 01 Jan 1970 00:00:00 GMT")]);
    assert_eq!(e.retry_after(), Some(Duration::ZERO));
    let e = get_metric_answered(429, "", &[("retry-after", "soon")]);
    assert_eq!(e.retry_after(), None);
    assert!(e.is_retryable());
}

#[test]
fn status_without_retry_after_has_none() {
    let e = get_metric_answered(503, "", &[]);
    assert_eq!(e.retry_after(), None);
    assert!(e.is_retryable());
}

#[test]
fn status_408_is_retryable_and_501_is_not() {
    assert!(get_metric_answered(408, "", &[]).is_retryable());
    let e = get_metric_answered(501, "", &[]);
    assert_eq!(api_parts(&e).0, 501);
    assert!(!e.is_retryable());
}

#[test]
fn batch_report_500_is_outcome_unknown_and_hands_the_batch_back() {
    let (batch, e) = batch_answered(500, r#""internal error""#);
    match &e {
        Error::BatchOutcomeUnknown { groups, source, .. } => {
            assert_eq!(groups, &batch);
            assert_eq!(api_parts(source), (500, "internal error", None));
        }
        other => panic!("expected OutcomeUnknown, got {other:?}"),
    }
    assert_eq!(e.status(), Some(500));
    assert_eq!(e.message(), Some("internal error"));
    assert!(
        !e.is_retryable(),
        "a batch without ids must not be resent blindly"
    );
    assert_eq!(
        e.to_string(),
        "the outcome of a batch report of 1 usage record groups is unknown (do not resend it \
         blindly); last attempt: Suger API answered HTTP 500: internal error"
    );
    // The cause is also the source.
    let source = std::error::Error::source(&e)
        .expect("the cause")
        .to_string();
    assert_eq!(source, "Suger API answered HTTP 500: internal error");
}

#[test]
fn batch_report_400_is_a_plain_api_error() {
    let (_, e) = batch_answered(400, r#""entitlement ent-1 not found""#);
    assert_eq!(api_parts(&e), (400, "entitlement ent-1 not found", None));
}

#[test]
fn invalid_request_and_config_errors_have_no_status() {
    let e = MeteringClient::builder().org_id("o").build().unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e:?}");
    assert_eq!(e.status(), None);
    assert!(!e.is_retryable());
    assert!(!e.request_may_have_been_sent());
    assert_eq!(
        e.to_string(),
        "invalid client configuration: an API key is required"
    );

    let mut s = server();
    let e = client_without_retries(&mut s)
        .list_usage_record_groups(&ListUsageRecordGroups::new().limit(0))
        .unwrap_err();
    assert_eq!(e.status(), None);
    assert_eq!(e.message(), None);
    assert!(!e.is_retryable());
    assert!(!e.request_may_have_been_sent());
    assert_eq!(
        e.to_string(),
        "invalid request (not sent): limit: must be between 1 and 1000, got 0"
    );
}

/// A client with no retries and a 300 ms timeout for `base_url`.
fn impatient_client(base_url: String) -> MeteringClient {
    MeteringClient::builder()
        .api_key(API_KEY)
        .org_id(ORG)
        .base_url(base_url)
        .no_proxy()
        .timeout(Duration::from_millis(300))
        .retry(RetryPolicy::disabled())
        .build()
        .unwrap()
}

#[test]
fn is_timeout_is_true_for_no_answer_in_time_also_behind_an_unknown_report_outcome() {
    // The kernel accepts connections into the backlog; nobody ever reads or answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let c = impatient_client(format!("http://{}", silent.local_addr().unwrap()));

    let get = c.get_billable_metric("bm-1").unwrap_err();
    assert!(matches!(get, Error::Timeout(_)), "{get:?}");
    assert!(get.is_timeout());

    let params = CreateUsageRecordGroupParams {
        id: Some("g-1".into()),
        records: expected::quantities(&[("api_calls", 1.0)]),
        ..Default::default()
    };
    let report = c.report_usage_record_group("ent-1", &params).unwrap_err();
    assert!(
        matches!(&report, Error::ReportOutcomeUnknown { source, .. } if matches!(**source, Error::Timeout(_))),
        "{report:?}"
    );
    assert!(report.is_timeout());

    // Not a timeout: nobody listening (refused at once), and an answer, even a 504.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let refused = impatient_client(format!("http://127.0.0.1:{port}"))
        .get_billable_metric("bm-1")
        .unwrap_err();
    assert!(matches!(refused, Error::Transport(_)), "{refused:?}");
    assert!(!refused.is_timeout());
    let gateway = get_metric_answered(504, "", &[]);
    assert_eq!(gateway.status(), Some(504));
    assert!(!gateway.is_timeout());
}
