use std::io::Result as IoResult;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::util::Deadline;

use crate::connection::Connection;

pub(crate) enum Stream {
    Http(Connection),
}

impl Stream {
    // progressd: was `impl Clone` with `try_clone().unwrap()`, which panicked
    // the accept thread (closing the listener for good) when the process had
    // no descriptor left to duplicate a just-accepted socket into.
    fn try_clone(&self) -> IoResult<Self> {
        Ok(match self {
            Stream::Http(tcp_stream) => Stream::Http(tcp_stream.try_clone()?),
        })
    }
}

impl From<Connection> for Stream {
    fn from(tcp_stream: Connection) -> Self {
        Stream::Http(tcp_stream)
    }
}

impl Stream {
    fn peer_addr(&mut self) -> IoResult<Option<SocketAddr>> {
        match self {
            Stream::Http(tcp_stream) => tcp_stream.peer_addr(),
        }
    }

    /// progressd: the socket timeout for the next read or write: the time
    /// left before `deadline`.
    fn limit_to(&self, deadline: &Deadline, write: bool) -> IoResult<()> {
        let Some(left) = deadline.remaining()? else {
            return Ok(());
        };
        match self {
            Stream::Http(c) if write => c.set_write_timeout(Some(left)),
            Stream::Http(c) => c.set_read_timeout(Some(left)),
        }
    }

    /// progressd: see `Connection::send_without_waiting`.
    fn send_without_waiting(&mut self, buf: &[u8]) -> IoResult<usize> {
        match self {
            Stream::Http(c) => c.send_without_waiting(buf),
        }
    }

    fn shutdown(&mut self, how: Shutdown) -> IoResult<()> {
        match self {
            Stream::Http(tcp_stream) => tcp_stream.shutdown(how),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> IoResult<usize> {
        match self {
            Stream::Http(tcp_stream) => tcp_stream.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> IoResult<usize> {
        match self {
            Stream::Http(tcp_stream) => tcp_stream.write(buf),
        }
    }

    fn flush(&mut self) -> IoResult<()> {
        match self {
            Stream::Http(tcp_stream) => tcp_stream.flush(),
        }
    }
}

/// progressd: how the write half of a connection writes, set by whoever
/// answers its requests.
#[derive(Default)]
pub(crate) struct WriteSwitches {
    /// While set, a write that the socket cannot take at once fails with
    /// `WouldBlock` instead of waiting for the client to read. A request
    /// thread sets it while it writes an answer, so that no client's
    /// reading (or not reading) holds it.
    no_wait: AtomicBool,
    /// Once set, the next write or flush shuts the connection down both
    /// ways (which also ends the connection thread's wait for a request)
    /// and fails: an answer was cut short, and neither it nor the next
    /// answer written after it may pass for whole.
    close: AtomicBool,
}

impl WriteSwitches {
    pub(crate) fn set_no_wait(&self, on: bool) {
        // Only the thread holding the connection's writer writes, and a
        // writer passes between threads through a channel or a lock.
        self.no_wait.store(on, Ordering::Relaxed);
    }

    fn no_wait(&self) -> bool {
        self.no_wait.load(Ordering::Relaxed)
    }

    /// See `close`; the next write or flush does it. Set by the thread
    /// holding the writer, or before the connection is told its answer is
    /// done (which passes through a channel), so no stronger ordering is
    /// needed: every write reads it.
    pub(crate) fn close(&self) {
        self.close.store(true, Ordering::Relaxed);
    }

    pub(crate) fn closing(&self) -> bool {
        self.close.load(Ordering::Relaxed)
    }
}

pub struct RefinedTcpStream {
    stream: Stream,
    close_read: bool,
    close_write: bool,
    // progressd: reads must finish by this deadline, armed by the first read
    // of a request and disarmed by the connection when it waits for the
    // next one; writes by their own, armed by the first write of a response
    // and disarmed when it is flushed.
    deadline: Arc<Deadline>,
    // progressd: whether writes may wait, and whether the next closes the
    // connection (see `WriteSwitches`); used on the write half only.
    switches: Arc<WriteSwitches>,
}

impl RefinedTcpStream {
    /// `limit`: how long a request may take to arrive, counted from its
    /// first byte read, and a response to be sent (None: no limit).
    pub(crate) fn new<S>(
        stream: S,
        limit: Option<Duration>,
    ) -> IoResult<(RefinedTcpStream, RefinedTcpStream)>
    where
        S: Into<Stream>,
    {
        let stream: Stream = stream.into();

        let (read, write) = (stream.try_clone()?, stream);

        let read = RefinedTcpStream {
            stream: read,
            close_read: true,
            close_write: false,
            deadline: Arc::new(Deadline::new(limit)),
            switches: Arc::default(),
        };

        let write = RefinedTcpStream {
            stream: write,
            close_read: false,
            close_write: true,
            deadline: Arc::new(Deadline::new(limit)),
            switches: Arc::default(),
        };

        Ok((read, write))
    }

    pub(crate) fn peer_addr(&mut self) -> IoResult<Option<SocketAddr>> {
        self.stream.peer_addr()
    }

    /// progressd: the deadline of this half, for its owner to disarm.
    pub(crate) fn deadline(&self) -> Arc<Deadline> {
        Arc::clone(&self.deadline)
    }

    /// progressd: the switches of this half's writes.
    pub(crate) fn switches(&self) -> Arc<WriteSwitches> {
        Arc::clone(&self.switches)
    }

    /// progressd: see `WriteSwitches::close`.
    fn close_if_asked(&mut self) -> IoResult<()> {
        if !self.switches.closing() {
            return Ok(());
        }
        self.stream.shutdown(Shutdown::Both).ok();
        Err(std::io::Error::new(
            ErrorKind::ConnectionAborted,
            "the connection was closed after an answer cut short",
        ))
    }
}

impl Drop for RefinedTcpStream {
    fn drop(&mut self) {
        if self.close_read {
            self.stream.shutdown(Shutdown::Read).ok();
        }

        if self.close_write {
            self.stream.shutdown(Shutdown::Write).ok();
        }
    }
}

impl Read for RefinedTcpStream {
    fn read(&mut self, buf: &mut [u8]) -> IoResult<usize> {
        self.deadline.arm_if_disarmed();
        loop {
            self.stream.limit_to(&self.deadline, false)?;
            match self.stream.read(buf) {
                // The socket's timeout ran out, but the deadline was paused
                // or restarted meanwhile: wait on.
                Err(e)
                    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
                        && self.deadline.remaining().is_ok() => {}
                other => return other,
            }
        }
    }
}

impl Write for RefinedTcpStream {
    fn write(&mut self, buf: &[u8]) -> IoResult<usize> {
        self.close_if_asked()?;
        self.deadline.arm_if_disarmed();
        let no_wait = self.switches.no_wait();
        let written = if no_wait {
            self.deadline
                .remaining()
                .and_then(|_| self.stream.send_without_waiting(buf))
        } else {
            self.stream
                .limit_to(&self.deadline, true)
                .and_then(|()| self.stream.write(buf))
        };
        // progressd: a response not sent by its deadline (a socket timeout
        // shows as `WouldBlock` on a write that may wait) ends the
        // connection at once. Before, the connection thread went on waiting
        // for the next request, holding the connection until its read
        // deadline too.
        if let Err(e) = &written {
            let missed = e.kind() == ErrorKind::TimedOut
                || (e.kind() == ErrorKind::WouldBlock && !no_wait);
            if missed {
                self.stream.shutdown(Shutdown::Both).ok();
            }
        }
        written
    }

    fn flush(&mut self) -> IoResult<()> {
        self.close_if_asked()?;
        self.stream.flush()?;
        self.deadline.disarm();
        Ok(())
    }
}
