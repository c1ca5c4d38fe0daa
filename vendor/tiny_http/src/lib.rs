//! # Simple usage
//!
//! ## Creating the server
//!
//! The easiest way to create a server is to call `Server::http()`.
//!
//! The `http()` function returns an `IoResult<Server>` which will return an error
//! in the case where the server creation fails (for example if the listening port is already
//! occupied).
//!
//! ```no_run
//! let server = tiny_http::Server::http("0.0.0.0:0").unwrap();
//! ```
//!
//! A newly-created `Server` will immediately start listening for incoming connections and HTTP
//! requests.
//!
//! ## Receiving requests
//!
//! Calling `server.recv()` will block until the next request is available.
//! This function returns an `IoResult<Request>`, so you need to handle the possible errors.
//!
//! ```no_run
//! # let server = tiny_http::Server::http("0.0.0.0:0").unwrap();
//!
//! loop {
//!     // blocks until the next request is received
//!     let request = match server.recv() {
//!         Ok(rq) => rq,
//!         Err(e) => { println!("error: {}", e); break }
//!     };
//!
//!     // do something with the request
//!     // ...
//! }
//! ```
//!
//! In a real-case scenario, you will probably want to spawn multiple worker tasks and call
//! `server.recv()` on all of them. Like this:
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use std::thread;
//! # let server = tiny_http::Server::http("0.0.0.0:0").unwrap();
//! let server = Arc::new(server);
//! let mut guards = Vec::with_capacity(4);
//!
//! for _ in (0 .. 4) {
//!     let server = server.clone();
//!
//!     let guard = thread::spawn(move || {
//!         loop {
//!             let rq = server.recv().unwrap();
//!
//!             // ...
//!         }
//!     });
//!
//!     guards.push(guard);
//! }
//! ```
//!
//! If you don't want to block, you can call `server.try_recv()` instead.
//!
//! ## Handling requests
//!
//! The `Request` object returned by `server.recv()` contains informations about the client's request.
//! The most useful methods are probably `request.method()` and `request.url()` which return
//! the requested method (`GET`, `POST`, etc.) and url.
//!
//! To handle a request, you need to create a `Response` object. See the docs of this object for
//! more infos. Here is an example of creating a `Response` from a file:
//!
//! ```no_run
//! # use std::fs::File;
//! # use std::path::Path;
//! let response = tiny_http::Response::from_file(File::open(&Path::new("image.png")).unwrap());
//! ```
//!
//! All that remains to do is call `request.respond()`:
//!
//! ```no_run
//! # use std::fs::File;
//! # use std::path::Path;
//! # let server = tiny_http::Server::http("0.0.0.0:0").unwrap();
//! # let request = server.recv().unwrap();
//! # let response = tiny_http::Response::from_file(File::open(&Path::new("image.png")).unwrap());
//! let _ = request.respond(response);
//! ```
// progressd: was `forbid`; one `send` that cannot wait needs `unsafe`
// (`Connection::send_without_waiting` says why), allowed there alone.
#![deny(unsafe_code)]
#![deny(rust_2018_idioms)]
#![allow(clippy::match_like_matches_macro)]

use std::error::Error;
use std::io::Error as IoError;
use std::io::ErrorKind as IoErrorKind;
use std::io::Result as IoResult;
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use client::ClientConnection;
use connection::Connection;
use util::MessagesQueue;

pub use common::{HTTPVersion, Header, HeaderField, Method, StatusCode};
pub use connection::{ConfigListenAddr, ListenAddr, Listener};
pub use request::{ReadWrite, Request, EAGER_BODY_BYTES};
pub use response::{Response, ResponseBox};

mod client;
mod common;
mod connection;
mod request;
mod response;
mod util;

/// The main class of this library.
///
/// Destroying this object will immediately close the listening socket and the reading
///  part of all the client's connections. Requests that have already been returned by
///  the `recv()` function will not close and the responses will be transferred to the client.
pub struct Server {
    // should be false as long as the server exists
    // when set to true, all the subtasks will close within a few hundreds ms
    close: Arc<AtomicBool>,

    // queue for messages received by child threads
    messages: Arc<MessagesQueue<Message>>,

    // result of TcpListener::local_addr()
    listening_addr: ListenAddr,

    // progressd: answers whose rest a thread of its own is still sending,
    // and the bytes they hold, against `Limits::max_unsent_bytes` (see
    // `Server::answers_being_sent`).
    unsent: Arc<util::UnsentBudget>,
}

enum Message {
    Error(IoError),
    NewRequest(Request),
}

impl From<IoError> for Message {
    fn from(e: IoError) -> Message {
        Message::Error(e)
    }
}

impl From<Request> for Message {
    fn from(rq: Request) -> Message {
        Message::NewRequest(rq)
    }
}

// this trait is to make sure that Server implements Share and Send
#[doc(hidden)]
#[allow(dead_code)] // progressd: a compile-time check, never called
trait MustBeShareDummy: Sync + Send {}
#[doc(hidden)]
impl MustBeShareDummy for Server {}

/// progressd: limits for `Server::from_listener_with_limits`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    /// How long a request may take to arrive (counting the wait for it on a
    /// kept-alive connection) and a response to be sent; None: no limit.
    pub timeout: Option<Duration>,
    /// Connections open at once; one more is answered 503 and closed.
    /// None: no limit.
    pub max_connections: Option<usize>,
    /// Bytes of answers kept, over all connections together, for threads
    /// of their own to send to clients that did not take them at once. An
    /// answer whose rest would pass it is dropped and its connection
    /// closed. None: no limit.
    pub max_unsent_bytes: Option<usize>,
}

/// progressd: counts a connection as open while it lives: while its
/// thread runs, and while the last answer on it is being sent (each
/// `request::Responded` holds it too).
pub(crate) struct OpenConnection(Arc<AtomicUsize>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

/// progressd: what a connection over the limit is told before it is closed.
const TOO_MANY_CONNECTIONS: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Length: 42\r\n\
Retry-After: 1\r\nConnection: close\r\n\r\n\
too many connections open; try again soon\n";

pub struct IncomingRequests<'a> {
    server: &'a Server,
}

/// Represents the parameters required to create a server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The addresses to try to listen to.
    pub addr: ConfigListenAddr,
}

impl Server {
    /// Shortcut for a simple server on a specific address.
    #[inline]
    pub fn http<A>(addr: A) -> Result<Server, Box<dyn Error + Send + Sync + 'static>>
    where
        A: ToSocketAddrs,
    {
        Server::new(ServerConfig {
            addr: ConfigListenAddr::from_socket_addrs(addr)?,
        })
    }

    #[cfg(unix)]
    #[inline]
    /// Shortcut for a UNIX socket server at a specific path
    pub fn http_unix(
        path: &std::path::Path,
    ) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        Server::new(ServerConfig {
            addr: ConfigListenAddr::unix_from_path(path),
        })
    }

    /// Builds a new server that listens on the specified address.
    pub fn new(config: ServerConfig) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        let listener = config.addr.bind()?;
        Self::from_listener(listener)
    }

    /// Builds a new server using the specified TCP listener.
    ///
    /// This is useful if you've constructed TcpListener using some less usual method
    /// such as from systemd. For other cases, you probably want the `new()` function.
    pub fn from_listener<L: Into<Listener>>(
        listener: L,
    ) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        Self::from_listener_with_limits(listener, Limits::default())
    }

    /// progressd: as `from_listener`, with limits on how long a request may
    /// take to arrive and a response to be sent, and on the number of open
    /// connections.
    pub fn from_listener_with_limits<L: Into<Listener>>(
        listener: L,
        limits: Limits,
    ) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        let Limits {
            timeout,
            max_connections,
            max_unsent_bytes,
        } = limits;
        let listener = listener.into();
        // building the "close" variable
        let close_trigger = Arc::new(AtomicBool::new(false));

        // building the TcpListener
        let (server, local_addr) = {
            let local_addr = listener.local_addr()?;
            log::debug!("Server listening on {}", local_addr);
            (listener, local_addr)
        };

        // creating a task where server.accept() is continuously called
        // and ClientConnection objects are pushed in the messages queue
        let messages = MessagesQueue::with_capacity(8);

        let inside_close_trigger = close_trigger.clone();
        let inside_messages = messages.clone();
        // progressd: see `Server::answers_being_sent`.
        let unsent = Arc::new(util::UnsentBudget::new(max_unsent_bytes));
        let inside_unsent = Arc::clone(&unsent);
        thread::spawn(move || {
            // a tasks pool is used to dispatch the connections into threads
            let tasks_pool = util::TaskPool::new();

            log::debug!("Running accept thread");
            let open = Arc::new(AtomicUsize::new(0));
            while !inside_close_trigger.load(Relaxed) {
                let new_client = match server.accept() {
                    Ok((mut sock, _)) => {
                        if let Connection::Tcp(tcp) = &sock {
                            // A socket that refuses timeouts still serves.
                            let _ = tcp.set_read_timeout(timeout);
                            let _ = tcp.set_write_timeout(timeout);
                            // progressd: an answer's last short write is
                            // sent at once, not held back by Nagle's
                            // algorithm until the client's delayed ACK.
                            let _ = tcp.set_nodelay(true);
                        }
                        // progressd: over the limit, say so and close. The
                        // send buffer of a new socket takes these few bytes
                        // at once (and the write timeout bounds it anyway).
                        // Whatever of the request has arrived is read
                        // first (without waiting): closing a socket with
                        // unread data resets it, and the reset can destroy
                        // the 503 before the client reads it.
                        if max_connections.map_or(false, |max| open.load(Relaxed) >= max) {
                            if let Connection::Tcp(tcp) = &sock {
                                let _ = tcp.set_nonblocking(true);
                                let _ = std::io::Read::read(&mut &*tcp, &mut [0u8; 4096]);
                            }
                            let _ = sock.write_all(TOO_MANY_CONNECTIONS);
                            let _ = sock.shutdown(Shutdown::Write);
                            continue;
                        }
                        open.fetch_add(1, Relaxed);
                        let counted = OpenConnection(Arc::clone(&open));
                        use util::RefinedTcpStream;
                        let halves = RefinedTcpStream::new(sock, timeout);

                        // progressd: splitting the socket needs a second
                        // descriptor; without one, drop the connection.
                        halves.map(|(read_closable, write_closable)| {
                            (ClientConnection::new(write_closable, read_closable), counted)
                        })
                    }
                    Err(e) => Err(e),
                };

                match new_client {
                    Ok((client, counted)) => {
                        let messages = inside_messages.clone();
                        let unsent = Arc::clone(&inside_unsent);
                        // progressd: shared with each request's
                        // `Responded` (see `OpenConnection`).
                        let mut client = Some((client, Arc::new(counted)));
                        tasks_pool.spawn(Box::new(move || {
                            // `counted` ends with the connection.
                            if let Some((client, counted)) = client.take() {
                                // progressd: one request at a time on every
                                // connection (was: on HTTPS ones only). The
                                // next request is read at once but handed
                                // over only when the last one is answered
                                // (usually long since: the client waited for
                                // it), so a client that pipelines cannot
                                // queue requests without bound. The read
                                // deadline is paused while a request is
                                // being answered, so a slow answer never
                                // times out the wait for the next request
                                // (a late 408 would answer it).
                                let (sender, receiver) = mpsc::channel();
                                let read_deadline = client.read_deadline();
                                let switches = client.switches();
                                let mut answered = true;
                                for rq in client {
                                    if !answered && receiver.recv().is_err() {
                                        break;
                                    }
                                    // progressd: an answer cut short (a
                                    // panic, the budget) closed the
                                    // connection; nothing more is read
                                    // from it as if its answers were whole
                                    // (dropping `rq` shuts the socket).
                                    if switches.closing() {
                                        break;
                                    }
                                    read_deadline.pause();
                                    let responded = request::Responded {
                                        sender: sender.clone(),
                                        read_deadline: Arc::clone(&read_deadline),
                                        switches: Arc::clone(&switches),
                                        unsent: Arc::clone(&unsent),
                                        _open: Arc::clone(&counted),
                                    };
                                    messages.push(rq.with_notify_sender(responded).into());
                                    answered = false;
                                }
                            }
                        }));
                    }

                    // progressd: an accept error (out of file descriptors,
                    // a connection reset before accept) is passing; the
                    // original ended the accept thread here for good, leaving
                    // a process that no longer listens. Pause so a lasting
                    // error does not spin, then accept again.
                    Err(e) => {
                        log::error!("Error accepting new client: {}", e);
                        thread::sleep(Duration::from_millis(100));
                    }
                }
            }
            log::debug!("Terminating accept thread");
        });

        // result
        Ok(Server {
            messages,
            close: close_trigger,
            listening_addr: local_addr,
            unsent,
        })
    }

    /// Returns an iterator for all the incoming requests.
    ///
    /// The iterator will return `None` if the server socket is shutdown.
    #[inline]
    pub fn incoming_requests(&self) -> IncomingRequests<'_> {
        IncomingRequests { server: self }
    }

    /// Returns the address the server is listening to.
    #[inline]
    pub fn server_addr(&self) -> ListenAddr {
        self.listening_addr.clone()
    }

    /// Returns the number of clients currently connected to the server.
    pub fn num_connections(&self) -> usize {
        unimplemented!()
        //self.requests_receiver.lock().len()
    }

    /// Blocks until an HTTP request has been submitted and returns it.
    pub fn recv(&self) -> IoResult<Request> {
        match self.messages.pop() {
            Some(Message::Error(err)) => Err(err),
            Some(Message::NewRequest(rq)) => Ok(rq),
            None => Err(IoError::new(IoErrorKind::Other, "thread unblocked")),
        }
    }

    /// Same as `recv()` but doesn't block longer than timeout
    pub fn recv_timeout(&self, timeout: Duration) -> IoResult<Option<Request>> {
        match self.messages.pop_timeout(timeout) {
            Some(Message::Error(err)) => Err(err),
            Some(Message::NewRequest(rq)) => Ok(Some(rq)),
            None => Ok(None),
        }
    }

    /// Same as `recv()` but doesn't block.
    pub fn try_recv(&self) -> IoResult<Option<Request>> {
        match self.messages.try_pop() {
            Some(Message::Error(err)) => Err(err),
            Some(Message::NewRequest(rq)) => Ok(Some(rq)),
            None => Ok(None),
        }
    }

    /// progressd: how many answers, already handed to `Request::respond`,
    /// a thread of their own is still sending to clients that read them
    /// slowly (or not at all, until the response deadline). A graceful
    /// shutdown can wait for them.
    pub fn answers_being_sent(&self) -> usize {
        self.unsent.answers()
    }

    /// progressd: the bytes those answers hold, at most
    /// `Limits::max_unsent_bytes`.
    pub fn unsent_bytes(&self) -> usize {
        self.unsent.bytes()
    }

    /// Unblock thread stuck in recv() or incoming_requests().
    /// If there are several such threads, only one is unblocked.
    /// This method allows graceful shutdown of server.
    pub fn unblock(&self) {
        self.messages.unblock();
    }
}

impl Iterator for IncomingRequests<'_> {
    type Item = Request;
    fn next(&mut self) -> Option<Request> {
        self.server.recv().ok()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop_accepting();

        #[cfg(unix)]
        if let ListenAddr::Unix(addr) = &self.listening_addr {
            if let Some(path) = addr.as_pathname() {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

impl Server {
    /// progressd: ends the accept thread, which closes the listening socket,
    /// while requests already received can still be taken with `recv()`
    /// (the first step of a graceful shutdown). Was the first half of `drop`.
    pub fn stop_accepting(&self) {
        self.close.store(true, Relaxed);
        // Connect briefly to ourselves to unblock the accept thread
        let maybe_stream = match &self.listening_addr {
            ListenAddr::IP(addr) => TcpStream::connect(addr).map(Connection::from),
            #[cfg(unix)]
            ListenAddr::Unix(addr) => {
                // TODO: use connect_addr when its stabilized.
                let path = addr.as_pathname().unwrap();
                std::os::unix::net::UnixStream::connect(path).map(Connection::from)
            }
        };
        if let Ok(stream) = maybe_stream {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}
