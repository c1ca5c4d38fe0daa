//! How each state a worker is shown in looks: its icon and its colour in
//! light and dark, for the five states a bar is drawn in and for slow.
//!
//! One table, with the page's own colours beside it ([`Theme`]: text,
//! muted text, panel, track…) and the shares in which a bar's fill is
//! mixed over its track. The stylesheet's colours are written from it
//! ([`css_colours`]), the page's legend, chips and rows take their icons
//! from it, and the chart paints with its light colours; the names and
//! words come from the model ([`Pick::key`], [`Pick::words`]). How a state
//! is drawn beyond its colour (striped, dashed) belongs to each drawing:
//! the stylesheet and `chart::style`.
//!
//! Text must stay readable on whatever it sits on: the test here works out
//! every background a bar's text can sit on (the track, each state's fill
//! over it, a stale bar's stripes, a failed bar's tinted track) in both
//! themes and holds every text colour to WCAG AA's 4.5:1 on each. A state's
//! word beside its bar is written in its [`ink`], the state's colour
//! darkened (or lightened) towards the text until it reads as well.

use std::fmt::Write;

use crate::model::{BarState, Pick};

/// How one state looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Look {
    /// Shown beside the state's word, so colour is never alone.
    pub icon: &'static str,
    /// Its colour on a light background (the chart's, and the page's in
    /// light mode).
    pub light: [u8; 3],
    /// Its colour on the page in dark mode.
    pub dark: [u8; 3],
}

/// The colours of the page in one theme (and of the chart, in light).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// The page's background.
    pub bg: [u8; 3],
    /// Panels (and the chart's background).
    pub panel: [u8; 3],
    /// Text, and every text inside a bar.
    pub text: [u8; 3],
    /// Secondary text outside the bars (never inside one: no grey reads
    /// well enough on every fill).
    pub muted: [u8; 3],
    /// Rules and borders.
    pub line: [u8; 3],
    /// The empty part of a bar.
    pub track: [u8; 3],
    /// Links.
    pub link: [u8; 3],
    /// Percent of a state's colour in a bar's fill, over the track.
    pub fill: u8,
    /// Which theme: its colours come from [`Look::light`] or [`Look::dark`].
    pub dark: bool,
}

/// Percent of a stale bar's colour in its lighter stripes (its darker ones
/// are the fill).
pub const STRIPE: u8 = 25;
/// Percent of the failed colour in a failed worker's track.
pub const FAILED_TRACK: u8 = 14;

/// The light theme: the chart's, and the page's by default.
pub const LIGHT: Theme = Theme {
    bg: [0xf6, 0xf7, 0xf9],
    panel: [0xff, 0xff, 0xff],
    text: [0x1d, 0x21, 0x27],
    muted: [0x5f, 0x67, 0x73],
    line: [0xe3, 0xe6, 0xeb],
    track: [0xe9, 0xec, 0xf0],
    link: [0x24, 0x57, 0xb8],
    fill: 48,
    dark: false,
};

/// The dark theme, where the system asks for it. Its fills are lighter
/// mixes (40 %), or light text on a slow bar's amber would not read.
pub const DARK: Theme = Theme {
    bg: [0x14, 0x17, 0x1c],
    panel: [0x1c, 0x20, 0x27],
    text: [0xe6, 0xe9, 0xee],
    muted: [0x9a, 0xa3, 0xaf],
    line: [0x2c, 0x32, 0x3b],
    track: [0x2a, 0x30, 0x39],
    link: [0x8a, 0xb0, 0xff],
    fill: 40,
    dark: true,
};

impl Theme {
    /// A state's colour in this theme.
    pub fn colour(&self, pick: Pick) -> [u8; 3] {
        let look = of(pick);
        if self.dark { look.dark } else { look.light }
    }

    /// The track behind a bar in `state`: tinted for a failed worker.
    pub fn track_of(&self, state: BarState) -> [u8; 3] {
        match state {
            BarState::Failed => mix(self.track, self.colour(Pick::State(state)), FAILED_TRACK),
            BarState::NotStarted => self.panel,
            _ => self.track,
        }
    }

    /// A bar's fill in `pick` (a state, or slow), over its track.
    pub fn fill_of(&self, pick: Pick) -> [u8; 3] {
        let track = match pick {
            Pick::State(state) => self.track_of(state),
            Pick::Slow => self.track,
        };
        mix(track, self.colour(pick), self.fill)
    }

    /// Every colour a bar's text can sit on: each track, each fill, a
    /// stale bar's lighter stripes.
    #[cfg(test)]
    fn bar_backgrounds(&self) -> Vec<[u8; 3]> {
        let mut all = vec![self.track];
        for state in BarState::ALL {
            all.push(self.track_of(state));
        }
        for pick in Pick::ALL {
            all.push(self.fill_of(pick));
        }
        let stale = self.colour(Pick::State(BarState::Stale));
        all.push(mix(self.track, stale, STRIPE));
        all
    }

    /// The colour a state's word is written in on a panel: its colour,
    /// mixed towards the text just enough to read at 4.5:1.
    pub fn ink(&self, pick: Pick) -> [u8; 3] {
        let colour = self.colour(pick);
        (0..=100)
            .map(|share| mix(colour, self.text, share))
            .find(|&ink| contrast(ink, self.panel) >= AA)
            .unwrap_or(self.text)
    }
}

/// WCAG AA's least contrast for text of ordinary size.
pub const AA: f64 = 4.5;

/// `fg` over `bg` at `percent`, as CSS's `color-mix(in srgb, fg percent,
/// bg)` (or `fg` at that opacity) draws it.
pub fn mix(bg: [u8; 3], fg: [u8; 3], percent: u8) -> [u8; 3] {
    let p = u32::from(percent.min(100));
    [0, 1, 2].map(|i| ((u32::from(bg[i]) * (100 - p) + u32::from(fg[i]) * p + 50) / 100) as u8)
}

/// WCAG's relative luminance.
fn luminance(rgb: [u8; 3]) -> f64 {
    let [r, g, b] = rgb.map(|c| {
        let c = f64::from(c) / 255.0;
        if c <= 0.040_45 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    });
    0.2126 * r + 0.7152 * g + 0.0722 * b
}

/// WCAG's contrast ratio of two colours, 1 to 21.
pub fn contrast(a: [u8; 3], b: [u8; 3]) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// The look of each state.
pub fn of(pick: Pick) -> Look {
    let look = |icon, light, dark| Look { icon, light, dark };
    match pick {
        Pick::State(BarState::Running) => look("▶", [0x2f, 0x9e, 0x57], [0x3f, 0xbf, 0x6e]),
        Pick::State(BarState::Done) => look("✔", [0x35, 0x66, 0xc9], [0x5b, 0x8c, 0xf0]),
        Pick::State(BarState::Failed) => look("✖", [0xd3, 0x42, 0x3d], [0xf0, 0x60, 0x5a]),
        Pick::State(BarState::Stale) => look("◷", [0x8c, 0x93, 0x9e], [0x79, 0x81, 0x8d]),
        Pick::State(BarState::NotStarted) => look("○", [0xa3, 0xab, 0xb6], [0x6b, 0x73, 0x80]),
        Pick::Slow => look("▼", [0xc2, 0x78, 0x03], [0xe6, 0xa2, 0x3c]),
    }
}

/// The icon and words of a state: `▶ running`, `▼ slow`.
pub fn label(pick: Pick) -> String {
    format!("{} {}", of(pick).icon, pick.words())
}

/// The stylesheet's state colours: a custom property per state
/// (`--running`, …, `--slow`) in light and in dark, and the class that
/// gives each state's elements its colour (`.s-running { --c: … }`).
pub fn css_colours() -> String {
    let (light, dark) = (theme_css(&LIGHT, "  "), theme_css(&DARK, "    "));
    let mut classes = String::new();
    for pick in Pick::ALL {
        let key = pick.key();
        if let Pick::State(_) = pick {
            // Writing to a String cannot fail.
            let _ = writeln!(
                classes,
                ".s-{key} {{ --c: var(--{key}); --ink: var(--{key}-ink); }}"
            );
        }
    }
    format!(
        "/* State colours, from src/look.rs. */\n:root {{\n{light}}}\n\
         @media (prefers-color-scheme: dark) {{\n  :root {{\n{dark}  }}\n}}\n{classes}"
    )
}

fn hex([r, g, b]: [u8; 3]) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// One theme's custom properties, each line indented by `indent`.
fn theme_css(theme: &Theme, indent: &str) -> String {
    let mut css = String::new();
    for (name, colour) in [
        ("bg", theme.bg),
        ("panel", theme.panel),
        ("text", theme.text),
        ("muted", theme.muted),
        ("line", theme.line),
        ("track", theme.track),
        ("link", theme.link),
    ] {
        let _ = writeln!(css, "{indent}--{name}: {};", hex(colour));
    }
    let _ = writeln!(css, "{indent}--fill: {}%;", theme.fill);
    for pick in Pick::ALL {
        let key = pick.key();
        let _ = writeln!(css, "{indent}--{key}: {};", hex(theme.colour(pick)));
        let _ = writeln!(css, "{indent}--{key}-ink: {};", hex(theme.ink(pick)));
    }
    css
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_has_its_own_icon_and_colours() {
        for (i, a) in Pick::ALL.into_iter().enumerate() {
            for b in &Pick::ALL[i + 1..] {
                let (a, b) = (of(a), of(*b));
                assert!(a.icon != b.icon && a.light != b.light && a.dark != b.dark);
            }
        }
        assert_eq!(label(Pick::Slow), "▼ slow");
        assert_eq!(label(Pick::State(BarState::NotStarted)), "○ not started");
    }

    #[test]
    fn the_stylesheet_gets_every_colour() {
        let css = css_colours();
        assert!(css.contains("  --not_started: #a3abb6;\n"), "{css}");
        assert!(css.contains("    --slow: #e6a23c;\n"), "{css}");
        assert!(
            css.contains(".s-stale { --c: var(--stale); --ink: var(--stale-ink); }"),
            "{css}"
        );
        assert!(!css.contains(".s-slow"), "slow is a class of its own");
    }

    /// WCAG AA for every text on every background it can sit on, in both
    /// themes: the text (every text inside a bar) on each track, fill and
    /// stripe; text and muted text on the page and its panels; each state's
    /// word in its ink on a panel.
    #[test]
    fn every_text_colour_reads_at_aa_on_every_background() {
        for theme in [LIGHT, DARK] {
            let mut pairs = Vec::new();
            for bg in theme.bar_backgrounds() {
                pairs.push(("bar text", theme.text, bg));
            }
            for (what, fg) in [("text", theme.text), ("muted", theme.muted)] {
                pairs.push((what, fg, theme.bg));
                pairs.push((what, fg, theme.panel));
            }
            for pick in Pick::ALL {
                pairs.push((pick.key(), theme.ink(pick), theme.panel));
            }
            for (what, fg, bg) in pairs {
                let ratio = contrast(fg, bg);
                assert!(
                    ratio >= AA,
                    "{what} {} on {} is {ratio:.2}:1 (dark: {})",
                    hex(fg),
                    hex(bg),
                    theme.dark
                );
            }
        }
        // The formula, checked on known pairs.
        assert!((contrast([0; 3], [255; 3]) - 21.0).abs() < 1e-9);
        assert!((contrast([0x77; 3], [255; 3]) - 4.48).abs() < 0.01);
    }
}
