//! The steps of a case: each `Op` applied to the engine, and the sets from outside
//! (`set_tokens`, `offer_tokens`) with what the model expects of them.

use std::time::Duration;

use http::{HeaderMap, Method, StatusCode};
use tokenkeeper_core::dialect::Credentials;
use tokenkeeper_core::session::SendFailure;
use tokenkeeper_core::{AuthKind, RequestMeta, Secret, Timestamp, TokenSet};

use super::*;

impl Driver {
    pub(crate) fn step(&mut self, op: &Op) {
        self.transcript.push(format!("{:?} {op:?}", self.now));
        match *op {
            Op::Start {
                post,
                replayable,
                leased,
            } => {
                let method = if post { Method::POST } else { Method::GET };
                let meta = RequestMeta::new(&method, replayable);
                if leased && let Some(lease) = self.session.lease(self.now) {
                    return self.start_leased(&lease, meta);
                }
                let id = self.session.start(self.now, meta);
                self.register(id, false, meta);
                self.drain();
            }
            Op::Respond {
                pick,
                status,
                retry_after,
                insufficient_scope,
            } => {
                let headers = self.headers(retry_after);
                self.respond_pick(pick, status, headers, insufficient_scope);
            }
            Op::RespondRaw {
                pick,
                status,
                ref headers,
            } => self.respond_pick(pick, status, headers.clone(), false),
            Op::AuthRaw {
                status,
                ref headers,
                ref body,
                superseded,
            } => self.auth_raw(status, headers, body, superseded),
            Op::RespondAll { status } => {
                for id in self.in_flight() {
                    self.respond(id, status, HeaderMap::new(), false);
                }
                for leased in core::mem::take(&mut self.leased) {
                    self.respond_leased(leased, status, HeaderMap::new(), false);
                }
            }
            Op::SendError { pick, maybe_sent } => {
                let flying = self.in_flight();
                let n = flying.len() + self.leased.len();
                if n == 0 {
                    return self.after_step();
                }
                let id = if let Some(&id) = flying.get(pick % n) {
                    id
                } else {
                    let leased = self.leased.remove(pick % n - flying.len());
                    self.adopt(leased)
                };
                self.send_error(id, maybe_sent);
            }
            Op::Auth { reply, superseded } => {
                if superseded && !self.superseded.is_empty() {
                    let op_id = self.superseded.remove(0);
                    self.auth_reply(op_id, AuthKind::Login, reply, false);
                    let n = self.drain();
                    if n > 0 && self.checks.single_flight {
                        self.violation(
                            "single_flight",
                            "an answer to a superseded auth operation was acted on",
                        );
                    }
                } else if let Some((op_id, kind)) = self.auth.take() {
                    self.auth_reply(op_id, kind, reply, true);
                    self.drain();
                }
            }
            Op::Cancel { pick } => {
                let live = self.live();
                if pick % (live.len() + 1) == live.len() && !self.leased.is_empty() {
                    // A leased request's caller goes away: the engine never knew it.
                    let leased = self.leased.remove(pick % self.leased.len());
                    self.transcript
                        .push(format!("  dropped leased {}", leased.token));
                } else if !live.is_empty() {
                    let id = live[pick % live.len()];
                    self.session.cancel(id);
                    let ex = self.exchanges.get_mut(&id).unwrap();
                    ex.life = Life::Cancelled;
                    ex.in_flight = false;
                    self.drain();
                }
            }
            Op::Spurious { pick, status } => {
                let idle: Vec<_> = self
                    .order
                    .iter()
                    .copied()
                    .filter(|id| !self.exchanges[id].in_flight)
                    .collect();
                if !idle.is_empty() {
                    let id = idle[pick % idle.len()];
                    self.session.handle_response(
                        self.now,
                        id,
                        StatusCode::from_u16(status).unwrap(),
                        &HeaderMap::new(),
                    );
                    self.session
                        .handle_send_error(self.now, id, SendFailure::NotSent);
                    if self.drain() > 0 && self.checks.endings {
                        self.violation(
                            "endings",
                            &format!("an outcome for {id:?}, not in flight, was acted on"),
                        );
                    }
                }
            }
            Op::Advance { ms } => self.now = self.now.saturating_add(Duration::from_millis(ms)),
            Op::FireTimer => {
                self.fire_timer();
            }
            Op::Tick => {
                let due = self
                    .session
                    .poll_timeout()
                    .is_some_and(|(t, _)| t <= self.now);
                self.session.handle_timeout(self.now);
                let n = self.drain();
                if due {
                    self.check_timer_progress(n);
                } else if n > 0 && self.checks.timers {
                    self.violation("timers", "handle_timeout acted although no timer was due");
                }
            }
            Op::Login => {
                let id = self.session.login(self.now);
                self.register(
                    id,
                    true,
                    RequestMeta {
                        idempotent: true,
                        replayable: true,
                    },
                );
                self.drain();
            }
            Op::SetTokens {
                refresh,
                issued_ago,
                expires_in,
                refresh_expires_in,
            } => {
                let (name, set) =
                    self.outside_set(refresh, issued_ago, expires_in, refresh_expires_in);
                if matches!(refresh, RefreshKind::HeaderUnsafe) {
                    // Refused as a whole; nothing changes (the engine's auth op carries on).
                    assert!(self.session.set_tokens(self.now, set).is_err());
                    self.drain();
                } else {
                    let issued_at = set.issued_at;
                    self.session.set_tokens(self.now, set).unwrap();
                    self.installed(name, issued_at);
                    self.drain();
                }
            }
            Op::Offer {
                refresh,
                issued_ago,
                expires_in,
                refresh_expires_in,
            } => {
                let (name, set) =
                    self.outside_set(refresh, issued_ago, expires_in, refresh_expires_in);
                let newer = self.last_issued.is_none_or(|t| set.issued_at > t);
                let renewable = self.session.dialect().can_refresh()
                    && matches!(refresh, RefreshKind::Valid)
                    && set.refresh_expires_at.is_none_or(|t| self.now < t);
                let usable = self.now < set.expires_at || renewable;
                let predicted = newer && usable && !matches!(refresh, RefreshKind::HeaderUnsafe);
                let issued_at = set.issued_at;
                let adopted = self.session.offer_tokens(self.now, set);
                self.transcript.push(format!("  offered {name}: {adopted}"));
                if self.checks.offers && adopted != predicted {
                    self.violation(
                        "offers",
                        &format!("offer of {name} adopted: {adopted}, expected {predicted}"),
                    );
                }
                if adopted {
                    self.installed(name.clone(), issued_at);
                    self.offer_floor = token_seq(&name);
                }
                self.drain();
            }
            Op::Logout => {
                self.supersede_auth();
                self.asked = false;
                self.current = None;
                if self.cfg.ask_for_credentials {
                    self.password = None;
                }
                self.session.logout();
                self.drain();
            }
            Op::Provide { answer } => self.provide(answer),
        }
        self.after_step();
    }

    /// Answers `NeedCredentials` (or gives credentials unasked, which only keeps them).
    pub(super) fn provide(&mut self, answer: Answer) {
        let credentials = match answer {
            Answer::Good => Some(Credentials::password("u", GIVEN_PASSWORD)),
            Answer::Incomplete => Some(Credentials {
                username: Some("u".to_owned()),
                password: None,
            }),
            Answer::Nothing => None,
        };
        if let Some(c) = &credentials {
            self.password = c.password.as_ref().map(|p| p.expose().to_owned());
        }
        self.asked = false;
        self.session.provide_credentials(self.now, credentials);
        self.drain();
    }

    /// A set from outside (`set_tokens`, `offer_tokens`): its name and the set.
    pub(super) fn outside_set(
        &mut self,
        refresh: RefreshKind,
        issued_ago: u64,
        expires_in: i64,
        refresh_expires_in: Option<i64>,
    ) -> (String, TokenSet) {
        let issued_at = self.now.saturating_sub(Duration::from_secs(issued_ago));
        let expires_at = offset(self.now, expires_in);
        let name = self.new_token(
            "S",
            TokenInfo {
                issued_at,
                expires_at,
            },
        );
        let refresh_token = match refresh {
            RefreshKind::None => None,
            RefreshKind::Valid => Some(Secret::new(format!("R{name}"))),
            RefreshKind::HeaderUnsafe => Some(Secret::new("bad\nrefresh")),
        };
        let set = TokenSet {
            access_token: Secret::new(name.clone()),
            refresh_token,
            issued_at,
            expires_at,
            refresh_expires_at: refresh_expires_in.map(|s| offset(self.now, s)),
        };
        (name, set)
    }

    /// The engine installed a set from outside: the auth operation and a question for
    /// credentials end.
    pub(super) fn installed(&mut self, name: String, issued_at: Timestamp) {
        self.supersede_auth();
        self.asked = false;
        self.current = Some(name);
        self.last_issued = Some(issued_at);
    }

    pub(super) fn supersede_auth(&mut self) {
        if let Some((id, _)) = self.auth.take() {
            self.superseded.push(id);
        }
    }
}
