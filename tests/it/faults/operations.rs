//! Reads, updates and the operations that are not safe to repeat, under faults.

use super::*;

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
        ..Default::default()
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
