//! What the chart is drawn on. The layout in `mod.rs` decides every
//! position and every text (already cut to fit); a [`Surface`] only puts
//! rectangles and text where it is told. Two implement it: `raster` (the
//! indexed canvas behind the PNG) and `svg`.

use super::ChartError;
use super::style::{Font, Paint};
use crate::model::BarState;

/// A picture being drawn, in whole pixels from the top left.
pub trait Surface {
    /// A surface of `width` × `height` pixels filled with the background;
    /// `title` names the picture where the format has room for it.
    fn new(width: u32, height: u32, title: &str) -> Self
    where
        Self: Sized;

    /// Width and height in pixels.
    fn size(&self) -> (i32, i32);

    /// Fills a rectangle; an empty one draws nothing.
    fn rect(&mut self, x: i32, y: i32, w: i32, h: i32, paint: Paint);

    /// Fills a rectangle with diagonal stripes, 6 px wide, of the state's
    /// [`Paint::Fill`] and [`Paint::Stripe`], in phase across the picture.
    fn stripes(&mut self, x: i32, y: i32, w: i32, h: i32, state: BarState);

    /// Writes `text` with its pen starting at `at.0` on baseline `at.1`;
    /// nothing shows left of `clip.0` or right of `clip.1`.
    fn text(&mut self, at: (f32, i32), text: &str, font: Font, paint: Paint, clip: (i32, i32));

    /// An area chart: column `i` (one pixel wide, from `x`) is filled with
    /// `fill` from `bottom` up `heights[i]` pixels, and its top is traced
    /// by a 2 px line in `edge`.
    fn area(&mut self, x: i32, bottom: i32, heights: &[i32], fill: Paint, edge: Paint);

    /// What follows, up to [`Surface::end_bar`], is one worker's bar;
    /// `title` says in full whose and what (its text may have been cut).
    fn begin_bar(&mut self, title: std::fmt::Arguments) {
        let _ = title;
    }

    /// Ends what [`Surface::begin_bar`] began.
    fn end_bar(&mut self) {}

    /// The picture's bytes, in its format.
    fn finish(self) -> Result<Vec<u8>, ChartError>
    where
        Self: Sized;
}
