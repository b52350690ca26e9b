//! A window into the crate-private JSON reader, for the fuzz targets (`fuzz/`) and the
//! differential tests (`tests/differential.rs`). Only with the `fuzzing` feature; not part of
//! the API and not covered by semver.
#![doc(hidden)]

use crate::parse::json;

/// A JSON value as the crate's reader reads it (a copy of its private value type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonValue {
    /// `null`.
    Null,
    /// `true` or `false` (the reader does not keep which).
    Bool,
    /// A number, as its literal text.
    Number(String),
    /// A string, unescaped.
    String(String),
    /// An array.
    Array(Vec<JsonValue>),
    /// An object's members in document order, duplicates kept.
    Object(Vec<(String, JsonValue)>),
}

/// Reads one JSON document with the crate's reader; the error is its message.
pub fn parse_json(input: &[u8]) -> Result<JsonValue, String> {
    json::parse(input).map(convert).map_err(|e| e.to_string())
}

fn convert(value: json::Value) -> JsonValue {
    match value {
        json::Value::Null => JsonValue::Null,
        json::Value::Bool => JsonValue::Bool,
        json::Value::Number(n) => JsonValue::Number(n),
        json::Value::String(s) => JsonValue::String(s),
        json::Value::Array(items) => JsonValue::Array(items.into_iter().map(convert).collect()),
        json::Value::Object(members) => {
            JsonValue::Object(members.into_iter().map(|(k, v)| (k, convert(v))).collect())
        }
    }
}
