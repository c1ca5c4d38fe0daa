//! Bounded progress history: a worker's (time, current) points, or a job's
//! (time, percent) points, kept in one small blob per row.
//!
//! Every report adds a point. Once a history holds [`MAX_POINTS`], adding one
//! removes an older point: never the first (where the run started) and never
//! one of the [`RECENT`] newest (the rate is measured over those), but the
//! one whose neighbours are closest in time, so old stretches thin out
//! evenly while the whole span stays covered. A history therefore costs at
//! most `8 + 12 × MAX_POINTS` bytes (584), whatever the job's length.
//!
//! The blob: the first point's time as an `f64`, then per point the
//! milliseconds since the point before as a `u32` and its value as an
//! `f64`, all little-endian: times keep millisecond precision however old
//! the history. A report more than 49 days (the most a `u32` of
//! milliseconds holds) after the last point starts the history afresh. A blob that does not
//! decode (none is ever written) reads as an empty history rather than
//! failing a request.
//!
//! Nothing here knows SQL: the store registers [`push`] as a SQL function
//! and decodes what it reads with [`decode`] and [`rate`].

/// Most points a history keeps.
pub const MAX_POINTS: usize = 48;
/// The newest points, never thinned out: the rate is measured over them.
pub const RECENT: usize = 8;

const HEADER: usize = 8;
const POINT: usize = 12;

/// One point: Unix seconds and the value then.
pub type Point = (f64, f64);

/// The points of `blob`, oldest first; empty for a missing or damaged blob.
pub fn decode(blob: Option<&[u8]>) -> Vec<Point> {
    let mut out = Vec::with_capacity(blob.map_or(0, |b| b.len() / POINT).min(MAX_POINTS));
    for_newest(blob, MAX_POINTS, |point| out.push(point));
    out
}

/// Units per second over the newest points of `blob` ([`recent_rate`] of
/// its [`RECENT`] newest points): what every read of a running worker
/// needs of its history. Decoded into a fixed array, as a pass over a job
/// of 100,000 workers reads one for each running worker.
pub fn rate(blob: Option<&[u8]>) -> Option<f64> {
    let mut recent = [(0.0, 0.0); RECENT];
    let mut n = 0;
    for_newest(blob, RECENT, |point| {
        if let Some(slot) = recent.get_mut(n) {
            *slot = point;
            n += 1;
        }
    });
    recent_rate(&recent[..n])
}

/// A well-formed blob's first time and its points' bytes.
fn parts(blob: Option<&[u8]>) -> Option<(f64, &[u8])> {
    let blob = blob.filter(|b| b.len() >= HEADER && (b.len() - HEADER).is_multiple_of(POINT))?;
    let (head, points) = blob.split_at(HEADER);
    Some((f64::from_le_bytes(head.try_into().ok()?), points))
}

/// A point's gap from the one before, in milliseconds.
fn gap_of(point: &[u8]) -> u32 {
    point
        .get(..4)
        .and_then(|gap| gap.try_into().ok())
        .map_or(0, u32::from_le_bytes)
}

/// Calls `each` with the `most` newest points of `blob`, oldest first;
/// with none for a missing or damaged blob.
fn for_newest(blob: Option<&[u8]>, most: usize, mut each: impl FnMut(Point)) {
    let Some((start, points)) = parts(blob) else {
        return;
    };
    let mut millis = 0u64;
    let skip = (points.len() / POINT).saturating_sub(most);
    for (i, p) in points.chunks_exact(POINT).enumerate() {
        millis += u64::from(gap_of(p));
        if i >= skip {
            let value = f64::from_le_bytes(p[4..].try_into().unwrap_or_default());
            each((start + millis as f64 / 1000.0, value));
        }
    }
}

fn encode(points: &[Point]) -> Vec<u8> {
    let start = points.first().map_or(0.0, |p| p.0);
    let mut blob = Vec::with_capacity(HEADER + POINT * points.len());
    blob.extend_from_slice(&start.to_le_bytes());
    // Each gap is rounded from the point before as stored, so a point is
    // never more than half a millisecond off, and decoding and encoding
    // again gives the same blob.
    let mut before = start;
    for &(t, value) in points {
        // push() keeps gaps within a u32; the clamp only makes sure.
        let gap = ((t - before) * 1000.0)
            .round()
            .clamp(0.0, f64::from(u32::MAX));
        blob.extend_from_slice(&(gap as u32).to_le_bytes());
        blob.extend_from_slice(&value.to_le_bytes());
        before += gap / 1000.0;
    }
    blob
}

/// The longest gap between two points, in seconds.
const MAX_GAP_SECS: f64 = u32::MAX as f64 / 1000.0;

/// `blob` with the point (`t`, `value`) added, thinned to [`MAX_POINTS`].
/// A point at the time of the last one replaces it.
///
/// The writer calls this for every report, so it works on the bytes: the
/// points are copied, not decoded, and times are compared in whole
/// milliseconds as stored.
pub fn push(blob: Option<&[u8]>, t: f64, value: f64) -> Vec<u8> {
    let Some((start, points)) = parts(blob).filter(|(_, p)| !p.is_empty()) else {
        return encode(&[(t, value)]);
    };
    if points.len() > POINT * MAX_POINTS {
        // Longer than this code writes: kept to its newest points.
        return push(Some(&encode(&decode(blob))), t, value);
    }
    let millis: Vec<u64> = points
        .chunks_exact(POINT)
        .scan(0u64, |sum, p| {
            *sum += u64::from(gap_of(p));
            Some(*sum)
        })
        .collect();
    let last_ms = millis.last().copied().unwrap_or(0);
    let last = start + last_ms as f64 / 1000.0;
    let mut out = Vec::with_capacity(HEADER + points.len() + POINT);
    out.extend_from_slice(&start.to_le_bytes());
    if last >= t {
        out.extend_from_slice(&points[..points.len() - 8]);
        out.extend_from_slice(&value.to_le_bytes());
        return out;
    }
    if t - last > MAX_GAP_SECS {
        return encode(&[(t, value)]);
    }
    let gap = ((t - last) * 1000.0)
        .round()
        .clamp(0.0, f64::from(u32::MAX)) as u32;
    let count = millis.len();
    if count < MAX_POINTS {
        out.extend_from_slice(points);
    } else {
        // One point too many with the new one: drop the interior point
        // whose neighbours are closest in time, never the first nor the
        // RECENT newest (counting the new one), the oldest of equals.
        let span = |i: usize| millis[i + 1] - millis[i - 1];
        let drop = (1..count + 1 - RECENT)
            .min_by_key(|&i| span(i))
            .unwrap_or(1);
        let (before, after) = points.split_at(drop * POINT);
        let (dropped, after) = after.split_at(POINT);
        out.extend_from_slice(before);
        // The next point's gap now runs from the one before the dropped.
        let joined = gap_of(dropped).saturating_add(gap_of(after));
        out.extend_from_slice(&joined.to_le_bytes());
        out.extend_from_slice(&after[4..]);
    }
    out.extend_from_slice(&gap.to_le_bytes());
    out.extend_from_slice(&value.to_le_bytes());
    out
}

/// Units per second over the newest points of a worker's history, since it
/// last went backwards (a restarted worker); `None` without two points
/// apart in time. Zero for a worker that reports but makes no progress.
pub fn recent_rate(points: &[Point]) -> Option<f64> {
    let recent = &points[points.len().saturating_sub(RECENT)..];
    let since_restart = recent
        .windows(2)
        .rposition(|w| w[1].1 < w[0].1)
        .map_or(0, |i| i + 1);
    let (first, last) = (recent.get(since_restart)?, recent.last()?);
    let dt = last.0 - first.0;
    // A jump near f64::MAX within a millisecond is at most f64::MAX a
    // second, not infinity, which JSON cannot hold.
    (dt > 0.0).then(|| ((last.1 - first.1) / dt).clamp(0.0, f64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(encode(&back), blob);
        assert_eq!(rate(Some(&blob)), recent_rate(&back));
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
        let blob = push(Some(&encode(&points)), 200.0, 99.0);
        let back = decode(Some(&blob));
        assert_eq!(back.len(), MAX_POINTS);
        assert_eq!(back.last(), Some(&(200.0, 99.0)));
        assert_eq!(back[MAX_POINTS - 2], (159.0, 59.0));
    }

    #[test]
    fn rate_over_recent_points_since_the_last_restart() {
        assert_eq!(recent_rate(&[]), None);
        assert_eq!(recent_rate(&[(10.0, 5.0)]), None);
        assert_eq!(recent_rate(&[(10.0, 0.0), (20.0, 5.0)]), Some(0.5));
        // Only the newest RECENT points count: a fast start is forgotten.
        let mut points: Vec<Point> = vec![(0.0, 0.0), (1.0, 1000.0)];
        points.extend((0..RECENT).map(|i| (10.0 + i as f64, 1000.0 + 2.0 * i as f64)));
        assert_eq!(recent_rate(&points), Some(2.0));
        // A worker that went back to 0 is measured from its new start.
        let restarted = [(0.0, 0.0), (10.0, 50.0), (11.0, 0.0), (15.0, 20.0)];
        assert_eq!(recent_rate(&restarted), Some(5.0));
        // Reporting without progress: rate 0, not unknown.
        assert_eq!(recent_rate(&[(0.0, 7.0), (60.0, 7.0)]), Some(0.0));
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
            assert_eq!(rate(blob.as_deref()), recent_rate(&points), "after {i}");
        }
        assert_eq!(rate(None), None);
        assert_eq!(rate(Some(&[1, 2, 3])), None);
    }

    #[test]
    fn a_rate_past_f64_is_the_largest_f64() {
        let jump = [(0.0, 0.0), (0.001, 1e308)];
        assert_eq!(recent_rate(&jump), Some(f64::MAX));
        let tiny = [(0.0, 0.0), (10.0, 1e-320)];
        assert!(recent_rate(&tiny).is_some_and(|r| r > 0.0));
    }
}
