// The WebAssembly module's exports (bindings-js/src/lib.rs) with text in and out. `W` is set
// by the loader (load-web.js / load-node.js) before anything else runs.
//
// Text arguments go into the module's inbox (`put`), their byte lengths (-1: absent) go as
// numbers; an answer's text stays in the outbox until the next call (`text`). The module wipes
// both buffers before reusing them, so no secret stays in its memory; the strings JavaScript
// makes of them cannot be wiped (see README.md).
//
// Shares one scope with the other files of js/ (tools/build-npm.sh concatenates them).

// The operations of `W.call(op, k, now, a, b, c, d, e)` (`dispatch` in bindings-js/src/lib.rs).
const RESTORE = 0;
const START = 1;
const LOGIN = 2;
const RESPONSE = 3;
const FOREIGN = 4;
const SEND_ERROR = 5;
const CANCEL = 6;
const FIRE = 7;
const LOCKED = 8;
const PEERS = 9;
const AUTH_CHUNK = 10;
const AUTH_RESPONSE = 11;
const AUTH_ERROR = 12;
const MESSAGE = 13;
const ANSWER = 14;
const SET_TOKENS = 15;
const LOGOUT = 16;
const METRICS = 17;
const POLL = 18;
const ALLOWS = 19;
const ALLOW_ORIGIN = 20;
const KEY = 21;
const FREE = 23;
const OFFER = 24;

const ENC = new TextEncoder();
// ignoreBOM: a text that starts with U+FEFF (a server's reason may) keeps it.
const DEC = new TextDecoder('utf-8', { ignoreBOM: true });

const mem = () => new Uint8Array(W.memory.buffer);

/** Writes `texts` (null or undefined: absent) one after the other into the inbox; their byte lengths. */
function put(...texts) {
  let room = 0;
  for (const t of texts) if (t != null) room += t.length * 3;
  let at = W.inbox(room);
  const m = mem();
  return texts.map((t) => {
    if (t == null) return -1;
    const { written } = ENC.encodeInto(t, m.subarray(at));
    at += written;
    return written;
  });
}

/** Copies `bytes` into the inbox; their length. */
function putBytes(bytes) {
  // The room first: making it may grow the memory, which detaches every earlier view of it.
  const at = W.inbox(bytes.length);
  mem().set(bytes, at);
  return bytes.length;
}

/** The outbox's bytes (a view: read them before the next call). */
function outBytes() {
  const p = W.outbox();
  return mem().subarray(p, p + W.outbox_len());
}

/** The outbox as text. */
const text = () => DEC.decode(outBytes());

/** The first `n` numbers of the last answer. */
const numbers = (n) => new Float64Array(W.memory.buffer, W.nums(), n);
