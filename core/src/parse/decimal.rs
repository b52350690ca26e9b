//! Decimal number text read exactly as far as the engine needs it, without converting it to an
//! `f64` (whose correctly rounded parser costs about 10 kB of `.wasm`).
//!
//! What the engine needs of a number: its sign, its value truncated to whole seconds (a JWT
//! `exp`) or to milliseconds (`expires_in`), saturating at `u64::MAX`, whether it exceeds a
//! whole limit, and whether an `f64` could hold it (the JSON reader refuses numbers that round
//! to infinity, as `serde_json` does). All of it is read off the digits: the precision kept is
//! the millisecond, and no value is ever rounded up.

/// A number's text, read.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Reading<'a> {
    /// `inf`, `infinity` or `nan` (any case, any sign): not a finite number.
    NotFinite,
    /// A decimal number.
    Number(Decimal<'a>),
}

/// A decimal number: `±int.frac × 10^exp`, its digits as written.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Decimal<'a> {
    negative: bool,
    int: &'a [u8],
    frac: &'a [u8],
    exp: i64,
}

/// The largest decimal exponent read; beyond it every nonzero value saturates (or is below a
/// millisecond) anyway.
const MAX_EXP: i64 = 1 << 40;

/// The digits of `2^1024 - 2^970`, the smallest value that rounds to infinity as an `f64` (the
/// midpoint between `f64::MAX` and `2^1024`; a tie rounds to the even `2^1024`). Its first
/// digit is worth `10^308`.
const F64_OVERFLOW: &[u8] = b"179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792";

/// Reads `s` with the grammar of `f64`'s `FromStr`: an optional sign, then `inf`, `infinity`
/// or `nan` (any case), or `Digit+ | Digit+ '.' Digit* | Digit* '.' Digit+` followed by an
/// optional `[eE][+-]?Digit+`. `None` for anything else (no surrounding whitespace).
pub(crate) fn parse(s: &str) -> Option<Reading<'_>> {
    let (negative, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if ["inf", "infinity", "nan"]
        .iter()
        .any(|w| rest.eq_ignore_ascii_case(w))
    {
        return Some(Reading::NotFinite);
    }
    let bytes = rest.as_bytes();
    let digits = |from: usize| {
        from + bytes[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let int_end = digits(0);
    let (frac, mantissa_end) = if bytes.get(int_end) == Some(&b'.') {
        let end = digits(int_end + 1);
        (&bytes[int_end + 1..end], end)
    } else {
        (&bytes[int_end..int_end], int_end)
    };
    let int = &bytes[..int_end];
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let exp = match bytes.get(mantissa_end) {
        None => 0,
        Some(b'e' | b'E') => exponent(&bytes[mantissa_end + 1..])?,
        Some(_) => return None,
    };
    Some(Reading::Number(Decimal {
        negative,
        int,
        frac,
        exp,
    }))
}

/// `[+-]?Digit+`, saturating at ±[`MAX_EXP`].
fn exponent(s: &[u8]) -> Option<i64> {
    let (negative, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let e = digits
        .iter()
        .fold(0i64, |e, &d| (e * 10 + i64::from(d - b'0')).min(MAX_EXP));
    Some(if negative { -e } else { e })
}

impl Decimal<'_> {
    /// The digits, integer part then fraction, with the power of ten of each.
    fn digits(&self) -> impl Iterator<Item = (u8, i64)> + '_ {
        // The first digit is worth 10^(len(int) - 1 + exp).
        let top = i64::try_from(self.int.len()).unwrap_or(i64::MAX) - 1 + self.exp;
        self.int
            .iter()
            .chain(self.frac)
            .zip(0i64..)
            .map(move |(&d, i)| (d - b'0', top - i))
    }

    /// Whether the number is below zero (`-0` is not).
    pub(crate) fn is_negative(&self) -> bool {
        self.negative && self.digits().any(|(d, _)| d != 0)
    }

    /// `|value| × 10^shift`, truncated to a whole number, saturating at `u64::MAX`.
    pub(crate) fn scaled(&self, shift: u32) -> u64 {
        let mut acc: u64 = 0;
        let mut last = None;
        for (d, power) in self.digits() {
            let power = power + i64::from(shift);
            if power < 0 {
                break;
            }
            acc = acc.saturating_mul(10).saturating_add(u64::from(d));
            last = Some(power);
        }
        // The last digit read is worth 10^last.
        match last {
            Some(p) if acc != 0 => u32::try_from(p)
                .ok()
                .and_then(|p| 10u64.checked_pow(p))
                .map_or(u64::MAX, |scale| acc.saturating_mul(scale)),
            _ => 0,
        }
    }

    /// Whether `|value| > limit`, exactly.
    pub(crate) fn exceeds(&self, limit: u64) -> bool {
        match self.scaled(0).cmp(&limit) {
            core::cmp::Ordering::Greater => true,
            core::cmp::Ordering::Less => false,
            core::cmp::Ordering::Equal => self.digits().any(|(d, p)| p < 0 && d != 0),
        }
    }

    /// Whether the value rounds to infinity as an `f64` (correctly rounded, ties to even).
    pub(crate) fn overflows_f64(&self) -> bool {
        let mut significant = self.digits().skip_while(|&(d, _)| d == 0).peekable();
        let Some(&(_, top)) = significant.peek() else {
            return false; // zero
        };
        if top != 308 {
            return top > 308;
        }
        // Same magnitude as the threshold: compare digit by digit.
        let mut threshold = F64_OVERFLOW.iter().map(|b| b - b'0');
        loop {
            match (significant.next(), threshold.next()) {
                (Some((d, _)), Some(t)) if d != t => return d > t,
                (Some(_), Some(_)) => {}
                // Equal so far and the threshold has ended: at least the threshold.
                (_, None) => return true,
                // The number has ended first: below it (the threshold's last digit is not 0).
                (None, Some(_)) => return false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(s: &str) -> Decimal<'_> {
        match parse(s) {
            Some(Reading::Number(d)) => d,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn grammar_is_that_of_f64_from_str() {
        let table = [
            "0",
            "-0",
            "+1",
            "1.5",
            ".5",
            "5.",
            "1e5",
            "1E-5",
            "5.e3",
            ".5e+2",
            "00012.50",
            "",
            ".",
            "-",
            "+",
            "e5",
            "1e",
            "1e+",
            "++1",
            "1_0",
            " 1",
            "1 ",
            "0x10",
            "1.2.3",
            "1e5.5",
            "inf",
            "-Infinity",
            "INF",
            "infin",
            "NaN",
            "-nan",
            "1e99999999999999999999999",
        ];
        for s in table {
            let ours = parse(s).map(|r| match r {
                Reading::NotFinite => true,
                Reading::Number(d) => d.overflows_f64(),
            });
            let std = s.parse::<f64>().ok().map(|f| !f.is_finite());
            assert_eq!(ours, std, "{s:?}");
        }
    }

    #[test]
    fn scaled_truncates_and_saturates() {
        // (text, shift, expected)
        let table: &[(&str, u32, u64)] = &[
            ("0", 3, 0),
            ("1.5", 3, 1500),
            ("2.5", 0, 2),
            ("1.0005", 3, 1000),
            ("0.0009", 3, 0),
            ("1700000000.9", 0, 1_700_000_000),
            ("1e9", 0, 1_000_000_000),
            ("1.5e3", 0, 1500),
            ("15e-1", 3, 1500),
            ("3600.000", 3, 3_600_000),
            ("00012.50", 3, 12_500),
            ("18446744073709551615", 0, u64::MAX),
            ("18446744073709551616", 0, u64::MAX),
            ("18446744073709551615", 3, u64::MAX),
            ("123456789012345678901234567890", 0, u64::MAX),
            ("1e19", 0, 10_000_000_000_000_000_000),
            ("1e20", 0, u64::MAX),
            ("1e300", 3, u64::MAX),
            ("1e-400", 3, 0),
            ("-2.5", 3, 2500),
            ("1e99999999999999999999999", 0, u64::MAX),
            ("1e-99999999999999999999999", 0, 0),
        ];
        for &(s, shift, want) in table {
            assert_eq!(number(s).scaled(shift), want, "{s} << {shift}");
        }
    }

    #[test]
    fn sign_and_limits_are_exact() {
        for (s, negative) in [
            ("-0", false),
            ("-0.000", false),
            ("-0.0001", true),
            ("-1", true),
            ("1", false),
        ] {
            assert_eq!(number(s).is_negative(), negative, "{s}");
        }
        // (text, limit, exceeds)
        let table: &[(&str, u64, bool)] = &[
            ("315360000", 315_360_000, false),
            ("315360000.000", 315_360_000, false),
            ("3.1536e8", 315_360_000, false),
            ("315360000.0000000001", 315_360_000, true),
            ("315360001", 315_360_000, true),
            ("1e300", 315_360_000, true),
            ("0.5", 0, true),
            ("0", 0, false),
        ];
        for &(s, limit, want) in table {
            assert_eq!(number(s).exceeds(limit), want, "{s} > {limit}");
        }
    }

    #[test]
    fn overflow_matches_std_at_the_edge() {
        let threshold = core::str::from_utf8(F64_OVERFLOW).unwrap();
        let below = format!("{}1", &threshold[..threshold.len() - 1]); // ...2 -> ...1
        let table = [
            "1e308",
            "1e309",
            "1.7976931348623157e308",
            "1.7976931348623158e308",
            "1.7976931348623159e308",
            "-1e400",
            "2e308",
            "0.0",
            "1e-400",
            threshold,
            &below,
            &format!("{threshold}0"),
            &format!("{threshold}.0000001"),
            &format!("{below}.9999999"),
            &format!("0.{threshold}e309"),
            &format!("0.000{below}e312"),
        ];
        for s in table {
            let std = !s.parse::<f64>().unwrap().is_finite();
            assert_eq!(number(s).overflows_f64(), std, "{s}");
        }
    }

    proptest::proptest! {
        #[test]
        fn agrees_with_std_on_short_numbers(s in "[-+]?[0-9]{0,20}(\\.[0-9]{0,20})?([eE][-+]?[0-9]{1,3})?") {
            let std = s.parse::<f64>().ok();
            let ours = parse(&s);
            proptest::prop_assert_eq!(ours.is_some(), std.is_some(), "{}", s);
            if let (Some(Reading::Number(d)), Some(f)) = (ours, std) {
                proptest::prop_assert_eq!(d.overflows_f64(), !f.is_finite(), "{}", s);
                if f != 0.0 {
                    // (An f64 loses the sign of what it cannot hold: `-1e-400` is `-0.0`.)
                    proptest::prop_assert_eq!(d.is_negative(), f < 0.0, "{}", s);
                }
                // Whole seconds as `as u64` truncates (and saturates) an f64, where the f64 is
                // exact: below 2^53 with no fraction lost to rounding up.
                if f.abs() < 9_007_199_254_740_992.0 && f.abs().fract() == 0.0 && !s.contains(['.', 'e', 'E']) {
                    proptest::prop_assert_eq!(d.scaled(0), f.abs() as u64, "{}", s);
                }
            }
        }

        #[test]
        fn overflow_agrees_with_std_near_the_edge(
            mantissa in "[1-9][0-9]{0,30}",
            exp in 280i32..330,
        ) {
            for s in [format!("{mantissa}e{exp}"), format!("0.{mantissa}e{exp}")] {
                let std = !s.parse::<f64>().unwrap().is_finite();
                proptest::prop_assert_eq!(number(&s).overflows_f64(), std, "{}", s);
            }
        }

        #[test]
        fn millis_agree_with_exact_integer_arithmetic(secs in 0u64..1_000_000_000, ms in 0u64..1000, extra in "[0-9]{0,6}") {
            let s = format!("{secs}.{ms:03}{extra}");
            proptest::prop_assert_eq!(number(&s).scaled(3), secs * 1000 + ms, "{}", s);
            proptest::prop_assert_eq!(number(&s).scaled(0), secs, "{}", s);
        }
    }
}
