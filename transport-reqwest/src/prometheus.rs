//! The metrics snapshot ([`Keeper::metrics`](crate::Keeper::metrics)) in the Prometheus text
//! exposition format, version 0.0.4: a `# HELP` and a `# TYPE` line per metric, counters
//! named `..._total`, times as seconds since the Unix epoch. The names, types and meanings are
//! listed in this crate's README.
//!
//! ```
//! # let keeper = tokenkeeper_reqwest::Keeper::builder(
//! #     tokenkeeper_reqwest::Dialect::vitalgraph("https://vg.example.com").unwrap()).build().unwrap();
//! let text = tokenkeeper_reqwest::prometheus::render(&keeper.metrics());
//! assert!(text.contains("# TYPE tokenkeeper_refreshes_total counter\n"));
//! ```
//!
//! Serve it with the content type [`CONTENT_TYPE`]. Several keepers in one process are told
//! apart by labels ([`render_all`]).

use std::fmt::Write as _;

use tokenkeeper_core::{Metrics, Timestamp};

use crate::store::StoreMetrics;

/// The `Content-Type` of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Counter or gauge.
#[derive(Clone, Copy)]
enum Type {
    Counter,
    Gauge,
}

/// One metric: name, type, help, and the value (none: no sample) read from a `T`.
struct Family<T> {
    name: &'static str,
    kind: Type,
    help: &'static str,
    value: fn(&T) -> Option<Value>,
}

enum Value {
    Count(u64),
    Seconds(Timestamp),
    Flag(bool),
}

const FAMILIES: &[Family<Metrics>] = &[
    Family {
        name: "tokenkeeper_requests_total",
        kind: Type::Counter,
        help: "Requests started through the keeper (a request and its resends count once).",
        value: |m| Some(Value::Count(m.requests)),
    },
    Family {
        name: "tokenkeeper_requests_delivered_total",
        kind: Type::Counter,
        help: "Requests that ended with a response handed to the caller (any status).",
        value: |m| Some(Value::Count(m.delivered)),
    },
    Family {
        name: "tokenkeeper_requests_failed_total",
        kind: Type::Counter,
        help: "Requests that ended with an error.",
        value: |m| Some(Value::Count(m.failures)),
    },
    Family {
        name: "tokenkeeper_refreshes_total",
        kind: Type::Counter,
        help: "Successful token refreshes.",
        value: |m| Some(Value::Count(m.refresh_count)),
    },
    Family {
        name: "tokenkeeper_refresh_failures_total",
        kind: Type::Counter,
        help: "Refresh attempts that did not produce a token.",
        value: |m| Some(Value::Count(m.refresh_failures)),
    },
    Family {
        name: "tokenkeeper_logins_total",
        kind: Type::Counter,
        help: "Successful logins, the first one included.",
        value: |m| Some(Value::Count(m.logins)),
    },
    Family {
        name: "tokenkeeper_login_failures_total",
        kind: Type::Counter,
        help: "Login attempts that did not produce a token.",
        value: |m| Some(Value::Count(m.login_failures)),
    },
    Family {
        name: "tokenkeeper_reauthentications_total",
        kind: Type::Counter,
        help: "Logins that replaced an earlier session (refresh token missing or rejected).",
        value: |m| Some(Value::Count(m.reauthentications)),
    },
    Family {
        name: "tokenkeeper_unauthorized_resends_total",
        kind: Type::Counter,
        help: "Requests resent after a 401, or a 403 for a superseded token.",
        value: |m| Some(Value::Count(m.unauthorized_resends)),
    },
    Family {
        name: "tokenkeeper_transient_resends_total",
        kind: Type::Counter,
        help: "Requests resent after a transient status (429, 5xx) or a connect error.",
        value: |m| Some(Value::Count(m.transient_resends)),
    },
    Family {
        name: "tokenkeeper_circuit_opened_total",
        kind: Type::Counter,
        help: "Times the circuit breaker on the auth endpoint opened.",
        value: |m| Some(Value::Count(m.circuit_opened)),
    },
    Family {
        name: "tokenkeeper_token_expiry_timestamp_seconds",
        kind: Type::Gauge,
        help: "When the access token in use expires, in seconds since the Unix epoch (no sample without a token).",
        value: |m| m.token_expires_at.map(Value::Seconds),
    },
    Family {
        name: "tokenkeeper_token_expired",
        kind: Type::Gauge,
        help: "1 when no usable token is held (none, expired or rejected), else 0.",
        value: |m| Some(Value::Flag(m.is_expired)),
    },
    Family {
        name: "tokenkeeper_auth_in_progress",
        kind: Type::Gauge,
        help: "1 while a login or refresh is in flight or waiting to retry, else 0.",
        value: |m| Some(Value::Flag(m.auth_in_progress)),
    },
    Family {
        name: "tokenkeeper_last_refresh_timestamp_seconds",
        kind: Type::Gauge,
        help: "When the last refresh succeeded, in seconds since the Unix epoch (no sample before the first).",
        value: |m| m.last_refresh.map(Value::Seconds),
    },
];

/// One keeper's metrics and the labels that tell it apart from other keepers in the same
/// scrape (`[("identity", "vitalgraph-admin")]`).
#[derive(Clone, Copy, Debug)]
pub struct Labeled<'a> {
    /// The snapshot.
    pub metrics: &'a Metrics,
    /// Label names and values. Names must match `[a-zA-Z_][a-zA-Z0-9_]*` and not start with
    /// `__`; values are escaped.
    pub labels: &'a [(&'a str, &'a str)],
}

/// One keeper's metrics, without labels.
pub fn render(metrics: &Metrics) -> String {
    render_all(&[Labeled {
        metrics,
        labels: &[],
    }])
}

/// Several keepers' metrics in one exposition: each metric's `# HELP` and `# TYPE` once,
/// then one sample per keeper.
///
/// # Panics
///
/// If a label name is not a valid Prometheus label name (a programming error: label names
/// are chosen in code).
pub fn render_all(keepers: &[Labeled<'_>]) -> String {
    let labels: Vec<String> = keepers.iter().map(|k| label_set(k.labels)).collect();
    let mut out = String::with_capacity(2048);
    let samples: Vec<(&Metrics, &str)> = keepers
        .iter()
        .zip(&labels)
        .map(|(k, l)| (k.metrics, l.as_str()))
        .collect();
    write_families(&mut out, FAMILIES, &samples);
    out
}

/// A keeper's metrics, and its token store's when it has one
/// ([`Keeper::store_metrics`](crate::Keeper::store_metrics)): what `tokenkeeper demo
/// --metrics-addr` serves.
pub fn render_keeper(keeper: &crate::Keeper) -> String {
    let mut out = render(&keeper.metrics());
    if let Some(store) = keeper.store_metrics() {
        write_families(&mut out, STORE_FAMILIES, &[(&store, "")]);
    }
    out
}

/// Writes each family's `# HELP` and `# TYPE` once, then one sample per labelled item.
fn write_families<T>(out: &mut String, families: &[Family<T>], samples: &[(&T, &str)]) {
    for f in families {
        let kind = match f.kind {
            Type::Counter => "counter",
            Type::Gauge => "gauge",
        };
        // Writing to a String cannot fail.
        let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
        let _ = writeln!(out, "# TYPE {} {kind}", f.name);
        for (item, labels) in samples {
            let Some(v) = (f.value)(item) else {
                continue;
            };
            let _ = match v {
                Value::Count(n) => writeln!(out, "{}{labels} {n}", f.name),
                Value::Flag(b) => writeln!(out, "{}{labels} {}", f.name, u8::from(b)),
                Value::Seconds(t) => {
                    let ms = t.as_millis();
                    writeln!(out, "{}{labels} {}.{:03}", f.name, ms / 1000, ms % 1000)
                }
            };
        }
    }
}

const STORE_FAMILIES: &[Family<StoreMetrics>] = &[
    Family {
        name: "tokenkeeper_store_adopted_total",
        kind: Type::Counter,
        help: "Token sets adopted from the shared store (or published by another process) instead of a login or refresh of this keeper's own.",
        value: |m| Some(Value::Count(m.adopted)),
    },
    Family {
        name: "tokenkeeper_store_locked_auth_total",
        kind: Type::Counter,
        help: "Logins and refreshes performed holding the store's lock.",
        value: |m| Some(Value::Count(m.locked_auth)),
    },
    Family {
        name: "tokenkeeper_store_unlocked_auth_total",
        kind: Type::Counter,
        help: "Logins and refreshes performed without the store's lock (not had in time, or the store failed).",
        value: |m| Some(Value::Count(m.unlocked_auth)),
    },
    Family {
        name: "tokenkeeper_store_lock_timeouts_total",
        kind: Type::Counter,
        help: "Waits for the store's lock that ran out.",
        value: |m| Some(Value::Count(m.lock_timeouts)),
    },
    Family {
        name: "tokenkeeper_store_errors_total",
        kind: Type::Counter,
        help: "Store operations that failed (load, save, lock, watch).",
        value: |m| Some(Value::Count(m.errors)),
    },
    Family {
        name: "tokenkeeper_store_saves_total",
        kind: Type::Counter,
        help: "Token sets saved to the store (clears included).",
        value: |m| Some(Value::Count(m.saves)),
    },
    Family {
        name: "tokenkeeper_store_degraded",
        kind: Type::Gauge,
        help: "1 while the last store operation failed and the keeper carries on alone, else 0.",
        value: |m| Some(Value::Flag(m.degraded)),
    },
];

/// `{a="x",b="y"}`, or nothing without labels.
fn label_set(labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let mut out = String::from("{");
    for (i, (name, value)) in labels.iter().enumerate() {
        assert!(
            valid_label_name(name),
            "invalid Prometheus label name {name:?}"
        );
        if i > 0 {
            out.push(',');
        }
        out.push_str(name);
        out.push_str("=\"");
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push('}');
    out
}

fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}
