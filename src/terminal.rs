//! The job as plain text for a terminal (`show.txt`): `curl` it, or
//! `watch -n 5 curl -s …` it, with nothing to install.
//!
//! Every word about a worker and the job comes from `shown` (and the
//! icons and colours from `look`); this module only lays them out in
//! lines of at most `cols` cells, with bars drawn in Unicode eighth
//! blocks. It writes no cursor movement and no trailing spaces, so `watch`
//! redraws it cleanly.
//!
//! Nothing a client sent reaches the terminal as a control: every
//! character of a jobid, workid or desc that is a control (C0, DEL, C1)
//! or that [`params::forbidden_in_id`] names (bidi controls, invisible
//! and format characters, noncharacters) is written as `?`, so a desc
//! holding `ESC ]` cannot retitle the window or clear the screen. Colour
//! (24-bit ANSI SGR, each state's colour from `look`) is written only when
//! asked for, and each coloured piece is reset right after itself.
//!
//! It knows neither HTTP nor SQL: the route hands it the job, its
//! progress and the workers to list.

use std::fmt::Write;

use crate::clock::Time;
use crate::format::span;
use crate::look;
use crate::model::{BarState, HISTOGRAM_STEP, Job, JobProgress, Pick, Worker};
use crate::params::{TextPage, forbidden_in_id};
use crate::shown::{self, JobText, WorkerText};

/// The partly filled cells of a bar, one to seven eighths.
const EIGHTHS: [char; 7] = ['▏', '▎', '▍', '▌', '▋', '▊', '▉'];

/// Written in place of a character that must not reach the terminal.
const PLACEHOLDER: char = '?';

/// Written where a line is cut to fit.
const CUT: char = '…';

/// Lines of text, each fitted to the columns, coloured or not.
pub struct Screen {
    out: String,
    cols: usize,
    color: bool,
}

/// A piece of a line, coloured as a state when the screen is coloured.
type Piece<'a> = (&'a str, Option<Pick>);

impl Screen {
    /// An empty screen `cols` cells wide, coloured when `color`.
    pub fn new(cols: usize, color: bool) -> Screen {
        Screen {
            out: String::new(),
            cols,
            color,
        }
    }

    /// The text written.
    pub fn finish(self) -> String {
        self.out
    }

    /// Cells a worker's id takes at the start of its line.
    fn id_cells(&self) -> usize {
        (self.cols / 6).clamp(8, 24)
    }

    /// Cells inside a bar.
    fn bar_cells(&self) -> usize {
        (self.cols / 5).clamp(8, 40)
    }

    /// One line of `pieces`, made safe, cut to the columns (ending in `…`
    /// where cut) and without trailing spaces.
    fn line(&mut self, pieces: &[Piece]) {
        let mut kept: Vec<(String, Option<Pick>)> = Vec::new();
        let mut left = self.cols;
        for &(text, pick) in pieces {
            let (fitted, cut) = fit(text, left);
            left -= width(&fitted);
            if cut && fitted.is_empty() {
                // The pieces before filled the line: the last of them
                // gives its last character to the `…`.
                if let Some((before, _)) = kept.iter_mut().rev().find(|(t, _)| !t.is_empty()) {
                    before.pop();
                    before.push(CUT);
                }
                break;
            }
            kept.push((fitted, pick));
            if cut {
                break;
            }
        }
        while let Some((text, _)) = kept.last_mut() {
            let trimmed = text.trim_end_matches(' ').len();
            text.truncate(trimmed);
            if !text.is_empty() {
                break;
            }
            kept.pop();
        }
        for (text, pick) in kept {
            match pick.filter(|_| self.color) {
                Some(pick) => {
                    let [r, g, b] = look::of(pick).light;
                    let _ = write!(self.out, "\x1b[38;2;{r};{g};{b}m{text}\x1b[0m");
                }
                None => self.out.push_str(&text),
            }
        }
        self.out.push('\n');
    }

    /// An empty line.
    pub fn gap(&mut self) {
        self.out.push('\n');
    }

    /// The job's title and summary: its id and expiry, the overall percent
    /// and bar, the workers by state, the last report and the ETA.
    pub fn summary(&mut self, job: &Job, workers: u64, progress: &JobProgress, now: Time) {
        // No burn-up is drawn, so none is needed for its start.
        let text = JobText::of(job, progress, &[], now);
        self.line(&[(job.title(), None)]);
        let about = format!(" · {workers} workers · {}", text.expires);
        self.line(&[("job ", None), (&job.jobid, None), (&about, None)]);
        let overall = format!("{} ", bar(progress.percent, self.bar_cells()));
        self.line(&[(&overall, None), (&text.percent, None)]);
        let mut counts: Vec<(String, Pick)> = Vec::new();
        for pick in Pick::ALL {
            let n = progress.count_of(pick);
            // As on the page: not started and slow only when there are some.
            if n > 0 || !matches!(pick, Pick::State(BarState::NotStarted) | Pick::Slow) {
                counts.push((
                    format!("{} {n} {}", look::of(pick).icon, pick.words()),
                    pick,
                ));
            }
        }
        let mut pieces: Vec<Piece> = Vec::new();
        for (i, (words, pick)) in counts.iter().enumerate() {
            if i > 0 {
                pieces.push((" · ", None));
            }
            pieces.push((words, Some(*pick)));
        }
        self.line(&pieces);
        let mut when = match progress.last_report {
            Some(t) => format!("last report {} ago", span(now - t)),
            None => "no report yet".to_string(),
        };
        if let Some(eta) = &text.eta {
            let _ = write!(when, " · estimated to finish {eta}");
        }
        if let Some(completed) = &text.completed {
            let _ = write!(when, " · {completed}");
        }
        self.line(&[(&when, None)]);
    }

    /// One line per worker of `workers`, in the order given.
    pub fn workers<'w>(
        &mut self,
        workers: impl IntoIterator<Item = &'w Worker>,
        progress: &JobProgress,
        now: Time,
    ) {
        for w in workers {
            self.worker(w, progress, now);
        }
    }

    /// A worker's line: its id, bar, counts, percent, state, rate and time
    /// left, and desc.
    fn worker(&mut self, w: &Worker, progress: &JobProgress, now: Time) {
        let text = WorkerText::of(w, progress, now);
        let pick = if w.is_slow(progress.median_rate, now) {
            Pick::Slow
        } else {
            Pick::State(text.state)
        };
        let id = pad(&w.workid, self.id_cells());
        let drawn = if text.state == BarState::NotStarted {
            0.0
        } else {
            w.percent()
        };
        let bar = format!(" {} ", bar(drawn, self.bar_cells()));
        let mut figures = text.counts;
        if !text.percent.is_empty() {
            let _ = write!(figures, " {}", text.percent);
        }
        figures.push(' ');
        let mut after = String::new();
        if !text.rate.is_empty() {
            let _ = write!(after, " · {}", text.rate);
        }
        if !w.desc.is_empty() {
            after.push_str(" · ");
        }
        self.line(&[
            (&id, None),
            (&bar, Some(pick)),
            (&figures, None),
            (&text.label, Some(pick)),
            (&after, None),
            (&w.desc, None),
        ]);
    }

    /// The workers by percent done: a line per step of the histogram, its
    /// bar scaled as the big page's column is.
    pub fn histogram(&mut self, progress: &JobProgress) {
        self.gap();
        self.line(&[(
            &format!("Workers by percent done, in steps of {HISTOGRAM_STEP} %"),
            None,
        )]);
        for column in shown::histogram(progress) {
            let filled: f64 = column.heights.iter().sum();
            let bar = format!("{} ", bar(filled.min(100.0), self.bar_cells()));
            let cut = if column.cut { " (cut to fit)" } else { "" };
            self.line(&[(&bar, None), (&column.title, None), (cut, None)]);
        }
    }

    /// A heading over a list of workers, after an empty line.
    pub fn heading(&mut self, words: &str) {
        self.gap();
        self.line(&[(words, None)]);
    }

    /// One page of the workers in some states (`state=`, `offset=`): a
    /// heading naming them, the `listed` ones, and a last line saying
    /// which of the `matching` ones these are and where the next page
    /// starts.
    pub fn page(
        &mut self,
        page: &TextPage,
        matching: u64,
        listed: &[Worker],
        progress: &JobProgress,
        now: Time,
    ) {
        let words: Vec<&str> = page.states.iter().map(|pick| pick.words()).collect();
        // "failed or stale ", or nothing for every worker.
        let which = match words.join(" or ") {
            words if words.is_empty() => words,
            words => words + " ",
        };
        let mut heading = format!("{which}workers, in order of workid");
        if which.is_empty() {
            heading.insert_str(0, "all ");
        }
        if let Some(first) = heading.get_mut(..1) {
            first.make_ascii_uppercase();
        }
        self.heading(&heading);
        // "12 failed", or "12" for every worker.
        let of = |n: u64| format!("{n} {which}").trim_end().to_string();
        if matching == 0 {
            self.note(&format!("no {which}workers"));
            return;
        }
        if listed.is_empty() {
            self.note(&format!(
                "no {which}workers from offset={} ({matching} in all)",
                page.offset
            ));
            return;
        }
        self.workers(listed, progress, now);
        let last = page.offset + listed.len() as u64;
        let mut end = format!("workers {}–{last} of {}", page.offset + 1, of(matching));
        if last < matching {
            let _ = write!(end, "; offset={last} for more");
        }
        self.gap();
        self.note(&end);
    }

    /// A note on its own line.
    pub fn note(&mut self, words: &str) {
        self.line(&[(words, None)]);
    }
}

/// A job small enough to list whole: its summary and every worker.
pub fn small_job(mut screen: Screen, job: &Job, now: Time) -> String {
    let progress = job.progress(now);
    screen.summary(job, job.workers.len() as u64, &progress, now);
    screen.gap();
    screen.workers(&job.workers, &progress, now);
    screen.finish()
}

/// A bar of `cells` cells filled to `percent`, in eighths, between
/// `▕` and `▏`.
fn bar(percent: f64, cells: usize) -> String {
    let eighths = (percent.clamp(0.0, 100.0) / 100.0 * (cells * 8) as f64).round() as usize;
    let mut out = String::with_capacity(cells * 3 + 6);
    out.push('▕');
    for cell in 0..cells {
        let filled = eighths.saturating_sub(cell * 8).min(8);
        out.push(match filled {
            0 => ' ',
            8 => '█',
            part => EIGHTHS[part - 1],
        });
    }
    out.push('▏');
    out
}

/// `text` made safe, cut to `cells` (ending in `…` where cut) and padded
/// with spaces to fill them.
fn pad(text: &str, cells: usize) -> String {
    let (mut fitted, _) = fit(text, cells);
    let room = cells - width(&fitted);
    fitted.extend(std::iter::repeat_n(' ', room));
    fitted
}

/// `text` made safe and cut to at most `cells` cells: whether it was cut,
/// in which case it ends in `…`.
fn fit(text: &str, cells: usize) -> (String, bool) {
    let mut out = String::with_capacity(text.len());
    let mut used = 0;
    let mut chars = text.chars().map(safe);
    for c in chars.by_ref() {
        let w = cell_width(c);
        if used + w > cells {
            // Room for the `…`: drop what it needs.
            while used + 1 > cells {
                match out.pop() {
                    Some(dropped) => used -= cell_width(dropped),
                    None => return (out, true),
                }
            }
            out.push(CUT);
            return (out, true);
        }
        used += w;
        out.push(c);
    }
    // A text that fills the cells exactly is whole only if nothing is left.
    (out, chars.next().is_some())
}

/// The cells `text` (already safe) takes.
fn width(text: &str) -> usize {
    text.chars().map(cell_width).sum()
}

/// `c`, or [`PLACEHOLDER`] for a character that must not reach a
/// terminal (see the module's notes).
pub fn safe(c: char) -> char {
    if c.is_control() || forbidden_in_id(c).is_some() {
        PLACEHOLDER
    } else {
        c
    }
}

/// The cells a safe character takes in a terminal: 0 for a combining mark,
/// 2 for the wide characters of East Asian scripts and most emoji, else 1.
/// The common ranges, not all of Unicode's East_Asian_Width table: enough
/// that CJK ids and descs stay within the columns.
pub fn cell_width(c: char) -> usize {
    match u32::from(c) {
        0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F => {
            0
        }
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x1F300..=0x1F64F
        | 0x1F900..=0x1F9FF
        | 0x20000..=0x3FFFD => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_fill_in_eighths() {
        assert_eq!(bar(0.0, 4), "▕    ▏");
        assert_eq!(bar(100.0, 4), "▕████▏");
        assert_eq!(bar(50.0, 4), "▕██  ▏");
        // 1/8 of 4 cells is 1/32: 3.125 %.
        assert_eq!(bar(3.125, 4), "▕▏   ▏");
        assert_eq!(bar(40.625, 4), "▕█▋  ▏");
        assert_eq!(bar(250.0, 2), "▕██▏");
        assert_eq!(bar(-1.0, 2), "▕  ▏");
    }

    #[test]
    fn controls_become_placeholders() {
        for hostile in [
            "a\u{1b}]0;owned\u{7}b",
            "\u{1b}[2J",
            "\0\r\n\t\u{7f}\u{85}\u{9b}",
            "\u{202E}abc",
            "\u{2066}\u{200B}\u{FEFF}",
        ] {
            let (out, _) = fit(hostile, 100);
            assert!(
                out.chars()
                    .all(|c| !c.is_control() && forbidden_in_id(c).is_none()),
                "{out:?}"
            );
            assert_eq!(out.chars().count(), hostile.chars().count(), "{out:?}");
        }
        assert_eq!(fit("a\u{1b}]b", 10).0, "a?]b");
    }

    #[test]
    fn text_is_cut_by_cells() {
        assert_eq!(fit("abcdef", 6), ("abcdef".to_string(), false));
        assert_eq!(fit("abcdefg", 6), ("abcde…".to_string(), true));
        // Wide characters take two cells each.
        assert_eq!(width("進捗表示"), 8);
        assert_eq!(fit("進捗表示", 6), ("進捗…".to_string(), true));
        assert_eq!(fit("進捗表示", 8), ("進捗表示".to_string(), false));
        assert_eq!(fit("e\u{301}", 1), ("e\u{301}".to_string(), false));
        assert_eq!(pad("ab", 4), "ab  ");
        assert_eq!(pad("進捗表示", 5), "進捗…");
        assert_eq!(width(&pad("進捗表示", 5)), 5);
    }

    #[test]
    fn lines_have_no_trailing_spaces_and_colour_only_when_asked() {
        let mut plain = Screen::new(40, false);
        plain.line(&[("a  ", None), ("   ", Some(Pick::Slow))]);
        plain.line(&[(&"x".repeat(50), Some(Pick::Slow))]);
        // A line filled by its first pieces shows that more was cut.
        plain.line(&[(&"y".repeat(40), None), ("", None), ("z", None)]);
        plain.line(&[(&"y".repeat(40), None), ("", None)]);
        assert_eq!(
            plain.finish(),
            format!(
                "a\n{x}…\n{y}…\n{y}y\n",
                x = "x".repeat(39),
                y = "y".repeat(39)
            )
        );
        let mut coloured = Screen::new(40, true);
        coloured.line(&[("a ", None), ("slow", Some(Pick::Slow))]);
        assert_eq!(coloured.finish(), "a \u{1b}[38;2;194;120;3mslow\u{1b}[0m\n");
    }
}
