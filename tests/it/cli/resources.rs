//! The `suger-metering` resource commands, run as a process against a fake started here:
//! `groups`, `reports`, `metrics` and `config`, with their filters and output formats.

use super::{run, run_stdin, seed_report, temp_file};
use serde_json::json;
use suger_metering::fake::FakeSuger;

#[test]
fn groups_list_sends_the_filters_pages_and_formats() {
    let fake = FakeSuger::start().unwrap();
    for i in 0..3 {
        seed_report(&fake, "ent-1", &format!("g{i}"), 1.0 + f64::from(i));
    }
    seed_report(&fake, "ent-2", "other", 1.0);
    fake.clear_requests();
    let today = time::OffsetDateTime::now_utc().date().to_string();
    let r = run(
        &fake,
        &[
            "groups",
            "list",
            "--entitlement",
            "ent-1",
            "--status",
            "CREATED",
            "--from",
            &today,
            "--to",
            &today,
            "--limit",
            "2",
        ],
    );
    let page = r.code(0).json();
    assert_eq!(page.as_array().unwrap().len(), 2);
    assert!(r.stderr.contains("--offset 2"), "{r:?}");
    let q = &fake.requests()[0].query;
    let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        q,
        [
            ("entitlementId", "ent-1"),
            ("status", "CREATED"),
            ("startDate", today.as_str()),
            ("endDate", today.as_str()),
            ("limit", "2")
        ]
    );
    // --all follows nextOffset; ndjson streams one group per line.
    let r = run(
        &fake,
        &[
            "groups",
            "list",
            "--entitlement",
            "ent-1",
            "--limit",
            "1",
            "--all",
            "-o",
            "ndjson",
        ],
    );
    let ids: Vec<String> = r
        .code(0)
        .ndjson()
        .iter()
        .map(|g| g["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["g0", "g1", "g2"]);
    let r = run(&fake, &["groups", "list", "--all", "--limit", "3"]);
    assert_eq!(r.code(0).json().as_array().unwrap().len(), 4);
    let r = run(
        &fake,
        &["groups", "list", "--buyer", "buyer-ent-2", "-o", "table"],
    );
    assert_eq!(r.code(0).stdout.lines().count(), 2);
    let r = run(&fake, &["groups", "list", "--status", "DELETED"]);
    assert_eq!(r.code(0).stdout.trim(), "[]");
}

#[test]
fn groups_delete_and_retry() {
    let fake = FakeSuger::start().unwrap();
    seed_report(&fake, "ent-1", "del", 1.0);
    seed_report(&fake, "ent-1", "fail", 1.0);
    fake.set_group_status("fail", "REPORT_FAILED");
    let today = time::OffsetDateTime::now_utc().date().to_string();
    let r = run(&fake, &["groups", "delete", "del", "--date", &today]);
    assert_eq!(r.code(0).json()["status"], "DELETED");
    let req = fake.requests().pop().unwrap();
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("DELETE", "/org/fake-org/usageRecordGroup/del")
    );
    assert_eq!(req.query, [("creationDate".to_string(), today.clone())]);
    let r = run(&fake, &["groups", "retry", "fail"]);
    assert_eq!(r.code(0).json()["status"], "CREATED");
    run(&fake, &["groups", "delete", "fail", "--date", "2001-01-01"])
        .code(1)
        .error_line(&["404"]);
}

#[test]
fn reports_list() {
    let fake = FakeSuger::start().unwrap();
    seed_report(&fake, "ent-1", "a", 1.0);
    seed_report(&fake, "ent-2", "b", 2.0);
    fake.run_report_cycle();
    let r = run(&fake, &["reports", "list"]);
    let reports = r.code(0).json();
    assert_eq!(reports.as_array().unwrap().len(), 2);
    assert_eq!(reports[0]["entitlementID"], "ent-1");
    assert_eq!(reports[0]["info"]["usageRecordGroupIds"], json!(["a"]));
    let r = run(
        &fake,
        &[
            "reports",
            "list",
            "--entitlement",
            "ent-2",
            "--all",
            "-o",
            "ndjson",
        ],
    );
    assert_eq!(r.code(0).ndjson().len(), 1);
    let today = time::OffsetDateTime::now_utc().date().to_string();
    fake.clear_requests();
    let r = run(
        &fake,
        &[
            "reports",
            "list",
            "--buyer",
            "buyer-ent-2",
            "--from",
            &today,
            "--to",
            &today,
            "--limit",
            "5",
            "--offset",
            "0",
        ],
    );
    assert_eq!(r.code(0).json()[0]["entitlementID"], "ent-2");
    let q: Vec<(String, String)> = fake.requests()[0].query.clone();
    let want = [
        ("buyerId", "buyer-ent-2"),
        ("startDate", today.as_str()),
        ("endDate", today.as_str()),
        ("limit", "5"),
        ("offset", "0"),
    ];
    assert_eq!(q, want.map(|(k, v)| (k.to_string(), v.to_string())));
    let r = run(&fake, &["reports", "list", "-o", "table"]);
    let lines: Vec<&str> = r.code(0).stdout.lines().collect();
    assert!(lines[0].starts_with("ID "), "{lines:?}");
    assert!(
        lines[1].contains("SUCCESS") && lines[1].contains("AWS"),
        "{lines:?}"
    );
}

#[test]
fn metrics_create_get_list_update() {
    let fake = FakeSuger::start().unwrap();
    let r = run_stdin(
        &fake,
        &["metrics", "create", "--file", "-"],
        r#"{"id": "m1", "name": "API calls", "aggregationType": "SUM"}"#,
    );
    assert_eq!(r.code(0).json()["name"], "API calls");
    assert_eq!(fake.requests()[0].json().unwrap()["aggregationType"], "SUM");
    assert_eq!(
        run(&fake, &["metrics", "get", "m1"]).code(0).json()["id"],
        "m1"
    );
    let r = run(
        &fake,
        &[
            "metrics",
            "update",
            "m1",
            "--name",
            "API calls v2",
            "--status",
            "DELETED",
        ],
    );
    assert_eq!(r.code(0).json()["name"], "API calls v2");
    assert_eq!(
        fake.requests().last().unwrap().json().unwrap(),
        json!({"name": "API calls v2", "status": "DELETED"})
    );
    let r = run(
        &fake,
        &["metrics", "list", "--status", "DELETED", "-o", "ndjson"],
    );
    assert_eq!(r.code(0).ndjson()[0]["status"], "DELETED");
    assert_eq!(
        run(&fake, &["metrics", "list", "--status", "ACTIVE"])
            .code(0)
            .stdout
            .trim(),
        "[]"
    );
    run(&fake, &["metrics", "get", "nope"])
        .code(1)
        .error_line(&["404"]);
    // A field the crate does not model is kept and sent as given (Suger may know it).
    let file = temp_file("m.json", r#"{"name": "Storage", "aggregationTyp": "SUM"}"#);
    run(
        &fake,
        &["metrics", "create", "--file", file.to_str().unwrap()],
    )
    .code(0);
    let sent = fake.requests().last().unwrap().json().unwrap();
    assert_eq!(sent, json!({"name": "Storage", "aggregationTyp": "SUM"}));
    let before = fake.requests().len();
    run_stdin(&fake, &["metrics", "create", "--file", "-"], "{nope")
        .code(2)
        .error_line(&["invalid JSON"]);
    assert_eq!(fake.requests().len(), before);
}

#[test]
fn config_get_and_set_keep_partners_the_file_does_not_name() {
    let fake = FakeSuger::builder()
        .seed(
            json!({"usageMeteringConfigInfo": {"partnerUsageMeteringConfigs": [
                {"partner": "AWS", "enableDimensionMapping": true},
                {"partner": "AZURE", "enableBillableDimension": false}
            ]}}),
        )
        .start()
        .unwrap();
    let r = run(&fake, &["config", "get", "-o", "table"]);
    let lines: Vec<&str> = r.code(0).stdout.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[1].starts_with("AWS "), "{lines:?}");
    let file = temp_file(
        "c.json",
        r#"{"partnerUsageMeteringConfigs": [{"partner": "AZURE", "enableBillableDimension": true}]}"#,
    );
    let r = run(&fake, &["config", "set", "--file", file.to_str().unwrap()]);
    let configs = r.code(0).json()["partnerUsageMeteringConfigs"].clone();
    assert_eq!(configs[0]["partner"], "AWS");
    assert_eq!(configs[0]["enableDimensionMapping"], true);
    assert_eq!(configs[1]["partner"], "AZURE");
    assert_eq!(configs[1]["enableBillableDimension"], true);
    let sent = fake.requests().last().unwrap().json().unwrap();
    assert_eq!(
        sent["partnerUsageMeteringConfigs"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // A field the crate does not model (a switch Suger added) is kept and sent as given.
    let newer = temp_file(
        "c.json",
        r#"{"partnerUsageMeteringConfigs": [{"partner": "AWS", "newSwitch": true}]}"#,
    );
    run(&fake, &["config", "set", "--file", newer.to_str().unwrap()]).code(0);
    let sent = fake.requests().last().unwrap().json().unwrap();
    assert_eq!(sent["partnerUsageMeteringConfigs"][0]["newSwitch"], true);
}
