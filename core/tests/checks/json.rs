//! The JSON reader (`parse/json.rs`, through `fuzz_api::parse_json`) against `serde_json`.
//!
//! Compared: the verdict (accept or refuse) on every input, and the value when both accept.
//! Values are compared as `serde_json::Value` holds them: an object's members as a map in which
//! a repeated key's last value wins (the reader keeps every member but its lookups take the
//! last one), numbers by what they denote (the reader keeps the literal text: it must read as
//! the same `u64`, `i64` or, correctly rounded, `f64`).
//!
//! Deliberate differences, excluded: none in the verdict (both refuse nesting deeper than 127
//! arrays/objects, numbers beyond `f64`, lone surrogates, invalid UTF-8, trailing bytes); in
//! values, a boolean's truth (the reader keeps only that it is a boolean).

use serde_json::{Number, Value};
use tokenkeeper_core::fuzz_api::{JsonValue, parse_json};

use super::shown;

/// The reader and `serde_json` agree on `data`.
pub(crate) fn check_json(data: &[u8]) {
    let ours = parse_json(data);
    let theirs = serde_json::from_slice::<Value>(data);
    match (&ours, &theirs) {
        (Ok(a), Ok(b)) => {
            if let Err(path) = same(a, b, "$") {
                panic!(
                    "the reader and serde_json read different values at {path}: {a:?} vs {b:?}\ninput: {}",
                    shown(data)
                );
            }
        }
        (Err(_), Err(_)) => {}
        (Ok(a), Err(e)) => panic!(
            "the reader accepts ({a:?}) what serde_json refuses ({e})\ninput: {}",
            shown(data)
        ),
        (Err(e), Ok(b)) => panic!(
            "the reader refuses ({e}) what serde_json accepts ({b:?})\ninput: {}",
            shown(data)
        ),
    }
    if let Err(e) = &ours {
        // Errors say what and where, never which bytes.
        assert!(
            e.contains(" at line ") && e.is_ascii(),
            "odd error message {e:?} for {}",
            shown(data)
        );
    }
}

/// `Ok` when the reader's value is the one `serde_json` read; else the path where they differ.
fn same(ours: &JsonValue, theirs: &Value, path: &str) -> Result<(), String> {
    let ok = match (ours, theirs) {
        (JsonValue::Null, Value::Null) | (JsonValue::Bool, Value::Bool(_)) => true,
        (JsonValue::Number(lit), Value::Number(n)) => same_number(lit, n),
        (JsonValue::String(a), Value::String(b)) => a == b,
        (JsonValue::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                return Err(format!("{path} (length)"));
            }
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                same(x, y, &format!("{path}[{i}]"))?;
            }
            true
        }
        (JsonValue::Object(members), Value::Object(map)) => {
            // Last one wins, as in serde_json's map.
            let mut last: Vec<(&str, &JsonValue)> = Vec::new();
            for (k, v) in members {
                last.retain(|(key, _)| *key != k);
                last.push((k, v));
            }
            if last.len() != map.len() {
                return Err(format!("{path} (member count)"));
            }
            for (k, v) in last {
                let Some(theirs) = map.get(k) else {
                    return Err(format!("{path}.{k:?} (missing)"));
                };
                same(v, theirs, &format!("{path}.{k:?}"))?;
            }
            true
        }
        _ => false,
    };
    if ok { Ok(()) } else { Err(path.to_owned()) }
}

/// Whether a literal the reader kept denotes `serde_json`'s number.
fn same_number(lit: &str, n: &Number) -> bool {
    if let Some(u) = n.as_u64() {
        lit.parse::<u64>() == Ok(u) || (u == 0 && lit.parse::<i64>() == Ok(0))
    } else if let Some(i) = n.as_i64() {
        lit.parse::<i64>() == Ok(i)
    } else {
        let f = n.as_f64().unwrap_or(f64::NAN);
        lit.parse::<f64>().is_ok_and(|g| g.to_bits() == f.to_bits())
    }
}
