//! Drives the fake over real HTTP: auth, every route's main rule, filters and pagination, the
//! report cycle, every fault kind and shutdown.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crate::support::raw_http::{self, Client, assert_error, enc};
use serde_json::{Value, json};
use suger_metering::fake::{FakeSuger, Fault, Operation};

fn start() -> (FakeSuger, Client) {
    let fake = FakeSuger::start().expect("start fake");
    let client = Client::new(&fake);
    (fake, client)
}

fn is_rfc3339_nanos(s: &str) -> bool {
    // 2026-03-01T10:00:00.123456789Z
    s.len() == 30 && s.as_bytes()[10] == b'T' && s.as_bytes()[19] == b'.' && s.ends_with('Z')
}

#[test]
fn auth_org_and_routing() {
    let (fake, mut c) = start();
    assert_eq!(fake.api_key(), "fake-api-key");
    assert_eq!(fake.org_id(), "fake-org");
    assert!(fake.base_url().starts_with("http://127.0.0.1:"));

    assert_error(&c.get("/nope"), 404, "GET /org/fake-org/nope");
    assert_error(&c.call("PUT", "/billableMetric", None), 404, "PUT");
    assert_error(&c.get("/billableMetric/%zz"), 400, "percent");

    c.auth = None;
    assert_error(&c.get("/billableMetric"), 401, "unauthorized");
    c.auth = Some("Key wrong".into());
    assert_error(&c.get("/billableMetric"), 401, "unauthorized");
    c.auth = Some("fake-api-key".into());
    assert_error(&c.get("/billableMetric"), 401, "unauthorized");
    c.auth = Some("Key fake-api-key".into());
    c.org = "other-org".into();
    assert_error(&c.get("/billableMetric"), 403, "other-org");
    c.org = "fake-org".into();
    assert_eq!(c.get("/billableMetric").status, 200);

    let reqs = fake.requests();
    assert_eq!(reqs.len(), 8);
    assert_eq!(reqs[0].operation, None);
    assert_eq!(reqs[7].operation, Some(Operation::ListBillableMetrics));
    assert_eq!(reqs[7].header("authorization"), Some("Key fake-api-key"));
    assert!(reqs[7].headers.iter().all(|(k, _)| *k == k.to_lowercase()));
}

#[test]
fn report_group_v1_fields_and_recording() {
    let (fake, c) = start();
    let ent = "ent/with space?ü";
    let g = c.report(ent, Some("group-1"), json!({"cpu": 3.0, "gb": 1.5}));
    assert_eq!(g["id"], "group-1");
    assert_eq!(g["entitlementID"], ent);
    assert_eq!(g["organizationID"], "fake-org");
    assert_eq!(g["status"], "CREATED");
    assert_eq!(g["partner"], "AWS");
    assert_eq!(g["buyerID"], format!("buyer-{ent}"));
    assert_eq!(g["serialID"], 1);
    assert_eq!(g["usageRecordReportID"], "");
    assert_eq!(g["reportedTime"], "0001-01-01T00:00:00Z");
    assert!(g["records"]["cpu"].is_i64(), "3.0 comes back as 3 like Go");
    assert_eq!(g["records"]["gb"], 1.5);
    assert_eq!(g["metaInfo"]["source"], "API");
    assert_eq!(g["metaInfo"]["billableRecords"], Value::Null);
    assert_eq!(g["metaInfo"]["stripePeriodEndTime"], "0001-01-01T00:00:00Z");
    for k in ["creationTime", "lastUpdateTime"] {
        assert!(
            is_rfc3339_nanos(g[k].as_str().unwrap_or_default()),
            "{}",
            g[k]
        );
    }
    assert_eq!(
        g["metaInfo"]["timestamp"], g["creationTime"],
        "timestamp defaults to now"
    );
    assert_eq!(fake.usage_record_groups(), vec![g]);

    let r = &fake.requests()[0];
    assert_eq!(r.method, "POST");
    assert_eq!(
        r.path,
        "/org/fake-org/entitlement/ent%2Fwith%20space%3F%C3%BC/usageRecordGroup"
    );
    assert_eq!(r.operation, Some(Operation::ReportUsageRecordGroup));
    assert_eq!(r.json().map(|b| b["id"].clone()), Some(json!("group-1")));
    assert_eq!(r.header("content-type"), Some("application/json"));

    // Same id again: 409; generated ids are UUID-shaped; explicit timestamps are kept.
    let body = json!({"id": "group-1", "entitlementID": "e", "organizationID": "fake-org", "records": {"a": 1}});
    assert_error(
        &c.post("/entitlement/e/usageRecordGroup", &body),
        409,
        "group-1",
    );
    let g2 = c.report("e", None, json!({"a": 1}));
    assert_eq!(g2["id"].as_str().map(str::len), Some(36));
    assert_eq!(g2["serialID"], 2);
    let body = json!({"entitlementID": "e", "organizationID": "fake-org", "records": {"a": 1},
        "timestamp": "2026-03-01T12:00:00+02:00"});
    let g3 = c.post("/entitlement/e/usageRecordGroup", &body).json();
    assert_eq!(
        g3["metaInfo"]["timestamp"],
        "2026-03-01T10:00:00.000000000Z"
    );
}

#[test]
fn report_group_validation_and_v2() {
    let (fake, c) = start();
    let path = "/entitlement/e1/usageRecordGroup";
    let base = json!({"entitlementID": "e1", "organizationID": "fake-org", "records": {"a": 1}});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    let cases = [
        (with("id", json!("x".repeat(37))), "36"),
        (with("entitlementID", json!("e2")), "entitlementID"),
        (with("organizationID", json!("other")), "organizationID"),
        (with("metaInfo", json!({"source": "API"})), "metaInfo"),
        (
            with("records", json!({"a": 0, "b": 0})),
            "all the quantity of usage records are zero",
        ),
        (with("records", json!({})), "either"),
        (with("records", json!({"a": "1"})), "number"),
        (
            with("billableRecords", json!([{"key": "k", "quantity": 1}])),
            "together",
        ),
        (with("timestamp", json!("yesterday")), "RFC 3339"),
    ];
    for (body, needle) in &cases {
        assert_error(&c.post(path, body), 400, needle);
    }
    let r = c.call("POST", path, None);
    assert_error(&r, 400, "JSON");
    assert!(fake.usage_record_groups().is_empty());

    // 36 characters (unicode counts as one each) is fine.
    let id36 = "é".repeat(36);
    assert_eq!(
        c.report("e1", Some(&id36), json!({"a": 1}))["id"],
        id36.as_str()
    );

    let v2 = json!({"entitlementID": "e1", "organizationID": "fake-org",
        "billableRecords": [{"key": "api_calls", "quantity": 2, "properties": {"region": "eu"}}]});
    let g = c.post(path, &v2).json();
    assert_eq!(g["records"], Value::Null);
    assert_eq!(g["metaInfo"]["originRecords"], Value::Null);
    assert_eq!(g["metaInfo"]["billableRecords"][0]["key"], "api_calls");
    assert_eq!(
        g["metaInfo"]["billableRecords"][0]["properties"]["region"],
        "eu"
    );
}

#[test]
fn batch_create_and_validate() {
    let (fake, c) = start();
    let ok = json!([
        {"entitlementID": "e1", "records": {"a": 1}, "timestamp": "2026-01-02T03:04:05Z"},
        {"entitlementID": "e2", "billableRecords": [{"key": "k", "quantity": 0}]},
    ]);
    let bad_cases = [
        (json!([]), "no usage record groups"),
        (json!({"entitlementID": "e1"}), "array"),
        (
            json!([{"entitlementID": "e1", "records": {"a": 0}}]),
            "all the quantity",
        ),
        (
            json!([{"entitlementID": "e1", "records": {"a": 1}},
                   {"entitlementID": "e2", "records": {"a": 1}, "billableRecords": [{"key": "k", "quantity": 1}]}]),
            "usageRecordGroups[1]",
        ),
        (json!([{"records": {"a": 1}}]), "entitlementID"),
        (
            json!([{"entitlementID": "e1", "records": {"a": 1}, "metaInfo": null}]),
            "metaInfo",
        ),
    ];
    for (body, needle) in &bad_cases {
        assert_error(&c.post("/batchCreateUsageRecordGroups", body), 400, needle);
        assert_error(
            &c.post("/batchValidateUsageRecordGroups", body),
            400,
            needle,
        );
    }
    assert!(fake.usage_record_groups().is_empty());

    let r = c.post("/batchValidateUsageRecordGroups", &ok);
    assert_eq!((r.status, r.text().as_str()), (200, "\"\""));
    assert!(
        fake.usage_record_groups().is_empty(),
        "validate stores nothing"
    );

    let r = c.post("/batchCreateUsageRecordGroups", &ok);
    assert_eq!(r.status, 200, "{}", r.text());
    let groups = r.json();
    let groups = groups.as_array().expect("array");
    assert_eq!(groups.len(), 2);
    assert_ne!(groups[0]["id"], groups[1]["id"]);
    assert_eq!(
        groups[0]["metaInfo"]["timestamp"],
        "2026-01-02T03:04:05.000000000Z"
    );
    assert_eq!(groups[1]["records"], Value::Null);
    assert_eq!(groups[1]["entitlementID"], "e2");
    assert_eq!(fake.usage_record_groups().len(), 2);
    let ops: Vec<_> = fake.requests().iter().map(|r| r.operation).collect();
    assert_eq!(ops[0], Some(Operation::BatchReportUsageRecordGroups));
    assert_eq!(ops[1], Some(Operation::BatchValidateUsageRecordGroups));
}

#[test]
fn list_groups_filters_and_pagination() {
    let (fake, c) = start();
    let empty = c.get("/usageRecordGroup");
    assert_eq!(empty.text(), r#"{"usageRecordGroups":null}"#);

    let mut ids = Vec::new();
    for i in 0..5 {
        let ent = if i < 3 { "ent-a" } else { "ent-b" };
        ids.push(c.report(ent, Some(&format!("g{i}")), json!({"q": i + 1}))["id"].clone());
    }
    let today = fake.usage_record_groups()[0]["creationTime"]
        .as_str()
        .map(|s| s[..10].to_string())
        .unwrap_or_default();

    let p1 = c.get("/usageRecordGroup?limit=2").json();
    assert_eq!(p1["usageRecordGroups"].as_array().map(Vec::len), Some(2));
    assert_eq!(p1["usageRecordGroups"][0]["id"], ids[0]);
    assert_eq!(p1["nextOffset"], 2);
    let p3 = c.get("/usageRecordGroup?limit=2&offset=4").json();
    assert_eq!(p3["usageRecordGroups"][0]["id"], ids[4]);
    assert!(
        p3.get("nextOffset").is_none(),
        "last page has no nextOffset"
    );
    let past = c.get("/usageRecordGroup?offset=10").json();
    assert_eq!(past["usageRecordGroups"], Value::Null);

    let count = |q: &str| {
        let r = c.get(&format!("/usageRecordGroup?{q}"));
        assert_eq!(r.status, 200, "{q}: {}", r.text());
        r.json()["usageRecordGroups"].as_array().map_or(0, Vec::len)
    };
    assert_eq!(count("entitlementId=ent-b"), 2);
    assert_eq!(count("buyerId=buyer-ent-a"), 3);
    assert_eq!(count("partner=AWS"), 5);
    assert_eq!(count("partner=GCP"), 0);
    assert_eq!(count("source=API"), 5);
    assert_eq!(count("source=STRIPE"), 0);
    assert_eq!(count("metaInfo=%22source%22%3A%22API%22"), 5);
    assert_eq!(count("metaInfo=lagoSubscriptionID%22%3A%22x"), 0);
    assert_eq!(count(&format!("startDate={today}&endDate={today}")), 5);
    assert_eq!(count("endDate=2000-01-01"), 0);
    assert_eq!(count("startDate=2999-01-01"), 0);
    assert_eq!(count("status=CREATED"), 5);

    fake.set_group_status("g0", "INVALID");
    let r = c.call("DELETE", "/usageRecordGroup/g0", None);
    assert_eq!(r.json()["status"], "DELETED");
    assert_eq!(count(""), 4, "DELETED hidden by default");
    assert_eq!(count("status=DELETED"), 1);

    for q in [
        "entitlementId=ent-a&buyerId=buyer-ent-a",
        "partner=AWS&entitlementId=ent-a",
        "limit=0",
        "limit=1001",
        "limit=abc",
        "offset=-1",
        "startDate=2024-13-01",
        "endDate=20240101",
        "startDate=2024-02-02&endDate=2024-02-01",
    ] {
        let r = c.get(&format!("/usageRecordGroup?{q}"));
        assert_eq!(r.status, 400, "{q}: {}", r.text());
    }
    let recorded = fake.requests();
    let last = recorded.last().expect("requests");
    assert_eq!(
        last.query,
        vec![
            ("startDate".to_string(), "2024-02-02".to_string()),
            ("endDate".to_string(), "2024-02-01".to_string())
        ]
    );
}

#[test]
fn report_cycle_retry_and_delete() {
    let (fake, c) = start();
    c.report("ent-a", Some("a1"), json!({"cpu": 1, "mem": 2}));
    c.report("ent-a", Some("a2"), json!({"cpu": 4}));
    c.report("ent-a", Some("a3"), json!({"cpu": 8}));
    let v2 = json!({"entitlementID": "ent-b", "organizationID": "fake-org",
        "billableRecords": [{"key": "k", "quantity": 1.5}, {"key": "k", "quantity": 1}], "id": "b1"});
    assert_eq!(
        c.post("/entitlement/ent-b/usageRecordGroup", &v2).status,
        200
    );
    fake.fail_next_report_for("a3");

    let created = c.call(
        "DELETE",
        "/usageRecordGroup/a1?creationDate=2000-01-01",
        None,
    );
    assert_error(&created, 404, "a1");
    assert_error(
        &c.call(
            "DELETE",
            "/usageRecordGroup/a1?creationDate=01-01-2000",
            None,
        ),
        400,
        "creationDate",
    );
    assert_error(
        &c.call("DELETE", "/usageRecordGroup/nope", None),
        404,
        "nope",
    );
    assert_error(
        &c.call("POST", "/usageRecordGroup/nope/retry", None),
        404,
        "nope",
    );
    assert_error(
        &c.call("POST", "/usageRecordGroup/a1/retry", None),
        400,
        "REPORT_FAILED",
    );

    let ids = fake.run_report_cycle();
    assert_eq!(ids.len(), 3, "ent-a ok, ent-a failed, ent-b ok");
    let reports = fake.usage_record_reports();
    let ok_a = &reports[0];
    assert_eq!(ok_a["id"], ids[0].as_str());
    assert_eq!(ok_a["entitlementID"], "ent-a");
    assert_eq!(ok_a["info"]["status"], "SUCCESS");
    assert_eq!(ok_a["info"]["usageRecordGroupIds"], json!(["a1", "a2"]));
    assert_eq!(ok_a["info"]["reportedRecords"], json!({"cpu": 5, "mem": 2}));
    assert_eq!(ok_a["info"]["aggregatedBillableRecords"], Value::Null);
    assert_eq!(reports[1]["info"]["status"], "FAILED");
    assert_eq!(reports[1]["info"]["usageRecordGroupIds"], json!(["a3"]));
    assert_eq!(reports[2]["info"]["reportedRecords"], Value::Null);
    assert_eq!(
        reports[2]["info"]["aggregatedBillableRecords"][0]["quantity"],
        2.5
    );

    let groups = fake.usage_record_groups();
    let by_id = |id: &str| {
        groups
            .iter()
            .find(|g| g["id"] == id)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(by_id("a1")["status"], "REPORTED");
    assert_eq!(by_id("a1")["usageRecordReportID"], ids[0].as_str());
    assert_ne!(by_id("a1")["reportedTime"], "0001-01-01T00:00:00Z");
    assert_eq!(by_id("a3")["status"], "REPORT_FAILED");
    assert_eq!(by_id("a3")["reportedTime"], "0001-01-01T00:00:00Z");

    assert_error(
        &c.call("DELETE", "/usageRecordGroup/a1", None),
        400,
        "REPORTED",
    );
    let created_at = by_id("a3")["creationTime"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let today = &created_at[..10];
    let r = c.call(
        "POST",
        &format!("/usageRecordGroup/a3/retry?creationDate={today}"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "CREATED");
    assert_eq!(fake.run_report_cycle().len(), 1);
    assert!(fake.run_report_cycle().is_empty());
    assert_eq!(
        fake.usage_record_groups()
            .iter()
            .filter(|g| g["status"] == "REPORTED")
            .count(),
        4
    );

    // List reports: filters, pagination, null when empty.
    let all = c.get("/usageRecordReport").json();
    assert_eq!(all["usageRecordReports"].as_array().map(Vec::len), Some(4));
    assert!(all.get("nextOffset").is_none());
    let p = c
        .get("/usageRecordReport?entitlementId=ent-a&limit=2")
        .json();
    assert_eq!(p["usageRecordReports"].as_array().map(Vec::len), Some(2));
    assert_eq!(p["nextOffset"], 2);
    let b = c
        .get("/usageRecordReport?buyerId=buyer-ent-b&partner=AWS")
        .json();
    assert_eq!(b["usageRecordReports"][0]["entitlementID"], "ent-b");
    let none = c.get("/usageRecordReport?endDate=2000-01-01");
    assert_eq!(none.text(), r#"{"usageRecordReports":null}"#);
    assert_eq!(c.get("/usageRecordReport?limit=5000").status, 400);

    // Delete: INVALID and CREATED can go, with or without a matching creationDate.
    c.report("ent-c", Some("c1"), json!({"x": 1}));
    let r = c.call(
        "DELETE",
        &format!("/usageRecordGroup/c1?creationDate={today}"),
        None,
    );
    assert_eq!(r.json()["status"], "DELETED");
    assert_error(
        &c.call("DELETE", "/usageRecordGroup/c1", None),
        400,
        "DELETED",
    );
}

#[test]
fn ids_with_reserved_characters_in_paths() {
    let (fake, c) = start();
    let id = "a/b ?x#ü";
    c.report("e", Some(id), json!({"a": 1}));
    let r = c.call("DELETE", &format!("/usageRecordGroup/{}", enc(id)), None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["id"], id);
    // The unencoded form must not reach the same group.
    assert_eq!(c.call("DELETE", "/usageRecordGroup/a/b", None).status, 404);
    assert_eq!(
        fake.requests()[1].path,
        format!("/org/fake-org/usageRecordGroup/{}", enc(id))
    );
}

#[test]
fn billable_metrics() {
    let (fake, c) = start();
    assert_eq!(c.get("/billableMetric").text(), "null");
    for (body, needle) in [
        (json!({"name": "abc"}), "name"),
        (json!({"name": "x".repeat(51)}), "name"),
        (json!({"description": "four"}), "name"),
        (
            json!({"name": "fine", "description": "d".repeat(301)}),
            "description",
        ),
        (json!({"name": "fine", "id": "i".repeat(37)}), "36"),
        (
            json!({"name": "fine", "organizationId": "other"}),
            "organizationId",
        ),
    ] {
        assert_error(&c.post("/billableMetric", &body), 400, needle);
    }
    let m = c.post(
        "/billableMetric",
        &json!({"name": "API calls", "aggregationType": "SUM"}),
    );
    assert_eq!(m.status, 200, "{}", m.text());
    let m = m.json();
    let id = m["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(id.len(), 36);
    assert_eq!(m["status"], "ACTIVE");
    assert_eq!(m["organizationId"], "fake-org");
    assert_eq!(m["description"], "");
    assert!(is_rfc3339_nanos(
        m["creationTime"].as_str().unwrap_or_default()
    ));
    let named = c.post(
        "/billableMetric",
        &json!({"id": "m-2", "name": "ünïcödé", "description": "d".repeat(300)}),
    );
    assert_eq!(named.json()["id"], "m-2");
    assert_error(
        &c.post("/billableMetric", &json!({"id": "m-2", "name": "again"})),
        400,
        "m-2",
    );

    assert_eq!(c.get(&format!("/billableMetric/{id}")).json(), m);
    assert_error(&c.get("/billableMetric/missing"), 404, "missing");
    assert_eq!(
        c.get("/billableMetric").json().as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(c.get("/billableMetric?status=DELETED").text(), "null");

    let patch = |p: &str, b: Value| c.call("PATCH", &format!("/billableMetric/{p}"), Some(&b));
    let u = patch(&id, json!({"status": "DELETED", "description": "gone"}));
    assert_eq!(u.status, 200, "{}", u.text());
    let u = u.json();
    assert_eq!(
        (
            u["status"].as_str(),
            u["description"].as_str(),
            u["name"].as_str()
        ),
        (Some("DELETED"), Some("gone"), Some("API calls"))
    );
    assert_ne!(u["lastUpdateTime"], m["lastUpdateTime"]);
    assert_eq!(
        c.get("/billableMetric?status=DELETED").json()[0]["id"],
        id.as_str()
    );
    assert_error(&patch(&id, json!({"name": "abc"})), 400, "name");
    assert_error(&patch(&id, json!({"status": "PAUSED"})), 400, "status");
    assert_error(
        &patch("missing", json!({"name": "good name"})),
        404,
        "missing",
    );
    assert_eq!(fake.billable_metrics().len(), 2);
}

#[test]
fn usage_metering_config_info() {
    let (_fake, c) = start();
    assert_eq!(
        c.get("/usageMeteringConfigInfo").text(),
        r#"{"partnerUsageMeteringConfigs":null}"#
    );
    let cfg = json!({"partnerUsageMeteringConfigs": [
        {"partner": "AWS", "enableDimensionMapping": true,
         "dimensionMapping": {"cpu": {"dimensionKey": "vcpu", "convertionMultiplier": 0.5}}}]});
    let r = c.call("PATCH", "/usageMeteringConfigInfo", Some(&cfg));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), cfg);
    assert_eq!(c.get("/usageMeteringConfigInfo").json(), cfg);
    let bad = json!({"partnerUsageMeteringConfigs": "AWS"});
    assert_error(
        &c.call("PATCH", "/usageMeteringConfigInfo", Some(&bad)),
        400,
        "array",
    );
}

#[test]
fn status_fault_with_retry_after_is_not_applied() {
    let (fake, c) = start();
    fake.inject(
        Fault::status(503)
            .retry_after("2")
            .only(Operation::ReportUsageRecordGroup),
    );
    fake.inject(
        Fault::status(502)
            .body("<html>bad gateway</html>")
            .times(2)
            .only(Operation::GetBillableMetric),
    );
    // The list call is not matched by either fault.
    assert_eq!(c.get("/usageRecordGroup").status, 200);

    let body =
        json!({"id": "g", "entitlementID": "e", "organizationID": "fake-org", "records": {"a": 1}});
    let r = c.post("/entitlement/e/usageRecordGroup", &body);
    assert_eq!(r.status, 503);
    assert_eq!(r.header("retry-after"), Some("2"));
    assert_eq!(r.text(), "\"injected 503\"");
    assert!(
        fake.usage_record_groups().is_empty(),
        "a status fault is not applied"
    );
    assert_eq!(
        c.post("/entitlement/e/usageRecordGroup", &body).status,
        200,
        "fault consumed"
    );

    for _ in 0..2 {
        let r = c.get("/billableMetric/x");
        assert_eq!(r.status, 502);
        assert!(
            r.header("content-type")
                .is_some_and(|t| t.starts_with("text/html"))
        );
        assert_eq!(r.text(), "<html>bad gateway</html>");
    }
    assert_eq!(c.get("/billableMetric/x").status, 404);

    // Unmatched-op faults apply to anything, before auth; FIFO order.
    fake.inject(Fault::status(429));
    fake.inject(Fault::status(500).body(""));
    let mut anon = Client::new(&fake);
    anon.auth = None;
    assert_eq!(anon.get("/whatever").status, 429);
    let r = anon.get("/usageRecordGroup");
    assert_eq!((r.status, r.body.len()), (500, 0));
    assert_eq!(anon.get("/usageRecordGroup").status, 401);
    assert_eq!(
        fake.requests().len(),
        9,
        "faulted requests are recorded too"
    );
}

#[test]
fn delay_fault_then_applies() {
    let (fake, c) = start();
    fake.inject(Fault::delay(Duration::from_millis(150)));
    let t = Instant::now();
    c.report("e", Some("slow"), json!({"a": 1}));
    assert!(t.elapsed() >= Duration::from_millis(150));
    assert_eq!(fake.usage_record_groups().len(), 1);
}

#[test]
fn drop_after_apply_stores_but_never_answers() {
    let (fake, c) = start();
    fake.inject(Fault::drop_after_apply().only(Operation::ReportUsageRecordGroup));
    // Warm the agent's pool so the faulted request goes over a reused keep-alive connection.
    assert_eq!(c.get("/usageRecordGroup").status, 200);
    let body = json!({"id": "lost", "entitlementID": "e", "organizationID": "fake-org", "records": {"a": 1}});
    let r = c.try_call("POST", "/entitlement/e/usageRecordGroup", Some(&body));
    assert!(r.is_err(), "the client must see an error, got a response");
    let groups = fake.usage_record_groups();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["id"], "lost");
    // Re-sending the same id now conflicts: the first attempt was applied.
    assert_error(
        &c.post("/entitlement/e/usageRecordGroup", &body),
        409,
        "lost",
    );
}

#[test]
fn truncate_body_applies_and_cuts_the_body() {
    let (fake, c) = start();
    fake.inject(Fault::truncate_body());
    let r = c.try_call(
        "POST",
        "/billableMetric",
        Some(&json!({"name": "truncated"})),
    );
    assert!(r.is_err(), "short body must be an error");
    assert_eq!(fake.billable_metrics().len(), 1);

    // On the wire: full Content-Length, half the body, then EOF.
    fake.inject(Fault::truncate_body());
    let mut s = TcpStream::connect(addr(&fake)).expect("connect");
    let req = "GET /org/fake-org/billableMetric HTTP/1.1\r\nHost: x\r\nAuthorization: Key fake-api-key\r\n\r\n";
    s.write_all(req.as_bytes()).expect("write");
    let raw = read_all(&mut s);
    let (head, body) = raw.split_once("\r\n\r\n").expect("head");
    let full = serde_json::to_string(&fake.billable_metrics()).expect("json");
    assert!(
        head.contains(&format!("Content-Length: {}", full.len())),
        "{head}"
    );
    assert_eq!(body, &full[..full.len() / 2]);
}

fn addr(fake: &FakeSuger) -> SocketAddr {
    fake.base_url()
        .trim_start_matches("http://")
        .parse()
        .expect("addr")
}

fn read_all(s: &mut TcpStream) -> String {
    s.set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn raw_http_edge_cases() {
    let (fake, _c) = start();
    let send = |req: &str| {
        let mut s = TcpStream::connect(addr(&fake)).expect("connect");
        s.write_all(req.as_bytes()).expect("write");
        read_all(&mut s)
    };
    let chunked = send(concat!(
        "POST /org/fake-org/billableMetric HTTP/1.1\r\nAuthorization: Key fake-api-key\r\n",
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        "8;ext=1\r\n{\"name\":\r\n9\r\n\"chunky\"}\r\n0\r\n\r\n",
    ));
    assert!(chunked.starts_with("HTTP/1.1 200 "), "{chunked}");
    let gzip =
        send("POST /org/fake-org/billableMetric HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n");
    assert!(gzip.starts_with("HTTP/1.1 501 "), "{gzip}");
    assert!(send("garbage\r\n\r\n").starts_with("HTTP/1.1 400 "));
    assert!(
        send("GET /org/fake-org/x HTTP/1.1\r\nbad header\r\n\r\n").starts_with("HTTP/1.1 400 ")
    );
    assert!(
        send("GET /org/fake-org/x HTTP/1.1\r\nContent-Length: nope\r\n\r\n")
            .starts_with("HTTP/1.1 400 ")
    );

    // Two pipelined keep-alive requests on one connection, the second closing it.
    let two = send(concat!(
        "GET /org/fake-org/billableMetric HTTP/1.1\r\nAuthorization: Key fake-api-key\r\n\r\n",
        "POST /org/fake-org/billableMetric HTTP/1.1\r\nAuthorization: Key fake-api-key\r\n",
        "Content-Length: 14\r\nConnection: close\r\n\r\n{\"name\":\"abc\"}",
    ));
    assert_eq!(two.matches("HTTP/1.1 ").count(), 2, "{two}");
    assert!(two.contains("HTTP/1.1 400 "), "name too short: {two}");
    assert!(two.contains("Connection: close"));
}

#[test]
fn drop_is_prompt_with_open_connections_and_frees_the_port() {
    let fake = FakeSuger::start().expect("start");
    let a = addr(&fake);
    let c = Client::new(&fake);
    // A pooled keep-alive connection in the agent...
    assert_eq!(c.get("/billableMetric").status, 200);
    // ...an idle raw connection, a half-sent request, and a request stuck in a long delay.
    let idle = TcpStream::connect(a).expect("connect");
    let mut half = TcpStream::connect(a).expect("connect");
    half.write_all(b"POST /org/fake-org/billableMetric HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")
        .expect("write");
    fake.inject(Fault::delay(Duration::from_secs(30)).only(Operation::ListBillableMetrics));
    let base = fake.base_url().to_string();
    let stuck = std::thread::spawn(move || {
        let agent = raw_http::agent();
        agent
            .get(&format!("{base}/org/fake-org/billableMetric"))
            .header("Authorization", "Key fake-api-key")
            .call()
            .map(|r| r.status().as_u16())
    });
    while fake.requests().len() < 2 {
        std::thread::sleep(Duration::from_millis(5));
    }

    let t = Instant::now();
    drop(fake);
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "drop took {:?}",
        t.elapsed()
    );
    assert!(
        stuck.join().expect("join").is_err(),
        "the delayed request is cut off"
    );
    let refused = TcpStream::connect(a);
    assert!(refused.is_err(), "nothing listens after drop");
    TcpListener::bind(a).expect("the port is free again");
    drop((idle, half, c));
}
