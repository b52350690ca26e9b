//! Server text the engine keeps in its errors (an auth endpoint's `error` or `detail`, a
//! refused `token_type`) never shows a secret the session knows: a hostile or careless
//! endpoint that echoes what it was sent (`{"detail": "bad password hunter2"}`) would put it
//! into every log line that prints the error. The rule is [`Error`]'s (`crate::error`): the
//! whole text becomes `[redacted]`.

use crate::dialect::{ClientAuth, Endpoint};
use crate::error::Error;
use crate::parse::{self, InvalidAuthResponse};
use crate::secret::Secret;

use super::Session;

impl Session {
    /// Every secret the session knows: what the auth request in flight carried, the password,
    /// the client secrets and sensitive extra headers of both endpoints, and the tokens held.
    fn known_secrets(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        out.extend(self.auth_sent.iter().map(Secret::expose));
        out.extend(self.credentials.password.as_ref().map(Secret::expose));
        if let Some(h) = &self.tokens {
            out.push(h.set.access_token.expose());
            out.extend(h.set.refresh_token.as_ref().map(Secret::expose));
        }
        let endpoints = [&self.dialect.login, &self.dialect.refresh];
        for endpoint in endpoints.into_iter().flatten() {
            endpoint_secrets(endpoint, &mut out);
        }
        out
    }

    /// A server's reason as the engine keeps it: `[redacted]` when it holds a known secret.
    pub(super) fn redact_reason(&self, reason: Option<String>) -> Option<String> {
        reason.map(|r| parse::redact(r, &self.known_secrets()))
    }

    /// An invalid token response as the engine keeps it: a refused `token_type` that holds a
    /// known secret becomes `[redacted]` (the other variants hold no server text).
    pub(super) fn redact_invalid(&self, e: InvalidAuthResponse) -> Error {
        Error::InvalidAuthResponse(match e {
            InvalidAuthResponse::BadTokenType { token_type } => InvalidAuthResponse::BadTokenType {
                token_type: parse::redact(token_type, &self.known_secrets()),
            },
            other => other,
        })
    }
}

/// The client secret and the sensitive extra header values of an endpoint.
fn endpoint_secrets<'a>(endpoint: &'a Endpoint, out: &mut Vec<&'a str>) {
    match &endpoint.client_auth {
        ClientAuth::Basic { client_secret, .. }
        | ClientAuth::Body {
            client_secret: Some(client_secret),
            ..
        } => out.push(client_secret.expose()),
        ClientAuth::Body { .. } | ClientAuth::None => {}
    }
    for (_, value) in &endpoint.headers {
        if value.is_sensitive()
            && let Ok(text) = value.to_str()
        {
            out.push(text);
        }
    }
}
