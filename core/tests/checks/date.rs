//! `parse_http_date` and `parse_retry_after` against `httpdate`.
//!
//! RFC 9110 §5.6.7 makes recipients accept three forms: IMF-fixdate, the obsolete RFC 850 form
//! (two-digit year) and asctime. `httpdate` parses all three, exactly as the RFC writes them, and
//! refuses a weekday that does not match the date and second 60. Our parser is lenient by design
//! (documented in `parse/retry_after.rs`): any case, runs of spaces, a one-digit day, `UTC`, a
//! four-digit year in the RFC 850 form, the weekday not checked, a leap second. So the two are
//! compared both ways:
//!
//! - whatever `httpdate` accepts, ours accepts as the same instant (for text that can come out
//!   of a header value: visible ASCII, space and tab; `httpdate` also trims other Unicode
//!   whitespace, which no header value holds; and except RFC 850 text with any byte between
//!   the date and the time, which `httpdate` does not check);
//! - whatever ours accepts, written again in its exact RFC form (names in their case, day
//!   zero-padded, `GMT`, a four-digit RFC 850 year as an IMF-fixdate), `httpdate` accepts for
//!   exactly one weekday, as the same instant (second 60 is written as 59, one second earlier).
//!
//! `Retry-After` input: line 1 the `Retry-After` value, line 2 (optional) the `Date` value,
//! line 3 (optional) `now` in milliseconds. Its oracle does the documented arithmetic: whole
//! seconds from now, or the date's distance from `Date` (else from now), clamped to one day,
//! saturating.

use std::time::UNIX_EPOCH;

use http::header::{DATE, RETRY_AFTER};
use http::{HeaderMap, HeaderValue};
use tokenkeeper_core::Timestamp;
use tokenkeeper_core::parse::{parse_http_date, parse_retry_after};

use super::shown;

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const WEEKDAYS_LONG: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
/// The default `now` of a `Retry-After` input: 2027-01-15T08:00:00Z.
const NOW_MS: u64 = 1_800_000_000_000;
/// The longest wait believed, as documented (one day).
const MAX_WAIT_MS: u64 = 86_400_000;

/// `parse_http_date` agrees with `httpdate` both ways on `data` (text; other bytes are skipped).
pub(crate) fn check_http_date(data: &[u8]) {
    let Ok(s) = core::str::from_utf8(data) else {
        return;
    };
    let ours = parse_http_date(s);
    if is_header_text(s)
        && let Ok(t) = httpdate::parse_http_date(s)
        && !httpdate_lax_rfc850(s)
    {
        let secs = t.duration_since(UNIX_EPOCH).unwrap().as_secs();
        assert_eq!(
            ours,
            Some(Timestamp::from_secs(secs)),
            "httpdate reads {s:?} as {secs} s"
        );
    }
    if let Some(t) = ours {
        let forms = exact_forms(s);
        let accepted: Vec<(String, u64)> = forms
            .iter()
            .filter_map(|(form, leap)| {
                let t = httpdate::parse_http_date(form).ok()?;
                Some((
                    form.clone(),
                    t.duration_since(UNIX_EPOCH).unwrap().as_secs() + leap,
                ))
            })
            .collect();
        assert!(
            accepted.len() == 1 && Timestamp::from_secs(accepted[0].1) == t,
            "ours reads {s:?} as {t:?}; httpdate reads its exact forms as {accepted:?} (of {forms:?})"
        );
    }
}

/// `httpdate` 1.0.3 does not check the separator between the date and the time of the RFC 850
/// form (`Sunday, 06-Nov-94"08:49:37 GMT` is accepted): such text is not a date, and ours
/// rightly refuses it.
fn httpdate_lax_rfc850(s: &str) -> bool {
    let t = s.trim().as_bytes();
    t.contains(&b'-') && t.len() >= 13 && t[t.len() - 13] != b' '
}

/// Whether `s` can be the text of a header value (`HeaderValue::to_str`).
fn is_header_text(s: &str) -> bool {
    s.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
}

/// A date ours accepted, in the exact form of its kind, once per weekday name; each with the
/// seconds to add to `httpdate`'s reading (1 for a leap second written as 59).
fn exact_forms(s: &str) -> Vec<(String, u64)> {
    let parts: Vec<&str> = s.split_ascii_whitespace().collect();
    let mut forms = Vec::new();
    let title = |name: &str| {
        let lower = name.to_ascii_lowercase();
        let mut chars = lower.chars();
        chars.next().map_or_else(String::new, |c| {
            c.to_ascii_uppercase().to_string() + chars.as_str()
        })
    };
    let (time, leap) = match parts.iter().find(|p| p.contains(':')) {
        Some(t) if t.ends_with(":60") => (format!("{}:59", &t[..t.len() - 3]), 1),
        Some(t) => ((*t).to_owned(), 0),
        None => return forms,
    };
    match parts[..] {
        [_, day, mon, year, _, _] => {
            for wd in WEEKDAYS {
                let mon = title(mon);
                forms.push((format!("{wd}, {day:0>2} {mon} {year} {time} GMT"), leap));
            }
        }
        [_, date, _, _] => {
            let fields: Vec<&str> = date.split('-').collect();
            let [day, mon, year] = fields[..] else {
                return forms;
            };
            let mon = title(mon);
            for (short, long) in WEEKDAYS.iter().zip(WEEKDAYS_LONG) {
                let form = if year.len() == 2 {
                    format!("{long}, {day:0>2}-{mon}-{year} {time} GMT")
                } else {
                    format!("{short}, {day:0>2} {mon} {year} {time} GMT")
                };
                forms.push((form, leap));
            }
        }
        [_, mon, day, _, year] => {
            for wd in WEEKDAYS {
                let mon = title(mon);
                forms.push((format!("{wd} {mon} {day:>2} {time} {year}"), leap));
            }
        }
        _ => {}
    }
    forms
}

/// `parse_retry_after` does the documented arithmetic on `data` (see the module docs).
pub(crate) fn check_retry_after(data: &[u8]) {
    let mut lines = data.split(|&b| b == b'\n');
    let retry_after = lines.next().unwrap_or_default();
    let date = lines.next();
    let now = lines
        .next()
        .and_then(|l| core::str::from_utf8(l).ok())
        .and_then(|l| l.trim().parse::<u64>().ok())
        .map_or(Timestamp::from_millis(NOW_MS), Timestamp::from_millis);
    let mut headers = HeaderMap::new();
    for (name, value) in [(RETRY_AFTER, Some(retry_after)), (DATE, date)] {
        if let Some(v) = value.and_then(|v| HeaderValue::from_bytes(v).ok()) {
            headers.insert(name, v);
        }
    }
    for value in headers.values() {
        check_http_date(value.as_bytes());
        check_http_date(value.as_bytes().trim_ascii());
    }
    let got = parse_retry_after(&headers, now);
    let want = expected_retry_after(&headers, now);
    assert_eq!(got, want, "Retry-After input {}", shown(data));
}

fn expected_retry_after(headers: &HeaderMap, now: Timestamp) -> Option<Timestamp> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let now_ms = now.as_millis();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        let secs = value.parse::<u64>().unwrap_or(u64::MAX);
        let wait = secs.saturating_mul(1000).min(MAX_WAIT_MS);
        return Some(Timestamp::from_millis(now_ms.saturating_add(wait)));
    }
    // The date itself is checked against httpdate above.
    let at = parse_http_date(value)?.as_millis();
    let reference = headers
        .get(DATE)
        .and_then(|d| d.to_str().ok())
        .and_then(parse_http_date)
        .map_or(now_ms, Timestamp::as_millis);
    let wait = at.saturating_sub(reference).min(MAX_WAIT_MS);
    Some(Timestamp::from_millis(now_ms.saturating_add(wait)))
}
