//! The database file itself: one server per file, and a file moved or
//! deleted under a running server noticed before it loses a write.
//!
//! Two servers on one file would each trust what they remember of it (the
//! writer's map of job row ids), so one could write a worker into a job the
//! other had deleted and recreated. A server therefore holds an exclusive
//! `flock` on `DB.lock` beside the database for its whole life; a second one
//! is refused with the process that holds it. The lock is on a file of its
//! own because closing any descriptor of the database would drop SQLite's
//! own (POSIX) locks on it, and a refused lock closes its descriptor.
//! (Programs that open the database with SQLite, a backup or `sqlite3`,
//! take no `flock` and are not kept out.)
//!
//! SQLite keeps writing to a file that has been deleted or renamed: the
//! process still holds it open, so every update is acknowledged and then
//! lost at the next restart. Around each batch the writer compares the
//! file at the path (and its `-wal`) with the one it opened.

use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::{StoreError, path_text};

/// The locked database file of a running server.
#[derive(Debug)]
pub struct DbFile {
    path: PathBuf,
    /// Holds the `flock` on `DB.lock` while the server runs.
    lock: File,
    /// The database's and the log's identities, once the writer has
    /// opened them.
    opened: Option<(Identity, Option<Identity>)>,
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
    /// Takes the lock on the database at `path` (creating `DB.lock`); fails
    /// when another process holds it.
    pub fn lock(path: &Path) -> Result<DbFile, StoreError> {
        let lock_path = beside(path, ".lock");
        let io_error = |source| StoreError::File {
            path: path_text(&lock_path),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(io_error)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let holder = file
                    .metadata()
                    .ok()
                    .and_then(|m| flock_holder(m.dev(), m.ino()));
                return Err(StoreError::InUse {
                    path: path_text(path),
                    holder,
                });
            }
            Err(TryLockError::Error(e)) => return Err(io_error(e)),
        }
        Ok(DbFile {
            path: path.to_path_buf(),
            lock: file,
            opened: None,
        })
    }

    /// Remembers the database and log files the writer's connection has
    /// open.
    pub(super) fn note_opened(&mut self) {
        if let Some(db) = Identity::of(&self.path) {
            self.opened = Some((db, Identity::of(&beside(&self.path, "-wal"))));
        }
    }

    /// Fails when the file at the path (or its log) is no longer the one
    /// opened: deleted, renamed, or replaced.
    pub fn check(&self) -> Result<(), StoreError> {
        let Some((db, wal)) = self.opened else {
            return Ok(());
        };
        let moved = Identity::of(&self.path) != Some(db)
            || wal.is_some_and(|wal| Identity::of(&beside(&self.path, "-wal")) != Some(wal));
        if moved {
            return Err(self.moved());
        }
        Ok(())
    }

    /// The database file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes free for the database's files on their file system (for an
    /// unprivileged process), or None when the system cannot tell.
    pub fn free_bytes(&self) -> Option<u64> {
        let stat = rustix::fs::fstatvfs(&self.lock).ok()?;
        Some(stat.f_bavail.saturating_mul(stat.f_frsize))
    }

    /// The error a write gets while the file is not in place.
    pub(super) fn moved(&self) -> StoreError {
        StoreError::FileMoved {
            path: path_text(&self.path),
        }
    }
}

/// `path` with `suffix` added to its name: `DB-wal`, `DB.lock`.
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The process holding an `flock` on the file on device `dev` with inode
/// `ino`, from `/proc/locks` (Linux; None elsewhere or when it cannot
/// tell). A line reads `1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF`,
/// the device as hexadecimal major and minor numbers.
fn flock_holder(dev: u64, ino: u64) -> Option<u32> {
    // Linux's encoding of a device number.
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    locks.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (kind, pid, file) = (fields.get(1)?, fields.get(4)?, fields.get(5)?);
        let mut parts = file.split(':');
        let (maj, min, inode) = (parts.next()?, parts.next()?, parts.next()?);
        let same = *kind == "FLOCK"
            && u64::from_str_radix(maj, 16).ok()? == major
            && u64::from_str_radix(min, 16).ok()? == minor
            && inode.parse::<u64>().ok()? == ino;
        same.then(|| pid.parse().ok()).flatten()
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
        std::fs::write(&path, b"")?;
        let mut file = DbFile::lock(&path)?;
        file.note_opened();
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
