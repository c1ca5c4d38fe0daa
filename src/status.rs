//! The `status` and `history` answers, written from the job's rows as they
//! are sent.
//!
//! A job of 100,000 workers makes 21 MB of JSON. Holding it (or a tree of
//! it) per request let eight readers take gigabytes, so the answer is made
//! a slice of workers at a time, in natural order, inside one read
//! transaction (every slice from the same snapshot as the summary), while
//! tiny_http sends what is made. A request holds one slice, whatever the
//! job's size. A page of workers (`limit` ≤ 5,000) and the summary alone
//! are small, and made whole.
//!
//! `history` is made the same way: one worker's alone, or every worker's
//! a slice at a time.
//!
//! Nothing here knows tiny_http: the route hands the answer over as a
//! [`Read`].

use crate::clock::Time;
use std::io::{self, Read};
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::error::Error;
use crate::json::{self, LIST_TAIL, PageFacts, StatusExtras, WorkerPage};
use crate::model::{JobProgress, PageKey, PageStart, Worker, WorkerPick};
use crate::params::{HistoryQuery, StatusQuery, WorkerList, cursor_text};
use crate::response::Response;
use crate::store::{JobRows, Reader, Snapshot, StoreError};

/// Workers read and written per slice of a streamed answer (and of
/// `show.txt`'s list of a big job).
pub const SLICE: u64 = 256;

/// Jobs of up to this many workers are read whole, in one pass, and their
/// answer sent with its length (about 220 bytes a worker); bigger ones are
/// read twice (the summary, then the workers) and sent as they are made.
const WHOLE_UP_TO: u64 = 2000;

/// The `status` answer for `query` at `now`.
pub fn status<'c>(
    reader: &'c Reader,
    query: &StatusQuery,
    now: Time,
) -> Result<Response<'c>, Error> {
    let snapshot = reader.snapshot()?;
    let rows = snapshot
        .find_job(&query.jobid)?
        .ok_or_else(|| Error::UnknownJob(query.jobid.clone()))?;
    let mut extras = StatusExtras {
        // Today's answer stays word for word today's.
        since: (!query.is_plain()).then_some(rows.seen_through),
        page: None,
        no_workers: query.list == WorkerList::None,
        attention: None,
        text: query.text,
    };
    let mut out = Vec::new();
    let every_worker = query.list == WorkerList::All && query.pick.since.is_none();
    if every_worker && rows.workers <= WHOLE_UP_TO && query.attention.is_none() {
        // Small enough to hold: one pass, and sent with its length.
        let job = rows.whole(&snapshot)?;
        snapshot.finish()?;
        let progress = job.progress(now);
        json::write_status_head(&mut out, &job, &progress, now, &extras);
        json::write_workers(&mut out, &job.workers, &progress, now, query.text);
        out.extend_from_slice(LIST_TAIL);
        return Ok(Response::json_bytes(out));
    }
    // One summary for all the answer lists, and the attention list from
    // the same pass.
    let progress = match query.attention {
        Some(limit) => {
            let (progress, page) = rows.progress_and_attention(&snapshot, now, limit)?;
            let pick = WorkerPick::needing_attention();
            let facts = facts_of(&snapshot, &rows, &pick, &page, limit, &progress, now)?;
            let workers = page.into_iter().map(|(worker, _)| worker).collect();
            extras.attention = Some(WorkerPage { facts, workers });
            progress
        }
        None => rows.progress(&snapshot, now)?,
    };
    match &query.list {
        WorkerList::None => {
            json::write_status_head(&mut out, &rows.job, &progress, now, &extras);
            Ok(Response::json_bytes(out))
        }
        WorkerList::Page { start, limit } => {
            let (page, facts) =
                page_of(&snapshot, &rows, &query.pick, start, *limit, &progress, now)?;
            extras.page = Some(facts);
            json::write_status_head(&mut out, &rows.job, &progress, now, &extras);
            let workers: Vec<Worker> = page.into_iter().map(|(worker, _)| worker).collect();
            json::write_workers(&mut out, &workers, &progress, now, query.text);
            out.extend_from_slice(LIST_TAIL);
            Ok(Response::json_bytes(out))
        }
        WorkerList::All => {
            json::write_status_head(&mut out, &rows.job, &progress, now, &extras);
            let pick = query.pick.clone();
            let text = query.text;
            let mut after = None;
            let next = move |snapshot: &Snapshot, out: &mut Vec<u8>, first: &mut bool| {
                let start = match after.take() {
                    Some(key) => PageStart::After(key),
                    None => PageStart::Offset(0),
                };
                let median = progress.median_rate;
                let page = rows.page(snapshot, &pick, &start, SLICE, now, median)?;
                let more = page.len() as u64 == SLICE;
                for (worker, key) in page {
                    comma(out, first);
                    json::write_worker(out, &worker, &progress, now, text);
                    after = Some(key);
                }
                Ok(more)
            };
            Ok(Response::json_stream(Stream::new(snapshot, out, next)))
        }
    }
}

/// The page of the job's workers that `pick` selects, from `start`, at
/// most `limit`, each with its place; and what the page is.
fn page_of(
    snapshot: &Snapshot,
    rows: &JobRows,
    pick: &WorkerPick,
    start: &PageStart,
    limit: u64,
    progress: &JobProgress,
    now: Time,
) -> Result<(Vec<(Worker, PageKey)>, PageFacts), Error> {
    let page = rows.page(snapshot, pick, start, limit, now, progress.median_rate)?;
    let facts = facts_of(snapshot, rows, pick, &page, limit, progress, now)?;
    Ok((page, facts))
}

/// What a page of the workers `pick` selects is, for its answer.
fn facts_of(
    snapshot: &Snapshot,
    rows: &JobRows,
    pick: &WorkerPick,
    page: &[(Worker, PageKey)],
    limit: u64,
    progress: &JobProgress,
    now: Time,
) -> Result<PageFacts, Error> {
    let median = progress.median_rate;
    let next = page
        .last()
        .filter(|_| page.len() as u64 == limit)
        .map(|(_, key)| cursor_text(pick.order, key));
    let matched = match pick.matched(progress, rows.workers) {
        Some(n) => n,
        None => rows.count(snapshot, pick, now, median)?,
    };
    Ok(PageFacts {
        matched,
        limit,
        sort: pick.order.name(),
        next,
    })
}

/// The `history` answer at `now`: `workid`'s history alone, or every
/// worker's (streamed a slice at a time) with the job's overall percent
/// over time.
pub fn history<'c>(
    reader: &'c Reader,
    query: &HistoryQuery,
    now: Time,
) -> Result<Response<'c>, Error> {
    let mut out = Vec::new();
    if let Some(workid) = &query.workid {
        let found = reader
            .worker_history(&query.jobid, workid)?
            .ok_or_else(|| Error::UnknownJob(query.jobid.clone()))?;
        let worker = found
            .first()
            .ok_or_else(|| Error::UnknownWorker(query.jobid.clone(), workid.clone()))?;
        json::write_history_head(&mut out, &query.jobid, now, None);
        json::write_worker_history(&mut out, worker, query.text);
        out.extend_from_slice(LIST_TAIL);
        return Ok(Response::json_bytes(out));
    }
    let snapshot = reader.snapshot()?;
    let rows = snapshot
        .find_job(&query.jobid)?
        .ok_or_else(|| Error::UnknownJob(query.jobid.clone()))?;
    let progress = rows.progress(&snapshot, now)?;
    let burn_up = rows.job.burn_up(&progress);
    json::write_history_head(&mut out, &query.jobid, now, Some(&burn_up));
    let mut after: Option<Vec<u8>> = None;
    let text = query.text;
    let next = move |snapshot: &Snapshot, out: &mut Vec<u8>, first: &mut bool| {
        let page = rows.history_page(snapshot, after.as_deref(), SLICE)?;
        let more = page.len() as u64 == SLICE;
        for (worker, key) in page {
            comma(out, first);
            json::write_worker_history(out, &worker, text);
            after = Some(key);
        }
        Ok(more)
    };
    Ok(Response::json_stream(Stream::new(snapshot, out, next)))
}

/// A comma before every item of a list but the first.
fn comma(out: &mut Vec<u8>, first: &mut bool) {
    if !*first {
        out.push(b',');
    }
    *first = false;
}

/// A document whose head is made, its list of items then made a slice at
/// a time by `next` (which writes one slice and says whether more may
/// follow) inside the read transaction the head was read in.
struct Stream<'c, F> {
    /// `None` once the last slice is made (ending the transaction, so the
    /// snapshot is let go at once).
    snapshot: Option<Snapshot<'c>>,
    next: F,
    /// No item written yet.
    first: bool,
    /// Made, not yet handed over.
    out: Vec<u8>,
    /// How much of `out` was handed over.
    sent: usize,
}

impl<'c, F> Stream<'c, F>
where
    F: FnMut(&Snapshot, &mut Vec<u8>, &mut bool) -> Result<bool, StoreError>,
{
    fn new(snapshot: Snapshot<'c>, head: Vec<u8>, next: F) -> Stream<'c, F> {
        Stream {
            snapshot: Some(snapshot),
            next,
            first: true,
            out: head,
            sent: 0,
        }
    }

    /// Makes the next slice; the last one closes the document and ends the
    /// transaction.
    fn slice(&mut self) -> Result<(), StoreError> {
        let Some(snapshot) = &self.snapshot else {
            return Ok(());
        };
        if !(self.next)(snapshot, &mut self.out, &mut self.first)? {
            self.out.extend_from_slice(LIST_TAIL);
            if let Some(snapshot) = self.snapshot.take() {
                snapshot.finish()?;
            }
        }
        Ok(())
    }
}

impl<F> Read for Stream<'_, F>
where
    F: FnMut(&Snapshot, &mut Vec<u8>, &mut bool) -> Result<bool, StoreError>,
{
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.sent == self.out.len() {
            self.out.clear();
            self.sent = 0;
            if self.snapshot.is_none() {
                return Ok(0);
            }
            // Headers are sent: a fault now can only cut the answer short,
            // which the client sees as a broken chunked body.
            let made = catch_unwind(AssertUnwindSafe(|| self.slice()));
            let failure = match made {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(_) => Some("a panic".to_string()),
            };
            if let Some(why) = failure {
                log::error!("answer cut short: {why}");
                self.snapshot = None;
                return Err(io::Error::other(why));
            }
        }
        let n = buf.len().min(self.out.len() - self.sent);
        buf[..n].copy_from_slice(&self.out[self.sent..self.sent + n]);
        self.sent += n;
        Ok(n)
    }
}
