//! Judging a login or refresh answer exactly as the library will: the answer is handed to a
//! throwaway engine session (`tokenkeeper_core::Session`, the code every driver runs), which
//! parses it, resolves the expiry (`expires_in`, else the JWT `exp` corrected by the answer's
//! `Date`, else `Config::default_lifetime`; clamped as the engine clamps) and keeps it or
//! refuses it. Nothing here restates the engine's rules.

use std::time::Duration;

use http::{HeaderMap, Method, StatusCode};
use tokenkeeper_core::dialect::{Credentials, Dialect};
use tokenkeeper_core::parse::{ExpirySource, parse_token_response, resolve_expiry};
use tokenkeeper_core::{
    Action, AuthKind, Config, Error, RequestMeta, Session, Timestamp, TokenSet,
};

/// An answer the library accepts: the tokens it would hold, and where their expiry came from.
#[derive(Debug, Clone)]
pub(crate) struct Judged {
    /// The token set the library would hold (its `expires_at` is the one the library uses).
    pub(crate) tokens: TokenSet,
    /// Which rule gave the expiry.
    pub(crate) source: ExpirySource,
}

impl Judged {
    /// How long the library holds the access token.
    pub(crate) fn lifetime(&self) -> Duration {
        self.tokens.lifetime()
    }
}

/// What the engine made of an answer.
#[derive(Debug)]
pub(crate) enum Judgement {
    /// It keeps the tokens.
    Kept(Judged),
    /// It refuses the answer, and fails the waiting callers with this error.
    Refused(Error),
}

/// The answer to a login (`held: None`) or to a refresh of `held`, received at `now`, judged
/// by the engine with `config`. `Err` only when the engine could not be set up to judge it
/// (a configuration the doctor should have refused first).
pub(crate) fn judge(
    config: &Config,
    dialect: &Dialect,
    credentials: &Credentials,
    held: Option<&TokenSet>,
    now: Timestamp,
    answer: (StatusCode, &HeaderMap, &[u8]),
) -> Result<Judgement, String> {
    let (status, headers, body) = answer;
    let not_judged = |why: &str| format!("the doctor could not replay the answer: {why}");
    let mut session = Session::new(config.clone(), dialect.clone(), credentials.clone(), 0)
        .map_err(|e| not_judged(&e.to_string()))?;
    let want = if let Some(held) = held {
        // A held token already expired: the next request makes the engine refresh first.
        let mut stale = held.clone();
        stale.issued_at = now.saturating_sub(Duration::from_secs(7200));
        stale.expires_at = now.saturating_sub(Duration::from_secs(3600));
        session
            .set_tokens(now, stale)
            .map_err(|e| not_judged(&e.to_string()))?;
        session.start(now, RequestMeta::new(&Method::GET, true));
        AuthKind::Refresh
    } else {
        session.login(now);
        AuthKind::Login
    };
    let mut asked = None;
    while let Some(action) = session.poll_action() {
        if let Action::Authenticate(auth) = action {
            asked = Some(auth);
        }
    }
    let auth = asked
        .filter(|a| a.kind == want)
        .ok_or_else(|| not_judged("the engine asked for no such request"))?;
    session.handle_auth_response(now, auth.id, status, headers, body);
    let mut outcome = None;
    while let Some(action) = session.poll_action() {
        match action {
            Action::Fail { error, .. } => outcome = Some(Err(error)),
            Action::Deliver { .. } | Action::Send { .. } => outcome = Some(Ok(())),
            _ => {}
        }
    }
    match outcome {
        None => return Err(not_judged("the engine gave no outcome")),
        Some(Err(error)) => return Ok(Judgement::Refused(error)),
        Some(Ok(())) => {}
    }
    let tokens = session
        .tokens()
        .cloned()
        .ok_or_else(|| not_judged("the engine holds no token"))?;
    // The call the engine made to get `tokens.expires_at`, with the same inputs: its source.
    let source = match parse_token_response(headers, body) {
        Ok(r) => {
            resolve_expiry(
                now,
                r.expires_in,
                r.access_token.expose(),
                headers,
                config.default_lifetime,
            )
            .source
        }
        Err(e) => return Ok(Judgement::Refused(Error::InvalidAuthResponse(e))),
    };
    Ok(Judgement::Kept(Judged { tokens, source }))
}

/// Where an accepted answer's expiry came from, and how `Date` entered it: for the report.
pub(crate) fn source_text(source: ExpirySource, headers: &HeaderMap) -> &'static str {
    let dated = headers
        .get(http::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(tokenkeeper_core::parse::parse_http_date)
        .is_some();
    match source {
        ExpirySource::ExpiresIn => "from expires_in",
        ExpirySource::JwtExp if dated => "from the JWT's exp, corrected by the answer's Date",
        ExpirySource::JwtExp => "from the JWT's exp on this machine's clock (no usable Date)",
        ExpirySource::Default => "the default lifetime (Config::default_lifetime)",
    }
}

/// The longest lifetime the engine believes from a server (its clamp).
pub(crate) fn lifetime_cap() -> Duration {
    tokenkeeper_core::limits::MAX_LIFETIME
}

#[cfg(test)]
mod tests {
    use tokenkeeper_core::parse::InvalidAuthResponse;
    use tokenkeeper_core::secret::Secret;

    use super::*;
    use crate::doctor::testing::{NOW, headers, identity, jwt};

    const HOUR: u64 = 3600;

    fn login(body: &str, h: &HeaderMap) -> Judgement {
        let (dialect, credentials) = identity();
        judge(
            &Config::default(),
            &dialect,
            &credentials,
            None,
            Timestamp::from_secs(NOW),
            (StatusCode::OK, h, body.as_bytes()),
        )
        .expect("the engine judges it")
    }

    fn kept(j: Judgement) -> Judged {
        match j {
            Judgement::Kept(j) => j,
            Judgement::Refused(e) => panic!("refused: {e}"),
        }
    }

    fn access(token: &str) -> String {
        format!(r#"{{"access_token":"{token}","token_type":"bearer","refresh_token":"r1"}}"#)
    }

    #[test]
    fn a_jwt_whose_exp_has_passed_is_refused_with_the_engines_reason() {
        // No expires_in; the server's own Date says the exp passed a minute ago.
        let body = access(&jwt(NOW - 60));
        let got = login(&body, &headers(Some(NOW)));
        let Judgement::Refused(e) = got else {
            panic!("kept an expired token: {got:?}");
        };
        assert!(!e.to_string().contains("eyJ"), "{e}");
        assert_eq!(
            e,
            Error::InvalidAuthResponse(InvalidAuthResponse::BadExpiresIn {
                reason: "the token is already expired"
            })
        );
        // Without a Date header too (exp against the local clock).
        assert!(matches!(
            login(&body, &headers(None)),
            Judgement::Refused(Error::InvalidAuthResponse(
                InvalidAuthResponse::BadExpiresIn { .. }
            ))
        ));
        // Past by the server's clock although ahead of ours: still refused.
        let body = access(&jwt(NOW + HOUR - 60));
        assert!(matches!(
            login(&body, &headers(Some(NOW + HOUR))),
            Judgement::Refused(_)
        ));
    }

    #[test]
    fn the_exp_is_corrected_by_the_answers_date() {
        // The server's clock runs an hour behind: its exp looks past here, the token lives 10 min.
        let body = access(&jwt(NOW - HOUR + 600));
        let j = kept(login(&body, &headers(Some(NOW - HOUR))));
        assert_eq!(j.source, ExpirySource::JwtExp);
        assert_eq!(j.lifetime(), Duration::from_secs(600));
        assert_eq!(
            source_text(j.source, &headers(Some(NOW))),
            "from the JWT's exp, corrected by the answer's Date"
        );
    }

    #[test]
    fn a_far_future_exp_is_held_for_the_engines_cap() {
        let body = access(&jwt(NOW + 200 * 365 * 86_400));
        let j = kept(login(&body, &headers(Some(NOW))));
        assert_eq!(j.source, ExpirySource::JwtExp);
        assert_eq!(j.lifetime(), lifetime_cap());
        assert_eq!(lifetime_cap(), Duration::from_secs(10 * 365 * 86_400));
    }

    #[test]
    fn expires_in_wins_and_an_opaque_token_gets_the_default_lifetime() {
        let body = r#"{"access_token":"opaque","expires_in":1800,"refresh_token":"r1"}"#;
        let j = kept(login(body, &headers(Some(NOW))));
        assert_eq!(
            (j.source, j.lifetime()),
            (ExpirySource::ExpiresIn, Duration::from_secs(1800))
        );
        let j = kept(login(&access("opaque"), &headers(None)));
        assert_eq!(
            (j.source, j.lifetime()),
            (ExpirySource::Default, Config::default().default_lifetime)
        );
        assert_eq!(j.tokens.refresh_token, Some(Secret::new("r1")));
    }

    #[test]
    fn a_refresh_answer_is_judged_as_a_refresh() {
        let (dialect, credentials) = identity();
        let now = Timestamp::from_secs(NOW);
        let held = TokenSet {
            access_token: Secret::new("a0"),
            refresh_token: Some(Secret::new("r0")),
            issued_at: now,
            expires_at: now.saturating_add(Duration::from_secs(1800)),
            refresh_expires_at: None,
        };
        let refresh = |body: &str| {
            judge(
                &Config::default(),
                &dialect,
                &credentials,
                Some(&held),
                now,
                (StatusCode::OK, &headers(None), body.as_bytes()),
            )
            .expect("the engine judges it")
        };
        // No refresh token in the answer: the engine keeps the old one.
        let j = kept(refresh(r#"{"access_token":"a1","expires_in":60}"#));
        assert_eq!(j.tokens.access_token, Secret::new("a1"));
        assert_eq!(j.tokens.refresh_token, Some(Secret::new("r0")));
        assert_eq!(j.lifetime(), Duration::from_secs(60));
        let expired = format!(r#"{{"access_token":"{}"}}"#, jwt(NOW - 1));
        assert!(matches!(refresh(&expired), Judgement::Refused(_)));
        assert!(matches!(
            refresh("<html></html>"),
            Judgement::Refused(Error::InvalidAuthResponse(InvalidAuthResponse::Html))
        ));
    }
}
