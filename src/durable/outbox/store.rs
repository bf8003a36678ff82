//! File-system plumbing of the outbox: durable writes (maildir pattern), directory fsync,
//! listing, the lock and the producer id.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::error::OutboxError;

/// Unique names for temporary files within this process (the lock excludes other processes).
static TMP_SEQ: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to `dest` so that, at any crash, `dest` is either absent or complete: write a
/// file in `tmp_dir`, fsync it, rename it to `dest`, fsync `dest`'s directory. The rename
/// replaces an existing `dest`.
pub(crate) fn write_durable(tmp_dir: &Path, dest: &Path, bytes: &[u8]) -> Result<(), OutboxError> {
    let tmp = tmp_dir.join(format!(
        "{}.{}.tmp",
        std::process::id(),
        TMP_SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let mut f = File::create_new(&tmp).map_err(|e| OutboxError::io("create", &tmp, e))?;
        f.write_all(bytes)
            .map_err(|e| OutboxError::io("write", &tmp, e))?;
        f.sync_all()
            .map_err(|e| OutboxError::io("fsync", &tmp, e))?;
        fs::rename(&tmp, dest).map_err(|e| OutboxError::io("rename", dest, e))
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(dest.parent().unwrap_or(Path::new(".")))
}

/// fsyncs a directory, so that the names created, renamed or removed in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), OutboxError> {
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

/// Opens (creating) `dir/lock` and takes an exclusive lock on it, held as long as the file is
/// open. The kernel releases it when the process ends, however it ends.
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

/// The producer id kept in `dir/producer-id`, created (UUID v4) on first use. A damaged file is
/// an error, never silently replaced: a new producer id would change the meter's ids.
pub(crate) fn producer_id(dir: &Path, tmp_dir: &Path) -> Result<uuid::Uuid, OutboxError> {
    let path = dir.join("producer-id");
    match fs::read_to_string(&path) {
        Ok(text) => uuid::Uuid::parse_str(text.trim()).map_err(|e| {
            OutboxError::io(
                "read",
                &path,
                io::Error::new(io::ErrorKind::InvalidData, format!("not a UUID: {e}")),
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let id = uuid::Uuid::new_v4();
            write_durable(tmp_dir, &path, format!("{id}\n").as_bytes())?;
            Ok(id)
        }
        Err(e) => Err(OutboxError::io("read", &path, e)),
    }
}

/// Removes every file in `dir` (leftover temporary files: never acknowledged).
pub(crate) fn clear(dir: &Path) -> Result<usize, OutboxError> {
    let names = list(dir)?;
    for name in &names {
        let path: PathBuf = dir.join(name);
        fs::remove_file(&path).map_err(|e| OutboxError::io("remove", &path, e))?;
    }
    Ok(names.len())
}
