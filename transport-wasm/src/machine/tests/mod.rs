//! The synchronous driver on a manual clock: every intent it gives for the stories the skins
//! rely on (the hot path, a herd at expiry, the per-attempt timeout, the auth deadline, the
//! capped auth answer, the cross-tab lock protocol, credentials on demand, logout), with no
//! I/O and no real time.

use core::time::Duration;

use tokenkeeper_core::dialect::{Credentials, Dialect};
use tokenkeeper_core::parse::{InvalidAuthResponse, MAX_AUTH_BODY};
use tokenkeeper_core::{Config, Error, Event, RequestMeta, Secret, Timestamp, TokenSet};

use super::{Handle, Intent, Machine, Setup};

mod cross_tab;

const T0: u64 = 1_800_000_000_000;
const BASE: &str = "https://vg.example.com";

/// A machine, its clock and the intents it gave since the last look.
struct M {
    m: Machine,
    now: Timestamp,
}

fn setup(f: impl FnOnce(&mut Setup)) -> M {
    let mut s = Setup::new(
        Config::default(),
        Dialect::vitalgraph(BASE).unwrap(),
        Credentials::password("admin", "pw"),
        7,
    );
    s.config.auth_backoff.jitter = false;
    s.config.resend_backoff.jitter = false;
    f(&mut s);
    let mut m = M {
        m: Machine::new(s).unwrap(),
        now: Timestamp::from_millis(T0),
    };
    m.m.restore(m.now, None);
    m
}

fn plain() -> M {
    setup(|_| {})
}

fn tokens(access: &str, ttl: u64) -> String {
    format!(
        r#"{{"access_token":"{access}","refresh_token":"r-{access}","token_type":"bearer","expires_in":{ttl}}}"#
    )
}

impl M {
    fn intents(&mut self) -> Vec<Intent> {
        core::iter::from_fn(|| self.m.poll()).collect()
    }

    fn advance(&mut self, ms: u64) {
        self.now = self.now.saturating_add(Duration::from_millis(ms));
    }

    fn get(&mut self) -> Handle {
        self.m
            .start(self.now, RequestMeta::for_method("GET", true), None)
    }

    /// Answers the auth request in `intents` with `body` (status 200).
    fn answer_auth(&mut self, intents: &[Intent], body: &str) {
        let op = auth_op(intents).expect("an Authenticate");
        assert!(self.m.auth_chunk(op, body.as_bytes()));
        self.m
            .auth_response(self.now, op, 200, Some("application/json"), None, None);
    }

    fn ok(&mut self, x: Handle) {
        self.m.response(self.now, x, 200, None, None, None);
    }

    /// Logs in with a token of `ttl` seconds; returns the login's intents' tail.
    fn logged_in(&mut self, access: &str, ttl: u64) {
        let x = self.m.login(self.now);
        let mut i = self.intents();
        if i.iter().any(|i| matches!(i, Intent::Lock)) {
            self.m.locked(self.now, None, None);
            i = self.intents();
        }
        self.answer_auth(&i, &tokens(access, ttl));
        let i = self.intents();
        assert!(delivered(&i).contains(&x), "{i:?}");
    }
}

fn set(access: &str, issued: Timestamp, ttl_ms: u64) -> TokenSet {
    TokenSet {
        access_token: Secret::new(access),
        refresh_token: Some(Secret::new(format!("r-{access}"))),
        issued_at: issued,
        expires_at: issued.saturating_add(Duration::from_millis(ttl_ms)),
        refresh_expires_at: None,
    }
}

fn auth_op(intents: &[Intent]) -> Option<u64> {
    intents.iter().find_map(|i| match i {
        Intent::Authenticate(a) => Some(a.id.as_u64()),
        _ => None,
    })
}

fn sends(intents: &[Intent]) -> Vec<(Handle, String)> {
    intents
        .iter()
        .filter_map(|i| match i {
            Intent::Send { x, authorization } => {
                Some((*x, authorization.to_str().unwrap().to_owned()))
            }
            _ => None,
        })
        .collect()
}

fn delivered(intents: &[Intent]) -> Vec<Handle> {
    intents
        .iter()
        .filter_map(|i| match i {
            Intent::Deliver { x } => Some(*x),
            _ => None,
        })
        .collect()
}

fn failed(intents: &[Intent]) -> Vec<(Handle, Error)> {
    intents
        .iter()
        .filter_map(|i| match i {
            Intent::Fail { x, error } => Some((*x, error.clone())),
            _ => None,
        })
        .collect()
}

fn count(intents: &[Intent], f: impl Fn(&Intent) -> bool) -> usize {
    intents.iter().filter(|i| f(i)).count()
}

#[test]
fn the_hot_path_is_one_send_and_one_deliver() {
    let mut m = plain();
    m.logged_in("a1", 1800);
    let x = m.get();
    let i = m.intents();
    assert_eq!(sends(&i), [(x, "Bearer a1".to_owned())], "{i:?}");
    m.ok(x);
    let i = m.intents();
    assert_eq!(delivered(&i), [x]);
    // Nothing else: no timer, no store, no event on the hot path.
    assert_eq!(i.len(), 1, "{i:?}");
    let y = m.get();
    assert_eq!(m.intents().len(), 1);
    m.ok(y);
    assert_eq!(m.intents().len(), 1);
}

#[test]
fn a_herd_at_expiry_waits_for_one_refresh_then_goes_out_with_its_token() {
    let mut m = plain();
    m.logged_in("a1", 2);
    m.advance(2100);
    let xs: Vec<Handle> = (0..50).map(|_| m.get()).collect();
    let i = m.intents();
    assert_eq!(count(&i, |i| matches!(i, Intent::Authenticate(_))), 1);
    assert!(sends(&i).is_empty(), "nobody sends the expired token");
    let auth = i
        .iter()
        .find_map(|i| match i {
            Intent::Authenticate(a) => Some(a),
            _ => None,
        })
        .unwrap();
    assert_eq!(auth.request.url(), format!("{BASE}/api/refresh"));
    assert_eq!(
        auth.request.headers()["authorization"],
        "Bearer r-a1",
        "the refresh token goes as a bearer header"
    );
    m.answer_auth(&i, &tokens("a2", 1800));
    let i = m.intents();
    let sent = sends(&i);
    assert_eq!(sent.len(), 50);
    assert!(sent.iter().all(|(_, h)| h == "Bearer a2"));
    let mut got: Vec<Handle> = sent.iter().map(|s| s.0).collect();
    got.sort_unstable();
    assert_eq!(got, xs);
    assert!(
        i.iter()
            .any(|i| matches!(i, Intent::Event(Event::Refreshed { .. })))
    );
}

#[test]
fn an_attempt_without_response_headers_by_the_timeout_is_cut_and_resent_if_idempotent() {
    let mut m = setup(|s| s.timeout = Some(Duration::from_secs(30)));
    m.logged_in("a1", 1800);
    m.advance(1000);
    let get = m.get();
    let post =
        m.m.start(m.now, RequestMeta::for_method("POST", true), None);
    let i = m.intents();
    assert_eq!(sends(&i).len(), 2);
    // (The timer armed for the login's deadline fires first, with nothing due: re-armed.)
    m.advance(29_000);
    m.m.fire(m.now);
    let i = m.intents();
    assert_eq!(count(&i, |i| matches!(i, Intent::Cut { .. })), 0, "{i:?}");
    let deadline = m.now.saturating_add(Duration::from_secs(1));
    assert!(
        i.iter()
            .any(|i| matches!(i, Intent::Timer { at, .. } if *at == deadline)),
        "{i:?}"
    );
    m.advance(999);
    m.m.fire(m.now);
    assert_eq!(count(&m.intents(), |i| matches!(i, Intent::Cut { .. })), 0);
    m.advance(1);
    m.m.fire(m.now);
    let i = m.intents();
    assert_eq!(
        count(
            &i,
            |i| matches!(i, Intent::Cut { x } if *x == get || *x == post)
        ),
        2
    );
    // The POST may have reached the server: not resent.
    let f = failed(&i);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].0, post);
    assert!(matches!(
        f[0].1,
        Error::Transport {
            may_have_reached_server: true,
            attempts: 1,
            ..
        }
    ));
    // The GET waits for the engine's backoff (the host stays alive for it).
    assert!(sends(&i).is_empty());
    assert!(
        i.iter().any(|i| matches!(
            i,
            Intent::Timer {
                keep_alive: true,
                ..
            }
        )),
        "{i:?}"
    );
    // A late answer to the cut attempt is ignored.
    m.ok(get);
    assert!(delivered(&m.intents()).is_empty());
    m.advance(10_000);
    m.m.fire(m.now);
    let i = m.intents();
    assert_eq!(sends(&i), [(get, "Bearer a1".to_owned())]);
    m.ok(get);
    assert_eq!(delivered(&m.intents()), [get]);
    assert_eq!(m.m.metrics(m.now).transient_resends, 1);
}

#[test]
fn the_timer_is_armed_only_when_something_earlier_is_due_and_keeps_the_host_alive_only_for_waiters()
{
    let mut m = setup(|s| s.timeout = Some(Duration::from_secs(30)));
    let timers = |i: &[Intent]| -> Vec<(Timestamp, bool)> {
        i.iter()
            .filter_map(|i| match i {
                Intent::Timer { at, keep_alive } => Some((*at, *keep_alive)),
                _ => None,
            })
            .collect()
    };
    let login = m.m.login(m.now);
    let deadline = m.now.saturating_add(Duration::from_secs(30));
    let i = m.intents();
    assert_eq!(
        timers(&i),
        [(deadline, true)],
        "the login waits on the auth deadline"
    );
    m.answer_auth(&i, &tokens("a1", 1800));
    let i = m.intents();
    assert_eq!(delivered(&i), [login]);
    assert_eq!(
        timers(&i),
        [(deadline, false)],
        "nobody waits any more: the same timer, not keeping the host alive"
    );
    // A request in flight has a later deadline: the timer stays as it is.
    m.advance(10);
    let x = m.get();
    let i = m.intents();
    assert_eq!(sends(&i).len(), 1);
    assert_eq!(i.len(), 1, "{i:?}");
    m.ok(x);
    assert_eq!(m.intents().len(), 1);
    // It fires with nothing due (the request's deadline went with it), and nothing else is
    // due later (no background refresh): no timer.
    m.now = deadline;
    m.m.fire(m.now);
    assert_eq!(timers(&m.intents()), []);
    // Past expiry a request waits for the refresh: the host stays alive for it.
    m.now = Timestamp::from_millis(T0 + 1_800_000);
    let _y = m.get();
    let i = m.intents();
    assert!(auth_op(&i).is_some());
    assert!(timers(&i).iter().all(|t| t.1), "{i:?}");
}

#[test]
fn the_auth_deadline_aborts_the_request() {
    let mut m = plain();
    let x = m.get();
    let i = m.intents();
    let op = auth_op(&i).unwrap();
    m.advance(30_000);
    m.m.fire(m.now);
    let i = m.intents();
    assert!(
        i.iter()
            .any(|i| matches!(i, Intent::AbortAuth { op: o } if *o == op)),
        "{i:?}"
    );
    // Its late answer is not reported.
    assert!(!m.m.auth_chunk(op, b"{}"));
    m.m.auth_response(m.now, op, 200, None, None, None);
    assert!(auth_op(&m.intents()).is_none());
    // The retry after the backoff logs in.
    m.advance(10_000);
    m.m.fire(m.now);
    let i = m.intents();
    let op2 = auth_op(&i).expect("a retry");
    assert_ne!(op, op2);
    m.answer_auth(&i, &tokens("a1", 1800));
    assert_eq!(sends(&m.intents()), [(x, "Bearer a1".to_owned())]);
}

#[test]
fn an_auth_answer_is_read_up_to_the_limit_and_the_tokens_held_are_kept() {
    let mut m = plain();
    m.logged_in("a1", 1800);
    let x = m.m.login(m.now);
    let i = m.intents();
    let op = auth_op(&i).unwrap();
    let chunk = vec![b'{'; 10_000];
    let mut pushed = 0;
    while m.m.auth_chunk(op, &chunk) {
        pushed += 1;
        assert!(pushed < 100);
    }
    assert_eq!(pushed, MAX_AUTH_BODY / 10_000);
    m.m.auth_response(m.now, op, 200, Some("application/json"), None, None);
    let i = m.intents();
    let f = failed(&i);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].0, x);
    assert_eq!(
        f[0].1,
        Error::InvalidAuthResponse(InvalidAuthResponse::TooLarge {
            len: MAX_AUTH_BODY + 1,
            limit: MAX_AUTH_BODY
        })
    );
    let y = m.get();
    assert_eq!(sends(&m.intents()), [(y, "Bearer a1".to_owned())]);
}

#[test]
fn a_stored_set_is_adopted_at_start_and_when_it_changes() {
    let mut m = setup(|s| s.persistent = true);
    let stored = set("s1", m.now, 1_800_000).to_json();
    m.m.restore(m.now, Some(&stored));
    let x = m.get();
    assert_eq!(sends(&m.intents()), [(x, "Bearer s1".to_owned())]);
    m.ok(x);
    m.advance(10);
    let newer = set("s2", m.now, 1_800_000).to_json();
    let y =
        m.m.start(m.now, RequestMeta::for_method("GET", true), Some(&newer));
    assert_eq!(sends(&m.intents()), [(y, "Bearer s2".to_owned())]);
}

#[test]
fn credentials_on_demand_one_question_and_a_throw_rejects_the_waiters() {
    let mut m = setup(|s| {
        s.provider = true;
        s.credentials = Credentials::none();
    });
    let xs = [m.get(), m.get(), m.get()];
    let i = m.intents();
    assert_eq!(count(&i, |i| matches!(i, Intent::Ask)), 1, "{i:?}");
    m.m.answer(m.now, None, true);
    let i = m.intents();
    let rejected: Vec<Handle> = i
        .iter()
        .filter_map(|i| match i {
            Intent::Reject { x } => Some(*x),
            _ => None,
        })
        .collect();
    assert_eq!(rejected.len(), 3);
    for x in xs {
        assert!(rejected.contains(&x));
    }
    // Next time, an answer logs in.
    let x = m.get();
    assert_eq!(count(&m.intents(), |i| matches!(i, Intent::Ask)), 1);
    m.m.answer(m.now, Some(Credentials::password("admin", "pw")), false);
    let i = m.intents();
    let auth = i
        .iter()
        .find_map(|i| match i {
            Intent::Authenticate(a) => Some(a),
            _ => None,
        })
        .expect("a login");
    assert_eq!(auth.request.body(), b"username=admin&password=pw");
    m.answer_auth(&i, &tokens("a1", 1800));
    assert_eq!(sends(&m.intents()), [(x, "Bearer a1".to_owned())]);
}

#[test]
fn a_cancelled_exchange_gets_no_step() {
    let mut m = plain();
    let x = m.get();
    let i = m.intents();
    m.m.cancel(m.now, x);
    m.answer_auth(&i, &tokens("a1", 1800));
    let i = m.intents();
    assert!(sends(&i).is_empty() && delivered(&i).is_empty(), "{i:?}");
}
