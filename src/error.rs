//! The one error type of a request, and the one place that decides its HTTP
//! status.
//!
//! The client gets a one-line `text/plain` message naming what was wrong; the
//! log gets the full cause for faults.

use std::fmt;

use crate::auth::Refusal;
use crate::params::{BatchError, MAX_BATCH_UPDATES, ParamError};
use crate::store::{self, StoreError};

/// Why a request did not succeed.
#[derive(Debug)]
pub enum Error {
    /// A parameter is missing or malformed.
    BadParam(ParamError),
    /// One line of a batch update failed (a bad parameter, or the store
    /// refused it), so nothing of the batch was stored.
    InLine {
        /// Its line number in the body, from 1.
        line: usize,
        /// What was wrong with it; its status is the answer's.
        error: Box<Error>,
    },
    /// A batch update holds more updates than one request may.
    BatchTooLarge {
        /// The updates it holds.
        updates: usize,
    },
    /// No route has this path.
    NoRoute(String),
    /// The route exists but not for this method.
    MethodNotAllowed {
        /// The methods the route takes.
        allow: &'static str,
    },
    /// The request body is larger than the server accepts.
    BodyTooLarge {
        /// The largest body accepted, in bytes.
        limit: usize,
    },
    /// The request body is in a form the server does not read.
    UnsupportedBody(String),
    /// The request body could not be read from the connection.
    BodyUnreadable(std::io::Error),
    /// The route needs a token the client did not give.
    Unauthorized(Refusal),
    /// No job has the id the client named.
    UnknownJob(String),
    /// The job has no worker with the id the client named: (jobid, workid).
    UnknownWorker(String, String),
    /// The store failed or refused.
    Store(StoreError),
    /// `/healthz` found the database unable to be read or written now.
    Unhealthy(StoreError),
    /// A chart could not be encoded as PNG.
    Chart(crate::chart::ChartError),
    /// The handler panicked; the panic message went to the log.
    Panic,
}

impl Error {
    /// The HTTP status for this error: decided here and nowhere else.
    pub fn status(&self) -> u16 {
        match self {
            Error::BadParam(_) | Error::BodyUnreadable(_) => 400,
            Error::InLine { error, .. } => error.status(),
            Error::Unauthorized(_) => 401,
            Error::NoRoute(_) | Error::UnknownJob(_) | Error::UnknownWorker(..) => 404,
            Error::MethodNotAllowed { .. } => 405,
            Error::BodyTooLarge { .. } | Error::BatchTooLarge { .. } => 413,
            Error::UnsupportedBody(_) => 415,
            Error::Store(StoreError::Refusal(refusal)) => match refusal {
                store::Refusal::TotalRequired => 400,
                // The job is too large to take more; retrying will not help.
                store::Refusal::TooManyWorkers { .. } | store::Refusal::RosterTooLarge { .. } => {
                    413
                }
                // Space comes back as jobs expire or are deleted.
                store::Refusal::TooManyJobs { .. }
                | store::Refusal::TooManyStoredWorkers { .. } => 429,
            },
            Error::Store(e) if e.is_transient() => 503,
            Error::Unhealthy(_) => 503,
            Error::Store(_) | Error::Chart(_) | Error::Panic => 500,
        }
    }

    /// True when the server, not the client, is at fault: worth a log line
    /// with the cause.
    pub fn is_fault(&self) -> bool {
        self.status() >= 500
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BadParam(e) => e.fmt(f),
            Error::InLine { line, error } => write!(f, "line {line}: {error}"),
            Error::BatchTooLarge { updates } => write!(
                f,
                "the batch holds {updates} updates, more than the {MAX_BATCH_UPDATES} one \
                 request may; send it in parts"
            ),
            Error::NoRoute(path) => write!(f, "not found: {path:?} (the API is under /progress/)"),
            Error::MethodNotAllowed { allow } => write!(f, "method not allowed; use {allow}"),
            Error::BodyTooLarge { limit } => {
                write!(f, "request body too large; at most {limit} bytes")
            }
            Error::UnsupportedBody(kind) => write!(
                f,
                "unsupported body type {kind:?}; send application/x-www-form-urlencoded \
                 (curl --data-urlencode) or use the query string"
            ),
            Error::BodyUnreadable(e) => write!(f, "request body could not be read: {e}"),
            Error::Unauthorized(refusal) => refusal.fmt(f),
            Error::UnknownJob(jobid) => write!(f, "no job with jobid {jobid:?}"),
            Error::UnknownWorker(jobid, workid) => {
                write!(f, "job {jobid:?} has no worker with workid {workid:?}")
            }
            Error::Store(StoreError::Refusal(store::Refusal::TotalRequired)) => {
                write!(
                    f,
                    "parameter 'total': is required on a worker's first update"
                )
            }
            Error::Store(StoreError::Refusal(refusal)) => refusal.fmt(f),
            // The cause goes to the log, not to the client.
            Error::Store(e) if e.is_transient() => {
                write!(f, "service unavailable, nothing was stored; try again")
            }
            Error::Store(_) => write!(f, "internal error in the database; see the server log"),
            Error::Unhealthy(_) => write!(
                f,
                "not healthy: the database cannot be read or written now; see the server log"
            ),
            Error::Chart(_) => write!(f, "the chart could not be drawn; see the server log"),
            Error::Panic => write!(f, "internal error; see the server log"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::BadParam(e) => Some(e),
            Error::InLine { error, .. } => Some(error.as_ref()),
            Error::BodyUnreadable(e) => Some(e),
            Error::Store(e) | Error::Unhealthy(e) => Some(e),
            Error::Chart(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ParamError> for Error {
    fn from(e: ParamError) -> Error {
        Error::BadParam(e)
    }
}

impl From<BatchError> for Error {
    fn from(e: BatchError) -> Error {
        match e {
            BatchError::Query(e) => Error::BadParam(e),
            BatchError::TooMany { updates } => Error::BatchTooLarge { updates },
            BatchError::Line { line, error } => Error::InLine {
                line,
                error: Box::new(Error::BadParam(error)),
            },
        }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Error {
        Error::Store(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        let param = ParamError {
            name: "jobid".into(),
            problem: "is required".into(),
        };
        assert_eq!(Error::BadParam(param).status(), 400);
        assert_eq!(
            Error::Store(StoreError::Refusal(store::Refusal::TotalRequired)).status(),
            400
        );
        assert_eq!(
            Error::Store(StoreError::CommitFailed("disk".into())).status(),
            503
        );
        assert_eq!(Error::Store(StoreError::WriterStopped).status(), 503);
        assert_eq!(
            Error::Store(StoreError::NewerSchema {
                found: 9,
                supported: 2
            })
            .status(),
            500
        );
        assert_eq!(Error::Panic.status(), 500);
    }

    #[test]
    fn a_line_of_a_batch_answers_with_its_error_and_names_the_line() {
        let refused = |error: StoreError| Error::InLine {
            line: 7,
            error: Box::new(Error::Store(error)),
        };
        let e = refused(StoreError::Refusal(store::Refusal::TotalRequired));
        assert_eq!(e.status(), 400);
        assert_eq!(
            e.to_string(),
            "line 7: parameter 'total': is required on a worker's first update"
        );
        assert_eq!(
            refused(StoreError::Refusal(store::Refusal::TooManyWorkers {
                limit: 5
            }))
            .status(),
            413
        );
        assert_eq!(
            refused(StoreError::Refusal(store::Refusal::TooManyStoredWorkers {
                limit: 5
            }))
            .status(),
            429
        );
        let e = refused(StoreError::CommitFailed("disk".into()));
        assert_eq!(e.status(), 503);
        assert!(e.is_fault());
        let e = Error::from(BatchError::TooMany { updates: 1200 });
        assert_eq!(e.status(), 413);
        assert!(!e.to_string().contains('\n'));
    }

    #[test]
    fn messages_are_one_line() {
        let e = Error::UnknownJob("a\nb".into());
        assert_eq!(e.to_string(), r#"no job with jobid "a\nb""#);
    }
}
