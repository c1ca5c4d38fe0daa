//! Jobs too big to list whole (issue 12): `status` in pages, filtered and
//! sorted by the server, polls of what changed, the answer streamed for a
//! job past the size read whole, and the job list's tallies.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use common::{TestResult, TestServer};
use serde_json::Value;

/// Workers of a job made with `workers=N` and `n_reported` of them reported
/// at `current = i % 101` of 100 (every 7th failed).
fn roster_job(s: &TestServer, jobid: &str, workers: usize, n_reported: usize) {
    let r = s.get(&format!("/progress/create?jobid={jobid}&workers={workers}"));
    assert_eq!(r.status, 200, "{}", r.body);
    for i in 0..n_reported {
        let ok = if i % 7 == 3 { "0" } else { "1" };
        let current = (i % 101).to_string();
        s.update(&[
            ("jobid", jobid),
            ("workid", &i.to_string()),
            ("current", &current),
            ("total", "100"),
            ("ok", ok),
        ]);
    }
}

fn workids(status: &Value) -> Vec<String> {
    status["workers"]
        .as_array()
        .map(|ws| {
            ws.iter()
                .map(|w| w["workid"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn get_json(s: &TestServer, query: &str) -> Value {
    let r = s.get(&format!("/progress/status?{query}"));
    assert_eq!(r.status, 200, "{query}: {}", r.body);
    r.json()
}

#[test]
fn a_streamed_answer_is_every_worker_in_natural_order_and_pages_walk_the_same() -> TestResult {
    let s = TestServer::start();
    // Past the 2,000 workers read whole, so the answer is streamed.
    roster_job(&s, "big", 2600, 40);
    let r = s.get("/progress/status?jobid=big");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Length"), None, "sent as it is made");
    let full = r.json();
    let all = workids(&full);
    let expected: Vec<String> = (0..2600).map(|i| i.to_string()).collect();
    assert_eq!(all, expected, "natural order: 2 before 10");
    assert_eq!(full["summary"]["not_started"], 2600 - 40);
    assert!(full.get("since").is_none() && full["summary"].get("histogram").is_none());
    // The same workers, a page at a time by cursor...
    let mut walked = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("jobid=big&limit=1000&cursor={c}"),
            None => "jobid=big&limit=1000".to_string(),
        };
        let page = get_json(&s, &query);
        assert_eq!(page["page"]["matched"], 2600);
        walked.extend(workids(&page));
        match page["page"]["next"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(walked, expected);
    // The history too, streamed, in the same order.
    let r = s.get("/progress/history?jobid=big");
    assert_eq!((r.status, r.header("Content-Length")), (200, None));
    let history = r.json();
    assert_eq!(workids(&history), expected);
    assert!(history["percent"].as_array().is_some_and(|p| !p.is_empty()));
    let reported = &history["workers"][39]["current"];
    assert_eq!(reported.as_array().map(Vec::len), Some(1), "{reported}");
    assert_eq!(reported[0][1], 39);
    // ...and by offset, with every worker's JSON as in the full answer.
    let page = get_json(&s, "jobid=big&limit=5&offset=20");
    assert_eq!(workids(&page), ["20", "21", "22", "23", "24"]);
    for (i, w) in page["workers"].as_array().into_iter().flatten().enumerate() {
        let mut same = full["workers"][20 + i].clone();
        // Both answers were made at their own `now`.
        for key in ["eta_seconds", "slow", "stale"] {
            same[key] = w[key].clone();
        }
        assert_eq!(*w, same);
    }
    Ok(())
}

#[test]
fn pages_filter_by_state_and_workid_and_sort_either_way() -> TestResult {
    let s = TestServer::start();
    roster_job(&s, "j", 300, 120);
    let failed = get_json(&s, "jobid=j&state=failed&limit=5000");
    let ids = workids(&failed);
    assert!(!ids.is_empty());
    assert!(
        failed["workers"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|w| w["state"] == "failed")
    );
    assert_eq!(failed["page"]["matched"], ids.len());
    assert_eq!(
        failed["summary"]["failed"],
        ids.len(),
        "the summary is the whole job's"
    );
    let two = get_json(&s, "jobid=j&state=failed,not_started&limit=5000");
    assert_eq!(two["page"]["matched"], ids.len() + 180);
    // Case-insensitive substring of the workid.
    s.update(&[
        ("jobid", "j"),
        ("workid", "Rank-X"),
        ("current", "1"),
        ("total", "2"),
    ]);
    let found = get_json(&s, "jobid=j&q=rank-x");
    assert_eq!(workids(&found), ["Rank-X"]);
    let found = get_json(&s, "jobid=j&q=11&limit=5000");
    assert_eq!(
        workids(&found),
        [
            "11", "110", "111", "112", "113", "114", "115", "116", "117", "118", "119", "211"
        ]
    );
    // Largest percent first, ties by workid; then the other way.
    let top = get_json(&s, "jobid=j&sort=-percent&limit=3");
    let percents: Vec<f64> = top["workers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| w["percent"].as_f64())
        .collect();
    assert_eq!(percents, [100.0, 99.0, 98.0]);
    assert_eq!(top["page"]["sort"], "-percent");
    let low = get_json(&s, "jobid=j&sort=percent&state=running&limit=2");
    // Worker 101 is at 0 % too, but failed.
    assert_eq!(workids(&low), ["0", "1"]);
    // Attention: failed first.
    let first = get_json(&s, "jobid=j&sort=attention&limit=1");
    assert_eq!(first["workers"][0]["state"], "failed");
    // Walking a sorted, filtered job by cursor sees each worker once.
    let mut seen = Vec::new();
    let mut query = "jobid=j&sort=-percent&state=running,done&limit=7".to_string();
    loop {
        let page = get_json(&s, &query);
        seen.extend(workids(&page));
        let Some(next) = page["page"]["next"].as_str() else {
            break;
        };
        query = format!("jobid=j&sort=-percent&state=running,done&limit=7&cursor={next}");
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "no worker twice");
    let running_done = get_json(&s, "jobid=j&state=running,done&limit=1");
    assert_eq!(running_done["page"]["matched"], seen.len());
    Ok(())
}

/// Review of issue 12: `-workid` pages started again at the top, and a
/// cursor made for one direction was taken for the other.
#[test]
fn a_cursor_walks_every_order_either_way_as_one_big_page_lists_it() -> TestResult {
    let s = TestServer::start();
    roster_job(&s, "o", 260, 130);
    for by in ["workid", "percent", "rate", "updated", "attention"] {
        for sort in [by.to_string(), format!("-{by}")] {
            let whole = workids(&get_json(&s, &format!("jobid=o&sort={sort}&limit=5000")));
            assert_eq!(whole.len(), 260, "{sort}");
            let mut walked = Vec::new();
            let mut query = format!("jobid=o&sort={sort}&limit=37");
            loop {
                let page = get_json(&s, &query);
                walked.extend(workids(&page));
                let Some(next) = page["page"]["next"].as_str() else {
                    break;
                };
                query = format!("jobid=o&sort={sort}&limit=37&cursor={next}");
            }
            assert_eq!(walked, whole, "{sort}");
        }
    }
    let page = get_json(&s, "jobid=o&sort=percent&limit=3");
    let next = page["page"]["next"].as_str().ok_or("a next cursor")?;
    let r = s.get(&format!(
        "/progress/status?jobid=o&sort=-percent&cursor={next}"
    ));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body
            .contains("was made for sort=percent, not sort=-percent"),
        "{}",
        r.body
    );
    Ok(())
}

#[test]
fn the_summary_alone_carries_a_histogram() -> TestResult {
    let s = TestServer::start();
    roster_job(&s, "h", 50, 20);
    let summary = get_json(&s, "jobid=h&workers=0");
    assert!(summary.get("workers").is_none());
    let histogram = &summary["summary"]["histogram"];
    let total: u64 = ["running", "done", "failed", "stale", "not_started"]
        .iter()
        .flat_map(|state| histogram[*state].as_array().cloned().unwrap_or_default())
        .filter_map(|n| n.as_u64())
        .sum();
    assert_eq!(total, 50);
    assert_eq!(histogram["not_started"][0], 30);
    // Worker 19 is at 19 %: the fourth bucket (15–20 %).
    assert_eq!(histogram["running"][3].as_u64(), Some(4), "15, 16, 18, 19");
    assert_eq!(histogram["failed"][3].as_u64(), Some(1), "17");
    Ok(())
}

/// `attention=N` adds the first N workers needing attention to any
/// answer, as the page `state=failed,stale,slow&sort=attention&limit=N`
/// lists them (the big-job page's poll, in one request), and leaves the
/// rest of the answer as it was.
#[test]
fn attention_lists_what_the_attention_page_lists_beside_any_answer() -> TestResult {
    let s = TestServer::start();
    // Every 7th failed: 86 of 600, more than one list of 50.
    roster_job(&s, "a", 700, 600);
    let alone = get_json(
        &s,
        "jobid=a&state=failed,stale,slow&sort=attention&limit=50",
    );
    assert_eq!(alone["page"]["matched"], 86);
    assert_eq!(workids(&alone).len(), 50);
    for query in [
        "jobid=a&limit=100&offset=200&sort=workid",
        "jobid=a&state=not_started&q=65",
        "jobid=a&workers=0",
        "jobid=a&since=0",
        "jobid=a",
    ] {
        let with = get_json(&s, &format!("{query}&attention=50"));
        let attention = &with["attention"];
        assert_eq!(attention["page"], alone["page"], "{query}");
        assert_eq!(attention["workers"], alone["workers"], "{query}");
        // The rest lists what the answer without it lists.
        let without = get_json(&s, query);
        assert_eq!(with["page"], without["page"], "{query}");
        assert_eq!(workids(&with), workids(&without), "{query}");
        assert_eq!(
            with.get("workers").is_some(),
            without.get("workers").is_some()
        );
        assert_eq!(with["summary"]["failed"], 86, "{query}");
        assert!(
            with["since"].is_number(),
            "{query}: a new parameter, so since"
        );
    }
    // None need attention: an empty list, not a missing one.
    roster_job(&s, "calm", 3, 3);
    let calm = get_json(&s, "jobid=calm&workers=0&attention=5");
    assert_eq!(calm["attention"]["page"]["matched"], 0);
    assert_eq!(calm["attention"]["workers"], serde_json::json!([]));
    assert!(calm.get("workers").is_none());
    Ok(())
}

#[test]
fn bad_listing_parameters_are_refused_naming_the_parameter() -> TestResult {
    let s = TestServer::start();
    roster_job(&s, "b", 3, 0);
    for (query, name) in [
        ("state=bogus", "state"),
        ("state=running,,done", "state"),
        ("sort=size", "sort"),
        ("sort=--percent", "sort"),
        ("limit=0", "limit"),
        ("limit=5001", "limit"),
        ("limit=ten", "limit"),
        ("offset=-1", "offset"),
        ("offset=1&cursor=workid.30", "cursor"),
        ("cursor=nonsense", "cursor"),
        ("cursor=workid.3", "cursor"),
        ("sort=percent&cursor=workid.3031", "cursor"),
        ("cursor=percent.zz.30", "cursor"),
        ("workers=2", "workers"),
        ("since=yesterday", "since"),
        ("since=inf", "since"),
        ("attention=0", "attention"),
        ("attention=5001", "attention"),
        ("limit=10&attention=some", "attention"),
    ] {
        let r = s.get(&format!("/progress/status?jobid=b&{query}"));
        assert_eq!(r.status, 400, "{query}: {}", r.body);
        assert!(
            r.body.starts_with(&format!("parameter '{name}'")) && r.body.lines().count() == 1,
            "{query}: {}",
            r.body
        );
    }
    Ok(())
}

/// A poller that asks only for what changed since its last answer must end
/// up with every worker's last report, however the polls and the updates
/// interleave.
#[test]
fn polls_since_the_last_answer_never_miss_a_change() -> TestResult {
    let s = Arc::new(TestServer::start());
    roster_job(&s, "p", 40, 0);
    let done = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|t| {
            let (s, done) = (Arc::clone(&s), Arc::clone(&done));
            thread::spawn(move || {
                let mut step = 0u64;
                while !done.load(Ordering::Relaxed) {
                    step += 1;
                    let workid = ((step * 7 + t) % 40).to_string();
                    s.update(&[
                        ("jobid", "p"),
                        ("workid", &workid),
                        ("current", &step.to_string()),
                        ("total", "1000000"),
                    ]);
                }
            })
        })
        .collect();
    let mut known: HashMap<String, Value> = HashMap::new();
    let mut since = 0.0;
    for _ in 0..60 {
        let answer = get_json(&s, &format!("jobid=p&since={since}"));
        for w in answer["workers"].as_array().into_iter().flatten() {
            known.insert(
                w["workid"].as_str().unwrap_or_default().to_string(),
                w["current"].clone(),
            );
        }
        since = answer["since"].as_f64().ok_or("a since")?;
    }
    done.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().map_err(|_| "writer thread")?;
    }
    let answer = get_json(&s, &format!("jobid=p&since={since}"));
    for w in answer["workers"].as_array().into_iter().flatten() {
        known.insert(
            w["workid"].as_str().unwrap_or_default().to_string(),
            w["current"].clone(),
        );
    }
    let full = s.status("p");
    for w in full["workers"].as_array().into_iter().flatten() {
        let id = w["workid"].as_str().unwrap_or_default();
        assert_eq!(known.get(id), Some(&w["current"]), "worker {id}");
    }
    // Nothing changed since: nothing listed.
    let still = get_json(&s, &format!("jobid=p&since={}", answer["since"]));
    assert_eq!(workids(&still), Vec::<String>::new());
    Ok(())
}

#[test]
fn the_job_list_counts_agree_with_status_through_updates_rosters_and_overwrites() -> TestResult {
    let s = TestServer::start();
    roster_job(&s, "a", 30, 14);
    roster_job(&s, "b", 5, 5);
    s.update(&[
        ("jobid", "a"),
        ("workid", "extra"),
        ("current", "2"),
        ("total", "4"),
    ]);
    s.update(&[
        ("jobid", "a"),
        ("workid", "3"),
        ("current", "100"),
        ("total", "100"),
    ]);
    // b overwritten by a new roster, c deleted.
    roster_job(&s, "b", 8, 2);
    roster_job(&s, "c", 4, 4);
    assert_eq!(s.get("/progress/delete?jobid=c").status, 200);
    // 100 times 1e307 overflows: the tally divides first, as the model.
    s.update(&[
        ("jobid", "huge"),
        ("workid", "w"),
        ("current", "1e307"),
        ("total", "1e308"),
    ]);
    let list = s.get("/progress/jobs").json();
    let jobs = list.as_array().ok_or("a list")?;
    assert_eq!(jobs.len(), 3);
    for job in jobs {
        let id = job["jobid"].as_str().ok_or("jobid")?;
        let status = s.status(id);
        let summary = &status["summary"];
        for state in ["running", "done", "failed", "stale", "not_started"] {
            assert_eq!(job[state], summary[state], "{id} {state}");
        }
        assert_eq!(
            job["workers"],
            status["workers"].as_array().map_or(0, Vec::len)
        );
        assert_eq!(job["percent"], summary["percent"], "{id}");
        assert_eq!(job["updated"], status["updated"], "{id}");
    }
    Ok(())
}
