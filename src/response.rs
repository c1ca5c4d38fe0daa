//! A response as the handlers build it: status, content type, body and extra
//! headers, with named constructors. The server module turns it into bytes on
//! the wire; nothing here knows tiny_http.

use std::fmt;
use std::io::Read;

use crate::error::Error;

/// A response's body: bytes made in full, or bytes made as they are sent
/// (a big job's `status`, written from its rows a page at a time), which
/// may borrow what the request thread owns (its database connection).
pub enum Body<'a> {
    /// All of it.
    Bytes(Vec<u8>),
    /// Made as it is read; its length is not known beforehand.
    Stream(Box<dyn Read + 'a>),
}

impl fmt::Debug for Body<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Body::Bytes(bytes) => write!(f, "Bytes({} bytes)", bytes.len()),
            Body::Stream(_) => f.write_str("Stream"),
        }
    }
}

/// An HTTP response.
#[derive(Debug)]
pub struct Response<'a> {
    /// The HTTP status code.
    pub status: u16,
    /// The `Content-Type` header.
    pub content_type: &'static str,
    /// Other headers. Values never hold client text unescaped.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Body<'a>,
}

impl<'a> Response<'a> {
    /// 200 with a plain text body.
    pub fn text(body: impl Into<String>) -> Response<'a> {
        Response {
            status: 200,
            content_type: "text/plain; charset=utf-8",
            headers: Vec::new(),
            body: Body::Bytes(body.into().into_bytes()),
        }
    }

    /// 200 with JSON made as it is sent.
    pub fn json_stream(body: impl Read + 'a) -> Response<'a> {
        Response {
            status: 200,
            content_type: "application/json",
            headers: Vec::new(),
            body: Body::Stream(Box::new(body)),
        }
    }

    /// 200 with JSON already made (ending in a newline).
    pub fn json_bytes(body: Vec<u8>) -> Response<'a> {
        Response {
            status: 200,
            content_type: "application/json",
            headers: Vec::new(),
            body: Body::Bytes(body),
        }
    }

    /// 200 with a JSON body.
    pub fn json(value: &serde_json::Value) -> Response<'a> {
        Response {
            status: 200,
            content_type: "application/json",
            headers: Vec::new(),
            // A newline, so `curl` leaves the shell prompt on its own line.
            body: Body::Bytes(format!("{value}\n").into_bytes()),
        }
    }

    /// 200 with an HTML page.
    pub fn html(body: String) -> Response<'a> {
        Response {
            status: 200,
            content_type: "text/html; charset=utf-8",
            headers: Vec::new(),
            body: Body::Bytes(body.into_bytes()),
        }
    }

    /// 200 with one of the files compiled into the binary; browsers may
    /// keep it for five minutes (pages reload every 30 s by default).
    pub fn asset(content_type: &'static str, body: &str) -> Response<'a> {
        Response {
            status: 200,
            content_type,
            headers: vec![("Cache-Control", "max-age=300".to_string())],
            body: Body::Bytes(body.as_bytes().to_vec()),
        }
    }

    /// 200 with a PNG image; browsers revalidate it (with its ETag) each
    /// time.
    pub fn png(body: Vec<u8>) -> Response<'a> {
        Response {
            status: 200,
            content_type: "image/png",
            headers: vec![("Cache-Control", "no-cache".to_string())],
            body: Body::Bytes(body),
        }
    }

    /// 200 with an SVG image; browsers revalidate it (with its ETag) each
    /// time.
    pub fn svg(body: Vec<u8>) -> Response<'a> {
        Response {
            status: 200,
            content_type: "image/svg+xml; charset=utf-8",
            headers: vec![("Cache-Control", "no-cache".to_string())],
            body: Body::Bytes(body),
        }
    }

    /// 304 in place of this response: the client's copy, named by `etag`,
    /// is current. The type and caching headers stay; the body goes.
    pub fn not_modified(mut self, etag: String) -> Response<'a> {
        self.status = 304;
        self.body = Body::Bytes(Vec::new());
        self.with_etag(etag)
    }

    /// The same response with an `ETag` header.
    pub fn with_etag(self, etag: String) -> Response<'a> {
        self.with_header("ETag", etag)
    }

    /// The same response, readable by pages of any site (CORS): for the
    /// status JSON and the chart, which other dashboards embed.
    pub fn with_cors(self) -> Response<'a> {
        self.with_header("Access-Control-Allow-Origin", "*".to_string())
    }

    /// 302 to `location`, a path of our own.
    pub fn redirect(location: &'static str) -> Response<'a> {
        Response::text(format!("see {location}\n"))
            .with_status(302)
            .with_header("Location", location.to_string())
    }

    /// The one-line `text/plain` answer for an error, with its status.
    pub fn error(error: &Error) -> Response<'a> {
        let mut response = Response::text(format!("{error}\n")).with_status(error.status());
        match error {
            Error::MethodNotAllowed { allow } => {
                response = response.with_header("Allow", (*allow).to_string());
            }
            Error::Unauthorized(_) => {
                response =
                    response.with_header("WWW-Authenticate", "Bearer realm=\"progressd\"".into());
            }
            _ => {}
        }
        response
    }

    /// The same response with another status.
    pub fn with_status(mut self, status: u16) -> Response<'a> {
        self.status = status;
        self
    }

    /// The same response with one more header.
    pub fn with_header(mut self, name: &'static str, value: String) -> Response<'a> {
        self.headers.push((name, value));
        self
    }
}
