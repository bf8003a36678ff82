//! The `suger-metering` binary, run as a process against a fake started in the test process:
//! every command, each output format and each exit code. This module holds what they share.

#![allow(dead_code)]

mod commands;
mod corrections;
mod fake_command;
mod files;
mod hardening;
mod outbox;
mod reconcile;
mod reruns;
mod resources;

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;
use suger_metering::fake::FakeSuger;

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// stdout as one JSON document.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }

    /// stdout as NDJSON.
    pub fn ndjson(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    /// Asserts the exit code, showing everything on failure.
    pub fn code(&self, code: i32) -> &Run {
        assert_eq!(self.code, code, "{self:#?}");
        self
    }

    /// Asserts stderr holds exactly one error line containing every one of `parts`.
    pub fn error_line(&self, parts: &[&str]) -> &Run {
        let errors: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| l.starts_with("suger-metering: error: "))
            .collect();
        assert_eq!(errors.len(), 1, "{self:#?}");
        for p in parts {
            assert!(errors[0].contains(p), "{p:?} not in {:?}", errors[0]);
        }
        self
    }
}

/// The binary with a clean environment (no SUGER_*, no proxies).
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_suger-metering"));
    c.env_clear();
    c
}

/// The binary pointed at `fake` through the environment, as a user would.
pub fn at(fake: &FakeSuger) -> Command {
    let mut c = bin();
    c.env("SUGER_API_KEY", fake.api_key())
        .env("SUGER_ORG_ID", fake.org_id())
        .env("SUGER_API_BASE_URL", fake.base_url());
    c
}

/// Runs `cmd` with `args` and optional stdin.
pub fn run_cmd(mut cmd: Command, args: &[&str], stdin: Option<&str>) -> Run {
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn suger-metering");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().expect("exited by a signal"),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// Runs the binary against `fake` with `args`.
pub fn run(fake: &FakeSuger, args: &[&str]) -> Run {
    run_cmd(at(fake), args, None)
}

/// Runs the binary against `fake` with `args` and `stdin`.
pub fn run_stdin(fake: &FakeSuger, args: &[&str], stdin: &str) -> Run {
    run_cmd(at(fake), args, Some(stdin))
}

/// Writes `content` to a new temporary file named `name` and returns its path.
pub fn temp_file(name: &str, content: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "suger-metering-cli-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

/// The JSON bodies of every report request the fake received.
pub fn report_bodies(fake: &FakeSuger) -> Vec<Value> {
    fake.requests()
        .iter()
        .filter(|r| r.operation == Some(suger_metering::fake::Operation::ReportUsageRecordGroup))
        .map(|r| r.json().unwrap())
        .collect()
}

/// Reports `qty` api_calls for `ent` under `id` straight through the library client.
pub fn seed_report(fake: &FakeSuger, ent: &str, id: &str, qty: f64) {
    let params = suger_metering::CreateUsageRecordGroupParams {
        id: Some(id.to_string()),
        records: [("api_calls".to_string(), qty)].into(),
        ..Default::default()
    };
    fake.client()
        .report_usage_record_group(ent, &params)
        .unwrap();
}
