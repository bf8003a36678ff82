//! The property: an unrecognised status is never accepted, and no answer makes the verdict
//! panic, over generated status words and random JSON shapes.

use serde_json::{Map, Value, json};

use suger_metering::MeteringUsageRecordGroup;

use super::report_with;

/// A small deterministic generator (xorshift), so the property runs the same everywhere.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
    /// A status-like word: known words, their case variants, near misses and noise.
    fn word(&mut self) -> String {
        const WORDS: &[&str] = &[
            "Success",
            "SUCCESS",
            "success",
            "Accepted",
            "ACCEPTED",
            "Successful",
            "Succeeded",
            "Success ",
            " Accepted",
            "Accept",
            "OK",
            "ok",
            "Pending",
            "Queued",
            "Processing",
            "CustomerNotSubscribed",
            "DuplicateRecord",
            "Duplicate",
            "Expired",
            "Error",
            "ResourceNotFound",
            "InvalidDimension",
            "BadArgument",
            "",
            "null",
            "Succes",
            "NotSuccess",
            "AcceptedLater",
            "Sucess",
            "ÉxitoÜ",
            "成功",
        ];
        match self.below(3) {
            0 => self.pick(WORDS).to_string(),
            1 => {
                let len = self.below(12);
                (0..len)
                    .map(|_| char::from_u32(0x20 + self.below(0x250) as u32).unwrap_or('x'))
                    .collect()
            }
            _ => format!("{}{}", self.pick(WORDS), self.pick(WORDS)),
        }
    }
    /// A random JSON value, `depth` levels at most, using keys the parsers look for.
    fn json(&mut self, depth: u32) -> Value {
        const KEYS: &[&str] = &[
            "Results",
            "results",
            "UnprocessedRecords",
            "MeteringRecordId",
            "Status",
            "status",
            "UsageRecord",
            "result",
            "usageEventId",
            "error",
            "code",
            "message",
            "additionalInfo",
            "acceptedMessage",
            "quantity",
            "reportErrors",
            "operationId",
            "operations",
            "__type",
            "count",
            "Dimension",
            "metricValueSets",
            "x",
        ];
        let kind = if depth == 0 {
            self.below(4)
        } else {
            self.below(7)
        };
        match kind {
            0 => Value::Null,
            1 => json!(self.below(3) == 0),
            2 => json!(self.below(1000) as f64 / 7.0),
            3 => json!(self.word()),
            4 | 5 => {
                let n = self.below(4);
                let mut m = Map::new();
                for _ in 0..n {
                    let k = self.pick(KEYS).to_string();
                    let v = self.json(depth - 1);
                    m.insert(k, v);
                }
                Value::Object(m)
            }
            _ => Value::Array((0..self.below(3)).map(|_| self.json(depth - 1)).collect()),
        }
    }
}

#[test]
fn an_unrecognised_status_is_never_accepted() {
    let mut g = Gen(0x9E37_79B9_7F4A_7C15);
    for _ in 0..3000 {
        let word = g.word();
        let suger_status = g.word();
        // The word as AWS's per-record status, Azure's event status and Suger's status.
        let answers = [
            (
                "success",
                "AWS",
                "awsMeteringResponse",
                json!({"Results": [{"MeteringRecordId": "m", "Status": word}]}),
            ),
            (
                "accepted",
                "AZURE",
                "azureMeteringResponse",
                json!({"count": 1, "result": [{"usageEventId": "e", "status": word}]}),
            ),
            (
                "accepted",
                "AZURE",
                "azureMeteringResponse",
                json!({"status": word}),
            ),
        ];
        // Each marketplace's own success word, in any case; nothing else.
        for (own_word, partner, key, answer) in answers {
            let success_word = |s: &str| s.eq_ignore_ascii_case(own_word);
            let v = report_with(partner, &suger_status, "", key, answer.clone()).verdict();
            if v.is_accepted() {
                assert!(
                    success_word(&word) || suger_status == "SUCCESS",
                    "accepted without a success word: status {suger_status:?}, record {word:?}, {answer}"
                );
            }
            // The record's status alone, with no Suger status.
            let mut no_status = report_with(partner, "", "", key, answer);
            no_status.info.as_mut().unwrap().status = None;
            assert_eq!(
                no_status.verdict().is_accepted(),
                success_word(&word),
                "{word:?}"
            );
        }
        let alone = report_with(
            "GCP",
            &suger_status,
            &word,
            "gcpMeteringResponse",
            Value::Null,
        );
        assert_eq!(
            alone.verdict().is_accepted(),
            suger_status == "SUCCESS",
            "{suger_status:?}"
        );
    }
}

#[test]
fn random_answers_never_panic_and_are_accepted_only_on_success() {
    let mut g = Gen(0xD1B5_4A32_D192_ED03);
    let statuses = ["SUCCESS", "FAILED", "CREATED", "", "INVOICED", "Pending"];
    for i in 0..4000 {
        let status = statuses[i % statuses.len()];
        let partner = ["AWS", "AZURE", "GCP", "STRIPE", ""][(i / 7) % 5];
        let key = [
            "awsMeteringResponse",
            "azureMeteringResponse",
            "gcpMeteringResponse",
        ][(i / 3) % 3];
        let answer = g.json(4);
        let text = serde_json::to_string(&answer).unwrap();
        let answer_holds_success =
            text.to_lowercase().contains("success") || text.to_lowercase().contains("accepted");
        let mut report = report_with(partner, status, "", key, answer.clone());
        report.info.as_mut().unwrap().usage_record_group_ids = vec!["g".into()];
        let verdict = report.verdict();
        let _ = report.record_verdicts();
        let _ = verdict.to_string();
        let mut group = MeteringUsageRecordGroup::default();
        group.id = "g".into();
        group.records = [("x".to_string(), 1.0), ("Success".to_string(), 1.0)].into();
        let for_group = report.verdict_for_group(&group).expect("carried");
        // The same answer, kept by Suger as a JSON string.
        let as_string = report_with(partner, status, "", key, json!(text)).verdict();
        for v in [&verdict, &as_string, &for_group] {
            if v.is_accepted() {
                assert!(
                    status == "SUCCESS" || answer_holds_success,
                    "accepted without a success word: {status:?} {answer}"
                );
            }
        }
        if status == "FAILED" {
            assert!(!verdict.is_accepted(), "a FAILED report accepted: {answer}");
        }
    }
}
