//! `/progress/render`: the PNG decoded and checked pixel by pixel, its size
//! rules, its 404 image, and its ETag (and the SVG's, which follows the
//! same rules).

mod common;

use std::error::Error;

use common::TestServer;
use image::{Rgb, RgbImage};
use progressd::chart::{self, Format, fill_color, state_color, track_color};
use progressd::clock::Secs;
use progressd::model::BarState;

/// Workers in three states: `(workid, current of 100, ok)`.
const FOUR_WORKERS: [(&str, &str, &str); 4] = [
    ("w1", "40", "1"),
    ("w2", "100", "1"),
    ("w3", "30", "0"),
    ("w10", "70", "1"),
];

fn png(s: &TestServer, path: &str) -> (u16, RgbImage) {
    let r = s.get(path);
    assert_eq!(r.content_type, "image/png", "{path}");
    let img = image::load_from_memory(&r.bytes)
        .unwrap_or_else(|e| panic!("{path}: not a PNG: {e}"))
        .to_rgb8();
    (r.status, img)
}

/// The top pixel row of bar `row` in a normal (not compact) chart: the
/// plot starts 92 px down, rows are 20 px with 15 px bars inset by 2.
/// (Its bottom rows are the underline that marks its edge.)
fn bar_y(row: u32) -> u32 {
    92 + row * 20 + 2
}

/// The x range of the bar tracks on pixel row `y`: from the first pixel
/// that is a track, fill or edge colour to the last track pixel.
fn track_span(img: &RgbImage, y: u32) -> (u32, u32) {
    // A worker not started has a white track: the background, so left out.
    let bar_colors: Vec<Rgb<u8>> = BarState::ALL
        .iter()
        .filter(|&&s| s != BarState::NotStarted)
        .flat_map(|&s| [fill_color(s), state_color(s), track_color(s)])
        .chain([Rgb([0xd2, 0xd7, 0xde])])
        .collect();
    let left = (0..img.width())
        .find(|&x| bar_colors.contains(img.get_pixel(x, y)))
        .expect("a bar on this row");
    let right = (0..img.width())
        .rev()
        .find(|&x| bar_colors.contains(img.get_pixel(x, y)))
        .expect("a track on this row");
    (left, right + 1)
}

#[test]
fn each_bar_has_its_state_colour_up_to_its_percent() {
    let s = TestServer::start();
    s.get("/progress/create?jobid=c&desc=Chart+test");
    s.report_percents("c", &FOUR_WORKERS);
    let (status, img) = png(&s, "/progress/render?jobid=c");
    assert_eq!(status, 200);
    assert_eq!(img.width(), 800);
    for (row, (percent, state)) in [
        (40.0, BarState::Running),
        (100.0, BarState::Done),
        (30.0, BarState::Failed),
        (70.0, BarState::Running),
    ]
    .into_iter()
    .enumerate()
    {
        let y = bar_y(row as u32);
        let (left, right) = track_span(&img, y);
        let end = left as f64 + f64::from(right - left) * percent / 100.0;
        let inside = (end - 8.0) as u32;
        assert_eq!(
            img.get_pixel(inside, y),
            &fill_color(state),
            "row {row}: fill before {percent}%"
        );
        if percent < 100.0 {
            let outside = (end + 8.0) as u32;
            assert_eq!(
                img.get_pixel(outside, y),
                &track_color(state),
                "row {row}: track after {percent}%"
            );
        }
        // The workid is drawn in the label column, left of the bars.
        let y_mid = y + 7;
        let ink = (0..left)
            .flat_map(|x| (y_mid - 6..y_mid + 6).map(move |y| (x, y)))
            .filter(|&(x, y)| img.get_pixel(x, y).0[0] < 128)
            .count();
        assert!(ink > 10, "row {row}: label pixels {ink}");
    }
}

#[test]
fn height_grows_with_workers_and_width_is_asked_for() {
    let s = TestServer::start();
    let mut heights = Vec::new();
    for n in [2, 8, 32] {
        let jobid = format!("h{n}");
        for i in 0..n {
            s.update(&[
                ("jobid", &jobid),
                ("workid", &i.to_string()),
                ("current", "1"),
                ("total", "2"),
            ]);
        }
        heights.push(
            png(&s, &format!("/progress/render?jobid={jobid}"))
                .1
                .height(),
        );
    }
    assert!(heights.windows(2).all(|h| h[0] < h[1]), "{heights:?}");
    assert_eq!(
        png(&s, "/progress/render?jobid=h2&width=300").1.width(),
        300
    );
    assert_eq!(
        png(&s, "/progress/render?jobid=h2&width=1600").1.width(),
        1600
    );
    let r = s.get("/progress/render?jobid=h2&width=5000");
    assert_eq!(r.status, 400);
    assert!(r.body.starts_with("parameter 'width'"));
}

#[test]
fn an_unknown_job_gets_a_404_picture_that_says_so() {
    let s = TestServer::start();
    let (status, img) = png(&s, "/progress/render?jobid=nope");
    assert_eq!(status, 404);
    assert!(img.width() <= 800 && img.height() < 200);
    let ink = img.pixels().filter(|p| p.0[0] < 128).count();
    assert!(ink > 50, "it has text: {ink}");
}

#[test]
fn a_job_without_workers_gets_a_waiting_picture() {
    let s = TestServer::start();
    s.get("/progress/create?jobid=w");
    let (status, img) = png(&s, "/progress/render?jobid=w");
    assert_eq!(status, 200);
    assert!(img.height() < 200);
}

#[test]
fn etag_answers_304_until_the_job_changes() {
    // The PNG and the SVG (tests/svg.rs) follow the same rules, each with
    // its own tags.
    for (i, chart) in ["render", "render.svg"].into_iter().enumerate() {
        let s = TestServer::start();
        s.report_percents("e", &[("w", "25", "1")]);
        let url = |query: &str| format!("/progress/{chart}?jobid=e{query}");
        let first = s.get(&url(""));
        let etag = first.header("etag").expect("an ETag").to_string();
        let again = s.get_with(&url(""), &[("If-None-Match", &etag)]);
        assert_eq!(again.status, 304, "{chart}");
        assert!(again.bytes.is_empty());
        assert_eq!(again.content_type, first.content_type, "{chart}");
        // A list, and a weak tag, match too.
        let list = format!("\"other\", W/{etag}");
        assert_eq!(
            s.get_with(&url(""), &[("If-None-Match", &list)]).status,
            304
        );
        let other_width = s.get_with(&url("&width=400"), &[("If-None-Match", &etag)]);
        assert_eq!(other_width.status, 200, "another width is another picture");
        std::thread::sleep(std::time::Duration::from_millis(5));
        let current = (50 + i).to_string();
        s.update(&[("jobid", "e"), ("workid", "w"), ("current", &current)]);
        let changed = s.get_with(&url(""), &[("If-None-Match", &etag)]);
        assert_eq!(changed.status, 200, "{chart}");
        assert_ne!(changed.header("etag"), Some(etag.as_str()));
        // The same version asked for again is the same picture.
        let cached = s.get(&url(""));
        assert_eq!(cached.bytes, changed.bytes, "{chart}");
    }
}

/// Past 3,862 workers a bar stands for several, and the chart reads of
/// each worker only its figures and id (and a history only for a running
/// one): it must draw what the chart of the job read whole draws, bar for
/// bar, colour for colour, legend and all.
#[test]
fn the_chart_of_a_big_job_is_the_chart_of_the_job_read_whole() -> Result<(), Box<dyn Error>> {
    // The server's clock and the test's are one, so both draw the same
    // moment.
    let (s, clock) = TestServer::start_with_clock();
    assert_eq!(s.get("/progress/create?jobid=big&workers=9000").status, 200);
    common::wait_for_roster(&s.addr(), "big", 9000);
    // 6,000 report, in every state but stale (every 97th failed, every
    // 101st done, the rest not started), so some bars mix states; then 300
    // report again, so some have a rate and a few are slow.
    let report = |workers: std::ops::Range<usize>, round: usize| {
        let lines: Vec<String> = workers
            .map(|i| {
                let ok = u8::from(i % 97 != 5);
                let current = (i % 101) * round / (1 + i % 3);
                format!("workid={i}&current={current}&total=100&ok={ok}")
            })
            .collect();
        let r = s.post("/progress/update?jobid=big", &lines.join("\n"));
        assert_eq!(r.status, 200, "{}", r.body);
    };
    for start in (0..6000).step_by(500) {
        report(start..start + 500, 1);
    }
    clock.advance(Secs(5.0));
    report(1000..1300, 2);
    clock.advance(Secs(1.0));
    let now = clock.now();
    let reader = progressd::store::Reader::open(&s.db())?;
    let job = reader.read_job("big")?.ok_or("no job")?;
    assert!(job.progress(now).slow > 0, "some slow workers");
    for (path, format) in [("render", Format::Png), ("render.svg", Format::Svg)] {
        let served = s.get(&format!("/progress/{path}?jobid=big"));
        assert_eq!(served.status, 200);
        // Drawn at the same moment, footer and all.
        let whole = chart::render_job(&job, now, chart::DEFAULT_WIDTH, format)?;
        match format {
            Format::Svg => assert_eq!(
                String::from_utf8_lossy(&served.bytes),
                String::from_utf8_lossy(&whole)
            ),
            Format::Png => {
                let served = image::load_from_memory(&served.bytes)?.to_rgb8();
                let whole = image::load_from_memory(&whole)?.to_rgb8();
                assert_eq!(served.dimensions(), whole.dimensions());
                for (x, y, pixel) in served.enumerate_pixels() {
                    assert_eq!(pixel, whole.get_pixel(x, y), "({x}, {y})");
                }
            }
        }
    }
    Ok(())
}
