//! `show.txt`, the job as text for a terminal: its look, pinned by golden
//! files under `tests/golden/` (made with a manual clock, so every time is
//! exact; `UPDATE_GOLDEN=1` rewrites them, to be read before committing),
//! and its rules: nothing a client sent reaches the terminal as a control,
//! no line is wider than `cols`, colour only with `color=1`.

mod common;

use common::{TestServer, python_query};
use progressd::clock::Secs;
use std::path::Path;

/// `text` matches `tests/golden/<name>.txt` exactly.
fn golden(name: &str, text: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.txt"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, text).expect("golden file written");
        return;
    }
    let want = std::fs::read_to_string(&path).expect("golden file (UPDATE_GOLDEN=1 makes it)");
    assert!(
        text == want,
        "{name}: got\n{text}\nwant\n{want}\n(UPDATE_GOLDEN=1 rewrites it)"
    );
}

/// The text of `jobid` with `query` added; asserts a 200 in plain text.
fn show_text(s: &TestServer, jobid: &str, query: &str) -> String {
    let r = s.get(&format!(
        "/progress/show.txt?{}{query}",
        python_query(&[("jobid", jobid)])
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("Content-Type"), Some("text/plain; charset=utf-8"));
    r.body
}

fn create(s: &TestServer, jobid: &str, desc: &str) {
    let r = s.get(&format!(
        "/progress/create?{}",
        python_query(&[("jobid", jobid), ("desc", desc)])
    ));
    assert_eq!(r.status, 200, "{}", r.body);
}

fn report(s: &TestServer, jobid: &str, workid: &str, current: &str, ok: &str, desc: &str) {
    s.update(&[
        ("jobid", jobid),
        ("workid", workid),
        ("current", current),
        ("total", "100"),
        ("ok", ok),
        ("desc", desc),
    ]);
}

#[test]
fn a_small_job_reads_as_its_golden_file() {
    let (s, clock) = TestServer::start_with_clock();
    create(&s, "train", "Training run 7");
    report(&s, "train", "node-1", "10", "1", "epoch 1");
    report(&s, "train", "node-2", "5", "1", "epoch 1");
    report(&s, "train", "node-3", "100", "1", "");
    clock.advance(Secs(10.0));
    report(&s, "train", "node-1", "40", "1", "epoch 2");
    report(&s, "train", "node-2", "25", "1", "epoch 1");
    clock.advance(Secs(2.0));
    golden("small", &show_text(&s, "train", ""));
}

#[test]
fn a_failed_job_reads_as_its_golden_file() {
    let (s, clock) = TestServer::start_with_clock();
    report(&s, "etl", "extract", "100", "1", "rows read");
    report(&s, "etl", "transform", "30", "1", "");
    clock.advance(Secs(30.0));
    report(&s, "etl", "transform", "42", "0", "out of memory");
    report(&s, "etl", "load", "0", "1", "waiting");
    clock.advance(Secs(5.0));
    golden("failed", &show_text(&s, "etl", "&cols=60"));
}

#[test]
fn a_big_job_shows_the_histogram_and_problems_first_within_the_limit() {
    let (s, clock) = TestServer::start_with_clock();
    create(&s, "sweep", "Parameter sweep");
    for i in 0..12 {
        let current = (i * 9).to_string();
        report(&s, "sweep", &format!("run-{i:02}"), &current, "1", "");
    }
    clock.advance(Secs(20.0));
    for i in 0..12 {
        let current = (i * 9 + 8).min(100).to_string();
        let ok = if i == 7 { "0" } else { "1" };
        report(&s, "sweep", &format!("run-{i:02}"), &current, ok, "");
    }
    clock.advance(Secs(3.0));
    let text = show_text(&s, "sweep", "&limit=5");
    assert!(
        text.contains("7 of 12 workers not shown (limit=5)"),
        "{text}"
    );
    golden("big", &text);
    // The same job within the limit is listed whole.
    let whole = show_text(&s, "sweep", "&limit=12");
    assert_eq!(whole.matches("run-").count(), 12, "{whole}");
    assert!(!whole.contains("not shown"), "{whole}");
}

#[test]
fn a_job_over_list_all_up_to_is_shown_as_a_big_one() {
    let s = TestServer::start_with(|c| c.list_all_up_to = 2);
    for workid in ["a", "b", "c"] {
        report(&s, "three", workid, "50", "1", "");
    }
    let text = show_text(&s, "three", "");
    assert!(text.contains("Workers by percent done"), "{text}");
    let listed = text
        .lines()
        .filter(|line| ["a ", "b ", "c "].iter().any(|id| line.starts_with(id)))
        .count();
    assert_eq!(listed, 3, "{text}");
    assert!(!text.contains("not shown"), "{text}");
    let small = TestServer::start_with(|c| c.list_all_up_to = 3);
    for workid in ["a", "b", "c"] {
        report(&small, "three", workid, "50", "1", "");
    }
    let text = show_text(&small, "three", "");
    assert!(!text.contains("Workers by percent done"), "{text}");
}

/// Sent as descs (of the job and its workers); ids cannot hold controls
/// at all (they are refused), so they are tested as descs here and by the
/// corpus there.
const HOSTILE: [&str; 8] = [
    "\u{1b}]0;owned\u{7}",
    "\u{1b}]2;title\u{1b}\\",
    "\u{1b}[2J\u{1b}[H",
    "bell\u{7}nul\0",
    "\u{202E}evil",
    "carriage\rreturn",
    "c1\u{9b}31m\u{85}",
    "del\u{7f}",
];

#[test]
fn nothing_sent_reaches_the_terminal_as_a_control() {
    let s = TestServer::start();
    for (i, hostile) in HOSTILE.iter().enumerate() {
        let jobid = format!("hostile-{i}");
        create(&s, &jobid, hostile);
        report(&s, &jobid, "w", "5", "1", hostile);
        report(&s, &jobid, "x", "5", "0", hostile);
        for query in ["", "&color=1", "&limit=1"] {
            let text = show_text(&s, &jobid, query);
            let colour = query == "&color=1";
            for c in text.chars() {
                let allowed = c == '\n' || (colour && c == '\u{1b}');
                assert!(
                    allowed
                        || !(c.is_control()
                            || ('\u{202A}'..='\u{202E}').contains(&c)
                            || ('\u{2066}'..='\u{2069}').contains(&c)),
                    "U+{:04X} in {text:?}",
                    u32::from(c)
                );
            }
            if colour {
                // Every escape is one of ours: a colour or a reset.
                for after in text.split('\u{1b}').skip(1) {
                    assert!(
                        after.starts_with("[38;2;") || after.starts_with("[0m"),
                        "{after:?}"
                    );
                }
            }
        }
    }
}

/// The cells a line takes, counting the wide characters this test sends
/// as two.
fn cells(line: &str) -> usize {
    line.chars()
        .map(|c| match c {
            '\u{3000}'..='\u{9FFF}' | '\u{AC00}'..='\u{D7A3}' | '\u{FF01}'..='\u{FF60}' => 2,
            _ => 1,
        })
        .sum()
}

#[test]
fn no_line_is_wider_than_cols_nor_ends_in_a_space() {
    let s = TestServer::start();
    let long = "a-very-long-workid-that-goes-on-and-on-".repeat(3);
    create(&s, "wide", &"進捗を表示する長い題名".repeat(10));
    report(&s, "wide", &long, "33", "1", &"説明".repeat(100));
    report(&s, "wide", "진행", "66", "1", &"x".repeat(500));
    report(&s, "wide", "w", "5", "0", "ｆｕｌｌｗｉｄｔｈ");
    for cols in [40, 41, 57, 80, 133, 400] {
        for limit in ["", "&limit=1"] {
            let text = show_text(&s, "wide", &format!("&cols={cols}{limit}"));
            for line in text.lines() {
                assert!(cells(line) <= cols, "{cols}: {line:?}");
                assert!(!line.ends_with(' '), "{cols}: {line:?}");
            }
            // Cut lines say so (with every worker listed, the longest is).
            assert!(limit == "&limit=1" || text.contains('…'), "{text}");
        }
    }
}

#[test]
fn colour_only_with_color_1() {
    let s = TestServer::start();
    report(&s, "c", "ok", "50", "1", "");
    report(&s, "c", "bad", "20", "0", "");
    let coloured = show_text(&s, "c", "&color=1");
    assert!(coloured.contains("\u{1b}[38;2;"), "{coloured}");
    assert_eq!(
        coloured.matches("\u{1b}[38;2;").count(),
        coloured.matches("\u{1b}[0m").count(),
        "every colour is reset"
    );
    for plain in ["", "&color=0"] {
        let text = show_text(&s, "c", plain);
        assert!(!text.contains('\u{1b}'), "{plain}: {text}");
    }
}

#[test]
fn an_unknown_job_or_bad_parameter_is_one_line() {
    let s = TestServer::start();
    let r = s.get("/progress/show.txt?jobid=nope");
    assert_eq!(
        (r.status, r.body.as_str()),
        (404, "no job with jobid \"nope\"\n")
    );
    report(&s, "j", "w", "1", "1", "");
    for (query, name) in [
        ("cols=39", "cols"),
        ("cols=wide", "cols"),
        ("color=2", "color"),
        ("limit=0", "limit"),
    ] {
        let r = s.get(&format!("/progress/show.txt?jobid=j&{query}"));
        assert_eq!(r.status, 400, "{query}");
        assert!(r.body.contains(&format!("'{name}'")), "{query}: {}", r.body);
        assert_eq!(r.body.lines().count(), 1, "{}", r.body);
    }
}

/// The workids listed in `text`: the first word of each worker's line (it
/// has a bar) that starts with `prefix`.
fn listed<'t>(text: &'t str, prefix: &str) -> Vec<&'t str> {
    text.lines()
        .filter(|line| line.starts_with(prefix) && line.contains('▕'))
        .filter_map(|line| line.split(' ').next())
        .collect()
}

#[test]
fn state_lists_only_the_workers_in_that_state() {
    let s = TestServer::start();
    create(&s, "mixed", "Mixed");
    for i in 0..30 {
        let (current, ok) = match i % 3 {
            0 => ("100", "1"),
            1 => ("40", "0"),
            _ => ("50", "1"),
        };
        report(&s, "mixed", &format!("w{i:02}"), current, ok, "");
    }
    let failed = show_text(&s, "mixed", "&state=failed");
    let want: Vec<String> = (0..30)
        .filter(|i| i % 3 == 1)
        .map(|i| format!("w{i:02}"))
        .collect();
    assert_eq!(listed(&failed, "w"), want, "{failed}");
    assert!(
        failed.contains("\nFailed workers, in order of workid\n"),
        "{failed}"
    );
    assert!(
        failed.ends_with("\nworkers 1–10 of 10 failed\n"),
        "{failed}"
    );
    // The summary comes first, as for a big job, without the histogram.
    assert!(
        failed.starts_with("Mixed\njob mixed · 30 workers"),
        "{failed}"
    );
    assert!(!failed.contains("Workers by percent done"), "{failed}");
    // Two states: either, in order of workid.
    let two = show_text(&s, "mixed", "&state=failed,done&limit=5");
    assert_eq!(
        listed(&two, "w"),
        ["w00", "w01", "w03", "w04", "w06"],
        "{two}"
    );
    assert!(
        two.ends_with("\nworkers 1–5 of 20 failed or done; offset=5 for more\n"),
        "{two}"
    );
    // None in that state: said, nothing listed.
    let stale = show_text(&s, "mixed", "&state=stale");
    assert!(
        stale.ends_with("\nStale workers, in order of workid\nno stale workers\n"),
        "{stale}"
    );
    assert!(listed(&stale, "w").is_empty(), "{stale}");
    // Past the last: said too.
    let past = show_text(&s, "mixed", "&state=failed&offset=10");
    assert!(
        past.ends_with("\nno failed workers from offset=10 (10 in all)\n"),
        "{past}"
    );
}

#[test]
fn offset_pages_through_a_job_without_overlap_or_gap() {
    let s = TestServer::start();
    let body: Vec<String> = (0..250)
        .map(|i| format!("workid=n{i}&current={}&total=100", i % 101))
        .collect();
    // Batches of at most 1000 lines; 250 in one.
    let r = s.post("/progress/update?jobid=paged", &body.join("\n"));
    assert_eq!(r.status, 200, "{}", r.body);
    let mut seen: Vec<String> = Vec::new();
    let mut offset = 0;
    let mut ends = Vec::new();
    while offset < 300 {
        let text = show_text(&s, "paged", &format!("&offset={offset}&limit=100"));
        assert!(
            text.contains("\nAll workers, in order of workid\n"),
            "{text}"
        );
        seen.extend(listed(&text, "n").into_iter().map(String::from));
        ends.push(text.lines().last().unwrap_or_default().to_string());
        offset += 100;
    }
    // In natural order: n0, n1, …, n9, n10, …
    let want: Vec<String> = (0..250).map(|i| format!("n{i}")).collect();
    assert_eq!(seen, want);
    assert_eq!(
        ends,
        [
            "workers 1–100 of 250; offset=100 for more",
            "workers 101–200 of 250; offset=200 for more",
            "workers 201–250 of 250",
        ]
    );
}

#[test]
fn a_bad_state_or_offset_is_one_line_naming_it() {
    let s = TestServer::start();
    report(&s, "j", "w", "1", "1", "");
    for (query, name) in [
        ("state=broken", "state"),
        ("state=failed,,done", "state"),
        ("offset=-5", "offset"),
        ("offset=ten", "offset"),
    ] {
        let r = s.get(&format!("/progress/show.txt?jobid=j&{query}"));
        assert_eq!(r.status, 400, "{query}");
        assert!(r.body.contains(&format!("'{name}'")), "{query}: {}", r.body);
        assert_eq!(r.body.lines().count(), 1, "{}", r.body);
    }
}
