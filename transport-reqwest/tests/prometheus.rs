//! The Prometheus text exposition: the exact text for a snapshot, and a line checker of the
//! 0.0.4 format that every rendering passes.

use std::collections::HashSet;

use tokenkeeper_reqwest::Metrics;
use tokenkeeper_reqwest::core::Timestamp;
use tokenkeeper_reqwest::prometheus::{self, Labeled};

fn sample() -> Metrics {
    Metrics {
        requests: 1200,
        delivered: 1195,
        failures: 5,
        refresh_count: 14,
        refresh_failures: 2,
        logins: 2,
        login_failures: 1,
        reauthentications: 1,
        unauthorized_resends: 9,
        transient_resends: 3,
        circuit_opened: 0,
        last_refresh: Some(Timestamp::from_millis(1_767_225_600_250)),
        token_expires_at: Some(Timestamp::from_millis(1_767_227_400_005)),
        is_expired: false,
        auth_in_progress: true,
    }
}

#[test]
fn a_snapshot_renders_exactly() {
    let expected = "\
# HELP tokenkeeper_requests_total Requests started through the keeper (a request and its resends count once).
# TYPE tokenkeeper_requests_total counter
tokenkeeper_requests_total 1200
# HELP tokenkeeper_requests_delivered_total Requests that ended with a response handed to the caller (any status).
# TYPE tokenkeeper_requests_delivered_total counter
tokenkeeper_requests_delivered_total 1195
# HELP tokenkeeper_requests_failed_total Requests that ended with an error.
# TYPE tokenkeeper_requests_failed_total counter
tokenkeeper_requests_failed_total 5
# HELP tokenkeeper_refreshes_total Successful token refreshes.
# TYPE tokenkeeper_refreshes_total counter
tokenkeeper_refreshes_total 14
# HELP tokenkeeper_refresh_failures_total Refresh attempts that did not produce a token.
# TYPE tokenkeeper_refresh_failures_total counter
tokenkeeper_refresh_failures_total 2
# HELP tokenkeeper_logins_total Successful logins, the first one included.
# TYPE tokenkeeper_logins_total counter
tokenkeeper_logins_total 2
# HELP tokenkeeper_login_failures_total Login attempts that did not produce a token.
# TYPE tokenkeeper_login_failures_total counter
tokenkeeper_login_failures_total 1
# HELP tokenkeeper_reauthentications_total Logins that replaced an earlier session (refresh token missing or rejected).
# TYPE tokenkeeper_reauthentications_total counter
tokenkeeper_reauthentications_total 1
# HELP tokenkeeper_unauthorized_resends_total Requests resent after a 401, or a 403 for a superseded token.
# TYPE tokenkeeper_unauthorized_resends_total counter
tokenkeeper_unauthorized_resends_total 9
# HELP tokenkeeper_transient_resends_total Requests resent after a transient status (429, 5xx) or a connect error.
# TYPE tokenkeeper_transient_resends_total counter
tokenkeeper_transient_resends_total 3
# HELP tokenkeeper_circuit_opened_total Times the circuit breaker on the auth endpoint opened.
# TYPE tokenkeeper_circuit_opened_total counter
tokenkeeper_circuit_opened_total 0
# HELP tokenkeeper_token_expiry_timestamp_seconds When the access token in use expires, in seconds since the Unix epoch (no sample without a token).
# TYPE tokenkeeper_token_expiry_timestamp_seconds gauge
tokenkeeper_token_expiry_timestamp_seconds 1767227400.005
# HELP tokenkeeper_token_expired 1 when no usable token is held (none, expired or rejected), else 0.
# TYPE tokenkeeper_token_expired gauge
tokenkeeper_token_expired 0
# HELP tokenkeeper_auth_in_progress 1 while a login or refresh is in flight or waiting to retry, else 0.
# TYPE tokenkeeper_auth_in_progress gauge
tokenkeeper_auth_in_progress 1
# HELP tokenkeeper_last_refresh_timestamp_seconds When the last refresh succeeded, in seconds since the Unix epoch (no sample before the first).
# TYPE tokenkeeper_last_refresh_timestamp_seconds gauge
tokenkeeper_last_refresh_timestamp_seconds 1767225600.250
";
    let text = prometheus::render(&sample());
    assert_eq!(text, expected);
    let families = check(&text);
    assert_eq!(families.len(), 15);
}

#[test]
fn times_without_a_value_have_no_sample() {
    let text = prometheus::render(&Metrics {
        is_expired: true,
        ..Metrics::default()
    });
    check(&text);
    assert!(text.contains("# TYPE tokenkeeper_token_expiry_timestamp_seconds gauge\n# HELP"));
    assert!(!text.contains("\ntokenkeeper_token_expiry_timestamp_seconds "));
    assert!(!text.contains("\ntokenkeeper_last_refresh_timestamp_seconds "));
    assert!(text.contains("\ntokenkeeper_token_expired 1\n"));
}

#[test]
fn several_keepers_are_told_apart_by_labels_and_values_are_escaped() {
    let a = sample();
    let b = Metrics::default();
    let text = prometheus::render_all(&[
        Labeled {
            metrics: &a,
            labels: &[("identity", "admin"), ("server", "vg-1")],
        },
        Labeled {
            metrics: &b,
            labels: &[("identity", "odd \"name\" \\ with\nnewline")],
        },
    ]);
    check(&text);
    assert!(text.contains(
        "# TYPE tokenkeeper_requests_total counter\n\
         tokenkeeper_requests_total{identity=\"admin\",server=\"vg-1\"} 1200\n\
         tokenkeeper_requests_total{identity=\"odd \\\"name\\\" \\\\ with\\nnewline\"} 0\n"
    ));
}

#[tokio::test]
async fn a_keeper_with_a_store_adds_the_stores_metrics() {
    let dir = std::env::temp_dir().join(format!("tk-prom-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dialect = tokenkeeper_reqwest::Dialect::vitalgraph("https://vg.example.com").unwrap();
    let plain = tokenkeeper_reqwest::Keeper::builder(dialect.clone())
        .build()
        .unwrap();
    let text = prometheus::render_keeper(&plain);
    check(&text);
    assert!(
        !text.contains("tokenkeeper_store_"),
        "no store, no store metrics"
    );
    let stored = tokenkeeper_reqwest::Keeper::builder(dialect)
        .store(tokenkeeper_reqwest::store::FileStore::new(
            dir.join("tokens.json"),
        ))
        .build()
        .unwrap();
    let text = prometheus::render_keeper(&stored);
    let families = check(&text);
    assert_eq!(families.len(), 15 + 7);
    assert!(text.contains(
        "# TYPE tokenkeeper_store_degraded gauge
tokenkeeper_store_degraded 0
"
    ));
    assert!(text.contains(
        "# TYPE tokenkeeper_store_errors_total counter
tokenkeeper_store_errors_total 0
"
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[should_panic(expected = "invalid Prometheus label name")]
fn a_bad_label_name_is_a_programming_error() {
    let _ = prometheus::render_all(&[Labeled {
        metrics: &Metrics::default(),
        labels: &[("identity-name", "x")],
    }]);
}

#[test]
fn the_checker_refuses_what_the_format_does_not_allow() {
    for bad in [
        "tokenkeeper_x_total 1\n",                                      // no TYPE
        "# TYPE a_total counter\n# TYPE a_total counter\na_total 1\n",  // TYPE twice
        "# HELP a_total x\n# TYPE a_total counter\na_total one\n",      // not a number
        "# HELP a_total x\n# TYPE a_total counter\na_total{l=\"x} 1\n", // open quote
        "# HELP a x\n# TYPE a counter\na 1\n",                          // counter without _total
        "# HELP a_total x\n# TYPE a_total counter\na_total 1",          // no final newline
        "# HELP a x\n# TYPE a gauge\na 1\n# HELP b x\n# TYPE b gauge\nb 1\na 2\n", // not contiguous
    ] {
        assert!(
            std::panic::catch_unwind(|| check(bad)).is_err(),
            "accepted {bad:?}"
        );
    }
}

/// Checks `text` against the text format 0.0.4 (and our conventions): every line a `# HELP`,
/// a `# TYPE` or a sample; each family's HELP and TYPE at most once and before its samples;
/// a family's samples together; metric and label names valid; label values quoted with
/// only `\\`, `\"` and `\n` escapes; values numbers; counters named `_total`; a final
/// newline. Returns the families seen. Panics on the first violation.
fn check(text: &str) -> Vec<String> {
    assert!(text.ends_with('\n'), "no final newline");
    let mut typed: Vec<(String, String)> = Vec::new();
    let mut helped = HashSet::new();
    let mut finished = HashSet::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, _) = rest.split_once(' ').expect("HELP has text");
            assert!(metric_name(name), "bad name {name}");
            assert!(helped.insert(name.to_owned()), "HELP twice for {name}");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE has a type");
            assert!(metric_name(name), "bad name {name}");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "bad type {kind}"
            );
            assert!(
                !typed.iter().any(|(n, _)| n == name),
                "TYPE twice for {name}"
            );
            if kind == "counter" {
                assert!(name.ends_with("_total"), "counter {name} not named _total");
            }
            typed.push((name.to_owned(), kind.to_owned()));
            continue;
        }
        assert!(!line.starts_with('#'), "unexpected comment {line:?}");
        let (name, rest) = split_name(line);
        assert!(metric_name(name), "bad sample name in {line:?}");
        assert!(
            typed.iter().any(|(n, _)| n == name),
            "sample of {name} before its TYPE"
        );
        if current.as_deref() != Some(name) {
            if let Some(prev) = current.take() {
                finished.insert(prev);
            }
            assert!(!finished.contains(name), "samples of {name} not together");
            current = Some(name.to_owned());
        }
        let rest = match rest.strip_prefix('{') {
            Some(labels) => labels_then(labels),
            None => rest,
        };
        let value = rest.strip_prefix(' ').expect("a space before the value");
        let mut parts = value.split(' ');
        let v = parts.next().unwrap();
        assert!(
            v.parse::<f64>().is_ok() || ["NaN", "+Inf", "-Inf"].contains(&v),
            "bad value {v:?}"
        );
        if let Some(ts) = parts.next() {
            ts.parse::<i64>().expect("a timestamp in milliseconds");
        }
        assert!(parts.next().is_none(), "trailing text in {line:?}");
    }
    typed.into_iter().map(|(n, _)| n).collect()
}

fn split_name(line: &str) -> (&str, &str) {
    let end = line
        .find(['{', ' '])
        .expect("a name then labels or a value");
    line.split_at(end)
}

/// Reads `a="x",b="y"}` and returns what follows the `}`.
fn labels_then(mut s: &str) -> &str {
    loop {
        if let Some(rest) = s.strip_prefix('}') {
            return rest;
        }
        let eq = s.find('=').expect("label=value");
        let name = &s[..eq];
        assert!(label_name(name), "bad label name {name:?}");
        s = s[eq + 1..].strip_prefix('"').expect("a quoted label value");
        let mut chars = s.char_indices();
        let end = loop {
            match chars.next().expect("a closing quote") {
                (_, '\\') => {
                    let (_, c) = chars.next().expect("an escaped character");
                    assert!(matches!(c, '\\' | '"' | 'n'), "bad escape \\{c}");
                }
                (i, '"') => break i,
                (_, '\n') => panic!("raw newline in a label value"),
                _ => {}
            }
        };
        s = &s[end + 1..];
        s = s.strip_prefix(',').unwrap_or(s);
    }
}

fn metric_name(name: &str) -> bool {
    let mut c = name.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || f == ':')
        && c.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn label_name(name: &str) -> bool {
    let mut c = name.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
