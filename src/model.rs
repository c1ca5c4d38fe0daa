//! Plain data: a job, its workers, and what is derived from them (percent,
//! state, staleness, rate, ETA, stragglers, the job's summary, the natural
//! order of ids).
//!
//! Nothing here knows SQL or HTTP. The store fills these structs; the JSON,
//! page and chart read them. Every derived figure is computed here and only
//! here, so the JSON, the page and the chart never disagree (the store even
//! registers [`percent`] and [`WorkerState::of`] as SQL functions for the job
//! list's aggregates). Every figure that depends on the time takes it as an
//! argument: nothing here reads a clock.

use crate::clock::{Secs, Time};

/// A job as stored, with its workers in natural order of workid.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// The job's id, exactly as the client sent it (after URL decoding).
    pub jobid: String,
    /// Human-readable title; may be empty.
    pub desc: String,
    /// When the job was (last) created.
    pub created: Time,
    /// The last activity: create or any update.
    pub updated: Time,
    /// How long after `updated` the job may be deleted.
    pub maxage: Secs,
    /// The job's workers, in natural order of workid.
    pub workers: Vec<Worker>,
    /// The job's overall percent over time (see [`crate::history`]): a point
    /// at creation and at most one a second while workers report.
    pub history: Vec<crate::history::Point>,
}

/// When a job last active at `updated` may be deleted.
pub fn expires(updated: Time, maxage: Secs) -> Time {
    updated + maxage
}

impl Job {
    /// What it is called: its desc, else its id.
    pub fn title(&self) -> &str {
        if self.desc.is_empty() {
            &self.jobid
        } else {
            &self.desc
        }
    }

    /// When the job may be deleted.
    pub fn expires(&self) -> Time {
        expires(self.updated, self.maxage)
    }
}

/// One worker's latest report, or an expected worker (named by the job's
/// roster) that has not reported yet.
#[derive(Debug, Clone, PartialEq)]
pub struct Worker {
    /// The worker's id, unique within its job.
    pub workid: String,
    /// Units done so far.
    pub current: f64,
    /// Units to do in all.
    pub total: f64,
    /// False when the worker reported a problem (`ok=0`).
    pub ok: bool,
    /// The worker's status text; may be empty.
    pub desc: String,
    /// The worker's first update (for a worker that has not reported, when
    /// the job expected it).
    pub first_seen: Time,
    /// The worker's last update (as `first_seen` for a worker that has not
    /// reported).
    pub updated: Time,
    /// Units per second over its recent reports
    /// ([`crate::history::rate_of`]), as at its last report; `None` until
    /// two reports apart in time.
    pub rate: Option<f64>,
    /// How many reports the worker has sent; 0 for a worker the job's roster
    /// expects that has not reported yet.
    pub updates: i64,
    /// The highest `seq` the worker has reported, if it sends them.
    pub seq: Option<u64>,
}

/// What a worker's bar means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerState {
    /// Expected by the job's roster; has not reported yet.
    NotStarted,
    /// Still working: current < total and ok.
    Running,
    /// Finished: current ≥ total and ok.
    Done,
    /// The worker reported a problem (ok=0), whatever its progress.
    Failed,
}

impl WorkerState {
    /// The state of a worker with these figures. A failure outranks progress.
    pub fn of(current: f64, total: f64, ok: bool) -> WorkerState {
        if !ok {
            WorkerState::Failed
        } else if current >= total {
            WorkerState::Done
        } else {
            WorkerState::Running
        }
    }

    /// The word used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkerState::NotStarted => "not_started",
            WorkerState::Running => "running",
            WorkerState::Done => "done",
            WorkerState::Failed => "failed",
        }
    }
}

/// A running worker silent longer than this is stale, however long its usual
/// gap between reports.
pub const STALE_FLOOR: Secs = Secs(120.0);
/// A running worker is stale once silent for more than this many of its
/// usual gaps between reports (and more than [`STALE_FLOOR`]).
pub const STALE_GAPS: f64 = 5.0;

/// How a worker's bar is drawn: its state, with a running worker that has
/// gone silent shown apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarState {
    /// Running and reporting.
    Running,
    /// Finished.
    Done,
    /// Reported a problem.
    Failed,
    /// Running but silent for much longer than usual.
    Stale,
    /// Expected by the roster, not reported yet: an empty outlined bar.
    NotStarted,
}

impl BarState {
    /// Every state, in legend order.
    pub const ALL: [BarState; 5] = [
        BarState::Running,
        BarState::Done,
        BarState::Failed,
        BarState::Stale,
        BarState::NotStarted,
    ];

    /// The state's key: in JSON, in CSS class names, in the SQL aggregates.
    pub fn as_str(self) -> &'static str {
        match self {
            BarState::Running => "running",
            BarState::Done => "done",
            BarState::Failed => "failed",
            BarState::Stale => "stale",
            BarState::NotStarted => "not_started",
        }
    }

    /// The words shown on the page and in the chart.
    pub fn words(self) -> &'static str {
        match self {
            BarState::NotStarted => "not started",
            other => other.as_str(),
        }
    }
}

/// Percent complete, 0–100: a total of 0 counts as finished, and progress past
/// the total is capped.
pub fn percent(current: f64, total: f64) -> f64 {
    // Done is 100 exactly: 0.081 * 100 / 0.081 is not.
    if total <= 0.0 || current >= total {
        return 100.0;
    }
    // Scale first, so 29 of 100 is 29 and not 28.999999999999996 (which
    // the page, rounding down, showed as 28.9 %); divide first only where
    // 100 * current would overflow.
    let scaled = current * 100.0;
    let p = if scaled.is_finite() {
        scaled / total
    } else {
        current / total * 100.0
    };
    // Rounding may reach 100 just short of the total: only done is 100.
    p.min(PERCENT_BELOW_DONE)
}

/// The most a worker short of its total can be: 100 less a hair, so it is
/// never shown as done.
const PERCENT_BELOW_DONE: f64 = 99.999_999;

/// A worker's percent: 0 until it reports (its figures are placeholders).
pub fn worker_percent(current: f64, total: f64, updates: i64) -> f64 {
    if updates == 0 {
        0.0
    } else {
        percent(current, total)
    }
}

/// The unit a rate is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateUnit {
    /// Per second.
    Second,
    /// Per minute.
    Minute,
    /// Per hour.
    Hour,
}

/// Where one unit gives way to the next, in units per second: rates from
/// each are written in the first unit, below it in the second.
const UNIT_STEPS: [(f64, RateUnit, RateUnit); 2] = [
    (1.0, RateUnit::Second, RateUnit::Minute),
    (1.0 / 60.0, RateUnit::Minute, RateUnit::Hour),
];

/// How far either side of a step (a factor) a rate is too near it to
/// choose the unit alone.
const UNIT_BAND: f64 = 2.0;

impl RateUnit {
    /// The unit that gives `rate` (units per second) a whole number or
    /// more. Near a step between units (within a factor of [`UNIT_BAND`]:
    /// 0.5 to 2 a second, say), a rate that wavers would flip the unit
    /// from poll to poll (`1.25/s`, `74/min`): there the unit is chosen
    /// by `steady`, a rate that moves slowly (a long-run average), when
    /// one is known. The server keeps nothing between polls, so this band
    /// is its hysteresis: the unit changes only once the wavering rate is
    /// well past the step, or the steady one crosses it.
    pub fn of(rate: f64, steady: Option<f64>) -> RateUnit {
        for (step, above, below) in UNIT_STEPS {
            if rate >= step / UNIT_BAND && rate < step * UNIT_BAND {
                return if steady.unwrap_or(rate) >= step {
                    above
                } else {
                    below
                };
            }
        }
        match rate {
            r if r == 0.0 || r >= 1.0 => RateUnit::Second,
            r if r * 60.0 >= 1.0 => RateUnit::Minute,
            _ => RateUnit::Hour,
        }
    }

    /// Seconds in the unit.
    pub fn seconds(self) -> f64 {
        match self {
            RateUnit::Second => 1.0,
            RateUnit::Minute => 60.0,
            RateUnit::Hour => 3600.0,
        }
    }
}

/// A running worker is slow when its rate is below this share of the median
/// rate of the job's running and finished workers...
pub const SLOW_SHARE: f64 = 0.5;
/// ...certainly below this share...
pub const SLOW_SURELY: f64 = 0.4;
/// ...and never from this share on. Between the two its long-run rate
/// ([`long_run_rate`]) is held to [`SLOW_SHARE`] instead (see
/// [`slow_above`]).
pub const SLOW_NEVER: f64 = 0.6;
/// The fewest rates (of running and finished workers) for a median worth
/// comparing with.
pub const SLOW_PEERS: usize = 3;

/// A worker's mean rate over its whole run: what it has done over the time
/// from its first report to its last, as if it started from 0; `None`
/// before two reports apart in time. It moves slowly, so it decides what
/// a wavering recent rate cannot (see [`slow_above`]).
pub fn long_run_rate(current: f64, first_seen: Time, updated: Time, updates: i64) -> Option<f64> {
    let elapsed = (updated - first_seen).get();
    (updates >= 2 && elapsed > 0.0).then(|| (current / elapsed).clamp(0.0, f64::MAX))
}

/// The median rate above which a running worker whose recent rate is
/// `rate` and whose long-run rate is `long_run` is slow.
///
/// The server keeps nothing between polls, so the slow flag's hysteresis
/// comes from a band and a steady figure: below [`SLOW_SURELY`] of the
/// median a worker is slow, from [`SLOW_NEVER`] on it is not, and in
/// between its long-run rate, which hardly moves from one report to the
/// next, decides against [`SLOW_SHARE`]. A worker wavering about half the
/// median keeps one verdict; one that slows down a lot is slow at once.
/// As one figure, a pass over a job keeps a single number per worker to
/// count the slow ones once it has the median.
pub fn slow_above(rate: f64, long_run: Option<f64>) -> f64 {
    let steady = long_run.unwrap_or(rate);
    (rate / SLOW_SURELY).min((rate / SLOW_NEVER).max(steady / SLOW_SHARE))
}

impl Worker {
    /// A worker with these figures, and no id, desc, rate or seq: all its
    /// state, percent and staleness depend on.
    pub fn with_figures(
        current: f64,
        total: f64,
        ok: bool,
        first_seen: Time,
        updated: Time,
        updates: i64,
    ) -> Worker {
        Worker {
            workid: String::new(),
            current,
            total,
            ok,
            desc: String::new(),
            first_seen,
            updated,
            rate: None,
            updates,
            seq: None,
        }
    }

    /// Percent complete, 0–100; 0 for a worker that has not reported.
    pub fn percent(&self) -> f64 {
        worker_percent(self.current, self.total, self.updates)
    }

    /// Not started, running, done or failed.
    pub fn state(&self) -> WorkerState {
        if self.updates == 0 {
            WorkerState::NotStarted
        } else {
            WorkerState::of(self.current, self.total, self.ok)
        }
    }

    /// The time still needed at the recent rate, counted from the
    /// worker's last update; `None` unless the worker is running and
    /// moving, and when the rate is so small (a denormal) that the time is
    /// past `f64`.
    pub fn eta_seconds(&self) -> Option<Secs> {
        if self.state() != WorkerState::Running {
            return None;
        }
        self.rate
            .filter(|&rate| rate > 0.0)
            .map(|rate| (self.total - self.current) / rate)
            .filter(|secs| secs.is_finite())
            .map(Secs)
    }

    /// The time still needed at `now`: [`Worker::eta_seconds`] counted
    /// down since the last report, negative once overdue (the time its
    /// rate gave has passed and it has not said it is done).
    pub fn time_left(&self, now: Time) -> Option<Secs> {
        self.eta_seconds().map(|eta| self.updated + eta - now)
    }

    /// Its mean rate over its whole run ([`long_run_rate`]).
    pub fn long_run_rate(&self) -> Option<f64> {
        long_run_rate(self.current, self.first_seen, self.updated, self.updates)
    }

    /// The median rate above which it is slow ([`slow_above`]), when it
    /// has a rate.
    pub fn slow_above(&self) -> Option<f64> {
        self.rate.map(|rate| slow_above(rate, self.long_run_rate()))
    }

    /// True for a running, reporting worker that is slow beside `median`
    /// (the job's median rate, see [`JobProgress::median_rate`]): see
    /// [`slow_above`].
    pub fn is_slow(&self, median: Option<f64>, now: Time) -> bool {
        match (self.slow_above(), median) {
            (Some(above), Some(median)) => {
                self.bar_state(now) == BarState::Running && median > above
            }
            _ => false,
        }
    }

    /// The unit its rate is written in: the job's (`job`, from its median),
    /// else one of its own.
    pub fn rate_unit(&self, job: Option<RateUnit>) -> Option<RateUnit> {
        job.or_else(|| {
            self.rate
                .map(|rate| RateUnit::of(rate, self.long_run_rate()))
        })
    }

    /// The mean time between the worker's reports, once it has sent two.
    pub fn usual_gap(&self) -> Option<Secs> {
        (self.updates >= 2).then(|| (self.updated - self.first_seen) / (self.updates - 1) as f64)
    }

    /// When the worker, if still running, is stale: silent for more than
    /// [`STALE_GAPS`] of its usual gaps and more than [`STALE_FLOOR`]. The
    /// store keeps the same sum, in the same order, as the column
    /// `stale_at`, and counts stale workers with it.
    pub fn stale_at(&self) -> Time {
        let patience = self
            .usual_gap()
            .map_or(STALE_FLOOR, |gap| (gap * STALE_GAPS).max(STALE_FLOOR));
        self.updated + patience
    }

    /// True for a running worker silent at `now` past [`Worker::stale_at`].
    pub fn is_stale(&self, now: Time) -> bool {
        self.state() == WorkerState::Running && now > self.stale_at()
    }

    /// Its bar's state at `now` and its percent, worked out once for a
    /// pass over a big job that feeds each worker to more than one sum.
    pub fn drawn(&self, now: Time) -> Drawn {
        Drawn {
            state: self.bar_state(now),
            percent: self.percent(),
        }
    }

    /// How the worker's bar is drawn at `now`.
    pub fn bar_state(&self, now: Time) -> BarState {
        match self.state() {
            WorkerState::NotStarted => BarState::NotStarted,
            WorkerState::Done => BarState::Done,
            WorkerState::Failed => BarState::Failed,
            WorkerState::Running if self.is_stale(now) => BarState::Stale,
            WorkerState::Running => BarState::Running,
        }
    }
}

/// How a worker is drawn at some moment (see [`Worker::drawn`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Drawn {
    pub state: BarState,
    pub percent: f64,
}

/// A job's progress as a whole, at some moment.
#[derive(Debug, Clone, PartialEq)]
pub struct JobProgress {
    /// Mean percent over the workers (one not started counts as 0 %); 0
    /// without workers.
    pub percent: f64,
    /// Workers by how their bar is drawn, in [`BarState::ALL`] order.
    pub counts: [usize; 5],
    /// The median rate of the running, reporting workers and the finished
    /// ones that have one (a finished worker's as at its last report),
    /// when there are at least [`SLOW_PEERS`] of them: what "slow" is
    /// judged by. With the finished ones in, the last stragglers of a job
    /// are still judged.
    pub median_rate: Option<f64>,
    /// The unit every worker's rate is written in: the median's, chosen
    /// with the workers' mean long-run rate as its steady figure (see
    /// [`RateUnit::of`]); `None` without a median.
    pub rate_unit: Option<RateUnit>,
    /// Running workers that are slow (see [`Worker::is_slow`]).
    pub slow: usize,
    /// The latest report, if any worker has reported.
    pub last_report: Option<Time>,
    /// The earliest first report, if any worker has reported.
    pub first_report: Option<Time>,
    /// How long from now until the slowest running worker should finish;
    /// `None` unless every running worker that still reports has a rate.
    pub eta_seconds: Option<Secs>,
    /// Workers by percent and state: `histogram[i][state]` counts those at
    /// [`HISTOGRAM_STEP`]` * i` % up to the next step (the last bucket holds
    /// 100 % too), states in [`BarState::ALL`] order.
    pub histogram: [[usize; 5]; HISTOGRAM_BUCKETS],
}

/// Buckets of a job's histogram of percent.
pub const HISTOGRAM_BUCKETS: usize = 20;
/// Percent each bucket of the histogram spans.
pub const HISTOGRAM_STEP: f64 = 100.0 / HISTOGRAM_BUCKETS as f64;

impl JobProgress {
    /// How many workers are drawn in `state`.
    pub fn count(&self, state: BarState) -> usize {
        self.counts[state as usize]
    }

    /// How many workers `pick` names: those drawn in its state, or the
    /// slow ones.
    pub fn count_of(&self, pick: Pick) -> usize {
        match pick {
            Pick::State(state) => self.count(state),
            Pick::Slow => self.slow,
        }
    }
}

impl Job {
    /// The job's progress at `now` (see [`ProgressTally`]).
    pub fn progress(&self, now: Time) -> JobProgress {
        let mut tally = ProgressTally::new(now);
        for w in &self.workers {
            tally.add(w);
        }
        tally.finish()
    }
}

/// A job's progress summed one worker at a time, so a job of any size is
/// summarised from its rows as they are read, holding one rate per running
/// worker (for the median) and nothing else. Stale workers are left out of
/// the ETA: a worker that stopped reporting gives no useful finishing time.
/// Workers that have not reported are left out of it too.
#[derive(Debug, Clone)]
pub struct ProgressTally {
    now: Time,
    counts: [usize; 5],
    histogram: [[usize; 5]; HISTOGRAM_BUCKETS],
    percent_sum: f64,
    workers: usize,
    /// The rates of running and finished workers, for the median.
    rates: Vec<f64>,
    /// Each running worker's [`Worker::slow_above`].
    slow_above: Vec<f64>,
    /// The running and finished workers' `current`s and times from first
    /// to last report, summed: their mean long-run rate.
    long_run: (f64, f64),
    eta: Option<Secs>,
    eta_known: bool,
    last_report: Option<Time>,
    first_report: Option<Time>,
}

impl ProgressTally {
    /// An empty tally at `now`.
    pub fn new(now: Time) -> ProgressTally {
        ProgressTally {
            now,
            counts: [0; 5],
            histogram: [[0; 5]; HISTOGRAM_BUCKETS],
            percent_sum: 0.0,
            workers: 0,
            rates: Vec::new(),
            slow_above: Vec::new(),
            long_run: (0.0, 0.0),
            eta: None,
            eta_known: true,
            last_report: None,
            first_report: None,
        }
    }

    /// Counts one worker in.
    pub fn add(&mut self, w: &Worker) {
        self.add_drawn(w, w.drawn(self.now));
    }

    /// Counts one worker in, drawn as `drawn` (its [`Worker::drawn`] at
    /// this tally's time), for a pass that needs that for more than the
    /// tally.
    pub fn add_drawn(&mut self, w: &Worker, Drawn { state, percent }: Drawn) {
        self.counts[state as usize] += 1;
        self.workers += 1;
        self.percent_sum += percent;
        // Percent is 0–100, so the cast is in range; 100 joins the last.
        let bucket = ((percent / HISTOGRAM_STEP) as usize).min(HISTOGRAM_BUCKETS - 1);
        self.histogram[bucket][state as usize] += 1;
        if w.updates > 0 {
            self.last_report = Some(self.last_report.map_or(w.updated, |t| t.max(w.updated)));
            let first = w.first_seen;
            self.first_report = Some(self.first_report.map_or(first, |t| t.min(first)));
        }
        if matches!(state, BarState::Running | BarState::Done) {
            self.rates.extend(w.rate);
            if w.long_run_rate().is_some() {
                self.long_run.0 += w.current;
                self.long_run.1 += (w.updated - w.first_seen).get();
            }
        }
        if state == BarState::Running {
            self.slow_above.extend(w.slow_above());
            match w.eta_seconds() {
                Some(secs) => {
                    let from_now = (w.updated + secs - self.now).max(Secs(0.0));
                    self.eta = Some(self.eta.map_or(from_now, |e| e.max(from_now)));
                }
                None => self.eta_known = false,
            }
        }
    }

    /// The job's progress from the workers counted in.
    pub fn finish(mut self) -> JobProgress {
        let median_rate = median(&mut self.rates).filter(|_| self.rates.len() >= SLOW_PEERS);
        // The running workers with a rate are exactly those `is_slow` may
        // call slow.
        let slow = median_rate.map_or(0, |median| {
            self.slow_above
                .iter()
                .filter(|&&above| median > above)
                .count()
        });
        let (done, elapsed) = self.long_run;
        let steady = (elapsed > 0.0).then(|| done / elapsed);
        JobProgress {
            percent: if self.workers == 0 {
                0.0
            } else {
                self.percent_sum / self.workers as f64
            },
            counts: self.counts,
            median_rate,
            rate_unit: median_rate.map(|median| RateUnit::of(median, steady)),
            slow,
            last_report: self.last_report,
            first_report: self.first_report,
            eta_seconds: self.eta.filter(|_| self.eta_known),
            histogram: self.histogram,
        }
    }
}

/// The median of `values` (reordering them); `None` for none. Found by
/// selection, not by sorting: a job of 100,000 running workers has as
/// many rates, and every summary takes their median.
fn median(values: &mut [f64]) -> Option<f64> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let (lower, &mut middle, _) = values.select_nth_unstable_by(n / 2, f64::total_cmp);
    if n % 2 == 1 {
        return Some(middle);
    }
    // Halfway from the lower, so two rates near f64::MAX do not sum past
    // it. The lower middle is the largest of the lower half.
    let below = lower.iter().copied().max_by(f64::total_cmp)?;
    Some(below + (middle - below) / 2.0)
}

/// One worker's history: (Unix seconds, current) points, oldest first, at
/// most [`crate::history::MAX_POINTS`].
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerHistory {
    /// The worker's id.
    pub workid: String,
    /// Its points.
    pub points: Vec<crate::history::Point>,
}

impl Job {
    /// The job's overall percent over time, ending at its latest figure: the
    /// stored points (at most one a second is stored, so the last reports
    /// may be missing) and, when it differs, `progress.percent` at the last
    /// report.
    pub fn burn_up(&self, progress: &JobProgress) -> Vec<crate::history::Point> {
        let mut points = self.history.clone();
        let last = points.last().copied();
        let at = progress
            .last_report
            .into_iter()
            .chain(last.map(|p| Time::unix(p.0)))
            .fold(self.created, Time::max);
        match last {
            Some((_, percent)) if percent == progress.percent => {}
            Some((t, _)) if Time::unix(t) >= at => {
                if let Some(end) = points.last_mut() {
                    end.1 = progress.percent;
                }
            }
            _ => points.push((at.as_unix(), progress.percent)),
        }
        points
    }
}

/// Orders ids as people read them: runs of digits compare as numbers, so
/// `worker2` comes before `worker10`; otherwise byte order.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let (da, ra) = split_digits(a);
                let (db, rb) = split_digits(b);
                let (na, nb) = (trim_zeros(da), trim_zeros(db));
                let by_value = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
                // Equal values: fewer leading zeros first, so the order is total.
                match by_value.then_with(|| da.len().cmp(&db.len())) {
                    Ordering::Equal => (a, b) = (ra, rb),
                    other => return other,
                }
            }
            (Some(x), Some(y)) => match x.cmp(y) {
                Ordering::Equal => (a, b) = (&a[1..], &b[1..]),
                other => return other,
            },
        }
    }
}

/// A key whose byte order is [`natural_cmp`]'s order, so the store can
/// index workids in natural order. Bytes that are not digits are kept; each
/// run of digits becomes `0x30` (it compares with other bytes as any digit
/// does), the length of the run without leading zeros, those digits, and the
/// count of leading zeros (the tie-break). Runs are at most
/// [`crate::params::MAX_WORKID_BYTES`] long, so each length fits a byte;
/// longer ones are cut there (ids are never that long).
pub fn natural_key(id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(id.len() + 8);
    let mut rest = id.as_bytes();
    while let Some(&first) = rest.first() {
        if first.is_ascii_digit() {
            let (digits, after) = split_digits(rest);
            let value = trim_zeros(digits);
            let byte = |n: usize| u8::try_from(n).unwrap_or(u8::MAX);
            key.push(b'0');
            key.push(byte(value.len()));
            key.extend_from_slice(&value[..value.len().min(255)]);
            key.push(byte(digits.len() - value.len()));
            rest = after;
        } else {
            key.push(first);
            rest = &rest[1..];
        }
    }
    key
}

fn split_digits(s: &[u8]) -> (&[u8], &[u8]) {
    let end = s
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(s.len());
    s.split_at(end)
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let start = digits
        .iter()
        .position(|&b| b != b'0')
        .unwrap_or(digits.len());
    &digits[start..]
}

/// Which of a job's workers a `status` page lists, and in what order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WorkerPick {
    /// Workers in any of these states; every worker when empty.
    pub states: Vec<Pick>,
    /// Workers whose id contains this, ignoring ASCII case.
    pub text: Option<String>,
    /// Workers whose row changed after this time (a `seen_through` the
    /// store gave), or that went stale since.
    pub since: Option<Time>,
    /// The order.
    pub order: WorkerOrder,
}

impl WorkerPick {
    /// The workers that need attention, worst first: failed, stale, then
    /// slow, each in natural order (the big-job page's list, and what
    /// `status` adds with `attention=N`).
    pub fn needing_attention() -> WorkerPick {
        WorkerPick {
            states: vec![
                Pick::State(BarState::Failed),
                Pick::State(BarState::Stale),
                Pick::Slow,
            ],
            order: WorkerOrder {
                by: SortBy::Attention,
                descending: false,
            },
            ..WorkerPick::default()
        }
    }

    /// How many of a job's `workers` this picks, when its `progress` says
    /// (a filter by state alone); `None` when only a count of the rows can
    /// tell (a search, or `since`).
    pub fn matched(&self, progress: &JobProgress, workers: u64) -> Option<u64> {
        if self.text.is_some() || self.since.is_some() {
            return None;
        }
        if self.states.is_empty() {
            return Some(workers);
        }
        let running = self.states.contains(&Pick::State(BarState::Running));
        let n: usize = self
            .states
            .iter()
            .map(|pick| match pick {
                Pick::State(state) => progress.count(*state),
                // Slow workers are running: counted once.
                Pick::Slow if running => 0,
                Pick::Slow => progress.slow,
            })
            .sum();
        Some(n as u64)
    }
}

/// A state a page may ask for: one a bar is drawn in, or slow (running and
/// below half the median rate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// Workers drawn in this state.
    State(BarState),
    /// Running workers that are slow (see [`Worker::is_slow`]).
    Slow,
}

impl Pick {
    /// Every state a page may ask for, in the order the legend and the docs
    /// list them.
    pub const ALL: [Pick; 6] = [
        Pick::State(BarState::Running),
        Pick::State(BarState::Done),
        Pick::State(BarState::Failed),
        Pick::State(BarState::Stale),
        Pick::State(BarState::NotStarted),
        Pick::Slow,
    ];

    /// Its name: in `state=`, in JSON, in CSS class names.
    pub fn key(self) -> &'static str {
        match self {
            Pick::State(state) => state.as_str(),
            Pick::Slow => "slow",
        }
    }

    /// The words shown for it.
    pub fn words(self) -> &'static str {
        match self {
            Pick::State(state) => state.words(),
            Pick::Slow => "slow",
        }
    }

    /// The pick with this name.
    pub fn named(name: &str) -> Option<Pick> {
        Pick::ALL.into_iter().find(|pick| pick.key() == name)
    }
}

/// The order of a page of workers: by a value, ties broken by workid in
/// natural order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WorkerOrder {
    /// What to order by.
    pub by: SortBy,
    /// Largest first.
    pub descending: bool,
}

impl WorkerOrder {
    /// The order as `sort=` names it: `-` first when largest first.
    pub fn name(self) -> String {
        let minus = if self.descending { "-" } else { "" };
        format!("{minus}{}", self.by.name())
    }
}

/// What a page of workers is ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortBy {
    /// The workid, in natural order.
    #[default]
    Workid,
    /// Percent complete.
    Percent,
    /// Rate (no rate yet counts below 0).
    Rate,
    /// Time of the last report (none yet counts as oldest).
    Updated,
    /// Need of attention: failed, stale, slow, running, not started, done
    /// (in that order when ascending).
    Attention,
}

impl SortBy {
    /// Every order, by name.
    pub const ALL: [(&'static str, SortBy); 5] = [
        ("workid", SortBy::Workid),
        ("percent", SortBy::Percent),
        ("rate", SortBy::Rate),
        ("updated", SortBy::Updated),
        ("attention", SortBy::Attention),
    ];

    /// The order's name.
    pub fn name(self) -> &'static str {
        SortBy::ALL
            .iter()
            .find(|(_, by)| *by == self)
            .map_or("workid", |(name, _)| name)
    }
}

/// Where a page of workers starts.
#[derive(Debug, Clone, PartialEq)]
pub enum PageStart {
    /// After skipping this many.
    Offset(u64),
    /// After the worker with this key (the last of the page before).
    After(PageKey),
}

/// A worker's place in an order: the value ordered by (unused when by
/// workid) and its workid's [`natural_key`].
#[derive(Debug, Clone, PartialEq)]
pub struct PageKey {
    /// The value ordered by.
    pub value: f64,
    /// The natural-order key of the workid.
    pub sortkey: Vec<u8>,
}

/// One row of the job list: a job with its workers summarised.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSummary {
    /// The job's id.
    pub jobid: String,
    /// Human-readable title; may be empty.
    pub desc: String,
    /// When the job was (last) created.
    pub created: Time,
    /// The last activity.
    pub updated: Time,
    /// How long after `updated` the job may be deleted.
    pub maxage: Secs,
    /// Number of workers, counting those expected that have not reported.
    pub workers: i64,
    /// Workers running and reporting.
    pub running: i64,
    /// Workers done.
    pub done: i64,
    /// Workers failed.
    pub failed: i64,
    /// Running workers gone silent.
    pub stale: i64,
    /// Expected workers that have not reported yet.
    pub not_started: i64,
    /// Mean percent over the workers; 0 for a job without workers.
    pub percent: f64,
}

impl JobSummary {
    /// When the job may be deleted.
    pub fn expires(&self) -> Time {
        expires(self.updated, self.maxage)
    }
}

/// A job of the index and the `jobs` list: this server's own, or one a
/// peer listed (`--peer`).
#[derive(Debug, Clone, PartialEq)]
pub struct ListedJob {
    /// The job.
    pub job: JobSummary,
    /// Where it is, when a peer has it.
    pub elsewhere: Option<Elsewhere>,
}

/// Where a job a peer listed lives.
#[derive(Debug, Clone, PartialEq)]
pub struct Elsewhere {
    /// The peer's address, as `--peer` gave it.
    pub peer: std::sync::Arc<str>,
    /// The job's show page: at the peer's public address (a front such as
    /// nginx) when it has one, else at the peer.
    pub show: String,
}

/// How one peer answered for a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerReport {
    /// Its address, as `--peer` gave it.
    pub url: std::sync::Arc<str>,
    /// Why its jobs are missing, when they are.
    pub error: Option<String>,
    /// How many of its jobs it listed.
    pub jobs: usize,
}

/// Jobs and workers for the tests of the modules that show them.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::{Job, Secs, Time, Worker};

    /// Rates from 0 through denormals to `f64::MAX`, where the text and the
    /// ETA once broke (issue 11: `NaN/s`, `"rate": 0` beside an ETA).
    pub const EDGE_RATES: [f64; 9] = [
        0.0,
        f64::from_bits(1),
        1e-320,
        1e-300,
        1e-9,
        2.4722e-5,
        0.4329,
        1e300,
        f64::MAX,
    ];

    /// A running worker at `current` of `total` and `rate`, first seen at
    /// 0 and last reporting (its second report) at 10.
    pub fn running(workid: &str, current: f64, total: f64, rate: f64) -> Worker {
        Worker {
            workid: workid.into(),
            current,
            total,
            ok: true,
            desc: String::new(),
            first_seen: Time::unix(0.0),
            updated: Time::unix(10.0),
            rate: Some(rate),
            updates: 2,
            seq: None,
        }
    }

    /// Job `j`, created at 0 and last active at 10, with `workers`.
    pub fn job(workers: Vec<Worker>) -> Job {
        Job {
            jobid: "j".into(),
            desc: String::new(),
            created: Time::unix(0.0),
            updated: Time::unix(10.0),
            maxage: Secs(60.0),
            workers,
            history: Vec::new(),
        }
    }
}

// What clients ask the store to do: the commands `params` makes from a
// request and the store carries out.

/// The workers a job expects before they report.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Roster {
    /// None named: workers appear as they report.
    #[default]
    Open,
    /// `workers=N`: the ids `0` to `N-1`.
    Count(u64),
    /// `workids=a,b,c`: these ids, without repeats.
    Ids(Vec<String>),
}

impl Roster {
    /// How many workers it names.
    pub fn len(&self) -> u64 {
        match self {
            Roster::Open => 0,
            Roster::Count(n) => *n,
            Roster::Ids(ids) => ids.len() as u64,
        }
    }

    /// True when it names no worker.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Parameters of `create`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateJob {
    /// The job's id.
    pub jobid: String,
    /// Title; empty when omitted.
    pub desc: String,
    /// How long the job may be inactive before it may be deleted; the
    /// server's default when omitted.
    pub maxage: Option<Secs>,
    /// The workers the job expects.
    pub roster: Roster,
    /// The events to announce to the operator's webhooks (`notify=`).
    pub notify: NotifyOn,
}

/// An event of a job that may be announced (see `notify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// Every worker is done.
    Finished,
    /// A worker reported a failure.
    Failed,
    /// A running worker stopped reporting.
    Stale,
    /// The job expired before it finished.
    Expired,
}

impl NoticeKind {
    /// Every kind, in the order the docs list them.
    pub const ALL: [NoticeKind; 4] = [
        NoticeKind::Finished,
        NoticeKind::Failed,
        NoticeKind::Stale,
        NoticeKind::Expired,
    ];

    /// Its name in `notify=`, the database and the messages' JSON.
    pub fn key(self) -> &'static str {
        match self {
            NoticeKind::Finished => "finished",
            NoticeKind::Failed => "failed",
            NoticeKind::Stale => "stale",
            NoticeKind::Expired => "expired",
        }
    }

    /// The kind named `key`.
    pub fn named(key: &str) -> Option<NoticeKind> {
        NoticeKind::ALL.into_iter().find(|kind| kind.key() == key)
    }

    /// Its bit in a [`NotifyOn`] and in the `notify` column.
    pub fn bit(self) -> u8 {
        match self {
            NoticeKind::Finished => 1,
            NoticeKind::Failed => 2,
            NoticeKind::Stale => 4,
            NoticeKind::Expired => 8,
        }
    }
}

/// An event raised for a job that asked for it, as stored until every
/// target has taken it: what its message says, as it was then.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// Its id: rising, never used twice.
    pub id: i64,
    /// When it happened.
    pub at: Time,
    /// What happened.
    pub kind: NoticeKind,
    /// The job's id.
    pub jobid: String,
    /// The job's title (its desc); may be empty.
    pub title: String,
    /// The worker's id and desc, for [`NoticeKind::Failed`] and
    /// [`NoticeKind::Stale`].
    pub worker: Option<(String, String)>,
    /// Events of its kind and job folded into it, once many were waiting.
    pub more: u64,
    /// The job's workers then: all, done, failed, running (stale
    /// included), not started.
    pub counts: NoticeCounts,
}

/// A job's workers by state, as a notice reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NoticeCounts {
    /// All of them, the roster's included.
    pub workers: u64,
    /// Done.
    pub done: u64,
    /// Failed.
    pub failed: u64,
    /// Running, stale included.
    pub running: u64,
    /// Not started.
    pub not_started: u64,
}

/// The kinds of event a job asked to have announced; none by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NotifyOn(u8);

impl NotifyOn {
    /// Every kind (`notify=1`).
    pub const ALL: NotifyOn = NotifyOn(15);

    /// These kinds and `kind`.
    pub fn with(self, kind: NoticeKind) -> NotifyOn {
        NotifyOn(self.0 | kind.bit())
    }

    /// Whether `kind` is among them.
    pub fn has(self, kind: NoticeKind) -> bool {
        self.0 & kind.bit() != 0
    }

    /// True when no kind is.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// As stored in the `notify` column (bits as [`NoticeKind::bit`]).
    pub fn bits(self) -> i64 {
        i64::from(self.0)
    }
}

/// Parameters of `update`.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerUpdate {
    /// The job's id.
    pub jobid: String,
    /// The worker's id within the job.
    pub workid: String,
    /// Units done so far.
    pub current: f64,
    /// Units to do; `None` keeps the stored total (required on a worker's
    /// first update, which the store checks).
    pub total: Option<f64>,
    /// False when the worker reports a problem.
    pub ok: bool,
    /// Status text; `None` keeps the stored one.
    pub desc: Option<String>,
    /// The client's sequence number for this worker's reports: one lower
    /// than the stored one is acknowledged but not applied.
    pub seq: Option<u64>,
}

/// A request about one job: `status`, `delete`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRef {
    /// The job's id.
    pub jobid: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Secs, Time};

    #[test]
    fn the_median_by_selection_is_the_median_of_the_sorted_values() {
        // What the median was before it was found by selection.
        let sorted_median = |values: &[f64]| {
            let mut sorted = values.to_vec();
            sorted.sort_by(f64::total_cmp);
            let n = sorted.len();
            match n {
                0 => None,
                _ if n % 2 == 1 => Some(sorted[n / 2]),
                _ => Some(sorted[n / 2 - 1] + (sorted[n / 2] - sorted[n / 2 - 1]) / 2.0),
            }
        };
        let mut seed = 7u64;
        let mut next = || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 33) as f64 / 1e3
        };
        for n in 0..60 {
            let mut values: Vec<f64> = (0..n).map(|_| next()).collect();
            // Ties, zeros of both signs and the largest rates too.
            values.extend([0.0, -0.0, 0.0, f64::MAX, f64::MAX].iter().take(n % 6));
            let expected = sorted_median(&values).map(f64::to_bits);
            assert_eq!(median(&mut values).map(f64::to_bits), expected, "{n}");
        }
    }

    #[test]
    fn whole_percents_are_exact_and_only_done_is_100() {
        // 29 of 100 was 28.999999999999996, shown rounded down as 28.9 %.
        for c in 0..=100 {
            let p = percent(f64::from(c), 100.0);
            assert_eq!(p, f64::from(c), "{c} of 100");
            assert_eq!(crate::format::pct(p), format!("{c}.0%"));
        }
        assert_eq!(crate::format::pct(percent(7.0, 10.0)), "70.0%");
        // Just short of a huge total is not done.
        let total = 1e17;
        assert!(percent(total - 16.0, total) < 100.0);
        assert_eq!(crate::format::pct(percent(total - 16.0, total)), "99.9%");
        assert_eq!(percent(f64::MAX, f64::MAX), 100.0);
        // Done is 100 whatever the total, though t * 100 / t may not be.
        for t in [
            0.081,
            1.0 / 3.0,
            3.300_000_000_000_000_3,
            0.666_3,
            1e-300,
            7.0,
        ] {
            assert_eq!(percent(t, t), 100.0, "{t} of {t}");
            assert_eq!(percent(t * 2.0, t), 100.0, "past the total");
        }
        assert_eq!(percent(f64::MAX / 2.0, f64::MAX), 50.0);
    }

    fn worker(current: f64, total: f64, ok: bool) -> Worker {
        Worker {
            workid: "w".into(),
            current,
            total,
            ok,
            desc: String::new(),
            first_seen: Time::unix(100.0),
            updated: Time::unix(110.0),
            // As if it started at 0 ten seconds ago.
            rate: Some(current / 10.0),
            updates: 2,
            seq: None,
        }
    }

    /// A job created at 0, last active at 110, with these workers.
    fn job_of(workers: Vec<Worker>) -> Job {
        Job {
            jobid: "j".into(),
            desc: String::new(),
            created: Time::unix(0.0),
            updated: Time::unix(110.0),
            maxage: Secs(60.0),
            history: Vec::new(),
            workers,
        }
    }

    #[test]
    fn percent_caps_and_treats_zero_total_as_finished() {
        assert_eq!(percent(5.0, 20.0), 25.0);
        assert_eq!(percent(30.0, 20.0), 100.0);
        assert_eq!(percent(0.0, 0.0), 100.0);
        assert_eq!(percent(0.0, 7.0), 0.0);
        assert_eq!(percent(5e307, 1e308), 50.0, "no overflow");
    }

    #[test]
    fn failure_outranks_done() {
        assert_eq!(worker(10.0, 10.0, false).state(), WorkerState::Failed);
        assert_eq!(worker(10.0, 10.0, true).state(), WorkerState::Done);
        assert_eq!(worker(11.0, 10.0, true).state(), WorkerState::Done);
        assert_eq!(worker(0.0, 0.0, true).state(), WorkerState::Done);
        assert_eq!(worker(9.0, 10.0, true).state(), WorkerState::Running);
    }

    #[test]
    fn eta_from_the_recent_rate() {
        // 0.5/s; 15 left → 30 s.
        let w = worker(5.0, 20.0, true);
        assert_eq!(w.eta_seconds(), Some(Secs(30.0)));
    }

    #[test]
    fn tiny_and_huge_rates_give_finite_etas_or_none() {
        let at = |rate: f64| Worker {
            rate: Some(rate),
            ..worker(5.0, 20.0, true)
        };
        // 15 / 1e-320 is past f64: unknown, as for a rate of 0.
        assert_eq!(at(1e-320).eta_seconds(), None);
        assert_eq!(at(0.0).eta_seconds(), None);
        assert_eq!(at(1e-300).eta_seconds(), Some(Secs(15.0 / 1e-300)));
        assert_eq!(at(f64::MAX).eta_seconds(), Some(Secs(15.0 / f64::MAX)));
        let job = job_of(vec![at(f64::MAX), at(f64::MAX), at(1.0), at(f64::MAX)]);
        assert_eq!(job.progress(Time::unix(111.0)).median_rate, Some(f64::MAX));
    }

    #[test]
    fn eta_unknown_without_progress_or_when_not_running() {
        let mut w = worker(0.0, 20.0, true);
        assert_eq!(w.eta_seconds(), None);
        w.current = 5.0;
        w.rate = None;
        assert_eq!(w.eta_seconds(), None, "no rate yet");
        assert_eq!(worker(5.0, 20.0, false).eta_seconds(), None);
        assert_eq!(worker(20.0, 20.0, true).eta_seconds(), None);
    }

    #[test]
    fn stale_after_five_usual_gaps_with_a_two_minute_floor() {
        // Two reports 10 s apart: a usual gap of 10 s, so the floor rules.
        let w = worker(5.0, 20.0, true);
        assert_eq!(w.usual_gap(), Some(Secs(10.0)));
        assert!(!w.is_stale(Time::unix(110.0 + 120.0)));
        assert!(w.is_stale(Time::unix(110.0 + 121.0)));
        assert_eq!(w.bar_state(Time::unix(110.0 + 121.0)), BarState::Stale);
        // A worker that reports every 60 s may be silent for five minutes.
        let slow = Worker {
            first_seen: Time::unix(0.0),
            updated: Time::unix(600.0),
            updates: 11,
            ..w.clone()
        };
        assert_eq!(slow.usual_gap(), Some(Secs(60.0)));
        assert!(!slow.is_stale(Time::unix(600.0 + 300.0)));
        assert!(slow.is_stale(Time::unix(600.0 + 301.0)));
        // One report only: the floor.
        let once = Worker {
            updates: 1,
            ..w.clone()
        };
        assert_eq!(once.usual_gap(), None);
        assert!(once.is_stale(Time::unix(110.0 + 121.0)));
        // Done and failed workers are never stale.
        assert_eq!(
            worker(20.0, 20.0, true).bar_state(Time::unix(1e9)),
            BarState::Done
        );
        assert_eq!(
            worker(5.0, 20.0, false).bar_state(Time::unix(1e9)),
            BarState::Failed
        );
    }

    #[test]
    fn job_progress_counts_and_eta() {
        let mut job = job_of(vec![
            worker(5.0, 20.0, true),  // running, 30 s to go from 110
            worker(10.0, 20.0, true), // running, rate 1/s: 10 s to go
            worker(20.0, 20.0, true), // done
            worker(1.0, 20.0, false), // failed
        ]);
        let p = job.progress(Time::unix(115.0));
        assert_eq!(p.counts, [2, 1, 1, 0, 0]);
        assert_eq!(p.count(BarState::Running), 2);
        assert_eq!(
            p.eta_seconds,
            Some(Secs(25.0)),
            "the slowest, counted from now"
        );
        assert_eq!(p.last_report, Some(Time::unix(110.0)));
        let mean = (25.0 + 50.0 + 100.0 + 5.0) / 4.0;
        assert!((p.percent - mean).abs() < 1e-9);
        // A running worker without a rate makes the job's ETA unknown...
        job.workers.push(Worker {
            rate: Some(0.0),
            ..worker(3.0, 20.0, true)
        });
        assert_eq!(job.progress(Time::unix(115.0)).eta_seconds, None);
        // ...unless it is stale, when it no longer counts.
        let later = job.progress(Time::unix(110.0 + 500.0));
        assert_eq!(later.count(BarState::Stale), 3);
        assert_eq!(later.eta_seconds, None, "no running worker left");
        let empty = Job {
            workers: vec![],
            ..job
        };
        let p = empty.progress(Time::unix(0.0));
        assert_eq!((p.percent, p.last_report, p.eta_seconds), (0.0, None, None));
    }

    #[test]
    fn an_expected_worker_counts_as_zero_until_it_reports() {
        let expected = Worker {
            updates: 0,
            total: 0.0,
            rate: None,
            ..worker(0.0, 0.0, true)
        };
        assert_eq!(expected.state(), WorkerState::NotStarted);
        assert_eq!(
            expected.bar_state(Time::unix(1e9)),
            BarState::NotStarted,
            "never stale"
        );
        assert_eq!(
            expected.percent(),
            0.0,
            "not 100 % for its placeholder total"
        );
        assert_eq!(expected.eta_seconds(), None);
        let job = job_of(vec![worker(20.0, 20.0, true), expected]);
        let p = job.progress(Time::unix(111.0));
        assert_eq!(p.count(BarState::NotStarted), 1);
        assert_eq!(p.percent, 50.0);
        assert_eq!(p.eta_seconds, None, "nothing running");
        assert_eq!(p.last_report, Some(Time::unix(110.0)));
    }

    #[test]
    fn a_worker_below_half_the_median_rate_is_slow() {
        // Each as fast over its whole run as of late.
        let at = |rate: Option<f64>| Worker {
            rate,
            ..worker(rate.unwrap_or(0.0) * 10.0, 1000.0, true)
        };
        let mut job = job_of(vec![at(Some(10.0)), at(Some(4.0))]);
        // Two workers are too few to call one slow.
        assert_eq!(job.progress(Time::unix(111.0)).median_rate, None);
        assert_eq!(job.progress(Time::unix(111.0)).slow, 0);
        job.workers
            .extend([at(Some(12.0)), at(Some(0.0)), at(None)]);
        // Median of 0, 4, 10, 12 = 7: below 3.5 is slow.
        let p = job.progress(Time::unix(111.0));
        assert_eq!(p.median_rate, Some(7.0));
        let slow: Vec<bool> = job
            .workers
            .iter()
            .map(|w| w.is_slow(p.median_rate, Time::unix(111.0)))
            .collect();
        assert_eq!(slow, [false, false, false, true, false]);
        assert_eq!(p.slow, 1);
        // A stuck worker that went silent is stale, not slow.
        assert!(!job.workers[3].is_slow(p.median_rate, Time::unix(110.0 + 500.0)));
        // Done and failed workers are never slow.
        assert!(!worker(100.0, 100.0, true).is_slow(Some(1e9), Time::unix(111.0)));
        assert!(!worker(5.0, 100.0, false).is_slow(Some(1e9), Time::unix(111.0)));
    }

    /// Issue 14: with fewer than 3 workers running nothing could be slow,
    /// so the last straggler, the one the job's ETA waits for, showed as
    /// plain running. Finished workers' rates (as at their last report)
    /// count towards the median.
    #[test]
    fn the_last_straggler_is_judged_against_finished_peers() {
        let done = |rate: f64| Worker {
            rate: Some(rate),
            ..worker(100.0, 100.0, true)
        };
        let straggler = Worker {
            rate: Some(1.0),
            ..worker(10.0, 100.0, true)
        };
        let now = Time::unix(111.0);
        let job = job_of(vec![done(10.0), done(12.0), done(9.0), straggler]);
        let p = job.progress(now);
        assert_eq!(p.median_rate, Some(9.5));
        assert_eq!((p.count(BarState::Running), p.slow), (1, 1));
        assert!(job.workers[3].is_slow(p.median_rate, now));
        assert!(!job.workers[0].is_slow(p.median_rate, now), "done");
    }

    /// Issue 14: the slow flag toggled between polls for a worker whose
    /// rate wavered about half the median. Within a band about it, the
    /// worker's long-run rate, which hardly moves, decides; outside it,
    /// its recent rate decides at once.
    #[test]
    fn slow_has_a_band_decided_by_the_long_run_rate() {
        let (median, now) = (Some(10.0), Time::unix(111.0));
        // Over their whole runs (10 s), 4/s and 6/s.
        let slowish = |rate: f64| Worker {
            rate: Some(rate),
            ..worker(40.0, 1000.0, true)
        };
        let brisk = |rate: f64| Worker {
            rate: Some(rate),
            ..worker(60.0, 1000.0, true)
        };
        for wavering in [4.1, 4.9, 5.1, 5.9] {
            assert!(slowish(wavering).is_slow(median, now), "{wavering}");
            assert!(!brisk(wavering).is_slow(median, now), "{wavering}");
        }
        assert!(brisk(3.9).is_slow(median, now));
        assert!(!slowish(6.0).is_slow(median, now));
        // The tally counts as the workers say.
        let lagging = Worker {
            rate: Some(4.0),
            ..worker(30.0, 1000.0, true)
        };
        let mut job = job_of(vec![brisk(10.0), brisk(10.0), brisk(10.0)]);
        job.workers.extend([lagging, brisk(4.5), brisk(2.5)]);
        let p = job.progress(now);
        let slow: Vec<bool> = job
            .workers
            .iter()
            .map(|w| w.is_slow(p.median_rate, now))
            .collect();
        assert_eq!(p.median_rate, Some(7.25));
        assert_eq!(slow, [false, false, false, true, false, true]);
        assert_eq!(p.slow, 2);
    }

    /// Issue 14: the unit flipped between `1.25/s` and `74/min` as the
    /// median crossed 1/s. Near 1/s the workers' mean long-run rate
    /// chooses it.
    #[test]
    fn the_job_s_unit_near_a_step_follows_its_long_run_rate() {
        let now = Time::unix(111.0);
        // Recent rates just over 1/s; 9 units in 10 s over the whole run.
        let at = |rate: f64| Worker {
            rate: Some(rate),
            ..worker(9.0, 1000.0, true)
        };
        let job = job_of(vec![at(1.05), at(1.1), at(1.2)]);
        assert_eq!(job.progress(now).rate_unit, Some(RateUnit::Minute));
        let job = job_of(vec![at(2.5), at(2.5), at(2.5)]);
        assert_eq!(job.progress(now).rate_unit, Some(RateUnit::Second));
    }

    /// Issue 14: a worker's time left was counted from its last report
    /// and shown as it was then, so a hung worker said "55 s left" for
    /// ever. It counts down, then is overdue.
    #[test]
    fn time_left_counts_down_from_the_last_report_then_is_overdue() {
        // 0.5/s with 15 to go at 110: done at 140.
        let w = worker(5.0, 20.0, true);
        assert_eq!(w.time_left(Time::unix(110.0)), Some(Secs(30.0)));
        assert_eq!(w.time_left(Time::unix(125.0)), Some(Secs(15.0)));
        assert_eq!(w.time_left(Time::unix(150.0)), Some(Secs(-10.0)));
        assert_eq!(worker(20.0, 20.0, true).time_left(Time::unix(125.0)), None);
    }

    #[test]
    fn the_burn_up_ends_at_the_latest_figure() {
        let mut job = Job {
            created: Time::unix(100.0),
            history: vec![(100.0, 0.0), (105.0, 20.0)],
            ..job_of(vec![worker(5.0, 20.0, true)])
        };
        let p = job.progress(Time::unix(111.0));
        assert_eq!(
            job.burn_up(&p),
            [(100.0, 0.0), (105.0, 20.0), (110.0, 25.0)]
        );
        job.history.push((110.0, 25.0));
        assert_eq!(job.burn_up(&p).len(), 3, "no repeat of the stored end");
        job.history = Vec::new();
        assert_eq!(job.burn_up(&p), [(110.0, 25.0)]);
    }

    #[test]
    fn natural_order() {
        let mut ids = vec![
            "worker10", "worker2", "worker1", "w", "worker02", "a10b2", "a10b10", "a9", "10", "9",
            "",
        ];
        ids.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            ids,
            [
                "", "9", "10", "a9", "a10b2", "a10b10", "w", "worker1", "worker2", "worker02",
                "worker10"
            ]
        );
        assert_eq!(natural_cmp("x007", "x7"), std::cmp::Ordering::Greater);
        assert_eq!(natural_cmp("1.0", "1"), std::cmp::Ordering::Greater);
    }

    /// The store orders workids by their keys' bytes: that order must be
    /// natural_cmp's for every pair, including digits beside bytes that
    /// sort just below and above them, and keys must differ for ids that
    /// differ.
    #[test]
    fn natural_keys_sort_as_natural_order() {
        let pieces = [
            "", "0", "00", "1", "01", "9", "10", "010", "99", "100", "/", ":", "a", "é", " ", "-",
        ];
        let mut ids = Vec::new();
        for a in pieces {
            for b in pieces {
                for c in ["", "0", "7", "x", "/"] {
                    ids.push(format!("{a}{b}{c}"));
                }
            }
        }
        ids.extend(
            [
                "rank99999",
                "rank100000",
                "rank0",
                "worker-1",
                "worker-1-2",
                "w1.10",
                "w1.9",
            ]
            .map(String::from),
        );
        for a in &ids {
            for b in &ids {
                assert_eq!(
                    natural_key(a).cmp(&natural_key(b)),
                    natural_cmp(a, b),
                    "{a:?} vs {b:?}"
                );
            }
        }
    }
}
