//! The writer thread: the only code that writes to the database.
//!
//! Request threads hand it a [`WriteOp`] and wait. It takes whatever has
//! queued up, applies it all in one `BEGIN IMMEDIATE` transaction, commits,
//! and only then answers each request (group commit): one disk write serves
//! many updates, and no request is acknowledged before its data is stored.
//! Each operation runs inside its own savepoint, so one bad operation (a
//! worker's first update without a total) fails alone; a failed commit fails
//! the whole batch.
//!
//! Because only this thread changes jobs, it keeps a map of the jobs it has
//! seen ([`KnownJobs`]): their row ids, and when each job row was last stamped
//! with activity. A job row is re-stamped at most once per
//! [`ACTIVITY_STAMP`], so a busy job's updates write one page (the
//! worker's) instead of three (worker, job row, expiry index). Readers take a
//! job's activity as the latest of its row and its workers, and expiry allows
//! for the stamp's lag.
//!
//! Big writes run in slices between batches ([`Backlog`], see `slices`): a
//! deleted, expired or overwritten job is gone for readers in its
//! operation, and its workers are deleted afterwards; a roster past its
//! first chunk is inserted afterwards. A slice (about [`SLICE_TIME`]) runs
//! after a batch's answers, at most half the time while operations keep
//! coming, and slice after slice while none waits, so an operation waits at
//! most one slice behind them.
//!
//! A copy of the database (a scheduled backup, [`Writer::copy_into`]) is
//! made by this thread too, a step of pages at a time between batches:
//! through the writer's own connection, SQLite writes each page a later
//! batch changes into the copy as well, so the copy needs no long read
//! transaction (which would keep the log from starting again) and does
//! not start over (unless a write fails and rolls back whole: then the
//! copy fails, and the next backup tries again). The steps are paced, so the copy's writes reach the disk
//! at a rate that leaves room for the server's own syncs.

use crate::clock::{Clock, Secs, Time};
use std::collections::HashMap;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::checkpoint::LogKeeper;
use super::notices::{self, TurnedStale};
use super::queries::{self, WorkerWrite};
use super::slices::Backlog;
#[cfg(doc)]
use super::slices::SLICE_TIME;
use super::tallies::Tallies;
use super::{ACTIVITY_STAMP, DbFile, Refusal, StoreError};
use crate::metrics::Metrics;
use crate::model::{CreateJob, JobRef, WorkerUpdate};

/// Most operations committed in one transaction; more wait for the next.
const MAX_BATCH: usize = 4096;
/// Operations that may wait for the writer before submitters block.
const QUEUE_DEPTH: usize = 16_384;
/// Pages a copy copies at a time ([`Writer::copy_into`]).
const COPY_STEP_PAGES: i32 = 64;
/// The least time from one step of a copy to the next: 64 pages each 4 ms
/// is 64 MiB/s.
const COPY_STEP_EVERY: Duration = Duration::from_millis(4);
/// How long a copy held up by a lock waits for operations before it tries
/// again.
const COPY_RETRY_PAUSE: Duration = Duration::from_millis(10);
/// Most jobs [`KnownJobs`] remembers (a few MB at most); past this it
/// forgets one for each new one.
const MAX_KNOWN_JOBS: usize = 100_000;

/// A change to the database.
#[derive(Debug, Clone)]
pub enum WriteOp {
    /// Create or overwrite a job.
    Create(CreateJob),
    /// Store a worker's report, creating its job if needed.
    Update(WorkerUpdate),
    /// Store several reports in order, each as `Update` would, all or
    /// none: one refused fails the operation, naming its index
    /// ([`StoreError::InBatch`]), and none of them is stored.
    Batch(Vec<WorkerUpdate>),
    /// Delete a job and its workers (the workers in slices afterwards).
    Delete(JobRef),
    /// Delete up to `limit` expired jobs (their workers in slices
    /// afterwards).
    Expire {
        /// Most jobs deleted by this operation.
        limit: usize,
    },
    /// Raise the notices of the workers that turned stale, as a read
    /// found them (see `notices`).
    NoticeStale(Vec<TurnedStale>),
    /// Record that `target` took every notice up to `upto`.
    NoticesSent {
        /// The target's URL, as configured.
        target: String,
        /// The id of the last notice it took.
        upto: i64,
    },
    /// Change nothing but the writer's clock, and commit: proves that a
    /// write can be committed now (`/healthz`).
    Probe,
    /// Panic the writer thread, as a bug would: how tests check that a
    /// dead writer ends the process.
    #[cfg(test)]
    Crash,
}

/// What a committed operation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The job was created or overwritten.
    Created,
    /// The worker's report was stored.
    Updated,
    /// The worker's report was older (by its seq) than the stored one, so
    /// it was acknowledged and not applied.
    Ignored,
    /// Every report of a batch was taken: `updated` stored, `ignored`
    /// acknowledged but older (by seq) than the stored one.
    Batch {
        /// Reports stored.
        updated: usize,
        /// Reports not applied because of their seq.
        ignored: usize,
    },
    /// The job was deleted (true), or there was no such job (false).
    Deleted(bool),
    /// This many expired jobs were deleted.
    Expired(usize),
    /// Stale workers of this many jobs were announced.
    NoticedStale(usize),
    /// A target's cursor was moved.
    NoticesSent,
    /// The probe's commit went through.
    Probed,
}

type Reply = Result<WriteOutcome, StoreError>;

struct Envelope {
    op: WriteOp,
    reply: SyncSender<Reply>,
}

/// A copy of the database for the writer to make ([`Writer::copy_into`]).
struct CopyOrder {
    /// The copy's connection.
    dest: Connection,
    /// Set to give the copy up (the server is stopping).
    give_up: Arc<AtomicBool>,
    /// Where it goes back once the copy is whole.
    reply: SyncSender<Result<Connection, StoreError>>,
}

/// What the writer thread is sent.
enum Mail {
    Write(Envelope),
    Copy(CopyOrder),
}

/// Limits on what the store holds; past one, a write that would add a job or
/// a worker is refused (updates of what exists are always taken).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Caps {
    /// How long a job may be inactive before it expires, for jobs created
    /// implicitly by an update or without a maxage.
    pub default_maxage: Secs,
    /// Most jobs stored at once.
    pub max_jobs: u64,
    /// Most workers stored at once, in all jobs.
    pub max_workers: u64,
    /// Most workers in one job.
    pub max_workers_per_job: u64,
}

/// A handle for submitting writes; cheap to clone, one per thread. The writer
/// thread ends once every handle is dropped and the queue is drained.
#[derive(Clone)]
pub struct Writer {
    queue: SyncSender<Mail>,
    file: Arc<DbFile>,
}

/// The exit code of a process whose writer thread died.
pub const WRITER_DIED_EXIT: i32 = 70;

/// What the server does when its writer thread dies: nothing could be
/// stored any more while reads and `/healthz` went on answering, so the
/// process ends with a line in the log and [`WRITER_DIED_EXIT`], and the
/// service manager starts it again (deploy/progressd.service restarts it
/// on failure). What was committed is in the file; what was not was never
/// acknowledged.
pub fn exit_on_writer_death(why: &str) {
    log::error!(
        "the database writer thread died ({why}); exiting with code {WRITER_DIED_EXIT} \
         so that the service manager restarts progressd"
    );
    std::process::exit(WRITER_DIED_EXIT);
}

/// What the writer thread owns besides its connection.
struct Duties {
    caps: Caps,
    /// What each batch's time is read from.
    clock: Clock,
    metrics: Arc<Metrics>,
    file: Arc<DbFile>,
    /// Pages in the write-ahead log after the last commit.
    log_pages: Arc<AtomicU32>,
}

impl Writer {
    /// Starts the writer thread on a connection and file from
    /// `open_writer`. Committed batches are counted in `metrics`. Should
    /// the thread die (a panic: a bug), `on_death` is called on it with the
    /// panic's message: nothing can be stored any more, and the server
    /// passes [`exit_on_writer_death`]. Each batch is stamped with a time
    /// from `clock`.
    pub fn start(
        mut conn: Connection,
        file: Arc<DbFile>,
        caps: Caps,
        clock: Clock,
        metrics: Arc<Metrics>,
        on_death: impl FnOnce(&str) + Send + 'static,
    ) -> std::io::Result<(Writer, JoinHandle<()>)> {
        let log_pages = Arc::new(AtomicU32::new(0));
        let counted = Arc::clone(&log_pages);
        // Called inside each commit with the log's length in pages.
        conn.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, pages: i32| {
            counted.store(pages.unsigned_abs(), Ordering::Relaxed);
            Ok(())
        }))
        .map_err(std::io::Error::other)?;
        let duties = Duties {
            caps,
            clock,
            metrics,
            file: Arc::clone(&file),
            log_pages,
        };
        let (queue, inbox) = mpsc::sync_channel(QUEUE_DEPTH);
        let handle = thread::Builder::new()
            .name("progressd-writer".into())
            .spawn(move || {
                let ran = panic::catch_unwind(AssertUnwindSafe(|| run(conn, inbox, &duties)));
                if let Err(panicked) = ran {
                    let why = panicked
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panicked.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "a panic without a message".into());
                    on_death(&why);
                }
            })?;
        Ok((Writer { queue, file }, handle))
    }

    /// Copies the whole database into `dest`, an empty database, and hands
    /// it back once the copy is whole: a snapshot of the database as the
    /// last batch before the copy ended left it. The writer copies
    /// [`COPY_STEP_PAGES`] at a time, at most one step each
    /// [`COPY_STEP_EVERY`], and serves what waits between steps, so a
    /// copy delays an update by one step at most; it holds no read
    /// transaction, so the log starts again as usual while it lasts. A
    /// write that fails and rolls back whole while the copy is made would
    /// make SQLite start it over: it fails instead
    /// ([`StoreError::CopyStartedOver`]).
    /// `dest` should commit without syncing, as the writer's thread
    /// writes it: the caller syncs the file once the copy is whole. Once
    /// `give_up` is set, the writer stops copying and fails the copy with
    /// [`StoreError::WriterStopped`].
    pub fn copy_into(
        &self,
        dest: Connection,
        give_up: Arc<AtomicBool>,
    ) -> Result<Connection, StoreError> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.queue
            .send(Mail::Copy(CopyOrder {
                dest,
                give_up,
                reply,
            }))
            .map_err(|_| StoreError::WriterStopped)?;
        answer.recv().map_err(|_| StoreError::WriterStopped)?
    }

    /// Fails when the database file is no longer the one being written
    /// (deleted, moved or replaced), so nothing would be stored.
    pub fn check_file(&self) -> Result<(), StoreError> {
        self.file.check()
    }

    /// Commits a write that changes nothing but the writer's clock, waiting
    /// at most `within` for the queue and the commit: fails unless a write
    /// could be stored now (the file is gone, the disk refuses, a lock is
    /// held elsewhere, or the writer is stuck or dead).
    pub fn probe(&self, within: Duration) -> Result<(), StoreError> {
        let deadline = Instant::now() + within;
        let (reply, answer) = mpsc::sync_channel(1);
        let mut mail = Mail::Write(Envelope {
            op: WriteOp::Probe,
            reply,
        });
        // Never waits longer than `within` for room in a full queue.
        loop {
            match self.queue.try_send(mail) {
                Ok(()) => break,
                Err(TrySendError::Disconnected(_)) => return Err(StoreError::WriterStopped),
                Err(TrySendError::Full(back)) if Instant::now() < deadline => {
                    mail = back;
                    thread::sleep(Duration::from_millis(1));
                }
                Err(TrySendError::Full(_)) => return Err(StoreError::WriterSlow(within)),
            }
        }
        match answer.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(done) => done.map(|_| ()),
            Err(RecvTimeoutError::Timeout) => Err(StoreError::WriterSlow(within)),
            Err(RecvTimeoutError::Disconnected) => Err(StoreError::WriterStopped),
        }
    }

    /// Creates a job, or overwrites the job of that id.
    pub fn create(&self, create: CreateJob) -> Result<(), StoreError> {
        match self.submit(WriteOp::Create(create))? {
            WriteOutcome::Created => Ok(()),
            other => Err(StoreError::WrongAnswer(format!("{other:?} to a create"))),
        }
    }

    /// Stores a worker's report (creating its job if needed); false when
    /// it was older (by its seq) than the stored one, and so acknowledged
    /// but not applied.
    pub fn update(&self, update: WorkerUpdate) -> Result<bool, StoreError> {
        match self.submit(WriteOp::Update(update))? {
            WriteOutcome::Updated => Ok(true),
            WriteOutcome::Ignored => Ok(false),
            other => Err(StoreError::WrongAnswer(format!("{other:?} to an update"))),
        }
    }

    /// Stores several reports in order, all or none (see
    /// [`WriteOp::Batch`]); returns how many were not applied because of
    /// their seq.
    pub fn update_batch(&self, updates: Vec<WorkerUpdate>) -> Result<usize, StoreError> {
        match self.submit(WriteOp::Batch(updates))? {
            WriteOutcome::Batch { ignored, .. } => Ok(ignored),
            other => Err(StoreError::WrongAnswer(format!("{other:?} to a batch"))),
        }
    }

    /// Deletes a job (its workers in slices afterwards); false when there
    /// was no such job.
    pub fn delete(&self, job: JobRef) -> Result<bool, StoreError> {
        match self.submit(WriteOp::Delete(job))? {
            WriteOutcome::Deleted(deleted) => Ok(deleted),
            other => Err(StoreError::WrongAnswer(format!("{other:?} to a delete"))),
        }
    }

    /// Deletes up to `limit` expired jobs; returns how many.
    pub fn expire(&self, limit: usize) -> Result<usize, StoreError> {
        match self.submit(WriteOp::Expire { limit })? {
            WriteOutcome::Expired(n) => Ok(n),
            other => Err(StoreError::WrongAnswer(format!("{other:?} to an expiry"))),
        }
    }

    /// Raises the notices of the workers that turned stale, as
    /// [`Reader::turned_stale`](super::Reader::turned_stale) found them;
    /// returns of how many jobs.
    pub fn notice_stale(&self, found: Vec<TurnedStale>) -> Result<usize, StoreError> {
        match self.submit(WriteOp::NoticeStale(found))? {
            WriteOutcome::NoticedStale(n) => Ok(n),
            other => Err(StoreError::WrongAnswer(format!(
                "{other:?} to a stale scan"
            ))),
        }
    }

    /// Records that `target` took every notice up to `upto`.
    pub fn notices_sent(&self, target: &str, upto: i64) -> Result<(), StoreError> {
        let op = WriteOp::NoticesSent {
            target: target.to_string(),
            upto,
        };
        match self.submit(op)? {
            WriteOutcome::NoticesSent => Ok(()),
            other => Err(StoreError::WrongAnswer(format!(
                "{other:?} to notices sent"
            ))),
        }
    }

    /// Submits one operation and waits until it is committed (or failed).
    fn submit(&self, op: WriteOp) -> Result<WriteOutcome, StoreError> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.queue
            .send(Mail::Write(Envelope { op, reply }))
            .map_err(|_| StoreError::WriterStopped)?;
        answer.recv().map_err(|_| StoreError::WriterStopped)?
    }
}

fn run(conn: Connection, inbox: Receiver<Mail>, duties: &Duties) {
    let mut serving = Serving {
        duties,
        batch: Vec::with_capacity(MAX_BATCH),
        known: KnownJobs::default(),
        place: FileWatch {
            file: &duties.file,
            moved: false,
        },
        log: LogKeeper::new(Arc::clone(&duties.log_pages)),
        // Each batch's time is later than the last one's, across restarts
        // and even when the clock steps back, so a reader that has seen one
        // batch's time has seen every row stamped up to it
        // (`status?since=`).
        batch_time: queries::read_clock(&conn).unwrap_or_default(),
        // Starts by resuming what a previous run left.
        backlog: Backlog::new(),
        copy: None,
    };
    loop {
        if let Some(order) = serving.copy.take() {
            serving.copy(&conn, order, &inbox);
            continue;
        }
        // Wait for the first operation, or, with slices to run, run one
        // while none waits.
        let first = if serving.backlog.pending() {
            match inbox.try_recv() {
                Ok(first) => first,
                Err(TryRecvError::Empty) => {
                    serving.run_slice(&conn);
                    continue;
                }
                Err(TryRecvError::Disconnected) => break,
            }
        } else {
            match inbox.recv() {
                Ok(first) => first,
                Err(_) => break,
            }
        };
        serving.take(&conn, first, &inbox);
    }
    log::debug!("writer thread stopping: every handle dropped; slices left resume at start");
}

/// The writer thread's state besides its connection.
struct Serving<'d> {
    duties: &'d Duties,
    batch: Vec<Envelope>,
    known: KnownJobs,
    place: FileWatch<'d>,
    log: LogKeeper,
    batch_time: Time,
    backlog: Backlog,
    /// A copy asked for and not yet begun.
    copy: Option<CopyOrder>,
}

impl Serving<'_> {
    /// Takes a message off the queue: applies a batch that starts with
    /// it, or notes a copy to make.
    fn take(&mut self, conn: &Connection, mail: Mail, inbox: &Receiver<Mail>) {
        match mail {
            Mail::Write(first) => self.serve_batch(conn, first, inbox),
            Mail::Copy(order) => self.order_copy(order),
        }
    }

    fn order_copy(&mut self, order: CopyOrder) {
        if self.copy.is_some() {
            // The backup thread waits for each copy, so this is a bug.
            let _ = order.reply.send(Err(StoreError::WrongAnswer(
                "a copy was asked for while another waited".into(),
            )));
        } else {
            self.copy = Some(order);
        }
    }

    /// Applies `first` and whatever else is waiting in one transaction,
    /// answers each, then looks after the log and the backlog.
    fn serve_batch(&mut self, conn: &Connection, first: Envelope, inbox: &Receiver<Mail>) {
        let duties = self.duties;
        self.batch.push(first);
        while self.batch.len() < MAX_BATCH {
            match inbox.try_recv() {
                Ok(Mail::Write(next)) => self.batch.push(next),
                Ok(Mail::Copy(order)) => {
                    self.order_copy(order);
                    break;
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        let ops: Vec<&WriteOp> = self.batch.iter().map(|e| &e.op).collect();
        // Any operation but an update may leave slices to run.
        let leaves_work = ops
            .iter()
            .any(|op| !matches!(op, WriteOp::Update(_) | WriteOp::Batch(_) | WriteOp::Probe));
        // A file deleted or moved away would take every commit with it.
        if !self.place.still_in_place() {
            for envelope in self.batch.drain(..) {
                let _ = envelope.reply.send(Err(duties.file.moved()));
            }
            return;
        }
        self.batch_time = duties.clock.now().max(self.batch_time.next_up());
        let outcome = apply_batch(conn, &ops, self.batch_time, duties.caps, &mut self.known);
        let committed = outcome.is_ok();
        let mut results = match outcome {
            Ok(results) => {
                let (updated, ignored) = tally(&results);
                duties.metrics.batch(ops.len(), updated, ignored);
                results
            }
            Err(e) => {
                log::error!("commit of {} operations failed: {e}", ops.len());
                // What the map learnt from the lost batch is not in the file.
                self.known = KnownJobs::default();
                // A full disk may be full of log.
                self.log.after_failed_commit(conn);
                let reason = e.to_string();
                ops.iter()
                    .map(|_| Err(StoreError::CommitFailed(reason.clone())))
                    .collect()
            }
        };
        // Gone while the batch was written: it went to the vanished file.
        if !self.place.still_in_place() {
            results = ops.iter().map(|_| Err(duties.file.moved())).collect();
        }
        for (envelope, result) in self.batch.drain(..).zip(results) {
            // The requester may have gone (its client hung up); the
            // change is committed either way.
            let _ = envelope.reply.send(result);
        }
        // After the answers, so they do not wait for the log's upkeep, nor
        // for a slice.
        if committed {
            self.log.after_commit(conn, || duties.file.free_bytes());
            if leaves_work {
                self.backlog.more();
            }
        }
        if self.backlog.due() {
            self.run_slice(conn);
        }
    }

    /// Runs one slice of the backlog at a time later than the last
    /// batch's, and the log's upkeep after it; none while the file is not
    /// in place.
    fn run_slice(&mut self, conn: &Connection) {
        let duties = self.duties;
        if !self.place.still_in_place() {
            self.backlog.pause();
            return;
        }
        self.batch_time = duties.clock.now().max(self.batch_time.next_up());
        self.backlog.run_slice(
            conn,
            self.batch_time,
            duties.log_pages.load(Ordering::Relaxed),
        );
        self.log.after_commit(conn, || duties.file.free_bytes());
    }

    /// Copies the database into the order's connection,
    /// [`COPY_STEP_PAGES`] at a time, a step at most each
    /// [`COPY_STEP_EVERY`], serving what waits (or, while nothing waits,
    /// slices) between steps; answers with the connection once the copy is
    /// whole.
    fn copy(&mut self, conn: &Connection, order: CopyOrder, inbox: &Receiver<Mail>) {
        let CopyOrder {
            mut dest,
            give_up,
            reply,
        } = order;
        let copied = self.copy_pages(conn, &mut dest, &give_up, inbox);
        let _ = reply.send(copied.map(|()| dest));
    }

    fn copy_pages(
        &mut self,
        conn: &Connection,
        dest: &mut Connection,
        give_up: &AtomicBool,
        inbox: &Receiver<Mail>,
    ) -> Result<(), StoreError> {
        // The copy is made through the writer's own connection: SQLite then
        // writes each page this connection's commits change into the copy
        // as well, so the copy needs no read transaction that lasts (which
        // would keep the log from starting again) and does not start over.
        // Only a transaction rolled back whole (a batch or slice that
        // failed: a full disk, say) or a checkpoint that empties the log
        // from another connection makes SQLite start it over; that fails
        // the copy, which the next backup tries again, rather than let
        // failures that repeat keep it going.
        let backup = Backup::new(conn, dest)?;
        let mut due = Instant::now();
        let mut copied = 0;
        loop {
            if give_up.load(Ordering::Relaxed) {
                return Err(StoreError::WriterStopped);
            }
            let now = Instant::now();
            if now >= due {
                due = match backup.step(COPY_STEP_PAGES)? {
                    StepResult::Done => return Ok(()),
                    StepResult::More => {
                        // Each step copies pages past the last one's; a
                        // copy started over has copied no more.
                        let progress = backup.progress();
                        let now_copied = progress.pagecount - progress.remaining;
                        if now_copied <= copied {
                            return Err(StoreError::CopyStartedOver);
                        }
                        copied = now_copied;
                        now + COPY_STEP_EVERY
                    }
                    // Another connection holds a lock it needs (a
                    // checkpoint, SQLite's recovery of the log): tried
                    // again a little later.
                    _ => now + COPY_RETRY_PAUSE,
                };
            }
            // Until the next step: what waits, else slices, else a rest.
            let next = if self.backlog.pending() {
                inbox.try_recv()
            } else {
                inbox
                    .recv_timeout(due.saturating_duration_since(Instant::now()))
                    .map_err(|e| match e {
                        RecvTimeoutError::Timeout => TryRecvError::Empty,
                        RecvTimeoutError::Disconnected => TryRecvError::Disconnected,
                    })
            };
            match next {
                Ok(mail) => self.take(conn, mail, inbox),
                Err(TryRecvError::Empty) => {
                    if self.backlog.pending() {
                        self.run_slice(conn);
                    }
                }
                Err(TryRecvError::Disconnected) => return Err(StoreError::WriterStopped),
            }
        }
    }
}

/// Worker reports stored and ignored (by seq) in committed results, those
/// of batches included.
fn tally(results: &[Reply]) -> (usize, usize) {
    results
        .iter()
        .fold((0, 0), |(updated, ignored), result| match result {
            Ok(WriteOutcome::Updated) => (updated + 1, ignored),
            Ok(WriteOutcome::Ignored) => (updated, ignored + 1),
            Ok(WriteOutcome::Batch {
                updated: stored,
                ignored: stale,
            }) => (updated + stored, ignored + stale),
            _ => (updated, ignored),
        })
}

/// Whether the database file is where it was opened, saying so in the log
/// once when it goes and once when it is back.
struct FileWatch<'a> {
    file: &'a DbFile,
    moved: bool,
}

impl FileWatch<'_> {
    fn still_in_place(&mut self) -> bool {
        match self.file.check() {
            Err(e) => {
                if !self.moved {
                    log::error!("{e}");
                    self.moved = true;
                }
                false
            }
            Ok(()) => {
                if self.moved {
                    log::info!("the database file is back in place: writes resume");
                    self.moved = false;
                }
                true
            }
        }
    }
}

/// What the writer knows of a job's row.
#[derive(Debug, Clone, Copy, PartialEq)]
struct KnownJob {
    /// The row id.
    id: i64,
    /// The `updated` value stored in the row.
    stamped: Time,
    /// Its workers.
    workers: u64,
    /// When its burn-up last had a point added.
    charted: Time,
}

/// A job's burn-up gets a point at most this often: every second, and
/// every second per 10,000 workers for larger jobs, since the point is an
/// average over all of them, taken inside the writer's transaction.
fn chart_interval(workers: u64) -> Secs {
    Secs(workers as f64 / 10_000.0).max(ACTIVITY_STAMP)
}

/// The jobs the writer has seen, by jobid, and how many jobs and workers
/// there are. Only the writer changes jobs, so this matches the file as
/// long as batches commit; it is dropped when one does not. What it looks
/// up is kept even when the operation is then refused, so a refusal costs
/// no more than an acceptance.
#[derive(Debug, Default)]
struct KnownJobs {
    jobs: HashMap<String, KnownJob>,
    /// Jobs stored; counted when first needed.
    count: Option<u64>,
    /// Workers stored in all jobs; counted when first needed.
    workers: Option<u64>,
    /// What the operation under way changes in `job_tallies`, written
    /// before anything reads them.
    tallies: Tallies,
}

impl KnownJobs {
    fn get(&self, jobid: &str) -> Option<KnownJob> {
        self.jobs.get(jobid).copied()
    }

    /// The job's row, from memory or the file (then remembered); None when
    /// there is no job.
    fn find(&mut self, conn: &Connection, jobid: &str) -> rusqlite::Result<Option<KnownJob>> {
        if let Some(job) = self.get(jobid) {
            return Ok(Some(job));
        }
        self.tallies.flush(conn)?;
        let Some((id, stamped, workers)) = queries::job_row(conn, jobid)? else {
            return Ok(None);
        };
        let job = KnownJob {
            id,
            stamped,
            workers,
            charted: stamped,
        };
        self.remember(jobid.to_string(), job);
        Ok(Some(job))
    }

    /// Refuses a new job when `max` are stored already.
    fn check_room(&mut self, conn: &Connection, max: u64) -> Result<(), StoreError> {
        let count = match self.count {
            Some(count) => count,
            None => *self.count.insert(queries::count_jobs(conn)?),
        };
        if count >= max {
            return Err(StoreError::Refusal(Refusal::TooManyJobs { limit: max }));
        }
        Ok(())
    }

    /// Workers stored in all jobs.
    fn stored_workers(&mut self, conn: &Connection) -> rusqlite::Result<u64> {
        Ok(match self.workers {
            Some(count) => count,
            None => {
                self.tallies.flush(conn)?;
                *self.workers.insert(queries::count_workers(conn)?)
            }
        })
    }

    fn remember(&mut self, jobid: String, job: KnownJob) {
        if self.jobs.len() >= MAX_KNOWN_JOBS && !self.jobs.contains_key(&jobid) {
            // Forget one job (any): it is looked up again if it reports,
            // while the others stay known.
            if let Some(forget) = self.jobs.keys().next().cloned() {
                self.jobs.remove(&forget);
            }
        }
        self.jobs.insert(jobid, job);
    }

    /// What it knows of these jobs and of the counts, for [`restore`]
    /// once an operation that changed them is undone.
    ///
    /// [`restore`]: KnownJobs::restore
    fn save<'a>(&self, jobids: impl Iterator<Item = &'a str>) -> Saved {
        let mut jobids: Vec<&str> = jobids.collect();
        jobids.sort_unstable();
        jobids.dedup();
        Saved {
            jobs: jobids
                .into_iter()
                .map(|jobid| (jobid.to_string(), self.get(jobid)))
                .collect(),
            count: self.count,
            workers: self.workers,
        }
    }

    /// Puts back what [`save`](KnownJobs::save) took.
    fn restore(&mut self, saved: Saved) {
        for (jobid, job) in saved.jobs {
            match job {
                Some(job) => self.remember(jobid, job),
                None => {
                    self.jobs.remove(&jobid);
                }
            }
        }
        self.count = saved.count;
        self.workers = saved.workers;
    }

    fn apply(&mut self, effect: Effect) {
        match effect {
            Effect::Nothing => {}
            Effect::Known {
                jobid,
                job,
                new,
                workers_before,
            } => {
                self.workers = self
                    .workers
                    .map(|n| (n + job.workers).saturating_sub(workers_before));
                self.remember(jobid, job);
                if new {
                    self.count = self.count.map(|n| n + 1);
                }
            }
            Effect::Deleted(jobs) => {
                self.count = self.count.map(|n| n.saturating_sub(jobs.len() as u64));
                let workers: u64 = jobs.iter().map(|(_, workers)| workers).sum();
                self.workers = self.workers.map(|n| n.saturating_sub(workers));
                for (jobid, _) in jobs {
                    self.jobs.remove(&jobid);
                }
            }
        }
    }
}

/// Applies a batch in one transaction at time `now`. The outer error means the transaction
/// did not commit, so nothing of the batch is stored.
fn apply_batch(
    conn: &Connection,
    ops: &[&WriteOp],
    now: Time,
    caps: Caps,
    known: &mut KnownJobs,
) -> rusqlite::Result<Vec<Reply>> {
    // Unchecked: only for the borrow, which a copy shares (`copy_pages`);
    // this thread never nests transactions.
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    let mut results = Vec::with_capacity(ops.len());
    let mut to_chart = Vec::new();
    let mut reports = queries::Reports::new(&tx)?;
    for op in ops {
        tx.prepare_cached("SAVEPOINT op")?.execute([])?;
        // The operation's tallies are written inside its savepoint (a
        // batch writes its own, see `apply_updates`).
        let applied =
            apply_op(&tx, &mut reports, op, now, caps, known, &mut to_chart).and_then(|done| {
                known.tallies.flush(&tx)?;
                Ok(done)
            });
        match applied {
            Ok((outcome, effect)) => {
                tx.prepare_cached("RELEASE op")?.execute([])?;
                known.apply(effect);
                results.push(Ok(outcome));
            }
            Err(e) => {
                known.tallies.discard();
                // If SQLite already rolled the whole transaction back (it
                // does on a full disk), this fails and so does the batch.
                tx.prepare_cached("ROLLBACK TO op")?.execute([])?;
                tx.prepare_cached("RELEASE op")?.execute([])?;
                results.push(Err(e));
            }
        }
    }
    drop(reports);
    // Burn-up points go in after the batch's updates, so each counts them
    // all. A failure loses a point, not the updates.
    to_chart.sort_unstable();
    to_chart.dedup();
    for job in to_chart {
        tx.prepare_cached("SAVEPOINT chart")?.execute([])?;
        if let Err(e) = queries::chart_job(&tx, job, now) {
            log::warn!("could not add a burn-up point to job row {job}: {e}");
            tx.prepare_cached("ROLLBACK TO chart")?.execute([])?;
        }
        tx.prepare_cached("RELEASE chart")?.execute([])?;
    }
    queries::stamp_clock(&tx, now)?;
    tx.commit()?;
    Ok(results)
}

/// What [`KnownJobs`] knew of some jobs (None: not in memory) and of the
/// counts.
struct Saved {
    jobs: Vec<(String, Option<KnownJob>)>,
    count: Option<u64>,
    workers: Option<u64>,
}

/// What a successful operation taught the writer about jobs; applied only
/// once its savepoint is released.
enum Effect {
    Nothing,
    /// This job's row is now as given; `new` when the operation created it,
    /// and it had `workers_before` workers before.
    Known {
        jobid: String,
        job: KnownJob,
        new: bool,
        workers_before: u64,
    },
    /// These jobs, with this many workers each, no longer exist.
    Deleted(Vec<(String, u64)>),
}

/// Applies one operation; the rows of jobs whose burn-up is due a point go
/// on `to_chart`.
fn apply_op(
    conn: &Connection,
    reports: &mut queries::Reports,
    op: &WriteOp,
    now: Time,
    caps: Caps,
    known: &mut KnownJobs,
    to_chart: &mut Vec<i64>,
) -> Result<(WriteOutcome, Effect), StoreError> {
    match op {
        WriteOp::Create(create) => {
            let before = known.find(conn, &create.jobid)?;
            let new = before.is_none();
            if new {
                known.check_room(conn, caps.max_jobs)?;
            }
            if create.roster.len() > caps.max_workers_per_job {
                return Err(StoreError::Refusal(Refusal::RosterTooLarge {
                    size: create.roster.len(),
                    limit: caps.max_workers_per_job,
                }));
            }
            // The job's old workers make way for its roster.
            let workers_before = before.map_or(0, |job| job.workers);
            let others = known.stored_workers(conn)?.saturating_sub(workers_before);
            if others.saturating_add(create.roster.len()) > caps.max_workers {
                return Err(StoreError::Refusal(Refusal::TooManyStoredWorkers {
                    limit: caps.max_workers,
                }));
            }
            // The old job goes at once, its workers in slices; the new one
            // takes a new id, so none of them ever shows in it.
            if let Some(old) = before {
                queries::delete_job(conn, old.id)?;
            }
            let maxage = create.maxage.unwrap_or(caps.default_maxage);
            let id = queries::create_job(conn, create, maxage, now)?;
            // The whole roster counts from now, inserted or not.
            let job = KnownJob {
                id,
                stamped: now,
                workers: create.roster.len(),
                charted: now,
            };
            let effect = Effect::Known {
                jobid: create.jobid.clone(),
                job,
                new,
                workers_before,
            };
            Ok((WriteOutcome::Created, effect))
        }
        WriteOp::Update(update) => apply_update(conn, reports, update, now, caps, known, to_chart),
        WriteOp::Batch(updates) => {
            // All or none: the savepoint around this operation undoes the
            // reports before a refused one, or all of them when their
            // tallies cannot be written, and this undoes what they taught
            // `known` (a job they created would otherwise stay known with
            // a row id that no longer exists).
            let saved = known.save(updates.iter().map(|u| u.jobid.as_str()));
            let charted = to_chart.len();
            match apply_updates(conn, reports, updates, now, caps, known, to_chart) {
                Ok(outcome) => Ok((outcome, Effect::Nothing)),
                Err(error) => {
                    known.restore(saved);
                    to_chart.truncate(charted);
                    Err(error)
                }
            }
        }
        WriteOp::Delete(delete) => {
            let Some(job) = known.find(conn, &delete.jobid)? else {
                return Ok((WriteOutcome::Deleted(false), Effect::Nothing));
            };
            queries::delete_job(conn, job.id)?;
            let effect = Effect::Deleted(vec![(delete.jobid.clone(), job.workers)]);
            Ok((WriteOutcome::Deleted(true), effect))
        }
        WriteOp::Probe => Ok((WriteOutcome::Probed, Effect::Nothing)),
        WriteOp::NoticeStale(found) => {
            let n = notices::raise_stale(conn, found)?;
            Ok((WriteOutcome::NoticedStale(n), Effect::Nothing))
        }
        WriteOp::NoticesSent { target, upto } => {
            notices::mark_sent(conn, target, *upto)?;
            Ok((WriteOutcome::NoticesSent, Effect::Nothing))
        }
        #[cfg(test)]
        WriteOp::Crash => panic!("the writer crashed, as a test asked"),
        WriteOp::Expire { limit } => {
            // A row's stamp may lag its last activity by up to the stamp
            // interval; waiting that much longer never deletes a job early.
            let jobs = queries::delete_expired(conn, now - ACTIVITY_STAMP, *limit)?;
            Ok((WriteOutcome::Expired(jobs.len()), Effect::Deleted(jobs)))
        }
    }
}

/// Stores a batch's reports in order (see [`WriteOp::Batch`]), teaching
/// `known` as it goes, and writes their tallies: the tallies are written
/// here, not after the operation, since `known` has learnt from the
/// reports already and must be restored if that write fails too.
fn apply_updates(
    conn: &Connection,
    reports: &mut queries::Reports,
    updates: &[WorkerUpdate],
    now: Time,
    caps: Caps,
    known: &mut KnownJobs,
    to_chart: &mut Vec<i64>,
) -> Result<WriteOutcome, StoreError> {
    let (mut updated, mut ignored) = (0, 0);
    for (index, update) in updates.iter().enumerate() {
        let (outcome, effect) = apply_update(conn, reports, update, now, caps, known, to_chart)
            .map_err(|error| StoreError::InBatch {
                index,
                error: Box::new(error),
            })?;
        known.apply(effect);
        match outcome {
            WriteOutcome::Ignored => ignored += 1,
            _ => updated += 1,
        }
    }
    known.tallies.flush(conn)?;
    Ok(WriteOutcome::Batch { updated, ignored })
}

/// Stores one worker's report (see [`WriteOp::Update`]).
fn apply_update(
    conn: &Connection,
    reports: &mut queries::Reports,
    update: &WorkerUpdate,
    now: Time,
    caps: Caps,
    known: &mut KnownJobs,
    to_chart: &mut Vec<i64>,
) -> Result<(WriteOutcome, Effect), StoreError> {
    let (job, new) = match known.find(conn, &update.jobid)? {
        Some(job) => (job, false),
        None if update.total.is_none() => return Err(StoreError::Refusal(Refusal::TotalRequired)),
        None => {
            known.check_room(conn, caps.max_jobs)?;
            let id = queries::create_implicit_job(conn, &update.jobid, caps.default_maxage, now)?;
            let job = KnownJob {
                id,
                stamped: now,
                workers: 0,
                charted: now,
            };
            (job, true)
        }
    };
    // A new worker past a cap is refused; one that exists (or that the
    // roster names) is not new, whatever the counts.
    let refusal = if job.workers >= caps.max_workers_per_job {
        Some(StoreError::Refusal(Refusal::TooManyWorkers {
            limit: caps.max_workers_per_job,
        }))
    } else if known.stored_workers(conn)? >= caps.max_workers {
        Some(StoreError::Refusal(Refusal::TooManyStoredWorkers {
            limit: caps.max_workers,
        }))
    } else {
        None
    };
    let mut changed = job;
    let may_add = refusal.is_none();
    match queries::write_worker(
        conn,
        reports,
        job.id,
        update,
        now,
        may_add,
        &mut known.tallies,
    )? {
        WorkerWrite::Missing => return Err(StoreError::Refusal(Refusal::TotalRequired)),
        WorkerWrite::Stale => return Ok((WriteOutcome::Ignored, Effect::Nothing)),
        WorkerWrite::NotAdded => {
            return Err(
                refusal.unwrap_or(StoreError::Refusal(Refusal::TooManyWorkers {
                    limit: caps.max_workers_per_job,
                })),
            );
        }
        WorkerWrite::Inserted => changed.workers += 1,
        WorkerWrite::Updated => {}
    }
    if now - job.stamped >= ACTIVITY_STAMP {
        queries::touch_job(conn, job.id, now)?;
        changed.stamped = now;
    }
    if now - job.charted >= chart_interval(changed.workers) {
        to_chart.push(job.id);
        changed.charted = now;
    }
    let effect = if !new && known.get(&update.jobid) == Some(changed) {
        Effect::Nothing
    } else {
        Effect::Known {
            jobid: update.jobid.clone(),
            job: changed,
            new,
            workers_before: job.workers,
        }
    };
    Ok((WriteOutcome::Updated, effect))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{NotifyOn, Roster};
    use crate::store::slices::CHUNK_ROWS;
    use crate::store::{Reader, open_writer};

    const CAPS: Caps = Caps {
        default_maxage: Secs(60.0),
        max_jobs: 1_000_000,
        max_workers: 10_000_000,
        max_workers_per_job: 100_000,
    };

    /// A new database and its writer connection (the file's lock is not
    /// needed by these tests).
    fn new_db() -> (tempfile::TempDir, std::path::PathBuf, Connection) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("w.sqlite3");
        let (conn, _) = open_writer(&path).expect("database opens");
        (dir, path, conn)
    }

    /// The writer thread's state on a fresh database: its connection and
    /// what it knows of jobs.
    struct Fixture {
        _dir: tempfile::TempDir,
        path: std::path::PathBuf,
        conn: Connection,
        known: KnownJobs,
    }

    impl Fixture {
        fn new() -> Fixture {
            let (_dir, path, conn) = new_db();
            Fixture {
                _dir,
                path,
                conn,
                known: KnownJobs::default(),
            }
        }

        /// Applies `op` alone in a batch at `now`, under [`CAPS`].
        fn apply(&mut self, now: f64, op: WriteOp) -> Result<WriteOutcome, StoreError> {
            apply_one(&mut self.conn, &mut self.known, now, op)
        }

        /// As [`Fixture::apply`], under other caps.
        fn apply_capped(
            &mut self,
            caps: Caps,
            now: f64,
            op: WriteOp,
        ) -> Result<WriteOutcome, StoreError> {
            apply_capped(&mut self.conn, &mut self.known, caps, now, op)
        }

        /// Runs slices until none is left; returns how many it took.
        fn slices(&mut self, now: f64) -> usize {
            run_slices(&mut self.conn, now)
        }
    }

    /// One batch at `now` with a writer that knows no jobs yet.
    fn batch(conn: &mut Connection, now: f64, ops: &[WriteOp]) -> rusqlite::Result<Vec<Reply>> {
        let ops: Vec<&WriteOp> = ops.iter().collect();
        apply_batch(conn, &ops, Time::unix(now), CAPS, &mut KnownJobs::default())
    }

    fn update(workid: &str, total: Option<f64>, desc: &str) -> WriteOp {
        WriteOp::Update(WorkerUpdate {
            jobid: "j".into(),
            workid: workid.into(),
            current: 1.0,
            total,
            ok: true,
            desc: Some(desc.into()),
            seq: None,
        })
    }

    #[test]
    fn a_bad_operation_fails_alone_in_its_batch() -> Result<(), StoreError> {
        let (_dir, path, mut conn) = new_db();
        let ops = [
            update("a", Some(2.0), ""),
            update("b", None, ""),
            update("c", Some(2.0), ""),
            WriteOp::Delete(JobRef {
                jobid: "nope".into(),
            }),
        ];
        let results = batch(&mut conn, 1000.0, &ops)?;
        assert!(matches!(results[0], Ok(WriteOutcome::Updated)));
        assert!(matches!(
            results[1],
            Err(StoreError::Refusal(Refusal::TotalRequired))
        ));
        assert!(matches!(results[2], Ok(WriteOutcome::Updated)));
        assert!(matches!(results[3], Ok(WriteOutcome::Deleted(false))));
        let job = Reader::open(&path)?.read_job("j")?.expect("job created");
        let mut ids: Vec<_> = job.workers.iter().map(|w| w.workid.as_str()).collect();
        ids.sort();
        assert_eq!(ids, ["a", "c"]);
        Ok(())
    }

    fn create(jobid: &str) -> WriteOp {
        WriteOp::Create(CreateJob {
            jobid: jobid.into(),
            desc: String::new(),
            maxage: None,
            roster: Roster::Open,
            notify: NotifyOn::default(),
        })
    }

    #[test]
    fn jobs_created_and_deleted_within_one_batch() -> Result<(), StoreError> {
        let (_dir, path, mut conn) = new_db();
        let ops = [
            update("a", Some(2.0), ""),
            WriteOp::Delete(JobRef { jobid: "j".into() }),
            // The job is gone, so this is a first update again.
            update("a", None, ""),
            create("j"),
            // Created afresh, empty: still a first update.
            update("a", None, ""),
            update("b", Some(3.0), "kept"),
            WriteOp::Delete(JobRef { jobid: "j".into() }),
            WriteOp::Delete(JobRef { jobid: "j".into() }),
            update("c", Some(4.0), ""),
        ];
        let results = batch(&mut conn, 1000.0, &ops)?;
        assert!(matches!(results[0], Ok(WriteOutcome::Updated)));
        assert!(matches!(results[1], Ok(WriteOutcome::Deleted(true))));
        assert!(matches!(
            results[2],
            Err(StoreError::Refusal(Refusal::TotalRequired))
        ));
        assert!(matches!(results[3], Ok(WriteOutcome::Created)));
        assert!(matches!(
            results[4],
            Err(StoreError::Refusal(Refusal::TotalRequired))
        ));
        assert!(matches!(results[5], Ok(WriteOutcome::Updated)));
        assert!(matches!(results[6], Ok(WriteOutcome::Deleted(true))));
        assert!(matches!(results[7], Ok(WriteOutcome::Deleted(false))));
        assert!(matches!(results[8], Ok(WriteOutcome::Updated)));
        let job = Reader::open(&path)?
            .read_job("j")?
            .expect("recreated by the last update");
        let ids: Vec<_> = job.workers.iter().map(|w| w.workid.as_str()).collect();
        assert_eq!(ids, ["c"]);
        Ok(())
    }

    #[test]
    fn a_busy_job_row_is_stamped_once_a_second_and_reads_stay_exact() -> Result<(), StoreError> {
        let mut w = Fixture::new();
        let reader = Reader::open(&w.path)?;
        let row_updated = |conn: &Connection| -> rusqlite::Result<f64> {
            conn.query_row("SELECT updated FROM jobs WHERE jobid = 'j'", [], |r| {
                r.get(0)
            })
        };
        let mut at = |now: f64, op: WriteOp| {
            apply_batch(&w.conn, &[&op], Time::unix(now), CAPS, &mut w.known)
        };
        at(1000.0, update("w", Some(9.0), ""))?;
        at(1000.5, update("w", None, ""))?;
        let job = reader.read_job("j")?.expect("job");
        assert_eq!(
            job.updated,
            Time::unix(1000.5),
            "reads see the worker's later activity"
        );
        assert_eq!(job.expires(), Time::unix(1060.5));
        at(1001.2, update("w", None, ""))?;
        assert_eq!(row_updated(&w.conn)?, 1001.2, "re-stamped a second later");
        Ok(())
    }

    #[test]
    fn a_burn_up_point_counts_every_update_of_its_batch() -> Result<(), StoreError> {
        let mut w = Fixture::new();
        let reader = Reader::open(&w.path)?;
        // Created by its first update: the burn-up starts at 0 % then.
        let first = [update("a", Some(2.0), "")];
        apply_batch(
            &w.conn,
            &first.iter().collect::<Vec<_>>(),
            Time::unix(1000.0),
            CAPS,
            &mut w.known,
        )?;
        let job = reader.read_job("j")?.expect("job");
        assert_eq!(job.history, [(1000.0, 0.0)]);
        // Two seconds later three workers finish in one batch (total 1 each).
        let done = |w: &str| update(w, Some(1.0), "");
        let ops = [done("a"), done("b"), done("c")];
        apply_batch(
            &w.conn,
            &ops.iter().collect::<Vec<_>>(),
            Time::unix(1002.0),
            CAPS,
            &mut w.known,
        )?;
        let job = reader.read_job("j")?.expect("job");
        assert_eq!(
            job.history,
            [(1000.0, 0.0), (1002.0, 100.0)],
            "all three counted"
        );
        // Within the interval, no point; the next one a second later.
        let again = [done("a")];
        apply_batch(
            &w.conn,
            &again.iter().collect::<Vec<_>>(),
            Time::unix(1002.5),
            CAPS,
            &mut w.known,
        )?;
        assert_eq!(reader.read_job("j")?.expect("job").history.len(), 2);
        // Large jobs get points less often: an average over all workers.
        assert_eq!(chart_interval(10), Secs(1.0));
        assert_eq!(chart_interval(100_000), Secs(10.0));
        Ok(())
    }

    #[test]
    fn expiry_allows_for_the_stamp_lag_and_never_deletes_early() -> Result<(), StoreError> {
        let mut w = Fixture::new();
        let mut at = |now: f64, op: WriteOp| -> Result<WriteOutcome, StoreError> {
            let mut results = apply_batch(&w.conn, &[&op], Time::unix(now), CAPS, &mut w.known)?;
            results.remove(0)
        };
        let create = WriteOp::Create(CreateJob {
            jobid: "j".into(),
            desc: String::new(),
            maxage: Some(Secs(10.0)),
            roster: Roster::Open,
            notify: NotifyOn::default(),
        });
        at(2000.0, create)?;
        // Activity at 2000.9 is not stamped on the job row (too soon)...
        at(2000.9, update("w", Some(9.0), ""))?;
        // ...so the job truly expires at 2010.9: not at 2010.5,
        assert_eq!(
            at(2010.5, WriteOp::Expire { limit: 10 })?,
            WriteOutcome::Expired(0)
        );
        // but by 2011.
        assert_eq!(
            at(2011.0, WriteOp::Expire { limit: 10 })?,
            WriteOutcome::Expired(1)
        );
        Ok(())
    }

    #[test]
    fn a_refused_update_remembers_its_job_so_the_next_costs_no_count() -> Result<(), StoreError> {
        let mut w = Fixture::new();
        let caps = Caps {
            max_workers_per_job: 2,
            ..CAPS
        };
        let ops = [update("a", Some(2.0), ""), update("b", Some(2.0), "")];
        apply_batch(
            &w.conn,
            &ops.iter().collect::<Vec<_>>(),
            Time::unix(1000.0),
            caps,
            &mut KnownJobs::default(),
        )?;
        // As after a restart: the writer knows nothing yet.
        for op in [update("c", Some(2.0), ""), update("d", None, "")] {
            let results = apply_batch(&w.conn, &[&op], Time::unix(1001.0), caps, &mut w.known)?;
            assert!(results[0].is_err(), "refused: {:?}", results[0]);
            assert_eq!(
                w.known.get("j").map(|job| job.workers),
                Some(2),
                "the refusal's look-up is kept, with its count"
            );
        }
        Ok(())
    }

    #[test]
    fn workers_past_the_stored_cap_are_refused_and_deletions_make_room() -> Result<(), StoreError> {
        let mut w = Fixture::new();
        let caps = Caps {
            max_workers: 3,
            ..CAPS
        };
        let mut run = |op: WriteOp| -> Result<WriteOutcome, StoreError> {
            apply_batch(&w.conn, &[&op], Time::unix(1000.0), caps, &mut w.known)?.remove(0)
        };
        let on = |jobid: &str, workid: &str| {
            WriteOp::Update(WorkerUpdate {
                jobid: jobid.into(),
                workid: workid.into(),
                current: 1.0,
                total: Some(2.0),
                ok: true,
                desc: None,
                seq: None,
            })
        };
        let roster = |jobid: &str, size: u64| {
            WriteOp::Create(CreateJob {
                jobid: jobid.into(),
                desc: String::new(),
                maxage: None,
                roster: Roster::Count(size),
                notify: NotifyOn::default(),
            })
        };
        let full = |r: Result<WriteOutcome, StoreError>| {
            matches!(
                r,
                Err(StoreError::Refusal(Refusal::TooManyStoredWorkers {
                    limit: 3
                }))
            )
        };
        run(on("a", "1"))?;
        run(on("a", "2"))?;
        run(on("b", "1"))?;
        assert!(full(run(on("b", "2"))), "a fourth worker");
        assert_eq!(run(on("b", "1"))?, WriteOutcome::Updated, "an existing one");
        assert!(full(run(roster("c", 1))), "a roster that passes the cap");
        // Recreating a job replaces its workers: a's two make room for two.
        assert_eq!(run(roster("a", 2))?, WriteOutcome::Created);
        assert!(full(run(roster("a", 3))));
        assert_eq!(
            run(WriteOp::Delete(JobRef { jobid: "a".into() }))?,
            WriteOutcome::Deleted(true)
        );
        assert_eq!(run(on("b", "2"))?, WriteOutcome::Updated);
        assert_eq!(run(on("b", "3"))?, WriteOutcome::Updated);
        assert!(full(run(on("b", "4"))));
        Ok(())
    }

    /// Applies one operation in a batch of its own at `now`.
    fn apply_one(
        conn: &mut Connection,
        known: &mut KnownJobs,
        now: f64,
        op: WriteOp,
    ) -> Result<WriteOutcome, StoreError> {
        apply_capped(conn, known, CAPS, now, op)
    }

    /// As [`apply_one`], under other caps.
    fn apply_capped(
        conn: &mut Connection,
        known: &mut KnownJobs,
        caps: Caps,
        now: f64,
        op: WriteOp,
    ) -> Result<WriteOutcome, StoreError> {
        apply_batch(conn, &[&op], Time::unix(now), caps, known)?.remove(0)
    }

    /// Runs slices until none is left, as the writer does between batches;
    /// returns how many it took.
    fn run_slices(conn: &mut Connection, now: f64) -> usize {
        let mut backlog = Backlog::new();
        let mut slices = 0;
        while backlog.pending() {
            backlog.run_slice(conn, Time::unix(now), 0);
            slices += 1;
        }
        slices
    }

    fn create_roster(jobid: &str, roster: Roster) -> WriteOp {
        WriteOp::Create(CreateJob {
            jobid: jobid.into(),
            desc: String::new(),
            maxage: None,
            roster,
            notify: NotifyOn::default(),
        })
    }

    fn report(jobid: &str, workid: &str, current: f64, total: Option<f64>) -> WriteOp {
        WriteOp::Update(update_of(jobid, workid, current, total))
    }

    fn update_of(jobid: &str, workid: &str, current: f64, total: Option<f64>) -> WorkerUpdate {
        WorkerUpdate {
            jobid: jobid.into(),
            workid: workid.into(),
            current,
            total,
            ok: true,
            desc: None,
            seq: None,
        }
    }

    #[test]
    fn a_batch_is_stored_whole_or_not_at_all() -> Result<(), StoreError> {
        let mut w = Fixture::new();
        let caps = Caps {
            max_workers_per_job: 3,
            ..CAPS
        };
        let mut run = |op: WriteOp| -> Result<WriteOutcome, StoreError> {
            apply_batch(&w.conn, &[&op], Time::unix(1000.0), caps, &mut w.known)?.remove(0)
        };
        // The third report names a new worker without a total: the job the
        // first one created is gone again, and so is the second.
        let batch = vec![
            update_of("b", "a", 1.0, Some(2.0)),
            update_of("b", "a", 2.0, None),
            update_of("b", "c", 1.0, None),
        ];
        match run(WriteOp::Batch(batch)) {
            Err(StoreError::InBatch { index: 2, error }) => {
                assert!(
                    matches!(*error, StoreError::Refusal(Refusal::TotalRequired)),
                    "{error}"
                )
            }
            other => panic!("{other:?}"),
        }
        let reader = Reader::open(&w.path)?;
        assert!(reader.read_job("b")?.is_none(), "nothing of it stored");
        // The writer forgot the job it had created: the next batch creates
        // it afresh, and its worker count starts again from 0.
        let four = |current| {
            ["a", "b", "c", "d"]
                .map(|w| update_of("b", w, current, Some(9.0)))
                .to_vec()
        };
        match run(WriteOp::Batch(four(1.0))) {
            Err(StoreError::InBatch { index: 3, error }) => {
                assert!(matches!(
                    *error,
                    StoreError::Refusal(Refusal::TooManyWorkers { limit: 3 })
                ))
            }
            other => panic!("{other:?}"),
        }
        assert!(reader.read_job("b")?.is_none());
        let three = four(2.0)[..3].to_vec();
        assert_eq!(
            run(WriteOp::Batch(three))?,
            WriteOutcome::Batch {
                updated: 3,
                ignored: 0
            }
        );
        assert_eq!(reader.read_job("b")?.expect("stored").workers.len(), 3);
        assert!(
            run(WriteOp::Update(update_of("b", "d", 1.0, Some(9.0)))).is_err(),
            "the cap still counts the three"
        );
        Ok(())
    }

    fn delete(jobid: &str) -> WriteOp {
        WriteOp::Delete(JobRef {
            jobid: jobid.into(),
        })
    }

    /// The job's row id, if it exists.
    fn job_id(conn: &Connection, jobid: &str) -> rusqlite::Result<Option<i64>> {
        Ok(queries::job_row(conn, jobid)?.map(|(id, _, _)| id))
    }

    /// Worker rows stored under this job row id.
    fn rows_of(conn: &Connection, id: i64) -> rusqlite::Result<i64> {
        conn.query_row("SELECT COUNT(*) FROM workers WHERE job = ?1", [id], |r| {
            r.get(0)
        })
    }

    /// Jobs doomed and roster chunks queued: the work left to the slices.
    fn backlog_rows(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
        conn.query_row(
            "SELECT (SELECT COUNT(*) FROM doomed_jobs), (SELECT COUNT(*) FROM roster_chunks)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    /// Checks every job's tallies against a recount of its rows.
    fn assert_tallies_exact(conn: &Connection) -> rusqlite::Result<()> {
        type Figures = (i64, i64, i64, i64, i64, i64, i64, Option<f64>);
        let read = |sql: &str| -> rusqlite::Result<Vec<Figures>> {
            conn.prepare(sql)?
                .query_map([], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                    ))
                })?
                .collect()
        };
        let tallied = read(
            "SELECT job, workers, not_started, running, done, failed, percent_micro, last_report
               FROM job_tallies ORDER BY job",
        )?;
        let counted = read(
            "SELECT j.id, COUNT(w.job), COALESCE(SUM(w.state = 'not_started'), 0),
                    COALESCE(SUM(w.state = 'running'), 0), COALESCE(SUM(w.state = 'done'), 0),
                    COALESCE(SUM(w.state = 'failed'), 0), COALESCE(SUM(w.percent_micro), 0),
                    MAX(CASE WHEN w.updates > 0 THEN w.updated END)
               FROM jobs AS j LEFT JOIN workers AS w ON w.job = j.id
              GROUP BY j.id ORDER BY j.id",
        )?;
        assert_eq!(tallied, counted, "tallies against a recount");
        // Every row's stale minute is the model's (the columns it is
        // computed from agree with the model, see `schema`).
        let wrong: i64 = conn.query_row(
            "SELECT COUNT(*) FROM workers
              WHERE stale_minute IS NOT
                    (CASE WHEN state = 'running' THEN CAST(stale_at / 60 AS INTEGER) END)",
            [],
            |r| r.get(0),
        )?;
        assert_eq!(wrong, 0, "rows whose stale minute is not the model's");
        Ok(())
    }

    #[test]
    fn a_deleted_job_is_gone_at_once_and_its_workers_go_in_slices() -> Result<(), StoreError> {
        let mut w = Fixture::new();
        let reader = Reader::open(&w.path)?;
        let created = create_roster("big", Roster::Count(3001));
        w.apply(1000.0, created)?;
        w.slices(1000.5);
        w.apply(1001.0, report("big", "7", 5.0, Some(5.0)))?;
        let old = job_id(&w.conn, "big")?.expect("created");
        assert_eq!(rows_of(&w.conn, old)?, 3001);

        let deleted = w.apply(1002.0, delete("big"))?;
        assert_eq!(deleted, WriteOutcome::Deleted(true));
        // Gone for every reader, though no row of it is deleted yet.
        assert!(reader.read_job("big")?.is_none());
        assert!(reader.snapshot()?.find_job("big")?.is_none());
        assert!(reader.list_jobs(10, Time::unix(1002.0))?.is_empty());
        assert_eq!(rows_of(&w.conn, old)?, 3001);
        assert_eq!(backlog_rows(&w.conn)?, (1, 0));
        assert_eq!(
            w.apply(1002.0, delete("big"))?,
            WriteOutcome::Deleted(false),
            "deleted once"
        );

        // A job of the same id, created while the old rows go, has none of
        // them: not the old worker 7, nor its report.
        w.apply(1003.0, create("big"))?;
        let new = job_id(&w.conn, "big")?.expect("created again");
        assert!(new > old, "a new id: {new} after {old}");
        assert!(reader.read_job("big")?.expect("job").workers.is_empty());
        let again = report("big", "7", 1.0, Some(9.0));
        w.apply(1003.0, again)?;
        let mut backlog = Backlog::new();
        backlog.run_slice(&w.conn, Time::unix(1003.5), 0);
        let left = rows_of(&w.conn, old)?;
        assert!(left < 3001, "a slice deleted rows: {left} left");
        let job = reader.read_job("big")?.expect("job");
        assert_eq!(job.workers.len(), 1);
        assert_eq!((job.workers[0].current, job.workers[0].total), (1.0, 9.0));
        let listed = reader.list_jobs(10, Time::unix(1003.5))?;
        assert_eq!(listed.len(), 1);
        assert_eq!((listed[0].workers, listed[0].done), (1, 0));
        assert_tallies_exact(&w.conn)?;

        let slices = w.slices(1004.0);
        assert!(slices >= 1);
        assert_eq!(rows_of(&w.conn, old)?, 0);
        assert_eq!(backlog_rows(&w.conn)?, (0, 0));
        assert_eq!(rows_of(&w.conn, new)?, 1);
        assert_tallies_exact(&w.conn)?;
        Ok(())
    }

    #[test]
    fn an_overwritten_job_gets_a_new_id_and_none_of_its_old_workers() -> Result<(), StoreError> {
        let mut w = Fixture::new();
        let reader = Reader::open(&w.path)?;
        w.apply(1000.0, create_roster("j", Roster::Count(1200)))?;
        w.apply(1000.0, report("j", "3", 1.0, Some(2.0)))?;
        let old = job_id(&w.conn, "j")?.expect("created");
        let ids = Roster::Ids(vec!["3".into(), "x".into()]);
        w.apply(1001.0, create_roster("j", ids))?;
        let new = job_id(&w.conn, "j")?.expect("created again");
        assert!(new > old);
        let job = reader.read_job("j")?.expect("job");
        let workers: Vec<_> = job
            .workers
            .iter()
            .map(|w| (w.workid.as_str(), w.updates))
            .collect();
        assert_eq!(workers, [("3", 0), ("x", 0)], "the new roster, not started");
        // The old roster's chunks went with it: no slice inserts them.
        w.slices(1002.0);
        assert_eq!(rows_of(&w.conn, old)?, 0);
        assert_eq!(rows_of(&w.conn, new)?, 2);
        assert_eq!(backlog_rows(&w.conn)?, (0, 0));
        assert_tallies_exact(&w.conn)?;
        Ok(())
    }

    #[test]
    fn no_job_id_is_reused_while_rows_of_a_deleted_job_remain() -> Result<(), StoreError> {
        let mut w = Fixture::new();
        let reader = Reader::open(&w.path)?;
        w.apply(1000.0, report("a", "1", 1.0, Some(2.0)))?;
        w.apply(1000.0, create_roster("b", Roster::Count(9)))?;
        let b = job_id(&w.conn, "b")?.expect("b");
        // b holds the largest id, which SQLite would give out again.
        w.apply(1001.0, delete("b"))?;
        w.apply(1001.0, report("c", "1", 1.0, Some(2.0)))?;
        w.apply(1001.0, create("d"))?;
        let c = job_id(&w.conn, "c")?.expect("c");
        let d = job_id(&w.conn, "d")?.expect("d");
        assert!(c > b && d > c, "b {b}, c {c}, d {d}");
        assert_eq!(reader.read_job("c")?.expect("c").workers.len(), 1);
        assert!(reader.read_job("d")?.expect("d").workers.is_empty());
        w.slices(1002.0);
        assert_eq!(rows_of(&w.conn, b)?, 0);
        assert_tallies_exact(&w.conn)?;
        Ok(())
    }

    #[test]
    fn a_roster_fills_in_slices_and_ends_complete_and_exact() -> Result<(), StoreError> {
        let mut w = Fixture::new();
        let reader = Reader::open(&w.path)?;
        w.apply(1000.0, create_roster("r", Roster::Count(2345)))?;
        // The job exists at once with its first chunk; the writer counts
        // the whole roster.
        let job = reader.read_job("r")?.expect("job");
        assert_eq!(job.workers.len() as u64, CHUNK_ROWS);
        assert_eq!(w.known.get("r").map(|job| job.workers), Some(2345));
        assert_tallies_exact(&w.conn)?;
        let ids: Vec<String> = (0..1234).map(|n| format!("node-{n}")).collect();
        w.apply(1000.0, create_roster("s", Roster::Ids(ids)))?;
        w.slices(1001.0);
        let job = reader.read_job("r")?.expect("job");
        let workids: Vec<String> = job.workers.iter().map(|w| w.workid.clone()).collect();
        let expected: Vec<String> = (0..2345).map(|n| n.to_string()).collect();
        assert_eq!(workids, expected, "every id once, in natural order");
        assert!(job.workers.iter().all(|w| w.updates == 0));
        let job = reader.read_job("s")?.expect("job");
        assert_eq!(job.workers.len(), 1234);
        assert_eq!(job.workers[1233].workid, "node-1233");
        let listed = reader.list_jobs(10, Time::unix(1001.0))?;
        assert!(
            listed
                .iter()
                .all(|job| job.workers == job.not_started && job.workers > 1000)
        );
        assert_eq!(backlog_rows(&w.conn)?, (0, 0));
        assert_tallies_exact(&w.conn)?;
        Ok(())
    }

    #[test]
    fn an_update_racing_the_roster_behaves_as_if_it_were_complete() -> Result<(), StoreError> {
        let mut w = Fixture::new();
        let reader = Reader::open(&w.path)?;
        let caps = Caps {
            max_workers_per_job: 2000,
            ..CAPS
        };
        let run = |conn: &mut Connection, known: &mut KnownJobs, op: WriteOp| {
            apply_capped(conn, known, caps, 1000.0, op)
        };
        run(
            &mut w.conn,
            &mut w.known,
            create_roster("r", Roster::Count(2000)),
        )?;
        let ids: Vec<String> = (0..1000).map(|n| format!("n{n}")).collect();
        run(
            &mut w.conn,
            &mut w.known,
            create_roster("s", Roster::Ids(ids)),
        )?;
        let id = job_id(&w.conn, "r")?.expect("r");
        assert_eq!(
            rows_of(&w.conn, id)?,
            CHUNK_ROWS as i64,
            "the first chunk only"
        );
        // A report for a worker whose slice has not come is stored...
        assert_eq!(
            run(
                &mut w.conn,
                &mut w.known,
                report("r", "1500", 3.0, Some(10.0))
            )?,
            WriteOutcome::Updated
        );
        assert_eq!(
            run(
                &mut w.conn,
                &mut w.known,
                report("s", "n900", 1.0, Some(1.0))
            )?,
            WriteOutcome::Updated
        );
        // ...a first report without a total is refused, as it would be...
        assert!(matches!(
            run(&mut w.conn, &mut w.known, report("r", "1600", 3.0, None)),
            Err(StoreError::Refusal(Refusal::TotalRequired))
        ));
        // ...and the job is full at its roster: a worker it names is not new,
        // another is.
        assert_eq!(
            run(
                &mut w.conn,
                &mut w.known,
                report("r", "1999", 1.0, Some(10.0))
            )?,
            WriteOutcome::Updated
        );
        assert!(matches!(
            run(
                &mut w.conn,
                &mut w.known,
                report("r", "2000", 1.0, Some(10.0))
            ),
            Err(StoreError::Refusal(Refusal::TooManyWorkers { limit: 2000 }))
        ));
        assert!(
            matches!(
                run(
                    &mut w.conn,
                    &mut w.known,
                    report("r", "01", 1.0, Some(10.0))
                ),
                Err(StoreError::Refusal(Refusal::TooManyWorkers { .. }))
            ),
            "01 is not a roster id"
        );
        assert_eq!(rows_of(&w.conn, id)?, CHUNK_ROWS as i64 + 2);
        assert_eq!(w.known.get("r").map(|job| job.workers), Some(2000));
        assert_tallies_exact(&w.conn)?;
        // A later report of the same worker finds its row.
        assert_eq!(
            run(&mut w.conn, &mut w.known, report("r", "1500", 4.0, None))?,
            WriteOutcome::Updated
        );

        w.slices(1001.0);
        assert_eq!(rows_of(&w.conn, id)?, 2000);
        let job = reader.read_job("r")?.expect("job");
        let racer = job
            .workers
            .iter()
            .find(|w| w.workid == "1500")
            .expect("1500");
        assert_eq!(
            (racer.current, racer.total, racer.updates),
            (4.0, 10.0, 2),
            "kept"
        );
        let job = reader.read_job("s")?.expect("job");
        assert_eq!(job.workers.len(), 1000);
        assert_eq!(job.workers.iter().filter(|w| w.updates > 0).count(), 1);
        assert_tallies_exact(&w.conn)?;
        assert_eq!(
            w.known.stored_workers(&w.conn)?,
            queries::count_workers(&w.conn)?
        );
        Ok(())
    }

    #[test]
    fn a_batch_applies_in_order_with_the_seq_rules_of_single_reports() -> Result<(), StoreError> {
        let (_dir, path, mut conn) = new_db();
        let with_seq = |current: f64, seq| WorkerUpdate {
            seq: Some(seq),
            ..update_of("s", "w", current, Some(100.0))
        };
        let ops = [WriteOp::Batch(vec![
            with_seq(50.0, 5),
            with_seq(30.0, 3),
            update_of("s", "x", 7.0, Some(10.0)),
            update_of("s", "x", 8.0, None),
        ])];
        let results = batch(&mut conn, 1000.0, &ops)?;
        assert_eq!(
            results[0].as_ref().ok(),
            Some(&WriteOutcome::Batch {
                updated: 3,
                ignored: 1
            })
        );
        assert_eq!(tally(&results), (3, 1));
        let job = Reader::open(&path)?.read_job("s")?.expect("stored");
        let current = |id: &str| {
            job.workers
                .iter()
                .find(|w| w.workid == id)
                .map(|w| w.current)
        };
        assert_eq!((current("w"), current("x")), (Some(50.0), Some(8.0)));
        Ok(())
    }

    #[test]
    fn reports_keep_tallies_and_stale_minutes_exact() -> Result<(), StoreError> {
        let mut w = Fixture::new();
        let failed = |workid: &str, current| {
            WriteOp::Update(WorkerUpdate {
                ok: false,
                ..update_of("t", workid, current, None)
            })
        };
        let late = |workid: &str, current, seq| {
            WriteOp::Update(WorkerUpdate {
                seq: Some(seq),
                ..update_of("t", workid, current, Some(10.0))
            })
        };
        let bad_batch = WriteOp::Batch(vec![
            update_of("t", "a", 9.0, None),
            update_of("t", "nobody", 1.0, None),
        ]);
        // Times far apart move stale minutes; each step is checked.
        let steps: Vec<(f64, WriteOp)> = vec![
            (1000.0, create_roster("t", Roster::Count(3))),
            (1000.5, report("t", "0", 1.0, Some(10.0))), // roster row: first report
            (1001.0, report("t", "a", 2.0, Some(10.0))), // new row
            (1002.0, report("t", "a", 3.0, None)),
            (1100.0, report("t", "a", 10.0, None)), // done
            (1200.0, report("t", "a", 4.0, Some(20.0))), // running again
            (1300.0, failed("0", 5.0)),
            (1301.0, report("t", "0", 6.0, None)), // ok again
            (1302.0, late("b", 1.0, 7)),
            (1303.0, late("b", 2.0, 6)),                // ignored
            (1304.0, report("t", "1", 0.0, Some(0.0))), // total 0: done at once
            (1305.0, bad_batch),                        // undone whole
            (1306.0, report("t", "c", 5.0, None)),      // refused: no total
            (1400.0, report("t", "b", 3.0, None)),
            (5000.0, report("t", "b", 4.0, None)), // a long gap
        ];
        for (now, op) in steps {
            let _ = w.apply(now, op);
            w.slices(now);
            assert_tallies_exact(&w.conn)?;
        }
        let (workers, running, done, failed): (i64, i64, i64, i64) = w.conn.query_row(
            "SELECT workers, running, done, failed FROM job_tallies",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        // Roster 0, 1, 2 and a, b: 0, a, b running, 1 done, 2 not started.
        assert_eq!((workers, running, done, failed), (5, 3, 1, 0));
        Ok(())
    }

    #[test]
    fn the_attention_list_of_one_pass_is_the_attention_page() -> Result<(), StoreError> {
        use crate::model::{BarState, WorkerPick};
        let mut w = Fixture::new();
        let mut at = |now: f64, op: WriteOp| w.apply(now, op);
        at(1000.0, create_roster("j", Roster::Count(60)))?;
        // Every worker reports twice, 10 s apart: most at 1/s, every 7th
        // at 0.1/s (slow), every 11th failed at the second report, and
        // every 5th stops after its first (stale from t = 1120, the others
        // from 1130).
        for w in 0..60 {
            at(
                1000.0 + f64::from(w) / 100.0,
                report("j", &w.to_string(), 0.0, Some(1000.0)),
            )?;
        }
        for w in 0..60u32 {
            if w % 5 == 4 {
                continue;
            }
            // Every 13th at 0.7/s: under the median, not under half of it.
            let current = match (w % 7, w % 13) {
                (3, _) => 1.0,
                (_, 5) => 7.0,
                _ => 10.0,
            };
            let update = WorkerUpdate {
                ok: w % 11 != 6,
                ..update_of("j", &w.to_string(), current, None)
            };
            at(1010.0 + f64::from(w) / 100.0, WriteOp::Update(update))?;
        }
        let reader = Reader::open(&w.path)?;
        let now = Time::unix(1125.0);
        let snapshot = reader.snapshot()?;
        let rows = snapshot.find_job("j")?.expect("job");
        let progress = rows.progress(&snapshot, now)?;
        assert!(progress.median_rate.is_some());
        assert!(progress.slow > 0 && progress.count(BarState::Stale) > 0);
        assert!(progress.count(BarState::Failed) > 0);
        let pick = WorkerPick::needing_attention();
        for limit in [1, 3, 5, 8, 12, 30, 60] {
            let (summary, one_pass) = rows.progress_and_attention(&snapshot, now, limit)?;
            assert_eq!(summary, progress);
            let page = rows.page(
                &snapshot,
                &pick,
                &crate::model::PageStart::Offset(0),
                limit,
                now,
                progress.median_rate,
            )?;
            assert_eq!(one_pass, page, "limit {limit}");
        }
        Ok(())
    }

    #[test]
    fn a_slice_copies_the_log_once_slices_have_added_enough_to_it() -> Result<(), StoreError> {
        use crate::store::slices::LOG_SLICE_PAGES;
        let mut w = Fixture::new();
        let created = create_roster("r", Roster::Count(3000));
        w.apply(1000.0, created)?;
        let id = job_id(&w.conn, "r")?.expect("r");
        let mut backlog = Backlog::new();
        // Enough log since the last copy: this slice copies, inserting none.
        backlog.run_slice(&w.conn, Time::unix(1000.0), LOG_SLICE_PAGES);
        assert_eq!(rows_of(&w.conn, id)?, CHUNK_ROWS as i64);
        // A little more: it works.
        backlog.run_slice(&w.conn, Time::unix(1000.0), LOG_SLICE_PAGES + 10);
        let after = rows_of(&w.conn, id)?;
        assert!(after > CHUNK_ROWS as i64);
        // The log started again: counted from its start.
        backlog.run_slice(&w.conn, Time::unix(1000.0), 10);
        assert!(rows_of(&w.conn, id)? > after);
        assert!(backlog.pending());
        Ok(())
    }

    #[test]
    fn the_stored_count_stays_exact_across_slices_refusals_and_restarts() -> Result<(), StoreError>
    {
        let mut w = Fixture::new();
        let caps = Caps {
            max_workers: 5000,
            ..CAPS
        };
        // The writer's count against a fresh count of the file.
        let check = |w: &mut Fixture, expected: u64| -> rusqlite::Result<()> {
            assert_eq!(
                w.known.stored_workers(&w.conn)?,
                expected,
                "the writer's count"
            );
            assert_eq!(
                queries::count_workers(&w.conn)?,
                expected,
                "the file's count"
            );
            Ok(())
        };
        let full = |r: Result<WriteOutcome, StoreError>| {
            matches!(
                r,
                Err(StoreError::Refusal(Refusal::TooManyStoredWorkers {
                    limit: 5000
                }))
            )
        };
        w.apply_capped(caps, 1000.0, create_roster("a", Roster::Count(3000)))?;
        check(&mut w, 3000)?;
        w.apply_capped(caps, 1000.0, report("a", "2999", 1.0, Some(2.0)))?;
        check(&mut w, 3000)?;
        assert!(full(w.apply_capped(
            caps,
            1000.0,
            create_roster("b", Roster::Count(2001))
        )));
        w.apply_capped(caps, 1000.0, create_roster("b", Roster::Count(2000)))?;
        check(&mut w, 5000)?;
        assert!(full(w.apply_capped(
            caps,
            1000.0,
            report("b", "new", 1.0, Some(2.0))
        )));
        w.apply_capped(caps, 1000.0, report("b", "1999", 1.0, Some(2.0)))?;
        check(&mut w, 5000)?;
        // A slice in between changes rows, not the count.
        Backlog::new().run_slice(&w.conn, Time::unix(1000.5), 0);
        check(&mut w, 5000)?;
        // Deleting makes room at once, though its rows are still there.
        w.apply_capped(caps, 1000.0, delete("a"))?;
        check(&mut w, 2000)?;
        w.apply_capped(caps, 1000.0, report("b", "new", 1.0, Some(2.0)))?;
        check(&mut w, 2001)?;
        // As after a restart: the writer counts the file afresh.
        w.known = KnownJobs::default();
        check(&mut w, 2001)?;
        w.apply_capped(caps, 1000.0, create_roster("b", Roster::Count(100)))?;
        check(&mut w, 100)?;
        w.apply_capped(caps, 1000.0, WriteOp::Expire { limit: 10 })?;
        w.slices(1001.0);
        check(&mut w, 100)?;
        let rows: i64 = w
            .conn
            .query_row("SELECT COUNT(*) FROM workers", [], |r| r.get(0))?;
        assert_eq!(rows, 100);
        assert_tallies_exact(&w.conn)?;
        Ok(())
    }

    #[test]
    fn expired_jobs_are_gone_at_once_and_their_workers_go_in_slices() -> Result<(), StoreError> {
        let mut w = Fixture::new();
        let reader = Reader::open(&w.path)?;
        for jobid in ["x", "y", "z", "keep"] {
            let op = WriteOp::Create(CreateJob {
                jobid: jobid.into(),
                desc: String::new(),
                maxage: Some(Secs(if jobid == "keep" { 1000.0 } else { 10.0 })),
                roster: Roster::Count(1200),
                notify: NotifyOn::default(),
            });
            w.apply(2000.0, op)?;
        }
        // Expired with part of their rosters still queued.
        let expired = w.apply(2012.0, WriteOp::Expire { limit: 10 })?;
        assert_eq!(expired, WriteOutcome::Expired(3));
        let listed = reader.list_jobs(10, Time::unix(2012.0))?;
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].jobid, "keep");
        for jobid in ["x", "y", "z"] {
            assert!(reader.read_job(jobid)?.is_none());
        }
        let queued = 1200_u64.div_ceil(CHUNK_ROWS) - 1;
        assert_eq!(
            backlog_rows(&w.conn)?,
            (3, queued as i64),
            "three doomed, the rest of keep's roster queued"
        );
        assert_eq!(w.known.stored_workers(&w.conn)?, 1200);
        w.slices(2012.5);
        let rows: i64 = w
            .conn
            .query_row("SELECT COUNT(*) FROM workers", [], |r| r.get(0))?;
        assert_eq!(rows, 1200, "keep's roster, whole");
        assert_eq!(backlog_rows(&w.conn)?, (0, 0));
        assert_tallies_exact(&w.conn)?;
        Ok(())
    }

    /// The writer thread on the database at `path`; should it die, the
    /// test fails.
    fn start_writer(
        path: &std::path::Path,
    ) -> Result<(Writer, JoinHandle<()>), Box<dyn std::error::Error>> {
        let (conn, file) = open_writer(path)?;
        Ok(Writer::start(
            conn,
            Arc::new(file),
            CAPS,
            Clock::system(),
            Arc::new(crate::metrics::Metrics::new([])),
            |why: &str| panic!("the writer died: {why}"),
        )?)
    }

    #[test]
    fn deletions_and_rosters_resume_after_a_restart() -> Result<(), Box<dyn std::error::Error>> {
        let (_dir, path, mut conn) = new_db();
        let mut known = KnownJobs::default();
        apply_one(
            &mut conn,
            &mut known,
            1000.0,
            create_roster("old", Roster::Count(1500)),
        )?;
        run_slices(&mut conn, 1000.0);
        apply_one(&mut conn, &mut known, 1000.0, delete("old"))?;
        apply_one(
            &mut conn,
            &mut known,
            1000.0,
            create_roster("new", Roster::Count(2500)),
        )?;
        let queued = 2500_u64.div_ceil(CHUNK_ROWS) - 1;
        assert_eq!(backlog_rows(&conn)?, (1, queued as i64));
        drop(conn);
        // A new run on the same file finishes the work by itself.
        let (writer, thread) = start_writer(&path)?;
        let reader = crate::store::schema::open_reader(&path)?;
        let started = std::time::Instant::now();
        while backlog_rows(&reader)? != (0, 0) {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(20),
                "the work left is still there"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let rows: i64 = reader.query_row("SELECT COUNT(*) FROM workers", [], |r| r.get(0))?;
        assert_eq!(rows, 2500);
        assert_eq!(
            Reader::open(&path)?
                .read_job("new")?
                .expect("new")
                .workers
                .len(),
            2500
        );
        assert_tallies_exact(&reader)?;
        drop(writer);
        thread.join().map_err(|_| "the writer panicked")?;
        Ok(())
    }

    /// A database of a 20,000-worker job and its writer thread (about 570
    /// pages: a copy takes at least 9 steps, 32 ms): its directory, path,
    /// writer and thread.
    type BigJob = (
        tempfile::TempDir,
        std::path::PathBuf,
        Writer,
        JoinHandle<()>,
    );

    fn writer_on_a_big_job() -> Result<BigJob, Box<dyn std::error::Error>> {
        let (dir, path, mut conn) = new_db();
        let mut known = KnownJobs::default();
        apply_one(
            &mut conn,
            &mut known,
            1000.0,
            create_roster("big", Roster::Count(20_000)),
        )?;
        run_slices(&mut conn, 1000.0);
        drop(conn);
        let (writer, thread) = start_writer(&path)?;
        writer.update(update_of("live", "w", 0.0, Some(1e9)))?;
        Ok((dir, path, writer, thread))
    }

    /// A connection for a copy, as `backup::copy_live` opens it.
    fn copy_at(path: &std::path::Path) -> rusqlite::Result<Connection> {
        let dest = Connection::open(path)?;
        dest.execute_batch("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")?;
        Ok(dest)
    }

    #[test]
    fn a_copy_is_made_between_batches_and_holds_the_writes_made_meanwhile()
    -> Result<(), Box<dyn std::error::Error>> {
        let (dir, _path, writer, thread) = writer_on_a_big_job()?;
        // One thread reports as fast as it is answered, keeping the last
        // `current` answered.
        let answered = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let load = {
            let (writer, answered, stop) = (writer.clone(), answered.clone(), stop.clone());
            thread::spawn(move || -> Result<(), StoreError> {
                let mut current = 0;
                while !stop.load(Ordering::SeqCst) {
                    current += 1;
                    writer.update(update_of("live", "w", current as f64, None))?;
                    answered.store(current, Ordering::SeqCst);
                }
                Ok(())
            })
        };
        while answered.load(Ordering::SeqCst) < 10 {
            thread::sleep(Duration::from_millis(1));
        }
        let at_start = answered.load(Ordering::SeqCst);
        let dest = writer.copy_into(
            copy_at(&dir.path().join("copy.sqlite3"))?,
            Arc::new(AtomicBool::new(false)),
        )?;
        stop.store(true, Ordering::SeqCst);
        load.join().map_err(|_| "the load panicked")??;
        let last = answered.load(Ordering::SeqCst);
        let copied: f64 = dest.query_row(
            "SELECT w.current FROM workers w JOIN jobs j ON j.id = w.job
             WHERE j.jobid = 'live' AND w.workid = 'w'",
            [],
            |row| row.get(0),
        )?;
        // Not a snapshot of its start: the copy holds reports stored while
        // it was made, over its 9 steps or more, between which the
        // writer went on storing them.
        assert!(
            copied > at_start as f64 && copied <= last as f64,
            "the copy holds {copied}: {at_start} was answered before it began, {last} in all"
        );
        let integrity: String = dest.query_row("PRAGMA integrity_check", [], |row| row.get(0))?;
        assert_eq!(integrity, "ok");
        let workers: i64 = dest.query_row("SELECT COUNT(*) FROM workers", [], |row| row.get(0))?;
        assert_eq!(workers, 20_001);
        // A copy given up (the server stops) fails, and the writer goes on.
        let given_up = copy_at(&dir.path().join("given-up.sqlite3"))?;
        assert!(matches!(
            writer.copy_into(given_up, Arc::new(AtomicBool::new(true))),
            Err(StoreError::WriterStopped)
        ));
        assert!(writer.update(update_of("live", "w", copied + 1.0, None))?);
        drop(writer);
        thread.join().map_err(|_| "the writer panicked")?;
        Ok(())
    }

    #[test]
    fn a_copy_that_sqlite_starts_over_fails_and_the_writer_goes_on()
    -> Result<(), Box<dyn std::error::Error>> {
        let (dir, path, writer, thread) = writer_on_a_big_job()?;
        let copying = {
            let (writer, dest) = (writer.clone(), copy_at(&dir.path().join("copy.sqlite3"))?);
            thread::spawn(move || writer.copy_into(dest, Arc::new(AtomicBool::new(false))))
        };
        // Another connection empties the log after each write: SQLite
        // starts the copy over at its next step.
        let other = crate::store::open_checkpointer(&path)?;
        let mut current = 0.0;
        while !copying.is_finished() {
            current += 1.0;
            writer.update(update_of("live", "w", current, None))?;
            other.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            thread::sleep(Duration::from_millis(1));
        }
        let copied = copying.join().map_err(|_| "the copy panicked")?;
        assert!(
            matches!(copied, Err(StoreError::CopyStartedOver)),
            "{:?}",
            copied.map(|_| "a whole copy")
        );
        assert!(writer.update(update_of("live", "w", current + 1.0, None))?);
        drop(writer);
        thread.join().map_err(|_| "the writer panicked")?;
        Ok(())
    }

    #[test]
    fn a_writer_that_dies_says_why_and_nothing_waits_for_it()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let (conn, file) = open_writer(&dir.path().join("t.sqlite3"))?;
        let (died, death) = mpsc::channel();
        let (writer, thread) = Writer::start(
            conn,
            Arc::new(file),
            CAPS,
            Clock::system(),
            Arc::new(crate::metrics::Metrics::new([])),
            move |why: &str| {
                let _ = died.send(why.to_string());
            },
        )?;
        writer.probe(Duration::from_secs(10))?;
        // The operation in hand when the thread died gets an answer.
        assert!(matches!(
            writer.submit(WriteOp::Crash),
            Err(StoreError::WriterStopped)
        ));
        let why = death.recv_timeout(Duration::from_secs(10))?;
        assert!(why.contains("the writer crashed"), "{why}");
        thread
            .join()
            .map_err(|_| "the supervisor itself panicked")?;
        // Every later write and probe fails at once rather than waiting.
        let started = Instant::now();
        assert!(matches!(
            writer.submit(create_roster("after", Roster::Count(1))),
            Err(StoreError::WriterStopped)
        ));
        assert!(matches!(
            writer.probe(Duration::from_secs(10)),
            Err(StoreError::WriterStopped)
        ));
        assert!(started.elapsed() < Duration::from_secs(1));
        Ok(())
    }

    #[test]
    fn a_probe_fails_within_its_time_while_no_write_can_commit()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("t.sqlite3");
        let (writer, _thread) = start_writer(&path)?;
        let reader = crate::store::schema::open_reader(&path)?;
        let clock = |conn: &Connection| -> rusqlite::Result<f64> {
            conn.query_row("SELECT stamp FROM writer_clock", [], |r| r.get(0))
        };
        let before = clock(&reader)?;
        writer.probe(Duration::from_secs(10))?;
        assert!(clock(&reader)? > before, "the probe committed");
        // Another connection holds the write lock, as another process
        // on the file might.
        let other = Connection::open(&path)?;
        other.execute_batch("BEGIN IMMEDIATE")?;
        let started = Instant::now();
        let within = Duration::from_millis(300);
        assert!(matches!(writer.probe(within), Err(StoreError::WriterSlow(w)) if w == within));
        let took = started.elapsed();
        assert!(took >= within && took < within * 4, "{took:?}");
        other.execute_batch("ROLLBACK")?;
        writer.probe(Duration::from_secs(15))?;
        Ok(())
    }

    #[test]
    fn a_full_disk_fails_updates_and_writes_resume_after() -> Result<(), StoreError> {
        let (_dir, _path, mut conn) = new_db();
        let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        conn.pragma_update(None, "max_page_count", pages + 2)?;
        let desc = "x".repeat(1000);
        let mut failure = None;
        for n in 0..200 {
            let op = update(&format!("w{n}"), Some(1.0), &desc);
            let result = match batch(&mut conn, 1000.0, &[op]) {
                Ok(mut results) => results.remove(0),
                Err(e) => Err(StoreError::CommitFailed(e.to_string())),
            };
            if let Err(e) = result {
                failure = Some(e);
                break;
            }
        }
        let failure = failure.expect("the capped database fills up");
        assert!(failure.is_transient(), "{failure} must be answered 503");
        // Space comes back: the same connection writes again.
        conn.pragma_update(None, "max_page_count", 1_000_000)?;
        let op = update("after", Some(1.0), &desc);
        let results = batch(&mut conn, 1000.0, &[op])?;
        assert!(matches!(results[0], Ok(WriteOutcome::Updated)));
        assert_tallies_exact(&conn)?;
        Ok(())
    }
    #[test]
    fn random_operations_keep_tallies_stale_minutes_and_counts_exact() -> Result<(), StoreError> {
        let mut seed = 12_345_u64;
        let mut next = move |n: u64| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) % n
        };
        for round in 0..6 {
            let (_dir, _path, conn) = new_db();
            let caps = if round % 2 == 0 {
                Caps {
                    max_workers_per_job: 4,
                    max_workers: 9,
                    max_jobs: 3,
                    ..CAPS
                }
            } else {
                Caps {
                    max_workers_per_job: 600,
                    max_workers: 1300,
                    ..CAPS
                }
            };
            let mut known = KnownJobs::default();
            let mut now = 1000.0;
            let workids = ["0", "1", "2", "3", "a", "b", "c", "299", "550", "x"];
            for _step in 0..300 {
                let random_update = |next: &mut dyn FnMut(u64) -> u64| {
                    let total = match next(3) {
                        0 => None,
                        1 => Some(10.0),
                        _ => Some(next(20) as f64),
                    };
                    WorkerUpdate {
                        jobid: format!("j{}", next(3)),
                        workid: workids[next(workids.len() as u64) as usize].to_string(),
                        current: next(25) as f64,
                        total,
                        ok: next(6) != 0,
                        desc: None,
                        seq: (next(3) == 0).then(|| next(5)),
                    }
                };
                let mut ops = Vec::new();
                for _ in 0..=next(4) {
                    let op = match next(12) {
                        0 => {
                            let roster = match next(5) {
                                0 => Roster::Open,
                                1 => Roster::Count(next(5)),
                                2 => Roster::Count(if round % 2 == 0 { 3 } else { 560 }),
                                3 => Roster::Ids(vec!["a".into(), "299".into(), "z".into()]),
                                _ => Roster::Count(4),
                            };
                            create_roster(&format!("j{}", next(3)), roster)
                        }
                        1 => delete(&format!("j{}", next(3))),
                        2 => WriteOp::Expire { limit: 2 },
                        3 | 4 => {
                            let n = 1 + next(4);
                            WriteOp::Batch((0..n).map(|_| random_update(&mut next)).collect())
                        }
                        _ => WriteOp::Update(random_update(&mut next)),
                    };
                    ops.push(op);
                }
                now += [0.2, 1.0, 7.0, 45.0, 130.0][next(5) as usize];
                let refs: Vec<&WriteOp> = ops.iter().collect();
                apply_batch(&conn, &refs, Time::unix(now), caps, &mut known)?;
                if next(3) == 0 {
                    Backlog::new().run_slice(&conn, Time::unix(now), 0);
                }
                assert_tallies_exact(&conn)?;
                assert_eq!(
                    known.stored_workers(&conn)?,
                    queries::count_workers(&conn)?,
                    "the writer's count"
                );
                if next(20) == 0 {
                    known = KnownJobs::default();
                }
            }
        }
        Ok(())
    }

    #[test]
    fn a_batch_whose_tallies_fail_to_write_leaves_the_writer_knowing_nothing_of_it()
    -> Result<(), StoreError> {
        let mut w = Fixture::new();
        let reader = Reader::open(&w.path)?;
        // Stands for a full disk or an I/O error at the tallies' write,
        // which SQLite undoes alone, leaving the transaction open.
        w.conn.execute_batch(
            "CREATE TEMP TRIGGER tallies_fail BEFORE UPDATE ON job_tallies
               BEGIN SELECT RAISE(ABORT, 'no room for the tallies'); END;",
        )?;
        let first = WriteOp::Batch(vec![update_of("n", "a", 1.0, Some(2.0))]);
        assert!(w.apply(1000.0, first).is_err());
        assert!(
            reader.read_job("n")?.is_none(),
            "nothing of the batch stored"
        );
        w.conn.execute_batch("DROP TRIGGER tallies_fail")?;
        // The job the failed batch created is not there: this report
        // creates it afresh, and shows in it.
        let later = report("n", "b", 1.0, Some(2.0));
        assert_eq!(w.apply(1001.0, later)?, WriteOutcome::Updated);
        let job = reader.read_job("n")?.expect("the report's job is stored");
        let ids: Vec<&str> = job.workers.iter().map(|w| w.workid.as_str()).collect();
        assert_eq!(ids, ["b"]);
        assert_tallies_exact(&w.conn)?;
        Ok(())
    }
}
