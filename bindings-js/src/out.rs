//! Intents as the JS shell reads them: one number (`code + 32 × arg`: the intent, and its
//! exchange handle, operation, event kind or time) and, for those that carry text or bytes,
//! the outbox; errors and events put their numbers in `nums`. The codes are the `case`s of
//! `drain` in `bindings-js/js/keeper.js`.

use http::HeaderName;
use http::header::{ACCEPT, CONTENT_TYPE};
use tokenkeeper_core::{AuthRequest, ConfigError, Error, Event, Metrics, Timestamp, TransportStop};
use tokenkeeper_wasm::machine::Intent;
use zeroize::{Zeroize, Zeroizing};

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
            auth.request.body_mut().zeroize();
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
    let uri = r.uri().to_string();
    let room = r
        .headers()
        .iter()
        .map(|(n, v)| header_name(n).len() + v.len() + 3)
        .sum::<usize>();
    let mut head = Zeroizing::new(Vec::with_capacity(uri.len() + room + 16));
    head.extend_from_slice(r.method().as_str().as_bytes());
    head.push(b'\n');
    head.extend_from_slice(uri.as_bytes());
    head.push(b'\n');
    for (name, value) in r.headers() {
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
/// (`[kind, status, attempts, circuit open, retry at, may have reached the server, stopped]`,
/// NaN where none), its message, and the server's reason after a NUL, in the outbox.
fn error(outbox: &mut Vec<u8>, nums: &mut [f64; 15], error: &Error) {
    let n = |v: Option<u64>| v.map_or(f64::NAN, |v| v as f64);
    let b = |v: bool| f64::from(u8::from(v));
    let mut reason = None;
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
        Error::InvalidAuthResponse(_) => [3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
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
    let message = error.to_string();
    match reason {
        Some(r) => answer(outbox, &[message.as_bytes(), b"\0", r.as_bytes()]),
        None => answer(outbox, &[message.as_bytes()]),
    }
}

fn time(t: Option<Timestamp>) -> Option<u64> {
    t.map(Timestamp::as_millis)
}

/// A refused configuration, in the outbox.
pub(crate) fn config_error(outbox: &mut Vec<u8>, error: &ConfigError) {
    answer(outbox, &[error.to_string().as_bytes()]);
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
            for (n, _) in auth.request.headers() {
                assert!(
                    [CONTENT_TYPE, ACCEPT, AUTHORIZATION].contains(n),
                    "{name}: {n}"
                );
                assert_eq!(header_name(n), n.as_str());
            }
        }
    }
}
