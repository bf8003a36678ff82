//! Re-runs that bill right: ids from the usage's identity (issue 16.1, 16.2), the ids of files
//! reported before that change kept (issue 14.1), `suger-metering id`, CSV column mapping and
//! hour timestamps (16.12), and the library's rules applied to files (14.1).

use super::{report_bodies, run, run_stdin, seed_report, temp_file};
use serde_json::json;
use suger_metering::fake::FakeSuger;
use suger_metering::usage_record_group_id;

const TIMED: &str = "entitlement_id,dimension,quantity,timestamp\n\
ent-1,api_calls,2653,2026-03-01T10:00:00Z\n\
ent-1,storage,1.5,2026-03-01T10:00:00Z\n\
ent-2,api_calls,7,2026-03-01T11:00:00Z\n";

const UNTIMED: &str = "entitlement_id,dimension,quantity\nent-1,api_calls,5\nent-3,api_calls,2\n";

/// The ids the CLI gave TIMED and UNTIMED before ids came from identity: printed by the
/// binary built from the commit before this change (`report --file ... -o ndjson`).
const OLD_TIMED_IDS: [&str; 2] = [
    "f6544399-c4b1-52e4-96fc-a251e07ee1eb",
    "7675f7ca-aeae-5536-9758-0219a20c49cb",
];
const OLD_UNTIMED_IDS: [&str; 2] = [
    "1fa57c5f-fc96-5808-976d-185af6fda1bc",
    "d8114d5b-31d6-5ec3-84d1-339d66a2bddd",
];

fn ids(fake: &FakeSuger, from: usize) -> Vec<String> {
    report_bodies(fake)[from..]
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn files_reported_before_identity_ids_are_still_answered_already_recorded() {
    let fake = FakeSuger::start().unwrap();
    // What an earlier version recorded.
    for (id, ent) in OLD_TIMED_IDS.iter().zip(["ent-1", "ent-2"]) {
        seed_report(&fake, ent, id, 1.0);
    }
    for (id, ent) in OLD_UNTIMED_IDS.iter().zip(["ent-1", "ent-3"]) {
        seed_report(&fake, ent, id, 1.0);
    }
    let before = report_bodies(&fake).len();
    // --id-from content: the old ids, exactly.
    let timed = temp_file("usage.csv", TIMED);
    let r = run(
        &fake,
        &[
            "report",
            "--file",
            timed.to_str().unwrap(),
            "--id-from",
            "content",
        ],
    );
    r.code(0);
    assert!(
        r.stderr
            .contains("0 recorded, 2 already recorded, of 2 groups"),
        "{r:?}"
    );
    assert_eq!(ids(&fake, before), OLD_TIMED_IDS);
    // Usage without a timestamp (and no --outbox) keeps its content id by default.
    let untimed = temp_file("usage.csv", UNTIMED);
    let r = run(&fake, &["report", "--file", untimed.to_str().unwrap()]);
    r.code(0);
    assert!(
        r.stderr
            .contains("0 recorded, 2 already recorded, of 2 groups"),
        "{r:?}"
    );
    assert!(
        r.stderr.contains("warning: 2 groups have no timestamp"),
        "{r:?}"
    );
    assert_eq!(ids(&fake, before + 2), OLD_UNTIMED_IDS);
    assert_eq!(
        fake.usage_record_groups().len(),
        4,
        "lost: 0, duplicated: 0"
    );
}

#[test]
fn a_corrected_reexport_of_the_same_hours_is_not_billed_twice() {
    let fake = FakeSuger::start().unwrap();
    let first = temp_file("usage.csv", TIMED);
    run(&fake, &["report", "--file", first.to_str().unwrap()]).code(0);
    let want = [
        usage_record_group_id("ent-1", "2026-03-01T10:00:00Z"),
        usage_record_group_id("ent-2", "2026-03-01T11:00:00Z"),
    ];
    assert_eq!(ids(&fake, 0), want);
    // The id of an hour, for scripts.
    let r = run(&fake, &["id", "ent-1", "2026-03-01T10:00:00Z"]);
    assert_eq!(r.code(0).stdout, format!("{}\n", want[0]));

    // Yesterday re-exported after one late event: 2653 -> 2654. Same identities, same ids:
    // Suger answers "already recorded" and nothing is billed twice. (Content ids, the old
    // default, made a second group for the hour.)
    let corrected = temp_file("usage.csv", &TIMED.replace("2653", "2654"));
    let r = run(&fake, &["report", "--file", corrected.to_str().unwrap()]);
    r.code(0);
    assert!(r.stderr.contains("0 recorded, 2 already recorded"), "{r:?}");
    assert_eq!(ids(&fake, 2), want);
    assert_eq!(fake.usage_record_groups().len(), 2, "duplicated: 0");
    let content = run(
        &fake,
        &[
            "report",
            "--file",
            corrected.to_str().unwrap(),
            "--id-from",
            "content",
        ],
    );
    content.code(0);
    let ent1 = fake
        .usage_record_groups()
        .iter()
        .filter(|g| g["entitlementID"] == "ent-1")
        .count();
    assert_eq!(
        ent1, 2,
        "content ids bill the corrected hour twice: {content:?}"
    );
}

#[test]
fn with_an_outbox_usage_without_identity_is_refused_unless_an_id_key_names_it() {
    let fake = FakeSuger::start().unwrap();
    let file = temp_file("usage.csv", UNTIMED);
    let dir = file.parent().unwrap().join("outbox");
    let (path, dir) = (file.to_str().unwrap(), dir.to_str().unwrap());
    run(&fake, &["report", "--file", path, "--outbox", dir])
        .code(2)
        .error_line(&[
            "line 2",
            "no timestamp and no id",
            "--id-key",
            "nothing was sent",
        ]);
    assert!(fake.requests().is_empty());
    let r = run(
        &fake,
        &[
            "report",
            "--file",
            path,
            "--outbox",
            dir,
            "--id-key",
            "nightly-2026-03-01",
        ],
    );
    assert_eq!(r.code(0).json()["recorded"], 2);
    assert_eq!(
        ids(&fake, 0),
        [
            usage_record_group_id("ent-1", "nightly-2026-03-01"),
            usage_record_group_id("ent-3", "nightly-2026-03-01"),
        ]
    );
    // With timestamps, --id-key scopes the hour (two sources of one hour stay apart).
    let timed = temp_file("usage.csv", TIMED);
    run(
        &fake,
        &[
            "report",
            "--file",
            timed.to_str().unwrap(),
            "--id-key",
            "storage-export",
        ],
    )
    .code(0);
    assert_eq!(
        ids(&fake, 2)[0],
        usage_record_group_id("ent-1", "storage-export/2026-03-01T10:00:00Z")
    );
}

#[test]
fn report_from_flags_derives_its_id_or_warns_that_a_rerun_bills_again() {
    let fake = FakeSuger::start().unwrap();
    let timed = [
        "report",
        "ent-1",
        "--record",
        "a=1",
        "--timestamp",
        "2026-03-01T10",
    ];
    run(&fake, &timed).code(0);
    let r = run(&fake, &timed);
    r.code(0);
    assert!(r.stderr.contains("already recorded"), "{r:?}");
    assert_eq!(
        ids(&fake, 0),
        vec![usage_record_group_id("ent-1", "2026-03-01T10:00:00Z"); 2]
    );
    assert_eq!(report_bodies(&fake)[0]["timestamp"], "2026-03-01T10:00:00Z");

    let keyed = ["report", "ent-1", "--record", "a=1", "--id-key", "job-42"];
    run(&fake, &keyed).code(0);
    assert_eq!(ids(&fake, 2), [usage_record_group_id("ent-1", "job-42")]);
    let r = run(&fake, &["id", "ent-1", "job-42"]);
    assert_eq!(
        r.code(0).stdout.trim(),
        usage_record_group_id("ent-1", "job-42")
    );

    let r = run(&fake, &["report", "ent-1", "--record", "a=1"]);
    r.code(0);
    let warning: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.contains("warning:"))
        .collect();
    assert_eq!(warning.len(), 1, "{r:?}");
    assert!(
        warning[0].contains("bills again") && warning[0].contains("--id-key"),
        "{r:?}"
    );
    assert!(
        warning[0].contains(&ids(&fake, 3)[0]),
        "the warning names the id: {r:?}"
    );
}

#[test]
fn the_id_command_prints_the_library_id() {
    let fake = FakeSuger::start().unwrap();
    // Pinned: computed with the library before this change (and with Python's uuid.uuid5).
    let r = run(&fake, &["id", "entitlement-1", "2026-11-26T14"]);
    assert_eq!(r.code(0).stdout, "4ec46858-f512-581c-8d07-a55e1bc6a2f8\n");
    run(&fake, &["id", "", "k"])
        .code(2)
        .error_line(&["must not be empty"]);
}

#[test]
fn csv_headers_can_be_mapped_and_hours_are_timestamps() {
    let fake = FakeSuger::start().unwrap();
    let csv = "customer_id,metric,value,hour\nent-1,api_calls,3,2026-03-01T10\nent-1,api_calls,4,2026-03-01T10\n";
    let args = [
        "report",
        "--file",
        "-",
        "--column",
        "entitlement_id=customer_id",
        "--column",
        "dimension=metric",
        "--column",
        "quantity=value",
        "--column",
        "timestamp=hour",
    ];
    run_stdin(&fake, &args, csv).code(0);
    let body = &report_bodies(&fake)[0];
    assert_eq!(body["records"], json!({"api_calls": 7.0}));
    assert_eq!(body["timestamp"], "2026-03-01T10:00:00Z");
    assert_eq!(
        body["id"],
        usage_record_group_id("ent-1", "2026-03-01T10:00:00Z").as_str()
    );
    // Without the mapping the header is refused, and the message says how to map it.
    run_stdin(&fake, &["report", "--file", "-"], csv)
        .code(2)
        .error_line(&["line 1", "customer_id", "--column"]);
    run_stdin(
        &fake,
        &["report", "--file", "-", "--column", "colour=hue"],
        csv,
    )
    .code(2)
    .error_line(&["colour"]);
}

#[test]
fn a_file_is_checked_by_the_library_rules_before_anything_is_sent() {
    // The CLI's own check lacked "more than 5 minutes in the future": the first group was
    // recorded, then the library refused the second, and the CLI said "nothing was sent".
    let fake = FakeSuger::start().unwrap();
    let future = (time::OffsetDateTime::now_utc() + time::Duration::minutes(30))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let csv = format!(
        "entitlement_id,dimension,quantity,timestamp\nent-1,a,1,2026-03-01T10:00:00Z\nent-2,a,1,{future}\n"
    );
    run_stdin(&fake, &["report", "--file", "-"], &csv)
        .code(2)
        .error_line(&["line 3", "in the future", "nothing was sent"]);
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());
    assert!(fake.usage_record_groups().is_empty());
}
