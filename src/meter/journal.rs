//! The meter's journal: numbered, append-only segment files in `<outbox>/meter/`.
//!
//! Segment `k` holds the events added since seal `k - 1`, one JSON line each:
//! `[hour, "entitlement", "dimension", quantity bits]` (v1; the `f64`'s bits, so that a replay
//! sums exactly the same numbers) or `[hour, "entitlement", {record}]` (v2). Sealing creates segment `k + 1` first, then enqueues the groups of segment `k` under
//! ids derived from `k`, then deletes segment `k`. So the newest segment is always there (it
//! is the seal counter, also without journaling), and a segment that is not the newest was
//! being sealed when the process died: it is sealed again under the same ids.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::window::{Event, Sums};
use crate::outbox::store;
use crate::outbox::{Outbox, OutboxError};
use crate::usage_record_group::MeteringUsageRecord;

/// The segment being appended to.
#[derive(Debug)]
pub(crate) struct Segment {
    pub(crate) seq: u64,
    pub(crate) path: PathBuf,
    file: File,
    /// Its length: bytes counted against the outbox's cap.
    pub(crate) len: u64,
}

pub(crate) fn segment_dir(outbox: &Outbox) -> PathBuf {
    outbox.dir().join("meter")
}

fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("segment-{seq:020}.log"))
}

/// The sequence numbers of the segments in `dir`, ascending.
pub(crate) fn segments(dir: &Path) -> Result<Vec<u64>, OutboxError> {
    let mut seqs: Vec<u64> = store::list(dir)?
        .iter()
        .filter_map(|n| {
            n.strip_prefix("segment-")?
                .strip_suffix(".log")?
                .parse()
                .ok()
        })
        .collect();
    seqs.sort_unstable();
    Ok(seqs)
}

impl Segment {
    /// Creates segment `seq` (empty) and makes its name durable.
    pub(crate) fn create(dir: &Path, seq: u64) -> Result<Segment, OutboxError> {
        let path = segment_path(dir, seq);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| OutboxError::io("create", &path, e))?;
        store::sync_dir(dir)?;
        Ok(Segment {
            seq,
            path,
            file,
            len: 0,
        })
    }

    /// Opens the existing segment `seq` for appending, reads its events into `sums`, and cuts a
    /// torn last line (a write the process died in: never acknowledged). Returns the number of
    /// damaged lines skipped.
    pub(crate) fn reopen(
        dir: &Path,
        seq: u64,
        sums: &mut Sums,
    ) -> Result<(Segment, u64), OutboxError> {
        let path = segment_path(dir, seq);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .map_err(|e| OutboxError::io("open", &path, e))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| OutboxError::io("read", &path, e))?;
        let (complete, damaged) = replay_bytes(&bytes, sums);
        if complete < bytes.len() {
            file.set_len(complete as u64)
                .map_err(|e| OutboxError::io("truncate", &path, e))?;
            file.seek(SeekFrom::End(0))
                .map_err(|e| OutboxError::io("seek", &path, e))?;
        }
        Ok((
            Segment {
                seq,
                path,
                file,
                len: complete as u64,
            },
            damaged,
        ))
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

    /// Deletes the segment file (once its groups are in the outbox).
    pub(crate) fn delete(path: &Path, len: u64, outbox: &Outbox) -> Result<(), OutboxError> {
        match fs::remove_file(path) {
            Ok(()) => {
                outbox.release(len);
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(OutboxError::io("remove", path, e)),
        }
    }
}

/// Reads a closed segment's events into `sums`. Returns its length and the damaged lines.
pub(crate) fn replay_closed(
    dir: &Path,
    seq: u64,
    sums: &mut Sums,
) -> Result<(PathBuf, u64, u64), OutboxError> {
    let path = segment_path(dir, seq);
    let bytes = fs::read(&path).map_err(|e| OutboxError::io("read", &path, e))?;
    let (_, damaged) = replay_bytes(&bytes, sums);
    Ok((path, bytes.len() as u64, damaged))
}

/// Applies every complete line of `bytes` to `sums`. Returns the length of the complete lines
/// and the number of lines that could not be read (skipped, with a warning).
fn replay_bytes(bytes: &[u8], sums: &mut Sums) -> (usize, u64) {
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
                log::warn!(target: "suger_metering", "meter: skipped a damaged journal line: {}", String::from_utf8_lossy(line));
            }
        }
    }
    (complete, damaged)
}

fn parse_line(line: &[u8]) -> Option<Event> {
    let v: serde_json::Value = serde_json::from_slice(line).ok()?;
    match v.as_array()?.as_slice() {
        [hour, ent, dim, q] => Some(Event::V1 {
            hour: hour.as_u64()?,
            entitlement: ent.as_str()?.to_owned(),
            dimension: dim.as_str()?.to_owned(),
            quantity: f64::from_bits(q.as_u64()?),
        }),
        [hour, ent, record] => Some(Event::V2 {
            hour: hour.as_u64()?,
            entitlement: ent.as_str()?.to_owned(),
            record: serde_json::from_value::<MeteringUsageRecord>(record.clone()).ok()?,
        }),
        _ => None,
    }
}
