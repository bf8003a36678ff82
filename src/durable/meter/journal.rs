//! The meter's journal and its recovery: numbered, append-only segment files in
//! `<outbox>/meter/`, one per shard, and what a start does with the segments a previous run
//! left. Every file operation of the meter is here.
//!
//! `segment-<seq>-<run>-<shard>.log` holds the events a shard took since seal `seq - 1`, one
//! JSON line each: `[hour, "entitlement", "dimension", quantity bits]` (v1; the `f64`'s bits, so
//! that a replay sums exactly the same numbers) or `[hour, "entitlement", {record}]` (v2).
//! `<run>` is the run id of the start that created it (see [`Ids`]); files without one
//! (`segment-<seq>-<shard>.log`) were written by an older version and keep its ids.
//!
//! Sealing creates the files of `seq + 1` first, then enqueues the groups of `seq` under ids
//! derived from the closed files' names, then deletes those files. So the newest sequence
//! number is always on disk, and on start every segment left is sealed again under its own
//! name: the same events give the same ids.
//!
//! `<outbox>/meter/origin` records the device and inode of the outbox directory. A start that
//! finds another one runs on a copy (a restored backup, a container image built after a test
//! run): it makes a new `producer-id` and warns. Its new usage is safe either way, under its
//! own run id.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::ids::Ids;
use super::window::{Event, Group, Sums, groups};
use crate::api::usage_record_group::MeteringUsageRecord;
use crate::durable::outbox::store;
use crate::durable::outbox::{Outbox, OutboxError};

/// A shard's segment being appended to.
#[derive(Debug)]
pub(crate) struct Segment {
    pub(crate) path: PathBuf,
    /// Its sequence number: the seal that will close it.
    pub(crate) seq: u64,
    file: File,
    /// Its length: bytes counted against the outbox's cap.
    pub(crate) len: u64,
}

/// A seal not yet fully in the outbox.
pub(crate) struct Sealed {
    pub(crate) groups: Vec<Group>,
    /// How many of `groups` are in the outbox.
    pub(crate) enqueued: usize,
    /// Its journal segments and their lengths, deleted once every group is in the outbox.
    pub(crate) segments: Vec<(PathBuf, u64)>,
    /// Whether its usage is journaled (on disk already): then its groups are stored over the
    /// outbox's cap, so that a cap filled by the journal never blocks the seal that empties it.
    pub(crate) journaled: bool,
}

/// What a previous run left, from [`recover`].
pub(crate) struct Recovered {
    /// The new sequence's segments, one per shard.
    pub(crate) segments: Vec<Segment>,
    /// Their sequence number.
    pub(crate) next: u64,
    /// The left segments, sealed (their groups not stored yet).
    pub(crate) sealed: Vec<Sealed>,
    /// Damaged journal lines skipped.
    pub(crate) damaged: u64,
}

fn segment_dir(outbox: &Outbox) -> PathBuf {
    outbox.dir().join("meter")
}

/// The segment files of `dir` by (sequence number, run id; `None` for an older version's),
/// each sequence's files in shard order.
#[allow(clippy::type_complexity)]
fn segments(dir: &Path) -> Result<BTreeMap<(u64, Option<uuid::Uuid>), Vec<PathBuf>>, OutboxError> {
    let mut by_seq: BTreeMap<_, Vec<(u32, PathBuf)>> = BTreeMap::new();
    for name in store::list(dir)? {
        let Some(parts) = name
            .strip_prefix("segment-")
            .and_then(|n| n.strip_suffix(".log"))
        else {
            continue;
        };
        let parsed = match parts.split('-').collect::<Vec<_>>().as_slice() {
            [seq, shard] => Some((seq.parse().ok(), None, shard.parse().ok())),
            [seq, run, shard] => uuid::Uuid::try_parse(run)
                .ok()
                .map(|run| (seq.parse().ok(), Some(run), shard.parse().ok())),
            _ => None,
        };
        if let Some((Some(seq), run, Some(shard))) = parsed {
            by_seq
                .entry((seq, run))
                .or_default()
                .push((shard, dir.join(&name)));
        }
    }
    Ok(by_seq
        .into_iter()
        .map(|(key, mut files)| {
            files.sort();
            (key, files.into_iter().map(|(_, p)| p).collect())
        })
        .collect())
}

/// Creates the empty segments of sequence `seq` of run `run`, one per shard, and makes their
/// names durable.
pub(crate) fn create_segments(
    outbox: &Outbox,
    seq: u64,
    run: uuid::Uuid,
    shards: usize,
) -> Result<Vec<Segment>, OutboxError> {
    let dir = segment_dir(outbox);
    let segments = (0..shards)
        .map(|shard| Segment::create(&dir, seq, run, shard))
        .collect::<Result<Vec<_>, _>>()?;
    store::sync_dir(&dir)?;
    Ok(segments)
}

impl Segment {
    fn create(dir: &Path, seq: u64, run: uuid::Uuid, shard: usize) -> Result<Segment, OutboxError> {
        let path = dir.join(format!("segment-{seq:020}-{}-{shard:02}.log", run.simple()));
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| OutboxError::io("create", &path, e))?;
        let len = file.metadata().map_or(0, |m| m.len());
        Ok(Segment {
            path,
            seq,
            file,
            len,
        })
    }

    /// Appends one event line with a single `write`, counted against the outbox's cap, and
    /// returns its length. On failure the file is cut back to where it was: nothing of the
    /// event remains.
    pub(crate) fn append(
        &mut self,
        buf: &mut Vec<u8>,
        outbox: &Outbox,
        event: &impl Serialize,
    ) -> Result<u64, OutboxError> {
        buf.clear();
        serde_json::to_writer(&mut *buf, event)
            .map_err(|e| OutboxError::io("encode", &self.path, std::io::Error::other(e)))?;
        buf.push(b'\n');
        let n = buf.len() as u64;
        outbox.reserve(n)?;
        if let Err(e) = self.file.write_all(buf) {
            let _ = self.file.set_len(self.len);
            outbox.release(n);
            return Err(OutboxError::io("write", &self.path, e));
        }
        self.len += n;
        Ok(n)
    }
}

/// Deletes the segments of a seal whose groups are all in the outbox, and gives their bytes
/// back to the cap.
pub(crate) fn delete(outbox: &Outbox, segments: &[(PathBuf, u64)]) -> Result<(), OutboxError> {
    for (path, len) in segments {
        match fs::remove_file(path) {
            Ok(()) => outbox.release(*len),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(OutboxError::io("remove", path, e)),
        }
    }
    Ok(())
}

/// Seals every segment a previous run left, each under the ids of its own name, after creating
/// the segments of the next sequence for run `run` (so that the newest sequence number is
/// never lost). The groups are returned, not stored: the caller stores them like any seal.
/// Nothing here depends on the clock (a group ahead of it is timestamped `cap_hour`).
pub(crate) fn recover(
    outbox: &Outbox,
    run: uuid::Uuid,
    shards: usize,
    max_body: usize,
    cap_hour: u64,
) -> Result<Recovered, OutboxError> {
    let dir = segment_dir(outbox);
    store::ensure_dir(&dir)?;
    let left = segments(&dir)?;
    let next = left.keys().next_back().map_or(0, |(last, _)| last + 1);
    let segments = create_segments(outbox, next, run, shards)?;
    // Read before a copied directory gets a new producer id: an older version's segments keep
    // the ids it would have given them.
    let producer = outbox.producer_id();
    check_origin(outbox);
    let mut damaged = 0;
    let mut sealed = Vec::new();
    for ((seq, run), files) in left {
        let mut windows = Vec::new();
        let mut lens = Vec::new();
        for path in files {
            let mut sums = Sums::default();
            let (len, bad) = replay(&path, &mut sums)?;
            damaged += bad;
            windows.extend(sums.take());
            lens.push((path, len));
        }
        let ids = match run {
            Some(run) => Ids::Run { run, seq },
            None => Ids::Legacy { producer, seq },
        };
        let groups = groups(&ids, windows, max_body, cap_hour);
        if groups.is_empty() {
            // Nothing to store (the newest sequence of a clean stop): gone now.
            delete(outbox, &lens)?;
            continue;
        }
        sealed.push(Sealed {
            groups,
            enqueued: 0,
            segments: lens,
            journaled: true,
        });
    }
    Ok(Recovered {
        segments,
        next,
        sealed,
        damaged,
    })
}

/// Reads a segment file's events into `sums`. Returns its length and the number of damaged
/// lines. A last line without its newline is a write the process died in (never
/// acknowledged): ignored.
fn replay(path: &Path, sums: &mut Sums) -> Result<(u64, u64), OutboxError> {
    let bytes = fs::read(path).map_err(|e| OutboxError::io("read", path, e))?;
    let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let mut damaged = 0;
    for line in bytes[..complete].split(|b| *b == b'\n') {
        if line.is_empty() {
            continue;
        }
        match parse_line(line) {
            Some(event) => sums.apply(event),
            None => {
                damaged += 1;
                log::warn!(target: "suger_metering", "meter: skipped a damaged journal line in {}: {}", path.display(), String::from_utf8_lossy(line));
            }
        }
    }
    Ok((bytes.len() as u64, damaged))
}

fn parse_line(line: &[u8]) -> Option<Event> {
    let v: serde_json::Value = serde_json::from_slice(line).ok()?;
    match v.as_array()?.as_slice() {
        [hour, ent, dim, q] => Some(Event::V1 {
            hour: hour.as_u64()?,
            entitlement: ent.as_str().filter(|s| !s.is_empty())?.to_owned(),
            dimension: dim.as_str().filter(|s| !s.is_empty())?.to_owned(),
            quantity: Some(f64::from_bits(q.as_u64()?)).filter(|q| q.is_finite() && *q >= 0.0)?,
        }),
        [hour, ent, record] => Some(Event::V2 {
            hour: hour.as_u64()?,
            entitlement: ent.as_str().filter(|s| !s.is_empty())?.to_owned(),
            record: serde_json::from_value::<MeteringUsageRecord>(record.clone()).ok()?,
        }),
        _ => None,
    }
}

/// The device and inode of `dir`, as `<outbox>/meter/origin` records them.
#[cfg(unix)]
fn identity(dir: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let m = fs::metadata(dir).ok()?;
    Some(format!("{}:{}\n", m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn identity(_dir: &Path) -> Option<String> {
    None
}

/// Detects a copied or restored outbox directory (its device and inode are not those recorded
/// in `meter/origin`): makes a new `producer-id` and warns. Records the directory's identity on
/// first use. Failures are logged only: the meter's ids do not depend on this.
fn check_origin(outbox: &Outbox) {
    let Some(here) = identity(outbox.dir()) else {
        return;
    };
    let path = segment_dir(outbox).join("origin");
    let recorded = fs::read_to_string(&path).ok();
    if recorded.as_deref() == Some(here.as_str()) {
        return;
    }
    if recorded.is_some() {
        log::warn!(
            target: "suger_metering",
            "meter: the outbox {} is a copy of another directory (restored, or built into an image after a run): it gets a new producer-id; usage journaled before the copy is reported under the original's ids, so a copy of pending usage is billed once",
            outbox.dir().display()
        );
        let producer = outbox.dir().join("producer-id");
        let id = format!("{}\n", uuid::Uuid::new_v4());
        if let Err(e) = store::write_durable(outbox.tmp_dir(), &producer, id.as_bytes()) {
            log::warn!(target: "suger_metering", "meter: cannot make a new producer-id: {e}");
            return;
        }
    }
    if let Err(e) = store::write_durable(outbox.tmp_dir(), &path, here.as_bytes()) {
        log::warn!(target: "suger_metering", "meter: cannot record the outbox's origin: {e}");
    }
}
