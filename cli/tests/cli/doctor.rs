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
        "PASS  expired token",
        "PASS  proactive refresh",
        "PASS  401 recovery",
    ] {
        assert!(run.stdout.contains(check), "missing {check:?}\n{all}");
    }
    assert!(!run.stdout.contains("FAIL"), "{all}");
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
