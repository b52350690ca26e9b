//! Decimal text to `f64`, bit for bit as `str::parse::<f64>` does it (correctly rounded, ties
//! to even), with a small big-integer division instead of the standard library's tables (its
//! Eisel-Lemire table alone is 10 kB of `.wasm`). Ordinary numbers take Clinger's exact fast
//! path; only long or extreme ones go through the division.

use core::cmp::Ordering;

/// Significant digits kept; later ones only say whether the value is a little larger. Every
/// midpoint between two `f64`s has at most 767 significant digits, so rounding stays exact.
const MAX_DIGITS: usize = 800;

/// Parses `s` with the grammar of `f64`'s `FromStr`: an optional sign, then `inf`,
/// `infinity`, `nan` (any case) or digits with an optional `.` and an optional exponent.
pub(crate) fn parse_f64(s: &str) -> Option<f64> {
    let (negative, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let magnitude = if rest.eq_ignore_ascii_case("inf") || rest.eq_ignore_ascii_case("infinity") {
        f64::INFINITY
    } else if rest.eq_ignore_ascii_case("nan") {
        f64::NAN
    } else {
        number(rest.as_bytes())?
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// `Digit+ | Digit+ '.' Digit* | Digit* '.' Digit+`, then `[eE] Sign? Digit+` optionally.
fn number(s: &[u8]) -> Option<f64> {
    let mut digits = Vec::new(); // significant digits, leading zeros dropped
    let mut sticky = false; // a nonzero digit beyond MAX_DIGITS
    let mut exp10: i64 = 0; // value = 0.digits × 10^exp10 before the exponent part
    let mut seen = 0;
    let mut i = 0;
    let mut after_point = false;
    while i < s.len() {
        match s[i] {
            b'.' if !after_point => after_point = true,
            d @ b'0'..=b'9' => {
                seen += 1;
                if digits.is_empty() && d == b'0' {
                    if after_point {
                        exp10 -= 1;
                    }
                } else {
                    if !after_point {
                        exp10 += 1;
                    }
                    if digits.len() < MAX_DIGITS {
                        digits.push(d - b'0');
                    } else if d != b'0' {
                        sticky = true;
                    }
                }
            }
            _ => break,
        }
        i += 1;
    }
    if seen == 0 {
        return None;
    }
    if i < s.len() {
        if !matches!(s[i], b'e' | b'E') {
            return None;
        }
        i += 1;
        let negative = match s.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        if i == s.len() {
            return None;
        }
        let mut e: i64 = 0;
        for &b in &s[i..] {
            if !b.is_ascii_digit() {
                return None;
            }
            e = (e * 10 + i64::from(b - b'0')).min(1 << 40);
        }
        exp10 += if negative { -e } else { e };
    }
    while digits.last() == Some(&0) {
        digits.pop();
    }
    if digits.is_empty() {
        return Some(0.0);
    }
    // The value is in [10^(exp10 - 1), 10^exp10).
    if exp10 > 310 {
        return Some(f64::INFINITY);
    }
    if exp10 < -330 {
        return Some(0.0);
    }
    let k = exp10 - digits.len() as i64;
    Some(fast_path(&digits, sticky, k).unwrap_or_else(|| round(&digits, sticky, k)))
}

/// Clinger's fast path: at most 15 digits (exact in an `f64`) times or divided by an exact
/// power of ten (10^22 at most) is one correctly rounded operation. This covers every
/// ordinary `expires_in` and `exp` (whole numbers included) without the big-integer division.
fn fast_path(digits: &[u8], sticky: bool, k: i64) -> Option<f64> {
    if sticky || digits.len() > 15 || !(-22..=22).contains(&k) {
        return None;
    }
    let mantissa = digits.iter().fold(0u64, |m, &d| m * 10 + u64::from(d)) as f64;
    let mut pow = 1.0f64;
    for _ in 0..k.unsigned_abs() {
        pow *= 10.0;
    }
    Some(if k >= 0 {
        mantissa * pow
    } else {
        mantissa / pow
    })
}

/// `digits × 10^k` (plus a little if `sticky`) rounded to the nearest `f64`, ties to even.
fn round(digits: &[u8], sticky: bool, k: i64) -> f64 {
    let mut num = Big::default();
    for &d in digits {
        num.mul_add(10, u32::from(d));
    }
    let mut den = Big::from(1);
    let scale = if k >= 0 { &mut num } else { &mut den };
    for _ in 0..k.unsigned_abs() {
        scale.mul_add(10, 0);
    }
    // Scale so that the quotient has 58 or 59 bits: value = (q + r/den) × 2^-s.
    let s = 58 - (num.bits() as i64 - den.bits() as i64);
    if s >= 0 {
        num.shl(s as usize);
    } else {
        den.shl(s.unsigned_abs() as usize);
    }
    let mut q: u64 = 0;
    for bit in (0..60).rev() {
        let mut shifted = den.clone();
        shifted.shl(bit);
        if num.cmp(&shifted) != Ordering::Less {
            num.sub(&shifted);
            q |= 1 << bit;
        }
    }
    let sticky = sticky || !num.is_zero();
    // Keep 53 bits, fewer below the normal range (the last bit is worth 2^-1074 at least).
    let len = 64 - i64::from(q.leading_zeros());
    let lsb_exp = (len - 53 - s).max(-1074); // exponent of the kept mantissa's last bit
    let drop = lsb_exp + s; // bits of q below it, 5..=64+ (q has at most 60 bits)
    if drop > 61 {
        return 0.0;
    }
    let drop = drop as u32;
    let mut m = q >> drop;
    let rest = q & ((1u64 << drop) - 1);
    let half = 1u64 << (drop - 1);
    if rest > half || (rest == half && (sticky || m & 1 == 1)) {
        m += 1;
    }
    compose(m, lsb_exp)
}

/// `m × 2^e` as an `f64`, for `m < 2^54` and `e >= -1074` (infinity when too large).
fn compose(mut m: u64, mut e: i64) -> f64 {
    if m >> 53 != 0 {
        m >>= 1; // rounding carried into a new bit; the dropped bit is 0
        e += 1;
    }
    if m == 0 {
        return 0.0;
    }
    if m >> 52 == 0 {
        // subnormal (e == -1074): the bits are the mantissa
        return f64::from_bits(m);
    }
    let biased = e + 52 + 1023;
    if biased >= 0x7ff {
        return f64::INFINITY;
    }
    f64::from_bits(((biased as u64) << 52) | (m & ((1 << 52) - 1)))
}

/// A non-negative big integer, little-endian 32-bit limbs.
#[derive(Clone, Default)]
struct Big(Vec<u32>);

impl From<u32> for Big {
    fn from(v: u32) -> Big {
        Big(vec![v])
    }
}

impl Big {
    fn mul_add(&mut self, mul: u32, add: u32) {
        let mut carry = u64::from(add);
        for limb in &mut self.0 {
            let v = u64::from(*limb) * u64::from(mul) + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            self.0.push(carry as u32);
        }
    }

    fn shl(&mut self, bits: usize) {
        let (limbs, bits) = (bits / 32, bits % 32);
        if bits != 0 {
            let mut carry = 0;
            for limb in &mut self.0 {
                let v = (*limb << bits) | carry;
                carry = *limb >> (32 - bits);
                *limb = v;
            }
            if carry != 0 {
                self.0.push(carry);
            }
        }
        self.0.splice(0..0, core::iter::repeat_n(0, limbs));
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    fn bits(&self) -> usize {
        let mut v = self.clone();
        v.trim();
        v.0.last()
            .map_or(0, |top| 32 * v.0.len() - top.leading_zeros() as usize)
    }

    fn is_zero(&self) -> bool {
        self.0.iter().all(|&l| l == 0)
    }

    fn cmp(&self, other: &Big) -> Ordering {
        let n = self.0.len().max(other.0.len());
        for i in (0..n).rev() {
            let (a, b) = (self.0.get(i).copied(), other.0.get(i).copied());
            match a.unwrap_or(0).cmp(&b.unwrap_or(0)) {
                Ordering::Equal => {}
                unequal => return unequal,
            }
        }
        Ordering::Equal
    }

    /// `self -= other`, for `self >= other`.
    fn sub(&mut self, other: &Big) {
        let mut borrow = 0i64;
        for (i, limb) in self.0.iter_mut().enumerate() {
            let v = i64::from(*limb) - i64::from(other.0.get(i).copied().unwrap_or(0)) - borrow;
            borrow = i64::from(v < 0);
            *limb = v.rem_euclid(1 << 32) as u32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(s: &str) {
        let ours = parse_f64(s);
        let std = s.parse::<f64>().ok();
        assert_eq!(
            ours.map(f64::to_bits),
            std.map(f64::to_bits),
            "{s}: {ours:?} vs {std:?}"
        );
    }

    #[test]
    fn agrees_with_std_on_hard_cases() {
        let long_half = format!("1.{}1", "0".repeat(900)); // sticky digit past the kept ones
        for s in [
            "0",
            "-0",
            "1",
            "1.5",
            "2.5",
            ".5",
            "5.",
            ".",
            "",
            "-",
            "+",
            "e5",
            "1e",
            "1e+",
            "1e-5",
            "5.e3",
            "1E3",
            "3600.0",
            "0.1",
            "0.3",
            "1700000000.9",
            "1700000000.99999999999999",
            "9007199254740993",
            "9007199254740993.0000000000000000001",
            "18446744073709551615",
            "18446744073709551616",
            "1e300",
            "1e308",
            "1.7976931348623157e308",
            "1.7976931348623158e308",
            "1.7976931348623159e308",
            "2e308",
            "1e400",
            "-1e400",
            "4.9406564584124654e-324",
            "2.4703282292062327e-324",
            "2.4703282292062328e-324",
            "2.2250738585072011e-308",
            "2.2250738585072014e-308",
            "1e-400",
            "-1e-400",
            "2.2250738585072012e-308",
            "0.000000000000000000000000000000000000001",
            "inf",
            "-Infinity",
            "INF",
            "infin",
            "NaN",
            "nan",
            "-nan",
            "+1",
            "++1",
            "1_0",
            " 1",
            "1 ",
            "0x10",
            "1e99999999999999999999999",
            "1e-99999999999999999999999",
            "00012.50",
            "0.0000",
            "315360000",
            "315360000.0000000001",
            "1.0000000005",
            &long_half,
        ] {
            same(s);
        }
    }

    proptest::proptest! {
        #[test]
        fn agrees_with_std_on_short_numbers(s in "[-+]?[0-9]{0,20}(\\.[0-9]{0,20})?([eE][-+]?[0-9]{1,3})?") {
            same(&s);
        }

        #[test]
        fn agrees_with_std_near_the_edges(
            mantissa in "[1-9][0-9]{0,30}",
            exp in proptest::prop_oneof![-345i32..-300, -30i32..30, 290i32..320],
        ) {
            same(&format!("{mantissa}e{exp}"));
            same(&format!("0.{mantissa}e{exp}"));
        }

        #[test]
        fn round_trips_every_double(bits in proptest::prelude::any::<u64>()) {
            let x = f64::from_bits(bits);
            if x.is_finite() {
                same(&format!("{x:e}"));
                same(&format!("{x}"));
            }
        }

        #[test]
        fn agrees_with_std_on_any_text(s in "[-+0-9.eEinfatyINFATY]{0,12}") {
            same(&s);
        }
    }
}
