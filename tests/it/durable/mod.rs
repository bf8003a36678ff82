//! The durable pipeline: the outbox, the meter, and real crashes. This module holds what
//! their tests share.
#![allow(dead_code)]

mod crash;
mod meter;
mod outbox;
mod producers;
mod reconcile;
mod refusals;
mod revisions;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

// The helpers for tests against the fake live with the others in `support::fake`.
pub use crate::support::fake::{client, client_no_retry, report_requests, stored_ids, usage};

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
