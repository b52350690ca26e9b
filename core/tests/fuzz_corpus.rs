//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`, regression inputs included)
//! through the same checks as the fuzz targets (`tests/checks/`), so every run checks it on
//! stable without `cargo fuzz`.

#[allow(dead_code)]
mod checks;
#[allow(dead_code)]
#[path = "checks/engine.rs"]
mod engine;
/// The property model, whose modules expect `inputs` and `model` at the crate root. (An inline
/// module with a `#[path]` directory, so that `model.rs` finds its own `model/` files.)
#[path = "properties"]
mod properties {
    #[allow(dead_code)]
    pub(crate) mod inputs;
    #[allow(dead_code)]
    pub(crate) mod model;
}
use properties::{inputs, model};

use std::path::{Path, PathBuf};

/// A fuzz target's check: panics on a finding.
type Check = fn(&[u8]);

/// The fuzz targets and their checks.
const TARGETS: &[(&str, Check)] = &[
    ("auth_error", checks::error_body::check_auth_error),
    ("engine", engine::check_engine),
    ("http_date", checks::date::check_http_date),
    ("json", checks::json::check_json),
    ("jwt_exp", checks::jwt::check_jwt),
    ("retry_after", checks::date::check_retry_after),
    ("token_response", checks::token::check_token_response),
    (
        "www_authenticate",
        checks::challenge::check_www_authenticate,
    ),
];

fn corpus(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

/// The files in `dir` (none if it does not exist), sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Every file of every target's corpus, and every regression input (`fuzz/regressions/`),
/// passes its target's check.
#[test]
fn every_corpus_file_passes_its_check() {
    let regressions = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions");
    let mut failures = Vec::new();
    for &(target, check) in TARGETS {
        let corpus = files(&corpus(target));
        assert!(!corpus.is_empty(), "the {target} corpus is empty");
        for file in corpus.into_iter().chain(files(&regressions.join(target))) {
            let data = std::fs::read(&file).unwrap();
            if let Err(panic) = std::panic::catch_unwind(|| check(&data)) {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                failures.push(format!("{target}: {}: {msg}", file.display()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} corpus files fail:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Every fuzz target has a corpus here, and every corpus a target.
#[test]
fn every_target_has_a_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut targets: Vec<String> = std::fs::read_dir(root.join("fuzz_targets"))
        .unwrap()
        .map(|e| {
            e.unwrap()
                .path()
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    targets.sort();
    let ours: Vec<&str> = TARGETS.iter().map(|(t, _)| *t).collect();
    assert_eq!(targets, ours);
    for t in ours {
        assert!(corpus(t).is_dir(), "no corpus for {t}");
    }
}

/// The engine check on a hand-built case: the password, the client secret and the tokens held,
/// echoed by the auth endpoint, are redacted from the errors (the model fills in `$P`, `$C`,
/// `$a`, `$r`); and the check catches a text that does show a secret.
#[test]
fn echoed_secrets_are_redacted_and_a_leak_is_caught() {
    use http::HeaderMap;
    use inputs::{Answer, Case, Op};
    let start = Op::Start {
        post: false,
        replayable: true,
        leased: false,
    };
    let raw = |status: u16, body: &str| Op::AuthRaw {
        status,
        headers: HeaderMap::new(),
        body: body.as_bytes().to_vec(),
        superseded: false,
    };
    let tokens =
        r#"{"access_token":"a1-SECRET-tok","refresh_token":"r1-SECRET-tok","expires_in":60}"#;
    let case = Case {
        policy: 0,
        dialect: 2, // OAuth 2 password grant with a Basic client secret
        ask: false,
        seed: 1,
        ops: vec![
            start.clone(),
            raw(401, r#"{"detail":"bad password $P"}"#),
            Op::Provide {
                answer: Answer::Good,
            },
            start.clone(),
            raw(400, r#"{"error":"invalid_client $C"}"#),
            Op::Provide {
                answer: Answer::Good,
            },
            start.clone(),
            raw(200, tokens),
            Op::RespondAll { status: 200 },
            Op::Advance { ms: 120_000 },
            start,
            raw(403, r#"{"detail":"token $r (access $a)"}"#),
        ],
    };
    let secrets = checks::secrets::known_secrets(tokens.as_bytes());
    assert_eq!(secrets.len(), 2);
    let transcript = engine::run(&case, &secrets);
    let redacted: Vec<&String> = transcript
        .iter()
        .filter(|l| l.contains(r#"reason: Some("[redacted]")"#))
        .collect();
    // Each refusal fails its waiter and is reported once as an event: both redacted.
    let fails = redacted
        .iter()
        .filter(|l| l.trim_start().starts_with("Fail("))
        .count();
    assert_eq!((fails, redacted.len()), (3, 6), "{}", transcript.join("\n"));
    let leak = std::panic::catch_unwind(|| engine::run(&case, &["login refused".to_owned()]));
    assert!(
        leak.is_err(),
        "a secret shown in a failure's Display must be caught"
    );
}
