//! The meter's journal: numbered, append-only segment files in `<outbox>/meter/`, one per shard.
//!
//! `segment-<seq>-<shard>.log` holds the events a shard took since seal `seq - 1`, one JSON
//! line each: `[hour, "entitlement", "dimension", quantity bits]` (v1; the `f64`'s bits, so that
//! a replay sums exactly the same numbers) or `[hour, "entitlement", {record}]` (v2).
//!
//! Sealing creates the files of `seq + 1` first, then enqueues the groups of `seq` under ids
//! derived from `seq`, then deletes the files of `seq`. So the newest sequence number is
//! always on disk (it is the seal counter, also without journaling), and on start every
//! segment left is sealed again under its own number: the same events give the same ids.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::window::{Event, Sums};
use crate::api::usage_record_group::MeteringUsageRecord;
use crate::durable::outbox::store;
use crate::durable::outbox::{Outbox, OutboxError};

/// A shard's segment being appended to.
#[derive(Debug)]
pub(crate) struct Segment {
    pub(crate) path: PathBuf,
    file: File,
    /// Its length: bytes counted against the outbox's cap.
    pub(crate) len: u64,
}

pub(crate) fn segment_dir(outbox: &Outbox) -> PathBuf {
    outbox.dir().join("meter")
}

/// The segment files in `dir` by sequence number, each sequence's files in shard order.
pub(crate) fn segments(dir: &Path) -> Result<BTreeMap<u64, Vec<PathBuf>>, OutboxError> {
    let mut by_seq: BTreeMap<u64, Vec<(u32, PathBuf)>> = BTreeMap::new();
    for name in store::list(dir)? {
        let parsed = name
            .strip_prefix("segment-")
            .and_then(|n| n.strip_suffix(".log"))
            .and_then(|n| n.split_once('-'))
            .and_then(|(seq, shard)| Some((seq.parse::<u64>().ok()?, shard.parse::<u32>().ok()?)));
        if let Some((seq, shard)) = parsed {
            by_seq
                .entry(seq)
                .or_default()
                .push((shard, dir.join(&name)));
        }
    }
    Ok(by_seq
        .into_iter()
        .map(|(seq, mut files)| {
            files.sort();
            (seq, files.into_iter().map(|(_, p)| p).collect())
        })
        .collect())
}

impl Segment {
    /// Creates the empty segment `seq` of `shard`. The caller fsyncs the directory.
    pub(crate) fn create(dir: &Path, seq: u64, shard: usize) -> Result<Segment, OutboxError> {
        let path = dir.join(format!("segment-{seq:020}-{shard:02}.log"));
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| OutboxError::io("create", &path, e))?;
        Ok(Segment { path, file, len: 0 })
    }

    /// Appends one event line with a single `write`, counted against the outbox's cap. On
    /// failure the file is cut back to where it was: nothing of the event remains.
    pub(crate) fn append(
        &mut self,
        buf: &mut Vec<u8>,
        outbox: &Outbox,
        event: &impl Serialize,
    ) -> Result<(), OutboxError> {
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
        Ok(())
    }
}

/// Deletes a sealed segment file (once its groups are in the outbox).
pub(crate) fn delete(path: &Path) -> Result<(), OutboxError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(OutboxError::io("remove", path, e)),
    }
}

/// Reads a segment file's events into `sums`. Returns its length and the number of damaged
/// lines. A last line without its newline is a write the process died in (never
/// acknowledged): ignored.
pub(crate) fn replay(path: &Path, sums: &mut Sums) -> Result<(u64, u64), OutboxError> {
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
