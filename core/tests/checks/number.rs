//! The exact reading of a number's text that `expires_in` (`token.rs`) and a JWT's `exp`
//! (`jwt.rs`) are documented to follow: std's `f64` parser decides the grammar, `bigdecimal`
//! the value, exactly.
//!
//! The grammar is that of `f64`'s `FromStr`: an optional sign, `inf`, `infinity` or `nan` in
//! any case (a number that is not finite), or digits with an optional fraction (`5`, `5.`,
//! `.5`) and an optional exponent (`1e3`, `1E-3`, `1e+3`). A JSON number is always in it; a
//! numeric string (`"expires_in": "3600"`, trimmed first) may use all of it. That leniency is
//! deliberate: `"+60"`, `".5"` or `"1e3"` name one value without ambiguity, and what keeps a
//! hostile lifetime harmless is the value (negative, zero, over 10 years: refused), not its
//! spelling.
//!
//! The value is read exactly, not through an `f64`: the lifetime is truncated to the
//! millisecond and `exp` to the second, and the limits are compared with the digits as
//! written. An `f64` would round first and could cross a boundary the text does not
//! (`1e-9` s is below a millisecond, `315360000.0000000001` s is over 10 years,
//! `1700000000.99999999999999999` is second 1700000000, `-1e-400` is negative). The `f64` is
//! only used for the magnitude of numbers far from every boundary (zero to a nanosecond, past
//! 10^21), so that `bigdecimal` never has to build a huge power of ten.

use std::str::FromStr;

use bigdecimal::{BigDecimal, RoundingMode, ToPrimitive};
use serde_json::value::RawValue;

/// A number's text, read.
pub(crate) enum Reading {
    /// Not in the grammar.
    NotANumber,
    /// `inf`, `infinity` or `nan`.
    NotFinite,
    /// A number: whether it is below zero (`-0` is not), and its absolute value.
    Number { negative: bool, abs: Abs },
}

/// The absolute value of a number.
pub(crate) enum Abs {
    /// Exactly zero.
    Zero,
    /// Above zero and below 10^-9.
    Tiny,
    /// Above 10^21 (beyond `u64::MAX` and every limit).
    Huge,
    /// Anything between, exactly.
    Exact(BigDecimal),
}

/// Reads `text` (no surrounding whitespace).
pub(crate) fn read(text: &str) -> Reading {
    let Ok(approx) = text.parse::<f64>() else {
        return Reading::NotANumber;
    };
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    if unsigned.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Reading::NotFinite;
    }
    let mantissa = unsigned.split(['e', 'E']).next().unwrap_or("");
    let nonzero = mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b));
    let abs = if !nonzero {
        Abs::Zero
    } else if approx.abs() < 1e-9 {
        Abs::Tiny
    } else if approx.abs() > 1e21 {
        Abs::Huge
    } else {
        let exact = BigDecimal::from_str(unsigned)
            .unwrap_or_else(|e| panic!("bigdecimal refuses {unsigned:?}, which f64 reads: {e}"));
        Abs::Exact(exact)
    };
    Reading::Number {
        negative: text.starts_with('-') && nonzero,
        abs,
    }
}

impl Abs {
    /// `self × 10^shift`, truncated to a whole number, saturating at `u64::MAX`.
    pub(crate) fn scaled(&self, shift: u32) -> u64 {
        match self {
            Abs::Zero | Abs::Tiny => 0,
            Abs::Huge => u64::MAX,
            Abs::Exact(v) => (v * BigDecimal::from(10u64.pow(shift)))
                .with_scale_round(0, RoundingMode::Down)
                .to_u64()
                .unwrap_or(u64::MAX),
        }
    }

    /// Whether `self > limit`, exactly.
    pub(crate) fn exceeds(&self, limit: u64) -> bool {
        match self {
            Abs::Zero | Abs::Tiny => false,
            Abs::Huge => true,
            Abs::Exact(v) => v.cmp(&BigDecimal::from(limit)).is_gt(),
        }
    }
}

/// The text of the top-level member `key` of the JSON object `json`, as written (the last one
/// when the key repeats, as `serde_json::Value` keeps it); `None` if `json` is no object or has
/// no such member.
pub(crate) fn raw_member(json: &[u8], key: &str) -> Option<String> {
    let members: std::collections::BTreeMap<String, &RawValue> =
        serde_json::from_slice(json).ok()?;
    members.get(key).map(|v| v.get().to_owned())
}
