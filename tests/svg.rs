//! `/progress/render.svg`: the chart as SVG over real HTTP: its type and
//! size, its ETag (not the PNG's), its 404 picture, its errors, CORS, the
//! read token, and hostile text kept as text.

mod common;

use common::{TestResult, TestServer, python_query, raw_exchange};

const SVG_TYPE: &str = "image/svg+xml; charset=utf-8";

/// The document of an SVG answer; fails unless it is well-formed XML.
fn parse(body: &str) -> Result<roxmltree::Document<'_>, Box<dyn std::error::Error>> {
    roxmltree::Document::parse(body).map_err(|e| format!("not well-formed ({e}): {body}").into())
}

/// The text of every `<text>` element, in order.
fn texts(doc: &roxmltree::Document) -> Vec<String> {
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn a_job_is_drawn_as_svg_the_size_of_its_png() -> TestResult {
    let s = TestServer::start();
    s.get("/progress/create?jobid=c&desc=SVG+test");
    s.report_percents(
        "c",
        &[("w1", "40", "1"), ("w2", "100", "1"), ("w3", "30", "0")],
    );
    s.report_percents("c", &[("w10", "70", "1")]);
    s.update(&[
        ("jobid", "c"),
        ("workid", "w1"),
        ("current", "40"),
        ("desc", "a desc"),
    ]);
    let r = s.get("/progress/render.svg?jobid=c");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.content_type, SVG_TYPE);
    assert_eq!(r.header("Access-Control-Allow-Origin"), Some("*"));
    assert_eq!(r.header("Cache-Control"), Some("no-cache"));
    let doc = parse(&r.body)?;
    let root = doc.root_element();
    let png = s.get("/progress/render?jobid=c");
    let png = image::load_from_memory(&png.bytes)?;
    let height = png.height().to_string();
    assert_eq!(root.attribute("width"), Some("800"));
    assert_eq!(root.attribute("height"), Some(height.as_str()));
    assert_eq!(
        root.attribute("viewBox"),
        Some(format!("0 0 800 {height}").as_str())
    );
    let bars = doc
        .descendants()
        .filter(|n| n.has_tag_name("g") && n.attribute("class") == Some("bar"))
        .count();
    assert_eq!(bars, 4);
    let texts = texts(&doc);
    assert_eq!(texts[0], "SVG test");
    for label in ["w1", "w2", "w3", "w10", "40/100", "30.0%", "a desc"] {
        assert!(texts.iter().any(|t| t == label), "{label} in {texts:?}");
    }
    let wide = s.get("/progress/render.svg?jobid=c&width=1600");
    assert_eq!(
        parse(&wide.body)?.root_element().attribute("width"),
        Some("1600")
    );
    Ok(())
}

#[test]
fn the_svg_has_its_own_etag_not_the_pngs() {
    // tests/render.rs checks 304s and changes for both formats.
    let s = TestServer::start();
    s.report_percents("e", &[("w", "25", "1")]);
    let svg = s.get("/progress/render.svg?jobid=e");
    let png = s.get("/progress/render?jobid=e");
    let (svg_tag, png_tag) = (svg.header("etag"), png.header("etag"));
    assert!(svg_tag.is_some() && png_tag.is_some());
    assert_ne!(svg_tag, png_tag);
    // Neither tag matches the other's URL, and the cache keeps both apart.
    let crossed = s.get_with(
        "/progress/render.svg?jobid=e",
        &[("If-None-Match", png_tag.unwrap_or_default())],
    );
    assert_eq!(
        (crossed.status, crossed.content_type.as_str()),
        (200, SVG_TYPE)
    );
    assert_eq!(crossed.bytes, svg.bytes);
    let crossed = s.get_with(
        "/progress/render?jobid=e",
        &[("If-None-Match", svg_tag.unwrap_or_default())],
    );
    assert_eq!(
        (crossed.status, crossed.content_type.as_str()),
        (200, "image/png")
    );
    assert_eq!(crossed.bytes, png.bytes);
}

#[test]
fn an_unknown_job_gets_a_404_svg_that_says_so() -> TestResult {
    let s = TestServer::start();
    let r = s.get("/progress/render.svg?jobid=nope");
    assert_eq!(r.status, 404);
    assert_eq!(r.content_type, SVG_TYPE);
    assert_eq!(r.header("Access-Control-Allow-Origin"), Some("*"));
    let doc = parse(&r.body)?;
    let width: u32 = doc
        .root_element()
        .attribute("width")
        .unwrap_or("0")
        .parse()?;
    assert!((300..=800).contains(&width), "{width}");
    assert!(
        texts(&doc)[0].contains("No job “nope” yet"),
        "{:?}",
        texts(&doc)
    );
    Ok(())
}

#[test]
fn bad_parameters_are_400s_naming_them() {
    let s = TestServer::start();
    s.report_percents("b", &[("w", "50", "1")]);
    for width in ["5000", "299", "abc", "-1", "8e2"] {
        let r = s.get(&format!("/progress/render.svg?jobid=b&width={width}"));
        assert_eq!(r.status, 400, "width={width}");
        assert!(r.body.starts_with("parameter 'width'"), "{}", r.body);
        assert!(r.content_type.starts_with("text/plain"));
    }
    let r = s.get("/progress/render.svg");
    assert_eq!(r.status, 400);
    assert!(r.body.starts_with("parameter 'jobid'"), "{}", r.body);
}

#[test]
fn hostile_ids_and_descs_stay_text() -> TestResult {
    let s = TestServer::start();
    let evil = "<script>alert(1)</script>&\"'";
    let jobid = format!("j{evil}");
    s.get(&format!(
        "/progress/create?{}",
        python_query(&[("jobid", &jobid), ("desc", &format!("{evil} ]]> <!--"))])
    ));
    s.update(&[
        ("jobid", &jobid),
        ("workid", evil),
        ("current", "1"),
        ("total", "2"),
        ("desc", &format!("{evil}\u{1}\u{1b}[31m\u{FFFF}")),
    ]);
    let r = s.get(&format!(
        "/progress/render.svg?{}",
        python_query(&[("jobid", &jobid)])
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!r.body.contains("<script"), "{}", r.body);
    let doc = parse(&r.body)?;
    assert!(!doc.descendants().any(|n| n.has_tag_name("script")));
    let texts = texts(&doc);
    assert!(texts[0].starts_with(evil), "{texts:?}");
    assert!(texts.iter().any(|t| t == evil), "the workid: {texts:?}");
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with(&format!("{evil}  [31m"))),
        "the desc, control characters as spaces: {texts:?}"
    );
    // The 404 picture names the asked-for id, escaped too.
    let missing = s.get(&format!(
        "/progress/render.svg?{}",
        python_query(&[("jobid", &format!("x{evil}"))])
    ));
    assert_eq!(missing.status, 404);
    parse(&missing.body)?;
    assert!(!missing.body.contains("<script"));
    Ok(())
}

#[test]
fn the_read_token_guards_the_svg_as_it_does_the_png() {
    let s = TestServer::start_with(|c| c.tokens.read = Some("r-secret".into()));
    s.report_percents("t", &[("w", "50", "1")]);
    let missing = s.get("/progress/render.svg?jobid=t");
    assert_eq!(missing.status, 401);
    assert!(missing.body.contains("read token"), "{}", missing.body);
    assert_eq!(
        s.get("/progress/render.svg?jobid=t&token=wrong").status,
        401
    );
    let given = s.get("/progress/render.svg?jobid=t&token=r-secret");
    assert_eq!((given.status, given.content_type.as_str()), (200, SVG_TYPE));
    let bearer = s.get_with(
        "/progress/render.svg?jobid=t",
        &[("Authorization", "Bearer r-secret")],
    );
    assert_eq!(bearer.status, 200);
    // A missing job is a 404 picture only for those who may read.
    assert_eq!(s.get("/progress/render.svg?jobid=nope").status, 401);
}

#[test]
fn other_methods_are_405_and_requests_are_counted_apart() {
    let s = TestServer::start();
    s.report_percents("m", &[("w", "1", "1")]);
    assert_eq!(s.get("/progress/render.svg?jobid=m").status, 200);
    let put = raw_exchange(
        &s.addr(),
        b"PUT /progress/render.svg?jobid=m HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert!(String::from_utf8_lossy(&put).starts_with("HTTP/1.1 405"));
    let counted = "progressd_requests_total{endpoint=\"/progress/render.svg\",status=\"200\"} 1";
    let metrics = s.metrics_with(counted);
    assert!(metrics.contains(counted), "{metrics}");
}
