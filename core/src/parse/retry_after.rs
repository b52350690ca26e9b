//! HTTP dates (RFC 9110 §5.6.7) and `Retry-After` (RFC 9110 §10.2.3), with the civil-date
//! arithmetic done here: no clock, no time library.

use core::time::Duration;

use crate::headers::{self, ReadHeader, ResponseHeaders};
use crate::time::Timestamp;

use crate::limits::MAX_RETRY_AFTER;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const WEEKDAYS_LONG: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Parses an HTTP date in any of the three formats RFC 9110 requires recipients to accept:
/// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), obsolete RFC 850 (`Sunday, 06-Nov-94
/// 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37 1994`).
///
/// Names are matched case-insensitively and runs of spaces are accepted; the weekday must be a
/// weekday name but is not checked against the date. An RFC 850 two-digit year `70..=99` means
/// 19xx and `00..=69` means 20xx. Dates before 1970 and impossible dates (`31-Feb`, hour 24)
/// are `None`; second 60 (a leap second) is accepted.
pub fn parse_http_date(s: &str) -> Option<Timestamp> {
    let mut parts = [""; 6];
    let mut n = 0;
    for part in s.split_ascii_whitespace() {
        *parts.get_mut(n)? = part;
        n += 1;
    }
    let (year, month, day, time) = match (n, parts) {
        // IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`
        (6, [wd, day, mon, year, time, zone]) => {
            weekday(wd.strip_suffix(',')?)?;
            gmt(zone)?;
            (number(year, 4, 4)?, month(mon)?, number(day, 1, 2)?, time)
        }
        // RFC 850: `Sunday, 06-Nov-94 08:49:37 GMT`
        (4, [wd, date, time, zone, ..]) => {
            weekday(wd.strip_suffix(',')?)?;
            gmt(zone)?;
            let mut fields = date.split('-');
            let day = number(fields.next()?, 1, 2)?;
            let mon = month(fields.next()?)?;
            let yy = fields.next()?;
            if fields.next().is_some() {
                return None;
            }
            let year = match yy.len() {
                2 => {
                    let yy = number(yy, 2, 2)?;
                    if yy >= 70 { 1900 + yy } else { 2000 + yy }
                }
                _ => number(yy, 4, 4)?,
            };
            (year, mon, day, time)
        }
        // asctime: `Sun Nov  6 08:49:37 1994`
        (5, [wd, mon, day, time, year, _]) => {
            weekday(wd)?;
            (number(year, 4, 4)?, month(mon)?, number(day, 1, 2)?, time)
        }
        _ => return None,
    };
    let (hour, minute, second) = clock(time)?;
    if year < 1970 || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(i64::from(year), month, day);
    let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
    Some(Timestamp::from_secs(u64::try_from(secs).ok()?))
}

/// Formats a time as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), truncated to the second.
pub fn format_http_date(t: Timestamp) -> String {
    let secs = t.as_millis() / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let weekday = WEEKDAYS[((days + 4) % 7) as usize];
    let month = MONTHS[(month - 1) as usize];
    format!(
        "{weekday}, {day:02} {month} {year:04} {:02}:{:02}:{:02} GMT",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// When the server asks to be contacted again, from its `Retry-After` header.
///
/// - delta-seconds (`120`): `now + 120 s`.
/// - an HTTP date: that time, measured against the response's `Date` header when it has one
///   (`now + (retry_date - date)`, so a skewed server clock cancels out), else against `now`;
///   a date in the past gives `now`.
///
/// Waits are clamped to 1 day (an untrusted server must not park the client forever). A missing
/// or unparseable header (negative, fractional, garbage) is `None`.
pub fn parse_retry_after(headers: &dyn ResponseHeaders, now: Timestamp) -> Option<Timestamp> {
    let value = headers::text(headers, ReadHeader::RetryAfter)?.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        let secs = value.parse::<u64>().unwrap_or(u64::MAX);
        let wait = Duration::from_secs(secs).min(MAX_RETRY_AFTER);
        return Some(now.saturating_add(wait));
    }
    let at = parse_http_date(value)?;
    let reference = headers::text(headers, ReadHeader::Date)
        .and_then(parse_http_date)
        .unwrap_or(now);
    let wait = at.saturating_duration_since(reference).min(MAX_RETRY_AFTER);
    Some(now.saturating_add(wait))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (`civil_from_days`).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = (if mp < 10 { mp + 3 } else { mp - 9 }) as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days in a month of a Gregorian year.
fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A run of `min..=max` ASCII digits.
fn number(s: &str, min: usize, max: usize) -> Option<u32> {
    if s.len() < min || s.len() > max || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Month number (1..=12) of a three-letter month name.
fn month(s: &str) -> Option<u32> {
    let i = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(s))?;
    Some(i as u32 + 1)
}

/// Checks a short or long weekday name.
fn weekday(s: &str) -> Option<()> {
    let known = WEEKDAYS
        .iter()
        .chain(WEEKDAYS_LONG.iter())
        .any(|w| w.eq_ignore_ascii_case(s));
    known.then_some(())
}

/// Checks the zone (`GMT`; `UTC` is tolerated).
fn gmt(s: &str) -> Option<()> {
    (s.eq_ignore_ascii_case("GMT") || s.eq_ignore_ascii_case("UTC")).then_some(())
}

/// `hh:mm:ss`, range-checked.
fn clock(s: &str) -> Option<(u32, u32, u32)> {
    let mut fields = s.split(':');
    let hour = number(fields.next()?, 2, 2)?;
    let minute = number(fields.next()?, 2, 2)?;
    let second = number(fields.next()?, 2, 2)?;
    if fields.next().is_some() || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    Some((hour, minute, second))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One row of the main table test.
    type Row<'a> = (Vec<(&'a str, &'a str)>, Option<Timestamp>);

    /// 1994-11-06 08:49:37 UTC, the RFC's example.
    const RFC_EXAMPLE: u64 = 784_111_777;

    #[test]
    fn parse_http_date_table() {
        let table: &[(&str, Option<u64>)] = &[
            ("Sun, 06 Nov 1994 08:49:37 GMT", Some(RFC_EXAMPLE)),
            ("Sunday, 06-Nov-94 08:49:37 GMT", Some(RFC_EXAMPLE)),
            ("Sun Nov  6 08:49:37 1994", Some(RFC_EXAMPLE)),
            ("Sun Nov 06 08:49:37 1994", Some(RFC_EXAMPLE)),
            ("  sun, 06 nov 1994 08:49:37 gmt  ", Some(RFC_EXAMPLE)),
            ("Sun, 6 Nov 1994 08:49:37 GMT", Some(RFC_EXAMPLE)),
            ("Sun, 06 Nov 1994 08:49:37 UTC", Some(RFC_EXAMPLE)),
            ("Sunday, 06-Nov-1994 08:49:37 GMT", Some(RFC_EXAMPLE)),
            ("Thu, 01 Jan 1970 00:00:00 GMT", Some(0)),
            ("Thursday, 01-Jan-70 00:00:00 GMT", Some(0)),
            ("Tue, 29 Feb 2000 00:00:00 GMT", Some(951_782_400)),
            ("Thu, 29 Feb 2024 12:00:00 GMT", Some(1_709_208_000)),
            ("Tue, 19 Jan 2038 03:14:08 GMT", Some(2_147_483_648)),
            ("Sat, 01 Jan 2000 00:00:00 GMT", Some(946_684_800)),
            ("Wednesday, 01-Jan-69 00:00:00 GMT", Some(3_124_224_000)),
            ("Fri, 31 Dec 9999 23:59:59 GMT", Some(253_402_300_799)),
            ("Wed, 31 Dec 2008 23:59:60 GMT", Some(1_230_768_000)), // leap second
            ("Mon, 06 Nov 1994 08:49:37 GMT", Some(RFC_EXAMPLE)),   // weekday not cross-checked
            // refused
            ("Wed, 31 Dec 1969 23:59:59 GMT", None),
            ("Thu, 29 Feb 2023 00:00:00 GMT", None),
            ("Mon, 29 Feb 2100 00:00:00 GMT", None),
            ("Sun, 31 Nov 1994 08:49:37 GMT", None),
            ("Sun, 00 Nov 1994 08:49:37 GMT", None),
            ("Sun, 06 Nov 1994 24:00:00 GMT", None),
            ("Sun, 06 Nov 1994 08:60:00 GMT", None),
            ("Sun, 06 Nov 1994 08:49:61 GMT", None),
            ("Sun, 06 Nov 1994 8:49:37 GMT", None),
            ("Sun, 06 Nov 1994 08:49 GMT", None),
            ("Sun, 06 Nov 1994 08:49:37:00 GMT", None),
            ("Sun, 06 Nov 1994 08:49:37 +0000", None),
            ("Sun, 06 Nov 1994 08:49:37", None),
            ("Sun 06 Nov 1994 08:49:37 GMT", None),
            ("Xyz, 06 Nov 1994 08:49:37 GMT", None),
            ("Sun, 06 Foo 1994 08:49:37 GMT", None),
            ("Sun, 06 Nov 94 08:49:37 GMT", None),
            ("Sun, +6 Nov 1994 08:49:37 GMT", None),
            ("Sun, 06 Nov 1994 08:49:37 GMT extra", None),
            ("Sunday, 06-Nov-94-1 08:49:37 GMT", None),
            ("Sunday, 06-Nov 08:49:37 GMT", None),
            ("Sun Nov  6 08:49:37 94", None),
            (
                "Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT",
                None,
            ),
            ("120", None),
            ("", None),
            ("ｓun, 06 Nov 1994 08:49:37 GMT", None),
        ];
        for (input, want) in table {
            assert_eq!(
                parse_http_date(input),
                want.map(Timestamp::from_secs),
                "{input:?}"
            );
        }
    }

    #[test]
    fn format_http_date_table() {
        let table: &[(u64, &str)] = &[
            (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
            (RFC_EXAMPLE * 1000, "Sun, 06 Nov 1994 08:49:37 GMT"),
            (RFC_EXAMPLE * 1000 + 999, "Sun, 06 Nov 1994 08:49:37 GMT"),
            (951_782_400_000, "Tue, 29 Feb 2000 00:00:00 GMT"),
            (951_868_799_000, "Tue, 29 Feb 2000 23:59:59 GMT"),
            (253_402_300_799_000, "Fri, 31 Dec 9999 23:59:59 GMT"),
        ];
        for (ms, want) in table {
            assert_eq!(format_http_date(Timestamp::from_millis(*ms)), *want);
        }
        // The far future does not panic.
        let _ = format_http_date(Timestamp::from_millis(u64::MAX));
    }

    #[test]
    fn civil_round_trip_over_four_centuries() {
        for days in (-719_468..3_000_000).step_by(97) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn retry_after_table() {
        let now = Timestamp::from_secs(RFC_EXAMPLE);
        let at = |secs: u64| Some(Timestamp::from_secs(RFC_EXAMPLE + secs));
        let day = 86_400;
        let table: Vec<Row> = vec![
            (vec![("retry-after", "120")], at(120)),
            (vec![("retry-after", " 0 ")], at(0)),
            (vec![("retry-after", "86400")], at(day)),
            (vec![("retry-after", "86401")], at(day)),
            (vec![("retry-after", "99999999999999999999999999")], at(day)),
            (vec![("retry-after", "120"), ("retry-after", "5")], at(120)),
            (vec![("retry-after", "-5")], None),
            (vec![("retry-after", "1.5")], None),
            (vec![("retry-after", "soon")], None),
            (vec![("retry-after", "")], None),
            (vec![("retry-after", "12 0")], None),
            (vec![], None),
            // HTTP date, no Date header: against now.
            (
                vec![("retry-after", "Sun, 06 Nov 1994 08:50:37 GMT")],
                at(60),
            ),
            (
                vec![("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT")],
                at(0),
            ),
            (
                vec![("retry-after", "Sun, 06 Nov 1994 07:00:00 GMT")],
                at(0),
            ),
            (
                vec![("retry-after", "Fri, 31 Dec 9999 23:59:59 GMT")],
                at(day),
            ),
            // With a Date header: the server's clock is 1 h ahead; the 60 s wait is kept.
            (
                vec![
                    ("date", "Sun, 06 Nov 1994 09:49:37 GMT"),
                    ("retry-after", "Sun, 06 Nov 1994 09:50:37 GMT"),
                ],
                at(60),
            ),
            // Server clock 1 h behind.
            (
                vec![
                    ("date", "Sun, 06 Nov 1994 07:49:37 GMT"),
                    ("retry-after", "Sunday, 06-Nov-94 07:51:37 GMT"),
                ],
                at(120),
            ),
            // Garbage Date: against now.
            (
                vec![
                    ("date", "yesterday"),
                    ("retry-after", "Sun, 06 Nov 1994 08:50:37 GMT"),
                ],
                at(60),
            ),
        ];
        for (pairs, want) in table {
            assert_eq!(parse_retry_after(&headers(&pairs), now), want, "{pairs:?}");
        }
    }

    #[test]
    fn retry_after_saturates_at_the_far_future() {
        let h = headers(&[("retry-after", "60")]);
        let end = Timestamp::from_millis(u64::MAX);
        assert_eq!(parse_retry_after(&h, end), Some(end));
    }

    proptest::proptest! {
        #[test]
        fn format_then_parse_round_trips(secs in 0u64..253_402_300_800) {
            let t = Timestamp::from_secs(secs);
            proptest::prop_assert_eq!(parse_http_date(&format_http_date(t)), Some(t));
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = parse_http_date(&s);
        }
    }
}
