//! Text for the chart: DejaVu Sans compiled in, glyphs rasterised by
//! rusttype once per (character, size) and cached, then blended onto the
//! canvas with their antialiased coverage. Glyphs sit on whole pixels and
//! without kerning: at chart sizes a kerning pair moves a glyph by less
//! than the rounding does, and looking pairs up cost a tenth of a render.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use rusttype::{Font, Scale, point};

use super::canvas::{Canvas, Ink};

/// Most cached glyphs per face; past this the cache starts afresh (a chart
/// uses a few hundred).
const MAX_CACHED_GLYPHS: usize = 8192;

/// A glyph's coverage bitmap, placed relative to the pen on the baseline.
struct GlyphBitmap {
    left: i32,
    top: i32,
    width: usize,
    coverage: Vec<u8>,
    advance: f32,
}

/// A typeface with its glyph cache.
pub struct Face {
    font: Font<'static>,
    glyphs: Mutex<GlyphCache>,
}

/// Rasterised glyphs: ASCII in a table per size (most chart text, looked up
/// without hashing), everything else in a map.
#[derive(Default)]
struct GlyphCache {
    ascii: Vec<(u32, Vec<Option<Arc<GlyphBitmap>>>)>,
    other: HashMap<(char, u32), Arc<GlyphBitmap>>,
}

fn face(cell: &'static OnceLock<Face>, bytes: &'static [u8]) -> &'static Face {
    cell.get_or_init(|| Face {
        // The font is compiled in and known to parse (a test checks it), and
        // start-up calls load_fonts(), so this never runs on a request.
        font: Font::try_from_bytes(bytes).expect("the compiled-in font parses"),
        glyphs: Mutex::new(GlyphCache::default()),
    })
}

/// DejaVu Sans.
pub fn regular() -> &'static Face {
    static FACE: OnceLock<Face> = OnceLock::new();
    face(&FACE, include_bytes!("../../assets/fonts/DejaVuSans.ttf"))
}

/// DejaVu Sans Bold.
pub fn bold() -> &'static Face {
    static FACE: OnceLock<Face> = OnceLock::new();
    face(
        &FACE,
        include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf"),
    )
}

impl Face {
    fn rasterise(&self, c: char, size: f32) -> GlyphBitmap {
        let scaled = self.font.glyph(c).scaled(Scale::uniform(size));
        let advance = scaled.h_metrics().advance_width;
        let positioned = scaled.positioned(point(0.0, 0.0));
        match positioned.pixel_bounding_box() {
            Some(bb) => {
                let width = bb.width().max(0) as usize;
                let height = bb.height().max(0) as usize;
                let mut coverage = vec![0u8; width * height];
                positioned.draw(|x, y, v| {
                    if let Some(cell) = coverage.get_mut(y as usize * width + x as usize) {
                        *cell = (v * 255.0).round() as u8;
                    }
                });
                GlyphBitmap {
                    left: bb.min.x,
                    top: bb.min.y,
                    width,
                    coverage,
                    advance,
                }
            }
            None => GlyphBitmap {
                left: 0,
                top: 0,
                width: 0,
                coverage: Vec::new(),
                advance,
            },
        }
    }

    /// The glyphs of `text` at `size` px, rasterised on first use.
    fn glyphs(&self, text: &str, size: f32) -> Vec<Arc<GlyphBitmap>> {
        let key_size = (size * 10.0).round() as u32;
        // A poisoned cache only means another render panicked mid-insert;
        // its contents are still whole glyphs.
        let mut cache = self.glyphs.lock().unwrap_or_else(|p| p.into_inner());
        if cache.other.len() > MAX_CACHED_GLYPHS {
            cache.other.clear();
        }
        let table = match cache.ascii.iter().position(|(k, _)| *k == key_size) {
            Some(i) => i,
            None => {
                cache.ascii.push((key_size, vec![None; 128]));
                cache.ascii.len() - 1
            }
        };
        let GlyphCache { ascii, other } = &mut *cache;
        let ascii = &mut ascii[table].1;
        text.chars()
            // Control characters have no glyph; they read as a space.
            .map(|c| if c.is_control() { ' ' } else { c })
            .map(|c| {
                let make = || Arc::new(self.rasterise(c, size));
                match ascii.get_mut(c as usize) {
                    Some(slot) => Arc::clone(slot.get_or_insert_with(make)),
                    None => Arc::clone(other.entry((c, key_size)).or_insert_with(make)),
                }
            })
            .collect()
    }

    /// Pixels from the baseline to the top of the tallest letters.
    pub fn ascent(&self, size: f32) -> f32 {
        self.font.v_metrics(Scale::uniform(size)).ascent
    }

    /// The CSS font size (pixels per em) of text drawn here at `size`:
    /// rusttype scales the font's height from descender to ascender to
    /// `size` pixels, CSS scales its em (for DejaVu Sans, 2048 of 2384
    /// units).
    pub fn em(&self, size: f32) -> f32 {
        let v = self.font.v_metrics_unscaled();
        let height = v.ascent - v.descent;
        if height > 0.0 {
            size * f32::from(self.font.units_per_em()) / height
        } else {
            size
        }
    }

    /// The advance of `text` at `size` px.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        self.glyphs(text, size).iter().map(|g| g.advance).sum()
    }

    /// `text`, cut with an ellipsis if it is wider than `max` px.
    pub fn fit(&self, text: &str, size: f32, max: f32) -> String {
        if self.width(text, size) <= max {
            return text.to_string();
        }
        let ellipsis = self.width("…", size);
        let mut kept = String::new();
        let mut width = 0.0;
        for (c, glyph) in text.chars().zip(self.glyphs(text, size)) {
            if width + glyph.advance + ellipsis > max {
                break;
            }
            width += glyph.advance;
            kept.push(c);
        }
        let trimmed = kept.trim_end();
        if trimmed.is_empty() && ellipsis > max {
            String::new()
        } else {
            format!("{trimmed}…")
        }
    }

    /// Draws `text` with its pen starting at `x` on baseline `y` in `ink`,
    /// antialiased; nothing is drawn left of `clip.0` or right of `clip.1`.
    #[allow(clippy::too_many_arguments)] // a text call names all it needs
    pub fn draw(
        &self,
        canvas: &mut Canvas,
        x: f32,
        y: i32,
        text: &str,
        size: f32,
        ink: Ink,
        clip: (i32, i32),
    ) {
        let mut pen = x;
        for glyph in self.glyphs(text, size) {
            let gx = pen.round() as i32 + glyph.left;
            let gy = y + glyph.top;
            pen += glyph.advance;
            if glyph.width == 0 {
                continue;
            }
            for (row, line) in glyph.coverage.chunks(glyph.width).enumerate() {
                for (col, &coverage) in line.iter().enumerate() {
                    let px = gx + col as i32;
                    if coverage > 0 && px >= clip.0 && px < clip.1 {
                        canvas.blend(px, gy + row as i32, ink, coverage);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_faces_load_and_measure() {
        for face in [regular(), bold()] {
            let w = face.width("worker10", 12.0);
            assert!(w > 30.0 && w < 80.0, "{w}");
            assert!(face.ascent(12.0) > 8.0);
        }
        assert!(bold().width("Mm", 12.0) > regular().width("Mm", 12.0));
        // DejaVu Sans: 2048 units per em, 2384 from descender to ascender.
        let em = regular().em(12.0);
        assert!((em - 12.0 * 2048.0 / 2384.0).abs() < 0.01, "{em}");
    }

    #[test]
    fn fit_cuts_with_an_ellipsis() {
        let face = regular();
        assert_eq!(face.fit("short", 12.0, 200.0), "short");
        let cut = face.fit(
            "a rather long description of this worker's task",
            12.0,
            80.0,
        );
        assert!(cut.ends_with('…'), "{cut}");
        assert!(face.width(&cut, 12.0) <= 80.0);
        assert_eq!(face.fit("abc", 12.0, 1.0), "");
    }

    #[test]
    fn draw_marks_pixels_only_inside_the_clip() {
        let mut canvas = Canvas::new(100, 30, image::Rgb([255, 255, 255]));
        let black = canvas.ink(image::Rgb([0, 0, 0]));
        regular().draw(&mut canvas, 0.0, 20, "WWWWWWWWWW", 14.0, black, (10, 50));
        let png = canvas.encode().expect("encodes");
        let img = image::load_from_memory(&png).expect("decodes").to_rgb8();
        let dark = |x: u32| (0..30).any(|y| img.get_pixel(x, y).0[0] < 128);
        assert!((10..50).any(dark), "text drawn");
        assert!(!(0..10).any(dark) && !(50..100).any(dark), "clipped");
    }
}
