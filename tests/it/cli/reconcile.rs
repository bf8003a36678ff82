//! `reconcile`, `trace` and `outbox status --output prometheus`: rows, exit codes 0 / 5 / 3 / 4
//! / 2, and the metrics a cron job alerts on.

use super::{at, bin, run, run_cmd};
use crate::durable::TempDir;
use suger_metering::fake::FakeSuger;
use suger_metering::{CreateUsageRecordGroupParams, Outbox};

/// An outbox (kept open, as a running service would) with `ids` flushed to `fake` for
/// entitlement `e1`.
fn flushed(fake: &FakeSuger, ids: &[&str]) -> (Outbox, TempDir) {
    let dir = TempDir::new("cli-reconcile");
    let outbox = Outbox::open(dir.path()).unwrap();
    for id in ids {
        let params = CreateUsageRecordGroupParams {
            id: Some(id.to_string()),
            records: [("api_calls".to_string(), 2.0)].into(),
            ..Default::default()
        };
        outbox.enqueue("e1", &params).unwrap();
    }
    outbox.flush(&fake.client()).unwrap();
    (outbox, dir)
}

#[test]
fn all_reported_exits_0_with_one_ndjson_line_per_report_and_a_summary_on_stderr() {
    let fake = FakeSuger::start().unwrap();
    let (_outbox, dir) = flushed(&fake, &["a", "b"]);
    fake.run_report_cycle();
    let dir = dir.path().to_str().unwrap();
    let r = run(
        &fake,
        &[
            "reconcile",
            "--outbox",
            dir,
            "--since",
            "48h",
            "--output",
            "ndjson",
        ],
    );
    let rows = r.code(0).ndjson();
    assert_eq!(rows.len(), 2);
    for (row, id) in rows.iter().zip(["a", "b"]) {
        assert_eq!(row["id"], id);
        assert_eq!(row["entitlementID"], "e1");
        assert_eq!(row["state"], "reported");
        assert_eq!(row["verdict"], "accepted");
        assert_eq!(row["sent"]["api_calls"], 2.0);
        assert_eq!(row["message"], "");
        assert!(
            row["reportID"].is_string() && row["hour"].is_string(),
            "{row}"
        );
        assert!(row.get("atSuger").is_none());
    }
    assert!(
        r.stderr.contains(
            "suger-metering: reconcile: 2 reports: 2 reported; 2 calls; 0 damaged ledger lines"
        ),
        "{}",
        r.stderr
    );
    // The table and the JSON document too.
    let t = run(&fake, &["reconcile", "--outbox", dir, "--output", "table"]);
    assert!(t.code(0).stdout.starts_with("ID"), "{}", t.stdout);
    assert!(t.stdout.contains("reported"));
    let j = run(
        &fake,
        &[
            "reconcile",
            "--outbox",
            dir,
            "--from",
            "2020-01-01",
            "-o",
            "json",
        ],
    );
    assert_eq!(j.code(0).json().as_array().unwrap().len(), 2);
}

#[test]
fn a_failed_report_exits_5_and_retry_failed_retries_it_once() {
    let fake = FakeSuger::start().unwrap();
    let (_outbox, dir) = flushed(&fake, &["ok", "bad"]);
    fake.fail_next_report_for("bad");
    fake.run_report_cycle();
    let dir = dir.path().to_str().unwrap();
    let r = run(&fake, &["reconcile", "--outbox", dir, "-o", "ndjson"]);
    r.code(5).error_line(&["1 report(s) will not be billed"]);
    let rows = r.ndjson();
    let bad = rows.iter().find(|r| r["id"] == "bad").unwrap();
    assert_eq!(bad["state"], "failed");
    assert!(
        bad["message"].as_str().unwrap().contains("injected"),
        "{bad}"
    );

    let r = run(
        &fake,
        &[
            "reconcile",
            "--outbox",
            dir,
            "--retry-failed",
            "-o",
            "ndjson",
        ],
    );
    let rows = r.code(0).ndjson();
    assert_eq!(
        rows.iter().find(|r| r["id"] == "bad").unwrap()["state"],
        "retried"
    );
    let retries = fake
        .requests()
        .iter()
        .filter(|q| q.path.ends_with("/retry"))
        .count();
    assert_eq!(retries, 1);
    // Retried: CREATED again, awaiting the next hourly report; not retried twice.
    let r = run(
        &fake,
        &[
            "reconcile",
            "--outbox",
            dir,
            "--retry-failed",
            "-o",
            "ndjson",
        ],
    );
    assert_eq!(
        r.code(0)
            .ndjson()
            .iter()
            .find(|r| r["id"] == "bad")
            .unwrap()["state"],
        "awaiting_report"
    );
    assert_eq!(
        fake.requests()
            .iter()
            .filter(|q| q.path.ends_with("/retry"))
            .count(),
        1
    );
}

#[test]
fn bad_flags_exit_2_and_send_nothing() {
    let fake = FakeSuger::start().unwrap();
    let (_outbox, dir) = flushed(&fake, &["a"]);
    fake.clear_requests();
    let dir = dir.path().to_str().unwrap();
    for args in [
        &["reconcile", "--outbox", dir, "--since", "garbage"][..],
        &["reconcile", "--outbox", dir, "--since", "48"],
        &["reconcile", "--outbox", dir, "--from", "2026-13-01"],
        &[
            "reconcile",
            "--outbox",
            dir,
            "--from",
            "2026-03-02",
            "--to",
            "2026-03-01",
        ],
        &[
            "reconcile",
            "--outbox",
            dir,
            "--since",
            "48h",
            "--from",
            "2026-03-01",
        ],
        &["reconcile", "--outbox", dir, "--to", "2026-03-01"],
        &["reconcile", "--outbox", "/nonexistent/outbox"],
        &["reconcile", "--outbox", dir, "--output", "prometheus"],
    ] {
        let r = run(&fake, args);
        assert_eq!(r.code, 2, "{args:?}: {r:#?}");
    }
    assert!(fake.requests().is_empty());
}

#[test]
fn a_bad_key_exits_3_and_an_unreachable_suger_exits_4() {
    let fake = FakeSuger::start().unwrap();
    let (_outbox, dir) = flushed(&fake, &["a"]);
    let dir = dir.path().to_str().unwrap();
    let mut cmd = at(&fake);
    cmd.env("SUGER_API_KEY", "wrong-key");
    run_cmd(cmd, &["reconcile", "--outbox", dir], None).code(3);
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = bin();
    cmd.env("SUGER_API_KEY", "k")
        .env("SUGER_ORG_ID", "fake-org")
        .env("SUGER_API_BASE_URL", format!("http://127.0.0.1:{port}"));
    let r = run_cmd(
        cmd,
        &["--max-attempts", "1", "reconcile", "--outbox", dir],
        None,
    );
    r.code(4).error_line(&["could not be reached"]);
}

#[test]
fn trace_exits_0_only_for_an_accepted_report() {
    let fake = FakeSuger::start().unwrap();
    let (_outbox, dir) = flushed(&fake, &["ok", "bad", "later"]);
    fake.fail_next_report_for("bad");
    fake.run_report_cycle();
    let dir = dir.path().to_str().unwrap();
    let r = run(&fake, &["trace", "ok", "--outbox", dir, "-o", "json"]);
    let row = r.code(0).json();
    assert_eq!(
        (row["state"].as_str(), row["verdict"].as_str()),
        (Some("reported"), Some("accepted"))
    );
    // Without the ledger: listed all the same (sent by no known outbox), accepted.
    run(&fake, &["trace", "ok", "-o", "json"]).code(0);
    run(&fake, &["trace", "bad", "--outbox", dir, "-o", "json"])
        .code(5)
        .error_line(&["report bad is failed"]);
    run(&fake, &["trace", "nope", "--outbox", dir, "-o", "json"]).code(5);
}

#[test]
fn outbox_status_prints_prometheus_metrics_with_the_last_reconcile() {
    let fake = FakeSuger::start().unwrap();
    let (outbox, dir) = flushed(&fake, &["a", "b"]);
    fake.fail_next_report_for("b");
    fake.run_report_cycle();
    let params = CreateUsageRecordGroupParams {
        id: Some("waiting".into()),
        timestamp: Some(time::OffsetDateTime::now_utc() - time::Duration::hours(7)),
        records: [("api_calls".to_string(), 1.0)].into(),
        ..Default::default()
    };
    outbox.enqueue("e1", &params).unwrap();
    let d = dir.path().to_str().unwrap();
    let before = run(
        &fake,
        &["outbox", "status", "--dir", d, "--output", "prometheus"],
    );
    assert!(
        !before.code(0).stdout.contains("reconcile_reports"),
        "{}",
        before.stdout
    );
    run(&fake, &["reconcile", "--outbox", d, "-o", "ndjson"]).code(5);
    let r = run(
        &fake,
        &["outbox", "status", "--dir", d, "--output", "prometheus"],
    );
    let label = format!("dir=\"{d}\"");
    for line in [
        "# TYPE suger_metering_outbox_pending gauge".to_string(),
        format!("suger_metering_outbox_pending{{{label}}} 1"),
        format!("suger_metering_outbox_dead{{{label}}} 0"),
        format!("suger_metering_outbox_overdue{{{label}}} 1"),
        format!("suger_metering_outbox_overdue_24h{{{label}}} 0"),
        format!("suger_metering_ledger_reports{{{label}}} 2"),
        format!("suger_metering_reconcile_reports{{{label},state=\"reported\"}} 1"),
        format!("suger_metering_reconcile_reports{{{label},state=\"failed\"}} 1"),
        format!("suger_metering_reconcile_reports{{{label},state=\"pending\"}} 1"),
        format!("suger_metering_reconcile_reports{{{label},state=\"missing\"}} 0"),
    ] {
        assert!(
            r.code(0).stdout.lines().any(|l| l == line),
            "{line:?} not in:\n{}",
            r.stdout
        );
    }
    // Every sample line is `name{labels} number`.
    for l in r.stdout.lines().filter(|l| !l.starts_with('#')) {
        let value = l.rsplit(' ').next().unwrap();
        assert!(value.parse::<f64>().is_ok(), "{l}");
    }
}
