//! What the meter does behind its API: sealing into the outbox, sending, the background thread.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use super::journal::{self, Segment};
use super::window::{groups, hour_of};
use super::{Inner, MutexGuard, Sealed, Shard, lock};
use crate::durable::outbox::store;
use crate::durable::outbox::{FlushSummary, OutboxError};
use crate::http::error::Error;
use crate::http::text::error_chain;

impl Inner {
    /// The hour window of an event added now.
    #[inline]
    pub(super) fn hour(&self) -> u64 {
        match &self.clock {
            Some(clock) => hour_of(clock()),
            None => hour_of(SystemTime::now()),
        }
    }

    /// A shard, unless the meter is closed or stalled.
    #[inline]
    pub(super) fn lock_open(&self, shard: usize) -> Result<MutexGuard<'_, Shard>, OutboxError> {
        if self.stalled.load(Ordering::Relaxed) {
            let why = lock(&self.stats).last_error.clone().unwrap_or_default();
            return Err(OutboxError::Stalled(why));
        }
        let sh = lock(&self.shards[shard].0);
        // Checked under the shard's lock: a seal that follows `closed` sees every add that
        // passed this check.
        if self.closed.load(Ordering::SeqCst) {
            return Err(OutboxError::Closed);
        }
        Ok(sh)
    }

    /// Seals the open sums: starts the next journal segments, turns the sums into groups with
    /// ids derived from the closed segments' number, enqueues them, deletes those segments.
    /// Usage that cannot be enqueued stays in the backlog (and its segments on disk) and is
    /// enqueued by a later seal, under the same ids.
    pub(super) fn seal(&self) -> Result<(), OutboxError> {
        let mut backlog = lock(&self.backlog);
        if self.series.load(Ordering::SeqCst) > 0 {
            let seq = self.seq.load(Ordering::Relaxed);
            let dir = journal::segment_dir(&self.outbox);
            let fresh = (0..self.shards.len())
                .map(|i| Segment::create(&dir, seq + 1, i))
                .collect::<Result<Vec<_>, _>>()
                .and_then(|fresh| store::sync_dir(&dir).map(|()| fresh))
                .inspect_err(|e| self.stalled(e))?;
            let mut windows = Vec::new();
            let mut segments = Vec::new();
            for (shard, fresh) in self.shards.iter().zip(fresh) {
                let mut sh = lock(&shard.0);
                let closed = std::mem::replace(&mut sh.segment, fresh);
                self.series.fetch_sub(sh.sums.series, Ordering::SeqCst);
                windows.extend(sh.sums.take());
                drop(sh);
                // The groups take the closed segment's place under the cap (so a cap filled
                // by the journal cannot block the seal that empties it).
                self.outbox.release(closed.len);
                segments.push(closed.path);
            }
            self.seq.store(seq + 1, Ordering::Relaxed);
            backlog.push(Sealed {
                groups: groups(&self.outbox.producer_id(), seq, windows),
                enqueued: 0,
                segments,
            });
        }
        while let Some(first) = backlog.first_mut() {
            while let Some((ent, params)) = first.groups.get(first.enqueued) {
                match self.outbox.enqueue(ent, params) {
                    Ok(_) => {}
                    Err(OutboxError::Report(e @ Error::InvalidRequest { .. })) => {
                        // Only a sum that overflowed to infinity gets here: nothing to bill.
                        log::error!(target: "suger_metering", "meter: dropped a group that cannot be reported: {e}");
                        lock(&self.stats).damaged += 1;
                    }
                    Err(e) => {
                        self.stalled(&e);
                        return Err(e);
                    }
                }
                first.enqueued += 1;
            }
            for path in &first.segments {
                journal::delete(path)?;
            }
            backlog.remove(0);
        }
        self.stalled.store(false, Ordering::Relaxed);
        Ok(())
    }

    fn stalled(&self, e: &OutboxError) {
        log::error!(target: "suger_metering", "meter: cannot store sealed usage, new usage is refused: {e}");
        lock(&self.stats).last_error = Some(error_chain(&e));
        self.stalled.store(true, Ordering::Relaxed);
    }

    /// Flushes the outbox and counts what happened.
    pub(super) fn send(&self) -> Result<FlushSummary, OutboxError> {
        let result = self.outbox.flush(&self.client);
        let mut stats = lock(&self.stats);
        match &result {
            Ok(s) => {
                stats.recorded += s.recorded as u64;
                stats.already_recorded += s.already_recorded as u64;
                stats.dead += s.dead as u64;
                stats.damaged += s.damaged as u64;
                stats.overdue = s.overdue;
                stats.overdue_24h = s.overdue_24h;
                if let Some(e) = &s.last_error {
                    stats.last_error = Some(e.clone());
                }
            }
            Err(e) => stats.last_error = Some(error_chain(&e)),
        }
        result
    }

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

    /// The background thread: seal and send every `interval` until asked to stop.
    pub(super) fn run(&self, interval: Duration) {
        let mut next = Instant::now() + interval;
        loop {
            let mut stop = lock(&self.stop);
            while !stop.requested {
                let wait = next.saturating_duration_since(Instant::now());
                if wait.is_zero() {
                    break;
                }
                stop = self
                    .wake
                    .wait_timeout(stop, wait)
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .0;
            }
            if stop.requested {
                let final_flush = stop.final_flush;
                drop(stop);
                if final_flush {
                    let _ = self.send();
                }
                break;
            }
            drop(stop);
            if let Err(e) = self.seal() {
                lock(&self.stats).last_error = Some(error_chain(&e));
            }
            let _ = self.send();
            self.reconcile_when_due();
            next = Instant::now() + interval;
        }
        lock(&self.stop).done = true;
        self.wake.notify_all();
    }
}
