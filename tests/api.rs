//! The seed API end to end: every example of the spec, the input rules, and
//! the create/update/status/jobs/delete semantics, over real HTTP against a
//! real server on a temp SQLite file.

mod common;

use common::{TestResult, TestServer, curl_quote, python_query, python_quote, worker};
use progressd::clock::Secs;

fn percent(status: &serde_json::Value, workid: &str) -> f64 {
    worker(status, workid)["percent"]
        .as_f64()
        .expect("percent is a number")
}

#[test]
fn spec_create_and_update_examples_as_written() {
    let s = TestServer::start();
    let r = s.get("/progress/create?jobid=myjob123&desc=Testing");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.content_type.starts_with("text/plain"),
        "{}",
        r.content_type
    );
    assert_eq!(r.body.lines().count(), 1, "{}", r.body);
    assert!(
        r.body
            .contains(&format!("{}/progress/show?jobid=myjob123", s.base)),
        "{}",
        r.body
    );
    for query in [
        "jobid=myjob123&workid=1&current=5&total=22",
        "jobid=myjob123&workid=2&current=10&total=22",
        "jobid=myjob123&workid=3&current=21&total=22",
    ] {
        let r = s.get(&format!("/progress/update?{query}"));
        assert_eq!((r.status, r.body.as_str()), (200, "OK\n"));
    }
    let status = s.status("myjob123");
    assert_eq!(status["desc"], "Testing");
    assert_eq!(status["workers"].as_array().map(Vec::len), Some(3));
    for (workid, current) in [("1", 5.0), ("2", 10.0), ("3", 21.0)] {
        let w = worker(&status, workid);
        assert_eq!(w["current"].as_f64(), Some(current));
        assert_eq!(w["total"], 22);
        assert!((percent(&status, workid) - 100.0 * current / 22.0).abs() < 0.01);
        assert_eq!(w["state"], "running");
        assert_eq!(w["ok"], true);
    }
}

#[test]
fn spec_shell_example_with_raw_jobid_in_the_url() {
    // JOBID=${LOGNAME}:`date -Ins`, pasted unencoded into the URL as the
    // spec does: `+` decodes to a space, consistently in every request that
    // pastes it the same way, and the show URL we print names the same job.
    let s = TestServer::start();
    let raw = "alice:2026-11-25T21:46:45,123456789+00:00";
    let r = s.get(&format!("/progress/create?jobid={raw}&desc=My+Job"));
    assert_eq!(r.status, 200, "{}", r.body);
    let r2 = s.get(&format!(
        "/progress/update?jobid={raw}&workid=w1&current=1&total=2"
    ));
    assert_eq!(r2.status, 200, "{}", r2.body);
    let show = r
        .body
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("a URL in the answer");
    let query = show.split_once('?').expect("a query").1;
    let status = s.get(&format!("/progress/status?{query}")).json();
    assert_eq!(status["jobid"], "alice:2026-11-25T21:46:45,123456789 00:00");
    assert_eq!(status["desc"], "My Job");
    assert_eq!(status["workers"][0]["workid"], "w1");
}

#[test]
fn spec_curl_data_urlencode_example() {
    // curl -G --data-urlencode jobid="${JOBID}" --data-urlencode desc="This is my job"
    let s = TestServer::start();
    let jobid = "alice:2026-11-25T21:46:45,123456789+00:00";
    let r = s.get(&format!(
        "/progress/create?jobid={}&desc={}",
        curl_quote(jobid),
        curl_quote("This is my job")
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    let status = s.status(jobid);
    assert_eq!(status["jobid"], jobid, "the + is kept");
    assert_eq!(status["desc"], "This is my job");
    // The printed show URL carries the id encoded, + as %2B.
    assert!(r.body.contains("%2B00%3A00"), "{}", r.body);
}

#[test]
fn spec_python_requests_example() {
    // requests.get(url, params={'jobid': ..., 'workid': 'flagger1',
    //                           'current': 7, 'total': 50, 'desc': 'lots of RFI'})
    let s = TestServer::start();
    let jobid = "obs 1234567890/1764107205";
    s.update(&[
        ("jobid", jobid),
        ("workid", "flagger1"),
        ("current", "7"),
        ("total", "50"),
        ("desc", "lots of RFI"),
    ]);
    let status = s.status(jobid);
    let w = worker(&status, "flagger1");
    assert_eq!(w["desc"], "lots of RFI");
    assert_eq!(
        (w["current"].as_f64(), w["total"].as_f64()),
        (Some(7.0), Some(50.0))
    );
    assert_eq!(w["percent"].as_f64(), Some(14.0));
    // Python floats arrive as 7.5, 1e3 and so on.
    s.update(&[
        ("jobid", jobid),
        ("workid", "flagger1"),
        ("current", "7.5"),
        ("total", "1e3"),
    ]);
    let w = s.status(jobid)["workers"][0].clone();
    assert_eq!(
        (w["current"].as_f64(), w["total"].as_f64()),
        (Some(7.5), Some(1000.0))
    );
}

#[test]
fn post_form_bodies_work_like_query_strings() {
    let s = TestServer::start();
    let r = s.post("/progress/create", "jobid=posted&desc=Via+POST");
    assert_eq!(r.status, 200, "{}", r.body);
    let r = s.post(
        "/progress/update",
        &python_query(&[
            ("jobid", "posted"),
            ("workid", "a b"),
            ("current", "3"),
            ("total", "4"),
        ]),
    );
    assert_eq!((r.status, r.body.as_str()), (200, "OK\n"));
    let status = s.status("posted");
    assert_eq!(status["desc"], "Via POST");
    assert_eq!(worker(&status, "a b")["current"], 3);
}

#[test]
fn each_input_rule_gives_a_400_naming_the_parameter() {
    let s = TestServer::start();
    s.update(&[
        ("jobid", "j"),
        ("workid", "w"),
        ("current", "1"),
        ("total", "2"),
    ]);
    let long = |n: usize| "x".repeat(n);
    let cases: Vec<(String, &str)> = vec![
        ("/progress/create?desc=x".into(), "jobid"),
        ("/progress/create?jobid=".into(), "jobid"),
        (format!("/progress/create?jobid={}", long(257)), "jobid"),
        (
            format!("/progress/create?jobid=j&desc={}", long(1025)),
            "desc",
        ),
        ("/progress/create?jobid=j&maxage=0".into(), "maxage"),
        ("/progress/create?jobid=j&maxage=-60".into(), "maxage"),
        ("/progress/create?jobid=j&maxage=week".into(), "maxage"),
        ("/progress/create?jobid=j&maxage=315576001".into(), "maxage"),
        (
            "/progress/update?workid=w&current=1&total=2".into(),
            "jobid",
        ),
        (
            "/progress/update?jobid=j&current=1&total=2".into(),
            "workid",
        ),
        (
            format!("/progress/update?jobid=j&workid={}&current=1", long(129)),
            "workid",
        ),
        (
            "/progress/update?jobid=j&workid=w&total=2".into(),
            "current",
        ),
        (
            "/progress/update?jobid=j&workid=w&current=&total=2".into(),
            "current",
        ),
        (
            "/progress/update?jobid=j&workid=w&current=abc".into(),
            "current",
        ),
        (
            "/progress/update?jobid=j&workid=w&current=-1".into(),
            "current",
        ),
        (
            "/progress/update?jobid=j&workid=w&current=NaN".into(),
            "current",
        ),
        (
            "/progress/update?jobid=j&workid=w&current=inf".into(),
            "current",
        ),
        (
            "/progress/update?jobid=j&workid=w&current=1e309".into(),
            "current",
        ),
        (
            "/progress/update?jobid=j&workid=w&current=1&total=-2".into(),
            "total",
        ),
        (
            "/progress/update?jobid=j&workid=w&current=1&total=x".into(),
            "total",
        ),
        (
            "/progress/update?jobid=j&workid=w&current=1&ok=maybe".into(),
            "ok",
        ),
        (
            "/progress/update?jobid=j&workid=new&current=1".into(),
            "total",
        ),
        (
            "/progress/update?jobid=brand-new&workid=w&current=1".into(),
            "total",
        ),
        (
            "/progress/update?jobid=%FF&workid=w&current=1&total=2".into(),
            "jobid",
        ),
        ("/progress/status".into(), "jobid"),
        ("/progress/delete".into(), "jobid"),
        ("/progress/jobs?limit=0".into(), "limit"),
    ];
    for (url, param) in &cases {
        let r = s.get(url);
        assert_eq!(r.status, 400, "{url}: {}", r.body);
        assert!(r.content_type.starts_with("text/plain"), "{url}");
        assert_eq!(r.body.lines().count(), 1, "{url}: {}", r.body);
        assert!(
            r.body.starts_with(&format!("parameter '{param}': ")),
            "{url}: {}",
            r.body
        );
    }
    // Nothing of that was stored, and the server still serves.
    let status = s.status("j");
    assert_eq!(status["workers"].as_array().map(Vec::len), Some(1));
    assert_eq!(s.get("/progress/status?jobid=brand-new").status, 404);
}

#[test]
fn limits_are_in_bytes_and_inclusive() {
    let s = TestServer::start();
    let jobid = "é".repeat(128); // 256 bytes
    let workid = "w".repeat(128);
    let desc = "d".repeat(1024);
    s.update(&[
        ("jobid", &jobid),
        ("workid", &workid),
        ("current", "0"),
        ("total", "1"),
        ("desc", &desc),
    ]);
    let status = s.status(&jobid);
    assert_eq!(
        worker(&status, &workid)["desc"].as_str().map(str::len),
        Some(1024)
    );
}

#[test]
fn ids_are_kept_exactly_as_sent() {
    let s = TestServer::start();
    for workid in ["1", "1.0", " 1", "Ünïcode ✓", "<b>&amp;</b>"] {
        s.update(&[
            ("jobid", "1"),
            ("workid", workid),
            ("current", "1"),
            ("total", "2"),
        ]);
    }
    s.update(&[
        ("jobid", "1.0"),
        ("workid", "1"),
        ("current", "2"),
        ("total", "2"),
    ]);
    let status = s.status("1");
    assert_eq!(status["workers"].as_array().map(Vec::len), Some(5));
    for workid in ["1", "1.0", " 1", "Ünïcode ✓", "<b>&amp;</b>"] {
        assert_eq!(worker(&status, workid)["current"], 1);
    }
    assert_eq!(s.status("1.0")["workers"][0]["current"], 2);
}

#[test]
fn repeated_keys_last_one_wins() {
    let s = TestServer::start();
    let r = s.get("/progress/update?jobid=r&workid=w&current=1&current=3&total=4&total=5");
    assert_eq!(r.status, 200, "{}", r.body);
    let w = s.status("r")["workers"][0].clone();
    assert_eq!(
        (w["current"].as_f64(), w["total"].as_f64()),
        (Some(3.0), Some(5.0))
    );
}

#[test]
fn total_and_desc_are_kept_when_omitted() {
    let s = TestServer::start();
    s.update(&[
        ("jobid", "k"),
        ("workid", "w"),
        ("current", "1"),
        ("total", "10"),
        ("desc", "reading"),
    ]);
    s.update(&[("jobid", "k"), ("workid", "w"), ("current", "4")]);
    let w = worker(&s.status("k"), "w").clone();
    assert_eq!(
        (w["current"].as_f64(), w["total"].as_f64()),
        (Some(4.0), Some(10.0))
    );
    assert_eq!(w["desc"], "reading");
    // An empty desc is a desc: it replaces the old one.
    s.update(&[
        ("jobid", "k"),
        ("workid", "w"),
        ("current", "5"),
        ("desc", ""),
    ]);
    assert_eq!(worker(&s.status("k"), "w")["desc"], "");
}

#[test]
fn ok_flag_marks_failed_and_omitting_it_means_ok() {
    let s = TestServer::start();
    for (workid, ok) in [
        ("a", "0"),
        ("b", "0.0"),
        ("c", "false"),
        ("d", "no"),
        ("e", "1"),
    ] {
        s.update(&[
            ("jobid", "ok"),
            ("workid", workid),
            ("current", "1"),
            ("total", "2"),
            ("ok", ok),
        ]);
    }
    let status = s.status("ok");
    for workid in ["a", "b", "c", "d"] {
        let w = worker(&status, workid);
        assert_eq!(
            (w["ok"].as_bool(), w["state"].as_str()),
            (Some(false), Some("failed"))
        );
    }
    assert_eq!(worker(&status, "e")["state"], "running");
    // The next report without ok clears the failure.
    s.update(&[("jobid", "ok"), ("workid", "a"), ("current", "2")]);
    let w = worker(&s.status("ok"), "a").clone();
    assert_eq!(
        (w["ok"].as_bool(), w["state"].as_str()),
        (Some(true), Some("done"))
    );
}

#[test]
fn zero_total_and_overshoot_show_as_100_percent() {
    let s = TestServer::start();
    s.update(&[
        ("jobid", "z"),
        ("workid", "zero"),
        ("current", "0"),
        ("total", "0"),
    ]);
    s.update(&[
        ("jobid", "z"),
        ("workid", "over"),
        ("current", "30"),
        ("total", "20"),
    ]);
    let status = s.status("z");
    for workid in ["zero", "over"] {
        assert_eq!(percent(&status, workid), 100.0);
        assert_eq!(worker(&status, workid)["state"], "done");
    }
    assert_eq!(worker(&status, "over")["current"], 30, "stored as sent");
}

#[test]
fn create_overwrites_an_existing_job() {
    let s = TestServer::start();
    s.get("/progress/create?jobid=o&desc=first&maxage=100");
    s.update(&[
        ("jobid", "o"),
        ("workid", "w1"),
        ("current", "5"),
        ("total", "10"),
    ]);
    s.update(&[
        ("jobid", "o"),
        ("workid", "w2"),
        ("current", "6"),
        ("total", "10"),
    ]);
    let before = s.status("o");
    let r = s.get("/progress/create?jobid=o&desc=second&maxage=5000");
    assert_eq!(r.status, 200);
    let after = s.status("o");
    assert_eq!(after["desc"], "second");
    assert_eq!(after["workers"].as_array().map(Vec::len), Some(0));
    let lifetime =
        after["expires"].as_f64().unwrap_or(0.0) - after["updated"].as_f64().unwrap_or(0.0);
    assert!((lifetime - 5000.0).abs() < 0.01, "{after}");
    assert!(after["created"].as_f64() >= before["created"].as_f64());
    // A worker still running keeps reporting: with its total it is taken...
    s.update(&[
        ("jobid", "o"),
        ("workid", "w1"),
        ("current", "7"),
        ("total", "10"),
    ]);
    // ...without it, it is a first update again and must say its total.
    let r = s.get("/progress/update?jobid=o&workid=w2&current=8");
    assert_eq!(r.status, 400);
    assert!(r.body.contains("'total'"), "{}", r.body);
    let status = s.status("o");
    assert_eq!(status["workers"].as_array().map(Vec::len), Some(1));
    assert_eq!(worker(&status, "w1")["current"], 7);
}

#[test]
fn update_creates_an_unknown_job_with_the_default_maxage() {
    let s = TestServer::start_with(|c| c.default_maxage = progressd::clock::Secs(3600.0));
    s.update(&[
        ("jobid", "implicit"),
        ("workid", "w"),
        ("current", "1"),
        ("total", "3"),
    ]);
    let status = s.status("implicit");
    assert_eq!(status["desc"], "");
    let lifetime =
        status["expires"].as_f64().unwrap_or(0.0) - status["updated"].as_f64().unwrap_or(0.0);
    assert!((lifetime - 3600.0).abs() < 0.01, "{status}");
}

#[test]
fn status_json_has_every_documented_field() {
    let (s, clock) = TestServer::start_with_clock();
    s.get("/progress/create?jobid=f&desc=Fields");
    s.update(&[
        ("jobid", "f"),
        ("workid", "w"),
        ("current", "0"),
        ("total", "10"),
    ]);
    clock.advance(Secs(2.0));
    s.update(&[("jobid", "f"), ("workid", "w"), ("current", "5")]);
    let status = s.status("f");
    for key in ["jobid", "desc", "created", "updated", "expires"] {
        assert!(!status[key].is_null(), "{key} in {status}");
    }
    for key in ["created", "updated", "expires"] {
        assert!(
            status[key].as_f64().is_some_and(|t| t > 1.7e9),
            "{key} is Unix seconds"
        );
    }
    let w = worker(&status, "w");
    for key in [
        "workid",
        "current",
        "total",
        "percent",
        "ok",
        "desc",
        "state",
        "first_seen",
        "updated",
        "eta_seconds",
    ] {
        assert!(w.get(key).is_some(), "{key} in {w}");
    }
    // 5 units in 2 s: 5 units remain at 2.5 a second.
    let eta = w["eta_seconds"].as_f64().expect("eta known after progress");
    assert!((eta - 2.0).abs() < 1e-6, "{eta}");
    let took = w["updated"].as_f64().zip(w["first_seen"].as_f64());
    assert!(took.is_some_and(|(updated, first)| (updated - first - 2.0).abs() < 1e-3));
    // A worker with one report has no rate yet.
    s.update(&[
        ("jobid", "f"),
        ("workid", "fresh"),
        ("current", "1"),
        ("total", "10"),
    ]);
    assert!(worker(&s.status("f"), "fresh")["eta_seconds"].is_null());
}

#[test]
fn unknown_job_is_a_404_with_a_clear_message() {
    let s = TestServer::start();
    let r = s.get("/progress/status?jobid=missing");
    assert_eq!(r.status, 404);
    assert_eq!(r.body, "no job with jobid \"missing\"\n");
    assert!(r.content_type.starts_with("text/plain"));
}

#[test]
fn delete_removes_a_job_and_404s_when_unknown() {
    let s = TestServer::start();
    s.update(&[
        ("jobid", "d"),
        ("workid", "w"),
        ("current", "1"),
        ("total", "2"),
    ]);
    let r = s.get("/progress/delete?jobid=d");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(s.get("/progress/status?jobid=d").status, 404);
    assert_eq!(s.get("/progress/delete?jobid=d").status, 404);
    // A later update starts the job afresh, without the old worker rows.
    s.update(&[
        ("jobid", "d"),
        ("workid", "v"),
        ("current", "1"),
        ("total", "2"),
    ]);
    assert_eq!(s.status("d")["workers"].as_array().map(Vec::len), Some(1));
}

#[test]
fn jobs_lists_newest_activity_first_with_counts() -> TestResult {
    let (s, clock) = TestServer::start_with_clock();
    s.get("/progress/create?jobid=older&desc=Older");
    s.update(&[
        ("jobid", "newer"),
        ("workid", "a"),
        ("current", "10"),
        ("total", "10"),
    ]);
    s.update(&[
        ("jobid", "newer"),
        ("workid", "b"),
        ("current", "1"),
        ("total", "10"),
        ("ok", "0"),
    ]);
    s.update(&[
        ("jobid", "newer"),
        ("workid", "c"),
        ("current", "5"),
        ("total", "10"),
    ]);
    let list = s.get("/progress/jobs").json();
    let jobs = list.as_array().ok_or("a list")?;
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs[0]["jobid"], "newer");
    assert_eq!(
        (&jobs[0]["workers"], &jobs[0]["done"], &jobs[0]["failed"]),
        (&3.into(), &1.into(), &1.into())
    );
    assert_eq!(jobs[0]["percent"].as_f64(), Some(53.33));
    assert_eq!(jobs[1]["jobid"], "older");
    assert_eq!(jobs[1]["desc"], "Older");
    assert_eq!(
        (&jobs[1]["workers"], &jobs[1]["percent"]),
        (&0.into(), &0.into())
    );
    for key in ["created", "updated", "expires"] {
        assert!(jobs[1][key].is_number(), "{key}");
    }
    // Activity on the older job moves it to the front (the order has a
    // resolution of one second: a job row is re-stamped at most that often).
    clock.advance(Secs(1.1));
    s.update(&[
        ("jobid", "older"),
        ("workid", "x"),
        ("current", "0"),
        ("total", "1"),
    ]);
    assert_eq!(s.get("/progress/jobs").json()[0]["jobid"], "older");
    assert_eq!(
        s.get("/progress/jobs?limit=1")
            .json()
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    Ok(())
}

#[test]
fn other_paths_and_methods() {
    let s = TestServer::start();
    let r = s.get("/nope");
    assert_eq!(r.status, 404);
    assert!(r.content_type.starts_with("text/plain"));
    assert_eq!(s.get("/progress/nope").status, 404);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let r = agent.get(format!("{}/", s.base)).call().expect("answered");
    assert_eq!(r.status(), 302);
    assert_eq!(
        r.headers().get("location").and_then(|v| v.to_str().ok()),
        Some("/progress/")
    );
    let r = agent
        .put(format!("{}/progress/update", s.base))
        .send("")
        .expect("answered");
    assert_eq!(r.status(), 405);
    let r = agent
        .post(format!("{}/progress/create", s.base))
        .content_type("multipart/form-data; boundary=x")
        .send("--x--")
        .expect("answered");
    assert_eq!(r.status(), 415);
}

#[test]
fn every_response_says_nosniff() {
    let s = TestServer::start();
    for path in [
        "/progress/jobs",
        "/nope",
        "/progress/status",
        "/progress/status?jobid=x",
    ] {
        assert_eq!(
            s.get(path).header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
    }
}

#[test]
fn percent_encoded_unicode_and_plus_in_desc() {
    let s = TestServer::start();
    let desc = "50% done + ünïcödé ☃ & more=yes";
    let r = s.get(&format!(
        "/progress/create?jobid=u&desc={}",
        python_quote(desc)
    ));
    assert_eq!(r.status, 200);
    assert_eq!(s.status("u")["desc"], desc);
}

#[test]
fn status_lists_workers_in_natural_order_with_a_summary() {
    let s = TestServer::start();
    for (workid, current, ok) in [
        ("worker10", "10", "1"),
        ("worker2", "2", "1"),
        ("worker1", "1", "0"),
    ] {
        s.update(&[
            ("jobid", "n"),
            ("workid", workid),
            ("current", current),
            ("total", "10"),
            ("ok", ok),
        ]);
    }
    let status = s.status("n");
    let order: Vec<_> = status["workers"]
        .as_array()
        .map(|ws| {
            ws.iter()
                .map(|w| w["workid"].as_str().unwrap_or(""))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(order, ["worker1", "worker2", "worker10"]);
    let summary = &status["summary"];
    assert_eq!(
        (
            &summary["running"],
            &summary["done"],
            &summary["failed"],
            &summary["stale"]
        ),
        (&1.into(), &1.into(), &1.into(), &0.into())
    );
    assert_eq!(summary["percent"].as_f64(), Some(43.33));
    assert!(summary["last_report"].as_f64() >= status["created"].as_f64());
    assert!(status["workers"][0]["stale"] == false);
}

#[test]
fn workers_past_the_per_job_cap_are_refused_with_413() {
    let mut s = TestServer::start_with(|c| c.max_workers_per_job = 3);
    for w in ["a", "b", "c"] {
        assert_eq!(update(&s, "cap", w).status, 200);
    }
    let refused = update(&s, "cap", "d");
    assert_eq!(refused.status, 413, "{}", refused.body);
    assert!(
        refused.body.contains("--max-workers-per-job") && refused.body.contains('3'),
        "{}",
        refused.body
    );
    assert!(refused.content_type.starts_with("text/plain"));
    // Workers already there still report; other jobs have their own room.
    assert_eq!(update(&s, "cap", "b").status, 200);
    assert_eq!(update(&s, "other", "d").status, 200);
    let workers = s.status("cap")["workers"].as_array().map(Vec::len);
    assert_eq!(workers, Some(3), "the refused worker was not stored");
    // The cap holds across a restart (counted from the file), and a
    // re-created job starts empty.
    s.restart();
    assert_eq!(update(&s, "cap", "e").status, 413);
    assert_eq!(s.get("/progress/create?jobid=cap").status, 200);
    assert_eq!(update(&s, "cap", "e").status, 200);
}

#[test]
fn jobs_past_the_cap_are_refused_with_429_until_one_goes() {
    let mut s = TestServer::start_with(|c| c.max_jobs = 2);
    assert_eq!(s.get("/progress/create?jobid=a").status, 200);
    assert_eq!(
        s.get("/progress/update?jobid=b&workid=w&current=1&total=2")
            .status,
        200
    );
    let refused = s.get("/progress/create?jobid=c");
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(refused.body.contains("--max-jobs"), "{}", refused.body);
    let implicit = s.get("/progress/update?jobid=c&workid=w&current=1&total=2");
    assert_eq!(implicit.status, 429, "{}", implicit.body);
    assert_eq!(s.get("/progress/status?jobid=c").status, 404);
    // Existing jobs take updates and re-creates.
    assert_eq!(s.get("/progress/create?jobid=a&desc=again").status, 200);
    assert_eq!(
        s.get("/progress/update?jobid=b&workid=w&current=2").status,
        200
    );
    // Deleting jobs that do not exist makes no room.
    for _ in 0..3 {
        assert_eq!(s.get("/progress/delete?jobid=nope").status, 404);
    }
    assert_eq!(s.get("/progress/create?jobid=c").status, 429);
    s.restart();
    assert_eq!(s.get("/progress/create?jobid=c").status, 429);
    assert_eq!(s.get("/progress/delete?jobid=a").status, 200);
    assert_eq!(s.get("/progress/create?jobid=c").status, 200);
}

/// A worker's report of 1 out of 2, to see whether it is taken.
fn update(s: &TestServer, job: &str, w: &str) -> common::Reply {
    s.get(&format!(
        "/progress/update?jobid={job}&workid={w}&current=1&total=2"
    ))
}

#[test]
fn workers_past_the_stored_cap_are_refused_with_429_until_a_job_goes() {
    let mut s = TestServer::start_with(|c| c.max_workers = 5);
    assert_eq!(s.get("/progress/create?jobid=a&workers=3").status, 200);
    assert_eq!(update(&s, "b", "1").status, 200);
    assert_eq!(update(&s, "b", "2").status, 200);
    let refused = update(&s, "b", "3");
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(refused.body.contains("--max-workers"), "{}", refused.body);
    assert_eq!(s.get("/progress/create?jobid=c&workers=1").status, 429);
    // Workers that exist still report; the cap holds across a restart.
    assert_eq!(update(&s, "b", "1").status, 200);
    s.restart();
    assert_eq!(update(&s, "b", "3").status, 429);
    assert_eq!(s.get("/progress/delete?jobid=a").status, 200);
    assert_eq!(update(&s, "b", "3").status, 200);
}

#[test]
fn sql_in_ids_and_descs_is_stored_as_text() {
    // Every statement binds its values; these must come back verbatim and
    // leave the tables whole.
    let s = TestServer::start();
    let nasty = [
        "'; DROP TABLE jobs; --",
        "\" OR 1=1 --",
        "x') ON CONFLICT DO NOTHING; --",
        "%' OR workid LIKE '%",
    ];
    for (i, id) in nasty.iter().enumerate() {
        let w = format!("{id}{i}");
        s.update(&[
            ("jobid", id),
            ("workid", &w),
            ("current", "1"),
            ("total", "2"),
            ("desc", id),
        ]);
        let status = s.status(id);
        assert_eq!(status["jobid"], *id);
        assert_eq!(worker(&status, &w)["desc"], *id);
        assert_eq!(status["workers"].as_array().map(Vec::len), Some(1));
    }
    let jobs = s.get("/progress/jobs").json();
    assert_eq!(jobs.as_array().map(Vec::len), Some(nasty.len()), "{jobs}");
}

#[test]
fn status_and_render_may_be_embedded_by_other_sites() {
    let s = TestServer::start();
    s.update(&[
        ("jobid", "c"),
        ("workid", "w"),
        ("current", "1"),
        ("total", "2"),
    ]);
    let embeddable = [
        "/progress/status?jobid=c",
        "/progress/history?jobid=c",
        "/progress/render?jobid=c",
        "/progress/render?jobid=missing",
        "/progress/render.svg?jobid=c",
        "/progress/render.svg?jobid=missing",
    ];
    for path in embeddable {
        let r = s.get(path);
        assert_eq!(r.header("Access-Control-Allow-Origin"), Some("*"), "{path}");
    }
    // Exactly the routes the route table marks.
    let marked: std::collections::BTreeSet<&str> = progressd::ROUTES
        .iter()
        .filter(|r| r.cors)
        .map(|r| r.path)
        .collect();
    let tested: std::collections::BTreeSet<&str> = embeddable
        .iter()
        .filter_map(|p| p.split('?').next())
        .collect();
    assert_eq!(marked, tested);
    // The pages and the writes are not for other sites' scripts.
    for path in ["/progress/show?jobid=c", "/progress/create?jobid=d"] {
        assert_eq!(
            s.get(path).header("Access-Control-Allow-Origin"),
            None,
            "{path}"
        );
    }
}

#[test]
fn healthz_answers_when_the_database_does() {
    let s = TestServer::start_with(|c| c.tokens.read = Some("r".into()));
    let r = s.get("/healthz");
    assert_eq!((r.status, r.body.as_str()), (200, "ok\n"));
    // It says nothing of the jobs, so it needs no token, even with one set.
    assert_eq!(s.get("/progress/jobs").status, 401);
}

#[test]
fn metrics_count_requests_commits_expiry_and_what_is_stored() {
    let (s, clock) = TestServer::start_with_clock_and(|c| {
        c.expire_interval = std::time::Duration::from_millis(100);
    });
    s.get("/progress/create?jobid=brief&maxage=0.2");
    for (job, w) in [("m1", "a"), ("m1", "b"), ("m-2", "a")] {
        s.update(&[
            ("jobid", job),
            ("workid", w),
            ("current", "1"),
            ("total", "2"),
        ]);
    }
    s.get("/progress/update?jobid=m1&workid=c&current=1");
    // Past `brief`'s maxage and the second expiry allows for the activity
    // stamp's lag. The expiry thread counts its run once the writer has
    // answered, so a scrape may see the job gone a moment before the
    // count: wait for both.
    clock.advance(Secs(1.5));
    let started = std::time::Instant::now();
    let r = loop {
        let r = s.get("/metrics");
        let expired = r.body.contains("\nprogressd_jobs 2\n")
            && !r.body.contains("\nprogressd_jobs_expired_total 0\n");
        if expired || started.elapsed().as_secs() > 10 {
            break r;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(r.status, 200);
    assert!(r.content_type.starts_with("text/plain"));
    let value = |name: &str| -> f64 {
        r.body
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in\n{}", r.body))
    };
    assert_eq!(
        value("progressd_requests_total{endpoint=\"/progress/update\",status=\"200\"}"),
        3.0
    );
    assert_eq!(
        value("progressd_requests_total{endpoint=\"/progress/update\",status=\"400\"}"),
        1.0
    );
    assert_eq!(value("progressd_updates_committed_total"), 3.0);
    assert!(value("progressd_commit_batch_size_count") >= 4.0);
    assert!(value("progressd_request_duration_seconds_count") >= 5.0);
    assert_eq!(value("progressd_jobs"), 2.0, "the brief job expired");
    assert_eq!(value("progressd_workers"), 3.0);
    assert!(value("progressd_jobs_expired_total") >= 1.0);
    assert!(value("progressd_expiry_runs_total") >= 1.0);
    assert!(value("progressd_database_bytes") > 0.0);
    // No job id is ever a label: their number has no bound.
    assert!(!r.body.contains("m-2") && !r.body.contains("brief"));
}

#[test]
fn metrics_need_the_read_token_when_there_is_one() {
    let s = TestServer::start_with(|c| c.tokens.read = Some("r".into()));
    assert_eq!(s.get("/metrics").status, 401);
    let r = s.get_with("/metrics", &[("Authorization", "Bearer r")]);
    assert_eq!(r.status, 200);
}

#[test]
fn the_create_link_follows_a_tls_proxy() {
    let s = TestServer::start();
    let proxied = s.get_with(
        "/progress/create?jobid=tls",
        &[
            ("Host", "progress.example.org"),
            ("X-Forwarded-Proto", "https"),
        ],
    );
    assert!(
        proxied
            .body
            .contains("https://progress.example.org/progress/show?jobid=tls"),
        "{}",
        proxied.body
    );
    let odd = s.get_with(
        "/progress/create?jobid=tls",
        &[("Host", "h:1"), ("X-Forwarded-Proto", "javascript")],
    );
    assert!(
        odd.body.contains(" http://h:1/progress/show"),
        "{}",
        odd.body
    );
}

#[test]
fn a_late_retry_with_an_older_seq_never_moves_a_bar_backwards() {
    let mut s = TestServer::start();
    let update = |s: &TestServer, query: &str| {
        let r = s.get(&format!("/progress/update?jobid=seq&workid=w&{query}"));
        assert_eq!((r.status, r.body.as_str()), (200, "OK\n"), "{query}");
    };
    update(&s, "current=50&total=100&seq=5");
    // A retry of seq 3 arrives late: acknowledged, not applied.
    update(&s, "current=30&seq=3&desc=late&ok=0");
    let w = worker(&s.status("seq"), "w").clone();
    assert_eq!(
        (w["current"].as_f64(), w["seq"].as_u64()),
        (Some(50.0), Some(5))
    );
    assert_eq!(
        (w["desc"].as_str(), w["ok"].as_bool()),
        (Some(""), Some(true))
    );
    // The same seq again (a retry of the last one) and a newer one apply.
    update(&s, "current=55&seq=5");
    update(&s, "current=60&seq=6");
    // Without a seq, an update always applies and the stored seq stays.
    update(&s, "current=61");
    let w = worker(&s.status("seq"), "w").clone();
    assert_eq!(
        (w["current"].as_f64(), w["seq"].as_u64()),
        (Some(61.0), Some(6))
    );
    // The stored seq survives a restart.
    s.restart();
    update(&s, "current=10&seq=4");
    assert_eq!(worker(&s.status("seq"), "w")["current"], 61.0);
    // A worker's first report may carry a seq; a bad seq is a 400.
    update(&s, "current=1&total=2&seq=0&workid=x");
    for bad in ["-1", "1.5", "abc", "9007199254740992", ""] {
        let r = s.get(&format!(
            "/progress/update?jobid=seq&workid=w&current=1&seq={bad}"
        ));
        assert_eq!(r.status, 400, "seq={bad}: {}", r.body);
        assert!(r.body.starts_with("parameter 'seq'"), "{}", r.body);
    }
    let metrics = s.get("/metrics").body;
    assert!(
        metrics.contains("\nprogressd_updates_ignored_total 1\n"),
        "{metrics}"
    );
}

/// `text=1` adds the show page's texts and nothing else: without them the
/// answer is the plain one; `text=0` is the plain one.
#[test]
fn status_with_text_adds_the_pages_words_and_changes_nothing_else() {
    let s = TestServer::start();
    s.get("/progress/create?jobid=t&workids=a,b");
    s.update(&[
        ("jobid", "t"),
        ("workid", "a"),
        ("current", "5"),
        ("total", "22"),
    ]);
    let plain = s.status("t");
    let mut texts = s.get("/progress/status?jobid=t&text=1").json();
    let worker = &texts["workers"][0]["text"];
    assert_eq!(worker["counts"], "5/22");
    assert_eq!(worker["percent"], "22.7%");
    assert_eq!(worker["label"], "▶ running");
    assert_eq!(worker["class"], "worker s-running");
    assert_eq!(worker["track"], "a: 5 of 22");
    let waiting = &texts["workers"][1]["text"];
    assert_eq!(waiting["counts"], "not started yet");
    assert_eq!(waiting["ago"], "no report");
    assert_eq!(texts["summary"]["text"]["percent"], "11.3%");
    // Without its texts (and at the same time) it is the plain answer.
    for w in texts["workers"].as_array_mut().expect("workers") {
        w.as_object_mut().expect("a worker").remove("text");
    }
    texts["summary"]
        .as_object_mut()
        .expect("summary")
        .remove("text");
    texts["now"] = plain["now"].clone();
    assert_eq!(texts, plain);
    let zero = s.get("/progress/status?jobid=t&text=0").json();
    assert!(zero["workers"][0].get("text").is_none() && zero["summary"].get("text").is_none());
    let refused = s.get("/progress/status?jobid=t&text=yes");
    assert_eq!(refused.status, 400);
    assert!(refused.body.contains("text"), "{}", refused.body);
}
