//! tokenkeeper-js: the WebAssembly module of the npm package `tokenkeeper`: the synchronous
//! browser driver ([`tokenkeeper_wasm::machine`]) behind plain exports that take and return
//! numbers. Text and bytes go through two buffers in the module's memory (see [`io`]): the
//! shell writes a call's text arguments into the inbox and passes their lengths; a call's
//! answer text is in the outbox until the next call. The module imports nothing, so the shell
//! (`bindings-js/js/`) instantiates it directly, with no generated glue.
//!
//! Everything that does I/O, waits or wakes is the shell's: `fetch`, timers, Web Locks,
//! `BroadcastChannel`, Web Storage, the credentials callback, the user's listeners. The
//! machine decides; the shell does what its intents say and reports back.

#![allow(unsafe_code)] // `#[unsafe(no_mangle)]` on the exports only; no other unsafe code.
#![deny(missing_docs)]

mod io;
mod out;
mod setup;

use std::cell::RefCell;

use http::Method;
use tokenkeeper_core::dialect::Credentials;
use tokenkeeper_core::{Secret, Timestamp, TokenSet};
use tokenkeeper_wasm::machine::Machine;

thread_local! {
    /// The live keepers; a keeper's number is its index + 1.
    static KEEPERS: RefCell<Vec<Option<Machine>>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on keeper `k` (nothing, and `R::default()`, for a freed or unknown one).
fn with<R: Default>(k: u32, f: impl FnOnce(&mut Machine) -> R) -> R {
    KEEPERS.with(|all| {
        let mut all = all.borrow_mut();
        match all.get_mut((k as usize).wrapping_sub(1)) {
            Some(Some(m)) => f(m),
            _ => R::default(),
        }
    })
}

/// `Date.now()` as the engine's time.
fn at(ms: f64) -> Timestamp {
    Timestamp::from_millis(if ms.is_finite() && ms > 0.0 {
        ms as u64
    } else {
        0
    })
}

/// Room for `len` bytes of arguments; where to write them.
#[unsafe(no_mangle)]
pub extern "C" fn inbox(len: u32) -> u32 {
    io::inbox(len as usize) as u32
}

/// Where the last answer's text is.
#[unsafe(no_mangle)]
pub extern "C" fn outbox() -> u32 {
    io::outbox().0 as u32
}

/// The last answer's length.
#[unsafe(no_mangle)]
pub extern "C" fn outbox_len() -> u32 {
    io::outbox().1 as u32
}

/// Starts a new keeper's options (then [`opt_str`], [`opt_num`], [`build`]).
#[unsafe(no_mangle)]
pub extern "C" fn begin() {
    setup::begin();
}

/// Text option `id`, `len` bytes in the inbox.
#[unsafe(no_mangle)]
pub extern "C" fn opt_str(id: u32, len: i32) {
    io::args([len], |[s]| setup::set_str(id, s.unwrap_or_default()));
}

/// Number option `id`.
#[unsafe(no_mangle)]
pub extern "C" fn opt_num(id: u32, value: f64) {
    setup::set_num(id, value);
}

/// Builds the keeper from the options given; its number, or 0 with the reason in the outbox.
#[unsafe(no_mangle)]
pub extern "C" fn build() -> u32 {
    match setup::build().and_then(Machine::new) {
        Ok(m) => KEEPERS.with(|all| {
            let mut all = all.borrow_mut();
            if let Some(i) = all.iter().position(Option::is_none) {
                all[i] = Some(m);
                i as u32 + 1
            } else {
                all.push(Some(m));
                all.len() as u32
            }
        }),
        Err(e) => {
            out::config_error(&e);
            0
        }
    }
}

/// Frees keeper `k`.
#[unsafe(no_mangle)]
pub extern "C" fn free_keeper(k: u32) {
    KEEPERS.with(|all| {
        if let Some(slot) = all.borrow_mut().get_mut((k as usize).wrapping_sub(1)) {
            *slot = None;
        }
    });
}

/// The keeper's key (outbox).
#[unsafe(no_mangle)]
pub extern "C" fn key(k: u32) {
    with(k, |m| io::answer(&[m.key().as_bytes()]));
}

/// The token endpoint's origin as the engine read it (outbox; empty for none).
#[unsafe(no_mangle)]
pub extern "C" fn token_origin(k: u32) {
    with(k, |m| {
        io::answer(&[m.token_origin().unwrap_or_default().as_bytes()]);
    });
}

/// One more origin the token may go to (inbox); 1, or 0 with the reason in the outbox.
#[unsafe(no_mangle)]
pub extern "C" fn allow_origin(k: u32, len: i32) -> u32 {
    with(k, |m| {
        io::args([len], |[o]| match m.allow_origin(o.unwrap_or_default()) {
            Ok(()) => 1,
            Err(e) => {
                out::config_error(&e);
                0
            }
        })
    })
}

/// Whether the token may go to this scheme and host (inbox) and port (-1: the default).
#[unsafe(no_mangle)]
pub extern "C" fn allows(k: u32, scheme: i32, host: i32, port: i32) -> u32 {
    with(k, |m| {
        io::args([scheme, host], |[s, h]| {
            let port = u16::try_from(port).ok();
            u32::from(m.allows(s.unwrap_or_default(), h.unwrap_or_default(), port))
        })
    })
}

/// Starts with what the store holds (inbox; -1: nothing).
#[unsafe(no_mangle)]
pub extern "C" fn restore(k: u32, now: f64, stored: i32) {
    with(k, |m| io::args([stored], |[s]| m.restore(at(now), s)));
}

/// A caller's request: its method (inbox; 0 bytes: GET), whether its body can be sent again,
/// and what the store holds if it changed (inbox, after the method; -1: unchanged). Its handle.
#[unsafe(no_mangle)]
pub extern "C" fn start(k: u32, now: f64, method: i32, replayable: u32, stored: i32) -> u32 {
    with(k, |m| {
        io::args([method, stored], |[method, stored]| {
            let method = match method {
                Some(s) if !s.is_empty() => {
                    Method::from_bytes(s.as_bytes()).unwrap_or(Method::POST)
                }
                _ => Method::GET,
            };
            m.start(at(now), &method, replayable != 0, stored)
        })
    })
}

/// An explicit login; its handle.
#[unsafe(no_mangle)]
pub extern "C" fn login(k: u32, now: f64) -> u32 {
    with(k, |m| m.login(at(now)))
}

/// Exchange `x`'s response: status, and `WWW-Authenticate`, `Retry-After`, `Date` (inbox;
/// -1: absent).
#[unsafe(no_mangle)]
pub extern "C" fn response(k: u32, now: f64, x: u32, status: u32, www: i32, retry: i32, date: i32) {
    with(k, |m| {
        io::args([www, retry, date], |[w, r, d]| {
            m.response(at(now), x, status as u16, w, r, d);
        });
    });
}

/// Exchange `x`'s response says nothing about the token (another origin, or opaque).
#[unsafe(no_mangle)]
pub extern "C" fn foreign(k: u32, now: f64, x: u32) {
    with(k, |m| m.foreign(at(now), x));
}

/// Exchange `x`'s request failed without a response.
#[unsafe(no_mangle)]
pub extern "C" fn send_error(k: u32, now: f64, x: u32) {
    with(k, |m| m.send_error(at(now), x));
}

/// Exchange `x`'s caller went away.
#[unsafe(no_mangle)]
pub extern "C" fn cancel(k: u32, now: f64, x: u32) {
    with(k, |m| m.cancel(at(now), x));
}

/// The timer fired.
#[unsafe(no_mangle)]
pub extern "C" fn fire(k: u32, now: f64) {
    with(k, |m| m.fire(at(now)));
}

/// The cross-tab lock is held (or could not be had): the store and the epoch marker (inbox;
/// -1: absent).
#[unsafe(no_mangle)]
pub extern "C" fn locked(k: u32, now: f64, stored: i32, epoch: i32) {
    with(k, |m| {
        io::args([stored, epoch], |[s, e]| m.locked(at(now), s, e));
    });
}

/// Whether another tab's keeper of this key is alive.
#[unsafe(no_mangle)]
pub extern "C" fn peers(k: u32, now: f64, alive: u32) {
    with(k, |m| m.peers(at(now), alive != 0));
}

/// The next `len` bytes of auth operation `op`'s answer (inbox, wiped after); 0: stop reading.
#[unsafe(no_mangle)]
pub extern "C" fn auth_chunk(k: u32, op: f64, len: u32) -> u32 {
    with(k, |m| {
        io::bytes(len as usize, |b| u32::from(m.auth_chunk(op as u64, b)))
    })
}

/// Auth operation `op` was answered: status, and `Content-Type`, `Date`, `Retry-After`
/// (inbox; -1: absent).
#[unsafe(no_mangle)]
pub extern "C" fn auth_response(
    k: u32,
    now: f64,
    op: f64,
    status: u32,
    ct: i32,
    date: i32,
    retry: i32,
) {
    with(k, |m| {
        io::args([ct, date, retry], |[c, d, r]| {
            m.auth_response(at(now), op as u64, status as u16, c, d, r);
        });
    });
}

/// Auth operation `op` failed without an answer.
#[unsafe(no_mangle)]
pub extern "C" fn auth_error(k: u32, now: f64, op: f64) {
    with(k, |m| m.auth_error(at(now), op as u64));
}

/// A message from another tab (inbox).
#[unsafe(no_mangle)]
pub extern "C" fn message(k: u32, now: f64, len: i32) {
    with(k, |m| {
        io::args([len], |[t]| m.message(at(now), t.unwrap_or_default()));
    });
}

/// The credentials callback answered: username and password (inbox; -1: none), or it threw.
#[unsafe(no_mangle)]
pub extern "C" fn answer(k: u32, now: f64, username: i32, password: i32, thrown: u32) {
    with(k, |m| {
        io::args([username, password], |[u, p]| {
            let credentials = (thrown == 0 && u.is_some() && p.is_some()).then(|| Credentials {
                username: u.map(str::to_owned),
                password: p.map(Secret::new),
            });
            m.answer(at(now), credentials, thrown != 0);
        });
    });
}

/// Installs tokens: access and refresh token (inbox; -1: none) and the times (NaN: none;
/// `issued` NaN: now). 1, or 0 with the reason in the outbox.
#[unsafe(no_mangle)]
pub extern "C" fn set_tokens(
    k: u32,
    now: f64,
    access: i32,
    refresh: i32,
    issued: f64,
    expires: f64,
    refresh_expires: f64,
) -> u32 {
    with(k, |m| {
        io::args([access, refresh], |[a, r]| {
            let set = TokenSet {
                access_token: Secret::new(a.unwrap_or_default()),
                refresh_token: r.map(Secret::new),
                issued_at: if issued.is_nan() { at(now) } else { at(issued) },
                expires_at: at(expires),
                refresh_expires_at: (!refresh_expires.is_nan()).then(|| at(refresh_expires)),
            };
            match m.set_tokens(at(now), &set) {
                Ok(()) => 1,
                Err(e) => {
                    out::config_error(&e);
                    0
                }
            }
        })
    })
}

/// Logs out here, in the store and in the other tabs.
#[unsafe(no_mangle)]
pub extern "C" fn logout(k: u32, now: f64) {
    with(k, |m| m.logout(at(now)));
}

/// Where the 15 numbers of `keeper.metrics()` are.
#[unsafe(no_mangle)]
pub extern "C" fn metrics(k: u32, now: f64) -> u32 {
    with(k, |m| io::nums(&out::metrics(&m.metrics(at(now)))) as u32)
}

/// The next intent (`code + 32 × arg`, its text in the outbox), or 0 when there is none.
#[unsafe(no_mangle)]
pub extern "C" fn poll(k: u32) -> f64 {
    with(k, |m| {
        while let Some(intent) = m.poll() {
            if let Some(n) = out::encode(intent) {
                return n;
            }
        }
        io::wipe();
        0.0
    })
}
