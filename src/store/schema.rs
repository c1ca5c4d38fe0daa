//! Opening connections: pragmas, numbered migrations, SQL functions.
//!
//! The schema version lives in `PRAGMA user_version`; it is the number of
//! migrations applied. Pending migrations run in one transaction, so a
//! database is never left half-upgraded. A file from a newer progressd is
//! refused rather than misread.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;

use super::checkpoint::WAL_KEPT_BYTES;
use super::tallies;
use super::{DbFile, StoreError, path_text};
use crate::history;
use crate::model::{long_run_rate, natural_key, slow_above, worker_percent};

/// The migrations, in order; migration `i` (0-based) takes the schema from
/// version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_jobs_and_workers.sql"),
    include_str!("../../migrations/0002_expiry_and_rate.sql"),
    include_str!("../../migrations/0003_update_count.sql"),
    include_str!("../../migrations/0004_worker_seq.sql"),
    include_str!("../../migrations/0005_rosters_and_history.sql"),
    include_str!("../../migrations/0006_scale.sql"),
    include_str!("../../migrations/0007_slices.sql"),
    include_str!("../../migrations/0008_writer_tallies.sql"),
    include_str!("../../migrations/0009_roster_size.sql"),
    include_str!("../../migrations/0010_notices.sql"),
];

/// How long a connection waits for a lock before giving up. Only checkpoints
/// and start-up ever take locks that a reader could meet.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a truncating checkpoint waits for readers to finish.
const CHECKPOINT_BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// Opens (creating if missing) and locks the database for writing, checks
/// its pages, sets its pragmas and brings its schema up to date. The lock
/// lasts as long as the [`DbFile`].
pub fn open_writer(path: &Path) -> Result<(Connection, DbFile), StoreError> {
    check_directory(path)?;
    let mut file = DbFile::lock(path)?;
    let open_error = |source| StoreError::Open {
        path: path_text(path),
        source,
    };
    let mut conn = Connection::open(path).map_err(open_error)?;
    set_pragmas(&conn).map_err(open_error)?;
    quick_check(&conn, path)?;
    // WAL is a property of the file, so only the writer needs to set it;
    // `synchronous` is per connection and matters only where commits happen.
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(open_error)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Open {
            path: path_text(path),
            source: rusqlite::Error::InvalidParameterName(format!(
                "journal_mode is {mode}, WAL is needed"
            )),
        });
    }
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(open_error)?;
    // Checkpoints run on their own thread (see `checkpoint`), not inside a
    // commit; when the log starts again its file is cut back to this.
    conn.pragma_update(None, "wal_autocheckpoint", 0)
        .map_err(open_error)?;
    conn.pragma_update(None, "journal_size_limit", WAL_KEPT_BYTES)
        .map_err(open_error)?;
    add_functions(&conn).map_err(open_error)?;
    migrate(&mut conn, MIGRATIONS)?;
    file.note_opened();
    Ok((conn, file))
}

/// Refuses a database whose pages are damaged, which would otherwise start
/// and then fail requests one by one ("database disk image is malformed").
/// `quick_check` reads every page once: about a second per GB.
fn quick_check(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let damaged = |problem: String| StoreError::Damaged {
        path: path_text(path),
        problem,
    };
    match conn.query_row("PRAGMA quick_check(1)", [], |row| row.get::<_, String>(0)) {
        Ok(result) if result == "ok" => Ok(()),
        Ok(problem) => Err(damaged(problem)),
        Err(rusqlite::Error::SqliteFailure(e, message))
            if matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase
            ) =>
        {
            Err(damaged(message.unwrap_or_else(|| e.to_string())))
        }
        Err(e) => Err(StoreError::Open {
            path: path_text(path),
            source: e,
        }),
    }
}

/// Says plainly when the database's directory is missing or read-only,
/// where SQLite would only say "unable to open database file". WAL needs the
/// directory writable even when the file exists: the `-wal` and `-shm`
/// files are created beside it.
fn check_directory(path: &Path) -> Result<(), StoreError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    writable_directory(dir).map_err(|problem| StoreError::Directory {
        dir: path_text(dir),
        problem: format!("{problem}; the database and its -wal and -shm files live there"),
    })
}

/// Says what keeps progressd from creating files in `dir`, if anything:
/// it is missing, or not writable (found by creating a file in it).
pub fn writable_directory(dir: &Path) -> Result<(), String> {
    if !dir.is_dir() {
        return Err(format!(
            "it does not exist; create it first (mkdir -p {})",
            path_text(dir)
        ));
    }
    let probe = dir.join(format!(".progressd-write-test-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(format!("cannot create files in it ({e})")),
    }
}

/// Opens the connection the checkpoint thread uses, on a database that
/// [`open_writer`] has prepared.
pub fn open_checkpointer(path: &Path) -> Result<Connection, StoreError> {
    let open_error = |source| StoreError::Open {
        path: path_text(path),
        source,
    };
    let conn = Connection::open(path).map_err(open_error)?;
    set_pragmas(&conn).map_err(open_error)?;
    // The truncating checkpoint waits for readers this long at most, and
    // writes wait behind it.
    conn.busy_timeout(CHECKPOINT_BUSY_TIMEOUT)
        .map_err(open_error)?;
    conn.pragma_update(None, "journal_size_limit", WAL_KEPT_BYTES)
        .map_err(open_error)?;
    Ok(conn)
}

/// Opens a read-only connection to a database that [`open_writer`] has
/// prepared, with the SQL functions the queries use.
pub(super) fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let open_error = |source| StoreError::Open {
        path: path_text(path),
        source,
    };
    let conn = Connection::open(path).map_err(open_error)?;
    set_pragmas(&conn).map_err(open_error)?;
    conn.pragma_update(None, "query_only", true)
        .map_err(open_error)?;
    add_functions(&conn).map_err(open_error)?;
    Ok(conn)
}

fn set_pragmas(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", true)
}

/// The model's definitions that SQL needs: `progress_percent(current,
/// total, updates)` (to order workers by percent), `history_rate(history)`
/// (to order them by rate), `worker_slow(history, current, first_seen,
/// updated, updates, median)` (to find slow ones, [`slow_above`]),
/// `natural_key(workid)` (the
/// sortkey column) and `history_push(history, time, value)` (the history
/// with a point added, [`history::push`]); and for the writer's reports,
/// `worker_before(…)` ([`tallies::note_before`]).
fn add_functions(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("progress_percent", 3, flags, |ctx| {
        Ok(worker_percent(ctx.get(0)?, ctx.get(1)?, ctx.get(2)?))
    })?;
    conn.create_scalar_function("history_rate", 1, flags, |ctx| {
        let blob = ctx.get_raw(0).as_blob_or_null()?;
        Ok(history::rate(blob))
    })?;
    conn.create_scalar_function("worker_slow", 6, flags, |ctx| {
        let rate = history::rate(ctx.get_raw(0).as_blob_or_null()?);
        let long_run = long_run_rate(ctx.get(1)?, ctx.get(2)?, ctx.get(3)?, ctx.get(4)?);
        let median: Option<f64> = ctx.get(5)?;
        Ok(match (rate, median) {
            (Some(rate), Some(median)) => median > slow_above(rate, long_run),
            _ => false,
        })
    })?;
    conn.create_scalar_function("natural_key", 1, flags, |ctx| {
        Ok(natural_key(ctx.get_raw(0).as_str()?))
    })?;
    conn.create_scalar_function("history_push", 3, flags, |ctx| {
        let blob = ctx.get_raw(0).as_blob_or_null()?;
        Ok(history::push(blob, ctx.get(1)?, ctx.get(2)?))
    })?;
    // Not deterministic: it is called for what it keeps.
    conn.create_scalar_function(
        "worker_before",
        7,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DIRECTONLY,
        |ctx| tallies::note_before(ctx),
    )
}

/// Applies the migrations the database lacks, in one transaction.
pub(crate) fn migrate(conn: &mut Connection, migrations: &[&str]) -> Result<(), StoreError> {
    let supported = migrations.len() as i64;
    let found: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if found > supported {
        return Err(StoreError::NewerSchema { found, supported });
    }
    if found == supported {
        return Ok(());
    }
    let tx = conn.transaction()?;
    for sql in &migrations[found as usize..] {
        tx.execute_batch(sql)?;
    }
    tx.pragma_update(None, "user_version", supported)?;
    tx.commit()?;
    log::info!("database schema upgraded from version {found} to {supported}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Time;

    fn version(conn: &Connection) -> i64 {
        conn.query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("user_version")
    }

    #[test]
    fn migrates_an_empty_database_to_the_latest_version() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("new.sqlite3");
        let (conn, _file) = open_writer(&path)?;
        assert_eq!(version(&conn), MIGRATIONS.len() as i64);
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        assert_eq!(mode, "wal");
        let fk: bool = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?;
        assert!(fk);
        // The tables and the expiry index exist.
        conn.execute_batch(
            "SELECT id, jobid, desc, created, updated, maxage, expires FROM jobs;
             SELECT job, workid, current, total, ok, desc, first_seen, updated,
                    updates, seq, history FROM workers;
             SELECT history FROM jobs;",
        )?;
        let index: String = conn.query_row(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'jobs_by_expiry'",
            [],
            |r| r.get(0),
        )?;
        assert_eq!(index, "jobs_by_expiry");
        Ok(())
    }

    #[test]
    fn upgrades_a_version_1_database_keeping_its_rows() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("old.sqlite3");
        {
            let mut conn = Connection::open(&path)?;
            migrate(&mut conn, &MIGRATIONS[..1])?;
            assert_eq!(version(&conn), 1);
            conn.execute_batch(
                "INSERT INTO jobs (id, jobid, desc, created, updated, maxage)
                     VALUES (1, 'old', 'from v1', 100, 200, 50);
                 INSERT INTO workers (job, workid, current, total, ok, desc, first_seen, updated)
                     VALUES (1, 'w1', 3, 10, 1, '', 100, 200);",
            )?;
        }
        let (conn, _file) = open_writer(&path)?;
        assert_eq!(version(&conn), MIGRATIONS.len() as i64);
        let expires: f64 =
            conn.query_row("SELECT expires FROM jobs WHERE jobid = 'old'", [], |r| {
                r.get(0)
            })?;
        assert_eq!(expires, 250.0);
        let worker: (f64, i64, bool) = conn.query_row(
            "SELECT current, updates, history IS NULL FROM workers WHERE workid = 'w1'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        assert_eq!(
            worker,
            (3.0, 1, true),
            "a reported worker, history from its next report"
        );
        Ok(())
    }

    #[test]
    fn refuses_a_database_from_a_newer_version() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("future.sqlite3");
        {
            let conn = Connection::open(&path)?;
            conn.pragma_update(None, "user_version", 99)?;
        }
        match open_writer(&path) {
            Err(e @ StoreError::NewerSchema { found: 99, .. }) => {
                assert!(e.to_string().contains("newer than this progressd"));
            }
            other => panic!("expected NewerSchema, got {other:?}"),
        }
        Ok(())
    }

    #[test]
    fn refuses_a_database_with_damaged_pages() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("damaged.sqlite3");
        {
            let (conn, _file) = open_writer(&path)?;
            conn.execute_batch(
                "CREATE TABLE filler (x);
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
                 INSERT INTO filler SELECT randomblob(200) FROM n;
                 PRAGMA wal_checkpoint(TRUNCATE);",
            )?;
        }
        // The header stays valid; a page in the middle is overwritten.
        let mut bytes = std::fs::read(&path)?;
        let page = 4096 * 20;
        bytes[page..page + 4096].fill(0x5a);
        std::fs::write(&path, bytes)?;
        match open_writer(&path) {
            Err(e @ StoreError::Damaged { .. }) => {
                assert!(e.to_string().contains("is damaged"), "{e}");
            }
            other => panic!("expected Damaged, got {other:?}"),
        }
        Ok(())
    }

    #[test]
    fn sql_columns_and_functions_match_the_model() -> Result<(), StoreError> {
        use crate::model::{Worker, WorkerState};
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("f.sqlite3");
        let (conn, _file) = open_writer(&path)?;
        conn.execute(
            "INSERT INTO jobs (id, jobid, created, updated, maxage) VALUES (1, 'j', 0, 0, 1)",
            [],
        )?;
        let values = [
            0.0,
            0.081,
            1.0 / 3.0,
            7.0,
            10.0,
            29.0,
            100.0,
            1e17 - 16.0,
            1e17,
        ];
        let mut n = 0;
        for current in values {
            for total in values {
                for ok in [true, false] {
                    for (first_seen, updated, updates) in [
                        (0.0, 0.0, 0),
                        (5.0, 5.0, 1),
                        (0.0, 10.0, 2),
                        (0.0, 600.0, 11),
                        (3.0, 1e5, 7),
                    ] {
                        let w = Worker {
                            workid: format!("w{n}"),
                            ..Worker::with_figures(
                                current,
                                total,
                                ok,
                                Time::unix(first_seen),
                                Time::unix(updated),
                                updates,
                            )
                        };
                        n += 1;
                        conn.execute(
                            "INSERT INTO workers (job, workid, sortkey, current, total, ok,
                                                  first_seen, updated, updates)
                                  VALUES (1, ?1, natural_key(?1), ?2, ?3, ?4, ?5, ?6, ?7)",
                            rusqlite::params![
                                w.workid, current, total, ok, first_seen, updated, updates
                            ],
                        )?;
                        let (state, stale_at, micro, percent): (String, f64, i64, f64) = conn
                            .query_row(
                                "SELECT state, stale_at, percent_micro,
                                    progress_percent(current, total, updates)
                               FROM workers WHERE job = 1 AND workid = ?1",
                                [&w.workid],
                                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                            )?;
                        let expected = match w.state() {
                            WorkerState::NotStarted => "not_started",
                            other => other.as_str(),
                        };
                        assert_eq!(state, expected, "{w:?}");
                        assert_eq!(
                            stale_at.to_bits(),
                            w.stale_at().as_unix().to_bits(),
                            "{w:?}"
                        );
                        assert_eq!(percent, w.percent(), "{w:?}");
                        assert_eq!(micro, (w.percent() * 1e6).round() as i64, "{w:?}");
                    }
                }
            }
        }
        let key: Vec<u8> = conn.query_row("SELECT natural_key('rank12')", [], |r| r.get(0))?;
        assert_eq!(key, natural_key("rank12"));
        Ok(())
    }
}
