//! How the meter names its reports: ids derived from the journal segment a seal closed, so that
//! sealing the same events again (after a crash) gives the same ids, and two processes never
//! share one.

use crate::api::ids::window_id;

/// The id scheme of one sealed journal sequence (the ids themselves are made by
/// `api::ids::window_id`, the one home of ids).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ids {
    /// Segments written before runs had ids (`segment-<seq>-<shard>.log`): UUID v5 of the
    /// outbox's producer id and `"{seq}/{hour}/{entitlement}/v1|v2"`, one v2 group per
    /// entitlement and hour. Kept so that a journal written by an older version is sealed under
    /// the ids that version would have given it (nothing is billed twice across the upgrade).
    Legacy { producer: uuid::Uuid, seq: u64 },
    /// `segment-<seq>-<run>-<shard>.log`: UUID v5 of the run id (a random UUID made by each
    /// start and written in the segment's name before any event) and
    /// `"{seq}/{hour}/{entitlement}/v1|v2"`, then `"/{part}"` for the second and later parts of
    /// a v2 group split to bound a request's size. A copied or restored directory seals its
    /// copied segments under the ids of the original (the same usage: deduplicated), and its
    /// new usage under its own run id (never an id of the original's).
    Run { run: uuid::Uuid, seq: u64 },
}

impl Ids {
    /// The id of the group of `entitlement` in `hour`, of `kind` (`"v1"` or `"v2"`), part `part`.
    pub(crate) fn id(&self, hour: u64, entitlement: &str, kind: &str, part: usize) -> String {
        let (namespace, seq) = match self {
            Ids::Legacy { producer, seq } => (producer, seq),
            Ids::Run { run, seq } => (run, seq),
        };
        if part == 0 {
            window_id(namespace, *seq, hour, entitlement, kind)
        } else {
            window_id(
                namespace,
                *seq,
                hour,
                entitlement,
                &format!("{kind}/{part}"),
            )
        }
    }

    /// Whether large v2 groups are split (not for legacy segments: their one group may have
    /// been recorded whole before the upgrade).
    pub(crate) fn splits(&self) -> bool {
        matches!(self, Ids::Run { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_ids_are_those_of_the_previous_version() {
        let producer = uuid::Uuid::from_u128(42);
        let legacy = Ids::Legacy { producer, seq: 7 };
        // The previous version: `Uuid::new_v5(producer, format!("{seq}/{hour}/{ent}/{kind}"))`.
        assert_eq!(
            legacy.id(490_000, "ent-1", "v1", 0),
            uuid::Uuid::new_v5(&producer, b"7/490000/ent-1/v1").to_string()
        );
        let run = Ids::Run {
            run: producer,
            seq: 7,
        };
        assert_eq!(
            run.id(490_000, "ent-1", "v2", 0),
            legacy.id(490_000, "ent-1", "v2", 0)
        );
        assert_ne!(
            run.id(490_000, "ent-1", "v2", 1),
            run.id(490_000, "ent-1", "v2", 0)
        );
        let other_run = Ids::Run {
            run: uuid::Uuid::from_u128(43),
            seq: 7,
        };
        assert_ne!(
            other_run.id(490_000, "ent-1", "v1", 0),
            run.id(490_000, "ent-1", "v1", 0)
        );
    }
}
