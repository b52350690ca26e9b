// The JSON the engine reads, read by `JSON.parse` (the module has no JSON reader: see "Host
// JSON" in bindings-js/README.md and bindings-js/src/json.rs). Before an input that makes the
// engine read a JSON text, the shell offers the text with its value; the engine then reads
// the fields of the value and decides as with its own reader.
// Shares one scope with the other files of js/ (tools/build-npm.sh concatenates them).

/** The engine's reader refuses bytes that are not UTF-8, and reads a BOM as a character. */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * `v` (from `JSON.parse`) in the form bindings-js/src/json.rs reads: `n` null, `b` a boolean,
 * `#` a number and `s` a string (each its length in UTF-8 bytes, `:`, its text), `[` an array
 * and `{` an object (each its length, `:`, then its items, or its keys as strings without the
 * `s` and their values). Throws for what the engine's reader refuses and `JSON.parse` does not:
 * numbers out of an f64's range (read as ±Infinity) and lone surrogates. (Nesting deeper than
 * MAX_JSON_DEPTH is refused by the module; nesting deeper than the stack throws here.)
 */
function jsonTree(v) {
  const str = (s) => {
    if (/\p{Cs}/u.test(s)) throw 0;
    return `${ENC.encode(s).length}:${s}`;
  };
  if (v === null) return 'n';
  if (typeof v === 'boolean') return 'b';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw 0;
    return '#' + str(String(v));
  }
  if (typeof v === 'string') return 's' + str(v);
  if (Array.isArray(v)) return `[${v.length}:` + v.map(jsonTree).join('');
  const keys = Object.keys(v);
  return `{${keys.length}:` + keys.map((key) => str(key) + jsonTree(v[key])).join('');
}

/**
 * Offers keeper `k` the value of `text` (a JSON text exactly as the engine will read it) for
 * its next input; the value, or undefined when it is not JSON (then nothing is offered, and
 * the engine finds it is not).
 */
function offer(k, text) {
  try {
    const v = JSON.parse(text);
    W.call(OFFER, k, 0, ...put(text, jsonTree(v)));
    return v;
  } catch {}
}

/**
 * Offers what the engine reads of an auth answer: the body as it reads it (ASCII whitespace
 * around it, then one BOM, dropped), and the JWT payloads of the tokens in it (the expiry may
 * come from their `exp`).
 */
function offerAnswer(k, body) {
  let v;
  try {
    v = offer(k, UTF8.decode(body).replace(/^[\t\n\f\r ]+|[\t\n\f\r ]+$/g, '').replace(/^\uFEFF/, ''));
  } catch {} // not UTF-8: not JSON
  for (const t of v ? [v.access_token, v.refresh_token] : []) {
    const p = typeof t === 'string' && t.split('.');
    if (p && p.length === 3 && p[1]) {
      try {
        const payload = Uint8Array.from(atob(p[1].replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
        offer(k, UTF8.decode(payload));
        payload.fill(0);
      } catch {} // not base64 or not UTF-8: the engine finds it is not JSON either
    }
  }
}
