//! The module's one piece of global state: the live keepers, the options being given for the
//! next one, and the two buffers between JavaScript and the module: the inbox, which
//! JavaScript fills with the UTF-8 text (or bytes) of a call's arguments before the call, and
//! the outbox, which holds the text (or bytes) of a call's answer until the next answer
//! replaces it. Both may hold secrets (passwords, tokens, auth bodies): the inbox is wiped
//! after every call and the outbox before it is reused, each grown only into a fresh buffer,
//! so no copy is left in the module's memory. (Wiping what JavaScript itself holds is not
//! possible: see `bindings-js/README.md`.)

use std::sync::{Mutex, MutexGuard, PoisonError};

use tokenkeeper_wasm::machine::Machine;
use zeroize::Zeroize;

use crate::setup::Given;

pub(crate) struct State {
    /// The live keepers; a keeper's number is its index + 1.
    pub(crate) keepers: Vec<Option<Machine>>,
    pub(crate) given: Given,
    pub(crate) inbox: Vec<u8>,
    pub(crate) outbox: Vec<u8>,
    /// Numbers handed out (metrics).
    pub(crate) nums: [f64; 15],
}

static STATE: Mutex<State> = Mutex::new(State {
    keepers: Vec::new(),
    given: Given::new(),
    inbox: Vec::new(),
    outbox: Vec::new(),
    nums: [0.0; 15],
});

/// The state (a page is single-threaded: never contended).
pub(crate) fn state() -> MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Replaces `buf`'s contents with room for `len` bytes, wiping what it held (a buffer too
/// small is replaced by a new one, never reallocated with the old bytes in it).
fn renew(buf: &mut Vec<u8>, len: usize) {
    buf.as_mut_slice().zeroize();
    buf.clear();
    if buf.capacity() < len {
        *buf = Vec::with_capacity(len.next_power_of_two());
    }
}

impl State {
    /// Room for `len` bytes in the inbox; where JavaScript writes them.
    pub(crate) fn inbox(&mut self, len: usize) -> usize {
        renew(&mut self.inbox, len);
        self.inbox.resize(len, 0);
        self.inbox.as_mut_ptr() as usize
    }

    /// Wipes the inbox (after every call).
    pub(crate) fn wipe_inbox(&mut self) {
        self.inbox.as_mut_slice().zeroize();
        self.inbox.clear();
    }
}

/// Replaces the outbox with `parts`, one after the other.
pub(crate) fn answer(outbox: &mut Vec<u8>, parts: &[&[u8]]) {
    let len = parts.iter().map(|p| p.len()).sum();
    renew(outbox, len);
    for p in parts {
        outbox.extend_from_slice(p);
    }
}

/// The inbox's text arguments: each length a piece's byte length (negative: absent), the
/// pieces lying one after the other; what is not UTF-8 counts as absent.
pub(crate) fn texts<const N: usize>(inbox: &[u8], lens: [f64; N]) -> [Option<&str>; N] {
    let mut at = 0usize;
    lens.map(|len| {
        if len < 0.0 {
            return None;
        }
        let len = len as usize;
        let piece = inbox.get(at..at + len);
        at += len;
        core::str::from_utf8(piece?).ok()
    })
}
