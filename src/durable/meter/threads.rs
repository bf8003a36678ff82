//! The meter's two background threads, and how they stop: the seal thread seals on schedule
//! (or when asked: the series cap, the journal size) whatever the send thread is doing; the
//! send thread flushes the outbox after each seal.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{Inner, Meter, MeterError, MutexGuard, Signal, lock};
use crate::durable::outbox::FlushSummary;
use crate::http::text::error_chain;

/// Starts the seal thread and the send thread.
pub(super) fn spawn(
    inner: &Arc<Inner>,
    interval: Duration,
) -> std::io::Result<Vec<JoinHandle<()>>> {
    let sealer = Arc::clone(inner);
    let sealer = std::thread::Builder::new()
        .name("suger-meter-seal".into())
        .spawn(move || sealer.run_sealer(interval))?;
    let sender = Arc::clone(inner);
    let sender = std::thread::Builder::new()
        .name("suger-meter-send".into())
        .spawn(move || sender.run_sender());
    match sender {
        Ok(sender) => Ok(vec![sealer, sender]),
        Err(e) => {
            inner.stop_now();
            Err(e)
        }
    }
}

impl Inner {
    fn wait<'a>(&self, sig: MutexGuard<'a, Signal>, at_most: Duration) -> MutexGuard<'a, Signal> {
        self.wake
            .wait_timeout(sig, at_most)
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .0
    }

    fn stop_now(&self) {
        lock(&self.signal).stop = true;
        self.wake.notify_all();
    }

    /// Seals every `interval`, or at once when asked, until asked to stop; after each seal
    /// asks the send thread to send.
    fn run_sealer(&self, interval: Duration) {
        let mut next = Instant::now() + interval;
        loop {
            let mut sig = lock(&self.signal);
            while !sig.stop && !sig.seal {
                let wait = next.saturating_duration_since(Instant::now());
                if wait.is_zero() {
                    break;
                }
                sig = self.wait(sig, wait);
            }
            if sig.stop {
                break;
            }
            sig.seal = false;
            drop(sig);
            if let Err(e) = self.seal() {
                lock(&self.stats).last_error = Some(error_chain(&e));
            }
            if Instant::now() >= next {
                next = Instant::now() + interval;
            }
            lock(&self.signal).send = true;
            self.wake.notify_all();
        }
        lock(&self.signal).sealer_done = true;
        self.wake.notify_all();
    }

    /// Sends when asked, until asked to stop; then sends once more if asked to, leaving the
    /// result for the caller.
    fn run_sender(&self) {
        loop {
            let mut sig = lock(&self.signal);
            while !sig.stop && !sig.send {
                // The meter's own reconciliation, when asked for and due (not under the lock).
                drop(sig);
                self.reconcile_when_due();
                sig = lock(&self.signal);
                if sig.stop || sig.send {
                    break;
                }
                sig = self.wait(sig, Duration::from_secs(1));
            }
            if sig.stop {
                let final_send = sig.final_send;
                drop(sig);
                if final_send {
                    let result = self.send();
                    lock(&self.signal).final_result = Some(result);
                }
                break;
            }
            sig.send = false;
            drop(sig);
            let _ = self.send();
        }
        lock(&self.signal).sender_done = true;
        self.wake.notify_all();
    }
}

impl Meter {
    /// Stops the threads, the send thread sending once more when `final_send`, and waits for
    /// them at most `timeout`; then returns that send's result, or `None` when the timeout
    /// passed (the threads end on their own). When the threads are stopped already, a thread
    /// of its own does the final send, with the same bound.
    pub(super) fn stop(
        &self,
        final_send: bool,
        timeout: Duration,
    ) -> Option<Result<FlushSummary, MeterError>> {
        let deadline = Instant::now() + timeout;
        let inner = &self.inner;
        let handles = match lock(&self.threads).take() {
            Some(handles) => {
                let mut sig = lock(&inner.signal);
                sig.stop = true;
                sig.final_send = final_send;
                sig.final_result = None;
                drop(sig);
                inner.wake.notify_all();
                handles
            }
            None if final_send => {
                let mut sig = lock(&inner.signal);
                if !sig.sender_done {
                    // The send thread of a call that timed out is still sending.
                    return None;
                }
                sig.sender_done = false;
                sig.final_result = None;
                drop(sig);
                let once = Arc::clone(inner);
                let spawned = std::thread::Builder::new()
                    .name("suger-meter-send".into())
                    .spawn(move || {
                        let result = once.send();
                        let mut sig = lock(&once.signal);
                        sig.final_result = Some(result);
                        sig.sender_done = true;
                        drop(sig);
                        once.wake.notify_all();
                    });
                match spawned {
                    Ok(handle) => vec![handle],
                    Err(e) => {
                        lock(&inner.signal).sender_done = true;
                        log::error!(target: "suger_metering", "meter: cannot start a thread to send: {e}");
                        return None;
                    }
                }
            }
            None => return None,
        };
        let mut sig = lock(&inner.signal);
        loop {
            // `*_done` are set by the threads as they end; `is_finished` also covers a thread
            // that died.
            let finished = handles.iter().all(JoinHandle::is_finished);
            if (sig.sealer_done && sig.sender_done) || finished {
                break;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                drop(sig);
                log::warn!(target: "suger_metering", "meter: the sending did not end within the shutdown timeout ({timeout:?}); what is unsent stays in the outbox");
                return None;
            }
            sig = inner.wait(sig, left.min(Duration::from_millis(50)));
        }
        let result = sig.final_result.take();
        drop(sig);
        for handle in handles {
            let _ = handle.join();
        }
        result
    }
}

impl Inner {
    /// Runs the meter's own reconciliation when it is due, and keeps what it found.
    fn reconcile_when_due(&self) {
        let Some(schedule) = &self.schedule else {
            return;
        };
        match schedule.tick(&self.client, self.outbox.dir()) {
            None => {}
            Some(Ok(report)) => {
                let mut stats = lock(&self.stats);
                stats.reconciled = report.counts();
                stats.problems = report.problems().cloned().collect();
            }
            Some(Err(e)) => lock(&self.stats).last_error = Some(e),
        }
    }
}
