//! Every tiny_http call: bind, a pool of request threads on one shared
//! `Server`, request/response conversion, `catch_unwind` as the last-resort
//! 500, and clean shutdown.
//!
//! Each request thread owns its read connection and a writer handle (the
//! `routes::Context`), so handlers never share a connection or take a lock.

use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use tiny_http::{Header, Limits, Server};

use crate::error::Error;
use crate::format::one_line;
use crate::response::{Body, Response};
use crate::routes::{self, Context, Method, Request};

/// Largest POST body read, in bytes (64 KiB, what the connection's thread
/// reads before handing a request over): a form with every field at its
/// limit fits many times over.
pub const MAX_BODY_BYTES: usize = tiny_http::EAGER_BODY_BYTES;

/// The Content-Security-Policy of every response.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'";

/// How long a shutdown keeps answering after the listener closed, once no
/// request is in flight: requests still arriving on open connections (sent
/// just before the signal) get answered.
const SHUTDOWN_QUIET: Duration = Duration::from_millis(100);

/// The longest a shutdown waits for that quiet moment before it stops the
/// request threads anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// The request threads of a running server.
pub struct HttpServer {
    server: Arc<Server>,
    addr: SocketAddr,
    state: Arc<ServeState>,
    threads: Vec<JoinHandle<()>>,
}

/// What the request threads share with the shutdown.
#[derive(Default)]
struct ServeState {
    /// Set once the threads should end when they next find no request.
    stopping: AtomicBool,
    /// Requests being answered right now.
    in_flight: AtomicUsize,
    /// Requests answered so far; a shutdown watches it for quiet.
    answered: AtomicUsize,
}

impl HttpServer {
    /// Serves on a bound listener with `contexts.len()` request threads,
    /// one per context, and at most `max_connections` connections open.
    ///
    /// `request_timeout` bounds how long a request may take to arrive
    /// (counting the wait for it on a kept-alive connection) and a response
    /// to be sent, before the connection is closed and its thread freed: a
    /// deadline for the whole request, not a per-read timeout, so a client
    /// trickling a byte at a time is cut off too.
    ///
    /// `max_unsent_bytes` bounds the answers kept, over all connections,
    /// for clients that did not take them at once; an answer that would
    /// pass it is cut short and its connection closed, so that clients
    /// that never read cannot make the server hold a large answer for
    /// each open connection.
    pub fn start(
        listener: TcpListener,
        contexts: Vec<Context>,
        max_connections: usize,
        request_timeout: Duration,
        max_unsent_bytes: usize,
    ) -> std::io::Result<HttpServer> {
        let addr = listener.local_addr()?;
        let limits = Limits {
            timeout: Some(request_timeout),
            max_connections: Some(max_connections),
            max_unsent_bytes: Some(max_unsent_bytes),
        };
        let server = Arc::new(
            Server::from_listener_with_limits(listener, limits).map_err(std::io::Error::other)?,
        );
        // Every context shares one `Metrics`; /metrics reads from the
        // server what it keeps for clients that read slowly.
        if let Some(ctx) = contexts.first() {
            let watched = Arc::downgrade(&server);
            ctx.metrics.watch_unsent_bytes(move || {
                watched
                    .upgrade()
                    .map_or(0, |server| server.unsent_bytes() as u64)
            });
        }
        let state = Arc::new(ServeState::default());
        let mut threads = Vec::with_capacity(contexts.len());
        for (i, ctx) in contexts.into_iter().enumerate() {
            let server = Arc::clone(&server);
            let state = Arc::clone(&state);
            threads.push(
                thread::Builder::new()
                    .name(format!("progressd-http-{i}"))
                    .spawn(move || serve(&server, &state, &ctx))?,
            );
        }
        Ok(HttpServer {
            server,
            addr,
            state,
            threads,
        })
    }

    /// The address actually bound (the real port when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Closes the listener, keeps answering until requests stop arriving on
    /// the connections already open and the answers already made have been
    /// sent (or `SHUTDOWN_GRACE` passes), lets the requests already received
    /// finish, then stops every request thread.
    pub fn shutdown(self) {
        self.server.stop_accepting();
        let started = Instant::now();
        let mut seen = self.state.answered.load(Ordering::SeqCst);
        let mut quiet_since = Instant::now();
        while started.elapsed() < SHUTDOWN_GRACE {
            thread::sleep(SHUTDOWN_QUIET / 5);
            let answered = self.state.answered.load(Ordering::SeqCst);
            // An answer the client reads slowly is sent by a thread of its
            // own after its request thread has moved on.
            let busy = self.state.in_flight.load(Ordering::SeqCst) > 0
                || self.server.answers_being_sent() > 0;
            if answered != seen || busy {
                seen = answered;
                quiet_since = Instant::now();
            } else if quiet_since.elapsed() >= SHUTDOWN_QUIET {
                break;
            }
        }
        self.state.stopping.store(true, Ordering::SeqCst);
        // Each unblock wakes exactly one thread blocked in recv().
        for _ in &self.threads {
            self.server.unblock();
        }
        for thread in self.threads {
            if thread.join().is_err() {
                log::error!("a request thread panicked outside a handler");
            }
        }
    }
}

/// Counts a request in flight, and as answered once it ends (even by a
/// panic outside the handler's `catch_unwind`), for the shutdown's wait.
struct InFlight<'a>(&'a ServeState);

impl InFlight<'_> {
    fn start(state: &ServeState) -> InFlight<'_> {
        state.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(state)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.0.answered.fetch_add(1, Ordering::SeqCst);
    }
}

fn serve(server: &Server, state: &ServeState, ctx: &Context) {
    loop {
        match server.recv() {
            Ok(request) => {
                let _counted = InFlight::start(state);
                answer(ctx, request);
            }
            Err(_) if state.stopping.load(Ordering::SeqCst) => return,
            Err(e) => log::warn!("accepting a request failed: {e}"),
        }
    }
}

fn answer(ctx: &Context, mut request: tiny_http::Request) {
    let started = Instant::now();
    let method = match request.method() {
        tiny_http::Method::Get => Method::Get,
        tiny_http::Method::Head => Method::Head,
        tiny_http::Method::Post => Method::Post,
        _ => Method::Other,
    };
    let body = if method == Method::Post {
        read_body(&mut request)
    } else {
        Ok(Vec::new())
    };
    let url = request.url().to_string();
    let target = origin_form(&url);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let host = header(&request, "Host");
    let if_none_match = header(&request, "If-None-Match");
    let authorization = header(&request, "Authorization");
    let forwarded_proto = header(&request, "X-Forwarded-Proto");
    let result = body.and_then(|body| {
        let routed = Request {
            method,
            path,
            query: query.as_bytes(),
            body: &body,
            host: host.as_deref(),
            if_none_match: if_none_match.as_deref(),
            authorization: authorization.as_deref(),
            forwarded_proto: forwarded_proto.as_deref(),
        };
        catch_unwind(AssertUnwindSafe(|| routes::handle(ctx, &routed))).unwrap_or_else(|_| {
            log::error!("handler panicked on {path}");
            Err(Error::Panic)
        })
    });
    let response = result.unwrap_or_else(|error| {
        if error.is_fault() {
            log::error!("{} {path}: {}", error.status(), cause_chain(&error));
        }
        Response::error(&error)
    });
    let status = response.status;
    let method_name = request.method().to_string();
    // This writes what the socket takes at once and leaves the rest to a
    // thread of tiny_http's, so it never waits for the client to read (see
    // vendor/tiny_http/PATCHES.md), and `took` is the time to make the
    // answer, not to deliver it. A failed send means the client went away,
    // or the rest would have passed --max-unsent-mib and the connection
    // was closed (tiny_http logs that); there is no one to tell.
    let _ = request.respond(to_tiny_http(response));
    let took = started.elapsed();
    ctx.metrics.request(routes::route_of(path), status, took);
    // The path only: a token travels in the query string or a header (and
    // one pasted into the path by mistake is cut out).
    log::info!(
        "{} {} {status} {:.1} ms",
        one_line(&method_name, 20),
        one_line(without_token(path), 200),
        took.as_secs_f64() * 1000.0
    );
}

/// The path and query of a request target; an absolute-form target
/// (`http://host/path?q`, which HTTP/1.1 servers must accept) loses its
/// scheme and authority.
fn origin_form(target: &str) -> &str {
    let Some((_, rest)) = target.split_once("://").filter(|(scheme, _)| {
        scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")
    }) else {
        return target;
    };
    rest.find(['/', '?']).map_or("/", |i| &rest[i..])
}

/// `path` up to a `token=` in it, if any.
fn without_token(path: &str) -> &str {
    path.find("token=")
        .map_or(path, |at| &path[..at + "token=".len()])
}

fn header(request: &tiny_http::Request, name: &'static str) -> Option<String> {
    request
        .headers()
        .iter()
        .find(|h| h.field.equiv(name))
        .map(|h| h.value.as_str().to_string())
}

/// Reads a POST body of an accepted type, refusing one over the limit
/// before reading it.
fn read_body(request: &mut tiny_http::Request) -> Result<Vec<u8>, Error> {
    if let Some(kind) = header(request, "Content-Type") {
        let essence = kind
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !matches!(
            essence.as_str(),
            "" | "application/x-www-form-urlencoded" | "text/plain"
        ) {
            return Err(Error::UnsupportedBody(essence));
        }
    }
    let too_large = Error::BodyTooLarge {
        limit: MAX_BODY_BYTES,
    };
    if request.body_length().is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(too_large);
    }
    // The connection's thread has already read the body (one byte past the
    // limit of a chunked one says it is too large), so this never waits for
    // the client; see vendor/tiny_http/PATCHES.md.
    let mut body = Vec::new();
    request
        .as_reader()
        .take(MAX_BODY_BYTES as u64 + 1)
        .read_to_end(&mut body)
        .map_err(Error::BodyUnreadable)?;
    if body.len() > MAX_BODY_BYTES {
        return Err(too_large);
    }
    Ok(body)
}

fn cause_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn to_tiny_http(response: Response<'_>) -> tiny_http::Response<Box<dyn Read + '_>> {
    let (data, length): (Box<dyn Read + '_>, _) = match response.body {
        Body::Bytes(bytes) => {
            let length = bytes.len();
            (Box::new(std::io::Cursor::new(bytes)), Some(length))
        }
        // Sent chunked, as it is made.
        Body::Stream(reader) => (reader, None),
    };
    let mut out = tiny_http::Response::new(
        tiny_http::StatusCode(response.status),
        Vec::new(),
        data,
        length,
        None,
    );
    let cache_control = (!response.headers.iter().any(|(n, _)| *n == "Cache-Control"))
        .then(|| ("Cache-Control", "no-store".to_string()));
    let fixed = [
        ("Content-Type", response.content_type.to_string()),
        ("X-Content-Type-Options", "nosniff".to_string()),
        // Scripts and styles only from this server, no inline ones; data
        // fetched only from here.
        ("Content-Security-Policy", CSP.to_string()),
        // A page opened with ?token= must not hand the token on to another
        // site in a Referer header.
        ("Referrer-Policy", "no-referrer".to_string()),
    ];
    for (name, value) in fixed
        .into_iter()
        .chain(cache_control)
        .chain(response.headers)
    {
        // Header values are ours (no client text), so this only fails on a
        // bug; such a header is dropped rather than the response.
        match Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            Ok(h) => out.add_header(h),
            Err(()) => log::error!("invalid response header {name}: {value:?}"),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_pasted_into_a_path_are_cut_out() {
        assert_eq!(without_token("/progress/jobs"), "/progress/jobs");
        assert_eq!(
            without_token("/progress/x&token=secret"),
            "/progress/x&token="
        );
    }

    #[test]
    fn absolute_form_targets_lose_scheme_and_authority() {
        assert_eq!(origin_form("/progress/jobs?x=1"), "/progress/jobs?x=1");
        assert_eq!(
            origin_form("http://h:8080/progress/jobs?x=1"),
            "/progress/jobs?x=1"
        );
        assert_eq!(origin_form("HTTPS://h/p"), "/p");
        assert_eq!(origin_form("http://h"), "/");
        // A path that merely contains :// stays a path.
        assert_eq!(
            origin_form("/progress/show?jobid=http://x"),
            "/progress/show?jobid=http://x"
        );
    }
}
