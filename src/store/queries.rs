//! The SQL: reads for the request threads, and the statements the writer
//! thread runs inside its batches. Every value is a bound parameter.

use crate::clock::{Secs, Time};
use rusqlite::types::Value;
use std::path::Path;

use rusqlite::{CachedStatement, Connection, OptionalExtension, Transaction, params};

use super::StoreError;
use super::notices;
use super::schema::open_reader;
use super::slices;
use super::tallies::{self, Tallies};
use crate::history;
use crate::model::{
    BarState, CreateJob, Job, JobProgress, JobSummary, PageKey, PageStart, Pick, ProgressTally,
    SortBy, Worker, WorkerHistory, WorkerPick, WorkerState, WorkerUpdate, natural_key,
};

/// A request thread's read-only connection to the store. Reads that must
/// agree with each other go through one [`Snapshot`].
pub struct Reader {
    pub(super) conn: Connection,
}

/// One read transaction: every read made through it sees the same
/// committed state, whatever the writer commits meanwhile. Dropping it
/// ends the transaction as [`Snapshot::finish`] does.
pub struct Snapshot<'r> {
    tx: Transaction<'r>,
}

impl Reader {
    /// A read-only connection to a database that [`super::open_writer`]
    /// has prepared.
    pub fn open(path: &Path) -> Result<Reader, StoreError> {
        Ok(Reader {
            conn: open_reader(path)?,
        })
    }

    /// Starts a read transaction.
    pub fn snapshot(&self) -> Result<Snapshot<'_>, StoreError> {
        Ok(Snapshot {
            tx: self.conn.unchecked_transaction()?,
        })
    }

    /// The job with this id and all its workers, or `None`. For jobs small
    /// enough to hold (tests, the crash checker); big ones are read with
    /// [`Snapshot::find_job`] a page at a time.
    pub fn read_job(&self, jobid: &str) -> Result<Option<Job>, StoreError> {
        // One read transaction, so a job overwritten between the two
        // queries never shows the old header with the new workers.
        let snapshot = self.snapshot()?;
        let job = match snapshot.find_job(jobid)? {
            Some(rows) => Some(rows.whole(&snapshot)?),
            None => None,
        };
        snapshot.finish()?;
        Ok(job)
    }

    /// The history of the worker `workid` of the job `jobid`: `None` when
    /// there is no such job, an empty list when it has no such worker.
    pub fn worker_history(
        &self,
        jobid: &str,
        workid: &str,
    ) -> Result<Option<Vec<WorkerHistory>>, StoreError> {
        let found = self
            .conn
            .prepare_cached(
                "SELECT j.id, w.workid, w.history FROM jobs AS j
                   LEFT JOIN workers AS w ON w.job = j.id AND w.sortkey = natural_key(?2)
                  WHERE j.jobid = ?1",
            )?
            .query_row(params![jobid, workid], |row| {
                let workid: Option<String> = row.get(1)?;
                let points = history::decode(row.get_ref(2)?.as_blob_or_null()?);
                Ok(workid.map(|workid| WorkerHistory { workid, points }))
            })
            .optional()?;
        Ok(found.map(|worker| worker.into_iter().collect()))
    }

    /// The `limit` jobs with the most recent activity, newest first, each with
    /// its workers summarised as of `now`, read from the tallies the writer
    /// keeps (no worker row is read but the stale ones, which are counted from
    /// an index). The order follows the job rows' stamps, which may lag by the
    /// stamp interval; the `updated` reported is exact.
    pub fn list_jobs(&self, limit: u64, now: Time) -> Result<Vec<JobSummary>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT j.jobid, j.desc, j.created, MAX(j.updated, COALESCE(t.last_report, 0)),
                    j.maxage, t.workers, t.percent_micro, t.running, t.done, t.failed,
                    t.not_started,
                    (SELECT COUNT(*) FROM workers AS w
                      WHERE w.job = j.id AND w.stale_minute < CAST(?2 / 60 AS INTEGER))
                    + (SELECT COUNT(*) FROM workers AS w
                        WHERE w.job = j.id AND w.stale_minute = CAST(?2 / 60 AS INTEGER)
                          AND w.stale_at < ?2)
               FROM jobs AS j JOIN job_tallies AS t ON t.job = j.id
              ORDER BY j.updated DESC, j.id DESC
              LIMIT ?1",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map(params![limit, now], |row| {
                let workers: i64 = row.get(5)?;
                let percent_micro: i64 = row.get(6)?;
                let running: i64 = row.get(7)?;
                let stale: i64 = row.get(11)?;
                Ok(JobSummary {
                    jobid: row.get(0)?,
                    desc: row.get(1)?,
                    created: row.get(2)?,
                    updated: row.get(3)?,
                    maxage: row.get(4)?,
                    workers,
                    percent: if workers == 0 {
                        0.0
                    } else {
                        percent_micro as f64 / 1e6 / workers as f64
                    },
                    running: running - stale,
                    done: row.get(8)?,
                    failed: row.get(9)?,
                    stale,
                    not_started: row.get(10)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Fails unless the database answers a read.
    pub fn check_readable(&self) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("SELECT COUNT(*) FROM (SELECT 1 FROM jobs LIMIT 1)")?
            .query_row([], |_| Ok(()))?;
        Ok(())
    }

    /// Jobs and workers stored, and the bytes of the database file and its
    /// write-ahead log: for `/metrics`.
    pub fn stored_totals(&self) -> Result<(u64, u64, u64), StoreError> {
        let (jobs, workers, bytes): (i64, i64, i64) = self.conn
            .prepare_cached(
                "SELECT (SELECT COUNT(*) FROM jobs),
                        (SELECT COALESCE(SUM(workers), 0) FROM job_tallies),
                        (SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size())",
            )?
            .query_row([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
        let wal = self
            .conn
            .path()
            .and_then(|p| std::fs::metadata(format!("{p}-wal")).ok())
            .map_or(0, |m| m.len());
        Ok((
            jobs.unsigned_abs(),
            workers.unsigned_abs(),
            bytes.unsigned_abs() + wal,
        ))
    }
}

impl Snapshot<'_> {
    /// The job with this id, without reading its workers, or `None`.
    pub fn find_job(&self, jobid: &str) -> Result<Option<JobRows>, StoreError> {
        find_job(&self.tx, jobid)
    }

    /// Ends the read transaction, letting the writer's log go past it.
    pub fn finish(self) -> Result<(), StoreError> {
        self.tx.finish()?;
        Ok(())
    }
}

/// The columns [`worker_from`] reads, after which a query may add its own.
const WORKER_COLUMNS: &str =
    "workid, current, total, ok, desc, first_seen, updated, history, updates, seq";

/// A worker from a row that starts with [`WORKER_COLUMNS`].
fn worker_from(row: &rusqlite::Row) -> rusqlite::Result<Worker> {
    Ok(Worker {
        workid: row.get(0)?,
        current: row.get(1)?,
        total: row.get(2)?,
        ok: row.get(3)?,
        desc: row.get(4)?,
        first_seen: row.get(5)?,
        updated: row.get(6)?,
        // Only the newest points are decoded for every read; the whole
        // history only for `history`.
        rate: history::rate(row.get_ref(7)?.as_blob_or_null()?),
        updates: row.get(8)?,
        seq: row.get::<_, Option<i64>>(9)?.map(i64::unsigned_abs),
    })
}

/// What a [`JobRows::figures_pass`] reads of each worker beside its
/// figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Beside {
    Nothing,
    /// Its workid, into the worker, of the first worker and each this
    /// many on.
    Workid(usize),
    /// Its sortkey, for the callback.
    Sortkey,
}

impl Beside {
    fn column(self) -> &'static str {
        match self {
            Beside::Nothing => "",
            Beside::Workid(_) => ", workid",
            Beside::Sortkey => ", sortkey",
        }
    }
}

/// Fills `worker` in from row `ordinal` (from 0) of
/// [`JobRows::figures_pass`].
fn figures_from(
    row: &rusqlite::Row,
    ordinal: usize,
    beside: Beside,
    worker: &mut Worker,
) -> rusqlite::Result<()> {
    worker.current = row.get(0)?;
    worker.total = row.get(1)?;
    worker.ok = row.get(2)?;
    worker.first_seen = row.get(3)?;
    worker.updated = row.get(4)?;
    worker.updates = row.get(5)?;
    // Only a running or finished worker's rate counts (see
    // `figures_pass`).
    worker.rate = match worker.state() {
        WorkerState::Running | WorkerState::Done => {
            history::rate(row.get_ref(6)?.as_blob_or_null()?)
        }
        _ => None,
    };
    if let Beside::Workid(every) = beside {
        worker.workid.clear();
        if ordinal.is_multiple_of(every.max(1)) {
            worker.workid.push_str(row.get_ref(7)?.as_str()?);
        }
    }
    Ok(())
}

/// A job found by its id: its row (with no workers), how many workers it
/// has, and where its workers are. Read them within the same read
/// transaction as the find, so they are the ones counted.
#[derive(Debug, Clone)]
pub struct JobRows {
    id: i64,
    /// The job, without its workers; `updated` is exact (its row's stamp or
    /// its latest report, whichever is later).
    pub job: Job,
    /// How many workers it has.
    pub workers: u64,
    /// The writer's time for its last batch that this read sees: every row
    /// stamped up to it is seen. `since=` polls start from it.
    pub seen_through: Time,
    /// How many workers its roster named (0 without one).
    pub roster: u64,
}

/// The job with this id, without reading its workers, or `None`.
pub(super) fn find_job(conn: &Connection, jobid: &str) -> Result<Option<JobRows>, StoreError> {
    let found = conn
        .prepare_cached(
            "SELECT j.id, j.desc, j.created, MAX(j.updated, COALESCE(t.last_report, 0)),
                    j.maxage, j.history, t.workers, (SELECT stamp FROM writer_clock), j.roster
               FROM jobs AS j JOIN job_tallies AS t ON t.job = j.id
              WHERE j.jobid = ?1",
        )?
        .query_row([jobid], |row| {
            Ok(JobRows {
                id: row.get(0)?,
                job: Job {
                    jobid: jobid.to_string(),
                    desc: row.get(1)?,
                    created: row.get(2)?,
                    updated: row.get(3)?,
                    maxage: row.get(4)?,
                    workers: Vec::new(),
                    history: history::decode(row.get_ref(5)?.as_blob_or_null()?),
                },
                workers: row.get::<_, i64>(6)?.unsigned_abs(),
                seen_through: row.get::<_, Option<Time>>(7)?.unwrap_or_default(),
                roster: row.get::<_, i64>(8)?.unsigned_abs(),
            })
        })
        .optional()?;
    Ok(found)
}

impl JobRows {
    /// Calls `each` with every worker, in natural order of workid, holding
    /// one at a time.
    pub fn for_each_worker(
        &self,
        snapshot: &Snapshot<'_>,
        mut each: impl FnMut(Worker),
    ) -> Result<(), StoreError> {
        let mut stmt = snapshot.tx.prepare_cached(&format!(
            "SELECT {WORKER_COLUMNS} FROM workers WHERE job = ?1 ORDER BY sortkey"
        ))?;
        let mut rows = stmt.query([self.id])?;
        while let Some(row) = rows.next()? {
            each(worker_from(row)?);
        }
        Ok(())
    }

    /// The job with all its workers: for a job small enough to hold.
    pub fn whole(&self, snapshot: &Snapshot<'_>) -> Result<Job, StoreError> {
        let mut job = self.job.clone();
        self.for_each_worker(snapshot, |w| job.workers.push(w))?;
        Ok(job)
    }

    /// Calls `each` with every worker, in natural order of workid, read
    /// for its figures alone: its figures and (for a running worker) rate,
    /// with no desc or seq, and the workid of every `workid_every`-th
    /// worker (the first, then each `workid_every` on; the others' are
    /// empty). All a summary or a bar standing for several workers needs:
    /// a pass over 100,000 workers reads no text but the ids it shows, and
    /// decodes a history only where a rate counts.
    pub fn for_each_figures(
        &self,
        snapshot: &Snapshot<'_>,
        workid_every: usize,
        mut each: impl FnMut(&Worker),
    ) -> Result<(), StoreError> {
        self.figures_pass(snapshot, Beside::Workid(workid_every), |w, _| each(w))
    }

    /// The job's progress at `now`, from one pass over its workers (in
    /// the table's order, which reads no index), without their ids.
    pub fn progress(&self, snapshot: &Snapshot<'_>, now: Time) -> Result<JobProgress, StoreError> {
        let mut tally = ProgressTally::new(now);
        self.figures_pass(snapshot, Beside::Nothing, |w, _| tally.add(w))?;
        Ok(tally.finish())
    }

    /// The job's progress at `now`, and the first `limit` workers that
    /// need attention as [`WorkerPick::needing_attention`] pages them
    /// (failed, stale, then slow, each in natural order), each with its
    /// place: from the summary's one pass, where a page of them would scan
    /// the job a second time. Slow is known only once the pass has the
    /// median, so the pass keeps the sortkey of every running worker with a
    /// rate (a few bytes each, beside the rate the median needs already).
    pub fn progress_and_attention(
        &self,
        snapshot: &Snapshot<'_>,
        now: Time,
        limit: u64,
    ) -> Result<(JobProgress, Vec<(Worker, PageKey)>), StoreError> {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let mut tally = ProgressTally::new(now);
        let (mut failed, mut stale) = (Vec::new(), Vec::new());
        // Running workers' `slow_above`, each with where its sortkey ends
        // in `keys`.
        let mut rated: Vec<(f64, usize)> = Vec::new();
        let mut keys: Vec<u8> = Vec::new();
        self.figures_pass(snapshot, Beside::Sortkey, |w, key| {
            tally.add(w);
            match w.bar_state(now) {
                BarState::Failed if failed.len() < limit => failed.push(key.to_vec()),
                BarState::Stale if stale.len() < limit => stale.push(key.to_vec()),
                BarState::Running => {
                    if let Some(above) = w.slow_above() {
                        keys.extend_from_slice(key);
                        rated.push((above, keys.len()));
                    }
                }
                _ => {}
            }
        })?;
        let progress = tally.finish();
        let mut slow = Vec::new();
        if let Some(median) = progress.median_rate {
            let mut start = 0;
            for &(above, end) in &rated {
                if slow.len() + failed.len() + stale.len() >= limit {
                    break;
                }
                if median > above {
                    slow.push(keys.get(start..end).unwrap_or_default().to_vec());
                }
                start = end;
            }
        }
        // As `SortBy::Attention` values them.
        let ranked = [(0.0, failed), (1.0, stale), (2.0, slow)];
        let mut stmt = snapshot.tx.prepare_cached(&format!(
            "SELECT {WORKER_COLUMNS} FROM workers WHERE job = ?1 AND sortkey = ?2"
        ))?;
        let mut page = Vec::new();
        for (value, sortkeys) in ranked {
            for sortkey in sortkeys {
                if page.len() >= limit {
                    break;
                }
                let worker = stmt.query_row(params![self.id, sortkey], worker_from)?;
                page.push((worker, PageKey { value, sortkey }));
            }
        }
        Ok((progress, page))
    }

    /// Calls `each` with every worker's figures (see
    /// [`JobRows::for_each_figures`]) and what `beside` reads (its sortkey,
    /// else nothing). One worker is filled in for every row in turn, so a
    /// pass allocates nothing per worker.
    fn figures_pass(
        &self,
        snapshot: &Snapshot<'_>,
        beside: Beside,
        mut each: impl FnMut(&Worker, &[u8]),
    ) -> Result<(), StoreError> {
        // The history is decoded (for the rate) only where a rate counts,
        // for a running worker; each column costs every row of a big job, so
        // the id only when asked for.
        let mut stmt = snapshot.tx.prepare_cached(&format!(
            "SELECT current, total, ok, first_seen, updated, updates,
                    history{}
               FROM workers WHERE job = ?1 ORDER BY sortkey",
            beside.column()
        ))?;
        let mut rows = stmt.query([self.id])?;
        let mut worker = Worker::with_figures(0.0, 0.0, true, Time::default(), Time::default(), 0);
        let mut ordinal = 0;
        while let Some(row) = rows.next()? {
            figures_from(row, ordinal, beside, &mut worker)?;
            ordinal += 1;
            let key = match beside {
                Beside::Sortkey => row.get_ref(7)?.as_blob().map_err(rusqlite::Error::from)?,
                _ => &[],
            };
            each(&worker, key);
        }
        Ok(())
    }

    /// The workers `pick` selects, in its order, from `start`: at most
    /// `limit` of them, each with the place to start the next page after
    /// it. `median_rate` is the job's (see [`JobProgress`]), for `slow`.
    pub fn page(
        &self,
        snapshot: &Snapshot<'_>,
        pick: &WorkerPick,
        start: &PageStart,
        limit: u64,
        now: Time,
        median_rate: Option<f64>,
    ) -> Result<Vec<(Worker, PageKey)>, StoreError> {
        let query = PickQuery::new(pick, now, median_rate);
        let value = pick.order.by.sql();
        let mut sql = format!(
            "SELECT {WORKER_COLUMNS}, sortkey, {value} AS v FROM workers WHERE {}",
            query.condition
        );
        let mut offset = 0;
        match start {
            PageStart::Offset(n) => offset = *n,
            PageStart::After(_) => {
                // The key is the last row's order: its value (or none when
                // ordered by workid) and its sortkey, which breaks ties.
                let newer = if pick.order.descending { "<" } else { ">" };
                let tie = match pick.order.by {
                    SortBy::Workid => format!("sortkey {newer} :key"),
                    _ => format!("(v {newer} :value OR (v = :value AND sortkey > :key))"),
                };
                sql.push_str(" AND ");
                sql.push_str(&tie);
            }
        }
        let direction = if pick.order.descending { "DESC" } else { "ASC" };
        match pick.order.by {
            SortBy::Workid => sql.push_str(&format!(" ORDER BY sortkey {direction}")),
            _ => sql.push_str(&format!(" ORDER BY v {direction}, sortkey ASC")),
        }
        sql.push_str(" LIMIT :limit OFFSET :offset");
        let mut stmt = snapshot.tx.prepare_cached(&sql)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let mut values = query.values(self.id);
        values.push((":limit", Value::Integer(limit)));
        values.push((":offset", Value::Integer(offset)));
        if let PageStart::After(key) = start {
            values.push((":key", Value::Blob(key.sortkey.clone())));
            if pick.order.by != SortBy::Workid {
                values.push((":value", Value::Real(key.value)));
            }
        }
        let mut rows = stmt.query(named(&values, &sql).as_slice())?;
        let mut page = Vec::new();
        while let Some(row) = rows.next()? {
            let worker = worker_from(row)?;
            let key = PageKey {
                value: row.get::<_, Option<f64>>(11)?.unwrap_or(0.0),
                sortkey: row.get(10)?,
            };
            page.push((worker, key));
        }
        Ok(page)
    }

    /// The histories of up to `limit` workers after the one whose natural
    /// key is `after` (from the first without), in natural order, each
    /// with its key.
    pub fn history_page(
        &self,
        snapshot: &Snapshot<'_>,
        after: Option<&[u8]>,
        limit: u64,
    ) -> Result<Vec<(WorkerHistory, Vec<u8>)>, StoreError> {
        let mut stmt = snapshot.tx.prepare_cached(
            "SELECT workid, history, sortkey FROM workers
              WHERE job = ?1 AND sortkey > ?2
              ORDER BY sortkey LIMIT ?3",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        // Every key is longer than the empty one, which starts the walk (a
        // plain range on the key: `?2 IS NULL OR` made SQLite scan from the
        // job's first row for every slice).
        let after = after.unwrap_or_default();
        let page = stmt
            .query_map(params![self.id, after, limit], |row| {
                Ok((
                    WorkerHistory {
                        workid: row.get(0)?,
                        points: history::decode(row.get_ref(1)?.as_blob_or_null()?),
                    },
                    row.get(2)?,
                ))
            })?
            .collect::<Result<_, _>>()?;
        Ok(page)
    }

    /// How many workers `pick` selects.
    pub fn count(
        &self,
        snapshot: &Snapshot<'_>,
        pick: &WorkerPick,
        now: Time,
        median_rate: Option<f64>,
    ) -> Result<u64, StoreError> {
        let query = PickQuery::new(pick, now, median_rate);
        let sql = format!("SELECT COUNT(*) FROM workers WHERE {}", query.condition);
        let values = query.values(self.id);
        let n: i64 = snapshot
            .tx
            .prepare_cached(&sql)?
            .query_row(named(&values, &sql).as_slice(), |row| row.get(0))?;
        Ok(n.unsigned_abs())
    }
}

/// The `values` that `sql` names, to bind: SQLite refuses a name a
/// statement does not have.
fn named<'v>(values: &'v [(&str, Value)], sql: &str) -> Vec<(&'v str, &'v dyn rusqlite::ToSql)> {
    values
        .iter()
        .filter(|(name, _)| sql.contains(name))
        .map(|(name, value)| (*name, value as &dyn rusqlite::ToSql))
        .collect()
}

/// A [`WorkerPick`] as SQL: the condition, and the values it names.
struct PickQuery<'a> {
    condition: String,
    pick: &'a WorkerPick,
    now: Time,
    /// The job's median rate, which slow is judged by; none without one.
    median_rate: Option<f64>,
}

impl<'a> PickQuery<'a> {
    fn new(pick: &'a WorkerPick, now: Time, median_rate: Option<f64>) -> PickQuery<'a> {
        let mut condition = String::from("job = :job");
        if !pick.states.is_empty() {
            let each: Vec<String> = pick.states.iter().map(|s| s.sql()).collect();
            condition.push_str(&format!(" AND ({})", each.join(" OR ")));
        }
        if pick.text.is_some() {
            condition.push_str(" AND instr(lower(workid), lower(:text)) > 0");
        }
        if pick.since.is_some() {
            // Changed rows, and running ones that went stale since: staleness
            // comes with time, not with a write.
            condition.push_str(&format!(
                " AND (updated > :since OR ({} AND stale_at > :since AND stale_at < :now))",
                state_is(WorkerState::Running)
            ));
        }
        PickQuery {
            condition,
            pick,
            now,
            median_rate,
        }
    }

    fn values(&self, job: i64) -> Vec<(&'static str, Value)> {
        let mut values = vec![
            (":job", Value::Integer(job)),
            (":now", Value::Real(self.now.as_unix())),
            (":median", self.median_rate.map_or(Value::Null, Value::Real)),
        ];
        if let Some(text) = &self.pick.text {
            values.push((":text", Value::Text(text.clone())));
        }
        if let Some(since) = self.pick.since {
            values.push((":since", Value::Real(since.as_unix())));
        }
        values
    }
}

/// `state = 'NAME'`, the SQL that picks workers in `state`: the workers
/// table's `state` column holds [`WorkerState::as_str`] (migration 0006
/// writes the same names, and the schema's tests hold them to the model's).
fn state_is(state: WorkerState) -> String {
    format!("state = '{}'", state.as_str())
}

impl Pick {
    /// The condition that selects these workers, in terms of the workers
    /// table's derived columns (`state`, `stale_at`) and `:now`.
    fn sql(self) -> String {
        let running = state_is(WorkerState::Running);
        match self {
            Pick::State(BarState::NotStarted) => state_is(WorkerState::NotStarted),
            Pick::State(BarState::Done) => state_is(WorkerState::Done),
            Pick::State(BarState::Failed) => state_is(WorkerState::Failed),
            Pick::State(BarState::Running) => format!("({running} AND stale_at >= :now)"),
            Pick::State(BarState::Stale) => format!("({running} AND stale_at < :now)"),
            Pick::Slow => {
                // Without a median nothing is slow, and no rate is read.
                format!("({running} AND stale_at >= :now AND :median IS NOT NULL AND {SLOW_SQL})")
            }
        }
    }
}

/// True for a worker slow beside the median `:median`, as
/// [`Worker::is_slow`] says (the SQL function is the model's).
const SLOW_SQL: &str = "worker_slow(history, current, first_seen, updated, updates, :median)";

impl SortBy {
    /// The value rows are ordered by (the sortkey breaks ties), as SQL.
    fn sql(self) -> String {
        match self {
            SortBy::Workid => "NULL".to_string(),
            SortBy::Percent => "progress_percent(current, total, updates)".to_string(),
            // No rate yet sorts below a rate of 0.
            SortBy::Rate => "COALESCE(history_rate(history), -1.0)".to_string(),
            // Not reported yet sorts below any report.
            SortBy::Updated => "CASE WHEN updates > 0 THEN updated ELSE -1.0 END".to_string(),
            SortBy::Attention => format!(
                "CASE WHEN {failed} THEN 0.0
                      WHEN {running} AND stale_at < :now THEN 1.0
                      WHEN {running} AND :median IS NOT NULL AND {SLOW_SQL} THEN 2.0
                      WHEN {running} THEN 3.0
                      WHEN {not_started} THEN 4.0
                      ELSE 5.0 END",
                failed = state_is(WorkerState::Failed),
                running = state_is(WorkerState::Running),
                not_started = state_is(WorkerState::NotStarted),
            ),
        }
    }
}

/// The writer's time for its last committed batch (0 for a new database).
pub(super) fn read_clock(conn: &Connection) -> rusqlite::Result<Time> {
    conn.prepare_cached("SELECT stamp FROM writer_clock")?
        .query_row([], |row| row.get(0))
        .optional()
        .map(Option::unwrap_or_default)
}

/// The row id, stored `updated` and worker count of a job, or `None`.
/// The count takes in the workers of its roster not inserted yet.
pub(super) fn job_row(
    conn: &Connection,
    jobid: &str,
) -> rusqlite::Result<Option<(i64, Time, u64)>> {
    conn.prepare_cached(
        "SELECT j.id, j.updated,
                t.workers + (SELECT COALESCE(SUM(waiting), 0) FROM roster_chunks WHERE job = j.id)
           FROM jobs AS j JOIN job_tallies AS t ON t.job = j.id
          WHERE j.jobid = ?1",
    )?
    .query_row([jobid], |row| {
        let workers: i64 = row.get(2)?;
        Ok((row.get(0)?, row.get(1)?, workers.unsigned_abs()))
    })
    .optional()
}

/// How many jobs are stored.
pub(super) fn count_jobs(conn: &Connection) -> rusqlite::Result<u64> {
    count(conn, "SELECT COUNT(*) FROM jobs")
}

/// How many workers are stored, in all jobs, counting those of rosters not
/// inserted yet (and not those of deleted jobs whose rows are still being
/// deleted).
pub(super) fn count_workers(conn: &Connection) -> rusqlite::Result<u64> {
    count(
        conn,
        "SELECT (SELECT COALESCE(SUM(workers), 0) FROM job_tallies)
                + (SELECT COALESCE(SUM(waiting), 0) FROM roster_chunks)",
    )
}

fn count(conn: &Connection, sql: &str) -> rusqlite::Result<u64> {
    conn.prepare_cached(sql)?
        .query_row([], |row| row.get::<_, i64>(0))
        .map(i64::unsigned_abs)
}

/// True when the job has a worker with this id: stored, or named by its
/// roster and waiting for its slice.
pub(super) fn worker_exists(conn: &Connection, job: i64, workid: &str) -> rusqlite::Result<bool> {
    Ok(worker_updates(conn, job, workid)?.is_some() || slices::roster_names(conn, job, workid)?)
}

/// How many reports the job's worker with this id has sent (0 for one its
/// roster expects), or `None` when there is no such worker.
fn worker_updates(conn: &Connection, job: i64, workid: &str) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT updates FROM workers WHERE job = ?1 AND sortkey = ?2")?
        .query_row(params![job, natural_key(workid)], |row| row.get(0))
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
    /// Nothing: the worker is new and the caller may not add one.
    NotAdded,
}

/// Creates a job (any job with the same id is gone already, see
/// [`delete_job`]) with a new row id, its roster queued and its first chunk
/// inserted (see `slices`), its history started at 0 %. Returns its row id.
pub(super) fn create_job(
    conn: &Connection,
    create: &CreateJob,
    maxage: Secs,
    now: Time,
) -> rusqlite::Result<i64> {
    let id = slices::next_job_id(conn)?;
    conn.prepare_cached(
        "INSERT INTO jobs (id, jobid, desc, created, updated, maxage, expires, history, roster,
                           notify)
              VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?4 + ?5, history_push(NULL, ?4, 0), ?6, ?7)",
    )?
    .execute(params![
        id,
        create.jobid,
        create.desc,
        now,
        maxage,
        create.roster.len().cast_signed(),
        create.notify.bits()
    ])?;
    slices::queue_roster(conn, id, &create.roster)?;
    slices::fill_first_chunk(conn, id, now)?;
    Ok(id)
}

/// Records activity on a job now, pushing its expiry back.
pub(super) fn touch_job(conn: &Connection, id: i64, now: Time) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE jobs SET updated = ?2, expires = ?2 + maxage WHERE id = ?1")?
        .execute(params![id, now])?;
    Ok(())
}

/// Adds the job's overall percent now to its burn-up, from its tally.
pub(super) fn chart_job(conn: &Connection, id: i64, now: Time) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE jobs
            SET history = history_push(history, ?2,
                    (SELECT CASE WHEN workers = 0 THEN 0
                                 ELSE percent_micro / 1e6 / workers END
                       FROM job_tallies WHERE job = ?1))
          WHERE id = ?1",
    )?
    .execute(params![id, now])?;
    Ok(())
}

/// The statement every report runs, prepared once for a batch of
/// operations: taking it from the statement cache for each report (which
/// finds it by its text) was a tenth of the writer's time.
pub(super) struct Reports<'c> {
    update: CachedStatement<'c>,
}

impl<'c> Reports<'c> {
    pub(super) fn new(conn: &'c Connection) -> rusqlite::Result<Reports<'c>> {
        // Most reports are for a worker that exists: one UPDATE, then an
        // INSERT only for a new one, which tells the writer's count which
        // it was (cheaper than an upsert with RETURNING, which buffers its
        // row). Each report adds a point to the worker's history. ?3 is
        // the total, NULL to keep it (a worker the roster expects has none
        // to keep: its first report needs one). ?7 is the update's seq: one
        // below the stored seq leaves the row alone. Rows are keyed by the
        // workid's natural-order key (?8). `worker_before` hands the row's
        // figures before the change to the tallies (see `tallies`); the SET
        // clause is the model's `tallies::after_report`.
        let update = conn.prepare_cached(
            "UPDATE workers
                SET current = ?2, total = COALESCE(?3, total), ok = ?4,
                    desc = COALESCE(?6, desc), updated = ?5, updates = updates + 1,
                    first_seen = CASE WHEN updates = 0 THEN ?5 ELSE first_seen END,
                    seq = COALESCE(?7, seq), history = history_push(history, ?5, ?2)
              WHERE job = ?1 AND sortkey = ?8 AND (?7 IS NULL OR seq IS NULL OR ?7 >= seq)
                AND (?3 IS NOT NULL OR updates > 0)
                AND worker_before(current, total, ok, first_seen, updated, updates,
                                  stale_minute)",
        )?;
        Ok(Reports { update })
    }
}

/// Stores a worker's report, counting what it changes in `tallies`.
/// Without a total, or unless `may_add`, it only updates an existing
/// worker (one the roster names exists).
pub(super) fn write_worker(
    conn: &Connection,
    reports: &mut Reports,
    job: i64,
    update: &WorkerUpdate,
    now: Time,
    may_add: bool,
    tallies: &mut Tallies,
) -> rusqlite::Result<WorkerWrite> {
    let seq = update.seq.map(u64::cast_signed);
    let key = natural_key(&update.workid);
    let mut apply = || {
        tallies::clear_before();
        reports.update.execute(params![
            job,
            update.current,
            update.total,
            update.ok,
            now,
            update.desc,
            seq,
            key
        ])
    };
    let mut updated = apply()?;
    // A worker of the roster whose slice has not come yet is updated as
    // if it had: its row goes in now.
    if updated == 0 && slices::take_from_roster(conn, job, &update.workid, now)? {
        updated = apply()?;
    }
    if updated > 0 {
        let before = tallies::take_before().ok_or_else(|| {
            rusqlite::Error::UserFunctionError("worker_before did not see the updated row".into())
        })?;
        let after = tallies::after_report(&before.worker, update, now);
        tallies::restale(conn, job, &key, before.stale_minute, &after)?;
        tallies.add(job, update, Some(&before.worker), &after);
        return Ok(WorkerWrite::Updated);
    }
    let Some(total) = update.total else {
        // No such worker, or one expected without a total yet; or a late
        // retry.
        return Ok(match worker_updates(conn, job, &update.workid)? {
            Some(updates) if updates > 0 => WorkerWrite::Stale,
            Some(_) => WorkerWrite::Missing,
            None if may_add => WorkerWrite::Missing,
            None => WorkerWrite::NotAdded,
        });
    };
    if update.seq.is_some() && worker_exists(conn, job, &update.workid)? {
        return Ok(WorkerWrite::Stale);
    }
    if !may_add {
        return Ok(WorkerWrite::NotAdded);
    }
    let after = tallies::first_report(update, total, now);
    conn.prepare_cached(
        "INSERT INTO workers (job, workid, sortkey, current, total, ok, desc,
                              first_seen, updated, seq, history, stale_minute)
              VALUES (?1, ?2, ?9, ?3, ?4, ?5, COALESCE(?7, ''), ?6, ?6, ?8,
                      history_push(NULL, ?6, ?3), ?10)",
    )?
    .execute(params![
        job,
        update.workid,
        update.current,
        total,
        update.ok,
        now,
        update.desc,
        seq,
        key,
        tallies::stale_minute(&after)
    ])?;
    tallies.add(job, update, None, &after);
    Ok(WorkerWrite::Inserted)
}

/// Creates a job that an update names before any `create`; returns its
/// new row id.
pub(super) fn create_implicit_job(
    conn: &Connection,
    jobid: &str,
    maxage: Secs,
    now: Time,
) -> rusqlite::Result<i64> {
    let id = slices::next_job_id(conn)?;
    conn.prepare_cached(
        "INSERT INTO jobs (id, jobid, desc, created, updated, maxage, expires, history)
              VALUES (?1, ?2, '', ?3, ?3, ?4, ?3 + ?4, history_push(NULL, ?3, 0))",
    )?
    .execute(params![id, jobid, now, maxage])?;
    Ok(id)
}

/// Deletes the job with this row id: gone for every reader at once, its
/// workers deleted afterwards in slices (see `slices`).
pub(super) fn delete_job(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    slices::doom_job(conn, id)
}

/// Records the time of the batch being written: readers that see it have
/// seen every row stamped up to it.
pub(super) fn stamp_clock(conn: &Connection, now: Time) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE writer_clock SET stamp = ?1")?
        .execute([now])?;
    Ok(())
}

/// Deletes up to `limit` jobs that expired by `now` (their workers in
/// slices afterwards, see [`delete_job`]); returns the ids of the jobs
/// deleted and how many workers each had, its roster's included.
pub(super) fn delete_expired(
    conn: &Connection,
    now: Time,
    limit: usize,
) -> rusqlite::Result<Vec<(String, u64)>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let expired: Vec<(i64, String, i64)> = conn
        .prepare_cached(
            "SELECT id, jobid,
                    (SELECT workers FROM job_tallies WHERE job = jobs.id)
                    + (SELECT COALESCE(SUM(waiting), 0) FROM roster_chunks WHERE job = jobs.id)
               FROM jobs WHERE expires <= ?1 ORDER BY expires LIMIT ?2",
        )?
        .query_map(params![now, limit], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut jobs = Vec::with_capacity(expired.len());
    for (id, jobid, workers) in expired {
        notices::raise_expired(conn, id, now)?;
        delete_job(conn, id)?;
        jobs.push((jobid, workers.unsigned_abs()));
    }
    Ok(jobs)
}
