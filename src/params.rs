//! Query strings and form bodies → typed, validated request parameters.
//!
//! Pure functions: nothing here knows HTTP or SQL. Decoding follows
//! `application/x-www-form-urlencoded` as `url::form_urlencoded` does it
//! (`+` is a space, percent-escapes decoded, a repeated key's last value
//! wins), except that a value that does not decode to UTF-8 is refused rather
//! than silently mangled with U+FFFD: ids are kept exactly as sent, so two
//! different byte strings must never become one id.

use crate::clock::{Secs, Time};
use std::fmt;

use percent_encoding::percent_decode;

use crate::format::one_line;
use crate::model::{
    CreateJob, JobRef, NoticeKind, NotifyOn, PageKey, PageStart, Pick, Roster, SortBy, WorkerOrder,
    WorkerPick, WorkerUpdate,
};

/// Longest job id, in bytes.
pub const MAX_JOBID_BYTES: usize = 256;
/// Longest worker id, in bytes.
pub const MAX_WORKID_BYTES: usize = 128;
/// Longest job or worker description, in bytes.
pub const MAX_DESC_BYTES: usize = 1024;
/// Longest maxage: ten years of 365.25 days.
pub const MAX_MAXAGE_SECS: f64 = 10.0 * 365.25 * 86_400.0;
/// Default number of jobs `jobs` lists.
pub const DEFAULT_LIST_LIMIT: u64 = 1000;

/// A parameter that is missing or malformed. Its `Display` is the one line
/// the client gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    /// The parameter's name, as the client spelt it.
    pub name: String,
    /// What is wrong with it, lowercase, without the name.
    pub problem: String,
}

impl ParamError {
    fn new(name: &str, problem: impl Into<String>) -> ParamError {
        ParamError {
            name: name.to_string(),
            problem: problem.into(),
        }
    }
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The name may be one the client made up: escaped and cut short, so
        // the message stays one short line.
        write!(
            f,
            "parameter '{}': {}",
            one_line(&self.name, 40),
            self.problem
        )
    }
}

impl std::error::Error for ParamError {}

/// Decoded `name=value` pairs; a repeated name keeps its last value.
///
/// A list, not a map: forms hold a handful of names, and a batch parses one
/// per line, where hashing each name cost more than finding it.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Form {
    pairs: Vec<(String, String)>,
}

/// Most distinct names a form may hold; every endpoint takes far fewer.
/// It bounds the work a form of many names costs to look up.
pub const MAX_FORM_NAMES: usize = 64;

impl Form {
    /// Decodes a query string or form body, adding its pairs to this form
    /// (so a POST body's values override the query string's).
    pub fn extend_from(&mut self, input: &[u8]) -> Result<(), ParamError> {
        for piece in input.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
            let (raw_name, raw_value) = match piece.iter().position(|&b| b == b'=') {
                Some(i) => (&piece[..i], &piece[i + 1..]),
                None => (piece, &b""[..]),
            };
            let name = decode_component(raw_name).map_err(|_| {
                ParamError::new(
                    &String::from_utf8_lossy(raw_name),
                    "name is not valid UTF-8 after percent-decoding",
                )
            })?;
            let value = decode_component(raw_value).map_err(|_| {
                ParamError::new(&name, "value is not valid UTF-8 after percent-decoding")
            })?;
            match self.pairs.iter().position(|(n, _)| *n == name) {
                Some(at) => self.pairs[at].1 = value,
                None if self.pairs.len() < MAX_FORM_NAMES => self.pairs.push((name, value)),
                None => {
                    return Err(ParamError::new(
                        &name,
                        format!("is one name too many: a request takes at most {MAX_FORM_NAMES}"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Decodes one query string or form body.
    pub fn parse(input: &[u8]) -> Result<Form, ParamError> {
        let mut form = Form::default();
        form.extend_from(input)?;
        Ok(form)
    }

    /// Removes a parameter and returns its value: for `token`, which every
    /// route takes and none passes on.
    pub fn take(&mut self, name: &str) -> Option<String> {
        let at = self.pairs.iter().position(|(n, _)| n == name)?;
        Some(self.pairs.swap_remove(at).1)
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn names(&self) -> impl Iterator<Item = &str> {
        self.pairs.iter().map(|(n, _)| n.as_str())
    }

    /// Refuses a parameter not in `known`: for the endpoints that write, a
    /// misspelt name (`okay=0`) would otherwise be dropped without a word.
    fn only(&self, known: &[&str]) -> Result<(), ParamError> {
        let unknown = self.names().filter(|k| !known.contains(k)).min();
        match unknown {
            Some(name) => Err(ParamError::new(
                name,
                format!("is not a parameter here; use {}", known.join(", ")),
            )),
            None => Ok(()),
        }
    }

    fn required(&self, name: &str) -> Result<&str, ParamError> {
        self.get(name)
            .ok_or_else(|| ParamError::new(name, "is required"))
    }
}

/// `+` to space, then percent-decoding, then strict UTF-8.
fn decode_component(raw: &[u8]) -> Result<String, std::str::Utf8Error> {
    if !raw.iter().any(|&b| b == b'+' || b == b'%') {
        return std::str::from_utf8(raw).map(str::to_owned);
    }
    let plus_as_space: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    percent_decode(&plus_as_space)
        .decode_utf8()
        .map(|s| s.into_owned())
}

/// Quotes a client's value for an error message, cut short so that a huge
/// value never makes a huge message.
fn quoted(value: &str) -> String {
    const SHOWN: usize = 40;
    match value.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{:?}…", &value[..cut]),
        None => format!("{value:?}"),
    }
}

/// Largest `seq`: every integer up to it is exact in a float (as a JSON
/// number or a Python float) and in SQLite's INTEGER.
pub const MAX_SEQ: u64 = (1 << 53) - 1;

/// The optional `seq`: a whole number from 0 to `MAX_SEQ`.
fn seq(form: &Form) -> Result<Option<u64>, ParamError> {
    let Some(text) = form.get("seq") else {
        return Ok(None);
    };
    text.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| *n <= MAX_SEQ)
        .map(Some)
        .ok_or_else(|| {
            ParamError::new(
                "seq",
                format!(
                    "must be a whole number from 0 to {MAX_SEQ}, got {}",
                    quoted(text)
                ),
            )
        })
}

/// Why `c` may not stand in an id, if it may not. Ids name jobs and
/// workers on pages and in the log, so each must read as itself:
/// - control characters: a CR or NUL does not survive HTML, so the page
///   could not name the job back;
/// - bidi controls: they would make an id display as another;
/// - invisible characters: Unicode's format characters (Cf), line and
///   paragraph separators (Zl, Zp) and the other default-ignorable code
///   points (fillers, variation selectors, tags), which show as nothing, so
///   `train` and `train` + U+200B would look the same;
/// - noncharacters, which are not for interchange.
///
/// The ranges are Unicode 17.0's Cf, Zl, Zp and Default_Ignorable_Code_Point
/// (DerivedCoreProperties.txt), written out. A desc may hold any of these:
/// a ZWJ in an emoji or a ZWNJ in Persian is text, not an id.
pub fn forbidden_in_id(c: char) -> Option<&'static str> {
    let kind = if c.is_control() {
        "a control character"
    } else if matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    {
        "a bidi control"
    } else if matches!(c, '\u{FDD0}'..='\u{FDEF}') || u32::from(c) & 0xFFFE == 0xFFFE {
        "a noncharacter"
    } else if matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{0600}'..='\u{0605}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200D}'
            | '\u{2028}'..='\u{2029}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    ) {
        "an invisible character"
    } else {
        return None;
    };
    Some(kind)
}

fn id(form: &Form, name: &str, max_bytes: usize) -> Result<String, ParamError> {
    checked_id(name, form.required(name)?, max_bytes)
}

fn checked_id(name: &str, value: &str, max_bytes: usize) -> Result<String, ParamError> {
    if value.is_empty() {
        return Err(ParamError::new(name, "must not be empty"));
    }
    if let Some((c, kind)) = value
        .chars()
        .find_map(|c| forbidden_in_id(c).map(|kind| (c, kind)))
    {
        return Err(ParamError::new(
            name,
            format!("contains U+{:04X} ({kind})", u32::from(c)),
        ));
    }
    if value.len() > max_bytes {
        return Err(ParamError::new(
            name,
            format!("must be at most {max_bytes} bytes, got {}", value.len()),
        ));
    }
    Ok(value.to_string())
}

fn desc(form: &Form) -> Result<Option<String>, ParamError> {
    match form.get("desc") {
        Some(value) if value.len() > MAX_DESC_BYTES => Err(ParamError::new(
            "desc",
            format!(
                "must be at most {MAX_DESC_BYTES} bytes, got {}",
                value.len()
            ),
        )),
        other => Ok(other.map(str::to_string)),
    }
}

/// A finite number ≥ 0, written as Python and shell scripts write numbers:
/// `5`, `5.0`, `1e3`.
fn amount(form: &Form, name: &str) -> Result<Option<f64>, ParamError> {
    let Some(value) = form.get(name) else {
        return Ok(None);
    };
    match finite_number(name, value)? {
        x if x < 0.0 => Err(ParamError::new(
            name,
            format!("must not be negative, got {}", quoted(value)),
        )),
        x => Ok(Some(x)),
    }
}

/// A finite number of either sign, written as [`amount`] reads them.
fn finite(form: &Form, name: &str) -> Result<Option<f64>, ParamError> {
    form.get(name)
        .map(|value| finite_number(name, value))
        .transpose()
}

fn finite_number(name: &str, value: &str) -> Result<f64, ParamError> {
    match value.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(x),
        Ok(_) => Err(ParamError::new(
            name,
            format!("must be a finite number, got {}", quoted(value)),
        )),
        Err(_) => Err(ParamError::new(
            name,
            format!(
                "must be a number such as 5, 5.0 or 1e3, got {}",
                quoted(value)
            ),
        )),
    }
}

/// `ok`: omitted means ok; numerically zero, `false` or `no` means failed.
fn ok_flag(form: &Form) -> Result<bool, ParamError> {
    let Some(value) = form.get("ok") else {
        return Ok(true);
    };
    let word = value.to_ascii_lowercase();
    match word.as_str() {
        "false" | "no" => Ok(false),
        "true" | "yes" => Ok(true),
        _ => match value.parse::<f64>() {
            Ok(x) if !x.is_nan() => Ok(x != 0.0),
            _ => Err(ParamError::new(
                "ok",
                format!(
                    "must be a number (0 = failed) or true/false/yes/no, got {}",
                    quoted(value)
                ),
            )),
        },
    }
}

/// Most workers `workers=N` may name; the server's `--max-workers-per-job`
/// is usually lower and answers 413.
pub const MAX_ROSTER: u64 = 10_000_000;

impl Roster {
    /// `workers` or `workids`, not both. Spaces around the items of
    /// `workids` are dropped (`a, b` names `a` and `b`), empty items (a
    /// trailing comma) skipped and repeats dropped; each id follows the
    /// rules of `workid`, and a refusal says which item broke them.
    fn from_form(form: &Form) -> Result<Roster, ParamError> {
        match (form.get("workers"), form.get("workids")) {
            (Some(_), Some(_)) => Err(ParamError::new(
                "workids",
                "cannot be given with workers; name the workers one way",
            )),
            (Some(count), None) => match count.parse::<f64>() {
                Ok(n) if n.fract() == 0.0 && (0.0..=MAX_ROSTER as f64).contains(&n) => {
                    Ok(Roster::Count(n as u64))
                }
                _ => Err(ParamError::new(
                    "workers",
                    format!(
                        "must be a whole number from 0 to {MAX_ROSTER}, got {}",
                        quoted(count)
                    ),
                )),
            },
            (None, Some(list)) => {
                let mut seen = std::collections::HashSet::new();
                let mut ids = Vec::new();
                let items = list.split(',').map(|item| item.trim_matches(' '));
                for (n, item) in items.filter(|item| !item.is_empty()).enumerate() {
                    let workid = checked_id("workids", item, MAX_WORKID_BYTES).map_err(|e| {
                        let item = crate::format::one_line(item, 20);
                        ParamError::new("workids", format!("item {} ({item}) {}", n + 1, e.problem))
                    })?;
                    if seen.insert(workid.clone()) {
                        ids.push(workid);
                    }
                }
                Ok(Roster::Ids(ids))
            }
            (None, None) => Ok(Roster::Open),
        }
    }
}

impl CreateJob {
    /// Validates `jobid`, `desc`, `maxage` and the roster (`workers` or
    /// `workids`).
    pub fn from_form(form: &Form) -> Result<CreateJob, ParamError> {
        form.only(&["jobid", "desc", "maxage", "workers", "workids", "notify"])?;
        let jobid = id(form, "jobid", MAX_JOBID_BYTES)?;
        let desc = desc(form)?.unwrap_or_default();
        let maxage = match amount(form, "maxage")? {
            Some(secs) if secs <= 0.0 => {
                return Err(ParamError::new(
                    "maxage",
                    "must be a positive number of seconds",
                ));
            }
            Some(secs) if secs > MAX_MAXAGE_SECS => {
                return Err(ParamError::new(
                    "maxage",
                    format!("must be at most ten years ({MAX_MAXAGE_SECS} seconds)"),
                ));
            }
            other => other.map(Secs),
        };
        Ok(CreateJob {
            jobid,
            desc,
            maxage,
            roster: Roster::from_form(form)?,
            notify: notify_on(form)?,
        })
    }
}

/// `notify=`: `1` for every kind of event, `0` (or none) for none, or a
/// comma-separated list of [`NoticeKind`] names.
fn notify_on(form: &Form) -> Result<NotifyOn, ParamError> {
    let Some(text) = form.get("notify") else {
        return Ok(NotifyOn::default());
    };
    match text.trim() {
        "1" => return Ok(NotifyOn::ALL),
        "0" | "" => return Ok(NotifyOn::default()),
        _ => {}
    }
    text.split(',')
        .map(str::trim)
        .try_fold(NotifyOn::default(), |on, name| {
            NoticeKind::named(name).map(|kind| on.with(kind)).ok_or_else(|| {
                ParamError::new(
                    "notify",
                    format!(
                        "{} is not an event; use 1 (all), 0 (none) or a comma-separated list of {}",
                        quoted(name),
                        NoticeKind::ALL.map(NoticeKind::key).join(", ")
                    ),
                )
            })
        })
}

impl WorkerUpdate {
    /// Validates `jobid`, `workid`, `current`, `total`, `ok`, `desc` and
    /// `seq`.
    pub fn from_form(form: &Form) -> Result<WorkerUpdate, ParamError> {
        WorkerUpdate::of_job(form, id(form, "jobid", MAX_JOBID_BYTES)?)
    }

    /// As [`WorkerUpdate::from_form`], of job `jobid` (checked already):
    /// a `jobid` in the form is not read again.
    fn of_job(form: &Form, jobid: String) -> Result<WorkerUpdate, ParamError> {
        form.only(&["jobid", "workid", "current", "total", "ok", "desc", "seq"])?;
        let workid = id(form, "workid", MAX_WORKID_BYTES)?;
        let current =
            amount(form, "current")?.ok_or_else(|| ParamError::new("current", "is required"))?;
        Ok(WorkerUpdate {
            jobid,
            workid,
            current,
            total: amount(form, "total")?,
            ok: ok_flag(form)?,
            desc: desc(form)?,
            seq: seq(form)?,
        })
    }
}

/// Most updates one batch may hold. The writer applies a batch in one go,
/// so this bounds how long updates queued behind it wait; a body of 64 KiB
/// holds at most about 3,400 updates anyway.
pub const MAX_BATCH_UPDATES: usize = 1000;

/// How a POST body to `update` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateBody<'a> {
    /// No line, or one: a single update, read as any form body is (over
    /// the query string). The line comes without its line end; a body
    /// without an LF is taken exactly as sent.
    Single(&'a [u8]),
    /// Several lines: a batch, for [`UpdateBatch::parse`].
    Batch(&'a [u8]),
}

impl UpdateBody<'_> {
    /// A body with two or more lines that hold something is a batch.
    pub fn of(body: &[u8]) -> UpdateBody<'_> {
        let mut found = lines(body);
        match (found.next(), found.next()) {
            (None, _) => UpdateBody::Single(b""),
            (Some((_, line)), None) => UpdateBody::Single(line),
            (Some(_), Some(_)) => UpdateBody::Batch(body),
        }
    }
}

/// The lines of a body that hold something, each with its number counted
/// from 1 over every line (empty ones too, so the number is the one an
/// editor shows). A line ends at an LF; a CR right before the LF is part of
/// the line end, so CR LF bodies read the same.
fn lines(body: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let ends = body.iter().filter(|&&b| b == b'\n').count();
    body.split(|&b| b == b'\n')
        .enumerate()
        .map(move |(i, line)| match line.strip_suffix(b"\r") {
            Some(before_crlf) if i < ends => (i + 1, before_crlf),
            _ => (i + 1, line),
        })
        .filter(|(_, line)| !line.is_empty())
}

/// Why a batch was refused; nothing of it is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchError {
    /// The query string: no `jobid`, or a parameter beside it.
    Query(ParamError),
    /// More updates than [`MAX_BATCH_UPDATES`].
    TooMany {
        /// The updates the body holds.
        updates: usize,
    },
    /// A line is not a valid update.
    Line {
        /// Its line number in the body, from 1.
        line: usize,
        /// What is wrong with it.
        error: ParamError,
    },
}

/// A batch: updates of one job, one per line of a POST body, each line in
/// the fields of a single update.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateBatch {
    /// The updates in the body's order, each of the query string's job.
    pub updates: Vec<WorkerUpdate>,
    /// The line number (from 1) of each update in the body.
    pub lines: Vec<usize>,
}

impl UpdateBatch {
    /// Reads a batch: `jobid` from the query string (and nothing else
    /// there), then each line that holds something as a single update of
    /// that job would be checked, unknown parameters included. A line may
    /// repeat the jobid, but only the query's: a batch reports on one job.
    /// The first bad line is the one named.
    pub fn parse(query: &Form, body: &[u8]) -> Result<UpdateBatch, BatchError> {
        if let Some(name) = query.names().filter(|k| *k != "jobid").min() {
            return Err(BatchError::Query(ParamError::new(
                name,
                "is not a parameter of a batch's query string, which takes jobid only; \
                 the rest goes in each line",
            )));
        }
        let jobid = match query.get("jobid") {
            Some(text) => checked_id("jobid", text, MAX_JOBID_BYTES).map_err(BatchError::Query)?,
            None => {
                return Err(BatchError::Query(ParamError::new(
                    "jobid",
                    "is required in a batch's query string (POST /progress/update?jobid=J)",
                )));
            }
        };
        let count = lines(body).count();
        if count > MAX_BATCH_UPDATES {
            return Err(BatchError::TooMany { updates: count });
        }
        let mut batch = UpdateBatch {
            updates: Vec::with_capacity(count),
            lines: Vec::with_capacity(count),
        };
        for (line, text) in lines(body) {
            let at = |error| BatchError::Line { line, error };
            let form = Form::parse(text).map_err(at)?;
            if form.get("jobid").is_some_and(|given| given != jobid) {
                return Err(at(ParamError::new(
                    "jobid",
                    "must be the query string's jobid, or left out: a batch reports on one job",
                )));
            }
            batch
                .updates
                .push(WorkerUpdate::of_job(&form, jobid.clone()).map_err(at)?);
            batch.lines.push(line);
        }
        Ok(batch)
    }
}

/// Parameters of `history`: a job, and optionally one of its workers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryQuery {
    /// The job's id.
    pub jobid: String,
    /// Only this worker's history; every worker's when `None`.
    pub workid: Option<String>,
    /// With the show page's texts (`text=1`).
    pub text: bool,
}

impl HistoryQuery {
    /// Validates `jobid` and the optional `workid`.
    pub fn from_form(form: &Form) -> Result<HistoryQuery, ParamError> {
        let jobid = id(form, "jobid", MAX_JOBID_BYTES)?;
        let workid = match form.get("workid") {
            Some(_) => Some(id(form, "workid", MAX_WORKID_BYTES)?),
            None => None,
        };
        Ok(HistoryQuery {
            jobid,
            workid,
            text: page_texts(form)?,
        })
    }
}

impl JobRef {
    /// Validates `jobid`.
    pub fn from_form(form: &Form) -> Result<JobRef, ParamError> {
        Ok(JobRef {
            jobid: id(form, "jobid", MAX_JOBID_BYTES)?,
        })
    }
}

/// Parameters of `status`: a job and, optionally, which of its workers to
/// list and how (see [`StatusQuery::from_form`]).
#[derive(Debug, Clone, PartialEq)]
pub struct StatusQuery {
    /// The job's id.
    pub jobid: String,
    /// What to list of its workers.
    pub list: WorkerList,
    /// The workers to list (every one, in natural order, unless asked).
    pub pick: WorkerPick,
    /// Also list this many of the workers that need attention
    /// ([`WorkerPick::needing_attention`]), from the same read
    /// (`attention=N`): a poll of the big-job page in one request.
    pub attention: Option<u64>,
    /// With the show page's texts for the summary and each worker
    /// (`text=1`), so its script writes what the server writes.
    pub text: bool,
}

/// What a `status` answer lists of the job's workers.
#[derive(Debug, Clone, PartialEq)]
pub enum WorkerList {
    /// Every worker `pick` selects, as today's answer does (`since=` may
    /// narrow them).
    All,
    /// None: the summary only (`workers=0`).
    None,
    /// One page.
    Page {
        /// Where it starts.
        start: PageStart,
        /// At most this many workers.
        limit: u64,
    },
}

/// Workers a page lists unless `limit` says otherwise.
pub const DEFAULT_PAGE_LIMIT: u64 = 100;
/// Most workers a page lists.
pub const MAX_PAGE_LIMIT: u64 = 5000;

impl StatusQuery {
    /// Validates `jobid` and the listing: `workers=0` (summary only);
    /// `state=` (comma-separated: running, done, failed, stale,
    /// not_started, slow), `q=` (workid contains, ignoring ASCII case),
    /// `sort=` (workid, percent, rate, updated; `-` first for largest
    /// first), `limit=` (1 to [`MAX_PAGE_LIMIT`]) and `offset=` or
    /// `cursor=`, any of which makes the answer one page; `since=`
    /// (workers changed after that time); and `attention=` (1 to
    /// [`MAX_PAGE_LIMIT`]: the first workers needing attention too).
    pub fn from_form(form: &Form) -> Result<StatusQuery, ParamError> {
        let jobid = id(form, "jobid", MAX_JOBID_BYTES)?;
        let mut pick = WorkerPick {
            states: states(form)?,
            ..WorkerPick::default()
        };
        if let Some(text) = form.get("q").filter(|q| !q.is_empty()) {
            if text.len() > MAX_WORKID_BYTES {
                return Err(ParamError::new(
                    "q",
                    format!("is longer than a workid ({MAX_WORKID_BYTES} bytes)"),
                ));
            }
            pick.text = Some(text.to_string());
        }
        if let Some(text) = form.get("sort") {
            let (descending, name) = match text.strip_prefix('-') {
                Some(name) => (true, name),
                None => (false, text),
            };
            let by = SortBy::ALL
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, by)| *by)
                .ok_or_else(|| {
                    let names: Vec<&str> = SortBy::ALL.iter().map(|(n, _)| *n).collect();
                    ParamError::new(
                        "sort",
                        format!(
                            "must be one of {} (with - first for largest first), got {}",
                            names.join(", "),
                            quoted(text)
                        ),
                    )
                })?;
            pick.order = WorkerOrder { by, descending };
        }
        pick.since = finite(form, "since")?.map(Time::unix);
        let limit = page_limit(form, "limit")?;
        let attention = page_limit(form, "attention")?;
        let start = match (form.get("offset"), form.get("cursor")) {
            (Some(_), Some(_)) => {
                return Err(ParamError::new(
                    "cursor",
                    "cannot be given with offset; page one way",
                ));
            }
            (Some(_), None) => offset(form)?.map(PageStart::Offset),
            (None, Some(text)) => Some(PageStart::After(cursor(text, pick.order)?)),
            (None, None) => None,
        };
        let summary_only = match form.get("workers") {
            None | Some("1") => false,
            Some("0") => true,
            Some(other) => {
                return Err(ParamError::new(
                    "workers",
                    format!(
                        "must be 0 (the summary only) or 1 (the workers too), got {}",
                        quoted(other)
                    ),
                ));
            }
        };
        let paged = start.is_some()
            || limit.is_some()
            || !pick.states.is_empty()
            || pick.text.is_some()
            || form.get("sort").is_some();
        let list = if summary_only {
            WorkerList::None
        } else if paged {
            WorkerList::Page {
                start: start.unwrap_or(PageStart::Offset(0)),
                limit: limit.unwrap_or(DEFAULT_PAGE_LIMIT),
            }
        } else {
            WorkerList::All
        };
        Ok(StatusQuery {
            jobid,
            list,
            pick,
            attention,
            text: page_texts(form)?,
        })
    }

    /// True when the answer is today's, word for word: no parameter but the
    /// job's id.
    pub fn is_plain(&self) -> bool {
        self.list == WorkerList::All
            && self.pick == WorkerPick::default()
            && self.attention.is_none()
    }
}

/// The states `state=` names, comma-separated (running, done, failed,
/// stale, not_started, slow), each once, in the order given; none when
/// it is not given.
fn states(form: &Form) -> Result<Vec<Pick>, ParamError> {
    let mut states = Vec::new();
    let Some(text) = form.get("state") else {
        return Ok(states);
    };
    for name in text.split(',').map(str::trim) {
        let state = Pick::named(name).ok_or_else(|| {
            ParamError::new(
                "state",
                format!(
                    "{} is not a state; use {} (comma-separated)",
                    quoted(name),
                    Pick::ALL.map(Pick::key).join(", ")
                ),
            )
        })?;
        if !states.contains(&state) {
            states.push(state);
        }
    }
    Ok(states)
}

/// How many workers `offset=` skips (a whole number), if given.
fn offset(form: &Form) -> Result<Option<u64>, ParamError> {
    let Some(text) = form.get("offset") else {
        return Ok(None);
    };
    text.trim().parse::<u64>().map(Some).map_err(|_| {
        ParamError::new(
            "offset",
            format!("must be a whole number, got {}", quoted(text)),
        )
    })
}

/// Whether the answer carries the show page's texts: `text=1`; `text=0`
/// or none, not.
fn page_texts(form: &Form) -> Result<bool, ParamError> {
    Ok(zero_or_one(form, "text", "with the page's texts")?.unwrap_or(false))
}

/// A switch `name`, if given: `1` (what `one_means`, for the message) or
/// `0`.
fn zero_or_one(
    form: &Form,
    name: &'static str,
    one_means: &str,
) -> Result<Option<bool>, ParamError> {
    match form.get(name) {
        None => Ok(None),
        Some("0") => Ok(Some(false)),
        Some("1") => Ok(Some(true)),
        Some(other) => Err(ParamError::new(
            name,
            format!("must be 0 or 1 ({one_means}), got {}", quoted(other)),
        )),
    }
}

/// The count of workers `name` asks for, 1 to [`MAX_PAGE_LIMIT`], if given.
fn page_limit(form: &Form, name: &'static str) -> Result<Option<u64>, ParamError> {
    let Some(text) = form.get(name) else {
        return Ok(None);
    };
    text.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| (1..=MAX_PAGE_LIMIT).contains(n))
        .map(Some)
        .ok_or_else(|| {
            ParamError::new(
                name,
                format!(
                    "must be a whole number from 1 to {MAX_PAGE_LIMIT}, got {}",
                    quoted(text)
                ),
            )
        })
}

/// The cursor for the page after the worker at `key` in `order`: the
/// order's name, then the value ordered by (its bits, in hex; none for
/// workid), then the workid's natural key in hex, dot-separated.
pub fn cursor_text(order: WorkerOrder, key: &PageKey) -> String {
    let mut text = order.name();
    if order.by != SortBy::Workid {
        text.push('.');
        text.push_str(&format!("{:016x}", key.value.to_bits()));
    }
    text.push('.');
    for byte in &key.sortkey {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

/// Reads a cursor [`cursor_text`] made, for `order`.
fn cursor(text: &str, order: WorkerOrder) -> Result<PageKey, ParamError> {
    let bad = |why: &str| ParamError::new("cursor", format!("{why}; use the page's next cursor"));
    let mut parts = text.split('.');
    let name = parts.next().unwrap_or_default();
    if name != order.name() {
        return Err(bad(&format!(
            "was made for sort={}, not sort={}",
            one_line(name, 20),
            order.name()
        )));
    }
    let value = if order.by == SortBy::Workid {
        0.0
    } else {
        let bits = parts
            .next()
            .and_then(|hex| u64::from_str_radix(hex, 16).ok())
            .ok_or_else(|| bad("is not a cursor this server made"))?;
        f64::from_bits(bits)
    };
    let hex = parts
        .next()
        .filter(|hex| hex.len() % 2 == 0 && hex.len() <= 4 * MAX_WORKID_BYTES)
        .ok_or_else(|| bad("is not a cursor this server made"))?;
    let sortkey = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("zz"), 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| bad("is not a cursor this server made"))?;
    if parts.next().is_some() || !value.is_finite() {
        return Err(bad("is not a cursor this server made"));
    }
    Ok(PageKey { value, sortkey })
}

/// Parameters of `show`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShowPage {
    /// The job's id.
    pub jobid: String,
    /// Seconds between the page's updates.
    pub interval: u64,
    /// Workers that need attention first (`sort=attention`), else in
    /// natural order (`sort=workid`, the default).
    pub problems_first: bool,
    /// Leave out the workers that are done (`hide=done`).
    pub hide_done: bool,
}

/// Seconds between a show page's updates unless `interval` says otherwise
/// (the spec's default).
pub const DEFAULT_INTERVAL_SECS: u64 = 30;
/// The longest `interval` accepted: a day.
pub const MAX_INTERVAL_SECS: u64 = 86_400;

impl ShowPage {
    /// Validates `jobid`, `interval` (seconds, rounded and kept within 1
    /// to a day), and how the rows are listed: `sort=attention` or
    /// `sort=workid`, `hide=done`.
    pub fn from_form(form: &Form) -> Result<ShowPage, ParamError> {
        let jobid = id(form, "jobid", MAX_JOBID_BYTES)?;
        // Any finite number is taken, negative ones too, kept within 1 s to
        // a day: a link that asks for too little gets the least there is.
        let interval = finite(form, "interval")?.map_or(DEFAULT_INTERVAL_SECS, |secs| {
            secs.round().clamp(1.0, MAX_INTERVAL_SECS as f64) as u64
        });
        let problems_first = match form.get("sort") {
            None | Some("workid") => false,
            Some("attention") => true,
            Some(other) => {
                return Err(ParamError::new(
                    "sort",
                    format!("must be workid or attention, got {}", quoted(other)),
                ));
            }
        };
        let hide_done = match form.get("hide") {
            None | Some("") => false,
            Some("done") => true,
            Some(other) => {
                return Err(ParamError::new(
                    "hide",
                    format!("must be done (or nothing), got {}", quoted(other)),
                ));
            }
        };
        Ok(ShowPage {
            jobid,
            interval,
            problems_first,
            hide_done,
        })
    }
}

/// Parameters of `show.txt`, the job as text for a terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShowText {
    /// The job's id.
    pub jobid: String,
    /// Columns the text fits in (`cols=`).
    pub cols: usize,
    /// Whether to colour it with ANSI escape codes (`color=1`).
    pub color: bool,
    /// At most this many workers' lines (`limit=`).
    pub limit: u64,
    /// One page of the workers in some states (`state=`, `offset=`)
    /// instead of the usual view; `None` when neither is given.
    pub page: Option<TextPage>,
}

/// Which of a job's workers `show.txt` lists when `state=` or `offset=`
/// is given: those in `states` (every one when empty), in order of
/// workid, from the `offset`-th on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextPage {
    /// Workers in any of these states; every worker when empty.
    pub states: Vec<Pick>,
    /// How many of them to skip.
    pub offset: u64,
}

/// Columns of `show.txt` unless `cols` says otherwise: a terminal's
/// usual width.
pub const DEFAULT_TEXT_COLS: usize = 80;
/// The fewest and most columns `show.txt` draws in.
pub const TEXT_COLS_RANGE: (usize, usize) = (40, 400);
/// Workers' lines in `show.txt` unless `limit` says otherwise.
pub const DEFAULT_TEXT_LIMIT: u64 = 100;

impl ShowText {
    /// Validates `jobid`, `cols` (a whole number in [`TEXT_COLS_RANGE`]),
    /// `color` (0 or 1), `limit` (1 to [`MAX_PAGE_LIMIT`]), and `state`
    /// and `offset` as `status` takes them.
    pub fn from_form(form: &Form) -> Result<ShowText, ParamError> {
        let jobid = id(form, "jobid", MAX_JOBID_BYTES)?;
        let (least, most) = TEXT_COLS_RANGE;
        let cols = match form.get("cols") {
            None => DEFAULT_TEXT_COLS,
            Some(text) => text
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| (least..=most).contains(n))
                .ok_or_else(|| {
                    ParamError::new(
                        "cols",
                        format!(
                            "must be a whole number from {least} to {most}, got {}",
                            quoted(text)
                        ),
                    )
                })?,
        };
        let color = match form.get("color") {
            None | Some("0") => false,
            Some("1") => true,
            Some(other) => {
                return Err(ParamError::new(
                    "color",
                    format!("must be 0 or 1 (in colour), got {}", quoted(other)),
                ));
            }
        };
        let limit = page_limit(form, "limit")?.unwrap_or(DEFAULT_TEXT_LIMIT);
        let (states, offset) = (states(form)?, offset(form)?);
        let page = (!states.is_empty() || offset.is_some()).then(|| TextPage {
            states,
            offset: offset.unwrap_or(0),
        });
        Ok(ShowText {
            jobid,
            cols,
            color,
            limit,
            page,
        })
    }
}

/// Parameters of `render`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderChart {
    /// The job's id.
    pub jobid: String,
    /// Image width in pixels.
    pub width: u32,
}

impl RenderChart {
    /// Validates `jobid` and `width` (whole pixels within `width_range`,
    /// `default_width` when omitted).
    pub fn from_form(
        form: &Form,
        default_width: u32,
        width_range: (u32, u32),
    ) -> Result<RenderChart, ParamError> {
        let jobid = id(form, "jobid", MAX_JOBID_BYTES)?;
        let width = match form.get("width") {
            None => default_width,
            Some(text) => text
                .parse::<u32>()
                .ok()
                .filter(|w| (width_range.0..=width_range.1).contains(w))
                .ok_or_else(|| {
                    ParamError::new(
                        "width",
                        format!(
                            "must be a whole number of pixels from {} to {}, got {}",
                            width_range.0,
                            width_range.1,
                            quoted(text)
                        ),
                    )
                })?,
        };
        Ok(RenderChart { jobid, width })
    }
}

/// Parameters of `jobs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListJobs {
    /// At most this many jobs, most recent activity first.
    pub limit: u64,
    /// Only this server's jobs, not its peers' (`peers=0`): what a peer
    /// asks, so that two servers that list each other do not ask in a loop.
    pub local: bool,
    /// An object with the jobs, the peers that answered or not, and this
    /// server's public address (`envelope=1`), rather than the bare list.
    pub envelope: bool,
}

impl ListJobs {
    /// Validates `limit` (default [`DEFAULT_LIST_LIMIT`]), `peers` and
    /// `envelope`.
    pub fn from_form(form: &Form) -> Result<ListJobs, ParamError> {
        let limit = match form.get("limit") {
            None => DEFAULT_LIST_LIMIT,
            Some(value) => value
                .parse::<u64>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| {
                    ParamError::new(
                        "limit",
                        format!("must be a positive whole number, got {}", quoted(value)),
                    )
                })?,
        };
        let peers = zero_or_one(form, "peers", "with the peers' jobs")?.unwrap_or(true);
        let envelope = zero_or_one(form, "envelope", "an object with the peers")?.unwrap_or(false);
        Ok(ListJobs {
            limit,
            local: !peers,
            envelope,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(s: &str) -> Form {
        Form::parse(s.as_bytes()).expect("test input decodes")
    }

    fn update(s: &str) -> Result<WorkerUpdate, ParamError> {
        WorkerUpdate::from_form(&form(s))
    }

    #[test]
    fn decodes_plus_percent_and_last_repeat_wins() {
        let f = form("jobid=a+b%2Bc&desc=x&desc=My+Job%21&flag");
        assert_eq!(f.get("jobid"), Some("a b+c"));
        assert_eq!(f.get("desc"), Some("My Job!"));
        assert_eq!(f.get("flag"), Some(""));
    }

    #[test]
    fn a_form_of_too_many_names_is_refused_naming_the_first_past_the_limit() {
        let names: Vec<String> = (0..MAX_FORM_NAMES).map(|i| format!("n{i}=1")).collect();
        let most = names.join("&");
        assert!(Form::parse(most.as_bytes()).is_ok());
        // Repeating a name adds none.
        assert!(Form::parse(format!("{most}&n0=2").as_bytes()).is_ok());
        let err = Form::parse(format!("{most}&extra=1").as_bytes()).expect_err("one too many");
        assert_eq!(err.name, "extra");
        assert!(err.to_string().contains("at most 64"), "{err}");
        // Without percent or plus, a component is taken as it is.
        let f = form("workid=r%C3%A9&desc=plain");
        assert_eq!(
            (f.get("workid"), f.get("desc")),
            (Some("ré"), Some("plain"))
        );
        assert!(Form::parse(&[b'd', b'=', 0xff]).is_err());
    }

    #[test]
    fn unknown_names_are_shown_escaped_and_short_on_one_line() {
        let long = "n".repeat(10_000);
        for name in ["a%0Ab", "x%1B%5B31m", long.as_str()] {
            let err = update(&format!("jobid=j&workid=w&current=1&{name}=1"))
                .expect_err("unknown parameter");
            let message = err.to_string();
            assert!(
                !message.contains('\n') && !message.contains('\u{1b}'),
                "{message:?}"
            );
            assert!(message.len() < 200, "{} bytes", message.len());
        }
        let err = update("jobid=j&workid=w&current=1&a%0Ab=1").expect_err("unknown");
        assert!(
            err.to_string()
                .starts_with("parameter 'a\\nb': is not a parameter here")
        );
    }

    #[test]
    fn body_overrides_query() {
        let mut f = form("jobid=a&desc=q");
        f.extend_from(b"desc=b").expect("decodes");
        assert_eq!(f.get("jobid"), Some("a"));
        assert_eq!(f.get("desc"), Some("b"));
    }

    #[test]
    fn invalid_utf8_is_refused_naming_the_parameter() {
        let err = Form::parse(b"jobid=%FF%FE").expect_err("not UTF-8");
        assert_eq!(err.name, "jobid");
        assert!(err.to_string().contains("UTF-8"));
    }

    #[test]
    fn malformed_percent_escapes_are_kept_literally_as_form_urlencoded_does() {
        assert_eq!(form("jobid=100%&x=%zz").get("jobid"), Some("100%"));
        assert_eq!(form("x=%zz").get("x"), Some("%zz"));
    }

    #[test]
    fn numbers_as_python_and_shell_send_them() {
        for (text, want) in [
            ("5", 5.0),
            ("5.0", 5.0),
            ("1e3", 1000.0),
            ("0", 0.0),
            (".5", 0.5),
        ] {
            let u = update(&format!("jobid=j&workid=w&current={text}")).expect("valid");
            assert_eq!(u.current, want, "{text}");
        }
    }

    #[test]
    fn bad_numbers_name_the_parameter() {
        for bad in ["abc", "", "NaN", "inf", "-inf", "1e309", "-1", "5,0", " 5"] {
            let err = update(&format!("jobid=j&workid=w&current=1&total={bad}")).expect_err(bad);
            assert_eq!(err.name, "total", "{bad}");
        }
    }

    #[test]
    fn writes_refuse_unknown_parameters() {
        let err = update("jobid=j&workid=w&current=1&okay=0").unwrap_err();
        assert_eq!(err.name, "okay");
        assert!(
            err.problem
                .contains("jobid, workid, current, total, ok, desc"),
            "{}",
            err.problem
        );
        assert_eq!(
            update("jobid=j&workid=w&curent=1").unwrap_err().name,
            "curent"
        );
        assert_eq!(
            CreateJob::from_form(&form("jobid=j&maxag=5"))
                .unwrap_err()
                .name,
            "maxag"
        );
        // Reads take extra parameters (cache busters on an <img>, say).
        assert!(JobRef::from_form(&form("jobid=j&_=123")).is_ok());
    }

    #[test]
    fn required_fields() {
        assert_eq!(update("workid=w&current=1").unwrap_err().name, "jobid");
        assert_eq!(update("jobid=j&current=1").unwrap_err().name, "workid");
        assert_eq!(update("jobid=j&workid=w").unwrap_err().name, "current");
        assert_eq!(
            update("jobid=&workid=w&current=1").unwrap_err().name,
            "jobid"
        );
        let u = update("jobid=j&workid=w&current=1").expect("total may be omitted");
        assert_eq!((u.total, u.desc, u.ok), (None, None, true));
    }

    #[test]
    fn id_and_desc_lengths_are_bytes() {
        let jobid = "é".repeat(128); // 256 bytes
        assert!(update(&format!("jobid={jobid}&workid=w&current=1")).is_ok());
        let err = update(&format!("jobid={jobid}x&workid=w&current=1")).unwrap_err();
        assert_eq!(err.name, "jobid");
        let workid = "w".repeat(129);
        assert_eq!(
            update(&format!("jobid=j&workid={workid}&current=1"))
                .unwrap_err()
                .name,
            "workid"
        );
        let desc = "d".repeat(1025);
        assert_eq!(
            update(&format!("jobid=j&workid=w&current=1&desc={desc}"))
                .unwrap_err()
                .name,
            "desc"
        );
    }

    #[test]
    fn ids_refuse_control_and_bidi_override_characters() {
        for bad in [
            "a%0Db",
            "a%00b",
            "a%09b",
            "abc%E2%80%AE",
            "%E2%81%A6x",
            "x%7F",
        ] {
            let err = update(&format!("jobid={bad}&workid=w&current=1")).unwrap_err();
            assert_eq!(err.name, "jobid", "{bad}");
            assert!(err.problem.contains("U+"), "{}", err.problem);
            let err = update(&format!("jobid=j&workid={bad}&current=1")).unwrap_err();
            assert_eq!(err.name, "workid", "{bad}");
        }
        // Descs may hold them: they are shown isolated, never parsed.
        assert!(update("jobid=j&workid=w&current=1&desc=a%0Db%E2%80%AE").is_ok());
        // Other non-ASCII is fine in ids.
        assert!(update("jobid=%D7%A9%D7%9C%D7%95%D7%9D&workid=%E2%9C%93&current=1").is_ok());
    }

    /// Every character issue 11 found accepted in ids, and one of each kind
    /// the rule names: a 400 naming the parameter and the code point.
    #[test]
    fn ids_refuse_invisible_characters_and_noncharacters() {
        let invisible = [
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{2060}',
            '\u{FEFF}',
            '\u{2028}',
            '\u{2029}',
            '\u{3164}',
            '\u{034F}',
            '\u{00AD}',
            '\u{115F}',
            '\u{1160}',
            '\u{FFA0}',
            '\u{180E}',
            '\u{2061}',
            '\u{2064}',
            '\u{206A}',
            '\u{206F}',
            '\u{FE00}',
            '\u{FE0F}',
            '\u{E0100}',
            '\u{E01EF}',
            '\u{E0000}',
            '\u{E0001}',
            '\u{E0041}',
            '\u{E007F}',
            '\u{17B4}',
            '\u{FFF9}',
            '\u{1D173}',
            '\u{1BCA0}',
            '\u{0600}',
            '\u{13430}',
        ];
        let noncharacters = [
            '\u{FFFE}',
            '\u{FFFF}',
            '\u{FDD0}',
            '\u{FDEF}',
            '\u{1FFFE}',
            '\u{10FFFF}',
        ];
        let bidi = ['\u{061C}', '\u{200E}', '\u{202E}', '\u{2066}'];
        for (chars, kind) in [
            (&invisible[..], "an invisible character"),
            (&noncharacters[..], "a noncharacter"),
            (&bidi[..], "a bidi control"),
        ] {
            for &c in chars {
                let sent: String =
                    url::form_urlencoded::byte_serialize(format!("train{c}").as_bytes()).collect();
                let want = format!("contains U+{:04X} ({kind})", c as u32);
                let err = update(&format!("jobid=j&workid={sent}&current=1")).unwrap_err();
                assert_eq!(err.to_string(), format!("parameter 'workid': {want}"));
                let err = CreateJob::from_form(&form(&format!("jobid={sent}"))).unwrap_err();
                assert_eq!(
                    (err.name.as_str(), err.problem.as_str()),
                    ("jobid", want.as_str())
                );
                let err =
                    CreateJob::from_form(&form(&format!("jobid=j&workids=a,{sent}"))).unwrap_err();
                assert!(err.problem.contains(&want), "{}", err.problem);
                // A desc may hold them.
                assert!(update(&format!("jobid=j&workid=w&current=1&desc={sent}")).is_ok());
            }
        }
        // Neighbours of the ranges are ordinary characters.
        for c in [
            '\u{2027}',
            '\u{202F}',
            '\u{3163}',
            '\u{3165}',
            '\u{FDCF}',
            '\u{FDF0}',
            '\u{FFFD}',
            '\u{1FFFD}',
            '\u{FE10}',
            '\u{E1000}',
            '\u{0606}',
            '\u{1161}',
        ] {
            let sent: String =
                url::form_urlencoded::byte_serialize(format!("train{c}").as_bytes()).collect();
            assert!(
                update(&format!("jobid=j&workid={sent}&current=1")).is_ok(),
                "U+{:04X}",
                c as u32
            );
        }
    }

    #[test]
    fn ids_are_kept_exactly() {
        let u = update("jobid=1.0&workid=%20w%20&current=1").expect("valid");
        assert_eq!((u.jobid.as_str(), u.workid.as_str()), ("1.0", " w "));
    }

    #[test]
    fn ok_flag_values() {
        for (text, want) in [
            ("0", false),
            ("0.0", false),
            ("false", false),
            ("No", false),
            ("1", true),
            ("2", true),
            ("True", true),
            ("yes", true),
        ] {
            let u = update(&format!("jobid=j&workid=w&current=1&ok={text}")).expect(text);
            assert_eq!(u.ok, want, "{text}");
        }
        for bad in ["", "maybe", "nan"] {
            assert_eq!(
                update(&format!("jobid=j&workid=w&current=1&ok={bad}"))
                    .unwrap_err()
                    .name,
                "ok"
            );
        }
    }

    #[test]
    fn maxage_positive_and_at_most_ten_years() {
        let create = |s: &str| CreateJob::from_form(&form(s));
        assert_eq!(
            create("jobid=j&maxage=60").unwrap().maxage,
            Some(Secs(60.0))
        );
        assert_eq!(create("jobid=j").unwrap().maxage, None);
        for bad in ["0", "-5", "abc", "315576001", "inf"] {
            assert_eq!(
                create(&format!("jobid=j&maxage={bad}")).unwrap_err().name,
                "maxage",
                "{bad}"
            );
        }
        assert!(create("jobid=j&maxage=315576000").is_ok());
    }

    #[test]
    fn error_message_quotes_short() {
        let long = "x".repeat(500);
        let msg = update(&format!("jobid=j&workid=w&current={long}"))
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("parameter 'current': "), "{msg}");
        assert!(msg.len() < 150, "{msg}");
    }

    #[test]
    fn show_interval() {
        let show = |s: &str| ShowPage::from_form(&form(s));
        assert_eq!(show("jobid=j").unwrap().interval, 30);
        assert_eq!(show("jobid=j&interval=5").unwrap().interval, 5);
        assert_eq!(show("jobid=j&interval=2.4").unwrap().interval, 2);
        assert_eq!(show("jobid=j&interval=0").unwrap().interval, 1, "minimum 1");
        assert_eq!(show("jobid=j&interval=0.2").unwrap().interval, 1);
        assert_eq!(show("jobid=j&interval=1e9").unwrap().interval, 86_400);
        for bad in ["x", "inf", "-inf", "NaN", "1e309", ""] {
            assert_eq!(
                show(&format!("jobid=j&interval={bad}")).unwrap_err().name,
                "interval",
                "{bad}"
            );
        }
        assert_eq!(show("interval=5").unwrap_err().name, "jobid");
    }

    #[test]
    fn show_lists_problems_first_and_hides_done_when_asked() {
        let show = |s: &str| ShowPage::from_form(&form(s));
        let plain = show("jobid=j").unwrap();
        assert!(!plain.problems_first && !plain.hide_done);
        let asked = show("jobid=j&sort=attention&hide=done").unwrap();
        assert!(asked.problems_first && asked.hide_done);
        assert!(!show("jobid=j&sort=workid&hide=").unwrap().problems_first);
        assert_eq!(show("jobid=j&sort=rate").unwrap_err().name, "sort");
        assert_eq!(show("jobid=j&hide=failed").unwrap_err().name, "hide");
    }

    #[test]
    fn show_interval_below_one_is_one_even_when_negative() {
        // docs/pages.md: "any value below 1 [...] is taken as 1, any above 86400 as 86400".
        let show = |s: &str| ShowPage::from_form(&form(s));
        for low in ["-5", "-1", "-0.6", "-0", "-1e300"] {
            assert_eq!(
                show(&format!("jobid=j&interval={low}")).unwrap().interval,
                1,
                "{low}"
            );
        }
        assert_eq!(show("jobid=j&interval=1e300").unwrap().interval, 86_400);
    }

    #[test]
    fn show_text_columns_colour_and_limit() {
        let text = |s: &str| ShowText::from_form(&form(s));
        let plain = text("jobid=j").unwrap();
        assert_eq!(
            (plain.cols, plain.color, plain.limit),
            (DEFAULT_TEXT_COLS, false, DEFAULT_TEXT_LIMIT)
        );
        let asked = text("jobid=j&cols=40&color=1&limit=5000").unwrap();
        assert_eq!((asked.cols, asked.color, asked.limit), (40, true, 5000));
        assert_eq!(text("jobid=j&cols=400").unwrap().cols, 400);
        assert!(!text("jobid=j&color=0").unwrap().color);
        for (bad, name) in [
            ("cols=39", "cols"),
            ("cols=401", "cols"),
            ("cols=x", "cols"),
            ("cols=", "cols"),
            ("cols=80.5", "cols"),
            ("color=yes", "color"),
            ("color=", "color"),
            ("limit=0", "limit"),
            ("limit=5001", "limit"),
        ] {
            assert_eq!(
                text(&format!("jobid=j&{bad}")).unwrap_err().name,
                name,
                "{bad}"
            );
        }
        assert_eq!(text("cols=80").unwrap_err().name, "jobid");
    }

    #[test]
    fn show_text_pages_by_state_and_offset_as_status_does() {
        let text = |s: &str| ShowText::from_form(&form(s));
        assert_eq!(text("jobid=j").unwrap().page, None);
        let failed = Pick::State(crate::model::BarState::Failed);
        assert_eq!(
            text("jobid=j&state=failed,slow,failed").unwrap().page,
            Some(TextPage {
                states: vec![failed, Pick::Slow],
                offset: 0
            })
        );
        assert_eq!(
            text("jobid=j&offset=200").unwrap().page,
            Some(TextPage {
                states: vec![],
                offset: 200
            })
        );
        for (bad, name) in [
            ("state=broken", "state"),
            ("state=", "state"),
            ("state=failed,", "state"),
            ("offset=-1", "offset"),
            ("offset=x", "offset"),
            ("offset=1.5", "offset"),
        ] {
            let query = format!("jobid=j&{bad}");
            assert_eq!(text(&query).unwrap_err().name, name, "{bad}");
            // The same words as `status` answers.
            assert_eq!(
                text(&query).unwrap_err(),
                StatusQuery::from_form(&form(&query)).unwrap_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn render_width() {
        let render = |s: &str| RenderChart::from_form(&form(s), 800, (300, 4000));
        assert_eq!(render("jobid=j").unwrap().width, 800);
        assert_eq!(render("jobid=j&width=300").unwrap().width, 300);
        assert_eq!(render("jobid=j&width=4000").unwrap().width, 4000);
        for bad in ["299", "4001", "x", "", "800.5", "-1"] {
            assert_eq!(
                render(&format!("jobid=j&width={bad}")).unwrap_err().name,
                "width",
                "{bad}"
            );
        }
    }

    fn batch(query: &str, body: &str) -> Result<UpdateBatch, BatchError> {
        UpdateBatch::parse(&form(query), body.as_bytes())
    }

    #[test]
    fn a_body_of_several_lines_is_a_batch_and_one_line_a_single_update() {
        fn of(body: &str) -> UpdateBody<'_> {
            UpdateBody::of(body.as_bytes())
        }
        // Without an LF, the body is taken exactly as sent, as before.
        assert_eq!(
            of("jobid=j&current=1\r"),
            UpdateBody::Single(b"jobid=j&current=1\r")
        );
        assert_eq!(of(""), UpdateBody::Single(b""));
        // One line that holds something: its line end is dropped.
        assert_eq!(of("\n\r\nworkid=w\r\n\n"), UpdateBody::Single(b"workid=w"));
        assert_eq!(of("\n\n\r\n"), UpdateBody::Single(b""));
        assert_eq!(of("a=1\nb=2"), UpdateBody::Batch(b"a=1\nb=2"));
        assert_eq!(of("a=1\r\nb=2\r\n"), UpdateBody::Batch(b"a=1\r\nb=2\r\n"));
    }

    #[test]
    fn batch_lines_are_numbered_as_an_editor_shows_them() {
        let body = "\nworkid=a&current=1\r\n\r\nworkid=b&current=2&total=3\n\nworkid=c&current=x\n";
        let err = batch("jobid=j", body).unwrap_err();
        let BatchError::Line { line, error } = err else {
            panic!("{err:?}");
        };
        assert_eq!((line, error.name.as_str()), (6, "current"));
        let ok = batch("jobid=j", &body.replace("current=x", "current=4")).expect("valid");
        assert_eq!(ok.lines, [2, 4, 6]);
        let ids: Vec<_> = ok
            .updates
            .iter()
            .map(|u| (u.jobid.as_str(), u.workid.as_str()))
            .collect();
        assert_eq!(ids, [("j", "a"), ("j", "b"), ("j", "c")]);
        assert_eq!(ok.updates[1].total, Some(3.0));
    }

    #[test]
    fn batch_lines_get_every_check_of_a_single_update() {
        let line_error = |body: &str| match batch("jobid=j", body) {
            Err(BatchError::Line { line, error }) => (line, error.name),
            other => panic!("{other:?}"),
        };
        let good = "workid=a&current=1";
        for (bad, name) in [
            ("workid=b&current=1&okay=0", "okay"),
            ("workid=b&current=1&token=t", "token"),
            ("workid=b", "current"),
            ("current=1", "workid"),
            ("workid=b%0Ac&current=1", "workid"),
            ("workid=b&current=-1", "current"),
            ("workid=b&current=1&seq=1.5", "seq"),
            ("workid=b&current=1&ok=maybe", "ok"),
            ("workid=%FF&current=1", "workid"),
            ("workid=b&current=1&jobid=other", "jobid"),
        ] {
            assert_eq!(
                line_error(&format!("{good}\n{bad}")),
                (2, name.into()),
                "{bad}"
            );
        }
        // A %0A in a desc is a character of the desc, not a line end.
        let ok = batch(
            "jobid=j",
            "workid=a&current=1&desc=x%0Ay\nworkid=b&current=1",
        )
        .expect("valid");
        assert_eq!(ok.updates[0].desc.as_deref(), Some("x\ny"));
        // The query's jobid may be repeated in a line.
        assert!(batch("jobid=j", "jobid=j&workid=a&current=1\nworkid=b&current=1").is_ok());
    }

    #[test]
    fn a_batch_takes_its_jobid_from_the_query_string_only() {
        let query_error = |query: &str| match batch(query, "workid=a&current=1\nworkid=b&current=1")
        {
            Err(BatchError::Query(error)) => error.name,
            other => panic!("{other:?}"),
        };
        assert_eq!(query_error(""), "jobid");
        assert_eq!(query_error("jobid="), "jobid");
        assert_eq!(query_error("jobid=a%0Ab"), "jobid");
        assert_eq!(query_error("jobid=j&workid=a"), "workid");
        assert_eq!(query_error("jobid=j&current=1"), "current");
        // Not even when every line has it.
        assert!(matches!(
            batch("", "jobid=j&workid=a&current=1\njobid=j&workid=b&current=1"),
            Err(BatchError::Query(_))
        ));
    }

    #[test]
    fn a_batch_holds_at_most_max_batch_updates() {
        let body = "workid=a&current=1\n".repeat(MAX_BATCH_UPDATES);
        assert_eq!(
            batch("jobid=j", &body).expect("at the limit").updates.len(),
            MAX_BATCH_UPDATES
        );
        let body = format!("{body}\n\n{}", "x\n".repeat(2));
        assert_eq!(
            batch("jobid=j", &body).unwrap_err(),
            BatchError::TooMany {
                updates: MAX_BATCH_UPDATES + 2
            }
        );
    }

    /// Bodies built at random from lines of update fields, line ends and
    /// stray pieces: reading them never panics, and what is accepted keeps
    /// the rules.
    #[test]
    fn random_bodies_keep_the_batch_rules() {
        const FIELDS: [&str; 10] = [
            "workid=w",
            "workid=v",
            "current=1",
            "current=2",
            "total=2",
            "jobid=j",
            "seq=3",
            "desc=a%0Ab",
            "ok=0",
            "jobid=k",
        ];
        const ENDS: [&str; 4] = ["\n", "\r\n", "\n\n", "\r"];
        const STRAY: [&str; 5] = ["%FF", "&", "=", "\n", "x"];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let mut accepted = 0;
        for _ in 0..20_000 {
            let mut body = String::new();
            for _ in 0..next(5) {
                // Most lines name a worker and its progress, as real ones do.
                let mut fields = match next(6) {
                    0 => vec![],
                    _ => vec![FIELDS[next(2)], FIELDS[2 + next(2)]],
                };
                fields.extend((0..next(3)).map(|_| FIELDS[next(FIELDS.len())]));
                body.push_str(&fields.join("&"));
                if next(8) == 0 {
                    body.push_str(STRAY[next(STRAY.len())]);
                }
                body.push_str(ENDS[next(ENDS.len())]);
            }
            let count = lines(body.as_bytes()).count();
            match UpdateBody::of(body.as_bytes()) {
                UpdateBody::Single(line) => {
                    assert!(count <= 1, "{body:?}");
                    assert!(!line.contains(&b'\n'), "{body:?}");
                }
                UpdateBody::Batch(_) => assert!(count >= 2, "{body:?}"),
            }
            match batch("jobid=j", &body) {
                Ok(found) => {
                    accepted += usize::from(found.updates.len() >= 2);
                    assert_eq!(found.updates.len(), count, "{body:?}");
                    assert!(found.lines.windows(2).all(|w| w[0] < w[1]), "{body:?}");
                    assert!(found.updates.iter().all(|u| u.jobid == "j"), "{body:?}");
                }
                Err(BatchError::Line { line, error }) => {
                    assert!(line >= 1 && line <= body.split('\n').count(), "{body:?}");
                    assert!(!error.to_string().contains('\n'), "{body:?}");
                }
                Err(other) => panic!("{body:?}: {other:?}"),
            }
        }
        assert!(
            accepted > 100,
            "only {accepted} batches accepted: the bodies test little"
        );
    }

    #[test]
    fn list_limit() {
        let list = |s: &str| ListJobs::from_form(&form(s));
        assert_eq!(list("").unwrap().limit, DEFAULT_LIST_LIMIT);
        assert_eq!(list("limit=5").unwrap().limit, 5);
        assert_eq!(list("limit=0").unwrap_err().name, "limit");
        assert_eq!(list("limit=x").unwrap_err().name, "limit");
        let plain = list("").unwrap();
        assert!(!plain.local && !plain.envelope);
        let peer = list("peers=0&envelope=1").unwrap();
        assert!(peer.local && peer.envelope);
        assert!(!list("peers=1").unwrap().local);
        assert_eq!(list("peers=no").unwrap_err().name, "peers");
        assert_eq!(list("envelope=2").unwrap_err().name, "envelope");
    }
}
