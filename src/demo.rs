//! `progressd demo`: a job of simulated workers reporting to the running
//! service over HTTP, as real ones would, so a newcomer sees every state at
//! once: workers at different speeds, one that fails, one that goes silent
//! (stale after the two-minute floor), one that finishes early, one well
//! below the others' pace (slow), and one the job's roster expects that
//! starts late (not started until then).
//!
//! The workers talk to the service through its own port with plain HTTP/1.1
//! requests; nothing here touches the store.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::Duration;

use crate::auth::Tokens;

/// The demo's job id.
const JOBID: &str = "demo";
/// Simulated workers.
const WORKERS: u64 = 24;
/// Steps of every worker's task.
const TOTAL: u64 = 600;
/// Time between one worker's reports.
const TICK: Duration = Duration::from_secs(1);
/// The worker that fails, at this step.
const FAILS: (u64, u64) = (5, 20);
/// The worker that goes silent, at this step.
const SILENT: (u64, u64) = (7, 30);
/// The worker that finishes first: it moves this much faster.
const FAST: (u64, u64) = (3, 12);
/// The straggler, at this speed (tenths of a step a tick; the others make
/// 6 to 17).
const SLOW: (u64, u64) = (9, 2);
/// The worker that starts late, at this tick.
const LATE: (u64, u64) = (11, 40);

/// Starts the simulation against the service at `addr`, whose tokens are
/// `tokens` (its workers send the write token, as real ones must), and
/// prints where to watch it.
pub fn start(addr: SocketAddr, tokens: &Tokens) -> std::io::Result<()> {
    let show = format!("http://{addr}/progress/show?jobid={JOBID}&interval=2");
    println!("progressd demo: {WORKERS} simulated workers report to job \"{JOBID}\"");
    println!("progressd demo: watch it at {show}");
    println!(
        "progressd demo: the chart is at http://{addr}/progress/render?jobid={JOBID} (PNG) \
         and http://{addr}/progress/render.svg?jobid={JOBID} (SVG)"
    );
    if tokens.read.is_some() {
        // The token itself is not printed: it may be read over a shoulder.
        println!("progressd demo: this server has a read token: add &token=… to these links");
    }
    println!("progressd demo: Ctrl-C stops it");
    let client = Client {
        addr,
        write_token: tokens.write.clone(),
    };
    thread::Builder::new()
        .name("progressd-demo".into())
        .spawn(move || simulate(&client))?;
    Ok(())
}

/// How the simulated workers reach the service.
struct Client {
    addr: SocketAddr,
    /// Sent with every request, when the service has one.
    write_token: Option<String>,
}

/// Runs rounds of the demo job for as long as the process lives: each
/// round creates the job afresh, then reports every worker once a tick
/// until all have finished, failed or gone silent.
fn simulate(client: &Client) {
    loop {
        let roster: Vec<String> = (0..WORKERS).map(|rank| format!("rank{rank}")).collect();
        let created = client.send(&format!(
            "create?jobid={JOBID}&desc=Demo+job+(simulated+workers)&workids={}",
            roster.join(",")
        ));
        // A refused create (a wrong token, a full server) would leave the
        // page empty with no word why.
        if let Some(refused) = created.filter(|status| !status.starts_with("HTTP/1.1 2")) {
            log::warn!("demo job not created: {}", refused.trim_end());
        }
        let mut step = 0;
        loop {
            step += 1;
            let mut active = false;
            for rank in 0..WORKERS {
                if let Some(report) = report(rank, step) {
                    client.send(&report);
                    active = true;
                }
            }
            if !active {
                break;
            }
            thread::sleep(TICK);
        }
        // Leave the finished picture up for a while, then start again.
        thread::sleep(Duration::from_secs(300));
    }
}

/// What worker `rank` reports at tick `step`, if anything.
fn report(rank: u64, step: u64) -> Option<String> {
    if rank == LATE.0 {
        if step < LATE.1 {
            return None;
        }
        return report_from(rank, step - LATE.1 + 1);
    }
    report_from(rank, step)
}

/// What worker `rank` reports at the `step`th tick of its own work.
fn report_from(rank: u64, step: u64) -> Option<String> {
    // Speeds from 0.6 to 1.7 steps a tick, the fast worker much quicker,
    // the slow one much slower.
    let speed = match rank {
        _ if rank == FAST.0 => FAST.1 * 10,
        _ if rank == SLOW.0 => SLOW.1,
        _ => 6 + (rank * 7) % 12,
    };
    let current = (step * speed / 10).min(TOTAL);
    let previous = ((step - 1) * speed / 10).min(TOTAL);
    let ok = !(rank == FAILS.0 && current >= FAILS.1);
    let silent = rank == SILENT.0 && current > SILENT.1;
    let finished = previous >= TOTAL || (rank == FAILS.0 && previous >= FAILS.1);
    if silent || finished {
        return None;
    }
    let current = if ok { current } else { FAILS.1 };
    let phase = match current * 3 / TOTAL {
        0 => "loading+input",
        1 => "computing",
        _ => "writing+output",
    };
    let desc = if ok { phase } else { "error:+out+of+memory" };
    Some(format!(
        "update?jobid={JOBID}&workid=rank{rank}&current={current}&total={TOTAL}&ok={}&desc={desc}",
        u8::from(ok)
    ))
}

impl Client {
    /// Sends one GET to `/progress/{path}` and returns the answer's status
    /// line; a failure only costs this report.
    fn send(&self, path: &str) -> Option<String> {
        let addr = self.addr;
        let authorization = self
            .write_token
            .as_ref()
            .map(|token| format!("Authorization: Bearer {token}\r\n"))
            .unwrap_or_default();
        let attempt = || -> std::io::Result<String> {
            let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
            stream.set_read_timeout(Some(Duration::from_secs(5)))?;
            write!(
                stream,
                "GET /progress/{path} HTTP/1.1\r\nHost: {addr}\r\n{authorization}\
                 Connection: close\r\n\r\n"
            )?;
            let mut answer = BufReader::new(stream.take(1 << 20));
            let mut status = String::new();
            answer.read_line(&mut status)?;
            std::io::copy(&mut answer, &mut std::io::sink())?;
            Ok(status)
        };
        attempt()
            .inspect_err(|e| log::warn!("demo report failed: {e}"))
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_worker_is_in_the_demo() {
        let at = |rank, step| report(rank, step);
        // Everyone but the late one reports at the start.
        assert!((0..WORKERS).all(|r| at(r, 1).is_some() == (r != LATE.0)));
        // The fast worker finishes and stops reporting.
        let fast_done = TOTAL / FAST.1 + 2;
        assert!(at(FAST.0, fast_done).is_none());
        // The failing one reports ok=0 once, then stops.
        let fails_at = (1..TOTAL).find(|&s| at(FAILS.0, s).is_some_and(|r| r.contains("ok=0")));
        let fails_at = fails_at.expect("the failing worker fails");
        assert!(at(FAILS.0, fails_at + 1).is_none());
        // The silent one stops early without finishing.
        assert!(at(SILENT.0, 1000).is_none());
        assert!(at(SILENT.0, 1).is_some());
        // A slow one is still going when the fast one is done.
        assert!(at(0, fast_done).is_some());
        // The straggler moves at under half the pace of the slowest other.
        let pace = |rank, step: u64| {
            at(rank, step).and_then(|r| {
                let current = r.split("current=").nth(1)?.split('&').next()?;
                current.parse::<u64>().ok()
            })
        };
        let others = (0..WORKERS).filter(|&r| ![SLOW.0, FAST.0, LATE.0].contains(&r));
        let slowest_other = others.filter_map(|r| pace(r, 100)).min().unwrap_or(0);
        assert!(pace(SLOW.0, 100).unwrap_or(u64::MAX) * 2 < slowest_other);
        // The late one says nothing until its time, then starts from 0.
        assert!(at(LATE.0, LATE.1 - 1).is_none());
        assert!(at(LATE.0, LATE.1).is_some());
    }
}
