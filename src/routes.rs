//! The route table ([`ROUTES`]): each route's path, who may call it,
//! whether other sites may read its answers, and its handler, a plain
//! function from a request to `Result<Response, Error>`. The table drives
//! dispatch, the token check and the labels of `/metrics`; a path no route
//! serves is answered 404, a method other than GET, HEAD and POST 405.
//!
//! Parameters are decoded and validated by `params` before a handler looks
//! at them; the store does the rest. Nothing here knows tiny_http.

use crate::clock::{Clock, Time};
use crate::error::Error;
use crate::json;
use crate::metrics::{Metrics, Stored};
use std::sync::Arc;
use std::time::Duration;

use crate::auth::{self, Access, Tokens};
use crate::chart::{self, Format};
use crate::model::{BarState, JobProgress, PageStart, ProgressTally, Worker, WorkerPick};
use crate::model::{CreateJob, JobRef, ListedJob, PeerReport, WorkerUpdate};
use crate::page::{self, Links};
use crate::params::{
    DEFAULT_LIST_LIMIT, Form, HistoryQuery, ListJobs, ParamError, RenderChart, ShowPage, ShowText,
    StatusQuery, UpdateBatch, UpdateBody,
};
use crate::peers::Peers;
use crate::render_cache::RenderCache;
use crate::response::Response;
use crate::status;
use crate::store::{JobRows, Reader, Snapshot, StoreError, Writer};
use crate::terminal::{self, Screen};

/// The HTTP methods routes tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// HEAD: answered as GET; the server sends no body.
    Head,
    /// POST, with a form body.
    Post,
    /// Anything else.
    Other,
}

/// A request as the routes see it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The method.
    pub method: Method,
    /// The path, without the query string.
    pub path: &'a str,
    /// The raw query string (after `?`), possibly empty.
    pub query: &'a [u8],
    /// The raw form body of a POST, else empty.
    pub body: &'a [u8],
    /// The `Host` header, for links back to this server.
    pub host: Option<&'a str>,
    /// The `If-None-Match` header, for answering 304.
    pub if_none_match: Option<&'a str>,
    /// The `Authorization` header, for the tokens.
    pub authorization: Option<&'a str>,
    /// The `X-Forwarded-Proto` header a TLS proxy sets, for links back.
    pub forwarded_proto: Option<&'a str>,
}

/// What a request thread owns for its handlers.
pub struct Context {
    /// This thread's read-only connection.
    pub reader: Reader,
    /// The handle to the writer thread.
    pub writer: Writer,
    /// What reads are answered as of: staleness, rates and ETAs are
    /// worked out at its time.
    pub clock: Clock,
    /// `host:port` for links when a request has no usable `Host` header.
    pub fallback_host: String,
    /// Whether `/progress/` lists the jobs (`--no-index` turns it off).
    pub index: bool,
    /// The show page lists every worker of a job of up to this many
    /// (`--list-all-up-to`), and pages through bigger ones.
    pub list_all_up_to: u64,
    /// Recent chart renders, shared by every request thread.
    pub renders: Arc<RenderCache>,
    /// The write and read tokens, if the server has them.
    pub tokens: Arc<Tokens>,
    /// The counters behind `/metrics`, shared by every thread.
    pub metrics: Arc<Metrics>,
    /// Whether notifications go anywhere (`--notify-url`), so a job may
    /// ask for them.
    pub notifies: bool,
    /// The other servers whose jobs the index and `jobs` list (`--peer`).
    pub peers: Option<Arc<Peers>>,
    /// `--public-url`, when given: where peers link to this server's jobs.
    pub public_url: Option<Arc<str>>,
}

/// What a handler is given beside the context.
pub struct Call<'a> {
    /// The request.
    request: &'a Request<'a>,
    /// Its parameters: the query's and a form body's (empty for a public
    /// route, which reads none).
    form: Form,
    /// What its pages' links carry.
    links: Links<'a>,
    /// The body of a batch update (several lines to `update`).
    batch: Option<&'a [u8]>,
}

/// A handler: a plain function from a request to its answer.
type Handler = for<'c> fn(&'c Context, &Call) -> Result<Response<'c>, Error>;

/// One route. The table [`ROUTES`] is the one list of them: it drives
/// dispatch, the token check, which answers other sites may read, and the
/// labels `/metrics` counts requests by; the tests check their lists of
/// endpoints against it.
pub struct Route {
    /// Its path; for a route with `prefix`, what its paths start with
    /// (then `/`).
    pub path: &'static str,
    /// Whether `path` names a folder of paths (the assets).
    pub prefix: bool,
    /// Who may call it.
    pub access: Access,
    /// Whether it lists jobs, and so answers 404 under `--no-index`.
    pub listing: bool,
    /// Whether its answers carry `Access-Control-Allow-Origin: *`, so other
    /// dashboards may fetch and embed them.
    pub cors: bool,
    handler: Handler,
}

impl Route {
    const fn new(path: &'static str, access: Access, handler: Handler) -> Route {
        Route {
            path,
            prefix: false,
            access,
            listing: false,
            cors: false,
            handler,
        }
    }

    const fn cors(self) -> Route {
        Route { cors: true, ..self }
    }

    const fn listing(self) -> Route {
        Route {
            listing: true,
            ..self
        }
    }

    const fn prefix(self) -> Route {
        Route {
            prefix: true,
            ..self
        }
    }

    fn serves(&self, path: &str) -> bool {
        match path.strip_prefix(self.path) {
            Some(rest) => rest.is_empty() || (self.prefix && rest.starts_with('/')),
            None => false,
        }
    }
}

/// Every route. Each takes GET, HEAD (answered as GET, without the body)
/// and POST (a form body, read as more parameters); any other method is
/// answered 405. A path no route serves is answered 404.
pub const ROUTES: [Route; 15] = [
    Route::new("/progress/create", Access::Write, create),
    Route::new("/progress/update", Access::Write, update),
    Route::new("/progress/delete", Access::Write, delete),
    Route::new("/progress/status", Access::Read, status).cors(),
    Route::new("/progress/history", Access::Read, history).cors(),
    Route::new("/progress/jobs", Access::Read, jobs).listing(),
    Route::new("/progress/", Access::Read, index).listing(),
    Route::new("/progress/show", Access::Read, show),
    Route::new("/progress/show.txt", Access::Read, show_text),
    Route::new("/progress/render", Access::Read, render_png).cors(),
    Route::new("/progress/render.svg", Access::Read, render_svg).cors(),
    Route::new("/progress/assets", Access::Public, asset).prefix(),
    Route::new("/healthz", Access::Public, healthz),
    Route::new("/metrics", Access::Read, metrics),
    Route::new("/", Access::Public, home),
];

/// Which of [`ROUTES`] serves `path`, by its place in the table.
pub fn route_of(path: &str) -> Option<usize> {
    ROUTES.iter().position(|route| route.serves(path))
}

/// Answers one request.
pub fn handle<'c>(ctx: &'c Context, request: &Request) -> Result<Response<'c>, Error> {
    if request.method == Method::Other {
        return Err(Error::MethodNotAllowed {
            allow: "GET, HEAD, POST",
        });
    }
    let no_route = || Error::NoRoute(request.path.to_string());
    let route = route_of(request.path)
        .and_then(|i| ROUTES.get(i))
        .ok_or_else(no_route)?;
    if route.listing && !ctx.index {
        return Err(no_route());
    }
    let call = if route.access == Access::Public {
        Call {
            request,
            form: Form::default(),
            links: Links {
                index: ctx.index,
                token: None,
            },
            batch: None,
        }
    } else {
        read_call(ctx, request, route.access)?
    };
    let answer = (route.handler)(ctx, &call)?;
    Ok(if route.cors {
        answer.with_cors()
    } else {
        answer
    })
}

/// The parameters of a request to a route that needs `access`, once its
/// token allows it.
fn read_call<'a>(
    ctx: &'a Context,
    request: &'a Request<'a>,
    access: Access,
) -> Result<Call<'a>, Error> {
    let mut form = Form::parse(request.query)?;
    // A body of several lines to `update` is a batch, whose lines its
    // handler reads one by one; any other body is one form over the query
    // string's.
    let batch = match request.method {
        Method::Post if request.path == "/progress/update" => match UpdateBody::of(request.body) {
            UpdateBody::Single(line) => {
                form.extend_from(line)?;
                None
            }
            UpdateBody::Batch(body) => Some(body),
        },
        Method::Post => {
            form.extend_from(request.body)?;
            None
        }
        _ => None,
    };
    // Every route takes a token; none passes it on.
    let token = form.take("token");
    let from_header = request.authorization.and_then(auth::bearer);
    ctx.tokens
        .check(access, from_header.or(token.as_deref()))
        .map_err(Error::Unauthorized)?;
    // A page opened with ?token= (the read token, or the write token,
    // which reads too) carries the read token into its links and status
    // polls, so it keeps working; only when the token in the address is the
    // one that was checked.
    let links = Links {
        index: ctx.index,
        token: token
            .as_deref()
            .filter(|_| from_header.is_none())
            .and_then(|t| ctx.tokens.read_token_for(t)),
    };
    Ok(Call {
        request,
        form,
        links,
        batch,
    })
}

fn home(_: &Context, _: &Call) -> Result<Response<'static>, Error> {
    Ok(Response::redirect("/progress/"))
}

/// The page's stylesheet and script, compiled into the binary.
fn asset(_: &Context, call: &Call) -> Result<Response<'static>, Error> {
    match call.request.path {
        "/progress/assets/progressd.css" => Ok(Response::asset(
            "text/css; charset=utf-8",
            page::stylesheet(),
        )),
        "/progress/assets/show.js" => Ok(Response::asset(
            "text/javascript; charset=utf-8",
            page::SHOW_JS,
        )),
        other => Err(Error::NoRoute(other.to_string())),
    }
}

/// The counters and the store's totals, for Prometheus.
fn metrics(ctx: &Context, _: &Call) -> Result<Response<'static>, Error> {
    let (jobs, workers, database_bytes) = ctx.reader.stored_totals()?;
    let text = ctx.metrics.render(Stored {
        jobs,
        workers,
        database_bytes,
    });
    Ok(Response::text(text))
}

/// How long `/healthz` waits for its write to commit.
const HEALTH_WRITE_WITHIN: Duration = Duration::from_secs(2);

/// 200 when the database answers a read and a write commits, for load
/// balancers and monitors.
fn healthz(ctx: &Context, _: &Call) -> Result<Response<'static>, Error> {
    ctx.writer
        .check_file()
        .and_then(|()| ctx.reader.check_readable())
        .and_then(|()| ctx.writer.probe(HEALTH_WRITE_WITHIN))
        .map_err(Error::Unhealthy)?;
    Ok(Response::text("ok\n"))
}

fn create(ctx: &Context, call: &Call) -> Result<Response<'static>, Error> {
    let (request, create) = (call.request, CreateJob::from_form(&call.form)?);
    if !create.notify.is_empty() && !ctx.notifies {
        return Err(Error::BadParam(ParamError {
            name: "notify".into(),
            problem: "this server sends no notifications (it has no --notify-url)".into(),
        }));
    }
    let host = request
        .host
        .filter(|h| is_plain_host(h))
        .unwrap_or(&ctx.fallback_host);
    // Behind a TLS proxy (deploy/nginx-progressd.conf) the link is https.
    let scheme = match request.forwarded_proto {
        Some(proto) if proto.trim().eq_ignore_ascii_case("https") => "https",
        _ => "http",
    };
    let show = format!(
        "{scheme}://{host}/progress/show?jobid={}",
        url::form_urlencoded::byte_serialize(create.jobid.as_bytes()).collect::<String>()
    );
    let jobid = create.jobid.clone();
    ctx.writer.create(create)?;
    Ok(Response::text(format!(
        "Created job {jobid:?}; watch it at {show}\n"
    )))
}

/// A `Host` header fit to put in a link: a name or address and a port.
fn is_plain_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_:[]".contains(&b))
}

/// One update, or a batch (see [`update_batch`]).
fn update(ctx: &Context, call: &Call) -> Result<Response<'static>, Error> {
    if let Some(body) = call.batch {
        return update_batch(ctx, &call.form, body);
    }
    let update = WorkerUpdate::from_form(&call.form)?;
    ctx.writer.update(update)?;
    Ok(Response::text("OK\n"))
}

/// Several updates of one job, one per line of the body, stored in one
/// commit, all or none.
fn update_batch(ctx: &Context, query: &Form, body: &[u8]) -> Result<Response<'static>, Error> {
    let UpdateBatch { updates, lines } = UpdateBatch::parse(query, body)?;
    let count = updates.len();
    let ignored = ctx.writer.update_batch(updates).map_err(|e| match e {
        StoreError::InBatch { index, error } => match lines.get(index) {
            Some(&line) => Error::InLine {
                line,
                error: Box::new(Error::Store(*error)),
            },
            None => Error::Store(*error),
        },
        other => Error::Store(other),
    })?;
    ctx.metrics.update_batch();
    // A batch has two lines or more, so "updates" is always the word.
    Ok(Response::text(if ignored > 0 {
        format!("OK {count} updates ({ignored} not applied: seq below the stored one)\n")
    } else {
        format!("OK {count} updates\n")
    }))
}

fn status<'c>(ctx: &'c Context, call: &Call) -> Result<Response<'c>, Error> {
    let query = StatusQuery::from_form(&call.form)?;
    status::status(&ctx.reader, &query, ctx.clock.now())
}

fn history<'c>(ctx: &'c Context, call: &Call) -> Result<Response<'c>, Error> {
    let query = HistoryQuery::from_form(&call.form)?;
    status::history(&ctx.reader, &query, ctx.clock.now())
}

fn jobs(ctx: &Context, call: &Call) -> Result<Response<'static>, Error> {
    let list = ListJobs::from_form(&call.form)?;
    let (jobs, peers) = listing(ctx, list.limit, list.local)?;
    Ok(Response::json(&if list.envelope {
        json::job_list_envelope(&jobs, &peers, ctx.public_url.as_deref())
    } else {
        json::job_list(&jobs)
    }))
}

/// This server's `limit` most recent jobs, with its peers' unless `local`,
/// and how each peer answered.
fn listing(
    ctx: &Context,
    limit: u64,
    local: bool,
) -> Result<(Vec<ListedJob>, Vec<PeerReport>), Error> {
    let jobs = ctx.reader.list_jobs(limit, ctx.clock.now())?;
    Ok(match &ctx.peers {
        Some(peers) if !local => peers.add_to(jobs, limit),
        _ => (
            jobs.into_iter()
                .map(|job| ListedJob {
                    job,
                    elsewhere: None,
                })
                .collect(),
            Vec::new(),
        ),
    })
}

/// The show page: every worker's bar for a job of up to
/// `--list-all-up-to` workers, else the big-job page, made from the job's
/// summary without holding its workers.
fn show(ctx: &Context, call: &Call) -> Result<Response<'static>, Error> {
    let (show, links) = (ShowPage::from_form(&call.form)?, call.links);
    let now = ctx.clock.now();
    // One read transaction: the count decides which page, and the page
    // shows the workers counted.
    let snapshot = ctx.reader.snapshot()?;
    let Some(rows) = snapshot.find_job(&show.jobid)? else {
        return Ok(
            Response::html(page::missing_job_page(&show.jobid, show.interval, links))
                .with_status(404),
        );
    };
    let html = if rows.workers <= ctx.list_all_up_to {
        let view = page::RowView {
            problems_first: show.problems_first,
            hide_done: show.hide_done,
        };
        let roster = rows.roster;
        page::show_page(
            &rows.whole(&snapshot)?,
            now,
            show.interval,
            links,
            view,
            roster,
        )
    } else {
        let progress = rows.progress(&snapshot, now)?;
        page::big_show_page(
            &rows.job,
            (rows.workers, rows.roster),
            &progress,
            now,
            show.interval,
            links,
        )
    };
    snapshot.finish()?;
    Ok(Response::html(html))
}

/// The job as text for a terminal: every worker of a job of up to
/// `--list-all-up-to` and `limit=` workers; for a bigger one, the summary,
/// the histogram, the workers needing attention and then others in
/// natural order, `limit` in all, read a slice at a time as `status` reads
/// them, so the memory taken grows with `limit`, not with the job. With
/// `state=` or `offset=`, whatever the job's size: the summary and one
/// page of the workers in those states, in natural order.
fn show_text(ctx: &Context, call: &Call) -> Result<Response<'static>, Error> {
    let params = ShowText::from_form(&call.form)?;
    let now = ctx.clock.now();
    let mut screen = Screen::new(params.cols, params.color);
    let snapshot = ctx.reader.snapshot()?;
    let rows = snapshot
        .find_job(&params.jobid)?
        .ok_or_else(|| Error::UnknownJob(params.jobid.clone()))?;
    if let Some(page) = &params.page {
        let progress = rows.progress(&snapshot, now)?;
        let pick = WorkerPick {
            states: page.states.clone(),
            ..WorkerPick::default()
        };
        let (start, every) = (PageStart::Offset(page.offset), |_: &Worker| true);
        let listed = in_order(
            &snapshot,
            &rows,
            &pick,
            start,
            &progress,
            now,
            params.limit,
            every,
        )?;
        snapshot.finish()?;
        // A pick by state alone: the summary's counts say how many match.
        let matching = pick
            .matched(&progress, rows.workers)
            .unwrap_or(rows.workers);
        screen.summary(&rows.job, rows.workers, &progress, now);
        screen.page(page, matching, &listed, &progress, now);
        return Ok(Response::text(screen.finish()));
    }
    if rows.workers <= ctx.list_all_up_to.min(params.limit) {
        let job = rows.whole(&snapshot)?;
        snapshot.finish()?;
        return Ok(Response::text(terminal::small_job(screen, &job, now)));
    }
    let (progress, attention) = rows.progress_and_attention(&snapshot, now, params.limit)?;
    let attention: Vec<Worker> = attention.into_iter().map(|(w, _)| w).collect();
    let room = params.limit.saturating_sub(attention.len() as u64);
    let others = others_in_order(&snapshot, &rows, &progress, now, room)?;
    snapshot.finish()?;
    screen.summary(&rows.job, rows.workers, &progress, now);
    screen.histogram(&progress);
    screen.heading("Needs attention: failed, stale and slow workers, worst first");
    if attention.is_empty() {
        screen.note("none");
    }
    screen.workers(&attention, &progress, now);
    if !others.is_empty() {
        screen.heading("Other workers, in order of workid");
        screen.workers(&others, &progress, now);
    }
    let hidden = rows
        .workers
        .saturating_sub((attention.len() + others.len()) as u64);
    if hidden > 0 {
        screen.gap();
        screen.note(&format!(
            "{hidden} of {} workers not shown (limit={})",
            rows.workers, params.limit
        ));
    }
    Ok(Response::text(screen.finish()))
}

/// Up to `wanted` of the job's workers that need no attention, in natural
/// order, read a slice at a time. Called only when every worker needing
/// attention is listed already, so skipping them leaves no one out.
fn others_in_order(
    snapshot: &Snapshot,
    rows: &JobRows,
    progress: &JobProgress,
    now: Time,
    wanted: u64,
) -> Result<Vec<Worker>, StoreError> {
    let median = progress.median_rate;
    let needs_no_attention = |worker: &Worker| {
        !(matches!(worker.bar_state(now), BarState::Failed | BarState::Stale)
            || worker.is_slow(median, now))
    };
    let (pick, start) = (WorkerPick::default(), PageStart::Offset(0));
    in_order(
        snapshot,
        rows,
        &pick,
        start,
        progress,
        now,
        wanted,
        needs_no_attention,
    )
}

/// Up to `wanted` of the workers `pick` selects, from `start` on in its
/// order, that `keep` keeps: read a slice at a time, so the memory taken
/// grows with `wanted`, not with the job.
#[allow(clippy::too_many_arguments)] // one read's inputs, each named
fn in_order(
    snapshot: &Snapshot,
    rows: &JobRows,
    pick: &WorkerPick,
    mut start: PageStart,
    progress: &JobProgress,
    now: Time,
    wanted: u64,
    keep: impl Fn(&Worker) -> bool,
) -> Result<Vec<Worker>, StoreError> {
    let median = progress.median_rate;
    let mut kept = Vec::new();
    while (kept.len() as u64) < wanted {
        let page = rows.page(snapshot, pick, &start, status::SLICE, now, median)?;
        let more = page.len() as u64 == status::SLICE;
        for (worker, key) in page {
            if keep(&worker) && (kept.len() as u64) < wanted {
                kept.push(worker);
            }
            start = PageStart::After(key);
        }
        if !more {
            break;
        }
    }
    Ok(kept)
}

/// Widest picture for a job that does not exist: a small message.
const MISSING_JOB_WIDTH: u32 = 520;

fn render_png(ctx: &Context, call: &Call) -> Result<Response<'static>, Error> {
    render(ctx, call, Format::Png)
}

fn render_svg(ctx: &Context, call: &Call) -> Result<Response<'static>, Error> {
    render(ctx, call, Format::Svg)
}

/// The chart of a job, as PNG (`render`) or SVG (`render.svg`).
fn render(ctx: &Context, call: &Call, format: Format) -> Result<Response<'static>, Error> {
    let request = call.request;
    let params = RenderChart::from_form(&call.form, chart::DEFAULT_WIDTH, chart::WIDTH_RANGE)?;
    let picture = match format {
        Format::Png => Response::png,
        Format::Svg => Response::svg,
    };
    let now = ctx.clock.now();
    let snapshot = ctx.reader.snapshot()?;
    let Some(found) = snapshot.find_job(&params.jobid)? else {
        let title = format!("No job “{}” yet", params.jobid);
        let message = chart::render_message(
            &title,
            "It has not been created yet, or it was deleted or expired.",
            params.width.min(MISSING_JOB_WIDTH),
            now,
            format,
        )
        .map_err(Error::Chart)?;
        return Ok(picture(message).with_status(404));
    };
    // One pass over the workers, holding at most a bar's worth of each,
    // and reading of each only what its bar draws.
    let mut tally = ProgressTally::new(now);
    let mut rows = chart::Rows::new(usize::try_from(found.workers).unwrap_or(usize::MAX), now);
    let (whole, per_bar) = (rows.keeps_workers(), rows.per_bar());
    let mut add = |w: &Worker| {
        let drawn = w.drawn(now);
        tally.add_drawn(w, drawn);
        rows.add_drawn(w, drawn);
    };
    if whole {
        found.for_each_worker(&snapshot, |w| add(&w))?;
    } else {
        found.for_each_figures(&snapshot, per_bar, add)?;
    }
    snapshot.finish()?;
    let input = chart::ChartInput {
        job: &found.job,
        progress: tally.finish(),
        rows,
    };
    // The format is part of the version, so the PNG and the SVG of a job
    // have different tags, and different entries in the render cache.
    let etag = chart::version_of(&input, now, params.width, format);
    // Weak comparison, as RFC 9110 asks for If-None-Match.
    let etag_matches = request.if_none_match.is_some_and(|tags| {
        tags.split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == etag || t == "*")
    });
    if etag_matches {
        return Ok(picture(Vec::new()).not_modified(etag));
    }
    let bytes = match ctx.renders.get(&etag) {
        Some(bytes) => bytes,
        None => {
            let bytes = chart::render(&input, now, params.width, format).map_err(Error::Chart)?;
            let bytes = Arc::new(bytes);
            ctx.renders.put(etag.clone(), Arc::clone(&bytes));
            bytes
        }
    };
    Ok(picture(bytes.to_vec()).with_etag(etag))
}

fn index(ctx: &Context, call: &Call) -> Result<Response<'static>, Error> {
    let (jobs, peers) = listing(ctx, DEFAULT_LIST_LIMIT, false)?;
    let now = ctx.clock.now();
    Ok(Response::html(page::index_page(
        &jobs, &peers, now, call.links,
    )))
}

fn delete(ctx: &Context, call: &Call) -> Result<Response<'static>, Error> {
    let job = JobRef::from_form(&call.form)?;
    let jobid = job.jobid.clone();
    if ctx.writer.delete(job)? {
        Ok(Response::text(format!("Deleted job {jobid:?}\n")))
    } else {
        Err(Error::UnknownJob(jobid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_hosts_only() {
        assert!(is_plain_host("localhost:8080"));
        assert!(is_plain_host("[::1]:8080"));
        assert!(is_plain_host("head-node.example.org"));
        assert!(!is_plain_host(""));
        assert!(!is_plain_host("evil.com/<script>"));
        assert!(!is_plain_host("a b"));
    }
}
