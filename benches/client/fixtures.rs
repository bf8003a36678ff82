//! Go-style response bodies and request payloads, built before anything is measured.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use suger_metering::{MeteringUsageRecord, NewUsageRecordGroup};

pub(crate) const ORG: &str = "org-bench";
pub(crate) const API_KEY: &str = "bench-api-key-0123456789abcdef";
pub(crate) const METRIC_ID: &str = "bm-3f6c1e2a-9b7d-4e2f-8a1c-0d9e8f7a6b5c";
/// Page size of W2 and W4 (`limit=1000`, the API's maximum).
pub(crate) const PAGE: usize = 1000;
/// Same cap as the client's transport.
pub(crate) const BODY_LIMIT: u64 = 64 * 1024 * 1024;
pub(crate) const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

// ---------------------------------------------------------------- Go-style fixtures

/// RFC 3339 with 9 fractional digits, as Go's `time.Time` marshals; some with an offset.
pub(crate) fn go_time(i: usize, minute_shift: usize) -> String {
    let nanos = (i * 7_919 * 104_729 + 123_456_789) % 1_000_000_000;
    let offset = if i % 7 == 3 { "-07:00" } else { "Z" };
    format!(
        "2026-11-{:02}T{:02}:{:02}:{:02}.{nanos:09}{offset}",
        1 + i % 28,
        (i / 28) % 24,
        (i + minute_shift) % 60,
        (i * 13) % 60,
    )
}

pub(crate) fn uuid(tag: u32, i: usize) -> String {
    format!(
        "{tag:08x}-{:04x}-4b7d-9e2f-{:012x}",
        i % 0xffff,
        i * 2_654_435_761
    )
}

pub(crate) const PARTNERS: [&str; 3] = ["AWS", "AZURE", "GCP"];
pub(crate) const REGIONS: [&str; 4] = ["us-east-1", "eu-west-1", "ap-southeast-2", "us-west-2"];

/// One usage record group the way Suger's Go server marshals it: every field present,
/// `null` for nil maps/slices, Go's zero time for unset times. `created` shapes the answer of
/// a batch report (status CREATED, not reported yet).
pub(crate) fn go_group(out: &mut String, i: usize, created: bool) {
    let v1 = i.is_multiple_of(3);
    let reported = !created && !i.is_multiple_of(4);
    let status = if created {
        "CREATED"
    } else if reported {
        if i % 50 == 7 {
            "REPORT_FAILED"
        } else {
            "REPORTED"
        }
    } else {
        "CREATED"
    };
    let records = if v1 {
        format!(r#"{{"api_calls":{},"storage_gb":3.25}}"#, 1000 + i)
    } else {
        "null".to_owned()
    };
    let billable = if v1 {
        "null".to_owned()
    } else {
        let mut b = format!(
            r#"[{{"key":"api_calls","quantity":{},"properties":{{"region":"{}","tier":"pro","cluster":"c-{}"}}}}"#,
            100 + i % 900,
            REGIONS[i % 4],
            i % 16,
        );
        if i.is_multiple_of(2) {
            write!(
                b,
                r#",{{"key":"egress_gb","quantity":0.125,"properties":{{"region":"{}"}}}}"#,
                REGIONS[i % 4]
            )
            .unwrap();
        }
        b.push(']');
        b
    };
    let report_id = if reported {
        format!("urr-{}", uuid(0x5eed, i / 10))
    } else {
        String::new()
    };
    let reported_time = if reported {
        go_time(i, 30)
    } else {
        ZERO_TIME.to_owned()
    };
    write!(
        out,
        concat!(
            r#"{{"id":"{id}","buyerID":"buyer-{buyer:04}","entitlementID":"{ent}","#,
            r#""organizationID":"{ORG}","partner":"{partner}","records":{records},"#,
            r#""status":"{status}","metaInfo":{{"SkipValidation":false,"#,
            r#""billableRecords":{billable},"originRecords":null,"source":"API","#,
            r#""timestamp":"{ts}","stripePeriodStartTime":"{ZERO_TIME}"}},"#,
            r#""serialID":{serial},"usageRecordReportID":"{report_id}","#,
            r#""creationTime":"{ct}","lastUpdateTime":"{ut}","reportedTime":"{rt}"}}"#,
        ),
        id = uuid(0x6f1c2a9e, i),
        buyer = i % 97,
        ent = format_args!("ent-{}", uuid(0xe17, i % 40)),
        ORG = ORG,
        partner = PARTNERS[i % 3],
        records = records,
        status = status,
        billable = billable,
        ts = go_time(i, 0),
        ZERO_TIME = ZERO_TIME,
        serial = 4_200_000 + i,
        report_id = report_id,
        ct = go_time(i, 1),
        ut = go_time(i, 2),
        rt = reported_time,
    )
    .unwrap();
}

/// `{"usageRecordGroups":[...]` without the closing brace (a page's shared prefix).
pub(crate) fn page_prefix(n: usize) -> String {
    let mut s = String::with_capacity(n * 800);
    s.push_str(r#"{"usageRecordGroups":["#);
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        go_group(&mut s, i, false);
    }
    s.push(']');
    s
}

pub(crate) fn created_groups(n: usize) -> String {
    let mut s = String::with_capacity(n * 800);
    s.push('[');
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        go_group(&mut s, i, true);
    }
    s.push(']');
    s
}

pub(crate) fn billable_metric_json() -> String {
    format!(
        concat!(
            r#"{{"id":"{id}","name":"API calls (all regions)","#,
            r#""description":"Number of API calls, counted per region and plan tier, excluding health checks, internal retries and calls rejected by the rate limiter.","#,
            r#""organizationId":"{org}","aggregationType":"SUM","info":{{"filterGroups":["#,
            r#"{{"filters":[{{"name":"region","operation":"IS","value":"us-east-1","valueType":"STRING"}},"#,
            r#"{{"name":"latency_ms","operation":"GTE","value":0,"valueType":"FLOAT"}}]}},"#,
            r#"{{"filters":[{{"name":"path","operation":"NOT_CONTAINS","value":"/healthz","valueType":"STRING"}}]}}],"#,
            r#""groupBys":null,"propertyUniqueOn":""}},"status":"ACTIVE","#,
            r#""creationTime":"2026-03-01T10:00:00.123456789Z","lastUpdateTime":"{zero}","#,
            r#""creatorID":"user-7d1f","lastUpdatedBy":null}}"#,
        ),
        id = METRIC_ID,
        org = ORG,
        zero = ZERO_TIME,
    )
}

/// The W3 request: 1000 groups, a third v1 `records`, the rest v2 with properties.
pub(crate) fn new_groups(n: usize) -> Vec<NewUsageRecordGroup> {
    let ts = time::macros::datetime!(2026-11-26 14:00:00.123456789 UTC);
    (0..n)
        .map(|i| {
            let mut g = NewUsageRecordGroup {
                entitlement_id: format!("ent-{}", uuid(0xe17, i % 40)),
                timestamp: Some(ts),
                ..Default::default()
            };
            if i.is_multiple_of(3) {
                g.records = BTreeMap::from([
                    ("api_calls".to_owned(), (1000 + i) as f64),
                    ("storage_gb".to_owned(), 3.25),
                ]);
            } else {
                g.billable_records = vec![
                    MeteringUsageRecord::new("api_calls", (100 + i % 900) as f64)
                        .property("region", REGIONS[i % 4])
                        .property("tier", "pro")
                        .property("cluster", format!("c-{}", i % 16)),
                    MeteringUsageRecord::new("egress_gb", 0.125).property("region", REGIONS[i % 4]),
                ];
            }
            g
        })
        .collect()
}
