//! Intents as the JS shell reads them: one number (`code + 32 × arg`: the intent, and its
//! exchange handle, operation, event kind or time) and, for those that carry text or bytes,
//! the outbox; errors and events put their numbers in `nums`. The codes are the `case`s of
//! `drain` in `bindings-js/js/keeper.js`.

use http::HeaderName;
use http::header::{ACCEPT, CONTENT_TYPE};
use tokenkeeper_core::parse::InvalidAuthResponse;
use tokenkeeper_core::{AuthRequest, ConfigError, Error, Event, Metrics, Timestamp, TransportStop};
use tokenkeeper_wasm::machine::Intent;
use zeroize::Zeroizing;

use crate::state::answer;

/// The number for an intent; the outbox holds its text. `None` for one the shell does not
/// take (an event it has no name for).
pub(crate) fn encode(outbox: &mut Vec<u8>, nums: &mut [f64; 15], intent: Intent) -> Option<f64> {
    let arg = |code: u32, arg: f64| Some(f64::from(code) + 32.0 * arg);
    match intent {
        Intent::Send { x, authorization } => {
            answer(outbox, &[authorization.as_bytes()]);
            arg(1, x.into())
        }
        Intent::Cut { x } => arg(2, x.into()),
        Intent::Deliver { x } => arg(3, x.into()),
        Intent::Fail { x, error: e } => {
            error(outbox, nums, &e);
            arg(4, x.into())
        }
        Intent::Reject { x } => arg(5, x.into()),
        Intent::Lock => arg(6, 0.0),
        Intent::Unlock => arg(7, 0.0),
        Intent::Peers => arg(8, 0.0),
        Intent::Authenticate(mut auth) => {
            auth_request(outbox, &auth);
            auth.request.wipe_body();
            arg(9, auth.id.as_u64() as f64)
        }
        Intent::AbortAuth { op } => arg(10, op as f64),
        Intent::Ask => arg(11, 0.0),
        Intent::Save(raw) => {
            answer(outbox, &[raw.as_bytes()]);
            arg(12, 0.0)
        }
        Intent::Clear => arg(13, 0.0),
        Intent::Mark(Some(t)) => arg(14, ms(t)),
        Intent::Mark(None) => arg(15, 0.0),
        Intent::Post(message) => {
            answer(outbox, &[message.encode().as_bytes()]);
            arg(16, 0.0)
        }
        Intent::Event(e) => {
            let kind = event(outbox, nums, &e)?;
            arg(17, kind.into())
        }
        Intent::Timer { at, keep_alive } => arg(if keep_alive { 19 } else { 18 }, ms(at)),
        _ => None,
    }
}

fn ms(t: Timestamp) -> f64 {
    t.as_millis() as f64
}

/// `method \n url \n name: value \n ... \n \n body`.
fn auth_request(outbox: &mut Vec<u8>, auth: &AuthRequest) {
    let r = &auth.request;
    let uri = r.url();
    let room = r
        .header_list()
        .iter()
        .map(|(n, v)| header_name(n).len() + v.len() + 3)
        .sum::<usize>();
    let mut head = Zeroizing::new(Vec::with_capacity(uri.len() + room + 16));
    head.extend_from_slice(r.method().as_str().as_bytes());
    head.push(b'\n');
    head.extend_from_slice(uri.as_bytes());
    head.push(b'\n');
    for (name, value) in r.header_list() {
        head.extend_from_slice(header_name(name).as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.push(b'\n');
    }
    head.push(b'\n');
    answer(outbox, &[&head, r.body()]);
}

/// The name of a header the package's dialects put on an auth request. Only these three exist
/// there (the options cannot add others; a test checks every dialect and client authentication
/// the options can build): naming them here keeps `http`'s table of every standard header
/// name out of the module.
fn header_name(name: &HeaderName) -> &'static str {
    if name == CONTENT_TYPE {
        "content-type"
    } else if name == ACCEPT {
        "accept"
    } else {
        "authorization"
    }
}

/// An engine error: its kind (`CODES` in `errors.js`) and details as numbers in `nums`
/// (`[kind, status, attempts, circuit open, retry at, may have reached the server, stopped,
/// reason given, invalid answer, body length, limit]`, NaN where none), and in the outbox the
/// server's reason and, after a NUL, the invalid answer's text (its JSON error, `token_type`
/// or `expires_in` complaint). The shell writes the message (`errorMessage` in `errors.js`:
/// the engine's `Display`, which stays out of the module; a test runs both).
pub(crate) fn error(outbox: &mut Vec<u8>, nums: &mut [f64; 15], error: &Error) {
    let n = |v: Option<u64>| v.map_or(f64::NAN, |v| v as f64);
    let b = |v: bool| f64::from(u8::from(v));
    let mut reason = None;
    let mut invalid = [f64::NAN; 3];
    let mut extra = "";
    let fields: [f64; 7] = match error {
        Error::SessionExpired => [0.0; 7],
        Error::InvalidCredentials { status, reason: r }
        | Error::AuthRejected { status, reason: r } => {
            reason = r.as_deref();
            let kind = if matches!(error, Error::InvalidCredentials { .. }) {
                1.0
            } else {
                2.0
            };
            [kind, f64::from(*status), 0.0, 0.0, 0.0, 0.0, 0.0]
        }
        Error::InvalidAuthResponse(e) => {
            invalid[0] = match e {
                InvalidAuthResponse::EmptyBody => 0.0,
                InvalidAuthResponse::TooLarge { len, limit } => {
                    invalid[1] = *len as f64;
                    invalid[2] = *limit as f64;
                    1.0
                }
                InvalidAuthResponse::Html => 2.0,
                InvalidAuthResponse::NotJson { detail } => {
                    extra = detail;
                    3.0
                }
                InvalidAuthResponse::NotAnObject => 4.0,
                InvalidAuthResponse::MissingAccessToken => 5.0,
                InvalidAuthResponse::BadAccessToken => 6.0,
                InvalidAuthResponse::BadTokenType { token_type } => {
                    extra = token_type;
                    7.0
                }
                InvalidAuthResponse::BadExpiresIn { reason } => {
                    extra = reason;
                    8.0
                }
                InvalidAuthResponse::BadRefreshToken => 9.0,
                _ => 10.0,
            };
            [3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
        }
        Error::AuthUnavailable {
            status,
            attempts,
            circuit_open,
            retry_at,
        } => [
            4.0,
            n(status.map(u64::from)),
            f64::from(*attempts),
            b(*circuit_open),
            n(time(*retry_at)),
            0.0,
            0.0,
        ],
        Error::Transport {
            may_have_reached_server,
            attempts,
            stopped,
        } => [
            5.0,
            0.0,
            f64::from(*attempts),
            0.0,
            0.0,
            b(*may_have_reached_server),
            match stopped {
                TransportStop::NotIdempotent => 0.0,
                TransportStop::NotReplayable => 1.0,
                TransportStop::ResendLimit => 2.0,
                TransportStop::BackoffBudget => 3.0,
                _ => 4.0,
            },
        ],
        Error::Unauthorized { status } => [6.0, f64::from(*status), 0.0, 0.0, 0.0, 0.0, 0.0],
        _ => [7.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    };
    nums[..7].copy_from_slice(&fields);
    nums[7] = b(reason.is_some());
    nums[8..11].copy_from_slice(&invalid);
    answer(
        outbox,
        &[
            reason.unwrap_or_default().as_bytes(),
            b"\0",
            extra.as_bytes(),
        ],
    );
}

fn time(t: Option<Timestamp>) -> Option<u64> {
    t.map(Timestamp::as_millis)
}

/// A refused configuration, in the outbox: its variant (`CONFIG` in `errors.js`, which writes
/// the message: the engine's `Display` stays out of the module), then its URL, field or
/// seconds and its reason, each after a NUL.
pub(crate) fn config_error(outbox: &mut Vec<u8>, error: &ConfigError) {
    let seconds;
    let (variant, a, b): (&[u8], &str, &str) = match error {
        ConfigError::InvalidUrl { url } => (b"0", url, ""),
        ConfigError::InsecureUrl { url } => (b"1", url, ""),
        ConfigError::TokenExpiryOutOfRange { seconds: s } => {
            seconds = s.to_string();
            (b"2", &seconds, "")
        }
        ConfigError::Invalid { field, reason } => (b"3", field, reason),
        ConfigError::InvalidHeaderValue { field } => (b"4", field, ""),
        _ => (b"5", "", ""),
    };
    answer(outbox, &[variant, b"\0", a.as_bytes(), b"\0", b.as_bytes()]);
}

/// An event's kind (`EVENTS` in `keeper.js`) and its times in `nums`; a token set's tokens in
/// the outbox (the refresh token after a NUL).
fn event(outbox: &mut Vec<u8>, nums: &mut [f64; 15], e: &Event) -> Option<u32> {
    let ms = |t: Timestamp| t.as_millis() as f64;
    let (kind, fields) = match e {
        Event::TokensChanged(t) => {
            match &t.refresh_token {
                Some(r) => answer(
                    outbox,
                    &[
                        t.access_token.expose().as_bytes(),
                        b"\0",
                        r.expose().as_bytes(),
                    ],
                ),
                None => answer(outbox, &[t.access_token.expose().as_bytes()]),
            }
            let rt = t.refresh_expires_at.map_or(f64::NAN, ms);
            (1, [ms(t.issued_at), ms(t.expires_at), rt])
        }
        Event::Refreshed { expires_at } => (2, [ms(*expires_at), 0.0, 0.0]),
        Event::LoggedIn {
            expires_at,
            reauthenticated,
        } => (
            3,
            [ms(*expires_at), f64::from(u8::from(*reauthenticated)), 0.0],
        ),
        Event::SessionExpired => (4, [0.0; 3]),
        Event::CircuitOpened { until } => (5, [ms(*until), 0.0, 0.0]),
        _ => return None,
    };
    nums[..3].copy_from_slice(&fields);
    Some(kind)
}

/// `keeper.metrics()` as numbers (the order of `METRICS` in `keeper.js`; NaN for none).
pub(crate) fn metrics(m: &Metrics) -> [f64; 15] {
    let t = |t: Option<Timestamp>| t.map_or(f64::NAN, ms);
    [
        m.requests as f64,
        m.delivered as f64,
        m.failures as f64,
        m.refresh_count as f64,
        m.refresh_failures as f64,
        m.logins as f64,
        m.login_failures as f64,
        m.reauthentications as f64,
        m.unauthorized_resends as f64,
        m.transient_resends as f64,
        m.circuit_opened as f64,
        t(m.last_refresh),
        t(m.token_expires_at),
        f64::from(u8::from(m.is_expired)),
        f64::from(u8::from(m.auth_in_progress)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::AUTHORIZATION;
    use tokenkeeper_core::dialect::{ClientAuth, Credentials, Dialect};
    use tokenkeeper_core::{Config, RequestMeta, Secret, Session};

    /// `errors.js` run by Node on what [`error`] and [`config_error`] hand over, for every
    /// kind of engine error and refused configuration: the messages the engine's `Display`
    /// writes (the module has no `Display` of its own for them).
    #[test]
    fn the_shells_messages_are_the_engines() {
        use tokenkeeper_core::parse::InvalidAuthResponse as I;
        use tokenkeeper_core::{Error as E, TransportStop as S};
        let reason = |r: Option<&str>| r.map(String::from);
        let mut errors = vec![
            E::SessionExpired,
            E::InvalidCredentials {
                status: 401,
                reason: None,
            },
            E::InvalidCredentials {
                status: 400,
                reason: reason(Some("invalid_grant")),
            },
            E::InvalidCredentials {
                status: 400,
                reason: reason(Some("")),
            },
            E::AuthRejected {
                status: 403,
                reason: None,
            },
            E::AuthRejected {
                status: 400,
                reason: reason(Some("a $& b $1 (c)")),
            },
            E::Unauthorized { status: 401 },
            E::UnknownExchange,
        ];
        for i in [
            I::EmptyBody,
            I::TooLarge {
                len: 65_537,
                limit: 65_536,
            },
            I::Html,
            I::NotJson {
                detail: "expected value at line 1 column 1".into(),
            },
            I::NotAnObject,
            I::MissingAccessToken,
            I::BadAccessToken,
            I::BadTokenType {
                token_type: "mac \"x\" \\ $' é 😀".into(),
            },
            I::BadExpiresIn {
                reason: "too large",
            },
            I::BadRefreshToken,
        ] {
            errors.push(E::InvalidAuthResponse(i));
        }
        for (status, attempts, circuit_open) in [
            (None, 0, false),
            (None, 3, false),
            (Some(503), 1, false),
            (Some(429), 4, false),
            (Some(503), 5, true),
        ] {
            errors.push(E::AuthUnavailable {
                status,
                attempts,
                circuit_open,
                retry_at: Some(Timestamp::from_millis(5)),
            });
        }
        for attempts in [0, 1, 2, 3, 7] {
            for reached in [false, true] {
                for stopped in [
                    S::NotIdempotent,
                    S::NotReplayable,
                    S::ResendLimit,
                    S::BackoffBudget,
                ] {
                    errors.push(E::Transport {
                        may_have_reached_server: reached,
                        attempts,
                        stopped,
                    });
                }
            }
        }
        let configs = [
            ConfigError::InvalidUrl {
                url: "not a url\u{1b}[31m\t\"q\"\\".into(),
            },
            ConfigError::InsecureUrl {
                url: "http://example.com/token".into(),
            },
            ConfigError::TokenExpiryOutOfRange { seconds: 1801 },
            ConfigError::Invalid {
                field: "timeout",
                reason: "must be positive",
            },
            ConfigError::InvalidHeaderValue { field: "password" },
        ];
        let num = |v: f64| (!v.is_nan()).then_some(v);
        let text = |outbox: Vec<u8>| String::from_utf8(outbox).unwrap();
        let mut input = Vec::new();
        let mut want = Vec::new();
        for e in &errors {
            let (mut outbox, mut nums) = (Vec::new(), [0.0; 15]);
            error(&mut outbox, &mut nums, e);
            let nums: Vec<_> = nums.iter().map(|&v| num(v)).collect();
            let case = serde_json::json!({ "config": false, "out": text(outbox), "nums": nums });
            input.push(case.to_string());
            want.push(e.to_string());
        }
        for e in &configs {
            let mut outbox = Vec::new();
            config_error(&mut outbox, e);
            let case = serde_json::json!({ "config": true, "out": text(outbox), "nums": [] });
            input.push(case.to_string());
            want.push(e.to_string());
        }
        let errors_js = concat!(env!("CARGO_MANIFEST_DIR"), "/js/errors.js");
        let script = r"
            const vm = require('vm');
            const fs = require('fs');
            const ctx = vm.createContext({});
            vm.runInContext(`let text, numbers;\n${fs.readFileSync(process.argv[1], 'utf8')}
              ;globalThis.run = (c) => { text = () => c.out; numbers = (k) => c.nums.map((v) => (v === null ? NaN : v)).slice(0, k);
                return (c.config ? configError() : engineError()).message; };`, ctx);
            const lines = fs.readFileSync(0, 'utf8').trim().split('\n');
            for (const l of lines) console.log(JSON.stringify(ctx.run(JSON.parse(l))));
        ";
        let mut node = std::process::Command::new("node")
            .args(["-e", script, errors_js])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("node (tools/setup.sh installs it) runs bindings-js/js/errors.js");
        let input = input.join("\n") + "\n";
        std::io::Write::write_all(&mut node.stdin.take().unwrap(), input.as_bytes()).unwrap();
        let out = node.wait_with_output().unwrap();
        assert!(out.status.success());
        let got: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(got, want);
    }

    /// Every dialect and client authentication the package's options can build: its login
    /// request carries only the headers [`header_name`] knows.
    #[test]
    fn the_packages_auth_requests_have_only_the_three_known_headers() {
        let url = "https://auth.example.com/token";
        let clients = || {
            [
                ClientAuth::None,
                ClientAuth::Basic {
                    client_id: "c".into(),
                    client_secret: Secret::new("s"),
                },
                ClientAuth::Body {
                    client_id: "c".into(),
                    client_secret: Some(Secret::new("s")),
                },
                ClientAuth::Body {
                    client_id: "c".into(),
                    client_secret: None,
                },
            ]
        };
        let mut dialects = vec![
            Dialect::vitalgraph("https://vg.example.com").unwrap(),
            Dialect::vitalgraph_with_expiry("https://vg.example.com", 60).unwrap(),
        ];
        for c in clients() {
            dialects.push(Dialect::oauth2_password(url, c, Some("a b")).unwrap());
        }
        for c in clients().into_iter().skip(1) {
            dialects.push(Dialect::oauth2_client_credentials(url, c, None).unwrap());
        }
        for d in dialects {
            let name = d.name.clone();
            let mut s =
                Session::new(Config::default(), d, Credentials::password("u", "p"), 1).unwrap();
            let _ = s.start(
                Timestamp::from_millis(1),
                RequestMeta::new(&http::Method::GET, true),
            );
            let auth = core::iter::from_fn(|| s.poll_action())
                .find_map(|a| match a {
                    tokenkeeper_core::Action::Authenticate(a) => Some(a),
                    _ => None,
                })
                .unwrap();
            for (n, _) in auth.request.header_list() {
                assert!(
                    [CONTENT_TYPE, ACCEPT, AUTHORIZATION].contains(n),
                    "{name}: {n}"
                );
                assert_eq!(header_name(n), n.as_str());
            }
        }
    }
}
