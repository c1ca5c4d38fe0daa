use std::io::Error as IoError;
use std::io::{self, Cursor, ErrorKind, Read, Write};

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use std::sync::mpsc::{self, Sender};
use std::sync::Arc;
use std::thread;

use crate::util::{BudgetShare, UnsentBudget, WriteSwitches};

use crate::{HTTPVersion, Header, Method, Response, StatusCode};
use chunked_transfer::Decoder;

/// Represents an HTTP request made by a client.
///
/// A `Request` object is what is produced by the server, and is your what
/// your code must analyse and answer.
///
/// This object implements the `Send` trait, therefore you can dispatch your requests to
/// worker threads.
///
/// # Pipelining
///
/// If a client sends multiple requests in a row (without waiting for the response), then you will
/// get multiple `Request` objects simultaneously. This is called *requests pipelining*.
/// Tiny-http automatically reorders the responses so that you don't need to worry about the order
/// in which you call `respond` or `into_writer`.
///
/// This mechanic is disabled if:
///
///  - The body of a request is large enough (handling requires pipelining requires storing the
///    body of the request in a buffer ; if the body is too big, tiny-http will avoid doing that)
///  - A request sends a `Expect: 100-continue` header (which means that the client waits to
///    know whether its body will be processed before sending it)
///  - A request sends a `Connection: close` header or `Connection: upgrade` header (used for
///    websockets), which indicates that this is the last request that will be received on this
///    connection
///
/// # Automatic cleanup
///
/// If a `Request` object is destroyed without `into_writer` or `respond` being called,
/// an empty response with a 500 status code (internal server error) will automatically be
/// sent back to the client.
/// This means that if your code fails during the handling of a request, this "internal server
/// error" response will automatically be sent during the stack unwinding.
pub struct Request {
    // where to read the body from
    data_reader: Option<Box<dyn Read + Send + 'static>>,

    // if this writer is empty, then the request has been answered
    response_writer: Option<Box<dyn Write + Send + 'static>>,

    remote_addr: Option<SocketAddr>,

    method: Method,

    path: String,

    http_version: HTTPVersion,

    headers: Vec<Header>,

    body_length: Option<usize>,

    // true if a `100 Continue` response must be sent when `as_reader()` is called
    must_send_continue: bool,

    // If Some, a message must be sent after responding
    notify_when_responded: Option<Responded>,
}

/// progressd: what a connection learns when its request is answered: a
/// message (the connection waits for it before handing over the next
/// request), and its read deadline restarts, having been paused while the
/// server worked on this one. Dropping it is the signal, so that no path
/// (a panic while answering included) leaves the connection waiting for
/// ever, and no path sends it twice. With it come what the answer needs to
/// reach the client without its request thread waiting for the client to
/// read.
pub(crate) struct Responded {
    pub(crate) sender: Sender<()>,
    pub(crate) read_deadline: Arc<crate::util::Deadline>,
    /// The connection's switches for writes that must not wait, and for
    /// closing it after an answer cut short.
    pub(crate) switches: Arc<WriteSwitches>,
    /// The server's answers whose rest a thread of its own is still
    /// sending, and its budget for the bytes they hold (see `Unsent`).
    pub(crate) unsent: Arc<UnsentBudget>,
    /// Keeps the connection counted as open (against the server's cap)
    /// while the answer is being sent, after the connection's own thread
    /// may have ended (the client closed its side, or said
    /// `Connection: close`). So the cap bounds the sending threads too.
    pub(crate) _open: Arc<crate::OpenConnection>,
}

impl Drop for Responded {
    fn drop(&mut self) {
        // An answer a panic cut short must not pass for whole, nor the
        // next answer on the connection for its rest: the next write or
        // flush on it closes it (with no answer pipelined behind, that is
        // the 408 when the client has waited out the read deadline).
        if thread::panicking() {
            self.switches.close();
        }
        self.read_deadline.resume();
        // The connection may be gone; nothing to tell then.
        let _ = self.sender.send(());
    }
}

/// progressd: room for the head of an answer (status line and headers) in
/// the bound of what is left of it to send; progressd's take under 1 KiB.
/// A larger head makes the kept bytes grow once, within the budget still.
const HEAD_ROOM: usize = 4 * 1024;

/// progressd: the size of the chunks `Response::raw_print` sends a body in
/// when it is chunked (answers of 32 KiB and more, to HTTP/1.1 clients):
/// `chunked_transfer::Encoder`'s. Each chunk adds a size line and a CRLF
/// of at most 8 bytes, and the last chunk 5 bytes.
const CHUNK_BYTES: usize = 8192;

/// progressd: the most bytes an answer whose body has `length` bytes takes
/// to send, head and chunking included.
fn wire_size_bound(length: usize, head_only: bool) -> usize {
    if head_only {
        return HEAD_ROOM;
    }
    let chunking = (length / CHUNK_BYTES + 1).saturating_mul(8) + 5;
    HEAD_ROOM.saturating_add(length).saturating_add(chunking)
}

/// progressd: the error of an answer dropped for the budget.
fn over_budget() -> IoError {
    IoError::new(
        ErrorKind::OutOfMemory,
        "over the server's budget for bytes kept for clients that read slowly",
    )
}

/// progressd: the writer of an answer on its request thread. It writes as
/// far as the socket takes the bytes at once; from the first write that
/// would wait for the client on, it keeps the bytes, in order, for a thread
/// of their own to send (see `Unsent`), or drops them if they would pass the
/// server's budget for kept bytes.
struct WriteWithoutWaiting<'a, W> {
    writer: W,
    /// Bytes the socket (or the writer's buffer) has taken.
    taken: usize,
    /// The most bytes the whole answer takes, when its length is known.
    size_bound: Option<usize>,
    budget: &'a Arc<UnsentBudget>,
    rest: Rest,
}

/// progressd: what became of the bytes the socket did not take at once.
enum Rest {
    /// None so far: the socket took every byte.
    AllTaken,
    /// Kept for a thread of their own to send.
    Kept(Kept),
    /// Dropped: keeping them would have passed the budget; `needed` is
    /// what they would have held.
    Dropped { needed: usize },
}

impl<W: Write> WriteWithoutWaiting<'_, W> {
    /// Starts keeping, with `first`, room for `left` bytes, taken from the
    /// budget at once so the bytes never grow a chunk at a time.
    fn keep(&mut self, first: &[u8], left: usize) -> io::Result<()> {
        let left = left.max(first.len());
        match Kept::new(self.budget, left, first) {
            Some(kept) => {
                self.rest = Rest::Kept(kept);
                Ok(())
            }
            None => {
                self.rest = Rest::Dropped { needed: left };
                Err(over_budget())
            }
        }
    }
}

impl<W: Write> Write for WriteWithoutWaiting<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.rest {
            Rest::AllTaken => {}
            Rest::Kept(kept) => {
                return match kept.push(buf) {
                    Ok(()) => Ok(buf.len()),
                    Err(needed) => {
                        self.rest = Rest::Dropped { needed };
                        Err(over_budget())
                    }
                };
            }
            Rest::Dropped { .. } => return Err(over_budget()),
        }
        match self.writer.write(buf) {
            // Nothing of `buf` went out (a `BufWriter` may still hold bytes
            // written before it; it sends those first).
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                // All that is left, when the answer's length is known.
                let left = self.size_bound.map_or(0, |b| b.saturating_sub(self.taken));
                self.keep(buf, left).map(|()| buf.len())
            }
            Ok(n) => {
                self.taken += n;
                Ok(n)
            }
            other => other,
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.rest {
            Rest::AllTaken => {}
            // The thread that sends the rest flushes.
            Rest::Kept(_) => return Ok(()),
            Rest::Dropped { .. } => return Err(over_budget()),
        }
        match self.writer.flush() {
            Err(e) if e.kind() == ErrorKind::WouldBlock => self.keep(&[], 0),
            other => other,
        }
    }
}

/// progressd: the bytes of an answer kept for sending, with the share of
/// the server's budget they hold, which goes back when they are dropped:
/// however the sending ends (sent, failed, timed out, or a panic).
struct Kept {
    bytes: Vec<u8>,
    /// Covers the capacity of `bytes`.
    share: BudgetShare,
}

impl Kept {
    /// Room for `capacity` bytes, taken from `budget`, holding `first`;
    /// None when they do not fit in it.
    fn new(budget: &Arc<UnsentBudget>, capacity: usize, first: &[u8]) -> Option<Kept> {
        let share = budget.take(capacity)?;
        let mut bytes = Vec::with_capacity(capacity);
        bytes.extend_from_slice(first);
        Some(Kept { bytes, share })
    }

    /// Appends `buf`, first taking more of the budget if it has no room
    /// (only when the answer's length was not known, or its head was
    /// larger than `HEAD_ROOM`); Err(what the bytes would hold) when that
    /// does not fit.
    fn push(&mut self, buf: &[u8]) -> Result<(), usize> {
        let needed = self.bytes.len().saturating_add(buf.len());
        let room = self.share.bytes();
        if needed > room {
            let grown = needed.max(room.saturating_mul(2));
            if !self.share.grow(grown - room) {
                return Err(grown);
            }
            self.bytes.reserve_exact(grown - self.bytes.len());
        }
        self.bytes.extend_from_slice(buf);
        Ok(())
    }

    /// Gives back to the budget the room the bytes do not use.
    fn fit(&mut self) {
        self.bytes.shrink_to_fit();
        self.share.shrink_to(self.bytes.capacity());
    }
}

/// progressd: stack of a thread that sends the rest of an answer: it only
/// writes bytes already made.
const SENDER_STACK_BYTES: usize = 64 * 1024;

/// progressd: the rest of an answer that the socket did not take at once,
/// sent by a thread of its own under the response deadline, so that the
/// request thread that made it is free for other requests. The connection
/// hands over its next request only once this one is sent (one request in
/// flight), so there is at most one such thread per open connection.
struct Unsent {
    writer: Box<dyn Write + Send + 'static>,
    kept: Kept,
    responded: Responded,
}

impl Unsent {
    /// Sends the rest on a new thread (on this one, as before, if none can
    /// be started).
    fn send_in_background(self) {
        // The channel gives the answer back if the thread cannot start.
        let (handing, taking) = mpsc::channel::<Unsent>();
        let spawned = thread::Builder::new()
            .stack_size(SENDER_STACK_BYTES)
            .spawn(move || {
                if let Ok(unsent) = taking.recv() {
                    unsent.send();
                }
            });
        let unsent = match spawned {
            Ok(_) => match handing.send(self) {
                Ok(()) => return,
                Err(mpsc::SendError(unsent)) => unsent,
            },
            Err(e) => {
                log::error!("cannot start a thread to send an answer: {}", e);
                self
            }
        };
        unsent.send();
    }

    /// Sends the rest, waiting for the client as long as the response
    /// deadline allows (which closes the connection when it passes), then
    /// lets the connection go on.
    fn send(self) {
        let Unsent {
            mut writer,
            kept,
            responded,
        } = self;
        let sent = writer.write_all(&kept.bytes).and_then(|()| writer.flush());
        if let Err(e) = Request::ignore_client_closing_errors(sent) {
            log::debug!("the rest of an answer was not sent: {}", e);
        }
        // The writer first: its drop lets the next answer's writer write.
        // Then the bytes and their share of the budget, then the signal.
        drop(writer);
        drop(kept);
        drop(responded);
    }
}

struct NotifyOnDrop<R> {
    sender: Option<Responded>,
    inner: R,
}

impl<R: Read> Read for NotifyOnDrop<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}
impl<R: Write> Write for NotifyOnDrop<R> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
impl<R> Drop for NotifyOnDrop<R> {
    fn drop(&mut self) {
        // Tells the connection (see `Responded`) before `inner` goes.
        drop(self.sender.take());
    }
}

/// Error that can happen when building a `Request` object.
#[derive(Debug)]
pub enum RequestCreationError {
    /// The client sent an `Expect` header that was not recognized by tiny-http.
    ExpectationFailed,

    /// Error while reading data from the socket during the creation of the `Request`.
    CreationIoError(IoError),
}

impl From<IoError> for RequestCreationError {
    fn from(err: IoError) -> RequestCreationError {
        RequestCreationError::CreationIoError(err)
    }
}

/// Builds a new request.
///
/// After the request line and headers have been read from the socket, a new `Request` object
/// is built.
///
/// You must pass a `Read` that will allow the `Request` object to read from the incoming data.
/// It is the responsibility of the `Request` to read only the data of the request and not further.
///
/// progressd: the largest body read before the request is handed over;
/// a larger one is not read at all.
pub const EAGER_BODY_BYTES: usize = 64 * 1024;

/// The `Write` object will be used by the `Request` to write the response.
pub fn new_request<R, W>(
    method: Method,
    path: String,
    version: HTTPVersion,
    headers: Vec<Header>,
    remote_addr: Option<SocketAddr>,
    mut source_data: R,
    writer: W,
) -> Result<Request, RequestCreationError>
where
    R: Read + Send + 'static,
    W: Write + Send + 'static,
{
    // finding the transfer-encoding header
    let transfer_encoding = headers
        .iter()
        .find(|h: &&Header| h.field.equiv("Transfer-Encoding"))
        .map(|h| h.value.clone());

    // finding the content-length header
    let content_length = if transfer_encoding.is_some() {
        // if transfer-encoding is specified, the Content-Length
        // header must be ignored (RFC2616 #4.4)
        None
    } else {
        headers
            .iter()
            .find(|h: &&Header| h.field.equiv("Content-Length"))
            .and_then(|h| FromStr::from_str(h.value.as_str()).ok())
    };

    // true if the client sent a `Expect: 100-continue` header
    let expects_continue = {
        match headers
            .iter()
            .find(|h: &&Header| h.field.equiv("Expect"))
            .map(|h| h.value.as_str())
        {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("100-continue") => true,
            _ => return Err(RequestCreationError::ExpectationFailed),
        }
    };

    // progressd: the body is read here, on the connection's own thread
    // under its deadline, or not at all, so a request thread never waits
    // for a client's bytes. Was: bodies up to 1 KiB read here; larger ones,
    // `100-continue` ones and chunked ones read (or drained) later on the
    // thread answering the request, and after `Connection: upgrade` the
    // rest of the connection handed over as the body. progressd never
    // upgrades, so the body is framed the same way there too.
    let mut writer = writer;
    let mut continued = false;
    let mut send_continue = |writer: &mut W| -> io::Result<()> {
        if expects_continue && !continued {
            continued = true;
            writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
            writer.flush()?;
        }
        Ok(())
    };
    let body: Vec<u8> = match content_length {
        Some(0) => Vec::new(),
        Some(n) if n <= EAGER_BODY_BYTES => {
            send_continue(&mut writer)?;
            let mut buffer = vec![0; n];
            source_data.read_exact(&mut buffer).map_err(|e| {
                if e.kind() == ErrorKind::UnexpectedEof {
                    IoError::new(
                        ErrorKind::ConnectionAborted,
                        "Connection has been closed before we received enough data",
                    )
                } else {
                    e
                }
            })?;
            buffer
        }
        // Too large to take: left unread, and the connection is closed
        // after the answer (a 413 from whoever reads `body_length`).
        Some(_) => Vec::new(),
        None if transfer_encoding.is_some() => {
            // Chunked (the only coding the connection accepts). One byte
            // past the limit tells the reader it is too large; the
            // connection is closed after chunked requests.
            send_continue(&mut writer)?;
            let mut buffer = Vec::new();
            Decoder::new(&mut source_data)
                .take(EAGER_BODY_BYTES as u64 + 1)
                .read_to_end(&mut buffer)?;
            buffer
        }
        None => Vec::new(),
    };
    let reader = Box::new(Cursor::new(body)) as Box<dyn Read + Send + 'static>;

    Ok(Request {
        data_reader: Some(reader),
        response_writer: Some(Box::new(writer) as Box<dyn Write + Send + 'static>),
        remote_addr,
        method,
        path,
        http_version: version,
        headers,
        body_length: content_length,
        // progressd: sent above, when the body was read.
        must_send_continue: false,
        notify_when_responded: None,
    })
}

impl Request {
    /// Returns the method requested by the client (eg. `GET`, `POST`, etc.).
    #[inline]
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// Returns the resource requested by the client.
    #[inline]
    pub fn url(&self) -> &str {
        &self.path
    }

    /// Returns a list of all headers sent by the client.
    #[inline]
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// Returns the HTTP version of the request.
    #[inline]
    pub fn http_version(&self) -> &HTTPVersion {
        &self.http_version
    }

    /// Returns the length of the body in bytes.
    ///
    /// Returns `None` if the length is unknown.
    #[inline]
    pub fn body_length(&self) -> Option<usize> {
        self.body_length
    }

    /// Returns the address of the client that sent this request.
    ///
    /// The address is always `Some` for TCP listeners, but always `None` for UNIX listeners
    /// (as the remote address of a UNIX client is almost always unnamed).
    ///
    /// Note that this is gathered from the socket. If you receive the request from a proxy,
    /// this function will return the address of the proxy and not the address of the actual
    /// user.
    #[inline]
    pub fn remote_addr(&self) -> Option<&SocketAddr> {
        self.remote_addr.as_ref()
    }

    /// Sends a response with a `Connection: upgrade` header, then turns the `Request` into a `Stream`.
    ///
    /// The main purpose of this function is to support websockets.
    /// If you detect that the request wants to use some kind of protocol upgrade, you can
    ///  call this function to obtain full control of the socket stream.
    ///
    /// If you call this on a non-websocket request, tiny-http will wait until this `Stream` object
    ///  is destroyed before continuing to read or write on the socket. Therefore you should always
    ///  destroy it as soon as possible.
    pub fn upgrade<R: Read>(
        mut self,
        protocol: &str,
        response: Response<R>,
    ) -> Box<dyn ReadWrite + Send> {
        use crate::util::CustomStream;

        response
            .raw_print(
                self.response_writer.as_mut().unwrap().by_ref(),
                self.http_version.clone(),
                &self.headers,
                false,
                Some(protocol),
            )
            .ok(); // TODO: unused result

        self.response_writer.as_mut().unwrap().flush().ok(); // TODO: unused result

        let stream = CustomStream::new(self.extract_reader_impl(), self.extract_writer_impl());
        if let Some(sender) = self.notify_when_responded.take() {
            let stream = NotifyOnDrop {
                sender: Some(sender),
                inner: stream,
            };
            Box::new(stream) as Box<dyn ReadWrite + Send>
        } else {
            Box::new(stream) as Box<dyn ReadWrite + Send>
        }
    }

    /// Allows to read the body of the request.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # extern crate rustc_serialize;
    /// # extern crate tiny_http;
    /// # use rustc_serialize::json::Json;
    /// # use std::io::Read;
    /// # fn get_content_type(_: &tiny_http::Request) -> &'static str { "" }
    /// # fn main() {
    /// # let server = tiny_http::Server::http("0.0.0.0:0").unwrap();
    /// let mut request = server.recv().unwrap();
    ///
    /// if get_content_type(&request) == "application/json" {
    ///     let mut content = String::new();
    ///     request.as_reader().read_to_string(&mut content).unwrap();
    ///     let json: Json = content.parse().unwrap();
    /// }
    /// # }
    /// ```
    ///
    /// If the client sent a `Expect: 100-continue` header with the request, calling this
    ///  function will send back a `100 Continue` response.
    #[inline]
    pub fn as_reader(&mut self) -> &mut dyn Read {
        if self.must_send_continue {
            let msg = Response::new_empty(StatusCode(100));
            msg.raw_print(
                self.response_writer.as_mut().unwrap().by_ref(),
                self.http_version.clone(),
                &self.headers,
                true,
                None,
            )
            .ok();
            self.response_writer.as_mut().unwrap().flush().ok();
            self.must_send_continue = false;
        }

        self.data_reader.as_mut().unwrap()
    }

    /// Turns the `Request` into a writer.
    ///
    /// The writer has a raw access to the stream to the user.
    /// This function is useful for things like CGI.
    ///
    /// Note that the destruction of the `Writer` object may trigger
    /// some events. For exemple if a client has sent multiple requests and the requests
    /// have been processed in parallel, the destruction of a writer will trigger
    /// the writing of the next response.
    /// Therefore you should always destroy the `Writer` as soon as possible.
    #[inline]
    pub fn into_writer(mut self) -> Box<dyn Write + Send + 'static> {
        let writer = self.extract_writer_impl();
        if let Some(sender) = self.notify_when_responded.take() {
            let writer = NotifyOnDrop {
                sender: Some(sender),
                inner: writer,
            };
            Box::new(writer) as Box<dyn Write + Send + 'static>
        } else {
            writer
        }
    }

    /// Extract the response `Writer` object from the Request, dropping this `Writer` has the same side effects
    /// as the object returned by `into_writer` above.
    ///
    /// This may only be called once on a single request.
    fn extract_writer_impl(&mut self) -> Box<dyn Write + Send + 'static> {
        use std::mem;

        assert!(self.response_writer.is_some());

        let mut writer = None;
        mem::swap(&mut self.response_writer, &mut writer);
        writer.unwrap()
    }

    /// Extract the body `Reader` object from the Request.
    ///
    /// This may only be called once on a single request.
    fn extract_reader_impl(&mut self) -> Box<dyn Read + Send + 'static> {
        use std::mem;

        assert!(self.data_reader.is_some());

        let mut reader = None;
        mem::swap(&mut self.data_reader, &mut reader);
        reader.unwrap()
    }

    /// Sends a response to this request.
    ///
    /// progressd: on a connection, this writes only what the socket takes
    /// at once; the rest goes to a thread of its own (see `Unsent`), so the
    /// calling thread never waits for the client to read. A rest that
    /// would pass the server's budget for such bytes
    /// (`Limits::max_unsent_bytes`) is dropped instead, the connection
    /// closed, and an `OutOfMemory` error returned.
    #[inline]
    pub fn respond<R>(mut self, response: Response<R>) -> Result<(), IoError>
    where
        R: Read,
    {
        self.respond_impl(response)
    }

    /// progressd: also tells the connection it was answered (was done by
    /// the callers), now or, if a thread sends the rest, once that is sent.
    fn respond_impl<R>(&mut self, response: Response<R>) -> Result<(), IoError>
    where
        R: Read,
    {
        let writer = self.extract_writer_impl();
        let responded = self.notify_when_responded.take();

        let do_not_send_body = self.method == Method::Head;

        let Some(responded) = responded else {
            // Not handed over by a connection (`new_request` alone; no
            // caller makes one so any more): written as before.
            let mut writer = writer;
            Self::ignore_client_closing_errors(response.raw_print(
                writer.by_ref(),
                self.http_version.clone(),
                &self.headers,
                do_not_send_body,
                None,
            ))?;
            return Self::ignore_client_closing_errors(writer.flush());
        };

        // The most it takes, so that what is left is kept in one piece
        // (`raw_print` sends no body with these statuses).
        let head_only =
            do_not_send_body || matches!(response.status_code().0, 100..=199 | 204 | 304);
        let size_bound = response
            .data_length()
            .map(|length| wire_size_bound(length, head_only));
        responded.switches.set_no_wait(true);
        let mut out = WriteWithoutWaiting {
            writer,
            taken: 0,
            size_bound,
            budget: &responded.unsent,
            rest: Rest::AllTaken,
        };
        let printed = response
            .raw_print(
                &mut out,
                self.http_version.clone(),
                &self.headers,
                do_not_send_body,
                None,
            )
            .and_then(|()| out.flush());
        responded.switches.set_no_wait(false);

        let WriteWithoutWaiting { writer, rest, .. } = out;
        match (printed, rest) {
            (Ok(()), Rest::Kept(mut kept)) => {
                kept.fit();
                Unsent {
                    writer,
                    kept,
                    responded,
                }
                .send_in_background();
                Ok(())
            }
            (_, Rest::Dropped { needed }) => {
                log::warn!(
                    "dropped an answer to {} and closed its connection: its {} unsent bytes \
                     would pass the limit of {} bytes kept for clients that read slowly \
                     ({} kept now)",
                    self.remote_addr
                        .map_or_else(|| "a client".to_string(), |a| a.to_string()),
                    needed,
                    responded.unsent.max_bytes(),
                    responded.unsent.bytes(),
                );
                // Cut short: the client must not take it for whole. The
                // flush closes the connection (see `WriteSwitches`).
                responded.switches.close();
                let mut writer = writer;
                let _ = writer.flush();
                drop(writer);
                drop(responded);
                Err(over_budget())
            }
            (printed, _) => {
                drop(writer);
                drop(responded);
                Self::ignore_client_closing_errors(printed)
            }
        }
    }

    fn ignore_client_closing_errors(result: io::Result<()>) -> io::Result<()> {
        result.or_else(|err| match err.kind() {
            ErrorKind::BrokenPipe => Ok(()),
            ErrorKind::ConnectionAborted => Ok(()),
            ErrorKind::ConnectionRefused => Ok(()),
            ErrorKind::ConnectionReset => Ok(()),
            _ => Err(err),
        })
    }

    pub(crate) fn with_notify_sender(mut self, responded: Responded) -> Self {
        self.notify_when_responded = Some(responded);
        self
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> Result<(), fmt::Error> {
        write!(
            formatter,
            "Request({} {} from {:?})",
            self.method, self.path, self.remote_addr
        )
    }
}

impl Drop for Request {
    fn drop(&mut self) {
        if self.response_writer.is_some() {
            let response = Response::empty(500);
            // progressd: this tells the connection too (was done here).
            let _ = self.respond_impl(response); // ignoring any potential error
        }
    }
}

/// Dummy trait that regroups the `Read` and `Write` traits.
///
/// Automatically implemented on all types that implement both `Read` and `Write`.
pub trait ReadWrite: Read + Write {}
impl<T> ReadWrite for T where T: Read + Write {}

#[cfg(test)]
mod tests {
    use super::{new_request, Request, Responded};
    use crate::util::{Deadline, UnsentBudget, WriteSwitches};
    use crate::{HTTPVersion, Method, OpenConnection, Response};
    use std::io::{self, ErrorKind, Write};
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc::{self, Receiver};
    use std::sync::{Arc, Mutex};
    use std::thread::{self, ThreadId};
    use std::time::Duration;

    /// A request as a connection hands it over, and what the connection
    /// and the server see of its answer.
    struct Handed {
        request: Request,
        /// Tells the connection its request was answered.
        answered: Receiver<()>,
        /// The server's count of open connections.
        open: Arc<AtomicUsize>,
        switches: Arc<WriteSwitches>,
        unsent: Arc<UnsentBudget>,
    }

    fn handed<W: Write + Send + 'static>(writer: W, max_unsent_bytes: Option<usize>) -> Handed {
        let (sender, answered) = mpsc::channel();
        let open = Arc::new(AtomicUsize::new(1));
        let switches = Arc::new(WriteSwitches::default());
        let unsent = Arc::new(UnsentBudget::new(max_unsent_bytes));
        let responded = Responded {
            sender,
            read_deadline: Arc::new(Deadline::new(None)),
            switches: Arc::clone(&switches),
            unsent: Arc::clone(&unsent),
            _open: Arc::new(OpenConnection(Arc::clone(&open))),
        };
        let request = new_request(
            Method::Get,
            "/".into(),
            HTTPVersion(1, 1),
            Vec::new(),
            None,
            io::empty(),
            writer,
        )
        .expect("a request without a body")
        .with_notify_sender(responded);
        Handed {
            request,
            answered,
            open,
            switches,
            unsent,
        }
    }

    /// A writer that panics, as a bug while making an answer would.
    struct PanickingWriter;

    impl Write for PanickingWriter {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            panic!("a bug while writing the answer");
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_panic_while_responding_still_tells_the_connection_once() {
        // Before, the signal was sent by a call at the end of `respond`: a
        // panic on the way left the connection waiting for it for ever,
        // counted as open.
        let Handed {
            request,
            answered,
            open,
            switches,
            ..
        } = handed(PanickingWriter, None);
        let responding = catch_unwind(AssertUnwindSafe(|| {
            request.respond(Response::from_string("x"))
        }));
        assert!(responding.is_err(), "the writer panics");
        assert_eq!(answered.recv_timeout(Duration::from_secs(1)), Ok(()));
        assert!(answered.try_recv().is_err(), "told twice");
        assert_eq!(open.load(Ordering::SeqCst), 0, "still counted as open");
        // What was written of the answer must not pass for all of it.
        assert!(switches.closing(), "the connection stays open");
    }

    #[test]
    fn an_answer_tells_the_connection_once() {
        let h = handed(Vec::new(), None);
        h.request.respond(Response::from_string("x")).expect("sent");
        assert_eq!(h.answered.try_recv(), Ok(()));
        assert!(h.answered.try_recv().is_err(), "told twice");
        assert_eq!(h.open.load(Ordering::SeqCst), 0);
        assert!(!h.switches.closing());
        // A request dropped unanswered gets a 500, and tells it once too.
        let h = handed(Vec::new(), None);
        drop(h.request);
        assert_eq!(h.answered.try_recv(), Ok(()));
        assert!(h.answered.try_recv().is_err(), "told twice");
    }

    /// A client that takes `at_once` bytes while the answering thread
    /// writes, then none; on any other thread (the one that sends the
    /// rest), writes wait for `release` and then take every byte.
    struct SlowClient {
        received: Arc<Mutex<Vec<u8>>>,
        at_once: usize,
        answering: ThreadId,
        release: Option<Receiver<()>>,
    }

    impl Write for SlowClient {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if thread::current().id() != self.answering {
                if let Some(release) = self.release.take() {
                    let _ = release.recv();
                }
                self.received.lock().expect("lock").extend_from_slice(buf);
                return Ok(buf.len());
            }
            let mut received = self.received.lock().expect("lock");
            let n = buf.len().min(self.at_once.saturating_sub(received.len()));
            if n == 0 {
                return Err(ErrorKind::WouldBlock.into());
            }
            received.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A request from a client that takes `at_once` bytes of its answer
    /// at first; what it received, and what releases the rest.
    fn from_a_slow_client(
        at_once: usize,
        max_unsent_bytes: usize,
    ) -> (Handed, Arc<Mutex<Vec<u8>>>, mpsc::Sender<()>) {
        let received = Arc::new(Mutex::new(Vec::new()));
        let (release, released) = mpsc::channel();
        let client = SlowClient {
            received: Arc::clone(&received),
            at_once,
            answering: thread::current().id(),
            release: Some(released),
        };
        let h = handed(client, Some(max_unsent_bytes));
        (h, received, release)
    }

    #[test]
    fn the_rest_of_an_answer_holds_the_budget_until_it_is_sent() {
        let (length, at_once) = (1 << 20, 100_000);
        let (h, received, release) = from_a_slow_client(at_once, 2 << 20);
        h.request
            .respond(Response::from_data(vec![b'x'; length]))
            .expect("kept for sending");
        let held = h.unsent.bytes();
        assert_eq!(h.unsent.answers(), 1);
        assert!(h.answered.try_recv().is_err(), "told before it is sent");
        release.send(()).expect("the sending thread waits");
        assert_eq!(h.answered.recv_timeout(Duration::from_secs(10)), Ok(()));
        let sent = received.lock().expect("lock").len();
        assert!(sent > length, "the whole answer, chunked: {} bytes", sent);
        assert_eq!(held, sent - at_once, "held more than the rest");
        assert_eq!(
            (h.unsent.answers(), h.unsent.bytes()),
            (0, 0),
            "not given back"
        );
        assert!(!h.switches.closing());
    }

    #[test]
    fn the_rest_of_an_answer_past_the_budget_is_dropped_and_its_connection_closed() {
        let (length, at_once) = (1 << 20, 100_000);
        let (h, received, _release) = from_a_slow_client(at_once, 512 << 10);
        let responding = h.request.respond(Response::from_data(vec![b'x'; length]));
        let error = responding.expect_err("over the budget");
        assert_eq!(error.kind(), ErrorKind::OutOfMemory);
        assert!(h.switches.closing(), "the connection stays open");
        assert_eq!(h.answered.try_recv(), Ok(()));
        assert!(h.answered.try_recv().is_err(), "told twice");
        assert_eq!((h.unsent.answers(), h.unsent.bytes()), (0, 0));
        assert_eq!(received.lock().expect("lock").len(), at_once);
    }
}
