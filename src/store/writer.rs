//! The writer thread: the only code that writes to the database.
//!
//! Request threads hand it a [`WriteOp`] and wait. It takes whatever has
//! queued up, applies it all in one `BEGIN IMMEDIATE` transaction, commits,
//! and only then answers each request (group commit): one disk write serves
//! many updates, and no request is acknowledged before its data is stored.
//! Each operation runs inside its own savepoint, so one bad operation (a
//! worker's first update without a total) fails alone; a failed commit fails
//! the whole batch.

use std::collections::HashMap;
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::thread::{self, JoinHandle};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;
use super::queries;
use crate::params::{CreateJob, JobRef, WorkerUpdate};

/// Most operations committed in one transaction; more wait for the next.
const MAX_BATCH: usize = 4096;
/// Operations that may wait for the writer before submitters block.
const QUEUE_DEPTH: usize = 16_384;

/// A change to the database.
#[derive(Debug, Clone)]
pub enum WriteOp {
    /// Create or overwrite a job.
    Create(CreateJob),
    /// Store a worker's report, creating its job if needed.
    Update(WorkerUpdate),
    /// Delete a job and its workers.
    Delete(JobRef),
    /// Delete up to `limit` expired jobs.
    Expire {
        /// Most jobs deleted by this operation.
        limit: usize,
    },
}

/// What a committed operation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The job was created or overwritten.
    Created,
    /// The worker's report was stored.
    Updated,
    /// The job was deleted (true), or there was no such job (false).
    Deleted(bool),
    /// This many expired jobs were deleted.
    Expired(usize),
}

type Reply = Result<WriteOutcome, StoreError>;

struct Envelope {
    op: WriteOp,
    reply: SyncSender<Reply>,
}

/// A handle for submitting writes; cheap to clone, one per thread. The writer
/// thread ends once every handle is dropped and the queue is drained.
#[derive(Clone)]
pub struct Writer {
    queue: SyncSender<Envelope>,
}

impl Writer {
    /// Starts the writer thread on a connection from `open_writer`. Jobs
    /// created implicitly by an update, or without a maxage, get
    /// `default_maxage` seconds.
    pub fn start(
        conn: Connection,
        default_maxage: f64,
    ) -> std::io::Result<(Writer, JoinHandle<()>)> {
        let (queue, inbox) = mpsc::sync_channel(QUEUE_DEPTH);
        let handle = thread::Builder::new()
            .name("progressd-writer".into())
            .spawn(move || run(conn, inbox, default_maxage))?;
        Ok((Writer { queue }, handle))
    }

    /// Submits one operation and waits until it is committed (or failed).
    pub fn submit(&self, op: WriteOp) -> Result<WriteOutcome, StoreError> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.queue
            .send(Envelope { op, reply })
            .map_err(|_| StoreError::WriterStopped)?;
        answer.recv().map_err(|_| StoreError::WriterStopped)?
    }
}

fn run(mut conn: Connection, inbox: Receiver<Envelope>, default_maxage: f64) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // Block for the first operation, then take whatever else is waiting.
    while let Ok(first) = inbox.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match inbox.try_recv() {
                Ok(next) => batch.push(next),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        let ops: Vec<&WriteOp> = batch.iter().map(|e| &e.op).collect();
        let results = match apply_batch(&mut conn, &ops, default_maxage) {
            Ok(results) => results,
            Err(e) => {
                log::error!("commit of {} operations failed: {e}", batch.len());
                let reason = e.to_string();
                ops.iter()
                    .map(|_| Err(StoreError::CommitFailed(reason.clone())))
                    .collect()
            }
        };
        for (envelope, result) in batch.drain(..).zip(results) {
            // The requester may have gone (its client hung up); the
            // change is committed either way.
            let _ = envelope.reply.send(result);
        }
    }
    log::debug!("writer thread stopping: every handle dropped");
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Applies a batch in one transaction. The outer error means the transaction
/// did not commit, so nothing of the batch is stored.
fn apply_batch(
    conn: &mut Connection,
    ops: &[&WriteOp],
    default_maxage: f64,
) -> rusqlite::Result<Vec<Reply>> {
    let now = unix_now();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Jobs already looked up (and stamped with `now`) in this batch: a
    // thousand updates to one job cost one job-row write.
    let mut touched: HashMap<String, i64> = HashMap::new();
    let mut results = Vec::with_capacity(ops.len());
    for op in ops {
        tx.execute_batch("SAVEPOINT op")?;
        match apply_op(&tx, op, now, default_maxage, &touched) {
            Ok((outcome, effect)) => {
                tx.execute_batch("RELEASE op")?;
                match effect {
                    Effect::Nothing => {}
                    Effect::Touched(jobid, id) => {
                        touched.insert(jobid, id);
                    }
                    Effect::Deleted(jobids) => {
                        for jobid in jobids {
                            touched.remove(&jobid);
                        }
                    }
                }
                results.push(Ok(outcome));
            }
            Err(e) => {
                // If SQLite already rolled the whole transaction back (it
                // does on a full disk), this fails and so does the batch.
                tx.execute_batch("ROLLBACK TO op; RELEASE op")?;
                results.push(Err(e));
            }
        }
    }
    tx.commit()?;
    Ok(results)
}

/// What a successful operation changed in the batch's map of touched jobs;
/// applied only once its savepoint is released.
enum Effect {
    Nothing,
    /// This job now exists with this row id and is stamped with `now`.
    Touched(String, i64),
    /// These jobs no longer exist.
    Deleted(Vec<String>),
}

fn apply_op(
    conn: &Connection,
    op: &WriteOp,
    now: f64,
    default_maxage: f64,
    touched: &HashMap<String, i64>,
) -> Result<(WriteOutcome, Effect), StoreError> {
    match op {
        WriteOp::Create(create) => {
            let maxage = create.maxage.unwrap_or(default_maxage);
            let id = queries::create_job(conn, create, maxage, now)?;
            Ok((
                WriteOutcome::Created,
                Effect::Touched(create.jobid.clone(), id),
            ))
        }
        WriteOp::Update(update) => {
            let (id, effect) = match touched.get(&update.jobid) {
                Some(&id) => (id, Effect::Nothing),
                None => {
                    let id = match queries::job_row(conn, &update.jobid)? {
                        Some(id) => {
                            queries::touch_job(conn, id, now)?;
                            id
                        }
                        None if update.total.is_none() => return Err(StoreError::TotalRequired),
                        None => {
                            queries::create_implicit_job(conn, &update.jobid, default_maxage, now)?
                        }
                    };
                    (id, Effect::Touched(update.jobid.clone(), id))
                }
            };
            if !queries::write_worker(conn, id, update, now)? {
                return Err(StoreError::TotalRequired);
            }
            Ok((WriteOutcome::Updated, effect))
        }
        WriteOp::Delete(job) => {
            let deleted = queries::delete_job(conn, &job.jobid)?;
            Ok((
                WriteOutcome::Deleted(deleted),
                Effect::Deleted(vec![job.jobid.clone()]),
            ))
        }
        WriteOp::Expire { limit } => {
            let jobids = queries::delete_expired(conn, now, *limit)?;
            Ok((WriteOutcome::Expired(jobids.len()), Effect::Deleted(jobids)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{open_reader, open_writer, read_job};

    fn update(workid: &str, total: Option<f64>, desc: &str) -> WriteOp {
        WriteOp::Update(WorkerUpdate {
            jobid: "j".into(),
            workid: workid.into(),
            current: 1.0,
            total,
            ok: true,
            desc: Some(desc.into()),
        })
    }

    #[test]
    fn a_bad_operation_fails_alone_in_its_batch() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("w.sqlite3");
        let mut conn = open_writer(&path)?;
        let ops = [
            update("a", Some(2.0), ""),
            update("b", None, ""),
            update("c", Some(2.0), ""),
            WriteOp::Delete(JobRef {
                jobid: "nope".into(),
            }),
        ];
        let results = apply_batch(&mut conn, &ops.iter().collect::<Vec<_>>(), 60.0)?;
        assert!(matches!(results[0], Ok(WriteOutcome::Updated)));
        assert!(matches!(results[1], Err(StoreError::TotalRequired)));
        assert!(matches!(results[2], Ok(WriteOutcome::Updated)));
        assert!(matches!(results[3], Ok(WriteOutcome::Deleted(false))));
        let job = read_job(&open_reader(&path)?, "j")?.expect("job created");
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
        })
    }

    #[test]
    fn jobs_created_and_deleted_within_one_batch() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("b.sqlite3");
        let mut conn = open_writer(&path)?;
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
        let results = apply_batch(&mut conn, &ops.iter().collect::<Vec<_>>(), 60.0)?;
        assert!(matches!(results[0], Ok(WriteOutcome::Updated)));
        assert!(matches!(results[1], Ok(WriteOutcome::Deleted(true))));
        assert!(matches!(results[2], Err(StoreError::TotalRequired)));
        assert!(matches!(results[3], Ok(WriteOutcome::Created)));
        assert!(matches!(results[4], Err(StoreError::TotalRequired)));
        assert!(matches!(results[5], Ok(WriteOutcome::Updated)));
        assert!(matches!(results[6], Ok(WriteOutcome::Deleted(true))));
        assert!(matches!(results[7], Ok(WriteOutcome::Deleted(false))));
        assert!(matches!(results[8], Ok(WriteOutcome::Updated)));
        let job = read_job(&open_reader(&path)?, "j")?.expect("recreated by the last update");
        let ids: Vec<_> = job.workers.iter().map(|w| w.workid.as_str()).collect();
        assert_eq!(ids, ["c"]);
        Ok(())
    }

    #[test]
    fn a_full_disk_fails_updates_and_writes_resume_after() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("full.sqlite3");
        let mut conn = open_writer(&path)?;
        let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        conn.pragma_update(None, "max_page_count", pages + 2)?;
        let desc = "x".repeat(1000);
        let mut failure = None;
        for n in 0..200 {
            let op = update(&format!("w{n}"), Some(1.0), &desc);
            let result = match apply_batch(&mut conn, &[&op], 60.0) {
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
        let results = apply_batch(&mut conn, &[&op], 60.0)?;
        assert!(matches!(results[0], Ok(WriteOutcome::Updated)));
        Ok(())
    }
}
