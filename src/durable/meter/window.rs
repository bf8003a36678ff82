//! In-memory sums per UTC hour window, and how they become usage record groups.

use std::collections::{BTreeMap, HashMap};

use time::OffsetDateTime;

use super::ids::Ids;
use crate::api::usage_record_group::{CreateUsageRecordGroupParams, MeteringUsageRecord};

/// One event, as replayed from the journal.
pub(crate) enum Event {
    V1 {
        hour: u64,
        entitlement: String,
        dimension: String,
        quantity: f64,
    },
    V2 {
        hour: u64,
        entitlement: String,
        record: MeteringUsageRecord,
    },
}

/// The usage of one hour window.
#[derive(Debug, Default)]
pub(crate) struct Window {
    /// entitlement → dimension → sum. Nested maps so that an existing series is found by two
    /// `&str` lookups, without allocating.
    v1: HashMap<String, HashMap<String, f64>>,
    /// entitlement → records, kept as added.
    v2: HashMap<String, Vec<MeteringUsageRecord>>,
}

impl Window {
    fn is_empty(&self) -> bool {
        self.v1.is_empty() && self.v2.is_empty()
    }
}

/// Everything not sealed yet: the current window and windows the clock has left.
#[derive(Debug, Default)]
pub(crate) struct Sums {
    hour: u64,
    cur: Window,
    older: Vec<(u64, Window)>,
    /// v1 series held, all windows.
    pub(crate) series: usize,
    /// v2 records held, all windows.
    pub(crate) records: usize,
}

impl Sums {
    /// Makes `hour` the current window (the previous one, if not empty, is kept aside).
    #[inline]
    pub(crate) fn enter(&mut self, hour: u64) {
        if hour != self.hour {
            let left = std::mem::take(&mut self.cur);
            if !left.is_empty() {
                self.older.push((self.hour, left));
            }
            self.hour = hour;
        }
    }

    /// The sum of an existing series of the current window.
    #[inline]
    pub(crate) fn existing(&mut self, entitlement: &str, dimension: &str) -> Option<&mut f64> {
        self.cur.v1.get_mut(entitlement)?.get_mut(dimension)
    }

    /// Starts a series in the current window.
    pub(crate) fn insert(&mut self, entitlement: &str, dimension: &str, quantity: f64) {
        let dims = match self.cur.v1.get_mut(entitlement) {
            Some(dims) => dims,
            None => self.cur.v1.entry(entitlement.to_owned()).or_default(),
        };
        *dims.entry(dimension.to_owned()).or_insert(0.0) += quantity;
        self.series += 1;
    }

    /// Keeps a v2 record in the current window.
    pub(crate) fn push(&mut self, entitlement: &str, record: MeteringUsageRecord) {
        match self.cur.v2.get_mut(entitlement) {
            Some(records) => records.push(record),
            None => {
                self.cur.v2.insert(entitlement.to_owned(), vec![record]);
            }
        }
        self.records += 1;
    }

    /// Applies a replayed event exactly as `add`/`add_billable` applied it.
    pub(crate) fn apply(&mut self, event: Event) {
        match event {
            Event::V1 {
                hour,
                entitlement,
                dimension,
                quantity,
            } => {
                self.enter(hour);
                match self.existing(&entitlement, &dimension) {
                    Some(sum) => *sum += quantity,
                    None => self.insert(&entitlement, &dimension, quantity),
                }
            }
            Event::V2 {
                hour,
                entitlement,
                record,
            } => {
                self.enter(hour);
                self.push(&entitlement, record);
            }
        }
    }

    /// Takes every window out, oldest first; the sums are empty afterwards.
    pub(crate) fn take(&mut self) -> Vec<(u64, Window)> {
        let mut all = std::mem::take(&mut self.older);
        let cur = std::mem::take(&mut self.cur);
        if !cur.is_empty() {
            all.push((self.hour, cur));
        }
        self.series = 0;
        self.records = 0;
        all
    }
}

/// One sealed report: (entitlement, params with id and timestamp).
pub(crate) type Group = (String, CreateUsageRecordGroupParams);

/// Room left in a request body for the envelope of a v2 group (id, entitlement, organization,
/// timestamp, field names).
const ENVELOPE_BYTES: usize = 1024;

/// The groups of one seal: per hour and entitlement, one v1 group (sums of the non-zero series)
/// and one v2 group (the records as added), split into parts whose request body stays under
/// `max_body` bytes when `ids` allows it. Ids come from `ids` (sealing the same events again
/// gives the same ids). A group's `timestamp` is the start of its hour, but never later than
/// `cap_hour` (the current hour): usage added while the clock was ahead is billed now rather
/// than refused as future usage; the id keeps the hour the usage was added in.
pub(crate) fn groups(
    ids: &Ids,
    windows: Vec<(u64, Window)>,
    max_body: usize,
    cap_hour: u64,
) -> Vec<Group> {
    let mut v1: BTreeMap<(u64, String), BTreeMap<String, f64>> = BTreeMap::new();
    let mut v2: BTreeMap<(u64, String), Vec<MeteringUsageRecord>> = BTreeMap::new();
    for (hour, w) in windows {
        for (ent, dims) in w.v1 {
            let group = v1.entry((hour, ent)).or_default();
            // Sorted, so that two windows of one hour (a clock set back) merge in a fixed order.
            for (dim, q) in dims.into_iter().collect::<BTreeMap<_, _>>() {
                *group.entry(dim).or_insert(0.0) += q;
            }
        }
        for (ent, records) in w.v2 {
            v2.entry((hour, ent)).or_default().extend(records);
        }
    }
    let make = |hour: u64, ent: &str, kind: &str, part: usize| CreateUsageRecordGroupParams {
        id: Some(ids.id(hour, ent, kind, part)),
        timestamp: OffsetDateTime::from_unix_timestamp(hour.min(cap_hour) as i64 * 3600).ok(),
        ..Default::default()
    };
    let mut out = Vec::new();
    for ((hour, ent), mut records) in v1 {
        records.retain(|_, q| *q != 0.0);
        if !records.is_empty() {
            let params = CreateUsageRecordGroupParams {
                records,
                ..make(hour, &ent, "v1", 0)
            };
            out.push((ent, params));
        }
    }
    for ((hour, ent), records) in v2 {
        if !records.iter().any(|r| r.quantity != 0.0) {
            continue;
        }
        let parts = if ids.splits() {
            split(records, max_body.saturating_sub(ENVELOPE_BYTES))
        } else {
            vec![records]
        };
        for (part, billable_records) in parts.into_iter().enumerate() {
            if billable_records.iter().any(|r| r.quantity != 0.0) {
                let params = CreateUsageRecordGroupParams {
                    billable_records,
                    ..make(hour, &ent, "v2", part)
                };
                out.push((ent.clone(), params));
            }
        }
    }
    out
}

/// Splits records, in order, into parts of at most `max` bytes of JSON each (a record larger
/// than that alone in its part).
fn split(records: Vec<MeteringUsageRecord>, max: usize) -> Vec<Vec<MeteringUsageRecord>> {
    let mut parts = vec![Vec::new()];
    let mut size = 0;
    for r in records {
        // Its JSON and a comma.
        let n = serde_json::to_vec(&r).map_or(0, |b| b.len()) + 1;
        let part = parts.last_mut().expect("never empty");
        if !part.is_empty() && size + n > max {
            parts.push(vec![r]);
            size = n;
        } else {
            part.push(r);
            size += n;
        }
    }
    parts
}

/// Hours since the Unix epoch (the UTC hour window) of a time.
pub(crate) fn hour_of(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 3600)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v1(hour: u64, ent: &str, dim: &str, quantity: f64) -> Event {
        Event::V1 {
            hour,
            entitlement: ent.into(),
            dimension: dim.into(),
            quantity,
        }
    }

    #[test]
    fn groups_are_per_hour_and_entitlement_with_stable_ids_and_no_zeros() {
        let producer = uuid::Uuid::from_u128(7);
        let make = || {
            let mut sums = Sums::default();
            for e in [
                v1(10, "a", "x", 1.0),
                v1(10, "a", "zero", 0.0),
                v1(11, "a", "x", 2.0),
                v1(10, "a", "x", 0.5), // the clock went back: merged into hour 10
                v1(11, "b", "y", 3.0),
            ] {
                sums.apply(e);
            }
            assert_eq!(sums.series, 5);
            groups(
                &Ids::Legacy { producer, seq: 3 },
                sums.take(),
                1 << 20,
                u64::MAX,
            )
        };
        let g = make();
        type Row<'a> = (u64, &'a str, Vec<(&'a str, f64)>);
        let summary: Vec<Row> = g
            .iter()
            .map(|(ent, p)| {
                let hour = p.timestamp.unwrap().unix_timestamp() as u64 / 3600;
                let recs = p.records.iter().map(|(k, v)| (k.as_str(), *v)).collect();
                (hour, ent.as_str(), recs)
            })
            .collect();
        assert_eq!(
            summary,
            [
                (10, "a", vec![("x", 1.5)]),
                (11, "a", vec![("x", 2.0)]),
                (11, "b", vec![("y", 3.0)]),
            ]
        );
        // The ids of the version before run ids (a journal it left is sealed under them).
        let expected = uuid::Uuid::new_v5(&producer, b"3/10/a/v1").to_string();
        assert_eq!(g[0].1.id.as_deref(), Some(expected.as_str()));
        let again: Vec<_> = make().into_iter().map(|(_, p)| p.id).collect();
        assert_eq!(
            again,
            g.iter().map(|(_, p)| p.id.clone()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn an_all_zero_window_makes_no_group() {
        let mut sums = Sums::default();
        sums.apply(v1(10, "a", "x", 0.0));
        let ids = Ids::Run {
            run: uuid::Uuid::nil(),
            seq: 0,
        };
        assert!(groups(&ids, sums.take(), 1 << 20, u64::MAX).is_empty());
    }

    #[test]
    fn large_v2_groups_are_split_in_order_under_the_bound_with_stable_ids() {
        let make = |ids: Ids| {
            let mut sums = Sums::default();
            for i in 0..1000 {
                sums.apply(Event::V2 {
                    hour: 10,
                    entitlement: "a".into(),
                    record: MeteringUsageRecord::new("tokens", f64::from(i)),
                });
            }
            groups(&ids, sums.take(), 16 * 1024, u64::MAX)
        };
        let run = Ids::Run {
            run: uuid::Uuid::from_u128(1),
            seq: 2,
        };
        let parts = make(run);
        assert!(parts.len() > 1, "{}", parts.len());
        let mut next = 0.0;
        for (i, (_, p)) in parts.iter().enumerate() {
            let body = serde_json::to_vec(p).unwrap();
            assert!(body.len() <= 16 * 1024, "part {i}: {} bytes", body.len());
            assert_eq!(p.id.as_deref(), Some(run.id(10, "a", "v2", i).as_str()));
            for r in &p.billable_records {
                assert_eq!(r.quantity, next);
                next += 1.0;
            }
        }
        assert_eq!(next, 1000.0);
        let again: Vec<_> = make(run).into_iter().map(|(_, p)| p.id).collect();
        assert_eq!(
            again,
            parts.iter().map(|(_, p)| p.id.clone()).collect::<Vec<_>>()
        );
        // A legacy segment's group stays whole, under its old id.
        let legacy = make(Ids::Legacy {
            producer: uuid::Uuid::from_u128(1),
            seq: 2,
        });
        assert_eq!(legacy.len(), 1);
        assert_eq!(legacy[0].1.billable_records.len(), 1000);
    }

    #[test]
    fn a_window_ahead_of_the_clock_is_timestamped_now_and_keeps_its_id() {
        let mut sums = Sums::default();
        sums.apply(v1(12, "a", "x", 1.0));
        let ids = Ids::Run {
            run: uuid::Uuid::nil(),
            seq: 0,
        };
        let g = groups(&ids, sums.take(), 1 << 20, 10);
        assert_eq!(g[0].1.timestamp.unwrap().unix_timestamp(), 10 * 3600);
        assert_eq!(
            g[0].1.id.as_deref(),
            Some(ids.id(12, "a", "v1", 0).as_str())
        );
    }
}
