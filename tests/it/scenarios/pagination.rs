//! The pagination iterators walk every page and stop after the first error.

use std::collections::HashSet;

use suger_metering::fake::Operation;
use suger_metering::{ListUsageRecordGroups, ListUsageRecordReports, RetryPolicy};

use crate::support::fake::*;

#[test]
fn usage_record_groups_iterator_walks_every_page() {
    let fake = start();
    let c = client(&fake);
    let batch: Vec<_> = (0..50)
        .map(|i| new_group("ent-1", &[("api_calls", f64::from(i + 1))]))
        .collect();
    c.batch_report_usage_record_groups(&batch).expect("seed");
    let expected = stored_ids(&fake);
    assert_eq!(expected.len(), 50);
    let before = fake.requests().len();

    let got: Vec<String> = c
        .usage_record_groups(&ListUsageRecordGroups::new().limit(7))
        .map(|g| g.expect("page").id)
        .collect();
    assert_eq!(got, expected, "every group once, in order");
    assert_eq!(got.iter().collect::<HashSet<_>>().len(), 50);

    let reqs = &fake.requests()[before..];
    assert_eq!(reqs.len(), 8, "7 pages of 7 and one of 1");
    for (i, r) in reqs.iter().enumerate() {
        assert_eq!(r.operation, Some(Operation::ListUsageRecordGroups));
        let mut want = vec![("limit".to_string(), "7".to_string())];
        if i > 0 {
            want.push(("offset".to_string(), (i * 7).to_string()));
        }
        assert_eq!(r.query, want, "request {i}");
    }

    // Starting at an offset, with a filter.
    let tail: Vec<String> = c
        .usage_record_groups(
            &ListUsageRecordGroups::new()
                .entitlement_id("ent-1")
                .limit(20)
                .offset(45),
        )
        .map(|g| g.expect("page").id)
        .collect();
    assert_eq!(tail, expected[45..]);

    // An empty result: one request, no items.
    let before = fake.requests().len();
    assert_eq!(
        c.usage_record_groups(&ListUsageRecordGroups::new().entitlement_id("none"))
            .count(),
        0
    );
    assert_eq!(fake.requests().len(), before + 1);
}

#[test]
fn usage_record_reports_iterator_walks_every_page() {
    let fake = start();
    let c = client(&fake);
    let batch: Vec<_> = (0..50)
        .map(|i| new_group(&format!("ent-{i:02}"), &[("api_calls", 1.0)]))
        .collect();
    c.batch_report_usage_record_groups(&batch).expect("seed");
    let report_ids = fake.run_report_cycle();
    assert_eq!(report_ids.len(), 50);
    let before = fake.requests().len();

    let got: Vec<String> = c
        .usage_record_reports(&ListUsageRecordReports::new().limit(7))
        .map(|r| r.expect("page").id)
        .collect();
    assert_eq!(got, report_ids);
    assert_eq!(got.iter().collect::<HashSet<_>>().len(), 50);

    let reqs = &fake.requests()[before..];
    assert_eq!(reqs.len(), 8);
    for (i, r) in reqs.iter().enumerate() {
        assert_eq!(r.operation, Some(Operation::ListUsageRecordReports));
        let mut want = vec![("limit".to_string(), "7".to_string())];
        if i > 0 {
            want.push(("offset".to_string(), (i * 7).to_string()));
        }
        assert_eq!(r.query, want, "request {i}");
    }
}

#[test]
fn iterator_yields_an_error_once_and_stops() {
    let fake = start();
    let c = fake
        .client_builder()
        .retry(RetryPolicy::disabled())
        .build()
        .expect("build");
    let batch: Vec<_> = (0..10)
        .map(|_| new_group("ent-1", &[("api_calls", 1.0)]))
        .collect();
    c.batch_report_usage_record_groups(&batch).expect("seed");
    // The second page fails.
    fake.inject(
        suger_metering::fake::Fault::delay(std::time::Duration::ZERO)
            .only(Operation::ListUsageRecordGroups),
    );
    fake.inject(suger_metering::fake::Fault::status(400).only(Operation::ListUsageRecordGroups));
    let items: Vec<_> = c
        .usage_record_groups(&ListUsageRecordGroups::new().limit(4))
        .collect();
    assert_eq!(items.len(), 5);
    assert!(items[..4].iter().all(Result::is_ok));
    assert_eq!(items[4].as_ref().expect_err("error").status(), Some(400));
    assert_eq!(requests_for(&fake, Operation::ListUsageRecordGroups), 2);
}
