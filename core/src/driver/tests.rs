//! The kit driven as a driver would drive it: inputs in, work out, steps taken by tasks.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Wake, Waker};
use std::time::Duration;

use http::{HeaderMap, Method, StatusCode};

use super::*;
use crate::config::Config;
use crate::dialect::{Credentials, Dialect};

const T0: Timestamp = Timestamp::from_secs(1_800_000_000);

struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn waker() -> (Arc<Count>, Waker) {
    let c = Arc::new(Count(AtomicUsize::new(0)));
    (c.clone(), Waker::from(c))
}

fn driver(config: Config) -> Driver {
    Driver::new(
        Session::new(
            config,
            Dialect::vitalgraph("http://127.0.0.1:8001").unwrap(),
            Credentials::password("admin", "admin"),
            7,
        )
        .unwrap(),
    )
}

fn get() -> RequestMeta {
    RequestMeta::new(&Method::GET, true)
}

fn body(text: &str) -> AuthBody {
    let mut b = AuthBody::new();
    let _ = b.push(text.as_bytes());
    b
}

fn token(access: &str) -> AuthBody {
    body(&format!(
        r#"{{"access_token":"{access}","refresh_token":"R","token_type":"bearer","expires_in":1800}}"#
    ))
}

fn answer_ok(d: &mut Driver, now: Timestamp, op: AuthId, work: &mut Work) {
    let b = token("A1");
    d.auth_outcome(
        now,
        op,
        AuthOutcome::Response {
            status: StatusCode::OK,
            headers: &HeaderMap::new(),
            body: &b,
        },
        work,
    );
}

#[test]
fn a_waiting_exchange_is_woken_with_its_send_once_the_login_answers() {
    let mut d = driver(Config::default());
    let mut work = Work::default();
    let (id, step) = d.start(T0, get(), &mut work);
    assert!(step.is_none(), "it waits for the login");
    let auth = work.auth.take().expect("the login is handed out");
    assert_eq!(auth.kind, crate::AuthKind::Login);
    let (count, w) = waker();
    assert!(d.step(id, Some(&w)).is_none());

    let mut work = Work::default();
    answer_ok(&mut d, T0, auth.id, &mut work);
    assert_eq!(work.wakers.len(), 1);
    work.wake();
    assert_eq!(count.0.load(Ordering::SeqCst), 1);
    assert!(matches!(d.step(id, None), Some(Step::Send(h)) if h.as_bytes() == b"Bearer A1"));
    assert!(
        work.events
            .iter()
            .any(|e| matches!(e, Event::TokensChanged(_))),
        "events are collected for the driver"
    );

    let mut work = Work::default();
    let ((), step) = d.report(T0, id, &mut work, |s, now| {
        s.handle_response(now, id, StatusCode::OK, &HeaderMap::new());
    });
    assert!(matches!(step, Some(Step::Deliver)));
    assert!(!d.is_open(id), "a final step closes the mailbox");
    assert_eq!(d.session().live_exchanges(), 0);
}

#[test]
fn the_auth_deadline_comes_out_as_an_abort_and_the_operation_is_no_longer_current() {
    let mut d = driver(Config {
        auth_timeout: Duration::from_secs(5),
        ..Config::default()
    });
    let mut work = Work::default();
    let _ = d.start(T0, get(), &mut work);
    let op = work.auth.take().unwrap().id;
    assert!(d.is_current_auth(op));
    let (at, kind) = d.next_timer().unwrap();
    assert_eq!(kind, TimerKind::AuthDeadline);
    let mut work = Work::default();
    d.fire_timers(at, &mut work);
    assert_eq!(work.abort, [op]);
    assert!(!d.is_current_auth(op));
    // Whatever the aborted task still reports changes nothing.
    let mut later = Work::default();
    answer_ok(&mut d, at, op, &mut later);
    assert!(later.wakers.is_empty() && later.events.is_empty());
    assert!(d.session().tokens().is_none());
}

#[test]
fn an_auth_operation_the_driver_cannot_start_is_parked_for_the_next_waiter() {
    let mut d = driver(Config::default());
    let mut work = Work::default();
    let (id, _) = d.start(T0, get(), &mut work);
    let (count, w) = waker();
    assert!(d.step(id, Some(&w)).is_none());
    let auth = work.auth.take().unwrap();
    let op = auth.id;
    let mut work = Work::default();
    d.park_auth(auth, &mut work);
    work.wake();
    assert_eq!(
        count.0.load(Ordering::SeqCst),
        1,
        "waiters are woken to take it"
    );
    assert_eq!(d.take_parked_auth().map(|a| a.id), Some(op));
    assert!(d.take_parked_auth().is_none());
}

#[test]
fn an_abandoned_auth_operation_is_handed_out_again() {
    let mut d = driver(Config::default());
    let mut work = Work::default();
    let _ = d.start(T0, get(), &mut work);
    let op = work.auth.take().unwrap().id;
    let mut work = Work::default();
    d.auth_outcome(T0, op, AuthOutcome::Abandoned, &mut work);
    let again = work.auth.take().expect("restarted for the waiter");
    assert_ne!(again.id, op);
}

#[test]
fn a_cancelled_or_interrupted_exchange_leaves_the_engine() {
    let mut d = driver(Config::default());
    let mut work = Work::default();
    let (a, _) = d.start(T0, get(), &mut work);
    let (b, _) = d.start(T0, get(), &mut work);
    assert_eq!(d.session().live_exchanges(), 2);
    d.cancel(a, &mut work);
    assert_eq!(d.session().live_exchanges(), 1);
    let (count, w) = waker();
    assert!(d.step(b, Some(&w)).is_none());
    d.interrupt(b).unwrap().wake();
    assert_eq!(count.0.load(Ordering::SeqCst), 1);
    assert!(matches!(d.step(b, None), Some(Step::Interrupted)));
    d.cancel(b, &mut work);
    assert_eq!(d.session().live_exchanges(), 0);
}

#[test]
fn the_question_for_credentials_is_asked_once_and_its_failures_are_named() {
    let mut d = Driver::new(
        Session::new(
            Config {
                ask_for_credentials: true,
                ..Config::default()
            },
            Dialect::vitalgraph("http://127.0.0.1:8001").unwrap(),
            Credentials::none(),
            7,
        )
        .unwrap(),
    );
    let mut work = Work::default();
    let (a, _) = d.start(T0, get(), &mut work);
    assert!(work.ask, "asked at the end of the input that raised it");
    let mut work = Work::default();
    let (b, _) = d.start(T0, get(), &mut work);
    assert!(!work.ask && !d.take_ask(), "not twice while asking");
    let mut work = Work::default();
    let failed = d.answer(T0, None, &mut work);
    assert_eq!(failed, [a, b]);
    assert!(matches!(
        d.step(a, None),
        Some(Step::Fail(crate::Error::SessionExpired))
    ));
}

#[test]
fn timer_moves_are_reported_and_earlier_ones_flagged() {
    let mut d = driver(Config::default());
    let mut work = Work::default();
    let _ = d.start(T0, get(), &mut work);
    let moved = work.timer.expect("the auth deadline is a new timer");
    assert!(moved.earlier());
    assert_eq!(moved.to.map(|(_, k)| k), Some(TimerKind::AuthDeadline));
    let op = work.auth.take().unwrap().id;
    let mut work = Work::default();
    answer_ok(&mut d, T0, op, &mut work);
    let moved = work.timer.expect("the deadline is gone");
    assert!(!moved.earlier());
    assert_eq!(moved.to, None);
}
