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
//! write rate, as long as reads end: the writer waits at most
//! [`EMPTY_WAIT`] for them, at most once per [`EMPTY_EVERY`], so a reader
//! that never pauses grows the log rather than stalling every update. A
//! read that outlasts wait after wait (a backup, a `sqlite3` session left
//! open on the file) is waited for ever less often, every 2, 4… up to
//! [`EMPTY_EVERY`] times 2^[`MAX_DOUBLINGS`] seconds, until a wait empties
//! the log: it costs the updates one wait a minute, not one a second.
//!
//! On a small disk both limits shrink to an eighth and a quarter of the
//! space left: a log that filled the disk could never be copied out again,
//! since copying grows the database file.
//! (Waking the thread instead does not bound it: only one checkpoint runs
//! at a time, so the writer's attempts then find it busy.)

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::schema::BUSY_TIMEOUT;

/// Log pages past which the writer finishes the copy itself, so that the
/// log starts again at its next commit (2 MiB of 4 KiB pages).
pub const WAL_RESTART_PAGES: u32 = 512;

/// Log pages past which the writer waits for readers and empties the log
/// (4 MiB).
pub const WAL_LIMIT_PAGES: u32 = 1024;

/// The least either limit shrinks to on a full disk.
const MIN_RESTART_PAGES: u32 = 16;

/// Bytes a page takes in the log: 4 KiB and its frame header.
const FRAME_BYTES: u64 = 4096 + 24;

/// The longest the writer waits for readers to leave the log.
pub const EMPTY_WAIT: Duration = Duration::from_millis(100);

/// The writer tries to empty the log at most this often.
pub const EMPTY_EVERY: Duration = Duration::from_secs(1);

/// How many times the pause between tries doubles while readers keep the
/// log through every wait: up to 64 times [`EMPTY_EVERY`].
const MAX_DOUBLINGS: u32 = 6;

/// Bytes the log file is cut back to whenever it starts again.
pub const WAL_KEPT_BYTES: i64 = 4 * 1024 * 1024;

/// Copies the log into the database without waiting for anyone: the
/// checkpoint thread's task.
pub fn checkpoint(conn: &Connection) -> rusqlite::Result<()> {
    run(conn, "PASSIVE").map(|_| ())
}

/// Copies the whole log into the database and truncates it to nothing,
/// waiting for readers: at shutdown, so the file on disk is complete by
/// itself, and when the log must be emptied.
pub fn truncate(conn: &Connection) -> rusqlite::Result<()> {
    run(conn, "TRUNCATE").map(|_| ())
}

/// Runs a checkpoint; false when it could not finish, as it says in its
/// row (not as an error): another ran, or readers were in the way. It is
/// simply tried again later: the writer's hook tells whether the log
/// still grows.
fn run(conn: &Connection, mode: &str) -> rusqlite::Result<bool> {
    // `mode` is one of two constants above, never client text.
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |row| {
        Ok(row.get::<_, i64>(0)? == 0)
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
    /// The step for a log of `pages` pages, with `free` bytes left on the
    /// disk (None: not known, or plenty).
    pub fn for_log(pages: u32, free: Option<u64>) -> LogBound {
        let room = free.map_or(u64::MAX, |bytes| bytes / FRAME_BYTES);
        let limit = |share: u64, most: u32, least: u32| {
            u32::try_from(room / share).map_or(most, |pages| pages.clamp(least, most))
        };
        if pages >= limit(4, WAL_LIMIT_PAGES, 2 * MIN_RESTART_PAGES) {
            LogBound::Empty
        } else if pages >= limit(8, WAL_RESTART_PAGES, MIN_RESTART_PAGES) {
            LogBound::Restart
        } else {
            LogBound::Fine
        }
    }
}

/// The writer's side of the bound: after each commit, the step for the
/// log's length (told by SQLite's WAL hook, which the writer installs).
pub struct LogKeeper {
    pages: Arc<AtomicU32>,
    last_emptied: Option<Instant>,
    /// Waits in a row that readers outlasted.
    waits_in_vain: u32,
}

impl LogKeeper {
    /// A keeper that reads the log's length from `pages`.
    pub fn new(pages: Arc<AtomicU32>) -> LogKeeper {
        LogKeeper {
            pages,
            last_emptied: None,
            waits_in_vain: 0,
        }
    }

    /// Copies what the checkpoint thread has not, so that the next commit
    /// starts the log again, or, when readers have kept it from starting
    /// again, waits briefly for them and empties it. `free` tells the
    /// bytes left on the disk.
    pub fn after_commit(&mut self, conn: &Connection, free: impl FnOnce() -> Option<u64>) {
        let pages = self.pages.load(Ordering::Relaxed);
        if pages < MIN_RESTART_PAGES {
            return;
        }
        let done = match LogBound::for_log(pages, free()) {
            LogBound::Fine => return,
            LogBound::Empty if self.may_empty() => {
                log::debug!("write-ahead log at {pages} pages: emptying it");
                self.empty(conn)
            }
            LogBound::Restart | LogBound::Empty => checkpoint(conn),
        };
        // The next commit's hook tells the log's new length; a checkpoint
        // that found another running, or was kept back by a reader, is
        // tried again after it.
        if let Err(e) = done {
            log::warn!("checkpoint after a commit failed: {e}");
        }
    }

    /// After a commit failed: a full disk may be full of log, so empty it
    /// if that may be done now.
    pub fn after_failed_commit(&mut self, conn: &Connection) {
        if self.may_empty()
            && let Err(e) = self.empty(conn)
        {
            log::debug!("emptying the log after a failed commit: {e}");
        }
    }

    fn may_empty(&self) -> bool {
        let pause = EMPTY_EVERY * 2_u32.pow(self.waits_in_vain.min(MAX_DOUBLINGS));
        self.last_emptied.is_none_or(|at| at.elapsed() >= pause)
    }

    fn empty(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        let started = Instant::now();
        conn.busy_timeout(EMPTY_WAIT)?;
        let done = run(conn, "TRUNCATE");
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // Only a wait for readers counts against the next try: one that
        // found the checkpoint thread at work returned at once.
        let waited = started.elapsed() >= EMPTY_WAIT / 2;
        if waited {
            self.last_emptied = Some(started);
        }
        match done {
            Ok(true) => self.waits_in_vain = 0,
            Ok(false) if waited => self.waits_in_vain += 1,
            _ => {}
        }
        done.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_step_grows_with_the_log() {
        let plenty = Some(1 << 40);
        for free in [None, plenty] {
            assert_eq!(LogBound::for_log(0, free), LogBound::Fine);
            assert_eq!(
                LogBound::for_log(WAL_RESTART_PAGES - 1, free),
                LogBound::Fine
            );
            assert_eq!(
                LogBound::for_log(WAL_RESTART_PAGES, free),
                LogBound::Restart
            );
            assert_eq!(LogBound::for_log(WAL_LIMIT_PAGES, free), LogBound::Empty);
            assert_eq!(LogBound::for_log(u32::MAX, free), LogBound::Empty);
        }
        // The file is cut back to no less than the log may hold.
        assert!(WAL_KEPT_BYTES >= i64::from(WAL_LIMIT_PAGES) * 4096);
    }

    #[test]
    fn on_a_small_disk_the_log_may_take_only_a_share_of_what_is_left() {
        // A 2 MiB disk, nearly empty, holds 509 frames: the log starts
        // again within an eighth of that and is emptied at a quarter.
        let free = Some(2 * 1024 * 1024);
        assert_eq!(LogBound::for_log(62, free), LogBound::Fine);
        assert_eq!(LogBound::for_log(63, free), LogBound::Restart);
        assert_eq!(LogBound::for_log(126, free), LogBound::Restart);
        assert_eq!(LogBound::for_log(127, free), LogBound::Empty);
        // A full one: copied out every few pages, never more than a few.
        assert_eq!(
            LogBound::for_log(MIN_RESTART_PAGES, Some(0)),
            LogBound::Restart
        );
        assert_eq!(
            LogBound::for_log(2 * MIN_RESTART_PAGES, Some(0)),
            LogBound::Empty
        );
    }

    /// A database with a commit in its log that a reader, in the middle
    /// of a read, still uses: what keeps the file alive, the writer's
    /// connection and the reader's.
    fn log_held_by_a_reader() -> Result<
        (
            tempfile::TempDir,
            crate::store::DbFile,
            Connection,
            Connection,
        ),
        Box<dyn std::error::Error>,
    > {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("k.sqlite3");
        let (writer, file) = crate::store::open_writer(&path)?;
        writer.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")?;
        let reader = crate::store::schema::open_reader(&path)?;
        reader.execute_batch("BEGIN; SELECT COUNT(*) FROM t;")?;
        writer.execute_batch("INSERT INTO t VALUES (2);")?;
        Ok((dir, file, writer, reader))
    }

    #[test]
    fn a_reader_that_holds_the_log_delays_the_writer_briefly_and_rarely()
    -> Result<(), Box<dyn std::error::Error>> {
        let (_dir, _file, writer, reader) = log_held_by_a_reader()?;
        let pages = Arc::new(AtomicU32::new(WAL_LIMIT_PAGES));
        let mut keeper = LogKeeper::new(Arc::clone(&pages));
        let started = Instant::now();
        keeper.after_commit(&writer, || None);
        let first = started.elapsed();
        // It waited for the reader, but not the connection's usual 10 s.
        assert!(
            first >= EMPTY_WAIT / 2,
            "the reader was in the way: {first:?}"
        );
        assert!(first < Duration::from_secs(2), "waited {first:?}");
        // Tried again at once, it copies without waiting.
        let started = Instant::now();
        keeper.after_commit(&writer, || None);
        assert!(
            started.elapsed() < first,
            "not waited for again within the second"
        );
        reader.execute_batch("COMMIT;")?;
        Ok(())
    }

    #[test]
    fn a_reader_that_outlasts_waits_is_waited_for_ever_less_often()
    -> Result<(), Box<dyn std::error::Error>> {
        let (_dir, _file, writer, reader) = log_held_by_a_reader()?;
        let mut keeper = LogKeeper::new(Arc::new(AtomicU32::new(WAL_LIMIT_PAGES)));
        let ago = |secs: f64| Instant::now().checked_sub(Duration::from_secs_f64(secs));
        for (vain, pause) in [(1, 2.0), (2, 4.0), (3, 8.0)] {
            keeper.last_emptied = ago(pause + 0.1);
            keeper.after_commit(&writer, || None);
            assert_eq!(keeper.waits_in_vain, vain);
            // Not again before the doubled pause, then again after it.
            keeper.last_emptied = ago(pause - 0.1);
            assert!(!keeper.may_empty(), "tried again within {pause} s");
            keeper.last_emptied = ago(pause + 0.1);
            assert!(keeper.may_empty());
        }
        // Once the reader leaves, a wait empties the log and the pause is
        // back to a second.
        reader.execute_batch("COMMIT;")?;
        keeper.last_emptied = ago(8.1);
        keeper.after_commit(&writer, || None);
        assert_eq!(keeper.waits_in_vain, 0);
        keeper.last_emptied = ago(1.1);
        assert!(keeper.may_empty());
        Ok(())
    }
}
