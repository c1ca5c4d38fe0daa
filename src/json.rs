//! Model → JSON for the `status` and `jobs` endpoints.
//!
//! Numbers that are whole come out as integers (`5`, not `5.0`), as the
//! Python and shell clients sent them; times are Unix seconds to the
//! millisecond. Rates and ETAs are written as computed, at full precision:
//! a slow worker's rate is never rounded to 0 beside a finite ETA, and the
//! page's script formats the very numbers the server formats.

use crate::clock::Time;
use serde_json::{Value, json};

use crate::history::Point;
use crate::model::{
    BarState, Job, JobProgress, JobSummary, ListedJob, PeerReport, Worker, WorkerHistory,
};
use crate::shown::{self, HistoryText, JobText, WorkerText};

/// Largest integer an `f64` holds exactly.
const EXACT_INT: f64 = 9_007_199_254_740_992.0;

/// A number as JSON: an integer when it is whole, else a float.
fn number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < EXACT_INT {
        // Whole and in range, so the cast is exact.
        json!(x as i64)
    } else {
        json!(x)
    }
}

/// `x` rounded to `places` decimals, as JSON; as it is when so large that
/// scaling it would overflow.
fn rounded(x: f64, places: i32) -> Value {
    number(round_to(x, places))
}

/// `x` to `places` decimals (itself where scaling overflows).
fn round_to(x: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    let round = (x * scale).round() / scale;
    if round.is_finite() { round } else { x }
}

/// A time as every answer writes it: Unix seconds to the millisecond. The
/// page writes its times this way too, so a row drawn by the server and
/// one drawn by the script from `status` carry the same stamp.
pub fn time_stamp(t: Time) -> f64 {
    round_to(t.as_unix(), 3)
}

fn time(t: Time) -> Value {
    number(time_stamp(t))
}

/// A percent as every answer writes it: to two decimals, rounded down
/// (as the page writes it to one), so that nothing short of done reads
/// 100. The page's bars carry it this way too, as the script draws them
/// from `status`.
pub fn percent_figure(p: f64) -> f64 {
    // To the millionth first (the figures behind a percent are kept to
    // that), so 14.29, held as 14.2899999…, is not cut to 14.28.
    let millionths = (p * 1e6).round();
    let floored = (millionths / 1e4).floor() / 100.0;
    if floored.is_finite() { floored } else { p }
}

/// Points as `[[time, value], …]`, each value written by `value`.
fn points(points: &[Point], value: impl Fn(f64) -> Value) -> Value {
    Value::Array(
        points
            .iter()
            .map(|&(t, v)| json!([time(Time::unix(t)), value(v)]))
            .collect(),
    )
}

/// A percent as JSON ([`percent_figure`]).
fn percent(p: f64) -> Value {
    number(percent_figure(p))
}

/// Writes one JSON object's members in the order they are given, which for
/// every document here is alphabetical (the order serde_json's maps kept,
/// so the answers are byte for byte what they were).
struct Members<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Members<'a> {
    /// Opens an object.
    fn open(out: &'a mut Vec<u8>) -> Members<'a> {
        out.push(b'{');
        Members { out, first: true }
    }

    /// Starts a member: its name, then its value is written to the buffer.
    fn name(&mut self, name: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        write_str(self.out, name);
        self.out.push(b':');
        self.out
    }

    /// A member whose value is JSON.
    fn value(&mut self, name: &str, value: &Value) {
        let out = self.name(name);
        // Writing to a Vec cannot fail.
        let _ = serde_json::to_writer(out, value);
    }

    /// A member whose value is a string.
    fn text(&mut self, name: &str, text: &str) {
        let out = self.name(name);
        write_str(out, text);
    }

    /// Closes the object.
    fn close(self) {
        self.out.push(b'}');
    }
}

/// A string as JSON, escaped as serde_json escapes it.
fn write_str(out: &mut Vec<u8>, text: &str) {
    let _ = serde_json::to_writer(out, text);
}

/// One worker of a `status` answer; with its row's `text` when asked
/// (`text=1`).
pub fn write_worker(out: &mut Vec<u8>, w: &Worker, progress: &JobProgress, now: Time, text: bool) {
    let reported = w.updates > 0;
    let stale = w.is_stale(now);
    let mut m = Members::open(out);
    m.value("current", &number(w.current));
    m.text("desc", &w.desc);
    // A silent worker's time left would mislead.
    let eta = w.eta_seconds().filter(|_| !stale).map(|s| number(s.get()));
    m.value("eta_seconds", &eta.unwrap_or(Value::Null));
    // A worker that has not reported has no times of its own.
    let first_seen = reported.then(|| time(w.first_seen));
    m.value("first_seen", &first_seen.unwrap_or(Value::Null));
    m.value("ok", &Value::Bool(w.ok));
    m.value("percent", &percent(w.percent()));
    m.value("rate", &w.rate.map(number).unwrap_or(Value::Null));
    m.value("seq", &w.seq.map_or(Value::Null, Value::from));
    m.value("slow", &Value::Bool(w.is_slow(progress.median_rate, now)));
    m.value("stale", &Value::Bool(stale));
    m.text("state", w.state().as_str());
    if text {
        write_worker_text(m.name("text"), &WorkerText::of(w, progress, now));
    }
    m.value("total", &number(w.total));
    let updated = reported.then(|| time(w.updated));
    m.value("updated", &updated.unwrap_or(Value::Null));
    m.text("workid", &w.workid);
    m.close();
}

/// A worker's row in words, as the page draws it.
fn write_worker_text(out: &mut Vec<u8>, text: &WorkerText) {
    let mut m = Members::open(out);
    m.text("ago", &text.ago);
    m.text("class", &text.class);
    m.text("counts", &text.counts);
    m.text("detail", &text.detail);
    m.text("label", &text.label);
    m.text("percent", &text.percent);
    m.text("rate", &text.rate);
    m.text("stamp", &text.stamp);
    m.text("state", text.state.as_str());
    m.text("total", &text.total);
    m.text("track", &text.track);
    m.close();
}

/// What a `status` answer says besides the job and its workers: nothing
/// (today's answer), or the time to poll `since=` from, and the page.
#[derive(Debug, Clone, Default)]
pub struct StatusExtras {
    /// The value for the next poll's `since=`.
    pub since: Option<Time>,
    /// The page of workers listed, when one was asked for.
    pub page: Option<PageFacts>,
    /// True when the answer lists no workers (`workers=0`).
    pub no_workers: bool,
    /// The first workers needing attention, when asked for (`attention=N`).
    pub attention: Option<WorkerPage>,
    /// The page's texts for the summary and each worker (`text=1`).
    pub text: bool,
}

impl StatusExtras {
    /// True for today's answer, which says nothing more.
    fn is_plain(&self) -> bool {
        self.since.is_none() && self.page.is_none() && !self.no_workers && self.attention.is_none()
    }
}

/// A page of workers written whole beside the answer's own list.
#[derive(Debug, Clone)]
pub struct WorkerPage {
    /// What the page is.
    pub facts: PageFacts,
    /// Its workers, in order.
    pub workers: Vec<Worker>,
}

/// What a page of workers was and where the next one starts.
#[derive(Debug, Clone)]
pub struct PageFacts {
    /// How many workers the filter selects, in all.
    pub matched: u64,
    /// The most workers a page lists.
    pub limit: u64,
    /// The order's name (`workid`, `percent`, ...), `-` first when
    /// largest first.
    pub sort: String,
    /// The cursor of the next page, when this one was full.
    pub next: Option<String>,
}

/// The `status` document's head at `now`: everything up to the workers.
/// With workers to list, it ends with `"workers":[`; the caller writes them
/// with [`write_worker`] separated by commas, then [`LIST_TAIL`].
/// Without, the document is complete.
pub fn write_status_head(
    out: &mut Vec<u8>,
    job: &Job,
    progress: &JobProgress,
    now: Time,
    extras: &StatusExtras,
) {
    let mut m = Members::open(out);
    if let Some(attention) = &extras.attention {
        // As the answer of that page alone has them: its page, its workers.
        let mut list = Members::open(m.name("attention"));
        list.value("page", &page_facts(&attention.facts));
        let out = list.name("workers");
        out.push(b'[');
        write_workers(out, &attention.workers, progress, now, extras.text);
        out.push(b']');
        list.close();
    }
    m.value("created", &time(job.created));
    m.text("desc", &job.desc);
    m.value("expires", &time(job.expires()));
    m.text("jobid", &job.jobid);
    m.value("now", &time(now));
    if let Some(page) = &extras.page {
        m.value("page", &page_facts(page));
    }
    if let Some(since) = extras.since {
        // Exact, not rounded: a rounded-up time would skip rows.
        m.value("since", &json!(since.as_unix()));
    }
    let mut figures = summary(job, progress);
    // New with the new parameters, so today's answer stays today's.
    let with_histogram = !extras.is_plain();
    if with_histogram {
        figures["histogram"] = histogram(progress);
    }
    if extras.text {
        figures["text"] = job_text(job, progress, now, with_histogram);
    }
    m.value("summary", &figures);
    m.value("updated", &time(job.updated));
    if extras.no_workers {
        m.close();
        out.push(b'\n');
    } else {
        // Left open for the workers and the tail.
        m.name("workers").push(b'[');
    }
}

/// A page's `page` member.
fn page_facts(page: &PageFacts) -> Value {
    json!({
        "limit": page.limit,
        "matched": page.matched,
        "next": page.next,
        "sort": page.sort,
    })
}

/// `workers` with [`write_worker`], separated by commas.
pub fn write_workers(
    out: &mut Vec<u8>,
    workers: &[Worker],
    progress: &JobProgress,
    now: Time,
    text: bool,
) {
    for (i, worker) in workers.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_worker(out, worker, progress, now, text);
    }
}

/// The summary in words, as the page writes it; with the histogram's
/// columns when the answer has the histogram.
fn job_text(job: &Job, progress: &JobProgress, now: Time, with_histogram: bool) -> Value {
    let text = JobText::of(job, progress, &job.burn_up(progress), now);
    let mut value = json!({
        "burn_up_from": text.burn_up_from,
        "completed": text.completed,
        "eta": text.eta,
        "expires": text.expires,
        "now": text.now,
        "percent": text.percent,
    });
    if with_histogram {
        let columns: Vec<Value> = shown::histogram(progress)
            .into_iter()
            .map(|c| json!({"cut": c.cut, "heights": c.heights, "n": c.n, "title": c.title}))
            .collect();
        value["histogram"] = Value::Array(columns);
    }
    value
}

/// The workers by percent and state: per state, a count per bucket.
fn histogram(progress: &JobProgress) -> Value {
    let mut by_state = serde_json::Map::new();
    for state in BarState::ALL {
        let counts: Vec<usize> = progress
            .histogram
            .iter()
            .map(|bucket| bucket[state as usize])
            .collect();
        by_state.insert(state.as_str().to_string(), json!(counts));
    }
    Value::Object(by_state)
}

/// What closes a `status` or `history` document after its workers.
pub const LIST_TAIL: &[u8] = b"]}\n";

fn summary(job: &Job, progress: &JobProgress) -> Value {
    json!({
        "percent": percent(progress.percent),
        "running": progress.count(BarState::Running),
        "done": progress.count(BarState::Done),
        "failed": progress.count(BarState::Failed),
        "stale": progress.count(BarState::Stale),
        "not_started": progress.count(BarState::NotStarted),
        "slow": progress.slow,
        "median_rate": progress.median_rate.map(number),
        "last_report": progress.last_report.map(time),
        "eta_seconds": progress.eta_seconds.map(|s| number(s.get())),
        "history": points(&job.burn_up(progress), percent),
    })
}

/// The `status` document at `now` of a job read whole (with its workers).
#[cfg(test)]
pub fn job_status(job: &Job, now: Time) -> Vec<u8> {
    let progress = job.progress(now);
    let mut out = Vec::new();
    write_status_head(&mut out, job, &progress, now, &StatusExtras::default());
    write_workers(&mut out, &job.workers, &progress, now, false);
    out.extend_from_slice(LIST_TAIL);
    out
}

/// The `history` document's head at `now`: the job's id, the time, its
/// overall percent over time when the whole job is listed, and
/// `"workers":[`; the caller writes each worker with
/// [`write_worker_history`], separated by commas, then [`LIST_TAIL`].
pub fn write_history_head(out: &mut Vec<u8>, jobid: &str, now: Time, percent: Option<&[Point]>) {
    let mut m = Members::open(out);
    m.text("jobid", jobid);
    m.value("now", &time(now));
    if let Some(burn_up) = percent {
        m.value("percent", &points(burn_up, self::percent));
    }
    // Left open for the workers and the tail.
    m.name("workers").push(b'[');
}

/// One worker of a `history` answer: its `current` over time; with the
/// page's text of it when asked (`text=1`).
pub fn write_worker_history(out: &mut Vec<u8>, w: &WorkerHistory, text: bool) {
    let mut m = Members::open(out);
    m.value("current", &points(&w.points, |v| rounded(v, 6)));
    if text {
        let text = HistoryText::of(&w.points);
        m.value("text", &json!({"since": text.since, "top": text.top}));
    }
    m.text("workid", &w.workid);
    m.close();
}

/// The `jobs` document: one summary per job, in the order given; a job a
/// peer has says which (`peer`) and where its page is (`show`).
pub fn job_list(jobs: &[ListedJob]) -> Value {
    Value::Array(jobs.iter().map(listed_job).collect())
}

/// The `jobs` document with `envelope=1`: the jobs, how each peer answered,
/// and the address this server's pages are reached at when `--public-url`
/// gives one (where a peer's links to them go).
pub fn job_list_envelope(
    jobs: &[ListedJob],
    peers: &[PeerReport],
    public_url: Option<&str>,
) -> Value {
    let peers: Vec<Value> = peers
        .iter()
        .map(|p| {
            json!({
                "url": &*p.url,
                "ok": p.error.is_none(),
                "error": p.error,
                "jobs": p.jobs,
            })
        })
        .collect();
    json!({
        "jobs": job_list(jobs),
        "peers": peers,
        "public_url": public_url,
    })
}

fn listed_job(listed: &ListedJob) -> Value {
    let j = &listed.job;
    let mut value = json!({
        "jobid": j.jobid,
        "desc": j.desc,
        "created": time(j.created),
        "updated": time(j.updated),
        "expires": time(j.expires()),
        "workers": j.workers,
        "running": j.running,
        "done": j.done,
        "failed": j.failed,
        "stale": j.stale,
        "not_started": j.not_started,
        "percent": percent(j.percent),
    });
    if let Some(elsewhere) = &listed.elsewhere {
        value["peer"] = json!(&*elsewhere.peer);
        value["show"] = json!(elsewhere.show);
    }
    value
}

/// One job of a peer's `jobs` document read back, or None when it is not
/// one [`job_list`] writes.
pub fn job_summary_of(value: &Value) -> Option<JobSummary> {
    let text = |name: &str| value.get(name)?.as_str().map(str::to_string);
    let float = |name: &str| value.get(name)?.as_f64().filter(|x| x.is_finite());
    let count = |name: &str| value.get(name)?.as_i64();
    let updated = Time::unix(float("updated")?);
    Some(JobSummary {
        jobid: text("jobid")?,
        desc: text("desc")?,
        created: Time::unix(float("created")?),
        updated,
        maxage: Time::unix(float("expires")?) - updated,
        workers: count("workers")?,
        running: count("running")?,
        done: count("done")?,
        failed: count("failed")?,
        stale: count("stale")?,
        not_started: count("not_started")?,
        percent: float("percent")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Time;
    use crate::model::fixtures::{EDGE_RATES, job, running};

    fn worker(w: &Worker, progress: &JobProgress, now: Time) -> Value {
        let mut out = Vec::new();
        write_worker(&mut out, w, progress, now, false);
        serde_json::from_slice(&out).expect("a worker is JSON")
    }

    fn status(job: &Job, now: Time) -> Value {
        serde_json::from_slice(&job_status(job, now)).expect("status is JSON")
    }

    #[test]
    fn a_silent_worker_has_no_time_left_and_an_expected_one_no_times() {
        let w = running("w", 5.0, 10.0, 0.5);
        let job = job(vec![w.clone()]);
        let reporting = worker(&w, &job.progress(Time::unix(11.0)), Time::unix(11.0));

        assert_eq!(reporting["eta_seconds"], 10);
        let silent = worker(&w, &job.progress(Time::unix(1000.0)), Time::unix(1000.0));
        assert_eq!(
            (silent["stale"].as_bool(), silent["eta_seconds"].is_null()),
            (Some(true), true)
        );
        let expected = Worker { updates: 0, ..w };
        let expected = worker(&expected, &job.progress(Time::unix(11.0)), Time::unix(11.0));
        assert!(expected["first_seen"].is_null() && expected["updated"].is_null());
    }

    /// Issue 11: a rate of 0.089/h was written `"rate": 0` beside an ETA
    /// of 11 hours. A rate is written as it is, so 0 means 0, and only a
    /// rate of 0 (or one too small for a finite time) has no ETA.
    #[test]
    fn the_rate_is_never_0_beside_an_eta() {
        for rate in EDGE_RATES {
            let w = running("w", 1.0, 2.0, rate);
            let status = status(&job(vec![w.clone(), w.clone(), w]), Time::unix(11.0));
            let written = &status["workers"][0];
            assert_eq!(written["rate"].as_f64(), Some(rate), "exactly");
            assert_eq!(status["summary"]["median_rate"].as_f64(), Some(rate));
            let eta = written["eta_seconds"].as_f64();
            assert_eq!(
                eta.is_some(),
                rate > 0.0 && (1.0 / rate).is_finite(),
                "{rate}: {eta:?}"
            );
            assert!(eta.is_none_or(f64::is_finite));
            assert_eq!(status["summary"]["eta_seconds"].is_null(), eta.is_none());
        }
    }

    /// A running worker at 99.999999 % read 100.0 in JSON while the page
    /// said 99.9 %: percents are rounded down, so only done reads 100.
    #[test]
    fn only_done_reads_100_percent() {
        let w = running("w", 99_999_999.0, 100_000_000.0, 1.0);
        let status = status(&job(vec![w.clone(), w]), Time::unix(11.0));
        assert_eq!(status["workers"][0]["percent"].as_f64(), Some(99.99));
        assert_eq!(status["summary"]["percent"].as_f64(), Some(99.99));
        let last = &status["summary"]["history"][0][1];
        assert_eq!(last.as_f64(), Some(99.99), "the burn-up too");
        assert_eq!(percent_figure(100.0), 100.0);
        assert_eq!(percent_figure(14.29), 14.29, "not cut below its figure");
        assert_eq!(percent_figure(100.0 * 5.0 / 22.0), 22.72);
        assert_eq!(percent_figure(0.0), 0.0);
    }

    /// What a peer writes of a job is read back as the same job, to the
    /// millisecond its times are written to.
    #[test]
    fn a_listed_job_reads_back() {
        let job = JobSummary {
            jobid: "j 1".into(),
            desc: "Nightly".into(),
            created: Time::unix(1_800_000_000.25),
            updated: Time::unix(1_800_000_100.5),
            maxage: crate::clock::Secs(3600.0),
            workers: 7,
            running: 2,
            done: 1,
            failed: 1,
            stale: 1,
            not_started: 2,
            percent: 42.17,
        };
        let listed = ListedJob {
            job: job.clone(),
            elsewhere: None,
        };
        let written = job_list(std::slice::from_ref(&listed));
        assert_eq!(job_summary_of(&written[0]), Some(job));
        assert!(written[0].get("peer").is_none(), "a local job is as it was");
        let mut broken = written[0].clone();
        broken["workers"] = json!("seven");
        assert_eq!(job_summary_of(&broken), None);
    }

    #[test]
    fn whole_numbers_are_integers() {
        assert_eq!(number(5.0).to_string(), "5");
        assert_eq!(number(-0.0).to_string(), "0");
        assert_eq!(number(2.5).to_string(), "2.5");
        assert_eq!(number(1e300).to_string(), "1e+300");
        assert_eq!(rounded(100.0 * 5.0 / 22.0, 2).to_string(), "22.73");
        assert_eq!(
            time(Time::unix(1_764_107_205.123_456)).to_string(),
            "1764107205.123"
        );
        assert_eq!(
            rounded(1e305, 6).to_string(),
            "1e+305",
            "no overflow to null"
        );
    }
}
