//! The chart: a pure function from a job (and the time) to a picture, as
//! PNG or as SVG.
//!
//! It draws what the show page shows: a title, a legend that counts the
//! workers by state, one bar per worker labelled with its workid, with
//! current/total, percent and desc inside, an x axis 0–100 % with light
//! gridlines, and a footer with the time it was drawn. This file is the
//! layout, the one place that decides what goes where; it draws on a
//! [`surface::Surface`], of which there are two: [`raster`] (an indexed
//! canvas encoded as PNG, DejaVu Sans glyphs through [`text`]) and [`svg`].
//! Colours, the look of each state and the type are in [`style`]. Nothing
//! here knows HTTP or SQL.
//!
//! When bars with text would make the image taller than [`MAX_HEIGHT`]
//! (from about 190 workers), the bars get thin and lose their text (a
//! label every few rows remains); past the rows the height limit allows,
//! each pixel row stands for several workers: their mean percent, in the
//! colour of the most serious state among them (failed, stale, running,
//! done). The image is never taller than [`MAX_HEIGHT`].

mod canvas;
mod raster;
mod style;
mod surface;
mod svg;
mod text;

use crate::clock::Time;
use std::hash::{Hash, Hasher};

use image::Rgb;

use crate::format::{eta, pct, qty, utc};
use crate::model::{BarState, Drawn, Job, JobProgress, RateUnit, Worker};
use raster::Raster;
use style::{BODY, Font, Paint, SMALL, SMALL_BOLD, TITLE, look};
use surface::Surface;
use svg::Svg;

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
/// Space above the plot: title, subtitle, legend.
const HEAD: i32 = 92;
/// Space below the plot: axis labels and footer.
const FOOT: i32 = 46;
/// Height of a picture with a message and no bars.
const MESSAGE_HEIGHT: u32 = 96;
/// The burn-up at the top right: its size, and the narrowest chart that
/// has one.
const BURN_UP_WIDTH: i32 = 150;
const BURN_UP_HEIGHT: i32 = 34;
const BURN_UP_FROM_WIDTH: u32 = 560;

/// The picture formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// An indexed PNG.
    Png,
    /// SVG, text as text.
    Svg,
}

/// The colour of a state, as on the show page.
pub fn state_color(state: BarState) -> Rgb<u8> {
    Paint::State(state).color()
}

/// The fill of a bar in `state`: its colour at 48 % over the track, as the
/// page's `color-mix` draws it.
pub fn fill_color(state: BarState) -> Rgb<u8> {
    Paint::Fill(state).color()
}

/// The track behind a bar in `state`: tinted red for a failed worker, as
/// on the page.
pub fn track_color(state: BarState) -> Rgb<u8> {
    Paint::StateTrack(state).color()
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

/// A chart that could not be encoded (not seen for the sizes drawn here;
/// an SVG cannot fail).
pub type ChartError = png::EncodingError;

/// A chart laid out: its size, its heading, and the bars if it has any.
struct Chart<'a> {
    width: u32,
    height: u32,
    title: &'a str,
    subtitle: String,
    now: Time,
    bars: Option<Bars<'a>>,
    /// The job's burn-up, as column heights in pixels, if it is drawn.
    burn_up: Option<Vec<i32>>,
}

/// The bars of a job, laid out.
struct Bars<'a> {
    rows: &'a Rows,
    plot: Plot,
    /// Width of the workid column, in pixels.
    label_room: i32,
    /// Workers by state, in [`BarState::ALL`] order.
    counts: Vec<usize>,
    /// Running workers that are slow.
    slow: usize,
    /// What slow is judged by (see [`JobProgress::median_rate`]).
    median_rate: Option<f64>,
    /// The unit rates are written in (see [`JobProgress::rate_unit`]).
    rate_unit: Option<RateUnit>,
}

impl Chart<'_> {
    /// Draws everything, in the order the pixels overlap.
    fn draw<S: Surface>(&self, s: &mut S) {
        let reserved = if self.burn_up.is_some() {
            BURN_UP_WIDTH + 16
        } else {
            0
        };
        heading(s, self.title, &self.subtitle, reserved);
        if let Some(heights) = &self.burn_up {
            burn_up(s, heights);
        }
        if let Some(bars) = &self.bars {
            legend(s, &bars.counts, bars.slow);
            draw_bars(s, bars, self.now);
            axis(s, &bars.plot);
        }
        footer(s, self.now);
    }

    /// The chart in `format`.
    fn render(&self, format: Format) -> Result<Vec<u8>, ChartError> {
        match format {
            Format::Png => self.render_on::<Raster>(),
            Format::Svg => self.render_on::<Svg>(),
        }
    }

    fn render_on<S: Surface>(&self) -> Result<Vec<u8>, ChartError> {
        let mut surface = S::new(self.width, self.height, self.title);
        self.draw(&mut surface);
        surface.finish()
    }
}

/// The title block: a bold title and a muted line under it, leaving
/// `reserved` pixels free at the right.
fn heading<S: Surface>(s: &mut S, title: &str, subtitle: &str, reserved: i32) {
    let w = s.size().0;
    let room = (w - 2 * PAD - reserved) as f32;
    let title = TITLE.fit(title, room);
    s.text((PAD as f32, PAD + 18), &title, TITLE, Paint::Text, (0, w));
    let subtitle = BODY.fit(subtitle, room);
    s.text(
        (PAD as f32, PAD + 38),
        &subtitle,
        BODY,
        Paint::Muted,
        (0, w),
    );
}

/// The job's overall percent over time, top right: a small area chart on a
/// track, 0 to 100 %, from creation to the last report, under a caption.
fn burn_up<S: Surface>(s: &mut S, heights: &[i32]) {
    let x = s.size().0 - PAD - BURN_UP_WIDTH;
    let top = PAD + 12;
    s.rect(x, top, BURN_UP_WIDTH, BURN_UP_HEIGHT, Paint::Track);
    let running = BarState::Running;
    let bottom = top + BURN_UP_HEIGHT;
    s.area(
        x,
        bottom,
        heights,
        Paint::Fill(running),
        Paint::State(running),
    );
    let caption = "overall, over time";
    let at = ((x + BURN_UP_WIDTH) as f32 - SMALL.width(caption), PAD + 6);
    s.text(at, caption, SMALL, Paint::Muted, (x, x + BURN_UP_WIDTH));
}

/// Column heights (0 to `height` pixels for 0 to 100 %) of `points`
/// spread over `width` columns from the first point's time to the last's,
/// straight between points; `None` with fewer than two points apart in
/// time (nothing to show yet).
fn burn_up_heights(points: &[crate::history::Point], width: i32, height: i32) -> Option<Vec<i32>> {
    let (first, last) = (points.first()?, points.last()?);
    let span = last.0 - first.0;
    if span <= 0.0 || width <= 0 {
        return None;
    }
    let mut next = 0;
    let heights = (0..width)
        .map(|column| {
            let t = first.0 + span * (f64::from(column) + 0.5) / f64::from(width);
            while next + 1 < points.len() && points[next + 1].0 < t {
                next += 1;
            }
            let (a, b) = (points[next], points[(next + 1).min(points.len() - 1)]);
            let share = if b.0 > a.0 {
                (t - a.0) / (b.0 - a.0)
            } else {
                1.0
            };
            let percent = a.1 + (b.1 - a.1) * share.clamp(0.0, 1.0);
            (percent.clamp(0.0, 100.0) / 100.0 * f64::from(height)).round() as i32
        })
        .collect();
    Some(heights)
}

/// `drawn … · progressd` along the bottom.
fn footer<S: Surface>(s: &mut S, now: Time) {
    let footer = format!("drawn {} · progressd", utc(now));
    let (w, h) = s.size();
    s.text((PAD as f32, h - 10), &footer, SMALL, Paint::Muted, (0, w));
}

/// A small picture with a title and one line, in `format`: for a job that
/// does not exist (yet) or has no workers yet.
pub fn render_message(
    title: &str,
    message: &str,
    width: u32,
    now: Time,
    format: Format,
) -> Result<Vec<u8>, ChartError> {
    message_chart(title, message, width, now).render(format)
}

fn message_chart<'a>(title: &'a str, message: &str, width: u32, now: Time) -> Chart<'a> {
    Chart {
        width: clamp_width(width),
        height: MESSAGE_HEIGHT,
        title,
        subtitle: message.to_string(),
        now,
        bars: None,
        burn_up: None,
    }
}

/// How the bars are laid out.
struct Plot {
    top: i32,
    left: i32,
    right: i32,
    /// Bars.
    rows: usize,
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

/// What the chart draws of a job: the job (its workers are not read from
/// it), how many workers it has, its progress, and its bars.
pub struct ChartInput<'a> {
    /// The job: its id, title, creation and burn-up.
    pub job: &'a Job,
    /// Its progress at the time drawn.
    pub progress: JobProgress,
    /// Its bars.
    pub rows: Rows,
}

impl<'a> ChartInput<'a> {
    /// The chart input of a job read whole, with its workers.
    pub fn of_job(job: &'a Job, now: Time) -> ChartInput<'a> {
        let mut rows = Rows::new(job.workers.len(), now);
        for w in &job.workers {
            rows.add(w);
        }
        ChartInput {
            job,
            progress: job.progress(now),
            rows,
        }
    }
}

/// Most bars the plot holds: one a pixel row.
const MAX_ROWS: usize = (MAX_HEIGHT as i32 - HEAD - FOOT) as usize;

/// A job's bars, collected from its workers in natural order: one a worker
/// while they fit in the plot, else one a pixel row, each standing for
/// several workers (their mean percent, in the colour of the most serious
/// state among them). So a chart holds at most [`MAX_ROWS`] bars, whatever
/// the job's size.
pub struct Rows {
    now: Time,
    /// Workers the job has (as counted before they are added).
    workers: usize,
    /// Workers each bar stands for.
    per_row: usize,
    /// One a worker, while `per_row` is 1.
    each: Vec<Worker>,
    /// One a group of `per_row`, otherwise.
    groups: Vec<Group>,
}

/// A bar standing for several workers.
struct Group {
    state: BarState,
    percent_sum: f64,
    count: usize,
    /// The first worker's id, for the label.
    first: String,
}

impl Group {
    fn percent(&self) -> f64 {
        self.percent_sum / self.count.max(1) as f64
    }
}

impl Rows {
    /// Bars for a job of `workers` workers, drawn at `now`.
    pub fn new(workers: usize, now: Time) -> Rows {
        Rows {
            now,
            workers,
            per_row: workers.div_ceil(MAX_ROWS).max(1),
            each: Vec::new(),
            groups: Vec::new(),
        }
    }

    /// True while each bar stands for one worker, and so needs all of it
    /// (its desc and rate are drawn); otherwise a bar needs only each
    /// worker's figures (its state and percent) and its first worker's id.
    pub fn keeps_workers(&self) -> bool {
        self.per_row == 1
    }

    /// Adds the next worker, in natural order. Past [`MAX_ROWS`] workers
    /// only its figures are kept, in its bar's sums, and the id of a bar's
    /// first worker.
    pub fn add(&mut self, w: &Worker) {
        self.add_drawn(w, w.drawn(self.now));
    }

    /// As [`Rows::add`], for a worker drawn as `drawn` (its
    /// [`Worker::drawn`] at these bars' time).
    pub fn add_drawn(&mut self, w: &Worker, Drawn { state, percent }: Drawn) {
        if self.keeps_workers() {
            self.each.push(w.clone());
            return;
        }
        match self.groups.last_mut().filter(|g| g.count < self.per_row) {
            Some(group) => {
                if look(state).severity > look(group.state).severity {
                    group.state = state;
                }
                group.percent_sum += percent;
                group.count += 1;
            }
            None => self.groups.push(Group {
                state,
                percent_sum: percent,
                count: 1,
                first: w.workid.clone(),
            }),
        }
    }

    /// Workers each bar stands for: [`Rows::add`] needs the id of the
    /// first of each, the others' ids may be left empty.
    pub fn per_bar(&self) -> usize {
        self.per_row
    }

    /// How many bars.
    fn len(&self) -> usize {
        if self.keeps_workers() {
            self.each.len()
        } else {
            self.groups.len()
        }
    }

    /// Each bar's label (its first worker's id), state and percent, and the
    /// worker when it stands for one.
    fn bars(&self) -> impl Iterator<Item = (&str, BarState, f64, Option<&Worker>)> {
        let each = self.each.iter().map(|w| {
            (
                w.workid.as_str(),
                w.bar_state(self.now),
                w.percent(),
                Some(w),
            )
        });
        let groups = self
            .groups
            .iter()
            .map(|g| (g.first.as_str(), g.state, g.percent(), None));
        each.chain(groups)
    }
}

/// The chart of `job` at `now`, `width` pixels wide, in `format`.
pub fn render_job(job: &Job, now: Time, width: u32, format: Format) -> Result<Vec<u8>, ChartError> {
    render(&ChartInput::of_job(job, now), now, width, format)
}

/// The chart of `input` at `now`, `width` pixels wide, in `format`.
pub fn render(
    input: &ChartInput,
    now: Time,
    width: u32,
    format: Format,
) -> Result<Vec<u8>, ChartError> {
    job_chart(input, now, width).render(format)
}

fn job_chart<'a>(input: &'a ChartInput, now: Time, width: u32) -> Chart<'a> {
    let job = input.job;
    let title = if job.desc.is_empty() {
        job.jobid.as_str()
    } else {
        job.desc.as_str()
    };
    let n = input.rows.len();
    if n == 0 {
        let waiting = "Waiting for the first update from a worker.";
        return message_chart(title, waiting, width, now);
    }
    let width = clamp_width(width);
    let compact = n * ROW as usize > MAX_ROWS;
    let row_height = if !compact {
        ROW
    } else {
        (MAX_ROWS / n).clamp(1, COMPACT_ROW_MAX) as i32
    };
    let label_font = if compact { SMALL } else { BODY };
    // Measuring every label of a huge job costs more than it tells.
    let widest_label = input
        .rows
        .bars()
        .take(2000)
        .map(|(label, ..)| label_font.width(label))
        .fold(0.0f32, f32::max);
    let label_room = widest_label.min(width as f32 * 0.28).ceil() as i32;
    let plot = Plot {
        top: HEAD,
        left: PAD + label_room + 10,
        right: width as i32 - PAD - 4,
        rows: n,
        row_height,
        compact,
    };
    let progress = &input.progress;
    let burn_up = (width >= BURN_UP_FROM_WIDTH)
        .then(|| burn_up_heights(&job.burn_up(progress), BURN_UP_WIDTH, BURN_UP_HEIGHT))
        .flatten();
    Chart {
        width,
        height: (HEAD + plot.height() + FOOT) as u32,
        title,
        subtitle: subtitle(input),
        now,
        burn_up,
        bars: Some(Bars {
            rows: &input.rows,
            plot,
            label_room,
            counts: progress.counts.to_vec(),
            slow: progress.slow,
            median_rate: progress.median_rate,
            rate_unit: progress.rate_unit,
        }),
    }
}

/// The line under the title: the jobid (unless it is the title), worker
/// count, overall percent and ETA. It changes with time (the ETA), so the
/// chart's version hashes it.
fn subtitle(input: &ChartInput) -> String {
    let (job, progress) = (input.job, &input.progress);
    let n = input.rows.workers;
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
    if let Some(completed) = crate::shown::completed(progress) {
        line.push_str(&format!(" · {completed}"));
    }
    line
}

/// A tag that changes whenever the chart of `job` at `now`, `width` wide,
/// in `format`, would look different. For HTTP's ETag; the PNG and the SVG
/// of one job have different tags.
pub fn version(job: &Job, now: Time, width: u32, format: Format) -> String {
    version_of(&ChartInput::of_job(job, now), now, width, format)
}

/// [`version`] of a chart input: every bar's figures, which are stale or
/// slow, the counts, the text that depends on the time. (The footer's time
/// of drawing is left out: it says when this version was drawn.)
pub fn version_of(input: &ChartInput, now: Time, width: u32, format: Format) -> String {
    let job = input.job;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (
        env!("CARGO_PKG_VERSION"),
        &job.jobid,
        &job.desc,
        width,
        format,
    )
        .hash(&mut hasher);
    job.created.as_unix().to_bits().hash(&mut hasher);
    let progress = &input.progress;
    (progress.counts, progress.slow).hash(&mut hasher);
    // Bars with text write each running worker's time left, which counts
    // down with `now`.
    let texts = input.rows.len() * ROW as usize <= MAX_ROWS;
    for w in &input.rows.each {
        let slow = w.is_slow(progress.median_rate, now);
        (&w.workid, &w.desc, w.ok, w.is_stale(now), slow, w.updates).hash(&mut hasher);
        w.rate.map(f64::to_bits).hash(&mut hasher);
        if texts && w.bar_state(now) == BarState::Running {
            crate::shown::rate_text(w, progress.rate_unit, now).hash(&mut hasher);
        }
        (
            w.current.to_bits(),
            w.total.to_bits(),
            w.updated.as_unix().to_bits(),
        )
            .hash(&mut hasher);
    }
    for g in &input.rows.groups {
        (&g.first, look(g.state).severity, g.percent().to_bits()).hash(&mut hasher);
    }
    subtitle(input).hash(&mut hasher);
    for (t, percent) in job.burn_up(progress) {
        (t.to_bits(), percent.to_bits()).hash(&mut hasher);
    }
    format!("\"{:016x}\"", hasher.finish())
}

/// Swatches with each state's count and word, left to right, then the
/// slow workers when there are any. Workers not started are left out unless
/// there are some (jobs without a roster never have them).
fn legend<S: Surface>(s: &mut S, counts: &[usize], slow: usize) {
    let mut x = PAD;
    let y = PAD + 58;
    let w = s.size().0;
    let states = BarState::ALL.into_iter().zip(counts.iter().copied());
    let entries = states
        .filter(|&(state, count)| state != BarState::NotStarted || count > 0)
        .map(|(state, count)| (Paint::State(state), format!("{count} {}", state.words())))
        .chain((slow > 0).then(|| (Paint::Slow, format!("{slow} slow"))));
    for (paint, label) in entries {
        s.rect(x, y - 9, 10, 10, paint);
        s.text(((x + 14) as f32, y), &label, BODY, Paint::Text, (0, w));
        x += 14 + BODY.width(&label).ceil() as i32 + 16;
    }
}

fn draw_bars<S: Surface>(s: &mut S, bars: &Bars, now: Time) {
    let plot = &bars.plot;
    // Normal rows: a bar centred in its row. Compact rows: the whole row
    // less a one-pixel gap where there is room for one.
    let (inset, bar_h) = if plot.compact {
        let gap = i32::from(plot.row_height >= 3);
        (0, plot.row_height - gap)
    } else {
        ((ROW - BAR) / 2, BAR)
    };
    let span = plot.right - plot.left;
    // Tracks first, then the gridlines over them, then the fills.
    if plot.compact {
        s.rect(plot.left, plot.top, span, plot.height(), Paint::Track);
    } else {
        for row in 0..plot.rows as i32 {
            let y = plot.top + row * ROW + inset;
            s.rect(plot.left, y, span, BAR, Paint::Track);
        }
    }
    for tick in TICKS {
        s.rect(plot.x(tick), plot.top, 1, plot.height(), Paint::Grid);
    }
    let label_font = if plot.compact { SMALL } else { BODY };
    // In compact mode, a label every ~22 px.
    let label_every = (22 / plot.row_height).max(1) as usize;
    let ascent = label_font.ascent().round() as i32;
    for (row, (label, state, percent, one)) in bars.rows.bars().enumerate() {
        let y = plot.top + row as i32 * plot.row_height + inset;
        let look = look(state);
        let end = plot.x(percent).max(plot.left + look.least_width);
        // A row of one worker may be marked slow; a merged row shows states.
        let slow = one.is_some_and(|w| w.is_slow(bars.median_rate, now));
        let (fill, edge_paint) = if slow {
            (Paint::SlowFill, Paint::Slow)
        } else {
            (Paint::Fill(state), Paint::State(state))
        };
        // Bars with text stand for one worker each.
        let full = one.filter(|_| !plot.compact);
        if let Some(first) = full {
            let colon = if first.desc.is_empty() { "" } else { ": " };
            s.begin_bar(format_args!("{}{colon}{}", first.workid, first.desc));
            if look.track != style::TRACK {
                s.rect(plot.left, y, span, bar_h, Paint::StateTrack(state));
            }
            if look.outlined {
                let outline = Paint::State(state);
                s.rect(plot.left, y, span, 1, outline);
                s.rect(plot.left, y + bar_h - 1, span, 1, outline);
                s.rect(plot.left, y, 1, bar_h, outline);
                s.rect(plot.right - 1, y, 1, bar_h, outline);
            } else {
                if look.striped {
                    s.stripes(plot.left, y, end - plot.left, bar_h, state);
                } else {
                    s.rect(plot.left, y, end - plot.left, bar_h, fill);
                }
                // Underlined in full colour, as on the page: its end is
                // the leading edge, below the text rather than through it.
                s.rect(plot.left, y + bar_h - 2, end - plot.left, 2, edge_paint);
            }
        } else {
            // Thin bars in the state's full colour: a tint would vanish.
            s.rect(plot.left, y, end - plot.left, bar_h, edge_paint);
        }
        if !plot.compact || row % label_every == 0 {
            let label = label_font.fit(label, bars.label_room as f32);
            let lw = label_font.width(&label);
            let baseline = if plot.compact {
                y + ascent - 2
            } else {
                y + (bar_h + ascent) / 2 - 1
            };
            let x = (plot.left - 8) as f32 - lw;
            s.text(
                (x, baseline),
                &label,
                label_font,
                Paint::Text,
                (0, plot.left - 4),
            );
        }
        if let Some(first) = full {
            bar_text(s, bars, first, (state, slow), y);
            s.end_bar();
        }
    }
}

/// `current/total  percent  rate · time left  desc` inside the bar, cut to
/// fit, as on the page; `not started yet` for a worker that has not
/// reported. A slow worker's rate is bold. Every piece is in the text's
/// colour, which reads on the track and on every fill alike (see
/// `crate::look`), so none needs a box behind it.
fn bar_text<S: Surface>(
    s: &mut S,
    bars: &Bars,
    w: &Worker,
    (state, slow): (BarState, bool),
    y: i32,
) {
    let plot = &bars.plot;
    let baseline = y + (BAR + SMALL.ascent().round() as i32) / 2 - 1;
    let clip = (plot.left + 4, plot.right - 4);
    let mut x = (plot.left + 6) as f32;
    if state == BarState::NotStarted {
        s.text((x, baseline), "not started yet", SMALL, Paint::Muted, clip);
        return;
    }
    // Each piece, then the gap after it.
    let mut put = |s: &mut S, text: &str, font: Font, paint: Paint, gap: f32| {
        let width = font.width(text);
        s.text((x, baseline), text, font, paint, clip);
        x += width + gap;
        clip.1 as f32 - x
    };
    let counts = format!("{}/{}", qty(w.current), qty(w.total));
    put(s, &counts, SMALL_BOLD, Paint::Text, 7.0);
    let mut room = put(s, &pct(w.percent()), SMALL, Paint::Text, 8.0);
    let rate = if state == BarState::Running {
        crate::shown::rate_text(w, bars.rate_unit, bars.rows.now)
    } else {
        String::new()
    };
    if !rate.is_empty() {
        let font = if slow { SMALL_BOLD } else { SMALL };
        room = put(s, &rate, font, Paint::Text, 8.0);
    }
    if !w.desc.is_empty() && room > 12.0 {
        let desc = SMALL.fit(&w.desc, room);
        put(s, &desc, SMALL, Paint::Text, 0.0);
    }
}

/// Where the gridlines and axis labels go, in percent.
const TICKS: [f64; 5] = [0.0, 25.0, 50.0, 75.0, 100.0];

/// `0%`, `25%`, … under the gridlines.
fn axis<S: Surface>(s: &mut S, plot: &Plot) {
    let y = plot.top + plot.height() + 16;
    let w = s.size().0;
    for tick in TICKS {
        let label = format!("{tick:.0}%");
        let x = plot.x(tick) as f32 - SMALL.width(&label) / 2.0;
        s.text((x, y), &label, SMALL, Paint::Muted, (0, w));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Secs, Time};
    use crate::model::fixtures::{self, EDGE_RATES};
    use style::{BACKGROUND, TRACK};

    fn worker(i: usize, current: f64, ok: bool, updated: f64) -> Worker {
        Worker {
            workid: format!("w{i}"),
            current,
            total: 100.0,
            ok,
            desc: "a description long enough to need cutting when the chart is narrow".into(),
            first_seen: Time::unix(0.0),
            updated: Time::unix(updated),
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
            created: Time::unix(0.0),
            updated: Time::unix(1000.0),
            maxage: Secs(60.0),
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
        decode(&render_job(
            &job(vec![w]),
            Time::unix(1000.0),
            width,
            Format::Png,
        ))
    }

    #[test]
    fn an_expected_worker_is_an_empty_outline_and_a_slow_one_is_amber() {
        let mut workers: Vec<Worker> = (0..3).map(|i| worker(i, 50.0, true, 999.0)).collect();
        workers.push(Worker {
            rate: Some(0.001),
            ..worker(3, 50.0, true, 999.0)
        });
        workers.push(Worker {
            current: 0.0,
            total: 0.0,
            updates: 0,
            rate: None,
            ..worker(4, 0.0, true, 0.0)
        });
        let job = job(workers);
        let img = decode(&render_job(&job, Time::unix(1000.0), 800, Format::Png));
        let row_y = |row: i32| HEAD + row * ROW + (ROW - BAR) / 2;
        // Find the plot's left edge from the first bar's track.
        let y = row_y(0) as u32 + 1;
        let left = (0..800).find(|&x| *img.get_pixel(x, y) == fill_color(BarState::Running));
        let left = left.expect("a running fill");
        let right = 800 - PAD as u32 - 4;
        // Row 3 (slow): amber fill and edge where the others are green.
        let slow_fill = Paint::SlowFill.color();
        let y3 = row_y(3) as u32 + 1;
        assert_eq!(*img.get_pixel(left + 1, y3), slow_fill);
        // Its underline, whose end is the leading edge, is amber too.
        let under = y3 + BAR as u32 - 2;
        assert!((left..right).any(|x| *img.get_pixel(x, under) == Paint::Slow.color()));
        assert!(!(left..right).any(|x| *img.get_pixel(x, under) == state_color(BarState::Running)));
        // Row 4 (not started): an outline round a white inside, no fill.
        let outline = state_color(BarState::NotStarted);
        let top = row_y(4) as u32;
        assert_eq!(*img.get_pixel(left + 200, top), outline, "top edge");
        assert_eq!(*img.get_pixel(left, top + 5), outline, "left edge");
        assert_eq!(*img.get_pixel(right - 1, top + 5), outline, "right edge");
        assert_eq!(
            *img.get_pixel(right - 20, top + 5),
            BACKGROUND,
            "empty inside"
        );
        // The version tells a slow worker from one that is not.
        let mut brisk = job.clone();
        brisk.workers[3].rate = Some(0.05);
        assert_ne!(
            version(&job, Time::unix(1000.0), 800, Format::Png),
            version(&brisk, Time::unix(1000.0), 800, Format::Png)
        );
    }

    /// Issue 11: a rate below about 1e-306 drew `NaN/s · over a year left`.
    #[test]
    fn tiny_denormal_and_huge_rates_draw_no_nan_or_inf() {
        let workers = EDGE_RATES
            .iter()
            .enumerate()
            .map(|(i, &rate)| fixtures::running(&format!("w{i}"), 1.0, f64::MAX, rate))
            .collect();
        let svg = render_job(&fixtures::job(workers), Time::unix(11.0), 4000, Format::Svg)
            .expect("an SVG");
        let svg = String::from_utf8(svg).expect("UTF-8");
        assert!(svg.contains("3.60e-317/h"), "{svg}");
        for bad in ["NaN", "inf", "∞"] {
            assert!(!svg.contains(bad), "{bad} in {svg}");
        }
    }

    #[test]
    fn the_burn_up_follows_the_history_between_its_points() {
        let points = [(0.0, 0.0), (10.0, 100.0), (20.0, 100.0)];
        let heights = burn_up_heights(&points, 20, 10).expect("two points apart");
        assert_eq!(heights.len(), 20);
        assert_eq!(heights[0], 1, "0.25 s in: 2.5 %");
        assert_eq!(heights[4], 5, "4.5 s in: 45 %");
        assert!(heights[10..].iter().all(|&h| h == 10), "{heights:?}");
        assert!(heights.windows(2).all(|w| w[0] <= w[1]), "{heights:?}");
        assert_eq!(burn_up_heights(&[(5.0, 50.0)], 20, 10), None, "one point");
        assert_eq!(burn_up_heights(&[], 20, 10), None);
        // Drawn top right when there is room, not on a narrow chart.
        let mut job = job(vec![worker(0, 50.0, true, 999.0)]);
        job.history = vec![(0.0, 0.0), (500.0, 30.0)];
        let img = decode(&render_job(&job, Time::unix(1000.0), 800, Format::Png));
        let (x, bottom) = (800 - PAD - BURN_UP_WIDTH, PAD + 12 + BURN_UP_HEIGHT);
        let column: Vec<Rgb<u8>> = (PAD + 12..bottom)
            .map(|y| *img.get_pixel((x + BURN_UP_WIDTH - 2) as u32, y as u32))
            .collect();
        assert!(column.contains(&fill_color(BarState::Running)), "the area");
        assert!(column.contains(&TRACK), "above it, the track");
        let now = Time::unix(1000.0);
        let burn_up_at = |width| job_chart(&ChartInput::of_job(&job, now), now, width).burn_up;
        assert!(burn_up_at(500).is_none());
        assert!(burn_up_at(800).is_some());
    }

    #[test]
    fn a_stale_bar_is_striped() {
        // Silent for 900 s after reports every 100 s: stale at 1000.
        let img = render_one(worker(0, 80.0, true, 100.0), 800);
        // The bar's top row: above its text and its underline.
        let y = (HEAD + (ROW - BAR) / 2) as u32;
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
            decode(&render_job(
                &job(workers),
                Time::unix(1000.0),
                800,
                Format::Png,
            ))
            .height()
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
        let version = |now, width| version(&job, now, width, Format::Png);
        let (at_401, at_500) = (
            version(Time::unix(401.0), 800),
            version(Time::unix(500.0), 800),
        );
        assert_ne!(at_401, at_500, "the ETA text differs");
        assert_eq!(
            at_401,
            version(Time::unix(401.2), 800),
            "same text, same version"
        );
        assert_ne!(at_401, version(Time::unix(401.0), 801), "width");
    }

    #[test]
    fn a_row_standing_for_many_workers_shows_the_most_serious_state() {
        // Twice the rows the plot has: two workers a row.
        let mut rows = Rows::new(2 * MAX_ROWS, Time::unix(1000.0));
        rows.add(&worker(0, 50.0, true, 990.0));
        rows.add(&worker(1, 10.0, false, 990.0));
        rows.add(&worker(2, 20.0, true, 990.0));
        let bars: Vec<_> = rows
            .bars()
            .map(|(l, s, p, one)| (l.to_string(), s, p, one.is_some()))
            .collect();
        assert_eq!(
            bars,
            [
                ("w0".to_string(), BarState::Failed, 30.0, false),
                ("w2".to_string(), BarState::Running, 20.0, false)
            ]
        );
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

    /// The SVG of `job` at time 1000, parsed: it must be well-formed.
    fn svg_of(job: &Job, width: u32) -> String {
        let bytes = render_job(job, Time::unix(1000.0), width, Format::Svg).expect("an SVG");
        let text = String::from_utf8(bytes).expect("UTF-8");
        if let Err(e) = roxmltree::Document::parse(&text) {
            panic!("not well-formed XML ({e}):\n{text}");
        }
        text
    }

    /// The elements named `name` in `doc`.
    fn elements<'a>(doc: &'a roxmltree::Document, name: &str) -> Vec<roxmltree::Node<'a, 'a>> {
        doc.descendants().filter(|n| n.has_tag_name(name)).collect()
    }

    #[test]
    fn the_svg_parses_and_has_the_pngs_size() {
        let workers: Vec<Worker> = (0..7)
            .map(|i| {
                worker(
                    i,
                    (i * 15) as f64,
                    i != 3,
                    if i == 5 { 100.0 } else { 990.0 },
                )
            })
            .collect();
        let job = job(workers);
        for width in [300, 800, 1234] {
            let png = decode(&render_job(&job, Time::unix(1000.0), width, Format::Png));
            let text = svg_of(&job, width);
            let doc = roxmltree::Document::parse(&text).expect("parsed above");
            let root = doc.root_element();
            assert!(root.has_tag_name(("http://www.w3.org/2000/svg", "svg")));
            let (w, h) = (png.width().to_string(), png.height().to_string());
            assert_eq!(root.attribute("width"), Some(w.as_str()));
            assert_eq!(root.attribute("height"), Some(h.as_str()));
            assert_eq!(
                root.attribute("viewBox"),
                Some(format!("0 0 {w} {h}").as_str())
            );
            let family = root.attribute("font-family").unwrap_or_default();
            assert!(family.starts_with("DejaVu Sans"), "{family}");
        }
        let message =
            render_message("No job", "none", 520, Time::unix(1000.0), Format::Svg).expect("an SVG");
        let message = String::from_utf8(message).expect("UTF-8");
        let doc = roxmltree::Document::parse(&message).expect("well-formed");
        assert_eq!(doc.root_element().attribute("height"), Some("96"));
        assert_eq!(elements(&doc, "text").len(), 3, "title, message, footer");
    }

    #[test]
    fn hostile_text_is_escaped_and_the_svg_still_parses() {
        let evil = "<script>alert(1)</script>&\"'";
        let controls = "\u{0}\u{7}\u{1b}[31m\r\n\t\u{7f}\u{85}\u{FFFE}\u{FFFF}";
        let mut w = worker(0, 50.0, true, 990.0);
        w.workid = format!("{evil}{controls}");
        w.desc = format!("{controls}{evil}");
        let mut job = job(vec![w, worker(1, 10.0, false, 990.0)]);
        job.jobid = evil.to_string();
        job.desc = format!("{evil} ]]> <!-- {controls}");
        for width in [300, 4000] {
            let text = svg_of(&job, width);
            let doc = roxmltree::Document::parse(&text).expect("parsed above");
            assert!(elements(&doc, "script").is_empty(), "{text}");
            assert!(!text.contains("<script"), "{text}");
            // What the viewer reads is the client's text, with each control
            // character a space as in the PNG.
            let title = elements(&doc, "title")[0].text().unwrap_or_default();
            assert!(title.starts_with(evil), "{title:?}");
            let bar_title = elements(&doc, "title")[1].text().unwrap_or_default();
            assert!(bar_title.starts_with(evil), "{bar_title:?}");
            let replaced = "&\"'   [31m     \u{FFFD}\u{FFFD}";
            assert!(bar_title.contains(replaced), "{bar_title:?}");
        }
        // Nothing the client sent reaches the document unescaped, even in a
        // chart of one.
        let text = svg_of(&job, 800);
        for c in ['\u{0}', '\u{7}', '\u{1b}', '\u{FFFE}', '\u{FFFF}'] {
            assert!(!text.contains(c), "{c:?} in the SVG");
        }
    }

    #[test]
    fn normal_mode_draws_one_bar_per_worker_and_compact_mode_stays_small() {
        let workers = |n: usize| {
            (0..n)
                .map(|i| worker(i, (i % 100) as f64, i % 7 != 0, 990.0))
                .collect::<Vec<_>>()
        };
        for n in [1, 10, 193] {
            let text = svg_of(&job(workers(n)), 800);
            let doc = roxmltree::Document::parse(&text).expect("parsed above");
            let bars = elements(&doc, "g")
                .into_iter()
                .filter(|g| g.attribute("class") == Some("bar"))
                .count();
            assert_eq!(bars, n, "bars for {n} workers");
        }
        for n in [194, 3000, 10_000, 50_000] {
            let text = svg_of(&job(workers(n)), 800);
            let doc = roxmltree::Document::parse(&text).expect("parsed above");
            let rects = elements(&doc, "rect").len();
            // One rect per pixel row at most, besides the background,
            // track, gridlines and legend.
            assert!(rects <= 4000 + 20, "{n} workers: {rects} rects");
            assert!(text.len() < 400_000, "{n} workers: {} bytes", text.len());
            assert!(
                elements(&doc, "pattern").is_empty(),
                "no stripes in compact mode"
            );
        }
    }

    #[test]
    fn a_stale_bar_in_the_svg_is_filled_with_the_stripe_pattern() {
        // Silent for 900 s after reports every 100 s: stale at 1000.
        let text = svg_of(&job(vec![worker(0, 80.0, true, 100.0)]), 800);
        let doc = roxmltree::Document::parse(&text).expect("parsed above");
        let patterns = elements(&doc, "pattern");
        assert_eq!(patterns.len(), 1);
        let id = patterns[0].attribute("id").unwrap_or_default();
        let fill = format!("url(#{id})");
        let striped = elements(&doc, "rect")
            .into_iter()
            .filter(|r| r.attribute("fill") == Some(fill.as_str()))
            .count();
        assert_eq!(striped, 1, "{text}");
    }

    #[test]
    fn the_png_and_the_svg_of_one_job_have_different_versions() {
        let job = job(vec![worker(0, 40.0, true, 400.0)]);
        assert_ne!(
            version(&job, Time::unix(401.0), 800, Format::Png),
            version(&job, Time::unix(401.0), 800, Format::Svg)
        );
    }
}
