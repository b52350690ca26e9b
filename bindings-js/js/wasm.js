// The WebAssembly module's exports (bindings-js/src/lib.rs) with text in and out. `W` is set
// by the loader (load-web.js / load-node.js) before anything else runs.
//
// Text arguments go into the module's inbox (`put`), their byte lengths (-1: absent) go as
// numbers; an answer's text stays in the outbox until the next call (`text`). The module wipes
// both buffers before reusing them, so no secret stays in its memory; the strings JavaScript
// makes of them cannot be wiped (see README.md).
//
// Shares one scope with the other files of js/ (tools/build-npm.sh concatenates them).

const ENC = new TextEncoder();
const DEC = new TextDecoder();

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
  mem().set(bytes, W.inbox(bytes.length));
  return bytes.length;
}

/** The outbox's bytes (a view: read them before the next call). */
function outBytes() {
  const p = W.outbox();
  return mem().subarray(p, p + W.outbox_len());
}

/** The outbox as text. */
const text = () => DEC.decode(outBytes());
