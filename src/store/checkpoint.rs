//! WAL checkpoints, and the bound on the log.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses its
//! threshold, so one update in a thousand waited for pages to be copied and
//! the database file synced. The writer connection has it switched off;
//! instead a periodic thread on its own connection copies the log into the
//! database with PASSIVE checkpoints, which never block the writer or a
//! reader.
//!
//! Copying is not enough to bound the file: the log starts again from its
//! beginning only when a write begins with every frame copied, and under a
//! steady stream of commits the writer always adds frames while the thread
//! copies. So the writer watches the log's length after each commit
//! ([`LogBound`]): past [`WAL_RESTART_PAGES`] it copies, between batches,
//! what the thread has not yet copied, so that its next commit starts the
//! log again; and should readers keep the log from starting again until it
//! passes [`WAL_LIMIT_PAGES`], it waits for them and empties the log. The
//! log file therefore stays near [`WAL_LIMIT_PAGES`] plus one batch, at any
//! write rate. (Waking the thread instead does not bound it: only one
//! checkpoint runs at a time, so the writer's attempts then find it busy.)

use rusqlite::Connection;

/// Log pages past which the writer finishes the copy itself, so that the
/// log starts again at its next commit (2 MiB of 4 KiB pages).
pub const WAL_RESTART_PAGES: u32 = 512;

/// Log pages past which the writer waits for readers and empties the log
/// (4 MiB).
pub const WAL_LIMIT_PAGES: u32 = 1024;

/// Bytes the log file is cut back to whenever it starts again.
pub const WAL_KEPT_BYTES: i64 = 4 * 1024 * 1024;

/// What one checkpoint found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// True when another checkpoint was running, so this one did nothing.
    pub busy: bool,
    /// Pages in the log.
    pub log_pages: i64,
    /// Pages of the log now copied into the database.
    pub copied_pages: i64,
}

/// Copies the log into the database without waiting for anyone: the
/// checkpoint thread's task.
pub fn checkpoint(conn: &Connection) -> rusqlite::Result<Checkpoint> {
    run(conn, "PASSIVE")
}

/// Copies the whole log into the database and truncates it to nothing,
/// waiting for readers: at shutdown, so the file on disk is complete by
/// itself, and when the log must be emptied.
pub fn truncate(conn: &Connection) -> rusqlite::Result<Checkpoint> {
    run(conn, "TRUNCATE")
}

fn run(conn: &Connection, mode: &str) -> rusqlite::Result<Checkpoint> {
    // `mode` is one of two constants above, never client text.
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |row| {
        Ok(Checkpoint {
            busy: row.get::<_, i64>(0)? != 0,
            log_pages: row.get(1)?,
            copied_pages: row.get(2)?,
        })
    })
}

/// What the writer does about the log after a commit that left it `pages`
/// long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogBound {
    /// Nothing: the log is short.
    Fine,
    /// Copy what the checkpoint thread has not yet copied (never waits).
    Restart,
    /// Copy everything and empty the log, waiting for readers.
    Empty,
}

impl LogBound {
    /// The step for a log of `pages` pages.
    pub fn for_log(pages: u32) -> LogBound {
        if pages >= WAL_LIMIT_PAGES {
            LogBound::Empty
        } else if pages >= WAL_RESTART_PAGES {
            LogBound::Restart
        } else {
            LogBound::Fine
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_step_grows_with_the_log() {
        assert_eq!(LogBound::for_log(0), LogBound::Fine);
        assert_eq!(LogBound::for_log(WAL_RESTART_PAGES - 1), LogBound::Fine);
        assert_eq!(LogBound::for_log(WAL_RESTART_PAGES), LogBound::Restart);
        assert_eq!(LogBound::for_log(WAL_LIMIT_PAGES), LogBound::Empty);
        assert_eq!(LogBound::for_log(u32::MAX), LogBound::Empty);
        // The file is cut back to no less than the log may hold.
        assert!(WAL_KEPT_BYTES >= i64::from(WAL_LIMIT_PAGES) * 4096);
    }
}
