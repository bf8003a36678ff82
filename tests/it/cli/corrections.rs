//! Issue 16, item 1 (second half): `report --file --outbox` run twice on the same file with a
//! quantity changed bills only the difference; a negative one is not sent (exit 5).

use super::{report_bodies, run, temp_file};
use serde_json::{Value, json};
use suger_metering::fake::{FakeSuger, Operation};
use suger_metering::{usage_record_group_id, usage_record_group_revision_id};

const NIGHTLY: &str = "entitlement_id,dimension,quantity,timestamp\n\
ent-1,api_calls,2653,2026-03-01T10:00:00Z\n\
ent-1,storage,1.5,2026-03-01T10:00:00Z\n\
ent-2,api_calls,7,2026-03-01T11:00:00Z\n";

struct Job {
    dir: std::path::PathBuf,
}

impl Job {
    fn new() -> Job {
        let marker = temp_file("marker", "");
        Job {
            dir: marker.parent().unwrap().join("outbox"),
        }
    }

    /// Runs `report --file` with this content into the job's outbox.
    fn run(&self, fake: &FakeSuger, content: &str) -> super::Run {
        let file = temp_file("usage.csv", content);
        run(
            fake,
            &[
                "report",
                "--file",
                file.to_str().unwrap(),
                "--outbox",
                self.dir.to_str().unwrap(),
            ],
        )
    }
}

fn live(fake: &FakeSuger) -> Vec<Value> {
    fake.usage_record_groups()
        .into_iter()
        .filter(|g| g["status"] != "DELETED")
        .collect()
}

fn ent1_base() -> String {
    usage_record_group_id("ent-1", "2026-03-01T10:00:00Z")
}

#[test]
fn a_changed_quantity_after_forwarding_adds_one_group_with_exactly_the_difference() {
    let fake = FakeSuger::start().unwrap();
    let job = Job::new();
    assert_eq!(job.run(&fake, NIGHTLY).code(0).json()["recorded"], 2);
    fake.run_report_cycle(); // Suger forwards the hour to the marketplace.

    let r = job.run(&fake, &NIGHTLY.replace("2653", "2654"));
    r.code(0);
    assert_eq!(r.json()["recorded"], 1, "{r:?}");
    assert!(
        r.stderr.contains("reporting the difference as revision 2"),
        "{r:?}"
    );
    assert!(r.stderr.contains("1 group(s) already recorded"), "{r:?}");
    assert_eq!(r.json()["alreadyRecorded"], 1, "{r:?}");
    let groups = live(&fake);
    assert_eq!(groups.len(), 3, "one extra group: {groups:?}");
    assert_eq!(
        groups[2]["id"],
        usage_record_group_revision_id("ent-1", &ent1_base(), 2).as_str()
    );
    assert_eq!(groups[2]["entitlementID"], "ent-1");
    assert_eq!(groups[2]["records"], json!({"api_calls": 1}));
    let bodies = report_bodies(&fake);
    assert_eq!(bodies.len(), 3, "nothing else sent: {bodies:?}");
    assert_eq!(bodies[2]["records"], json!({"api_calls": 1.0}));
    assert_eq!(bodies[2]["timestamp"], "2026-03-01T10:00:00Z");

    // The same corrected file again: nothing sent.
    let before = fake.requests().len();
    let r = job.run(&fake, &NIGHTLY.replace("2653", "2654"));
    assert_eq!(r.code(0).json()["recorded"], 0);
    assert_eq!(r.json()["alreadyRecorded"], 2);
    assert!(r.stderr.contains("2 group(s) already recorded"), "{r:?}");
    assert_eq!(report_bodies(&fake).len(), 3);
    assert!(
        fake.requests()[before..]
            .iter()
            .all(|q| q.operation != Some(Operation::ReportUsageRecordGroup)
                && q.operation != Some(Operation::DeleteUsageRecordGroup)),
        "nothing sent"
    );
}

#[test]
fn a_changed_quantity_before_forwarding_deletes_the_first_group_and_reports_the_corrected_one() {
    let fake = FakeSuger::start().unwrap();
    let job = Job::new();
    job.run(&fake, NIGHTLY).code(0);
    // No report cycle: the groups are still CREATED at Suger.
    let r = job.run(&fake, &NIGHTLY.replace("2653", "2654"));
    r.code(0);
    assert!(r.stderr.contains("not forwarded yet: deleted"), "{r:?}");
    let all = fake.usage_record_groups();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0]["id"], ent1_base().as_str());
    assert_eq!(all[0]["status"], "DELETED");
    let groups = live(&fake);
    assert_eq!(groups.len(), 2, "{groups:?}");
    let corrected = &groups[1];
    assert_eq!(
        corrected["id"],
        usage_record_group_revision_id("ent-1", &ent1_base(), 2).as_str()
    );
    assert_eq!(
        corrected["records"],
        json!({"api_calls": 2654, "storage": 1.5})
    );
    let deletes = fake
        .requests()
        .iter()
        .filter(|q| q.operation == Some(Operation::DeleteUsageRecordGroup))
        .count();
    assert_eq!(deletes, 1);
}

#[test]
fn a_negative_difference_after_forwarding_sends_nothing_and_exits_5() {
    let fake = FakeSuger::start().unwrap();
    let job = Job::new();
    job.run(&fake, NIGHTLY).code(0);
    fake.run_report_cycle();
    let before = fake.usage_record_groups();
    let r = job.run(&fake, &NIGHTLY.replace("2653", "2650"));
    r.code(5).error_line(&[
        "line 2",
        "api_calls was recorded as 2653",
        "2650",
        "nothing was sent",
    ]);
    assert_eq!(fake.usage_record_groups(), before, "nothing sent");
    assert_eq!(report_bodies(&fake).len(), 2);
}

#[test]
fn the_same_file_unchanged_sends_nothing() {
    let fake = FakeSuger::start().unwrap();
    let job = Job::new();
    job.run(&fake, NIGHTLY).code(0);
    fake.clear_requests();
    let r = job.run(&fake, NIGHTLY);
    assert_eq!(r.code(0).json()["recorded"], 0);
    assert_eq!(r.json()["alreadyRecorded"], 2);
    assert!(r.stderr.contains("2 group(s) already recorded"), "{r:?}");
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());
    assert_eq!(fake.usage_record_groups().len(), 2);
}
