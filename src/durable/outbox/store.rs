//! File-system plumbing of the outbox: durable writes (maildir pattern), directory fsync,
//! listing, the send lock and the producer id.
//!
//! Safe from any number of processes at once: temporary files have unique names (process id,
//! counter, random part) and are locked by their writer while they live; a report is published
//! by a hard link that never replaces an existing name.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::error::OutboxError;

/// Unique names for temporary files within this process (with the process id and a random
/// part, unique across processes too).
static TMP_SEQ: AtomicU64 = AtomicU64::new(0);

#[cfg(test)]
thread_local! {
    /// Test seam: the next directory fsync of this thread fails (an I/O error after a rename).
    pub(crate) static FAIL_NEXT_DIR_SYNC: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// A new temporary file in `tmp_dir`, locked (`flock`) by this writer as long as it is open,
/// so that [`clear_tmp`] never removes a file being written.
fn create_tmp(tmp_dir: &Path) -> Result<(File, PathBuf), OutboxError> {
    loop {
        let random = uuid::Uuid::new_v4().as_u128() as u32;
        let tmp = tmp_dir.join(format!(
            "{}.{}.{random:08x}.tmp",
            std::process::id(),
            TMP_SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        match File::create_new(&tmp) {
            Ok(f) => {
                // Best effort: a file system without locks only loses the protection against a
                // concurrent `clear_tmp`, whose removal then fails this write (nothing stored).
                let _ = f.try_lock();
                return Ok((f, tmp));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(OutboxError::io("create", &tmp, e)),
        }
    }
}

/// Writes `bytes` to a new temporary file and fsyncs it.
fn write_tmp(tmp_dir: &Path, bytes: &[u8]) -> Result<(File, PathBuf), OutboxError> {
    let (mut f, tmp) = create_tmp(tmp_dir)?;
    let written = f
        .write_all(bytes)
        .map_err(|e| OutboxError::io("write", &tmp, e))
        .and_then(|()| f.sync_all().map_err(|e| OutboxError::io("fsync", &tmp, e)));
    match written {
        Ok(()) => Ok((f, tmp)),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Writes `bytes` to `dest` so that, at any crash, `dest` is either absent or complete: write a
/// file in `tmp_dir`, fsync it, rename it to `dest`, fsync `dest`'s directory. The rename
/// replaces an existing `dest`.
pub(crate) fn write_durable(tmp_dir: &Path, dest: &Path, bytes: &[u8]) -> Result<(), OutboxError> {
    let mut tries = 0;
    loop {
        let (f, tmp) = write_tmp(tmp_dir, bytes)?;
        match fs::rename(&tmp, dest) {
            Ok(()) => break drop(f),
            // Another process's `clear_tmp` removed the file in the instant between its creation
            // and its lock: write it again.
            Err(e) if e.kind() == io::ErrorKind::NotFound && !tmp.exists() && tries < 3 => {
                tries += 1;
            }
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                return Err(OutboxError::io("rename", dest, e));
            }
        }
    }
    sync_dir(parent(dest))
}

/// What [`publish_new`] did.
#[derive(Debug)]
pub(crate) enum Published {
    /// `dest` holds the bytes, durably (file and directory fsynced).
    Durable,
    /// `dest` holds the bytes, but its directory could not be fsynced: it may not survive a
    /// power cut, and it may be sent.
    Unsynced(OutboxError),
    /// `dest` existed already: nothing was written.
    Exists,
}

/// Publishes `bytes` as `dest` unless `dest` exists, atomically even against other processes:
/// write a locked file in `tmp_dir`, fsync it, hard-link it as `dest` (which never replaces a
/// name), remove the temporary name, fsync `dest`'s directory.
///
/// # Errors
/// Only before the link: nothing was stored.
pub(crate) fn publish_new(
    tmp_dir: &Path,
    dest: &Path,
    bytes: &[u8],
) -> Result<Published, OutboxError> {
    let mut tries = 0;
    let linked = loop {
        let (f, tmp) = write_tmp(tmp_dir, bytes)?;
        let linked = fs::hard_link(&tmp, dest);
        let removed = fs::remove_file(&tmp);
        drop(f);
        match linked {
            // Another process's `clear_tmp` removed the file in the instant between its creation
            // and its lock: write it again.
            Err(e)
                if e.kind() == io::ErrorKind::NotFound
                    && removed.is_err_and(|r| r.kind() == io::ErrorKind::NotFound)
                    && tries < 3 =>
            {
                tries += 1;
            }
            linked => break linked,
        }
    };
    match linked {
        Ok(()) => Ok(match sync_dir(parent(dest)) {
            Ok(()) => Published::Durable,
            Err(e) => Published::Unsynced(e),
        }),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(Published::Exists),
        Err(e) => Err(OutboxError::io("link", dest, e)),
    }
}

fn parent(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new("."))
}

/// fsyncs a directory, so that the names created, renamed or removed in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), OutboxError> {
    #[cfg(test)]
    if FAIL_NEXT_DIR_SYNC.with(|f| f.replace(false)) {
        return Err(OutboxError::io(
            "fsync",
            dir,
            io::Error::other("injected by a test"),
        ));
    }
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| OutboxError::io("fsync", dir, e))
}

/// Creates `dir` if missing.
pub(crate) fn ensure_dir(dir: &Path) -> Result<(), OutboxError> {
    fs::create_dir_all(dir).map_err(|e| OutboxError::io("create directory", dir, e))
}

/// The names of the files in `dir` (not starting with `.`), sorted.
pub(crate) fn list(dir: &Path) -> Result<Vec<String>, OutboxError> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| OutboxError::io("list", dir, e))? {
        let entry = entry.map_err(|e| OutboxError::io("list", dir, e))?;
        if let Some(name) = entry.file_name().to_str()
            && !name.starts_with('.')
        {
            names.push(name.to_owned());
        }
    }
    names.sort_unstable();
    Ok(names)
}

/// Total size of the files directly in `dir` (0 when it does not exist).
pub(crate) fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(|e| e.ok()?.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

/// Takes the send lock: an exclusive lock on `dir/lock`, held as long as the returned file is
/// open. The kernel releases it when the process ends, however it ends.
///
/// # Errors
/// [`OutboxError::Locked`] when another holder has it (another process, or another `Outbox`
/// of this directory in this process).
pub(crate) fn lock(dir: &Path) -> Result<File, OutboxError> {
    let path = dir.join("lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| OutboxError::io("open", &path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(OutboxError::Locked {
            dir: dir.to_path_buf(),
        }),
        Err(TryLockError::Error(e)) => Err(OutboxError::io("lock", &path, e)),
    }
}

/// The producer id kept in `dir/producer-id`, created (UUID v4) on first use; when processes
/// open a new directory at once, one id wins and all read it. A damaged file is an error, never
/// silently replaced: a new producer id would change the meter's ids.
pub(crate) fn producer_id(dir: &Path, tmp_dir: &Path) -> Result<uuid::Uuid, OutboxError> {
    let path = dir.join("producer-id");
    loop {
        match fs::read_to_string(&path) {
            Ok(text) => {
                return uuid::Uuid::parse_str(text.trim()).map_err(|e| {
                    OutboxError::io(
                        "read",
                        &path,
                        io::Error::new(io::ErrorKind::InvalidData, format!("not a UUID: {e}")),
                    )
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let id = uuid::Uuid::new_v4();
                match publish_new(tmp_dir, &path, format!("{id}\n").as_bytes())? {
                    Published::Durable => return Ok(id),
                    Published::Unsynced(e) => return Err(e),
                    Published::Exists => continue,
                }
            }
            Err(e) => return Err(OutboxError::io("read", &path, e)),
        }
    }
}

/// Removes the temporary files in `dir` that no live writer holds (leftovers of a process that
/// died while writing: never acknowledged). Returns how many were removed.
pub(crate) fn clear_tmp(dir: &Path) -> Result<usize, OutboxError> {
    let mut removed = 0;
    for name in list(dir)? {
        let path = dir.join(name);
        let Ok(f) = File::open(&path) else {
            continue; // published or removed meanwhile
        };
        if let Err(TryLockError::WouldBlock) = f.try_lock() {
            continue; // its writer is alive
        }
        match fs::remove_file(&path) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(OutboxError::io("remove", &path, e)),
        }
    }
    Ok(removed)
}
