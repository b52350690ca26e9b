//! `tokenkeeper doctor`: passes against the reference server in both dialects, and fails
//! with one clear line against an unreachable port, a wrong password and a web page.

use tokenkeeper_testserver::ServerConfig;

use tokenkeeper_core::Timestamp;
use tokenkeeper_core::parse::format_http_date;

use crate::common::{
    canned_answer, canned_server, closed_port, jwt_with_exp, reference_server, tokenkeeper,
    unix_now,
};

/// A password that must never be printed.
const PASSWORD: &str = "doctor-s3cret-pw";

fn config() -> ServerConfig {
    ServerConfig::default().with_user("doctor", PASSWORD)
}

/// Output holds no password, no client secret and no JWT (they all start with `eyJ`).
fn assert_no_secrets(all: &str) {
    assert!(!all.contains(PASSWORD), "the password was printed\n{all}");
    assert!(
        !all.contains("cli-secret"),
        "the client secret was printed\n{all}"
    );
    assert!(!all.contains("eyJ"), "a token was printed\n{all}");
}

/// A server that answers every request with this JSON token answer and a `Date` of `date`.
fn token_server(access_token: &str, date: u64) -> String {
    canned_answer(
        "application/json",
        format!(
            r#"{{"access_token":"{access_token}","token_type":"bearer","refresh_token":"opaque-refresh-secret"}}"#
        ),
        format!("Date: {}\r\n", format_http_date(Timestamp::from_secs(date))),
    )
}

#[test]
fn passes_against_the_reference_server_and_exercises_the_library() {
    let server = reference_server(config());
    let run = tokenkeeper(
        &["doctor", "--server", &server.url(), "--username", "doctor"],
        &[("TOKENKEEPER_PASSWORD", Some(PASSWORD))],
    );
    let all = run.all();
    assert_eq!(run.code, Some(0), "{all}");
    for check in [
        "PASS  login",
        "PASS  response shape",
        "PASS  refresh token",
        "PASS  expiry",
        "PASS  refresh",
        "PASS  rotation           not seen",
        "PASS  protected probe",
        "PASS  refused token      GET",
        "PASS  previous token     the access token from before the refresh is still accepted",
        "PASS  expired token",
        "PASS  proactive refresh",
        "PASS  401 recovery",
    ] {
        assert!(run.stdout.contains(check), "missing {check:?}\n{all}");
    }
    assert!(!run.stdout.contains("FAIL"), "{all}");
    assert!(!run.stdout.contains("INFO"), "{all}");
    assert!(!run.stdout.contains("token_rejected_statuses"), "{all}");
    assert_no_secrets(&all);
    // The library really refreshed (proactively, and after the 401) and logged in with the
    // short lifetime.
    let c = server.counters();
    assert!(c.refreshes_accepted >= 3, "{c:?}\n{all}");
    assert!(c.protected_unauthorized >= 2, "{c:?}\n{all}");
}

#[test]
fn passes_against_the_oauth2_endpoint_with_a_confidential_client_and_rotation() {
    let server = reference_server(config().with_rotation(true));
    let run = tokenkeeper(
        &[
            "doctor",
            "--dialect",
            "oauth2",
            "--server",
            &server.url(),
            "--username",
            "doctor",
            "--password-env",
            "DOCTOR_PW",
            "--client-id",
            "cli",
            "--client-secret-env",
            "DOCTOR_CLIENT_SECRET",
        ],
        &[
            ("DOCTOR_PW", Some(PASSWORD)),
            ("DOCTOR_CLIENT_SECRET", Some("cli-secret")),
        ],
    );
    let all = run.all();
    assert_eq!(run.code, Some(0), "{all}");
    assert!(
        run.stdout.contains("PASS  rotation           seen"),
        "{all}"
    );
    assert!(run.stdout.contains("PASS  expired token"), "{all}");
    assert!(run.stdout.contains("PASS  401 recovery"), "{all}");
    // OAuth servers have no token_expiry_seconds: that check is skipped, not failed.
    assert!(run.stdout.contains("SKIP  proactive refresh"), "{all}");
    assert!(!all.contains("cli-secret"), "{all}");
    assert_no_secrets(&all);
}

/// The setting a server that refuses with a bare 403 needs, as the doctor must print it.
const YAML: [&str; 3] = [
    "client:",
    "  token_refresh:",
    "    token_rejected_statuses: [401, 403]",
];
const BUILDER: &str = "→ or with the builder: Keeper::builder(dialect).config(Config { \
                       token_rejected_statuses: vec![401, 403], ..Config::default() })";

/// The YAML block is printed once, verbatim under a common indent (copy, dedent, paste), and
/// the builder call once.
fn assert_setting_printed_once(stdout: &str) {
    let lines: Vec<&str> = stdout.lines().collect();
    let starts: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].trim() == YAML[0])
        .collect();
    assert_eq!(starts.len(), 1, "{stdout}");
    let indent = lines[starts[0]].strip_suffix(YAML[0]).expect("an indent");
    assert!(indent.len() > 20 && indent.trim().is_empty(), "{stdout}");
    for (i, yaml) in YAML.iter().enumerate() {
        assert_eq!(
            lines.get(starts[0] + i).copied(),
            Some(format!("{indent}{yaml}").as_str()),
            "{stdout}"
        );
    }
    assert_eq!(stdout.matches(BUILDER).count(), 1, "{stdout}");
    let config_line = lines[starts[0] - 1];
    assert!(
        config_line.ends_with("→ set token_rejected_statuses to [401, 403]; in the config file:"),
        "{stdout}"
    );
}

/// The doctor ran to the end with no failure.
fn run_doctor(server: &tokenkeeper_testserver::TestServer) -> crate::common::Run {
    let run = tokenkeeper(
        &["doctor", "--server", &server.url(), "--username", "doctor"],
        &[("TOKENKEEPER_PASSWORD", Some(PASSWORD))],
    );
    let all = run.all();
    assert_eq!(run.code, Some(0), "{all}");
    assert!(!run.stdout.contains("FAIL"), "{all}");
    assert_no_secrets(&all);
    run
}

#[test]
fn a_server_refusing_with_a_bare_403_gets_the_setting_and_the_library_recovers_with_it() {
    let server = reference_server(config().with_bare_403_refusals(true));
    let run = run_doctor(&server);
    let all = run.all();
    assert!(
        run.stdout
            .contains("WARN  refused token      GET http://127.0.0.1:"),
        "{all}"
    );
    assert!(
        run.stdout.contains(
            "with a damaged copy of the token → a bare 403 without WWW-Authenticate: by default \
             the library takes only 401 as a refused token, and would hand this 403 to the \
             caller instead of refreshing and resending"
        ),
        "{all}"
    );
    assert_setting_printed_once(&run.stdout);
    // No revocation on refresh here.
    assert!(
        run.stdout.contains(
            "PASS  previous token     the access token from before the refresh is still accepted"
        ),
        "{all}"
    );
    // The library, run with the advised statuses, recovers from the 403.
    assert!(
        run.stdout.contains(
            "PASS  403 recovery       the server answered a bare 403 without WWW-Authenticate to \
             a token the library believed valid"
        ),
        "{all}"
    );
    assert!(
        run.stdout.contains(
            "(with token_rejected_statuses [401, 403]) refreshed and resent once → 200 OK"
        ),
        "{all}"
    );
    let c = server.counters();
    assert!(c.protected_forbidden >= 2, "{c:?}\n{all}");
    assert_eq!(c.protected_unauthorized, 0, "{c:?}\n{all}");
}

/// The INFO line about superseded tokens, verbatim.
const SUPERSEDED: &str = "INFO  superseded token   the library resends a request whose token \
    was superseded by a refresh (a 401, or a bare 403, for an older token generation is resent \
    with the new token), so revocation on refresh costs no failed requests once the statuses \
    are right";

#[test]
fn a_server_revoking_the_previous_access_token_on_refresh_is_named() {
    let server = reference_server(config().with_revoke_access_on_rotation(true));
    let run = run_doctor(&server);
    let all = run.all();
    assert!(
        run.stdout.contains(
            "INFO  previous token     the access token from before the refresh is now refused, \
             401 with a Bearer challenge (error: invalid_token): the server revokes the previous \
             access token on refresh"
        ),
        "{all}"
    );
    assert!(run.stdout.contains(SUPERSEDED), "{all}");
    // 401s need no setting.
    assert!(!run.stdout.contains("token_rejected_statuses"), "{all}");
    assert!(run.stdout.contains("PASS  401 recovery"), "{all}");
    assert!(run.stdout.contains("PASS  proactive refresh"), "{all}");
}

#[test]
fn django_oauth_toolkit_defaults_get_the_setting_once_and_the_revocation_note() {
    let server = reference_server(config().django_oauth_toolkit());
    let run = run_doctor(&server);
    let all = run.all();
    assert!(run.stdout.contains("WARN  refused token"), "{all}");
    assert!(
        run.stdout.contains(
            "WARN  previous token     the access token from before the refresh is now refused, \
             a bare 403 without WWW-Authenticate: the server revokes the previous access token \
             on refresh"
        ),
        "{all}"
    );
    assert!(
        run.stdout
            .contains("→ set token_rejected_statuses to [401, 403] as shown above"),
        "{all}"
    );
    assert_setting_printed_once(&run.stdout);
    assert!(run.stdout.contains(SUPERSEDED), "{all}");
    assert!(
        run.stdout.contains("PASS  rotation           seen"),
        "{all}"
    );
    // With the advised statuses, no request of the library's fails on this server.
    assert!(run.stdout.contains("PASS  proactive refresh"), "{all}");
    assert!(run.stdout.contains("PASS  403 recovery"), "{all}");
}

/// The doctor ended with exit code 1, one FAIL line that says `needle`, and nothing after
/// the failed login.
fn assert_fails_clearly(run: &crate::common::Run, needle: &str) {
    let all = run.all();
    assert_eq!(run.code, Some(1), "{all}");
    let fails: Vec<&str> = run.stdout.lines().filter(|l| l.contains("FAIL")).collect();
    assert_eq!(fails.len(), 1, "{all}");
    assert!(
        fails[0].to_lowercase().contains(needle),
        "{needle:?} not in {:?}\n{all}",
        fails[0]
    );
    assert!(!run.stdout.contains("PASS  refresh"), "{all}");
    assert!(run.stdout.contains("1 failed"), "{all}");
    assert_no_secrets(&all);
}

#[test]
fn a_login_answer_whose_jwt_exp_has_passed_fails_with_the_librarys_reason() {
    let now = unix_now();
    // The server's clock is an hour ahead of ours, and by it the token expired a minute ago
    // (on our clock it still looks 59 minutes away).
    let url = token_server(&jwt_with_exp(now + 3540), now + 3600);
    let run = tokenkeeper(
        &["doctor", "--server", &url, "--username", "doctor"],
        &[("TOKENKEEPER_PASSWORD", Some(PASSWORD))],
    );
    let all = run.all();
    assert!(
        run.stdout.contains(
            "FAIL  expiry             the library refuses this login answer: invalid auth \
             response: unusable expires_in: the token is already expired (expiry from the JWT's \
             exp, corrected by the answer's Date)"
        ),
        "{all}"
    );
    assert_fails_clearly(&run, "already expired");
    assert!(!all.contains("opaque-refresh-secret"), "{all}");
}

#[test]
fn a_far_future_jwt_exp_is_printed_as_the_library_clamps_it() {
    let now = unix_now();
    let url = token_server(&jwt_with_exp(now + 300 * 365 * 86_400), now);
    let run = tokenkeeper(
        &["doctor", "--server", &url, "--username", "doctor"],
        &[("TOKENKEEPER_PASSWORD", Some(PASSWORD))],
    );
    let all = run.all();
    assert!(
        run.stdout.contains(
            "WARN  expiry             the library holds the access token 10.0 years (from the \
             JWT's exp, corrected by the answer's Date, capped: the library believes no lifetime \
             over 10.0 years)"
        ),
        "{all}"
    );
    assert!(!all.contains("300.0 years"), "{all}");
    assert_no_secrets(&all);
    assert!(!all.contains("opaque-refresh-secret"), "{all}");
}

#[test]
fn an_unreachable_server_fails_with_one_line() {
    let url = format!("http://127.0.0.1:{}", closed_port());
    let run = tokenkeeper(
        &["doctor", "--server", &url, "--username", "doctor"],
        &[("TOKENKEEPER_PASSWORD", Some(PASSWORD))],
    );
    assert_fails_clearly(&run, "cannot connect");
}

#[test]
fn a_wrong_password_fails_with_the_servers_reason_and_is_not_retried() {
    let server = reference_server(config());
    let run = tokenkeeper(
        &["doctor", "--server", &server.url(), "--username", "doctor"],
        &[("TOKENKEEPER_PASSWORD", Some("not-the-password"))],
    );
    assert_fails_clearly(&run, "incorrect username or password");
    assert!(run.stdout.contains("--password-env"), "{}", run.all());
    let c = server.counters();
    assert_eq!((c.logins_rejected, c.logins_ok), (1, 0), "{c:?}");
}

#[test]
fn a_web_page_instead_of_the_auth_api_fails_clearly() {
    let url = canned_server(
        "text/html; charset=utf-8",
        "<!doctype html><html><body><h1>Welcome to nginx!</h1></body></html>",
    );
    let run = tokenkeeper(
        &["doctor", "--server", &url, "--username", "doctor"],
        &[("TOKENKEEPER_PASSWORD", Some(PASSWORD))],
    );
    assert_fails_clearly(&run, "html page");
}

#[test]
fn a_non_json_answer_fails_clearly() {
    let url = canned_server("text/plain", "ok");
    let run = tokenkeeper(
        &["doctor", "--server", &url, "--username", "doctor"],
        &[("TOKENKEEPER_PASSWORD", Some(PASSWORD))],
    );
    assert_fails_clearly(&run, "not json");
}

#[test]
fn a_missing_password_variable_is_a_usage_error() {
    let run = tokenkeeper(
        &[
            "doctor",
            "--server",
            "http://127.0.0.1:1",
            "--username",
            "doctor",
        ],
        &[],
    );
    assert_eq!(run.code, Some(2), "{}", run.all());
    assert!(run.stderr.contains("TOKENKEEPER_PASSWORD"), "{}", run.all());
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.all());
}
