// The shell around the synchronous driver (tokenkeeper_wasm::machine, in the module): every
// input goes to the module with the clock's `now`, then `drain` does what each intent says
// with fetch, timers, Web Locks, BroadcastChannel and Web Storage, and reports back. It
// decides nothing: the module does.
// Shares one scope with the other files of js/ (tools/build-npm.sh concatenates them).

/** Event names by the kind the module gives them. */
const EVENTS = ['tokens', 'refreshed', 'loggedIn', 'sessionExpired', 'circuitOpened'];
/** `keeper.metrics()`'s names, in the module's order. */
const NAMES = ['requests', 'delivered', 'failures', 'refreshCount', 'refreshFailures', 'logins', 'loginFailures', 'reauthentications', 'unauthorizedResends', 'transientResends', 'circuitOpened', 'lastRefresh', 'tokenExpiresAt', 'isExpired', 'authInProgress'];
/** Live keepers of this realm per key (their presence locks are not other tabs). */
const HERE = new Map();

const storageArea = (name) => {
  try {
    return globalThis[name] || null;
  } catch {
    return null; // opaque origins and some sandboxes throw
  }
};
const ignore = (p) => p && p.catch(() => {});
/** Lets go of a response that is being replaced (frees its connection in Node). */
const discard = (r) => r && r.body && ignore(r.body.cancel());

/** One caller's request (or login) from start to end. */
class Exchange {
  constructor(st, x, out, resolve, reject) {
    Object.assign(this, { st, x, out, resolve, reject, attempt: 0, cutAt: -1, last: null, cause: undefined, ctrl: null });
    const signal = out && out.signal;
    if (signal) {
      this.signal = signal;
      this.onAbort = () => (this.ctrl ? this.ctrl.abort(signal.reason) : this.end(signal.reason));
      signal.addEventListener('abort', this.onAbort);
    }
  }

  /** Sends (again) with this `Authorization` value. */
  send(authorization) {
    discard(this.last);
    this.last = null;
    const { st, signal } = this;
    if (signal && signal.aborted) return this.end(signal.reason);
    // With a per-attempt timeout every attempt has a controller (the caller's signal aborts it too).
    const ctrl = (this.ctrl = st.timeout ? new AbortController() : null);
    const attempt = ++this.attempt;
    let sent;
    try {
      sent = this.out.send(authorization, ctrl && ctrl.signal);
    } catch (e) {
      return this.end(e);
    }
    sent.then(
      (r) => this.answered(attempt, r),
      (e) => this.failed(attempt, e),
    );
  }

  answered(attempt, r) {
    if (attempt !== this.attempt || attempt === this.cutAt || this.done) return discard(r);
    this.ctrl = null;
    this.last = r;
    const { st, x } = this;
    // A response from an origin the token did not go to (a redirect left the allowed origins),
    // or an opaque one, says nothing about the token.
    if (r.status === 0 || (r.redirected && !st.allows(new URL(r.url)))) {
      st.call(FOREIGN, x);
    } else {
      const h = r.headers;
      const www = h.get('www-authenticate');
      const retry = h.get('retry-after');
      const date = h.get('date');
      const [a, b, c] = www === null && retry === null && date === null ? [-1, -1, -1] : put(www, retry, date);
      st.call(RESPONSE, x, r.status, a, b, c);
    }
    st.drain();
  }

  failed(attempt, e) {
    if (attempt !== this.attempt || attempt === this.cutAt || this.done) return;
    this.ctrl = null;
    if ((this.signal && this.signal.aborted) || this.out.invalid()) return this.end(e);
    // fetch cannot tell a refused connection from one that broke after the request was
    // written: the module counts the worst case, so a non-idempotent request is never sent twice.
    this.cause = e;
    const st = this.st;
    st.input(SEND_ERROR, this.x);
  }

  /** No response headers within the timeout: the attempt is aborted, and counted as failed. */
  cut() {
    this.cutAt = this.attempt;
    this.cause = new DOMException('no response headers within the timeout', 'TimeoutError');
    if (this.ctrl) this.ctrl.abort(this.cause);
    this.ctrl = null;
  }

  finish() {
    const st = this.st;
    this.done = true;
    st.ex.delete(this.x);
    if (this.onAbort) this.signal.removeEventListener('abort', this.onAbort);
    if (st.dropped && !st.ex.size) queueMicrotask(() => st.close());
  }

  /** Ends it as the caller or `fetch` asked (an abort, a request `fetch` refuses). */
  end(reason) {
    if (this.done) return;
    this.finish();
    const st = this.st;
    st.call(CANCEL, this.x);
    this.reject(reason);
    st.drain();
  }
}

/** A keeper's state and I/O. */
class Shell {
  constructor(options, emit) {
    const o = readOptions(options);
    this.clock = o.clock;
    this.emit = emit;
    this.ex = new Map();
    this.credentials = o.credentials;
    const locks = globalThis.navigator && navigator.locks;
    const cross = o.crossTab && !!(locks && locks.request && globalThis.BroadcastChannel);
    W.opt_num(NUM.crossTab, cross ? 1 : 0);
    this.k = W.build();
    if (!this.k) throw configError();
    try {
      this.timeout = !(options.timeout === 0);
      // The origins the engine compares with are read by the platform's URL parser, as the
      // URLs of the requests are (`http://127.1:8080` is `http://127.0.0.1:8080`); the token
      // endpoint's came with the options.
      for (const given of o.origins) {
        const u = parseUrl(given);
        if (!u || u.origin === 'null') throw new ConfigError(`invalid url ${JSON.stringify(given)}`, 'CONFIG');
        const [s, h] = put(u.protocol.slice(0, -1), u.hostname);
        if (!this.call(ALLOW_ORIGIN, s, h, u.port === '' ? -1 : Number(u.port))) throw configError();
      }
      this.call(KEY);
      const key = (this.key = text());
      if (o.storage !== 'memory') {
        this.area = storageArea(o.storage === 'local' ? 'localStorage' : 'sessionStorage');
        if (!this.area) bad('storage', 'this storage is not available here (use memory)');
      }
      if (cross) {
        this.lockTimeoutMs = o.lockTimeoutMs;
        this.marker = storageArea('localStorage');
        this.channel = new BroadcastChannel(key);
        this.channel.onmessage = ({ data }) => {
          if (typeof data !== 'string') return;
          if (data[0] === 's') offer(this.k, data.slice(1)); // a token set
          this.input(MESSAGE, put(data)[0]);
        };
        HERE.set(key, (HERE.get(key) || 0) + 1);
        // Held while this keeper lives: another tab can tell someone is there to answer.
        ignore(locks.request(`${key}:alive`, { mode: 'shared' }, () => new Promise((r) => (this.presence = r))));
      }
      const stored = this.offerStored(this.stored(true));
      this.input(RESTORE, stored === null ? -1 : put(stored)[0]);
    } catch (e) {
      this.close();
      throw e;
    }
  }

  now() {
    return this.clock.now();
  }

  /** Operation `op` of the module on this keeper, now. */
  call(op, a, b, c, d, e) {
    return W.call(op, this.k, this.now(), a, b, c, d, e);
  }

  /** `call`, then does what it gave. */
  input(op, a, b, c, d, e) {
    const r = this.call(op, a, b, c, d, e);
    this.drain();
    return r;
  }

  /** Does every intent the module has queued (`INTENT` codes in bindings-js/src/out.rs). */
  drain() {
    let v;
    while ((v = this.call(POLL))) {
      const code = v % 32;
      const arg = (v - code) / 32;
      const ex = this.ex.get(arg);
      switch (code) {
        case 1: // Send
          if (ex) ex.send(text());
          break;
        case 2: // Cut
          if (ex) ex.cut();
          break;
        case 3: // Deliver
          if (ex) ex.finish(), ex.resolve(ex.last);
          break;
        case 4: // Fail
          if (ex) ex.finish(), ex.reject(engineError(ex.cause));
          break;
        case 5: // Reject: with what the credentials callback threw
          if (ex) ex.finish(), ex.reject(this.thrown);
          break;
        case 6:
          this.lock();
          break;
        case 7: // Unlock
          if (this.release) this.release();
          this.release = null;
          break;
        case 8:
          this.peers();
          break;
        case 9:
          this.authenticate(arg);
          break;
        case 10: // AbortAuth
          if (this.auth && this.auth.op === arg) this.auth.ctrl.abort();
          break;
        case 11:
          this.ask();
          break;
        case 12: // Save
          this.save(text());
          break;
        case 13: // Clear the store
          this.save(null);
          break;
        case 14: // Mark the epoch
        case 15:
          try {
            const m = `${this.key}:epoch`;
            if (code === 14) this.marker.setItem(m, String(arg));
            else this.marker.removeItem(m);
          } catch {}
          break;
        case 16: // Post
          this.channel.postMessage(text());
          break;
        case 17:
          this.emit(EVENTS[arg - 1], payload(arg));
          break;
        case 18: // Timer
        case 19:
          this.arm(arg, code === 19);
          break;
      }
    }
  }

  /** Whether the token may go to `url` (a parsed `URL`, the one that is sent). */
  allows(url) {
    const { protocol, host } = url;
    const last = this.lastOrigin;
    if (last && last[0] === protocol && last[1] === host) return last[2];
    const [s, h] = put(protocol.slice(0, -1), url.hostname);
    const answer = !!this.call(ALLOWS, s, h, url.port === '' ? -1 : Number(url.port));
    this.lastOrigin = [protocol, host, answer];
    return answer;
  }

  /** What the store holds, if it changed since it was last read or written (`all`: changed or not). */
  stored(all) {
    if (!this.area) return null;
    let raw = null;
    try {
      raw = this.area.getItem(this.key);
    } catch {}
    if (!all && raw === this.lastRaw) return null;
    this.lastRaw = raw;
    return raw;
  }

  /** Offers the module a stored set's JSON (when there is one) for the next input; `raw`. */
  offerStored(raw) {
    if (raw !== null) offer(this.k, raw);
    return raw;
  }

  save(raw) {
    if (!this.area) return;
    try {
      if (raw === null) this.area.removeItem(this.key);
      else this.area.setItem(this.key, raw);
    } catch {} // quota or security errors leave memory as the only copy
    this.lastRaw = raw;
  }

  async fetch(input, init) {
    const out = new Outgoing(input, init);
    if (!this.allows(out.url)) return out.plain(); // not an origin the token may go to
    await out.buffer();
    if (out.signal && out.signal.aborted) throw out.signal.reason; // as `fetch` does
    return new Promise((resolve, reject) => {
      const stored = this.offerStored(this.stored(false));
      const [m, s] = out.method === 'GET' && stored === null ? [-1, -1] : put(out.method, stored);
      const x = this.call(START, m, out.replayable ? 1 : 0, s);
      this.ex.set(x, new Exchange(this, x, out, resolve, reject));
      this.drain();
    });
  }

  login() {
    return new Promise((resolve, reject) => {
      const x = this.call(LOGIN);
      this.ex.set(x, new Exchange(this, x, null, () => resolve(), reject));
      this.drain();
    });
  }

  /** The one timer, at `at` (the same `at` again: only whether it keeps Node alive changes). */
  arm(at, keep) {
    const c = this.clock;
    let t = this.timer;
    if (t == null || this.timerAt !== at) {
      if (t != null) c.clearTimeout(t);
      this.timerAt = at;
      t = this.timer = c.setTimeout(() => {
        this.timer = null;
        this.input(FIRE);
      }, Math.min(Math.max(at - this.now(), 0), 2 ** 31 - 1));
    }
    if (t && t.unref) keep ? t.ref() : t.unref();
  }

  /** Takes the cross-tab lock (or gives up after the lock timeout and goes on without it). */
  lock() {
    const c = this.clock;
    const abort = new AbortController();
    const timer = c.setTimeout(() => abort.abort(), this.lockTimeoutMs);
    let granted = false;
    const go = (release) => {
      if (granted) return;
      granted = true;
      c.clearTimeout(timer);
      this.release = release;
      const stored = this.offerStored(this.stored(true));
      let epoch = null;
      try {
        epoch = this.marker && this.marker.getItem(`${this.key}:epoch`);
      } catch {}
      const [s, e] = put(stored, epoch);
      this.input(LOCKED, s, e);
    };
    ignore(navigator.locks.request(this.key, { signal: abort.signal }, () => new Promise(go)).catch(() => go(null)));
  }

  /** Whether a keeper of this key lives in another tab (or worker). */
  peers() {
    navigator.locks
      .query()
      .then(
        (s) => (s.held || []).filter((l) => l.name === `${this.key}:alive`).length > (HERE.get(this.key) || 0),
        () => true,
      )
      .then((alive) => this.input(PEERS, alive ? 1 : 0));
  }

  /** Performs a login or refresh request (the outbox: method, URL, headers, body). */
  authenticate(op) {
    const all = outBytes();
    let i = 0;
    while (all[i] !== 10 || all[i + 1] !== 10) i++;
    const [method, url, ...lines] = DEC.decode(all.subarray(0, i)).split('\n');
    const body = all.slice(i + 2); // a copy; the module wipes its own at the next call
    const headers = new Headers();
    for (const line of lines) headers.append(line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2));
    const ctrl = new AbortController();
    this.auth = { op, ctrl };
    // No cache; a redirect is not followed (the body holds credentials) but answered to the
    // module as the status it is (see runAuth).
    const init = { method, headers, redirect: 'manual', cache: 'no-store', signal: ctrl.signal };
    if (body.length) init.body = body;
    this.runAuth(op, url, init, ctrl.signal);
  }

  async runAuth(op, url, init, signal) {
    // Only `fetch` and the body's reads can fail on the network (status 0); nothing else is
    // caught, so no other problem is ever reported, and retried, as a network failure.
    const failed = () => null;
    const sent = fetch(url, init).catch(failed);
    if (init.body) init.body.fill(0); // the request made its own copy
    const r = await sent;
    let status = 0;
    const body = []; // what the module read of it, for JSON.parse
    if (r) {
      // A redirect is an answer: the module refuses it (AUTH_REJECTED, the tokens kept).
      // Node gives its status; browsers hide it (an `opaqueredirect` response, status 0),
      // reported as 302.
      status = r.type === 'opaqueredirect' ? 302 : r.status;
      if (r.body) {
        const reader = r.body.getReader();
        try {
          for (let more = true; more; ) {
            const c = await reader.read().catch(failed);
            if (!c) status = 0; // the body broke off
            if (!c || c.done) break;
            more = this.chunk(op, c.value, body);
          }
        } finally {
          // Stopped early (over the limit, broken off, aborted, or a throw above): let go.
          ignore(reader.cancel());
        }
      }
    }
    if (this.auth && this.auth.op === op) this.auth = null;
    const all = new Uint8Array(body.reduce((n, b) => n + b.length, 0));
    body.reduce((at, b) => (all.set(b, at), b.fill(0), at + b.length), 0);
    if (signal.aborted) return all.fill(0); // the module aborted it and counted it already
    if (status === 0) return all.fill(0), this.input(AUTH_ERROR, op);
    offerAnswer(this.k, all);
    all.fill(0);
    const h = r.headers;
    const [a, b, c] = put(h.get('content-type'), h.get('date'), h.get('retry-after'));
    this.input(AUTH_RESPONSE, op, status, a, b, c);
  }

  /**
   * Hands a chunk of an auth answer to the module in pieces of at most 64 KiB (a browser's
   * chunk may be megabytes; the inbox never needs more room than that), keeping a copy of
   * each piece in `kept`, then wipes it. Whether to read on: the module keeps at most
   * MAX_AUTH_BODY + 1 bytes and says when to stop.
   */
  chunk(op, value, kept) {
    let more = true;
    for (let at = 0; more && at < value.length; at += 65536) {
      const piece = value.slice(at, at + 65536);
      kept.push(piece);
      more = !!this.call(AUTH_CHUNK, op, putBytes(piece));
    }
    value.fill(0);
    return more;
  }

  /** Asks the credentials callback; what it throws rejects the requests that waited for it. */
  ask() {
    Promise.resolve()
      .then(() => this.credentials())
      .then(
        (c) => {
          const s = (v) => (typeof v === 'string' ? v : null);
          const [u, p] = put(c && s(c.username), c && s(c.password));
          this.input(ANSWER, u, p, 0);
        },
        (e) => {
          this.thrown = e;
          this.input(ANSWER, -1, -1, 1);
          this.thrown = undefined;
        },
      );
  }

  metrics() {
    this.call(METRICS);
    const f = numbers(NAMES.length);
    const m = {};
    NAMES.forEach((name, i) => (m[name] = i > 12 ? f[i] === 1 : Number.isNaN(f[i]) ? null : f[i]));
    return m;
  }

  setTokens(t) {
    const time = (v) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : NaN);
    if (!t || typeof t.accessToken !== 'string' || Number.isNaN(time(t.expiresAt))) bad('tokens', 'needs accessToken (string) and expiresAt (epoch ms)');
    const [a, r] = put(t.accessToken, typeof t.refreshToken === 'string' ? t.refreshToken : null);
    if (!this.call(SET_TOKENS, a, r, time(t.issuedAt), t.expiresAt, time(t.refreshExpiresAt))) {
      throw configError();
    }
    this.drain();
  }

  /** The keeper was dropped without `free()`: close once no request waits any more. */
  drop() {
    this.dropped = true;
    if (!this.ex.size) this.close();
  }

  /** Lets go of everything (timer, channel, locks, the module's state). */
  close() {
    if (!this.k) return;
    if (this.timer != null) this.clock.clearTimeout(this.timer);
    if (this.channel) {
      this.channel.close();
      HERE.set(this.key, HERE.get(this.key) - 1);
    }
    if (this.presence) this.presence();
    if (this.release) this.release();
    this.call(FREE);
    this.k = 0;
  }
}

/** An event's payload (its kind's numbers, a token set's tokens in the outbox). */
function payload(kind) {
  const [a, b, c] = numbers(3);
  if (kind === 1) {
    const [accessToken, refreshToken = null] = text().split('\0');
    return { accessToken, refreshToken, issuedAt: a, expiresAt: b, refreshExpiresAt: Number.isNaN(c) ? null : c };
  }
  return kind === 2 ? { expiresAt: a } : kind === 3 ? { expiresAt: a, reauthenticated: b === 1 } : kind === 5 ? { until: a } : {};
}

/** `s` read by the platform's URL parser; null when it does not parse. */
function parseUrl(s) {
  try {
    return new URL(s);
  } catch {
    return null;
  }
}
