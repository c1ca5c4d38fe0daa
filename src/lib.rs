//! progressd: live progress bars for the workers of distributed jobs.
//!
//! Data flows one way: HTTP in (`server`) → parameters parsed into types
//! (`params`) → routes (`routes`) → store (`store`, SQLite) → model
//! (`model`) → JSON out (`json`). `run` wires them together; `start` does the
//! same without blocking, for tests and examples.

#![forbid(unsafe_code)]

pub mod chart;
pub mod config;
pub mod error;
mod expiry;
pub mod format;
mod json;
mod logger;
pub mod model;
pub mod page;
pub mod params;
mod render_cache;
pub mod response;
pub mod routes;
mod server;
pub mod store;

use std::fmt;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;

use config::Config;
use expiry::Expiry;
use render_cache::RenderCache;
use routes::Context;
use server::HttpServer;
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
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Store(e) => e.fmt(f),
            StartError::Bind { listen, source } => write!(f, "cannot listen on {listen}: {source}"),
            StartError::Thread(e) => write!(f, "cannot start a thread: {e}"),
        }
    }
}

impl std::error::Error for StartError {}

impl From<StoreError> for StartError {
    fn from(e: StoreError) -> StartError {
        StartError::Store(e)
    }
}

/// A running service: request threads, the writer and the expiry thread.
pub struct Running {
    http: HttpServer,
    expiry: Expiry,
    writer_thread: JoinHandle<()>,
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
        // Every writer handle is gone now, so the writer drains and ends.
        if self.writer_thread.join().is_err() {
            log::error!("the writer thread panicked");
        }
    }
}

/// Opens the database and starts serving; returns once the port is bound.
pub fn start(config: &Config) -> Result<Running, StartError> {
    logger::init();
    // Bind first: a port in use should not leave a new database behind.
    let bind_error = |source| StartError::Bind {
        listen: config.listen.clone(),
        source,
    };
    let listener = TcpListener::bind(&config.listen).map_err(bind_error)?;
    chart::load_fonts();
    let conn = store::open_writer(&config.db)?;
    let (writer, writer_thread) =
        Writer::start(conn, config.default_maxage).map_err(StartError::Thread)?;
    let renders = Arc::new(RenderCache::default());
    let contexts = (0..config.threads)
        .map(|_| {
            Ok(Context {
                reader: store::open_reader(&config.db)?,
                writer: writer.clone(),
                fallback_host: config.listen.clone(),
                index: !config.no_index,
                renders: Arc::clone(&renders),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let http = HttpServer::start(listener, contexts).map_err(StartError::Thread)?;
    let expiry = Expiry::start(writer, config.expire_interval).map_err(StartError::Thread)?;
    log::info!(
        "progressd listening on http://{} with database {}",
        http.addr(),
        config.db.display()
    );
    Ok(Running {
        http,
        expiry,
        writer_thread,
    })
}

/// Runs the service until its request threads end.
pub fn run(config: &Config) -> Result<(), StartError> {
    let running = start(config)?;
    running.http.join();
    Ok(())
}
