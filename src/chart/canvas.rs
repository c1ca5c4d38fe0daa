//! An indexed-colour canvas: one byte per pixel naming a palette entry, drawn
//! with imageproc's shapes and encoded as an indexed PNG.
//!
//! A chart has few colours (background, track, grid, four states, their
//! fills, two text colours), so a byte per pixel is enough and a third the
//! work of RGB to draw and to encode. Antialiased text needs the in-between
//! shades of a text colour over each background: [`Canvas::blend`] adds
//! them to the palette on first use, at [`LEVELS`] coverage steps.

use image::{GrayImage, Luma, Rgb};
use imageproc::drawing::draw_filled_rect_mut;
use imageproc::rect::Rect;

/// Coverage steps between a background and a text colour.
pub const LEVELS: u32 = 8;
/// Most palette entries an indexed PNG holds.
const MAX_COLORS: usize = 256;
/// Marks a blend not yet in the palette.
const UNKNOWN: u16 = u16::MAX;
/// Most text colours whose shades are kept (a chart uses two).
const MAX_TEXT_INKS: usize = 4;

/// A palette entry.
pub type Ink = u8;

/// An indexed image with its palette.
pub struct Canvas {
    pixels: GrayImage,
    colors: Vec<Rgb<u8>>,
    /// The text colours drawn so far, in order of first use.
    text_inks: Vec<Ink>,
    /// Palette entry for (background, text colour, level), by
    /// `(bg * MAX_TEXT_INKS + slot) * LEVELS + level`, filled in on first use.
    blends: Vec<u16>,
}

impl Canvas {
    /// A canvas of `width` × `height` filled with `background`, which becomes
    /// palette entry 0.
    pub fn new(width: u32, height: u32, background: Rgb<u8>) -> Canvas {
        Canvas {
            pixels: GrayImage::from_pixel(width, height, Luma([0])),
            colors: vec![background],
            text_inks: Vec::new(),
            blends: vec![UNKNOWN; MAX_COLORS * MAX_TEXT_INKS * LEVELS as usize],
        }
    }

    /// The palette entry for `color`, added if new (or the nearest if the
    /// palette is full).
    pub fn ink(&mut self, color: Rgb<u8>) -> Ink {
        if let Some(i) = self.colors.iter().position(|&c| c == color) {
            return i as Ink;
        }
        if self.colors.len() < MAX_COLORS {
            self.colors.push(color);
            return (self.colors.len() - 1) as Ink;
        }
        let distance = |c: &Rgb<u8>| -> u32 {
            c.0.iter()
                .zip(color.0.iter())
                .map(|(&a, &b)| u32::from(a.abs_diff(b)).pow(2))
                .sum()
        };
        self.colors
            .iter()
            .enumerate()
            .min_by_key(|(_, c)| distance(c))
            .map_or(0, |(i, _)| i as Ink)
    }

    /// The colour of a palette entry.
    pub fn color(&self, ink: Ink) -> Rgb<u8> {
        self.colors
            .get(usize::from(ink))
            .copied()
            .unwrap_or(Rgb([0, 0, 0]))
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.pixels.width()
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.pixels.height()
    }

    /// Fills a rectangle (clipped to the canvas; empty ones draw nothing).
    pub fn rect(&mut self, x: i32, y: i32, w: i32, h: i32, ink: Ink) {
        if w > 0 && h > 0 {
            draw_filled_rect_mut(
                &mut self.pixels,
                Rect::at(x, y).of_size(w as u32, h as u32),
                Luma([ink]),
            );
        }
    }

    /// Sets one pixel, if it is on the canvas.
    pub fn dot(&mut self, x: i32, y: i32, ink: Ink) {
        if x >= 0 && y >= 0 && (x as u32) < self.width() && (y as u32) < self.height() {
            self.pixels.put_pixel(x as u32, y as u32, Luma([ink]));
        }
    }

    /// Covers a pixel with `fg` by `coverage` / 255, as one of the palette's
    /// in-between shades.
    pub fn blend(&mut self, x: i32, y: i32, fg: Ink, coverage: u8) {
        if x < 0 || y < 0 || x as u32 >= self.width() || y as u32 >= self.height() {
            return;
        }
        let level = (u32::from(coverage) * LEVELS + 127) / 255;
        if level == 0 {
            return;
        }
        let bg = self.pixels.get_pixel(x as u32, y as u32).0[0];
        let ink = if level >= LEVELS {
            fg
        } else {
            self.shade(bg, fg, level)
        };
        self.pixels.put_pixel(x as u32, y as u32, Luma([ink]));
    }

    /// The palette entry `level` / [`LEVELS`] of the way from `bg` to `fg`.
    fn shade(&mut self, bg: Ink, fg: Ink, level: u32) -> Ink {
        let slot = match self.text_inks.iter().position(|&t| t == fg) {
            Some(slot) => slot,
            None if self.text_inks.len() < MAX_TEXT_INKS => {
                self.text_inks.push(fg);
                self.text_inks.len() - 1
            }
            // More text colours than kept: the nearer of the two ends.
            None => return if level * 2 >= LEVELS { fg } else { bg },
        };
        let at = (usize::from(bg) * MAX_TEXT_INKS + slot) * LEVELS as usize + level as usize;
        match self.blends.get(at) {
            Some(&known) if known != UNKNOWN => return known as Ink,
            _ => {}
        }
        let (b, f) = (self.color(bg).0, self.color(fg).0);
        let mix = |i: usize| {
            let (b, f) = (u32::from(b[i]), u32::from(f[i]));
            ((b * (LEVELS - level) + f * level + LEVELS / 2) / LEVELS) as u8
        };
        let ink = self.ink(Rgb([mix(0), mix(1), mix(2)]));
        if let Some(cell) = self.blends.get_mut(at) {
            *cell = u16::from(ink);
        }
        ink
    }

    /// The image as an indexed PNG.
    pub fn encode(&self) -> Result<Vec<u8>, png::EncodingError> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, self.width(), self.height());
        encoder.set_color(png::ColorType::Indexed);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_palette(self.colors.iter().flat_map(|c| c.0).collect::<Vec<u8>>());
        encoder.set_compression(png::Compression::Fast);
        // Sub suits rows of flat colour: as fast as no filter, and a fifth
        // of the size with fdeflate (measured by examples/chartbench.rs).
        encoder.set_filter(png::Filter::Sub);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(self.pixels.as_raw())?;
        writer.finish()?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shades_are_added_once_and_encode_as_rgb() {
        let mut canvas = Canvas::new(4, 2, Rgb([255, 255, 255]));
        let black = canvas.ink(Rgb([0, 0, 0]));
        assert_eq!(canvas.ink(Rgb([0, 0, 0])), black, "one entry per colour");
        canvas.blend(0, 0, black, 255);
        canvas.blend(1, 0, black, 128);
        canvas.blend(2, 0, black, 130);
        canvas.blend(3, 0, black, 10);
        canvas.blend(9, 9, black, 255); // off the canvas: ignored
        let png = canvas.encode().expect("encodes");
        let img = image::load_from_memory(&png).expect("decodes").to_rgb8();
        assert_eq!(img.get_pixel(0, 0), &Rgb([0, 0, 0]));
        let grey = img.get_pixel(1, 0).0[0];
        assert!((100..160).contains(&grey), "{grey}");
        assert_eq!(
            img.get_pixel(1, 0),
            img.get_pixel(2, 0),
            "same level, same entry"
        );
        assert_eq!(
            img.get_pixel(3, 0),
            &Rgb([255, 255, 255]),
            "below the first level"
        );
        assert_eq!(canvas.colors.len(), 3);
    }

    #[test]
    fn a_full_palette_falls_back_to_the_nearest_colour() {
        let mut canvas = Canvas::new(1, 1, Rgb([0, 0, 0]));
        for i in 1..=255u8 {
            canvas.ink(Rgb([i, 0, 0]));
        }
        assert_eq!(canvas.ink(Rgb([0, 0, 1])), 0);
        assert_eq!(canvas.ink(Rgb([200, 1, 0])), 200);
    }
}
