//! Notices: the events a job asked to have announced (`create … notify=`),
//! kept in the database until every target has taken them.
//!
//! A notice is raised inside the transaction of the write that caused it
//! (a report that failed a worker or finished the job, the expiry that
//! deleted it unfinished, the scan that found a worker stale), so it is
//! stored exactly when its cause is, and a restart neither loses nor
//! repeats it. It holds what its message will say, as it was then: the job
//! may be gone by the time it is sent.
//!
//! Each target (a `--notify-url`) has a cursor, the last notice it took;
//! `notify` reads the notices past it, and a notice every target has taken
//! is deleted. Without a target no notice is raised.
//!
//! What a dead receiver can make the file hold is bounded: past
//! [`FOLD_AFTER`] waiting notices of one kind for one job, a new one is
//! folded into the newest (its `more` counts it, its counts move on), and
//! past [`MAX_WAITING`] waiting notices in all, new ones are dropped.
//!
//! It knows nothing of HTTP or of what a message looks like.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;
use super::queries::Reader;
use crate::clock::Time;
use crate::model::{Notice, NoticeCounts, NoticeKind};

/// Waiting notices of one kind for one job beyond which new ones are
/// folded into the newest.
pub const FOLD_AFTER: i64 = 20;

/// Waiting notices beyond which new ones are dropped (each a few hundred
/// bytes of the file).
pub const MAX_WAITING: i64 = 100_000;

/// The SQL condition that job `?1` is finished: it has workers, every one
/// is done, and none of its roster is still to be inserted.
const FINISHED: &str = "(SELECT workers > 0 AND done = workers FROM job_tallies WHERE job = ?1)
                        AND NOT EXISTS (SELECT 1 FROM roster_chunks
                                         WHERE job = ?1 AND waiting > 0)";

/// Raises a [`NoticeKind::Failed`] for worker `workid` of job `job`,
/// which a report has just failed.
pub(super) fn raise_failed(
    conn: &Connection,
    job: i64,
    workid: &str,
    now: Time,
) -> rusqlite::Result<()> {
    raise(conn, job, NoticeKind::Failed, Some(workid), now, 0)
}

/// Raises a [`NoticeKind::Finished`] for job `job`, one of whose workers
/// a report has just done, if that finished the job for the first time.
/// Called once its tallies are written.
pub(super) fn raise_if_finished(conn: &Connection, job: i64, now: Time) -> rusqlite::Result<()> {
    let first_time = conn
        .prepare_cached(&format!(
            "UPDATE jobs SET notified = notified | ?2
              WHERE id = ?1 AND notify & ?2 AND NOT notified & ?2 AND {FINISHED}"
        ))?
        .execute(params![job, NoticeKind::Finished.bit()])?;
    if first_time > 0 {
        raise(conn, job, NoticeKind::Finished, None, now, 0)?;
    }
    Ok(())
}

/// Raises a [`NoticeKind::Expired`] for job `job`, about to be deleted by
/// expiry, unless it is finished.
pub(super) fn raise_expired(conn: &Connection, job: i64, now: Time) -> rusqlite::Result<()> {
    let finished: bool = conn
        .prepare_cached(&format!("SELECT COALESCE({FINISHED}, 0)"))?
        .query_row([job], |row| row.get(0))?;
    if !finished {
        raise(conn, job, NoticeKind::Expired, None, now, 0)?;
    }
    Ok(())
}

/// Workers a stale notice names; the rest of a scan's are counted.
const STALE_NAMED: i64 = 10;

/// The workers of one job that turned stale between two times, found by
/// [`Reader::turned_stale`] and announced by [`raise_stale`].
#[derive(Debug, Clone, PartialEq)]
pub struct TurnedStale {
    /// The job's row id.
    job: i64,
    /// Its last scan, which the window starts after.
    since: Time,
    /// The time the window ends at.
    until: Time,
    /// The first few workers' ids.
    named: Vec<String>,
    /// How many turned stale in all.
    count: i64,
}

/// The workers of job ?1 that turned stale after ?2, up to ?3: the
/// running ones whose `stale_at` falls between, read by the stale-minute
/// index.
const TURNED_STALE: &str = "FROM workers INDEXED BY workers_by_stale_minute
                           WHERE job = ?1
                             AND stale_minute BETWEEN CAST(?2 / 60 AS INTEGER)
                                                  AND CAST(?3 / 60 AS INTEGER)
                             AND state = 'running' AND stale_at > ?2 AND stale_at <= ?3";

impl Reader {
    /// For each job that asked for stale notices, the workers that turned
    /// stale since its last scan, up to `now`; jobs where none did are
    /// left out. A read, so the writer never waits for it however many
    /// turned stale (counting 100,000 takes a while).
    pub fn turned_stale(&self, now: Time) -> Result<Vec<TurnedStale>, StoreError> {
        let snapshot = self.conn.unchecked_transaction()?;
        let jobs: Vec<(i64, Time)> = snapshot
            .prepare_cached(
                "SELECT id, stale_scanned FROM jobs INDEXED BY jobs_notifying
                  WHERE notify <> 0 AND notify & ?1 AND stale_scanned < ?2",
            )?
            .query_map(params![NoticeKind::Stale.bit(), now], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut found = Vec::new();
        for (job, since) in jobs {
            let named: Vec<String> = snapshot
                .prepare_cached(&format!("SELECT workid {TURNED_STALE} LIMIT ?4"))?
                .query_map(params![job, since, now, STALE_NAMED], |row| row.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            if named.is_empty() {
                continue;
            }
            let count = snapshot
                .prepare_cached(&format!("SELECT COUNT(*) {TURNED_STALE}"))?
                .query_row(params![job, since, now], |row| row.get(0))?;
            found.push(TurnedStale {
                job,
                since,
                until: now,
                named,
                count,
            });
        }
        snapshot.finish()?;
        Ok(found)
    }
}

/// Raises the [`NoticeKind::Stale`] notices of `found` (the first workers
/// named, the rest counted in the last one's `more`) and moves each job's
/// last scan to the end of its window; returns how many jobs it announced.
///
/// Each stale spell is announced once: a job whose last scan moved since
/// `found` was read (a scan that raced this one) is skipped, and the next
/// scan starts where this one ended. A worker that reports and stops
/// again turns stale at a later time, in a later window.
pub(super) fn raise_stale(conn: &Connection, found: &[TurnedStale]) -> rusqlite::Result<usize> {
    let mut announced = 0;
    for stale in found {
        let moved = conn
            .prepare_cached(
                "UPDATE jobs SET stale_scanned = ?3 WHERE id = ?1 AND stale_scanned = ?2",
            )?
            .execute(params![stale.job, stale.since, stale.until])?;
        let Some((last, first)) = stale.named.split_last() else {
            continue;
        };
        if moved == 0 {
            continue;
        }
        for workid in first {
            raise(
                conn,
                stale.job,
                NoticeKind::Stale,
                Some(workid),
                stale.until,
                0,
            )?;
        }
        let more = stale.count - stale.named.len() as i64;
        raise(
            conn,
            stale.job,
            NoticeKind::Stale,
            Some(last),
            stale.until,
            more,
        )?;
        announced += 1;
    }
    Ok(announced)
}

/// Raises a notice of `kind` for job `job` (and its worker `workid`),
/// with `more` like events folded into it, if the job asked for that kind
/// and there is a target; folds it into the newest like one past
/// [`FOLD_AFTER`], and drops it past [`MAX_WAITING`].
fn raise(
    conn: &Connection,
    job: i64,
    kind: NoticeKind,
    workid: Option<&str>,
    now: Time,
    more: i64,
) -> rusqlite::Result<()> {
    let wanted: bool = conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM jobs WHERE id = ?1 AND notify & ?2)
                    AND EXISTS (SELECT 1 FROM notice_cursors)",
        )?
        .query_row(params![job, kind.bit()], |row| row.get(0))?;
    if !wanted {
        return Ok(());
    }
    let (like, newest): (i64, Option<i64>) = conn
        .prepare_cached("SELECT COUNT(*), MAX(id) FROM notices WHERE job = ?1 AND kind = ?2")?
        .query_row(params![job, kind.key()], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?;
    // The job's counts now, the roster's workers still to be inserted
    // counted as not started.
    const COUNTS: &str = "t.workers + r.waiting, t.done, t.failed, t.running,
                          t.not_started + r.waiting
                     FROM jobs AS j JOIN job_tallies AS t ON t.job = j.id,
                          (SELECT COALESCE(SUM(waiting), 0) AS waiting FROM roster_chunks
                            WHERE job = ?1) AS r
                    WHERE j.id = ?1";
    if let (true, Some(newest)) = (like >= FOLD_AFTER, newest) {
        conn.prepare_cached(&format!(
            "UPDATE notices SET more = more + 1 + ?3,
                    (workers, done, failed, running, not_started) = (SELECT {COUNTS})
              WHERE id = ?2"
        ))?
        .execute(params![job, newest, more])?;
        return Ok(());
    }
    let waiting: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(id) - MIN(id) + 1, 0) FROM notices")?
        .query_row([], |row| row.get(0))?;
    if waiting >= MAX_WAITING {
        log::warn!(
            "{MAX_WAITING} notices wait for a target: a {} notice of job {job} is dropped",
            kind.key()
        );
        return Ok(());
    }
    conn.prepare_cached(&format!(
        "INSERT INTO notices (at, job, jobid, title, kind, workid, more, desc,
                              workers, done, failed, running, not_started)
         SELECT ?2, j.id, j.jobid, j.desc, ?3, ?4, ?5,
                CASE WHEN ?4 IS NOT NULL
                     THEN (SELECT desc FROM workers
                            WHERE job = ?1 AND sortkey = natural_key(?4)) END,
                {COUNTS}"
    ))?
    .execute(params![job, now, kind.key(), workid, more])?;
    Ok(())
}

/// Makes `targets` the targets: a new one takes the notices raised from
/// now on, one no longer configured is forgotten, and notices every
/// target has taken (all of them, without a target) are deleted.
pub fn set_targets(conn: &mut Connection, targets: &[String]) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    let known: Vec<String> = tx
        .prepare("SELECT target FROM notice_cursors")?
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for gone in known.iter().filter(|t| !targets.contains(t)) {
        log::info!("notices for {gone} are dropped: it is no longer a --notify-url");
        tx.execute("DELETE FROM notice_cursors WHERE target = ?1", [gone])?;
    }
    for target in targets {
        tx.execute(
            "INSERT INTO notice_cursors (target, sent)
             VALUES (?1, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'notices'), 0))
             ON CONFLICT DO NOTHING",
            [target],
        )?;
    }
    forget_taken(&tx)?;
    tx.commit()?;
    Ok(())
}

/// Records that `target` took every notice up to `upto`, and deletes the
/// notices every target has taken.
pub(super) fn mark_sent(conn: &Connection, target: &str, upto: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE notice_cursors SET sent = MAX(sent, ?2) WHERE target = ?1")?
        .execute(params![target, upto])?;
    forget_taken(conn)
}

/// Deletes the notices every target has taken.
fn forget_taken(conn: &Connection) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "DELETE FROM notices
          WHERE id <= COALESCE((SELECT MIN(sent) FROM notice_cursors), (SELECT MAX(id) FROM notices))",
    )?
    .execute([])?;
    Ok(())
}

impl Reader {
    /// Up to `limit` notices `target` has not taken, oldest first.
    pub fn notices_for(&self, target: &str, limit: usize) -> Result<Vec<Notice>, StoreError> {
        let Some(sent) = self
            .conn
            .prepare_cached("SELECT sent FROM notice_cursors WHERE target = ?1")?
            .query_row([target], |row| row.get::<_, i64>(0))
            .optional()?
        else {
            return Ok(Vec::new());
        };
        let notices = self
            .conn
            .prepare_cached(
                "SELECT id, at, kind, jobid, title, workid, desc, more,
                        workers, done, failed, running, not_started
                   FROM notices WHERE id > ?1 ORDER BY id LIMIT ?2",
            )?
            .query_map(
                params![sent, i64::try_from(limit).unwrap_or(i64::MAX)],
                |row| {
                    let kind: String = row.get(2)?;
                    let workid: Option<String> = row.get(5)?;
                    let desc: Option<String> = row.get(6)?;
                    let count = |i| row.get::<_, i64>(i).map(i64::unsigned_abs);
                    let kind = NoticeKind::named(&kind).ok_or_else(|| {
                        rusqlite::Error::FromSqlConversionFailure(
                            2,
                            rusqlite::types::Type::Text,
                            format!("{kind:?} is not a kind of notice").into(),
                        )
                    })?;
                    Ok(Notice {
                        id: row.get(0)?,
                        at: row.get(1)?,
                        kind,
                        jobid: row.get(3)?,
                        title: row.get(4)?,
                        worker: workid.map(|w| (w, desc.unwrap_or_default())),
                        more: count(7)?,
                        counts: NoticeCounts {
                            workers: count(8)?,
                            done: count(9)?,
                            failed: count(10)?,
                            running: count(11)?,
                            not_started: count(12)?,
                        },
                    })
                },
            )?
            .collect::<rusqlite::Result<_>>()?;
        Ok(notices)
    }
}
