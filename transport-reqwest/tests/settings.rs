//! Settings as a user writes them: the seed's YAML verbatim, TOML, variables over files,
//! every engine field, and refusals that name the key and the value. Secrets and servers:
//! `settings_secrets.rs`.

use std::time::Duration;

use tokenkeeper_reqwest::Config;
use tokenkeeper_reqwest::core::tokens::refresh_margin;
use tokenkeeper_reqwest::core::{Backoff, CircuitBreaker, Margin, SecondRejection};
use tokenkeeper_reqwest::settings::{Loader, Settings, SettingsError};

/// The seed plan's Phase 4 section, verbatim, inside a larger client configuration.
const SEED_YAML: &str = "\
server:
  url: https://vitalgraph.example.com
  api_base_path: /api
logging:
  level: INFO
client:
  timeout: 30
  max_retries: 3
  token_refresh:
    enabled: true
    buffer_minutes: 5  # Refresh if token expires within this time
    retry_on_401: true  # Retry requests on 401 after refresh
    max_refresh_attempts: 1  # How many times to retry refresh on failure
";

fn message(e: &SettingsError) -> String {
    e.to_string()
}

#[test]
fn the_seed_yaml_loads_unchanged_and_means_what_it_says() {
    let s = Settings::from_yaml(SEED_YAML).unwrap();
    let c = s.config().unwrap();
    assert!(c.enabled);
    assert!(c.retry_on_401);
    assert_eq!(c.margin, Margin::Fixed(Duration::from_mins(5)));
    assert_eq!(c.max_refresh_attempts, 1);
    assert_eq!(c.max_transient_resends, 3);
    assert_eq!(s.request_timeout().unwrap(), Some(Duration::from_secs(30)));
    // Everything else stays the engine's default.
    let expected = Config {
        margin: Margin::Fixed(Duration::from_mins(5)),
        max_refresh_attempts: 1,
        ..Config::default()
    };
    assert_eq!(c, expected);
    // A fixed margin of buffer_minutes, still capped at half the lifetime.
    assert_eq!(
        refresh_margin(Duration::from_mins(30), &c, 0.0),
        Duration::from_mins(5)
    );
    assert_eq!(
        refresh_margin(Duration::from_mins(4), &c, 0.0),
        Duration::from_mins(2)
    );
}

#[test]
fn the_setting_the_doctor_prints_loads_as_printed() {
    // `tokenkeeper doctor` advises this for servers that refuse tokens with a bare 403.
    let s =
        Settings::from_yaml("client:\n  token_refresh:\n    token_rejected_statuses: [401, 403]")
            .unwrap();
    assert_eq!(s.config().unwrap().token_rejected_statuses, vec![401, 403]);
}

#[test]
fn toml_says_the_same_as_yaml() {
    let toml = "\
[server]
url = \"https://vitalgraph.example.com\"

[client]
timeout = 30
max_retries = 3

[client.token_refresh]
enabled = true
buffer_minutes = 5
retry_on_401 = true
max_refresh_attempts = 1
";
    assert_eq!(
        Settings::from_toml(toml).unwrap(),
        Settings::from_yaml(SEED_YAML).unwrap()
    );
}

#[test]
fn variables_override_files_key_by_key() {
    let s = Loader::new()
        .yaml(SEED_YAML)
        .unwrap()
        .env([
            ("TOKENKEEPER_CLIENT__TOKEN_REFRESH__BUFFER_MINUTES", "0.5"),
            (
                "TOKENKEEPER_CLIENT__TOKEN_REFRESH__TOKEN_REJECTED_STATUSES",
                "401, 403",
            ),
            ("PATH", "/usr/bin"),
            ("TOKENKEEPER_PASSWORD", "not read as a key"),
        ])
        .unwrap()
        .load()
        .unwrap();
    let c = s.config().unwrap();
    assert_eq!(c.margin, Margin::Fixed(Duration::from_secs(30)));
    assert_eq!(c.token_rejected_statuses, vec![401, 403]);
    assert_eq!(c.max_transient_resends, 3, "the file's value stays");
    // A later file overrides an earlier one the same way.
    let s = Loader::new()
        .yaml(SEED_YAML)
        .unwrap()
        .toml("[client.token_refresh]\nretry_on_401 = false\n")
        .unwrap()
        .load()
        .unwrap();
    assert!(!s.config().unwrap().retry_on_401);
    assert_eq!(
        s.config().unwrap().margin,
        Margin::Fixed(Duration::from_mins(5))
    );
}

/// Every key that sets an engine field, set to something other than its default.
const EVERY_CONFIG_KEY: &str = "\
client:
  timeout: 12.5
  max_retries: 7
  transient_statuses: [429, 503, 500]
  gateway_statuses: [502]
  retry_non_idempotent_gateway: true
  resend_backoff: { base_ms: 150, factor: 3, cap_ms: 4000, budget_ms: 20000, jitter: false }
  token_refresh:
    enabled: false
    retry_on_401: false
    max_refresh_attempts: 2
    proactive: false
    refresh_ahead: true
    refresh_margin_fraction: 0.2
    refresh_margin_min_ms: 1000
    refresh_margin_max_ms: 120000
    margin_jitter: 0.25
    expiry_floor_ms: 250
    default_lifetime_seconds: 600
    auth_timeout_ms: 15000
    max_auth_retries_per_exchange: 2
    max_stale_generation_resends: 5
    reauth_on_refresh_rejected: false
    second_rejection: fail
    token_rejected_statuses: [401, 403]
    peer_wait_ms: 2500
    auth_backoff: { base_ms: 300, factor: 1.5, cap_ms: 5000, budget_ms: 30000, jitter: false }
    circuit_breaker: { threshold: 9, cool_down_ms: 45000 }
  auth:
    allow_insecure_http: true
";

#[test]
fn every_key_reaches_its_engine_field() {
    let c = Settings::from_yaml(EVERY_CONFIG_KEY)
        .unwrap()
        .config()
        .unwrap();
    let expected = Config {
        enabled: false,
        proactive: false,
        retry_on_401: false,
        margin: Margin::Proportional {
            fraction: 0.2,
            min: Duration::from_secs(1),
            max: Duration::from_mins(2),
        },
        margin_jitter: 0.25,
        expiry_floor: Duration::from_millis(250),
        default_lifetime: Duration::from_mins(10),
        max_auth_retries_per_exchange: 2,
        max_stale_generation_resends: 5,
        max_refresh_attempts: 2,
        auth_timeout: Duration::from_secs(15),
        auth_backoff: Backoff {
            base: Duration::from_millis(300),
            factor: 1.5,
            cap: Duration::from_secs(5),
            budget: Duration::from_secs(30),
            jitter: false,
        },
        max_transient_resends: 7,
        resend_backoff: Backoff {
            base: Duration::from_millis(150),
            factor: 3.0,
            cap: Duration::from_secs(4),
            budget: Duration::from_secs(20),
            jitter: false,
        },
        transient_statuses: vec![429, 503, 500],
        gateway_statuses: vec![502],
        retry_non_idempotent_gateway: true,
        token_rejected_statuses: vec![401, 403],
        second_rejection: SecondRejection::Fail,
        reauth_on_refresh_rejected: false,
        circuit_breaker: CircuitBreaker {
            threshold: 9,
            cool_down: Duration::from_secs(45),
        },
        refresh_ahead: true,
        allow_insecure_http: true,
        ask_for_credentials: false,
        peer_wait: Duration::from_millis(2500),
    };
    assert_eq!(c, expected);
    // The fixed margin in milliseconds.
    let s =
        Settings::from_yaml("client:\n  token_refresh:\n    refresh_margin_ms: 45000\n").unwrap();
    assert_eq!(
        s.config().unwrap().margin,
        Margin::Fixed(Duration::from_secs(45))
    );
}

fn refused(yaml: &str) -> String {
    message(&Settings::from_yaml(yaml).expect_err(yaml))
}

#[test]
fn refusals_name_the_key_and_the_value() {
    let cases = [
        (
            "client:\n  token_refresh:\n    buffer_minutes: -3\n",
            "client.token_refresh.buffer_minutes: -3 is not a number of minutes >= 0",
        ),
        (
            "client:\n  timeout: 0\n",
            "client.timeout: 0 is not a number of seconds > 0",
        ),
        (
            "client:\n  max_retries: -1\n",
            "client.max_retries: -1 is not a whole number within 0..=4294967295",
        ),
        (
            "client:\n  token_refresh:\n    max_refresh_attempts: 0\n",
            "client.token_refresh.max_refresh_attempts: 0 is not a whole number within 1..=4294967295",
        ),
        (
            "client:\n  token_refresh:\n    token_rejected_statuses: [401, 200]\n",
            "client.token_refresh.token_rejected_statuses: 200 is not a 4xx status",
        ),
        (
            "client:\n  token_refresh:\n    refresh_margin_fraction: 0.7\n",
            "client.token_refresh.refresh_margin_fraction: 0.7 is not within 0.0..=0.5",
        ),
        (
            "client:\n  resend_backoff:\n    factor: 0.5\n",
            "client.resend_backoff.factor: 0.5 is not a finite number >= 1",
        ),
        (
            "client:\n  resend_backoff:\n    base_ms: 20000\n",
            "client.resend_backoff.base_ms: 20000 is more than cap_ms (10000)",
        ),
        (
            "client:\n  token_refresh:\n    buffer_minutes: 5\n    refresh_margin_ms: 1000\n",
            "client.token_refresh.refresh_margin_ms: and buffer_minutes both set a fixed margin: keep one",
        ),
        (
            "client:\n  auth:\n    base_url: https://vg.example.com\n    token_expiry_seconds: 3600\n",
            "client.auth.token_expiry_seconds: 3600 is not within 1..=1800",
        ),
        (
            "client:\n  auth:\n    base_url: http://vg.example.com\n",
            "client.auth.base_url: refusing plain-http token endpoint \"http://vg.example.com/api/login\" on a non-loopback host (allow_insecure_http to override)",
        ),
        (
            "client:\n  auth:\n    base_url: https://vg.example.com\n    token_url: https://x.example.com/t\n",
            "client.auth.token_url: is not used by the vitalgraph dialect (set client.auth.dialect for OAuth 2.0)",
        ),
        (
            "client:\n  auth:\n    dialect: oauth2-client-credentials\n    token_url: https://x.example.com/t\n",
            "client.auth.client_id: is missing: the client credentials grant needs one",
        ),
        (
            "client:\n  auth:\n    allowed_origins: [\"files.example.com\"]\n",
            "client.auth.allowed_origins: \"files.example.com\" is not an absolute http(s) URL",
        ),
    ];
    for (yaml, expected) in cases {
        assert_eq!(refused(yaml), expected, "{yaml}");
    }
}

#[test]
fn wrong_types_and_unknown_keys_name_the_key() {
    assert_eq!(
        refused("client:\n  token_refresh:\n    enabled: maybe\n"),
        "client.token_refresh.enabled: invalid type: string \"maybe\", expected a boolean"
    );
    assert_eq!(
        refused("client:\n  token_refresh:\n    second_rejection: never\n"),
        "client.token_refresh.second_rejection: unknown variant `never`, expected `deliver` or `fail`"
    );
    let typo = refused("client:\n  token_refresh:\n    bufer_minutes: 5\n");
    assert!(
        typo.starts_with(
            "client.token_refresh.bufer_minutes: unknown field `bufer_minutes`, expected one of"
        ),
        "{typo}"
    );
    let typo = refused("client:\n  timout: 5\n");
    assert!(
        typo.starts_with("client.timout: unknown field `timout`"),
        "{typo}"
    );
    let store = refused("client:\n  store:\n    kind: cloud\n");
    assert_eq!(
        store,
        "client.store.kind: unknown variant `cloud`, expected one of `memory`, `file`, `redis`"
    );
    let store = refused("client:\n  store:\n    kind: memory\n    path: /tmp/x\n");
    assert!(store.contains("unknown field `path`"), "{store}");
    // Unknown top-level sections belong to the application.
    assert_eq!(
        Settings::from_yaml("vitalgraph:\n  anything: [1, 2]\nclient: {}\n").unwrap(),
        Settings::default()
    );
    assert_eq!(Settings::from_yaml("").unwrap(), Settings::default());
}

#[test]
fn refused_variables_name_the_variable() {
    let e = Loader::new()
        .env([("TOKENKEEPER_CLIENT__TOKEN_REFRESH__BUFFER_MINUTES", "-3")])
        .unwrap()
        .load()
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "client.token_refresh.buffer_minutes (from TOKENKEEPER_CLIENT__TOKEN_REFRESH__BUFFER_MINUTES): -3 is not a number of minutes >= 0"
    );
    assert_eq!(e.path(), Some("client.token_refresh.buffer_minutes"));
    let e = Loader::new()
        .env([("TOKENKEEPER_CLIENT__MAX_RETRIES", "three")])
        .unwrap()
        .load()
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "client.max_retries (from TOKENKEEPER_CLIENT__MAX_RETRIES): invalid type: string \"three\", expected i64"
    );
    let e = Loader::new()
        .env([("TOKENKEEPER_CLIENT__TRANSIENT_STATUSES", "429,x")])
        .unwrap()
        .load()
        .unwrap_err();
    assert!(
        e.to_string().starts_with(
            "client.transient_statuses[1] (from TOKENKEEPER_CLIENT__TRANSIENT_STATUSES): "
        ),
        "{e}"
    );
    let e = Loader::new()
        .env([("TOKENKEEPER_CLIENT__TOKEN_REFRESH__BUFER_MINUTES", "5")])
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "TOKENKEEPER_CLIENT__TOKEN_REFRESH__BUFER_MINUTES names no setting (see docs/CONFIG.md for the variables)"
    );
}

#[test]
fn syntax_errors_say_where_without_quoting_the_file() {
    let secret = "hunter2-in-a-broken-line";
    let yaml = format!(
        "client:\n  credentials:\n    allow_plaintext_secrets: true\n    password: \"{secret}\n  other: [\n"
    );
    let e = Settings::from_yaml(&yaml).unwrap_err();
    let text = e.to_string();
    assert!(
        matches!(e, SettingsError::Syntax { format: "YAML", .. }),
        "{text}"
    );
    assert!(!text.contains(secret), "{text}");
    let toml = format!("[client.credentials]\npassword = \"{secret}\nother = 1\n");
    let e = Settings::from_toml(&toml).unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with("the TOML text is not valid TOML at line 2, column"),
        "{text}"
    );
    assert!(!text.contains(secret), "{text}");
}
