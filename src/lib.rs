//! progressd: live progress bars for the workers of distributed jobs.
//!
//! Data flows one way: HTTP in (`server`) → parameters parsed into types
//! (`params`) → routes (`routes`) → store (`store`, SQLite) → model
//! (`model`) → JSON out (`json`). `run` wires them together; `start` does the
//! same without blocking, for tests and examples. `watch` is the other
//! side: a client that shows a job live in a terminal, from any progressd.

#![forbid(unsafe_code)]

mod auth;
pub mod backups;
pub mod chart;
mod client;
pub mod clock;
pub mod config;
mod demo;
mod error;
mod expiry;
mod format;
pub mod history;
mod json;
mod logger;
mod look;
mod metrics;
pub mod model;
pub mod notify;
mod page;
pub mod params;
mod peers;
mod periodic;
mod render_cache;
mod response;
mod routes;
mod server;
mod shown;
mod status;
pub mod store;
mod terminal;
pub mod watch;

/// The route table, and who may call each route: tests check their lists
/// of endpoints against it.
pub use auth::Access;
pub use routes::{ROUTES, Route};

use std::fmt;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, mpsc};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use config::Config;
use metrics::Metrics;
use notify::Notifier;
use periodic::Periodic;
use render_cache::RenderCache;
use routes::Context;
use server::HttpServer;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use store::{StoreError, Writer};

/// Why the service could not start.
#[derive(Debug)]
pub enum StartError {
    /// The database could not be opened or upgraded.
    Store(StoreError),
    /// The listen address could not be bound.
    Bind {
        /// The address asked for.
        listen: String,
        /// The system's reason.
        source: std::io::Error,
    },
    /// A thread could not be started.
    Thread(std::io::Error),
    /// SIGTERM and SIGINT could not be caught.
    Signals(std::io::Error),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Store(e) => e.fmt(f),
            StartError::Bind { listen, source } => write!(f, "cannot listen on {listen}: {source}"),
            StartError::Thread(e) => write!(f, "cannot start a thread: {e}"),
            StartError::Signals(e) => write!(f, "cannot handle SIGTERM and SIGINT: {e}"),
        }
    }
}

impl std::error::Error for StartError {}

impl From<StoreError> for StartError {
    fn from(e: StoreError) -> StartError {
        StartError::Store(e)
    }
}

/// A running service: request threads, the writer, and the expiry,
/// checkpoint and backup threads.
pub struct Running {
    http: HttpServer,
    expiry: Periodic,
    writer_thread: JoinHandle<()>,
    notifier: Notifier,
    checkpoints: Periodic,
    /// Scheduled backups, when `--backup-dir` asks for them.
    backups: Option<Periodic>,
    /// The lock on the database, released once every thread has stopped.
    _db_file: Arc<store::DbFile>,
}

impl Running {
    /// The address the service listens on.
    pub fn addr(&self) -> SocketAddr {
        self.http.addr()
    }

    /// Stops the service: requests in flight finish, the writer commits what
    /// it holds, every thread is joined.
    pub fn shutdown(self) {
        self.http.shutdown();
        self.expiry.stop();
        self.notifier.stop();
        // A backup under way is given up first: the writer makes it, and
        // ends only once the backup thread's handle is gone.
        if let Some(backups) = self.backups {
            backups.stop();
        }
        // Every writer handle is gone now, so the writer drains and ends.
        if self.writer_thread.join().is_err() {
            log::error!("the writer thread panicked");
        }
        // Its last run empties the log into the database file.
        self.checkpoints.stop();
    }
}

/// Opens the database and starts serving; returns once the port is bound.
pub fn start(config: &Config) -> Result<Running, StartError> {
    logger::init(config.log_level);
    // Bind first: a port in use should not leave a new database behind.
    let bind_error = |source| StartError::Bind {
        listen: config.listen.clone(),
        source,
    };
    let listener = TcpListener::bind(&config.listen).map_err(bind_error)?;
    check_descriptors(config);
    chart::load_fonts();
    let (mut conn, db_file) = store::open_writer(&config.db)?;
    let targets: Vec<String> = config.notify.iter().map(notify::Target::key).collect();
    store::set_targets(&mut conn, &targets)?;
    let db_file = Arc::new(db_file);
    let metrics = Arc::new(Metrics::new(routes::ROUTES.iter().map(|r| r.path)));
    let (writer, writer_thread) = Writer::start(
        conn,
        Arc::clone(&db_file),
        config.caps(),
        config.clock.clone(),
        Arc::clone(&metrics),
        store::exit_on_writer_death,
    )
    .map_err(StartError::Thread)?;
    let renders = Arc::new(RenderCache::default());
    let tokens = Arc::new(config.tokens.clone());
    let peers = peers::Peers::new(&config.peers).map(Arc::new);
    let public_url: Option<Arc<str>> = config
        .public_url_given
        .then(|| Arc::from(config.public_url.as_str()));
    let contexts = (0..config.threads)
        .map(|_| {
            Ok(Context {
                reader: store::Reader::open(&config.db)?,
                writer: writer.clone(),
                clock: config.clock.clone(),
                fallback_host: config.listen.clone(),
                notifies: !config.notify.is_empty(),
                index: !config.no_index,
                list_all_up_to: config.list_all_up_to,
                tokens: Arc::clone(&tokens),
                metrics: Arc::clone(&metrics),
                renders: Arc::clone(&renders),
                peers: peers.clone(),
                public_url: public_url.clone(),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let http = HttpServer::start(
        listener,
        contexts,
        config.max_connections,
        config.request_timeout,
        config.max_unsent_bytes,
    )
    .map_err(StartError::Thread)?;
    let notifier = Notifier::start(&config.notify, &config.db, &writer, &config.public_url)?;
    let stale = if config.notify.is_empty() {
        None
    } else {
        Some(expiry::StaleScan {
            reader: store::Reader::open(&config.db)?,
            clock: config.clock.clone(),
        })
    };
    let expiry = expiry::start(
        writer.clone(),
        stale,
        config.expire_interval,
        Arc::clone(&metrics),
    )
    .map_err(StartError::Thread)?;
    let checkpoints = start_checkpoints(store::open_checkpointer(&config.db)?)?;
    let backups = match &config.backups {
        Some(schedule) => Some(
            backups::start(
                writer.clone(),
                config.db.clone(),
                schedule.clone(),
                config.clock.clone(),
                Arc::clone(&metrics),
            )
            .map_err(StartError::Thread)?,
        ),
        None => None,
    };
    log::info!(
        "progressd listening on http://{} with database {}",
        http.addr(),
        config.db.display()
    );
    Ok(Running {
        http,
        expiry,
        writer_thread,
        notifier,
        checkpoints,
        backups,
        _db_file: db_file,
    })
}

/// How often the checkpoint thread copies the write-ahead log into the
/// database file; under a steady stream of updates the writer finishes each
/// copy (see `store::checkpoint`).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

fn start_checkpoints(conn: rusqlite::Connection) -> Result<Periodic, StartError> {
    // Whether the last checkpoint failed: a full disk fails every one, and
    // the log should say so once, and once more when they work again.
    let failing = false;
    Periodic::start(
        "progressd-checkpoint",
        CHECKPOINT_EVERY,
        (conn, failing),
        |(conn, failing), _| match store::checkpoint(conn) {
            Ok(_) if *failing => {
                log::info!("checkpoints work again");
                *failing = false;
            }
            Ok(_) => {}
            Err(e) if !*failing => {
                log::warn!("checkpoint failed, retrying every {CHECKPOINT_EVERY:?}: {e}");
                *failing = true;
            }
            Err(_) => {}
        },
        |(conn, _)| {
            if let Err(e) = store::truncate(&conn) {
                log::warn!("final checkpoint failed: {e}");
            }
        },
    )
    .map_err(StartError::Thread)
}

/// Raises the soft limit on open files to the hard one (many systems start
/// services at 1,024) and warns when even that cannot hold
/// `--max-connections` connections: past it, new connections wait in the
/// listen queue until others close.
fn check_descriptors(config: &Config) {
    // Two per connection (tiny_http splits each socket), three per SQLite
    // connection (database, WAL, shared memory), some to spare.
    let wanted = 2 * config.max_connections + 3 * (config.threads + 2) + 32;
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit < wanted as u64 => log::warn!(
            "the open-file limit ({limit}) is below the {wanted} that --max-connections {} needs; \
             raise it (ulimit -n, or LimitNOFILE= under systemd) or lower --max-connections",
            config.max_connections
        ),
        Ok(_) => {}
        Err(e) => log::warn!("cannot read or raise the open-file limit: {e}"),
    }
}

/// The longest a shutdown on SIGTERM or SIGINT may take before the process
/// exits anyway. Exiting then loses nothing acknowledged: an update is only
/// answered 200 after its commit.
const SHUTDOWN_LIMIT: Duration = Duration::from_millis(4500);

/// Runs the service until SIGTERM or SIGINT, then shuts it down gracefully
/// (see `Running::shutdown`); a second signal, or a shutdown that overruns
/// `SHUTDOWN_LIMIT`, ends it at once.
pub fn run(config: &Config) -> Result<(), StartError> {
    run_with(config, |_| Ok(()))
}

/// Runs the service with a demo job of simulated workers (see `demo`)
/// until SIGTERM or SIGINT.
pub fn run_demo(config: &Config) -> Result<(), StartError> {
    run_with(config, |addr| {
        demo::start(addr, &config.tokens).map_err(StartError::Thread)
    })
}

/// `run`, calling `started` with the bound address once the service is up.
fn run_with(
    config: &Config,
    started: impl FnOnce(SocketAddr) -> Result<(), StartError>,
) -> Result<(), StartError> {
    let mut signals = Signals::new([SIGTERM, SIGINT]).map_err(StartError::Signals)?;
    let running = start(config)?;
    started(running.addr())?;
    let first = signals.forever().next();
    log::info!("progressd stopping on {}", signal_name(first));
    let (stopped, stop_result) = mpsc::channel();
    let on_second = stopped.clone();
    thread::spawn(move || {
        let second = signals.forever().next();
        let _ = on_second.send(Some(second));
    });
    thread::spawn(move || {
        running.shutdown();
        let _ = stopped.send(None);
    });
    match stop_result.recv_timeout(SHUTDOWN_LIMIT) {
        Ok(None) => log::info!("progressd stopped"),
        Ok(Some(second)) => log::warn!(
            "progressd stopping at once on a second {}",
            signal_name(second)
        ),
        Err(_) => log::warn!("progressd stopping at once: shutdown took over {SHUTDOWN_LIMIT:?}"),
    }
    Ok(())
}

fn signal_name(signal: Option<i32>) -> &'static str {
    match signal {
        Some(SIGTERM) => "SIGTERM",
        Some(SIGINT) => "SIGINT",
        _ => "a signal",
    }
}
