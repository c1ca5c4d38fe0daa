//! Big writes in slices: a job's roster inserted, and a deleted job's
//! workers deleted, a few hundred rows at a time between the writer's
//! batches, so that an update never waits more than a slice behind them.
//!
//! A job leaves in one operation ([`doom_job`]): its `jobs` row goes, and
//! its tallies with it, so every reader sees it gone at once; its id goes
//! into `doomed_jobs`, and its worker rows are deleted afterwards, a slice
//! at a time. A new job takes an id above every doomed one
//! ([`next_job_id`]), so those rows never show in another job.
//!
//! A roster is queued as chunks of ids ([`queue_roster`]), and the
//! operation that creates the job inserts the first chunk
//! ([`fill_first_chunk`]): a roster of up to [`CHUNK_ROWS`] workers is
//! complete at once, a bigger one fills in within about a second per
//! 100,000 workers. Meanwhile readers see the job, with the workers inserted
//! so far: its tallies count rows, so the summary's counts grow to the full
//! roster. A worker of the roster that reports before its slice comes has
//! its row inserted then ([`take_from_roster`]), so an update behaves as if
//! the roster were complete, and the slice later skips it. The writer
//! counts the whole roster from the start against its caps: rows stored
//! plus roster ids `waiting`.
//!
//! The work left is in the file (`doomed_jobs`, `roster_chunks`, migration
//! 0007), so a restart resumes it. The writer runs a slice ([`Backlog`])
//! after a batch's answers, once it has spent as long on batches as on the
//! last slice (so while updates keep coming, slices take at most half its
//! time), and one slice after another while nothing else waits. Slices
//! also copy the log they write into the database, a slice's worth at a
//! time ([`LOG_SLICE_PAGES`]): left to the log's upkeep after a commit
//! (`checkpoint`), it came in lumps of 512 pages that held the writer 6 ms.
//!
//! What to delete or create is decided by the operations (`writer`,
//! `queries`); this module only carries it out.

use crate::clock::Time;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use super::checkpoint;
use super::queries;
use crate::model::Roster;
use crate::model::natural_key;

/// Ids in a chunk of a roster, and the most worker rows one statement of
/// a slice deletes: about half a millisecond of work on the 2-core machine
/// of issue 12 (500 took 1–4 ms), so a slice ends soon after its
/// [`SLICE_TIME`].
pub(super) const CHUNK_ROWS: u64 = 250;

/// A slice takes chunks until it has run this long (then it commits):
/// with its last chunk and its commit, 1–2 ms. (2 ms gave the same update
/// latency within the noise of a shared machine, and filled rosters in
/// 0.4 s instead of 0.6 s, but a slice is what an update may wait for.)
pub(super) const SLICE_TIME: Duration = Duration::from_millis(1);

/// Pages added to the write-ahead log since the last copy after which a
/// slice copies the log into the database instead of taking chunks:
/// about as long as a slice (measured: 512 pages took 5–7 ms).
pub(super) const LOG_SLICE_PAGES: u32 = 200;

/// A not-started worker of a roster, stamped with the time of its slice.
/// Stamping it then, not at the job's creation, keeps `status?since=`
/// whole: a poll that has seen a batch's time sees every row stamped up
/// to it.
const ROSTER_ROW: &str = "INSERT INTO workers (job, workid, sortkey, current, total, ok,
                                               first_seen, updated, updates)
                              VALUES (?1, ?2, ?3, 0, 0, 1, ?4, ?4, 0)
                         ON CONFLICT DO NOTHING";

/// The id for a new job: above every stored job's and every doomed job's.
pub(super) fn next_job_id(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "SELECT MAX((SELECT COALESCE(MAX(id), 0) FROM jobs),
                    (SELECT COALESCE(MAX(job), 0) FROM doomed_jobs)) + 1",
    )?
    .query_row([], |row| row.get(0))
}

/// Deletes the job with this id for every reader, leaving its worker rows
/// to the slices; the rest of its roster is dropped.
pub(super) fn doom_job(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    // Only a job with rows has anything left to delete.
    conn.prepare_cached(
        "INSERT INTO doomed_jobs (job) SELECT job FROM job_tallies WHERE job = ?1 AND workers > 0",
    )?
    .execute([id])?;
    conn.prepare_cached("DELETE FROM roster_chunks WHERE job = ?1")?
        .execute([id])?;
    // Its tallies go with it (trigger `jobs_tally_end`).
    conn.prepare_cached("DELETE FROM jobs WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

/// Queues the roster of the new job `job`, in chunks of [`CHUNK_ROWS`].
pub(super) fn queue_roster(conn: &Connection, job: i64, roster: &Roster) -> rusqlite::Result<()> {
    let mut chunk = conn.prepare_cached(
        "INSERT INTO roster_chunks (job, first, size, ids, waiting) VALUES (?1, ?2, ?3, ?4, ?3)",
    )?;
    match roster {
        Roster::Open => {}
        Roster::Count(n) => {
            let mut first = 0;
            while first < *n {
                let size = CHUNK_ROWS.min(n - first);
                let ids: Option<String> = None;
                chunk.execute(params![job, first.cast_signed(), size.cast_signed(), ids])?;
                first += size;
            }
        }
        Roster::Ids(ids) => {
            let mut first = 0_u64;
            for part in ids.chunks(CHUNK_ROWS as usize) {
                // Ids hold no control characters (`params::forbidden_in_id`),
                // so a newline parts them, and a search for one between
                // newlines finds it alone.
                let mut text = String::from("\n");
                for id in part {
                    text.push_str(id);
                    text.push('\n');
                }
                let size = part.len() as u64;
                chunk.execute(params![job, first.cast_signed(), size.cast_signed(), text])?;
                first += size;
            }
        }
    }
    Ok(())
}

/// Inserts the first chunk of the new job `job`'s roster, if it has one,
/// with its rows stamped `now`.
pub(super) fn fill_first_chunk(conn: &Connection, job: i64, now: Time) -> rusqlite::Result<()> {
    let next = conn
        .prepare_cached(
            "SELECT job, first, size, ids, waiting FROM roster_chunks
              WHERE job = ?1 ORDER BY first LIMIT 1",
        )?
        .query_row([job], Chunk::from_row)
        .optional()?;
    if let Some(chunk) = next {
        chunk.fill(conn, now)?;
    }
    Ok(())
}

/// Inserts the next chunk of any roster, with its rows stamped `now`;
/// false when no roster is waiting.
fn fill_next_chunk(conn: &Connection, now: Time) -> rusqlite::Result<bool> {
    let next = conn
        .prepare_cached(
            "SELECT job, first, size, ids, waiting FROM roster_chunks
              ORDER BY job, first LIMIT 1",
        )?
        .query_row([], Chunk::from_row)
        .optional()?;
    match next {
        Some(chunk) => {
            chunk.fill(conn, now)?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// A chunk of a roster, as queued.
struct Chunk {
    job: i64,
    first: i64,
    size: i64,
    ids: Option<String>,
    waiting: i64,
}

impl Chunk {
    fn from_row(row: &rusqlite::Row) -> rusqlite::Result<Chunk> {
        Ok(Chunk {
            job: row.get(0)?,
            first: row.get(1)?,
            size: row.get(2)?,
            ids: row.get(3)?,
            waiting: row.get(4)?,
        })
    }

    /// Inserts the chunk's workers that have no row yet, tallies them once,
    /// and takes the chunk off the queue.
    fn fill(self, conn: &Connection, now: Time) -> rusqlite::Result<()> {
        let mut insert = conn.prepare_cached(ROSTER_ROW)?;
        let mut inserted = 0_i64;
        let mut put = |workid: &str| -> rusqlite::Result<()> {
            let n = insert.execute(params![self.job, workid, natural_key(workid), now])?;
            inserted += n as i64;
            Ok(())
        };
        match &self.ids {
            None => {
                for n in self.first..self.first + self.size {
                    put(&n.to_string())?;
                }
            }
            Some(text) => {
                for workid in text.split('\n').filter(|id| !id.is_empty()) {
                    put(workid)?;
                }
            }
        }
        tally_roster_rows(conn, self.job, inserted)?;
        conn.prepare_cached("DELETE FROM roster_chunks WHERE job = ?1 AND first = ?2")?
            .execute(params![self.job, self.first])?;
        if inserted != self.waiting {
            // Every other insert of a roster worker goes through
            // `take_from_roster`; a difference would leave the writer's
            // count of stored workers off until a restart.
            log::warn!(
                "roster chunk {} of job row {}: {inserted} rows inserted where {} were waiting",
                self.first,
                self.job,
                self.waiting
            );
        }
        Ok(())
    }
}

/// Adds `rows` not-started workers to the job's tallies: no trigger does
/// (migrations 0007 and 0008), and a report's change from not started is
/// counted by the writer (`tallies`).
fn tally_roster_rows(conn: &Connection, job: i64, rows: i64) -> rusqlite::Result<()> {
    if rows > 0 {
        conn.prepare_cached(
            "UPDATE job_tallies SET workers = workers + ?2, not_started = not_started + ?2
              WHERE job = ?1",
        )?
        .execute(params![job, rows])?;
    }
    Ok(())
}

/// The chunk of the job's roster still waiting that names `workid`, by
/// its `first`.
fn chunk_naming(conn: &Connection, job: i64, workid: &str) -> rusqlite::Result<Option<i64>> {
    // `workers=N` names the ids 0 to N-1, written plainly.
    let number = workid
        .parse::<u64>()
        .ok()
        .filter(|n| n.to_string() == workid)
        .map(u64::cast_signed);
    conn.prepare_cached(
        "SELECT first FROM roster_chunks
          WHERE job = ?1
            AND CASE WHEN ids IS NULL THEN ?3 >= first AND ?3 < first + size
                     ELSE instr(ids, ?2) > 0 END
          LIMIT 1",
    )?
    .query_row(params![job, format!("\n{workid}\n"), number], |row| {
        row.get(0)
    })
    .optional()
}

/// True when the job's roster names `workid` and its chunk has not been
/// inserted yet (its row may be in already, by [`take_from_roster`]).
pub(super) fn roster_names(conn: &Connection, job: i64, workid: &str) -> rusqlite::Result<bool> {
    Ok(chunk_naming(conn, job, workid)?.is_some())
}

/// Inserts the row of a roster worker whose chunk has not been inserted
/// yet, as its slice would (stamped `now`, tallied), so that an update
/// finds it as if the roster were complete. False when the roster does not
/// name it or its row is in already.
pub(super) fn take_from_roster(
    conn: &Connection,
    job: i64,
    workid: &str,
    now: Time,
) -> rusqlite::Result<bool> {
    let Some(first) = chunk_naming(conn, job, workid)? else {
        return Ok(false);
    };
    let inserted =
        conn.prepare_cached(ROSTER_ROW)?
            .execute(params![job, workid, natural_key(workid), now])?;
    if inserted == 0 {
        return Ok(false);
    }
    conn.prepare_cached(
        "UPDATE roster_chunks SET waiting = waiting - 1 WHERE job = ?1 AND first = ?2",
    )?
    .execute(params![job, first])?;
    tally_roster_rows(conn, job, 1)?;
    Ok(true)
}

/// Deletes up to [`CHUNK_ROWS`] worker rows of a doomed job, and forgets
/// the job once it has none; false when no job is doomed.
fn delete_doomed_rows(conn: &Connection) -> rusqlite::Result<bool> {
    let Some(job) = conn
        .prepare_cached("SELECT job FROM doomed_jobs ORDER BY job LIMIT 1")?
        .query_row([], |row| row.get::<_, i64>(0))
        .optional()?
    else {
        return Ok(false);
    };
    // A range of the table's order, up to the chunk's last row. (Deleting
    // the rows named by `workid IN (SELECT … LIMIT n)` rewrote up to a page
    // per row: 700 pages of log for 750 rows, against 25 for a range.)
    let last: Option<Vec<u8>> = conn
        .prepare_cached(
            "SELECT sortkey FROM workers WHERE job = ?1 ORDER BY sortkey LIMIT 1 OFFSET ?2",
        )?
        .query_row(params![job, CHUNK_ROWS.cast_signed() - 1], |row| row.get(0))
        .optional()?;
    match last {
        Some(last) => {
            conn.prepare_cached("DELETE FROM workers WHERE job = ?1 AND sortkey <= ?2")?
                .execute(params![job, last])?;
        }
        None => {
            // Fewer than a chunk left: the last of them.
            conn.prepare_cached("DELETE FROM workers WHERE job = ?1")?
                .execute([job])?;
            conn.prepare_cached("DELETE FROM doomed_jobs WHERE job = ?1")?
                .execute([job])?;
        }
    }
    Ok(true)
}

/// The two kinds of work a slice does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Work {
    /// Insert rosters' workers.
    Rosters,
    /// Delete doomed jobs' workers.
    Deletions,
}

impl Work {
    /// Does one step of this work; false when there is none.
    fn step(self, conn: &Connection, now: Time) -> rusqlite::Result<bool> {
        match self {
            Work::Rosters => fill_next_chunk(conn, now),
            Work::Deletions => delete_doomed_rows(conn),
        }
    }
}

/// The writer's side: whether work is left, and one slice of it at a time.
#[derive(Debug)]
pub(super) struct Backlog {
    /// Whether work may be left: set by every operation that may leave
    /// some, cleared by a slice that finds none.
    pending: bool,
    /// Which work the next slice starts with: they take turns, so a stream
    /// of rosters never holds up deletions, nor the other way round.
    next: Work,
    /// When the last slice ended, and how long it ran.
    last: Option<(Instant, Duration)>,
    /// The log's length (in pages) when a slice last copied it.
    copied_at: u32,
}

impl Backlog {
    /// A backlog that first looks for the work a previous run left.
    pub(super) fn new() -> Backlog {
        Backlog {
            pending: true,
            next: Work::Rosters,
            last: None,
            copied_at: 0,
        }
    }

    /// True while work may be left.
    pub(super) fn pending(&self) -> bool {
        self.pending
    }

    /// True when work may be left and the writer has spent at least as
    /// long since the last slice as that slice took: after a batch, the
    /// time for the next slice.
    pub(super) fn due(&self) -> bool {
        self.pending
            && self
                .last
                .is_none_or(|(ended, took)| ended.elapsed() >= took)
    }

    /// Says that a committed operation may have left work.
    pub(super) fn more(&mut self) {
        self.pending = true;
    }

    /// Stops looking for work until the next [`Backlog::more`]: the file
    /// is not in place, so nothing written would be kept.
    pub(super) fn pause(&mut self) {
        self.pending = false;
    }

    /// Runs one slice at time `now`, the log being `log_pages` long: a
    /// copy of the log into the database once [`LOG_SLICE_PAGES`] were
    /// added to it since the last, else steps of work, in a transaction of
    /// their own, until [`SLICE_TIME`] has passed or none is left. A
    /// failure (a full disk) is logged, and the work waits for the next
    /// operation that may leave some.
    pub(super) fn run_slice(&mut self, conn: &Connection, now: Time, log_pages: u32) {
        let started = Instant::now();
        if log_pages < self.copied_at {
            // The log started again.
            self.copied_at = 0;
        }
        if log_pages - self.copied_at >= LOG_SLICE_PAGES {
            // A checkpoint that finds another running, or readers in the
            // way, is no error: the log's upkeep tries again.
            if let Err(e) = checkpoint::checkpoint(conn) {
                log::debug!("copying the log in a slice failed: {e}");
            }
            self.copied_at = log_pages;
        } else {
            match self.slice(conn, now) {
                Ok(more) => self.pending = more,
                Err(e) => {
                    log::warn!("a slice of deletions or roster inserts failed, retried later: {e}");
                    self.pending = false;
                }
            }
        }
        self.last = Some((Instant::now(), started.elapsed()));
    }

    fn slice(&mut self, conn: &Connection, now: Time) -> rusqlite::Result<bool> {
        let started = Instant::now();
        let first = self.next;
        self.next = match first {
            Work::Rosters => Work::Deletions,
            Work::Deletions => Work::Rosters,
        };
        // Unchecked: the writer's connection is shared with a copy under
        // way (`writer`), and never nests transactions.
        let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
        let mut filled = false;
        let more = loop {
            let work = if first.step(&tx, now)? {
                first
            } else if self.next.step(&tx, now)? {
                self.next
            } else {
                break false;
            };
            filled |= work == Work::Rosters;
            if started.elapsed() >= SLICE_TIME {
                break true;
            }
        };
        if filled {
            // New rows are stamped `now`: so is the writer's clock.
            queries::stamp_clock(&tx, now)?;
        }
        tx.commit()?;
        Ok(more)
    }
}
