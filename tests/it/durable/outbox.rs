//! The durable outbox against the fake server: every rule of issue 10 and every fault.

use std::time::Duration;

use super::{TempDir, client, client_no_retry, files, report_requests, stored_ids, usage};
use suger_metering::fake::{FakeSuger, Fault, Operation};
use suger_metering::{
    CreateUsageRecordGroupParams, Error, MeteringUsageRecord, MeteringUsageRecordGroupMetaInfo,
    Outbox, OutboxError,
};

const REPORT: Operation = Operation::ReportUsageRecordGroup;

/// Enqueues reports `r0`..`r{n-1}` for `ent-1`, one `calls` each.
fn enqueue_n(outbox: &Outbox, n: usize) {
    for i in 0..n {
        outbox
            .enqueue("ent-1", &usage(Some(&format!("r{i}")), "calls", 1.0))
            .unwrap();
    }
}

/// A fake, a directory and an outbox whose entries are sent again at once after a failure (no
/// backoff between flushes).
fn fixture(tag: &str) -> (FakeSuger, TempDir, Outbox) {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new(tag);
    let outbox = Outbox::builder(dir.path())
        .retry_backoff(Duration::ZERO, Duration::ZERO)
        .open()
        .unwrap();
    (fake, dir, outbox)
}

#[test]
fn enqueue_then_flush_sends_each_report_once_with_its_id_oldest_first() {
    let (fake, dir, outbox) = fixture("order");
    for id in ["c-first", "a-second", "b-third"] {
        assert_eq!(
            outbox
                .enqueue("ent-1", &usage(Some(id), "calls", 2.0))
                .unwrap(),
            id
        );
    }
    let generated = outbox.enqueue("ent-2", &usage(None, "calls", 5.0)).unwrap();
    assert_eq!(
        uuid::Uuid::parse_str(&generated).unwrap().get_version_num(),
        4
    );
    assert_eq!(outbox.pending().unwrap(), 4);
    assert!(files(&dir.join("tmp")).is_empty());

    let summary = outbox.flush(&client(&fake)).unwrap();
    assert_eq!(
        (
            summary.recorded,
            summary.already_recorded,
            summary.pending,
            summary.dead
        ),
        (4, 0, 0, 0)
    );
    assert_eq!(
        stored_ids(&fake),
        ["c-first", "a-second", "b-third", generated.as_str()]
    );
    let groups = fake.usage_record_groups();
    assert_eq!(groups[0]["entitlementID"], "ent-1");
    assert_eq!(groups[0]["records"]["calls"], 2);
    assert_eq!(groups[3]["entitlementID"], "ent-2");
    // Each a single report to its entitlement's path.
    let paths: Vec<String> = fake.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths[0], "/org/fake-org/entitlement/ent-1/usageRecordGroup");
    assert_eq!(paths[3], "/org/fake-org/entitlement/ent-2/usageRecordGroup");
    assert_eq!(outbox.pending().unwrap(), 0);

    // Nothing left: a second flush sends nothing.
    let again = outbox.flush(&client(&fake)).unwrap();
    assert_eq!(again.recorded + again.pending, 0);
    assert_eq!(report_requests(&fake), 4);
}

#[test]
fn an_entry_is_one_complete_json_file_in_pending() {
    let (_fake, dir, outbox) = fixture("file");
    outbox
        .enqueue("ent-1", &usage(Some("id/with?odd chars"), "calls", 1.5))
        .unwrap();
    let names = files(&dir.join("pending"));
    assert_eq!(names.len(), 1);
    assert!(
        names[0].ends_with("-id_with_odd_chars.json"),
        "{}",
        names[0]
    );
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("pending").join(&names[0])).unwrap())
            .unwrap();
    assert_eq!(v["entitlementId"], "ent-1");
    assert_eq!(v["params"]["id"], "id/with?odd chars");
    assert_eq!(v["params"]["records"]["calls"], 1.5);
    assert!(v["enqueuedAt"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn invalid_reports_are_refused_and_nothing_is_written() {
    let (_fake, dir, outbox) = fixture("invalid");
    let ok = usage(Some("x"), "calls", 1.0);
    let cases: Vec<(&str, CreateUsageRecordGroupParams, &str)> = vec![
        ("", ok.clone(), "entitlement_id"),
        ("e", usage(Some(&"x".repeat(37)), "calls", 1.0), "id"),
        ("e", usage(Some(""), "calls", 1.0), "id"),
        ("e", usage(Some("x"), "calls", 0.0), "records"),
        ("e", usage(Some("x"), "calls", f64::NAN), "records"),
        ("e", usage(Some("x"), "calls", f64::INFINITY), "records"),
        ("e", CreateUsageRecordGroupParams::default(), "records"),
        (
            "e",
            CreateUsageRecordGroupParams {
                billable_records: vec![MeteringUsageRecord::new("k", 1.0)],
                ..ok.clone()
            },
            "records",
        ),
        (
            "e",
            CreateUsageRecordGroupParams {
                meta_info: Some(MeteringUsageRecordGroupMetaInfo::default()),
                ..ok.clone()
            },
            "meta_info",
        ),
        (
            "e",
            CreateUsageRecordGroupParams {
                entitlement_id: "other".into(),
                ..ok.clone()
            },
            "entitlement_id",
        ),
    ];
    for (ent, params, field) in cases {
        match outbox.enqueue(ent, &params) {
            Err(OutboxError::Report(Error::InvalidRequest { field: f, .. })) => {
                assert_eq!(f, field, "{params:?}")
            }
            other => panic!("{params:?}: expected InvalidRequest on {field}, got {other:?}"),
        }
    }
    assert_eq!(outbox.pending().unwrap(), 0);
    assert!(files(&dir.join("pending")).is_empty());
    assert!(files(&dir.join("tmp")).is_empty());
    // 36 characters is fine.
    outbox
        .enqueue("e", &usage(Some(&"é".repeat(36)), "calls", 1.0))
        .unwrap();
}

#[test]
fn leftover_temporary_files_are_removed_on_open() {
    let dir = TempDir::new("tmp");
    let outbox = Outbox::open(dir.path()).unwrap();
    outbox
        .enqueue("ent-1", &usage(Some("kept"), "calls", 1.0))
        .unwrap();
    drop(outbox);
    std::fs::write(dir.join("tmp").join("123.0.tmp"), b"{\"half").unwrap();
    let outbox = Outbox::open(dir.path()).unwrap();
    assert!(files(&dir.join("tmp")).is_empty());
    assert_eq!(outbox.pending().unwrap(), 1);
}

#[test]
fn a_second_open_fails_while_the_first_is_open() {
    let dir = TempDir::new("lock");
    let first = Outbox::open(dir.path()).unwrap();
    let err = Outbox::open(dir.path()).unwrap_err();
    assert!(
        matches!(&err, OutboxError::Locked { dir: d, .. } if d == dir.path()),
        "{err:?}"
    );
    assert!(err.to_string().contains("in use"), "{err}");
    drop(first);
    Outbox::open(dir.path()).unwrap();
}

#[test]
fn a_lost_answer_keeps_the_entry_and_the_resend_is_already_recorded() {
    let (fake, _dir, outbox) = fixture("lost");
    outbox
        .enqueue("ent-1", &usage(Some("lost-1"), "calls", 3.0))
        .unwrap();
    fake.inject(Fault::drop_after_apply().only(REPORT));
    let first = outbox.flush(&client_no_retry(&fake)).unwrap();
    assert_eq!((first.recorded, first.pending), (0, 1));
    assert!(first.last_error.is_some());
    assert_eq!(stored_ids(&fake), ["lost-1"]); // applied, answer lost
    let second = outbox.flush(&client_no_retry(&fake)).unwrap();
    assert_eq!((second.already_recorded, second.pending), (1, 0));
    assert_eq!(stored_ids(&fake), ["lost-1"]);
    assert_eq!(outbox.pending().unwrap(), 0);
}

#[test]
fn a_lost_answer_retried_by_the_client_counts_as_already_recorded() {
    let (fake, _dir, outbox) = fixture("lost-retry");
    outbox
        .enqueue("ent-1", &usage(Some("lost-2"), "calls", 3.0))
        .unwrap();
    fake.inject(Fault::drop_after_apply().only(REPORT));
    let s = outbox.flush(&client(&fake)).unwrap();
    assert_eq!((s.recorded, s.already_recorded, s.pending), (0, 1, 0));
    assert_eq!(stored_ids(&fake), ["lost-2"]);
    assert_eq!(report_requests(&fake), 2);
}

#[test]
fn a_truncated_answer_keeps_the_entry_and_the_resend_is_already_recorded() {
    let (fake, _dir, outbox) = fixture("truncated");
    outbox
        .enqueue("ent-1", &usage(Some("cut"), "calls", 3.0))
        .unwrap();
    fake.inject(Fault::truncate_body().only(REPORT));
    let first = outbox.flush(&client_no_retry(&fake)).unwrap();
    assert_eq!((first.recorded, first.pending), (0, 1));
    let second = outbox.flush(&client_no_retry(&fake)).unwrap();
    assert_eq!((second.already_recorded, second.pending), (1, 0));
    assert_eq!(stored_ids(&fake), ["cut"]);
}

#[test]
fn a_crash_between_recorded_and_removal_is_settled_by_a_409() {
    let dir = TempDir::new("crash-remove");
    let fake = FakeSuger::start().unwrap();
    let outbox = Outbox::open(dir.path()).unwrap();
    outbox
        .enqueue("ent-1", &usage(Some("once"), "calls", 7.0))
        .unwrap();
    let name = files(&dir.join("pending")).remove(0);
    let saved = std::fs::read(dir.join("pending").join(&name)).unwrap();
    assert_eq!(outbox.flush(&client(&fake)).unwrap().recorded, 1);
    drop(outbox);
    // The process "died" after Suger recorded the report but before the file was removed.
    std::fs::write(dir.join("pending").join(&name), saved).unwrap();
    let outbox = Outbox::open(dir.path()).unwrap();
    let s = outbox.flush(&client(&fake)).unwrap();
    assert_eq!((s.recorded, s.already_recorded, s.pending), (0, 1, 0));
    assert_eq!(stored_ids(&fake), ["once"]);
    assert_eq!(fake.usage_record_groups()[0]["records"]["calls"], 7);
}

#[test]
fn a_timeout_keeps_the_entry_for_the_next_flush() {
    let (fake, _dir, outbox) = fixture("timeout");
    outbox
        .enqueue("ent-1", &usage(Some("slow"), "calls", 1.0))
        .unwrap();
    fake.inject(Fault::delay(Duration::from_millis(800)).only(REPORT));
    let client = fake
        .client_builder()
        .timeout(Duration::from_millis(200))
        .retry(suger_metering::RetryPolicy::disabled())
        .build()
        .unwrap();
    let first = outbox.flush(&client).unwrap();
    assert_eq!((first.recorded, first.pending), (0, 1));
    assert!(
        first.last_error.unwrap().contains("slow"),
        "the error names the id"
    );
    // The server applied it after the delay; the resend is deduplicated.
    std::thread::sleep(Duration::from_millis(900));
    let second = outbox.flush(&client).unwrap();
    assert_eq!((second.already_recorded, second.pending), (1, 0));
    assert_eq!(stored_ids(&fake), ["slow"]);
}

#[test]
fn failures_from_three_entitlements_in_a_row_stop_the_flush_and_keep_everything() {
    let (fake, _dir, outbox) = fixture("503");
    for (i, ent) in ["ent-a", "ent-b", "ent-c", "ent-d", "ent-e"]
        .iter()
        .enumerate()
    {
        outbox
            .enqueue(ent, &usage(Some(&format!("r{i}")), "calls", 1.0))
            .unwrap();
    }
    fake.inject(Fault::status(503).times(3).only(REPORT));
    let s = outbox.flush(&client_no_retry(&fake)).unwrap();
    assert_eq!((s.recorded, s.pending, s.dead), (0, 5, 0));
    assert_eq!(
        report_requests(&fake),
        3,
        "Suger looks down: stopped after 3 entitlements failed in a row"
    );
    assert!(s.last_error.unwrap().contains("503"));
    let s = outbox.flush(&client_no_retry(&fake)).unwrap();
    assert_eq!((s.recorded, s.pending), (5, 0));
    assert_eq!(stored_ids(&fake), ["r0", "r1", "r2", "r3", "r4"]);
}

#[test]
fn failures_of_one_entitlement_never_stop_the_flush() {
    let (fake, _dir, outbox) = fixture("500-same");
    enqueue_n(&outbox, 5);
    fake.inject(Fault::status(500).times(4).only(REPORT));
    let s = outbox.flush(&client_no_retry(&fake)).unwrap();
    assert_eq!((s.recorded, s.pending), (1, 4));
    assert_eq!(report_requests(&fake), 5, "every entry was tried");
    assert_eq!(stored_ids(&fake), ["r4"]);
}

#[test]
fn one_failing_entry_does_not_block_the_others() {
    let (fake, _dir, outbox) = fixture("500-one");
    enqueue_n(&outbox, 3);
    fake.inject(Fault::status(500).only(REPORT));
    let s = outbox.flush(&client_no_retry(&fake)).unwrap();
    assert_eq!((s.recorded, s.pending), (2, 1));
    assert_eq!(stored_ids(&fake), ["r1", "r2"]);
    assert_eq!(outbox.flush(&client_no_retry(&fake)).unwrap().recorded, 1);
}

/// Issue 17, item 1: one entitlement behind a server that always answers 500, five healthy
/// ones, 20 seals. Before the fix the healthy ones went 5, 5, then 0 reports per flush for good
/// (3 failures in a row at the head of `pending/` stopped every flush).
#[test]
fn one_failing_entitlement_never_starves_the_others() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("starve");
    // The default backoff: a failed report waits a minute, the flush goes on without it.
    let outbox = Outbox::open(dir.path()).unwrap();
    fake.inject(
        Fault::status(500)
            .times(usize::MAX)
            .for_entitlement("ent-broken"),
    );
    let client = client(&fake);
    let healthy = ["ent-1", "ent-2", "ent-3", "ent-4", "ent-5"];
    let mut per_round = Vec::new();
    for round in 0..20 {
        // The broken entitlement's seal comes first: the head of the queue.
        for ent in std::iter::once("ent-broken").chain(healthy) {
            let id = format!("{ent}-h{round}");
            outbox
                .enqueue(ent, &usage(Some(&id), "calls", 1.0))
                .unwrap();
        }
        let before = fake.usage_record_groups().len();
        let s = outbox.flush(&client).unwrap();
        let recorded_now = fake.usage_record_groups().len() - before;
        assert_eq!(s.recorded, recorded_now);
        per_round.push(recorded_now);
        // The broken entitlement's reports stay pending: one new failure, the rest backing off.
        assert_eq!((s.pending, s.backing_off), (round + 1, round));
    }
    println!("healthy reports recorded per round: {per_round:?}");
    assert_eq!(per_round, vec![5; 20], "every healthy report, every round");
    let stored = stored_ids(&fake);
    assert_eq!(stored.len(), 100);
    assert!(stored.iter().all(|id| !id.starts_with("ent-broken")));
    // The broken entitlement's reports were each tried once (then backed off), 3 attempts each.
    let broken_attempts = fake
        .requests()
        .iter()
        .filter(|r| r.path.contains("/entitlement/ent-broken/"))
        .count();
    assert_eq!(broken_attempts, 20 * 3);
}

#[test]
fn an_entrys_backoff_is_kept_in_its_file_across_opens() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("backoff-file");
    let outbox = Outbox::open(dir.path()).unwrap();
    outbox
        .enqueue("ent-1", &usage(Some("r0"), "calls", 1.0))
        .unwrap();
    fake.inject(Fault::status(503).only(REPORT));
    let s = outbox.flush(&client_no_retry(&fake)).unwrap();
    assert_eq!((s.pending, s.backing_off), (1, 0));
    let name = &files(&dir.join("pending"))[0];
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("pending").join(name)).unwrap()).unwrap();
    assert_eq!(stored["attempts"], 1);
    assert!(stored["retryAt"].is_string(), "{stored}");
    assert_eq!(stored["params"]["id"], "r0");
    drop(outbox);
    // A new process (a cron flush) keeps the wait: nothing is sent.
    let outbox = Outbox::open(dir.path()).unwrap();
    let s = outbox.flush(&client_no_retry(&fake)).unwrap();
    assert_eq!((s.recorded, s.pending, s.backing_off), (0, 1, 1));
    assert_eq!(report_requests(&fake), 1);
    // Once the wait is over (here: the stored time moved into the past), it is sent with the
    // same id.
    let path = dir.join("pending").join(name);
    let mut stored = stored;
    stored["retryAt"] = "2000-01-01T00:00:00Z".into();
    std::fs::write(&path, serde_json::to_vec(&stored).unwrap()).unwrap();
    let s = outbox.flush(&client_no_retry(&fake)).unwrap();
    assert_eq!((s.recorded, s.pending, s.backing_off), (1, 0, 0));
    assert_eq!(stored_ids(&fake), ["r0"]);
}

#[test]
fn a_refused_connection_stops_the_flush_at_once() {
    let dir = TempDir::new("refused");
    let outbox = Outbox::open(dir.path()).unwrap();
    enqueue_n(&outbox, 3);
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = suger_metering::MeteringClient::builder()
        .api_key("k")
        .org_id("o")
        .base_url(format!("http://127.0.0.1:{port}"))
        .no_proxy()
        .retry(suger_metering::RetryPolicy::disabled())
        .build()
        .unwrap();
    let s = outbox.flush(&client).unwrap();
    assert_eq!((s.recorded, s.pending, s.backing_off), (0, 3, 0));
    assert!(s.last_error.unwrap().contains("connect"));
    // Nothing reached Suger, so no entry was given a backoff.
    let reopened = Outbox::open(dir.path());
    assert!(reopened.is_err(), "still locked by the first");
    drop(outbox);
    for name in files(&dir.join("pending")) {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("pending").join(name)).unwrap())
                .unwrap();
        assert!(v.get("attempts").is_none(), "{v}");
    }
}

#[test]
fn a_429_stops_the_flush_at_once() {
    let (fake, _dir, outbox) = fixture("429");
    enqueue_n(&outbox, 4);
    fake.inject(Fault::status(429).retry_after("1").only(REPORT));
    let s = outbox.flush(&client_no_retry(&fake)).unwrap();
    assert_eq!((s.recorded, s.pending), (0, 4));
    assert_eq!(report_requests(&fake), 1);
    // With the client's backoff (Retry-After honoured), the next flush gets through.
    fake.inject(Fault::status(429).retry_after("1").only(REPORT));
    let s = outbox.flush(&client(&fake)).unwrap();
    assert_eq!((s.recorded, s.pending), (4, 0));
}

#[test]
fn a_400_becomes_a_dead_letter_with_the_message_and_the_rest_goes_on() {
    let (fake, dir, outbox) = fixture("400");
    enqueue_n(&outbox, 3);
    fake.inject(
        Fault::status(400)
            .body("\"unknown dimension calls\"")
            .only(REPORT),
    );
    fake.inject(
        Fault::status(404)
            .body("\"entitlement not found\"")
            .only(REPORT),
    );
    let s = outbox.flush(&client(&fake)).unwrap();
    assert_eq!((s.recorded, s.dead, s.pending), (1, 2, 0));
    assert_eq!(stored_ids(&fake), ["r2"]);
    assert_eq!(outbox.dead_letters().unwrap(), 2);
    let dead = files(&dir.join("dead"));
    assert_eq!(dead.len(), 4, "{dead:?}");
    let reason = std::fs::read_to_string(dir.join("dead").join(&dead[1])).unwrap();
    assert!(dead[1].ends_with("-r0.json.reason.txt"), "{dead:?}");
    assert!(
        reason.contains("400") && reason.contains("unknown dimension calls"),
        "{reason}"
    );
    let reason = std::fs::read_to_string(dir.join("dead").join(&dead[3])).unwrap();
    assert!(reason.contains("entitlement not found"), "{reason}");
    // The dead letter keeps the whole report, never deleted.
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("dead").join(&dead[0])).unwrap()).unwrap();
    assert_eq!(v["params"]["id"], "r0");
    assert_eq!(outbox.pending().unwrap(), 0);
}

#[test]
fn a_401_stops_the_flush_and_keeps_everything() {
    let (fake, _dir, outbox) = fixture("401");
    enqueue_n(&outbox, 3);
    fake.inject(Fault::status(401).only(REPORT));
    let err = outbox.flush(&client(&fake)).unwrap_err();
    assert_eq!(err.status(), Some(401), "{err}");
    assert_eq!(report_requests(&fake), 1);
    assert_eq!(outbox.pending().unwrap(), 3);
    fake.inject(Fault::status(403).only(REPORT));
    assert_eq!(
        outbox.flush(&client(&fake)).unwrap_err().status(),
        Some(403)
    );
    assert_eq!(outbox.pending().unwrap(), 3);
    assert_eq!(outbox.flush(&client(&fake)).unwrap().recorded, 3);
}

#[test]
fn a_damaged_entry_is_moved_aside_and_does_not_block_the_rest() {
    let (fake, dir, outbox) = fixture("damaged");
    outbox
        .enqueue("ent-1", &usage(Some("good"), "calls", 1.0))
        .unwrap();
    std::fs::write(dir.join("pending").join("0000-garbage.json"), b"{\"entitle").unwrap();
    std::fs::write(dir.join("pending").join("0001-no-id.json"), br#"{"format":1,"entitlementId":"e","enqueuedAt":"2026-01-01T00:00:00Z","params":{"records":{"a":1}}}"#).unwrap();
    let s = outbox.flush(&client(&fake)).unwrap();
    assert_eq!((s.damaged, s.recorded, s.pending), (2, 1, 0));
    assert_eq!(stored_ids(&fake), ["good"]);
    let damaged = files(&dir.join("damaged"));
    assert!(
        damaged.contains(&"0000-garbage.json".to_string()),
        "{damaged:?}"
    );
    assert!(
        damaged.contains(&"0001-no-id.json.reason.txt".to_string()),
        "{damaged:?}"
    );
}

#[test]
fn the_size_cap_refuses_enqueue_and_writes_nothing() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("cap");
    let outbox = Outbox::builder(dir.path()).max_bytes(1000).open().unwrap();
    let mut stored = 0;
    let err = loop {
        match outbox.enqueue("ent-1", &usage(Some(&format!("r{stored}")), "calls", 1.0)) {
            Ok(_) => stored += 1,
            Err(e) => break e,
        }
    };
    assert!(stored >= 2, "{stored}");
    assert!(err.is_full(), "{err:?}");
    match err {
        OutboxError::Full {
            limit,
            used,
            needed,
            ..
        } => {
            assert_eq!(limit, 1000);
            assert!(used + needed > 1000 && used <= 1000);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(outbox.pending().unwrap(), stored);
    assert!(files(&dir.join("tmp")).is_empty());
    let on_disk: u64 = files(&dir.join("pending"))
        .iter()
        .map(|n| {
            std::fs::metadata(dir.join("pending").join(n))
                .unwrap()
                .len()
        })
        .sum();
    assert_eq!(outbox.used_bytes(), on_disk);
    // Sending frees the space.
    assert_eq!(outbox.flush(&client(&fake)).unwrap().recorded, stored);
    assert_eq!(outbox.used_bytes(), 0);
    outbox
        .enqueue("ent-1", &usage(Some("after"), "calls", 1.0))
        .unwrap();
    // The cap is counted from what is on disk when reopened.
    drop(outbox);
    let outbox = Outbox::builder(dir.path()).max_bytes(1000).open().unwrap();
    assert!(outbox.used_bytes() > 0);
}

#[test]
fn overdue_usage_is_counted_and_still_sent() {
    let (fake, _dir, outbox) = fixture("overdue");
    let now = time::OffsetDateTime::now_utc();
    for (id, hours) in [("h7", 7), ("h25", 25), ("h1", 1)] {
        let params = CreateUsageRecordGroupParams {
            timestamp: Some(now - time::Duration::hours(hours)),
            ..usage(Some(id), "calls", 1.0)
        };
        outbox.enqueue("ent-1", &params).unwrap();
    }
    fake.inject(Fault::status(503).times(3).only(REPORT));
    let s = outbox.flush(&client_no_retry(&fake)).unwrap();
    assert_eq!((s.pending, s.overdue, s.overdue_24h), (3, 2, 1));
    let s = outbox.flush(&client_no_retry(&fake)).unwrap();
    assert_eq!((s.recorded, s.overdue), (3, 0));
}

#[test]
fn threads_enqueue_and_flush_concurrently_without_loss_or_duplicates() {
    let (fake, _dir, outbox) = fixture("threads");
    let client = client(&fake);
    std::thread::scope(|s| {
        for t in 0..3 {
            let outbox = &outbox;
            s.spawn(move || {
                for i in 0..20 {
                    outbox
                        .enqueue("ent-1", &usage(Some(&format!("t{t}-{i}")), "calls", 1.0))
                        .unwrap();
                }
            });
        }
        s.spawn(|| {
            for _ in 0..5 {
                outbox.flush(&client).unwrap();
            }
        });
    });
    outbox.flush(&client).unwrap();
    let mut ids = stored_ids(&fake);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 60);
    assert_eq!(fake.usage_record_groups().len(), 60);
    assert_eq!(outbox.pending().unwrap(), 0);
}

#[test]
fn outbox_and_meter_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Outbox>();
    assert_send_sync::<suger_metering::Meter>();
}

#[test]
fn the_producer_id_is_made_once_and_a_damaged_one_is_an_error() {
    let dir = TempDir::new("producer");
    drop(Outbox::open(dir.path()).unwrap());
    let id = std::fs::read_to_string(dir.join("producer-id")).unwrap();
    assert_eq!(
        uuid::Uuid::parse_str(id.trim()).unwrap().get_version_num(),
        4
    );
    drop(Outbox::open(dir.path()).unwrap());
    assert_eq!(
        std::fs::read_to_string(dir.join("producer-id")).unwrap(),
        id
    );
    // Never replaced silently: a new producer id would change the meter's ids.
    std::fs::write(dir.join("producer-id"), "not a uuid").unwrap();
    match Outbox::open(dir.path()) {
        Err(OutboxError::Io { source, .. }) => {
            assert_eq!(source.kind(), std::io::ErrorKind::InvalidData)
        }
        other => panic!("{other:?}"),
    }
}
