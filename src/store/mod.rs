//! The SQLite store: opening the file, the schema, the queries, and the one
//! writer thread that commits every change.
//!
//! It knows nothing of HTTP. Writes go through [`Writer`] (group commit on one
//! connection, so no two writers ever contend for the lock); reads use their
//! own connections, each a [`Reader`], which WAL lets run beside the writer.

pub mod backup;
mod checkpoint;
mod file;
mod notices;
mod queries;
mod schema;
mod slices;
mod tallies;
mod writer;

use std::fmt;
use std::path::Path;

use rusqlite::types::{FromSql, FromSqlResult, ToSqlOutput, ValueRef};

use crate::clock::{Secs, Time};

pub use checkpoint::{checkpoint, truncate};
pub use file::DbFile;
pub use notices::{TurnedStale, set_targets};
pub use queries::{JobRows, Reader, Snapshot};
pub use schema::{MIGRATIONS, open_checkpointer, open_writer, writable_directory};
pub use writer::{Caps, WRITER_DIED_EXIT, Writer, exit_on_writer_death};

/// How often, at most, the writer re-stamps a busy job's row with its
/// latest activity. Between stamps the activity is in its workers' rows;
/// reads take the latest of the two.
pub(crate) const ACTIVITY_STAMP: Secs = Secs(1.0);

/// Why the store turned a request down: the client's doing (a report
/// without the total it needs, a cap reached), answered with a 4xx, as
/// opposed to the faults in the rest of [`StoreError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A worker's first update did not say its total.
    TotalRequired,
    /// A new worker would pass the cap on workers per job.
    TooManyWorkers {
        /// The cap (`--max-workers-per-job`).
        limit: u64,
    },
    /// A `create`'s roster names more workers than a job may have.
    RosterTooLarge {
        /// The workers the roster names.
        size: u64,
        /// The cap (`--max-workers-per-job`).
        limit: u64,
    },
    /// A new job would pass the cap on jobs stored.
    TooManyJobs {
        /// The cap (`--max-jobs`).
        limit: u64,
    },
    /// New workers would pass the cap on workers stored in all jobs.
    TooManyStoredWorkers {
        /// The cap (`--max-workers`).
        limit: u64,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::TotalRequired => {
                write!(f, "a worker's first update must give its total")
            }
            Refusal::RosterTooLarge { size, limit } => write!(
                f,
                "the roster names {size} workers, more than the {limit} a job may have \
                 (--max-workers-per-job); the job was not created"
            ),
            Refusal::TooManyWorkers { limit } => write!(
                f,
                "this job already has {limit} workers, the most allowed \
                 (--max-workers-per-job); the update was not stored"
            ),
            Refusal::TooManyJobs { limit } => write!(
                f,
                "the server already holds {limit} jobs, the most allowed (--max-jobs); \
                 delete jobs or wait for old ones to expire"
            ),
            Refusal::TooManyStoredWorkers { limit } => write!(
                f,
                "the server already holds {limit} workers in all its jobs, the most allowed \
                 (--max-workers); delete jobs or wait for old ones to expire"
            ),
        }
    }
}

/// What can go wrong in the store.
#[derive(Debug)]
pub enum StoreError {
    /// The database file could not be opened or prepared.
    Open {
        /// The file.
        path: String,
        /// SQLite's reason.
        source: rusqlite::Error,
    },
    /// The database's directory is missing or cannot be written to.
    Directory {
        /// The directory.
        dir: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The database file could not be opened or locked.
    File {
        /// The file.
        path: String,
        /// The system's reason.
        source: std::io::Error,
    },
    /// Another process (another progressd) holds the database file.
    InUse {
        /// The file.
        path: String,
        /// The process holding it, when the system says.
        holder: Option<u32>,
    },
    /// The database's pages are damaged (found by `quick_check` at start).
    Damaged {
        /// The file.
        path: String,
        /// The first problem SQLite found.
        problem: String,
    },
    /// The database file was deleted, renamed or replaced while the server
    /// ran: writes would go to a file no longer there.
    FileMoved {
        /// The file.
        path: String,
    },
    /// The database was written by a newer progressd.
    NewerSchema {
        /// The schema version found in the file.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// A query or statement failed.
    Sqlite(rusqlite::Error),
    /// The batch this write was in could not be committed; nothing of it was
    /// stored.
    CommitFailed(String),
    /// The writer thread is gone (the server is shutting down).
    WriterStopped,
    /// A copy of the database started over: a write failed and was rolled
    /// back whole while it was made (see `Writer::copy_into`).
    CopyStartedOver,
    /// The writer did not commit a probe within this long (`/healthz`).
    WriterSlow(std::time::Duration),
    /// The writer answered an operation with the outcome of another kind
    /// (a bug).
    WrongAnswer(String),
    /// The client's request was turned down (see [`Refusal`]).
    Refusal(Refusal),
    /// One update of a batch failed, so none of the batch was stored.
    InBatch {
        /// Its place in the batch, from 0.
        index: usize,
        /// Why it failed.
        error: Box<StoreError>,
    },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Open { path, source } => {
                write!(f, "cannot open database {path}: {source}")
            }
            StoreError::Directory { dir, problem } => {
                write!(f, "cannot use database directory {dir}: {problem}")
            }
            StoreError::File { path, source } => {
                write!(f, "cannot open database {path}: {source}")
            }
            StoreError::InUse { path, holder } => {
                let by = holder.map_or(String::new(), |pid| format!(" (process {pid})"));
                write!(
                    f,
                    "database {path} is in use by another progressd{by}; stop it first, \
                     or give this one another --db file"
                )
            }
            StoreError::Damaged { path, problem } => write!(
                f,
                "database {path} is damaged ({problem}); restore it from a backup, or move \
                 it aside to start with an empty one"
            ),
            StoreError::FileMoved { path } => write!(
                f,
                "database {path} was deleted or moved while progressd ran; nothing is \
                 stored until it is back (restart progressd to start a new one there)"
            ),
            StoreError::NewerSchema { found, supported } => write!(
                f,
                "database schema version {found} is newer than this progressd supports \
                 ({supported}); upgrade progressd or use another --db file"
            ),
            StoreError::Sqlite(e) => write!(f, "database error: {e}"),
            StoreError::CommitFailed(reason) => {
                write!(f, "update not stored, commit failed: {reason}")
            }
            StoreError::WriterStopped => write!(f, "the database writer has stopped"),
            StoreError::CopyStartedOver => write!(
                f,
                "a write failed while the copy was made, and SQLite started the copy over"
            ),
            StoreError::WrongAnswer(what) => {
                write!(f, "the database writer answered {what}")
            }
            StoreError::WriterSlow(within) => write!(
                f,
                "the database writer did not commit a write within {} ms",
                within.as_millis()
            ),
            StoreError::Refusal(refusal) => refusal.fmt(f),
            StoreError::InBatch { index, error } => write!(
                f,
                "update {} of the batch: {error}; nothing of the batch was stored",
                index + 1
            ),
        }
    }
}

// Display already includes the SQLite error, so `source` stays empty and a
// logged cause chain says it once.
impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        StoreError::Sqlite(e)
    }
}

impl StoreError {
    /// True for faults that may pass (a busy or full disk), as opposed to a
    /// bug or a broken file.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::CommitFailed(_)
            | StoreError::CopyStartedOver
            | StoreError::WriterStopped
            | StoreError::WriterSlow(_)
            | StoreError::FileMoved { .. } => true,
            StoreError::InBatch { error, .. } => error.is_transient(),
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseBusy
                    | rusqlite::ErrorCode::DatabaseLocked
                    | rusqlite::ErrorCode::DiskFull
                    | rusqlite::ErrorCode::SystemIoFailure
                    | rusqlite::ErrorCode::OutOfMemory
            ),
            _ => false,
        }
    }
}

fn path_text(path: &Path) -> String {
    path.display().to_string()
}

// Times and lengths of time are kept as REAL seconds (Unix seconds for a
// time), as the API shows them.

impl rusqlite::ToSql for Time {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_unix()))
    }
}

impl FromSql for Time {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Time> {
        f64::column_result(value).map(Time::unix)
    }
}

impl rusqlite::ToSql for Secs {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.get()))
    }
}

impl FromSql for Secs {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Secs> {
        f64::column_result(value).map(Secs)
    }
}
