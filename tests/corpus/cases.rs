//! The corpus as data: every malformed request `tests/corpus.rs` sends,
//! with its name and what it must get. Nothing here talks to a server.
//!
//! A case is a row: `refused(name, request)`, or `served(name, request,
//! rule, creates, check)` for the few malformed-looking requests a stated
//! rule serves. A family of cases is one row too: a name and a target with
//! `{}` for the value, and the values. The id cases go to every route of
//! `progressd::ROUTES` that takes a job id.
//!
//! The tables are laid out by hand, one case or family a line
//! (`#[rustfmt::skip]`): rustfmt would give each value a line of its own.

use progressd::{Access, ROUTES};
use serde_json::{Value, json};

/// One request and what it must get.
pub struct Case {
    /// Unique in the corpus: `CORPUS_CASE=<name>` runs this case alone.
    pub name: String,
    /// The bytes sent, on a connection of their own.
    pub request: Vec<u8>,
    pub expect: Expect,
}

/// What a case must get.
pub enum Expect {
    /// A 4xx refusal, or the connection closed without a byte.
    Refused,
    /// A 2xx, by a rule the service states.
    Served {
        /// Where the rule is written down, and what it says.
        rule: &'static str,
        /// The job the request creates, if any.
        creates: Option<&'static str>,
        /// What else must hold.
        check: Check,
    },
}

/// What a served case must show beyond its 2xx and the job it creates.
pub enum Check {
    /// Nothing more.
    Nothing,
    /// The answer holds this text.
    Answer(&'static str),
    /// Worker `w` of the job the case creates has this value in this field.
    Worker(&'static str, Value),
}

/// The job the write cases aim at: a refused write must leave it as it was.
pub const TARGET: &str = "corpus";

/// A write to `TARGET` that would change it if it were served: the
/// baseline is current=1, total=2, desc=baseline.
const TARGET_UPDATE: &str = "jobid=corpus&workid=w&current=9&total=10";

/// The rule of a lenient case that no document states: tiny_http reads
/// the request that way, and the report lists it.
const TINY_HTTP_LENIENT: &str = "not documented: vendored tiny_http is lenient here (reported)";

const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

/// Every case, by group.
pub fn corpus() -> Vec<(&'static str, Vec<Case>)> {
    vec![
        ("percent-encoding", percent_encoding()),
        ("invalid-utf8", invalid_utf8()),
        ("control-chars", control_characters()),
        ("raw-bytes", raw_bytes_in_the_request_line()),
        ("numbers", numbers()),
        ("empty-missing", empty_and_missing()),
        ("duplicate-keys", duplicate_keys()),
        ("lengths", lengths()),
        ("unknown-params", unknown_parameters()),
        ("methods", methods()),
        ("versions", versions()),
        ("host", host()),
        ("headers", headers()),
        ("content-length", content_length()),
        ("bodies", bodies()),
        ("paths", paths()),
        ("overlong", overlong()),
        ("request-line", request_line_garbage()),
    ]
}

// ---- rows and requests ------------------------------------------------------

fn refused(name: impl Into<String>, request: Vec<u8>) -> Case {
    Case {
        name: name.into(),
        request,
        expect: Expect::Refused,
    }
}

fn served(
    name: &str,
    request: Vec<u8>,
    rule: &'static str,
    creates: Option<&'static str>,
    check: Check,
) -> Case {
    Case {
        name: name.to_string(),
        request,
        expect: Expect::Served {
            rule,
            creates,
            check,
        },
    }
}

/// `template` with each `{}` replaced by `value`.
fn fill(template: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Vec<u8> {
    let (template, value) = (template.as_ref(), value.as_ref());
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(at) = rest.windows(2).position(|w| w == b"{}") {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(value);
        rest = &rest[at + 2..];
    }
    out.extend_from_slice(rest);
    out
}

/// Families of refused GETs, `(name, target, values)`: a case for each
/// value, `{}` in the name and in the target standing for it.
fn families(table: &[(&str, &str, &[&str])]) -> Vec<Case> {
    let mut rows = Vec::new();
    for (name, target, values) in table {
        let values: Vec<(&str, &str)> = values.iter().map(|value| (*value, *value)).collect();
        rows.extend(labelled(name, target, &values));
    }
    rows
}

/// A family of refused GETs, a case for each `(label, value)`: `{}` in
/// `name` stands for the label, in `target` for the value.
fn labelled<V: AsRef<[u8]>>(
    name: &str,
    target: impl AsRef<[u8]>,
    values: &[(&str, V)],
) -> Vec<Case> {
    values
        .iter()
        .map(|(label, value)| refused(name.replace("{}", label), get(fill(&target, value))))
        .collect()
}

/// A request with a `Host`, the given header lines and `Connection: close`
/// (so the server closes after its answer), then `body`.
fn request(method: &str, target: &[u8], headers: &[&str], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} ").into_bytes();
    out.extend_from_slice(target);
    out.extend_from_slice(b" HTTP/1.1\r\nHost: corpus.test\r\n");
    for h in headers {
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(body);
    out
}

fn get(target: impl AsRef<[u8]>) -> Vec<u8> {
    request("GET", target.as_ref(), &[], b"")
}

/// A POST with a Content-Length that matches the body.
fn post(path: &str, content_type: Option<&str>, body: &[u8]) -> Vec<u8> {
    let length = format!("Content-Length: {}", body.len());
    let kind = content_type.map(|t| format!("Content-Type: {t}"));
    let mut headers = vec![length.as_str()];
    headers.extend(kind.as_deref());
    request("POST", path.as_bytes(), &headers, body)
}

// ---- the routes that take a job id ------------------------------------------

/// The routes of `ROUTES` that take no job id; every other route takes
/// one, and the id cases go to it.
pub const NO_JOBID: [&str; 6] = [
    "/progress/jobs",
    "/progress/",
    "/progress/assets",
    "/healthz",
    "/metrics",
    "/",
];

/// The routes that create the job they are given; the others answer an
/// unknown job 404.
pub const CREATING: [&str; 2] = ["/progress/create", "/progress/update"];

/// The paths of the routes that take a job id.
fn jobid_routes() -> impl Iterator<Item = &'static str> {
    ROUTES
        .iter()
        .map(|route| route.path)
        .filter(|path| !NO_JOBID.contains(path))
}

/// The paths of the routes that need a job id and nothing else: the
/// reads and `delete`.
fn jobid_only_routes() -> impl Iterator<Item = &'static str> {
    jobid_routes().filter(|path| !CREATING.contains(path))
}

/// A route as case names call it: its path after `/progress/`.
fn short(path: &str) -> &str {
    path.strip_prefix("/progress/").unwrap_or(path)
}

/// The target that gives `path` the job id `id`; the rest of the query is
/// valid, so that only the id is at fault.
fn jobid_target(path: &str, id: &str) -> String {
    let rest = match path {
        "/progress/create" => "&desc=overwritten",
        "/progress/update" => "&workid=w&current=9&total=10",
        _ => "",
    };
    format!("{path}?jobid={id}{rest}")
}

/// Every place an id goes, as `(name, target)` with `id` in the place: the
/// job id of each route that takes one, and the worker id of `update`.
fn id_targets(id: &str) -> Vec<(&'static str, String)> {
    let mut targets: Vec<(&str, String)> = jobid_routes()
        .map(|path| (short(path), jobid_target(path, id)))
        .collect();
    targets.push((
        "workid",
        format!("/progress/update?jobid=corpus&workid={id}&current=9&total=10"),
    ));
    targets
}

// ---- the corpus ---------------------------------------------------------------

/// Malformed `%` escapes. params.rs keeps them literally (as
/// `url::form_urlencoded` does), so in an id they name another job; in a
/// number they make it no number.
fn percent_encoding() -> Vec<Case> {
    const BAD: &[&str] = &["%", "%g1", "%zz", "%4", "%%", "%-1", "%+1", "%%34%35"];
    #[rustfmt::skip]
    let mut rows = families(&[
        ("update current=9{}", "/progress/update?jobid=corpus&workid=w&current=9{}", BAD),
        ("update total=10{}",  "/progress/update?jobid=corpus&workid=w&current=9&total=10{}", BAD),
        ("create maxage=60{}", "/progress/create?jobid=corpus&maxage=60{}", BAD),
        ("jobs limit=5{}",     "/progress/jobs?limit=5{}", BAD),
    ]);
    // Another (unknown) job than "corpus": a 404.
    for path in jobid_only_routes() {
        let name = format!("{} jobid=corpus{{}}", short(path));
        rows.extend(families(&[(&name, &jobid_target(path, "corpus{}"), BAD)]));
    }
    let rule = "docs/api.md, Input rules / params.rs: a malformed escape is kept literally";
    for jobid in ["pct%zz", "pct%4", "pct%"] {
        let target = format!("/progress/update?jobid={jobid}&workid=w&current=1&total=2");
        let name = format!("update jobid={jobid}");
        rows.push(served(
            &name,
            get(target),
            rule,
            Some(jobid),
            Check::Nothing,
        ));
    }
    rows
}

/// Escapes that decode to bytes that are not UTF-8: refused everywhere,
/// never replaced with U+FFFD.
fn invalid_utf8() -> Vec<Case> {
    #[rustfmt::skip]
    const BAD: &[(&str, &str)] = &[
        ("lone ff", "%ff"), ("c3 28", "%c3%28"), ("overlong slash c0 af", "%c0%af"),
        ("surrogate ed a0 80", "%ed%a0%80"), ("lone continuation 80", "%80"),
        ("truncated e2 82", "%e2%82"), ("past U+10FFFF", "%f4%90%80%80"),
        ("five-byte f8", "%f8%88%80%80%80"), ("fe ff", "%fe%ff"),
    ];
    let mut targets = id_targets("corpus{}");
    // `jobs` has no id; a bad value in a parameter it ignores still has to
    // decode.
    targets.push(("jobs", "/progress/jobs?x=corpus{}".to_string()));
    let mut rows = Vec::new();
    for (place, target) in targets {
        rows.extend(labelled(&format!("{place} {{}}"), target, BAD));
    }
    #[rustfmt::skip]
    let other_places = [
        ("update desc {}", "/progress/update?jobid=corpus&workid=w&current=9&total=10&desc=x{}"),
        ("update name {}", "/progress/update?jobid=corpus&workid=w&current=9&total=10&{}=1"),
        ("status name {}", "/progress/status?jobid=corpus&{}=1"),
    ];
    for (name, target) in other_places {
        rows.extend(labelled(name, target, BAD));
    }
    rows
}

/// Control, bidi-override and invisible characters and noncharacters in
/// ids; a desc may hold them.
fn control_characters() -> Vec<Case> {
    #[rustfmt::skip]
    const BAD: &[&str] = &[
        "%00", "%01", "%7f", "%1b", "%0d%0a", "%0a", "%0d", "%09", "%c2%85", "%e2%80%ae",
        "%e2%81%a6", "%e2%80%8e",
        // Issue 11: each of these made an id look like "train".
        "%e2%80%8b", "%e2%80%8c", "%e2%81%a0", "%ef%bb%bf", "%d8%9c", "%e2%80%a8", "%e2%80%a9",
        "%e3%85%a4", "%cd%8f", "%ef%bf%be",
    ];
    let mut rows = Vec::new();
    for (place, target) in id_targets("corpus{}") {
        rows.extend(families(&[(&format!("{place} {{}}"), &target, BAD)]));
    }
    rows.extend([
        served(
            "update desc with CR LF NUL ESC",
            get("/progress/update?jobid=ctl-desc&workid=w&current=1&total=2&desc=a%0d%0ab%00c%1b"),
            "docs/api.md, Input rules: only ids refuse control characters; params.rs: descs may hold them",
            Some("ctl-desc"),
            Check::Worker("desc", json!("a\r\nb\u{0}c\u{1b}")),
        ),
        served(
            "update desc with invisible characters",
            get("/progress/update?jobid=inv-desc&workid=w&current=1&total=2&desc=a%e2%80%8bb%ef%bb%bf"),
            "docs/api.md, Input rules: only ids refuse invisible characters",
            Some("inv-desc"),
            Check::Worker("desc", json!("a\u{200B}b\u{FEFF}")),
        ),
    ]);
    rows
}

/// Raw CR, LF, NUL, tab and non-ASCII bytes in the request line.
fn raw_bytes_in_the_request_line() -> Vec<Case> {
    #[rustfmt::skip]
    const CONTROLS: &[(&str, &[u8])] = &[
        ("LF", b"\n"), ("CR", b"\r"), ("NUL", b"\0"), ("tab", b"\t"), ("DEL", b"\x7f"), ("ESC", b"\x1b"),
    ];
    #[rustfmt::skip]
    const NOT_ASCII: &[(&str, &[u8])] = &[
        ("é (c3 a9)", b"\xc3\xa9"), ("ff", b"\xff"), ("80", b"\x80"), ("c0 af", b"\xc0\xaf"),
    ];
    #[rustfmt::skip]
    let table = [
        ("update raw {} in jobid",    "/progress/update?jobid=cor{}pus&workid=w&current=9&total=10", CONTROLS),
        ("status raw {} after jobid", "/progress/status?jobid=corpus{}", CONTROLS),
        ("update raw {} in jobid",    "/progress/update?jobid=corpus{}&workid=w&current=9&total=10", NOT_ASCII),
        ("create raw {} in desc",     "/progress/create?jobid=corpus&desc={}", NOT_ASCII),
    ];
    let mut rows = Vec::new();
    for (name, target, values) in table {
        rows.extend(labelled(name, target, values));
    }
    #[rustfmt::skip]
    rows.extend([
        refused("update raw CR LF in jobid", get(b"/progress/update?jobid=cor\r\npus&workid=w&current=9&total=10")),
        refused("update raw space in jobid", get(b"/progress/update?jobid=cor pus&workid=w&current=9&total=10")),
        refused("raw ff in the path", get(b"/progress/\xffupdate?jobid=corpus&workid=w&current=9")),
        refused("raw é in the method", request("G\u{e9}T", b"/progress/update?jobid=corpus&workid=w&current=9", &[], b"")),
        refused("raw b1 in the version", b"GET /progress/update?jobid=corpus&workid=w&current=9 HTTP/1.\xb1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec()),
        // A raw LF inside the request line is no line end (tiny_http ends
        // lines at CR LF only), so it reaches the desc as if sent as %0A.
        served(
            "update raw LF in desc",
            get(b"/progress/update?jobid=raw-lf&workid=w&current=1&total=2&desc=a\nb"),
            "tiny_http ends lines at CR LF only; a desc may hold an LF (docs/api.md, Input rules)",
            Some("raw-lf"),
            Check::Worker("desc", json!("a\nb")),
        ),
    ]);
    rows
}

/// Numbers that are not finite numbers ≥ 0, and the other numeric
/// parameters out of their ranges.
fn numbers() -> Vec<Case> {
    #[rustfmt::skip]
    const NOT_AMOUNTS: &[&str] = &[
        "NaN", "nan", "NAN", "-nan", "inf", "-inf", "%2Binf", "Infinity", "-Infinity", "infinity",
        "1e309", "-1e309", "-1", "-0.5", "-1e-300", "", "%20", "5%20", "%205", "+5", "0x10", "1_000",
        "5,0", "1e", "e5", ".", "--1", "1..2", "%ef%bc%91", "5kg", "1%2F2",
    ];
    #[rustfmt::skip]
    let mut rows = families(&[
        ("update current={}", "/progress/update?jobid=corpus&workid=w&current={}&total=10", NOT_AMOUNTS),
        ("update total={}",   "/progress/update?jobid=corpus&workid=w&current=9&total={}", NOT_AMOUNTS),
        ("update ok={}",      "/progress/update?jobid=corpus&workid=w&current=9&total=10&ok={}",
            &["nan", "NaN", "", "maybe", "%20", "0x0", "null"]),
        ("create maxage={}",  "/progress/create?jobid=corpus&maxage={}",
            &["0", "-0", "-5", "NaN", "inf", "1e309", "315576001", "1e20", "", "abc"]),
        ("show interval={}",  "/progress/show?jobid=corpus&interval={}",
            &["NaN", "inf", "-inf", "1e309", "", "x"]),
        ("render width={}",   "/progress/render?jobid=corpus&width={}",
            &["NaN", "0", "-1", "299", "4001", "800.5", "1e3", "4294967296", "", "%20800"]),
        ("jobs limit={}",     "/progress/jobs?limit={}",
            &["0", "-1", "NaN", "1e3", "18446744073709551616", "", "x", "1.5", "-0"]),
    ]);
    for value in ["-1", "-0.6", "-5"] {
        rows.push(served(
            &format!("show interval={value}"),
            get(format!("/progress/show?jobid=corpus&interval={value}")),
            "docs/pages.md, The pages: an interval below 1 is taken as 1",
            None,
            Check::Answer("data-interval=\"1\""),
        ));
    }
    rows.push(served(
        "update current=-0.0",
        get("/progress/update?jobid=negzero&workid=w&current=-0.0&total=2"),
        "docs/api.md, Input rules: finite numbers ≥ 0, and -0.0 ≥ 0",
        Some("negzero"),
        // Sent as 0, not -0.0 (which would parse as a float).
        Check::Worker("current", json!(0)),
    ));
    rows
}

/// Empty values, names without `=`, and missing required parameters.
fn empty_and_missing() -> Vec<Case> {
    #[rustfmt::skip]
    let mut rows = families(&[
        ("update ?{}", "/progress/update?{}", &[
            "", "&&&", "=", "==", "=9",
            "jobid=&workid=w&current=9&total=10",
            "jobid=corpus&workid=&current=9&total=10",
            "jobid=corpus&workid=w&current=&total=10",
            "jobid=corpus&workid=w&current=9&total=",
            "jobid=corpus&workid=w&current&total=10",
            "jobid&workid=w&current=9&total=10",
            "jobid=corpus&workid&current=9&total=10",
            "workid=w&current=9&total=10",
            "jobid=corpus&current=9&total=10",
            "jobid=corpus&workid=w&total=10",
            "jobid=corpus&workid=w&current=9&total=10&=x",
            "jobid=corpus&workid=w&current=9&total=10&ok",
            "jobid=corpus&workid=w&current=9&total=10&ok=",
        ]),
        ("create ?{}", "/progress/create?{}", &[
            "", "jobid=", "jobid", "=corpus", "jobid=corpus&desc=x&=y", "jobid=corpus&maxage=",
            "jobid=corpus&maxage",
        ]),
    ]);
    for path in jobid_only_routes() {
        let name = format!("{} ?{{}}", short(path));
        let queries: &[&str] = &["", "jobid=", "jobid", "=corpus", "jobid%3Dcorpus"];
        rows.extend(families(&[(&name, &format!("{path}?{{}}"), queries)]));
    }
    #[rustfmt::skip]
    rows.extend([
        refused("update no query at all", get("/progress/update")),
        // Valid but for the missing total on a worker's first update.
        refused("update first report without total", get("/progress/update?jobid=fresh&workid=w&current=1")),
        refused("jobs limit without =", get("/progress/jobs?limit")),
    ]);
    rows
}

/// A repeated key: the last value wins (docs/api.md, API; params.rs).
fn duplicate_keys() -> Vec<Case> {
    let rule = "docs/api.md, API / params.rs: a repeated key's last value wins";
    let update = format!("/progress/update?{TARGET_UPDATE}");
    #[rustfmt::skip]
    let rows = vec![
        refused("update current=9&current=NaN", get("/progress/update?jobid=corpus&workid=w&current=9&current=NaN&total=10")),
        refused("update total=10&total=-1", get("/progress/update?jobid=corpus&workid=w&current=9&total=10&total=-1")),
        refused("update jobid=corpus&jobid=", get("/progress/update?jobid=corpus&jobid=&workid=w&current=9&total=10")),
        refused("update workid=w&workid=%00", get("/progress/update?jobid=corpus&workid=w&workid=%00&current=9&total=10")),
        refused("create jobid=corpus&jobid=%01", get("/progress/create?jobid=corpus&jobid=%01")),
        refused("delete jobid=corpus&jobid=", get("/progress/delete?jobid=corpus&jobid=")),
        refused("delete jobid=corpus&jobid=other", get("/progress/delete?jobid=corpus&jobid=dup-nothing")),
        refused("POST body current=NaN over a valid query", post(&update, FORM, b"current=NaN")),
        served(
            "update current=NaN&current=3",
            get("/progress/update?jobid=dup-last&workid=w&current=NaN&current=3&total=4"),
            rule,
            Some("dup-last"),
            Check::Worker("current", json!(3)),
        ),
        served(
            "update jobid=corpus&jobid=dup-job",
            get("/progress/update?jobid=corpus&jobid=dup-job&workid=w&current=3&total=4"),
            rule,
            Some("dup-job"),
            Check::Worker("current", json!(3)),
        ),
        served(
            "status jobid=nope&jobid=corpus",
            get("/progress/status?jobid=nope&jobid=corpus"),
            rule,
            None,
            Check::Answer("\"jobid\":\"corpus\""),
        ),
        served(
            "POST body jobid overrides the query's",
            post(&update, FORM, b"jobid=dup-body"),
            "docs/api.md, API: body values override the query string's",
            Some("dup-body"),
            Check::Worker("current", json!(9)),
        ),
    ];
    rows
}

/// Ids and descs over their byte limits, on every endpoint that takes them.
fn lengths() -> Vec<Case> {
    let long_ids = [
        ("jobid 257 bytes", "a".repeat(257)),
        ("jobid 129 × é = 258 bytes", "%C3%A9".repeat(129)),
        ("jobid 10,000 bytes", "j".repeat(10_000)),
    ];
    let mut rows = Vec::new();
    for path in jobid_routes() {
        let name = format!("{} {{}}", short(path));
        rows.extend(labelled(&name, jobid_target(path, "{}"), &long_ids));
    }
    let workid = "/progress/update?jobid=corpus&workid={}&current=9&total=10";
    let update = format!("/progress/update?{TARGET_UPDATE}");
    let desc = "d".repeat(1025);
    #[rustfmt::skip]
    rows.extend([
        refused("update workid 129 bytes", get(fill(workid, "w".repeat(129)))),
        refused("update workid 65 × é = 130 bytes", get(fill(workid, "%C3%A9".repeat(65)))),
        refused("create desc 1025 bytes", get(format!("/progress/create?jobid=corpus&desc={desc}"))),
        refused("update desc 1025 bytes", get(format!("{update}&desc={desc}"))),
        refused("update desc 513 × é = 1026 bytes", get(format!("{update}&desc={}", "%C3%A9".repeat(513)))),
        refused("POST update desc 60,000 bytes",
            post("/progress/update", FORM, format!("{TARGET_UPDATE}&desc={}", "d".repeat(60_000)).as_bytes())),
    ]);
    rows
}

/// `create` and `update` refuse parameters they do not know.
fn unknown_parameters() -> Vec<Case> {
    #[rustfmt::skip]
    let mut rows = families(&[
        ("update &{}", "/progress/update?jobid=corpus&workid=w&current=9&total=10&{}", &[
            "okay=0", "curent=9", "JOBID=corpus", "Current=9", "jobid%00=x", "current%20=9",
            "%20current=9", "current[]=9", "_=1",
        ]),
        ("create &{}", "/progress/create?jobid=corpus&{}", &["maxag=5", "desc%00=x", "workid=w", "total=5"]),
    ]);
    rows.push(served(
        "status with an extra parameter",
        get("/progress/status?jobid=corpus&_=12345&okay=0"),
        "docs/api.md, Input rules: the reading endpoints ignore extra parameters",
        None,
        Check::Answer("\"jobid\":\"corpus\""),
    ));
    rows
}

/// Methods other than GET, HEAD and POST get 405; each is tried on every
/// write, where a request served by mistake would change the target.
fn methods() -> Vec<Case> {
    #[rustfmt::skip]
    const METHODS: &[&str] = &[
        "PATCH", "PUT", "DELETE", "OPTIONS", "TRACE", "CONNECT", "get", "Get", "post", "FOO",
        "M-SEARCH", "GETT", "G\0ET",
    ];
    let long = "X".repeat(1000);
    let mut methods: Vec<(&str, &str)> = METHODS.iter().map(|m| (*m, *m)).collect();
    methods.push(("X × 1000", &long));
    let mut rows = Vec::new();
    for (shown, method) in methods {
        for route in ROUTES.iter().filter(|route| route.access == Access::Write) {
            let query = match route.path {
                "/progress/update" => TARGET_UPDATE,
                _ => "jobid=corpus",
            };
            let target = format!("{}?{query}", route.path);
            let name = format!("{shown:?} {}", route.path);
            rows.push(refused(name, request(method, target.as_bytes(), &[], b"")));
        }
    }
    let length = format!("Content-Length: {}", TARGET_UPDATE.len());
    let form = [
        length.as_str(),
        "Content-Type: application/x-www-form-urlencoded",
    ];
    #[rustfmt::skip]
    rows.extend([
        refused("OPTIONS *", request("OPTIONS", b"*", &[], b"")),
        refused("CONNECT authority", request("CONNECT", b"127.0.0.1:1", &[], b"")),
        refused("PUT with a form body", request("PUT", b"/progress/update", &form, TARGET_UPDATE.as_bytes())),
        refused("HEAD with a bad parameter", request("HEAD", b"/progress/update?jobid=corpus&workid=w&current=NaN", &[], b"")),
    ]);
    rows
}

/// Request lines whose version is not HTTP/1.0 or 1.1.
fn versions() -> Vec<Case> {
    #[rustfmt::skip]
    const BAD: &[&str] = &[
        "HTTP/1.2", "HTTP/1", "HTTP/11", "http/1.1", "HTTP/ 1.1", "HTTP/1.1\0", "HTTP/-1.1",
        "HTTP/9.9", "HTTPS/1.1", "HTTP/1.1/", "HTTP/1.1.1", "HTTP/1.10", "FTP/1.1", "",
    ];
    let line = format!(
        "GET /progress/update?{TARGET_UPDATE} {{}}\r\nHost: x\r\nConnection: close\r\n\r\n"
    );
    let mut rows = Vec::new();
    for version in BAD {
        rows.push(refused(format!("{version:?}"), fill(&line, version)));
    }
    // Only HTTP/1.0 and 1.1 are served (PATCHES.md): 0.9, 2.0 and 3.0
    // request lines are bad request lines.
    for version in ["HTTP/0.9", "HTTP/2.0", "HTTP/3.0"] {
        rows.push(refused(version, fill(&line, version)));
    }
    // tiny_http ignores words after the version.
    rows.push(served(
        "a word after the version",
        b"GET /progress/update?jobid=v-extra&workid=w&current=1&total=2 HTTP/1.1 extra\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
        TINY_HTTP_LENIENT,
        Some("v-extra"),
        Check::Nothing,
    ));
    rows
}

/// A missing, empty, repeated or unusable Host.
fn host() -> Vec<Case> {
    let fallback = "routes.rs: without a usable Host the link names the listen address";
    vec![
        served(
            "HTTP/1.1 create without Host",
            b"GET /progress/create?jobid=no-host HTTP/1.1\r\nConnection: close\r\n\r\n".to_vec(),
            fallback,
            Some("no-host"),
            Check::Answer("http://127.0.0.1:"),
        ),
        served(
            "HTTP/1.1 create with an unusable Host",
            b"GET /progress/create?jobid=bad-host HTTP/1.1\r\nHost: evil.test/<script>\r\nConnection: close\r\n\r\n".to_vec(),
            fallback,
            Some("bad-host"),
            Check::Answer("http://127.0.0.1:"),
        ),
        served(
            "two Host headers",
            b"GET /progress/create?jobid=two-hosts HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\nConnection: close\r\n\r\n".to_vec(),
            "not documented: the first Host names the link (RFC 9112 3.2 wants a 400; reported)",
            Some("two-hosts"),
            Check::Answer("http://a.test/progress/show?jobid=two-hosts"),
        ),
        served(
            "an empty Host",
            b"GET /progress/create?jobid=empty-host HTTP/1.1\r\nHost:\r\nConnection: close\r\n\r\n".to_vec(),
            fallback,
            Some("empty-host"),
            Check::Answer("http://127.0.0.1:"),
        ),
        refused(
            "Host with raw non-ASCII",
            b"GET /progress/update?jobid=corpus&workid=w&current=9 HTTP/1.1\r\nHost: h\xc3\xa9\r\nConnection: close\r\n\r\n".to_vec(),
        ),
    ]
}

/// Header counts, lengths and shapes.
fn headers() -> Vec<Case> {
    #[rustfmt::skip]
    const BAD_LINES: &[&str] = &[
        "NoColon", "Bad Name: x", "Host : x", "X-Tab\t: x", "X-\u{e9}: x", "X-Value: \u{e9}",
        "Expect: 200-ok", "Expect: 100-continue, 200-ok",
    ];
    let write = format!("/progress/update?{TARGET_UPDATE}");
    // A GET of `target` with these header lines.
    let get_with = |target: &str, lines: &[String]| -> Vec<u8> {
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        request("GET", target.as_bytes(), &lines, b"")
    };
    let many = |n: usize| -> Vec<String> { (0..n).map(|i| format!("X-{i}: v")).collect() };
    let mut rows = Vec::new();
    // With Host and Connection: 101 and more.
    for n in [99, 200, 5000] {
        rows.push(refused(
            format!("{} headers", n + 2),
            get_with(&write, &many(n)),
        ));
    }
    for line in BAD_LINES {
        let name = format!("header {line:?}");
        rows.push(refused(
            name,
            request("GET", write.as_bytes(), &[line], b""),
        ));
    }
    let long = [format!("X-Long: {}", "v".repeat(17 * 1024))];
    #[rustfmt::skip]
    rows.extend([
        refused("a 17 KiB header line", get_with(&write, &long)),
        refused("header lines ended by bare LF", format!("GET {write} HTTP/1.1\nHost: x\nConnection: close\n\r\n").into_bytes()),
        refused("header lines ended by bare CR", format!("GET {write} HTTP/1.1\rHost: x\rConnection: close\r\r\n\r\n").into_bytes()),
        served(
            "100 headers, the most taken",
            get_with("/progress/status?jobid=corpus", &many(98)),
            "vendor/tiny_http/PATCHES.md 3: at most 100 headers of 16 KiB",
            None,
            Check::Nothing,
        ),
    ]);
    // RFC 9112 5.2 wants a folded line refused or joined to the one
    // before; tiny_http trims it and reads it as a header of its own.
    #[rustfmt::skip]
    let lenient = [
        ("header line folded with a space", "fold-space", " X-Folded: x"),
        ("header line folded with a tab", "fold-tab", "\tX-Folded: x"),
        ("header with an empty name", "empty-name", ": x"),
    ];
    for (name, jobid, line) in lenient {
        let target = format!("/progress/update?jobid={jobid}&workid=w&current=1&total=2");
        let request = request("GET", target.as_bytes(), &[line], b"");
        rows.push(served(
            name,
            request,
            TINY_HTTP_LENIENT,
            Some(jobid),
            Check::Nothing,
        ));
    }
    rows
}

/// Content-Length values that do not say how long the body is.
fn content_length() -> Vec<Case> {
    #[rustfmt::skip]
    const NOT_DIGITS: &[&str] = &[
        "-1", "-0", "abc", "1e2", "0x28", "", "99999999999999999999999", "40 40", "40,40", "4 0",
    ];
    // A form to `update` with these length headers.
    let form = |method: &str, lengths: &[&str], body: &[u8]| -> Vec<u8> {
        let mut headers = lengths.to_vec();
        headers.push("Content-Type: application/x-www-form-urlencoded");
        request(method, b"/progress/update", &headers, body)
    };
    let body = TARGET_UPDATE.as_bytes();
    let mut rows = Vec::new();
    // A Content-Length that is not all digits says nothing certain about
    // where the body ends: 400 and close (PATCHES.md), never "no body" with
    // the body parsed as the next request.
    for value in NOT_DIGITS {
        let length = format!("Content-Length: {value}");
        rows.push(refused(
            format!("Content-Length: {value:?}"),
            form("POST", &[&length], body),
        ));
    }
    let length = format!("Content-Length: {}", body.len());
    // RFC 9112 6.3: differing Content-Lengths are refused, and so is `+N`
    // (not 1*DIGIT), even when the first length is the body's.
    let first = b"jobid=cl-first&workid=w&current=1&total=2";
    let first_length = format!("Content-Length: {}", first.len());
    let plus = b"jobid=cl-plus&workid=w&current=1&total=2";
    let plus_length = format!("Content-Length: +{}", plus.len());
    #[rustfmt::skip]
    rows.extend([
        refused("two Content-Lengths, the first 5", form("POST", &["Content-Length: 5", &length], body)),
        refused("Content-Length 0 with a body", form("POST", &["Content-Length: 0"], body)),
        refused("no Content-Length with a body", form("POST", &[], body)),
        refused("Content-Length 70000, body short", form("POST", &["Content-Length: 70000"], body)),
        refused("Content-Length 65537, body short", form("POST", &["Content-Length: 65537"], body)),
        refused("two Content-Lengths, the first the body's", form("POST", &[&first_length, "Content-Length: 0"], first)),
        refused("Content-Length: +N", form("POST", &[&plus_length], plus)),
        refused("GET with the update in a body", form("GET", &[&length], body)),
    ]);
    rows
}

/// POST bodies of the wrong type, or not decodable.
fn bodies() -> Vec<Case> {
    #[rustfmt::skip]
    const NOT_FORMS: &[&str] = &[
        "application/json", "multipart/form-data; boundary=x", "text/html", "application/xml",
        "application/x-www-form-urlencoded-evil", "application/octet-stream", "x-www-form-urlencoded",
    ];
    #[rustfmt::skip]
    const BAD_FORMS: &[(&str, &[u8])] = &[
        ("%ff in jobid",        b"jobid=corpus%ff&workid=w&current=9&total=10"),
        ("raw ff in jobid",     b"jobid=corpus\xff&workid=w&current=9&total=10"),
        ("latin-1 %e9 in desc", b"jobid=corpus&workid=w&current=9&total=10&desc=caf%e9"),
        ("UTF-16LE",            b"j\0o\0b\0i\0d\0=\0c\0o\0r\0p\0u\0s\0"),
        ("byte-order mark",     b"\xef\xbb\xbfjobid=corpus&workid=w&current=9&total=10"),
        ("raw CR LF in jobid",  b"jobid=corpus\r\n&workid=w&current=9&total=10"),
        ("current=NaN",         b"jobid=corpus&workid=w&current=NaN&total=10"),
        ("a lone %",            b"%"),
        ("JSON-looking",        b"{\"jobid\":\"corpus\"}"),
    ];
    let body = TARGET_UPDATE.as_bytes();
    let mut rows = Vec::new();
    for kind in NOT_FORMS {
        let request = post("/progress/update", Some(kind), body);
        rows.push(refused(format!("Content-Type: {kind}"), request));
    }
    for (what, bad) in BAD_FORMS {
        let request = post("/progress/update", FORM, bad);
        rows.push(refused(format!("form body {what}"), request));
    }
    let chunked = |chunks: &[u8]| -> Vec<u8> {
        let headers = [
            "Transfer-Encoding: chunked",
            "Content-Type: application/x-www-form-urlencoded",
        ];
        request("POST", b"/progress/update", &headers, chunks)
    };
    let mut seventy_kb = Vec::new();
    for _ in 0..70 {
        seventy_kb.extend_from_slice(b"3e8\r\n");
        seventy_kb.extend(std::iter::repeat_n(b'a', 1000));
        seventy_kb.extend_from_slice(b"\r\n");
    }
    seventy_kb.extend_from_slice(b"0\r\n\r\n");
    let json = br#"{"jobid":"corpus","workid":"w","current":9}"#;
    let gzip = [
        "Transfer-Encoding: gzip",
        "Content-Length: 40",
        "Content-Type: application/x-www-form-urlencoded",
    ];
    #[rustfmt::skip]
    rows.extend([
        refused("JSON body", post("/progress/update", Some("application/json"), json)),
        refused("JSON body without Content-Type", post("/progress/update", None, json)),
        refused("Content-Type raw non-ASCII", b"POST /progress/update HTTP/1.1\r\nHost: x\r\nContent-Type: text/pl\xc3\xa4in\r\nContent-Length: 40\r\nConnection: close\r\n\r\njobid=corpus&workid=w&current=9&total=10".to_vec()),
        refused("status POST body %ff", post("/progress/status", FORM, b"jobid=corpus%ff")),
        refused("delete POST body %00", post("/progress/delete", FORM, b"jobid=corpus%00")),
        refused("create POST body maxage=NaN", post("/progress/create", FORM, b"jobid=corpus&maxage=NaN")),
        refused("chunked, bad chunk size", chunked(b"zz\r\njobid=corpus\r\n0\r\n\r\n")),
        refused("chunked, huge chunk size", chunked(b"fffffffffffffffffffffff\r\njobid=corpus\r\n0\r\n\r\n")),
        refused("chunked, negative chunk size", chunked(b"-5\r\njobid\r\n0\r\n\r\n")),
        refused("chunked, body not chunked", chunked(b"jobid=corpus&workid=w&current=9&total=10\r\n\r\n")),
        refused("chunked, 70 KB", chunked(&seventy_kb)),
        // tiny_http decodes any Transfer-Encoding as chunked, so this body is
        // read as a chunk size line; without the CR LF it would wait for one.
        refused("Transfer-Encoding: gzip, body plain", request("POST", b"/progress/update", &gzip, b"jobid=corpus&workid=w&current=9&total=10\r\n\r\n")),
        served(
            "Content-Type: text/plain",
            post("/progress/update", Some("text/plain"), b"jobid=plain&workid=w&current=1&total=2"),
            "server.rs read_body: text/plain bodies are read as forms",
            Some("plain"),
            Check::Nothing,
        ),
        served(
            "Content-Type: ;",
            post("/progress/update", Some(";"), b"jobid=ct-empty&workid=w&current=1&total=2"),
            "server.rs read_body: an empty media type is read as a form",
            Some("ct-empty"),
            Check::Nothing,
        ),
    ]);
    // `Connection: Upgrade` (curl --http2 on an http:// URL asks for h2c
    // this way) made tiny_http hand over the whole connection as the body,
    // and the server read it until the client closed: 10 s, then a 400.
    let upgrade = [
        "Connection: Upgrade, HTTP2-Settings",
        "Upgrade: h2c",
        "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA",
        "Content-Type: application/x-www-form-urlencoded",
    ];
    let h2c = b"jobid=h2c&workid=w&current=1&total=2";
    let h2c_length = format!("Content-Length: {}", h2c.len());
    #[rustfmt::skip]
    rows.extend([
        served(
            "POST asking for an h2c upgrade",
            request("POST", b"/progress/update", &[&upgrade[..], &[&h2c_length]].concat(), h2c),
            "RFC 9110 7.8: a server may ignore Upgrade; the body is what Content-Length says",
            Some("h2c"),
            Check::Nothing,
        ),
        refused("POST asking for an upgrade, no Content-Length", request("POST", b"/progress/update", &upgrade, body)),
        served(
            "POST asking for an upgrade, chunked",
            request(
                "POST",
                b"/progress/update",
                &[&upgrade[..], &["Transfer-Encoding: chunked"]].concat(),
                b"2c\r\njobid=h2c-chunked&workid=w&current=1&total=2\r\n0\r\n\r\n",
            ),
            "RFC 9110 7.8: a server may ignore Upgrade; the body is chunked as it says",
            Some("h2c-chunked"),
            Check::Nothing,
        ),
    ]);
    rows
}

/// Paths that are not a route as written, whatever they would become if
/// dot segments, slashes or escapes were resolved.
fn paths() -> Vec<Case> {
    #[rustfmt::skip]
    const UPDATE: &[&str] = &[
        "/progress/../progress/update", "/progress/./update", "//progress/update",
        "/progress//update", "/progress%2Fupdate", "/progress%2fupdate", "/progress/update/",
        "/progress/UPDATE", "/Progress/update", "/%70rogress/update", "/progress/%75pdate",
        "/progress/update;x=1", "/progress/update%3F", "/progress/update%00", "/progress/update%20",
        "/progress/update/..", "/progress/assets/../update", "/../progress/update",
        "/progress\\update", "/progress/update\\", "progress/update", "*",
        "ftp://h/progress/update", "http:/progress/update", "http://h", "/progress/update#x",
    ];
    #[rustfmt::skip]
    const DELETE: &[&str] = &[
        "/progress/../progress/delete", "//progress/delete", "/progress%2Fdelete", "/progress/delete/",
    ];
    #[rustfmt::skip]
    const ASSET: &[&str] = &[
        "/progress/assets/../assets/show.js", "/progress/assets/%2e%2e/assets/show.js",
        "/progress/assets/..%2fassets/show.js", "/progress/assets/show.js/",
        "/progress/assets/../../etc/passwd", "/progress/assets/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    ];
    let mut rows = Vec::new();
    for (what, paths, query) in [
        ("update", UPDATE, format!("?{TARGET_UPDATE}")),
        ("delete", DELETE, "?jobid=corpus".to_string()),
        ("asset", ASSET, String::new()),
    ] {
        for path in paths {
            rows.push(refused(
                format!("{what} via {path:?}"),
                get(format!("{path}{query}")),
            ));
        }
    }
    rows
}

/// Query strings and paths near and past the line limit.
fn overlong() -> Vec<Case> {
    let update = format!("/progress/update?{TARGET_UPDATE}");
    let unknown: String = (0..1500).map(|i| format!("&a{i}")).collect();
    #[rustfmt::skip]
    let rows = vec![
        refused("path of 15,000 bytes", get(format!("/progress/{}", "p".repeat(15_000)))),
        refused("update query of 15,000 bytes in jobid", get(jobid_target("/progress/update", &"j".repeat(15_000)))),
        refused("update with 1,500 unknown parameters", get(format!("{update}{unknown}"))),
        refused("request line of 20,000 bytes", get(format!("{update}&desc={}", "d".repeat(20_000)))),
        refused("request line of 1 MB", get(format!("{update}&desc={}", "d".repeat(1 << 20)))),
        served(
            "status with 15,000 bytes of ignored parameters",
            get(format!("/progress/status?jobid=corpus&pad={}", "p".repeat(15_000))),
            "docs/api.md, Input rules: the reading endpoints ignore extra parameters",
            None,
            Check::Answer("\"jobid\":\"corpus\""),
        ),
    ];
    rows
}

/// Lines that are no request line, sent as they are.
fn request_line_garbage() -> Vec<Case> {
    #[rustfmt::skip]
    const GARBAGE: &[(&str, &[u8])] = &[
        ("empty line", b"\r\n\r\n"),
        ("spaces", b"   \r\n\r\n"),
        ("method only", b"GET\r\n\r\n"),
        ("HTTP/0.9 style", b"GET /progress/update?jobid=corpus&workid=w&current=9\r\n\r\n"),
        ("two spaces", b"GET  /progress/update?jobid=corpus&workid=w&current=9 HTTP/1.1\r\nConnection: close\r\n\r\n"),
        ("tab separated", b"GET\t/progress/update?jobid=corpus&workid=w&current=9\tHTTP/1.1\r\nConnection: close\r\n\r\n"),
        ("NULs", b"\0\0\0\0\r\n\r\n"),
        ("binary, then CR LF", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\xde\xad\r\n\r\n"),
        ("PRI without version", b"PRI *\r\n\r\nSM\r\n\r\n"),
        ("a response line", b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"),
    ];
    let mut rows: Vec<Case> = GARBAGE
        .iter()
        .map(|(name, bytes)| refused(*name, bytes.to_vec()))
        .collect();
    rows.push(served(
        "leading space",
        b" GET /progress/update?jobid=lead-space&workid=w&current=1&total=2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
        TINY_HTTP_LENIENT,
        Some("lead-space"),
        Check::Nothing,
    ));
    rows
}
