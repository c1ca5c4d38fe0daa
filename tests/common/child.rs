//! The progressd binary as a child process, started and waited for until
//! it listens: one way for the tests (`tests/common`) and the example
//! programs (`examples/common`), which both include this file.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The longest wait for a started server's "listening on" line.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running progressd; killed on drop.
pub struct ChildServer {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its "listening on" log line.
    pub log_line: String,
    /// Everything it has logged so far.
    log: Arc<Mutex<String>>,
    /// The thread reading its log, until the log ends.
    reader: Option<thread::JoinHandle<()>>,
}

impl ChildServer {
    /// Runs `command` (a progressd invocation, perhaps wrapped in a shell)
    /// with its stderr piped, and waits up to [`START_TIMEOUT`] for its
    /// "listening on http://ADDR" line. Its log is read on a thread of its
    /// own, so a server that never listens cannot hang the caller, and is
    /// drained for as long as the server runs, so the server never blocks
    /// on a full pipe.
    pub fn spawn(mut command: Command) -> Result<ChildServer, String> {
        let mut child = command
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start progressd: {e}"))?;
        let Some(stderr) = child.stderr.take() else {
            let _ = child.kill();
            return Err("progressd has no stderr".into());
        };
        let log = Arc::new(Mutex::new(String::new()));
        let (listening, heard) = mpsc::channel();
        let kept = Arc::clone(&log);
        let reader = thread::spawn(move || {
            let mut reader = BufReader::new(stderr);
            let mut line = String::new();
            let mut told = false;
            while matches!(reader.read_line(&mut line), Ok(n) if n > 0) {
                if !told && line.contains("listening on") {
                    // The receiver is gone only if the caller gave up.
                    let _ = listening.send(line.clone());
                    told = true;
                }
                if let Ok(mut log) = kept.lock() {
                    log.push_str(&line);
                }
                line.clear();
            }
        });
        let started = Instant::now();
        let line = loop {
            match heard.recv_timeout(Duration::from_millis(20)) {
                Ok(line) => break line,
                Err(mpsc::RecvTimeoutError::Timeout) if started.elapsed() < START_TIMEOUT => {
                    if let Ok(Some(status)) = child.try_wait() {
                        let said = log.lock().map(|l| l.trim().to_string()).unwrap_or_default();
                        return Err(format!(
                            "progressd exited ({status}) before listening: {said}"
                        ));
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "progressd did not say it was listening within {} s",
                        START_TIMEOUT.as_secs()
                    ));
                }
            }
        };
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|addr| addr.parse().ok());
        let Some(addr) = addr else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("no address in {line:?}"));
        };
        Ok(ChildServer {
            child,
            addr,
            log_line: line,
            log,
            reader: Some(reader),
        })
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it has logged so far (all of it, once [`ChildServer::stop_with`]
    /// has seen it exit).
    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Sends `signal` (a name `kill -s` knows, like `TERM`) and waits up to
    /// 10 s for the process to exit; returns how it exited and how long
    /// that took.
    pub fn stop_with(&mut self, signal: &str) -> std::io::Result<(ExitStatus, Duration)> {
        let sent = Instant::now();
        let kill = Command::new("kill")
            .args(["-s", signal, &self.child.id().to_string()])
            .status()?;
        if !kill.success() {
            return Err(std::io::Error::other(format!("kill -s {signal} failed")));
        }
        while sent.elapsed() < Duration::from_secs(10) {
            if let Some(status) = self.child.try_wait()? {
                let took = sent.elapsed();
                // Its last lines, read once its end of the pipe closes (a
                // moment, unless a child of its own keeps it open).
                let until = Instant::now() + Duration::from_secs(2);
                while self.reader.as_ref().is_some_and(|r| !r.is_finished())
                    && Instant::now() < until
                {
                    thread::sleep(Duration::from_millis(5));
                }
                return Ok((status, took));
            }
            thread::sleep(Duration::from_millis(10));
        }
        Err(std::io::Error::other(format!(
            "still running 10 s after SIG{signal}"
        )))
    }

    /// Kills the process with SIGKILL, as a crash would, and waits for it
    /// to be gone.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
