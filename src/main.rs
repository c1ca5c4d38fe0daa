//! The `progressd` binary: parse the command line, run, map an error to an
//! exit code.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use progressd::config::{BackupArgs, Cli, Command, Config, WatchArgs, WatchConfig};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Some(Command::Watch(args)) => return watch(args),
        Some(Command::Backup(args)) => return backup(&cli, args),
        Some(Command::Check) => return check(&cli),
        Some(Command::Serve | Command::Demo) | None => {}
    }
    let demo = matches!(cli.command, Some(Command::Demo));
    // The demo keeps its database in a temporary directory unless told.
    let scratch = (demo && cli.serve.db.is_none())
        .then(|| std::env::temp_dir().join(format!("progressd-demo-{}", std::process::id())));
    let mut config = match Config::from_cli(&cli.serve) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("progressd: {message}");
            return ExitCode::from(2);
        }
    };
    // The demo's own reports would bury its links under a log line each.
    if demo && config.log_level.is_none() && std::env::var_os("RUST_LOG").is_none() {
        config.log_level = Some(log::LevelFilter::Warn);
    }
    if let Some(dir) = &scratch {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("progressd: cannot create {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
        config.db = dir.join("demo.sqlite3");
    }
    let result = if demo {
        progressd::run_demo(&config)
    } else {
        progressd::run(&config)
    };
    if let Some(dir) = &scratch {
        let _ = std::fs::remove_dir_all(dir);
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("progressd: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `progressd watch`: 2 for bad options or no terminal, 1 for a terminal
/// that fails, 0 when the user quits.
fn watch(args: &WatchArgs) -> ExitCode {
    let config = match WatchConfig::from_args(args) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("progressd watch: {message}");
            return ExitCode::from(2);
        }
    };
    match progressd::watch::run(&config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("progressd watch: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// `progressd backup`: 0 once the copy is in place, 1 when it failed
/// (nothing is left under DEST's name then).
fn backup(cli: &Cli, args: &BackupArgs) -> ExitCode {
    let db = cli.serve.db_path();
    let clock = progressd::clock::Clock::system();
    match progressd::backups::backup_command(&db, &args.dest, args.force, &clock) {
        Ok(copied) => {
            println!("{}", progressd::backups::copied_line(&db, &copied));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("progressd backup: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `progressd check`: 0 for a sound database, 1 for a damaged one, one
/// this progressd cannot read, or none.
fn check(cli: &Cli) -> ExitCode {
    let db = cli.serve.db_path();
    match progressd::store::backup::check(&db) {
        Ok(checked) => {
            print!("{}", progressd::backups::check_report(&db, &checked));
            if checked.is_sound() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("progressd check: {e}");
            ExitCode::FAILURE
        }
    }
}
