//! The meter's own reconciliation, on a schedule ([`MeterBuilder::reconcile_every`]): every
//! `interval`, the last `window` of usage; each problem logged as a warning once.
//!
//! [`MeterBuilder::reconcile_every`]: crate::MeterBuilder::reconcile_every

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::durable::reconcile::{Reconcile, ReconcileReport, reconcile};
use crate::http::client::MeteringClient;
use crate::http::text::error_chain;

/// When to reconcile next, and the problems already warned about.
#[derive(Debug)]
pub(crate) struct Schedule {
    interval: Duration,
    window: Duration,
    next: Mutex<Instant>,
    /// (id, state) of each problem logged so far: logged once.
    warned: Mutex<HashSet<(String, &'static str)>>,
}

impl Schedule {
    pub(crate) fn new(interval: Duration, window: Duration) -> Schedule {
        Schedule {
            interval,
            window,
            // The first one after one interval: the meter's first reports need time to reach
            // Suger and its hourly report anyway.
            next: Mutex::new(Instant::now() + interval),
            warned: Mutex::new(HashSet::new()),
        }
    }

    /// Reconciles when due: the report, or the error's text. `None` when not due.
    pub(crate) fn tick(
        &self,
        client: &MeteringClient,
        outbox_dir: &Path,
    ) -> Option<Result<ReconcileReport, String>> {
        {
            let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
            if Instant::now() < *next {
                return None;
            }
            *next = Instant::now() + self.interval;
        }
        let result = reconcile(client, outbox_dir, &Reconcile::since(self.window));
        Some(match result {
            Ok(report) => {
                self.warn_new(&report);
                Ok(report)
            }
            Err(e) => {
                log::warn!(target: "suger_metering", "meter: reconcile failed: {}", error_chain(&e));
                Err(error_chain(&e))
            }
        })
    }

    fn warn_new(&self, report: &ReconcileReport) {
        let mut warned = self.warned.lock().unwrap_or_else(PoisonError::into_inner);
        for item in report.problems() {
            if warned.insert((item.id.clone(), item.state().as_str())) {
                let hour = item.hour.map_or_else(String::new, |h| h.to_string());
                log::warn!(
                    target: "suger_metering",
                    "meter: report {} for entitlement {} (hour {hour}) is {}: {}",
                    item.id,
                    item.entitlement_id,
                    item.state(),
                    item.message
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::durable::reconcile::{ReconcileItem, ReconcileState};

    #[test]
    fn each_problem_is_warned_about_once() {
        let s = Schedule::new(Duration::from_secs(1), Duration::from_secs(1));
        let item = |id: &str, state| ReconcileItem {
            id: id.into(),
            state: Some(state),
            ..Default::default()
        };
        let mut report = ReconcileReport {
            items: vec![
                item("r-1", ReconcileState::Failed),
                item("r-2", ReconcileState::Reported),
            ],
            ..Default::default()
        };
        s.warn_new(&report);
        s.warn_new(&report);
        assert_eq!(s.warned.lock().unwrap().len(), 1);
        // The same report in another problem state is news.
        report.items[0].state = Some(ReconcileState::Missing);
        s.warn_new(&report);
        assert_eq!(s.warned.lock().unwrap().len(), 2);
    }
}
