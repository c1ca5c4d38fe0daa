//! Backups (issue 16): `progressd backup` of a database under write load
//! holds every update acknowledged before it started and serves them;
//! scheduled backups appear, are pruned, and each checks sound, and one
//! taken under write load holds every update acknowledged before it began;
//! `progressd check` tells a sound database from a damaged or missing one.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::{TestResult, TestServer, progressd_command, worker};
use progressd::config::Config;

/// Workers the load sends updates for, one thread each.
const LOADED_WORKERS: usize = 4;

/// `progressd ARGS`, run to its end.
fn progressd(args: &[&str]) -> std::io::Result<Output> {
    progressd_command().args(args).output()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `progressd check --db DB`: its exit code and what it printed.
fn check(db: &Path) -> std::io::Result<(Option<i32>, String, String)> {
    let out = progressd(&["check", "--db", &db.to_string_lossy()])?;
    Ok((out.status.code(), text(&out.stdout), text(&out.stderr)))
}

/// Threads sending updates of job `load`'s workers with `current` 1, 2,
/// 3… as fast as they are answered; each worker's last acknowledged
/// `current` is kept in `acknowledged`.
struct Load {
    stop: Arc<AtomicBool>,
    acknowledged: Arc<Vec<AtomicU64>>,
    threads: Vec<thread::JoinHandle<Result<(), String>>>,
}

impl Load {
    fn start(base: &str) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let acknowledged: Arc<Vec<AtomicU64>> =
            Arc::new((0..LOADED_WORKERS).map(|_| AtomicU64::new(0)).collect());
        let threads = (0..LOADED_WORKERS)
            .map(|w| {
                let (base, stop, acknowledged) =
                    (base.to_string(), stop.clone(), acknowledged.clone());
                thread::spawn(move || {
                    let agent: ureq::Agent = ureq::Agent::config_builder()
                        .http_status_as_error(false)
                        .timeout_global(Some(Duration::from_secs(30)))
                        .build()
                        .into();
                    let mut current = 0u64;
                    while !stop.load(Ordering::SeqCst) {
                        current += 1;
                        let url = format!(
                            "{base}/progress/update?jobid=load&workid=w{w}&current={current}&total=1000000000"
                        );
                        let status = agent
                            .get(&url)
                            .call()
                            .map_err(|e| e.to_string())?
                            .status();
                        if status != 200 {
                            return Err(format!("update {current} of w{w}: {status}"));
                        }
                        acknowledged[w].store(current, Ordering::SeqCst);
                    }
                    Ok(())
                })
            })
            .collect();
        Load {
            stop,
            acknowledged,
            threads,
        }
    }

    /// Each worker's last acknowledged `current`, now.
    fn acknowledged(&self) -> Vec<u64> {
        self.acknowledged
            .iter()
            .map(|a| a.load(Ordering::SeqCst))
            .collect()
    }

    fn stop(self) -> Result<Vec<u64>, String> {
        self.stop.store(true, Ordering::SeqCst);
        for thread in self.threads {
            thread.join().map_err(|_| "a load thread panicked")??;
        }
        Ok(self
            .acknowledged
            .iter()
            .map(|a| a.load(Ordering::SeqCst))
            .collect())
    }
}

/// Each loaded worker's `current` in the database at `db`, by index.
fn stored_currents(db: &Path) -> rusqlite::Result<Vec<u64>> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    (0..LOADED_WORKERS)
        .map(|w| {
            conn.query_row(
                "SELECT w.current FROM workers w JOIN jobs j ON j.id = w.job
                 WHERE j.jobid = 'load' AND w.workid = ?1",
                [format!("w{w}")],
                |row| row.get::<_, f64>(0).map(|c| c as u64),
            )
        })
        .collect()
}

/// Lets the load run 0.3 s more and stops it, checking that it went on
/// past `before` (each worker's acknowledged `current` when the copy
/// began); then that the copy at `copy` checks sound and holds at least
/// `before`. Returns the copy's `current`s.
fn stop_and_check(
    load: Load,
    before: &[u64],
    copy: &Path,
) -> Result<Vec<u64>, Box<dyn std::error::Error>> {
    thread::sleep(Duration::from_millis(300));
    let after = load.stop()?;
    assert!(
        before.iter().zip(&after).all(|(b, a)| a > b),
        "updates were acknowledged during and after the copy: {before:?} → {after:?}"
    );
    let (code, report, stderr) = check(copy)?;
    assert_eq!(code, Some(0), "{report}{stderr}");
    assert!(report.contains("integrity: ok"), "{report}");
    let copied = stored_currents(copy)?;
    for (w, (stored, acked)) in copied.iter().zip(before).enumerate() {
        assert!(
            stored >= acked,
            "w{w}: the copy holds {stored}, but {acked} was acknowledged before it began"
        );
    }
    Ok(copied)
}

#[test]
fn a_backup_under_write_load_holds_every_acknowledged_update_and_serves_them() -> TestResult {
    let s = TestServer::start();
    // Rows around the loaded job, so the copy has pages to take.
    s.get("/progress/create?jobid=roster&workers=5000");
    common::wait_for_roster(&s.addr(), "roster", 5000);
    let load = Load::start(&s.base);
    thread::sleep(Duration::from_millis(700));
    let dir = tempfile::tempdir()?;
    let dest = dir.path().join("copy.sqlite3");
    let before = load.acknowledged();
    assert!(before.iter().all(|&c| c > 0), "the load runs: {before:?}");
    let out = progressd(&[
        "backup",
        "--db",
        &s.db().to_string_lossy(),
        &dest.to_string_lossy(),
    ])?;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("copied "),
        "{}",
        text(&out.stdout)
    );
    let copied = stop_and_check(load, &before, &dest)?;

    // Restore: a server started on (a copy of) the backup serves the jobs.
    let restored_dir = tempfile::tempdir()?;
    let restored = restored_dir.path().join("progressd.sqlite3");
    std::fs::copy(&dest, &restored)?;
    let config = Config::from_args(&[
        "--listen",
        "127.0.0.1:0",
        "--db",
        &restored.to_string_lossy(),
        "--log-level",
        "warn",
    ])?;
    let running = progressd::start(&config)?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut answer = agent
        .get(format!(
            "http://{}/progress/status?jobid=load",
            running.addr()
        ))
        .call()?;
    assert_eq!(answer.status(), 200);
    let status: serde_json::Value = serde_json::from_str(&answer.body_mut().read_to_string()?)?;
    for (w, stored) in copied.iter().enumerate() {
        let served = worker(&status, &format!("w{w}"))["current"].as_f64();
        assert_eq!(served, Some(*stored as f64), "w{w} as served");
    }
    let roster = agent
        .get(format!(
            "http://{}/progress/status?jobid=roster&workers=0",
            running.addr()
        ))
        .call()?
        .status();
    assert_eq!(roster, 200);
    running.shutdown();
    Ok(())
}

/// The scheduled backups in `dir`, by name.
fn scheduled(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("progressd-2") && n.ends_with("Z.sqlite3"))
        })
        .collect();
    found.sort();
    Ok(found)
}

#[test]
fn scheduled_backups_appear_keep_the_newest_and_each_checks_sound() -> TestResult {
    let backups = tempfile::tempdir()?;
    // Files that are not its backups stay, whatever their names.
    let others = ["notes.txt", "progressd-manual.sqlite3"];
    for name in others {
        std::fs::write(backups.path().join(name), b"mine")?;
    }
    let schedule = Config::from_args(&[
        "--backup-dir",
        &backups.path().to_string_lossy(),
        "--backup-every",
        "0.2",
        "--backup-keep",
        "2",
    ])?
    .backups;
    assert!(schedule.is_some());
    let mut s = TestServer::start_with(|c| c.backups = schedule);
    s.report_of_ten("kept", &[("a", "3", "1"), ("b", "7", "1")]);
    // Names are to the second: four seconds give at least three of them.
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(4) {
        thread::sleep(Duration::from_millis(100));
        let found = scheduled(backups.path())?;
        assert!(found.len() <= 2, "at most --backup-keep kept: {found:?}");
    }
    let metrics = s.metrics_with("progressd_backups_total");
    let taken: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("progressd_backups_total "))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        taken >= 10,
        "a backup every 0.2 s for 4 s: {taken}\n{metrics}"
    );
    assert!(
        metrics.contains("progressd_backup_failures_total 0\n"),
        "{metrics}"
    );
    s.stop();
    let found = scheduled(backups.path())?;
    assert_eq!(found.len(), 2, "{found:?}");
    for backup in &found {
        let (code, report, stderr) = check(backup)?;
        assert_eq!(code, Some(0), "{}: {report}{stderr}", backup.display());
        assert!(report.contains("jobs: 1\nworkers: 2\n"), "{report}");
    }
    for name in others {
        assert_eq!(std::fs::read(backups.path().join(name))?, b"mine", "{name}");
    }
    Ok(())
}

#[test]
fn a_scheduled_backup_under_write_load_holds_every_update_acknowledged_before_it_began()
-> TestResult {
    let backups = tempfile::tempdir()?;
    let schedule = Config::from_args(&[
        "--backup-dir",
        &backups.path().to_string_lossy(),
        "--backup-every",
        "1",
    ])?
    .backups;
    let s = TestServer::start_with(|c| c.backups = schedule);
    s.get("/progress/create?jobid=roster&workers=5000");
    common::wait_for_roster(&s.addr(), "roster", 5000);
    let load = Load::start(&s.base);
    thread::sleep(Duration::from_millis(300));
    let before = load.acknowledged();
    assert!(before.iter().all(|&c| c > 0), "the load runs: {before:?}");
    // A copy under way now may have ended before `before` was read, and
    // appear later; the one after it began once it had appeared.
    let mut seen = scheduled(backups.path())?;
    let started = Instant::now();
    let mut next_backup = || -> std::io::Result<PathBuf> {
        loop {
            if let Some(new) = scheduled(backups.path())?
                .into_iter()
                .find(|p| !seen.contains(p))
            {
                seen.push(new.clone());
                return Ok(new);
            }
            assert!(started.elapsed() < Duration::from_secs(30), "no new backup");
            thread::sleep(Duration::from_millis(20));
        }
    };
    next_backup()?;
    let backup = next_backup()?;
    stop_and_check(load, &before, &backup)?;
    let (_, report, _) = check(&backup)?;
    assert!(report.contains("jobs: 2\nworkers: 5004\n"), "{report}");
    Ok(())
}

#[test]
fn check_says_what_a_sound_database_holds_and_exits_0() -> TestResult {
    let mut s = TestServer::start();
    s.report_of_ten("one", &[("a", "3", "1"), ("b", "7", "1")]);
    s.report_of_ten("two", &[("a", "1", "1")]);
    // While the server runs, and after.
    for running in [true, false] {
        if !running {
            s.stop();
        }
        let (code, report, stderr) = check(&s.db())?;
        assert_eq!(code, Some(0), "{report}{stderr}");
        let schema = format!(
            "schema version: {0} (this progressd: {0})",
            progressd::store::MIGRATIONS.len()
        );
        for line in ["integrity: ok", &schema, "jobs: 2", "workers: 3", "size: "] {
            assert!(report.contains(line), "{line:?} in {report}");
        }
    }
    Ok(())
}

#[test]
fn check_fails_on_a_damaged_database_and_on_a_missing_one() -> TestResult {
    let mut s = TestServer::start();
    s.get("/progress/create?jobid=big&workers=3000");
    common::wait_for_roster(&s.addr(), "big", 3000);
    s.stop();
    let db = s.db();
    // The header stays valid; a page in the middle is overwritten.
    let mut bytes = std::fs::read(&db)?;
    let page = 4096 * (bytes.len() / 4096 / 2);
    bytes[page..page + 4096].fill(0x5a);
    std::fs::write(&db, bytes)?;
    let (code, report, stderr) = check(&db)?;
    assert_eq!(code, Some(1), "{report}{stderr}");
    assert!(report.contains("integrity: DAMAGED"), "{report}");

    let missing = db.with_file_name("none.sqlite3");
    let (code, report, stderr) = check(&missing)?;
    assert_eq!(code, Some(1));
    assert!(report.is_empty(), "{report}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("does not exist"), "{stderr}");
    Ok(())
}

#[test]
fn backup_refuses_to_replace_a_file_unasked_and_to_copy_a_missing_database() -> TestResult {
    let s = TestServer::start();
    s.report_of_ten("j", &[("a", "1", "1")]);
    let dir = tempfile::tempdir()?;
    let dest = dir.path().join("there.sqlite3");
    std::fs::write(&dest, b"an older backup")?;
    let db = s.db().to_string_lossy().into_owned();
    let dest_text = dest.to_string_lossy().into_owned();
    let out = progressd(&["backup", "--db", &db, &dest_text])?;
    assert_eq!(out.status.code(), Some(1));
    let said = text(&out.stderr);
    assert_eq!(said.lines().count(), 1, "{said}");
    assert!(said.contains("--force"), "{said}");
    assert_eq!(std::fs::read(&dest)?, b"an older backup");
    let out = progressd(&["backup", "--db", &db, &dest_text, "--force"])?;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(check(&dest)?.0, Some(0));
    // A directory gets a named backup in it.
    let out = progressd(&["backup", "--db", &db, &dir.path().to_string_lossy()])?;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(scheduled(dir.path())?.len(), 1);

    let missing = dir
        .path()
        .join("none.sqlite3")
        .to_string_lossy()
        .into_owned();
    let out = progressd(&["backup", "--db", &missing, &dest_text, "--force"])?;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("does not exist"));
    Ok(())
}
