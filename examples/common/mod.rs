//! What the example programs share: a minimal HTTP/1.1 client, and the
//! release binary started as a child process.

// Each example uses part of this module.
#![allow(dead_code)]

use std::error::Error;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The exit code of an example's run: 0 when it returns true, 1 when false
/// (a check failed), 2 on an error, printed after `name`. Wrong options
/// never get here: clap exits 2 on them itself.
pub fn exit_code(name: &str, outcome: Result<bool, Box<dyn Error>>) -> ExitCode {
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("{name}: {e}");
            ExitCode::from(2)
        }
    }
}

/// Longest status line or header line accepted from the server.
const MAX_LINE: usize = 8 * 1024;

/// A client connection: just enough HTTP/1.1 to send a GET and read a
/// response with a `Content-Length` .
pub struct HttpConnection {
    stream: BufReader<TcpStream>,
    line: String,
    body: Vec<u8>,
}

/// The parts of a response the examples look at.
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The server will close the connection after this response.
    pub close: bool,
}

impl HttpConnection {
    /// Connects; `timeout` bounds the connect and every read and write.
    pub fn open(addr: SocketAddr, timeout: Duration) -> std::io::Result<HttpConnection> {
        let stream = TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        Ok(HttpConnection {
            stream: BufReader::new(stream),
            line: String::new(),
            body: Vec::new(),
        })
    }

    /// Sends one request and reads its whole response.
    pub fn exchange(&mut self, request: &[u8]) -> std::io::Result<Answer> {
        self.stream.get_mut().write_all(request)?;
        self.read_line()?;
        let status = self
            .line
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| invalid(format!("bad status line {:?}", self.line)))?;
        let mut length = None;
        let mut close = false;
        loop {
            self.read_line()?;
            let header = self.line.trim_end();
            if header.is_empty() {
                break;
            }
            let Some((name, value)) = header.split_once(':') else {
                return Err(invalid(format!("bad header {header:?}")));
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(
                    value
                        .parse::<usize>()
                        .map_err(|_| invalid(format!("bad Content-Length {value:?}")))?,
                );
            } else if name.eq_ignore_ascii_case("connection") {
                close = value.eq_ignore_ascii_case("close");
            }
        }
        let length = length.ok_or_else(|| invalid("response without Content-Length".into()))?;
        self.body.resize(length, 0);
        self.stream.read_exact(&mut self.body)?;
        Ok(Answer { status, close })
    }

    /// The body of the last response.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Reads one CRLF-terminated line into `self.line`, refusing an endless
    /// one and a closed connection.
    fn read_line(&mut self) -> std::io::Result<()> {
        self.line.clear();
        let n = (&mut self.stream)
            .take(MAX_LINE as u64)
            .read_line(&mut self.line)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if !self.line.ends_with('\n') {
            return Err(invalid("line too long".into()));
        }
        Ok(())
    }
}

fn invalid(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message)
}

#[path = "../../tests/common/child.rs"]
mod child;
/// A running `progressd` process; killed on drop.
pub use child::ChildServer as Server;

impl Server {
    /// Starts `binary` on `db` and a free port, and waits until it listens.
    pub fn start(binary: &Path, db: &Path) -> Result<Server, Box<dyn Error>> {
        Server::start_with(binary, db, &[])
    }

    /// As [`Server::start`], with more options.
    pub fn start_with(
        binary: &Path,
        db: &Path,
        options: &[&str],
    ) -> Result<Server, Box<dyn Error>> {
        let mut command = Command::new(binary);
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--db"])
            .arg(db)
            .args(options)
            .env_remove("RUST_LOG")
            .stdout(Stdio::null());
        let server = Server::spawn(command)?;
        if !server.addr.ip().is_loopback() {
            return Err(format!("progressd listens on {}, not on 127.0.0.1", server.addr).into());
        }
        Ok(server)
    }
}

/// `target/release/progressd`: the binary `cargo build --release` leaves
/// next to the `examples/` directory holding this program.
pub fn progressd_binary() -> Result<PathBuf, Box<dyn Error>> {
    let exe = std::env::current_exe()?;
    let binary = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("progressd"))
        .ok_or_else(|| format!("cannot find the target directory from {}", exe.display()))?;
    if !binary.is_file() {
        return Err(format!(
            "no progressd binary at {}: build it with `cargo build --release`, \
             or run the example's script in scripts/, which does",
            binary.display()
        )
        .into());
    }
    Ok(binary)
}

/// Threads and resident memory (KiB) of process `pid`, from
/// `/proc/PID/status`.
pub fn process_size(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
    };
    Some((field("Threads:")?, field("VmRSS:")?))
}

/// The latency at quantile `q` (0–1) of `latencies_us`, in milliseconds;
/// NaN when there are none.
pub fn percentile_ms(latencies_us: &[u64], q: f64) -> f64 {
    let mut sorted = latencies_us.to_vec();
    sorted.sort_unstable();
    let Some(last) = sorted.len().checked_sub(1) else {
        return f64::NAN;
    };
    sorted[((last as f64) * q).round() as usize] as f64 / 1000.0
}

/// CPU seconds of progressd's own threads.
#[derive(Debug, Clone, Copy)]
pub struct ServerCpu {
    /// The writer thread.
    pub writer: f64,
    /// The request threads.
    pub requests: f64,
}

impl ServerCpu {
    /// The CPU time so far of process `pid`'s threads: the writer (`progressd-writer`, whose
    /// name the kernel keeps as 15 bytes) and the request threads
    /// (`progressd-http-N`). tiny_http's connection threads have no name
    /// of their own and are not counted.
    pub fn of(pid: u32) -> Option<ServerCpu> {
        let mut cpu = ServerCpu {
            writer: 0.0,
            requests: 0.0,
        };
        for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
            let task = task.ok()?.path();
            let (Ok(name), Ok(stat)) = (
                std::fs::read_to_string(task.join("comm")),
                std::fs::read_to_string(task.join("stat")),
            ) else {
                continue; // the thread ended meanwhile
            };
            // utime and stime: the 12th and 13th fields after the
            // parenthesised name, in USER_HZ ticks, which Linux fixes at 100.
            let after_name = stat.rsplit_once(')')?.1;
            let mut fields = after_name.split_whitespace().skip(11);
            let mut ticks = || fields.next()?.parse::<f64>().ok();
            let seconds = (ticks()? + ticks()?) / 100.0;
            match name.trim_end() {
                "progressd-write" => cpu.writer += seconds,
                name if name.starts_with("progressd-http") => cpu.requests += seconds,
                _ => {}
            }
        }
        Some(cpu)
    }

    /// The time spent since `before`.
    pub fn since(self, before: ServerCpu) -> ServerCpu {
        ServerCpu {
            writer: self.writer - before.writer,
            requests: self.requests - before.requests,
        }
    }
}
