//! `report --file`, `batch-report --file` and `validate --file` with CSV and NDJSON: grouping,
//! derived ids (re-running a file bills once), and bad lines (line number, nothing sent).

use std::time::Duration;

use super::{report_bodies, run, run_stdin, temp_file};
use serde_json::json;
use suger_metering::fake::{FakeSuger, Fault, Operation};

const CSV: &str = "entitlement_id,dimension,quantity,timestamp\n\
ent-1,api_calls,2,2026-03-01T10:00:00Z\n\
ent-1,api_calls,3,2026-03-01T10:00:00Z\n\
ent-1,storage,0.5,2026-03-01T10:00:00Z\n\
\n\
ent-1,api_calls,7,2026-03-01T11:00:00+01:00\n\
ent-2,api_calls,1,2026-03-01T10:00:00Z\n";

#[test]
fn csv_rows_are_grouped_summed_and_reported_under_derived_ids_once() {
    let fake = FakeSuger::start().unwrap();
    let file = temp_file("usage.csv", CSV);
    let path = file.to_str().unwrap();
    let r = run(&fake, &["report", "--file", path, "-o", "ndjson"]);
    let groups = r.code(0).ndjson();
    assert_eq!(groups.len(), 2, "{r:?}");
    assert!(
        r.stderr
            .contains("2 recorded, 0 already recorded, of 2 groups"),
        "{r:?}"
    );
    let bodies = report_bodies(&fake);
    // 11:00+01:00 is the same hour as 10:00Z: one group for ent-1, sums per dimension.
    assert_eq!(
        bodies[0]["records"],
        json!({"api_calls": 12.0, "storage": 0.5})
    );
    assert_eq!(bodies[0]["timestamp"], "2026-03-01T10:00:00Z");
    assert_eq!(bodies[1]["entitlementID"], "ent-2");
    let ids: Vec<String> = bodies
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_string())
        .collect();
    assert!(
        ids.iter().all(|id| id.len() == 36 && &id[14..15] == "5"),
        "{ids:?}"
    );
    assert_ne!(ids[0], ids[1]);

    // The same file again: the same ids, Suger answers 409, nothing billed twice.
    let r = run(&fake, &["report", "--file", path]);
    r.code(0);
    assert_eq!(r.stdout.trim(), "[]");
    assert!(r.stderr.contains("0 recorded, 2 already recorded"), "{r:?}");
    let again: Vec<String> = report_bodies(&fake)[2..]
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(again, ids);
    assert_eq!(
        fake.usage_record_groups().len(),
        2,
        "lost: 0, duplicated: 0"
    );

    // The same content through stdin (another name, reordered rows): still the same ids.
    let reordered =
        "quantity,dimension,entitlement_id,timestamp\n1,api_calls,ent-2,2026-03-01T10:00:00Z\n";
    run_stdin(&fake, &["report", "--file", "-"], reordered).code(0);
    assert_eq!(report_bodies(&fake).last().unwrap()["id"], ids[1].as_str());
    assert_eq!(fake.usage_record_groups().len(), 2);
}

#[test]
fn a_failure_midway_stops_and_a_rerun_completes_without_double_billing() {
    let file = temp_file("usage.csv", CSV);
    let path = file.to_str().unwrap();
    let report = Operation::ReportUsageRecordGroup;
    for (second, applied) in [(Fault::drop_after_apply(), 2), (Fault::status(503), 1)] {
        let fake = FakeSuger::start().unwrap();
        // The first group (line 2) is answered; the second (line 7) gets the fault.
        fake.inject(Fault::delay(Duration::ZERO).only(report));
        fake.inject(second.only(report));
        let r = run(&fake, &["report", "--file", path, "--max-attempts", "1"]);
        r.code(4)
            .error_line(&["line 7", "after 1 recorded", "re-run"]);
        assert_eq!(
            r.json().as_array().unwrap().len(),
            1,
            "the recorded group is printed"
        );
        assert_eq!(fake.usage_record_groups().len(), applied);
        let r = run(&fake, &["report", "--file", path, "--max-attempts", "1"]);
        r.code(0);
        let want = format!("{} recorded, {} already recorded", 2 - applied, applied);
        assert!(r.stderr.contains(&want), "{r:?}");
        assert_eq!(
            fake.usage_record_groups().len(),
            2,
            "lost: 0, duplicated: 0"
        );
    }
}

#[test]
fn csv_with_id_column_and_bad_lines() {
    let fake = FakeSuger::start().unwrap();
    let good =
        "entitlement_id,dimension,quantity,id\nent-1,a,1,my-1\nent-1,b,2,my-1\nent-2,a,1,my-2\n";
    run_stdin(&fake, &["report", "--file", "-", "--format", "csv"], good).code(0);
    let ids: Vec<_> = report_bodies(&fake)
        .iter()
        .map(|b| b["id"].clone())
        .collect();
    assert_eq!(ids, [json!("my-1"), json!("my-2")]);
    assert_eq!(
        report_bodies(&fake)[0]["records"],
        json!({"a": 1.0, "b": 2.0})
    );
    fake.clear_requests();

    let cases: &[(&str, &str)] = &[
        (
            "entitlement_id,dimension,quantity\nent-1,a,1\nent-1,a,x\n",
            "line 3",
        ),
        (
            "entitlement_id,dimension,quantity\nent-1,a,1\nent-1,a,-2\n",
            "line 3",
        ),
        (
            "entitlement_id,dimension,quantity\nent-1,a,1\n\nent-1,a\n",
            "line 4",
        ),
        ("entitlement_id,dimension\nent-1,a\n", "line 1"),
        (
            "entitlement_id,dimension,quantity,colour\nent-1,a,1,red\n",
            "line 1",
        ),
        (
            "entitlement_id,dimension,quantity,timestamp\nent-1,a,1,2026-03-01\n",
            "line 2",
        ),
        (
            "entitlement_id,dimension,quantity\nent-1,a,1\n,a,1\n",
            "line 3",
        ),
        ("entitlement_id,dimension,quantity\nent-1,a,0\n", "line 2"),
        (
            "entitlement_id,dimension,quantity,id\nent-1,a,1,x\nent-2,a,1,x\n",
            "line 3",
        ),
        (
            "entitlement_id,dimension,quantity,id\nent-1,a,1,0123456789012345678901234567890123456\n",
            "line 2",
        ),
        ("entitlement_id,dimension,quantity\n\"ent-1,a,1\n", "line 2"),
        ("entitlement_id,dimension,quantity\n", "no usage"),
    ];
    for (csv, needle) in cases {
        let r = run_stdin(&fake, &["report", "--file", "-", "--format", "csv"], csv);
        r.code(2).error_line(&[needle, "nothing was sent"]);
        assert!(fake.requests().is_empty(), "{csv}: {:?}", fake.requests());
    }
    // Quoted fields are allowed.
    let quoted = "entitlement_id,dimension,quantity\n\"ent,3\",\"say \"\"hi\"\"\",1\n";
    run_stdin(&fake, &["report", "--file", "-"], quoted).code(0);
    assert_eq!(report_bodies(&fake)[0]["entitlementID"], "ent,3");
    assert_eq!(
        report_bodies(&fake)[0]["records"],
        json!({"say \"hi\"": 1.0})
    );
}

const NDJSON: &str = r#"{"entitlementID": "ent-1", "records": {"api_calls": 3}, "timestamp": "2026-03-01T10:00:00Z"}
{"entitlementID": "ent-1", "billableRecords": [{"key": "m1", "quantity": 2, "properties": {"region": "eu"}}]}

{"entitlementID": "ent-2", "id": "given-id", "records": {"api_calls": 1}}
"#;

#[test]
fn ndjson_lines_are_reported_once_each_and_rerunning_bills_once() {
    let fake = FakeSuger::start().unwrap();
    let file = temp_file("usage.ndjson", NDJSON);
    let path = file.to_str().unwrap();
    let r = run(&fake, &["report", "--file", path]);
    assert_eq!(r.code(0).json().as_array().unwrap().len(), 3);
    let bodies = report_bodies(&fake);
    assert_eq!(
        bodies[1]["billableRecords"],
        json!([{"key": "m1", "quantity": 2, "properties": {"region": "eu"}}])
    );
    assert_eq!(bodies[2]["id"], "given-id");
    assert_eq!(bodies[0]["organizationID"], "fake-org");
    run(&fake, &["report", "--file", path]).code(0);
    assert_eq!(fake.usage_record_groups().len(), 3);
    let ids = |from: usize| {
        report_bodies(&fake)[from..]
            .iter()
            .map(|b| b["id"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(0)[..3], ids(3)[..]);
}

#[test]
fn ndjson_bad_lines_name_the_line_and_send_nothing() {
    let fake = FakeSuger::start().unwrap();
    let line1 = r#"{"entitlementID": "ent-1", "records": {"a": 1}}"#;
    let cases: Vec<(String, &str)> = vec![
        (format!("{line1}\n{{not json\n"), "line 2"),
        (
            format!("{line1}\n{{\"records\": {{\"a\": 1}}}}\n"),
            "entitlementID",
        ),
        (
            format!("{line1}\n{{\"entitlementID\": \"e\", \"record\": {{\"a\": 1}}}}\n"),
            "unknown field",
        ),
        (
            format!(
                "{line1}\n{{\"entitlementID\": \"e\", \"records\": {{\"a\": 1}}, \"metaInfo\": {{}}}}\n"
            ),
            "meta_info",
        ),
        (
            format!(
                "{line1}\n{{\"entitlementID\": \"e\", \"records\": {{\"a\": 1}}, \"billableRecords\": [{{\"key\": \"k\", \"quantity\": 1}}]}}\n"
            ),
            "not both",
        ),
        (
            format!(
                "{line1}\n{{\"entitlementID\": \"e\", \"organizationID\": \"other\", \"records\": {{\"a\": 1}}}}\n"
            ),
            "organization_id",
        ),
        (format!("{line1}\n[1]\n"), "line 2"),
        (format!("{line1}\n{line1}\n"), "same usage as line 1"),
    ];
    for (text, needle) in &cases {
        let r = run_stdin(&fake, &["report", "--file", "-"], text);
        r.code(2).error_line(&[needle]);
        assert!(fake.requests().is_empty(), "{text}");
    }
}

#[test]
fn batch_report_sends_batches_and_refuses_ids() {
    let fake = FakeSuger::start().unwrap();
    let file = temp_file("usage.csv", CSV);
    let r = run(
        &fake,
        &[
            "batch-report",
            "--file",
            file.to_str().unwrap(),
            "-o",
            "ndjson",
        ],
    );
    assert_eq!(r.code(0).ndjson().len(), 2);
    assert!(r.stderr.contains("cannot deduplicate"), "{r:?}");
    let batch = fake.requests()[0].json().unwrap();
    assert_eq!(batch.as_array().unwrap().len(), 2);
    assert_eq!(
        batch[0],
        json!({"entitlementID": "ent-1", "records": {"api_calls": 12.0, "storage": 0.5}, "timestamp": "2026-03-01T10:00:00Z"})
    );
    let with_ids = temp_file("ids.ndjson", NDJSON);
    run(
        &fake,
        &["batch-report", "--file", with_ids.to_str().unwrap()],
    )
    .code(2)
    .error_line(&["line 4", "no id"]);
    assert_eq!(fake.requests().len(), 1);
    // A batch whose answer is lost: outcome unknown, and the advice is to check, not resend.
    fake.inject(Fault::drop_after_apply());
    run(&fake, &["batch-report", "--file", file.to_str().unwrap()])
        .code(4)
        .error_line(&["groups list"]);
}

#[test]
fn validate_checks_locally_then_with_suger() {
    let fake = FakeSuger::start().unwrap();
    let file = temp_file("usage.csv", CSV);
    let path = file.to_str().unwrap();
    let r = run(&fake, &["validate", "--file", path]);
    assert_eq!(r.code(0).json(), json!({"result": "valid: 2 groups"}));
    assert_eq!(
        fake.requests()[0].operation,
        Some(Operation::BatchValidateUsageRecordGroups)
    );
    assert!(fake.usage_record_groups().is_empty());
    fake.inject(Fault::status(400).body(r#""entitlement ent-2 is not active""#));
    run(&fake, &["validate", "--file", path])
        .code(2)
        .error_line(&["ent-2 is not active"]);
    let before = fake.requests().len();
    run_stdin(
        &fake,
        &["validate", "--file", "-"],
        "entitlement_id,dimension,quantity\ne,a,x\n",
    )
    .code(2)
    .error_line(&["line 2"]);
    assert_eq!(fake.requests().len(), before);
}
