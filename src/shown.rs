//! What the show page says of a worker and of its job, in words: worked out
//! once, here, and written by the server into the page's HTML (`page`) and,
//! for the page's own polls (`status?text=1`, `history?text=1`), into the
//! JSON (`json`), so the page's script places these texts rather than
//! formatting numbers itself. Only the span since a last report, which
//! grows between polls, is still written by the script.

use crate::clock::Time;
use crate::format::{eta, pct, qty, rate_in, rate_line, span, time_left, utc};
use crate::history::Point;
use crate::look;
use crate::model::RateUnit;
use crate::model::{BarState, HISTOGRAM_STEP, Job, JobProgress, Pick, Worker};

/// A worker's row, in words.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerText {
    /// The state its bar is drawn in (stale for a silent running worker).
    pub state: BarState,
    /// The row's classes: `worker s-running slow`.
    pub class: String,
    /// `current/total`, or `not started yet`.
    pub counts: String,
    /// `42.0%`; nothing before a report.
    pub percent: String,
    /// A running worker's rate and time left (`1.8/s · 4 s left`).
    pub rate: String,
    /// The state's icon and words, `▼ slow` for a slow worker.
    pub label: String,
    /// The bar's tooltip: `id: 6 of 10`.
    pub track: String,
    /// How long ago it last reported: `3 s ago`, `no report`.
    pub ago: String,
    /// The tooltip of that: `last report 2026-11-25 21:46 UTC`.
    pub stamp: String,
    /// Its total, for the line under an opened row.
    pub total: String,
    /// Its rate, time left and slowness, for the line under an opened row;
    /// nothing when none is known.
    pub detail: String,
}

impl WorkerText {
    /// `w`'s row at `now`, in the job whose figures are `progress`.
    pub fn of(w: &Worker, progress: &JobProgress, now: Time) -> WorkerText {
        let state = w.bar_state(now);
        let slow = w.is_slow(progress.median_rate, now);
        let waiting = state == BarState::NotStarted;
        let running = state == BarState::Running;
        let mut detail = Vec::new();
        if let (Some(rate), Some(unit)) = (w.rate, w.rate_unit(progress.rate_unit)) {
            detail.push(format!(
                "rate {} over its recent steps",
                rate_in(rate, unit)
            ));
        }
        // A silent worker's time left would mislead, as in `status`.
        if let Some(left) = w.time_left(now).filter(|_| state != BarState::Stale) {
            detail.push(time_left(left));
        }
        if slow {
            detail.push("slow: well below the job's median rate".to_string());
        }
        WorkerText {
            state,
            class: format!(
                "worker s-{}{}",
                state.as_str(),
                if slow { " slow" } else { "" }
            ),
            counts: if waiting {
                "not started yet".to_string()
            } else {
                format!("{}/{}", qty(w.current), qty(w.total))
            },
            percent: if waiting {
                String::new()
            } else {
                pct(w.percent())
            },
            rate: if running {
                rate_text(w, progress.rate_unit, now)
            } else {
                String::new()
            },
            label: look::label(if slow { Pick::Slow } else { Pick::State(state) }),
            track: if waiting {
                format!("{}: expected, no report yet", w.workid)
            } else {
                format!("{}: {} of {}", w.workid, qty(w.current), qty(w.total))
            },
            ago: if waiting {
                "no report".to_string()
            } else {
                format!("{} ago", span(now - w.updated))
            },
            stamp: if waiting {
                "no report yet".to_string()
            } else {
                format!("last report {}", utc(w.updated))
            },
            total: qty(w.total),
            detail: detail.join(" · "),
        }
    }
}

/// A running worker's rate and its time left at `now`, counted down from
/// its last report (`1.8/s · 4 s left`, `0.2/s · overdue`), the rate in
/// `unit` (the job's, [`JobProgress::rate_unit`]) else its own: what the
/// page's row and the chart's bar both say.
pub fn rate_text(w: &Worker, unit: Option<RateUnit>, now: Time) -> String {
    rate_line(w.rate, w.time_left(now), w.rate_unit(unit))
}

/// A job's summary, in words (its counts are numbers the script writes as
/// they are).
#[derive(Debug, Clone, PartialEq)]
pub struct JobText {
    /// The overall percent.
    pub percent: String,
    /// When it should finish (`in 3 min`, `any moment`), when known.
    pub eta: Option<String>,
    /// `completed in 54 s` once every worker is done (see [`completed`]).
    pub completed: Option<String>,
    /// `expires 2026-12-08 02:08 UTC`.
    pub expires: String,
    /// When its burn-up starts.
    pub burn_up_from: String,
    /// The time of this answer, which a page says it last heard from the
    /// server when it cannot reach it.
    pub now: String,
}

impl JobText {
    /// `job`'s summary at `now`; `burn_up` is its burn-up.
    pub fn of(job: &Job, progress: &JobProgress, burn_up: &[Point], now: Time) -> JobText {
        JobText {
            percent: pct(progress.percent),
            eta: progress.eta_seconds.map(eta),
            completed: completed(progress),
            expires: format!("expires {}", utc(job.expires())),
            burn_up_from: burn_up
                .first()
                .map_or(String::new(), |&(t, _)| utc(Time::unix(t))),
            now: utc(now),
        }
    }
}

/// `completed in 54 s`, from the first report to the last, once every
/// worker is done; nothing before.
pub fn completed(progress: &JobProgress) -> Option<String> {
    let workers: usize = progress.counts.iter().sum();
    if workers == 0 || progress.count(BarState::Done) < workers {
        return None;
    }
    let (first, last) = (progress.first_report?, progress.last_report?);
    Some(format!("completed in {}", span(last - first)))
}

/// The line under an opened row, from the worker's history: since when,
/// and the most it has done.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryText {
    /// When its first point was taken; nothing without points.
    pub since: String,
    /// The highest `current` among its points.
    pub top: String,
}

impl HistoryText {
    /// The text of `points`.
    pub fn of(points: &[Point]) -> HistoryText {
        HistoryText {
            since: points
                .first()
                .map_or(String::new(), |&(t, _)| utc(Time::unix(t))),
            top: qty(points.iter().fold(0.0, |top, &(_, v)| v.max(top))),
        }
    }
}

/// A column of the big-job page's histogram.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Its count, at most five characters (`12.3k`); nothing for 0.
    pub n: String,
    /// Its range and workers by state, for tooltips and screen readers.
    pub title: String,
    /// Drawn cut (far taller than the rest), full height with a gap.
    pub cut: bool,
    /// Each state's share of the chart's height, in percent, in
    /// [`BarState::ALL`] order; 0 for a state it has none of.
    pub heights: [f64; 5],
}

/// The histogram's columns, scaled as [`histogram_scale`] says.
pub fn histogram(progress: &JobProgress) -> Vec<Column> {
    let totals: Vec<usize> = progress
        .histogram
        .iter()
        .map(|counts| counts.iter().sum())
        .collect();
    let (scale, cut_above) = histogram_scale(&totals);
    progress
        .histogram
        .iter()
        .zip(&totals)
        .enumerate()
        .map(|(bucket, (counts, &total))| {
            let cut = total > cut_above;
            // A cut column is full: its states share it.
            let of = if cut { total as f64 } else { scale };
            Column {
                n: compact(total),
                title: bucket_text(bucket, counts),
                cut,
                heights: counts.map(|count| 100.0 * count as f64 / of),
            }
        })
        .collect()
}

/// Percent a histogram bucket starts at; the last ends at 100.
fn bucket_start(bucket: usize) -> f64 {
    HISTOGRAM_STEP * bucket as f64
}

/// A bucket's range and its workers by state, in words.
fn bucket_text(bucket: usize, counts: &[usize; 5]) -> String {
    let total: usize = counts.iter().sum();
    let mut text = format!(
        "{}–{} %: {total} worker{}",
        bucket_start(bucket),
        bucket_start(bucket + 1),
        if total == 1 { "" } else { "s" }
    );
    let states: Vec<String> = BarState::ALL
        .into_iter()
        .filter(|&s| counts[s as usize] > 0)
        .map(|s| format!("{} {}", counts[s as usize], s.words()))
        .collect();
    if !states.is_empty() {
        text.push_str(": ");
        text.push_str(&states.join(", "));
    }
    text
}

/// A count in at most five characters, over a histogram's column: `999`,
/// `12.3k`, `100k`, `1.2M`; nothing for 0.
fn compact(n: usize) -> String {
    match n {
        0 => String::new(),
        1..=999 => n.to_string(),
        1000..=99_999 => tenths(n / 100, "k"),
        100_000..=999_999 => format!("{}k", n / 1000),
        _ => tenths(n / 100_000, "M"),
    }
}

/// `tenths` / 10 with its unit, rounded down, without a trailing `.0`.
fn tenths(tenths: usize, unit: &str) -> String {
    match tenths % 10 {
        0 => format!("{}{unit}", tenths / 10),
        d => format!("{}.{d}{unit}", tenths / 10),
    }
}

/// How the histogram's columns are scaled: `(scale, cut_above)`. A column
/// of `n` workers is drawn `n / scale` of the chart's height, unless `n`
/// is over `cut_above`. One to three columns far taller than the rest
/// (over 4 times the next, say 80,000 workers not started at 0 %) would
/// flatten the others to slivers, so they are drawn cut, at full height
/// with a gap, and the rest to scale with the tallest of them at 85 %;
/// at least three columns stay to scale. Their counts are written over
/// them.
fn histogram_scale(totals: &[usize]) -> (f64, usize) {
    let mut filled: Vec<usize> = totals.iter().copied().filter(|&t| t > 0).collect();
    filled.sort_unstable_by(|a, b| b.cmp(a));
    let cuts = 3.min(filled.len().saturating_sub(3));
    for k in 1..=cuts {
        if filled[k - 1] > filled[k].saturating_mul(4) {
            return (filled[k] as f64 / 0.85, filled[k]);
        }
    }
    (
        filled.first().copied().unwrap_or(0).max(1) as f64,
        usize::MAX,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_counts_fit_over_a_column() {
        let cases = [
            (0, ""),
            (7, "7"),
            (999, "999"),
            (1000, "1k"),
            (1099, "1k"),
            (1100, "1.1k"),
            (80_199, "80.1k"),
            (99_999, "99.9k"),
            (100_000, "100k"),
            (999_999, "999k"),
            (1_250_000, "1.2M"),
        ];
        for (n, text) in cases {
            assert_eq!(compact(n), text, "{n}");
        }
        assert_eq!(bucket_text(0, &[0; 5]), "0–5 %: 0 workers");
        assert_eq!(
            bucket_text(19, &[3, 1, 0, 0, 0]),
            "95–100 %: 4 workers: 3 running, 1 done"
        );
        assert_eq!(
            bucket_text(9, &[0, 0, 1, 0, 0]),
            "45–50 %: 1 worker: 1 failed"
        );
    }

    #[test]
    fn a_column_far_taller_than_the_rest_is_cut() {
        // 80,000 not started at 0 %, the rest spread out: the first is
        // cut, the tallest of the rest drawn at 85 %.
        let totals = [80_000, 900, 1600, 2300, 2800, 0, 2400, 1000, 300];
        assert_eq!(histogram_scale(&totals), (2800.0 / 0.85, 2800));
        // Two far taller (not started at 0 %, done at 100 %).
        let totals = [40_000, 300, 200, 100, 50_000];
        assert_eq!(histogram_scale(&totals), (300.0 / 0.85, 300));
        // Only the jump is cut: 10 over 1 is a column to scale.
        assert_eq!(histogram_scale(&[588, 1, 10, 1]), (10.0 / 0.85, 10));
        // Nothing far taller: to scale with the tallest.
        assert_eq!(histogram_scale(&[10, 20, 30, 40]), (40.0, usize::MAX));
        // Fewer than three columns left to scale: none cut.
        assert_eq!(histogram_scale(&[99_000, 1, 1]), (99_000.0, usize::MAX));
        assert_eq!(histogram_scale(&[0; 20]), (1.0, usize::MAX));
    }
}
