//! A GET to another progressd, as `progressd watch` and `--peer` make
//! one: the read token as a bearer header, the answer read up to a size,
//! and a refusal's one line kept for the message. Each caller words the
//! errors for its own reader (a terminal's footer, a page's list of
//! peers).

/// Why a GET brought no text.
#[derive(Debug)]
pub enum GetError {
    /// No answer: the connection failed or timed out.
    Unreachable(ureq::Error),
    /// An answer that could not be read (cut off, too big, not UTF-8).
    Unreadable(ureq::Error),
    /// An answer other than 2xx, with the first line of its body (the
    /// server's one-line reason).
    Refused {
        /// Its status.
        status: u16,
        /// Its first line.
        why: String,
    },
}

/// The body of a GET of `url` (at most `max_bytes`), sending `token` as
/// `Authorization: Bearer` when there is one. The agent must not turn
/// statuses into errors (`http_status_as_error(false)`).
pub fn get_text(
    agent: &ureq::Agent,
    url: &str,
    token: Option<&str>,
    max_bytes: u64,
) -> Result<String, GetError> {
    let mut request = agent.get(url);
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    let mut response = request.call().map_err(GetError::Unreachable)?;
    let status = response.status();
    let body = response
        .body_mut()
        .with_config()
        .limit(max_bytes)
        .read_to_string()
        .map_err(GetError::Unreadable)?;
    if status.is_success() {
        Ok(body)
    } else {
        Err(GetError::Refused {
            status: status.as_u16(),
            why: body.lines().next().unwrap_or_default().to_string(),
        })
    }
}

/// What went wrong, for a person: an I/O error without ureq's prefix.
pub fn reason(error: &ureq::Error) -> String {
    match error {
        ureq::Error::Io(io) => io.to_string(),
        other => other.to_string(),
    }
}
