//! Arbitrary bytes → `Form` → every request type's `from_form`: nothing
//! panics, whatever a constructor accepts is within the limits
//! docs/api.md's "Input rules" state, ids are kept exactly as
//! `url::form_urlencoded` decodes them, and every refusal is a short
//! message naming a parameter.
//!
//! The first byte picks how to read the rest. Its low bit: 0 takes the
//! bytes as they are; 1 names each `&`-separated piece by its first byte
//! (`jobid`, `workid`, `current`, ...), takes the rest as the value, perhaps
//! padded to a length at a limit, and puts the pieces after a valid update,
//! so each fuzzed value is judged in a form that is otherwise accepted
//! (name lookups in a map give libFuzzer no comparison to learn names from,
//! a random form is almost never whole, and a 257-byte value is rare). The
//! other seven bits say where the input splits into a query string and a
//! POST body, which the server reads in that order (the body's pairs
//! override).

#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use progressd::chart::{DEFAULT_WIDTH, WIDTH_RANGE};
use progressd::model::{CreateJob, JobRef, Roster, WorkerUpdate};
use progressd::params::{
    DEFAULT_INTERVAL_SECS, DEFAULT_LIST_LIMIT, Form, HistoryQuery, ListJobs, MAX_DESC_BYTES,
    MAX_INTERVAL_SECS, MAX_JOBID_BYTES, MAX_MAXAGE_SECS, MAX_ROSTER, MAX_SEQ, MAX_WORKID_BYTES,
    ParamError, RenderChart, ShowPage, forbidden_in_id,
};

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let input = if first & 1 == 0 {
        rest.to_vec()
    } else {
        named(rest)
    };
    let (query, body) = input.split_at(usize::from(first >> 1).min(input.len()));

    let mut form = match Form::parse(query) {
        Ok(form) => form,
        Err(e) => return refused_undecodable(&e, query),
    };
    if let Err(e) = form.extend_from(body) {
        return refused_undecodable(&e, body);
    }
    // A body read after the query is the two joined by `&`.
    let mut joined = query.to_vec();
    joined.push(b'&');
    joined.extend_from_slice(body);
    assert_eq!(Form::parse(&joined), Ok(form.clone()));

    // The reference decoder. Both decoded without error, so its lossy
    // UTF-8 replaced nothing; collecting keeps a repeated key's last value.
    let reference: HashMap<String, String> = form_urlencoded::parse(&joined).into_owned().collect();
    let given = |name: &str| reference.get(name).map(String::as_str);

    match CreateJob::from_form(&form) {
        Ok(c) => {
            valid_id(&c.jobid, MAX_JOBID_BYTES);
            assert_eq!(Some(c.jobid.as_str()), given("jobid"));
            assert_eq!(c.desc, given("desc").unwrap_or(""));
            assert!(c.desc.len() <= MAX_DESC_BYTES);
            if let Some(maxage) = c.maxage {
                assert!(maxage.is_finite() && maxage > 0.0 && maxage <= MAX_MAXAGE_SECS);
            }
            match &c.roster {
                Roster::Open => {
                    let items = given("workids").unwrap_or("");
                    assert!(given("workers").is_none() && items.split(',').all(str::is_empty));
                }
                Roster::Count(n) => {
                    assert!(*n <= MAX_ROSTER && given("workids").is_none());
                    same_number(*n as f64, given("workers"));
                }
                Roster::Ids(ids) => {
                    let mut seen = std::collections::HashSet::new();
                    for id in ids {
                        valid_id(id, MAX_WORKID_BYTES);
                        assert!(seen.insert(id), "{id:?} twice");
                    }
                    let sent: Vec<&str> = given("workids")
                        .unwrap_or("")
                        .split(',')
                        .map(|s| s.trim_matches(' '))
                        .collect();
                    assert!(ids.iter().all(|id| sent.contains(&id.as_str())));
                    assert!(sent.iter().all(|s| s.is_empty() || seen.contains(&s.to_string())));
                }
            }
            only_known(&reference, &["jobid", "desc", "maxage", "workers", "workids"]);
        }
        Err(e) => refused(&e, &reference),
    }

    match HistoryQuery::from_form(&form) {
        Ok(h) => {
            valid_id(&h.jobid, MAX_JOBID_BYTES);
            assert_eq!(h.workid.as_deref(), given("workid"));
            if let Some(workid) = &h.workid {
                valid_id(workid, MAX_WORKID_BYTES);
            }
        }
        Err(e) => refused(&e, &reference),
    }

    match WorkerUpdate::from_form(&form) {
        Ok(u) => {
            valid_id(&u.jobid, MAX_JOBID_BYTES);
            valid_id(&u.workid, MAX_WORKID_BYTES);
            assert_eq!(Some(u.jobid.as_str()), given("jobid"));
            assert_eq!(Some(u.workid.as_str()), given("workid"));
            valid_amount(u.current);
            same_number(u.current, given("current"));
            if let Some(total) = u.total {
                valid_amount(total);
                same_number(total, given("total"));
            } else {
                assert_eq!(given("total"), None);
            }
            assert_eq!(u.desc.as_deref(), given("desc"));
            assert!(u.desc.as_ref().is_none_or(|d| d.len() <= MAX_DESC_BYTES));
            if given("ok").is_none() {
                assert!(u.ok, "an omitted ok means ok");
            }
            assert_eq!(
                u.seq,
                given("seq").map(|t| t.trim().parse().expect("an accepted seq parses"))
            );
            assert!(u.seq.is_none_or(|q| q <= MAX_SEQ));
            only_known(
                &reference,
                &["jobid", "workid", "current", "total", "ok", "desc", "seq"],
            );
        }
        Err(e) => refused(&e, &reference),
    }

    match JobRef::from_form(&form) {
        Ok(j) => {
            valid_id(&j.jobid, MAX_JOBID_BYTES);
            assert_eq!(Some(j.jobid.as_str()), given("jobid"));
        }
        Err(e) => refused(&e, &reference),
    }

    match ShowPage::from_form(&form) {
        Ok(s) => {
            valid_id(&s.jobid, MAX_JOBID_BYTES);
            assert!((1..=MAX_INTERVAL_SECS).contains(&s.interval));
            if given("interval").is_none() {
                assert_eq!(s.interval, DEFAULT_INTERVAL_SECS);
            }
        }
        Err(e) => refused(&e, &reference),
    }

    match RenderChart::from_form(&form, DEFAULT_WIDTH, WIDTH_RANGE) {
        Ok(r) => {
            valid_id(&r.jobid, MAX_JOBID_BYTES);
            assert!((WIDTH_RANGE.0..=WIDTH_RANGE.1).contains(&r.width));
            if given("width").is_none() {
                assert_eq!(r.width, DEFAULT_WIDTH);
            }
        }
        Err(e) => refused(&e, &reference),
    }

    match ListJobs::from_form(&form) {
        Ok(l) => {
            assert!(l.limit >= 1);
            if given("limit").is_none() {
                assert_eq!(l.limit, DEFAULT_LIST_LIMIT);
            }
        }
        Err(e) => refused(&e, &reference),
    }
});

/// Every parameter name the constructors look up, and one they do not.
const NAMES: [&str; 14] = [
    "jobid", "workid", "current", "total", "ok", "desc", "maxage", "interval", "width", "limit",
    "seq", "workers", "workids", "_",
];

/// Lengths on either side of the id and desc limits.
const PADDED: [usize; 8] = [127, 128, 129, 255, 256, 257, 1024, 1025];

/// A valid update, then `name=value` pieces from `&`-separated pieces
/// (a later repeat wins, so the pieces replace the update's values). A
/// piece's first byte picks the name (low four bits) and, when its high bit
/// is set, a length in `PADDED` (bits 4–6) to pad the value to with `x`;
/// its other bytes are the value, as sent.
fn named(raw: &[u8]) -> Vec<u8> {
    let mut out = b"jobid=j&workid=w&current=1".to_vec();
    for piece in raw.split(|&b| b == b'&') {
        let Some((&pick, value)) = piece.split_first() else {
            continue;
        };
        out.push(b'&');
        out.extend_from_slice(NAMES[usize::from(pick & 0x0f) % NAMES.len()].as_bytes());
        out.push(b'=');
        out.extend_from_slice(value);
        if pick & 0x80 != 0 {
            let length = PADDED[usize::from((pick >> 4) & 0x07)];
            out.extend(std::iter::repeat_n(
                b'x',
                length.saturating_sub(value.len()),
            ));
        }
    }
    out
}

/// 1 to `max` bytes, without the characters docs/api.md says ids may not hold.
fn valid_id(id: &str, max: usize) {
    assert!(!id.is_empty() && id.len() <= max, "{} bytes", id.len());
    assert!(!id.chars().any(|c| forbidden_in_id(c).is_some()), "{id:?}");
}

/// A finite number ≥ 0 (so not NaN, not infinite, not negative; -0.0 is
/// ≥ 0 and allowed).
fn valid_amount(x: f64) {
    assert!(x.is_finite() && x >= 0.0, "{x}");
}

/// `x` is what the client's text parses to, bit for bit.
fn same_number(x: f64, text: Option<&str>) {
    let sent = text.and_then(|t| t.parse::<f64>().ok());
    assert_eq!(
        sent.map(f64::to_bits),
        Some(x.to_bits()),
        "{x} from {text:?}"
    );
}

/// A writing endpoint that accepted the form knows every name in it.
fn only_known(reference: &HashMap<String, String>, known: &[&str]) {
    for name in reference.keys() {
        assert!(known.contains(&name.as_str()), "accepted unknown {name:?}");
    }
}

/// A refusal's message: one line of bounded length, even when it names a
/// parameter the client made up (`a%0Ab=1`, a 10 KB name).
fn message_is_short(e: &ParamError) {
    assert!(!e.problem.is_empty());
    let message = e.to_string();
    assert!(!message.contains(['\n', '\r']), "{message:?}");
    assert!(message.len() < 800, "{} bytes", message.len());
    assert!(message.starts_with("parameter '"));
}

/// A constructor's refusal names a parameter that was sent, or one that
/// is required.
fn refused(e: &ParamError, reference: &HashMap<String, String>) {
    message_is_short(e);
    assert!(
        reference.contains_key(&e.name)
            || ["jobid", "workid", "current"].contains(&e.name.as_str()),
        "refusal names {:?}, which was not sent",
        e.name
    );
}

/// Decoding refused `input`: some name or value in it is not UTF-8 once
/// decoded, so the lossy reference decoder had to replace something.
fn refused_undecodable(e: &ParamError, input: &[u8]) {
    message_is_short(e);
    assert!(e.problem.contains("UTF-8"), "{}", e.problem);
    assert!(
        form_urlencoded::parse(input)
            .any(|(k, v)| k.contains('\u{FFFD}') || v.contains('\u{FFFD}')),
        "refused {input:?}"
    );
}
