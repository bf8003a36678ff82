//! Helpers for tests against the in-process fake ([`FakeSuger`]): a fake and a client for it,
//! usage builders, and what the fake stored and received.
#![allow(dead_code)]

use std::collections::BTreeMap;

use std::time::Duration;

use serde_json::Value;
use suger_metering::fake::{FakeSuger, Operation};
use suger_metering::{
    CreateUsageRecordGroupParams, ListUsageRecordGroups, MeteringClient, MeteringUsageRecord,
    MeteringUsageRecordGroup, NewUsageRecordGroup, RetryPolicy,
};
use time::Date;

/// A fake on a free loopback port.
pub fn start() -> FakeSuger {
    FakeSuger::start().expect("start the fake")
}

/// A client for the fake that never sleeps between retries.
pub fn client(fake: &FakeSuger) -> MeteringClient {
    fake.client_builder()
        .retry(RetryPolicy::default().sleep_fn(|_| {}))
        .build()
        .expect("build client")
}

/// A client for the fake that sends every request once.
pub fn client_no_retry(fake: &FakeSuger) -> MeteringClient {
    fake.client_builder()
        .retry(RetryPolicy::disabled())
        .build()
        .unwrap()
}

/// v1 usage: one dimension.
pub fn usage(id: Option<&str>, dimension: &str, quantity: f64) -> CreateUsageRecordGroupParams {
    CreateUsageRecordGroupParams {
        id: id.map(str::to_owned),
        records: [(dimension.to_string(), quantity)].into(),
        ..Default::default()
    }
}

/// v1 records: dimension -> quantity.
pub fn records(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
    pairs.iter().map(|(k, v)| ((*k).to_string(), *v)).collect()
}

/// A v1 report with an optional id.
pub fn params(id: Option<&str>, pairs: &[(&str, f64)]) -> CreateUsageRecordGroupParams {
    CreateUsageRecordGroupParams {
        id: id.map(str::to_string),
        records: records(pairs),
        ..Default::default()
    }
}

/// A v1 batch item for `entitlement`.
pub fn new_group(entitlement: &str, pairs: &[(&str, f64)]) -> NewUsageRecordGroup {
    NewUsageRecordGroup {
        entitlement_id: entitlement.to_string(),
        records: records(pairs),
        ..Default::default()
    }
}

/// Requests the fake received for one operation.
pub fn requests_for(fake: &FakeSuger, op: Operation) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.operation == Some(op))
        .count()
}

/// Ids of the groups the fake stored, in order.
pub fn stored_ids(fake: &FakeSuger) -> Vec<String> {
    fake.usage_record_groups()
        .iter()
        .map(|g| g["id"].as_str().expect("id is a string").to_string())
        .collect()
}

/// The stored group with `id` (panics when there is none).
pub fn stored_group(fake: &FakeSuger, id: &str) -> Value {
    fake.usage_record_groups()
        .into_iter()
        .find(|g| g["id"] == id)
        .unwrap_or_else(|| panic!("no stored group {id:?}"))
}

/// The ids of `groups`, in order.
pub fn ids(groups: &[MeteringUsageRecordGroup]) -> Vec<String> {
    groups.iter().map(|g| g.id.clone()).collect()
}

/// The query of the last request the fake received, as (name, value) pairs.
pub fn last_query(fake: &FakeSuger) -> Vec<(String, String)> {
    fake.requests().last().expect("a request").query.clone()
}

/// `true` for the 8-4-4-4-12 hex shape of a UUID.
pub fn is_uuid_shaped(id: &str) -> bool {
    id.len() == 36
        && id.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Reports 6 groups: ent-a x3 (api_calls 1,2,3), ent-b x2 (api_calls 3, storage 1), ent-c x1 (v2).
pub fn seed(fake: &FakeSuger, c: &MeteringClient) -> Date {
    let g = c
        .report_usage_record_group("ent-a", &params(Some("a1"), &[("api_calls", 1.0)]))
        .expect("seed");
    for (ent, id, pairs) in [
        ("ent-a", "a2", &[("api_calls", 2.0)][..]),
        ("ent-a", "a3", &[("api_calls", 3.0)][..]),
        ("ent-b", "b1", &[("api_calls", 3.0)][..]),
        ("ent-b", "b2", &[("storage_gb", 1.0)][..]),
    ] {
        c.report_usage_record_group(ent, &params(Some(id), pairs))
            .expect("seed");
    }
    c.report_usage_record_group(
        "ent-c",
        &CreateUsageRecordGroupParams {
            id: Some("c1".into()),
            billable_records: vec![MeteringUsageRecord::new("cpu", 1.0)],
            ..Default::default()
        },
    )
    .expect("seed");
    assert_eq!(fake.usage_record_groups().len(), 6);
    g.creation_time.expect("creation time").date()
}

/// The ids on the first page of `q`.
pub fn list_ids(c: &MeteringClient, q: &ListUsageRecordGroups) -> Vec<String> {
    let page = c.list_usage_record_groups(q).expect("list");
    ids(&page.usage_record_groups)
}

/// Number of report requests the fake received.
pub fn report_requests(fake: &FakeSuger) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.path.ends_with("/usageRecordGroup") && r.method == "POST")
        .count()
}

/// `method` on `fake`'s admin path `path` with an optional JSON body: (status, JSON answer).
pub fn admin(fake: &FakeSuger, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let url = format!("{}/_fake/{path}", fake.base_url());
    let req = ureq::http::Request::builder().method(method).uri(&url);
    let mut resp = match body {
        Some(b) => agent
            .run(req.body(serde_json::to_vec(&b).unwrap()).unwrap())
            .unwrap(),
        None => agent.run(req.body(()).unwrap()).unwrap(),
    };
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap())
}
