//! Ids cannot change the path or the query, the API key never shows up in `Debug`/`Display`
//! output or errors, the base URL rules, configuration errors and the `User-Agent`.

use std::net::TcpListener;
use std::time::Duration;

use crate::support::*;
use serde_json::json;
use suger_metering::*;

// ---------------------------------------------------------------------------------------------
// Path segments and query values are percent-encoded
// ---------------------------------------------------------------------------------------------

#[test]
fn billable_metric_ids_are_percent_encoded_into_one_segment() {
    let cases = [
        ("a/b", "a%2Fb"),
        ("..", "%2E%2E"),
        (".", "%2E"),
        ("../../admin", "..%2F..%2Fadmin"),
        ("?x=1#frag", "%3Fx%3D1%23frag"),
        ("a b", "a%20b"),
        ("a+b&c=d;e", "a%2Bb%26c%3Dd%3Be"),
        ("%2e%2e", "%252e%252e"),
        ("é", "%C3%A9"),
        ("日本", "%E6%97%A5%E6%9C%AC"),
        ("v1.2_x~y-z", "v1.2_x~y-z"),
    ];
    let mut s = server();
    let mocks: Vec<_> = cases
        .iter()
        .map(|(_, encoded)| {
            expect_no_body(
                &mut s,
                "GET",
                &format!("/org/org-1/billableMetric/{encoded}"),
            )
            .with_body(fixture("billable_metric.json"))
            .expect(1)
            .create()
        })
        .collect();
    let c = client(&mut s);
    for (id, _) in &cases {
        c.get_billable_metric(id)
            .unwrap_or_else(|e| panic!("{id:?}: {e}"));
    }
    for m in &mocks {
        m.assert();
    }
}

#[test]
fn every_path_parameter_is_percent_encoded() {
    let mut s = server();
    let update = expect_json(
        &mut s,
        "PATCH",
        "/org/org-1/billableMetric/x%2Fy%3Fz",
        json!({ "status": "ACTIVE" }),
    )
    .with_body(fixture("billable_metric.json"))
    .create();
    let delete = expect_no_body(&mut s, "DELETE", "/org/org-1/usageRecordGroup/g%201%2F..")
        .with_body(fixture("delete_usage_record_group.json"))
        .create();
    let retry = expect_no_body(&mut s, "POST", "/org/org-1/usageRecordGroup/%2E%2E/retry")
        .with_body(fixture("retry_usage_record_group.json"))
        .create();
    let report = expect_json(
        &mut s,
        "POST",
        "/org/org-1/entitlement/ent%2F..%2F1%20%C3%A9/usageRecordGroup",
        json!({
            "id": "g-1",
            "entitlementID": "ent/../1 é",
            "organizationID": "org-1",
            "records": { "a": 1.0 }
        }),
    )
    .with_body(fixture("report_usage_record_group.json"))
    .create();
    let c = client(&mut s);
    c.update_billable_metric(
        "x/y?z",
        &UpdateBillableMetricParams {
            status: Some(BillableMetricStatus::Active),
            ..Default::default()
        },
    )
    .unwrap();
    c.delete_usage_record_group("g 1/..", None).unwrap();
    c.retry_usage_record_group("..", None).unwrap();
    c.report_usage_record_group(
        "ent/../1 é",
        &CreateUsageRecordGroupParams {
            id: Some("g-1".into()),
            records: expected::quantities(&[("a", 1.0)]),
            ..Default::default()
        },
    )
    .unwrap();
    update.assert();
    delete.assert();
    retry.assert();
    report.assert();
}

#[test]
fn the_org_id_is_percent_encoded_too() {
    let mut s = server();
    let get = expect_no_body(
        &mut s,
        "GET",
        "/org/org%2F1%20%C3%A9%3F/usageMeteringConfigInfo",
    )
    .with_body("{}")
    .create();
    let dots = expect_no_body(&mut s, "GET", "/org/%2E%2E/billableMetric")
        .with_body("[]")
        .create();
    let report = expect_json(
        &mut s,
        "POST",
        "/org/org%2F1%20%C3%A9%3F/entitlement/ent-1/usageRecordGroup",
        json!({
            "id": "g-1",
            "entitlementID": "ent-1",
            "organizationID": "org/1 é?",
            "records": { "a": 1.0 }
        }),
    )
    .with_body(fixture("report_usage_record_group.json"))
    .create();
    let c = builder(&mut s).org_id("org/1 é?").build().unwrap();
    assert_eq!(c.org_id(), "org/1 é?");
    c.get_usage_metering_config_info().unwrap();
    c.report_usage_record_group(
        "ent-1",
        &CreateUsageRecordGroupParams {
            id: Some("g-1".into()),
            records: expected::quantities(&[("a", 1.0)]),
            ..Default::default()
        },
    )
    .unwrap();
    builder(&mut s)
        .org_id("..")
        .build()
        .unwrap()
        .list_billable_metrics(&ListBillableMetrics::new())
        .unwrap();
    get.assert();
    dots.assert();
    report.assert();
}

#[test]
fn query_values_cannot_add_parameters() {
    let mut s = server();
    let m = expect_no_body(&mut s, "GET", "/org/org-1/usageRecordGroup")
        .match_query(exact_query(&[
            ("buyerId", "b&limit=5#x y+z"),
            ("metaInfo", "a=b&c=d"),
        ]))
        // The raw query, as the server receives it.
        .match_request(|r| {
            r.path_and_query()
                == "/org/org-1/usageRecordGroup?buyerId=b%26limit%3D5%23x%20y%2Bz&metaInfo=a%3Db%26c%3Dd"
        })
        .with_body(r#"{"usageRecordGroups":[]}"#)
        .create();
    client(&mut s)
        .list_usage_record_groups(
            &ListUsageRecordGroups::new()
                .buyer_id("b&limit=5#x y+z")
                .meta_info("a=b&c=d"),
        )
        .unwrap();
    m.assert();
}

// ---------------------------------------------------------------------------------------------
// The API key is never shown
// ---------------------------------------------------------------------------------------------

fn assert_no_key(what: &str, text: &str) {
    assert!(
        !text.contains(API_KEY) && !text.contains("s3cr3t"),
        "{what} shows the API key: {text}"
    );
}

/// Checks `Debug` (plain and pretty) and `Display` of an error, and of its whole source chain.
fn assert_error_hides_key(e: &Error) {
    assert_no_key("Debug", &format!("{e:?}"));
    assert_no_key("pretty Debug", &format!("{e:#?}"));
    assert_no_key("Display", &format!("{e}"));
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        assert_no_key("source Display", &format!("{s}"));
        assert_no_key("source Debug", &format!("{s:?}"));
        source = s.source();
    }
}

#[test]
fn client_and_builder_debug_hide_the_key() {
    let mut s = server();
    let b = builder(&mut s).timeout(Duration::from_secs(5));
    let text = format!("{b:?}");
    assert_no_key("builder Debug", &text);
    assert_no_key("builder pretty Debug", &format!("{b:#?}"));
    assert!(text.contains("[redacted]"), "{text}");
    assert!(text.contains("org-1"), "{text}");

    let c = b.build().unwrap();
    let text = format!("{c:?}");
    assert_no_key("client Debug", &text);
    assert_no_key("client pretty Debug", &format!("{c:#?}"));
    assert!(text.contains("[redacted]"), "{text}");
    assert!(text.contains("org-1"), "{text}");
    assert!(text.contains(&s.url()), "{text}");
    // Neither type implements Display, so there is no `{}` form to check.
}

#[test]
fn api_and_decode_errors_hide_the_key() {
    let mut s = server();
    let _a = expect_no_body(&mut s, "GET", "/org/org-1/billableMetric/a")
        .with_status(401)
        .with_body(r#""invalid api key""#)
        .create();
    let _b = expect_no_body(&mut s, "GET", "/org/org-1/billableMetric/b")
        .with_status(200)
        .with_body("[1,2,3]")
        .create();
    let c = client_without_retries(&mut s);
    let api = c.get_billable_metric("a").unwrap_err();
    assert_eq!(api.status(), Some(401));
    assert_error_hides_key(&api);
    let decode = c.get_billable_metric("b").unwrap_err();
    assert!(matches!(decode, Error::Decode { .. }), "{decode:?}");
    assert_error_hides_key(&decode);
}

#[test]
fn invalid_request_errors_hide_the_key() {
    let mut s = server();
    let e = client(&mut s)
        .list_usage_record_groups(&ListUsageRecordGroups::new().limit(0))
        .unwrap_err();
    assert!(matches!(e, Error::InvalidRequest { .. }));
    assert_error_hides_key(&e);
}

#[test]
fn connection_refused_is_a_transport_error_that_was_not_sent_and_hides_the_key() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }; // closed again
    let c = MeteringClient::builder()
        .api_key(API_KEY)
        .org_id(ORG)
        .base_url(format!("http://127.0.0.1:{port}"))
        .no_proxy()
        .retry(RetryPolicy::disabled())
        .build()
        .unwrap();
    let e = c.get_billable_metric("bm-1").unwrap_err();
    assert!(matches!(e, Error::Transport(_)), "{e:?}");
    assert_eq!(e.status(), None);
    assert!(e.is_retryable());
    assert!(!e.request_may_have_been_sent());
    assert_eq!(
        e.to_string(),
        "could not connect to the Suger API (not sent)"
    );
    let source = std::error::Error::source(&e).expect("the cause");
    assert!(
        source.to_string().to_lowercase().contains("refused"),
        "{source}"
    );
    assert_error_hides_key(&e);
}

#[test]
fn a_server_that_never_answers_times_out_and_hides_the_key() {
    // The kernel accepts the connection into the backlog; nobody ever reads or answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = MeteringClient::builder()
        .api_key(API_KEY)
        .org_id(ORG)
        .base_url(format!("http://{}", listener.local_addr().unwrap()))
        .no_proxy()
        .timeout(Duration::from_millis(300))
        .retry(RetryPolicy::disabled())
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let e = c.get_billable_metric("bm-1").unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(e, Error::Timeout(_)), "{e:?}");
    assert!(elapsed >= Duration::from_millis(250), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert_eq!(e.status(), None);
    assert!(e.is_retryable());
    assert!(e.request_may_have_been_sent());
    assert_eq!(
        e.to_string(),
        "no complete answer from Suger in time (the request may have been applied)"
    );
    let source = std::error::Error::source(&e).expect("the cause");
    assert_eq!(source.to_string(), "timeout: global");
    assert_error_hides_key(&e);
    drop(listener);
}

#[test]
fn already_reported_and_outcome_unknown_errors_hide_the_key() {
    let mut s = server();
    let _first = s
        .mock("POST", "/org/org-1/entitlement/ent-1/usageRecordGroup")
        .with_status(502)
        .expect(1)
        .create();
    let _second = s
        .mock("POST", "/org/org-1/entitlement/ent-1/usageRecordGroup")
        .with_status(409)
        .with_body(r#""duplicate""#)
        .create();
    let _batch = s
        .mock("POST", "/org/org-1/batchCreateUsageRecordGroups")
        .with_status(500)
        .create();
    let c = builder(&mut s)
        .retry(RetryPolicy::default().sleep_fn(|_| {}))
        .build()
        .unwrap();
    let e = c
        .report_usage_record_group(
            "ent-1",
            &CreateUsageRecordGroupParams {
                id: Some("g-1".into()),
                records: expected::quantities(&[("a", 1.0)]),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(e.is_already_reported(), "{e:?}");
    assert_error_hides_key(&e);
    let e = c
        .batch_report_usage_record_groups(&[NewUsageRecordGroup {
            entitlement_id: "ent-1".into(),
            records: expected::quantities(&[("a", 1.0)]),
            ..Default::default()
        }])
        .unwrap_err();
    assert!(matches!(e, Error::BatchOutcomeUnknown { .. }), "{e:?}");
    assert_error_hides_key(&e);
}

#[test]
fn config_errors_hide_the_key() {
    // A key that cannot be a header value is refused without echoing it.
    let e = MeteringClient::builder()
        .api_key("test-key-s3cr3t\n")
        .org_id(ORG)
        .build()
        .unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e:?}");
    assert_error_hides_key(&e);
    let e = MeteringClient::builder()
        .api_key(API_KEY)
        .org_id(ORG)
        .base_url("http://api.suger.cloud")
        .build()
        .unwrap_err();
    assert_error_hides_key(&e);
}

#[test]
fn credentials_in_a_refused_base_url_are_not_echoed() {
    let e = MeteringClient::builder()
        .api_key(API_KEY)
        .org_id(ORG)
        .base_url("https://user:hunter2-password@api.suger.cloud")
        .build()
        .unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e:?}");
    assert!(!e.to_string().contains("hunter2"), "{e}");
    assert!(!format!("{e:?}").contains("hunter2"), "{e:?}");
}

#[test]
fn redirects_are_not_followed() {
    let mut elsewhere = server();
    let stolen = elsewhere
        .mock("GET", mockito::Matcher::Any)
        .with_status(200)
        .with_body(fixture("billable_metric.json"))
        .expect(0)
        .create();
    let mut s = server();
    let local = s
        .mock("GET", "/elsewhere")
        .with_body(fixture("billable_metric.json"))
        .expect(0)
        .create();
    let _a = expect_no_body(&mut s, "GET", "/org/org-1/billableMetric/a")
        .with_status(307)
        .with_header("location", "/elsewhere")
        .with_body("")
        .expect(1)
        .create();
    let _b = expect_no_body(&mut s, "GET", "/org/org-1/billableMetric/b")
        .with_status(302)
        .with_header("location", &format!("{}/steal", elsewhere.url()))
        .with_body("")
        .expect(1)
        .create();
    let c = client_without_retries(&mut s);
    let e = c.get_billable_metric("a").unwrap_err();
    assert_eq!(e.status(), Some(307), "{e:?}");
    let e = c.get_billable_metric("b").unwrap_err();
    assert_eq!(e.status(), Some(302), "{e:?}");
    local.assert();
    stolen.assert();
}

// ---------------------------------------------------------------------------------------------
// Base URL, required settings, environment
// ---------------------------------------------------------------------------------------------

fn build_with_base(url: &str) -> suger_metering::Result<MeteringClient> {
    MeteringClient::builder()
        .api_key(API_KEY)
        .org_id(ORG)
        .base_url(url)
        .build()
}

#[test]
fn plain_http_is_refused_except_to_loopback() {
    for bad in [
        "http://api.suger.cloud",
        "http://https://api.suger.cloud",
        "http://10.0.0.1:8080",
        "http://127.0.0.1.evil.example",
        "http://localhost.evil.example",
        "http://0.0.0.0:80",
        "api.suger.cloud",
        "ftp://api.suger.cloud",
        "https://",
        "https://api.suger.cloud?x=1",
        "https://api.suger.cloud#frag",
        "",
    ] {
        match build_with_base(bad) {
            Err(Error::Config(msg)) => assert_no_key("Config", &msg),
            other => panic!("{bad:?}: expected Error::Config, got {other:?}"),
        }
    }
    for (good, expected) in [
        ("https://api.suger.cloud", "https://api.suger.cloud"),
        ("https://api.suger.cloud/", "https://api.suger.cloud"),
        (
            "https://proxy.example.com:8443/suger/",
            "https://proxy.example.com:8443/suger",
        ),
        ("http://127.0.0.1:1234", "http://127.0.0.1:1234"),
        ("http://localhost:8080/", "http://localhost:8080"),
        ("http://[::1]:9000", "http://[::1]:9000"),
    ] {
        let c = build_with_base(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        assert_eq!(c.base_url(), expected);
    }
}

#[test]
fn a_base_url_that_is_not_a_uri_is_a_config_error() {
    for bad in [
        "https://api.suger.cloud/a b",
        "https://exa mple.com",
        "https://[::1",
        "https://api.suger.cloud:99999",
    ] {
        match build_with_base(bad) {
            Err(Error::Config(_)) => {}
            other => panic!("{bad:?}: expected Error::Config, got {other:?}"),
        }
    }
}

#[test]
fn the_default_base_url_is_suger_cloud() {
    let c = MeteringClient::builder()
        .api_key(API_KEY)
        .org_id(ORG)
        .build()
        .unwrap();
    assert_eq!(c.base_url(), "https://api.suger.cloud");
    assert_eq!(DEFAULT_BASE_URL, "https://api.suger.cloud");
    assert_eq!(c.org_id(), ORG);
}

#[test]
fn api_key_and_org_id_are_required() {
    let cases = [
        (MeteringClient::builder().org_id(ORG), "API key"),
        (MeteringClient::builder().org_id(ORG).api_key(""), "API key"),
        (
            MeteringClient::builder().org_id(ORG).api_key("  "),
            "API key",
        ),
        (MeteringClient::builder().api_key(API_KEY), "org id"),
        (
            MeteringClient::builder().api_key(API_KEY).org_id(""),
            "org id",
        ),
        (MeteringClient::builder(), "API key"),
    ];
    for (b, needle) in cases {
        match b.build() {
            Err(Error::Config(msg)) => {
                assert!(msg.contains(needle), "{msg}");
                assert_no_key("Config", &msg);
            }
            other => panic!("expected Error::Config, got {other:?}"),
        }
    }
}

/// Sets or removes an environment variable.
fn set_env(name: &str, value: Option<&str>) {
    // SAFETY: this is the only test in this binary that touches the SUGER_* variables, and no
    // test here resolves host names through libc (all requests go to IP literals), so nothing
    // reads the environment through libc while it changes.
    unsafe {
        match value {
            Some(v) => std::env::set_var(name, v),
            None => std::env::remove_var(name),
        }
    }
}

#[test]
fn from_env_names_the_missing_variable() {
    const VARS: [&str; 3] = ["SUGER_API_KEY", "SUGER_ORG_ID", "SUGER_API_BASE_URL"];
    let saved: Vec<Option<String>> = VARS.iter().map(|v| std::env::var(v).ok()).collect();

    let config_error = || match MeteringClient::from_env() {
        Err(Error::Config(msg)) => msg,
        other => panic!("expected Error::Config, got {other:?}"),
    };

    for v in VARS {
        set_env(v, None);
    }
    let msg = config_error();
    assert!(msg.contains("SUGER_API_KEY"), "{msg}");

    set_env("SUGER_API_KEY", Some(API_KEY));
    let msg = config_error();
    assert!(msg.contains("SUGER_ORG_ID"), "{msg}");
    assert_no_key("Config", &msg);

    set_env("SUGER_ORG_ID", Some(ORG));
    set_env("SUGER_API_KEY", Some(""));
    let msg = config_error();
    assert!(msg.contains("SUGER_API_KEY"), "{msg}");

    set_env("SUGER_API_KEY", Some(API_KEY));
    set_env("SUGER_ORG_ID", Some("   "));
    let msg = config_error();
    assert!(msg.contains("SUGER_ORG_ID"), "{msg}");

    set_env("SUGER_ORG_ID", Some(ORG));
    let c = MeteringClient::from_env().unwrap();
    assert_eq!(c.base_url(), "https://api.suger.cloud");
    assert_eq!(c.org_id(), ORG);
    assert_no_key("client Debug", &format!("{c:?}"));

    set_env("SUGER_API_BASE_URL", Some("http://https://api.suger.cloud"));
    let msg = config_error();
    assert_no_key("Config", &msg);

    set_env("SUGER_API_BASE_URL", Some("http://127.0.0.1:9/"));
    let c = MeteringClient::from_env().unwrap();
    assert_eq!(c.base_url(), "http://127.0.0.1:9");

    for (v, old) in VARS.iter().zip(saved) {
        set_env(v, old.as_deref());
    }
}

#[test]
fn user_agent_names_the_crate_and_its_version() {
    let mut s = server();
    let m = s
        .mock("GET", "/org/org-1/billableMetric")
        .match_header(
            "user-agent",
            concat!("suger-metering-rust/", env!("CARGO_PKG_VERSION")),
        )
        .with_body("[]")
        .create();
    client(&mut s)
        .list_billable_metrics(&ListBillableMetrics::new())
        .unwrap();
    m.assert();
    assert_eq!(USER_AGENT, "suger-metering-rust/0.1.0");
}

#[test]
fn the_key_is_sent_only_in_the_authorization_header() {
    let mut s = server();
    let m = s
        .mock("POST", "/org/org-1/batchValidateUsageRecordGroups")
        .match_header("authorization", AUTHORIZATION)
        .match_request(|r| {
            let headers_with_key = r
                .headers()
                .iter()
                .filter(|(_, v)| v.to_str().unwrap_or_default().contains(API_KEY))
                .count();
            headers_with_key == 1
                && !r.path_and_query().contains(API_KEY)
                && !r.utf8_lossy_body().unwrap().contains(API_KEY)
        })
        .with_body(r#""""#)
        .create();
    client(&mut s)
        .batch_validate_usage_record_groups(&[NewUsageRecordGroup {
            entitlement_id: "ent-1".into(),
            records: expected::quantities(&[("a", 1.0)]),
            ..Default::default()
        }])
        .unwrap();
    m.assert();
}
