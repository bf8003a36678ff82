//! Corrections that bill only the difference (issue 16, item 1): `Outbox::enqueue_revised`
//! against the fake, with the ledger as the memory of what was recorded.

use super::{TempDir, client, files};

/// The outcomes compared through their Debug form (the variants are `#[non_exhaustive]`).
trait Show {
    fn show(&self) -> String;
}
impl Show for Revision {
    fn show(&self) -> String {
        format!("{self:?}")
    }
}
fn stored(id: &str) -> String {
    format!("Stored {{ id: {id:?} }}")
}
fn already(id: &str) -> String {
    format!("AlreadyRecorded {{ id: {id:?} }}")
}
fn diff(id: &str, revision: u32) -> String {
    format!("Difference {{ id: {id:?}, revision: {revision} }}")
}
fn replaced(deleted: &[String], id: &str) -> String {
    format!("Replaced {{ deleted: {deleted:?}, id: {id:?} }}")
}
use serde_json::{Value, json};
use suger_metering::fake::{FakeSuger, Operation};
use suger_metering::{
    CreateUsageRecordGroupParams, Outbox, OutboxError, Revision, usage_record_group_id,
    usage_record_group_revision_id,
};

const ENT: &str = "ent-1";

/// `enqueue_revised` of `api_calls` for the test hour, shown as text.
fn revise(outbox: &Outbox, client: &suger_metering::MeteringClient, api_calls: f64) -> String {
    outbox
        .enqueue_revised(client, ENT, &hour(&[("api_calls", api_calls)]))
        .unwrap()
        .show()
}

fn hour(records: &[(&str, f64)]) -> CreateUsageRecordGroupParams {
    CreateUsageRecordGroupParams {
        id: Some(usage_record_group_id(ENT, "2026-03-01T10:00:00Z")),
        timestamp: Some(
            time::OffsetDateTime::parse(
                "2026-03-01T10:00:00Z",
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap(),
        ),
        records: records.iter().map(|(k, q)| (k.to_string(), *q)).collect(),
        ..Default::default()
    }
}

fn base() -> String {
    usage_record_group_id(ENT, "2026-03-01T10:00:00Z")
}

/// The groups at the fake that are not deleted: (id, status, records).
fn live(fake: &FakeSuger) -> Vec<(String, String, Value)> {
    fake.usage_record_groups()
        .iter()
        .filter(|g| g["status"] != "DELETED")
        .map(|g| {
            (
                g["id"].as_str().unwrap().to_string(),
                g["status"].as_str().unwrap().to_string(),
                g["records"].clone(),
            )
        })
        .collect()
}

fn count(fake: &FakeSuger, op: Operation) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.operation == Some(op))
        .count()
}

#[test]
fn after_forwarding_a_corrected_report_bills_exactly_the_difference() {
    let fake = FakeSuger::start().unwrap();
    let client = client(&fake);
    let dir = TempDir::new("revised-diff");
    let outbox = Outbox::open(dir.path()).unwrap();
    let first = hour(&[("api_calls", 2653.0), ("storage", 1.5)]);
    assert_eq!(
        outbox.enqueue_revised(&client, ENT, &first).unwrap().show(),
        stored(&base())
    );
    assert_eq!(outbox.flush(&client).unwrap().recorded, 1);
    fake.run_report_cycle();

    // Same usage again: nothing stored, nothing sent (not even a listing).
    fake.clear_requests();
    assert_eq!(
        outbox.enqueue_revised(&client, ENT, &first).unwrap().show(),
        already(&base())
    );
    assert_eq!(outbox.pending().unwrap(), 0);
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());

    // One late event: 2653 -> 2654. Only the difference, under revision 2's id.
    let corrected = hour(&[("api_calls", 2654.0), ("storage", 1.5)]);
    let r2 = usage_record_group_revision_id(ENT, &base(), 2);
    assert_eq!(
        outbox
            .enqueue_revised(&client, ENT, &corrected)
            .unwrap()
            .show(),
        diff(&r2, 2)
    );
    // Again before the flush: the same pending report (stored once).
    assert_eq!(
        outbox
            .enqueue_revised(&client, ENT, &corrected)
            .unwrap()
            .show(),
        diff(&r2, 2)
    );
    assert_eq!(outbox.pending().unwrap(), 1);
    assert_eq!(outbox.flush(&client).unwrap().recorded, 1);
    let groups = live(&fake);
    assert_eq!(groups.len(), 2, "{groups:?}");
    assert_eq!(groups[1].0, r2);
    assert_eq!(groups[1].2, json!({"api_calls": 1}));
    assert_eq!(count(&fake, Operation::DeleteUsageRecordGroup), 0);
    // The difference carries the usage's hour.
    let sent = &fake.usage_record_groups()[1];
    assert_eq!(
        sent["metaInfo"]["timestamp"],
        "2026-03-01T10:00:00.000000000Z"
    );

    // Run a third time: recorded, all revisions summed.
    fake.clear_requests();
    assert_eq!(
        outbox
            .enqueue_revised(&client, ENT, &corrected)
            .unwrap()
            .show(),
        already(&base())
    );
    assert!(fake.requests().is_empty());

    // A reopened outbox (the next night's run) knows it too: a further event is revision 3.
    drop(outbox);
    let outbox = Outbox::open(dir.path()).unwrap();
    let third = hour(&[("api_calls", 2660.0), ("storage", 1.5)]);
    match outbox.enqueue_revised(&client, ENT, &third).unwrap() {
        Revision::Difference {
            id, revision: 3, ..
        } => {
            assert_eq!(id, usage_record_group_revision_id(ENT, &base(), 3))
        }
        other => panic!("{other:?}"),
    }
    outbox.flush(&client).unwrap();
    let total: f64 = live(&fake)
        .iter()
        .map(|g| g.2["api_calls"].as_f64().unwrap_or(0.0))
        .sum();
    assert_eq!(
        total, 2660.0,
        "billed in all: exactly what the last run says"
    );
}

#[test]
fn before_forwarding_the_earlier_group_is_deleted_and_replaced() {
    let fake = FakeSuger::start().unwrap();
    let client = client(&fake);
    let dir = TempDir::new("revised-replace");
    let outbox = Outbox::open(dir.path()).unwrap();
    outbox
        .enqueue_revised(&client, ENT, &hour(&[("api_calls", 2653.0)]))
        .unwrap();
    outbox.flush(&client).unwrap();
    // No report cycle: still CREATED at Suger. Lower is fine too: nothing was forwarded.
    let corrected = hour(&[("api_calls", 2600.0)]);
    let r2 = usage_record_group_revision_id(ENT, &base(), 2);
    assert_eq!(
        outbox
            .enqueue_revised(&client, ENT, &corrected)
            .unwrap()
            .show(),
        replaced(&[base()], &r2)
    );
    outbox.flush(&client).unwrap();
    let all = fake.usage_record_groups();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0]["id"], base().as_str());
    assert_eq!(all[0]["status"], "DELETED");
    assert_eq!(
        live(&fake),
        [(r2.clone(), "CREATED".into(), json!({"api_calls": 2600}))]
    );
    // The ledger counts the deleted group no more: the same file again is already recorded,
    // and after forwarding a higher count bills the difference from 2600.
    assert_eq!(
        outbox
            .enqueue_revised(&client, ENT, &corrected)
            .unwrap()
            .show(),
        already(&base())
    );
    fake.run_report_cycle();
    match outbox
        .enqueue_revised(&client, ENT, &hour(&[("api_calls", 2610.0)]))
        .unwrap()
    {
        Revision::Difference { revision: 3, .. } => {}
        other => panic!("{other:?}"),
    }
    outbox.flush(&client).unwrap();
    let live = live(&fake);
    assert_eq!(live.len(), 2);
    assert_eq!(live[1].2, json!({"api_calls": 10}));
    // The reconcile's view of the ledger leaves the deleted group out.
    let ledger = files(&dir.join("ledger"));
    assert_eq!(ledger.len(), 1, "{ledger:?}");
}

#[test]
fn a_negative_difference_after_forwarding_sends_nothing_and_says_so() {
    let fake = FakeSuger::start().unwrap();
    let client = client(&fake);
    let dir = TempDir::new("revised-negative");
    let outbox = Outbox::open(dir.path()).unwrap();
    outbox
        .enqueue_revised(
            &client,
            ENT,
            &hour(&[("api_calls", 2653.0), ("storage", 2.0)]),
        )
        .unwrap();
    outbox.flush(&client).unwrap();
    fake.run_report_cycle();
    let before = fake.usage_record_groups();
    let err = outbox
        .enqueue_revised(
            &client,
            ENT,
            &hour(&[("api_calls", 2660.0), ("storage", 1.5)]),
        )
        .unwrap_err();
    match &err {
        OutboxError::NegativeCorrection {
            id,
            dimension,
            recorded,
            requested,
            ..
        } => {
            assert_eq!(id, &base());
            assert_eq!(dimension, "storage");
            assert_eq!((*recorded, *requested), (2.0, 1.5));
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("nothing was sent"), "{err}");
    assert_eq!(outbox.pending().unwrap(), 0, "nothing stored");
    outbox.flush(&client).unwrap();
    assert_eq!(fake.usage_record_groups(), before, "nothing sent");
    assert_eq!(count(&fake, Operation::DeleteUsageRecordGroup), 0);
}

#[test]
fn a_pending_report_never_sent_is_replaced_not_corrected() {
    let fake = FakeSuger::start().unwrap();
    let client = client(&fake);
    let dir = TempDir::new("revised-pending");
    let outbox = Outbox::open(dir.path()).unwrap();
    outbox
        .enqueue_revised(&client, ENT, &hour(&[("api_calls", 5.0)]))
        .unwrap();
    // Re-run before any flush (Suger was down): the pending report is replaced, under its id.
    assert_eq!(revise(&outbox, &client, 7.0), stored(&base()));
    assert_eq!(outbox.pending().unwrap(), 1);
    assert!(fake.requests().is_empty(), "nothing asked of Suger");
    outbox.flush(&client).unwrap();
    assert_eq!(
        live(&fake),
        [(base(), "CREATED".into(), json!({"api_calls": 7}))]
    );

    // A pending correction is replaced by the next one (nothing of it was billed).
    fake.run_report_cycle();
    outbox
        .enqueue_revised(&client, ENT, &hour(&[("api_calls", 9.0)]))
        .unwrap();
    let r2 = usage_record_group_revision_id(ENT, &base(), 2);
    assert_eq!(revise(&outbox, &client, 8.0), diff(&r2, 2));
    // Back to what was recorded: the pending correction is dropped.
    assert_eq!(revise(&outbox, &client, 7.0), already(&base()));
    assert_eq!(outbox.pending().unwrap(), 0);
}

#[test]
fn a_report_without_an_identity_id_is_refused() {
    let fake = FakeSuger::start().unwrap();
    let dir = TempDir::new("revised-noid");
    let outbox = Outbox::open(dir.path()).unwrap();
    let mut p = hour(&[("api_calls", 1.0)]);
    p.id = None;
    let err = outbox.enqueue_revised(&client(&fake), ENT, &p).unwrap_err();
    assert!(
        matches!(&err, OutboxError::Report(e) if e.to_string().contains("identity")),
        "{err:?}"
    );
    assert_eq!(outbox.pending().unwrap(), 0);
}

#[test]
fn billable_records_are_corrected_per_key_with_their_properties() {
    use suger_metering::MeteringUsageRecord;
    let fake = FakeSuger::start().unwrap();
    let client = client(&fake);
    let dir = TempDir::new("revised-v2");
    let outbox = Outbox::open(dir.path()).unwrap();
    let tokens = |n: f64| {
        let mut p = hour(&[]);
        p.billable_records = vec![MeteringUsageRecord::new("tokens", n).property("model", "m1")];
        p
    };
    outbox
        .enqueue_revised(&client, ENT, &tokens(100.0))
        .unwrap();
    outbox.flush(&client).unwrap();
    fake.run_report_cycle();
    assert_eq!(
        outbox
            .enqueue_revised(&client, ENT, &tokens(100.0))
            .unwrap()
            .show(),
        already(&base())
    );
    outbox
        .enqueue_revised(&client, ENT, &tokens(130.0))
        .unwrap();
    outbox.flush(&client).unwrap();
    let bodies: Vec<Value> = fake
        .requests()
        .iter()
        .filter(|r| r.operation == Some(Operation::ReportUsageRecordGroup))
        .map(|r| r.json().unwrap())
        .collect();
    assert_eq!(bodies.len(), 2);
    let last = &bodies[1];
    assert_eq!(
        last["billableRecords"],
        json!([{"key": "tokens", "quantity": 30, "properties": {"model": "m1"}}])
    );
    assert_eq!(
        last["id"],
        usage_record_group_revision_id(ENT, &base(), 2).as_str()
    );
}

#[test]
fn a_pending_report_already_tried_may_be_recorded_so_it_is_not_replaced() {
    use suger_metering::fake::Fault;
    let fake = FakeSuger::start().unwrap();
    let client = super::client_no_retry(&fake);
    let dir = TempDir::new("revised-tried");
    let outbox = Outbox::open(dir.path()).unwrap();
    outbox
        .enqueue_revised(&client, ENT, &hour(&[("api_calls", 5.0)]))
        .unwrap();
    // The answer is lost: the report may be recorded, and stays pending.
    fake.inject(
        Fault::status(503)
            .only(Operation::ReportUsageRecordGroup)
            .times(1),
    );
    assert_eq!(outbox.flush(&client).unwrap().pending, 1);
    let err = outbox
        .enqueue_revised(&client, ENT, &hour(&[("api_calls", 6.0)]))
        .unwrap_err();
    assert!(
        matches!(&err, OutboxError::AlreadyPending { id, .. } if *id == base()),
        "{err:?}"
    );
    // The same report again is fine: it is the one pending.
    assert_eq!(revise(&outbox, &client, 5.0), stored(&base()));
    assert_eq!(outbox.pending().unwrap(), 1);
}

#[test]
fn groups_deleted_at_suger_count_for_nothing_and_their_ids_are_never_reused() {
    let fake = FakeSuger::start().unwrap();
    let client = client(&fake);
    let dir = TempDir::new("revised-gone");
    let outbox = Outbox::open(dir.path()).unwrap();
    outbox
        .enqueue_revised(&client, ENT, &hour(&[("api_calls", 5.0)]))
        .unwrap();
    outbox.flush(&client).unwrap();
    // Someone deletes the group at Suger (the ledger does not know).
    client.delete_usage_record_group(&base(), None).unwrap();
    let r2 = usage_record_group_revision_id(ENT, &base(), 2);
    assert_eq!(revise(&outbox, &client, 6.0), replaced(&[], &r2));
    // As if storing it had failed: the deletion is in the ledger, nothing pending.
    std::fs::remove_dir_all(dir.join("pending")).unwrap();
    std::fs::create_dir(dir.join("pending")).unwrap();
    assert_eq!(
        revise(&outbox, &client, 6.0),
        stored(&r2),
        "a new revision, not the deleted id"
    );
    outbox.flush(&client).unwrap();
    assert_eq!(
        live(&fake),
        [(r2, "CREATED".into(), json!({"api_calls": 6}))]
    );
}
