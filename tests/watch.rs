//! `progressd watch` in a real pseudo-terminal: the binary runs inside a
//! tmux session (on a private socket, killed when the test ends) against a
//! test server; the test reads the screen with `capture-pane`, presses
//! keys with `send-keys`, and checks that quitting puts the terminal back
//! (the normal screen, and canonical mode, as `stty` reports it).
//!
//! Without tmux the tests are skipped with a message, unless the `CI`
//! environment variable is set: then a missing tmux is a failure
//! (`.ci/run` installs Debian's `tmux`).

mod common;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{TestResult, TestServer};

/// How long the screen may take to show what a test waits for.
const PATIENCE: Duration = Duration::from_secs(10);

/// The session's size: columns and rows.
const SIZE: (u16, u16) = (100, 30);

/// A tmux server of the test's own, on a socket in a temp dir, running one
/// session; killed on drop.
struct Tmux {
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmux {
    /// A tmux for `test`: `Ok(None)` (the test skips, saying so) when there
    /// is none, an error when there is none and `CI` is set.
    fn for_test(test: &str) -> Result<Option<Tmux>, Box<dyn std::error::Error>> {
        let found = Command::new("tmux")
            .arg("-V")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            if std::env::var_os("CI").is_some() {
                return Err("CI is set but tmux was not found (install Debian's tmux)".into());
            }
            eprintln!("SKIPPED {test} watch test: no tmux found");
            return Ok(None);
        }
        let dir = tempfile::tempdir()?;
        Ok(Some(Tmux {
            socket: dir.path().join("tmux.sock"),
            _dir: dir,
        }))
    }

    /// `tmux -S <socket> args…`, its output.
    fn run(&self, args: &[&str]) -> Result<Output, Box<dyn std::error::Error>> {
        let output = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()?;
        if !output.status.success() {
            return Err(
                format!("tmux {args:?}: {}", String::from_utf8_lossy(&output.stderr)).into(),
            );
        }
        Ok(output)
    }

    /// Starts `script` (run by `sh -c`) in a new session of [`SIZE`].
    fn start(&self, script: &str) -> TestResult {
        let (x, y) = (SIZE.0.to_string(), SIZE.1.to_string());
        self.run(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "watch",
            "-x",
            &x,
            "-y",
            &y,
            "sh",
            "-c",
            script,
        ])?;
        Ok(())
    }

    /// What the screen shows now.
    fn screen(&self) -> Result<String, Box<dyn std::error::Error>> {
        let output = self.run(&["capture-pane", "-p", "-t", "watch"])?;
        Ok(String::from_utf8(output.stdout)?)
    }

    /// The screen once `done` holds of it; an error saying `what` was
    /// awaited, with the screen, after [`PATIENCE`].
    fn wait_for(
        &self,
        what: &str,
        done: impl Fn(&str) -> bool,
    ) -> Result<String, Box<dyn std::error::Error>> {
        let start = Instant::now();
        loop {
            let screen = self.screen()?;
            if done(&screen) {
                return Ok(screen);
            }
            if start.elapsed() > PATIENCE {
                return Err(
                    format!("waited {PATIENCE:?} for {what}; the screen:\n{screen}").into(),
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Presses `keys` (tmux's names: `f`, `C-c`, `Escape`).
    fn press(&self, keys: &str) -> TestResult {
        self.run(&["send-keys", "-t", "watch", keys])?;
        Ok(())
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

/// A shell script that watches `jobid` on `s`, then says how it exited and
/// whether the terminal is back in canonical mode (`stty` prints `icanon`,
/// not `-icanon`), and waits to be read.
fn watch_script(s: &TestServer, jobid: &str) -> String {
    format!(
        "'{bin}' watch --url '{url}' '{jobid}'; echo EXIT=$?; \
         stty -a | tr ' ;' '\\n\\n' | grep -x -- '-\\?icanon' | sed 's/^/MODE=/'; sleep 30",
        bin = env!("CARGO_BIN_EXE_progressd"),
        url = s.base,
    )
}

/// A job of three workers: one running, one done, one failed.
fn three_workers(s: &TestServer, jobid: &str) {
    s.get(&format!("/progress/create?jobid={jobid}&desc=Watched+job"));
    s.report_of_ten(
        jobid,
        &[("ok-1", "5", "1"), ("ok-2", "10", "1"), ("bad-1", "3", "0")],
    );
}

/// The workids of the workers' lines (those with a bar) on `screen`.
fn workers_on(screen: &str) -> Vec<&str> {
    screen
        .lines()
        .filter(|line| line.contains('▕') && !line.starts_with('▕'))
        .filter_map(|line| line.split(' ').next())
        .collect()
}

#[test]
fn watch_shows_the_job_filters_by_key_and_quits_cleanly_on_q() -> TestResult {
    let Some(tmux) = Tmux::for_test("q")? else {
        return Ok(());
    };
    let s = TestServer::start();
    three_workers(&s, "pty");
    tmux.start(&watch_script(&s, "pty"))?;
    let screen = tmux.wait_for("the job's workers", |screen| workers_on(screen).len() == 3)?;
    let header = screen.lines().next().unwrap_or_default();
    assert!(
        header.starts_with(&format!(
            "progressd watch · pty · {} · all · updated ",
            s.base
        )),
        "{screen}"
    );
    assert!(screen.contains("Watched job"), "{screen}");
    assert!(
        screen
            .lines()
            .any(|l| l.starts_with("bad-1") && l.contains("failed")),
        "{screen}"
    );
    assert!(
        screen
            .lines()
            .last()
            .unwrap_or_default()
            .starts_with("q quit"),
        "{screen}"
    );
    tmux.press("f")?;
    let screen = tmux.wait_for("the failed workers", |screen| {
        screen.contains("Failed workers, in order of workid")
    })?;
    assert_eq!(workers_on(&screen), ["bad-1"], "{screen}");
    assert!(screen.contains(" · failed · updated "), "{screen}");
    tmux.press("q")?;
    let screen = exited_and_restored(&tmux)?;
    assert!(!screen.contains("bad-1"), "{screen}");
    Ok(())
}

/// Waits for watch to end, checks it exited 0 and left the terminal as
/// it found it (cooked mode, the normal screen with nothing of watch's on
/// it), and returns the screen.
fn exited_and_restored(tmux: &Tmux) -> Result<String, Box<dyn std::error::Error>> {
    let screen = tmux.wait_for("the exit", |screen| screen.contains("MODE="))?;
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert!(
        screen.contains("MODE=icanon"),
        "raw mode left on:\n{screen}"
    );
    assert!(!screen.contains("progressd watch"), "{screen}");
    Ok(screen)
}

#[test]
fn ctrl_c_puts_the_terminal_back() -> TestResult {
    let Some(tmux) = Tmux::for_test("Ctrl-C")? else {
        return Ok(());
    };
    let s = TestServer::start();
    three_workers(&s, "interrupted");
    tmux.start(&watch_script(&s, "interrupted"))?;
    tmux.wait_for("the job's workers", |screen| workers_on(screen).len() == 3)?;
    tmux.press("C-c")?;
    exited_and_restored(&tmux)?;
    Ok(())
}

#[test]
fn an_unknown_job_is_shown_as_an_error_not_a_crash() -> TestResult {
    let Some(tmux) = Tmux::for_test("unknown job")? else {
        return Ok(());
    };
    let s = TestServer::start();
    tmux.start(&watch_script(&s, "nosuch"))?;
    let screen = tmux.wait_for("the error", |screen| {
        screen.contains("404 no job with jobid \"nosuch\"")
    })?;
    assert!(screen.contains("progressd watch · nosuch"), "{screen}");
    // Once the job exists, it is shown: watch kept asking.
    three_workers(&s, "nosuch");
    tmux.press("a")?;
    tmux.wait_for("the job once created", |screen| {
        workers_on(screen).len() == 3 && !screen.contains("404")
    })?;
    tmux.press("Escape")?;
    let screen = tmux.wait_for("the exit", |screen| screen.contains("MODE="))?;
    assert!(screen.contains("EXIT=0"), "{screen}");
    Ok(())
}

#[test]
fn watch_refuses_a_pipe_and_points_at_show_txt() -> TestResult {
    let output = common::progressd_command()
        .args(["watch", "--url", "http://127.0.0.1:9", "some job"])
        .stdin(Stdio::null())
        .output()?;
    assert_eq!(output.status.code(), Some(2));
    let said = String::from_utf8(output.stderr)?;
    assert!(said.contains("not a terminal"), "{said}");
    assert!(
        said.contains("curl -s 'http://127.0.0.1:9/progress/show.txt?jobid=some+job'"),
        "{said}"
    );
    assert!(output.stdout.is_empty());
    Ok(())
}

/// Whether process `pid` has ended: gone, or a zombie no one has reaped
/// yet (tmux's children are reparented when its server is killed).
fn ended(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/status")) {
        Ok(status) => status
            .lines()
            .any(|line| line.starts_with("State:") && line.contains('Z')),
        Err(_) => true,
    }
}

#[test]
fn a_terminal_that_hangs_up_ends_watch_rather_than_leaving_it_spinning() -> TestResult {
    let Some(tmux) = Tmux::for_test("hang-up")? else {
        return Ok(());
    };
    if !std::path::Path::new("/proc/self/status").exists() {
        eprintln!("SKIPPED hang-up watch test: no /proc to see the process in");
        return Ok(());
    }
    let s = TestServer::start();
    three_workers(&s, "hangup");
    // exec: the pane's process is watch itself.
    tmux.start(&format!("exec {}", watch_script(&s, "hangup")))?;
    tmux.wait_for("the job's workers", |screen| workers_on(screen).len() == 3)?;
    let output = tmux.run(&["display-message", "-p", "-t", "watch", "#{pane_pid}"])?;
    let pid = String::from_utf8(output.stdout)?.trim().to_string();
    // The terminal goes away, as when its window is closed.
    tmux.run(&["kill-server"])?;
    let start = Instant::now();
    while !ended(&pid) {
        if start.elapsed() > PATIENCE {
            // Not left spinning after the test.
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
            return Err(format!(
                "watch (pid {pid}) still ran {PATIENCE:?} after its terminal hung up"
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}
