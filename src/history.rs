//! Bounded progress history: a worker's (time, current) points, or a job's
//! (time, percent) points, kept in one small blob per row.
//!
//! Every report adds a point. Once a history holds [`MAX_POINTS`], adding one
//! removes an older point: never the first (where the run started) and never
//! one of the [`RECENT`] newest (they give the worker's usual gap), but the
//! one whose neighbours are closest in time, so old stretches thin out
//! evenly while the whole span stays covered.
//!
//! The blob, little-endian: a mark byte (`0xFE`), the rate of its points
//! as an `f64` (NaN for none; see [`rate_of`]), the first point's time
//! as an `f64`, then per point the milliseconds since the point before and
//! its value, each as a variable-length integer (LEB128): the value as the
//! step from the point before when both are whole numbers (zigzag-coded,
//! shifted left by one), else a 1 followed by the value as an `f64`. Times
//! keep millisecond precision however old the history, and values are
//! exact. A worker counting whole steps every few seconds takes 3–5 bytes a
//! point (a full history about 200–250 bytes); fractional values 11–14. The
//! row it lives in is rewritten at every report, so its size is much of
//! the writer's cost: with 12-byte points (584 bytes a full history) the
//! writer spent 6.9–7.9 µs a report in batches, with these (147 bytes)
//! 6.0–6.35 µs (docs/performance-history.md). The rate is in the header because every
//! summary, chart and page of a job reads every running worker's: a pass
//! over 100,000 workers decoding each history for it spent a fifth of its
//! time there.
//!
//! Blobs of the two formats before this one are still read, and written
//! anew at the next push: the same without the rate (mark `0xFF`), and the
//! first point's time followed by 12 bytes a point (a `u32` of
//! milliseconds and an `f64`). A blob of the newer formats never has the
//! oldest one's length (8 plus a multiple of 12): it gets a trailing zero
//! byte when it would. A report more than 49 days (the most a `u32` of
//! milliseconds holds) after the last point starts the history afresh. A
//! blob that does not decode (none is ever written) reads as an empty
//! history rather than failing a request.
//!
//! Nothing here knows SQL: the store registers [`push`] as a SQL function
//! and decodes what it reads with [`decode`] and [`rate`].

/// Most points a history keeps.
pub const MAX_POINTS: usize = 48;
/// The newest points, never thinned out: the worker's usual gap between
/// reports is measured over them.
pub const RECENT: usize = 8;
/// A rate is measured over at least this long...
pub const RATE_WINDOW: f64 = 60.0;
/// ...and over at least this many of the worker's usual gaps...
pub const RATE_GAPS: f64 = 8.0;
/// ...and this many changes of its value, where its history holds them.
pub const RATE_STEPS: usize = 8;

/// The first byte of a blob of this format.
const MARK: u8 = 0xFE;
/// The first byte of the format before it, without the rate.
const UNRATED_MARK: u8 = 0xFF;
/// This format's header: its mark, the rate, the first time.
const HEADER: usize = 17;
/// The old format: its header (the first time) and its points' size.
const OLD_HEADER: usize = 8;
const OLD_POINT: usize = 12;
/// Whole numbers up to this size are exact in an `f64`.
const EXACT: f64 = 9_007_199_254_740_992.0;

/// One point: Unix seconds and the value then.
pub type Point = (f64, f64);

/// The points of `blob`, oldest first; empty for a missing or damaged blob.
pub fn decode(blob: Option<&[u8]>) -> Vec<Point> {
    let mut out = Vec::with_capacity(MAX_POINTS);
    for_newest::<MAX_POINTS>(blob, |point| out.push(point));
    out
}

/// Units per second of `blob` ([`rate_of`] its points): what every read of
/// a running or finished worker needs of its history. Read from the
/// header; a blob of an older format is decoded into a fixed array,
/// allocating nothing.
pub fn rate(blob: Option<&[u8]>) -> Option<f64> {
    if let Some(rate) = blob.and_then(Stored::of).and_then(|history| history.rate) {
        return rate;
    }
    let mut all = [(0.0, 0.0); MAX_POINTS];
    let mut n = 0;
    for_newest::<MAX_POINTS>(blob, |point| {
        if let Some(slot) = all.get_mut(n) {
            *slot = point;
            n += 1;
        }
    });
    rate_of(&all[..n])
}

/// Calls `each` with the `N` newest points of `blob`, oldest first; with
/// none for a missing or damaged blob. The blob is decoded once, into a
/// ring of the newest, so nothing is allocated.
fn for_newest<const N: usize>(blob: Option<&[u8]>, mut each: impl FnMut(Point)) {
    let Some(history) = blob.and_then(Stored::of) else {
        return;
    };
    let mut ring = [(0u64, 0.0); N];
    let mut count = 0usize;
    let whole = history.for_each(|millis, value| {
        if let Some(slot) = ring.get_mut(count % N) {
            *slot = (millis, value);
        }
        count += 1;
    });
    if !whole {
        return;
    }
    for i in count.saturating_sub(N)..count {
        if let Some(&(millis, value)) = ring.get(i % N) {
            each((history.start + millis as f64 / 1000.0, value));
        }
    }
}

/// A stored history: its first time and its points' bytes, in either
/// format.
struct Stored<'a> {
    start: f64,
    points: &'a [u8],
    old: bool,
    /// The rate of its newest points, where the blob holds it.
    rate: Option<Option<f64>>,
}

impl Stored<'_> {
    fn of(blob: &[u8]) -> Option<Stored<'_>> {
        if blob.len() >= OLD_HEADER && (blob.len() - OLD_HEADER).is_multiple_of(OLD_POINT) {
            let (head, points) = blob.split_at(OLD_HEADER);
            let start = f64::from_le_bytes(head.try_into().ok()?);
            return Some(Stored {
                start,
                points,
                old: true,
                rate: None,
            });
        }
        let (&mark, rest) = blob.split_first()?;
        let (rate, rest) = match mark {
            MARK => {
                let rate = f64::from_le_bytes(rest.get(..8)?.try_into().ok()?);
                (Some(Some(rate).filter(|r| !r.is_nan())), rest.get(8..)?)
            }
            UNRATED_MARK => (None, rest),
            _ => return None,
        };
        let head = rest.get(..8)?;
        Some(Stored {
            start: f64::from_le_bytes(head.try_into().ok()?),
            points: rest.get(8..)?,
            old: false,
            rate,
        })
    }

    /// Calls `each` with every point's milliseconds since the first time
    /// and its value, oldest first; false (after the points before it)
    /// where a point does not decode.
    fn for_each(&self, mut each: impl FnMut(u64, f64)) -> bool {
        self.for_each_at(|_, millis, value| each(millis, value))
            .is_some()
    }

    /// As [`Stored::for_each`], with where each point starts in `points`;
    /// returns where the last one ends (before any padding), or `None`
    /// where a point does not decode.
    fn for_each_at(&self, mut each: impl FnMut(usize, u64, f64)) -> Option<usize> {
        let mut millis = 0u64;
        if self.old {
            let mut at = 0;
            for p in self.points.chunks_exact(OLD_POINT) {
                let (gap, value) = p.split_at(4);
                millis += u64::from(u32::from_le_bytes(gap.try_into().unwrap_or_default()));
                each(
                    at,
                    millis,
                    f64::from_le_bytes(value.try_into().unwrap_or_default()),
                );
                at += OLD_POINT;
            }
            return Some(at);
        }
        let mut bytes = self.points;
        let mut before = 0.0;
        // A lone zero byte at the end pads the length (see the module).
        while bytes.len() > 1 {
            let at = self.points.len() - bytes.len();
            let gap = varint(&mut bytes)?;
            let tag = varint(&mut bytes)?;
            let value = if tag == 1 {
                let raw = bytes.get(..8)?;
                bytes = &bytes[8..];
                f64::from_le_bytes(raw.try_into().unwrap_or_default())
            } else {
                let zigzag = tag >> 1;
                let step = (zigzag >> 1) as i64 ^ -((zigzag & 1) as i64);
                (before as i64).wrapping_add(step) as f64
            };
            millis = millis.saturating_add(gap);
            each(at, millis, value);
            before = value;
        }
        Some(self.points.len() - bytes.len())
    }
}

/// Reads one LEB128 integer off the front of `bytes`.
fn varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for (i, &byte) in bytes.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            *bytes = &bytes[i + 1..];
            return Some(value);
        }
    }
    None
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7F) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// True for a whole number an `f64` holds exactly (and not -0).
fn whole(v: f64) -> bool {
    v.fract() == 0.0 && v.abs() <= EXACT && !(v == 0.0 && v.is_sign_negative())
}

/// The blob of points given as milliseconds since `start` and values.
fn encode(start: f64, points: &[(u64, f64)]) -> Vec<u8> {
    let mut blob = Vec::with_capacity(HEADER + 4 * points.len() + 1);
    // The newest MAX_POINTS, as a blob keeps (none has more but in tests).
    let newest = &points[points.len().saturating_sub(MAX_POINTS)..];
    put_header(&mut blob, start, newest.len(), |i| newest[i]);
    let (mut millis, mut before) = (0u64, 0.0);
    for &(at, value) in points {
        put_point(&mut blob, at.saturating_sub(millis), value, before);
        (millis, before) = (at, value);
    }
    pad(&mut blob);
    blob
}

/// Starts a blob: its mark, the rate of its `n` points `point(0..n)`
/// (milliseconds since `start` and values, oldest first; NaN for none)
/// and `start`. The writer runs this at every report, on the points it
/// holds anyway: the rate reads back only as far as its span.
fn put_header(out: &mut Vec<u8>, start: f64, n: usize, point: impl Fn(usize) -> (u64, f64)) {
    let at = |i: usize| {
        let (millis, value) = point(i);
        (start + millis as f64 / 1000.0, value)
    };
    let rate = rate_with(n, at).unwrap_or(f64::NAN);
    out.push(MARK);
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&start.to_le_bytes());
}

/// Appends one point: `gap` milliseconds after the point before, whose
/// value was `before` (0 for the first point).
fn put_point(out: &mut Vec<u8>, gap: u64, value: f64, before: f64) {
    put_varint(out, gap);
    if whole(value) && whole(before) {
        let step = value as i64 - before as i64;
        let zigzag = ((step << 1) ^ (step >> 63)) as u64;
        put_varint(out, zigzag << 1);
    } else {
        put_varint(out, 1);
        out.extend_from_slice(&value.to_le_bytes());
    }
}

/// Pads a blob of this format that has the old format's length.
fn pad(blob: &mut Vec<u8>) {
    if blob.len() >= OLD_HEADER && (blob.len() - OLD_HEADER).is_multiple_of(OLD_POINT) {
        blob.push(0);
    }
}

/// The longest gap between two points, in milliseconds.
const MAX_GAP_MILLIS: u64 = u32::MAX as u64;

/// `blob` with the point (`t`, `value`) added, thinned to [`MAX_POINTS`].
/// A point at the time of the last one replaces it.
///
/// Every report of every worker runs this in the writer, so it works on
/// the blob's bytes: the points it keeps as they were are copied, and only
/// the new point and the one after a dropped point are encoded. What it
/// writes is exactly what decoding and encoding every point would (a
/// test holds it to [`rebuild`], which it falls back to for the old
/// format, a damaged blob or a gap too long to keep).
pub fn push(blob: Option<&[u8]>, t: f64, value: f64) -> Vec<u8> {
    blob.and_then(Stored::of)
        .and_then(|history| splice(&history, t, value))
        .unwrap_or_else(|| rebuild(blob, t, value))
}

/// Where a kept point's bytes start, and its time and value.
#[derive(Clone, Copy, Default)]
struct Kept {
    at: usize,
    millis: u64,
    value: f64,
}

/// [`push`] on the bytes of a blob of this format with at most
/// [`MAX_POINTS`] points, the first at its start; `None` for any other.
fn splice(history: &Stored, t: f64, value: f64) -> Option<Vec<u8>> {
    if history.old {
        return None;
    }
    let mut kept = [Kept::default(); MAX_POINTS];
    let mut n = 0;
    let end = history.for_each_at(|at, millis, value| {
        if let Some(slot) = kept.get_mut(n) {
            *slot = Kept { at, millis, value };
        }
        n += 1;
    })?;
    if n == 0 || n > MAX_POINTS || kept[0].millis != 0 {
        return None;
    }
    let bytes = history.points;
    let last = kept[n - 1];
    // The point before the `i`th, as `put_point` encodes against it.
    let before = |i: usize| i.checked_sub(1).map_or(Kept::default(), |b| kept[b]);
    let point = |i: usize| (kept[i].millis, kept[i].value);
    let mut out = Vec::with_capacity(HEADER + end + 24);
    let last_time = history.start + last.millis as f64 / 1000.0;
    if last_time >= t {
        let replaced = |i: usize| {
            if i + 1 < n {
                point(i)
            } else {
                (last.millis, value)
            }
        };
        put_header(&mut out, history.start, n, replaced);
        let prior = before(n - 1);
        out.extend_from_slice(bytes.get(..last.at)?);
        put_point(&mut out, last.millis - prior.millis, value, prior.value);
        pad(&mut out);
        return Some(out);
    }
    let gap = ((t - last_time) * 1000.0).round();
    if gap > MAX_GAP_MILLIS as f64 {
        return None;
    }
    let gap = gap as u64;
    let new = (last.millis + gap, value);
    if n == MAX_POINTS {
        // As `rebuild` thins: the interior point whose neighbours are
        // closest in time, never the first nor the RECENT newest (the new
        // one among them), the oldest of equals. As RECENT is at least
        // 2, the point after the dropped one is not the new one.
        let millis = |i: usize| kept.get(i).map_or(new.0, |k| k.millis);
        let drop = (1..=n - RECENT)
            .min_by_key(|&i| millis(i + 1) - millis(i - 1))
            .unwrap_or(1);
        let thinned = |i: usize| match i {
            _ if i < drop => point(i),
            _ if i + 1 < n => point(i + 1),
            _ => new,
        };
        put_header(&mut out, history.start, n, thinned);
        let (gone, next) = (kept[drop - 1], kept[drop + 1]);
        out.extend_from_slice(bytes.get(..kept[drop].at)?);
        put_point(&mut out, next.millis - gone.millis, next.value, gone.value);
        let rest = kept
            .get(drop + 2)
            .filter(|_| drop + 2 < n)
            .map_or(end, |k| k.at);
        out.extend_from_slice(bytes.get(rest..end)?);
    } else {
        let added = |i: usize| if i < n { point(i) } else { new };
        put_header(&mut out, history.start, n + 1, added);
        out.extend_from_slice(bytes.get(..end)?);
    }
    put_point(&mut out, gap, value, last.value);
    pad(&mut out);
    Some(out)
}

const _: () = assert!(RECENT >= 2 && RECENT < MAX_POINTS);

/// [`push`] by decoding every point and encoding them again.
fn rebuild(blob: Option<&[u8]>, t: f64, value: f64) -> Vec<u8> {
    let fresh = || encode(t, &[(0, value)]);
    let Some(history) = blob.and_then(Stored::of) else {
        return fresh();
    };
    // The newest MAX_POINTS (a longer blob was never written), as
    // milliseconds since the first of them.
    let mut points: Vec<(u64, f64)> = Vec::with_capacity(MAX_POINTS + 1);
    if !history.for_each(|millis, v| points.push((millis, v))) {
        return fresh();
    }
    let skip = points.len().saturating_sub(MAX_POINTS);
    points.drain(..skip);
    let Some(&(first, _)) = points.first() else {
        return fresh();
    };
    let start = history.start + first as f64 / 1000.0;
    for point in &mut points {
        point.0 -= first;
    }
    let Some(last) = points.last_mut() else {
        return fresh();
    };
    let last_millis = last.0;
    let last_time = start + last_millis as f64 / 1000.0;
    if last_time >= t {
        last.1 = value;
        return encode(start, &points);
    }
    let gap = ((t - last_time) * 1000.0).round();
    if gap > MAX_GAP_MILLIS as f64 {
        return fresh();
    }
    points.push((last_millis + gap as u64, value));
    if points.len() > MAX_POINTS {
        // Drop the interior point whose neighbours are closest in time,
        // never the first nor the RECENT newest, the oldest of equals.
        let span = |i: usize| points[i + 1].0 - points[i - 1].0;
        let drop = (1..points.len() - RECENT)
            .min_by_key(|&i| span(i))
            .unwrap_or(1);
        points.remove(drop);
    }
    encode(start, &points)
}

/// A worker's rate, in units per second, from its history `points`
/// (oldest first), since it last went backwards (a restarted worker);
/// `None` without two points apart in time. Zero for a worker that reports
/// but makes no progress.
///
/// It is measured over a span of time, not a count of reports: back from
/// the last report over at least [`RATE_WINDOW`] seconds and
/// [`RATE_GAPS`] of the worker's usual gaps (over its [`RECENT`] newest
/// points) and [`RATE_STEPS`] changes of its value, so a worker reporting
/// every second, one reporting every minute and one whose value moves
/// once in twenty reports are all measured over several reports and
/// enough progress.
///
/// Whole-number steps make a rate measured from report to report jump (a
/// worker at 0.2/s moves 1 or 2 steps in 8 reports a second apart: 0.14 or
/// 0.28/s). So both ends are points where the value changed: from the
/// report that first showed the value at the window's start to the one
/// that first showed the latest value. Between steps the rate then holds
/// still, and the ETA counts down. A worker overdue for its next step
/// (later than a step of the usual size at that rate allows) is slowed
/// down, as if that step came now: a worker that stopped moving sinks
/// towards 0 rather than keeping its old pace, and is at 0 once it has not
/// moved for its whole window.
pub fn rate_of(points: &[Point]) -> Option<f64> {
    rate_with(points.len(), |i| points[i])
}

/// [`rate_of`] the `n` points `point(0..n)`, oldest first, reading them
/// newest first and only as far back as the rate's span: the writer
/// computes it at every report.
fn rate_with(n: usize, point: impl Fn(usize) -> Point) -> Option<f64> {
    let last = n.checked_sub(1)?;
    let (last_t, _) = point(last);
    // The span, once the newest RECENT points (or all since the restart)
    // are read: no point within them is far enough back anyway.
    let mut window = None;
    // The last point where the value changed, and the one the rate is
    // measured from, with the changes after it up to `to`.
    let mut to: Option<Point> = None;
    let mut changes = 1;
    let (mut i, mut here) = (last, point(last));
    let (from, steps) = loop {
        let before = i.checked_sub(1).map(&point);
        // The first point, or one after the value went back: a start.
        let start = before.is_none_or(|(_, v)| v > here.1);
        let changed = start || before.is_some_and(|(_, v)| v != here.1);
        if window.is_none() && (start || i + RECENT == last + 1) {
            let gaps = (last - i).max(1) as f64;
            window = Some(((last_t - here.0) / gaps * RATE_GAPS).max(RATE_WINDOW));
        }
        if changed {
            if to.is_none() {
                to = Some(here);
            } else {
                let far = window.is_some_and(|w| last_t - here.0 >= w);
                if start || (far && changes >= RATE_STEPS) {
                    break (here, changes);
                }
                changes += 1;
            }
        }
        match before {
            Some(point) if !start => (i, here) = (i - 1, point),
            _ => break (here, changes),
        }
    };
    let ((from_t, from_v), (to_t, to_v)) = (from, to.unwrap_or(from));
    let window = window.unwrap_or(RATE_WINDOW);
    let to_last = last_t - from_t;
    if to_last <= 0.0 {
        return None;
    }
    let moved = to_v - from_v;
    if last_t - to_t >= window.max(to_t - from_t) {
        // No change for as long as its window, nor as its last changes
        // took: it has stopped.
        return Some(0.0);
    }
    let rate = if to_t > from_t {
        let overdue = (moved + moved / steps as f64) / to_last;
        (moved / (to_t - from_t)).min(overdue)
    } else {
        moved / to_last
    };
    // A jump near f64::MAX within a millisecond is at most f64::MAX a
    // second, not infinity, which JSON cannot hold.
    Some(rate.clamp(0.0, f64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A blob of the format before this one (12 bytes a point).
    fn old_blob(points: &[Point]) -> Vec<u8> {
        let start = points.first().map_or(0.0, |p| p.0);
        let mut blob = start.to_le_bytes().to_vec();
        let mut before = start;
        for &(t, value) in points {
            let gap = ((t - before) * 1000.0).round();
            blob.extend_from_slice(&(gap as u32).to_le_bytes());
            blob.extend_from_slice(&value.to_le_bytes());
            before += gap / 1000.0;
        }
        blob
    }

    /// `points` encoded afresh, in this format.
    fn reencoded(points: &[Point]) -> Vec<u8> {
        let start = points.first().map_or(0.0, |p| p.0);
        let millis: Vec<(u64, f64)> = points
            .iter()
            .map(|&(t, v)| (((t - start) * 1000.0).round() as u64, v))
            .collect();
        encode(start, &millis)
    }

    fn pushed(points: &[Point]) -> Vec<u8> {
        points.iter().fold(Vec::new(), |blob, &(t, v)| {
            push(
                Some(&blob).filter(|b| !b.is_empty()).map(Vec::as_slice),
                t,
                v,
            )
        })
    }

    #[test]
    fn points_round_trip_to_the_millisecond_however_old() {
        let start = 1_764_000_000.0;
        let year = 365.0 * 86_400.0;
        let points = [
            (start, 0.0),
            (start + 0.5, 1.5),
            (start + 30.0 * 86_400.0, 123_456_789.0),
            (start + 3.0 * year, 7.0),
            (start + 3.0 * year + 0.001, 8.0),
        ];
        let blob = pushed(&points[..3]);
        let back = decode(Some(&blob));
        assert_eq!(back.len(), 3);
        for (a, b) in points.iter().zip(&back) {
            assert!((a.0 - b.0).abs() <= 0.0005, "{a:?} vs {b:?}");
            assert_eq!(a.1, b.1, "values are exact");
        }
        // Decoding and encoding again changes nothing.
        assert_eq!(reencoded(&back), blob);
        assert_eq!(rate(Some(&blob)), rate_of(&back));
        // A report years later starts afresh, and keeps its millisecond.
        let blob = pushed(&points);
        let back = decode(Some(&blob));
        assert_eq!(back.len(), 2, "{back:?}");
        assert_eq!(back[0], points[3]);
        assert!((back[1].0 - back[0].0 - 0.001).abs() < 1e-6, "{back:?}");
    }

    #[test]
    fn damaged_or_missing_blobs_read_as_empty() {
        assert!(decode(None).is_empty());
        assert!(decode(Some(&[1, 2, 3])).is_empty());
        assert!(decode(Some(&[0; 8 + 13])).is_empty());
        assert_eq!(decode(Some(&push(Some(&[9; 5]), 10.0, 1.0))), [(10.0, 1.0)]);
    }

    #[test]
    fn splicing_writes_what_rebuilding_writes() {
        // Random reports: whole and fractional values, restarts, reports
        // at the same millisecond, gaps from 0 to hours; every push must
        // give the very bytes of decoding and encoding every point.
        let mut seed = 7_u64;
        let mut random = |n: u64| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) % n
        };
        let (mut spliced, mut spliced_drops) = (0, 0);
        for _ in 0..200 {
            let mut blob: Option<Vec<u8>> = None;
            let (mut t, mut value) = (1.7e9 + random(1000) as f64 / 7.0, 0.0);
            for _ in 0..(1 + random(120)) {
                t += match random(5) {
                    0 => 0.0,
                    1 => random(1000) as f64 / 1000.0,
                    2 => random(10_000) as f64 / 1000.0 + 0.0004,
                    3 => random(7200) as f64,
                    _ => 1.0,
                };
                value = match random(6) {
                    0 => value + random(10) as f64 / 3.0,
                    1 => random(5) as f64,
                    _ => value.floor() + random(4) as f64,
                };
                let points = decode(blob.as_deref());
                let history = blob.as_deref().and_then(Stored::of);
                if let Some(bytes) = history.and_then(|h| splice(&h, t, value)) {
                    spliced += 1;
                    spliced_drops += usize::from(points.len() == MAX_POINTS);
                    assert_eq!(
                        bytes,
                        rebuild(blob.as_deref(), t, value),
                        "after {points:?}"
                    );
                }
                let next = push(blob.as_deref(), t, value);
                assert_eq!(next, rebuild(blob.as_deref(), t, value));
                // The rate kept in the blob is its points' rate.
                assert_eq!(rate(Some(&next)), rate_of(&decode(Some(&next))));
                blob = Some(next);
            }
        }
        assert!(
            spliced > 5_000 && spliced_drops > 1_000,
            "{spliced} {spliced_drops}"
        );
    }

    #[test]
    fn a_report_at_the_same_time_replaces_the_last_point() {
        let blob = pushed(&[(10.0, 1.0), (20.0, 2.0), (20.0, 3.0), (19.0, 4.0)]);
        assert_eq!(decode(Some(&blob)), [(10.0, 1.0), (20.0, 4.0)]);
    }

    #[test]
    fn history_stays_bounded_keeps_its_ends_and_thins_evenly() {
        // 10,000 reports a second apart.
        let mut blob: Option<Vec<u8>> = None;
        for i in 0..10_000 {
            blob = Some(push(blob.as_deref(), 1000.0 + f64::from(i), f64::from(i)));
        }
        let blob = blob.unwrap_or_default();
        assert!(blob.len() <= 8 + 12 * MAX_POINTS, "{} bytes", blob.len());
        let points = decode(Some(&blob));
        assert_eq!(points.len(), MAX_POINTS);
        assert_eq!(points[0], (1000.0, 0.0), "the start stays");
        let newest: Vec<f64> = points[MAX_POINTS - RECENT..].iter().map(|p| p.1).collect();
        let expected: Vec<f64> = (10_000 - RECENT as u32..10_000).map(f64::from).collect();
        assert_eq!(newest, expected, "the newest stay as reported");
        // Older points cover the whole span without a big hole: no gap
        // between kept points is more than a few times the even spacing.
        let even = 10_000.0 / MAX_POINTS as f64;
        let widest = points
            .windows(2)
            .map(|w| w[1].0 - w[0].0)
            .fold(0.0, f64::max);
        assert!(
            widest < 4.0 * even,
            "widest gap {widest} s, even spacing {even} s"
        );
    }

    #[test]
    fn a_blob_longer_than_written_keeps_its_newest_points() {
        let points: Vec<Point> = (0..60)
            .map(|i| (100.0 + f64::from(i), f64::from(i)))
            .collect();
        let blob = push(Some(&old_blob(&points)), 200.0, 99.0);
        let back = decode(Some(&blob));
        assert_eq!(back.len(), MAX_POINTS);
        assert_eq!(back.last(), Some(&(200.0, 99.0)));
        assert_eq!(back[MAX_POINTS - 2], (159.0, 59.0));
    }

    #[test]
    fn values_are_exact_and_whole_steps_take_a_few_bytes() {
        let values = [
            0.0,
            -0.0,
            1.0,
            7.0,
            3.0,
            -5.0,
            0.5,
            1e-300,
            9_007_199_254_740_992.0,
            9_007_199_254_740_994.0,
            -9_007_199_254_740_992.0,
            1e300,
            f64::MAX,
            12.0,
        ];
        let points: Vec<Point> = values
            .iter()
            .enumerate()
            .map(|(i, &v)| (1_764_000_000.0 + i as f64 * 5.0, v))
            .collect();
        let back = decode(Some(&pushed(&points)));
        assert_eq!(back.len(), points.len());
        for (a, b) in points.iter().zip(&back) {
            assert_eq!(a.1.to_bits(), b.1.to_bits(), "{a:?} vs {b:?}");
            assert!((a.0 - b.0).abs() <= 0.0005);
        }
        // A worker counting whole steps every 5 s: a full history in at
        // most 5 bytes a point (older gaps grow as they thin out), and
        // never of the old format's length.
        let mut blob: Option<Vec<u8>> = None;
        for i in 0..500u32 {
            let t = 1_764_000_000.0 + f64::from(i) * 5.0;
            blob = Some(push(blob.as_deref(), t, f64::from(i * 3)));
            let len = blob.as_ref().map_or(0, Vec::len);
            assert!(!(len >= 8 && (len - 8).is_multiple_of(12)), "{len} bytes");
        }
        let blob = blob.unwrap_or_default();
        assert!(blob.len() <= 9 + 5 * MAX_POINTS + 1, "{} bytes", blob.len());
        assert_eq!(decode(Some(&blob)).len(), MAX_POINTS);
    }

    #[test]
    fn old_blobs_are_read_and_written_anew_at_the_next_push() {
        let points: Vec<Point> = (0..20)
            .map(|i| (1_700_000_000.0 + f64::from(i) * 2.5, f64::from(i) / 4.0))
            .collect();
        let old = old_blob(&points);
        assert_eq!(decode(Some(&old)), points);
        assert_eq!(rate(Some(&old)), rate_of(&points));
        let new = push(Some(&old), 1_700_000_100.0, 9.0);
        assert_eq!(new.first(), Some(&MARK));
        let mut expected = points.clone();
        expected.push((1_700_000_100.0, 9.0));
        assert_eq!(decode(Some(&new)), expected);
    }

    #[test]
    fn blobs_without_a_rate_are_read_and_written_anew_at_the_next_push() {
        // The format before the rate went into the header.
        let points: Vec<Point> = (0..30)
            .map(|i| (1_700_000_000.0 + f64::from(i) * 1.5, f64::from(i * i % 17)))
            .collect();
        let start = points[0].0;
        let mut unrated = vec![UNRATED_MARK];
        unrated.extend_from_slice(&start.to_le_bytes());
        let mut before = (start, 0.0);
        for &(t, value) in &points {
            let gap = ((t - before.0) * 1000.0).round() as u64;
            put_point(&mut unrated, gap, value, before.1);
            before = (t, value);
        }
        pad(&mut unrated);
        assert_eq!(decode(Some(&unrated)), points);
        assert_eq!(rate(Some(&unrated)), rate_of(&points));
        let new = push(Some(&unrated), 1_700_000_100.0, 9.0);
        assert_eq!(new.first(), Some(&MARK));
        assert_eq!(
            new,
            reencoded(&[points.as_slice(), &[(1_700_000_100.0, 9.0)]].concat())
        );
        let rated = rate(Some(&new));
        assert!(rated.is_some());
        assert_eq!(rated, rate_of(&decode(Some(&new))));
    }

    #[test]
    fn rate_over_a_recent_window_since_the_last_restart() {
        assert_eq!(rate_of(&[]), None);
        assert_eq!(rate_of(&[(10.0, 5.0)]), None);
        assert_eq!(rate_of(&[(10.0, 0.0), (20.0, 5.0)]), Some(0.5));
        // Only the window counts: a fast start is forgotten once it is
        // more than RATE_WINDOW before the last report...
        let mut points: Vec<Point> = vec![(0.0, 0.0), (1.0, 1000.0)];
        points.extend((0..100).map(|i| (10.0 + f64::from(i), 1000.0 + 2.0 * f64::from(i))));
        assert_eq!(rate_of(&points), Some(2.0));
        // ...and within it, counts.
        points.truncate(2 + 30);
        assert!(rate_of(&points).is_some_and(|r| r > 2.0), "{points:?}");
        // A worker reporting every 30 s is measured over 8 of its gaps.
        let sparse: Vec<Point> = (0..20)
            .map(|i| {
                (
                    30.0 * f64::from(i),
                    if i < 10 {
                        0.0
                    } else {
                        30.0 * f64::from(i - 10)
                    },
                )
            })
            .collect();
        assert_eq!(rate_of(&sparse), Some(1.0));
        // A worker that went back to 0 is measured from its new start.
        let restarted = [(0.0, 0.0), (10.0, 50.0), (11.0, 0.0), (15.0, 20.0)];
        assert_eq!(rate_of(&restarted), Some(5.0));
        // Reporting without progress: rate 0, not unknown.
        assert_eq!(rate_of(&[(0.0, 7.0), (60.0, 7.0)]), Some(0.0));
    }

    /// The rate a worker's blob holds after each of its reports, which
    /// count whole steps at `speed` steps a second every `gap` seconds:
    /// the figures reported from `from` seconds on.
    fn rates_reported(speed: f64, gap: f64, until: f64, from: f64) -> Vec<f64> {
        let mut blob: Option<Vec<u8>> = None;
        let mut rates = Vec::new();
        let mut t = 0.0;
        while t <= until {
            let current = (speed * t).floor();
            blob = Some(push(blob.as_deref(), 1_764_000_000.0 + t, current));
            if t >= from {
                rates.extend(rate(blob.as_deref()));
            }
            t += gap;
        }
        rates
    }

    /// Issue 14: the demo's straggler (0.2 steps a second, reporting every
    /// second) read 0.28/s and 0.14/s on alternate reports, its ETA 2078 s
    /// and 4062 s. Measured over a window, from step to step, every rate
    /// is within a few percent of the true one, at every reporting gap.
    #[test]
    fn rates_of_whole_steps_are_steady_at_any_reporting_gap() {
        for gap in [1.0, 2.0, 5.0, 30.0, 120.0] {
            for speed in [0.2, 0.7, 1.3, 3.7, 0.05] {
                let window = (gap * RATE_GAPS).max(RATE_WINDOW);
                let rates = rates_reported(speed, gap, 3000.0 + 4.0 * window, 2.0 * window);
                assert!(rates.len() > 8, "{gap} {speed}");
                let worst = rates
                    .iter()
                    .map(|r| (r / speed - 1.0).abs())
                    .fold(0.0, f64::max);
                // Old points are thinned out, so where the window starts
                // may be a step out: an eighth at most, where the 8
                // newest reports swung by a half.
                assert!(worst <= 0.125, "every {gap} s at {speed}/s: {worst}");
            }
        }
    }

    /// A worker that stops moving but keeps reporting sinks towards 0
    /// once its next step is overdue, rather than keeping its pace.
    #[test]
    fn a_stalled_worker_slows_down_once_its_next_step_is_overdue() {
        let mut blob: Option<Vec<u8>> = None;
        for i in 0..200 {
            let t = f64::from(i);
            blob = Some(push(blob.as_deref(), t, (t / 5.0).floor()));
        }
        assert_eq!(rate(blob.as_deref()), Some(0.2));
        // 199 s: the last step came at 195 s. Stopped there: on time
        // until a step is due, then slower and slower.
        let mut before = 0.2;
        for i in 200..400 {
            let t = f64::from(i);
            blob = Some(push(blob.as_deref(), t, 39.0));
            let now = rate(blob.as_deref()).unwrap_or(f64::NAN);
            if t <= 200.0 {
                assert_eq!(now, 0.2, "at {t}");
            } else if t > 205.0 {
                assert!(now < 0.2, "at {t}: {now}");
            }
            before = now;
        }
        assert_eq!(before, 0.0);
    }

    #[test]
    fn the_rate_of_a_blob_is_the_rate_of_its_decoded_points() {
        // Short, full, thinned and restarted histories, and none.
        let mut blob: Option<Vec<u8>> = None;
        for i in 0..200u32 {
            let t = 1_764_000_000.0 + f64::from(i) * 1.37;
            let value = f64::from(i % 23) * 3.5;
            blob = Some(push(blob.as_deref(), t, value));
            let points = decode(blob.as_deref());
            assert_eq!(rate(blob.as_deref()), rate_of(&points), "after {i}");
        }
        assert_eq!(rate(None), None);
        assert_eq!(rate(Some(&[1, 2, 3])), None);
    }

    #[test]
    fn a_rate_past_f64_is_the_largest_f64() {
        let jump = [(0.0, 0.0), (0.001, 1e308)];
        assert_eq!(rate_of(&jump), Some(f64::MAX));
        let tiny = [(0.0, 0.0), (10.0, 1e-320)];
        assert!(rate_of(&tiny).is_some_and(|r| r > 0.0));
    }
}
