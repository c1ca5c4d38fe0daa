//! Backups: `progressd backup`, `progressd check`, and the scheduled
//! backups the service takes itself (`--backup-dir`).
//!
//! The copying and checking are the store's (`store::backup`); this module
//! decides where copies go, names them, keeps the newest few, runs them on
//! a thread of their own, and words what the two commands print. Scheduled
//! copies are named `progressd-YYYYMMDD-HHMMSSZ.sqlite3` (UTC, so names
//! sort as times do); only files of that pattern are ever deleted.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::clock::Clock;
use crate::config::BackupSchedule;
use crate::format::utc_compact;
use crate::metrics::Metrics;
use crate::periodic::Periodic;
use crate::store::backup::{self, BackupError, Checked, Copied};
use crate::store::{StoreError, Writer};

/// What a backup's name starts with.
const NAME_PREFIX: &str = "progressd-";

/// What a backup's name ends with.
const NAME_SUFFIX: &str = ".sqlite3";

/// `progressd backup`: copies the database `db` to `dest`, or, when `dest`
/// is a directory, to a file in it named as the scheduled backups are.
/// An existing file is replaced only when `replace` is true.
pub fn backup_command(
    db: &Path,
    dest: &Path,
    replace: bool,
    clock: &Clock,
) -> Result<Copied, BackupError> {
    let dest = if dest.is_dir() {
        dest.join(backup_name(clock))
    } else {
        dest.to_path_buf()
    };
    backup::copy(db, &dest, replace)
}

/// The line `progressd backup` prints once done.
pub fn copied_line(db: &Path, copied: &Copied) -> String {
    format!(
        "copied {} to {} ({} bytes in {:.2} s)",
        db.display(),
        copied.path.display(),
        copied.bytes,
        copied.took.as_secs_f64()
    )
}

/// `progressd check`'s report: a line for each finding.
pub fn check_report(path: &Path, checked: &Checked) -> String {
    let integrity = if checked.integrity == "ok" {
        "ok".to_string()
    } else {
        format!("DAMAGED: {}", checked.integrity.replace('\n', "; "))
    };
    let schema = if checked.schema_version > checked.supported {
        format!(
            "{} (NEWER than this progressd's {})",
            checked.schema_version, checked.supported
        )
    } else {
        format!(
            "{} (this progressd: {})",
            checked.schema_version, checked.supported
        )
    };
    format!(
        "database: {}\nintegrity: {integrity}\nschema version: {schema}\njobs: {}\nworkers: {}\nsize: {} bytes\n",
        path.display(),
        checked.jobs,
        checked.workers,
        checked.bytes,
    )
}

/// The name of a backup taken now: `progressd-20261201-050228Z.sqlite3`.
fn backup_name(clock: &Clock) -> String {
    format!("{NAME_PREFIX}{}{NAME_SUFFIX}", utc_compact(clock.now()))
}

/// True for the names [`backup_name`] gives, and only those.
fn is_backup_name(name: &str) -> bool {
    let Some(stamp) = name
        .strip_prefix(NAME_PREFIX)
        .and_then(|rest| rest.strip_suffix(NAME_SUFFIX))
    else {
        return false;
    };
    let bytes = stamp.as_bytes();
    bytes.len() == 16
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 => *b == b'-',
            15 => *b == b'Z',
            _ => b.is_ascii_digit(),
        })
}

/// Deletes the oldest backups in `dir` (by name, which is by time) past
/// the newest `keep`, and the `.tmp` files of backups that a crash cut
/// short; returns those deleted. Other files are left alone.
fn prune(dir: &Path, keep: usize) -> std::io::Result<Vec<PathBuf>> {
    let listed: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .collect();
    let mut names: Vec<&String> = listed.iter().filter(|n| is_backup_name(n)).collect();
    names.sort_unstable();
    let surplus = names.len().saturating_sub(keep);
    let cut_short = listed
        .iter()
        .filter(|n| n.strip_suffix(".tmp").is_some_and(is_backup_name));
    let mut deleted = Vec::new();
    for name in names.into_iter().take(surplus).chain(cut_short) {
        let path = dir.join(name);
        std::fs::remove_file(&path)?;
        deleted.push(path);
    }
    Ok(deleted)
}

/// Takes one scheduled backup of the server's database `db`, copied by
/// its `writer`, into the schedule's directory and prunes the old ones.
fn take_scheduled(
    writer: &Writer,
    stopping: &Arc<AtomicBool>,
    db: &Path,
    schedule: &BackupSchedule,
    clock: &Clock,
) -> Result<Copied, BackupError> {
    let dest = schedule.dir.join(backup_name(clock));
    // Two backups in one second (a sub-second schedule) share a name: the
    // newer replaces the older.
    let copied = backup::copy_live(writer, stopping, db, &dest, true)?;
    prune(&schedule.dir, schedule.keep).map_err(|source| BackupError::Io {
        path: schedule.dir.display().to_string(),
        source,
    })?;
    Ok(copied)
}

/// Starts the thread that backs the server's database `db` up by
/// `schedule`, copied by `writer`, first one interval from now. A failed backup is logged and
/// counted, and tried again at the next interval; it never stops the
/// service.
pub fn start(
    writer: Writer,
    db: PathBuf,
    schedule: BackupSchedule,
    clock: Clock,
    metrics: Arc<Metrics>,
) -> std::io::Result<Periodic> {
    let every: Duration = schedule.every;
    Periodic::start(
        "progressd-backup",
        every,
        (),
        move |(), stopping| match take_scheduled(&writer, stopping, &db, &schedule, &clock) {
            Ok(copied) => {
                metrics.backup_taken(copied.took);
                log::info!(
                    "backup {} taken: {} bytes in {} ms",
                    copied.path.display(),
                    copied.bytes,
                    copied.took.as_millis()
                );
            }
            // Given up so that the service stops at once (a big database
            // takes seconds to copy): not a failure.
            Err(BackupError::Server(StoreError::WriterStopped))
                if stopping.load(Ordering::SeqCst) =>
            {
                log::info!("backup under way given up: progressd is stopping");
            }
            Err(e) => {
                metrics.backup_failed();
                log::warn!("backup failed, trying again in {every:?}: {e}");
            }
        },
        drop,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Time;

    #[test]
    fn backups_are_named_by_their_time_and_only_those_names_match() {
        let clock = Clock::manual(Time::unix(1_795_643_652.0));
        let name = backup_name(&clock);
        assert_eq!(name, "progressd-20261125-215412Z.sqlite3");
        assert!(is_backup_name(&name));
        for other in [
            "progressd.sqlite3",
            "progressd-20261125-215412Z.sqlite3.tmp",
            "progressd-20261125-215412Z.sqlite3-wal",
            "progressd-2026112x-215412Z.sqlite3",
            "progressd-20261125-215412.sqlite3",
            "mine-20261125-215412Z.sqlite3",
        ] {
            assert!(!is_backup_name(other), "{other}");
        }
    }

    #[test]
    fn pruning_keeps_the_newest_and_touches_nothing_else() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let names = [
            "progressd-20261125-215412Z.sqlite3",
            "progressd-20261126-000000Z.sqlite3",
            "progressd-20261124-235959Z.sqlite3",
            "progressd-20261127-120000Z.sqlite3",
            "progressd-20261123-000000Z.sqlite3.tmp",
            "progressd.sqlite3",
            "notes.txt",
        ];
        for name in names {
            std::fs::write(dir.path().join(name), b"")?;
        }
        let deleted = prune(dir.path(), 2)?;
        let deleted: Vec<_> = deleted
            .iter()
            .filter_map(|p| p.file_name()?.to_str())
            .collect();
        assert_eq!(
            deleted,
            [
                "progressd-20261124-235959Z.sqlite3",
                "progressd-20261125-215412Z.sqlite3",
                "progressd-20261123-000000Z.sqlite3.tmp"
            ]
        );
        let mut left: Vec<_> = std::fs::read_dir(dir.path())?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "notes.txt",
                "progressd-20261126-000000Z.sqlite3",
                "progressd-20261127-120000Z.sqlite3",
                "progressd.sqlite3"
            ]
        );
        Ok(())
    }
}
