//! HTML for the show page, the page of a job that does not exist (yet), and
//! the job index; the stylesheet and script they load.
//!
//! The show page comes in two sizes. A job read whole gets a bar per worker
//! ([`show_page`]). A big one (past `--list-all-up-to`) gets
//! [`big_show_page`], made from its summary alone: a histogram of its
//! workers' percent, and frames for the lists the script fills from pages
//! of `status` (the workers that need attention, and every worker a page at
//! a time), so its HTML stays a few kilobytes whatever the job's size.
//!
//! Every string a client sent (jobid, workid, desc) passes through
//! [`escape`] wherever it lands: text, attributes, and the query of a link
//! (encoded first, then escaped). The pages load their script and stylesheet
//! from this server, so the Content-Security-Policy can forbid inline script
//! and inline style; server-rendered bar widths are classes (`p0`…`p100`)
//! and the script sets exact widths through the CSSOM, which that policy
//! allows.

use crate::clock::Time;
use std::fmt::Write;
use std::sync::OnceLock;

use crate::format::{markup_entity, pct, span, utc};
use crate::look;
use crate::model::{
    BarState, HISTOGRAM_STEP, Job, JobProgress, ListedJob, PeerReport, Pick, SLOW_NEVER,
    SLOW_PEERS, SLOW_SHARE, SLOW_SURELY, STALE_FLOOR, STALE_GAPS, Worker, WorkerPick,
};
use crate::shown::{self, JobText, WorkerText};

/// The page's script.
pub const SHOW_JS: &str = include_str!("../assets/show.js");

const STYLE_BASE: &str = include_str!("../assets/progressd.css");

/// The stylesheet: the static part, the states' colours, and one width
/// class per whole percent (the bars) and one height class (the
/// histogram's columns).
pub fn stylesheet() -> &'static str {
    static CSS: OnceLock<String> = OnceLock::new();
    CSS.get_or_init(|| {
        let mut css = String::from(STYLE_BASE);
        css.push('\n');
        css.push_str(&look::css_colours());
        css.push_str("\n/* Bar widths before the script refines them. */\n");
        for p in 0..=100 {
            // Writing to a String cannot fail.
            let _ = writeln!(css, ".p{p} {{ width: {p}%; }}");
        }
        css.push_str("\n/* Histogram heights before the script refines them. */\n");
        for p in 0..=100 {
            let _ = writeln!(css, ".h{p} {{ height: {p}%; }}");
        }
        css
    })
}

/// Escapes text for HTML text and quoted attribute values alike.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match markup_entity(c) {
            Some(entity) => out.push_str(entity),
            None => out.push(c),
        }
    }
    out
}

/// How a page links to the rest of the service.
#[derive(Debug, Clone, Copy, Default)]
pub struct Links<'a> {
    /// Whether the job index exists (`--no-index` turns it off).
    pub index: bool,
    /// The token the page was opened with (`?token=`, the read or the write
    /// token), carried into its links and its status requests so they keep
    /// working.
    pub token: Option<&'a str>,
}

impl Links<'_> {
    /// `ENDPOINT?jobid=…` for a job, encoded and escaped for an attribute.
    fn job(&self, endpoint: &str, jobid: &str) -> String {
        self.with_token(&format!("{endpoint}?jobid={}", encode(jobid)), '&')
    }

    /// `ENDPOINT?jobid=…&QUERY` for a job; `query` is ASCII the caller
    /// wrote, never client text.
    fn job_with(&self, endpoint: &str, jobid: &str, query: &str) -> String {
        self.with_token(&format!("{endpoint}?jobid={}&{query}", encode(jobid)), '&')
    }

    /// `ENDPOINT` with the token, escaped for an attribute.
    fn plain(&self, endpoint: &str) -> String {
        self.with_token(endpoint, '?')
    }

    fn with_token(&self, href: &str, separator: char) -> String {
        match self.token {
            Some(token) => escape(&format!("{href}{separator}token={}", encode(token))),
            None => escape(href),
        }
    }

    /// `· <a>all jobs</a>` for a footer, when the index is on.
    fn index_link(&self) -> String {
        if self.index {
            format!(" · <a href=\"{}\">all jobs</a>", self.plain("./"))
        } else {
            String::new()
        }
    }
}

fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The class that gives a state's elements its colour: `s-running`, …;
/// `slow` for slow, which marks a running worker's row on top of its state.
fn pick_class(pick: Pick) -> String {
    match pick {
        Pick::State(state) => format!("s-{}", state.as_str()),
        Pick::Slow => "slow".to_string(),
    }
}

/// How many workers are in `pick`.
fn head(out: &mut String, title: &str, refresh: Option<u64>, script: bool) {
    out.push_str(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
    );
    let _ = writeln!(out, "<title>{} · progressd</title>", escape(title));
    out.push_str("<link rel=\"stylesheet\" href=\"assets/progressd.css\">\n");
    match (refresh, script) {
        // With the script, a refresh is only the fallback without it.
        (Some(secs), true) => {
            let _ = writeln!(
                out,
                "<noscript><meta http-equiv=\"refresh\" content=\"{secs}\"></noscript>"
            );
        }
        (Some(secs), false) => {
            let _ = writeln!(out, "<meta http-equiv=\"refresh\" content=\"{secs}\">");
        }
        (None, _) => {}
    }
    if script {
        out.push_str("<script src=\"assets/show.js\" defer></script>\n");
    }
    out.push_str("</head>\n");
}

/// A worker's row. The script draws every row it adds from this one too
/// (a copy of [`row_template`]), filling it with `status`'s texts, which
/// are these ([`WorkerText`]): a row looks the same whoever drew it.
fn worker_row(out: &mut String, w: &Worker, progress: &JobProgress, now: Time) {
    let text = WorkerText::of(w, progress, now);
    // The figure `status` gives the script, so both draw the same bar.
    let percent = crate::json::percent_figure(w.percent());
    let t = if text.state == BarState::NotStarted {
        String::new()
    } else {
        crate::json::time_stamp(w.updated).to_string()
    };
    // The desc is always there, empty or not, as the script draws it.
    let _ = writeln!(
        out,
        "<li class=\"{class}\" data-workid=\"{id}\" data-state=\"{state}\" \
         tabindex=\"0\" aria-expanded=\"false\">\
         <span class=\"wid\" title=\"{id}\">{id}</span>\
         <span class=\"track\" title=\"{track}\">\
         <span class=\"fill p{width}\" data-percent=\"{percent}\"></span>\
         <span class=\"txt\"><b>{counts}</b> <span class=\"pc\">{pc}</span>\
         <span class=\"rate\">{rate}</span><i class=\"wdesc\">{desc}</i></span></span>\
         <span class=\"st\">{label}</span>\
         <span class=\"ago\" data-t=\"{t}\" title=\"{stamp}\">{ago}</span></li>",
        class = text.class,
        state = text.state.as_str(),
        id = escape(&w.workid),
        track = escape(&text.track),
        width = percent.round() as u32,
        counts = text.counts,
        pc = text.percent,
        rate = text.rate,
        desc = escape(&w.desc),
        label = text.label,
        stamp = text.stamp,
        ago = text.ago,
    );
}

/// The row the script copies for each worker it adds to a list: a worker
/// not started, with no id, drawn by [`worker_row`].
fn row_template(out: &mut String, progress: &JobProgress, now: Time) {
    let blank = Worker {
        workid: String::new(),
        current: 0.0,
        total: 0.0,
        ok: true,
        desc: String::new(),
        first_seen: now,
        updated: now,
        rate: None,
        updates: 0,
        seq: None,
    };
    out.push_str("<template id=\"row\">");
    worker_row(out, &blank, progress, now);
    out.push_str("</template>\n");
}

/// The stale and slow rules in words, from the constants that define them.
fn state_rules() -> String {
    format!(
        "A worker is <b>stale</b> when it is still running but has been silent for more than \
         {STALE_GAPS} times its usual gap between reports (and at least {}). It is <b>slow</b> \
         when its recent rate is below {}% of the median rate of the running and finished \
         workers (once {SLOW_PEERS} or more have one); between {}% and {}% its rate over its \
         whole run decides. Click a worker for its history.",
        span(STALE_FLOOR),
        SLOW_SHARE * 100.0,
        SLOW_SURELY * 100.0,
        SLOW_NEVER * 100.0
    )
}

/// How the show page of a job read whole lists its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RowView {
    /// Workers that need attention first ([`ATTENTION_ORDER`]), else in
    /// natural order.
    pub problems_first: bool,
    /// Leave out the workers that are done.
    pub hide_done: bool,
}

impl RowView {
    /// The query that asks for this view: `&sort=attention&hide=done`, or
    /// less.
    fn query(self) -> String {
        let mut query = String::new();
        if self.problems_first {
            query.push_str("&sort=attention");
        }
        if self.hide_done {
            query.push_str("&hide=done");
        }
        query
    }
}

/// The order of the rows when problems come first: failed, stale, slow,
/// then running, not started and done (as `status`'s `sort=attention`).
/// The page writes it for its script (`data-attention-order`), which keeps
/// polled rows in it.
pub const ATTENTION_ORDER: [Pick; 6] = [
    Pick::State(BarState::Failed),
    Pick::State(BarState::Stale),
    Pick::Slow,
    Pick::State(BarState::Running),
    Pick::State(BarState::NotStarted),
    Pick::State(BarState::Done),
];

/// Where a worker shown as `pick` comes in [`ATTENTION_ORDER`].
fn attention_rank(pick: Pick) -> usize {
    ATTENTION_ORDER
        .iter()
        .position(|&p| p == pick)
        .unwrap_or(ATTENTION_ORDER.len())
}

/// What a worker is shown as at `now`: slow, else its bar's state.
fn shown_as(w: &Worker, progress: &JobProgress, now: Time) -> Pick {
    if w.is_slow(progress.median_rate, now) {
        Pick::Slow
    } else {
        Pick::State(w.bar_state(now))
    }
}

/// The show page of `job` at `now`, updating every `interval` seconds and
/// linking to the rest as `links` says: every worker's bar (in the order
/// and with the rows `view` asks for), for a job read whole. `roster` is
/// how many workers its roster named. Big jobs get [`big_show_page`].
pub fn show_page(
    job: &Job,
    now: Time,
    interval: u64,
    links: Links,
    view: RowView,
    roster: u64,
) -> String {
    let progress = job.progress(now);
    let mut out = String::with_capacity(2048 + job.workers.len() * 520);
    let order: Vec<&str> = ATTENTION_ORDER.iter().map(|p| p.key()).collect();
    let top = Top {
        body_attrs: &format!(" data-attention-order=\"{}\"", order.join(",")),
        workers: job.workers.len() as u64,
        roster,
    };
    page_top(&mut out, job, &progress, now, (interval, links), &top);
    notices(&mut out, job.workers.is_empty(), now);
    let mut rows: Vec<(Pick, &Worker)> = job
        .workers
        .iter()
        .map(|w| (shown_as(w, &progress, now), w))
        .filter(|(pick, _)| !(view.hide_done && *pick == Pick::State(BarState::Done)))
        .collect();
    if view.problems_first {
        // Stable: natural order within each rank.
        rows.sort_by_key(|(pick, _)| attention_rank(*pick));
    }
    let toggle = |id: &str, on: bool, flipped: RowView, words: &str| {
        let query = format!("interval={interval}{}", flipped.query());
        format!(
            "<a id=\"{id}\" class=\"toggle\" role=\"button\" aria-pressed=\"{on}\" \
             href=\"{href}\">{words}</a>",
            href = links.job_with("show", &job.jobid, &query),
        )
    };
    let _ = writeln!(
        out,
        "<section class=\"panel\" aria-labelledby=\"list-title\">\n\
         <div class=\"panel-head\"><h2 id=\"list-title\">Workers</h2>\
         <span class=\"panel-note view\">{first} {hide}</span></div>\n<ol id=\"workers\">",
        first = toggle(
            "problems-first",
            view.problems_first,
            RowView {
                problems_first: !view.problems_first,
                ..view
            },
            "▲ problems first",
        ),
        hide = toggle(
            "hide-done",
            view.hide_done,
            RowView {
                hide_done: !view.hide_done,
                ..view
            },
            &format!(
                "hide done (<span id=\"done-count\">{}</span>)",
                progress.count(BarState::Done)
            ),
        ),
    );
    for (_, w) in rows {
        worker_row(&mut out, w, &progress, now);
    }
    out.push_str("</ol>\n");
    row_template(&mut out, &progress, now);
    let _ = writeln!(
        out,
        "<p class=\"legend-note\">{rule}</p>\n</section>\n\
         <footer>Updates every {interval} s · <a href=\"{status}\">JSON</a>{index} · \
         progressd</footer>\n</main>\n</body>\n</html>",
        rule = state_rules(),
        status = links.job("status", &job.jobid),
        index = links.index_link(),
    );
    out
}

/// What differs between the tops of the two show pages.
struct Top<'a> {
    /// Attributes the body starts with, for the script.
    body_attrs: &'a str,
    /// How many workers the job has.
    workers: u64,
    /// How many its roster named (0 without one).
    roster: u64,
}

/// Everything both show pages open with: the head, the body (with the
/// attributes the script reads, and `top.body_attrs` first), the title,
/// the summary and the burn-up.
fn page_top(
    out: &mut String,
    job: &Job,
    progress: &JobProgress,
    now: Time,
    (interval, links): (u64, Links),
    top: &Top,
) {
    let body_attrs = top.body_attrs;
    let title = job.title();
    let burn_up_points = job.burn_up(progress);
    let text = JobText::of(job, progress, &burn_up_points, now);
    head(out, title, Some(interval), true);
    let _ = writeln!(
        out,
        "<body{body_attrs} data-status=\"{status}\" data-interval=\"{interval}\" data-now=\"{now}\">\n<main>\n\
         <header><h1 id=\"title\" title=\"{title}\">{title}</h1>\n\
         <p class=\"sub\">job <code>{jobid}</code> · created {created} · \
         <span id=\"expires\" data-t=\"{expires}\">{expires_text}</span></p></header>",
        // The page's polls ask for its texts (`text=1`).
        status = links.job_with("status", &job.jobid, "text=1"),
        jobid = escape(&job.jobid),
        title = escape(title),
        created = utc(job.created),
        expires = job.expires(),
        expires_text = text.expires,
    );
    summary_panel(out, progress, &text, now, &roster_warning(top, progress));
    burn_up(out, &burn_up_points, &text);
}

/// The summary's warning when workers the roster does not name report
/// while workers it names have not started (ids `rank1..rankN` for a
/// roster of `0..N-1`, say); hidden otherwise. The script hides it once
/// none is left not started.
fn roster_warning(top: &Top, progress: &JobProgress) -> String {
    let outside = top.workers.saturating_sub(top.roster);
    let waiting = progress.count(BarState::NotStarted);
    let hidden = if top.roster > 0 && outside > 0 && waiting > 0 {
        ""
    } else {
        " hidden"
    };
    let plural = |n: u64, one: &'static str, many: &'static str| if n == 1 { one } else { many };
    format!(
        "<p id=\"roster-warning\" class=\"warning\"{hidden}>⚠ <b>{outside}</b> {workers} \
         that the roster does not name, and <b id=\"roster-waiting\">{waiting}</b> named by \
         it {have} not started: do the workids match the roster's ids? (<code>workers=N</code> \
         names <code>0</code> to <code>N-1</code>.)</p>",
        workers = plural(outside, "worker reports", "workers report"),
        have = plural(waiting as u64, "has", "have"),
    )
}

/// The summary: overall percent, workers by state (the colour legend),
/// the last report and the ETA.
fn summary_panel(
    out: &mut String,
    progress: &JobProgress,
    text: &JobText,
    now: Time,
    warning: &str,
) {
    let overall = progress.percent;
    let _ = write!(
        out,
        "<section class=\"panel summary\" aria-label=\"summary\">\n\
         <div class=\"overall\"><span class=\"big\" id=\"overall\">{pc}</span>\
         <span class=\"track\"><span class=\"fill p{width}\" id=\"overall-fill\" data-percent=\"{overall}\"></span></span></div>\n\
         <ul class=\"counts\" aria-label=\"workers by state\">",
        pc = text.percent,
        width = overall.round() as u32,
    );
    for pick in Pick::ALL {
        let n = progress.count_of(pick);
        // Jobs without a roster never have workers not started, and most
        // jobs no slow ones: those two show only when there are some. The
        // script knows them by `data-hide-zero`.
        let optional = matches!(pick, Pick::State(BarState::NotStarted) | Pick::Slow);
        let _ = write!(
            out,
            "<li class=\"{class}\"{optional}{hidden}><span class=\"swatch\"></span>{icon} \
             <b id=\"n-{key}\">{n}</b> {words}</li>",
            class = pick_class(pick),
            optional = if optional { " data-hide-zero" } else { "" },
            hidden = if optional && n == 0 { " hidden" } else { "" },
            icon = look::of(pick).icon,
            key = pick.key(),
            words = pick.words(),
        );
    }
    let last = progress
        .last_report
        .map_or("no report yet".to_string(), |t| {
            format!("{} ago", span(now - t))
        });
    let eta = text.eta.as_deref().unwrap_or_default();
    let _ = writeln!(
        out,
        "</ul>\n<p class=\"meta\">last report <b id=\"last\"{last_t}>{last}</b>\
         <span id=\"eta-wrap\"{hidden}> · estimated to finish <b id=\"eta\">{eta}</b>\
         <span id=\"eta-note\"{note_hidden}> (the workers that have started)</span></span>\
         <span id=\"completed-wrap\"{done_hidden}> · <b id=\"completed\">{completed}</b></span></p>\n\
         {warning}\n</section>",
        completed = text.completed.as_deref().unwrap_or_default(),
        done_hidden = if text.completed.is_some() {
            ""
        } else {
            " hidden"
        },
        last_t = progress
            .last_report
            .map_or(String::new(), |t| format!(" data-t=\"{t}\"")),
        hidden = if progress.eta_seconds.is_some() {
            ""
        } else {
            " hidden"
        },
        // The job's ETA leaves out workers that have not started.
        note_hidden = if progress.count(BarState::NotStarted) > 0 {
            ""
        } else {
            " hidden"
        },
    );
}

/// The notices under the summary: waiting for a first update (shown when
/// `waiting`), gone, unreachable.
fn notices(out: &mut String, waiting: bool, now: Time) {
    // The offline notice says when the page last heard from the server:
    // now, until a status answer says a later time.
    let _ = writeln!(
        out,
        "<p id=\"waiting\" class=\"notice\"{}>Waiting for the first update from a worker. \
         This page updates itself.</p>\n\
         <p id=\"gone\" class=\"notice gone\" hidden>This job no longer exists: it was deleted or expired.</p>\n\
         <p id=\"offline\" class=\"notice gone\" data-heard=\"{}\" hidden></p>",
        if waiting { "" } else { " hidden" },
        utc(now),
    );
}

/// Workers a page of the big-job page lists.
pub const PAGE_ROWS: u64 = 100;

/// Workers the big-job page lists as needing attention, worst first.
pub const ATTENTION_ROWS: u64 = 50;

/// The orders the big-job page offers: the `sort=` of `status`, and its
/// words.
const SORTS: [(&str, &str); 9] = [
    ("workid", "workid"),
    ("-workid", "workid, last first"),
    ("attention", "needing attention first"),
    ("percent", "least done first"),
    ("-percent", "most done first"),
    ("rate", "slowest first"),
    ("-rate", "fastest first"),
    ("updated", "silent longest first"),
    ("-updated", "latest report first"),
];

/// The show page of a job too big to list whole (it has `workers`), made
/// from its row and `progress` alone: the summary and burn-up of the small
/// page, a histogram of the workers' percent coloured by state, and two
/// lists the script fills from pages of `status`: the workers that need
/// attention (failed, stale, slow; worst first), and every worker a page
/// at a time, with a state filter, a workid search and a choice of order.
/// Its size does not grow with the job.
pub fn big_show_page(
    job: &Job,
    (workers, roster): (u64, u64),
    progress: &JobProgress,
    now: Time,
    interval: u64,
    links: Links,
) -> String {
    let mut out = String::with_capacity(24 * 1024);
    // The script asks for the attention list with each page of workers
    // (`attention=N`), so a poll is one request and one pass over the job.
    let attrs = format!(
        " class=\"big-job\" data-page-size=\"{PAGE_ROWS}\" data-attention=\"{ATTENTION_ROWS}\""
    );
    let top = Top {
        body_attrs: &attrs,
        workers,
        roster,
    };
    page_top(&mut out, job, progress, now, (interval, links), &top);
    notices(&mut out, false, now);
    histogram(&mut out, progress);
    // The button that lists them all picks the states the attention list
    // is made of.
    let attention_states: Vec<&str> = WorkerPick::needing_attention()
        .states
        .into_iter()
        .map(Pick::key)
        .collect();
    let _ = write!(
        out,
        "<section class=\"panel\" id=\"attention-panel\" aria-labelledby=\"attention-title\">\n\
         <div class=\"panel-head\"><h2 id=\"attention-title\">Needs attention</h2>\
         <span class=\"panel-note\"><span id=\"attention-note\">failed, stale and slow workers, \
         worst first</span> <button type=\"button\" class=\"linkish\" id=\"attention-all\" \
         data-states=\"{states}\" hidden>list them all below</button></span></div>\n\
         <ol id=\"attention\" class=\"rows\"></ol>\n\
         <p id=\"attention-empty\" class=\"empty\">Loading…</p>\n</section>\n",
        states = attention_states.join(","),
    );
    let _ = write!(
        out,
        "<section class=\"panel\" id=\"list-panel\" aria-labelledby=\"list-title\">\n\
         <div class=\"panel-head\"><h2 id=\"list-title\">Workers</h2>\
         <span class=\"panel-note\" id=\"list-note\" aria-live=\"polite\">{workers} workers</span></div>\n\
         <div class=\"controls\">\n<div class=\"chips\" role=\"group\" aria-label=\"list only these states (none: all)\">"
    );
    for pick in Pick::ALL {
        let _ = write!(
            out,
            "<button type=\"button\" class=\"chip {class}\" data-state=\"{key}\" aria-pressed=\"false\">\
             <span class=\"swatch\"></span>{icon} {words} <b id=\"c-{key}\">{n}</b></button>",
            class = pick_class(pick),
            key = pick.key(),
            icon = look::of(pick).icon,
            words = pick.words(),
            n = progress.count_of(pick),
        );
    }
    out.push_str(
        "</div>\n<input type=\"search\" id=\"search\" placeholder=\"workid contains…\" \
         aria-label=\"list only workids containing (ignoring case)\" maxlength=\"128\" \
         autocomplete=\"off\" spellcheck=\"false\">\n\
         <label class=\"sort\">order <select id=\"sort\">",
    );
    for (value, words) in SORTS {
        let _ = write!(out, "<option value=\"{value}\">{words}</option>");
    }
    out.push_str("</select></label>\n</div>\n<ol id=\"workers\" class=\"rows\"></ol>\n");
    row_template(&mut out, progress, now);
    let _ = writeln!(
        out,
        "<p id=\"list-empty\" class=\"empty\">Loading…</p>\n\
         <nav class=\"pager\" aria-label=\"pages of workers\">\
         <button type=\"button\" id=\"page-first\" disabled>« first</button>\
         <button type=\"button\" id=\"page-prev\" disabled>‹ previous</button>\
         <span id=\"page-of\">page 1</span>\
         <button type=\"button\" id=\"page-next\" disabled>next ›</button>\
         <button type=\"button\" id=\"page-last\" disabled>last »</button></nav>\n\
         <p class=\"legend-note\">{rule}</p>\n</section>\n\
         <noscript><p class=\"notice\">The lists of workers need JavaScript; without it this \
         page shows the summary and reloads every {interval} s.</p></noscript>\n\
         <footer>Updates every {interval} s · <a href=\"{status}\">JSON</a>{index} · \
         progressd</footer>\n</main>\n</body>\n</html>",
        rule = state_rules(),
        status = links.job_with("status", &job.jobid, "workers=0"),
        index = links.index_link(),
    );
    out
}

/// The histogram of the workers' percent: a column per bucket, stacked by
/// state, heights as [`shown::histogram`] says (as classes; the script
/// refines them and redraws the columns from each status answer).
fn histogram(out: &mut String, progress: &JobProgress) {
    let columns = shown::histogram(progress);
    let _ = write!(
        out,
        "<section class=\"panel hist\" aria-labelledby=\"hist-title\">\n\
         <div class=\"panel-head\"><h2 id=\"hist-title\">Workers by percent done</h2>\
         <span class=\"panel-note\">steps of {HISTOGRAM_STEP} %, coloured by state\
         <span id=\"hist-cut\"{hidden}>; a column with a gap is cut to fit</span></span></div>\n\
         <ol id=\"histogram\" class=\"hist-cols\">",
        hidden = if columns.iter().any(|c| c.cut) {
            ""
        } else {
            " hidden"
        },
    );
    for column in &columns {
        let _ = write!(
            out,
            "<li{class} title=\"{title}\"><span class=\"hist-n\" aria-hidden=\"true\">{n}</span>\
             <span class=\"hist-bar\" aria-hidden=\"true\">",
            class = if column.cut { " class=\"cut\"" } else { "" },
            title = column.title,
            n = column.n,
        );
        for (state, height) in BarState::ALL.into_iter().zip(column.heights) {
            let _ = write!(
                out,
                "<span class=\"seg s-{s} h{class}\"{hidden}></span>",
                s = state.as_str(),
                class = height.ceil().min(100.0) as u32,
                hidden = if height == 0.0 { " hidden" } else { "" },
            );
        }
        let _ = write!(
            out,
            "</span><span class=\"sr\">{}</span></li>",
            column.title
        );
    }
    out.push_str(
        "</ol>\n<div class=\"hist-axis\" aria-hidden=\"true\"><span>0 %</span><span>25 %</span>\
         <span>50 %</span><span>75 %</span><span>100 %</span></div>\n</section>\n",
    );
}

/// The panel for the burn-up chart of the job's overall percent over time.
/// The script draws it, from the points in `data-points` and then from each
/// status answer's `summary.history`.
fn burn_up(out: &mut String, burn_up: &[crate::history::Point], text: &JobText) {
    let points: Vec<[f64; 2]> = burn_up
        .iter()
        .map(|&(t, p)| [t, (p * 100.0).round() / 100.0])
        .collect();
    let json = serde_json::to_string(&points).unwrap_or_else(|_| "[]".to_string());
    let _ = writeln!(
        out,
        "<section class=\"panel burnup\" aria-label=\"overall progress over time\">\
         <div class=\"burnup-head\"><span>Overall progress over time \
         <small>(lines at 25, 50, 75 and 100 %)</small></span>\
         <span id=\"burnup-span\"></span></div>\
         <svg id=\"burnup\" viewBox=\"0 0 600 80\" preserveAspectRatio=\"none\" role=\"img\" \
         aria-label=\"overall percent over time\" data-points=\"{points}\">\
         <path class=\"grid\" d=\"M0 1H600M0 20H600M0 40H600M0 60H600\"/>\
         <path class=\"area\" d=\"\"/><path class=\"line\" d=\"\"/></svg>\
         <div class=\"burnup-axis\"><span id=\"burnup-from\">{from}</span><span>now</span></div></section>",
        points = escape(&json),
        from = text.burn_up_from,
    );
}

/// The page for a jobid no job has (yet): people often open the link before
/// the job starts, so it says so and checks again every `interval` seconds.
pub fn missing_job_page(jobid: &str, interval: u64, links: Links) -> String {
    let mut out = String::new();
    head(&mut out, jobid, Some(interval), false);
    let _ = writeln!(
        out,
        "<body>\n<main>\n<header><h1>No job “<bdi>{id}</bdi>” yet</h1>\n\
         <p class=\"sub\">job <code>{id}</code></p></header>\n\
         <p class=\"notice\">There is no job with this id: it has not been created yet, or it was \
         deleted or expired. This page checks again every {interval} s and shows the job as soon \
         as it exists.</p>\n<footer>progressd{index}</footer>\n</main>\n</body>\n</html>",
        id = escape(jobid),
        index = links.index_link(),
    );
    out
}

/// The index of `jobs` (newest activity first) at `now`, naming each peer
/// whose jobs are missing; it reloads itself every 30 seconds.
pub fn index_page(jobs: &[ListedJob], peers: &[PeerReport], now: Time, links: Links) -> String {
    let mut out = String::with_capacity(2048 + jobs.len() * 600);
    head(&mut out, "Jobs", Some(30), false);
    let _ = writeln!(
        out,
        "<body>\n<main>\n<header><h1>Jobs</h1>\n<p class=\"sub\">{} job{}{}, most recent activity first</p></header>",
        jobs.len(),
        if jobs.len() == 1 { "" } else { "s" },
        match peers.len() {
            0 => String::new(),
            n => format!(" here and on {n} peer{}", if n == 1 { "" } else { "s" }),
        }
    );
    for peer in peers {
        if let Some(why) = &peer.error {
            let _ = writeln!(
                out,
                "<p class=\"notice gone peer-missing\">Not listed: the jobs of <code>{url}</code>, \
                 which did not answer ({why}).</p>",
                url = escape(&peer.url),
                why = escape(why),
            );
        }
    }
    if jobs.is_empty() {
        out.push_str(
            "<p class=\"notice\">No jobs yet. Create one with \
             <code>curl 'http://HOST/progress/create?jobid=myjob&amp;desc=My+job'</code>.</p>\n",
        );
    } else {
        out.push_str(
            "<section class=\"panel\">\n<table class=\"jobs\">\n<thead><tr><th>Job</th><th>Progress</th>\
             <th>Workers</th><th>Last activity</th><th class=\"hide-narrow\">Expires</th></tr></thead>\n<tbody>\n",
        );
        for job in jobs {
            index_row(&mut out, job, now, links);
        }
        out.push_str("</tbody>\n</table>\n</section>\n");
    }
    let _ = writeln!(
        out,
        "<footer>Updates every 30 s · <a href=\"{}\">JSON</a> · progressd</footer>\n</main>\n</body>\n</html>",
        links.plain("jobs")
    );
    out
}

fn index_row(out: &mut String, listed: &ListedJob, now: Time, links: Links) {
    let job = &listed.job;
    // A peer's job links to its page there, and says where it is.
    let (href, place) = match &listed.elsewhere {
        Some(elsewhere) => (
            escape(&elsewhere.show),
            format!(" · on {}", escape(&elsewhere.peer)),
        ),
        None => (links.job("show", &job.jobid), String::new()),
    };
    let title = if job.desc.is_empty() {
        &job.jobid
    } else {
        &job.desc
    };
    let mut states = String::new();
    for (state, n) in [
        (BarState::Running, job.running),
        (BarState::Done, job.done),
        (BarState::Failed, job.failed),
        (BarState::Stale, job.stale),
        (BarState::NotStarted, job.not_started),
    ] {
        if n > 0 {
            let _ = write!(
                states,
                "<span class=\"s-{s}\"><span class=\"swatch\"></span>{n} {words}</span>",
                s = state.as_str(),
                words = state.words(),
            );
        }
    }
    // The bar takes the colour of the worst state among the workers: a job
    // with a failed worker is not a plain green bar.
    let count = |state| match state {
        BarState::Running => job.running,
        BarState::Done => job.done,
        BarState::Failed => job.failed,
        BarState::Stale => job.stale,
        BarState::NotStarted => job.not_started,
    };
    let worst = ATTENTION_ORDER
        .into_iter()
        .find_map(|pick| match pick {
            Pick::State(state) if count(state) > 0 => Some(state),
            _ => None,
        })
        .unwrap_or(BarState::Running);
    let _ = writeln!(
        out,
        "<tr><td><a class=\"desc\" href=\"{href}\">{title}</a><div class=\"jobid\">{jobid}{place}</div></td>\
         <td><div class=\"prog s-{worst}\" title=\"{worst_words}\"><span class=\"track\"><span class=\"fill p{width}\"></span></span>\
         <span class=\"num\">{pc}</span></div></td>\
         <td><span class=\"num\">{workers}</span> <span class=\"states\">{states}</span></td>\
         <td class=\"num\" title=\"{stamp}\">{ago} ago</td>\
         <td class=\"num hide-narrow\" title=\"{expires}\">in {left}</td></tr>",
        worst = worst.as_str(),
        worst_words = look::label(Pick::State(worst)),
        title = escape(title),
        jobid = escape(&job.jobid),
        width = job.percent.round() as u32,
        pc = pct(job.percent),
        workers = job.workers,
        stamp = utc(job.updated),
        ago = span(now - job.updated),
        expires = utc(job.expires()),
        left = span(job.expires() - now),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Time;
    use crate::model::fixtures::{EDGE_RATES, job, running};

    /// A peer's job links to its page there and says where it is; what a
    /// peer says of itself (its jobs, why it failed) is escaped.
    #[test]
    fn the_index_links_to_peers_and_names_the_missing_escaped() {
        use crate::model::{Elsewhere, JobSummary, ListedJob, PeerReport};
        use std::sync::Arc;
        let job = |jobid: &str| JobSummary {
            jobid: jobid.into(),
            desc: String::new(),
            created: Time::unix(0.0),
            updated: Time::unix(0.0),
            maxage: crate::clock::Secs(60.0),
            workers: 1,
            running: 1,
            done: 0,
            failed: 0,
            stale: 0,
            not_started: 0,
            percent: 5.0,
        };
        let peer: Arc<str> = Arc::from("http://b:8080");
        let jobs = [
            ListedJob {
                job: job("here"),
                elsewhere: None,
            },
            ListedJob {
                job: job("<there>"),
                elsewhere: Some(Elsewhere {
                    peer: Arc::clone(&peer),
                    show: "https://front/progress/show?jobid=%3Cthere%3E&x=1".into(),
                }),
            },
        ];
        let peers = [
            PeerReport {
                url: peer,
                error: None,
                jobs: 1,
            },
            PeerReport {
                url: Arc::from("http://c:8080"),
                error: Some("it answered 500 <script>".into()),
                jobs: 0,
            },
        ];
        let html = index_page(&jobs, &peers, Time::unix(1.0), Links::default());
        assert!(html.contains("2 jobs here and on 2 peers"));
        assert!(html.contains("href=\"show?jobid=here\""));
        assert!(html.contains("href=\"https://front/progress/show?jobid=%3Cthere%3E&amp;x=1\""));
        assert!(html.contains("&lt;there&gt; · on http://b:8080"));
        assert!(html.contains("Not listed: the jobs of <code>http://c:8080</code>"));
        assert!(html.contains("500 &lt;script&gt;") && !html.contains("<script>"));
        assert!(!html.contains("Not listed: the jobs of <code>http://b:8080"));
    }

    #[test]
    fn escapes_every_special_character() {
        assert_eq!(
            escape(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
    }

    /// Issue 11: a rate below about 1e-306 read `NaN/s · over a year left`.
    #[test]
    fn tiny_denormal_and_huge_rates_show_no_nan_or_inf() {
        let workers = EDGE_RATES
            .iter()
            .enumerate()
            .map(|(i, &rate)| running(&format!("w{i}"), 1.0, f64::MAX, rate))
            .collect();
        let html = show_page(
            &job(workers),
            Time::unix(11.0),
            30,
            Links::default(),
            RowView::default(),
            0,
        );
        assert!(
            html.contains("<span class=\"rate\">3.60e-317/h</span>"),
            "{html}"
        );
        for bad in ["NaN", "inf", "∞"] {
            assert!(!html.contains(bad), "{bad} in {html}");
        }
    }

    #[test]
    fn show_links_are_encoded_then_escaped() {
        let links = Links::default();
        assert_eq!(
            links.job("show", "a&b=\"c\" d"),
            "show?jobid=a%26b%3D%22c%22+d"
        );
        let links = Links {
            index: true,
            token: Some("t&<\"x"),
        };
        assert_eq!(
            links.job("status", "j"),
            "status?jobid=j&amp;token=t%26%3C%22x"
        );
        assert_eq!(
            links.index_link(),
            " · <a href=\"./?token=t%26%3C%22x\">all jobs</a>"
        );
    }

    #[test]
    fn every_order_offered_is_one_status_takes() {
        for (value, _) in SORTS {
            let name = value.strip_prefix('-').unwrap_or(value);
            assert!(
                crate::model::SortBy::ALL.iter().any(|(n, _)| *n == name),
                "{value}"
            );
        }
    }

    /// The big page lists no worker itself, so its size does not grow with
    /// the job's, even with the longest hostile title.
    #[test]
    fn the_big_page_is_small_whatever_the_job() {
        let mut big = job(Vec::new());
        big.jobid = "\"".repeat(256);
        big.desc = "<".repeat(1024);
        big.history = (0..48).map(|i| (f64::from(i), f64::from(i))).collect();
        let mut progress = job(Vec::new()).progress(Time::unix(11.0));
        progress.counts = [usize::MAX / 8; 5];
        progress.histogram = [[usize::MAX / 128; 5]; crate::model::HISTOGRAM_BUCKETS];
        let links = Links {
            index: true,
            token: Some("t"),
        };
        let html = big_show_page(&big, (u64::MAX, 0), &progress, Time::unix(11.0), 30, links);
        assert!(html.len() < 64 * 1024, "{} bytes", html.len());
        assert!(!html.contains("<<"), "escaped");
        assert!(html.contains("data-attention=\"50\""));
        assert!(html.contains("href=\"status?jobid="));
        assert!(html.contains("&amp;workers=0&amp;token=t\">JSON</a>"));
        assert_eq!(html.matches("<script").count(), 1);
    }
}
