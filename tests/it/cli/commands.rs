//! The `suger-metering` binary, run as a process against a fake started here: every command,
//! each output format and each exit code. (Usage files: tests/cli_files.rs.)

use super::{bin, run, run_cmd, seed_report, temp_file};
use serde_json::json;
use suger_metering::fake::{FakeSuger, Fault, Operation};

#[test]
fn report_with_flags_sends_one_group_and_prints_it_in_each_format() {
    let fake = FakeSuger::start().unwrap();
    // stdout is a pipe here: JSON by default, with the API's field names.
    let r = run(
        &fake,
        &[
            "report",
            "ent-1",
            "--record",
            "api_calls=3",
            "--record",
            "storage=0.5",
            "--id",
            "g1",
        ],
    );
    r.code(0);
    let g = r.json();
    assert_eq!(
        (g["id"].as_str(), g["entitlementID"].as_str()),
        (Some("g1"), Some("ent-1"))
    );
    assert_eq!(g["records"], json!({"api_calls": 3.0, "storage": 0.5}));
    assert_eq!(g["organizationID"], "fake-org");
    assert_eq!(
        fake.requests()[0].json().unwrap(),
        json!({"id": "g1", "entitlementID": "ent-1", "organizationID": "fake-org", "records": {"api_calls": 3.0, "storage": 0.5}})
    );
    let r = run(
        &fake,
        &[
            "report",
            "ent-1",
            "--record",
            "api_calls=1",
            "--id",
            "g2",
            "-o",
            "ndjson",
        ],
    );
    assert_eq!(r.code(0).ndjson().len(), 1);
    assert_eq!(r.ndjson()[0]["id"], "g2");
    let r = run(
        &fake,
        &[
            "report",
            "ent-1",
            "--record",
            "api_calls=1",
            "--id",
            "g3",
            "--output",
            "table",
        ],
    );
    let lines: Vec<&str> = r.code(0).stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", r.stdout);
    assert!(
        lines[0].starts_with("ID  ENTITLEMENT  STATUS   CREATED"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("g3  ent-1        CREATED  "),
        "{}",
        lines[1]
    );
    assert!(lines[1].ends_with("api_calls=1"), "{}", lines[1]);
    // Without --id the client makes up one: still exactly one group per run.
    run(&fake, &["report", "ent-1", "--record", "api_calls=1"]).code(0);
    assert_eq!(fake.usage_record_groups().len(), 4);
}

#[test]
fn report_v2_billable_records_with_properties_and_timestamp() {
    let fake = FakeSuger::start().unwrap();
    let r = run(
        &fake,
        &[
            "report",
            "ent-1",
            "--billable",
            "api_calls=3,region=eu,tier=2,beta=true",
            "--billable",
            "storage=1.5",
            "--timestamp",
            "2026-03-01T12:00:00+02:00",
            "--id",
            "v2",
        ],
    );
    r.code(0);
    assert_eq!(
        fake.requests()[0].json().unwrap(),
        json!({
            "id": "v2", "entitlementID": "ent-1", "organizationID": "fake-org", "records": {},
            "billableRecords": [
                {"key": "api_calls", "quantity": 3, "properties": {"beta": true, "region": "eu", "tier": 2}},
                {"key": "storage", "quantity": 1.5}
            ],
            "timestamp": "2026-03-01T10:00:00Z"
        })
    );
}

#[test]
fn an_already_recorded_report_is_success_and_bills_once() {
    let fake = FakeSuger::start().unwrap();
    let args = ["report", "ent-1", "--record", "api_calls=3", "--id", "once"];
    run(&fake, &args).code(0);
    let r = run(&fake, &args);
    r.code(0);
    assert!(r.stderr.contains("once was already recorded"), "{r:?}");
    assert_eq!(fake.usage_record_groups().len(), 1);
    assert_eq!(super::report_bodies(&fake).len(), 2);
}

#[test]
fn exit_2_for_usage_and_invalid_input_with_nothing_sent() {
    let fake = FakeSuger::start().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["report", "ent-1", "--record", "api_calls=abc"],
            "--record",
        ),
        (&["report", "ent-1", "--record", "api_calls=0"], "zero"),
        (&["report", "ent-1", "--record", "a=-1"], "negative"),
        (&["report", "ent-1"], "no usage"),
        (
            &[
                "report",
                "ent-1",
                "--record",
                "a=1",
                "--id",
                &"x".repeat(37),
            ],
            "36",
        ),
        (
            &[
                "report",
                "ent-1",
                "--record",
                "a=1",
                "--timestamp",
                "yesterday",
            ],
            "RFC 3339",
        ),
        (&["groups", "list", "--from", "2026-13-01"], "YYYY-MM-DD"),
        (&["groups", "list", "--limit", "0"], "--limit"),
        (&["metrics", "update", "m1"], "nothing to update"),
    ];
    for (args, needle) in cases {
        run(&fake, args).code(2).error_line(&[needle, "; "]);
    }
    // Parse errors (clap) exit 2 too; there is no flag for the key itself.
    for args in [
        &["report", "ent-1", "--api-key", "k", "--record", "a=1"][..],
        &["groups", "list", "--entitlement", "e", "--buyer", "b"],
        &["nope"],
    ] {
        assert_eq!(run(&fake, args).code, 2, "{args:?}");
    }
    // No key, no org.
    let mut cmd = bin();
    cmd.env("SUGER_ORG_ID", "o");
    let no_key = run_cmd(cmd, &["metrics", "list"], None);
    no_key
        .code(2)
        .error_line(&["no API key", "SUGER_API_KEY", "--api-key-file"]);
    let mut cmd = bin();
    cmd.env("SUGER_API_KEY", "k");
    let no_org = run_cmd(cmd, &["metrics", "list"], None);
    no_org.code(2).error_line(&["SUGER_ORG_ID"]);
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());
    // Suger refusing the input (400) was sent, and is not recorded: exit 1, not 2.
    seed_report(&fake, "ent-1", "g1", 1.0);
    fake.run_report_cycle();
    run(&fake, &["groups", "delete", "g1"])
        .code(1)
        .error_line(&["HTTP 400", "REPORTED", "not recorded"]);
}

#[test]
fn exit_3_for_a_bad_key_or_another_org_and_the_key_is_never_printed() {
    let fake = FakeSuger::start().unwrap();
    let key_file = temp_file("key", "secret-key-123\n");
    let mut cmd = super::at(&fake);
    cmd.env_remove("SUGER_API_KEY");
    let r = run_cmd(
        cmd,
        &[
            "metrics",
            "list",
            "--api-key-file",
            key_file.to_str().unwrap(),
        ],
        None,
    );
    r.code(3).error_line(&["401", "API key"]);
    assert!(!r.stderr.contains("secret-key-123") && !r.stdout.contains("secret-key-123"));
    assert_eq!(
        fake.requests()[0].header("authorization"),
        Some("Key secret-key-123")
    );
    let missing = key_file.with_file_name("no-such-key");
    run(
        &fake,
        &[
            "metrics",
            "list",
            "--api-key-file",
            missing.to_str().unwrap(),
        ],
    )
    .code(2)
    .error_line(&["cannot read the API key file"]);
    let empty = temp_file("key", " \n");
    run(
        &fake,
        &["metrics", "list", "--api-key-file", empty.to_str().unwrap()],
    )
    .code(2)
    .error_line(&["is empty"]);
    run(&fake, &["metrics", "list", "--org-id", "other-org"])
        .code(3)
        .error_line(&["403"]);
    // The key file is used when given (the right key works).
    let good = temp_file("key", "fake-api-key");
    let mut cmd = super::at(&fake);
    cmd.env("SUGER_API_KEY", "wrong");
    run_cmd(
        cmd,
        &["metrics", "list", "--api-key-file", good.to_str().unwrap()],
        None,
    )
    .code(0);
}

#[test]
fn exit_4_when_the_outcome_is_unknown_and_a_rerun_bills_once() {
    let fake = FakeSuger::start().unwrap();
    fake.inject(Fault::drop_after_apply().only(Operation::ReportUsageRecordGroup));
    let args = [
        "report",
        "ent-1",
        "--record",
        "api_calls=3",
        "--id",
        "maybe",
        "--max-attempts",
        "1",
    ];
    run(&fake, &args).code(4).error_line(&["maybe", "re-run"]);
    assert_eq!(fake.usage_record_groups().len(), 1, "applied, answer lost");
    run(&fake, &args).code(0);
    assert_eq!(
        fake.usage_record_groups().len(),
        1,
        "lost: 0, duplicated: 0"
    );
    // Without --id the error names the id to re-run with; re-running with it bills once.
    fake.inject(Fault::drop_after_apply().only(Operation::ReportUsageRecordGroup));
    let r = run(
        &fake,
        &[
            "report",
            "ent-1",
            "--record",
            "api_calls=5",
            "--max-attempts",
            "1",
        ],
    );
    r.code(4)
        .error_line(&["re-run the same command with --id "]);
    let line = r.stderr.lines().find(|l| l.contains("--id ")).unwrap();
    let id = line
        .split("--id ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    assert_eq!(fake.usage_record_groups()[1]["id"], id);
    run(
        &fake,
        &["report", "ent-1", "--record", "api_calls=5", "--id", id],
    )
    .code(0);
    assert_eq!(
        fake.usage_record_groups().len(),
        2,
        "lost: 0, duplicated: 0"
    );
    // A timeout on a list is "maybe sent" too.
    fake.inject(Fault::delay(std::time::Duration::from_secs(3)));
    run(
        &fake,
        &["metrics", "list", "--max-attempts", "1", "--timeout", "0.3"],
    )
    .code(4);
}

#[test]
fn exit_1_for_other_failures() {
    let fake = FakeSuger::start().unwrap();
    run(&fake, &["groups", "retry", "nope"])
        .code(1)
        .error_line(&["404", "check the id"]);
    fake.inject(Fault::status(500));
    run(&fake, &["groups", "list", "--max-attempts", "1"])
        .code(1)
        .error_line(&["500"]);
    // Nothing listening: nothing was sent.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = super::at(&fake);
    cmd.env("SUGER_API_BASE_URL", format!("http://127.0.0.1:{port}"));
    run_cmd(cmd, &["metrics", "list", "--max-attempts", "1"], None)
        .code(1)
        .error_line(&["nothing was sent"]);
    // A report Suger refuses for good is set aside in the outbox: exit 1, kept on disk.
    let dir = super::temp_file("unused", "").with_file_name("outbox");
    let outbox = suger_metering::Outbox::open(&dir).unwrap();
    outbox
        .enqueue(
            "ent-1",
            &suger_metering::CreateUsageRecordGroupParams {
                records: [("api_calls".to_string(), 1.0)].into(),
                ..Default::default()
            },
        )
        .unwrap();
    drop(outbox);
    fake.inject(Fault::status(400).only(Operation::ReportUsageRecordGroup));
    run(&fake, &["outbox", "flush", "--dir", dir.to_str().unwrap()])
        .code(1)
        .error_line(&["1 reports were refused by Suger", "dead"]);
    assert!(fake.usage_record_groups().is_empty());
}

#[test]
fn every_command_has_help_with_an_example() {
    let commands: &[&[&str]] = &[
        &[],
        &["report"],
        &["batch-report"],
        &["validate"],
        &["groups", "list"],
        &["groups", "delete"],
        &["groups", "retry"],
        &["reports", "list"],
        &["metrics", "list"],
        &["metrics", "get"],
        &["metrics", "create"],
        &["metrics", "update"],
        &["config", "get"],
        &["config", "set"],
        &["outbox", "status"],
        &["outbox", "flush"],
        &["fake"],
    ];
    for c in commands {
        let mut args = c.to_vec();
        args.push("--help");
        let r = run_cmd(bin(), &args, None);
        r.code(0);
        assert!(r.stdout.contains("Example"), "{args:?}: {}", r.stdout);
    }
    let top = run_cmd(bin(), &["--help"], None);
    assert!(top.stdout.contains("4 outcome unknown"), "{}", top.stdout);
}
