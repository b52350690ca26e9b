//! tokenkeeper-js: the WebAssembly module of the npm package `tokenkeeper`: the synchronous
//! browser driver ([`tokenkeeper_wasm::machine`]) behind plain exports that take and return
//! numbers. Text and bytes go through two buffers in the module's memory (see [`state`]): the
//! shell writes a call's text arguments into the inbox and passes their lengths; a call's
//! answer text is in the outbox until the next answer. The module imports nothing, so the
//! shell (`bindings-js/js/`) instantiates it directly, with no generated glue.
//!
//! Everything that does I/O, waits or wakes is the shell's: `fetch`, timers, Web Locks,
//! `BroadcastChannel`, Web Storage, the credentials callback, the user's listeners. The
//! machine decides; the shell does what its intents say and reports back.
//!
//! The exports: [`inbox`], [`outbox`], [`outbox_len`], [`nums`], the options of a new keeper
//! ([`begin`], [`opt_str`], [`opt_num`], [`build`]), and [`call`], which takes every input of a keeper
//! by operation number (`OP` in `bindings-js/js/wasm.js`).

#![allow(unsafe_code)] // `#[unsafe(no_mangle)]` on the exports and the allocator's constructor only.
#![deny(missing_docs)]

mod json;
mod out;
mod setup;
mod state;

use tokenkeeper_core::dialect::Credentials;
use tokenkeeper_core::{RequestMeta, Secret, Timestamp, TokenSet};
use tokenkeeper_wasm::machine::Machine;

use state::{State, answer, state, texts};

/// `Date.now()` (or any time in epoch ms) as the engine's time.
fn at(ms: f64) -> Timestamp {
    Timestamp::from_millis(if ms.is_finite() && ms > 0.0 {
        ms as u64
    } else {
        0
    })
}

fn nan_or(ms: f64, or: Timestamp) -> Timestamp {
    if ms.is_nan() { or } else { at(ms) }
}

/// A URL's scheme and host (texts of lengths `s` and `h` in the inbox) and port (`port`, less
/// than 0 for none), as the shell's `URL` read them.
fn origin_parts(inbox: &[u8], s: f64, h: f64, port: f64) -> (&str, &str, Option<u16>) {
    let [s, h] = texts(inbox, [s, h]);
    let port = if port < 0.0 { None } else { Some(port as u16) };
    (s.unwrap_or_default(), h.unwrap_or_default(), port)
}

/// Room for `len` bytes of arguments; where to write them.
#[unsafe(no_mangle)]
pub extern "C" fn inbox(len: u32) -> u32 {
    state().inbox(len as usize) as u32
}

/// Where the last answer's text is.
#[unsafe(no_mangle)]
pub extern "C" fn outbox() -> u32 {
    state().outbox.as_ptr() as u32
}

/// Where the numbers of the last answer are (metrics, an error's or an event's details).
#[unsafe(no_mangle)]
pub extern "C" fn nums() -> u32 {
    state().nums.as_ptr() as u32
}

/// The last answer's length.
#[unsafe(no_mangle)]
pub extern "C" fn outbox_len() -> u32 {
    state().outbox.len() as u32
}

/// Starts the options of a new keeper (what an earlier, refused, one left is forgotten).
#[unsafe(no_mangle)]
pub extern "C" fn begin() {
    state().given = setup::Given::new();
}

/// Text option `id` of the next keeper, `len` bytes in the inbox.
#[unsafe(no_mangle)]
pub extern "C" fn opt_str(id: u32, len: f64) {
    let mut st = state();
    let State { inbox, given, .. } = &mut *st;
    given.set_str(id, texts(inbox, [len])[0].unwrap_or_default());
    st.wipe_inbox();
}

/// Number option `id` of the next keeper.
#[unsafe(no_mangle)]
pub extern "C" fn opt_num(id: u32, value: f64) {
    state().given.set_num(id, value);
}

/// Builds a keeper from the options given; its number, or 0 with the reason in the outbox.
#[unsafe(no_mangle)]
pub extern "C" fn build() -> u32 {
    // The engine reads JSON with what the shell's `JSON.parse` read (it has no reader here).
    tokenkeeper_core::parse::read_json_with(Some(json::host));
    let mut st = state();
    match st.given.build().and_then(Machine::new) {
        Ok(m) => {
            let all = &mut st.keepers;
            if let Some(i) = all.iter().position(Option::is_none) {
                all[i] = Some(m);
                i as u32 + 1
            } else {
                all.push(Some(m));
                all.len() as u32
            }
        }
        Err(e) => {
            out::config_error(&mut st.outbox, &e);
            0
        }
    }
}

/// Operation `op` on keeper `k` at `now`, with up to five more arguments (text arguments are
/// in the inbox, these give their byte lengths, -1 for none). What it answers: a number (and
/// the outbox, for some). 0 for an unknown or freed keeper.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn call(op: u32, k: u32, now: f64, a: f64, b: f64, c: f64, d: f64, e: f64) -> f64 {
    let mut st = state();
    let r = dispatch(&mut st, op, k, at(now), [a, b, c, d, e]);
    st.wipe_inbox();
    if op != OFFER {
        json::clear();
    }
    r
}

/// The op that offers a JSON text and its value for the next one ([`json::offer`]).
const OFFER: u32 = 24;

fn dispatch(st: &mut State, op: u32, k: u32, now: Timestamp, [a, b, c, d, e]: [f64; 5]) -> f64 {
    let State {
        keepers,
        inbox,
        outbox,
        nums,
        ..
    } = st;
    let Some(Some(m)) = keepers.get_mut((k as usize).wrapping_sub(1)) else {
        return 0.0;
    };
    let x = a as u32;
    let yes = |ok: bool| f64::from(u8::from(ok));
    match op {
        0 => m.restore(now, texts(inbox, [a])[0]),
        1 => {
            let [method, stored] = texts(inbox, [a, c]);
            let method = method.filter(|s| !s.is_empty()).unwrap_or("GET");
            let meta = RequestMeta::for_method(method, b != 0.0);
            return m.start(now, meta, stored).into();
        }
        2 => return m.login(now).into(),
        3 => {
            let [w, r, dt] = texts(inbox, [c, d, e]);
            m.response(now, x, b as u16, w, r, dt);
        }
        4 => m.foreign(now, x),
        5 => m.send_error(now, x),
        6 => m.cancel(now, x),
        7 => m.fire(now),
        8 => {
            let [s, ep] = texts(inbox, [a, b]);
            m.locked(now, s, ep);
        }
        9 => m.peers(now, a != 0.0),
        10 => return yes(m.auth_chunk(a as u64, inbox.get(..b as usize).unwrap_or_default())),
        11 => {
            let [ct, dt, r] = texts(inbox, [c, d, e]);
            m.auth_response(now, a as u64, b as u16, ct, dt, r);
        }
        12 => m.auth_error(now, a as u64),
        13 => m.message(now, texts(inbox, [a])[0].unwrap_or_default()),
        14 => {
            let [u, p] = texts(inbox, [a, b]);
            let thrown = c != 0.0;
            let credentials = (!thrown && u.is_some() && p.is_some()).then(|| Credentials {
                username: u.map(str::to_owned),
                password: p.map(Secret::new),
            });
            m.answer(now, credentials, thrown);
        }
        15 => {
            let [access, refresh] = texts(inbox, [a, b]);
            let set = TokenSet {
                access_token: Secret::new(access.unwrap_or_default()),
                refresh_token: refresh.map(Secret::new),
                issued_at: nan_or(c, now),
                expires_at: at(d),
                refresh_expires_at: (!e.is_nan()).then(|| at(e)),
            };
            return match m.set_tokens(now, &set) {
                Ok(()) => 1.0,
                Err(err) => {
                    out::config_error(outbox, &err);
                    0.0
                }
            };
        }
        16 => m.logout(now),
        17 => {
            *nums = out::metrics(&m.metrics(now));
            return nums.as_ptr() as usize as f64;
        }
        18 => {
            // (an intent the shell does not take is skipped)
            while let Some(intent) = m.poll() {
                if let Some(n) = out::encode(outbox, nums, intent) {
                    return n;
                }
            }
        }
        19 => {
            let (s, h, port) = origin_parts(inbox, a, b, c);
            return yes(m.allows(s, h, port));
        }
        20 => {
            let (s, h, port) = origin_parts(inbox, a, b, c);
            return match m.allow_origin(s, h, port) {
                Ok(()) => 1.0,
                Err(err) => {
                    out::config_error(outbox, &err);
                    0.0
                }
            };
        }
        21 => {
            answer(outbox, &[m.key().as_bytes()]);
        }
        23 => keepers[k as usize - 1] = None,
        OFFER => {
            if let [Some(text), Some(tree)] = texts(inbox, [a, b]) {
                json::offer(text, tree);
            }
        }
        _ => {}
    }
    0.0
}

/// The allocator: talc, made for WebAssembly and about 1 kB (gzipped) smaller than std's
/// dlmalloc (BENCHMARKS.md).
#[cfg(target_arch = "wasm32")]
#[global_allocator]
// SAFETY: `new_global` requires that the allocator is used by one thread at a time and is the
// only user of `memory.grow`: this module is built without atomics (one thread), and nothing
// else in it grows memory.
static ALLOC: talc::TalckWasm = unsafe { talc::TalckWasm::new_global() };
