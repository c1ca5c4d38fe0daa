//! How each state a worker is shown in looks: its icon and its colour in
//! light and dark, for the five states a bar is drawn in and for slow.
//!
//! One table. The stylesheet's state colours are written from it
//! ([`css_colours`]), the page's legend, chips and rows take their icons
//! from it, and the chart paints with its light colours; the names and
//! words come from the model ([`Pick::key`], [`Pick::words`]). How a state
//! is drawn beyond its colour (striped, dashed) belongs to each drawing:
//! the stylesheet and `chart::style`.

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
    let hex = |[r, g, b]: [u8; 3]| format!("#{r:02x}{g:02x}{b:02x}");
    let (mut light, mut dark, mut classes) = (String::new(), String::new(), String::new());
    for pick in Pick::ALL {
        let (key, look) = (pick.key(), of(pick));
        // Writing to a String cannot fail.
        let _ = writeln!(light, "  --{key}: {};", hex(look.light));
        let _ = writeln!(dark, "    --{key}: {};", hex(look.dark));
        if let Pick::State(_) = pick {
            let _ = writeln!(classes, ".s-{key} {{ --c: var(--{key}); }}");
        }
    }
    format!(
        "/* State colours, from src/look.rs. */\n:root {{\n{light}}}\n\
         @media (prefers-color-scheme: dark) {{\n  :root {{\n{dark}  }}\n}}\n{classes}"
    )
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
        assert!(css.contains(".s-stale { --c: var(--stale); }"), "{css}");
        assert!(!css.contains(".s-slow"), "slow is a class of its own");
    }
}
