//! Command line and environment → one validated [`Config`].
//!
//! clap reads the raw arguments (each option also from a `PROGRESSD_*`
//! variable); [`Config::from_cli`] turns them into checked types, so nothing
//! later has to validate them again.

use crate::clock::{Clock, Secs};
use std::net::ToSocketAddrs;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::auth::Tokens;
use crate::notify::Target;
use crate::params::MAX_MAXAGE_SECS;
use crate::store::Caps;

/// Live progress bars for the workers of distributed jobs.
#[derive(Debug, Parser)]
#[command(name = "progressd", version, about)]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options of the service.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service (the default).
    Serve,
    /// Run the service with a demo job of simulated workers (on a temporary
    /// database unless --db is given), until Ctrl-C.
    Demo,
    /// Watch a job live in this terminal, from any progressd.
    ///
    /// Full screen, redrawn in place every --interval and on each key. Keys:
    /// a all workers; f failed, s stale, r running, d done, n not started,
    /// w slow, p problems (failed, stale or slow); arrows or j/k, PgUp/PgDn,
    /// Home/End scroll; q, Esc or Ctrl-C quit.
    Watch(WatchArgs),
    /// Copy the database (--db) to DEST while the service runs.
    ///
    /// With SQLite's online backup API: the copy is the database as of its
    /// start, written to DEST.tmp and renamed once complete. Needs no lock
    /// and writes nothing to the live file.
    Backup(BackupArgs),
    /// Check the database (--db): integrity, schema version, counts, size.
    ///
    /// Runs integrity_check over every page, read-only, and prints the
    /// schema version, the jobs and workers and the file's size. Exit 0
    /// when it is sound, 1 when it is not or cannot be read. Safe beside
    /// the service.
    Check,
}

/// Options of `backup`, as typed (the database is `--db`).
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The file to write, or a directory to write
    /// progressd-YYYYMMDD-HHMMSSZ.sqlite3 in.
    #[arg(value_name = "DEST")]
    pub dest: PathBuf,
    /// Replace DEST if it exists (it is replaced whole, by a rename, once
    /// the copy is complete).
    #[arg(long)]
    pub force: bool,
}

/// Options of `watch`, as typed.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The job to watch.
    #[arg(value_name = "JOBID")]
    pub jobid: String,
    /// The progressd to ask: its address, http:// or https://, with the
    /// path it is served under behind a proxy.
    #[arg(long, env = "PROGRESSD_URL", default_value = DEFAULT_WATCH_URL)]
    pub url: String,
    /// The server's read (or write) token, if it has one; sent as
    /// `Authorization: Bearer …`.
    #[arg(long, env = "PROGRESSD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Seconds between redraws (0.5 to 3600).
    #[arg(long, default_value_t = 2.0)]
    pub interval: f64,
}

/// `--url` of `watch` when not given: the address `serve` listens on.
pub const DEFAULT_WATCH_URL: &str = "http://127.0.0.1:8080";

/// The fewest and most seconds between `watch`'s redraws.
const WATCH_INTERVAL_RANGE: (f64, f64) = (0.5, 3600.0);

/// What `progressd watch` runs with, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchConfig {
    /// The job's id.
    pub jobid: String,
    /// The server's address, without a trailing `/`.
    pub url: String,
    /// The token to send, if any.
    pub token: Option<String>,
    /// Time between redraws.
    pub interval: Duration,
}

impl WatchConfig {
    /// Checks `watch`'s options: a jobid of 1 to 256 bytes, an http(s)
    /// URL, a token as `serve` takes them, an interval in range.
    pub fn from_args(args: &WatchArgs) -> Result<WatchConfig, String> {
        if args.jobid.is_empty() || args.jobid.len() > crate::params::MAX_JOBID_BYTES {
            return Err(format!(
                "JOBID must be 1 to {} bytes",
                crate::params::MAX_JOBID_BYTES
            ));
        }
        let url = args.url.trim_end_matches('/');
        match url::Url::parse(url) {
            Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.has_host() => {}
            _ => {
                return Err(format!(
                    "--url must be an http:// or https:// address such as {DEFAULT_WATCH_URL}, got {:?}",
                    args.url
                ));
            }
        }
        let (least, most) = WATCH_INTERVAL_RANGE;
        if !(least..=most).contains(&args.interval) {
            return Err(format!(
                "--interval must be {least} to {most} seconds, got {}",
                args.interval
            ));
        }
        Ok(WatchConfig {
            jobid: args.jobid.clone(),
            url: url.to_string(),
            token: checked_token("--token", args.token.as_deref())?,
            interval: Duration::from_secs_f64(args.interval),
        })
    }
}

/// Options of `serve`, as typed. Global, so they may follow `serve` or
/// `demo`; under their own heading, so `watch --help` tells its own
/// options from them.
#[derive(Debug, Args)]
#[command(next_help_heading = "Options of serve and demo")]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(
        long,
        env = "PROGRESSD_LISTEN",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub listen: String,
    /// SQLite database file; created with its schema if missing [default:
    /// ./progressd.sqlite3; for `demo`, a temporary file]
    #[arg(long, env = "PROGRESSD_DB", global = true)]
    pub db: Option<PathBuf>,
    /// Request threads.
    #[arg(long, env = "PROGRESSD_THREADS", default_value_t = 8, global = true)]
    pub threads: usize,
    /// Seconds between runs of the expiry thread.
    #[arg(
        long,
        env = "PROGRESSD_EXPIRE_INTERVAL",
        default_value_t = 60.0,
        global = true
    )]
    pub expire_interval: f64,
    /// Seconds of inactivity after which a job without its own maxage expires.
    #[arg(
        long,
        env = "PROGRESSD_DEFAULT_MAXAGE",
        default_value_t = 604_800.0,
        global = true
    )]
    pub default_maxage: f64,
    /// Do not list the jobs at /progress/ (it answers 404), for sites that
    /// keep job ids private.
    #[arg(
        long,
        env = "PROGRESSD_NO_INDEX",
        global = true,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub no_index: bool,
    /// Connections open at once; one more is answered 503 and closed. Each
    /// open connection holds a small thread and two file descriptors.
    #[arg(
        long,
        env = "PROGRESSD_MAX_CONNECTIONS",
        default_value_t = 4096,
        global = true
    )]
    pub max_connections: usize,
    /// Seconds a request may take to arrive (with the wait for it on a
    /// kept-alive connection) and a response to be sent.
    #[arg(
        long,
        env = "PROGRESSD_REQUEST_TIMEOUT",
        default_value_t = 10.0,
        global = true
    )]
    pub request_timeout: f64,
    /// MiB of answers kept, over all connections, for clients that do not
    /// read them at once (each kept until sent or --request-timeout); an
    /// answer that would pass it is cut short and its connection closed.
    #[arg(
        long,
        env = "PROGRESSD_MAX_UNSENT_MIB",
        default_value_t = DEFAULT_MAX_UNSENT_MIB,
        global = true
    )]
    pub max_unsent_mib: usize,
    /// Most workers in one job; an update that would add one more is
    /// refused with 413.
    #[arg(
        long,
        env = "PROGRESSD_MAX_WORKERS_PER_JOB",
        default_value_t = 100_000,
        global = true
    )]
    pub max_workers_per_job: u64,
    /// Most jobs stored; a create or update that would add one more is
    /// refused with 429 until jobs expire or are deleted.
    #[arg(
        long,
        env = "PROGRESSD_MAX_JOBS",
        default_value_t = 1_000_000,
        global = true
    )]
    pub max_jobs: u64,
    /// Most workers stored, in all jobs together; a create or update that
    /// would add more is refused with 429 until jobs expire or are deleted.
    /// About 300 bytes of database each.
    #[arg(
        long,
        env = "PROGRESSD_MAX_WORKERS",
        default_value_t = 10_000_000,
        global = true
    )]
    pub max_workers: u64,
    /// The show page lists every worker of a job of up to this many workers;
    /// a bigger job's page opens with its summary, a histogram of its
    /// workers' percent and the workers that need attention, and lists its
    /// workers a page at a time.
    #[arg(
        long,
        env = "PROGRESSD_LIST_ALL_UP_TO",
        default_value_t = DEFAULT_LIST_ALL_UP_TO,
        global = true
    )]
    pub list_all_up_to: u64,
    /// Token that create, update and delete need (as `Authorization: Bearer
    /// TOKEN` or `token=TOKEN`). Prefer the environment variable: options
    /// show in `ps` to every user of the machine.
    #[arg(
        long,
        env = "PROGRESSD_WRITE_TOKEN",
        global = true,
        hide_env_values = true
    )]
    pub write_token: Option<String>,
    /// Token that the pages, status, charts and job list need; the write
    /// token opens them too.
    #[arg(
        long,
        env = "PROGRESSD_READ_TOKEN",
        global = true,
        hide_env_values = true
    )]
    pub read_token: Option<String>,
    /// Log level: error, warn, info (one line per request), debug, trace.
    /// Without it, RUST_LOG, else info.
    #[arg(long, env = "PROGRESSD_LOG_LEVEL", global = true)]
    pub log_level: Option<String>,
    /// Webhook for the events of jobs that ask (`create … notify=1`); give
    /// it again for more. A JSON POST with a `text` field (Slack,
    /// Mattermost), or plain text for a URL written
    /// `ntfy+https://ntfy.sh/TOPIC`. In the environment, separate URLs
    /// with spaces.
    #[arg(
        long = "notify-url",
        env = "PROGRESSD_NOTIFY_URL",
        value_delimiter = ' ',
        global = true,
        hide_env_values = true
    )]
    pub notify_url: Vec<String>,
    /// The address people reach this server at, for the links in
    /// notifications, such as https://progress.example.org [default:
    /// http:// and --listen, with this machine's name for 0.0.0.0]
    #[arg(long, env = "PROGRESSD_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// Directory for scheduled backups of the database, taken while the
    /// service runs and named progressd-YYYYMMDD-HHMMSSZ.sqlite3; it must
    /// exist and be writable. Without it, no scheduled backups.
    #[arg(long, env = "PROGRESSD_BACKUP_DIR", global = true)]
    pub backup_dir: Option<PathBuf>,
    /// Seconds between scheduled backups (with --backup-dir) [default:
    /// 86400, once a day]
    #[arg(long, env = "PROGRESSD_BACKUP_EVERY", global = true)]
    pub backup_every: Option<f64>,
    /// Scheduled backups kept in --backup-dir, the newest; older ones (of
    /// that name pattern only) are deleted [default: 7]
    #[arg(long, env = "PROGRESSD_BACKUP_KEEP", global = true)]
    pub backup_keep: Option<usize>,
    /// Another progressd whose jobs /progress/ and jobs list too (a shard
    /// of this site behind nginx, or another cluster's head node), such as
    /// http://10.0.0.2:8080; give it again for more. In the environment,
    /// separate URLs with spaces.
    #[arg(
        long = "peer",
        env = "PROGRESSD_PEER",
        value_delimiter = ' ',
        global = true
    )]
    pub peer: Vec<String>,
    /// The read token to send to the peers [default: this server's
    /// --read-token]
    #[arg(
        long,
        env = "PROGRESSD_PEER_TOKEN",
        global = true,
        hide_env_values = true
    )]
    pub peer_token: Option<String>,
}

/// Seconds between scheduled backups when `--backup-every` is not given:
/// with the default `--backup-keep`, a week of daily copies, as long as a
/// job lives without news by default (`--default-maxage`).
const DEFAULT_BACKUP_EVERY_SECS: f64 = 86_400.0;

/// Scheduled backups kept when `--backup-keep` is not given.
const DEFAULT_BACKUP_KEEP: usize = 7;

/// The shortest and longest `--backup-every`: a tenth of a second (for
/// tests) to a year.
const BACKUP_EVERY_RANGE: (f64, f64) = (0.1, 31_536_000.0);

/// Most scheduled backups kept.
const MAX_BACKUP_KEEP: usize = 10_000;

/// Where, how often and how many scheduled backups, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct BackupSchedule {
    /// The directory the copies go in; it existed and took a file at start.
    pub dir: PathBuf,
    /// Time between copies.
    pub every: Duration,
    /// Copies kept, the newest, at least 1.
    pub keep: usize,
}

impl BackupSchedule {
    /// Checks the three options; None when `--backup-dir` is not given,
    /// which the other two need.
    fn from_args(args: &ServeArgs) -> Result<Option<BackupSchedule>, String> {
        let Some(dir) = &args.backup_dir else {
            for (given, option) in [
                (args.backup_every.is_some(), "--backup-every"),
                (args.backup_keep.is_some(), "--backup-keep"),
            ] {
                if given {
                    return Err(format!("{option} needs --backup-dir"));
                }
            }
            return Ok(None);
        };
        crate::store::writable_directory(dir)
            .map_err(|problem| format!("--backup-dir {}: {problem}", dir.display()))?;
        let (least, most) = BACKUP_EVERY_RANGE;
        let every_secs = args.backup_every.unwrap_or(DEFAULT_BACKUP_EVERY_SECS);
        if !(least..=most).contains(&every_secs) {
            return Err(format!(
                "--backup-every must be {least} to {most} seconds, got {every_secs}"
            ));
        }
        let keep = args.backup_keep.unwrap_or(DEFAULT_BACKUP_KEEP);
        if !(1..=MAX_BACKUP_KEEP).contains(&keep) {
            return Err(format!(
                "--backup-keep must be 1 to {MAX_BACKUP_KEEP}, got {keep}"
            ));
        }
        Ok(Some(BackupSchedule {
            dir: dir.clone(),
            every: Duration::from_secs_f64(every_secs),
            keep,
        }))
    }
}

impl ServeArgs {
    /// The database file: `--db`, else [`DEFAULT_DB`].
    pub fn db_path(&self) -> PathBuf {
        self.db.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_DB))
    }
}

/// The address links in notifications start with when `--public-url` is
/// not given: `--listen`'s, with the machine's name for an address that
/// means every interface.
fn default_public_url(listen: &str) -> String {
    let (host, port) = listen.rsplit_once(':').unwrap_or((listen, "8080"));
    let host = match host.trim_matches(['[', ']']) {
        "0.0.0.0" | "::" | "" => std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|name| name.trim().to_string())
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "localhost".into()),
        _ => host.to_string(),
    };
    format!("http://{host}:{port}")
}

/// A token as given, checked: it travels in headers and URLs, so visible
/// ASCII only. The message never repeats the token.
fn checked_token(option: &str, token: Option<&str>) -> Result<Option<String>, String> {
    match token {
        None => Ok(None),
        Some(t) if !t.is_empty() && t.len() <= 256 && t.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(Some(t.to_string()))
        }
        Some(_) => Err(format!(
            "{option} must be 1 to 256 visible ASCII characters (no spaces), \
             such as the output of: openssl rand -hex 32"
        )),
    }
}

/// The database file when `--db` is not given.
pub const DEFAULT_DB: &str = "./progressd.sqlite3";

/// Most request threads accepted.
const MAX_THREADS: usize = 1024;

/// Most connections accepted for `--max-connections`.
const MAX_CONNECTIONS: usize = 100_000;

/// `--max-unsent-mib` when not given. The largest answer, the show page of
/// a job at the default `--max-workers-per-job` (100,000) listing every
/// worker (with `--list-all-up-to` raised to it), is about 43 MB,
/// of which a client that does not read leaves about 39 MB unsent: 256 MiB
/// lets six such clients (and many more of smaller pages) be served at
/// once, while 4,096 connections (`--max-connections`) could otherwise
/// hold 170 GB. With the connections' threads and buffers, the server then
/// stays well under 1 GiB.
const DEFAULT_MAX_UNSENT_MIB: usize = 256;

/// `--list-all-up-to` when not given: the show page of a job of 500
/// workers is about 260 KB and is drawn and updated whole in well under a
/// second; past that, paging serves better than scrolling.
const DEFAULT_LIST_ALL_UP_TO: u64 = 500;

/// Most MiB accepted for `--max-unsent-mib` (64 GiB).
const MAX_UNSENT_MIB: usize = 65_536;

/// The service's settings, checked.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to bind, as `host:port`; port 0 picks a free port.
    pub listen: String,
    /// The SQLite database file.
    pub db: PathBuf,
    /// Request threads, 1–1024.
    pub threads: usize,
    /// How often the expiry thread runs.
    pub expire_interval: Duration,
    /// How long a job may be inactive before it expires when it has no
    /// maxage of its own; positive, at most ten years.
    pub default_maxage: Secs,
    /// True to answer 404 at the job index.
    pub no_index: bool,
    /// Connections open at once, 1–100,000.
    pub max_connections: usize,
    /// Time for a request to arrive and a response to be sent; 0.1 s to
    /// one hour.
    pub request_timeout: Duration,
    /// Bytes of answers kept, over all connections, for clients that did
    /// not take them at once; 1 MiB to 64 GiB from the command line.
    pub max_unsent_bytes: usize,
    /// Most workers in one job, at least 1.
    pub max_workers_per_job: u64,
    /// Most jobs stored, at least 1.
    pub max_jobs: u64,
    /// Most workers stored in all jobs, at least 1.
    pub max_workers: u64,
    /// Jobs of up to this many workers get the show page that lists every
    /// worker; bigger ones the page that lists them a page at a time.
    pub list_all_up_to: u64,
    /// The write and read tokens, each 1–256 visible ASCII characters.
    pub tokens: Tokens,
    /// The log level; None: `RUST_LOG`, else info.
    pub log_level: Option<log::LevelFilter>,
    /// Where the present comes from: the system's clock, unless a test
    /// puts a [`Clock::manual`] here before it starts the server.
    pub clock: Clock,
    /// Where the events of jobs that ask are sent (`--notify-url`).
    pub notify: Vec<Target>,
    /// What links in notifications start with, without a trailing `/`.
    pub public_url: String,
    /// Scheduled backups, if `--backup-dir` asks for them.
    pub backups: Option<BackupSchedule>,
    /// Whether `--public-url` was given: only then do peers link to this
    /// server's jobs through it (a front such as nginx).
    pub public_url_given: bool,
    /// The other progressd instances whose jobs the index lists
    /// (`--peer`), and the token to read them with.
    pub peers: PeerConfig,
}

/// The peers of a server (`--peer`) and how to read them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PeerConfig {
    /// Their addresses, http:// or https://, without a trailing `/`.
    pub urls: Vec<String>,
    /// The read token sent to each of them, if any.
    pub token: Option<String>,
}

/// Names the peers but never shows the token, which would end up in logs.
impl std::fmt::Debug for PeerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerConfig")
            .field("urls", &self.urls)
            .field("token", &self.token.as_ref().map(|_| "…"))
            .finish()
    }
}

/// A `--peer` address, checked: http:// or https:// with a host, its
/// trailing `/` taken off.
fn checked_peer(text: &str) -> Result<String, String> {
    match url::Url::parse(text) {
        Ok(url)
            if matches!(url.scheme(), "http" | "https")
                && url.has_host()
                && url.query().is_none()
                && url.fragment().is_none() =>
        {
            Ok(text.trim_end_matches('/').to_string())
        }
        _ => Err(format!(
            "--peer must be an http:// or https:// address such as http://10.0.0.2:8080, \
             without ? or #, got {text:?}"
        )),
    }
}

impl Config {
    /// Checks the options; the error is one line naming the bad option.
    pub fn from_cli(args: &ServeArgs) -> Result<Config, String> {
        let resolves = args
            .listen
            .to_socket_addrs()
            .is_ok_and(|mut addrs| addrs.next().is_some());
        if !resolves {
            return Err(format!(
                "--listen must be HOST:PORT, such as 127.0.0.1:8080 or 0.0.0.0:8080, got {:?}",
                args.listen
            ));
        }
        if args.threads == 0 || args.threads > MAX_THREADS {
            return Err(format!(
                "--threads must be 1 to {MAX_THREADS}, got {}",
                args.threads
            ));
        }
        if args.max_connections == 0 || args.max_connections > MAX_CONNECTIONS {
            return Err(format!(
                "--max-connections must be 1 to {MAX_CONNECTIONS}, got {}",
                args.max_connections
            ));
        }
        let max_unsent_bytes = Some(args.max_unsent_mib)
            .filter(|mib| (1..=MAX_UNSENT_MIB).contains(mib))
            .and_then(|mib| mib.checked_mul(1 << 20))
            .ok_or_else(|| {
                format!(
                    "--max-unsent-mib must be 1 to {MAX_UNSENT_MIB}, got {}",
                    args.max_unsent_mib
                )
            })?;
        if args.max_workers_per_job == 0 {
            return Err("--max-workers-per-job must be at least 1, got 0".into());
        }
        if args.max_jobs == 0 {
            return Err("--max-jobs must be at least 1, got 0".into());
        }
        if args.max_workers == 0 {
            return Err("--max-workers must be at least 1, got 0".into());
        }
        let tokens = Tokens {
            write: checked_token("--write-token", args.write_token.as_deref())?,
            read: checked_token("--read-token", args.read_token.as_deref())?,
        };
        let log_level = match &args.log_level {
            None => None,
            Some(text) => Some(
                text.parse::<log::LevelFilter>()
                    .ok()
                    .filter(|l| *l != log::LevelFilter::Off)
                    .ok_or_else(|| {
                        format!(
                            "--log-level must be error, warn, info, debug or trace, got {text:?}"
                        )
                    })?,
            ),
        };
        let request_timeout = Duration::try_from_secs_f64(args.request_timeout)
            .ok()
            .filter(|d| (0.1..=3600.0).contains(&d.as_secs_f64()))
            .ok_or_else(|| {
                format!(
                    "--request-timeout must be 0.1 to 3600 seconds, got {}",
                    args.request_timeout
                )
            })?;
        let expire_interval = Duration::try_from_secs_f64(args.expire_interval)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                format!(
                    "--expire-interval must be a positive number of seconds, got {}",
                    args.expire_interval
                )
            })?;
        if !(args.default_maxage > 0.0 && args.default_maxage <= MAX_MAXAGE_SECS) {
            return Err(format!(
                "--default-maxage must be positive and at most ten years ({MAX_MAXAGE_SECS} s), got {}",
                args.default_maxage
            ));
        }
        let notify = args
            .notify_url
            .iter()
            .filter(|url| !url.is_empty())
            .map(|url| Target::parse(url).map_err(|e| format!("--notify-url: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        let public_url = match &args.public_url {
            None => default_public_url(&args.listen),
            Some(text) => match url::Url::parse(text) {
                Ok(url) if matches!(url.scheme(), "http" | "https") => {
                    text.trim_end_matches('/').to_string()
                }
                _ => {
                    return Err(format!(
                        "--public-url must be an http:// or https:// URL, got {text:?}"
                    ));
                }
            },
        };
        let peers = PeerConfig {
            urls: args
                .peer
                .iter()
                .filter(|url| !url.is_empty())
                .map(|url| checked_peer(url))
                .collect::<Result<Vec<_>, _>>()?,
            token: checked_token("--peer-token", args.peer_token.as_deref())?
                .or_else(|| tokens.read.clone()),
        };
        Ok(Config {
            listen: args.listen.clone(),
            db: args.db_path(),
            threads: args.threads,
            expire_interval,
            default_maxage: Secs(args.default_maxage),
            no_index: args.no_index,
            max_connections: args.max_connections,
            request_timeout,
            max_unsent_bytes,
            max_workers_per_job: args.max_workers_per_job,
            max_jobs: args.max_jobs,
            max_workers: args.max_workers,
            list_all_up_to: args.list_all_up_to,
            tokens,
            log_level,
            clock: Clock::system(),
            notify,
            public_url,
            backups: BackupSchedule::from_args(args)?,
            public_url_given: args.public_url.is_some(),
            peers,
        })
    }

    /// What the store may hold.
    pub fn caps(&self) -> Caps {
        Caps {
            default_maxage: self.default_maxage,
            max_jobs: self.max_jobs,
            max_workers: self.max_workers,
            max_workers_per_job: self.max_workers_per_job,
        }
    }

    /// The configuration `progressd serve` would run with given these
    /// options (without the program's name), or the message it would exit
    /// with: how tests and benchmarks start a server in their own process,
    /// through the same parsing and checks as the binary.
    pub fn from_args(args: &[&str]) -> Result<Config, String> {
        let cli = Cli::try_parse_from(std::iter::once("progressd").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        Config::from_cli(&cli.serve)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, String> {
        Config::from_args(args.get(1..).unwrap_or_default())
    }

    #[test]
    fn defaults() {
        let config = parse(&["progressd"]).expect("defaults are valid");
        assert_eq!(config.listen, "127.0.0.1:8080");
        assert_eq!(config.db, PathBuf::from("./progressd.sqlite3"));
        assert_eq!(config.threads, 8);
        assert_eq!(config.expire_interval, Duration::from_secs(60));
        assert_eq!(config.default_maxage, Secs(604_800.0));
        assert_eq!(config.max_connections, 4096);
        assert_eq!(config.request_timeout, Duration::from_secs(10));
        assert_eq!(config.max_unsent_bytes, 256 << 20);
        assert_eq!(
            (
                config.max_workers_per_job,
                config.max_jobs,
                config.max_workers
            ),
            (100_000, 1_000_000, 10_000_000)
        );
        assert_eq!(config.list_all_up_to, 500);
    }

    #[test]
    fn list_all_up_to_takes_any_count() {
        let config = parse(&["progressd", "--list-all-up-to", "0"]).expect("valid");
        assert_eq!(config.list_all_up_to, 0, "every job paged");
        for bad in ["--list-all-up-to=-1", "--list-all-up-to=many"] {
            let e = parse(&["progressd", bad]).expect_err(bad);
            assert!(e.contains("--list-all-up-to"), "{e}");
        }
    }

    #[test]
    fn options_after_serve() {
        let config = parse(&[
            "progressd",
            "serve",
            "--listen",
            "0.0.0.0:9",
            "--threads",
            "2",
        ])
        .expect("valid");
        assert_eq!((config.listen.as_str(), config.threads), ("0.0.0.0:9", 2));
    }

    #[test]
    fn tokens_are_checked_and_never_echoed() {
        let config =
            parse(&["progressd", "--write-token", "w1", "--read-token", "r1"]).expect("valid");
        assert_eq!(config.tokens.write.as_deref(), Some("w1"));
        assert_eq!(config.tokens.read.as_deref(), Some("r1"));
        for bad in ["", "has space", "tab\there", "ünï"] {
            let e = parse(&["progressd", "--write-token", bad]).expect_err(bad);
            assert!(e.contains("--write-token"), "{e}");
            assert!(
                bad.is_empty() || !e.contains(bad),
                "the token is echoed: {e}"
            );
        }
    }

    #[test]
    fn log_levels() {
        assert_eq!(parse(&["progressd"]).expect("valid").log_level, None);
        let debug = parse(&["progressd", "--log-level", "debug"]).expect("valid");
        assert_eq!(debug.log_level, Some(log::LevelFilter::Debug));
        for bad in ["loud", "off", ""] {
            let e = parse(&["progressd", "--log-level", bad]).expect_err(bad);
            assert!(e.contains("--log-level"), "{e}");
        }
    }

    #[test]
    fn peers_are_checked_and_take_the_read_token_unless_given_one() {
        let config = parse(&[
            "progressd",
            "--read-token",
            "r1",
            "--peer",
            "http://10.0.0.2:8080/",
            "--peer",
            "https://b.example.org/sub",
        ])
        .expect("valid");
        assert_eq!(
            config.peers.urls,
            ["http://10.0.0.2:8080", "https://b.example.org/sub"]
        );
        assert_eq!(config.peers.token.as_deref(), Some("r1"));
        assert!(!format!("{:?}", config.peers).contains("r1"), "never shown");
        let own =
            parse(&["progressd", "--peer", "http://b:1", "--peer-token", "p2"]).expect("valid");
        assert_eq!(own.peers.token.as_deref(), Some("p2"));
        assert!(parse(&["progressd"]).expect("valid").peers.urls.is_empty());
        for bad in ["b:8080", "ftp://b", "http://b:1/?x=1", "http://b:1/#t"] {
            let e = parse(&["progressd", "--peer", bad]).expect_err(bad);
            assert!(e.contains("--peer"), "{e}");
        }
        let e = parse(&["progressd", "--peer-token", "a b"]).expect_err("space");
        assert!(e.contains("--peer-token") && !e.contains("a b"), "{e}");
    }

    #[test]
    fn no_index_flag() {
        assert!(!parse(&["progressd"]).expect("valid").no_index);
        assert!(parse(&["progressd", "--no-index"]).expect("valid").no_index);
    }

    #[test]
    fn bad_values_name_the_option() {
        for (args, option) in [
            (&["progressd", "--threads", "0"][..], "--threads"),
            (&["progressd", "--listen", "nonsense"][..], "--listen"),
            (&["progressd", "--listen", "127.0.0.1"][..], "--listen"),
            (
                &["progressd", "--expire-interval", "0"][..],
                "--expire-interval",
            ),
            (
                &["progressd", "--expire-interval=-1"][..],
                "--expire-interval",
            ),
            (
                &["progressd", "--default-maxage", "0"][..],
                "--default-maxage",
            ),
            (
                &["progressd", "--default-maxage", "1e12"][..],
                "--default-maxage",
            ),
            (
                &["progressd", "--max-unsent-mib", "0"][..],
                "--max-unsent-mib",
            ),
            (
                &["progressd", "--max-unsent-mib", "65537"][..],
                "--max-unsent-mib",
            ),
        ] {
            let err = parse(args).expect_err(option);
            assert!(err.contains(option), "{err}");
        }
    }

    #[test]
    fn backup_options() {
        assert_eq!(parse(&["progressd"]).expect("valid").backups, None);
        let dir = tempfile::tempdir().expect("temp dir");
        let dir_text = dir.path().to_string_lossy().into_owned();
        let plain = parse(&["progressd", "--backup-dir", &dir_text]).expect("valid");
        assert_eq!(
            plain.backups,
            Some(BackupSchedule {
                dir: dir.path().to_path_buf(),
                every: Duration::from_secs(86_400),
                keep: 7,
            })
        );
        let asked = parse(&[
            "progressd",
            "--backup-dir",
            &dir_text,
            "--backup-every",
            "0.5",
            "--backup-keep",
            "3",
        ])
        .expect("valid");
        let schedule = asked.backups.expect("asked for");
        assert_eq!(
            (schedule.every, schedule.keep),
            (Duration::from_millis(500), 3)
        );
        let missing = dir.path().join("none").to_string_lossy().into_owned();
        for (args, option) in [
            (&["progressd", "--backup-every", "60"][..], "--backup-every"),
            (&["progressd", "--backup-keep", "3"][..], "--backup-keep"),
            (&["progressd", "--backup-dir", &missing][..], "--backup-dir"),
            (&["progressd", "--backup-dir", "/proc"][..], "--backup-dir"),
            (
                &[
                    "progressd",
                    "--backup-dir",
                    &dir_text,
                    "--backup-every",
                    "0",
                ][..],
                "--backup-every",
            ),
            (
                &[
                    "progressd",
                    "--backup-dir",
                    &dir_text,
                    "--backup-every",
                    "NaN",
                ][..],
                "--backup-every",
            ),
            (
                &["progressd", "--backup-dir", &dir_text, "--backup-keep", "0"][..],
                "--backup-keep",
            ),
        ] {
            let err = parse(args).expect_err(option);
            assert!(err.contains(option), "{option}: {err}");
            assert_eq!(err.lines().count(), 1, "{err}");
        }
    }

    fn watch(args: &[&str]) -> Result<WatchConfig, String> {
        let cli = Cli::try_parse_from(args).map_err(|e| e.to_string())?;
        match cli.command {
            Some(Command::Watch(args)) => WatchConfig::from_args(&args),
            other => Err(format!("not watch: {other:?}")),
        }
    }

    #[test]
    fn watch_options() {
        // The environment may set them for a real run; not in this test.
        if std::env::var_os("PROGRESSD_URL").is_some()
            || std::env::var_os("PROGRESSD_TOKEN").is_some()
        {
            return;
        }
        let plain = watch(&["progressd", "watch", "job7"]).expect("defaults are valid");
        assert_eq!(
            plain,
            WatchConfig {
                jobid: "job7".to_string(),
                url: DEFAULT_WATCH_URL.to_string(),
                token: None,
                interval: Duration::from_secs(2),
            }
        );
        let asked = watch(&[
            "progressd",
            "watch",
            "--url",
            "https://progress.example.org/sub/",
            "--token",
            "s3cret",
            "--interval",
            "0.5",
            "job7",
        ])
        .expect("valid");
        assert_eq!(asked.url, "https://progress.example.org/sub");
        assert_eq!(asked.token.as_deref(), Some("s3cret"));
        assert_eq!(asked.interval, Duration::from_millis(500));
        for (args, option) in [
            (
                &["progressd", "watch", "--url", "ftp://x", "j"][..],
                "--url",
            ),
            (
                &["progressd", "watch", "--url", "localhost:8080", "j"][..],
                "--url",
            ),
            (
                &["progressd", "watch", "--interval", "0.1", "j"][..],
                "--interval",
            ),
            (
                &["progressd", "watch", "--interval", "NaN", "j"][..],
                "--interval",
            ),
            (
                &["progressd", "watch", "--token", "a b", "j"][..],
                "--token",
            ),
            (&["progressd", "watch", ""][..], "JOBID"),
            (&["progressd", "watch"][..], "JOBID"),
        ] {
            let err = watch(args).expect_err(option);
            assert!(err.contains(option), "{option}: {err}");
        }
    }
}
