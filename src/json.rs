//! Model → JSON for the `status` and `jobs` endpoints.
//!
//! Numbers that are whole come out as integers (`5`, not `5.0`), as the
//! Python and shell clients sent them; times are Unix seconds to the
//! millisecond. Rates and ETAs are written as computed, at full precision:
//! a slow worker's rate is never rounded to 0 beside a finite ETA, and the
//! page's script formats the very numbers the server formats.

use serde_json::{Value, json};

use crate::history::Point;
use crate::model::{BarState, Job, JobHistory, JobProgress, JobSummary, Worker};

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
    let scale = 10f64.powi(places);
    let round = (x * scale).round() / scale;
    number(if round.is_finite() { round } else { x })
}

fn time(t: f64) -> Value {
    rounded(t, 3)
}

/// Points as `[[time, value], …]`.
fn points(points: &[Point], places: i32) -> Value {
    Value::Array(
        points
            .iter()
            .map(|&(t, value)| json!([time(t), rounded(value, places)]))
            .collect(),
    )
}

fn worker(w: &Worker, progress: &JobProgress, now: f64) -> Value {
    let reported = w.updates > 0;
    let stale = w.is_stale(now);
    json!({
        "workid": w.workid,
        "current": number(w.current),
        "total": number(w.total),
        "percent": rounded(w.percent(), 2),
        "ok": w.ok,
        "desc": w.desc,
        "state": w.state().as_str(),
        // A worker that has not reported has no times of its own.
        "first_seen": reported.then(|| time(w.first_seen)),
        "updated": reported.then(|| time(w.updated)),
        "rate": w.rate.map(number),
        // A silent worker's time left would mislead.
        "eta_seconds": w.eta_seconds().filter(|_| !stale).map(number),
        "stale": stale,
        "slow": w.is_slow(progress.median_rate, now),
        "seq": w.seq,
    })
}

/// The `status` document at `now`: the job, its summary and every worker
/// (in natural order of workid).
pub fn job_status(job: &Job, now: f64) -> Value {
    let progress = job.progress(now);
    json!({
        "jobid": job.jobid,
        "desc": job.desc,
        "created": time(job.created),
        "updated": time(job.updated),
        "expires": time(job.expires()),
        "now": time(now),
        "summary": {
            "percent": rounded(progress.percent, 2),
            "running": progress.count(BarState::Running),
            "done": progress.count(BarState::Done),
            "failed": progress.count(BarState::Failed),
            "stale": progress.count(BarState::Stale),
            "not_started": progress.count(BarState::NotStarted),
            "slow": progress.slow,
            "median_rate": progress.median_rate.map(number),
            "last_report": progress.last_report.map(time),
            "eta_seconds": progress.eta_seconds.map(number),
            "history": points(&job.burn_up(&progress), 2),
        },
        "workers": job.workers.iter().map(|w| worker(w, &progress, now)).collect::<Vec<_>>(),
    })
}

/// The `history` document at `now`: each worker's `current` over time as
/// `[time, value]` pairs and, when the whole job was read, its overall
/// percent over time.
pub fn job_history(jobid: &str, found: &JobHistory, now: f64) -> Value {
    let mut doc = json!({
        "jobid": jobid,
        "now": time(now),
        "workers": found
            .workers
            .iter()
            .map(|w| json!({ "workid": w.workid, "current": points(&w.points, 6) }))
            .collect::<Vec<_>>(),
    });
    if let Some(job) = &found.job {
        doc["percent"] = points(&job.burn_up(&job.progress(now)), 2);
    }
    doc
}

/// The `jobs` document: one summary per job, in the order given.
pub fn job_list(jobs: &[JobSummary]) -> Value {
    Value::Array(
        jobs.iter()
            .map(|j| {
                json!({
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
                    "percent": rounded(j.percent, 2),
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fixtures::{EDGE_RATES, job, running};

    #[test]
    fn a_silent_worker_has_no_time_left_and_an_expected_one_no_times() {
        let w = running("w", 5.0, 10.0, 0.5);
        let job = job(vec![w.clone()]);
        let reporting = worker(&w, &job.progress(11.0), 11.0);
        assert_eq!(reporting["eta_seconds"], 10);
        let silent = worker(&w, &job.progress(1000.0), 1000.0);
        assert_eq!(
            (silent["stale"].as_bool(), silent["eta_seconds"].is_null()),
            (Some(true), true)
        );
        let expected = Worker { updates: 0, ..w };
        let expected = worker(&expected, &job.progress(11.0), 11.0);
        assert!(expected["first_seen"].is_null() && expected["updated"].is_null());
    }

    /// Issue 11: a rate of 0.089/h was written `"rate": 0` beside an ETA
    /// of 11 hours. A rate is written as it is, so 0 means 0, and only a
    /// rate of 0 (or one too small for a finite time) has no ETA.
    #[test]
    fn the_rate_is_never_0_beside_an_eta() {
        for rate in EDGE_RATES {
            let w = running("w", 1.0, 2.0, rate);
            let status = job_status(&job(vec![w.clone(), w.clone(), w]), 11.0);
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

    #[test]
    fn whole_numbers_are_integers() {
        assert_eq!(number(5.0).to_string(), "5");
        assert_eq!(number(-0.0).to_string(), "0");
        assert_eq!(number(2.5).to_string(), "2.5");
        assert_eq!(number(1e300).to_string(), "1e+300");
        assert_eq!(rounded(100.0 * 5.0 / 22.0, 2).to_string(), "22.73");
        assert_eq!(time(1_764_107_205.123_456).to_string(), "1764107205.123");
        assert_eq!(
            rounded(1e305, 6).to_string(),
            "1e+305",
            "no overflow to null"
        );
    }
}
