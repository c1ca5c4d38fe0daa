//! The writer's side of `job_tallies` and of the stale-minute index: what a
//! report changes in them, worked out in Rust and written once per
//! operation rather than by triggers once per row.
//!
//! Triggers kept both exact at first, and cost nearly as much as the row
//! they followed: each report ran a nested UPDATE of `job_tallies` and a
//! second trigger program to decide whether `stale_minute` moved. Only the
//! writer reports workers, so it keeps them itself. (With this and a
//! lookup per report that the writer dropped at the same time, its CPU per
//! report in batches of 100 went from 9.4–10.3 µs to 4.6–5.1 µs, see
//! docs/performance-history.md.)
//!
//! * The report's UPDATE hands the row's figures as they were to
//!   [`note_before`], registered as the SQL function `worker_before`: a
//!   term of its WHERE clause, so it runs once, on the row being updated,
//!   before the change. The figures after the report are the model's
//!   ([`after_report`], which the UPDATE mirrors).
//! * From the two, [`Tallies`] keeps each job's change in counts by state,
//!   percent and last report, and writes them with one UPDATE per job when
//!   the operation ends, or before the writer reads them
//!   ([`Tallies::flush`]), inside its savepoint; an
//!   operation undone drops them ([`Tallies::discard`]).
//! * The stale minute is moved by a second UPDATE only when the report
//!   moves it: about once a minute for a worker reporting every few
//!   seconds.
//!
//! Rows are inserted by rosters (tallied per chunk, see `slices`) and by a
//! worker's first report ([`Tallies::add`] with no figures before); they
//! are deleted only after their job, whose tallies go with it.

use crate::clock::Time;
use std::cell::Cell;

use rusqlite::{Connection, params};

use super::notices;

use crate::model::WorkerUpdate;
use crate::model::{Worker, WorkerState};

/// A row's figures after `update` at `now`, from its figures before,
/// exactly as `write_worker`'s UPDATE sets them.
pub(super) fn after_report(before: &Worker, update: &WorkerUpdate, now: Time) -> Worker {
    let first_seen = if before.updates == 0 {
        now
    } else {
        before.first_seen
    };
    Worker::with_figures(
        update.current,
        update.total.unwrap_or(before.total),
        update.ok,
        first_seen,
        now,
        before.updates + 1,
    )
}

/// A new row's figures after its first report, `update` at `now` with
/// `total`, as `write_worker`'s INSERT sets them.
pub(super) fn first_report(update: &WorkerUpdate, total: f64, now: Time) -> Worker {
    Worker::with_figures(update.current, total, update.ok, now, now, 1)
}

/// The value of the `stale_minute` column for a row with these figures:
/// the minute in which a running worker turns stale, NULL otherwise.
pub(super) fn stale_minute(w: &Worker) -> Option<i64> {
    (w.state() == WorkerState::Running).then(|| (w.stale_at().as_unix() / 60.0) as i64)
}

/// The `percent_micro` column: the percent in millionths.
fn percent_micro(w: &Worker) -> i64 {
    (w.percent() * 1e6).round() as i64
}

/// A row's figures before a report, with its stored stale minute.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Before {
    /// Its figures.
    pub worker: Worker,
    /// Its `stale_minute` column.
    pub stale_minute: Option<i64>,
}

thread_local! {
    /// What [`note_before`] saw last on this thread: the writer's, since
    /// the writer's connection runs its statements on the writer thread.
    static BEFORE: Cell<Option<Before>> = const { Cell::new(None) };
}

/// The SQL function `worker_before(current, total, ok, first_seen, updated,
/// updates, stale_minute)`: keeps the row's figures for [`take_before`]
/// and is true.
pub(super) fn note_before(ctx: &rusqlite::functions::Context) -> rusqlite::Result<bool> {
    let worker = Worker::with_figures(
        ctx.get(0)?,
        ctx.get(1)?,
        ctx.get(2)?,
        ctx.get(3)?,
        ctx.get(4)?,
        ctx.get(5)?,
    );
    let stale_minute = ctx.get(6)?;
    BEFORE.set(Some(Before {
        worker,
        stale_minute,
    }));
    Ok(true)
}

/// Forgets what [`note_before`] kept, before a statement that may call it.
pub(super) fn clear_before() {
    BEFORE.set(None);
}

/// What [`note_before`] kept since [`clear_before`].
pub(super) fn take_before() -> Option<Before> {
    BEFORE.take()
}

/// Moves a worker's stale minute when `after` is not in the one `before`
/// has stored.
pub(super) fn restale(
    conn: &Connection,
    job: i64,
    sortkey: &[u8],
    before: Option<i64>,
    after: &Worker,
) -> rusqlite::Result<()> {
    let minute = stale_minute(after);
    if minute != before {
        conn.prepare_cached(
            "UPDATE workers SET stale_minute = ?3 WHERE job = ?1 AND sortkey = ?2",
        )?
        .execute(params![job, sortkey, minute])?;
    }
    Ok(())
}

/// One job's tallies to add.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Change {
    workers: i64,
    not_started: i64,
    running: i64,
    done: i64,
    failed: i64,
    percent_micro: i64,
    last_report: Option<Time>,
}

impl Change {
    fn count(&mut self, w: &Worker, sign: i64) {
        let state = match w.state() {
            WorkerState::NotStarted => &mut self.not_started,
            WorkerState::Running => &mut self.running,
            WorkerState::Done => &mut self.done,
            WorkerState::Failed => &mut self.failed,
        };
        *state += sign;
        self.percent_micro += sign * percent_micro(w);
    }
}

/// The tallies' changes of the operation under way, by job, not written
/// yet, and the workers it failed (job, workid, when), for their notices.
#[derive(Debug, Default)]
pub(super) struct Tallies {
    changes: Vec<(i64, Change)>,
    failed: Vec<(i64, String, Time)>,
}

impl Tallies {
    /// Counts `report`, which took a row of job `job` from `before` (none:
    /// the row is new) to `after`.
    pub fn add(
        &mut self,
        job: i64,
        report: &WorkerUpdate,
        before: Option<&Worker>,
        after: &Worker,
    ) {
        let failed = |w: &Worker| w.state() == WorkerState::Failed;
        if failed(after) && !before.is_some_and(failed) {
            self.failed
                .push((job, report.workid.clone(), after.updated));
        }
        let change = match self.changes.iter_mut().find(|(j, _)| *j == job) {
            Some((_, change)) => change,
            None => {
                self.changes.push((job, Change::default()));
                match self.changes.last_mut() {
                    Some((_, change)) => change,
                    None => return,
                }
            }
        };
        match before {
            Some(before) => change.count(before, -1),
            None => change.workers += 1,
        }
        change.count(after, 1);
        change.last_report = Some(
            change
                .last_report
                .map_or(after.updated, |t| t.max(after.updated)),
        );
    }

    /// Writes the changes counted so far, one UPDATE per job, and raises
    /// the notices they call for.
    pub fn flush(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        let mut done_rose = Vec::new();
        for (job, c) in self.changes.drain(..) {
            if let (true, Some(at)) = (c.done > 0, c.last_report) {
                done_rose.push((job, at));
            }
            conn.prepare_cached(
                "UPDATE job_tallies
                    SET workers = workers + ?2, not_started = not_started + ?3,
                        running = running + ?4, done = done + ?5, failed = failed + ?6,
                        percent_micro = percent_micro + ?7,
                        last_report = CASE WHEN ?8 IS NULL THEN last_report
                                           ELSE MAX(COALESCE(last_report, ?8), ?8) END
                  WHERE job = ?1",
            )?
            .execute(params![
                job,
                c.workers,
                c.not_started,
                c.running,
                c.done,
                c.failed,
                c.percent_micro,
                c.last_report
            ])?;
        }
        let failed = std::mem::take(&mut self.failed);
        for (job, workid, at) in failed {
            notices::raise_failed(conn, job, &workid, at)?;
        }
        for (job, at) in done_rose {
            notices::raise_if_finished(conn, job, at)?;
        }
        Ok(())
    }

    /// Drops the changes counted so far: their operation was undone.
    pub fn discard(&mut self) {
        self.changes.clear();
        self.failed.clear();
    }
}
