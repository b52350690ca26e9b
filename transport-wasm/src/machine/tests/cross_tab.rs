//! The cross-tab protocol: the lock, the store read under it, the epoch marker and the
//! other tabs' answers, the messages, and what is published before the lock is released.

use core::time::Duration;

use tokenkeeper_core::{Event, Timestamp};

use super::{M, T0, auth_op, count, sends, set, setup, tokens};
use crate::crosstab::Message;
use crate::machine::Intent;

fn cross(persistent: bool) -> M {
    setup(|s| {
        s.cross_tab = true;
        s.persistent = persistent;
        s.key = Some("k".into());
    })
}

#[test]
fn cross_tab_a_new_keeper_asks_the_others_for_their_tokens() {
    let mut m = cross(false);
    let i = m.intents();
    assert!(
        matches!(i.as_slice(), [Intent::Post(Message::Ask)]),
        "{i:?}"
    );
}

#[test]
fn cross_tab_tokens_in_the_store_under_the_lock_replace_the_request() {
    let mut m = cross(true);
    let _ = m.intents();
    let x = m.get();
    let i = m.intents();
    assert!(
        matches!(i.as_slice(), [Intent::Lock, Intent::Timer { .. }]),
        "{i:?}"
    );
    let stored = set("other", m.now, 1_800_000).to_json();
    m.m.locked(m.now, Some(&stored), None);
    let i = m.intents();
    assert_eq!(
        count(&i, |i| matches!(i, Intent::Authenticate(_))),
        0,
        "{i:?}"
    );
    assert_eq!(count(&i, |i| matches!(i, Intent::Unlock)), 1);
    assert_eq!(sends(&i), [(x, "Bearer other".to_owned())]);
    // Adopted sets are not stored or broadcast again.
    assert_eq!(
        count(&i, |i| matches!(i, Intent::Save(_) | Intent::Post(_))),
        0
    );
}

#[test]
fn cross_tab_the_request_goes_out_under_the_lock_and_its_tokens_are_published_before_unlocking() {
    let mut m = cross(true);
    let _ = m.intents();
    let x = m.get();
    let _ = m.intents();
    m.m.locked(m.now, None, None);
    let i = m.intents();
    let op = auth_op(&i).expect("sent once the lock is held");
    assert!(m.m.auth_chunk(op, tokens("a1", 1800).as_bytes()));
    m.m.auth_response(m.now, op, 200, None, None, None);
    let i = m.intents();
    let pos = |f: &dyn Fn(&Intent) -> bool| i.iter().position(f).unwrap();
    let save = pos(&|i| matches!(i, Intent::Save(_)));
    let post = pos(&|i| matches!(i, Intent::Post(Message::Set(_))));
    let mark = pos(&|i| matches!(i, Intent::Mark(Some(t)) if *t == m.now));
    let unlock = pos(&|i| matches!(i, Intent::Unlock));
    assert!(save < unlock && post < unlock && mark < unlock, "{i:?}");
    assert_eq!(sends(&i), [(x, "Bearer a1".to_owned())]);
}

#[test]
fn cross_tab_a_newer_epoch_and_a_live_peer_mean_asking_before_sending() {
    let mut m = cross(false);
    let _ = m.intents();
    let x = m.get();
    let _ = m.intents();
    let epoch = (m.now.as_millis() - 5).to_string();
    m.m.locked(m.now, None, Some(&epoch));
    assert!(matches!(m.intents().as_slice(), [Intent::Peers]));
    m.m.peers(m.now, true);
    let i = m.intents();
    assert_eq!(
        count(&i, |i| matches!(i, Intent::Post(Message::Ask))),
        1,
        "{i:?}"
    );
    assert!(auth_op(&i).is_none());
    // The peer answers within the wait: its set is adopted, nothing is sent.
    m.advance(20);
    let theirs = Message::Set(set("peer", Timestamp::from_millis(T0 - 5), 1_800_000));
    m.m.message(m.now, &theirs.encode());
    let i = m.intents();
    assert!(auth_op(&i).is_none(), "{i:?}");
    assert_eq!(count(&i, |i| matches!(i, Intent::Unlock)), 1);
    assert_eq!(sends(&i), [(x, "Bearer peer".to_owned())]);
}

#[test]
fn cross_tab_a_peer_that_does_not_answer_holds_the_request_up_for_peer_wait_only() {
    let mut m = cross(false);
    let _ = m.intents();
    let _x = m.get();
    let _ = m.intents();
    m.m.locked(m.now, None, Some(&m.now.as_millis().to_string()));
    let _ = m.intents();
    m.m.peers(m.now, true);
    let i = m.intents();
    let until = m.now.saturating_add(Duration::from_secs(1));
    assert!(
        i.iter()
            .any(|i| matches!(i, Intent::Timer { at, .. } if *at == until)),
        "{i:?}"
    );
    m.advance(999);
    m.m.fire(m.now);
    assert!(auth_op(&m.intents()).is_none());
    m.advance(1);
    m.m.fire(m.now);
    assert!(auth_op(&m.intents()).is_some());
}

#[test]
fn cross_tab_no_live_peer_means_no_wait() {
    let mut m = cross(false);
    let _ = m.intents();
    let _x = m.get();
    let _ = m.intents();
    m.m.locked(m.now, None, Some(&(m.now.as_millis() + 1).to_string()));
    let _ = m.intents();
    m.m.peers(m.now, false);
    assert!(auth_op(&m.intents()).is_some());
}

#[test]
fn cross_tab_the_auth_deadline_releases_the_lock() {
    let mut m = cross(false);
    let _ = m.intents();
    let _x = m.get();
    let _ = m.intents();
    m.m.locked(m.now, None, None);
    let op = auth_op(&m.intents()).unwrap();
    m.advance(30_000);
    m.m.fire(m.now);
    let i = m.intents();
    let abort = i
        .iter()
        .position(|i| matches!(i, Intent::AbortAuth { op: o } if *o == op));
    let unlock = i.iter().position(|i| matches!(i, Intent::Unlock));
    assert!(abort.is_some() && unlock.is_some(), "{i:?}");
}

#[test]
fn cross_tab_messages_ask_set_and_clear() {
    let mut m = cross(true);
    let _ = m.intents();
    m.logged_in("a1", 1800);
    let _ = m.intents();
    // Ask: answered with the set held.
    m.m.message(m.now, "a");
    let i = m.intents();
    assert!(
        matches!(i.as_slice(), [Intent::Post(Message::Set(s))] if s.access_token.expose() == "a1"),
        "{i:?}"
    );
    // An older set is refused; a newer one adopted and stored.
    let older = Message::Set(set("old", Timestamp::from_millis(T0 - 1), 1_800_000));
    m.m.message(m.now, &older.encode());
    assert!(m.intents().is_empty());
    m.advance(5);
    let newer = Message::Set(set("new", m.now, 1_800_000));
    m.m.message(m.now, &newer.encode());
    let i = m.intents();
    assert_eq!(count(&i, |i| matches!(i, Intent::Save(_))), 1, "{i:?}");
    assert_eq!(m.m.session().tokens().unwrap().access_token.expose(), "new");
    // Clear: logged out here too, the store cleared, nothing posted back.
    m.m.message(m.now, "c");
    let i = m.intents();
    assert!(m.m.session().tokens().is_none());
    assert_eq!(count(&i, |i| matches!(i, Intent::Clear)), 1);
    assert_eq!(count(&i, |i| matches!(i, Intent::Post(_))), 0);
    // Garbage is ignored.
    m.m.message(m.now, "s{not json");
    assert!(m.intents().is_empty());
}

#[test]
fn logout_clears_the_store_tells_the_other_tabs_and_removes_the_marker() {
    let mut m = cross(true);
    m.logged_in("a1", 1800);
    let _ = m.intents();
    m.m.logout(m.now);
    let i = m.intents();
    assert_eq!(count(&i, |i| matches!(i, Intent::Post(Message::Clear))), 1);
    assert_eq!(count(&i, |i| matches!(i, Intent::Mark(None))), 1);
    assert_eq!(count(&i, |i| matches!(i, Intent::Clear)), 1);
    assert_eq!(
        count(&i, |i| matches!(i, Intent::Event(Event::SessionExpired))),
        1
    );
}

#[test]
fn set_tokens_are_stored_and_published() {
    let mut m = cross(true);
    let _ = m.intents();
    m.m.set_tokens(m.now, &set("given", m.now, 60_000)).unwrap();
    let i = m.intents();
    assert_eq!(count(&i, |i| matches!(i, Intent::Save(_))), 1);
    assert_eq!(count(&i, |i| matches!(i, Intent::Post(Message::Set(_)))), 1);
    assert_eq!(count(&i, |i| matches!(i, Intent::Mark(Some(_)))), 1);
    assert!(
        m.m.set_tokens(m.now, &set("bad\ntoken", m.now, 60_000))
            .is_err()
    );
}
