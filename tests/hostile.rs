//! Requests that used to take the server down, or could: each must be
//! answered or closed, and the server must keep serving afterwards.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use common::{TestServer, raw_exchange};

/// How long `/healthz` and an update of job "small" take; both must
/// answer 200.
fn healthz_and_an_update(s: &TestServer) -> Duration {
    let probe = Instant::now();
    let health = s.get("/healthz");
    let update = s.get("/progress/update?jobid=small&workid=w&current=1&total=2");
    let took = probe.elapsed();
    assert_eq!((health.status, update.status), (200, 200));
    took
}

/// Reads until the server closes the connection (EOF or reset) or the
/// read timeout passes; says which, with what arrived.
fn read_until_closed(stream: &mut TcpStream) -> (bool, Vec<u8>) {
    let mut got = Vec::new();
    let closed = match stream.read_to_end(&mut got) {
        Ok(_) => true,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    };
    (closed, got)
}

fn still_serves(s: &TestServer) {
    let r = s.get("/progress/jobs");
    assert_eq!(r.status, 200, "the server still answers");
}

#[test]
fn huge_content_length_on_get_does_not_abort_the_process() {
    // tiny_http 0.12 drained the unread body into vec![0; content_length].
    let s = TestServer::start();
    let answer = raw_exchange(
        &s.addr(),
        b"GET /progress/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 900000000000000\r\n\r\n",
    );
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    still_serves(&s);
}

#[test]
fn huge_content_length_on_post_is_refused_with_413() {
    let s = TestServer::start();
    let answer = raw_exchange(
        &s.addr(),
        b"POST /progress/update HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 900000000000000\r\n\r\njobid=a",
    );
    assert!(
        answer.starts_with(b"HTTP/1.1 413"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    still_serves(&s);
}

#[test]
fn body_bytes_past_the_drain_limit_are_never_parsed_as_a_request() {
    // A 2 MiB body that the handler does not read, ending in what looks like
    // a request: the connection must close after the first answer.
    let s = TestServer::start();
    let smuggled = b"GET /progress/delete?jobid=victim HTTP/1.1\r\nHost: x\r\n\r\n";
    let filler = vec![b'a'; 2 * 1024 * 1024 - smuggled.len()];
    let mut request = format!(
        "GET /progress/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        2 * 1024 * 1024
    )
    .into_bytes();
    request.extend_from_slice(&filler);
    request.extend_from_slice(smuggled);
    s.update(&[
        ("jobid", "victim"),
        ("workid", "w"),
        ("current", "1"),
        ("total", "2"),
    ]);
    let answer = raw_exchange(&s.addr(), &request);
    let answers = String::from_utf8_lossy(&answer)
        .matches("HTTP/1.1 ")
        .count();
    assert_eq!(answers, 1, "only the first request is answered");
    s.status("victim");
}

#[test]
fn an_endless_header_line_closes_the_connection() {
    let s = TestServer::start();
    let mut stream = TcpStream::connect(s.addr()).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut request = b"GET /progress/jobs HTTP/1.1\r\nX-Long: ".to_vec();
    request.extend(std::iter::repeat_n(b'a', 1024 * 1024));
    // The server closes mid-write; a broken pipe here is the point.
    let _ = stream.write_all(&request);
    // The server closes the connection itself (EOF or reset); before the
    // fix it kept buffering and this read timed out.
    let (closed, answer) = read_until_closed(&mut stream);
    assert!(closed, "the server closed the connection");
    assert!(
        !answer.starts_with(b"HTTP/1.1 200"),
        "the request was not served"
    );
    still_serves(&s);
}

#[test]
fn stalled_request_bodies_do_not_hold_the_request_threads() {
    // tiny_http 0.12 handed a request with a body over 1 KiB to the request
    // threads before reading it, so two stalled bodies held both threads
    // until their timeout. Bodies up to the form limit are now read on the
    // connection's own thread first.
    // Later found: bodies sent with `Expect: 100-continue`, chunked ones,
    // and ones over the limit (drained after the answer) were still read on
    // a request thread. Each kind, twice, against two request threads.
    let s = TestServer::start_with(|c| c.threads = 2);
    let heads: [&[u8]; 4] = [
        b"POST /progress/create HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\njobid=slow",
        b"POST /progress/create HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n",
        b"POST /progress/create HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\njobid=",
        b"GET /progress/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nabc",
    ];
    let stalled: Vec<TcpStream> = heads
        .iter()
        .chain(heads.iter())
        .map(|head| {
            let mut stream = TcpStream::connect(s.addr()).expect("connect");
            stream.write_all(head).expect("write");
            stream
        })
        .collect();
    thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    still_serves(&s);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "served after {:?}",
        started.elapsed()
    );
    drop(stalled);
}

#[test]
fn a_request_trickled_a_byte_at_a_time_is_cut_off_at_the_deadline() {
    // A per-read timeout never fires while bytes keep coming; the request
    // deadline does.
    let s = TestServer::start_with(|c| c.request_timeout = Duration::from_secs(1));
    let mut stream = TcpStream::connect(s.addr()).expect("connect");
    stream
        .write_all(b"GET /progress/jobs HTTP/1.1\r\nX-Slow: ")
        .expect("write");
    let started = Instant::now();
    let mut closed = false;
    while started.elapsed() < Duration::from_secs(5) {
        thread::sleep(Duration::from_millis(200));
        if stream.write_all(b"a").is_err() {
            closed = true;
            break;
        }
        stream
            .set_read_timeout(Some(Duration::from_millis(1)))
            .expect("timeout");
        let mut buf = [0u8; 64];
        if matches!(stream.read(&mut buf), Ok(0)) {
            closed = true;
            break;
        }
    }
    let took = started.elapsed();
    assert!(closed, "still open after {took:?}");
    assert!(took < Duration::from_secs(3), "closed after {took:?}");
    still_serves(&s);
}

#[test]
fn connections_past_the_limit_are_told_503_and_served_again_later() {
    let s = TestServer::start_with(|c| c.max_connections = 4);
    let idle: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(s.addr()).expect("connect"))
        .collect();
    thread::sleep(Duration::from_millis(200));
    let answer = raw_exchange(&s.addr(), b"GET /progress/jobs HTTP/1.1\r\nHost: x\r\n\r\n");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(
        text.ends_with("too many connections open; try again soon\n"),
        "{text}"
    );
    drop(idle);
    thread::sleep(Duration::from_millis(200));
    still_serves(&s);
}

#[test]
fn head_answers_like_get_without_body_bytes() {
    let s = TestServer::start();
    s.update(&[
        ("jobid", "h"),
        ("workid", "w"),
        ("current", "1"),
        ("total", "2"),
    ]);
    for (path, content_type) in [
        ("status", "application/json"),
        ("render.svg", "image/svg+xml; charset=utf-8"),
    ] {
        let request = format!(
            "HEAD /progress/{path}?jobid=h HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        );
        let answer = raw_exchange(&s.addr(), request.as_bytes());
        let text = String::from_utf8_lossy(&answer);
        let (head, body) = text.split_once("\r\n\r\n").expect("a complete head");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains(&format!("content-type: {content_type}")),
            "{head}"
        );
        assert_eq!(body, "", "no body after the head of {path}");
    }
    let answer = raw_exchange(
        &s.addr(),
        b"HEAD /progress/status?jobid=nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 404"), "{text}");
    assert!(
        text.ends_with("\r\n\r\n"),
        "no body after a 404 head either"
    );
}

#[test]
fn absolute_form_request_targets_are_routed() {
    let s = TestServer::start();
    let answer = raw_exchange(
        &s.addr(),
        b"GET http://example.org/progress/update?jobid=abs&workid=w&current=1&total=2 HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n",
    );
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    s.status("abs");
}

#[test]
fn sixty_four_kept_alive_connections_opened_at_once_are_all_answered() {
    // Each connection holds a thread while it stays open. (tiny_http 0.12's
    // task pool could also strand a new connection until another closed; that
    // race needs a loaded machine to show, so the loadgen example is where
    // it was seen and where its fix is exercised.)
    let s = TestServer::start();
    let addr = s.addr();
    let clients: Vec<_> = (0..64)
        .map(|i| {
            let addr = addr.clone();
            thread::spawn(move || {
                let mut stream = TcpStream::connect(&addr).expect("connect");
                stream.set_read_timeout(Some(Duration::from_secs(4))).expect("timeout");
                let request = format!(
                    "GET /progress/update?jobid=many&workid={i}&current=1&total=2 HTTP/1.1\r\nHost: x\r\n\r\n"
                );
                stream.write_all(request.as_bytes()).expect("write");
                let mut buf = [0u8; 12];
                let answered = stream.read_exact(&mut buf).is_ok() && buf.starts_with(b"HTTP/1.1 200");
                // Hold the connection open until every client has its answer.
                thread::sleep(Duration::from_millis(500));
                answered
            })
        })
        .collect();
    let answered = clients
        .into_iter()
        .map(|c| c.join().expect("client"))
        .filter(|&ok| ok)
        .count();
    assert_eq!(answered, 64);
}

#[test]
fn running_out_of_file_descriptors_does_not_stop_the_accept_loop() -> common::TestResult {
    // tiny_http 0.12 ended its accept thread on the first accept error, and
    // panicked (closing the listener) when it accepted a connection with the
    // last free descriptor and could not duplicate it. Which of the two a
    // flood hits depends on whether the free descriptors are odd or even in
    // number, so try both limits.
    for limit in [64, 65] {
        let dir = tempfile::tempdir()?;
        let db = dir.path().join("fd.sqlite3");
        let mut command = std::process::Command::new("sh");
        command
            .arg("-c")
            .arg("ulimit -n \"$2\" && exec \"$0\" --listen 127.0.0.1:0 --threads 2 --db \"$1\"")
            .arg(env!("CARGO_BIN_EXE_progressd"))
            .arg(&db)
            .arg(limit.to_string());
        let server = common::BinaryServer::spawn(command)?;
        // Far more connections than descriptors: accept fails with EMFILE.
        let flood: Vec<TcpStream> = (0..120)
            .filter_map(|_| TcpStream::connect(&server.addr).ok())
            .collect();
        thread::sleep(Duration::from_millis(300));
        drop(flood);
        thread::sleep(Duration::from_millis(500));
        let answer = raw_exchange(
            &server.addr.to_string(),
            b"GET /progress/jobs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        assert!(
            answer.starts_with(b"HTTP/1.1 200"),
            "served again with ulimit -n {limit}: {}",
            String::from_utf8_lossy(&answer)
        );
    }
    Ok(())
}

#[test]
fn no_response_header_carries_client_text() {
    // Header injection: a value with CR LF (raw or encoded) must never
    // start a header of its own, and no header may echo what the client
    // sent. Every response's head may only hold these names.
    const ALLOWED: &[&str] = &[
        "server",
        "date",
        "content-type",
        "content-length",
        "transfer-encoding",
        "connection",
        "x-content-type-options",
        "content-security-policy",
        "referrer-policy",
        "cache-control",
        "etag",
        "location",
        "allow",
        "www-authenticate",
        "access-control-allow-origin",
    ];
    let s = TestServer::start();
    s.update(&[
        ("jobid", "inj"),
        ("workid", "w"),
        ("current", "1"),
        ("total", "2"),
    ]);
    let marker = "Injected-kq7";
    let evil = format!("x%0d%0a{marker}:%20yes%0d%0a%0d%0a");
    let targets = [
        format!("/progress/create?jobid={evil}&desc={evil}"),
        format!("/progress/update?jobid={evil}&workid={evil}&current=1&total=2"),
        format!("/progress/status?jobid={evil}"),
        format!("/progress/show?jobid={evil}"),
        format!("/progress/render?jobid={evil}"),
        format!("/progress/render?jobid=inj&width={evil}"),
        format!("/progress/render.svg?jobid={evil}"),
        format!("/progress/render.svg?jobid=inj&width={evil}"),
        format!("/progress/delete?jobid={evil}"),
        format!("/progress/{evil}"),
        format!("/{evil}"),
        "/progress/status?jobid=inj".to_string(),
    ];
    for target in &targets {
        for extra in [
            String::new(),
            format!("If-None-Match: \"{marker}\"\r\n"),
            format!("Authorization: Bearer {marker}\r\n"),
        ] {
            let request =
                format!("GET {target} HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n");
            let answer = raw_exchange(&s.addr(), request.as_bytes());
            let text = String::from_utf8_lossy(&answer);
            let head = text.split("\r\n\r\n").next().unwrap_or_default();
            assert!(head.starts_with("HTTP/1.1 "), "{target}: {head}");
            for line in head.lines().skip(1) {
                let name = line
                    .split(':')
                    .next()
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                assert!(
                    ALLOWED.contains(&name.as_str()),
                    "{target}: header {line:?}"
                );
                assert!(
                    !line.contains(marker),
                    "{target}: {line:?} echoes the client"
                );
            }
        }
    }
}

#[test]
fn a_body_behind_a_bad_content_length_is_never_run_as_a_request() {
    // tiny_http read an unparseable Content-Length as "no body", so on a
    // kept-alive connection the body ran as the next request: request
    // smuggling, behind a proxy that framed it another way.
    let s = TestServer::start();
    s.update(&[
        ("jobid", "keep"),
        ("workid", "w"),
        ("current", "1"),
        ("total", "2"),
    ]);
    let smuggled = "GET /progress/delete?jobid=keep HTTP/1.1\r\nHost: x\r\n\r\n";
    for length in ["abc", "+57", "57, 57", "-1", "18446744073709551616"] {
        let request = format!(
            "POST /progress/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n{smuggled}"
        );
        let answer = raw_exchange(&s.addr(), request.as_bytes());
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 400"), "{length}: {text}");
        assert_eq!(text.matches("HTTP/1.1").count(), 1, "{length}: {text}");
    }
    for te in ["gzip", "chunked, chunked", "identity"] {
        let request = format!(
            "POST /progress/jobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: {te}\r\n\r\n{smuggled}"
        );
        let answer = raw_exchange(&s.addr(), request.as_bytes());
        assert!(answer.starts_with(b"HTTP/1.1 400"), "{te}");
    }
    assert_eq!(
        s.get("/progress/status?jobid=keep").status,
        200,
        "not deleted"
    );
}

#[test]
fn a_slow_answer_does_not_time_out_the_next_request_on_its_connection() {
    // The wait for a kept-alive connection's next request used to start
    // when the previous request was handed over, so an answer slower than
    // the request timeout made the connection send a stray 408, which the
    // client took as the answer to its next request.
    let s = TestServer::start_with(|c| c.request_timeout = Duration::from_millis(200));
    let mut stream = TcpStream::connect(s.addr()).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut reader = std::io::BufReader::new(stream.try_clone().expect("clone"));
    // Another connection holds the write lock for 600 ms, so the writer
    // (and the update's answer) waits that long.
    let blocker = rusqlite::Connection::open(s.db()).expect("open");
    blocker.execute_batch("BEGIN IMMEDIATE").expect("lock");
    let release = thread::spawn(move || {
        thread::sleep(Duration::from_millis(600));
        blocker.execute_batch("COMMIT").expect("unlock");
    });
    let started = Instant::now();
    stream
        .write_all(
            b"GET /progress/update?jobid=slow&workid=w&current=1&total=2 HTTP/1.1\r\nHost: x\r\n\r\n",
        )
        .expect("write");
    assert_eq!(read_response(&mut reader), 200);
    let took = started.elapsed();
    assert!(
        took > Duration::from_millis(400),
        "the answer took {took:?}"
    );
    release.join().expect("released");
    // The next request on the same connection gets its own answer.
    stream
        .write_all(b"GET /progress/status?jobid=slow HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    assert_eq!(read_response(&mut reader), 200);
}

/// Workers of the job whose show page is the large answer of these tests.
const LARGE_PAGE_WORKERS: u64 = 20_000;

/// Creates a job of 20,000 workers whose show page is larger than the
/// socket buffers hold (Linux's largest send buffer is 4 MiB by default),
/// and returns the page's size. The server must list every worker of such
/// a job on its page (`list_all_up_to` of [`LARGE_PAGE_WORKERS`]), as it
/// did by default before big jobs got a page of their own.
fn create_job_with_a_large_page(s: &TestServer, jobid: &str) -> usize {
    let created = s.get(&format!(
        "/progress/create?jobid={jobid}&workers={LARGE_PAGE_WORKERS}"
    ));
    assert_eq!(created.status, 200, "{}", created.body);
    common::wait_for_roster(&s.addr(), jobid, 20000);
    let size = s.get(&format!("/progress/show?jobid={jobid}")).bytes.len();
    assert!(size > 8 << 20, "the page is only {size} bytes");
    size
}

/// Whether the start of an answer arrives on `stream` within `within`,
/// read without taking it off the socket.
fn answer_begins(stream: &TcpStream, within: Duration) -> bool {
    stream
        .set_read_timeout(Some(within.max(Duration::from_millis(1))))
        .is_ok()
        && stream.peek(&mut [0u8; 1]).is_ok_and(|n| n > 0)
}

#[test]
fn clients_that_never_read_a_large_answer_do_not_hold_the_request_threads() {
    // Issue 11: a request thread wrote its answer to the socket itself, so a
    // client that asked for a page of many megabytes and never read it held
    // that thread until --request-timeout. As many such clients as request
    // threads stopped the service (/healthz took 11 s).
    let s = TestServer::start_with(|c| {
        c.list_all_up_to = LARGE_PAGE_WORKERS;
        c.request_timeout = Duration::from_secs(30);
    });
    create_job_with_a_large_page(&s, "big");
    let readers: Vec<TcpStream> = (0..s.config.threads + 2)
        .map(|_| {
            let mut stream = TcpStream::connect(s.addr()).expect("connect");
            stream
                .write_all(b"GET /progress/show?jobid=big HTTP/1.1\r\nHost: x\r\n\r\n")
                .expect("write");
            stream
        })
        .collect();
    // Wait until each has the start of its answer (or 20 s pass), so that
    // the probes below do not wait for the pages to be built.
    let started = Instant::now();
    let begun = readers
        .iter()
        .filter(|r| answer_begins(r, Duration::from_secs(20).saturating_sub(started.elapsed())))
        .count();
    let took = healthz_and_an_update(&s);
    assert!(
        took < Duration::from_secs(2),
        "/healthz and an update took {took:?} beside {} clients that never read",
        readers.len()
    );
    assert_eq!(begun, readers.len(), "every client's answer began");
}

/// The bytes the server keeps for clients that have not read their
/// answers, from /metrics.
fn unsent_bytes(s: &TestServer) -> usize {
    let metrics = s.get("/metrics");
    metrics
        .body
        .lines()
        .find_map(|l| l.strip_prefix("progressd_unsent_bytes "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no progressd_unsent_bytes in {}", metrics.body))
}

/// Reads what `stream` has until the server closes it (true) or sends
/// nothing for half a second (false), and how many bytes came.
fn read_until_closed_or_quiet(mut stream: &TcpStream) -> (bool, usize) {
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let (mut buf, mut got) = (vec![0u8; 64 * 1024], 0);
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (true, got),
            Ok(n) => got += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return (false, got);
            }
            Err(_) => return (true, got),
        }
    }
}

#[test]
fn clients_that_never_read_cannot_make_the_server_keep_more_than_its_budget() {
    // Issue 11 review: each open connection could keep the rest of a large
    // answer its client never read, until the response deadline; about 50
    // such clients of a 43 MB page made the server hold over 2 GB.
    const BUDGET: usize = 16 << 20;
    let s = TestServer::start_with(|c| {
        c.list_all_up_to = LARGE_PAGE_WORKERS;
        c.request_timeout = Duration::from_secs(30);
        c.max_unsent_bytes = BUDGET;
    });
    let size = create_job_with_a_large_page(&s, "big");
    let mut most_kept = 0;
    let readers: Vec<TcpStream> = (0..16)
        .map(|_| {
            let mut stream = TcpStream::connect(s.addr()).expect("connect");
            stream
                .write_all(b"GET /progress/show?jobid=big HTTP/1.1\r\nHost: x\r\n\r\n")
                .expect("write");
            assert!(answer_begins(&stream, Duration::from_secs(20)), "no answer");
            most_kept = most_kept.max(unsent_bytes(&s));
            stream
        })
        .collect();
    assert!(
        most_kept <= BUDGET,
        "kept {most_kept} bytes for clients that do not read; the budget is {BUDGET}"
    );
    let took = healthz_and_an_update(&s);
    assert!(
        took < Duration::from_secs(2),
        "/healthz and an update took {took:?}"
    );
    // The answers kept come whole on connections that stay open; the
    // others were cut short and their connections closed.
    let (mut whole, mut cut) = (0, 0);
    for reader in &readers {
        match read_until_closed_or_quiet(reader) {
            (false, got) if got > size => whole += 1,
            (true, got) if got < size => cut += 1,
            (closed, got) => panic!("closed: {closed}, {got} bytes of a {size}-byte page"),
        }
    }
    assert!(
        whole >= 1 && cut >= 1,
        "{whole} answers kept and {cut} cut short, of {}",
        readers.len()
    );
    assert_eq!(unsent_bytes(&s), 0, "the bytes kept were not given back");
    still_serves(&s);
}

#[test]
fn a_client_that_never_reads_its_answer_is_cut_off_at_the_deadline() {
    let s = TestServer::start_with(|c| {
        c.list_all_up_to = LARGE_PAGE_WORKERS;
        c.request_timeout = Duration::from_secs(1);
    });
    let size = create_job_with_a_large_page(&s, "big");
    let mut stream = TcpStream::connect(s.addr()).expect("connect");
    stream
        .write_all(b"GET /progress/show?jobid=big HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    assert!(answer_begins(&stream, Duration::from_secs(20)), "no answer");
    // Well past the response deadline, read what there is: the server has
    // closed the connection, short of the whole page.
    thread::sleep(Duration::from_millis(2500));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let (closed, got) = read_until_closed(&mut stream);
    assert!(closed, "still open");
    assert!(
        got.len() < size,
        "the whole page arrived: {} bytes",
        got.len()
    );
    still_serves(&s);
}

#[test]
fn answers_still_being_sent_count_against_the_connection_limit() {
    // The rest of an answer the socket does not take at once is sent by a
    // thread of its own; its connection counts as open until it is sent,
    // even after the connection's own thread is done (`Connection: close`),
    // so --max-connections bounds those threads and the memory they hold.
    let s = TestServer::start_with(|c| {
        c.list_all_up_to = LARGE_PAGE_WORKERS;
        c.max_connections = 3;
        c.request_timeout = Duration::from_secs(30);
    });
    // The test's own client keeps one connection open.
    create_job_with_a_large_page(&s, "big");
    let readers: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut stream = TcpStream::connect(s.addr()).expect("connect");
            stream
                .write_all(
                    b"GET /progress/show?jobid=big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                )
                .expect("write");
            assert!(answer_begins(&stream, Duration::from_secs(20)), "no answer");
            stream
        })
        .collect();
    thread::sleep(Duration::from_millis(200));
    let answer = raw_exchange(&s.addr(), b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    // Once the readers go, their sends end and the slots are free.
    drop(readers);
    thread::sleep(Duration::from_millis(500));
    let answer = raw_exchange(
        &s.addr(),
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
}

#[test]
fn a_large_answer_read_late_arrives_whole_and_in_order() {
    // The part of an answer the socket does not take at once is sent by
    // another thread: it must come whole, before the answer to a request
    // pipelined behind it, and the connection must serve on.
    let s = TestServer::start_with(|c| c.list_all_up_to = LARGE_PAGE_WORKERS);
    create_job_with_a_large_page(&s, "big");
    let mut stream = TcpStream::connect(s.addr()).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    stream
        .write_all(
            b"GET /progress/show?jobid=big HTTP/1.1\r\nHost: x\r\n\r\n\
              HEAD /progress/show?jobid=big HTTP/1.1\r\nHost: x\r\n\r\n\
              GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        )
        .expect("write");
    thread::sleep(Duration::from_millis(500));
    let mut reader = std::io::BufReader::new(stream.try_clone().expect("clone"));
    assert_eq!(read_response(&mut reader), 200, "the page");
    let mut line = String::new();
    std::io::BufRead::read_line(&mut reader, &mut line).expect("HEAD's status");
    assert!(line.starts_with("HTTP/1.1 200"), "HEAD: {line}");
    while line != "\r\n" {
        line.clear();
        std::io::BufRead::read_line(&mut reader, &mut line).expect("HEAD's head");
    }
    assert_eq!(read_response(&mut reader), 200, "/healthz after the HEAD");
    stream
        .write_all(b"GET /progress/status?jobid=big HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    assert_eq!(
        read_response(&mut reader),
        200,
        "status on the same connection"
    );
}

/// Reads a whole response (with a Content-Length or chunked) and returns
/// its status.
fn read_response(reader: &mut impl std::io::BufRead) -> u16 {
    let mut line = String::new();
    reader.read_line(&mut line).expect("status line");
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("status line {line:?}"));
    let (mut length, mut chunked) = (0, false);
    loop {
        line.clear();
        reader.read_line(&mut line).expect("header");
        if line.trim().is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').expect("a header");
        if name.eq_ignore_ascii_case("content-length") {
            length = value.trim().parse().expect("length");
        }
        chunked |= name.eq_ignore_ascii_case("transfer-encoding");
    }
    if !chunked {
        reader.read_exact(&mut vec![0; length]).expect("body");
        return status;
    }
    loop {
        line.clear();
        reader.read_line(&mut line).expect("chunk size");
        let size = usize::from_str_radix(line.trim(), 16).expect("hex size");
        // The chunk and its CRLF.
        reader.read_exact(&mut vec![0; size + 2]).expect("chunk");
        if size == 0 {
            return status;
        }
    }
}
