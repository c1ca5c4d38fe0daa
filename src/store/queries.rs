//! The SQL: reads for the request threads, and the statements the writer
//! thread runs inside its batches. Every value is a bound parameter.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;
use crate::history;
use crate::model::{Job, JobHistory, JobSummary, Worker, WorkerHistory, natural_cmp};
use crate::params::{CreateJob, WorkerUpdate};

/// The job with this id and all its workers, or `None`.
pub fn read_job(conn: &Connection, jobid: &str) -> Result<Option<Job>, StoreError> {
    // One read transaction, so a job overwritten between the two queries
    // never shows the old header with the new workers.
    let tx = conn.unchecked_transaction()?;
    let job = read_job_in(&tx, jobid)?;
    tx.finish()?;
    Ok(job)
}

fn read_job_in(conn: &Connection, jobid: &str) -> Result<Option<Job>, StoreError> {
    let found = conn
        .prepare_cached(
            "SELECT id, desc, created, updated, maxage, history FROM jobs WHERE jobid = ?1",
        )?
        .query_row([jobid], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                Job {
                    jobid: jobid.to_string(),
                    desc: row.get(1)?,
                    created: row.get(2)?,
                    updated: row.get(3)?,
                    maxage: row.get(4)?,
                    workers: Vec::new(),
                    history: history::decode(row.get_ref(5)?.as_blob_or_null()?),
                },
            ))
        })
        .optional()?;
    let Some((id, mut job)) = found else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached(
        "SELECT workid, current, total, ok, desc, first_seen, updated, history, updates, seq
           FROM workers WHERE job = ?1",
    )?;
    job.workers = stmt
        .query_map([id], |row| {
            Ok(Worker {
                workid: row.get(0)?,
                current: row.get(1)?,
                total: row.get(2)?,
                ok: row.get(3)?,
                desc: row.get(4)?,
                first_seen: row.get(5)?,
                updated: row.get(6)?,
                // Only the newest points are decoded for every read; the
                // whole history only for `history`.
                rate: history::recent_rate(&history::decode_recent(
                    row.get_ref(7)?.as_blob_or_null()?,
                )),
                updates: row.get(8)?,
                seq: row.get::<_, Option<i64>>(9)?.map(i64::unsigned_abs),
            })
        })?
        .collect::<Result<_, _>>()?;
    job.workers
        .sort_by(|a, b| natural_cmp(&a.workid, &b.workid));
    // The job row's stamp may lag its workers' by the stamp interval.
    job.updated = job
        .workers
        .iter()
        .map(|w| w.updated)
        .fold(job.updated, f64::max);
    Ok(Some(job))
}

/// Every worker's history of the job with this id, in natural order of
/// workid, with the job itself (for its burn-up); or only `workid`'s
/// history, without reading the rest of the job. `None` when there is no
/// such job; a worker missing from it gives an empty list.
pub fn read_history(
    conn: &Connection,
    jobid: &str,
    workid: Option<&str>,
) -> Result<Option<JobHistory>, StoreError> {
    let tx = conn.unchecked_transaction()?;
    let job = match workid {
        None => match read_job_in(&tx, jobid)? {
            Some(job) => Some(job),
            None => return Ok(None),
        },
        Some(_) => None,
    };
    let Some(id) = tx
        .prepare_cached("SELECT id FROM jobs WHERE jobid = ?1")?
        .query_row([jobid], |row| row.get::<_, i64>(0))
        .optional()?
    else {
        return Ok(None);
    };
    let mut stmt = tx.prepare_cached(
        "SELECT workid, history FROM workers WHERE job = ?1 AND (?2 IS NULL OR workid = ?2)",
    )?;
    let mut workers = stmt
        .query_map(params![id, workid], |row| {
            Ok(WorkerHistory {
                workid: row.get(0)?,
                points: history::decode(row.get_ref(1)?.as_blob_or_null()?),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    drop(stmt);
    tx.finish()?;
    workers.sort_by(|a, b| natural_cmp(&a.workid, &b.workid));
    Ok(Some(JobHistory { job, workers }))
}

/// The `limit` jobs with the most recent activity, newest first, each with
/// its workers summarised as of `now`. Needs the SQL functions of
/// `open_reader`. The order follows the job rows' stamps, which may lag by
/// the stamp interval; the `updated` reported is exact.
pub fn list_jobs(conn: &Connection, limit: u64, now: f64) -> Result<Vec<JobSummary>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT jobid, desc, created, MAX(stamped, COALESCE(MAX(reported), 0)), maxage,
                COUNT(workid), COALESCE(AVG(percent), 0),
                COALESCE(SUM(state = 'running'), 0), COALESCE(SUM(state = 'done'), 0),
                COALESCE(SUM(state = 'failed'), 0), COALESCE(SUM(state = 'stale'), 0),
                COALESCE(SUM(state = 'not_started'), 0)
           FROM (SELECT j.id, j.jobid, j.desc, j.created, j.updated AS stamped, j.maxage,
                        w.workid, w.updated AS reported,
                        progress_percent(w.current, w.total, w.updates) AS percent,
                        bar_state(w.current, w.total, w.ok, w.first_seen, w.updated, w.updates, ?2)
                            AS state
                   FROM (SELECT * FROM jobs ORDER BY updated DESC, id DESC LIMIT ?1) AS j
                   LEFT JOIN workers AS w ON w.job = j.id)
          GROUP BY id
          ORDER BY stamped DESC, id DESC",
    )?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = stmt
        .query_map(params![limit, now], |row| {
            Ok(JobSummary {
                jobid: row.get(0)?,
                desc: row.get(1)?,
                created: row.get(2)?,
                updated: row.get(3)?,
                maxage: row.get(4)?,
                workers: row.get(5)?,
                percent: row.get(6)?,
                running: row.get(7)?,
                done: row.get(8)?,
                failed: row.get(9)?,
                stale: row.get(10)?,
                not_started: row.get(11)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// The row id, stored `updated` and worker count of a job, or `None`.
pub(super) fn job_row(conn: &Connection, jobid: &str) -> rusqlite::Result<Option<(i64, f64, u64)>> {
    conn.prepare_cached(
        "SELECT id, updated, (SELECT COUNT(*) FROM workers WHERE job = jobs.id)
           FROM jobs WHERE jobid = ?1",
    )?
    .query_row([jobid], |row| {
        let workers: i64 = row.get(2)?;
        Ok((row.get(0)?, row.get(1)?, workers.unsigned_abs()))
    })
    .optional()
}

/// Fails unless the database answers a read.
pub fn check_readable(conn: &Connection) -> Result<(), StoreError> {
    conn.prepare_cached("SELECT COUNT(*) FROM (SELECT 1 FROM jobs LIMIT 1)")?
        .query_row([], |_| Ok(()))?;
    Ok(())
}

/// Jobs and workers stored, and the bytes of the database file and its
/// write-ahead log: for `/metrics`.
pub fn stored_totals(conn: &Connection) -> Result<(u64, u64, u64), StoreError> {
    let (jobs, workers, bytes): (i64, i64, i64) = conn
        .prepare_cached(
            "SELECT (SELECT COUNT(*) FROM jobs), (SELECT COUNT(*) FROM workers),
                    (SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size())",
        )?
        .query_row([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
    let wal = conn
        .path()
        .and_then(|p| std::fs::metadata(format!("{p}-wal")).ok())
        .map_or(0, |m| m.len());
    Ok((
        jobs.unsigned_abs(),
        workers.unsigned_abs(),
        bytes.unsigned_abs() + wal,
    ))
}

/// How many jobs are stored.
pub(super) fn count_jobs(conn: &Connection) -> rusqlite::Result<u64> {
    count(conn, "SELECT COUNT(*) FROM jobs")
}

/// How many workers are stored, in all jobs.
pub(super) fn count_workers(conn: &Connection) -> rusqlite::Result<u64> {
    count(conn, "SELECT COUNT(*) FROM workers")
}

fn count(conn: &Connection, sql: &str) -> rusqlite::Result<u64> {
    conn.prepare_cached(sql)?
        .query_row([], |row| row.get::<_, i64>(0))
        .map(i64::unsigned_abs)
}

/// True when the job has a worker with this id.
pub(super) fn worker_exists(conn: &Connection, job: i64, workid: &str) -> rusqlite::Result<bool> {
    Ok(worker_updates(conn, job, workid)?.is_some())
}

/// How many reports the job's worker with this id has sent (0 for one its
/// roster expects), or `None` when there is no such worker.
fn worker_updates(conn: &Connection, job: i64, workid: &str) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT updates FROM workers WHERE job = ?1 AND workid = ?2")?
        .query_row(params![job, workid], |row| row.get(0))
        .optional()
}

/// What [`write_worker`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WorkerWrite {
    /// A new worker row.
    Inserted,
    /// An existing worker's row.
    Updated,
    /// Nothing: no such worker (or one that has not reported yet), and no
    /// total to give it.
    Missing,
    /// Nothing: the update's seq is below the stored one (a late retry).
    Stale,
}

/// Creates a job, or overwrites one with the same id: title and maxage
/// replaced, created anew, its workers replaced by the `roster` (workers
/// expected, not reported yet), its history started at 0 %. Returns its row
/// id.
pub(super) fn create_job(
    conn: &Connection,
    create: &CreateJob,
    roster: &[String],
    maxage: f64,
    now: f64,
) -> rusqlite::Result<i64> {
    let id: i64 = conn
        .prepare_cached(
            "INSERT INTO jobs (jobid, desc, created, updated, maxage, expires, history)
                  VALUES (?1, ?2, ?3, ?3, ?4, ?3 + ?4, history_push(NULL, ?3, 0))
             ON CONFLICT (jobid) DO UPDATE
                 SET desc = excluded.desc, created = excluded.created,
                     updated = excluded.updated, maxage = excluded.maxage,
                     expires = excluded.expires, history = excluded.history
             RETURNING id",
        )?
        .query_row(params![create.jobid, create.desc, now, maxage], |row| {
            row.get(0)
        })?;
    conn.prepare_cached("DELETE FROM workers WHERE job = ?1")?
        .execute([id])?;
    let mut expect = conn.prepare_cached(
        "INSERT INTO workers (job, workid, current, total, ok, first_seen, updated, updates)
              VALUES (?1, ?2, 0, 0, 1, ?3, ?3, 0)
         ON CONFLICT DO NOTHING",
    )?;
    for workid in roster {
        expect.execute(params![id, workid, now])?;
    }
    Ok(id)
}

/// Records activity on a job now, pushing its expiry back.
pub(super) fn touch_job(conn: &Connection, id: i64, now: f64) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE jobs SET updated = ?2, expires = ?2 + maxage WHERE id = ?1")?
        .execute(params![id, now])?;
    Ok(())
}

/// Adds the job's overall percent now to its burn-up: one pass over its
/// workers.
pub(super) fn chart_job(conn: &Connection, id: i64, now: f64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE jobs
            SET history = history_push(history, ?2,
                    (SELECT COALESCE(AVG(progress_percent(current, total, updates)), 0)
                       FROM workers WHERE job = ?1))
          WHERE id = ?1",
    )?
    .execute(params![id, now])?;
    Ok(())
}

/// Stores a worker's report. Without a total it only updates an existing
/// worker.
pub(super) fn write_worker(
    conn: &Connection,
    job: i64,
    update: &WorkerUpdate,
    now: f64,
) -> rusqlite::Result<WorkerWrite> {
    // Most reports are for a worker that exists: one UPDATE, then an INSERT
    // only for a new one, which tells the writer's count which it was
    // (cheaper than an upsert with RETURNING, which buffers its row). Each
    // report adds a point to the worker's history. ?4 is the total, NULL to
    // keep it (a worker the roster expects has none to keep: its first
    // report needs one). ?8 is the update's seq: one below the stored seq
    // leaves the row alone.
    let seq = update.seq.map(u64::cast_signed);
    let updated = conn
        .prepare_cached(
            "UPDATE workers
                SET current = ?3, total = COALESCE(?4, total), ok = ?5,
                    desc = COALESCE(?7, desc), updated = ?6, updates = updates + 1,
                    first_seen = CASE WHEN updates = 0 THEN ?6 ELSE first_seen END,
                    seq = COALESCE(?8, seq), history = history_push(history, ?6, ?3)
              WHERE job = ?1 AND workid = ?2 AND (?8 IS NULL OR seq IS NULL OR ?8 >= seq)
                AND (?4 IS NOT NULL OR updates > 0)",
        )?
        .execute(params![
            job,
            update.workid,
            update.current,
            update.total,
            update.ok,
            now,
            update.desc,
            seq
        ])?;
    if updated > 0 {
        return Ok(WorkerWrite::Updated);
    }
    let Some(total) = update.total else {
        // No such worker, or one expected without a total yet; or a late
        // retry.
        return Ok(match worker_updates(conn, job, &update.workid)? {
            Some(updates) if updates > 0 => WorkerWrite::Stale,
            _ => WorkerWrite::Missing,
        });
    };
    if update.seq.is_some() && worker_exists(conn, job, &update.workid)? {
        return Ok(WorkerWrite::Stale);
    }
    conn.prepare_cached(
        "INSERT INTO workers (job, workid, current, total, ok, desc,
                              first_seen, updated, seq, history)
              VALUES (?1, ?2, ?3, ?4, ?5, COALESCE(?7, ''), ?6, ?6, ?8,
                      history_push(NULL, ?6, ?3))",
    )?
    .execute(params![
        job,
        update.workid,
        update.current,
        total,
        update.ok,
        now,
        update.desc,
        seq
    ])?;
    Ok(WorkerWrite::Inserted)
}

/// Creates a job that an update names before any `create`.
pub(super) fn create_implicit_job(
    conn: &Connection,
    jobid: &str,
    maxage: f64,
    now: f64,
) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "INSERT INTO jobs (jobid, desc, created, updated, maxage, expires, history)
              VALUES (?1, '', ?2, ?2, ?3, ?2 + ?3, history_push(NULL, ?2, 0))
         RETURNING id",
    )?
    .query_row(params![jobid, now, maxage], |row| row.get(0))
}

/// Deletes the job with this row id and its workers.
pub(super) fn delete_job(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM jobs WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

/// Deletes up to `limit` jobs that expired by `now`, with their workers;
/// returns the ids of the jobs deleted and how many workers each had.
pub(super) fn delete_expired(
    conn: &Connection,
    now: f64,
    limit: usize,
) -> rusqlite::Result<Vec<(String, u64)>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let expired: Vec<(i64, String, i64)> = conn
        .prepare_cached(
            "SELECT id, jobid, (SELECT COUNT(*) FROM workers WHERE job = jobs.id)
               FROM jobs WHERE expires <= ?1 ORDER BY expires LIMIT ?2",
        )?
        .query_map(params![now, limit], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut jobs = Vec::with_capacity(expired.len());
    for (id, jobid, workers) in expired {
        delete_job(conn, id)?;
        jobs.push((jobid, workers.unsigned_abs()));
    }
    Ok(jobs)
}
