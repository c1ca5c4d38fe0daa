//! The database file itself: one server per file, and a file moved or
//! deleted under a running server noticed before it loses a write.
//!
//! Two servers on one file would each trust what they remember of it (the
//! writer's map of job row ids), so one could write a worker into a job the
//! other had deleted and recreated. A server therefore holds an exclusive
//! `flock` on the file for its whole life; a second one is refused with the
//! process that holds it. SQLite's own locks are POSIX record locks, which
//! Linux keeps apart from `flock`, so the two never meet. (Other programs
//! that open the file with SQLite, a backup or `sqlite3`, take no `flock`
//! and are not kept out.)
//!
//! SQLite keeps writing to a file that has been deleted or renamed: the
//! process still holds it open, so every update is acknowledged and then
//! lost at the next restart. Before each batch the writer compares the
//! file at the path (and its `-wal`) with the one it opened.

use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::{StoreError, path_text};

/// The locked database file of a running server.
#[derive(Debug)]
pub struct DbFile {
    path: PathBuf,
    /// Holds the `flock`; dropped last (see `Running`), since closing any
    /// descriptor of the file drops the process's POSIX locks on it,
    /// SQLite's included.
    _lock: File,
    opened: Identity,
    /// The log's identity, once the writer has opened it.
    wal: Option<Identity>,
}

/// What tells two files apart: the device and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Identity {
    dev: u64,
    ino: u64,
}

impl Identity {
    fn of(path: &Path) -> Option<Identity> {
        std::fs::metadata(path).ok().map(|m| Identity {
            dev: m.dev(),
            ino: m.ino(),
        })
    }
}

impl DbFile {
    /// Opens (creating if missing) and locks the database file; fails when
    /// another process holds it.
    pub fn lock(path: &Path) -> Result<DbFile, StoreError> {
        let io_error = |source| StoreError::File {
            path: path_text(path),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io_error)?;
        let meta = file.metadata().map_err(io_error)?;
        let opened = Identity {
            dev: meta.dev(),
            ino: meta.ino(),
        };
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(StoreError::InUse {
                    path: path_text(path),
                    holder: flock_holder(opened.ino),
                });
            }
            Err(TryLockError::Error(e)) => return Err(io_error(e)),
        }
        Ok(DbFile {
            path: path.to_path_buf(),
            _lock: file,
            opened,
            wal: None,
        })
    }

    /// Remembers the log file the writer's connection has open.
    pub(super) fn note_wal(&mut self) {
        self.wal = Identity::of(&wal_path(&self.path));
    }

    /// Fails when the file at the path (or its log) is no longer the one
    /// opened: deleted, renamed, or replaced.
    pub fn check(&self) -> Result<(), StoreError> {
        let moved = Identity::of(&self.path) != Some(self.opened)
            || self
                .wal
                .is_some_and(|wal| Identity::of(&wal_path(&self.path)) != Some(wal));
        if moved {
            return Err(self.moved());
        }
        Ok(())
    }

    /// The error a write gets while the file is not in place.
    pub(super) fn moved(&self) -> StoreError {
        StoreError::FileMoved {
            path: path_text(&self.path),
        }
    }
}

fn wal_path(path: &Path) -> PathBuf {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    PathBuf::from(wal)
}

/// The process holding an `flock` on the file with inode `ino`, from
/// `/proc/locks` (Linux; None elsewhere or when it cannot tell). A line
/// reads `1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF`.
fn flock_holder(ino: u64) -> Option<u32> {
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    locks.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (kind, pid, file) = (fields.get(1)?, fields.get(4)?, fields.get(5)?);
        let inode = file.rsplit(':').next()?.parse::<u64>().ok()?;
        (*kind == "FLOCK" && inode == ino)
            .then(|| pid.parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn a_second_lock_on_the_file_is_refused_with_its_holder() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("db.sqlite3");
        let first = DbFile::lock(&path)?;
        match DbFile::lock(&path) {
            // flock locks belong to the open file, so this process's second
            // open is refused as another process's would be.
            Err(StoreError::InUse { holder, .. }) => {
                assert_eq!(holder, Some(std::process::id()), "/proc/locks names it");
            }
            other => panic!("second lock: {other:?}"),
        }
        drop(first);
        DbFile::lock(&path)?.check()?;
        Ok(())
    }

    #[test]
    fn a_deleted_or_replaced_file_is_noticed_and_one_moved_back_is_fine() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("db.sqlite3");
        let aside = dir.path().join("aside.sqlite3");
        let file = DbFile::lock(&path)?;
        file.check()?;
        std::fs::rename(&path, &aside)?;
        assert!(matches!(file.check(), Err(StoreError::FileMoved { .. })));
        // Another file at the same path is not the one written to.
        std::fs::write(&path, b"")?;
        assert!(matches!(file.check(), Err(StoreError::FileMoved { .. })));
        std::fs::rename(&aside, &path)?;
        file.check()?;
        Ok(())
    }
}
