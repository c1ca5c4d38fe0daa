//! Copies of a live database, and the check of one.
//!
//! [`copy`] takes a consistent copy with SQLite's online backup API while
//! the service keeps writing. It reads the source on a read-only connection
//! of its own: it never takes the server's lock (`DB.lock`) nor writes to
//! the live file, so it may run beside the server, from another process.
//! The copy is made in one step, one read transaction: a step-wise backup
//! starts again whenever another connection writes, so under a steady
//! stream of updates it might never finish. In WAL mode that read
//! transaction does not block the writer, but the log cannot start again
//! while it lasts (docs/performance.md measures what that costs).
//! It is written to `DEST.tmp`, synced, and renamed, so a crash never
//! leaves half a copy under the final name.
//!
//! [`check`] runs `integrity_check` on a database, again read-only, and
//! counts what it holds. What is copied when, and where copies are kept,
//! is the caller's business (`backups`), as are the messages printed.

use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use super::StoreError;
use super::path_text;
use super::schema::{BUSY_TIMEOUT, MIGRATIONS};
use super::writer::Writer;

/// What can go wrong in taking or checking a copy.
#[derive(Debug)]
pub enum BackupError {
    /// The source database file does not exist.
    Missing {
        /// The file.
        path: String,
    },
    /// The database was written by a newer progressd, whose tables this
    /// one might misread.
    NewerSchema {
        /// The file.
        path: String,
        /// The schema version found in it.
        found: i64,
        /// The newest this build knows.
        supported: i64,
    },
    /// The destination exists and `--force` was not given.
    Exists {
        /// The destination.
        path: String,
    },
    /// The destination is the database itself.
    SameFile {
        /// The destination.
        path: String,
    },
    /// SQLite failed on a file.
    Sqlite {
        /// The file.
        path: String,
        /// SQLite's reason.
        source: rusqlite::Error,
    },
    /// The file system failed on a file.
    Io {
        /// The file.
        path: String,
        /// The system's reason.
        source: std::io::Error,
    },
    /// The server's writer could not make the copy (it stopped, or a bug).
    Server(StoreError),
    /// The source stayed locked through every retry.
    Busy {
        /// The file.
        path: String,
    },
}

impl fmt::Display for BackupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackupError::Missing { path } => write!(f, "database {path} does not exist"),
            BackupError::NewerSchema {
                path,
                found,
                supported,
            } => write!(
                f,
                "database {path} has schema version {found}, newer than this progressd \
                 supports ({supported}); use the progressd that wrote it"
            ),
            BackupError::Exists { path } => write!(
                f,
                "{path} already exists; give --force to replace it, or another name"
            ),
            BackupError::SameFile { path } => {
                write!(f, "{path} is the database itself; give another destination")
            }
            BackupError::Sqlite { path, source } => write!(f, "{path}: {source}"),
            BackupError::Io { path, source } => write!(f, "{path}: {source}"),
            BackupError::Server(e) => write!(f, "the copy was not made: {e}"),
            BackupError::Busy { path } => write!(
                f,
                "database {path} stayed locked through every try; try again"
            ),
        }
    }
}

impl std::error::Error for BackupError {}

/// What a copy took.
#[derive(Debug, Clone, PartialEq)]
pub struct Copied {
    /// Where the copy is.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// How long it took, syncing included.
    pub took: Duration,
}

/// Tries at a source that is locked (only while the server starts up or
/// empties its log) before giving up, a [`LOCKED_PAUSE`] apart.
const LOCKED_TRIES: u32 = 50;

/// The pause between tries at a locked source.
const LOCKED_PAUSE: Duration = Duration::from_millis(100);

/// Copies the database at `source` to `dest`, a consistent snapshot as of
/// the moment the copy starts, while others may write to it. An existing
/// `dest` is replaced only when `replace` is true.
pub fn copy(source: &Path, dest: &Path, replace: bool) -> Result<Copied, BackupError> {
    write_copy(source, dest, replace, |mut to| {
        let from = open_source(source)?;
        copy_pages(&from, &mut to, source)?;
        Ok(to)
    })
}

/// The server's own copy of its database at `source`, made by its
/// `writer` between batches (see [`Writer::copy_into`]): it holds no read
/// transaction and delays updates by about one step. A snapshot as of the
/// moment the copy ends; `dest` as for [`copy`]. Setting `give_up` ends
/// it early, as a failure.
pub fn copy_live(
    writer: &Writer,
    give_up: &Arc<AtomicBool>,
    source: &Path,
    dest: &Path,
    replace: bool,
) -> Result<Copied, BackupError> {
    write_copy(source, dest, replace, |to| {
        // The writer's thread writes the copy: it must not wait for the
        // disk. The file is synced once whole, off that thread.
        to.execute_batch(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -1024;",
        )
        .map_err(|source| BackupError::Sqlite {
            path: path_text(dest),
            source,
        })?;
        writer
            .copy_into(to, Arc::clone(give_up))
            .map_err(|e| match e {
                StoreError::Sqlite(e) => BackupError::Sqlite {
                    path: path_text(source),
                    source: e,
                },
                other => BackupError::Server(other),
            })
    })
}

/// How often what a copy wrote so far is sent to the disk.
const WRITE_OUT_EVERY: Duration = Duration::from_millis(20);

/// Writes a copy of `source` to `dest` through `fill`, which copies the
/// pages into the empty database it is given: into `DEST.tmp`, synced,
/// then renamed.
fn write_copy(
    source: &Path,
    dest: &Path,
    replace: bool,
    fill: impl FnOnce(Connection) -> Result<Connection, BackupError>,
) -> Result<Copied, BackupError> {
    let started = Instant::now();
    if !source.is_file() {
        return Err(BackupError::Missing {
            path: path_text(source),
        });
    }
    if same_file(source, dest) {
        return Err(BackupError::SameFile {
            path: path_text(dest),
        });
    }
    if !replace && dest.exists() {
        return Err(BackupError::Exists {
            path: path_text(dest),
        });
    }
    let partial = beside(dest, ".tmp");
    let sqlite_error = |path: &Path| {
        let path = path_text(path);
        move |source| BackupError::Sqlite { path, source }
    };
    let io_error = |path: &Path| {
        let path = path_text(path);
        move |source| BackupError::Io { path, source }
    };
    // A `.tmp` left by a copy that crashed is not worth keeping.
    match std::fs::remove_file(&partial) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_error(&partial)(e)),
    }
    let written = Connection::open(&partial)
        .map_err(sqlite_error(&partial))
        .and_then(|to| writing_out(&partial, || fill(to)))
        .and_then(|to| {
            // The copy's header says WAL, as the source's does; a copy is
            // one file, so it goes back to a rollback journal (the server
            // sets WAL again when it opens it).
            to.query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(()))
                .map_err(sqlite_error(&partial))?;
            to.close().map_err(|(_, e)| sqlite_error(&partial)(e))
        })
        .and_then(|()| {
            File::open(&partial)
                .and_then(|f| f.sync_all())
                .map_err(io_error(&partial))
        });
    if let Err(e) = written {
        // Half a copy is of no use: nothing is left behind.
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    std::fs::rename(&partial, dest).map_err(io_error(dest))?;
    sync_directory(dest).map_err(io_error(dest))?;
    let bytes = std::fs::metadata(dest).map_err(io_error(dest))?.len();
    Ok(Copied {
        path: dest.to_path_buf(),
        bytes,
        took: started.elapsed(),
    })
}

/// Copies every page in one step: one read transaction on the source,
/// which the writer never waits for. A source locked by a checkpoint that
/// empties the log is tried again.
fn copy_pages(from: &Connection, to: &mut Connection, source: &Path) -> Result<(), BackupError> {
    let backup = Backup::new(from, to).map_err(|e| BackupError::Sqlite {
        path: path_text(source),
        source: e,
    })?;
    for _ in 0..LOCKED_TRIES {
        match backup.step(-1) {
            Ok(StepResult::Done) => return Ok(()),
            Ok(_) => std::thread::sleep(LOCKED_PAUSE),
            Err(e) => {
                return Err(BackupError::Sqlite {
                    path: path_text(source),
                    source: e,
                });
            }
        }
    }
    Err(BackupError::Busy {
        path: path_text(source),
    })
}

/// What [`check`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// `ok`, or the first problems `integrity_check` names, one a line.
    pub integrity: String,
    /// The schema version (`PRAGMA user_version`).
    pub schema_version: i64,
    /// The newest schema version this build knows.
    pub supported: i64,
    /// Jobs stored.
    pub jobs: i64,
    /// Workers stored, in all jobs.
    pub workers: i64,
    /// The database file's size in bytes (without its log).
    pub bytes: u64,
}

impl Checked {
    /// True when every page is sound and this build can read the schema.
    pub fn is_sound(&self) -> bool {
        self.integrity == "ok" && self.schema_version <= self.supported
    }
}

/// How many problems `integrity_check` lists at most.
const PROBLEMS_SHOWN: u32 = 10;

/// Checks the database at `path` read-only: `integrity_check` over every
/// page, then its schema version and counts. A damaged file whose counts
/// cannot be read is reported as found, with counts of -1; only a missing
/// or unreadable file is an error.
pub fn check(path: &Path) -> Result<Checked, BackupError> {
    if !path.is_file() {
        return Err(BackupError::Missing {
            path: path_text(path),
        });
    }
    let conn = open_read_only(path)?;
    let bytes = std::fs::metadata(path)
        .map_err(|source| BackupError::Io {
            path: path_text(path),
            source,
        })?
        .len();
    let integrity = match integrity_problems(&conn) {
        Ok(problems) => problems,
        // A file too broken to even start the check is damaged all the same.
        Err(rusqlite::Error::SqliteFailure(e, message))
            if matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase
            ) =>
        {
            message.unwrap_or_else(|| e.to_string())
        }
        Err(source) => {
            return Err(BackupError::Sqlite {
                path: path_text(path),
                source,
            });
        }
    };
    let count = |sql: &str| conn.query_row(sql, [], |row| row.get(0)).unwrap_or(-1);
    Ok(Checked {
        integrity,
        schema_version: count("PRAGMA user_version"),
        supported: MIGRATIONS.len() as i64,
        jobs: count("SELECT COUNT(*) FROM jobs"),
        workers: count("SELECT COUNT(*) FROM workers"),
        bytes,
    })
}

/// `integrity_check`'s answer: `ok`, or its problems, one a line.
fn integrity_problems(conn: &Connection) -> rusqlite::Result<String> {
    let mut statement = conn.prepare(&format!("PRAGMA integrity_check({PROBLEMS_SHOWN})"))?;
    let rows = statement.query_map([], |row| row.get::<_, String>(0))?;
    let problems = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(problems.join("\n"))
}

/// Opens the database to copy: read-only, and refused when a newer
/// progressd wrote it (its copy could not be served by this one).
fn open_source(path: &Path) -> Result<Connection, BackupError> {
    let conn = open_read_only(path)?;
    let supported = MIGRATIONS.len() as i64;
    let found: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(|source| BackupError::Sqlite {
            path: path_text(path),
            source,
        })?;
    if found > supported {
        return Err(BackupError::NewerSchema {
            path: path_text(path),
            found,
            supported,
        });
    }
    Ok(conn)
}

/// A connection that cannot write: it never checkpoints the log nor
/// deletes it on close, whatever else has the file open. In WAL mode it
/// still needs the `-shm` file, which SQLite creates beside the database
/// if the server has not.
fn open_read_only(path: &Path) -> Result<Connection, BackupError> {
    let sqlite_error = |source| BackupError::Sqlite {
        path: path_text(path),
        source,
    };
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite_error)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sqlite_error)?;
    Ok(conn)
}

/// Runs `work`, which writes the file at `path`, while a thread of its
/// own starts the writing out of what it wrote so far, every
/// [`WRITE_OUT_EVERY`], without waiting for the disk, and drops those
/// pages from the cache. Left to the end, the copy's last sync would have
/// the whole file to write, and the server's own syncs (its checkpoints)
/// would wait behind it on the disk.
fn writing_out<T>(path: &Path, work: impl FnOnce() -> T) -> T {
    let Ok(file) = File::open(path) else {
        return work();
    };
    let (done, finished) = mpsc::channel::<()>();
    let file = &file;
    std::thread::scope(|scope| {
        scope.spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = finished.recv_timeout(WRITE_OUT_EVERY) {
                // Only advice: the final sync writes whatever this missed.
                if let Err(e) = rustix::fs::fadvise(file, 0, None, rustix::fs::Advice::DontNeed) {
                    log::debug!("writing out a copy under way: {e}");
                    return;
                }
            }
        });
        let result = work();
        drop(done);
        result
    })
}

/// True when `dest` names the file at `source` (through links or `..`).
fn same_file(source: &Path, dest: &Path) -> bool {
    match (std::fs::canonicalize(source), canonical_parent(dest)) {
        (Ok(source), Some(dest)) => source == dest,
        _ => false,
    }
}

/// `path` with its directory made canonical (the file need not exist).
fn canonical_parent(path: &Path) -> Option<PathBuf> {
    if let Ok(path) = std::fs::canonicalize(path) {
        return Some(path);
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = std::fs::canonicalize(dir.unwrap_or(Path::new("."))).ok()?;
    Some(dir.join(path.file_name()?))
}

/// `path` with `suffix` added to its name.
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Syncs the directory holding `path`, so that a rename into it survives a
/// power cut.
fn sync_directory(path: &Path) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn a_copy_holds_the_rows_and_checks_sound() -> TestResult {
        let dir = tempfile::tempdir()?;
        let db = dir.path().join("live.sqlite3");
        let (conn, _file) = crate::store::open_writer(&db)?;
        conn.execute_batch(
            "INSERT INTO jobs (id, jobid, created, updated, maxage) VALUES (1, 'j', 0, 0, 60);
             INSERT INTO workers (job, workid, sortkey, current, total, ok, desc, first_seen,
                                  updated)
                 VALUES (1, 'w', natural_key('w'), 3, 10, 1, '', 0, 0);",
        )?;
        let dest = dir.path().join("copy.sqlite3");
        // The server keeps its connection open, lock and all.
        let copied = copy(&db, &dest, false)?;
        assert_eq!(copied.bytes, std::fs::metadata(&dest)?.len());
        assert!(!beside(&dest, ".tmp").exists(), "the .tmp is renamed");
        assert!(!beside(&dest, "-wal").exists(), "the copy is one file");
        let checked = check(&dest)?;
        assert!(checked.is_sound(), "{checked:?}");
        assert_eq!((checked.jobs, checked.workers), (1, 1));
        assert_eq!(checked.schema_version, MIGRATIONS.len() as i64);
        Ok(())
    }

    #[test]
    fn an_existing_destination_is_replaced_only_when_asked() -> TestResult {
        let dir = tempfile::tempdir()?;
        let db = dir.path().join("live.sqlite3");
        let (_conn, _file) = crate::store::open_writer(&db)?;
        let dest = dir.path().join("copy.sqlite3");
        std::fs::write(&dest, b"keep me")?;
        assert!(matches!(
            copy(&db, &dest, false),
            Err(BackupError::Exists { .. })
        ));
        assert_eq!(std::fs::read(&dest)?, b"keep me");
        copy(&db, &dest, true)?;
        assert!(check(&dest)?.is_sound());
        // Never onto the database itself, however it is named.
        let same = dir.path().join(".").join("live.sqlite3");
        assert!(matches!(
            copy(&db, &same, true),
            Err(BackupError::SameFile { .. })
        ));
        Ok(())
    }

    #[test]
    fn a_database_from_a_newer_progressd_is_not_copied() -> TestResult {
        let dir = tempfile::tempdir()?;
        let db = dir.path().join("future.sqlite3");
        Connection::open(&db)?.pragma_update(None, "user_version", 99)?;
        let dest = dir.path().join("copy.sqlite3");
        match copy(&db, &dest, false) {
            Err(e @ BackupError::NewerSchema { found: 99, .. }) => {
                assert!(e.to_string().contains("newer than this progressd"), "{e}");
            }
            other => panic!("expected NewerSchema, got {other:?}"),
        }
        assert!(!dest.exists());
        assert!(
            !beside(&dest, ".tmp").exists(),
            "a failed copy leaves nothing"
        );
        let checked = check(&db)?;
        assert!(!checked.is_sound(), "a schema it cannot read");
        Ok(())
    }

    #[test]
    fn a_missing_source_is_said_plainly() {
        let missing = Path::new("/nonexistent/progressd.sqlite3");
        assert!(matches!(check(missing), Err(BackupError::Missing { .. })));
        assert!(matches!(
            copy(missing, Path::new("/tmp/x"), false),
            Err(BackupError::Missing { .. })
        ));
    }
}
