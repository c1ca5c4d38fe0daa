//! The SVG's surface: the same rectangles and text as the PNG, written as
//! SVG elements with the same pixel positions, so the picture scales
//! crisply.
//!
//! Text names DejaVu Sans (with Verdana and any sans-serif as fallbacks)
//! and keeps the positions the layout measured with the compiled-in font.
//! A text confined to part of the picture gets a clip path for that part,
//! so a fallback font wider than DejaVu Sans is cut where the PNG cuts,
//! not spilled over the next bar. Stripes are one `<pattern>`. Everything
//! a client sent goes through [`escape`], the one place text enters the
//! document.

use std::fmt::{self, Write as _};

use image::Rgb;

use super::ChartError;
use super::style::{Font, Paint, Weight};
use super::surface::Surface;
use crate::format::markup_entity;
use crate::model::BarState;

/// The fonts a viewer is asked for, best first.
const FONT_FAMILY: &str = "DejaVu Sans, Verdana, sans-serif";

/// An SVG document being written.
pub struct Svg {
    width: i32,
    height: i32,
    /// The `<svg>` start tag and the `<title>`.
    head: String,
    /// Patterns and clip paths, written before the body when finished.
    defs: String,
    body: String,
    /// States whose stripe pattern is in `defs`.
    patterns: Vec<BarState>,
    /// The x ranges whose clip path is in `defs`, by number.
    clips: Vec<(i32, i32)>,
}

impl Svg {
    /// The number of the clip path for `clip`, added to the defs if new.
    fn clip_id(&mut self, clip: (i32, i32)) -> usize {
        if let Some(i) = self.clips.iter().position(|&c| c == clip) {
            return i;
        }
        let _ = writeln!(
            self.defs,
            "<clipPath id=\"clip{}\"><rect x=\"{}\" width=\"{}\" height=\"{}\"/></clipPath>",
            self.clips.len(),
            clip.0,
            (clip.1 - clip.0).max(0),
            self.height
        );
        self.clips.push(clip);
        self.clips.len() - 1
    }

    /// The id of the stripe pattern of `state`, added to the defs if new.
    fn pattern_id(&mut self, state: BarState) -> &'static str {
        let id = state.as_str();
        if !self.patterns.contains(&state) {
            // Dark where (x - 1 + y) mod 12 is 6 to 11: at pixel centres
            // the raster's rule, (px + py) mod 12 >= 6.
            let _ = writeln!(
                self.defs,
                "<pattern id=\"stripes-{id}\" x=\"1\" width=\"12\" height=\"12\" \
                 patternUnits=\"userSpaceOnUse\"><rect width=\"12\" height=\"12\" fill=\"{}\"/>\
                 <path d=\"M6 0H12L0 12V6ZM12 6V12H6Z\" fill=\"{}\"/></pattern>",
                Hex(Paint::Fill(state).color()),
                Hex(Paint::Stripe(state).color())
            );
            self.patterns.push(state);
        }
        id
    }
}

impl Surface for Svg {
    fn new(width: u32, height: u32, title: &str) -> Svg {
        let mut head = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
             viewBox=\"0 0 {width} {height}\" font-family=\"{FONT_FAMILY}\" \
             shape-rendering=\"crispEdges\">\n<title>"
        );
        escape(title, &mut head);
        head.push_str("</title>\n");
        let body = format!(
            "<rect width=\"{width}\" height=\"{height}\" fill=\"{}\"/>\n",
            Hex(Paint::Background.color())
        );
        Svg {
            width: width as i32,
            height: height as i32,
            head,
            defs: String::new(),
            body,
            patterns: Vec::new(),
            clips: Vec::new(),
        }
    }

    fn size(&self) -> (i32, i32) {
        (self.width, self.height)
    }

    fn rect(&mut self, x: i32, y: i32, w: i32, h: i32, paint: Paint) {
        if w > 0 && h > 0 {
            let fill = Hex(paint.color());
            let _ = writeln!(
                self.body,
                "<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" fill=\"{fill}\"/>"
            );
        }
    }

    fn stripes(&mut self, x: i32, y: i32, w: i32, h: i32, state: BarState) {
        if w > 0 && h > 0 {
            let id = self.pattern_id(state);
            let _ = writeln!(
                self.body,
                "<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" fill=\"url(#stripes-{id})\"/>"
            );
        }
    }

    fn area(&mut self, x: i32, bottom: i32, heights: &[i32], fill: Paint, edge: Paint) {
        if heights.is_empty() {
            return;
        }
        // The top as a line through each column's centre, a point only
        // where the height changes (and at both ends).
        let mut line = String::new();
        let last = heights.len() - 1;
        for (i, &h) in heights.iter().enumerate() {
            if i == 0 || i == last || h != heights[i - 1] || h != heights[i + 1] {
                let command = if line.is_empty() { 'M' } else { 'L' };
                let _ = write!(line, "{command}{}.5 {}", x + i as i32, bottom - h);
            }
        }
        let end = x + heights.len() as i32;
        let _ = writeln!(
            self.body,
            "<path d=\"{line}L{end} {bottom}L{x} {bottom}Z\" fill=\"{}\"/>\n\
             <path d=\"{line}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\" \
             stroke-linejoin=\"round\"/>",
            Hex(fill.color()),
            Hex(edge.color()),
        );
    }

    fn text(&mut self, at: (f32, i32), text: &str, font: Font, paint: Paint, clip: (i32, i32)) {
        if text.is_empty() {
            return;
        }
        let clip = (clip.0 > 0 || clip.1 < self.width).then(|| self.clip_id(clip));
        let _ = write!(
            self.body,
            "<text x=\"{}\" y=\"{}\" font-size=\"{}\" fill=\"{}\"",
            Px(at.0),
            at.1,
            Em(font.em()),
            Hex(paint.color())
        );
        if font.weight == Weight::Bold {
            self.body.push_str(" font-weight=\"bold\"");
        }
        if let Some(i) = clip {
            let _ = write!(self.body, " clip-path=\"url(#clip{i})\"");
        }
        if spaces_would_collapse(text) {
            // On the element itself: Chromium does not inherit it.
            self.body.push_str(" xml:space=\"preserve\"");
        }
        self.body.push('>');
        escape(text, &mut self.body);
        self.body.push_str("</text>\n");
    }

    fn begin_bar(&mut self, title: fmt::Arguments) {
        self.body.push_str("<g class=\"bar\"><title>");
        let _ = Escaping(&mut self.body).write_fmt(title);
        self.body.push_str("</title>\n");
    }

    fn end_bar(&mut self) {
        self.body.push_str("</g>\n");
    }

    fn finish(self) -> Result<Vec<u8>, ChartError> {
        let mut out = self.head;
        out.reserve(self.defs.len() + self.body.len() + 32);
        if !self.defs.is_empty() {
            out.push_str("<defs>\n");
            out.push_str(&self.defs);
            out.push_str("</defs>\n");
        }
        out.push_str(&self.body);
        out.push_str("</svg>\n");
        Ok(out.into_bytes())
    }
}

/// Appends `text` to `out` as XML character data, safe in content and in
/// attribute values: `& < > " '` as entities ([`markup_entity`]); control
/// characters (tab and line breaks too) as a space, as the PNG draws them;
/// U+FFFE and U+FFFF,
/// which XML 1.0 does not allow, as U+FFFD. (Rust strings hold no lone
/// surrogates.) Every text of the SVG goes through here.
pub fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        if let Some(entity) = markup_entity(c) {
            out.push_str(entity);
            continue;
        }
        match c {
            c if c.is_control() => out.push(' '),
            '\u{FFFE}' | '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

/// Whether SVG's default white-space handling would change `text`: it
/// drops leading and trailing spaces and folds runs of them, where the PNG
/// draws each (and [`escape`] turns control characters into spaces).
fn spaces_would_collapse(text: &str) -> bool {
    let blank = |c: char| c == ' ' || c.is_control();
    let mut previous_blank = true;
    for c in text.chars() {
        if blank(c) && previous_blank {
            return true;
        }
        previous_blank = blank(c);
    }
    previous_blank
}

/// A [`fmt::Write`] that escapes all it is given into a string.
struct Escaping<'a>(&'a mut String);

impl fmt::Write for Escaping<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        escape(s, self.0);
        Ok(())
    }
}

/// A colour as `#rrggbb`.
struct Hex(Rgb<u8>);

impl fmt::Display for Hex {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let [r, g, b] = self.0.0;
        write!(f, "#{r:02x}{g:02x}{b:02x}")
    }
}

/// A coordinate to a tenth of a pixel, without a needless `.0`.
struct Px(f32);

impl fmt::Display for Px {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let tenths = (self.0 * 10.0).round();
        if tenths % 10.0 == 0.0 {
            write!(f, "{}", tenths / 10.0)
        } else {
            write!(f, "{:.1}", tenths / 10.0)
        }
    }
}

/// A font size to a hundredth of a pixel: 0.01 px in 10 px is a pixel
/// in 1,000 of text.
struct Em(f32);

impl fmt::Display for Em {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let text = format!("{:.2}", self.0);
        f.write_str(text.trim_end_matches('0').trim_end_matches('.'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(text: &str) -> String {
        let mut out = String::new();
        escape(text, &mut out);
        out
    }

    #[test]
    fn escape_leaves_no_markup_and_no_character_xml_refuses() {
        assert_eq!(
            escaped("<script>alert(1)</script>&\"'"),
            "&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;&#39;"
        );
        assert_eq!(escaped("a\u{0}b\tc\r\nd\u{1b}e\u{7f}"), "a b c  d e ");
        assert_eq!(escaped("x\u{FFFE}\u{FFFF}y"), "x\u{FFFD}\u{FFFD}y");
        assert_eq!(escaped("Ünïcödé ✓ 😀"), "Ünïcödé ✓ 😀");
    }

    #[test]
    fn only_text_whose_spaces_would_fold_asks_for_them_kept() {
        assert!(!spaces_would_collapse("step 3 of 40"));
        assert!(spaces_would_collapse("two  spaces"));
        assert!(!spaces_would_collapse("a tab\tbecomes a space"));
        assert!(spaces_would_collapse("a line break\r\nbecomes two"));
        assert!(spaces_would_collapse(" leading"));
        assert!(spaces_would_collapse("trailing "));
        assert!(spaces_would_collapse(""));
    }

    #[test]
    fn coordinates_are_short() {
        assert_eq!(Px(16.0).to_string(), "16");
        assert_eq!(Px(101.04).to_string(), "101");
        assert_eq!(Px(101.25).to_string(), "101.3");
        assert_eq!(Px(-0.5).to_string(), "-0.5");
        assert_eq!(Hex(Rgb([0, 0x9e, 255])).to_string(), "#009eff");
        assert_eq!(Em(10.308).to_string(), "10.31");
        assert_eq!(Em(12.0).to_string(), "12");
    }

    #[test]
    fn each_pattern_and_clip_is_defined_once() -> Result<(), ChartError> {
        let mut svg = Svg::new(100, 50, "t");
        let font = super::super::style::SMALL;
        for _ in 0..3 {
            svg.stripes(0, 0, 10, 10, BarState::Stale);
            svg.text((20.0, 10), "a", font, Paint::Text, (10, 90));
            svg.text((20.0, 20), "b", font, Paint::Text, (0, 100));
        }
        let doc = String::from_utf8(svg.finish()?).unwrap_or_default();
        assert_eq!(doc.matches("<pattern ").count(), 1, "{doc}");
        assert_eq!(doc.matches("<clipPath ").count(), 1, "{doc}");
        assert_eq!(
            doc.matches("clip-path=").count(),
            3,
            "only the clipped text"
        );
        Ok(())
    }
}
