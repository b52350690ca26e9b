//! What an outcome means, before any state is touched: a response to a sent request, a send
//! error, or an auth endpoint's answer. Each is a small table in the manner of h11's
//! transition tables, indexed by what the engine knows of the request (or the auth operation)
//! and the class of the outcome, with the few special cases beside it. `handle_response`,
//! `handle_send_error` and `handle_auth_response` act on the verdicts; the rows of the decision
//! table in `core/README.md` are these cells.

use http::StatusCode;

use super::SendFailure;
use crate::action::{AuthKind, RequestMeta};
use crate::config::Config;
use crate::parse::AuthErrorBody;
use crate::status_set::StatusSet;

// ---- the request's shape -----------------------------------------------------------------

/// What resending a request would mean: its body can be sent again (replayable) or not
/// (streaming), and its method may run twice (idempotent) or not. The tables' columns.
#[derive(Clone, Copy)]
enum Shape {
    Idempotent,
    NotIdempotent,
    StreamingIdempotent,
    StreamingNotIdempotent,
}

impl Shape {
    fn of(meta: RequestMeta) -> Shape {
        match (meta.replayable, meta.idempotent) {
            (true, true) => Shape::Idempotent,
            (true, false) => Shape::NotIdempotent,
            (false, true) => Shape::StreamingIdempotent,
            (false, false) => Shape::StreamingNotIdempotent,
        }
    }
}

// ---- responses to sent requests ------------------------------------------------------------

/// The class of a response status, from the configured lists.
#[derive(Clone, Copy)]
enum Class {
    /// `token_rejected_statuses` (401), with automatic refresh on.
    Rejected,
    /// `transient_statuses` (429, 503), and `gateway_statuses` with
    /// `retry_non_idempotent_gateway`.
    Transient,
    /// `gateway_statuses` (502, 504).
    Gateway,
    /// 403 in none of the lists, with automatic refresh and `retry_on_401` on.
    Forbidden,
    /// Anything else (2xx, 3xx, other 4xx and 5xx).
    Other,
}

/// What the engine makes of a response.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Verdict {
    /// The token was refused: refresh and resend, resend with a newer token, or deliver
    /// (`on_rejected` decides by generation, challenge and counters).
    Rejected,
    /// A transient failure: back off and resend, or deliver once the limits are reached.
    Transient,
    /// A 403 that may answer a superseded token: resent when it was sent with an older
    /// generation and has no Bearer challenge, else delivered (`on_forbidden`).
    Forbidden,
    /// Delivered as it is.
    Final,
}

/// `RESPONSE[class][shape]`.
const RESPONSE: [[Verdict; 4]; 5] = {
    use Verdict::{Final, Forbidden, Rejected, Transient};
    [
        // Idempotent, NotIdempotent, StreamingIdempotent, StreamingNotIdempotent
        [Rejected, Rejected, Rejected, Rejected], // Rejected: even a streaming one's token is
        // marked (on_rejected delivers it)
        [Transient, Transient, Final, Final], // Transient
        [Transient, Final, Final, Final],     // Gateway: a POST may have run
        [Forbidden, Forbidden, Final, Final], // Forbidden
        [Final, Final, Final, Final],         // Other
    ]
};

/// How the engine sorts the response to a sent request: the part of
/// [`Session::handle_response`](super::Session::handle_response)'s decision that depends only
/// on the configuration.
#[derive(Clone, Copy, Debug)]
pub struct ResponseRules {
    retry_non_idempotent_gateway: bool,
    /// The `Forbidden` class exists (see [`Class::Forbidden`]).
    superseded_403: bool,
    /// Every status that may need a decision: one lookup sorts out the rest (2xx).
    judged: StatusSet,
    /// `config.token_rejected_statuses` (empty with automatic refresh off),
    /// `transient_statuses`, `gateway_statuses` as bitmaps.
    rejected: StatusSet,
    transient: StatusSet,
    gateway: StatusSet,
}

impl ResponseRules {
    pub(super) fn new(config: &Config) -> Self {
        let rejected = if config.enabled {
            StatusSet::new(&config.token_rejected_statuses)
        } else {
            StatusSet::default()
        };
        let transient = StatusSet::new(&config.transient_statuses);
        let gateway = StatusSet::new(&config.gateway_statuses);
        // A 403 listed somewhere follows its list.
        let superseded_403 = config.enabled
            && config.retry_on_401
            && ![&rejected, &transient, &gateway]
                .iter()
                .any(|set| set.contains(403));
        let mut judged: Vec<u16> = config
            .token_rejected_statuses
            .iter()
            .chain(&config.transient_statuses)
            .chain(&config.gateway_statuses)
            .copied()
            .collect();
        if superseded_403 {
            judged.push(403);
        }
        ResponseRules {
            retry_non_idempotent_gateway: config.retry_non_idempotent_gateway,
            superseded_403,
            judged: StatusSet::new(&judged),
            rejected,
            transient,
            gateway,
        }
    }

    fn class(&self, code: u16) -> Class {
        if self.rejected.contains(code) {
            Class::Rejected
        } else if self.transient.contains(code) {
            Class::Transient
        } else if self.gateway.contains(code) {
            // The opt-in makes a gateway status transient for every method.
            if self.retry_non_idempotent_gateway {
                Class::Transient
            } else {
                Class::Gateway
            }
        } else if code == 403 && self.superseded_403 {
            Class::Forbidden
        } else {
            Class::Other
        }
    }

    pub(super) fn verdict(&self, code: u16, meta: RequestMeta) -> Verdict {
        if !self.judged.contains(code) {
            return Verdict::Final; // the hot path: a 2xx is one lookup
        }
        RESPONSE[self.class(code) as usize][Shape::of(meta) as usize]
    }

    /// Whether a response with this status ends the exchange as it is, whatever the session's
    /// state: [`Session::handle_response`](super::Session::handle_response) would `Deliver` it
    /// without touching the tokens, the auth operation or any counter but `delivered`. A 403
    /// for a request that could be resent is not: it may answer a token generation that has
    /// since been replaced (the engine resends it), which only the engine can tell.
    #[must_use]
    pub fn delivers_as_is(&self, status: StatusCode, meta: RequestMeta) -> bool {
        self.verdict(status.as_u16(), meta) == Verdict::Final
    }
}

// ---- send errors ---------------------------------------------------------------------------

/// What the engine makes of a request that failed without a response.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum SendVerdict {
    /// Back off and resend (`on_transient`, which stops at the limits, and for a body that
    /// cannot be replayed).
    Resend,
    /// It may have run on the server and may not run twice: fail with
    /// `TransportStop::NotIdempotent`.
    NotIdempotent,
}

/// `SEND_ERROR[failure][shape]`.
const SEND_ERROR: [[SendVerdict; 4]; 2] = {
    use SendVerdict::{NotIdempotent, Resend};
    [
        // Idempotent, NotIdempotent, StreamingIdempotent, StreamingNotIdempotent
        [Resend, Resend, Resend, Resend], // NotSent: nothing ran anywhere
        [Resend, NotIdempotent, Resend, NotIdempotent], // MaybeSent
    ]
};

pub(super) fn send_error(failure: SendFailure, meta: RequestMeta) -> SendVerdict {
    let row = match failure {
        SendFailure::NotSent => 0,
        SendFailure::MaybeSent => 1,
    };
    SEND_ERROR[row][Shape::of(meta) as usize]
}

// ---- auth answers --------------------------------------------------------------------------

/// The class of an auth endpoint's answer.
#[derive(Clone, Copy)]
enum AuthClass {
    /// 2xx.
    Success,
    /// 429 or 5xx.
    Unavailable,
    /// 400.
    BadRequest,
    /// 401.
    Unauthorized,
    /// Anything else (1xx, 3xx, other 4xx).
    Other,
}

impl AuthClass {
    fn of(status: StatusCode) -> AuthClass {
        match status.as_u16() {
            200..=299 => AuthClass::Success,
            429 | 500..=599 => AuthClass::Unavailable,
            400 => AuthClass::BadRequest,
            401 => AuthClass::Unauthorized,
            _ => AuthClass::Other,
        }
    }
}

/// What the engine makes of an auth endpoint's answer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum AuthVerdict {
    /// Parse the token response.
    Tokens,
    /// Back off and retry (`Retry-After` is a floor), within `max_refresh_attempts`.
    Transient,
    /// The refresh token is dead: drop it, log in again or end the session.
    GrantRejected,
    /// A refresh answered 400: [`AuthVerdict::GrantRejected`] when the body says
    /// `invalid_grant`, else [`AuthVerdict::Rejected`] (see [`AuthVerdict::refine`]).
    GrantRejectedIfInvalidGrant,
    /// The credentials were refused: `InvalidCredentials`, never retried.
    CredentialsRefused,
    /// A configuration problem on one side or the other: `AuthRejected`.
    Rejected,
}

/// `AUTH[class][kind]`.
const AUTH: [[AuthVerdict; 2]; 5] = {
    use AuthVerdict::{
        CredentialsRefused, GrantRejected, GrantRejectedIfInvalidGrant, Rejected, Tokens, Transient,
    };
    [
        // Login, Refresh
        [Tokens, Tokens],                                  // Success
        [Transient, Transient],                            // Unavailable
        [CredentialsRefused, GrantRejectedIfInvalidGrant], // BadRequest
        [CredentialsRefused, GrantRejected],               // Unauthorized
        [Rejected, Rejected],                              // Other
    ]
};

pub(super) fn auth_answer(kind: AuthKind, status: StatusCode) -> AuthVerdict {
    let column = match kind {
        AuthKind::Login => 0,
        AuthKind::Refresh => 1,
    };
    AUTH[AuthClass::of(status) as usize][column]
}

impl AuthVerdict {
    /// The special case beside the table: a refresh's 400 is a dead grant only when the error
    /// body says `invalid_grant` (else `invalid_client`, `unsupported_grant_type`...: a
    /// configuration problem).
    pub(super) fn refine(self, body: &AuthErrorBody) -> AuthVerdict {
        match self {
            AuthVerdict::GrantRejectedIfInvalidGrant if body.is_invalid_grant() => {
                AuthVerdict::GrantRejected
            }
            AuthVerdict::GrantRejectedIfInvalidGrant => AuthVerdict::Rejected,
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use http::Method;

    use super::*;

    fn meta(method: &Method, replayable: bool) -> RequestMeta {
        RequestMeta::new(method, replayable)
    }

    #[test]
    fn response_rules_table() {
        use Verdict::{Final as F, Forbidden as B, Rejected as R, Transient as T};
        let d = Config::default();
        let opt_in = Config {
            retry_non_idempotent_gateway: true,
            ..Config::default()
        };
        let with_403 = Config {
            token_rejected_statuses: vec![401, 403],
            ..Config::default()
        };
        let off = Config {
            enabled: false,
            ..Config::default()
        };
        let no_retry = Config {
            retry_on_401: false,
            ..Config::default()
        };
        let gateway_403 = Config {
            gateway_statuses: vec![403, 502],
            ..Config::default()
        };
        // (config, status, [GET, POST, streaming GET, streaming POST])
        let table: &[(&Config, u16, [Verdict; 4])] = &[
            (&d, 200, [F, F, F, F]),
            (&d, 304, [F, F, F, F]),
            (&d, 401, [R, R, R, R]),
            (&d, 403, [B, B, F, F]),
            (&d, 404, [F, F, F, F]),
            (&d, 429, [T, T, F, F]),
            (&d, 500, [F, F, F, F]),
            (&d, 502, [T, F, F, F]),
            (&d, 503, [T, T, F, F]),
            (&d, 504, [T, F, F, F]),
            (&opt_in, 502, [T, T, F, F]),
            (&with_403, 403, [R, R, R, R]),
            (&off, 401, [F, F, F, F]),
            (&off, 403, [F, F, F, F]),
            (&off, 503, [T, T, F, F]),
            (&no_retry, 401, [R, R, R, R]),
            (&no_retry, 403, [F, F, F, F]),
            (&gateway_403, 403, [T, F, F, F]),
        ];
        let shapes = [
            meta(&Method::GET, true),
            meta(&Method::POST, true),
            meta(&Method::GET, false),
            meta(&Method::POST, false),
        ];
        for (config, status, want) in table {
            let rules = ResponseRules::new(config);
            for (shape, want) in shapes.iter().zip(want) {
                assert_eq!(rules.verdict(*status, *shape), *want, "{status} {shape:?}");
            }
        }
    }

    #[test]
    fn send_error_table() {
        use SendVerdict::{NotIdempotent as N, Resend as R};
        let table = [
            (SendFailure::NotSent, [R, R, R, R]),
            (SendFailure::MaybeSent, [R, N, R, N]),
        ];
        for (failure, want) in table {
            let got = [
                send_error(failure, meta(&Method::GET, true)),
                send_error(failure, meta(&Method::POST, true)),
                send_error(failure, meta(&Method::GET, false)),
                send_error(failure, meta(&Method::POST, false)),
            ];
            assert_eq!(got, want, "{failure:?}");
        }
    }

    #[test]
    fn auth_answer_table() {
        use AuthVerdict::{
            CredentialsRefused as C, GrantRejected as G, GrantRejectedIfInvalidGrant as I,
            Rejected as X, Tokens as K, Transient as T,
        };
        // (status, login, refresh)
        let table = [
            (200, K, K),
            (201, K, K),
            (204, K, K),
            (302, X, X),
            (400, C, I),
            (401, C, G),
            (403, X, X),
            (404, X, X),
            (429, T, T),
            (500, T, T),
            (503, T, T),
            (599, T, T),
        ];
        for (status, login, refresh) in table {
            let status = StatusCode::from_u16(status).unwrap();
            assert_eq!(auth_answer(AuthKind::Login, status), login, "{status}");
            assert_eq!(auth_answer(AuthKind::Refresh, status), refresh, "{status}");
        }
        let invalid_grant = crate::parse::parse_auth_error(br#"{"error":"invalid_grant"}"#);
        let invalid_client = crate::parse::parse_auth_error(br#"{"error":"invalid_client"}"#);
        assert_eq!(I.refine(&invalid_grant), G);
        assert_eq!(I.refine(&invalid_client), X);
        assert_eq!(C.refine(&invalid_grant), C);
    }
}
