//! What `add` does behind its API (the hour, the series count, the journal) and sealing: the
//! open sums become groups in the outbox.

use std::sync::atomic::Ordering;
use std::time::SystemTime;

use serde::Serialize;

use super::ids::Ids;
use super::journal::{self, Sealed, Segment};
use super::window::{groups, hour_of};
use super::{Inner, MeterError, MutexGuard, SeriesKey, Shard, cap_hour, lock};
use crate::durable::outbox::{FlushSummary, OutboxError};
use crate::http::error::Error;
use crate::http::text::error_chain;

impl Inner {
    /// The hour window of an event added now: the clock's hour, or, if the clock went back,
    /// the latest hour seen since the last seal (its window still open).
    #[inline]
    pub(super) fn hour(&self) -> u64 {
        let hour = self.clock_hour();
        let latest = self.latest_hour.load(Ordering::Relaxed);
        if hour > latest {
            self.latest_hour
                .fetch_max(hour, Ordering::Relaxed)
                .max(hour)
        } else {
            latest
        }
    }

    /// The hour of the meter's clock now.
    #[inline]
    fn clock_hour(&self) -> u64 {
        hour_of(match &self.clock {
            Some(clock) => clock(),
            None => SystemTime::now(),
        })
    }

    /// A shard, unless the meter is closed or stalled.
    #[inline]
    pub(super) fn lock_open(&self, shard: usize) -> Result<MutexGuard<'_, Shard>, MeterError> {
        if self.stalled.load(Ordering::Relaxed) {
            let why = lock(&self.stats).last_error.clone().unwrap_or_default();
            return Err(MeterError::stalled(why));
        }
        let sh = lock(&self.shards[shard].0);
        // Checked under the shard's lock: a seal that follows `closed` sees every add that
        // passed this check.
        if self.closed.load(Ordering::SeqCst) {
            return Err(MeterError::Closed);
        }
        Ok(sh)
    }

    /// Before a new series: at `max_series`, asks the seal thread to seal; at twice that (the
    /// seal has not caught up), refuses.
    #[inline]
    pub(super) fn make_room(&self) -> Result<(), MeterError> {
        let held = self.series.load(Ordering::SeqCst);
        if held >= self.max_series {
            self.ask_seal();
            if held >= self.max_series.saturating_mul(2) {
                return Err(MeterError::TooManySeries {
                    held,
                    max: self.max_series,
                });
            }
        }
        Ok(())
    }

    /// Counts a v1 series new in a shard, unless another shard holds it already.
    pub(super) fn count_series(&self, key: SeriesKey) {
        if lock(&self.registry).insert(key) {
            self.series.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Journals one event; at `max_journal_bytes`, asks for a seal.
    #[inline]
    pub(super) fn append(
        &self,
        segment: &mut Segment,
        buf: &mut Vec<u8>,
        event: &impl Serialize,
    ) -> Result<(), MeterError> {
        let n = segment.append(buf, &self.outbox, event)?;
        let total = self.journal_bytes.fetch_add(n, Ordering::Relaxed) + n;
        if total >= self.max_journal_bytes {
            self.ask_seal();
        }
        Ok(())
    }

    /// Asks the seal thread to seal now (once until it starts).
    pub(super) fn ask_seal(&self) {
        if !self.seal_asked.load(Ordering::Relaxed) && !self.seal_asked.swap(true, Ordering::AcqRel)
        {
            lock(&self.signal).seal = true;
            self.wake.notify_all();
        }
    }

    /// Seals the open sums: starts the next journal segments, turns the sums into groups with
    /// ids derived from the closed segments, enqueues them, deletes those segments.
    /// Usage that cannot be enqueued stays in the backlog (and its segments on disk) and is
    /// enqueued by a later seal, under the same ids.
    pub(super) fn seal(&self) -> Result<(), MeterError> {
        let mut backlog = lock(&self.backlog);
        self.seal_asked.store(false, Ordering::Release);
        if self.series.load(Ordering::SeqCst) > 0 {
            let seq = self.seq.load(Ordering::Relaxed);
            let fresh =
                journal::create_segments(&self.outbox, seq + 1, self.run, self.shards.len())
                    .map_err(MeterError::from)
                    .inspect_err(|e| self.stalled(e))?;
            let mut windows = Vec::new();
            let mut segments = Vec::new();
            for (shard, fresh) in self.shards.iter().zip(fresh) {
                let mut sh = lock(&shard.0);
                let closed = std::mem::replace(&mut sh.segment, fresh);
                let records = sh.sums.records;
                windows.extend(sh.sums.take());
                drop(sh);
                self.series.fetch_sub(records, Ordering::SeqCst);
                self.journal_bytes.fetch_sub(closed.len, Ordering::Relaxed);
                segments.push((closed.path, closed.len));
            }
            let forgotten = {
                let mut registry = lock(&self.registry);
                let before = registry.len();
                registry.retain(|(s, ..)| *s > seq);
                before - registry.len()
            };
            self.series.fetch_sub(forgotten, Ordering::SeqCst);
            // The windows are sealed: after a clock that went back, usage goes to its own hour
            // again (the latest hour seen stays only while its window is open).
            self.latest_hour.store(self.clock_hour(), Ordering::Relaxed);
            self.seq.store(seq + 1, Ordering::Relaxed);
            let ids = Ids::Run { run: self.run, seq };
            let cap = cap_hour(self.clock.as_ref());
            backlog.push(Sealed {
                groups: groups(&ids, windows, self.max_report_bytes, cap),
                enqueued: 0,
                segments,
                journaled: self.journal,
            });
        }
        while let Some(first) = backlog.first_mut() {
            while let Some((ent, params)) = first.groups.get(first.enqueued) {
                // A report whose id is pending already is stored (a seal repeated after a crash).
                let stored = self.outbox.enqueue_derived(ent, params, first.journaled);
                match stored {
                    Ok(_) => {}
                    Err(OutboxError::Report(e @ Error::InvalidRequest { .. })) => {
                        // Only a sum that overflowed to infinity gets here: nothing to bill.
                        log::error!(target: "suger_metering", "meter: dropped a group that cannot be reported: {e}");
                        lock(&self.stats).damaged += 1;
                    }
                    Err(e) => {
                        let e = MeterError::from(e);
                        self.stalled(&e);
                        return Err(e);
                    }
                }
                first.enqueued += 1;
            }
            journal::delete(&self.outbox, &first.segments).map_err(MeterError::from)?;
            backlog.remove(0);
        }
        self.stalled.store(false, Ordering::Relaxed);
        Ok(())
    }

    fn stalled(&self, e: &MeterError) {
        log::error!(target: "suger_metering", "meter: cannot store sealed usage, new usage is refused: {e}");
        lock(&self.stats).last_error = Some(error_chain(&e));
        self.stalled.store(true, Ordering::Relaxed);
    }

    /// Flushes the outbox and counts what happened.
    pub(super) fn send(&self) -> Result<FlushSummary, MeterError> {
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
        Ok(result?)
    }
}
