//! What the CLI used to hide or get wrong (issue 17.9, 16.9, 16.10, 16.11, 14.2): damaged
//! reports and library warnings, an unknown batch outcome behind another exit code, files held
//! whole in memory, panics on `inf`/`nan`, "outcome unknown" without a cause, exit 4 advice
//! for changes, global flags the fake ignored, and a fake whose memory grew with bytes.

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::{at, bin, run, run_cmd, temp_file};
use suger_metering::fake::{FakeSuger, Fault, Operation};

#[test]
fn outbox_flush_shows_damaged_reports_overdue_usage_and_the_library_warnings() {
    let fake = FakeSuger::start().unwrap();
    let file = temp_file("usage.csv", "x");
    let dir = file.parent().unwrap().join("outbox");
    let outbox = suger_metering::Outbox::open(&dir).unwrap();
    let params = suger_metering::CreateUsageRecordGroupParams {
        id: Some("late-1".into()),
        records: [("api_calls".to_string(), 1.0)].into(),
        timestamp: Some(time::OffsetDateTime::now_utc() - time::Duration::hours(7)),
        ..Default::default()
    };
    outbox.enqueue("ent-1", &params).unwrap();
    drop(outbox);
    std::fs::write(
        dir.join("pending").join("00000000000000000001-x.json"),
        b"{not json",
    )
    .unwrap();
    fake.inject(Fault::status(500).only(Operation::ReportUsageRecordGroup));
    let r = run(
        &fake,
        &[
            "--max-attempts",
            "1",
            "outbox",
            "flush",
            "--dir",
            dir.to_str().unwrap(),
        ],
    );
    let summary = r.code(4).json();
    assert_eq!(summary["damaged"], 1, "{r:?}");
    assert_eq!(summary["overdue"], 1, "{r:?}");
    assert_eq!(summary["pending"], 1, "{r:?}");
    assert!(
        summary["lastError"].as_str().unwrap().contains("HTTP 500"),
        "{r:?}"
    );
    // The library's own warning (log::warn!) reaches stderr, and the CLI says what to do.
    assert!(r.stderr.contains("warning: outbox: damaged entry"), "{r:?}");
    assert!(r.stderr.contains("moved to"), "{r:?}");
    assert!(r.stderr.contains("more than 6 hours old"), "{r:?}");
    r.error_line(&["1 reports are still pending", "last error", "HTTP 500"]);
    // Sent later (its backoff over): recorded, and flagged as sent too late for AWS.
    for entry in std::fs::read_dir(dir.join("pending")).unwrap() {
        let path = entry.unwrap().path();
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        v["retryAt"] = "2000-01-01T00:00:00Z".into();
        std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
    }
    let r = run(&fake, &["outbox", "flush", "--dir", dir.to_str().unwrap()]);
    let summary = r.code(0).json();
    assert_eq!(
        (
            summary["recorded"].as_u64(),
            summary["recordedLate"].as_u64()
        ),
        (Some(1), Some(1)),
        "{r:?}"
    );
    assert!(
        r.stderr
            .contains("late-1 was sent more than 6 hours after its usage"),
        "{r:?}"
    );
}

#[test]
fn batch_report_exits_4_when_any_batch_outcome_is_unknown() {
    let fake = FakeSuger::start().unwrap();
    let csv = "entitlement_id,dimension,quantity\nent-1,a,1\nent-2,a,1\nent-3,a,1\n";
    let file = temp_file("usage.csv", csv);
    let batch = Operation::BatchReportUsageRecordGroups;
    // Batch 1 refused (exit 1 alone), batch 2 lost after it was applied (unknown), batch 3 ok.
    fake.inject(Fault::status(400).only(batch));
    fake.inject(Fault::drop_after_apply().only(batch));
    let r = run(
        &fake,
        &[
            "batch-report",
            "--file",
            file.to_str().unwrap(),
            "--batch-size",
            "1",
        ],
    );
    assert_eq!(r.code, 4, "{r:?}");
    let errors: Vec<&str> = r.stderr.lines().filter(|l| l.contains("error:")).collect();
    assert_eq!(errors.len(), 2, "both failures are shown: {r:?}");
    assert!(
        errors
            .iter()
            .any(|l| l.contains("groups 1..1") && l.contains("HTTP 400")),
        "{r:?}"
    );
    assert!(
        errors
            .iter()
            .any(|l| l.contains("groups 2..2") && l.contains("groups list")),
        "{r:?}"
    );
    assert_eq!(fake.usage_record_groups().len(), 2);
}

/// Runs the binary and returns (exit code, its peak resident memory in KiB: `VmHWM`, which
/// the kernel counts from the `exec`, read until the process ends).
fn run_measured(fake: &FakeSuger, args: &[&str]) -> (i32, u64) {
    let mut cmd = at(fake);
    cmd.args(args).stdout(Stdio::null()).stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status)
            && let Some(line) = text.lines().find(|l| l.starts_with("VmHWM:"))
        {
            let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
            peak = peak.max(kib);
        }
        if let Some(exit) = child.try_wait().unwrap() {
            return (exit.code().unwrap(), peak);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A CSV of `bytes` of one hour's rows, then a bad last line.
fn big_csv(bytes: usize) -> std::path::PathBuf {
    let row = "ent-1,api_calls,1,2026-03-01T10:00:00Z\n";
    let path = temp_file("big.csv", "");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(f, "entitlement_id,dimension,quantity,timestamp").unwrap();
    for _ in 0..bytes / row.len() {
        f.write_all(row.as_bytes()).unwrap();
    }
    writeln!(f, "ent-1,api_calls,x,2026-03-01T10:00:00Z").unwrap();
    path
}

#[test]
fn usage_files_are_streamed_not_held_in_memory() {
    let fake = FakeSuger::start().unwrap();
    // Every row is read (the bad line is last), nothing is sent: the peak memory for 8 MiB
    // of rows is the peak for 128 KiB, give or take (it held the whole file before).
    let mut peaks = Vec::new();
    for bytes in [128 << 10, 8 << 20] {
        let path = big_csv(bytes);
        let (code, peak) = run_measured(&fake, &["report", "--file", path.to_str().unwrap()]);
        assert_eq!(code, 2);
        peaks.push(peak);
        let _ = std::fs::remove_file(&path);
    }
    assert!(fake.requests().is_empty());
    println!(
        "peak memory: {} KiB for 128 KiB of CSV, {} KiB for 8 MiB",
        peaks[0], peaks[1]
    );
    assert!(
        peaks[1] < peaks[0] + 3 * 1024,
        "memory grows with the file: {peaks:?} KiB"
    );
}

#[test]
fn durations_that_are_not_finite_positive_numbers_are_exit_2_not_a_panic() {
    let fake = FakeSuger::start().unwrap();
    for t in ["inf", "nan", "-1", "0"] {
        run(&fake, &[&format!("--timeout={t}"), "metrics", "list"])
            .code(2)
            .error_line(&["--timeout", "seconds"]);
    }
    let r = run_cmd(bin(), &["fake", "--read-timeout", "nan"], None);
    r.code(2).error_line(&["--read-timeout"]);
    assert!(fake.requests().is_empty());
}

#[test]
fn an_unknown_outcome_names_its_last_cause_and_verbose_shows_each_attempt() {
    let fake = FakeSuger::start().unwrap();
    let args = ["report", "ent-1", "--record", "a=1", "--id", "h-1"];
    fake.inject(
        Fault::status(503)
            .times(3)
            .only(Operation::ReportUsageRecordGroup),
    );
    let mut cmd = at(&fake);
    cmd.env("RUST_LOG", "debug");
    let r = run_cmd(cmd, &args, None);
    r.code(4)
        .error_line(&["h-1", "unknown", "last attempt", "HTTP 503", "re-run"]);
    assert!(
        r.stderr.contains("debug: suger_metering"),
        "RUST_LOG: {r:?}"
    );
    // One rule: a 503 with Retry-After says "not processed": a plain HTTP 503 (exit 1).
    fake.inject(
        Fault::status(503)
            .retry_after("0")
            .times(3)
            .only(Operation::ReportUsageRecordGroup),
    );
    let r = run(
        &fake,
        &["-vv", "report", "ent-1", "--record", "a=1", "--id", "h-2"],
    );
    r.code(1).error_line(&["HTTP 503", "run again later"]);
    assert!(
        r.stderr.matches("suger_metering::http::transport").count() >= 3,
        "-vv: every attempt: {r:?}"
    );
    // Without -v, no debug lines.
    let r = run(&fake, &args);
    r.code(0);
    assert!(!r.stderr.contains("debug:"), "{r:?}");
}

#[test]
fn exit_4_after_a_change_says_to_check_not_that_rerunning_is_safe() {
    let fake = FakeSuger::start().unwrap();
    let metric = temp_file("m.json", r#"{"name":"API calls","aggregationType":"SUM"}"#);
    fake.inject(Fault::drop_after_apply().only(Operation::CreateBillableMetric));
    let r = run(
        &fake,
        &["metrics", "create", "--file", metric.to_str().unwrap()],
    );
    r.code(4)
        .error_line(&["may have been applied", "metrics list"]);
    assert!(!r.stderr.contains("safe to re-run"), "{r:?}");
    // A read after an unknown outcome: re-running is safe, and said so.
    fake.inject(Fault::drop_after_apply().only(Operation::ListBillableMetrics));
    run(&fake, &["--max-attempts", "1", "metrics", "list"])
        .code(4)
        .error_line(&["only reads", "safe to re-run"]);
}

/// Starts `suger-metering fake` with `args`; returns its first three stdout lines (then stops
/// it), or its exit code when it ended without printing them.
fn start_fake(args: &[&str]) -> Result<Vec<String>, i32> {
    let mut child = bin()
        .arg("fake")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let lines: Vec<String> = BufReader::new(stdout)
            .lines()
            .take(3)
            .map_while(Result::ok)
            .collect();
        let _ = tx.send(lines);
    });
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(lines) if lines.len() == 3 => {
            child.kill().unwrap();
            child.wait().unwrap();
            Ok(lines)
        }
        _ => {
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Some(status) = child.try_wait().unwrap() {
                    return Err(status.code().unwrap_or(-1));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            child.kill().unwrap();
            child.wait().unwrap();
            Err(-1)
        }
    }
}

#[test]
fn the_fake_honours_org_id_and_refuses_global_flags_it_cannot_honour() {
    let lines = start_fake(&["--org-id", "org-7"]).expect("the fake runs");
    assert_eq!(lines[2], "SUGER_ORG_ID=org-7", "{lines:?}");
    for flag in [
        &["--base-url", "http://127.0.0.1:1"][..],
        &["--timeout", "3"],
        &["-o", "json"],
    ] {
        assert_eq!(start_fake(flag), Err(2), "{flag:?}");
    }
    let r = run_cmd(bin(), &["fake", "--base-url", "http://127.0.0.1:1"], None);
    r.code(2).error_line(&["--base-url", "does not apply"]);
}

#[test]
fn the_fake_remembers_request_bodies_up_to_a_byte_bound() {
    let fake = FakeSuger::builder()
        .max_request_bytes(2_000)
        .start()
        .unwrap();
    let client = fake.client();
    for i in 0..20 {
        let params = suger_metering::CreateUsageRecordGroupParams {
            id: Some(format!("g-{i}")),
            records: [(format!("dimension-{}", "x".repeat(200)), 1.0)].into(),
            ..Default::default()
        };
        client.report_usage_record_group("ent-1", &params).unwrap();
    }
    let kept = fake.requests();
    let bytes: usize = kept.iter().map(|r| r.body.len()).sum();
    assert!(bytes <= 2_000, "{bytes} bytes kept");
    assert!(kept.len() < 20 && !kept.is_empty(), "{}", kept.len());
    // The newest are kept.
    assert!(String::from_utf8_lossy(&kept.last().unwrap().body).contains("g-19"));
    assert_eq!(fake.usage_record_groups().len(), 20);
}
