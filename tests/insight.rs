//! What progressd tells beyond the bars: rosters of expected workers, rates,
//! ETAs and slow workers, and the bounded history with its endpoint, over
//! real HTTP against a real server on a temp SQLite file.

mod common;

use common::{TestServer, worker};
use progressd::clock::Secs;

fn ids(status: &serde_json::Value) -> Vec<String> {
    status["workers"]
        .as_array()
        .expect("workers")
        .iter()
        .map(|w| w["workid"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn ok(s: &TestServer, path: &str) {
    let r = s.get(path);
    assert_eq!(r.status, 200, "{path}: {}", r.body);
}

fn refused(s: &TestServer, path: &str, status: u16, parameter: &str) {
    let r = s.get(path);
    assert_eq!(r.status, status, "{path}: {}", r.body);
    assert!(
        r.body.starts_with(&format!("parameter '{parameter}'")),
        "{path}: {}",
        r.body
    );
    assert_eq!(r.body.trim_end().lines().count(), 1, "one line: {}", r.body);
}

#[test]
fn a_roster_shows_expected_workers_as_not_started_until_they_report() {
    let mut s = TestServer::start_with(|c| c.max_workers_per_job = 5);
    ok(&s, "/progress/create?jobid=r&workers=4");
    let st = s.status("r");
    assert_eq!(ids(&st), ["0", "1", "2", "3"]);
    for w in st["workers"].as_array().expect("workers") {
        assert_eq!(w["state"], "not_started", "{w}");
        assert_eq!(w["percent"], 0);
        assert_eq!(w["stale"], false);
        assert!(
            w["first_seen"].is_null() && w["updated"].is_null(),
            "no times: {w}"
        );
    }
    assert_eq!(st["summary"]["not_started"], 4);
    assert_eq!(st["summary"]["running"], 0);
    assert_eq!(st["summary"]["last_report"], serde_json::Value::Null);

    // Its first report needs a total, as any worker's does.
    refused(
        &s,
        "/progress/update?jobid=r&workid=1&current=3",
        400,
        "total",
    );
    ok(&s, "/progress/update?jobid=r&workid=1&current=5&total=10");
    ok(&s, "/progress/update?jobid=r&workid=3&current=10&total=10");
    let st = s.status("r");
    assert_eq!(worker(&st, "1")["state"], "running");
    assert_eq!(worker(&st, "3")["state"], "done");
    assert_eq!(st["summary"]["not_started"], 2);
    // Overall: (0 + 50 + 0 + 100) / 4, the two not started counting as 0 %.
    assert_eq!(st["summary"]["percent"], 37.5);
    // Once started, later reports may leave the total out.
    ok(&s, "/progress/update?jobid=r&workid=1&current=6");
    assert_eq!(worker(&s.status("r"), "1")["current"], 6);

    // The job list counts them too, and they survive a restart.
    let list = s.get("/progress/jobs").json();
    assert_eq!(list[0]["not_started"], 2);
    assert_eq!(list[0]["workers"], 4);
    s.restart();
    assert_eq!(s.status("r")["summary"]["not_started"], 2);

    // The roster counts against --max-workers-per-job: 4 + 1 fits, then no more.
    ok(
        &s,
        "/progress/update?jobid=r&workid=extra&current=1&total=2",
    );
    let r = s.get("/progress/update?jobid=r&workid=more&current=1&total=2");
    assert_eq!(r.status, 413, "{}", r.body);
    let r = s.get("/progress/create?jobid=big&workers=6");
    assert_eq!(r.status, 413, "{}", r.body);
    assert!(
        r.body
            .starts_with("the roster names 6 workers, more than the 5"),
        "{}",
        r.body
    );
    assert_eq!(
        s.get("/progress/status?jobid=big").status,
        404,
        "nothing created"
    );

    // workids: in natural order, empty items skipped, repeats dropped; a
    // create again replaces the roster.
    ok(
        &s,
        "/progress/create?jobid=r&workids=node10,+node9,,node9+,n%C3%B6de",
    );
    let st = s.status("r");
    assert_eq!(ids(&st), ["node9", "node10", "nöde"]);
    assert_eq!(st["summary"]["not_started"], 3);
    // POSTed, as a long list would be.
    let r = s.post("/progress/create", "jobid=p&workids=a%2Cb");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(ids(&s.status("p")), ["a", "b"]);

    refused(
        &s,
        "/progress/create?jobid=x&workers=2&workids=a",
        400,
        "workids",
    );
    for bad in ["-1", "1.5", "abc", "", "1e99"] {
        refused(
            &s,
            &format!("/progress/create?jobid=x&workers={bad}"),
            400,
            "workers",
        );
    }
    refused(
        &s,
        "/progress/create?jobid=x&workids=a,b%0Ac",
        400,
        "workids",
    );
    let r = s.get(&format!(
        "/progress/create?jobid=x&workids=a,{}",
        "w".repeat(129)
    ));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body.contains("item 2 (wwww"),
        "names the item: {}",
        r.body
    );
    assert_eq!(
        s.get("/progress/status?jobid=x").status,
        404,
        "nothing created"
    );
}

#[test]
fn rates_etas_and_a_slow_worker_appear_in_the_status() {
    // Reports 2 s apart on the server's clock: the rates are known exactly.
    let (s, clock) = TestServer::start_with_clock();
    for round in 0..3 {
        for (w, step) in [("a", 100), ("b", 100), ("c", 100), ("slow", 1)] {
            let current = round * step;
            ok(
                &s,
                &format!("/progress/update?jobid=j&workid={w}&current={current}&total=100000"),
            );
        }
        clock.advance(Secs(2.0));
    }
    let st = s.status("j");
    // Each report of a batch is stamped a hair after the one before it.
    let close = |a: f64, b: f64| (a - b).abs() <= b.abs() * 1e-9;
    for w in ["a", "b", "c"] {
        let rate = worker(&st, w)["rate"].as_f64().expect("a rate");
        assert!(close(rate, 50.0), "{w}: {rate}");
        assert_eq!(worker(&st, w)["slow"], false);
        let eta = worker(&st, w)["eta_seconds"].as_f64().expect("an eta");
        assert!(close(eta, (100_000.0 - 200.0) / 50.0), "{w}: {eta}");
    }
    assert_eq!(worker(&st, "slow")["slow"], true);
    assert_eq!(st["summary"]["slow"], 1);
    let median = st["summary"]["median_rate"].as_f64().expect("a median");
    assert!(close(median, 50.0), "{median}");
    let slow_rate = worker(&st, "slow")["rate"].as_f64().expect("a rate");
    assert!(close(slow_rate, 0.5), "{slow_rate}");
    // The job's ETA is the slowest worker's, counted from now: 2 s after
    // its last report.
    let job_eta = st["summary"]["eta_seconds"].as_f64().expect("job eta");
    let slow_eta = worker(&st, "slow")["eta_seconds"]
        .as_f64()
        .expect("slow eta");
    assert!(close(slow_eta, (100_000.0 - 2.0) / 0.5), "{slow_eta}");
    assert!(close(job_eta, slow_eta - 2.0), "{job_eta} vs {slow_eta}");
    // A worker that keeps reporting without moving (for the minute the
    // rate is measured over) has rate 0 and no ETA.
    for _ in 0..60 {
        clock.advance(Secs(1.0));
        ok(&s, "/progress/update?jobid=j&workid=slow&current=2");
    }
    let st = s.status("j");
    let stuck = worker(&st, "slow");
    assert_eq!(stuck["rate"], 0);
    assert_eq!(
        (stuck["eta_seconds"].is_null(), stuck["slow"].as_bool()),
        (true, Some(true))
    );
    assert!(
        st["summary"]["eta_seconds"].is_null(),
        "a stuck worker: no job ETA"
    );
}

#[test]
fn history_is_bounded_survives_restart_and_is_served_as_json() {
    let mut s = TestServer::start();
    ok(&s, "/progress/create?jobid=h&workers=2");
    for i in 0..=200 {
        ok(
            &s,
            &format!("/progress/update?jobid=h&workid=0&current={i}&total=200"),
        );
    }
    let r = s.get("/progress/history?jobid=h");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let h = r.json();
    assert_eq!(h["jobid"], "h");
    let workers = h["workers"].as_array().expect("workers");
    assert_eq!(workers.len(), 2);
    assert_eq!(workers[0]["workid"], "0");
    assert_eq!(
        workers[1]["current"],
        serde_json::json!([]),
        "not started: no points"
    );
    let points = workers[0]["current"].as_array().expect("points").clone();
    assert!(
        points.len() <= 48 && points.len() >= 20,
        "{} points",
        points.len()
    );
    assert_eq!(points[0][1], 0, "the first report stays");
    assert_eq!(points[points.len() - 1][1], 200, "the last report is there");
    let times: Vec<f64> = points
        .iter()
        .map(|p| p[0].as_f64().unwrap_or(0.0))
        .collect();
    assert!(
        times.windows(2).all(|t| t[0] <= t[1]),
        "oldest first: {times:?}"
    );
    // The job's burn-up starts at 0 % at creation and ends at its percent.
    let percent = h["percent"].as_array().expect("job points").clone();
    assert_eq!(percent[0][1], 0);
    assert_eq!(percent[percent.len() - 1][1], 50);
    let st = s.status("h");
    assert_eq!(st["summary"]["history"], h["percent"], "the same in status");

    // The same after a restart; one worker alone; unknown ones are 404.
    s.restart();
    let again = s.get("/progress/history?jobid=h").json();
    assert_eq!(again["workers"], h["workers"]);
    let one = s.get("/progress/history?jobid=h&workid=0").json();
    assert_eq!(one["workers"].as_array().map(Vec::len), Some(1));
    assert_eq!(one["workers"][0], h["workers"][0]);
    assert!(
        one.get("percent").is_none(),
        "one worker: the job is not read"
    );
    let r = s.get("/progress/history?jobid=h&workid=9");
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.body.contains("no worker"), "{}", r.body);
    assert_eq!(s.get("/progress/history?jobid=nope").status, 404);
    refused(&s, "/progress/history", 400, "jobid");
    refused(&s, "/progress/history?jobid=h&workid=", 400, "workid");
}

/// Issue 14: the page said "in 34 min" while the PNG said "in 69 min".
/// At one instant of a manual clock the page, the SVG and `status` (its
/// numbers and its texts) say the same ETA and the same time left, which
/// counts down between reports and turns "overdue".
#[test]
fn the_page_the_chart_and_the_json_say_the_same_at_one_instant() {
    let (s, clock) = TestServer::start_with_clock();
    // Every 5 s for 100 s: three at 2/s, a straggler at 0.2/s, and one
    // about to finish.
    for round in 0..=20 {
        for (w, speed, start) in [
            ("a", 2, 0),
            ("b", 2, 0),
            ("c", 2, 0),
            ("slow", 0, 0),
            ("near", 2, 750),
        ] {
            let current = start + round * 5 * speed + if w == "slow" { round } else { 0 };
            ok(
                &s,
                &format!("/progress/update?jobid=j&workid={w}&current={current}&total=1000"),
            );
        }
        clock.advance(Secs(5.0));
    }
    // 5 s after the last report: "near" has 50 left at 2/s, 20 s.
    let said = |now_text: &str| {
        let st = s.get("/progress/status?jobid=j&text=1").json();
        let page = s.get("/progress/show?jobid=j").body;
        let svg = s.get("/progress/render.svg?jobid=j").body;
        let eta = st["summary"]["text"]["eta"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            page.contains(&format!("<b id=\"eta\">{eta}</b>")),
            "{eta} in the page"
        );
        assert!(
            svg.contains(&format!("should finish {eta}")),
            "{eta} in the SVG"
        );
        let minutes = st["summary"]["eta_seconds"].as_f64().unwrap_or_default() / 60.0;
        assert_eq!(
            format!("in {} min", minutes.round()),
            eta,
            "the JSON's figure"
        );
        for w in ["slow", "near"] {
            let rate = worker(&st, w)["text"]["rate"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            assert!(page.contains(&format!(">{rate}<")), "{rate} in the page");
            assert!(svg.contains(&format!(">{rate}<")), "{rate} in the SVG");
        }
        assert!(
            worker(&st, "near")["text"]["rate"]
                .as_str()
                .is_some_and(|t| t.ends_with(now_text)),
            "{now_text}: {}",
            worker(&st, "near")["text"]
        );
        assert_eq!(worker(&st, "slow")["slow"], true);
        eta
    };
    let first = said("· 20 s left");
    clock.advance(Secs(15.0));
    said("· 5 s left");
    clock.advance(Secs(10.0));
    assert_ne!(said("· overdue"), first, "the job's ETA counts down too");
}
