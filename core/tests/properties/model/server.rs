//! The driver as transport and auth server: leased requests, responses and send errors with
//! the model's prediction of what the engine does with them, and the auth endpoint's answers.

use std::time::Duration;

use http::{HeaderMap, HeaderValue, StatusCode};
use tokenkeeper_core::dialect::ClientAuth;
use tokenkeeper_core::limits::MAX_AUTH_RETRY_AFTER;
use tokenkeeper_core::parse::{parse_bearer_challenge, parse_retry_after, parse_token_response};
use tokenkeeper_core::session::SendFailure;
use tokenkeeper_core::{AuthId, AuthKind, ExchangeId, RequestMeta, Secret};

use super::*;

impl Driver {
    /// A request goes out with the lease instead of `start`: the token must be one `start`
    /// would send now.
    pub(super) fn start_leased(&mut self, lease: &tokenkeeper_core::Lease, meta: RequestMeta) {
        let token = lease
            .authorization()
            .to_str()
            .unwrap()
            .trim_start_matches("Bearer ")
            .to_owned();
        self.transcript.push(format!(
            "  leased({token}, until {:?})",
            lease.valid_until()
        ));
        if !lease.is_valid(self.now) {
            self.violation("expiry", "the session issued a lease that is not valid now");
        }
        if self.checks.expiry {
            self.check_token(&token);
        }
        self.session.record_leased(1, 0);
        self.leased.push(Leased {
            meta,
            token,
            generation: lease.generation(),
            started: self.now,
        });
        self.after_step();
    }

    /// Hands a leased request to the engine, as the driver does when its outcome needs it.
    pub(super) fn adopt(&mut self, leased: Leased) -> ExchangeId {
        let id = self
            .session
            .adopt(leased.started, leased.meta, leased.generation);
        self.transcript
            .push(format!("  adopted({}, {})", id.as_u64(), leased.token));
        self.register(id, false, leased.meta);
        let ex = self.exchanges.get_mut(&id).unwrap();
        ex.sends = 1;
        ex.in_flight = true;
        ex.sent_token = Some(leased.token);
        id
    }

    /// A response to a leased request: delivered as it is when the rules say so (and the model
    /// agrees that the engine would have ended the exchange with it), else adopted.
    pub(super) fn respond_leased(
        &mut self,
        leased: Leased,
        status: u16,
        headers: HeaderMap,
        insufficient_scope: bool,
    ) {
        let code = StatusCode::from_u16(status).unwrap();
        if self
            .session
            .response_rules()
            .delivers_as_is(code, leased.meta)
        {
            let cfg = &self.cfg;
            let judged = (cfg.enabled && cfg.token_rejected_statuses.contains(&status))
                || (leased.meta.replayable
                    && (cfg.transient_statuses.contains(&status)
                        || (cfg.gateway_statuses.contains(&status)
                            && (leased.meta.idempotent || cfg.retry_non_idempotent_gateway))
                        || (status == 403 && cfg.enabled && cfg.retry_on_401)));
            if judged {
                self.violation(
                    "endings",
                    &format!("a leased request's {status} delivered without the engine"),
                );
            }
            self.transcript
                .push(format!("  leased {} delivered {status}", leased.token));
            self.session.record_leased(0, 1);
            return;
        }
        let id = self.adopt(leased);
        self.respond(id, status, headers, insufficient_scope);
    }

    /// A request in flight (started or leased), picked by index, gets a response.
    pub(super) fn respond_pick(
        &mut self,
        pick: usize,
        status: u16,
        headers: HeaderMap,
        insufficient_scope: bool,
    ) {
        let flying = self.in_flight();
        let n = flying.len() + self.leased.len();
        if n == 0 {
            return;
        }
        if let Some(&id) = flying.get(pick % n) {
            self.respond(id, status, headers, insufficient_scope);
        } else {
            let leased = self.leased.remove(pick % n - flying.len());
            self.respond_leased(leased, status, headers, insufficient_scope);
        }
    }

    pub(super) fn respond(
        &mut self,
        id: ExchangeId,
        status: u16,
        headers: HeaderMap,
        insufficient_scope: bool,
    ) {
        let mut headers = headers;
        if insufficient_scope {
            headers.insert(
                http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer error="insufficient_scope", scope="admin""#),
            );
        }
        // The engine reads the challenge with the public parser (checked on its own in
        // `tests/differential.rs`); raw headers (`Op::RespondRaw`) may hold any challenge.
        let insufficient_scope = parse_bearer_challenge(&headers)
            .is_some_and(|c| c.error.as_deref() == Some("insufficient_scope"));
        let stale_before = self.exchanges[&id].stale_resends;
        let must_end = self.classify(id, status, insufficient_scope);
        let stale_resend = self.exchanges[&id].stale_resends > stale_before;
        self.session.handle_response(
            self.now,
            id,
            StatusCode::from_u16(status).unwrap(),
            &headers,
        );
        self.drain();
        if must_end {
            self.must_end_now(id, &format!("a final status {status}"));
        }
        if stale_resend && self.checks.endings && self.exchanges[&id].delivered {
            self.violation(
                "endings",
                &format!("{id:?}'s {status} for a replaced token was delivered, not resent"),
            );
        }
    }

    /// Records a response in the model, predicting what the engine will do with the token and
    /// the exchange; returns whether the exchange must end at once.
    pub(super) fn classify(
        &mut self,
        id: ExchangeId,
        status: u16,
        insufficient_scope: bool,
    ) -> bool {
        let cfg = &self.cfg;
        let ex = self.exchanges.get_mut(&id).unwrap();
        ex.in_flight = false;
        ex.has_response = true;
        let current = ex.sent_token.is_some() && ex.sent_token == self.current;
        if cfg.enabled && cfg.token_rejected_statuses.contains(&status) {
            if !cfg.retry_on_401 || insufficient_scope {
                return true;
            }
            if !ex.meta.replayable {
                if current {
                    self.rejected.extend(ex.sent_token.clone());
                }
                return true;
            }
            if !current {
                if ex.stale_resends >= cfg.max_stale_generation_resends {
                    return true;
                }
                ex.stale_resends += 1;
                ex.cause = Some(Cause::Rejected);
                return false;
            }
            if ex.current_rejections >= cfg.max_auth_retries_per_exchange {
                return true;
            }
            ex.current_rejections += 1;
            ex.cause = Some(Cause::Rejected);
            self.rejected.extend(ex.sent_token.clone());
            return false;
        }
        let transient = ex.meta.replayable
            && (cfg.transient_statuses.contains(&status)
                || (cfg.gateway_statuses.contains(&status)
                    && (ex.meta.idempotent || cfg.retry_non_idempotent_gateway)));
        if transient {
            ex.cause = Some(Cause::Transient);
            return false;
        }
        // A bare 403 for a token that has since been replaced: resent with the current one.
        let superseded_403 = status == 403
            && cfg.enabled
            && cfg.retry_on_401
            && ex.meta.replayable
            && !insufficient_scope
            && !current;
        if superseded_403 && ex.stale_resends < cfg.max_stale_generation_resends {
            ex.stale_resends += 1;
            ex.cause = Some(Cause::Rejected);
            return false;
        }
        true
    }

    pub(super) fn send_error(&mut self, id: ExchangeId, maybe_sent: bool) {
        let ex = self.exchanges.get_mut(&id).unwrap();
        ex.in_flight = false;
        let must_end = maybe_sent && !ex.meta.idempotent;
        if !must_end {
            ex.cause = Some(Cause::Transient);
        }
        let failure = if maybe_sent {
            SendFailure::MaybeSent
        } else {
            SendFailure::NotSent
        };
        self.session.handle_send_error(self.now, id, failure);
        self.drain();
        if must_end {
            self.must_end_now(id, "an error after a non-idempotent request may have run");
        }
    }

    /// Answers auth operation `op`; `live` when it is the one the engine considers current.
    pub(super) fn auth_reply(&mut self, op: AuthId, kind: AuthKind, reply: AuthReply, live: bool) {
        let now = self.now;
        let json = |status: u16, body: &str| (status, HeaderMap::new(), body.to_owned());
        let (status, headers, body) = match reply {
            AuthReply::Ok {
                refresh_token,
                expires_in,
            } => {
                let expires_at = match expires_in {
                    Some(s) => now.saturating_add(Duration::from_secs(s)),
                    None => now.saturating_add(self.cfg.default_lifetime),
                };
                let prefix = if kind == AuthKind::Login { "L" } else { "F" };
                let name = self.new_token(
                    prefix,
                    TokenInfo {
                        issued_at: now,
                        expires_at,
                    },
                );
                let mut v = serde_json::json!({ "access_token": name, "token_type": "Bearer" });
                if refresh_token {
                    v["refresh_token"] = format!("R{name}").into();
                }
                if let Some(s) = expires_in {
                    v["expires_in"] = s.into();
                }
                if live && expires_at > now {
                    // The answer to the live operation installs the token, unless it expires
                    // on arrival: at the end of time (`now` saturated) `now + lifetime` is
                    // `now`, and the engine refuses it as already expired.
                    self.current = Some(name);
                    self.last_issued = Some(now);
                }
                json(200, &v.to_string())
            }
            AuthReply::InvalidGrant => json(
                400,
                r#"{"error":"invalid_grant","error_description":"expired"}"#,
            ),
            AuthReply::Unauthorized => json(401, r#"{"detail":"Invalid refresh token"}"#),
            AuthReply::TooMany(ra) => (429, self.headers(ra), String::new()),
            AuthReply::Unavailable(ra) => (
                503,
                self.headers(ra),
                r#"{"detail":"Authentication backend unavailable"}"#.into(),
            ),
            AuthReply::NotFound => json(404, "Not Found"),
            AuthReply::Malformed(i) => json(200, MALFORMED[i]),
            AuthReply::Transport(maybe) => {
                let failure = if maybe {
                    SendFailure::MaybeSent
                } else {
                    SendFailure::NotSent
                };
                self.session.handle_auth_error(now, op, failure);
                return;
            }
            AuthReply::Abandon => {
                self.session.handle_auth_abandoned(now, op);
                return;
            }
        };
        if live {
            self.note_auth_floor(status, &headers);
        }
        self.session.handle_auth_response(
            now,
            op,
            StatusCode::from_u16(status).unwrap(),
            &headers,
            body.as_bytes(),
        );
    }

    /// (h): a 429 or 5xx from the auth endpoint for the live operation sets the floor for the
    /// next login/refresh from its `Retry-After`, clamped.
    fn note_auth_floor(&mut self, status: u16, headers: &HeaderMap) {
        if status == 429 || (500..=599).contains(&status) {
            let limit = self.now.saturating_add(MAX_AUTH_RETRY_AFTER);
            if let Some(at) = parse_retry_after(headers, self.now).map(|t| t.min(limit))
                && at > self.now
            {
                self.auth_floor = Some(at);
            }
        }
    }

    /// Answers the auth operation in flight (or, with `superseded`, an obsolete one) with a raw
    /// response, its placeholders filled ([`Driver::fill`]). Tokens the engine installs from it
    /// are learned from `Session::tokens`; an answer whose access token the model already knows
    /// is not given (the model tells token generations apart by their strings).
    pub(super) fn auth_raw(
        &mut self,
        status: u16,
        headers: &HeaderMap,
        body: &[u8],
        superseded: bool,
    ) {
        let body = &self.fill(body)[..];
        let code = StatusCode::from_u16(status).unwrap();
        if superseded && !self.superseded.is_empty() {
            let op = self.superseded.remove(0);
            self.session
                .handle_auth_response(self.now, op, code, headers, body);
            if self.drain() > 0 && self.checks.single_flight {
                self.violation(
                    "single_flight",
                    "an answer to a superseded auth operation was acted on",
                );
            }
            return;
        }
        let Some((op, _)) = self.auth else {
            return;
        };
        if code.is_success()
            && let Ok(resp) = parse_token_response(headers, body)
            && self.tokens.contains_key(resp.access_token.expose())
        {
            self.transcript
                .push("  (not given: a token the model knows)".to_owned());
            return;
        }
        self.auth = None;
        self.note_auth_floor(status, headers);
        let before = self.session.tokens().map(|t| t.access_token.clone());
        self.session
            .handle_auth_response(self.now, op, code, headers, body);
        if let Some(set) = self.session.tokens()
            && before.as_ref() != Some(&set.access_token)
        {
            let name = set.access_token.expose().to_owned();
            let info = TokenInfo {
                issued_at: set.issued_at,
                expires_at: set.expires_at,
            };
            self.tokens.insert(name.clone(), info);
            self.current = Some(name);
            self.last_issued = Some(set.issued_at);
        }
        self.drain();
    }
}

impl Driver {
    /// `body` with what the session was given or holds in place of placeholders, as an
    /// endpoint that echoes its input would send it: `$P` the password, `$C` the client
    /// secret, `$a` and `$r` the access and refresh token held (empty when there is none).
    fn fill(&self, body: &[u8]) -> Vec<u8> {
        let tokens = self.session.tokens();
        let client_secret = [
            &self.session.dialect().login,
            &self.session.dialect().refresh,
        ]
        .into_iter()
        .flatten()
        .find_map(|e| match &e.client_auth {
            ClientAuth::Basic { client_secret, .. } => Some(client_secret),
            ClientAuth::Body { client_secret, .. } => client_secret.as_ref(),
            ClientAuth::None => None,
        });
        let values: [(&[u8], Option<&str>); 4] = [
            (b"$P", self.password.as_deref()),
            (b"$C", client_secret.map(Secret::expose)),
            (b"$a", tokens.map(|t| t.access_token.expose())),
            (
                b"$r",
                tokens.and_then(|t| t.refresh_token.as_ref().map(Secret::expose)),
            ),
        ];
        let mut out = Vec::with_capacity(body.len());
        let mut i = 0;
        'bytes: while i < body.len() {
            for (placeholder, value) in &values {
                if body[i..].starts_with(placeholder) {
                    out.extend_from_slice(value.unwrap_or("").as_bytes());
                    i += placeholder.len();
                    continue 'bytes;
                }
            }
            out.push(body[i]);
            i += 1;
        }
        out
    }
}
