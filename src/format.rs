//! How numbers and times are written for people, the same on the page and
//! in the chart (and in the page's script, which mirrors these rules).

use crate::clock::{Secs, Time};
use crate::model::RateUnit;

/// A time as `2026-11-25 21:46 UTC`.
pub fn utc(t: Time) -> String {
    let (year, month, day, of_day) = civil(t);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        of_day / 3600,
        of_day % 3600 / 60
    )
}

/// A time as the name of a file: `20261125-214607Z`, which sorts as the
/// times do.
pub fn utc_compact(t: Time) -> String {
    let (year, month, day, of_day) = civil(t);
    format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// The UTC date of a time (year, month, day) and its whole seconds into
/// that day.
fn civil(t: Time) -> (i64, i64, i64, i64) {
    let secs = t.as_unix().floor() as i64;
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, of_day)
}

/// Longest span said in days; past it, "over a year".
const MAX_SPAN_DAYS: u64 = 400;

/// A span of seconds as people say it: `45 s`, `12 min`, `3 h 5 min`,
/// `6 days`, `over a year`. The script's `span()` says it the same way.
pub fn span(secs: Secs) -> String {
    let s = secs.get().max(0.0).round() as u64;
    match s {
        0..=89 => format!("{s} s"),
        90..=5399 => format!("{} min", (s + 30) / 60),
        5400..=172_799 => {
            let minutes = (s + 30) / 60;
            match minutes % 60 {
                0 => format!("{} h", minutes / 60),
                m => format!("{} h {m} min", minutes / 60),
            }
        }
        _ if s / 86_400 >= MAX_SPAN_DAYS => "over a year".to_string(),
        _ => format!("{} days", (s + 43_200) / 86_400),
    }
}

/// An ETA in words: a span, or `any moment` once it has run out (the
/// workers have not said they are done yet). The script's `etaText()`
/// says the same.
pub fn eta(secs: Secs) -> String {
    if secs.get() < 1.0 {
        "any moment".to_string()
    } else {
        format!("in {}", span(secs))
    }
}

/// Magnitudes from this up are written with an exponent.
const EXPONENT_FROM: f64 = 1e15;
/// Magnitudes below this, but not 0, are written with an exponent.
const EXPONENT_BELOW: f64 = 1e-3;

/// A quantity as people read it: whole numbers as they are, others to at
/// most three decimals, and very large or very small ones in exponent form
/// with three significant digits (`1.00e300`, `4.00e-4`). A value that is
/// not finite, which no figure should be, is `∞`, `-∞` or `?`, never `NaN`.
///
/// Every step is plain arithmetic, rounding halves up, with no library
/// formatting that rounds (Rust's rounds ties to even, JavaScript's up):
/// the script's `qty()` takes the same steps, so the two write every
/// number alike.
pub fn qty(x: f64) -> String {
    if x.is_nan() {
        return "?".to_string();
    }
    let sign = if x < 0.0 { "-" } else { "" };
    let m = x.abs();
    if m == f64::INFINITY {
        format!("{sign}∞")
    } else if m >= EXPONENT_FROM || (m > 0.0 && m < EXPONENT_BELOW) {
        let (mantissa, exponent) = hundredths(m);
        // Already rounded: formatting to two decimals rounds nothing.
        format!("{sign}{mantissa:.2}e{exponent}")
    } else {
        // The whole part and the thousandths, each written as an integer
        // (Display writes a whole f64 below 1e15 as its digits).
        let mut whole = m.trunc();
        let mut thousandths = ((m - whole) * 1000.0).round();
        if thousandths == 1000.0 {
            whole += 1.0;
            thousandths = 0.0;
        }
        let decimals = format!("{:03}", thousandths as u32);
        match decimals.trim_end_matches('0') {
            "" => format!("{sign}{whole}"),
            decimals => format!("{sign}{whole}.{decimals}"),
        }
    }
}

/// `m` (finite, > 0) as a mantissa from 1 to 10 rounded to hundredths, and
/// its power of ten, found in steps of ten: the script's `hundredths()`
/// takes the same steps.
fn hundredths(m: f64) -> (f64, i32) {
    let (mut mantissa, mut exponent) = (m, 0);
    while mantissa >= 10.0 {
        mantissa /= 10.0;
        exponent += 1;
    }
    while mantissa < 1.0 {
        mantissa *= 10.0;
        exponent -= 1;
    }
    let mut rounded = (mantissa * 100.0).round() / 100.0;
    if rounded >= 10.0 {
        rounded /= 10.0;
        exponent += 1;
    }
    (rounded, exponent)
}

/// `x` to three significant digits, where [`qty`] writes it without an
/// exponent (its exponent form has three already). The script's
/// `significant()` takes the same steps.
fn significant(x: f64) -> f64 {
    let m = x.abs();
    if !(EXPONENT_BELOW..EXPONENT_FROM).contains(&m) {
        return x;
    }
    let (mut rounded, exponent) = hundredths(m);
    for _ in 0..exponent {
        rounded *= 10.0;
    }
    for _ in exponent..0 {
        rounded /= 10.0;
    }
    if x < 0.0 { -rounded } else { rounded }
}

impl RateUnit {
    /// Its name after the slash.
    fn name(self) -> &'static str {
        match self {
            RateUnit::Second => "s",
            RateUnit::Minute => "min",
            RateUnit::Hour => "h",
        }
    }
}

/// A rate of units per second written in `unit` (`12.5/s`, `3/min`,
/// `0.4/h`), three significant digits at most. The workers of a job are
/// written in the unit of its median rate, so they compare at a glance; a
/// rate too large to write in that unit (past `f64`) keeps seconds.
pub fn rate_in(per_sec: f64, unit: RateUnit) -> String {
    let (value, unit) = match per_sec * unit.seconds() {
        scaled if scaled.is_finite() => (scaled, unit),
        _ => (per_sec, RateUnit::Second),
    };
    format!("{}/{}", qty(significant(value)), unit.name())
}

/// How long a running worker still needs, at `now`: `4 s left`, or
/// `overdue` once the time its rate gave has passed without it finishing.
pub fn time_left(left: Secs) -> String {
    if left.get() < 0.0 {
        "overdue".to_string()
    } else {
        format!("{} left", span(left))
    }
}

/// A running worker's rate and time left (`1.8/s · 4 s left`), as far as
/// they are known, the rate in `unit`.
pub fn rate_line(per_sec: Option<f64>, left: Option<Secs>, unit: Option<RateUnit>) -> String {
    let Some(r) = per_sec else {
        return String::new();
    };
    let rate = rate_in(r, unit.unwrap_or_else(|| RateUnit::of(r, None)));
    match left {
        Some(left) => format!("{rate} · {}", time_left(left)),
        None => rate,
    }
}

/// A percent to one decimal, rounded down, so a worker shows 100.0% only
/// when it is done. The script's `pct()` does the same.
pub fn pct(p: f64) -> String {
    // + 0.0 makes -0.0 (from current=-0) 0.0, written without a sign.
    format!("{:.1}%", (p * 10.0).floor() / 10.0 + 0.0)
}

/// The entity that stands for `c` in HTML or XML text and quoted attribute
/// values alike, for the five characters that need one. The page's and the
/// SVG's escaping both use it.
pub fn markup_entity(c: char) -> Option<&'static str> {
    match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '"' => Some("&quot;"),
        '\'' => Some("&#39;"),
        _ => None,
    }
}

/// Client text fit for one line of a message or the log: control
/// characters and quotes escaped (no line breaks, no terminal sequences),
/// cut after `max_chars` characters with an ellipsis.
pub fn one_line(text: &str, max_chars: usize) -> String {
    let mut shown: String = text
        .chars()
        .take(max_chars)
        .flat_map(char::escape_debug)
        .collect();
    if text.chars().nth(max_chars).is_some() {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Secs, Time};

    /// A rate in its own best unit.
    fn rate(per_sec: f64) -> String {
        rate_in(per_sec, RateUnit::of(per_sec, None))
    }

    /// A rate in the unit of `like`.
    fn rate_like(per_sec: f64, like: f64) -> String {
        rate_in(per_sec, RateUnit::of(like, None))
    }

    /// The unit of `like`.
    fn unit(like: f64) -> Option<RateUnit> {
        Some(RateUnit::of(like, None))
    }

    #[test]
    fn one_line_escapes_and_cuts() {
        assert_eq!(one_line("a\nb\u{1b}[31m", 40), "a\\nb\\u{1b}[31m");
        assert_eq!(one_line("abcdef", 3), "abc…");
        assert_eq!(one_line("abc", 3), "abc");
    }

    #[test]
    fn rates_in_the_unit_that_reads_best() {
        assert_eq!(rate(12.5), "12.5/s");
        assert_eq!(rate(1234.5678), "1230/s");
        assert_eq!(rate(0.05), "3/min");
        assert_eq!(rate(1.0 / 7.0), "8.57/min");
        assert_eq!(rate(0.0001), "0.36/h");
        assert_eq!(rate(0.0), "0/s");
        assert_eq!(
            rate_line(Some(2.0), Some(Secs(150.0)), None),
            "2/s · 3 min left"
        );
        assert_eq!(rate_line(Some(0.0), None, None), "0/s");
        assert_eq!(rate_line(None, Some(Secs(1.0)), unit(3.0)), "");
        // In the job's unit: a straggler next to its peers.
        assert_eq!(rate_line(Some(0.5), None, unit(2.0)), "0.5/s");
        assert_eq!(rate_line(Some(2.0), None, unit(0.05)), "120/min");
    }

    /// Issue 14: the job's median wavering about 1/s flipped every rate
    /// between `1.25/s` and `74/min`. Near a step the steady rate decides.
    #[test]
    fn near_a_step_the_steady_rate_chooses_the_unit() {
        for wavering in [0.6, 0.95, 1.05, 1.9] {
            assert_eq!(RateUnit::of(wavering, Some(1.2)), RateUnit::Second);
            assert_eq!(RateUnit::of(wavering, Some(0.8)), RateUnit::Minute);
        }
        for wavering in [0.01, 0.0166, 0.017, 0.03] {
            assert_eq!(RateUnit::of(wavering, Some(0.02)), RateUnit::Minute);
            assert_eq!(RateUnit::of(wavering, Some(0.015)), RateUnit::Hour);
        }
        // Well past a step, the rate alone.
        assert_eq!(RateUnit::of(2.5, Some(0.001)), RateUnit::Second);
        assert_eq!(RateUnit::of(0.4, Some(5.0)), RateUnit::Minute);
        assert_eq!(RateUnit::of(0.001, Some(5.0)), RateUnit::Hour);
        assert_eq!(RateUnit::of(0.0, Some(0.001)), RateUnit::Second);
    }

    #[test]
    fn time_left_counts_down_then_says_overdue() {
        assert_eq!(time_left(Secs(150.0)), "3 min left");
        assert_eq!(time_left(Secs(0.0)), "0 s left");
        assert_eq!(time_left(Secs(-0.2)), "overdue");
        assert_eq!(
            rate_line(Some(2.0), Some(Secs(-30.0)), None),
            "2/s · overdue"
        );
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc(Time::unix(0.0)), "1970-01-01 00:00 UTC");
        assert_eq!(utc(Time::unix(951_782_400.0)), "2000-02-29 00:00 UTC");
        assert_eq!(utc(Time::unix(1_795_643_652.0)), "2026-11-25 21:54 UTC");
        assert_eq!(utc_compact(Time::unix(1_795_643_652.9)), "20261125-215412Z");
        assert_eq!(utc_compact(Time::unix(951_782_400.0)), "20000229-000000Z");
    }

    #[test]
    fn spans() {
        assert_eq!(span(Secs(12.4)), "12 s");
        assert_eq!(span(Secs(-3.0)), "0 s");
        assert_eq!(span(Secs(89.0)), "89 s");
        assert_eq!(span(Secs(90.0)), "2 min");
        assert_eq!(span(Secs(3600.0 * 3.0 + 300.0)), "3 h 5 min");
        assert_eq!(span(Secs(7200.0)), "2 h");
        assert_eq!(span(Secs(6.0 * 86_400.0)), "6 days");
    }

    #[test]
    fn etas() {
        assert_eq!(eta(Secs(0.0)), "any moment");
        assert_eq!(eta(Secs(45.0)), "in 45 s");
    }

    #[test]
    fn quantities() {
        assert_eq!(qty(5.0), "5");
        assert_eq!(qty(0.0), "0");
        assert_eq!(qty(7.5), "7.5");
        assert_eq!(qty(1.0 / 3.0), "0.333");
        assert_eq!(qty(1e20), "1.00e20");
        assert_eq!(qty(1e300), "1.00e300");
        assert_eq!(qty(1e-7), "1.00e-7");
        assert_eq!(qty(0.0004), "4.00e-4");
    }

    /// Issue 11: a rate below about 1e-306 read `NaN/h`, and an overflow
    /// `inf`; tiny, denormal and huge figures all have a text.
    #[test]
    fn tiny_denormal_and_huge_rates_are_written_without_nan_or_inf() {
        assert_eq!(rate(0.0), "0/s");
        assert_eq!(rate(1e-320), "3.60e-317/h");
        assert_eq!(rate(f64::from_bits(1)), "1.78e-320/h", "the least f64");
        assert_eq!(rate(1e-9), "3.60e-6/h");
        assert_eq!(rate(2.4722e-5), "0.089/h");
        assert_eq!(rate(1e300), "1.00e300/s");
        assert_eq!(rate(f64::MAX), "1.80e308/s");
        // Too large for the job's unit: seconds, not inf/h.
        assert_eq!(rate_like(1e306, 1e-6), "1.00e306/s");
        assert_eq!(rate_like(1e-320, 5.0), "1.00e-320/s");
        assert_eq!(
            rate_line(Some(1e-320), None, unit(2.4722e-5)),
            "3.60e-317/h"
        );
        let mut x = f64::from_bits(1);
        while x < f64::MAX / 7.0 {
            for like in [x, 0.0, 1e-9, 0.05, 2.0, 1e300] {
                let text = rate_line(Some(x), Some(Secs(x)), unit(like));
                assert!(
                    !text.contains("NaN") && !text.contains("inf"),
                    "{x} {like}: {text}"
                );
            }
            x *= 7.0;
        }
    }

    #[test]
    fn quantities_at_the_edges() {
        assert_eq!(qty(f64::INFINITY), "∞");
        assert_eq!(qty(f64::NEG_INFINITY), "-∞");
        assert_eq!(qty(f64::NAN), "?");
        assert_eq!(qty(-0.0), "0");
        assert_eq!(qty(-2.5), "-2.5");
        assert_eq!(qty(f64::MAX), "1.80e308");
        assert_eq!(qty(f64::from_bits(1)), "4.94e-324");
        assert_eq!(qty(1e-320), "1.00e-320");
        assert_eq!(qty(999_999_999_999_999.0), "999999999999999");
        assert_eq!(qty(9.996e14 + 0.5), "999600000000000.5");
        assert_eq!(qty(0.0009995), "1.00e-3");
        assert_eq!(qty(0.9996), "1");
    }

    /// A half rounds up, as the script's toFixed() and toPrecision() would
    /// (Rust's own formatting rounds these down, to even).
    #[test]
    fn halves_round_up_as_in_the_script() {
        assert_eq!(qty(0.0625), "0.063");
        assert_eq!(qty(1.125e15), "1.13e15");
        assert_eq!(rate(1.125), "1.13/s");
        assert_eq!(pct(-0.0), "0.0%");
    }

    #[test]
    fn percents_round_down() {
        assert_eq!(pct(99.99), "99.9%");
        assert_eq!(pct(100.0), "100.0%");
        assert_eq!(pct(0.0), "0.0%");
    }

    #[test]
    fn huge_spans_do_not_overflow() {
        assert_eq!(span(Secs(f64::MAX)), "over a year");
        assert_eq!(span(Secs(f64::INFINITY)), "over a year");
        assert_eq!(span(Secs(f64::NAN)), "0 s");
        assert_eq!(span(Secs(1e300)), "over a year");
        assert_eq!(span(Secs(399.0 * 86_400.0)), "399 days");
    }
}
