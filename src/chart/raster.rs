//! The PNG's surface: the indexed [`Canvas`] with a palette entry for
//! every [`Paint`], text through the glyph cache of [`super::text`].

use super::ChartError;
use super::canvas::{Canvas, Ink};
use super::style::{Font, PAINTS, Paint, look};
use super::surface::Surface;
use crate::model::BarState;

/// A canvas and the palette entry of each paint drawn so far.
pub struct Raster {
    canvas: Canvas,
    inks: [Option<Ink>; PAINTS],
}

impl Raster {
    /// The palette entry of `paint`, added on first use.
    fn ink(&mut self, paint: Paint) -> Ink {
        let slot = &mut self.inks[paint.index()];
        match *slot {
            Some(ink) => ink,
            None => *slot.insert(self.canvas.ink(paint.color())),
        }
    }
}

impl Surface for Raster {
    fn new(width: u32, height: u32, _title: &str) -> Raster {
        let mut raster = Raster {
            canvas: Canvas::new(width, height, Paint::Background.color()),
            inks: [None; PAINTS],
        };
        // The palette in a fixed order, whatever the picture draws first:
        // the order the canvas had before the Surface, whose indices
        // compress fast. In the order of first use, 10,000 workers took a
        // third to a half longer (examples/chartbench.rs), for a 7 %
        // smaller file.
        let states = BarState::ALL;
        let order = (states.map(Paint::State).into_iter())
            .chain(states.map(Paint::Fill))
            .chain([Paint::Text, Paint::Muted, Paint::Track, Paint::Grid])
            .chain(
                states
                    .into_iter()
                    .filter(|&s| look(s).striped)
                    .map(Paint::Stripe),
            )
            .chain(states.map(Paint::StateTrack));
        for paint in order {
            raster.ink(paint);
        }
        raster
    }

    fn size(&self) -> (i32, i32) {
        (self.canvas.width() as i32, self.canvas.height() as i32)
    }

    fn rect(&mut self, x: i32, y: i32, w: i32, h: i32, paint: Paint) {
        let ink = self.ink(paint);
        self.canvas.rect(x, y, w, h, ink);
    }

    fn stripes(&mut self, x: i32, y: i32, w: i32, h: i32, state: BarState) {
        let (light, dark) = (self.ink(Paint::Fill(state)), self.ink(Paint::Stripe(state)));
        for py in y..y + h {
            for px in x..x + w {
                let ink = if (px + py).rem_euclid(12) < 6 {
                    light
                } else {
                    dark
                };
                self.canvas.dot(px, py, ink);
            }
        }
    }

    fn area(&mut self, x: i32, bottom: i32, heights: &[i32], fill: Paint, edge: Paint) {
        let mut previous = heights.first().copied().unwrap_or(0);
        for (i, &h) in (0..).zip(heights) {
            self.rect(x + i, bottom - h, 1, h, fill);
            // Down to the lower of this column and the last, so steps join.
            let (low, high) = (h.min(previous), h.max(previous));
            self.rect(x + i, bottom - high - 1, 1, high - low + 2, edge);
            previous = h;
        }
    }

    fn text(&mut self, at: (f32, i32), text: &str, font: Font, paint: Paint, clip: (i32, i32)) {
        let ink = self.ink(paint);
        font.face()
            .draw(&mut self.canvas, at.0, at.1, text, font.size, ink, clip);
    }

    fn finish(self) -> Result<Vec<u8>, ChartError> {
        self.canvas.encode()
    }
}
