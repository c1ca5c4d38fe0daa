//! A minimal `log` backend: one line per record on stderr, level from
//! `--log-level`, else `RUST_LOG` (`error`, `warn`, `info`, `debug`,
//! `trace`; default `info`).
//!
//! Records from other crates below `warn` (tiny_http logs each connection
//! at debug) are shown only at `trace`, so `debug` stays readable; their
//! warnings and errors (an answer cut short by `--max-unsent-mib`, an
//! accept error, a thread that could not start) are shown like ours.

use std::sync::OnceLock;

use log::{Level, LevelFilter, Log, Metadata, Record};

static LOGGER: OnceLock<StderrLogger> = OnceLock::new();

struct StderrLogger {
    level: LevelFilter,
}

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        let shown = metadata.target().starts_with("progressd")
            || metadata.level() <= Level::Warn
            || self.level == LevelFilter::Trace;
        metadata.level() <= self.level && shown
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

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(logger: &StderrLogger, target: &str, level: Level) -> bool {
        logger.enabled(&Metadata::builder().target(target).level(level).build())
    }

    #[test]
    fn other_crates_show_their_warnings_but_their_chatter_only_at_trace() {
        let warn = StderrLogger {
            level: LevelFilter::Warn,
        };
        assert!(shown(&warn, "tiny_http::request", Level::Warn));
        assert!(shown(&warn, "progressd::server", Level::Error));
        assert!(!shown(&warn, "progressd::server", Level::Info));
        let debug = StderrLogger {
            level: LevelFilter::Debug,
        };
        assert!(shown(&debug, "progressd::server", Level::Debug));
        assert!(!shown(&debug, "tiny_http", Level::Debug));
        let trace = StderrLogger {
            level: LevelFilter::Trace,
        };
        assert!(shown(&trace, "tiny_http", Level::Debug));
    }
}
