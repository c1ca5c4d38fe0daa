//! The `status` answer, written from the job's rows as it is sent.
//!
//! A job of 100,000 workers makes 21 MB of JSON. Holding it (or a tree of
//! it) per request let eight readers take gigabytes, so the answer is made
//! a slice of workers at a time, in natural order, inside one read
//! transaction (every slice from the same snapshot as the summary), while
//! tiny_http sends what is made. A request holds one slice, whatever the
//! job's size. A page of workers (`limit` ≤ 5,000) and the summary alone
//! are small, and made whole.
//!
//! Nothing here knows tiny_http: the route hands the answer over as a
//! [`Read`].

use std::io::{self, Read};
use std::panic::{AssertUnwindSafe, catch_unwind};

use rusqlite::{Connection, Transaction};

use crate::error::Error;
use crate::json::{self, PageFacts, STATUS_TAIL, StatusExtras};
use crate::model::{JobProgress, PageKey, PageStart, WorkerPick};
use crate::params::{StatusQuery, WorkerList, cursor_text};
use crate::response::Response;
use crate::store::{self, JobRows, StoreError};

/// Workers read and written per slice of a streamed answer.
const SLICE: u64 = 256;

/// Jobs of up to this many workers are read whole, in one pass, and their
/// answer sent with its length (about 220 bytes a worker); bigger ones are
/// read twice (the summary, then the workers) and sent as they are made.
const WHOLE_UP_TO: u64 = 2000;

/// The `status` answer for `query` at `now`, or `None` when there is no
/// such job.
pub fn answer<'c>(
    conn: &'c Connection,
    query: &StatusQuery,
    now: f64,
) -> Result<Option<Response<'c>>, Error> {
    let tx = conn.unchecked_transaction().map_err(StoreError::from)?;
    let Some(rows) = store::find_job(&tx, &query.jobid)? else {
        return Ok(None);
    };
    let mut extras = StatusExtras {
        // Today's answer stays word for word today's.
        since: (!query.is_plain()).then_some(rows.seen_through),
        page: None,
        no_workers: query.list == WorkerList::None,
    };
    let mut out = Vec::new();
    match &query.list {
        WorkerList::None => {
            let progress = rows.progress(&tx, now)?;
            json::write_status_head(&mut out, &rows.job, &progress, now, &extras);
            Ok(Some(Response::json_bytes(out)))
        }
        WorkerList::Page { start, limit } => {
            let progress = rows.progress(&tx, now)?;
            let median = progress.median_rate;
            let page = rows.page(&tx, &query.pick, start, *limit, now, median)?;
            let next = page
                .last()
                .filter(|_| page.len() as u64 == *limit)
                .map(|(_, key)| cursor_text(query.pick.order, key));
            let order = query.pick.order;
            extras.page = Some(PageFacts {
                matched: rows.count(&tx, &query.pick, now, median)?,
                limit: *limit,
                sort: format!(
                    "{}{}",
                    if order.descending { "-" } else { "" },
                    order.by.name()
                ),
                next,
            });
            json::write_status_head(&mut out, &rows.job, &progress, now, &extras);
            for (i, (worker, _)) in page.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json::write_worker(&mut out, worker, &progress, now);
            }
            out.extend_from_slice(STATUS_TAIL);
            Ok(Some(Response::json_bytes(out)))
        }
        WorkerList::All if rows.workers <= WHOLE_UP_TO && query.pick.since.is_none() => {
            // Small enough to hold: one pass, and sent with its length.
            let mut job = rows.job.clone();
            rows.for_each_worker(&tx, |w| job.workers.push(w))?;
            tx.finish().map_err(StoreError::from)?;
            let progress = job.progress(now);
            json::write_status_head(&mut out, &job, &progress, now, &extras);
            for (i, worker) in job.workers.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json::write_worker(&mut out, worker, &progress, now);
            }
            out.extend_from_slice(STATUS_TAIL);
            Ok(Some(Response::json_bytes(out)))
        }
        WorkerList::All => {
            let progress = rows.progress(&tx, now)?;
            json::write_status_head(&mut out, &rows.job, &progress, now, &extras);
            let stream = Stream {
                tx: Some(tx),
                rows,
                progress,
                pick: query.pick.clone(),
                now,
                after: None,
                out,
                sent: 0,
                first: true,
            };
            Ok(Some(Response::json_stream(stream)))
        }
    }
}

/// Every worker of a job, a slice at a time, after the head already made.
struct Stream<'c> {
    /// The read transaction the head was read in; `None` once the last
    /// slice is made (ending it, so the snapshot is let go at once).
    tx: Option<Transaction<'c>>,
    rows: JobRows,
    progress: JobProgress,
    pick: WorkerPick,
    now: f64,
    /// Where the last slice ended.
    after: Option<PageKey>,
    /// Made, not yet handed over.
    out: Vec<u8>,
    /// How much of `out` was handed over.
    sent: usize,
    /// No worker written yet.
    first: bool,
}

impl Stream<'_> {
    /// Makes the next slice; the last one closes the document and ends the
    /// transaction.
    fn slice(&mut self) -> Result<(), StoreError> {
        let Some(tx) = &self.tx else {
            return Ok(());
        };
        let start = match self.after.take() {
            Some(key) => PageStart::After(key),
            None => PageStart::Offset(0),
        };
        let median = self.progress.median_rate;
        let page = self
            .rows
            .page(tx, &self.pick, &start, SLICE, self.now, median)?;
        let full = page.len() as u64 == SLICE;
        for (worker, key) in page {
            if !self.first {
                self.out.push(b',');
            }
            self.first = false;
            json::write_worker(&mut self.out, &worker, &self.progress, self.now);
            self.after = Some(key);
        }
        if !full {
            self.out.extend_from_slice(STATUS_TAIL);
            if let Some(tx) = self.tx.take() {
                tx.finish()?;
            }
        }
        Ok(())
    }
}

impl Read for Stream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.sent == self.out.len() {
            self.out.clear();
            self.sent = 0;
            if self.tx.is_none() {
                return Ok(0);
            }
            // Headers are sent: a fault now can only cut the answer short,
            // which the client sees as a broken chunked body.
            match catch_unwind(AssertUnwindSafe(|| self.slice())) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    log::error!("status of {:?} cut short: {e}", self.rows.job.jobid);
                    self.tx = None;
                    return Err(io::Error::other(e.to_string()));
                }
                Err(_) => {
                    log::error!("status of {:?} cut short by a panic", self.rows.job.jobid);
                    self.tx = None;
                    return Err(io::Error::other("panic while writing status"));
                }
            }
        }
        let n = buf.len().min(self.out.len() - self.sent);
        buf[..n].copy_from_slice(&self.out[self.sent..self.sent + n]);
        self.sent += n;
        Ok(n)
    }
}
