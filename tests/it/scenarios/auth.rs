//! Authentication: a wrong API key is a 401 that is not retried, another org a 403.

use suger_metering::{Error, ListBillableMetrics, RetryPolicy};

use crate::support::fake::*;

#[test]
fn a_wrong_api_key_is_a_401_and_not_retried() {
    let fake = start();
    let c = fake
        .client_builder()
        .api_key("wrong-key")
        .retry(RetryPolicy::default().sleep_fn(|_| panic!("a 401 must not be retried")))
        .build()
        .expect("build");
    let e = c.get_billable_metric("bm-1").expect_err("401");
    match &e {
        Error::Api {
            status, message, ..
        } => {
            assert_eq!(*status, 401);
            assert_eq!(message, "unauthorized");
        }
        other => panic!("expected Error::Api 401, got {other:?}"),
    }
    assert!(!e.is_retryable());
    assert!(!format!("{e} {e:?}").contains("wrong-key"));

    let e = c
        .report_usage_record_group("ent-1", &params(None, &[("a", 1.0)]))
        .expect_err("401");
    assert_eq!(e.status(), Some(401));
    assert!(!e.is_already_reported());
    assert_eq!(fake.requests().len(), 2);
    assert_eq!(
        fake.requests()[0].header("authorization"),
        Some("Key wrong-key")
    );
    assert!(fake.usage_record_groups().is_empty());

    // The right key is sent as `Authorization: Key <key>`.
    client(&fake).get_usage_metering_config_info().expect("ok");
    assert_eq!(
        fake.requests()[2].header("authorization"),
        Some("Key fake-api-key")
    );
    assert_eq!(
        fake.requests()[2].header("accept"),
        Some("application/json")
    );
}

#[test]
fn another_org_is_a_403() {
    let fake = start();
    let c = fake
        .client_builder()
        .org_id("other-org")
        .retry(RetryPolicy::default().sleep_fn(|_| {}))
        .build()
        .expect("build");
    let e = c
        .list_billable_metrics(&ListBillableMetrics::new())
        .expect_err("403");
    assert!(matches!(e, Error::Api { status: 403, .. }), "{e:?}");
    assert_eq!(fake.requests().len(), 1);
}
