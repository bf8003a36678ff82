//! Summary: a caller that acts only on what it is told, over a representative set of faults;
//! prints `faults injected: N, records lost: 0, duplicated: 0` computed from the counts.

use super::*;

/// What one summary scenario expects to end up recorded, per entitlement: the quantities.
type Expected = BTreeMap<String, Vec<f64>>;

/// A caller's single report: acts on the answer the way the error docs say.
fn caller_report(c: &MeteringClient, ent: &str, id: Option<&str>, qty: f64) {
    match c.report_usage_record_group(ent, &params(id, qty)) {
        // Recorded.
        Ok(_) => {}
        Err(e) if e.is_already_reported() => {}
        // First attempt conflict: the id was recorded before.
        Err(e) if e.is_conflict() => {}
        // Not recorded, or maybe: re-report with the same id (only possible with a caller id).
        Err(e) => {
            let id = id.unwrap_or_else(|| panic!("no id to re-report safely after {e:?}"));
            caller_report(c, ent, Some(id), qty);
        }
    }
}

/// A caller's batch: on `OutcomeUnknown`, it checks what was recorded before resending.
fn caller_batch(c: &MeteringClient, sent: &[NewUsageRecordGroup], in_flight: bool) {
    let started = Instant::now();
    match c.batch_report_usage_record_groups(sent) {
        Ok(created) => assert_eq!(created.len(), sent.len()),
        Err(Error::BatchOutcomeUnknown { groups, .. }) => {
            assert_eq!(groups, sent);
            if in_flight {
                // A request that timed out may still be in flight: wait it out first.
                let settled = DELAY + Duration::from_millis(50);
                std::thread::sleep(settled.saturating_sub(started.elapsed()));
            }
            reconcile(c, &groups);
        }
        Err(e) => {
            assert!(matches!(e, Error::Api { .. }), "{e:?}");
            // A definite refusal: nothing was recorded; send again.
            caller_batch(c, sent, false);
        }
    }
}

/// Resends the groups of a batch of unknown outcome that are not recorded. Each group of the
/// scenarios has its own entitlement and quantity, so "recorded" is decidable by listing.
fn reconcile(c: &MeteringClient, groups: &[NewUsageRecordGroup]) {
    let missing: Vec<NewUsageRecordGroup> = groups
        .iter()
        .filter(|g| {
            let listed: Vec<f64> = c
                .usage_record_groups(
                    &ListUsageRecordGroups::new().entitlement_id(&g.entitlement_id),
                )
                .map(|r| r.expect("list").records["api_calls"])
                .collect();
            !listed.contains(&g.records["api_calls"])
        })
        .cloned()
        .collect();
    if !missing.is_empty() {
        c.batch_report_usage_record_groups(&missing)
            .expect("resend of the missing groups");
    }
}

fn one_group_each(prefix: &str, n: usize) -> Vec<NewUsageRecordGroup> {
    (0..n)
        .map(|i| NewUsageRecordGroup {
            entitlement_id: format!("{prefix}-{i:02}"),
            records: [("api_calls".to_string(), (i + 1) as f64)].into(),
            ..Default::default()
        })
        .collect()
}

fn expect_groups(expected: &mut Expected, groups: &[NewUsageRecordGroup]) {
    for g in groups {
        expected
            .entry(g.entitlement_id.clone())
            .or_default()
            .push(g.records["api_calls"]);
    }
}

/// Runs one summary scenario on its own fake; returns (faults injected, lost, duplicated).
fn summary_scenario(n: usize) -> (usize, usize, usize) {
    use Operation::{BatchReportUsageRecordGroups as Batch, ReportUsageRecordGroup as Report};
    let env = Env::new();
    let mut expected = Expected::new();
    let ent = format!("ent-s{n:02}");
    let report = |fault: Fault, times: usize, id: Option<&str>, c: &MeteringClient| {
        env.inject(fault, Report, times);
        caller_report(c, &ent, id, (n + 1) as f64);
    };
    match n {
        0 => report(Fault::status(503), 1, None, &env.client()),
        1 => report(Fault::status(500), 1, None, &env.client()),
        2 => report(Fault::status(502), 1, None, &env.client()),
        3 => report(Fault::status(504), 1, None, &env.client()),
        4 => report(Fault::status(429).retry_after("0"), 1, None, &env.client()),
        5 => report(Fault::drop_after_apply(), 1, None, &env.client()),
        6 => report(Fault::truncate_body(), 1, None, &env.client()),
        7 => report(
            Fault::delay(DELAY),
            1,
            None,
            &env.client_waiting_for_groups(1),
        ),
        8 => report(Fault::status(503), 3, Some("s-8"), &env.client()),
        9 => report(Fault::drop_after_apply(), 3, Some("s-9"), &env.client()),
        10 => report(Fault::status(400), 1, Some("s-10"), &env.client()),
        11 => report(Fault::status(502), 2, None, &env.client()),
        _ => {}
    }
    if n <= 11 {
        expected.insert(ent.clone(), vec![(n + 1) as f64]);
    }
    let batch_case = |fault: Fault, in_flight: bool, c: &MeteringClient| {
        let sent = one_group_each(&ent, 3);
        env.inject(fault, Batch, 1);
        caller_batch(c, &sent, in_flight);
        sent
    };
    let sent = match n {
        12 => batch_case(Fault::status(429).retry_after("1"), false, &env.client()),
        13 => batch_case(Fault::status(503).retry_after("1"), false, &env.client()),
        14 => batch_case(Fault::status(503), false, &env.client()),
        15 => batch_case(Fault::status(500), false, &env.client()),
        16 => batch_case(Fault::drop_after_apply(), false, &env.client()),
        17 => batch_case(Fault::truncate_body(), false, &env.client()),
        18 => batch_case(Fault::delay(DELAY), true, &env.timed_client()),
        19 => batch_case(Fault::status(400), false, &env.client()),
        20 => {
            let c = env.client();
            let groups = one_group_each(&ent, 25);
            env.fake
                .inject(Fault::delay(Duration::ZERO).only(Operation::BatchReportUsageRecordGroups));
            env.inject(Fault::drop_after_apply(), Batch, 1);
            for outcome in
                c.report_usage_record_groups_in_batches(&groups, std::num::NonZeroUsize::new(10))
            {
                match outcome.result {
                    Ok(created) => assert_eq!(created.len(), outcome.range.len()),
                    Err(Error::BatchOutcomeUnknown { groups: back, .. }) => {
                        assert_eq!(back, &groups[outcome.range]);
                        reconcile(&c, &back);
                    }
                    Err(e) => panic!("unexpected {e:?}"),
                }
            }
            groups
        }
        _ => Vec::new(),
    };
    expect_groups(&mut expected, &sent);

    // Stored vs expected, per entitlement.
    let mut stored = Expected::new();
    for g in env.fake.usage_record_groups() {
        stored
            .entry(g["entitlementID"].as_str().expect("ent").to_string())
            .or_default()
            .push(quantity(&g));
    }
    let (mut lost, mut duplicated) = (0, 0);
    let keys: std::collections::BTreeSet<&String> = expected.keys().chain(stored.keys()).collect();
    for k in keys {
        let want = expected.get(k).cloned().unwrap_or_default();
        let mut got = stored.get(k).cloned().unwrap_or_default();
        for q in &want {
            match got.iter().position(|x| x == q) {
                Some(p) => {
                    got.remove(p);
                }
                None => lost += 1,
            }
        }
        duplicated += got.len();
    }
    assert!(env.faults() > 0, "scenario {n} injected a fault");
    (env.faults(), lost, duplicated)
}

#[test]
fn zz_summary() {
    const SCENARIOS: usize = 21;
    let results: Vec<(usize, usize, usize)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..SCENARIOS)
            .map(|n| s.spawn(move || summary_scenario(n)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("scenario thread"))
            .collect()
    });
    let faults: usize = results.iter().map(|r| r.0).sum();
    let lost: usize = results.iter().map(|r| r.1).sum();
    let duplicated: usize = results.iter().map(|r| r.2).sum();
    let line = format!("faults injected: {faults}, records lost: {lost}, duplicated: {duplicated}");
    println!("{line}");
    // Also straight to the process's stderr, which the test harness does not capture: the
    // line shows in every `cargo test` run, with or without `--nocapture`.
    {
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }
    assert!(FAULTS_INJECTED.load(Ordering::SeqCst) >= faults);
    for (n, r) in results.iter().enumerate() {
        assert_eq!((r.1, r.2), (0, 0), "scenario {n}: (lost, duplicated)");
    }
    assert_eq!(lost, 0);
    assert_eq!(duplicated, 0);
}
