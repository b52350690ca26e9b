//! What the engine emits, checked against the model: each action as it is drained, the token
//! a `Send` carries, and how exchanges end.

use std::fmt::Write as _;

use tokenkeeper_core::tokens::refresh_margin;
use tokenkeeper_core::{Action, AuthKind, ExchangeId};

use super::*;

impl Driver {
    pub(super) fn on_action(&mut self, action: Action) {
        self.check_secrets(&action);
        match action {
            Action::Send { id, authorization } => {
                let token = authorization
                    .to_str()
                    .unwrap()
                    .trim_start_matches("Bearer ")
                    .to_owned();
                self.transcript
                    .push(format!("  Send({}, {token})", id.as_u64()));
                self.on_send(id, token);
            }
            Action::Authenticate(req) => {
                let mut line = format!(
                    "  Authenticate({}, {:?}, {} {}",
                    req.id.as_u64(),
                    req.kind,
                    req.request.method(),
                    req.request.url()
                );
                for (k, v) in req.request.header_list() {
                    let _ = write!(line, ", {k}: {}", String::from_utf8_lossy(v.as_bytes()));
                }
                let _ = write!(line, ", {})", String::from_utf8_lossy(req.request.body()));
                self.transcript.push(line.clone());
                if self.checks.single_flight {
                    if let Some((prev, _)) = self.auth {
                        self.violation(
                            "single_flight",
                            &format!("Authenticate {:?} while {prev:?} is outstanding", req.id),
                        );
                    }
                    if self.auth_ids.contains(&req.id) {
                        self.violation("single_flight", &format!("auth id {:?} reused", req.id));
                    }
                }
                if self.checks.single_flight && self.asked {
                    self.violation(
                        "single_flight",
                        &format!("Authenticate {:?} while credentials are asked for", req.id),
                    );
                }
                if self.checks.retry_after
                    && let Some(floor) = self.auth_floor.filter(|&f| self.now < f)
                {
                    self.violation(
                        "retry_after",
                        &format!("Authenticate {:?} before the Retry-After {floor:?}", req.id),
                    );
                }
                if self.checks.offers
                    && req.kind == AuthKind::Refresh
                    && let Some(floor) = self.offer_floor
                    && let Some(seq) = refresh_token_seq(&line)
                    && seq < floor
                {
                    self.violation(
                        "offers",
                        &format!("refresh with a token older than the adopted offer #{floor}"),
                    );
                }
                self.auth_ids.insert(req.id);
                self.auth = Some((req.id, req.kind));
            }
            Action::Deliver { id } => {
                self.transcript.push(format!("  Deliver({})", id.as_u64()));
                self.on_end(id, true);
            }
            Action::Fail { id, error } => {
                self.transcript
                    .push(format!("  Fail({}, {error:?})", id.as_u64()));
                self.on_end(id, false);
            }
            Action::Event(e) => self.transcript.push(format!("  Event({e:?})")),
            Action::NeedCredentials => {
                self.transcript.push("  NeedCredentials".to_owned());
                if self.checks.asking {
                    if !self.cfg.ask_for_credentials {
                        self.violation("asking", "NeedCredentials without ask_for_credentials");
                    }
                    if self.asked {
                        self.violation("asking", "NeedCredentials twice in one wait");
                    }
                    let waiting = self.live().iter().any(|id| !self.exchanges[id].in_flight);
                    if !waiting {
                        self.violation("asking", "NeedCredentials while nobody waits");
                    }
                    if let Some((prev, _)) = self.auth {
                        self.violation(
                            "asking",
                            &format!("NeedCredentials while {prev:?} is outstanding"),
                        );
                    }
                }
                self.asked = true;
            }
            Action::AbortAuth { id } => {
                self.transcript
                    .push(format!("  AbortAuth({})", id.as_u64()));
                match self.auth {
                    Some((op, _)) if op == id => self.auth = None,
                    _ if self.checks.single_flight => self.violation(
                        "single_flight",
                        &format!("AbortAuth {id:?}, which is not outstanding"),
                    ),
                    _ => {}
                }
                // A late answer to it must change nothing.
                self.superseded.push(id);
            }
            other => self.transcript.push(format!("  {other:?}")),
        }
    }

    /// No known secret in the action's `Debug`, a failure's `Display` or the session's `Debug`.
    fn check_secrets(&mut self, action: &Action) {
        if self.secrets.is_empty() {
            return;
        }
        let mut texts = vec![format!("{action:?}"), format!("{:?}", self.session)];
        if let Action::Fail { error, .. } = action {
            texts.push(error.to_string());
        }
        let leaked = texts
            .iter()
            .find(|t| self.secrets.iter().any(|s| t.contains(s.as_str())));
        if let Some(text) = leaked {
            let what = format!("a secret in a Debug/Display text: {text}");
            self.violation("secrets", &what);
        }
    }

    pub(super) fn on_send(&mut self, id: ExchangeId, token: String) {
        let checks = self.checks;
        let Some(ex) = self.exchanges.get(&id) else {
            if checks.endings {
                self.violation("endings", &format!("Send for unknown exchange {id:?}"));
            }
            return;
        };
        let (life, in_flight, login, sends, replayable, cause) = (
            ex.life,
            ex.in_flight,
            ex.login,
            ex.sends,
            ex.meta.replayable,
            ex.cause,
        );
        let (rejected, transient) = match cause {
            Some(Cause::Rejected) => (ex.rejected_resends + 1, ex.transient_resends),
            Some(Cause::Transient) => (ex.rejected_resends, ex.transient_resends + 1),
            None => (ex.rejected_resends, ex.transient_resends),
        };
        if checks.endings {
            if life != Life::Live {
                self.violation(
                    "endings",
                    &format!("Send for exchange {id:?} after it {life:?}"),
                );
            }
            if in_flight {
                self.violation(
                    "endings",
                    &format!("Send for exchange {id:?} whose previous Send is unanswered"),
                );
            }
            if login {
                self.violation("endings", &format!("Send for login exchange {id:?}"));
            }
        }
        if checks.limits && sends > 0 {
            let max_rejected =
                self.cfg.max_auth_retries_per_exchange + self.cfg.max_stale_generation_resends;
            let max_transient = self.cfg.max_transient_resends;
            if !replayable {
                self.violation(
                    "limits",
                    &format!("resend of {id:?} whose body cannot be replayed"),
                );
            }
            if cause.is_none() {
                self.violation(
                    "limits",
                    &format!("resend of {id:?} with no 401 or transient outcome"),
                );
            }
            if rejected > max_rejected {
                self.violation(
                    "limits",
                    &format!("{id:?}: {rejected} resends after 401 > {max_rejected}"),
                );
            }
            if transient > max_transient {
                self.violation(
                    "limits",
                    &format!("{id:?}: {transient} transient resends > {max_transient}"),
                );
            }
        }
        if checks.expiry {
            self.check_token(&token);
        }
        let ex = self.exchanges.get_mut(&id).unwrap();
        ex.cause = None;
        (ex.rejected_resends, ex.transient_resends) = (rejected, transient);
        ex.sends += 1;
        ex.in_flight = true;
        ex.has_response = false;
        ex.sent_token = Some(token);
    }

    /// (e): the token sent is the current one, not rejected, and not within the engine's hard
    /// floor of its expiry.
    pub(super) fn check_token(&mut self, token: &str) {
        let Some(info) = self.tokens.get(token).copied() else {
            return self.violation("expiry", &format!("sent a token nobody issued: {token}"));
        };
        if self.current.as_deref() != Some(token) {
            let current = self.current.clone();
            self.violation(
                "expiry",
                &format!("sent {token}, not the current token {current:?}"),
            );
        }
        if self.rejected.contains(token) {
            self.violation(
                "expiry",
                &format!("sent {token}, which the server rejected"),
            );
        }
        // The engine's floor is min(expiry_floor, margin / 2); its margin is at least the
        // jitter-free one, so this bound is exact without margin jitter and weaker with it.
        let lifetime = info.expires_at.saturating_duration_since(info.issued_at);
        let floor = self
            .cfg
            .expiry_floor
            .min(refresh_margin(lifetime, &self.cfg, 0.0) / 2);
        if self.now >= info.expires_at.saturating_sub(floor) {
            let what = format!(
                "sent {token} expiring at {:?} (floor {floor:?}) at {:?}",
                info.expires_at, self.now
            );
            self.violation("expiry", &what);
        }
    }

    pub(super) fn on_end(&mut self, id: ExchangeId, delivered: bool) {
        let Some(ex) = self.exchanges.get(&id) else {
            if self.checks.endings {
                self.violation("endings", &format!("ending for unknown exchange {id:?}"));
            }
            return;
        };
        let (life, in_flight, login, has_response) =
            (ex.life, ex.in_flight, ex.login, ex.has_response);
        if self.checks.endings {
            if life != Life::Live {
                self.violation(
                    "endings",
                    &format!("second ending for {id:?}, which {life:?}"),
                );
            }
            if in_flight {
                self.violation(
                    "endings",
                    &format!("{id:?} ended while its request is in flight"),
                );
            }
            if delivered && !login && !has_response {
                self.violation(
                    "endings",
                    &format!("Deliver for {id:?}, which has no response to deliver"),
                );
            }
            if delivered && login && self.session.tokens().is_none() {
                self.violation(
                    "endings",
                    &format!("login exchange {id:?} delivered without tokens"),
                );
            }
        }
        let ex = self.exchanges.get_mut(&id).unwrap();
        ex.life = Life::Ended;
        ex.delivered = delivered;
    }
}
