//! Intents as the JS shell reads them: one number (`code + 32 × arg`: the intent, and its
//! exchange handle, operation, event kind or time) and, for those that carry text or bytes,
//! the outbox. Errors and event payloads are JSON (read with `JSON.parse`); the codes are
//! `INTENT` in `bindings-js/js/keeper.js`.

use http::HeaderName;
use http::header::{ACCEPT, CONTENT_TYPE};
use tokenkeeper_core::{
    AuthRequest, ConfigError, Error, Event, Metrics, Timestamp, TokenSet, TransportStop,
};
use tokenkeeper_wasm::machine::Intent;
use zeroize::{Zeroize, Zeroizing};

use crate::state::answer;

/// The number for an intent; the outbox holds its text. `None` for one the shell does not
/// take (an event it has no name for).
pub(crate) fn encode(outbox: &mut Vec<u8>, intent: Intent) -> Option<f64> {
    let arg = |code: u32, arg: f64| Some(f64::from(code) + 32.0 * arg);
    match intent {
        Intent::Send { x, authorization } => {
            answer(outbox, &[authorization.as_bytes()]);
            arg(1, x.into())
        }
        Intent::Cut { x } => arg(2, x.into()),
        Intent::Deliver { x } => arg(3, x.into()),
        Intent::Fail { x, error } => {
            answer(outbox, &[error_json(&error).as_bytes()]);
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
        Intent::Event(event) => {
            let (kind, json) = event_json(&event)?;
            answer(outbox, &[json.as_bytes()]);
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

/// A JSON object, written with room for what it will hold (it may hold tokens: wiped).
pub(crate) struct Json(Zeroizing<String>);

impl Json {
    pub(crate) fn new(room: usize) -> Json {
        let mut s = Zeroizing::new(String::with_capacity(room + 128));
        s.push('{');
        Json(s)
    }

    fn key(&mut self, key: &str) -> &mut String {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        self.0.push('"');
        self.0.push_str(key);
        self.0.push_str("\":");
        &mut self.0
    }

    pub(crate) fn str(mut self, key: &str, value: Option<&str>) -> Json {
        let out = self.key(key);
        match value {
            None => out.push_str("null"),
            Some(v) => {
                out.push('"');
                for c in v.chars() {
                    match c {
                        '"' | '\\' => {
                            out.push('\\');
                            out.push(c);
                        }
                        c if u32::from(c) < 0x20 => out.push(' '),
                        c => out.push(c),
                    }
                }
                out.push('"');
            }
        }
        self
    }

    pub(crate) fn num(mut self, key: &str, value: Option<u64>) -> Json {
        let out = self.key(key);
        match value {
            None => out.push_str("null"),
            Some(n) => {
                let mut digits = [0u8; 20];
                let mut at = digits.len();
                let mut n = n;
                loop {
                    at -= 1;
                    digits[at] = b'0' + (n % 10) as u8;
                    n /= 10;
                    if n == 0 {
                        break;
                    }
                }
                out.push_str(core::str::from_utf8(&digits[at..]).unwrap_or("0"));
            }
        }
        self
    }

    pub(crate) fn bool(mut self, key: &str, value: bool) -> Json {
        self.key(key).push_str(if value { "true" } else { "false" });
        self
    }

    pub(crate) fn end(mut self) -> Zeroizing<String> {
        self.0.push('}');
        self.0
    }
}

fn time(t: Option<Timestamp>) -> Option<u64> {
    t.map(Timestamp::as_millis)
}

/// An engine error: `code`, `message` and the details each kind carries.
fn error_json(error: &Error) -> Zeroizing<String> {
    let message = error.to_string();
    let j = |code: &str| {
        Json::new(message.len())
            .str("code", Some(code))
            .str("message", Some(&message))
    };
    match error {
        Error::SessionExpired => j("SESSION_EXPIRED"),
        Error::InvalidCredentials { status, reason } => j("INVALID_CREDENTIALS")
            .num("status", Some((*status).into()))
            .str("reason", reason.as_deref()),
        Error::AuthRejected { status, reason } => j("AUTH_REJECTED")
            .num("status", Some((*status).into()))
            .str("reason", reason.as_deref()),
        Error::InvalidAuthResponse(_) => j("INVALID_AUTH_RESPONSE"),
        Error::AuthUnavailable {
            status,
            attempts,
            circuit_open,
            retry_at,
        } => j("AUTH_UNAVAILABLE")
            .num("status", status.map(u64::from))
            .num("attempts", Some((*attempts).into()))
            .bool("circuitOpen", *circuit_open)
            .num("retryAt", time(*retry_at)),
        Error::Transport {
            may_have_reached_server,
            attempts,
            stopped,
        } => j("TRANSPORT")
            .bool("mayHaveReachedServer", *may_have_reached_server)
            .num("attempts", Some((*attempts).into()))
            .str(
                "stopped",
                Some(match stopped {
                    TransportStop::NotIdempotent => "notIdempotent",
                    TransportStop::NotReplayable => "notReplayable",
                    TransportStop::ResendLimit => "resendLimit",
                    TransportStop::BackoffBudget => "backoffBudget",
                    _ => "other",
                }),
            ),
        Error::Unauthorized { status } => j("UNAUTHORIZED").num("status", Some((*status).into())),
        _ => j("INTERNAL"),
    }
    .end()
}

/// A refused configuration, in the outbox.
pub(crate) fn config_error(outbox: &mut Vec<u8>, error: &ConfigError) {
    answer(outbox, &[error.to_string().as_bytes()]);
}

/// A token set as JS sees it (the `tokens` event).
fn tokens_json(t: &TokenSet) -> Zeroizing<String> {
    let room =
        t.access_token.expose().len() + t.refresh_token.as_ref().map_or(0, |r| r.expose().len());
    Json::new(room)
        .str("accessToken", Some(t.access_token.expose()))
        .str(
            "refreshToken",
            t.refresh_token
                .as_ref()
                .map(tokenkeeper_core::Secret::expose),
        )
        .num("issuedAt", Some(t.issued_at.as_millis()))
        .num("expiresAt", Some(t.expires_at.as_millis()))
        .num("refreshExpiresAt", time(t.refresh_expires_at))
        .end()
}

/// An event's kind (`EVENTS` in `keeper.js`) and payload.
fn event_json(e: &Event) -> Option<(u32, Zeroizing<String>)> {
    Some(match e {
        Event::TokensChanged(t) => (1, tokens_json(t)),
        Event::Refreshed { expires_at } => (
            2,
            Json::new(0)
                .num("expiresAt", Some(expires_at.as_millis()))
                .end(),
        ),
        Event::LoggedIn {
            expires_at,
            reauthenticated,
        } => (
            3,
            Json::new(0)
                .num("expiresAt", Some(expires_at.as_millis()))
                .bool("reauthenticated", *reauthenticated)
                .end(),
        ),
        Event::SessionExpired => (4, Json::new(0).end()),
        Event::CircuitOpened { until } => {
            (5, Json::new(0).num("until", Some(until.as_millis())).end())
        }
        _ => return None,
    })
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
