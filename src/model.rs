//! Plain data: a job, its workers, and what is derived from them (percent,
//! state, ETA).
//!
//! Nothing here knows SQL or HTTP. The store fills these structs; the JSON,
//! page and chart read them. Every derived figure is computed here and only
//! here, so the JSON, the page and the chart never disagree (the store even
//! registers [`percent`] and [`WorkerState::of`] as SQL functions for the job
//! list's aggregates).

/// A job as stored, with its workers in no particular order.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// The job's id, exactly as the client sent it (after URL decoding).
    pub jobid: String,
    /// Human-readable title; may be empty.
    pub desc: String,
    /// Unix seconds when the job was (last) created.
    pub created: f64,
    /// Unix seconds of the last activity: create or any update.
    pub updated: f64,
    /// Seconds after `updated` when the job may be deleted.
    pub maxage: f64,
    /// The job's workers.
    pub workers: Vec<Worker>,
}

/// Unix seconds from which a job last active at `updated` may be deleted.
pub fn expires(updated: f64, maxage: f64) -> f64 {
    updated + maxage
}

impl Job {
    /// Unix seconds from which the job may be deleted.
    pub fn expires(&self) -> f64 {
        expires(self.updated, self.maxage)
    }
}

/// One worker's latest report.
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
    /// Unix seconds of the worker's first update.
    pub first_seen: f64,
    /// Unix seconds of the worker's last update.
    pub updated: f64,
    /// Unix seconds of the point its rate is measured from.
    pub base_time: f64,
    /// `current` at `base_time`.
    pub base_current: f64,
}

/// What a worker's bar means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerState {
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

    /// The word used in JSON, on the page and in the chart's legend.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkerState::Running => "running",
            WorkerState::Done => "done",
            WorkerState::Failed => "failed",
        }
    }
}

/// Percent complete, 0–100: a total of 0 counts as finished, and progress past
/// the total is capped.
pub fn percent(current: f64, total: f64) -> f64 {
    if total <= 0.0 {
        100.0
    } else {
        (100.0 * current / total).min(100.0)
    }
}

impl Worker {
    /// Percent complete, 0–100.
    pub fn percent(&self) -> f64 {
        percent(self.current, self.total)
    }

    /// Running, done or failed.
    pub fn state(&self) -> WorkerState {
        WorkerState::of(self.current, self.total, self.ok)
    }

    /// Units per second since `base_time`, or `None` while no progress has
    /// been seen over a measurable time.
    pub fn rate(&self) -> Option<f64> {
        let dt = self.updated - self.base_time;
        let dx = self.current - self.base_current;
        (dt > 0.0 && dx > 0.0).then(|| dx / dt)
    }

    /// Seconds still needed at the current rate, counted from the worker's
    /// last update; `None` unless the worker is running with a known rate.
    pub fn eta_seconds(&self) -> Option<f64> {
        if self.state() != WorkerState::Running {
            return None;
        }
        self.rate().map(|rate| (self.total - self.current) / rate)
    }
}

/// One row of the job list: a job with its workers summarised.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSummary {
    /// The job's id.
    pub jobid: String,
    /// Human-readable title; may be empty.
    pub desc: String,
    /// Unix seconds when the job was (last) created.
    pub created: f64,
    /// Unix seconds of the last activity.
    pub updated: f64,
    /// Seconds after `updated` when the job may be deleted.
    pub maxage: f64,
    /// Number of workers that have reported.
    pub workers: i64,
    /// Workers in state done.
    pub done: i64,
    /// Workers in state failed.
    pub failed: i64,
    /// Mean percent over the workers; 0 for a job without workers.
    pub percent: f64,
}

impl JobSummary {
    /// Unix seconds from which the job may be deleted.
    pub fn expires(&self) -> f64 {
        expires(self.updated, self.maxage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker(current: f64, total: f64, ok: bool) -> Worker {
        Worker {
            workid: "w".into(),
            current,
            total,
            ok,
            desc: String::new(),
            first_seen: 100.0,
            updated: 110.0,
            base_time: 100.0,
            base_current: 0.0,
        }
    }

    #[test]
    fn percent_caps_and_treats_zero_total_as_finished() {
        assert_eq!(percent(5.0, 20.0), 25.0);
        assert_eq!(percent(30.0, 20.0), 100.0);
        assert_eq!(percent(0.0, 0.0), 100.0);
        assert_eq!(percent(0.0, 7.0), 0.0);
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
    fn eta_from_rate_since_base() {
        // 5 units in 10 s = 0.5/s; 15 left → 30 s.
        let w = worker(5.0, 20.0, true);
        assert_eq!(w.rate(), Some(0.5));
        assert_eq!(w.eta_seconds(), Some(30.0));
    }

    #[test]
    fn eta_unknown_without_progress_or_when_not_running() {
        let mut w = worker(0.0, 20.0, true);
        assert_eq!(w.eta_seconds(), None);
        w.current = 5.0;
        w.updated = w.base_time;
        assert_eq!(w.eta_seconds(), None, "no time has passed");
        assert_eq!(worker(5.0, 20.0, false).eta_seconds(), None);
        assert_eq!(worker(20.0, 20.0, true).eta_seconds(), None);
    }
}
