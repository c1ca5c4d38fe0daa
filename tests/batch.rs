//! Batch updates: `POST /progress/update?jobid=J` with one update per line
//! of the body, stored in one commit, all or none (docs/api.md, "Batch updates").

mod common;

use std::process::Command;

use common::{TestResult, TestServer, worker};

/// POSTs `body` to `update?jobid=` `job` (already URL-encoded).
fn batch(s: &TestServer, job: &str, body: &str) -> common::Reply {
    s.post(&format!("/progress/update?jobid={job}"), body)
}

/// The status code of `status` for a job: 404 when it does not exist.
fn status_code(s: &TestServer, job: &str) -> u16 {
    s.get(&format!("/progress/status?jobid={job}")).status
}

#[test]
fn a_batch_is_stored_and_answered_in_one_line() {
    let s = TestServer::start();
    let body = "workid=rank0&current=5&total=10&desc=step+1\n\
                workid=rank1&current=7&total=10&ok=0\n\
                workid=rank%202&current=10&total=10\n";
    let r = batch(&s, "driver", body);
    assert_eq!((r.status, r.body.as_str()), (200, "OK 3 updates\n"));
    let status = s.status("driver");
    assert_eq!(status["workers"].as_array().map(Vec::len), Some(3));
    let rank0 = worker(&status, "rank0");
    assert_eq!(
        (rank0["current"].as_f64(), rank0["desc"].as_str()),
        (Some(5.0), Some("step 1"))
    );
    assert_eq!(worker(&status, "rank1")["state"], "failed");
    assert_eq!(worker(&status, "rank 2")["state"], "done");
    // Later batches keep total and desc when a line leaves them out.
    let r = batch(
        &s,
        "driver",
        "workid=rank0&current=6\nworkid=rank1&current=8",
    );
    assert_eq!((r.status, r.body.as_str()), (200, "OK 2 updates\n"));
    let status = s.status("driver");
    let rank0 = worker(&status, "rank0");
    assert_eq!(
        (
            rank0["current"].as_f64(),
            rank0["total"].as_f64(),
            rank0["desc"].as_str()
        ),
        (Some(6.0), Some(10.0), Some("step 1"))
    );
    assert_eq!(
        worker(&status, "rank1")["state"],
        "running",
        "ok set afresh"
    );
}

#[test]
fn a_bad_line_is_named_and_nothing_of_its_batch_is_applied() {
    let s = TestServer::start();
    s.update(&[
        ("jobid", "j"),
        ("workid", "a"),
        ("current", "1"),
        ("total", "10"),
    ]);
    for (bad, answer) in [
        (
            "workid=c&current=abc",
            "line 7: parameter 'current': must be a number such as 5, 5.0 or 1e3, got \"abc\"\n",
        ),
        (
            "workid=c&current=1&okay=0",
            "line 7: parameter 'okay': is not a parameter here; use jobid, workid, current, \
             total, ok, desc, seq\n",
        ),
        (
            "workid=c&current=1&total=-1",
            "line 7: parameter 'total': must not be negative, got \"-1\"\n",
        ),
        ("current=1", "line 7: parameter 'workid': is required\n"),
        (
            "workid=c&current=1&seq=x",
            "line 7: parameter 'seq': must be a whole number from 0 to 9007199254740991, got \"x\"\n",
        ),
    ] {
        // Six good lines (one of them empty), then the bad one.
        let body = format!(
            "workid=a&current=5\nworkid=b&current=1&total=2\n\nworkid=a&current=6\n\
             workid=b&current=2\nworkid=d&current=1&total=4\n{bad}\nworkid=a&current=9\n"
        );
        let r = batch(&s, "j", &body);
        assert_eq!((r.status, r.body.as_str()), (400, answer), "{bad}");
        assert!(r.content_type.starts_with("text/plain"));
        let status = s.status("j");
        assert_eq!(
            worker(&status, "a")["current"],
            1.0,
            "{bad}: nothing applied"
        );
        assert_eq!(status["workers"].as_array().map(Vec::len), Some(1), "{bad}");
    }
    // A batch for a new job creates nothing when a line is bad.
    let r = batch(
        &s,
        "fresh",
        "workid=a&current=1&total=2\nworkid=b&current=x&total=2",
    );
    assert_eq!(r.status, 400);
    assert_eq!(status_code(&s, "fresh"), 404);
    // Invalid UTF-8 in a line.
    let r = batch(&s, "j", "workid=a&current=2\nworkid=%FF&current=1");
    assert_eq!(r.status, 400);
    assert!(
        r.body.starts_with("line 2: parameter 'workid': "),
        "{}",
        r.body
    );
}

#[test]
fn a_line_the_store_refuses_fails_the_whole_batch() {
    let s = TestServer::start_with(|c| c.max_workers_per_job = 3);
    // A new worker without a total, on line 3: the job the first line
    // would create is not created either.
    let r = batch(
        &s,
        "new",
        "workid=a&current=1&total=2\nworkid=b&current=1&total=2\nworkid=c&current=1",
    );
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            "line 3: parameter 'total': is required on a worker's first update\n"
        )
    );
    assert_eq!(status_code(&s, "new"), 404);
    // The per-job cap, on line 4: nothing stored, and the count stays right
    // for the batches after.
    let four = "workid=a&current=1&total=9\nworkid=b&current=1&total=9\n\
                workid=c&current=1&total=9\nworkid=d&current=1&total=9\n";
    let r = batch(&s, "capped", four);
    assert_eq!(r.status, 413, "{}", r.body);
    assert!(
        r.body.starts_with("line 4: this job already has 3 workers"),
        "{}",
        r.body
    );
    assert_eq!(status_code(&s, "capped"), 404);
    let three =
        "workid=a&current=2&total=9\nworkid=b&current=2&total=9\nworkid=c&current=2&total=9";
    assert_eq!(batch(&s, "capped", three).body, "OK 3 updates\n");
    let r = batch(
        &s,
        "capped",
        "workid=a&current=3\nworkid=d&current=3&total=9",
    );
    assert_eq!(r.status, 413, "{}", r.body);
    assert!(r.body.starts_with("line 2: "), "{}", r.body);
    assert_eq!(
        worker(&s.status("capped"), "a")["current"],
        2.0,
        "line 1 undone"
    );
}

#[test]
fn a_line_past_the_stored_worker_cap_answers_429_naming_it() {
    let s = TestServer::start_with(|c| c.max_workers = 2);
    let r = batch(
        &s,
        "j",
        "workid=a&current=1&total=9\nworkid=b&current=1&total=9\nworkid=c&current=1&total=9",
    );
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(
        r.body
            .starts_with("line 3: the server already holds 2 workers"),
        "{}",
        r.body
    );
    assert_eq!(status_code(&s, "j"), 404);
}

#[test]
fn the_same_worker_twice_in_a_batch_ends_as_its_later_line_says() {
    let s = TestServer::start();
    // The first line is its first report (with the total); the second
    // needs none.
    let r = batch(
        &s,
        "dup",
        "workid=w&current=1&total=10&desc=first\nworkid=w&current=4&ok=0&desc=second",
    );
    assert_eq!(r.body, "OK 2 updates\n");
    let w = worker(&s.status("dup"), "w").clone();
    assert_eq!(
        (
            w["current"].as_f64(),
            w["total"].as_f64(),
            w["desc"].as_str(),
            w["ok"].as_bool()
        ),
        (Some(4.0), Some(10.0), Some("second"), Some(false))
    );
}

#[test]
fn seq_rules_hold_within_a_batch_and_across_requests() {
    let s = TestServer::start();
    let r = batch(
        &s,
        "seq",
        "workid=w&current=50&total=100&seq=5\nworkid=w&current=30&seq=3\nworkid=x&current=1&total=2&seq=1",
    );
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            200,
            "OK 3 updates (1 not applied: seq below the stored one)\n"
        )
    );
    assert_eq!(worker(&s.status("seq"), "w")["current"], 50.0);
    // A late retry of an older batch moves nothing back.
    let r = batch(
        &s,
        "seq",
        "workid=w&current=40&seq=4\nworkid=x&current=0&seq=0",
    );
    assert_eq!(
        r.body,
        "OK 2 updates (2 not applied: seq below the stored one)\n"
    );
    let status = s.status("seq");
    assert_eq!(
        (
            worker(&status, "w")["current"].as_f64(),
            worker(&status, "x")["current"].as_f64()
        ),
        (Some(50.0), Some(1.0))
    );
    let metrics = s.get("/metrics").body;
    assert!(
        metrics.contains("\nprogressd_updates_committed_total 2\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("\nprogressd_updates_ignored_total 3\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("\nprogressd_update_batches_total 2\n"),
        "{metrics}"
    );
}

#[test]
fn an_empty_or_one_line_body_is_a_single_update_as_before() {
    let s = TestServer::start();
    // No line: the query string is the update, as it always was.
    for body in ["", "\n", "\r\n\r\n"] {
        let r = batch(&s, "one", body);
        assert_eq!(
            (r.status, r.body.as_str()),
            (400, "parameter 'workid': is required\n"),
            "{body:?}"
        );
        let r = s.post(
            "/progress/update?jobid=one&workid=q&current=1&total=2",
            body,
        );
        assert_eq!((r.status, r.body.as_str()), (200, "OK\n"), "{body:?}");
    }
    // One line, with the jobid in it (overriding the query's, as a form
    // body always has), with or without its line end.
    for body in [
        "jobid=one&workid=w&current=1&total=2",
        "jobid=one&workid=w&current=2&total=2\n",
        "\r\njobid=one&workid=w&current=3&total=4\r\n\r\n",
    ] {
        let r = s.post("/progress/update?jobid=other", body);
        assert_eq!((r.status, r.body.as_str()), (200, "OK\n"), "{body:?}");
    }
    let w = worker(&s.status("one"), "w").clone();
    assert_eq!(
        (w["current"].as_f64(), w["total"].as_f64()),
        (Some(3.0), Some(4.0))
    );
    assert_eq!(status_code(&s, "other"), 404);
    // And the query's jobid for one line without it.
    let r = batch(&s, "one", "workid=v&current=1&total=2\n");
    assert_eq!((r.status, r.body.as_str()), (200, "OK\n"));
    assert_eq!(worker(&s.status("one"), "v")["current"], 1.0);
}

#[test]
fn a_batch_takes_its_jobid_from_the_query_string() {
    let s = TestServer::start();
    let two = "workid=a&current=1&total=2\nworkid=b&current=1&total=2";
    let r = s.post("/progress/update", two);
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            "parameter 'jobid': is required in a batch's query string \
             (POST /progress/update?jobid=J)\n"
        )
    );
    let r = s.post("/progress/update?jobid=j&workid=a", two);
    assert_eq!(r.status, 400);
    assert!(
        r.body
            .starts_with("parameter 'workid': is not a parameter of a batch's query string")
    );
    // A line may repeat the query's jobid, and no other.
    let r = batch(
        &s,
        "j",
        "jobid=j&workid=a&current=1&total=2\nworkid=b&current=1&total=2",
    );
    assert_eq!(r.body, "OK 2 updates\n");
    let r = batch(&s, "j", "workid=a&current=2\njobid=k&workid=b&current=2");
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            "line 2: parameter 'jobid': must be the query string's jobid, or left out: \
             a batch reports on one job\n"
        )
    );
    assert_eq!(status_code(&s, "k"), 404);
    assert_eq!(worker(&s.status("j"), "a")["current"], 1.0);
    // A percent-encoded jobid is compared decoded.
    let r = batch(
        &s,
        "a%20b",
        "jobid=a+b&workid=a&current=1&total=2\nworkid=b&current=1&total=2",
    );
    assert_eq!(r.body, "OK 2 updates\n");
    assert_eq!(s.status("a b")["workers"].as_array().map(Vec::len), Some(2));
}

#[test]
fn a_batch_holds_at_most_1000_updates() {
    let s = TestServer::start();
    let lines = |n: usize| -> String {
        (0..n)
            .map(|i| format!("workid={i}&current=1&total=2\n"))
            .collect()
    };
    let r = batch(&s, "big", &lines(1001));
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            413,
            "the batch holds 1001 updates, more than the 1000 one request may; send it in parts\n"
        )
    );
    assert_eq!(status_code(&s, "big"), 404);
    let r = batch(&s, "big", &lines(1000));
    assert_eq!((r.status, r.body.as_str()), (200, "OK 1000 updates\n"));
    assert_eq!(
        s.status("big")["workers"].as_array().map(Vec::len),
        Some(1000)
    );
}

#[test]
fn crlf_line_ends_read_as_lf() {
    let s = TestServer::start();
    let r = batch(
        &s,
        "crlf",
        "workid=a&current=1&total=10\r\nworkid=b&current=2&total=20\r\n\r\n",
    );
    assert_eq!((r.status, r.body.as_str()), (200, "OK 2 updates\n"));
    let status = s.status("crlf");
    assert_eq!(worker(&status, "a")["total"], 10.0);
    assert_eq!(worker(&status, "b")["total"], 20.0);
    // A CR that ends no line stays in its value, as in any form.
    let r = batch(
        &s,
        "crlf",
        "workid=a&current=1\r&total=10\nworkid=b&current=2\n",
    );
    assert_eq!(r.status, 400);
    assert!(
        r.body.starts_with("line 1: parameter 'current': "),
        "{}",
        r.body
    );
    let r = batch(&s, "crlf", "workid=a&current=3\nworkid=b&current=4\r");
    assert_eq!(r.status, 400);
    assert!(
        r.body.starts_with("line 2: parameter 'current': "),
        "{}",
        r.body
    );
}

#[test]
fn a_percent_encoded_newline_is_a_character_not_a_line_end() {
    let s = TestServer::start();
    let r = batch(
        &s,
        "nl",
        "workid=a&current=1&total=2&desc=one%0Atwo%0D%0A\nworkid=b&current=1&total=2",
    );
    assert_eq!(r.body, "OK 2 updates\n");
    assert_eq!(worker(&s.status("nl"), "a")["desc"], "one\ntwo\r\n");
    // In an id it is refused as in a single update, naming the line.
    let r = batch(
        &s,
        "nl",
        "workid=a&current=1\nworkid=b%0Ac&current=1&total=2",
    );
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            "line 2: parameter 'workid': contains U+000A (a control character)\n"
        )
    );
    // A raw LF inside a single update's body value now ends a line: the
    // body is a batch, and its query string has no jobid.
    let r = s.post("/progress/update", "jobid=nl&workid=a&current=1&desc=x\ny");
    assert_eq!(r.status, 400);
    assert!(
        r.body
            .starts_with("parameter 'jobid': is required in a batch's"),
        "{}",
        r.body
    );
}

#[test]
fn batches_need_the_write_token_in_the_query_or_a_header() {
    let s = TestServer::start_with(|c| c.tokens.write = Some("w-token".into()));
    let two = "workid=a&current=1&total=2\nworkid=b&current=1&total=2";
    assert_eq!(batch(&s, "t", two).status, 401);
    // In a line the token is no parameter: it is not read as one.
    let r = batch(
        &s,
        "t",
        "token=w-token&workid=a&current=1&total=2\nworkid=b&current=1&total=2",
    );
    assert_eq!(r.status, 401);
    assert_eq!(batch(&s, "t&token=w-token", two).body, "OK 2 updates\n");
    let r = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
        .post(format!("{}/progress/update?jobid=t", s.base))
        .header("Authorization", "Bearer w-token")
        .send(two)
        .expect("answered");
    assert_eq!(r.status(), 200);
}

#[test]
fn curl_data_binary_from_a_file_sends_a_batch() -> TestResult {
    let found = Command::new("curl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        if std::env::var_os("CI").is_some() {
            return Err("CI is set but curl is missing (.ci/run installs it)".into());
        }
        eprintln!("SKIPPED curl batch test: curl not found");
        return Ok(());
    }
    let s = TestServer::start();
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("batch.txt");
    let lines: String = (0..100)
        .map(|rank| format!("workid=rank{rank}&current={rank}&total=99&desc=step+%231\n"))
        .collect();
    std::fs::write(&file, lines)?;
    let out = Command::new("curl")
        .args(["-sS", "--fail-with-body", "--data-binary"])
        .arg(format!("@{}", file.display()))
        .arg(format!("{}/progress/update?jobid=from-curl", s.base))
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout)?, "OK 100 updates\n");
    let status = s.status("from-curl");
    assert_eq!(status["workers"].as_array().map(Vec::len), Some(100));
    let last = worker(&status, "rank99");
    assert_eq!(
        (last["state"].as_str(), last["desc"].as_str()),
        (Some("done"), Some("step #1"))
    );
    Ok(())
}
