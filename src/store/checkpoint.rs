//! WAL checkpoints, off the writer's path.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses its
//! threshold, so one update in a thousand waited for pages to be copied and
//! the database file synced. The writer connection has it switched off;
//! instead a periodic thread on its own connection copies the log into the
//! database with a PASSIVE checkpoint, which never blocks the writer or a
//! reader. Readers here are short (one query each), so the log is usually
//! fully copied and the writer starts it again from the beginning on its
//! next commit. Should readers keep it from restarting until it passes
//! [`WAL_LIMIT_PAGES`], a TRUNCATE checkpoint waits for them and empties it:
//! that pauses writes briefly, but bounds the file.

use rusqlite::Connection;

/// Log pages past which a checkpoint insists on emptying the log.
pub const WAL_LIMIT_PAGES: i64 = 4096;

/// Bytes the log file is cut back to whenever it starts again.
pub const WAL_KEPT_BYTES: i64 = 16 * 1024 * 1024;

/// What one checkpoint found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// Pages in the log.
    pub log_pages: i64,
    /// Pages of the log now copied into the database.
    pub copied_pages: i64,
}

/// Copies the log into the database without waiting for anyone, and empties
/// it (waiting for readers) if it has grown past [`WAL_LIMIT_PAGES`].
pub fn checkpoint(conn: &Connection) -> rusqlite::Result<Checkpoint> {
    let done = run(conn, "PASSIVE")?;
    if done.log_pages > WAL_LIMIT_PAGES && done.copied_pages < done.log_pages {
        log::info!(
            "write-ahead log at {} pages, readers kept it from restarting: truncating",
            done.log_pages
        );
        return run(conn, "TRUNCATE");
    }
    Ok(done)
}

/// Copies the whole log into the database and truncates it to nothing: at
/// shutdown, so the file on disk is complete by itself.
pub fn truncate(conn: &Connection) -> rusqlite::Result<Checkpoint> {
    run(conn, "TRUNCATE")
}

fn run(conn: &Connection, mode: &str) -> rusqlite::Result<Checkpoint> {
    // `mode` is one of two constants above, never client text.
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |row| {
        Ok(Checkpoint {
            log_pages: row.get(1)?,
            copied_pages: row.get(2)?,
        })
    })
}
