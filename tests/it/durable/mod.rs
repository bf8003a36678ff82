//! The durable pipeline: the outbox, the meter, and real crashes. This module holds what
//! their tests share.
#![allow(dead_code)]

mod crash;
mod meter;
mod outbox;
mod reconcile;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use suger_metering::fake::FakeSuger;
use suger_metering::{CreateUsageRecordGroupParams, MeteringClient, RetryPolicy};

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "suger-durable-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A client for the fake that retries like the default policy but without sleeping.
pub fn client(fake: &FakeSuger) -> MeteringClient {
    fake.client_builder()
        .retry(RetryPolicy::default().sleep_fn(|_| {}))
        .build()
        .unwrap()
}

/// A client for the fake that sends every request once.
pub fn client_no_retry(fake: &FakeSuger) -> MeteringClient {
    fake.client_builder()
        .retry(RetryPolicy::disabled())
        .build()
        .unwrap()
}

/// v1 usage: one dimension.
pub fn usage(id: Option<&str>, dimension: &str, quantity: f64) -> CreateUsageRecordGroupParams {
    CreateUsageRecordGroupParams {
        id: id.map(str::to_owned),
        records: [(dimension.to_string(), quantity)].into(),
        ..Default::default()
    }
}

/// Names of the files in `dir` (empty when it does not exist), sorted.
pub fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Ids of the groups the fake stored, in order.
pub fn stored_ids(fake: &FakeSuger) -> Vec<String> {
    fake.usage_record_groups()
        .iter()
        .map(|g| g["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Number of report requests the fake received.
pub fn report_requests(fake: &FakeSuger) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.path.ends_with("/usageRecordGroup") && r.method == "POST")
        .count()
}
