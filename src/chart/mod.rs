//! The PNG chart: a pure function from a job (and the time) to PNG bytes.
//!
//! It draws what the show page shows: a title, a legend that counts the
//! workers by state, one bar per worker labelled with its workid, with
//! current/total, percent and desc inside, an x axis 0–100 % with light
//! gridlines, and a footer with the time it was drawn. It draws on an
//! indexed [`canvas`] (imageproc rectangles, DejaVu Sans text through
//! [`text`]) and encodes an indexed PNG. Nothing here knows HTTP or SQL.
//!
//! When bars with text would make the image taller than [`MAX_HEIGHT`]
//! (from about 190 workers), the bars get thin and lose their text (a
//! label every few rows remains); past the rows the height limit allows,
//! each pixel row stands for several workers: their mean percent, in the
//! colour of the most serious state among them (failed, stale, running,
//! done). The image is never taller than [`MAX_HEIGHT`].

mod canvas;
mod text;

use image::Rgb;

use canvas::{Canvas, Ink};

use crate::format::{eta, pct, qty, utc};
use std::hash::{Hash, Hasher};

use crate::model::{BarState, Job, JobProgress, Worker};

/// Narrowest and widest image, in pixels.
pub const WIDTH_RANGE: (u32, u32) = (300, 4000);
/// Width unless the request says otherwise.
pub const DEFAULT_WIDTH: u32 = 800;
/// Tallest image, in pixels.
pub const MAX_HEIGHT: u32 = 4000;

/// Tallest row in compact mode.
const COMPACT_ROW_MAX: usize = 10;
const PAD: i32 = 16;
const ROW: i32 = 20;
const BAR: i32 = 15;
const TITLE_SIZE: f32 = 18.0;
const TEXT_SIZE: f32 = 12.0;
const SMALL_SIZE: f32 = 11.0;
/// Space above the plot: title, subtitle, legend.
const HEAD: i32 = 92;
/// Space below the plot: axis labels and footer.
const FOOT: i32 = 46;

const BACKGROUND: Rgb<u8> = Rgb([255, 255, 255]);
const TEXT: Rgb<u8> = Rgb([0x1d, 0x21, 0x27]);
const MUTED: Rgb<u8> = Rgb([0x5f, 0x67, 0x73]);
const TRACK: Rgb<u8> = Rgb([0xe9, 0xec, 0xf0]);
const GRID: Rgb<u8> = Rgb([0xd2, 0xd7, 0xde]);

/// The colour of a state, as on the show page.
pub fn state_color(state: BarState) -> Rgb<u8> {
    match state {
        BarState::Running => Rgb([0x2f, 0x9e, 0x57]),
        BarState::Done => Rgb([0x35, 0x66, 0xc9]),
        BarState::Failed => Rgb([0xd3, 0x42, 0x3d]),
        BarState::Stale => Rgb([0x8c, 0x93, 0x9e]),
        BarState::NotStarted => Rgb([0xa3, 0xab, 0xb6]),
    }
}

/// `fg` over `bg` at `alpha` / 255.
fn mix(bg: Rgb<u8>, fg: Rgb<u8>, alpha: u32) -> Rgb<u8> {
    let channel = |i: usize| {
        let (b, f) = (u32::from(bg.0[i]), u32::from(fg.0[i]));
        ((b * (255 - alpha) + f * alpha + 127) / 255) as u8
    };
    Rgb([channel(0), channel(1), channel(2)])
}

/// The fill of a bar in `state`: its colour at 48 % over the track, as the
/// page's `color-mix` draws it.
pub fn fill_color(state: BarState) -> Rgb<u8> {
    mix(TRACK, state_color(state), 122)
}

/// The track behind a bar in `state`: tinted red for a failed worker, as
/// on the page.
pub fn track_color(state: BarState) -> Rgb<u8> {
    match state {
        BarState::Failed => mix(TRACK, state_color(BarState::Failed), 36),
        _ => TRACK,
    }
}

/// How serious a state is when one pixel row stands for several workers.
fn severity(state: BarState) -> u8 {
    match state {
        BarState::Failed => 4,
        BarState::Stale => 3,
        BarState::Running => 2,
        BarState::NotStarted => 1,
        BarState::Done => 0,
    }
}

/// `width` within [`WIDTH_RANGE`].
pub fn clamp_width(width: u32) -> u32 {
    width.clamp(WIDTH_RANGE.0, WIDTH_RANGE.1)
}

/// Loads the fonts now, so the first request does not pay for it.
pub fn load_fonts() {
    text::regular();
    text::bold();
}

/// A chart that could not be encoded (not seen for the sizes drawn here).
pub type ChartError = png::EncodingError;

/// The palette entries every chart uses.
struct Inks {
    text: Ink,
    muted: Ink,
    track: Ink,
    grid: Ink,
    state: [Ink; 5],
    fill: [Ink; 5],
    stripe: Ink,
    failed_track: Ink,
}

impl Inks {
    fn new(canvas: &mut Canvas) -> Inks {
        let state = BarState::ALL.map(|s| canvas.ink(state_color(s)));
        let fill = BarState::ALL.map(|s| canvas.ink(fill_color(s)));
        Inks {
            text: canvas.ink(TEXT),
            muted: canvas.ink(MUTED),
            track: canvas.ink(TRACK),
            grid: canvas.ink(GRID),
            state,
            fill,
            stripe: canvas.ink(mix(TRACK, state_color(BarState::Stale), 64)),
            failed_track: canvas.ink(track_color(BarState::Failed)),
        }
    }
}

/// The title block: a bold title and a muted line under it.
fn heading(canvas: &mut Canvas, inks: &Inks, title: &str, subtitle: &str) {
    let w = canvas.width() as i32;
    let room = (w - 2 * PAD) as f32;
    let bold = text::bold();
    let title = bold.fit(title, TITLE_SIZE, room);
    bold.draw(
        canvas,
        PAD as f32,
        PAD + 18,
        &title,
        TITLE_SIZE,
        inks.text,
        (0, w),
    );
    let regular = text::regular();
    let subtitle = regular.fit(subtitle, TEXT_SIZE, room);
    regular.draw(
        canvas,
        PAD as f32,
        PAD + 38,
        &subtitle,
        TEXT_SIZE,
        inks.muted,
        (0, w),
    );
}

/// `drawn … · progressd` along the bottom.
fn footer(canvas: &mut Canvas, inks: &Inks, now: f64) {
    let footer = format!("drawn {} · progressd", utc(now));
    let (w, h) = (canvas.width() as i32, canvas.height() as i32);
    text::regular().draw(
        canvas,
        PAD as f32,
        h - 10,
        &footer,
        SMALL_SIZE,
        inks.muted,
        (0, w),
    );
}

/// A small picture with a title and one line: for a job that does not exist
/// (yet) or has no workers yet.
pub fn render_message(
    title: &str,
    message: &str,
    width: u32,
    now: f64,
) -> Result<Vec<u8>, ChartError> {
    let mut canvas = Canvas::new(clamp_width(width), 96, BACKGROUND);
    let inks = Inks::new(&mut canvas);
    heading(&mut canvas, &inks, title, message);
    footer(&mut canvas, &inks, now);
    canvas.encode()
}

/// How the bars are laid out.
struct Plot {
    top: i32,
    left: i32,
    right: i32,
    /// Pixel rows, each standing for `per_row` workers.
    rows: usize,
    per_row: usize,
    row_height: i32,
    compact: bool,
}

impl Plot {
    /// The x of `percent` along the bars.
    fn x(&self, percent: f64) -> i32 {
        let span = f64::from(self.right - self.left);
        self.left + (span * percent.clamp(0.0, 100.0) / 100.0).round() as i32
    }

    fn height(&self) -> i32 {
        self.rows as i32 * self.row_height
    }
}

/// The chart of `job` at `now`, `width` pixels wide.
pub fn render_job(job: &Job, now: f64, width: u32) -> Result<Vec<u8>, ChartError> {
    let title = if job.desc.is_empty() {
        job.jobid.as_str()
    } else {
        job.desc.as_str()
    };
    if job.workers.is_empty() {
        let waiting = "Waiting for the first update from a worker.";
        return render_message(title, waiting, width, now);
    }
    let width = clamp_width(width);
    let n = job.workers.len();
    let regular = text::regular();
    let max_plot = (MAX_HEIGHT as i32 - HEAD - FOOT) as usize;
    let compact = n * ROW as usize > max_plot;
    let (rows, per_row, row_height) = if !compact {
        (n, 1, ROW)
    } else if n <= max_plot {
        (n, 1, (max_plot / n).clamp(1, COMPACT_ROW_MAX) as i32)
    } else {
        let per_row = n.div_ceil(max_plot);
        (n.div_ceil(per_row), per_row, 1)
    };
    let label_size = if compact { SMALL_SIZE } else { TEXT_SIZE };
    // Measuring every label of a huge job costs more than it tells.
    let widest_label = job
        .workers
        .iter()
        .take(2000)
        .map(|w| regular.width(&w.workid, label_size))
        .fold(0.0f32, f32::max);
    let label_room = widest_label.min(width as f32 * 0.28).ceil() as i32;
    let plot = Plot {
        top: HEAD,
        left: PAD + label_room + 10,
        right: width as i32 - PAD - 4,
        rows,
        per_row,
        row_height,
        compact,
    };
    let height = (HEAD + plot.height() + FOOT) as u32;
    let mut canvas = Canvas::new(width, height, BACKGROUND);
    let inks = Inks::new(&mut canvas);

    let progress = job.progress(now);
    heading(&mut canvas, &inks, title, &subtitle(job, &progress));
    legend(&mut canvas, &inks, &progress.counts);
    bars(&mut canvas, &inks, job, now, &plot, label_room);
    axis(&mut canvas, &inks, &plot);
    footer(&mut canvas, &inks, now);
    canvas.encode()
}

/// The line under the title: the jobid (unless it is the title), worker
/// count, overall percent and ETA. It changes with time (the ETA), so the
/// chart's version hashes it.
fn subtitle(job: &Job, progress: &JobProgress) -> String {
    let n = job.workers.len();
    let mut line = String::new();
    if !job.desc.is_empty() {
        line.push_str(&format!("job {} · ", job.jobid));
    }
    line.push_str(&format!(
        "{n} worker{} · {} overall",
        if n == 1 { "" } else { "s" },
        pct(progress.percent)
    ));
    if let Some(secs) = progress.eta_seconds {
        line.push_str(&format!(" · should finish {}", eta(secs)));
    }
    line
}

/// A tag that changes whenever the chart of `job` at `now`, `width` wide,
/// would look different: every worker's figures, which are stale, the text
/// that depends on the time. (The footer's time of drawing is left out: it
/// says when this version was drawn.) For HTTP's ETag.
pub fn version(job: &Job, now: f64, width: u32) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (env!("CARGO_PKG_VERSION"), &job.jobid, &job.desc, width).hash(&mut hasher);
    job.created.to_bits().hash(&mut hasher);
    for w in &job.workers {
        (&w.workid, &w.desc, w.ok, w.is_stale(now)).hash(&mut hasher);
        (w.current.to_bits(), w.total.to_bits(), w.updated.to_bits()).hash(&mut hasher);
    }
    subtitle(job, &job.progress(now)).hash(&mut hasher);
    format!("\"{:016x}\"", hasher.finish())
}

/// Swatches with each state's count and word, left to right.
fn legend(canvas: &mut Canvas, inks: &Inks, counts: &[usize; 5]) {
    let regular = text::regular();
    let mut x = PAD;
    let y = PAD + 58;
    let w = canvas.width() as i32;
    for state in BarState::ALL {
        canvas.rect(x, y - 9, 10, 10, inks.state[state as usize]);
        let label = format!("{} {}", counts[state as usize], state.words());
        regular.draw(
            canvas,
            (x + 14) as f32,
            y,
            &label,
            TEXT_SIZE,
            inks.text,
            (0, w),
        );
        x += 14 + regular.width(&label, TEXT_SIZE).ceil() as i32 + 16;
    }
}

fn bars(canvas: &mut Canvas, inks: &Inks, job: &Job, now: f64, plot: &Plot, label_room: i32) {
    let regular = text::regular();
    // Normal rows: a bar centred in its row. Compact rows: the whole row
    // less a one-pixel gap where there is room for one.
    let (inset, bar_h) = if plot.compact {
        let gap = i32::from(plot.row_height >= 3);
        (0, plot.row_height - gap)
    } else {
        ((ROW - BAR) / 2, BAR)
    };
    // Tracks first, then the gridlines over them, then the fills.
    if plot.compact {
        canvas.rect(
            plot.left,
            plot.top,
            plot.right - plot.left,
            plot.height(),
            inks.track,
        );
    } else {
        for row in 0..plot.rows as i32 {
            let y = plot.top + row * ROW + inset;
            canvas.rect(plot.left, y, plot.right - plot.left, BAR, inks.track);
        }
    }
    for tick in TICKS {
        canvas.rect(plot.x(tick), plot.top, 1, plot.height(), inks.grid);
    }
    let label_size = if plot.compact { SMALL_SIZE } else { TEXT_SIZE };
    // In compact mode, a label every ~22 px.
    let label_every = (22 / plot.row_height).max(1) as usize;
    let ascent = regular.ascent(label_size).round() as i32;
    for (row, group) in job.workers.chunks(plot.per_row).enumerate() {
        let y = plot.top + row as i32 * plot.row_height + inset;
        let (state, percent) = summarise(group, now);
        // A failed or stale worker shows its colour even at 0 %.
        let least = if matches!(state, BarState::Failed | BarState::Stale) {
            3
        } else {
            0
        };
        let end = plot.x(percent).max(plot.left + least);
        if state == BarState::Failed && !plot.compact {
            // A failed worker's whole track is tinted, as on the page.
            canvas.rect(
                plot.left,
                y,
                plot.right - plot.left,
                bar_h,
                inks.failed_track,
            );
        }
        if plot.compact {
            // Thin bars in the state's full colour: a tint would vanish.
            canvas.rect(
                plot.left,
                y,
                end - plot.left,
                bar_h,
                inks.state[state as usize],
            );
        } else {
            if state == BarState::Stale {
                stripes(canvas, inks, plot.left, y, end - plot.left, bar_h);
            } else {
                canvas.rect(
                    plot.left,
                    y,
                    end - plot.left,
                    bar_h,
                    inks.fill[state as usize],
                );
            }
            // The solid leading edge, as on the page.
            let edge = 3.min(end - plot.left);
            canvas.rect(end - edge, y, edge, bar_h, inks.state[state as usize]);
        }
        if !plot.compact || row % label_every == 0 {
            let label = regular.fit(&group[0].workid, label_size, label_room as f32);
            let lw = regular.width(&label, label_size);
            let baseline = if plot.compact {
                y + ascent - 2
            } else {
                y + (bar_h + ascent) / 2 - 1
            };
            let x = (plot.left - 8) as f32 - lw;
            regular.draw(
                canvas,
                x,
                baseline,
                &label,
                label_size,
                inks.text,
                (0, plot.left - 4),
            );
        }
        if !plot.compact {
            bar_text(canvas, inks, &group[0], plot, y);
        }
    }
}

/// The state and percent one row shows: the worker's own, or for several
/// workers the most serious state and the mean percent.
fn summarise(group: &[Worker], now: f64) -> (BarState, f64) {
    let state = group
        .iter()
        .map(|w| w.bar_state(now))
        .max_by_key(|&s| severity(s))
        .unwrap_or(BarState::Running);
    let percent = group.iter().map(Worker::percent).sum::<f64>() / group.len().max(1) as f64;
    (state, percent)
}

/// A stale bar: diagonal stripes, as on the page.
fn stripes(canvas: &mut Canvas, inks: &Inks, x: i32, y: i32, w: i32, h: i32) {
    for py in y..y + h {
        for px in x..x + w {
            let ink = if (px + py).rem_euclid(12) < 6 {
                inks.fill[BarState::Stale as usize]
            } else {
                inks.stripe
            };
            canvas.dot(px, py, ink);
        }
    }
}

/// `current/total  percent  desc` inside the bar, cut to fit.
fn bar_text(canvas: &mut Canvas, inks: &Inks, w: &Worker, plot: &Plot, y: i32) {
    let regular = text::regular();
    let bold = text::bold();
    let baseline = y + (BAR + regular.ascent(SMALL_SIZE).round() as i32) / 2 - 1;
    let clip = (plot.left + 4, plot.right - 4);
    let counts = format!("{}/{}", qty(w.current), qty(w.total));
    let mut x = (plot.left + 6) as f32;
    bold.draw(canvas, x, baseline, &counts, SMALL_SIZE, inks.text, clip);
    x += bold.width(&counts, SMALL_SIZE) + 7.0;
    let pc = pct(w.percent());
    regular.draw(canvas, x, baseline, &pc, SMALL_SIZE, inks.text, clip);
    x += regular.width(&pc, SMALL_SIZE) + 8.0;
    let room = clip.1 as f32 - x;
    if !w.desc.is_empty() && room > 12.0 {
        let desc = regular.fit(&w.desc, SMALL_SIZE, room);
        regular.draw(canvas, x, baseline, &desc, SMALL_SIZE, inks.muted, clip);
    }
}

/// Where the gridlines and axis labels go, in percent.
const TICKS: [f64; 5] = [0.0, 25.0, 50.0, 75.0, 100.0];

/// `0%`, `25%`, … under the gridlines.
fn axis(canvas: &mut Canvas, inks: &Inks, plot: &Plot) {
    let regular = text::regular();
    let y = plot.top + plot.height() + 16;
    let w = canvas.width() as i32;
    for tick in TICKS {
        let label = format!("{tick:.0}%");
        let x = plot.x(tick) as f32 - regular.width(&label, SMALL_SIZE) / 2.0;
        regular.draw(canvas, x, y, &label, SMALL_SIZE, inks.muted, (0, w));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker(i: usize, current: f64, ok: bool, updated: f64) -> Worker {
        Worker {
            workid: format!("w{i}"),
            current,
            total: 100.0,
            ok,
            desc: "a description long enough to need cutting when the chart is narrow".into(),
            first_seen: 0.0,
            updated,
            // As if it started at 0 at time 0.
            rate: (updated > 0.0).then(|| current / updated),
            updates: 10,
            seq: None,
        }
    }

    fn job(workers: Vec<Worker>) -> Job {
        Job {
            jobid: "j".into(),
            desc: "Ünïcödé title ✓".into(),
            created: 0.0,
            updated: 1000.0,
            maxage: 60.0,
            workers,
            history: Vec::new(),
        }
    }

    fn decode(png: &Result<Vec<u8>, ChartError>) -> image::RgbImage {
        let png = png.as_ref().expect("encodes");
        image::load_from_memory(png).expect("a valid PNG").to_rgb8()
    }

    /// The chart of a job with one worker, at time 1000.
    fn render_one(w: Worker, width: u32) -> image::RgbImage {
        decode(&render_job(&job(vec![w]), 1000.0, width))
    }

    #[test]
    fn a_stale_bar_is_striped() {
        // Silent for 900 s after reports every 100 s: stale at 1000.
        let img = render_one(worker(0, 80.0, true, 100.0), 800);
        let y = (HEAD + (ROW - BAR) / 2 + BAR - 1) as u32;
        let row: Vec<Rgb<u8>> = (150..400).map(|x| *img.get_pixel(x, y)).collect();
        let light = fill_color(BarState::Stale);
        assert!(row.contains(&light), "light stripes");
        assert!(
            row.iter().any(|&c| c != light && c != TRACK),
            "dark stripes"
        );
    }

    #[test]
    fn the_height_stays_bounded_at_any_size() {
        let height = |n: usize| {
            let workers = (0..n)
                .map(|i| worker(i, (i % 100) as f64, i % 7 != 0, 990.0))
                .collect();
            decode(&render_job(&job(workers), 1000.0, 800)).height()
        };
        let heights: Vec<u32> = [10, 100, 193, 194, 500, 2000, 3862, 10_000, 50_000]
            .into_iter()
            .map(height)
            .collect();
        assert!(heights.iter().all(|&h| h <= MAX_HEIGHT), "{heights:?}");
        // Growing with the workers while bars carry text (up to 193)...
        assert!(heights[..3].windows(2).all(|h| h[0] < h[1]), "{heights:?}");
        // ...and compact after, never shrunk to a sliver.
        assert!(heights[3..].iter().all(|&h| h > 2000), "{heights:?}");
    }

    #[test]
    fn a_failed_worker_at_zero_percent_is_still_red() {
        let img = render_one(worker(0, 0.0, false, 990.0), 800);
        let y = (HEAD + (ROW - BAR) / 2 + BAR - 1) as u32;
        let row: Vec<Rgb<u8>> = (0..800).map(|x| *img.get_pixel(x, y)).collect();
        assert!(row.contains(&state_color(BarState::Failed)), "a red edge");
        assert!(!row.contains(&TRACK), "the track is tinted");
    }

    #[test]
    fn the_version_changes_when_only_time_changes_the_picture() {
        // 40 units in 400 s: an ETA that shrinks as time passes.
        let w = worker(0, 40.0, true, 400.0);
        let job = job(vec![w]);
        let (at_401, at_500) = (version(&job, 401.0, 800), version(&job, 500.0, 800));
        assert_ne!(at_401, at_500, "the ETA text differs");
        assert_eq!(at_401, version(&job, 401.2, 800), "same text, same version");
        assert_ne!(at_401, version(&job, 401.0, 801), "width");
    }

    #[test]
    fn a_row_standing_for_many_workers_shows_the_most_serious_state() {
        let group = [worker(0, 50.0, true, 990.0), worker(1, 10.0, false, 990.0)];
        assert_eq!(summarise(&group, 1000.0), (BarState::Failed, 30.0));
    }

    #[test]
    fn narrow_charts_cut_text_inside_the_plot() {
        let img = render_one(worker(0, 100.0, true, 990.0), 300);
        assert_eq!(img.width(), 300);
        // Nothing but background right of the bars.
        let right = 300 - PAD as u32 + 1;
        let y0 = HEAD as u32;
        assert!(
            (right..300).all(|x| (y0..y0 + ROW as u32).all(|y| img.get_pixel(x, y) == &BACKGROUND))
        );
    }
}
