//! The two buffers between JavaScript and the module: the inbox, which JavaScript fills with
//! the UTF-8 text (or bytes) of a call's arguments before the call, and the outbox, which
//! holds the text (or bytes) of a call's answer until the next call replaces it. Both may hold
//! secrets (passwords, tokens, auth bodies): they are wiped before they are reused or grown,
//! so no copy is left in the module's memory. (Wiping what JavaScript itself holds is not
//! possible: see `bindings-js/README.md`.)

use std::cell::RefCell;

use zeroize::Zeroize;

#[derive(Default)]
struct Io {
    inbox: Vec<u8>,
    outbox: Vec<u8>,
    /// Numbers handed out (metrics).
    nums: Vec<f64>,
}

thread_local! {
    static IO: RefCell<Io> = RefCell::new(Io::default());
}

/// Makes room for `len` bytes in the inbox (wiping what it held); where JavaScript writes them.
pub(crate) fn inbox(len: usize) -> usize {
    IO.with(|io| {
        let mut io = io.borrow_mut();
        io.inbox.zeroize();
        if io.inbox.capacity() < len {
            // A new buffer (the old one is wiped above): no unwiped copy left by a reallocation.
            io.inbox = Vec::with_capacity(len.next_power_of_two());
        }
        io.inbox.resize(len, 0);
        io.inbox.as_mut_ptr() as usize
    })
}

/// Reads the inbox's arguments: each length is a piece's byte length (negative: absent), the
/// pieces lying one after the other. `f` gets them as text (what is not UTF-8 counts as
/// absent); the inbox is wiped afterwards.
pub(crate) fn args<const N: usize, R>(lens: [i32; N], f: impl FnOnce([Option<&str>; N]) -> R) -> R {
    IO.with(|io| {
        let mut io = io.borrow_mut();
        let r = {
            let mut at = 0usize;
            let pieces = lens.map(|len| {
                let len = usize::try_from(len).ok()?;
                let piece = io.inbox.get(at..at + len);
                at += len;
                core::str::from_utf8(piece?).ok()
            });
            f(pieces)
        };
        io.inbox.zeroize();
        r
    })
}

/// The inbox's first `len` bytes, raw; wiped afterwards.
pub(crate) fn bytes<R>(len: usize, f: impl FnOnce(&[u8]) -> R) -> R {
    IO.with(|io| {
        let mut io = io.borrow_mut();
        let r = f(io.inbox.get(..len).unwrap_or_default());
        io.inbox.zeroize();
        r
    })
}

/// Replaces the outbox with `parts`, one after the other (the old contents wiped; the buffer
/// grown once, before anything is copied, so no partial copy is left behind).
pub(crate) fn answer(parts: &[&[u8]]) {
    IO.with(|io| {
        let mut io = io.borrow_mut();
        io.outbox.zeroize();
        let len = parts.iter().map(|p| p.len()).sum();
        if io.outbox.capacity() < len {
            io.outbox = Vec::with_capacity(len.next_power_of_two());
        }
        for p in parts {
            io.outbox.extend_from_slice(p);
        }
    });
}

/// Wipes the outbox.
pub(crate) fn wipe() {
    IO.with(|io| io.borrow_mut().outbox.zeroize());
}

/// Where the outbox is, and its length.
pub(crate) fn outbox() -> (usize, usize) {
    IO.with(|io| {
        let io = io.borrow();
        (io.outbox.as_ptr() as usize, io.outbox.len())
    })
}

/// Hands out numbers; where they are.
pub(crate) fn nums(values: &[f64]) -> usize {
    IO.with(|io| {
        let mut io = io.borrow_mut();
        io.nums.clear();
        io.nums.extend_from_slice(values);
        io.nums.as_ptr() as usize
    })
}
