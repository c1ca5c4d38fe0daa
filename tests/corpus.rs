//! A corpus of malformed raw HTTP requests, each sent on a connection of its
//! own to a real server. Every one must be refused, with a 4xx or by closing
//! the connection without an answer, never a 5xx; it must not change what is
//! stored; and the server must still serve a normal update after it.
//!
//! A few malformed-looking requests are served by a rule the service states
//! (a repeated key's last value wins, a malformed `%` escape is kept
//! literally, the reading endpoints ignore extra parameters, ...); those
//! cases say which rule and check that what was stored follows it.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::{TestServer, python_quote, raw_exchange};

/// The statuses a refusal may have.
const REFUSALS: [u16; 10] = [400, 404, 405, 408, 411, 413, 414, 415, 417, 431];

/// The normal request that must succeed after every case.
const HEALTH: &str = "/progress/update?jobid=ok&workid=w&current=1&total=2";

/// The job the write cases aim at: a refused write must leave it as it was.
const TARGET: &str = "corpus";

/// A longer wait than any case needs: more means the server held the
/// connection open instead of answering or closing it.
const SLOW: Duration = Duration::from_secs(5);

/// Asserts what a served case stored; gets the server and the answer.
type Check = Box<dyn Fn(&TestServer, &str) -> Result<(), String>>;

enum Expect {
    /// A 4xx from `REFUSALS`, or the connection closed without a byte.
    Refused,
    /// A 2xx, by a rule the service states.
    Served {
        /// Where the rule is written down, and what it says.
        rule: &'static str,
        /// The job the request creates, if any.
        creates: Option<String>,
        check: Check,
    },
}

struct Case {
    group: &'static str,
    name: String,
    request: Vec<u8>,
    expect: Expect,
}

#[derive(Default)]
struct Corpus {
    cases: Vec<Case>,
}

impl Corpus {
    fn refused(&mut self, group: &'static str, name: impl Into<String>, request: Vec<u8>) {
        self.cases.push(Case {
            group,
            name: name.into(),
            request,
            expect: Expect::Refused,
        });
    }

    fn served(
        &mut self,
        group: &'static str,
        name: impl Into<String>,
        request: Vec<u8>,
        rule: &'static str,
        creates: Option<&str>,
        check: Check,
    ) {
        self.cases.push(Case {
            group,
            name: name.into(),
            request,
            expect: Expect::Served {
                rule,
                creates: creates.map(str::to_string),
                check,
            },
        });
    }
}

// ---- request builders ----------------------------------------------------

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

fn get(target: &str) -> Vec<u8> {
    request("GET", target.as_bytes(), &[], b"")
}

fn get_raw(target: &[u8]) -> Vec<u8> {
    request("GET", target, &[], b"")
}

/// A POST with a Content-Length that matches the body.
fn post(path: &str, content_type: Option<&str>, body: &[u8]) -> Vec<u8> {
    let length = format!("Content-Length: {}", body.len());
    let kind = content_type.map(|t| format!("Content-Type: {t}"));
    let mut headers = vec![length.as_str()];
    headers.extend(kind.as_deref());
    request("POST", path.as_bytes(), &headers, body)
}

const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

/// A write to `TARGET` that would change it if it were served: the
/// baseline is current=1, total=2, desc=baseline.
const TARGET_UPDATE: &str = "jobid=corpus&workid=w&current=9&total=10";

/// The query that puts `value` in the place of a job id on `endpoint`; for
/// the writes the rest of the query is valid, so only `value` is at fault.
fn jobid_query(endpoint: &str, value: &str) -> String {
    match endpoint {
        "create" => format!("/progress/create?jobid={value}&desc=overwritten"),
        "update" => format!("/progress/update?jobid={value}&workid=w&current=9&total=10"),
        "workid" => format!("/progress/update?jobid=corpus&workid={value}&current=9&total=10"),
        // `jobs` has no id; a bad value in a parameter it ignores still
        // has to decode.
        "jobs" => format!("/progress/jobs?x={value}"),
        read => format!("/progress/{read}?jobid={value}"),
    }
}

const ID_ENDPOINTS: [&str; 9] = [
    "create",
    "update",
    "workid",
    "status",
    "history",
    "delete",
    "show",
    "render",
    "render.svg",
];

/// The endpoints that take a `jobid` and nothing else they need.
const JOBID_ENDPOINTS: [&str; 6] = [
    "status",
    "history",
    "delete",
    "show",
    "render",
    "render.svg",
];

/// A valid first update of job `jobid`, for the cases that the server
/// serves leniently: what they create shows they were served.
fn fresh_update(jobid: &str) -> String {
    format!("/progress/update?jobid={jobid}&workid=w&current=1&total=2")
}

/// The rule of a lenient case that no document states: tiny_http reads
/// the request that way, and the report lists it.
const TINY_HTTP_LENIENT: &str = "not documented: vendored tiny_http is lenient here (reported)";

// ---- checks for served cases --------------------------------------------

fn status_of(s: &TestServer, jobid: &str) -> Result<serde_json::Value, String> {
    let r = s.get(&format!("/progress/status?jobid={}", python_quote(jobid)));
    if r.status != 200 {
        return Err(format!("status of {jobid:?}: {} {}", r.status, r.body));
    }
    Ok(r.json())
}

/// The served case stored `want` as `field` of worker `w` of `jobid`.
fn worker_has(jobid: &'static str, field: &'static str, want: serde_json::Value) -> Check {
    Box::new(move |s, _| {
        let status = status_of(s, jobid)?;
        let got = &status["workers"][0];
        if got["workid"] == "w" && got[field] == want {
            Ok(())
        } else {
            Err(format!("{jobid:?}: want {field} = {want}, got {status}"))
        }
    })
}

fn answer_contains(needle: &'static str) -> Check {
    Box::new(move |_, answer| {
        if answer.contains(needle) {
            Ok(())
        } else {
            Err(format!("the answer lacks {needle:?}"))
        }
    })
}

fn no_check() -> Check {
    Box::new(|_, _| Ok(()))
}

// ---- the corpus ----------------------------------------------------------

fn corpus() -> Corpus {
    let mut c = Corpus::default();
    percent_encoding(&mut c);
    invalid_utf8(&mut c);
    control_characters(&mut c);
    raw_bytes_in_the_request_line(&mut c);
    numbers(&mut c);
    empty_and_missing(&mut c);
    duplicate_keys(&mut c);
    lengths(&mut c);
    unknown_parameters(&mut c);
    methods(&mut c);
    versions(&mut c);
    host(&mut c);
    headers(&mut c);
    content_length(&mut c);
    bodies(&mut c);
    paths(&mut c);
    overlong(&mut c);
    request_line_garbage(&mut c);
    c
}

/// Malformed `%` escapes. params.rs keeps them literally (as
/// `url::form_urlencoded` does), so in an id they name another job; in a
/// number they make it no number.
fn percent_encoding(c: &mut Corpus) {
    let g = "percent-encoding";
    for bad in ["%", "%g1", "%zz", "%4", "%%", "%-1", "%+1", "%%34%35"] {
        for read in JOBID_ENDPOINTS {
            // Another (unknown) job than "corpus": a 404.
            c.refused(
                g,
                format!("{read} jobid=corpus{bad}"),
                get(&jobid_query(read, &format!("corpus{bad}"))),
            );
        }
        c.refused(
            g,
            format!("update current=9{bad}"),
            get(&format!(
                "/progress/update?jobid=corpus&workid=w&current=9{bad}"
            )),
        );
        c.refused(
            g,
            format!("update total=10{bad}"),
            get(&format!(
                "/progress/update?jobid=corpus&workid=w&current=9&total=10{bad}"
            )),
        );
        c.refused(
            g,
            format!("create maxage=60{bad}"),
            get(&format!("/progress/create?jobid=corpus&maxage=60{bad}")),
        );
        c.refused(
            g,
            format!("jobs limit=5{bad}"),
            get(&format!("/progress/jobs?limit=5{bad}")),
        );
    }
    let rule = "README, Input rules / params.rs: a malformed escape is kept literally";
    c.served(
        g,
        "update jobid=pct%zz",
        get("/progress/update?jobid=pct%zz&workid=w&current=1&total=2"),
        rule,
        Some("pct%zz"),
        no_check(),
    );
    c.served(
        g,
        "update jobid=pct%4",
        get("/progress/update?jobid=pct%4&workid=w&current=1&total=2"),
        rule,
        Some("pct%4"),
        no_check(),
    );
    c.served(
        g,
        "update jobid=pct%",
        get("/progress/update?jobid=pct%&workid=w&current=1&total=2"),
        rule,
        Some("pct%"),
        no_check(),
    );
}

/// Escapes that decode to bytes that are not UTF-8: refused everywhere,
/// never replaced with U+FFFD.
fn invalid_utf8(c: &mut Corpus) {
    let g = "invalid-utf8";
    let bad = [
        ("lone ff", "%ff"),
        ("c3 28", "%c3%28"),
        ("overlong slash c0 af", "%c0%af"),
        ("surrogate ed a0 80", "%ed%a0%80"),
        ("lone continuation 80", "%80"),
        ("truncated e2 82", "%e2%82"),
        ("past U+10FFFF", "%f4%90%80%80"),
        ("five-byte f8", "%f8%88%80%80%80"),
        ("fe ff", "%fe%ff"),
    ];
    for (what, value) in bad {
        for endpoint in ID_ENDPOINTS.iter().chain(&["jobs"]) {
            c.refused(
                g,
                format!("{endpoint} {what}"),
                get(&jobid_query(endpoint, &format!("corpus{value}"))),
            );
        }
        c.refused(
            g,
            format!("update desc {what}"),
            get(&format!("/progress/update?{TARGET_UPDATE}&desc=x{value}")),
        );
        c.refused(
            g,
            format!("update name {what}"),
            get(&format!("/progress/update?{TARGET_UPDATE}&{value}=1")),
        );
        c.refused(
            g,
            format!("status name {what}"),
            get(&format!("/progress/status?jobid=corpus&{value}=1")),
        );
    }
}

/// Control, bidi-override and invisible characters and noncharacters in
/// ids; a desc may hold them.
fn control_characters(c: &mut Corpus) {
    let g = "control-chars";
    for value in [
        "%00",
        "%01",
        "%7f",
        "%1b",
        "%0d%0a",
        "%0a",
        "%0d",
        "%09",
        "%c2%85",
        "%e2%80%ae",
        "%e2%81%a6",
        "%e2%80%8e",
        // Issue 11: each of these made an id look like "train".
        "%e2%80%8b",
        "%e2%80%8c",
        "%e2%81%a0",
        "%ef%bb%bf",
        "%d8%9c",
        "%e2%80%a8",
        "%e2%80%a9",
        "%e3%85%a4",
        "%cd%8f",
        "%ef%bf%be",
    ] {
        for endpoint in ID_ENDPOINTS {
            c.refused(
                g,
                format!("{endpoint} {value}"),
                get(&jobid_query(endpoint, &format!("corpus{value}"))),
            );
        }
    }
    c.served(
        g,
        "update desc with CR LF NUL ESC",
        get("/progress/update?jobid=ctl-desc&workid=w&current=1&total=2&desc=a%0d%0ab%00c%1b"),
        "README, Input rules: only ids refuse control characters; params.rs: descs may hold them",
        Some("ctl-desc"),
        worker_has("ctl-desc", "desc", "a\r\nb\u{0}c\u{1b}".into()),
    );
    c.served(
        g,
        "update desc with invisible characters",
        get("/progress/update?jobid=inv-desc&workid=w&current=1&total=2&desc=a%e2%80%8bb%ef%bb%bf"),
        "README, Input rules: only ids refuse invisible characters",
        Some("inv-desc"),
        worker_has("inv-desc", "desc", "a\u{200B}b\u{FEFF}".into()),
    );
}

/// Raw CR, LF, NUL, tab and non-ASCII bytes in the request line.
fn raw_bytes_in_the_request_line(c: &mut Corpus) {
    let g = "raw-bytes";
    for (what, byte) in [
        ("LF", b'\n'),
        ("CR", b'\r'),
        ("NUL", 0),
        ("tab", b'\t'),
        ("DEL", 0x7f),
        ("ESC", 0x1b),
    ] {
        let mut target = b"/progress/update?jobid=cor".to_vec();
        target.push(byte);
        target.extend_from_slice(b"pus&workid=w&current=9&total=10");
        c.refused(g, format!("update raw {what} in jobid"), get_raw(&target));
        let mut target = b"/progress/status?jobid=corpus".to_vec();
        target.push(byte);
        c.refused(
            g,
            format!("status raw {what} after jobid"),
            get_raw(&target),
        );
    }
    c.refused(
        g,
        "update raw CR LF in jobid",
        get_raw(b"/progress/update?jobid=cor\r\npus&workid=w&current=9&total=10"),
    );
    c.refused(
        g,
        "update raw space in jobid",
        get_raw(b"/progress/update?jobid=cor pus&workid=w&current=9&total=10"),
    );
    for (what, bytes) in [
        ("é (c3 a9)", &b"\xc3\xa9"[..]),
        ("ff", b"\xff"),
        ("80", b"\x80"),
        ("c0 af", b"\xc0\xaf"),
    ] {
        let mut target = b"/progress/update?jobid=corpus".to_vec();
        target.extend_from_slice(bytes);
        target.extend_from_slice(b"&workid=w&current=9&total=10");
        c.refused(g, format!("update raw {what} in jobid"), get_raw(&target));
        let mut target = b"/progress/create?jobid=corpus&desc=".to_vec();
        target.extend_from_slice(bytes);
        c.refused(g, format!("create raw {what} in desc"), get_raw(&target));
    }
    c.refused(
        g,
        "raw ff in the path",
        get_raw(b"/progress/\xffupdate?jobid=corpus&workid=w&current=9"),
    );
    c.refused(
        g,
        "raw é in the method",
        request(
            "G\u{e9}T",
            b"/progress/update?jobid=corpus&workid=w&current=9",
            &[],
            b"",
        ),
    );
    c.refused(g, "raw b1 in the version", b"GET /progress/update?jobid=corpus&workid=w&current=9 HTTP/1.\xb1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec());
    // A raw LF inside the request line is no line end (tiny_http ends
    // lines at CR LF only), so it reaches the desc as if sent as %0A.
    c.served(
        g,
        "update raw LF in desc",
        get_raw(b"/progress/update?jobid=raw-lf&workid=w&current=1&total=2&desc=a\nb"),
        "tiny_http ends lines at CR LF only; a desc may hold an LF (README, Input rules)",
        Some("raw-lf"),
        worker_has("raw-lf", "desc", "a\nb".into()),
    );
}

/// Numbers that are not finite numbers ≥ 0, and the other numeric
/// parameters out of their ranges.
fn numbers(c: &mut Corpus) {
    let g = "numbers";
    let not_amounts = [
        "NaN",
        "nan",
        "NAN",
        "-nan",
        "inf",
        "-inf",
        "%2Binf",
        "Infinity",
        "-Infinity",
        "infinity",
        "1e309",
        "-1e309",
        "-1",
        "-0.5",
        "-1e-300",
        "",
        "%20",
        "5%20",
        "%205",
        "+5",
        "0x10",
        "1_000",
        "5,0",
        "1e",
        "e5",
        ".",
        "--1",
        "1..2",
        "%ef%bc%91",
        "5kg",
        "1%2F2",
    ];
    for value in not_amounts {
        c.refused(
            g,
            format!("update current={value}"),
            get(&format!(
                "/progress/update?jobid=corpus&workid=w&current={value}&total=10"
            )),
        );
        c.refused(
            g,
            format!("update total={value}"),
            get(&format!(
                "/progress/update?jobid=corpus&workid=w&current=9&total={value}"
            )),
        );
    }
    for value in ["nan", "NaN", "", "maybe", "%20", "0x0", "null"] {
        c.refused(
            g,
            format!("update ok={value}"),
            get(&format!("/progress/update?{TARGET_UPDATE}&ok={value}")),
        );
    }
    for value in [
        "0",
        "-0",
        "-5",
        "NaN",
        "inf",
        "1e309",
        "315576001",
        "1e20",
        "",
        "abc",
    ] {
        c.refused(
            g,
            format!("create maxage={value}"),
            get(&format!("/progress/create?jobid=corpus&maxage={value}")),
        );
    }
    for value in ["NaN", "inf", "-inf", "1e309", "", "x"] {
        c.refused(
            g,
            format!("show interval={value}"),
            get(&format!("/progress/show?jobid=corpus&interval={value}")),
        );
    }
    for value in ["-1", "-0.6", "-5"] {
        c.served(
            g,
            format!("show interval={value}"),
            get(&format!("/progress/show?jobid=corpus&interval={value}")),
            "README, The pages: an interval below 1 is taken as 1",
            None,
            answer_contains("data-interval=\"1\""),
        );
    }
    for value in [
        "NaN",
        "0",
        "-1",
        "299",
        "4001",
        "800.5",
        "1e3",
        "4294967296",
        "",
        "%20800",
    ] {
        c.refused(
            g,
            format!("render width={value}"),
            get(&format!("/progress/render?jobid=corpus&width={value}")),
        );
    }
    for value in [
        "0",
        "-1",
        "NaN",
        "1e3",
        "18446744073709551616",
        "",
        "x",
        "1.5",
        "-0",
    ] {
        c.refused(
            g,
            format!("jobs limit={value}"),
            get(&format!("/progress/jobs?limit={value}")),
        );
    }
    c.served(
        g,
        "update current=-0.0",
        get("/progress/update?jobid=negzero&workid=w&current=-0.0&total=2"),
        "README, Input rules: finite numbers ≥ 0, and -0.0 ≥ 0",
        Some("negzero"),
        Box::new(|s, _| {
            let status = status_of(s, "negzero")?;
            let current = &status["workers"][0]["current"];
            // Sent as 0, not -0.0 (which would parse as a float).
            if current.as_u64() == Some(0) {
                Ok(())
            } else {
                Err(format!("current should show as 0, got {current}"))
            }
        }),
    );
}

/// Empty values, names without `=`, and missing required parameters.
fn empty_and_missing(c: &mut Corpus) {
    let g = "empty-missing";
    for query in [
        "",
        "&&&",
        "=",
        "==",
        "=9",
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
    ] {
        c.refused(
            g,
            format!("update ?{query}"),
            get(&format!("/progress/update?{query}")),
        );
    }
    c.refused(g, "update no query at all", get("/progress/update"));
    // Valid but for the missing total on a worker's first update.
    c.refused(
        g,
        "update first report without total",
        get("/progress/update?jobid=fresh&workid=w&current=1"),
    );
    for query in [
        "",
        "jobid=",
        "jobid",
        "=corpus",
        "jobid=corpus&desc=x&=y",
        "jobid=corpus&maxage=",
        "jobid=corpus&maxage",
    ] {
        c.refused(
            g,
            format!("create ?{query}"),
            get(&format!("/progress/create?{query}")),
        );
    }
    for read in JOBID_ENDPOINTS {
        for query in ["", "jobid=", "jobid", "=corpus", "jobid%3Dcorpus"] {
            c.refused(
                g,
                format!("{read} ?{query}"),
                get(&format!("/progress/{read}?{query}")),
            );
        }
    }
    c.refused(g, "jobs limit without =", get("/progress/jobs?limit"));
}

/// A repeated key: the last value wins (docs/api.md, API; params.rs).
fn duplicate_keys(c: &mut Corpus) {
    let g = "duplicate-keys";
    c.refused(
        g,
        "update current=9&current=NaN",
        get("/progress/update?jobid=corpus&workid=w&current=9&current=NaN&total=10"),
    );
    c.refused(
        g,
        "update total=10&total=-1",
        get("/progress/update?jobid=corpus&workid=w&current=9&total=10&total=-1"),
    );
    c.refused(
        g,
        "update jobid=corpus&jobid=",
        get("/progress/update?jobid=corpus&jobid=&workid=w&current=9&total=10"),
    );
    c.refused(
        g,
        "update workid=w&workid=%00",
        get("/progress/update?jobid=corpus&workid=w&workid=%00&current=9&total=10"),
    );
    c.refused(
        g,
        "create jobid=corpus&jobid=%01",
        get("/progress/create?jobid=corpus&jobid=%01"),
    );
    c.refused(
        g,
        "delete jobid=corpus&jobid=",
        get("/progress/delete?jobid=corpus&jobid="),
    );
    c.refused(
        g,
        "delete jobid=corpus&jobid=other",
        get("/progress/delete?jobid=corpus&jobid=dup-nothing"),
    );
    c.refused(g, "POST body current=NaN over a valid query", {
        post(
            &format!("/progress/update?{TARGET_UPDATE}"),
            FORM,
            b"current=NaN",
        )
    });
    let rule = "README, API / params.rs: a repeated key's last value wins";
    c.served(
        g,
        "update current=NaN&current=3",
        get("/progress/update?jobid=dup-last&workid=w&current=NaN&current=3&total=4"),
        rule,
        Some("dup-last"),
        worker_has("dup-last", "current", 3.into()),
    );
    c.served(
        g,
        "update jobid=corpus&jobid=dup-job",
        get("/progress/update?jobid=corpus&jobid=dup-job&workid=w&current=3&total=4"),
        rule,
        Some("dup-job"),
        worker_has("dup-job", "current", 3.into()),
    );
    c.served(
        g,
        "status jobid=nope&jobid=corpus",
        get("/progress/status?jobid=nope&jobid=corpus"),
        rule,
        None,
        answer_contains("\"jobid\":\"corpus\""),
    );
    c.served(
        g,
        "POST body jobid overrides the query's",
        post(
            &format!("/progress/update?{TARGET_UPDATE}"),
            FORM,
            b"jobid=dup-body",
        ),
        "README, API: body values override the query string's",
        Some("dup-body"),
        worker_has("dup-body", "current", 9.into()),
    );
}

/// Ids and descs over their byte limits, on every endpoint that takes them.
fn lengths(c: &mut Corpus) {
    let g = "lengths";
    let long_ascii = "a".repeat(257);
    let long_utf8 = "%C3%A9".repeat(129); // 258 bytes
    for endpoint in ["create", "update"].into_iter().chain(JOBID_ENDPOINTS) {
        c.refused(
            g,
            format!("{endpoint} jobid 257 bytes"),
            get(&jobid_query(endpoint, &long_ascii)),
        );
        c.refused(
            g,
            format!("{endpoint} jobid 129 × é = 258 bytes"),
            get(&jobid_query(endpoint, &long_utf8)),
        );
        c.refused(
            g,
            format!("{endpoint} jobid 10,000 bytes"),
            get(&jobid_query(endpoint, &"j".repeat(10_000))),
        );
    }
    c.refused(
        g,
        "update workid 129 bytes",
        get(&jobid_query("workid", &"w".repeat(129))),
    );
    c.refused(
        g,
        "update workid 65 × é = 130 bytes",
        get(&jobid_query("workid", &"%C3%A9".repeat(65))),
    );
    let desc = "d".repeat(1025);
    c.refused(
        g,
        "create desc 1025 bytes",
        get(&format!("/progress/create?jobid=corpus&desc={desc}")),
    );
    c.refused(
        g,
        "update desc 1025 bytes",
        get(&format!("/progress/update?{TARGET_UPDATE}&desc={desc}")),
    );
    c.refused(
        g,
        "update desc 513 × é = 1026 bytes",
        get(&format!(
            "/progress/update?{TARGET_UPDATE}&desc={}",
            "%C3%A9".repeat(513)
        )),
    );
    c.refused(
        g,
        "POST update desc 60,000 bytes",
        post(
            "/progress/update",
            FORM,
            format!("{TARGET_UPDATE}&desc={}", "d".repeat(60_000)).as_bytes(),
        ),
    );
}

/// `create` and `update` refuse parameters they do not know.
fn unknown_parameters(c: &mut Corpus) {
    let g = "unknown-params";
    for extra in [
        "okay=0",
        "curent=9",
        "JOBID=corpus",
        "Current=9",
        "jobid%00=x",
        "current%20=9",
        "%20current=9",
        "current[]=9",
        "_=1",
    ] {
        c.refused(
            g,
            format!("update &{extra}"),
            get(&format!("/progress/update?{TARGET_UPDATE}&{extra}")),
        );
    }
    for extra in ["maxag=5", "desc%00=x", "workid=w", "total=5"] {
        c.refused(
            g,
            format!("create &{extra}"),
            get(&format!("/progress/create?jobid=corpus&{extra}")),
        );
    }
    c.served(
        g,
        "status with an extra parameter",
        get("/progress/status?jobid=corpus&_=12345&okay=0"),
        "README, Input rules: the reading endpoints ignore extra parameters",
        None,
        answer_contains("\"jobid\":\"corpus\""),
    );
}

/// Methods other than GET, HEAD and POST get 405 on every endpoint.
fn methods(c: &mut Corpus) {
    let g = "methods";
    let long = "X".repeat(1000);
    for method in [
        "PATCH",
        "PUT",
        "DELETE",
        "OPTIONS",
        "TRACE",
        "CONNECT",
        "get",
        "Get",
        "post",
        "FOO",
        "M-SEARCH",
        "GETT",
        "G\0ET",
        long.as_str(),
    ] {
        for target in [
            "/progress/create?jobid=corpus".to_string(),
            format!("/progress/update?{TARGET_UPDATE}"),
            "/progress/delete?jobid=corpus".to_string(),
        ] {
            let shown = if method.len() > 20 {
                "X × 1000"
            } else {
                method
            };
            let path = target.split('?').next().unwrap_or("");
            c.refused(
                g,
                format!("{shown:?} {path}"),
                request(method, target.as_bytes(), &[], b""),
            );
        }
    }
    c.refused(g, "OPTIONS *", request("OPTIONS", b"*", &[], b""));
    c.refused(
        g,
        "CONNECT authority",
        request("CONNECT", b"127.0.0.1:1", &[], b""),
    );
    c.refused(g, "PUT with a form body", {
        let length = format!("Content-Length: {}", TARGET_UPDATE.len());
        request(
            "PUT",
            b"/progress/update",
            &[&length, "Content-Type: application/x-www-form-urlencoded"],
            TARGET_UPDATE.as_bytes(),
        )
    });
    c.refused(
        g,
        "HEAD with a bad parameter",
        request(
            "HEAD",
            b"/progress/update?jobid=corpus&workid=w&current=NaN",
            &[],
            b"",
        ),
    );
}

/// Request lines whose version is not HTTP/1.0 or 1.1.
fn versions(c: &mut Corpus) {
    let g = "versions";
    for version in [
        "HTTP/1.2",
        "HTTP/1",
        "HTTP/11",
        "http/1.1",
        "HTTP/ 1.1",
        "HTTP/1.1\0",
        "HTTP/-1.1",
        "HTTP/9.9",
        "HTTPS/1.1",
        "HTTP/1.1/",
        "HTTP/1.1.1",
        "HTTP/1.10",
        "FTP/1.1",
        "",
    ] {
        let line = format!(
            "GET /progress/update?{TARGET_UPDATE} {version}\r\nHost: x\r\nConnection: close\r\n\r\n"
        );
        c.refused(g, format!("{version:?}"), line.into_bytes());
    }
    // Only HTTP/1.0 and 1.1 are served (PATCHES.md): 0.9, 2.0 and 3.0
    // request lines are bad request lines.
    for version in ["HTTP/0.9", "HTTP/2.0", "HTTP/3.0"] {
        let line = format!(
            "GET /progress/update?{TARGET_UPDATE} {version}\r\nHost: x\r\nConnection: close\r\n\r\n"
        );
        c.refused(g, version, line.into_bytes());
    }
    // tiny_http ignores words after the version.
    let line = format!(
        "GET {} HTTP/1.1 extra\r\nHost: x\r\nConnection: close\r\n\r\n",
        fresh_update("v-extra")
    );
    c.served(
        g,
        "a word after the version",
        line.into_bytes(),
        TINY_HTTP_LENIENT,
        Some("v-extra"),
        no_check(),
    );
}

/// A missing, empty, repeated or unusable Host.
fn host(c: &mut Corpus) {
    let g = "host";
    c.served(
        g,
        "HTTP/1.1 create without Host",
        b"GET /progress/create?jobid=no-host HTTP/1.1\r\nConnection: close\r\n\r\n".to_vec(),
        "routes.rs: without a usable Host the link names the listen address",
        Some("no-host"),
        answer_contains("http://127.0.0.1:"),
    );
    c.served(
        g,
        "HTTP/1.1 create with an unusable Host",
        b"GET /progress/create?jobid=bad-host HTTP/1.1\r\nHost: evil.test/<script>\r\nConnection: close\r\n\r\n".to_vec(),
        "routes.rs: without a usable Host the link names the listen address",
        Some("bad-host"),
        answer_contains("http://127.0.0.1:"),
    );
    c.served(
        g,
        "two Host headers",
        b"GET /progress/create?jobid=two-hosts HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\nConnection: close\r\n\r\n".to_vec(),
        "not documented: the first Host names the link (RFC 9112 3.2 wants a 400; reported)",
        Some("two-hosts"),
        answer_contains("http://a.test/progress/show?jobid=two-hosts"),
    );
    c.served(
        g,
        "an empty Host",
        b"GET /progress/create?jobid=empty-host HTTP/1.1\r\nHost:\r\nConnection: close\r\n\r\n"
            .to_vec(),
        "routes.rs: without a usable Host the link names the listen address",
        Some("empty-host"),
        answer_contains("http://127.0.0.1:"),
    );
    c.refused(g, "Host with raw non-ASCII", b"GET /progress/update?jobid=corpus&workid=w&current=9 HTTP/1.1\r\nHost: h\xc3\xa9\r\nConnection: close\r\n\r\n".to_vec());
}

/// Header counts, lengths and shapes.
fn headers(c: &mut Corpus) {
    let g = "headers";
    let many = |n: usize, len: usize| -> Vec<String> {
        (0..n)
            .map(|i| format!("X-{i}: {}", "v".repeat(len)))
            .collect()
    };
    let write = format!("/progress/update?{TARGET_UPDATE}");
    for n in [99, 200, 5000] {
        // With Host and Connection: 101 and more.
        let lines = many(n, 1);
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        c.refused(
            g,
            format!("{} headers", n + 2),
            request("GET", write.as_bytes(), &refs, b""),
        );
    }
    c.refused(
        g,
        "a 17 KiB header line",
        request(
            "GET",
            write.as_bytes(),
            &[&format!("X-Long: {}", "v".repeat(17 * 1024))],
            b"",
        ),
    );
    for line in [
        "NoColon",
        "Bad Name: x",
        "Host : x",
        "X-Tab\t: x",
        "X-\u{e9}: x",
        "X-Value: \u{e9}",
        "Expect: 200-ok",
        "Expect: 100-continue, 200-ok",
    ] {
        c.refused(
            g,
            format!("header {line:?}"),
            request("GET", write.as_bytes(), &[line], b""),
        );
    }
    c.refused(
        g,
        "header lines ended by bare LF",
        format!("GET {write} HTTP/1.1\nHost: x\nConnection: close\n\r\n").into_bytes(),
    );
    c.refused(
        g,
        "header lines ended by bare CR",
        format!("GET {write} HTTP/1.1\rHost: x\rConnection: close\r\r\n\r\n").into_bytes(),
    );
    c.served(
        g,
        "100 headers, the most taken",
        {
            let lines = many(98, 1);
            let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
            request("GET", b"/progress/status?jobid=corpus", &refs, b"")
        },
        "vendor/tiny_http/PATCHES.md 3: at most 100 headers of 16 KiB",
        None,
        no_check(),
    );
    // RFC 9112 5.2 wants a folded line refused or joined to the one before;
    // tiny_http trims it and reads it as a header of its own.
    for (what, line) in [("space", " X-Folded: x"), ("tab", "\tX-Folded: x")] {
        let job = format!("fold-{what}");
        c.served(
            g,
            format!("header line folded with a {what}"),
            request("GET", fresh_update(&job).as_bytes(), &[line], b""),
            TINY_HTTP_LENIENT,
            Some(&job),
            no_check(),
        );
    }
    c.served(
        g,
        "header with an empty name",
        request("GET", fresh_update("empty-name").as_bytes(), &[": x"], b""),
        TINY_HTTP_LENIENT,
        Some("empty-name"),
        no_check(),
    );
}

/// Content-Length values that do not say how long the body is.
fn content_length(c: &mut Corpus) {
    let g = "content-length";
    let body = TARGET_UPDATE.as_bytes();
    let with = |lengths: &[String]| -> Vec<u8> {
        let mut headers: Vec<&str> = lengths.iter().map(String::as_str).collect();
        headers.push("Content-Type: application/x-www-form-urlencoded");
        request("POST", b"/progress/update", &headers, body)
    };
    // A Content-Length that is not all digits says nothing certain about
    // where the body ends: 400 and close (PATCHES.md), never "no body" with
    // the body parsed as the next request.
    for value in [
        "-1",
        "-0",
        "abc",
        "1e2",
        "0x28",
        "",
        "99999999999999999999999",
        "40 40",
        "40,40",
        "4 0",
    ] {
        c.refused(
            g,
            format!("Content-Length: {value:?}"),
            with(&[format!("Content-Length: {value}")]),
        );
    }
    c.refused(
        g,
        "two Content-Lengths, the first 5",
        with(&[
            "Content-Length: 5".into(),
            format!("Content-Length: {}", body.len()),
        ]),
    );
    c.refused(
        g,
        "Content-Length 0 with a body",
        with(&["Content-Length: 0".into()]),
    );
    c.refused(g, "no Content-Length with a body", with(&[]));
    c.refused(
        g,
        "Content-Length 70000, body short",
        with(&["Content-Length: 70000".into()]),
    );
    c.refused(
        g,
        "Content-Length 65537, body short",
        with(&["Content-Length: 65537".into()]),
    );
    // RFC 9112 6.3: differing Content-Lengths are refused, and so is `+N`
    // (not 1*DIGIT), even when the first length is the body's.
    let fresh = b"jobid=cl-first&workid=w&current=1&total=2";
    c.refused(g, "two Content-Lengths, the first the body's", {
        let length = format!("Content-Length: {}", fresh.len());
        request(
            "POST",
            b"/progress/update",
            &[
                &length,
                "Content-Length: 0",
                "Content-Type: application/x-www-form-urlencoded",
            ],
            fresh,
        )
    });
    let fresh = b"jobid=cl-plus&workid=w&current=1&total=2";
    c.refused(g, "Content-Length: +N", {
        let length = format!("Content-Length: +{}", fresh.len());
        request(
            "POST",
            b"/progress/update",
            &[&length, "Content-Type: application/x-www-form-urlencoded"],
            fresh,
        )
    });
    c.refused(g, "GET with the update in a body", {
        let length = format!("Content-Length: {}", body.len());
        request(
            "GET",
            b"/progress/update",
            &[&length, "Content-Type: application/x-www-form-urlencoded"],
            body,
        )
    });
}

/// POST bodies of the wrong type, or not decodable.
fn bodies(c: &mut Corpus) {
    let g = "bodies";
    let body = TARGET_UPDATE.as_bytes();
    for kind in [
        "application/json",
        "multipart/form-data; boundary=x",
        "text/html",
        "application/xml",
        "application/x-www-form-urlencoded-evil",
        "application/octet-stream",
        "x-www-form-urlencoded",
    ] {
        c.refused(
            g,
            format!("Content-Type: {kind}"),
            post("/progress/update", Some(kind), body),
        );
    }
    c.refused(
        g,
        "JSON body",
        post(
            "/progress/update",
            Some("application/json"),
            br#"{"jobid":"corpus","workid":"w","current":9}"#,
        ),
    );
    c.refused(
        g,
        "JSON body without Content-Type",
        post(
            "/progress/update",
            None,
            br#"{"jobid":"corpus","workid":"w","current":9}"#,
        ),
    );
    c.refused(g, "Content-Type raw non-ASCII", {
        let mut r =
            b"POST /progress/update HTTP/1.1\r\nHost: x\r\nContent-Type: text/pl\xc3\xa4in\r\n"
                .to_vec();
        r.extend_from_slice(
            format!(
                "Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        );
        r.extend_from_slice(body);
        r
    });
    for (what, bad) in [
        (
            "%ff in jobid",
            &b"jobid=corpus%ff&workid=w&current=9&total=10"[..],
        ),
        (
            "raw ff in jobid",
            b"jobid=corpus\xff&workid=w&current=9&total=10",
        ),
        (
            "latin-1 %e9 in desc",
            b"jobid=corpus&workid=w&current=9&total=10&desc=caf%e9",
        ),
        ("UTF-16LE", b"j\0o\0b\0i\0d\0=\0c\0o\0r\0p\0u\0s\0"),
        (
            "byte-order mark",
            b"\xef\xbb\xbfjobid=corpus&workid=w&current=9&total=10",
        ),
        (
            "raw CR LF in jobid",
            b"jobid=corpus\r\n&workid=w&current=9&total=10",
        ),
        ("current=NaN", b"jobid=corpus&workid=w&current=NaN&total=10"),
        ("a lone %", b"%"),
        ("JSON-looking", b"{\"jobid\":\"corpus\"}"),
    ] {
        c.refused(
            g,
            format!("form body {what}"),
            post("/progress/update", FORM, bad),
        );
    }
    c.refused(
        g,
        "status POST body %ff",
        post("/progress/status", FORM, b"jobid=corpus%ff"),
    );
    c.refused(
        g,
        "delete POST body %00",
        post("/progress/delete", FORM, b"jobid=corpus%00"),
    );
    c.refused(
        g,
        "create POST body maxage=NaN",
        post("/progress/create", FORM, b"jobid=corpus&maxage=NaN"),
    );
    let chunked = |chunks: &[u8]| -> Vec<u8> {
        request(
            "POST",
            b"/progress/update",
            &[
                "Transfer-Encoding: chunked",
                "Content-Type: application/x-www-form-urlencoded",
            ],
            chunks,
        )
    };
    c.refused(
        g,
        "chunked, bad chunk size",
        chunked(b"zz\r\njobid=corpus\r\n0\r\n\r\n"),
    );
    c.refused(
        g,
        "chunked, huge chunk size",
        chunked(b"fffffffffffffffffffffff\r\njobid=corpus\r\n0\r\n\r\n"),
    );
    c.refused(
        g,
        "chunked, negative chunk size",
        chunked(b"-5\r\njobid\r\n0\r\n\r\n"),
    );
    c.refused(
        g,
        "chunked, body not chunked",
        chunked(b"jobid=corpus&workid=w&current=9&total=10\r\n\r\n"),
    );
    c.refused(g, "chunked, 70 KB", {
        let mut chunks = Vec::new();
        for _ in 0..70 {
            chunks.extend_from_slice(b"3e8\r\n");
            chunks.extend(std::iter::repeat_n(b'a', 1000));
            chunks.extend_from_slice(b"\r\n");
        }
        chunks.extend_from_slice(b"0\r\n\r\n");
        chunked(&chunks)
    });
    // tiny_http decodes any Transfer-Encoding as chunked, so this body is
    // read as a chunk size line; without the CR LF it would wait for one.
    c.refused(g, "Transfer-Encoding: gzip, body plain", {
        let length = format!("Content-Length: {}", body.len());
        let mut plain = body.to_vec();
        plain.extend_from_slice(b"\r\n\r\n");
        request(
            "POST",
            b"/progress/update",
            &[
                "Transfer-Encoding: gzip",
                &length,
                "Content-Type: application/x-www-form-urlencoded",
            ],
            &plain,
        )
    });
    c.served(
        g,
        "Content-Type: text/plain",
        post(
            "/progress/update",
            Some("text/plain"),
            b"jobid=plain&workid=w&current=1&total=2",
        ),
        "server.rs read_body: text/plain bodies are read as forms",
        Some("plain"),
        no_check(),
    );
    c.served(
        g,
        "Content-Type: ;",
        post(
            "/progress/update",
            Some(";"),
            b"jobid=ct-empty&workid=w&current=1&total=2",
        ),
        "server.rs read_body: an empty media type is read as a form",
        Some("ct-empty"),
        no_check(),
    );
    // `Connection: Upgrade` (curl --http2 on an http:// URL asks for h2c
    // this way) made tiny_http hand over the whole connection as the body,
    // and the server read it until the client closed: 10 s, then a 400.
    let upgrade = [
        "Connection: Upgrade, HTTP2-Settings",
        "Upgrade: h2c",
        "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA",
        "Content-Type: application/x-www-form-urlencoded",
    ];
    let fresh = b"jobid=h2c&workid=w&current=1&total=2";
    let length = format!("Content-Length: {}", fresh.len());
    c.served(
        g,
        "POST asking for an h2c upgrade",
        request(
            "POST",
            b"/progress/update",
            &[&upgrade[..], &[&length]].concat(),
            fresh,
        ),
        "RFC 9110 7.8: a server may ignore Upgrade; the body is what Content-Length says",
        Some("h2c"),
        no_check(),
    );
    c.refused(
        g,
        "POST asking for an upgrade, no Content-Length",
        request("POST", b"/progress/update", &upgrade, body),
    );
    c.served(
        g,
        "POST asking for an upgrade, chunked",
        request(
            "POST",
            b"/progress/update",
            &[&upgrade[..], &["Transfer-Encoding: chunked"]].concat(),
            b"2c\r\njobid=h2c-chunked&workid=w&current=1&total=2\r\n0\r\n\r\n",
        ),
        "RFC 9110 7.8: a server may ignore Upgrade; the body is chunked as it says",
        Some("h2c-chunked"),
        no_check(),
    );
}

/// Paths that are not a route as written, whatever they would become if
/// dot segments, slashes or escapes were resolved.
fn paths(c: &mut Corpus) {
    let g = "paths";
    let q = TARGET_UPDATE;
    for path in [
        "/progress/../progress/update",
        "/progress/./update",
        "//progress/update",
        "/progress//update",
        "/progress%2Fupdate",
        "/progress%2fupdate",
        "/progress/update/",
        "/progress/UPDATE",
        "/Progress/update",
        "/%70rogress/update",
        "/progress/%75pdate",
        "/progress/update;x=1",
        "/progress/update%3F",
        "/progress/update%00",
        "/progress/update%20",
        "/progress/update/..",
        "/progress/assets/../update",
        "/../progress/update",
        "/progress\\update",
        "/progress/update\\",
        "progress/update",
        "*",
        "ftp://h/progress/update",
        "http:/progress/update",
        "http://h",
        "/progress/update#x",
    ] {
        c.refused(
            g,
            format!("update via {path:?}"),
            get(&format!("{path}?{q}")),
        );
    }
    for path in [
        "/progress/../progress/delete",
        "//progress/delete",
        "/progress%2Fdelete",
        "/progress/delete/",
    ] {
        c.refused(
            g,
            format!("delete via {path:?}"),
            get(&format!("{path}?jobid=corpus")),
        );
    }
    for path in [
        "/progress/assets/../assets/show.js",
        "/progress/assets/%2e%2e/assets/show.js",
        "/progress/assets/..%2fassets/show.js",
        "/progress/assets/show.js/",
        "/progress/assets/../../etc/passwd",
        "/progress/assets/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    ] {
        c.refused(g, format!("asset via {path:?}"), get(path));
    }
}

/// Query strings and paths near and past the line limit.
fn overlong(c: &mut Corpus) {
    let g = "overlong";
    c.refused(
        g,
        "path of 15,000 bytes",
        get(&format!("/progress/{}", "p".repeat(15_000))),
    );
    c.refused(
        g,
        "update query of 15,000 bytes in jobid",
        get(&jobid_query("update", &"j".repeat(15_000))),
    );
    c.refused(
        g,
        "update with 1,500 unknown parameters",
        get(&format!(
            "/progress/update?{TARGET_UPDATE}{}",
            (0..1500).map(|i| format!("&a{i}")).collect::<String>()
        )),
    );
    c.refused(
        g,
        "request line of 20,000 bytes",
        get(&format!(
            "/progress/update?{TARGET_UPDATE}&desc={}",
            "d".repeat(20_000)
        )),
    );
    c.refused(
        g,
        "request line of 1 MB",
        get(&format!(
            "/progress/update?{TARGET_UPDATE}&desc={}",
            "d".repeat(1 << 20)
        )),
    );
    c.served(
        g,
        "status with 15,000 bytes of ignored parameters",
        get(&format!(
            "/progress/status?jobid=corpus&pad={}",
            "p".repeat(15_000)
        )),
        "README, Input rules: the reading endpoints ignore extra parameters",
        None,
        answer_contains("\"jobid\":\"corpus\""),
    );
}

/// Lines that are no request line.
fn request_line_garbage(c: &mut Corpus) {
    let g = "request-line";
    for (what, bytes) in [
        ("empty line", &b"\r\n\r\n"[..]),
        ("spaces", b"   \r\n\r\n"),
        ("method only", b"GET\r\n\r\n"),
        ("HTTP/0.9 style", b"GET /progress/update?jobid=corpus&workid=w&current=9\r\n\r\n"),
        ("two spaces", b"GET  /progress/update?jobid=corpus&workid=w&current=9 HTTP/1.1\r\nConnection: close\r\n\r\n"),
        ("tab separated", b"GET\t/progress/update?jobid=corpus&workid=w&current=9\tHTTP/1.1\r\nConnection: close\r\n\r\n"),
        ("NULs", b"\0\0\0\0\r\n\r\n"),
        ("binary, then CR LF", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\xde\xad\r\n\r\n"),
        ("PRI without version", b"PRI *\r\n\r\nSM\r\n\r\n"),
        ("a response line", b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"),
    ] {
        c.refused(g, what, bytes.to_vec());
    }
    c.served(
        g,
        "leading space",
        format!(
            " GET {} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            fresh_update("lead-space")
        )
        .into_bytes(),
        TINY_HTTP_LENIENT,
        Some("lead-space"),
        no_check(),
    );
}

// ---- the run ---------------------------------------------------------------

/// The status code of a raw answer, `None` for no answer at all.
fn answer_status(answer: &[u8]) -> Result<Option<u16>, String> {
    if answer.is_empty() {
        return Ok(None);
    }
    let text = String::from_utf8_lossy(answer);
    let line = text.lines().next().unwrap_or("");
    let mut parts = line.split(' ');
    match (
        parts.next(),
        parts.next().and_then(|code| code.parse().ok()),
    ) {
        (Some(version), Some(code)) if version.starts_with("HTTP/") => Ok(Some(code)),
        _ => Err(format!("not an HTTP answer: {line:?}")),
    }
}

/// The ids of every stored job.
fn job_ids(s: &TestServer) -> BTreeSet<String> {
    let r = s.get("/progress/jobs?limit=100000");
    assert_eq!(r.status, 200, "jobs: {}", r.body);
    r.json()
        .as_array()
        .expect("jobs is a list")
        .iter()
        .map(|j| j["jobid"].as_str().expect("jobid is a string").to_string())
        .collect()
}

/// What a write could change in a job: its fields and its workers'
/// reported values (not the derived, time-dependent ones).
fn snapshot(s: &TestServer, jobid: &str) -> serde_json::Value {
    let status = status_of(s, jobid).expect("the target job exists");
    let workers: Vec<serde_json::Value> = status["workers"]
        .as_array()
        .expect("workers")
        .iter()
        .map(|w| {
            serde_json::json!([
                w["workid"],
                w["current"],
                w["total"],
                w["ok"],
                w["desc"],
                w["first_seen"],
                w["updated"]
            ])
        })
        .collect();
    serde_json::json!([
        status["desc"],
        status["created"],
        status["updated"],
        status["expires"],
        workers
    ])
}

fn shown(bytes: &[u8]) -> String {
    const MAX: usize = 160;
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX)]);
    let more = if bytes.len() > MAX {
        format!("… ({} bytes)", bytes.len())
    } else {
        String::new()
    };
    format!("{text:?}{more}")
}

#[test]
fn malformed_requests_are_refused_and_change_nothing() {
    let s = TestServer::start();
    s.update(&[
        ("jobid", TARGET),
        ("workid", "w"),
        ("current", "1"),
        ("total", "2"),
        ("desc", "baseline"),
    ]);
    assert_eq!(s.get(HEALTH).status, 200);
    let mut jobs = job_ids(&s);
    let mut baseline = snapshot(&s, TARGET);
    let cases = corpus().cases;
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    // CORPUS_VERBOSE=1 (with --nocapture) lists every case's answer.
    let verbose = std::env::var_os("CORPUS_VERBOSE").is_some();
    let mut by_group: BTreeMap<&str, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for case in &cases {
        let label = format!("[{}] {}", case.group, case.name);
        *by_group.entry(case.group).or_default() += 1;
        let started = Instant::now();
        let answer = raw_exchange(&s.addr(), &case.request);
        let took = started.elapsed();
        let mut fail = |why: String| {
            failures.push(format!(
                "{label}: {why}\n    request: {}\n    answer: {}",
                shown(&case.request),
                shown(&answer)
            ))
        };
        if took > SLOW {
            fail(format!(
                "took {took:?}: the connection was held instead of answered or closed"
            ));
        }
        let status = match answer_status(&answer) {
            Ok(status) => status,
            Err(why) => {
                fail(why);
                continue;
            }
        };
        let outcome = status.map_or("closed".to_string(), |c| c.to_string());
        if verbose {
            eprintln!("{outcome:>6}  {label}");
        }
        *by_status.entry(outcome).or_default() += 1;
        let mut expected_jobs = jobs.clone();
        match (&case.expect, status) {
            (Expect::Refused, None) => {}
            (Expect::Refused, Some(code)) if REFUSALS.contains(&code) => {}
            (Expect::Refused, Some(code)) => fail(format!(
                "answered {code}, want a refusal (one of {REFUSALS:?}) or a close"
            )),
            (
                Expect::Served {
                    rule,
                    creates,
                    check,
                },
                Some(code),
            ) if (200..300).contains(&code) => {
                expected_jobs.extend(creates.clone());
                let text = String::from_utf8_lossy(&answer);
                if let Err(why) = check(&s, &text) {
                    fail(format!("served, but not as the rule says ({rule}): {why}"));
                }
            }
            (Expect::Served { rule, .. }, code) => {
                fail(format!("answered {code:?}, want a 2xx by the rule: {rule}"))
            }
        }
        let health = s.get(HEALTH);
        assert_eq!(
            health.status, 200,
            "{label}: the server stopped serving: {}",
            health.body
        );
        let now_jobs = job_ids(&s);
        if now_jobs != expected_jobs {
            fail(format!(
                "jobs changed: added {:?}, removed {:?}",
                now_jobs.difference(&expected_jobs).collect::<Vec<_>>(),
                expected_jobs.difference(&now_jobs).collect::<Vec<_>>()
            ));
        }
        jobs = now_jobs;
        if jobs.contains(TARGET) {
            let now = snapshot(&s, TARGET);
            if now != baseline {
                fail(format!("job {TARGET:?} changed from {baseline} to {now}"));
                baseline = now;
            }
        } else {
            // Put it back so later cases still have a target.
            s.update(&[
                ("jobid", TARGET),
                ("workid", "w"),
                ("current", "1"),
                ("total", "2"),
                ("desc", "baseline"),
            ]);
            baseline = snapshot(&s, TARGET);
            jobs = job_ids(&s);
        }
    }
    let counts: Vec<String> = by_status
        .iter()
        .map(|(status, n)| format!("{status} × {n}"))
        .collect();
    eprintln!(
        "corpus: {} malformed requests: {}",
        cases.len(),
        counts.join(", ")
    );
    let groups: Vec<String> = by_group.iter().map(|(g, n)| format!("{g} {n}")).collect();
    eprintln!("corpus groups: {}", groups.join(", "));
    assert!(
        cases.len() >= 100,
        "the corpus has {} requests",
        cases.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// A request line with version HTTP/2.0 or 3.0 (an HTTP/2 client with prior
/// knowledge opens with `PRI * HTTP/2.0`) made tiny_http write a 505 through
/// a writer that waited for the request's own, never released: the client
/// got nothing and the connection held its thread and two descriptors for
/// good, so a few hundred such requests stopped the server.
#[test]
fn http2_request_lines_are_refused_at_once() {
    let s = TestServer::start();
    for request in [
        &b"GET /progress/jobs HTTP/2.0\r\nHost: x\r\nConnection: close\r\n\r\n"[..],
        b"GET /progress/jobs HTTP/3.0\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    ] {
        let started = Instant::now();
        let answer = raw_exchange(&s.addr(), request);
        let took = started.elapsed();
        assert!(
            took < SLOW,
            "{}: no answer and no close in {took:?}",
            shown(request)
        );
        let status = answer_status(&answer);
        assert!(
            matches!(status, Ok(None))
                || matches!(status, Ok(Some(code)) if REFUSALS.contains(&code)),
            "{}: {}",
            shown(request),
            shown(&answer)
        );
        assert_eq!(s.get(HEALTH).status, 200, "the server still serves");
    }
}
