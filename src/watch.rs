//! `progressd watch JOBID`: a job live in a terminal, full screen,
//! redrawn in place, from any progressd, local or remote.
//!
//! The server lays out the text (`show.txt`, one page of the workers in
//! the states picked, fitted to the terminal's width and height); this
//! module only fetches it every interval and on each key or resize, and
//! draws it between a header line and a footer of keys (or of the last
//! error, when the server cannot be reached or answers one: the last
//! screen stays and it keeps trying).
//!
//! What the server sends is not trusted: before a line is printed, every
//! control character and every escape sequence but colour (`ESC [` digits
//! and `;` then `m`) becomes `?`, each line is cut to the terminal's width
//! and no more lines are printed than the screen has, so a hostile server
//! can neither move the cursor, retitle the window nor clear the screen.
//!
//! The terminal is put back (raw mode off, the normal screen, the cursor
//! shown) on every way out: `q`, Esc, Ctrl-C, SIGTERM, SIGINT, SIGQUIT or
//! SIGHUP, an error, and a panic (a hook puts it back before the message
//! is printed). A terminal that hangs up ends it too, rather than leaving
//! it spinning (see [`stop_on_signals`]).
//!
//! It knows neither the store nor the routes: only HTTP and the text.

use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use crossterm::style::{Attribute, Print, SetAttribute};
use crossterm::terminal::{self, Clear, ClearType};
use crossterm::{cursor, execute, queue};

use crate::client::{self, GetError};
use crate::config::WatchConfig;
use crate::model::{BarState, Pick};
use crate::terminal::{cell_width, safe};

/// How long a request to the server may take in all.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The most of an answer read: a screenful is a few KiB.
const MAX_ANSWER_BYTES: u64 = 1 << 20;

/// Longest wait for a key before looking at the signals again.
const KEY_WAIT: Duration = Duration::from_millis(200);

/// Lines of a page of `show.txt` that are not workers: the summary (5),
/// the gap and heading over the workers, the gap and line after them.
const PAGE_OVERHEAD_LINES: u16 = 9;

/// Lines watch draws itself: the header and the footer.
const OWN_LINES: u16 = 2;

/// Written in place of what must not reach the terminal.
const PLACEHOLDER: char = '?';

/// Resets colour: written after every line that held any.
const RESET: &str = "\x1b[0m";

/// The keys that pick which workers are listed, and what each picks
/// (every worker when none), in the order the footer shows them.
const PICK_KEYS: [(char, &[Pick]); 8] = [
    ('a', &[]),
    ('f', &[Pick::State(BarState::Failed)]),
    ('s', &[Pick::State(BarState::Stale)]),
    ('r', &[Pick::State(BarState::Running)]),
    ('d', &[Pick::State(BarState::Done)]),
    ('n', &[Pick::State(BarState::NotStarted)]),
    ('w', &[Pick::Slow]),
    (
        'p',
        &[
            Pick::State(BarState::Failed),
            Pick::State(BarState::Stale),
            Pick::Slow,
        ],
    ),
];

/// Why `watch` stopped other than by a key.
#[derive(Debug)]
pub enum WatchError {
    /// Standard output is not a terminal: there is no screen to draw on.
    NotATerminal {
        /// The `show.txt` address that gives the same text to a pipe.
        text_url: String,
    },
    /// The terminal could not be set up, read or written.
    Terminal(io::Error),
}

impl WatchError {
    /// The process's exit code for it: 2 for a misuse, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            WatchError::NotATerminal { .. } => 2,
            WatchError::Terminal(_) => 1,
        }
    }
}

impl fmt::Display for WatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WatchError::NotATerminal { text_url } => write!(
                f,
                "standard output is not a terminal; for the job as text, use: curl -s '{text_url}'"
            ),
            WatchError::Terminal(e) => write!(f, "terminal: {e}"),
        }
    }
}

impl std::error::Error for WatchError {}

impl From<io::Error> for WatchError {
    fn from(e: io::Error) -> WatchError {
        WatchError::Terminal(e)
    }
}

/// Watches the job until a key or a signal says to stop.
pub fn run(config: &WatchConfig) -> Result<(), WatchError> {
    if !io::stdout().is_terminal() {
        return Err(WatchError::NotATerminal {
            text_url: text_url(config, None, 0, None),
        });
    }
    let stop = Arc::new(AtomicBool::new(false));
    stop_on_signals(Arc::clone(&stop))?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(REQUEST_TIMEOUT))
        .user_agent(concat!("progressd-watch/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let _terminal = TerminalGuard::enter()?;
    let mut view = View::default();
    let mut next_fetch = Instant::now();
    let mut size = terminal::size()?;
    while !stop.load(Ordering::Relaxed) {
        if Instant::now() >= next_fetch {
            view.fetch(&agent, config, size);
            draw(&mut io::stdout(), config, &view, size)?;
            next_fetch = Instant::now() + config.interval;
        }
        let wait = next_fetch
            .saturating_duration_since(Instant::now())
            .min(KEY_WAIT);
        if !event::poll(wait)? {
            continue;
        }
        // Every event waiting, so a held key fetches once, not once per
        // repeat.
        let mut changed = false;
        while event::poll(Duration::ZERO)? {
            match event::read()? {
                Event::Key(key) if key.kind != KeyEventKind::Release => match view.key(key, size) {
                    KeyAction::Quit => return Ok(()),
                    KeyAction::Changed => changed = true,
                    KeyAction::Nothing => {}
                },
                Event::Resize(cols, rows) => {
                    size = (cols, rows);
                    changed = true;
                }
                _ => {}
            }
        }
        if changed {
            next_fetch = Instant::now();
        }
    }
    Ok(())
}

/// Sets `stop` on SIGTERM, SIGHUP, SIGINT or SIGQUIT, for the main loop to
/// see within [`KEY_WAIT`] and stop cleanly; and if it has not stopped
/// [`STOP_WITHIN`] later, puts the terminal back and ends the process.
/// That happens when the terminal hangs up (its window closed, the ssh
/// session gone): crossterm then reads its end of file again and again
/// without returning, so the main loop never looks at `stop` and the
/// process would spin on a CPU forever.
fn stop_on_signals(stop: Arc<AtomicBool>) -> io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGHUP, SIGINT, SIGQUIT])?;
    std::thread::Builder::new()
        .name("watch-signals".to_string())
        .spawn(move || {
            if signals.forever().next().is_some() {
                stop.store(true, Ordering::Relaxed);
                std::thread::sleep(STOP_WITHIN);
                restore_terminal();
                std::process::exit(0);
            }
        })?;
    Ok(())
}

/// How long the main loop has to stop by itself after a signal.
const STOP_WITHIN: Duration = Duration::from_secs(1);

/// What a key did.
#[derive(Debug, PartialEq, Eq)]
enum KeyAction {
    /// Stop watching.
    Quit,
    /// The workers listed changed: fetch again.
    Changed,
    /// Nothing.
    Nothing,
}

/// What is on the screen, and what to ask for next.
#[derive(Debug, Default)]
struct View {
    /// Which of [`PICK_KEYS`] picks the workers listed.
    pick: usize,
    /// How many of them are skipped (scrolled past).
    offset: u64,
    /// How many workers the pick matches, as the last answer said.
    matching: Option<u64>,
    /// The last text the server answered, as it sent it.
    text: Option<String>,
    /// When it was answered, `HH:MM:SS` UTC.
    updated: Option<String>,
    /// The last fetch's error, one line; none once a fetch succeeds.
    error: Option<String>,
}

impl View {
    /// The states picked, as the keys name them.
    fn states(&self) -> &'static [Pick] {
        PICK_KEYS.get(self.pick).map_or(&[], |(_, states)| states)
    }

    /// Fetches the text for a terminal of `size`, keeping the last one
    /// (and saying why) when that fails.
    fn fetch(&mut self, agent: &ureq::Agent, config: &WatchConfig, size: (u16, u16)) {
        let limit = workers_fitting(size.1);
        let url = text_url(
            config,
            Some(size.0),
            self.offset,
            Some((self.states(), limit)),
        );
        match fetch_text(agent, &url, config.token.as_deref()) {
            Ok(text) => {
                self.matching = matching_of(&text);
                self.text = Some(text);
                self.updated = Some(clock_time(SystemTime::now()));
                self.error = None;
            }
            Err(message) => self.error = Some(message),
        }
    }

    /// Acts on a key pressed in a terminal of `size`.
    fn key(&mut self, key: KeyEvent, size: (u16, u16)) -> KeyAction {
        let page = workers_fitting(size.1);
        // The last offset that still fills a page, when the count is known.
        let last = self.matching.map(|n| n.saturating_sub(page));
        let scrolled = |offset: u64| match last {
            Some(last) => offset.min(last),
            None => offset,
        };
        let offset = match key.code {
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                return KeyAction::Quit;
            }
            KeyCode::Char('q') | KeyCode::Esc => return KeyAction::Quit,
            KeyCode::Down | KeyCode::Char('j') => scrolled(self.offset + 1),
            KeyCode::Up | KeyCode::Char('k') => self.offset.saturating_sub(1),
            KeyCode::PageDown | KeyCode::Char(' ') => scrolled(self.offset + page),
            KeyCode::PageUp => self.offset.saturating_sub(page),
            KeyCode::Home | KeyCode::Char('g') => 0,
            KeyCode::End | KeyCode::Char('G') => match last {
                Some(last) => last,
                None => return KeyAction::Nothing,
            },
            KeyCode::Char(c) => match PICK_KEYS.iter().position(|(k, _)| *k == c) {
                Some(pick) => {
                    self.pick = pick;
                    self.matching = None;
                    0
                }
                None => return KeyAction::Nothing,
            },
            _ => return KeyAction::Nothing,
        };
        self.offset = offset;
        KeyAction::Changed
    }

    /// The pick's words for the header: `all`, `failed`, …
    fn pick_words(&self) -> String {
        match self.states() {
            [] => "all".to_string(),
            states => {
                let words: Vec<&str> = states.iter().map(|pick| pick.words()).collect();
                words.join(", ")
            }
        }
    }
}

/// Workers a page lists in a terminal of `rows` rows: what is left of it
/// after watch's own lines and the page's own, at least one.
fn workers_fitting(rows: u16) -> u64 {
    u64::from(rows.saturating_sub(OWN_LINES + PAGE_OVERHEAD_LINES).max(1))
}

/// The `show.txt` address for the job: `cols` wide when given, from
/// `offset` on, of the workers in `page`'s states, `limit` of them, in
/// colour; without `page`, the plain text a pipe would want.
fn text_url(
    config: &WatchConfig,
    cols: Option<u16>,
    offset: u64,
    page: Option<(&[Pick], u64)>,
) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("jobid", &config.jobid);
    if let Some(cols) = cols {
        let (least, most) = crate::params::TEXT_COLS_RANGE;
        query.append_pair("cols", &usize::from(cols).clamp(least, most).to_string());
    }
    if let Some((states, limit)) = page {
        query.append_pair("limit", &limit.to_string());
        query.append_pair("color", "1");
        if !states.is_empty() {
            let names: Vec<&str> = states.iter().map(|pick| pick.key()).collect();
            query.append_pair("state", &names.join(","));
        }
        // Always a page (offset=0 too): the workers in order of workid,
        // which scrolling moves through, and no histogram.
        query.append_pair("offset", &offset.to_string());
    }
    format!("{}/progress/show.txt?{}", config.url, query.finish())
}

/// The text at `url`, or the one line that says why not.
fn fetch_text(agent: &ureq::Agent, url: &str, token: Option<&str>) -> Result<String, String> {
    client::get_text(agent, url, token, MAX_ANSWER_BYTES).map_err(|e| match e {
        GetError::Unreachable(e) => {
            format!("cannot reach {}: {}", server_of(url), client::reason(&e))
        }
        GetError::Unreadable(e) => format!("reading the answer of {}: {e}", server_of(url)),
        // The server's one line says why (`no job with jobid "x"`).
        GetError::Refused { status, why } => format!("{status} {why}"),
    })
}

/// The server part of `url`: what to name when it cannot be reached.
fn server_of(url: &str) -> &str {
    url.split("/progress/").next().unwrap_or(url)
}

/// How many workers the pick matches, from a page's last line
/// (`workers 1–20 of 250 failed; …` or `no failed workers`): for End and
/// for not scrolling past the last; none when the text does not say.
fn matching_of(text: &str) -> Option<u64> {
    let last = text.lines().next_back()?;
    if last.starts_with("no ") && !last.contains(" from offset=") {
        return Some(0);
    }
    if let Some(all) = last.split(" (").nth(1) {
        return all.split(' ').next()?.parse().ok();
    }
    let after = last.strip_prefix("workers ")?.split(" of ").nth(1)?;
    after
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// `t` as `HH:MM:SS UTC`.
fn clock_time(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let of_day = secs % 86_400;
    format!(
        "{:02}:{:02}:{:02} UTC",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// Draws the view on a screen of `size`: the header, the text (or what
/// stands in for it) and the footer, each line cleared to its end.
fn draw(
    out: &mut impl Write,
    config: &WatchConfig,
    view: &View,
    (cols, rows): (u16, u16),
) -> io::Result<()> {
    let width = usize::from(cols);
    let mut header = format!(
        "progressd watch · {} · {} · {}",
        config.jobid,
        config.url,
        view.pick_words()
    );
    if let Some(updated) = &view.updated {
        header.push_str(&format!(" · updated {updated}"));
    }
    let footer = match &view.error {
        Some(error) => format!("! {error} (retrying every {:?})", config.interval),
        None => keys_line(),
    };
    let body_rows = usize::from(rows.saturating_sub(OWN_LINES));
    let waiting = match &view.error {
        Some(_) => "",
        None => "asking the server…",
    };
    let text = view.text.as_deref().unwrap_or(waiting);
    if rows > 0 {
        draw_line(out, 0, &header, width, true)?;
    }
    let mut row: u16 = 1;
    for text_line in text.lines().take(body_rows) {
        draw_line(out, row, text_line, width, false)?;
        row += 1;
    }
    queue!(
        out,
        cursor::MoveTo(0, row),
        Clear(ClearType::FromCursorDown)
    )?;
    if rows > 1 {
        draw_line(out, rows - 1, &footer, width, view.error.is_some())?;
    }
    out.flush()
}

/// The footer's list of keys; quitting first, since a narrow terminal
/// cuts the end.
fn keys_line() -> String {
    let picks: Vec<String> = PICK_KEYS
        .iter()
        .map(|(key, states)| match states {
            [] => format!("{key} all"),
            [one] => format!("{key} {}", one.words()),
            _ => format!("{key} problems"),
        })
        .collect();
    format!("q quit · {} · ↑↓ PgUp PgDn Home End", picks.join(" "))
}

/// `text` on row `row`, made safe and cut to `width`, in inverse video
/// when `inverse`, the rest of the row cleared.
fn draw_line(
    out: &mut impl Write,
    row: u16,
    text: &str,
    width: usize,
    inverse: bool,
) -> io::Result<()> {
    queue!(out, cursor::MoveTo(0, row))?;
    if inverse {
        queue!(out, SetAttribute(Attribute::Reverse))?;
    }
    queue!(
        out,
        Print(sanitized_line(text, width)),
        SetAttribute(Attribute::Reset),
        Clear(ClearType::UntilNewLine)
    )
}

/// `line` made safe for a terminal and cut to `cols` cells: colour
/// (`ESC [` digits and `;` then `m`) is kept and reset at the end; every
/// other escape or control character, and every character ids may not
/// hold (bidi controls, invisible characters), becomes `?`.
pub fn sanitized_line(line: &str, cols: usize) -> String {
    let mut out = String::with_capacity(line.len());
    let (mut used, mut coloured) = (0, false);
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        if let Some(sgr) = colour_at(rest) {
            out.push_str(sgr);
            coloured = true;
            rest = &rest[sgr.len()..];
            continue;
        }
        rest = &rest[c.len_utf8()..];
        let shown = if c == '\x1b' { PLACEHOLDER } else { safe(c) };
        let cells = cell_width(shown);
        if used + cells > cols {
            break;
        }
        used += cells;
        out.push(shown);
    }
    if coloured {
        out.push_str(RESET);
    }
    out
}

/// The colour sequence `text` starts with (`ESC [`, digits and `;`,
/// `m`), if it does.
fn colour_at(text: &str) -> Option<&str> {
    let params = text.strip_prefix("\x1b[")?;
    let end = params.find(|c: char| !(c.is_ascii_digit() || c == ';'))?;
    params[end..].starts_with('m').then(|| &text[..2 + end + 1])
}

/// Raw mode and the alternate screen while it lives; the terminal as it
/// was once it is dropped, or when the program panics.
struct TerminalGuard;

impl TerminalGuard {
    /// Enters raw mode and the alternate screen, hides the cursor, and
    /// makes a panic put them back before its message is printed.
    fn enter() -> io::Result<TerminalGuard> {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            previous(info);
        }));
        terminal::enable_raw_mode()?;
        // From here on, the guard's drop puts back whatever was done.
        let guard = TerminalGuard;
        execute!(io::stdout(), terminal::EnterAlternateScreen, cursor::Hide)?;
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// Leaves the alternate screen and raw mode and shows the cursor; does no
/// harm when they are not on. Errors are ignored: there is nothing left
/// to tell them on.
fn restore_terminal() {
    let _ = execute!(
        io::stdout(),
        SetAttribute(Attribute::Reset),
        cursor::Show,
        terminal::LeaveAlternateScreen
    );
    let _ = terminal::disable_raw_mode();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_colour_reaches_the_terminal() {
        // A title change (OSC … BEL): the ESC goes, the rest is text.
        assert_eq!(sanitized_line("a\x1b]0;title\x07b", 80), "a?]0;title?b");
        // Clear screen, cursor home: not colour.
        assert_eq!(sanitized_line("\x1b[2J\x1b[H", 80), "?[2J?[H");
        assert_eq!(sanitized_line("over\rwrite", 80), "over?write");
        // C1's CSI, NEL; DEL; NUL; tab; a lone ESC at the end.
        assert_eq!(
            sanitized_line("\u{9b}31m\u{85}\u{7f}\0\t\x1b", 80),
            "?31m?????"
        );
        // Bidi overrides and invisible characters, as in ids.
        assert_eq!(sanitized_line("\u{202E}ab\u{200B}", 80), "?ab?");
        // Colour is kept, and reset at the end of the line.
        assert_eq!(
            sanitized_line("x \x1b[38;2;1;2;3mfailed\x1b[0m", 80),
            "x \x1b[38;2;1;2;3mfailed\x1b[0m\x1b[0m"
        );
        // An SGR-like sequence that is not colour is not kept.
        assert_eq!(sanitized_line("\x1b[38;2;1?m", 80), "?[38;2;1?m");
        assert_eq!(sanitized_line("\x1b[", 80), "?[");
    }

    #[test]
    fn lines_are_cut_to_the_width_in_cells() {
        assert_eq!(sanitized_line("abcdef", 4), "abcd");
        // Colour takes no cells.
        assert_eq!(sanitized_line("\x1b[1mabcdef", 4), "\x1b[1mabcd\x1b[0m");
        // Wide characters take two: a third would not fit in 5.
        assert_eq!(sanitized_line("進捗表示", 5), "進捗");
        assert_eq!(sanitized_line("", 4), "");
    }

    #[test]
    fn the_count_is_read_from_a_pages_last_line() {
        assert_eq!(
            matching_of("x\n\nworkers 101–200 of 3412 failed; offset=200 for more\n"),
            Some(3412)
        );
        assert_eq!(matching_of("x\nworkers 1–250 of 250\n"), Some(250));
        assert_eq!(matching_of("x\nno failed workers\n"), Some(0));
        assert_eq!(
            matching_of("x\nno failed workers from offset=10 (12 in all)\n"),
            Some(12)
        );
        assert_eq!(matching_of("w1 ▕█▏ 5/10\n"), None);
        assert_eq!(matching_of(""), None);
    }

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn keys_pick_and_scroll_within_the_workers() {
        // 30 rows: 19 workers a page.
        let size = (100, 30);
        assert_eq!(workers_fitting(size.1), 19);
        let mut view = View {
            matching: Some(50),
            ..View::default()
        };
        assert_eq!(view.key(key(KeyCode::Down), size), KeyAction::Changed);
        assert_eq!(view.offset, 1);
        view.key(key(KeyCode::PageDown), size);
        assert_eq!(view.offset, 20);
        view.key(key(KeyCode::PageDown), size);
        assert_eq!(view.offset, 31, "not past the last full page");
        view.key(key(KeyCode::Home), size);
        assert_eq!(view.offset, 0);
        view.key(key(KeyCode::Up), size);
        assert_eq!(view.offset, 0);
        view.key(key(KeyCode::End), size);
        assert_eq!(view.offset, 31);
        view.key(key(KeyCode::Char('f')), size);
        assert_eq!((view.offset, view.pick_words().as_str()), (0, "failed"));
        assert_eq!(view.key(key(KeyCode::Char('x')), size), KeyAction::Nothing);
        assert_eq!(view.key(key(KeyCode::Char('q')), size), KeyAction::Quit);
        assert_eq!(view.key(key(KeyCode::Esc), size), KeyAction::Quit);
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(view.key(ctrl_c, size), KeyAction::Quit);
        // An unknown count: End does nothing, scrolling down is not held.
        let mut unknown = View::default();
        assert_eq!(unknown.key(key(KeyCode::End), size), KeyAction::Nothing);
        unknown.key(key(KeyCode::PageDown), size);
        assert_eq!(unknown.offset, 19);
    }

    #[test]
    fn the_address_asks_for_a_page_that_fits() {
        let config = WatchConfig {
            jobid: "my job/1".to_string(),
            url: "http://h:8080/sub".to_string(),
            token: None,
            interval: Duration::from_secs(2),
        };
        let failed = [Pick::State(BarState::Failed), Pick::Slow];
        assert_eq!(
            text_url(&config, Some(30), 40, Some((&failed, 19))),
            "http://h:8080/sub/progress/show.txt?jobid=my+job%2F1&cols=40&limit=19&color=1&state=failed%2Cslow&offset=40"
        );
        assert_eq!(
            text_url(&config, None, 0, None),
            "http://h:8080/sub/progress/show.txt?jobid=my+job%2F1"
        );
        assert_eq!(
            server_of("http://h:8080/sub/progress/show.txt?x"),
            "http://h:8080/sub"
        );
        assert_eq!(
            clock_time(UNIX_EPOCH + Duration::from_secs(86_400 + 3723)),
            "01:02:03 UTC"
        );
    }
}
