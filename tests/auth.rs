//! The write and read tokens: what they guard, how clients give them, and
//! that they never reach the log.

mod common;

use std::collections::BTreeSet;

use common::{TestResult, TestServer};
use progressd::{Access, ROUTES};

/// A request to every route that needs the write token.
const WRITES: [&str; 3] = [
    "/progress/create?jobid=j",
    "/progress/update?jobid=j&workid=w&current=1&total=2",
    "/progress/delete?jobid=j",
];

/// A request to every route that needs the read token (once job `j`
/// exists).
const READS: [&str; 9] = [
    "/progress/status?jobid=j",
    "/progress/history?jobid=j",
    "/progress/show?jobid=j",
    "/progress/show.txt?jobid=j",
    "/progress/render?jobid=j",
    "/progress/render.svg?jobid=j",
    "/progress/jobs",
    "/progress/",
    "/metrics",
];

#[test]
fn these_tests_reach_every_route_that_needs_a_token() {
    // The route table is the one list of routes: one added there with a
    // token to check must be added here, and is then tested below.
    let routes = |access: Access| -> BTreeSet<&str> {
        ROUTES
            .iter()
            .filter(|r| r.access == access)
            .map(|r| r.path)
            .collect()
    };
    let paths = |requests: &[&'static str]| -> BTreeSet<&'static str> {
        requests
            .iter()
            .map(|r| r.split('?').next().unwrap_or(r))
            .collect()
    };
    assert_eq!(routes(Access::Write), paths(&WRITES));
    assert_eq!(routes(Access::Read), paths(&READS));
}

const WRITE: &str = "w-0123456789abcdef";
const READ: &str = "r-fedcba9876543210";

fn with_tokens(write: Option<&str>, read: Option<&str>) -> TestServer {
    TestServer::start_with(|c| {
        c.tokens.write = write.map(String::from);
        c.tokens.read = read.map(String::from);
    })
}

#[test]
fn writes_need_the_write_token_and_change_nothing_without_it() {
    let s = with_tokens(Some(WRITE), None);
    for path in WRITES {
        let missing = s.get(path);
        assert_eq!(missing.status, 401, "{path}: {}", missing.body);
        assert!(missing.body.contains("write token"), "{}", missing.body);
        assert_eq!(
            missing.header("WWW-Authenticate"),
            Some("Bearer realm=\"progressd\"")
        );
        assert!(missing.content_type.starts_with("text/plain"));
        let wrong = s.get(&format!("{path}&token=w-0123456789abcdeF"));
        assert_eq!(wrong.status, 401);
        assert!(wrong.body.contains("not this server's write token"));
        // The refusal says nothing of the token it expected.
        assert!(!wrong.body.contains(WRITE));
    }
    // Nothing was created by any of them.
    assert_eq!(s.get("/progress/status?jobid=j").status, 404);

    // As a parameter (GET and POST) and as a Bearer header.
    assert_eq!(
        s.get(&format!("/progress/create?jobid=j&token={WRITE}"))
            .status,
        200
    );
    let posted = s.post(
        "/progress/update",
        &format!("jobid=j&workid=w&current=1&total=2&token={WRITE}"),
    );
    assert_eq!(posted.status, 200, "{}", posted.body);
    let bearer = format!("Bearer {WRITE}");
    let header = s.get_with(
        "/progress/update?jobid=j&workid=w&current=2",
        &[("Authorization", &bearer)],
    );
    assert_eq!(header.status, 200, "{}", header.body);
    // Reads stay open without a read token.
    assert_eq!(s.status("j")["workers"][0]["current"], 2.0);
}

#[test]
fn reads_need_the_read_token_which_pages_carry_into_their_links() {
    let s = with_tokens(Some(WRITE), Some(READ));
    s.get(&format!(
        "/progress/update?jobid=j&workid=w&current=1&total=2&token={WRITE}"
    ));
    for path in READS {
        let missing = s.get(path);
        assert_eq!(missing.status, 401, "{path}: {}", missing.body);
        assert!(missing.body.contains("read token"), "{}", missing.body);
        let sep = if path.contains('?') { '&' } else { '?' };
        assert_eq!(
            s.get(&format!("{path}{sep}token={READ}")).status,
            200,
            "{path}"
        );
        // The write token opens reads too; the read token does not write.
        assert_eq!(
            s.get(&format!("{path}{sep}token={WRITE}")).status,
            200,
            "{path}"
        );
    }
    assert_eq!(
        s.get(&format!(
            "/progress/update?jobid=j&workid=w&current=2&token={READ}"
        ))
        .status,
        401
    );
    // Assets and the redirect are public: they hold no job data.
    assert_eq!(s.get("/progress/assets/show.js").status, 200);
    assert_eq!(s.get("/progress/assets/progressd.css").status, 200);

    // A page opened with ?token= polls its status with it and links with it.
    let page = s.get(&format!("/progress/show?jobid=j&token={READ}")).body;
    let status_url = format!("data-status=\"status?jobid=j&amp;text=1&amp;token={READ}\"");
    assert!(page.contains(&status_url), "{page}");
    assert!(
        page.contains(&format!("href=\"./?token={READ}\"")),
        "{page}"
    );
    let index = s.get(&format!("/progress/?token={READ}")).body;
    assert!(
        index.contains(&format!("href=\"show?jobid=j&amp;token={READ}\"")),
        "{index}"
    );
    // The write token opens reads too, so a page opened with it polls with
    // the read token (issue 11: it polled without, got 401 and said the
    // server was unreachable); the write token itself is never copied into
    // a link someone might share.
    let opened_with_write = s.get(&format!("/progress/show?jobid=j&token={WRITE}")).body;
    let status_url = format!("data-status=\"status?jobid=j&amp;text=1&amp;token={READ}\"");
    assert!(
        opened_with_write.contains(&status_url) && !opened_with_write.contains(WRITE),
        "{opened_with_write}"
    );
    // A token that opens nothing is never copied.
    let wrong = s.get("/progress/show?jobid=j&token=not-a-token");
    assert_eq!(wrong.status, 401);
    assert!(!wrong.body.contains("not-a-token"));
    // Given as a header instead, nothing is copied into the page.
    let bearer = format!("Bearer {READ}");
    let by_header = s.get_with("/progress/show?jobid=j", &[("Authorization", &bearer)]);
    assert_eq!(by_header.status, 200);
    assert!(!by_header.body.contains(READ));
    assert_eq!(by_header.header("Referrer-Policy"), Some("no-referrer"));
}

#[test]
fn tokens_never_reach_the_log() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut command = common::progressd_command();
    command
        .args(["--listen", "127.0.0.1:0", "--db"])
        .arg(dir.path().join("t.sqlite3"))
        .env("PROGRESSD_WRITE_TOKEN", WRITE)
        .env("PROGRESSD_READ_TOKEN", READ)
        .env("RUST_LOG", "debug");
    let mut server = common::BinaryServer::spawn(command)?;
    let addr = server.addr.to_string();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let wrong = "wrong-token-0000";
    for (path, token) in [
        ("update?jobid=j&workid=w&current=1&total=2", WRITE),
        ("update?jobid=j&workid=w&current=1&total=2", wrong),
        ("status?jobid=j", READ),
        ("status?jobid=j", wrong),
        // A fault on the request path logs its path.
        ("update?jobid=j&workid=x&current=1", WRITE),
        ("nowhere", READ),
    ] {
        let _ = agent
            .get(format!("http://{addr}/progress/{path}&token={token}"))
            .call();
        let _ = agent
            .get(format!("http://{addr}/progress/{path}"))
            .header("Authorization", format!("Bearer {token}"))
            .call();
    }
    // A path with a line break and a terminal escape in it, raw.
    let _ = common::raw_exchange(
        &addr,
        b"GET /x\x1b[31m\rforged HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    server.stop_with("TERM")?;
    let log = server.log();
    assert!(log.contains("stopped"), "the server ran and stopped: {log}");
    // One line per request: method, path (never the query), status, time.
    assert!(log.contains("[INFO] GET /progress/update 200 "), "{log}");
    assert!(log.contains("[INFO] GET /progress/update 401 "), "{log}");
    assert!(log.contains("[INFO] GET /progress/status 401 "), "{log}");
    assert!(
        !log.contains('\u{1b}') && !log.contains("\rforged"),
        "{log:?}"
    );
    for token in [WRITE, READ, wrong] {
        assert!(!log.contains(token), "{token} in the log:\n{log}");
    }
    Ok(())
}
