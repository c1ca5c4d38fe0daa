//! How the chart looks, apart from where things go: its colours, named by
//! what they paint ([`Paint`]); how a bar in each state is drawn
//! ([`StateLook`], one table for every state); and its type ([`Font`]),
//! measured with the compiled-in DejaVu Sans. Both surfaces, the PNG's and
//! the SVG's, take their colours from here; the states' own colours come
//! from [`crate::look`], as the page's do.

use image::Rgb;

use super::text::{self, Face};
use crate::look;
use crate::model::{BarState, Pick};

/// The chart is drawn in the page's light theme.
const THEME: look::Theme = look::LIGHT;
pub const BACKGROUND: Rgb<u8> = Rgb(THEME.panel);
const TEXT: Rgb<u8> = Rgb(THEME.text);
const MUTED: Rgb<u8> = Rgb(THEME.muted);
pub const TRACK: Rgb<u8> = Rgb(THEME.track);
const GRID: Rgb<u8> = Rgb([0xd2, 0xd7, 0xde]);
/// A state's colour, as on the page in light mode.
fn color_of(pick: Pick) -> Rgb<u8> {
    Rgb(THEME.colour(pick))
}

/// How a bar in one state is drawn. Adding a state to [`BarState`] means
/// adding its row to [`look`]; the layout and both surfaces follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateLook {
    /// The state's colour: its legend swatch, its bar's leading edge, and
    /// its thin bar in compact mode.
    pub color: Rgb<u8>,
    /// The track behind the bar.
    pub track: Rgb<u8>,
    /// A striped fill rather than a plain one.
    pub striped: bool,
    /// Pixels the bar shows even at 0 %, so the state is seen.
    pub least_width: i32,
    /// An empty outline in the state's colour rather than a fill (a worker
    /// expected that has not reported).
    pub outlined: bool,
    /// When one pixel row stands for several workers, the most serious
    /// state among them is drawn.
    pub severity: u8,
}

/// The look of each state, as on the show page.
pub fn look(state: BarState) -> StateLook {
    let color = color_of(Pick::State(state));
    let plain = |severity| StateLook {
        color,
        track: TRACK,
        striped: false,
        least_width: 0,
        outlined: false,
        severity,
    };
    match state {
        BarState::Running => plain(2),
        BarState::Done => plain(0),
        BarState::Failed => StateLook {
            // A failed worker's whole track is tinted, as on the page.
            track: Rgb(THEME.track_of(state)),
            least_width: 3,
            ..plain(4)
        },
        BarState::Stale => StateLook {
            striped: true,
            least_width: 3,
            ..plain(3)
        },
        BarState::NotStarted => StateLook {
            track: BACKGROUND,
            outlined: true,
            // A sliver in compact mode, where there is no outline.
            least_width: 3,
            ..plain(1)
        },
    }
}

/// What a rectangle or a text is painted with, by its role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paint {
    /// The picture's background.
    Background,
    /// Titles, labels, figures.
    Text,
    /// The subtitle, descs, axis labels, the footer.
    Muted,
    /// The plain track behind the bars.
    Track,
    /// The gridlines at 0, 25, … 100 %.
    Grid,
    /// A state's own colour.
    State(BarState),
    /// The track behind a bar in a state (tinted for some).
    StateTrack(BarState),
    /// A bar's fill: its colour over the track at the theme's share, as
    /// the page's `color-mix` draws it; the dark stripes of a striped bar.
    Fill(BarState),
    /// The light stripes of a striped bar.
    Stripe(BarState),
    /// A slow worker's colour: its leading edge, its legend swatch.
    Slow,
    /// A slow worker's fill.
    SlowFill,
}

/// How many paints there are; [`Paint::index`] numbers them from 0.
pub const PAINTS: usize = 7 + 4 * BarState::ALL.len();

impl Paint {
    /// The colour.
    pub fn color(self) -> Rgb<u8> {
        match self {
            Paint::Background => BACKGROUND,
            Paint::Text => TEXT,
            Paint::Muted => MUTED,
            Paint::Track => TRACK,
            Paint::Grid => GRID,
            Paint::State(s) => look(s).color,
            Paint::StateTrack(s) => look(s).track,
            Paint::Fill(s) => Rgb(THEME.fill_of(Pick::State(s))),
            Paint::Stripe(s) => Rgb(look::mix(THEME.track, look(s).color.0, look::STRIPE)),
            Paint::Slow => color_of(Pick::Slow),
            Paint::SlowFill => Rgb(THEME.fill_of(Pick::Slow)),
        }
    }

    /// A number below [`PAINTS`], different for each paint.
    pub fn index(self) -> usize {
        let per_state = |kind: usize, s: BarState| 7 + kind * BarState::ALL.len() + s as usize;
        match self {
            Paint::Background => 0,
            Paint::Text => 1,
            Paint::Muted => 2,
            Paint::Track => 3,
            Paint::Grid => 4,
            Paint::Slow => 5,
            Paint::SlowFill => 6,
            Paint::State(s) => per_state(0, s),
            Paint::StateTrack(s) => per_state(1, s),
            Paint::Fill(s) => per_state(2, s),
            Paint::Stripe(s) => per_state(3, s),
        }
    }
}

/// Regular or bold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weight {
    /// DejaVu Sans.
    Regular,
    /// DejaVu Sans Bold.
    Bold,
}

/// A face at a size in pixels: what a text is set in, and what measures it
/// for the layout.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Font {
    /// Regular or bold.
    pub weight: Weight,
    /// The size as rusttype takes it: pixels from descender to ascender
    /// (not the em of CSS; see [`Font::em`]).
    pub size: f32,
}

/// The chart's title.
pub const TITLE: Font = Font::bold(18.0);
/// The subtitle, legend and workids.
pub const BODY: Font = Font::regular(12.0);
/// Text in the bars, compact workids, the axis, the footer.
pub const SMALL: Font = Font::regular(11.0);
/// `current/total` in a bar.
pub const SMALL_BOLD: Font = Font::bold(11.0);

impl Font {
    const fn regular(size: f32) -> Font {
        Font {
            weight: Weight::Regular,
            size,
        }
    }

    const fn bold(size: f32) -> Font {
        Font {
            weight: Weight::Bold,
            size,
        }
    }
    /// The face that draws and measures it.
    pub fn face(self) -> &'static Face {
        match self.weight {
            Weight::Regular => text::regular(),
            Weight::Bold => text::bold(),
        }
    }

    /// The advance of `text`, in pixels.
    pub fn width(self, text: &str) -> f32 {
        self.face().width(text, self.size)
    }

    /// `text`, cut with an ellipsis if it is wider than `max` pixels.
    pub fn fit(self, text: &str, max: f32) -> String {
        self.face().fit(text, self.size, max)
    }

    /// Pixels from the baseline to the top of the tallest letters.
    pub fn ascent(self) -> f32 {
        self.face().ascent(self.size)
    }

    /// The size in CSS terms, pixels per em, for the SVG.
    pub fn em(self) -> f32 {
        self.face().em(self.size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_paint_has_its_own_index() {
        let fixed = [
            Paint::Background,
            Paint::Text,
            Paint::Muted,
            Paint::Track,
            Paint::Grid,
            Paint::Slow,
            Paint::SlowFill,
        ];
        let per_state: [fn(BarState) -> Paint; 4] =
            [Paint::State, Paint::StateTrack, Paint::Fill, Paint::Stripe];
        let all = fixed.into_iter().chain(
            per_state
                .into_iter()
                .flat_map(|kind| BarState::ALL.into_iter().map(kind)),
        );
        let indices: Vec<usize> = all.map(Paint::index).collect();
        assert_eq!(indices, (0..PAINTS).collect::<Vec<_>>());
    }

    #[test]
    fn only_a_failed_worker_tints_its_track_and_an_expected_one_is_outlined() {
        for state in BarState::ALL {
            let expected = state == BarState::NotStarted;
            let tinted = look(state).track != TRACK && !expected;
            assert_eq!(tinted, state == BarState::Failed, "{state:?}");
            assert_eq!(look(state).outlined, expected, "{state:?}");
        }
        assert_eq!(look(BarState::NotStarted).track, BACKGROUND);
    }
}
