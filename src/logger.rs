//! A minimal `log` backend: one line per record on stderr, level from
//! `--log-level`, else `RUST_LOG` (`error`, `warn`, `info`, `debug`,
//! `trace`; default `info`).
//!
//! Records from other crates (tiny_http logs each connection at debug) are
//! shown only at `trace`, so `debug` stays readable.

use std::sync::OnceLock;

use log::{LevelFilter, Log, Metadata, Record};

static LOGGER: OnceLock<StderrLogger> = OnceLock::new();

struct StderrLogger {
    level: LevelFilter,
}

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        let ours = metadata.target().starts_with("progressd");
        metadata.level() <= self.level && (ours || self.level == LevelFilter::Trace)
    }

    fn log(&self, record: &Record) {
        if self.enabled(record.metadata()) {
            eprintln!("[{}] {}", record.level(), record.args());
        }
    }

    fn flush(&self) {}
}

/// Installs the logger at `level`, else the level `RUST_LOG` names, else
/// `info`. A second call (tests start several servers) keeps the first
/// logger.
pub fn init(level: Option<LevelFilter>) {
    let level = level
        .or_else(|| std::env::var("RUST_LOG").ok().and_then(|v| v.parse().ok()))
        .unwrap_or(LevelFilter::Info);
    let logger = LOGGER.get_or_init(|| StderrLogger { level });
    if log::set_logger(logger).is_ok() {
        log::set_max_level(logger.level);
    }
}
