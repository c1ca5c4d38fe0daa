//! The HTML pages over HTTP: what they show, that client text never comes
//! out live, and the headers that keep it so.

mod common;

use common::{TestServer, python_query};

/// Hostile text that ids may hold too.
const HOSTILE: [&str; 5] = [
    "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(2)>",
    "</script><script>alert(3)</script>",
    "&amp; <b>not bold</b>",
    "' onmouseover='alert(4)",
];

/// Line and paragraph separators (which end a line of script): a worker's
/// desc may hold them, an id may not (docs/api.md, Input rules).
const SEPARATORS: &str = "line\u{2028}separator\u{2029}";

fn hostile_job(s: &TestServer) {
    let r = s.get(&format!(
        "/progress/create?{}",
        python_query(&[("jobid", HOSTILE[1]), ("desc", HOSTILE[0])])
    ));
    assert_eq!(r.status, 200);
    for (n, text) in HOSTILE.iter().enumerate() {
        let current = n.to_string();
        s.update(&[
            ("jobid", HOSTILE[1]),
            ("workid", text),
            ("current", &current),
            ("total", "5"),
            ("desc", &format!("{text}{SEPARATORS}")),
        ]);
    }
}

/// True when `html` contains none of the hostile strings as written, only
/// escaped.
fn nothing_live(html: &str) {
    for bad in ["<script>alert", "<img", "\"><img", "' onmouseover='"] {
        assert!(!html.contains(bad), "{bad:?} came out live");
    }
}

/// The page up to its row template: the rows it lists (the template, a
/// worker not started that the script copies, comes after them).
fn listed(html: &str) -> &str {
    html.split("<template id=\"row\">")
        .next()
        .unwrap_or_default()
}

#[test]
fn show_page_escapes_everything_a_client_sent() {
    let s = TestServer::start();
    hostile_job(&s);
    let r = s.get(&format!(
        "/progress/show?{}",
        python_query(&[("jobid", HOSTILE[1])])
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.content_type.starts_with("text/html"));
    nothing_live(&r.body);
    assert!(
        r.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "the desc, escaped"
    );
    assert!(
        r.body
            .contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"),
        "the jobid, escaped"
    );
    assert!(r.body.contains("&#39; onmouseover=&#39;alert(4)"));
    assert!(r.body.contains("&amp;amp; &lt;b&gt;not bold&lt;/b&gt;"));
    assert!(r.body.contains(SEPARATORS), "a desc keeps them");
    // The only script is our own file.
    assert_eq!(r.body.matches("<script").count(), 1);
    assert!(
        r.body
            .contains("<script src=\"assets/show.js\" defer></script>")
    );
}

#[test]
fn the_big_job_page_escapes_everything_a_client_sent() {
    // Every job is paged with --list-all-up-to 0.
    let s = TestServer::start_with(|c| c.list_all_up_to = 0);
    hostile_job(&s);
    let r = s.get(&format!(
        "/progress/show?{}",
        python_query(&[("jobid", HOSTILE[1])])
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("class=\"big-job\""));
    nothing_live(&r.body);
    assert!(r.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(
        r.body.contains(
            "data-status=\"status?jobid=%22%3E%3Cimg+src%3Dx+onerror%3Dalert%282%29%3E&amp;text=1\""
        ),
        "the jobid, encoded for the script's requests"
    );
    assert_eq!(r.body.matches("<script").count(), 1);
    assert!(
        r.header("content-security-policy")
            .is_some_and(|csp| csp.contains("script-src 'self'"))
    );
}

/// A big job's page lists no worker itself: the script fetches them a
/// page at a time. Its HTML is the same few KB at 20,000 workers as at
/// 501, and far below 200 KB.
#[test]
fn the_big_job_page_stays_small_whatever_the_job_size() {
    let s = TestServer::start();
    let mut sizes = Vec::new();
    for (jobid, workers) in [("j501", 501), ("j20000", 20_000)] {
        let r = s.get(&format!("/progress/create?jobid={jobid}&workers={workers}"));
        assert_eq!(r.status, 200, "{}", r.body);
        // A big roster is stored in slices.
        common::wait_for_roster(&s.addr(), jobid, workers);
        // Reports with long descs, which a page listing them would carry.
        for workid in 0..50 {
            s.update(&[
                ("jobid", jobid),
                ("workid", &workid.to_string()),
                ("current", &(workid * 2).to_string()),
                ("total", "100"),
                ("ok", if workid == 7 { "0" } else { "1" }),
                ("desc", &"<&>".repeat(300)),
            ]);
        }
        let html = s.get(&format!("/progress/show?jobid={jobid}")).body;
        assert!(html.len() < 200 * 1024, "{jobid}: {} bytes", html.len());
        assert!(html.contains("class=\"big-job\""), "{jobid}");
        assert!(
            !listed(&html).contains("class=\"worker"),
            "{jobid}: no rows"
        );
        assert!(!html.contains("&lt;&amp;&gt;"), "{jobid}: no desc");
        // The summary, the histogram's 20 columns, the lists' frames.
        assert!(html.contains("<b id=\"n-failed\">1</b> failed"), "{jobid}");
        assert!(html.contains(&format!(
            "<b id=\"n-not_started\">{}</b> not started",
            workers - 50
        )));
        assert_eq!(html.matches("<span class=\"sr\">").count(), 20);
        assert!(html.contains(&format!(
            "<li class=\"cut\" title=\"0–5 %: {} workers: 3 running, {} not started\">",
            workers - 47,
            workers - 50
        )));
        for id in [
            "histogram",
            "attention",
            "workers",
            "search",
            "sort",
            "page-next",
        ] {
            assert!(html.contains(&format!("id=\"{id}\"")), "{jobid}: {id}");
        }
        assert!(
            html.contains("<b id=\"c-failed\">1</b>"),
            "the filter's count"
        );
        sizes.push(html.len());
    }
    // The same page but for the figures in it.
    assert!(sizes[1].abs_diff(sizes[0]) < 100, "{sizes:?}");
}

/// Up to --list-all-up-to workers (500 unless set) the page is the one it
/// always was, a bar per worker; one more and it is the big job's.
#[test]
fn the_page_lists_every_worker_up_to_the_threshold() {
    let s = TestServer::start();
    s.get("/progress/create?jobid=at&workers=500");
    s.get("/progress/create?jobid=past&workers=501");
    let at = s.get("/progress/show?jobid=at").body;
    assert_eq!(
        listed(&at)
            .matches("class=\"worker s-not_started\"")
            .count(),
        500
    );
    assert!(!at.contains("big-job") && !at.contains("id=\"histogram\""));
    assert!(at.contains(
        "<body data-attention-order=\"failed,stale,slow,running,not_started,done\" \
         data-status=\"status?jobid=at&amp;text=1\""
    ));
    let past = s.get("/progress/show?jobid=past").body;
    assert!(past.contains("<body class=\"big-job\""));
    assert_eq!(listed(&past).matches("class=\"worker").count(), 0);

    let low = TestServer::start_with(|c| c.list_all_up_to = 2);
    for workid in ["a", "b", "c"] {
        low.report_percents("three", &[(workid, "1", "1")]);
        let html = low.get("/progress/show?jobid=three").body;
        assert_eq!(html.contains("big-job"), workid == "c", "after {workid}");
    }
}

#[test]
fn index_escapes_everything_a_client_sent() {
    let s = TestServer::start();
    hostile_job(&s);
    let r = s.get("/progress/");
    assert_eq!(r.status, 200);
    nothing_live(&r.body);
    // The link to the job carries its id encoded.
    assert!(
        r.body
            .contains("href=\"show?jobid=%22%3E%3Cimg+src%3Dx+onerror%3Dalert%282%29%3E\""),
        "{}",
        r.body
    );
}

#[test]
fn every_response_has_a_strict_content_security_policy() {
    let s = TestServer::start();
    s.update(&[
        ("jobid", "c"),
        ("workid", "w"),
        ("current", "1"),
        ("total", "2"),
    ]);
    for path in [
        "/progress/",
        "/progress/show?jobid=c",
        "/progress/show?jobid=nope",
        "/progress/status?jobid=c",
        "/nope",
    ] {
        let r = s.get(path);
        let csp = r
            .header("content-security-policy")
            .unwrap_or_default()
            .to_string();
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
    }
}

#[test]
fn show_page_has_a_bar_per_worker_in_natural_order() {
    let s = TestServer::start();
    s.get("/progress/create?jobid=p&desc=Nightly+reduction");
    for (workid, current, ok) in [
        ("node10", "10", "1"),
        ("node2", "5", "1"),
        ("node1", "3", "0"),
    ] {
        s.update(&[
            ("jobid", "p"),
            ("workid", workid),
            ("current", current),
            ("total", "10"),
            ("ok", ok),
            ("desc", "flagging"),
        ]);
    }
    let html = s.get("/progress/show?jobid=p&interval=7").body;
    assert!(html.contains("<h1 id=\"title\" title=\"Nightly reduction\">Nightly reduction</h1>"));
    assert!(html.contains("data-interval=\"7\""));
    assert!(html.contains("<noscript><meta http-equiv=\"refresh\" content=\"7\"></noscript>"));
    let order: Vec<usize> = ["node1", "node2", "node10"]
        .iter()
        .map(|id| html.find(&format!("data-workid=\"{id}\"")).expect(id))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "natural order");
    assert!(html.contains("class=\"worker s-failed\" data-workid=\"node1\""));
    assert!(html.contains("class=\"worker s-done\" data-workid=\"node10\""));
    assert!(html.contains("<span class=\"fill p50\" data-percent=\"50\">"));
    assert!(html.contains("<b>5/10</b>"));
    assert!(html.contains("flagging"));
    // The summary counts workers by state, with words beside the colours.
    assert!(html.contains("<b id=\"n-running\">1</b> running"));
    assert!(html.contains("<b id=\"n-failed\">1</b> failed"));
    assert!(html.contains("id=\"waiting\" class=\"notice\" hidden"));
}

#[test]
fn expected_workers_show_as_not_started_and_their_ids_stay_text() {
    let s = TestServer::start();
    let roster = HOSTILE.join(",");
    let r = s.get(&format!(
        "/progress/create?{}",
        python_query(&[("jobid", "r"), ("workids", &roster)])
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    s.update(&[
        ("jobid", "r"),
        ("workid", HOSTILE[0]),
        ("current", "1"),
        ("total", "4"),
    ]);
    let html = s.get("/progress/show?jobid=r").body;
    nothing_live(&html);
    assert_eq!(
        listed(&html)
            .matches("class=\"worker s-not_started\"")
            .count(),
        4
    );
    assert_eq!(listed(&html).matches("<b>not started yet</b>").count(), 4);
    assert!(html.contains("<b id=\"n-not_started\">4</b> not started"));
    assert!(html.contains("○ not started</span>"));
    // The burn-up's points travel in an attribute, escaped.
    assert!(html.contains("id=\"burnup\""));
    assert!(html.contains("data-points=\"[["));
    let index = s.get("/progress/").body;
    nothing_live(&index);
    assert!(index.contains("4 not started"), "{index}");
    // A job without a roster does not mention it.
    s.get("/progress/create?jobid=plain");
    let plain = s.get("/progress/show?jobid=plain").body;
    assert!(plain.contains("<li class=\"s-not_started\" data-hide-zero hidden>"));
}

#[test]
fn a_job_without_workers_says_it_is_waiting() {
    let s = TestServer::start();
    s.get("/progress/create?jobid=empty");
    let html = s.get("/progress/show?jobid=empty").body;
    assert!(html.contains("<p id=\"waiting\" class=\"notice\">Waiting for the first update"));
}

#[test]
fn an_unknown_job_gets_a_404_page_that_keeps_checking() {
    let s = TestServer::start();
    let r = s.get("/progress/show?jobid=later&interval=5");
    assert_eq!(r.status, 404);
    assert!(r.content_type.starts_with("text/html"));
    assert!(r.body.contains("No job “<bdi>later</bdi>” yet"));
    assert!(
        r.body
            .contains("<meta http-equiv=\"refresh\" content=\"5\">")
    );
}

#[test]
fn show_needs_a_jobid_and_keeps_the_interval_sane() {
    let s = TestServer::start();
    s.get("/progress/create?jobid=j");
    assert_eq!(s.get("/progress/show").status, 400);
    let r = s.get("/progress/show?jobid=j&interval=soon");
    assert_eq!(r.status, 400);
    assert!(r.body.starts_with("parameter 'interval'"));
    // Below the minimum of 1 s it is 1 s, negative values too.
    for low in ["0", "-5"] {
        let r = s.get(&format!("/progress/show?jobid=j&interval={low}"));
        assert_eq!(r.status, 200, "{low}");
        assert!(r.body.contains("data-interval=\"1\""), "{}", r.body);
    }
}

#[test]
fn ids_that_would_not_survive_html_are_refused() {
    // RLO would reverse the text after it; CR and NUL are changed by HTML
    // parsing, so the page could not name the job back to the server.
    let s = TestServer::start();
    for id in ["abc%E2%80%AE", "cr%0Dx", "nul%00x"] {
        let r = s.get(&format!("/progress/create?jobid={id}"));
        assert_eq!(r.status, 400, "{id}");
        assert!(r.body.starts_with("parameter 'jobid'"), "{}", r.body);
        let r = s.get(&format!(
            "/progress/update?jobid=j&workid={id}&current=1&total=2"
        ));
        assert_eq!(r.status, 400, "{id}");
    }
}

#[test]
fn the_page_names_its_status_url_already_encoded() {
    let s = TestServer::start();
    s.update(&[
        ("jobid", "a b&c"),
        ("workid", "w"),
        ("current", "1"),
        ("total", "2"),
    ]);
    let html = s
        .get(&format!(
            "/progress/show?{}",
            python_query(&[("jobid", "a b&c")])
        ))
        .body;
    assert!(
        html.contains("data-status=\"status?jobid=a+b%26c&amp;text=1\""),
        "{html}"
    );
}

#[test]
fn index_lists_jobs_newest_first_and_can_be_turned_off() {
    let s = TestServer::start();
    s.get("/progress/create?jobid=first&desc=First+job");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    s.update(&[
        ("jobid", "second"),
        ("workid", "w"),
        ("current", "1"),
        ("total", "4"),
    ]);
    let html = s.get("/progress/").body;
    let (a, b) = (
        html.find("show?jobid=second"),
        html.find("show?jobid=first"),
    );
    assert!(a.is_some() && a < b, "newest first");
    assert!(html.contains(">First job</a>"));
    assert!(html.contains("25.0%"));
    let hidden = TestServer::start_with(|c| c.no_index = true);
    hidden.get("/progress/create?jobid=private");
    assert_eq!(hidden.get("/progress/").status, 404);
    assert_eq!(hidden.get("/progress/jobs").status, 404, "nor as JSON");
    assert_eq!(hidden.get("/").status, 404, "the redirect leads to the 404");
    let page = hidden.get("/progress/show?jobid=private").body;
    assert!(!page.contains("all jobs"), "no link to a hidden index");
    assert!(
        s.get("/progress/show?jobid=first")
            .body
            .contains("all jobs")
    );
}

#[test]
fn assets_are_served_with_their_types() {
    let s = TestServer::start();
    let css = s.get("/progress/assets/progressd.css");
    assert_eq!(css.status, 200);
    assert!(css.content_type.starts_with("text/css"));
    assert!(css.body.contains(".p100 { width: 100%; }"));
    assert!(css.body.contains("prefers-color-scheme: dark"));
    let js = s.get("/progress/assets/show.js");
    assert_eq!(js.status, 200);
    assert!(js.content_type.starts_with("text/javascript"));
    assert!(js.body.contains("body.dataset.status"));
}

/// The workids of the rows of a show page, in its order.
fn row_order(html: &str) -> Vec<&str> {
    html.split("data-workid=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|id| !id.is_empty())
        .collect()
}

/// Issue 14: sixty done bars buried the four rows that matter. With
/// `sort=attention` the failed, stale and slow ones come first; with
/// `hide=done` the done ones are left out; the toggles link to the other
/// views, keeping the interval.
#[test]
fn problems_come_first_and_done_workers_hide_when_asked() {
    let s = TestServer::start();
    s.report_of_ten(
        "p",
        &[
            ("a1", "10", "1"),
            ("a2", "4", "1"),
            ("a3", "2", "0"),
            ("a4", "10", "1"),
        ],
    );
    let plain = s.get("/progress/show?jobid=p&interval=7").body;
    assert_eq!(row_order(&plain), ["a1", "a2", "a3", "a4"]);
    assert!(
        plain.contains(
            "id=\"problems-first\" class=\"toggle\" role=\"button\" aria-pressed=\"false\" \
                            href=\"show?jobid=p&amp;interval=7&amp;sort=attention\""
        ),
        "{plain}"
    );
    let first = s
        .get("/progress/show?jobid=p&interval=7&sort=attention")
        .body;
    assert_eq!(
        row_order(&first),
        ["a3", "a2", "a1", "a4"],
        "failed, running, done"
    );
    let hidden = s
        .get("/progress/show?jobid=p&sort=attention&hide=done")
        .body;
    assert_eq!(row_order(&hidden), ["a3", "a2"]);
    assert!(hidden.contains("aria-pressed=\"true\" href=\"show?jobid=p&amp;interval=30&amp;sort=attention\">hide done (<span id=\"done-count\">2</span>)"), "{hidden}");
    assert!(hidden.contains("data-attention-order=\"failed,stale,slow,running,not_started,done\""));
    assert_eq!(s.get("/progress/show?jobid=p&sort=rate").status, 400);
}

/// Issue 14: the index coloured every job's bar green. It takes the
/// colour of the job's worst state.
#[test]
fn the_index_colours_a_job_by_its_worst_state() {
    let s = TestServer::start();
    for (jobid, workid, current, ok) in [
        ("crashed", "w1", "3", "1"),
        ("crashed", "w2", "3", "0"),
        ("fine", "w1", "3", "1"),
        ("finished", "w1", "10", "1"),
    ] {
        s.update(&[
            ("jobid", jobid),
            ("workid", workid),
            ("current", current),
            ("total", "10"),
            ("ok", ok),
        ]);
    }
    let html = s.get("/progress/").body;
    for (jobid, state) in [
        ("crashed", "failed"),
        ("fine", "running"),
        ("finished", "done"),
    ] {
        let row = html
            .split("<tr>")
            .find(|r| r.contains(&format!("show?jobid={jobid}\"")))
            .expect(jobid);
        assert!(
            row.contains(&format!("class=\"prog s-{state}\"")),
            "{jobid}: {row}"
        );
    }
}

/// Issue 14: a finished job says how long it took, from its first report
/// to its last; an unfinished one does not.
#[test]
fn a_finished_job_says_it_completed_and_in_how_long() {
    let s = TestServer::start();
    s.update(&[
        ("jobid", "j"),
        ("workid", "a"),
        ("current", "1"),
        ("total", "2"),
    ]);
    s.update(&[
        ("jobid", "j"),
        ("workid", "b"),
        ("current", "2"),
        ("total", "2"),
    ]);
    let html = s.get("/progress/show?jobid=j").body;
    assert!(
        html.contains("<span id=\"completed-wrap\" hidden>"),
        "{html}"
    );
    s.update(&[("jobid", "j"), ("workid", "a"), ("current", "2")]);
    let html = s.get("/progress/show?jobid=j").body;
    assert!(
        html.contains("<span id=\"completed-wrap\"> · <b id=\"completed\">completed in 0 s</b>"),
        "{html}"
    );
    let status = s.get("/progress/status?jobid=j&text=1").body;
    assert!(
        status.contains("\"completed\":\"completed in 0 s\""),
        "{status}"
    );
    assert!(
        !s.get("/progress/status?jobid=j").body.contains("completed"),
        "plain status unchanged"
    );
    let svg = s.get("/progress/render.svg?jobid=j").body;
    assert!(svg.contains("completed in 0 s"), "the chart's subtitle");
}

/// Issue 14: a roster of `workers=4` (ids 0 to 3) while the workers report
/// as rank1..rank4: the page warns; a roster whose workers report does not.
#[test]
fn workers_outside_the_roster_while_its_own_wait_get_a_warning() {
    let s = TestServer::start();
    s.get("/progress/create?jobid=r&workers=4");
    s.get("/progress/create?jobid=ok&workers=4");
    for i in 1..=4 {
        let (rank, own) = (format!("rank{i}"), format!("{}", i - 1));
        s.update(&[
            ("jobid", "r"),
            ("workid", &rank),
            ("current", "1"),
            ("total", "10"),
        ]);
        if i < 4 {
            s.update(&[
                ("jobid", "ok"),
                ("workid", &own),
                ("current", "1"),
                ("total", "10"),
            ]);
        }
    }
    let html = s.get("/progress/show?jobid=r").body;
    assert!(
        html.contains("<p id=\"roster-warning\" class=\"warning\">⚠ <b>4</b> workers report that the roster does not name, \
                       and <b id=\"roster-waiting\">4</b> named by it have not started"),
        "{html}"
    );
    // One of its own has not started yet, none outside it: no warning.
    let html = s.get("/progress/show?jobid=ok").body;
    assert!(
        html.contains("<p id=\"roster-warning\" class=\"warning\" hidden>"),
        "{html}"
    );
}
