// One row of the hostile-answer table (tests/hostile/README.md) on the keeper's side: a fresh
// `TokenKeeper` on a clock that jumps, prepared by the row's group, the row's request sent, and
// what happened written down as plain data. It imports nothing, so the same code runs in Node
// (js-tests/test/hostile.test.mjs) and in a page (js-tests/test/hostile-chromium.test.mjs,
// which loads it with the package); the checks are made in Node (lib/hostile-check.mjs).

/** The keeper's event names (index.d.ts). */
const EVENTS = ['tokens', 'refreshed', 'loggedIn', 'sessionExpired', 'circuitOpened'];

/**
 * A clock that moves only when told, as the native runner's `ManualClock`: a timer due now (or
 * earlier) fires on the next real tick; a later one waits until `jump()` moves the time to it.
 */
export function jumpClock(start = Date.now()) {
  let now = start;
  let last = 0;
  const timers = new Map();
  const fire = (id) => {
    const t = timers.get(id);
    if (!t) return;
    timers.delete(id);
    t.f();
  };
  const due = (id) => setTimeout(() => fire(id), 0);
  return {
    now: () => now,
    setTimeout(f, ms) {
      const id = ++last;
      const at = now + Math.max(0, Number(ms) || 0);
      timers.set(id, { at, f });
      if (at <= now) due(id);
      return id;
    },
    clearTimeout(id) {
      timers.delete(id);
    },
    /** The earliest time a timer waits for, or null. */
    next() {
      let at = null;
      for (const t of timers.values()) if (at === null || t.at < at) at = t.at;
      return at;
    },
    /** Moves the time to the next timer (never back) and runs every timer due by then, in order. */
    jump() {
      const at = this.next();
      if (at === null) return false;
      now = Math.max(now, at);
      const ready = [...timers].filter(([, t]) => t.at <= now).sort((a, b) => a[1].at - b[1].at);
      for (const [id] of ready) fire(id);
      return true;
    },
  };
}

/** The npm option names of a row's `config` (`timeoutMs` is the package's `timeout`, in seconds). */
export function rowOptions(config = {}) {
  const o = {};
  for (const [k, v] of Object.entries(config)) {
    if (k === 'timeoutMs') o.timeout = v / 1000;
    else o[k] = v;
  }
  return o;
}

const realSleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Every text form of a thrown value and its causes (`inspect`: Node's util.inspect, if there). */
function texts(e, inspect) {
  const out = [];
  const seen = new Set();
  for (let c = e, depth = 0; c != null && depth < 8 && !seen.has(c); c = c.cause, depth++) {
    seen.add(c);
    for (const f of [() => String(c), () => c.message, () => c.stack, () => JSON.stringify(c), () => JSON.stringify(Object.assign({}, c))]) {
      try {
        const s = f();
        if (typeof s === 'string') out.push(s);
      } catch {}
    }
    if (typeof c !== 'object') break;
  }
  if (inspect) out.push(inspect(e, { depth: 8, showHidden: true }));
  return out;
}

/** What a failed request gave, as data. */
export function describeError(e, inspect) {
  const isObj = e !== null && typeof e === 'object';
  return {
    code: isObj && typeof e.code === 'string' ? e.code : null,
    name: isObj ? String(e.name) : typeof e,
    message: isObj ? String(e.message) : String(e),
    status: isObj && e.status != null ? e.status : null,
    retryAt: isObj && e.retryAt != null ? e.retryAt : null,
    stopped: isObj && e.stopped != null ? e.stopped : null,
    attempts: isObj && e.attempts != null ? e.attempts : null,
    causeName: isObj && e.cause != null ? String(e.cause.name) : null,
    texts: texts(e, inspect),
  };
}

/** A keeper for one row, on a jump clock, with everything it emitted. */
export class Subject {
  /**
   * `TokenKeeper`: the package's class; `api`: the API server's URL; `config`: the row's;
   * `inspect`: Node's util.inspect (absent in pages).
   */
  constructor(TokenKeeper, { api, username, password, config, inspect }) {
    this.api = api;
    this.inspect = inspect;
    this.clock = jumpClock();
    this.events = [];
    this.seenTokens = [];
    this.last = null; // the last token set the keeper told of (there is no getter)
    this.keeper = new TokenKeeper({ baseUrl: api, username, password, crossTab: false, clock: this.clock, ...rowOptions(config) });
    for (const name of EVENTS) {
      this.keeper.on(name, (payload) => {
        this.events.push({ name, payload: structuredClone(payload) });
        if (name === 'tokens') this.remember(payload);
      });
    }
  }

  remember(t) {
    this.last = { ...t };
    this.seenTokens.push(t.accessToken, t.refreshToken);
  }

  /** The token set held now: the last one told of, if `metrics()` says one is held. */
  held() {
    return this.keeper.metrics().tokenExpiresAt === null ? null : this.last;
  }

  /** Prepares by the row's group; returns the token set held before the row (null: none). */
  async prepare(group) {
    if (group !== 'login') {
      const r = await this.keeper.fetch(`${this.api}/api/echo`);
      await r.arrayBuffer();
      if (r.status !== 200) throw new Error(`warm-up: ${r.status}`);
    }
    if (group === 'refresh') {
      const t = this.held();
      if (!t) throw new Error('warm-up: no tokens were told of (the tokens event)');
      const now = this.clock.now();
      const expired = { ...t, issuedAt: now - 3_600_000, expiresAt: now - 1000 };
      this.keeper.setTokens(expired);
      this.remember(expired);
    }
    return this.held();
  }

  /**
   * Sends the row's request, jumping the clock to its next timer whenever the request has been
   * waiting 100 ms (a deadline or a backoff), never waiting for one in real time. The body of a
   * response is cancelled unread (a 2 GB body is the caller's to drop).
   */
  async send(request = {}) {
    const method = request.method || 'GET';
    const init = { method };
    if (request.body != null) {
      init.body = request.body;
      init.headers = { 'content-type': 'application/json' };
    }
    let settled = false;
    const started = Date.now();
    const done = this.keeper.fetch(`${this.api}${request.path || '/api/echo'}`, init).then(
      async (r) => {
        const outcome = { status: r.status, redirected: r.redirected, url: r.url };
        if (r.body) await r.body.cancel().catch(() => {});
        return outcome;
      },
      (e) => ({ error: describeError(e, this.inspect) }),
    );
    done.then(() => (settled = true));
    let idle = 0;
    while (!settled) {
      await realSleep(20);
      if (++idle >= 5 && this.clock.next() !== null) {
        this.clock.jump();
        idle = 0;
      }
    }
    const outcome = await done;
    outcome.ms = Date.now() - started;
    outcome.clockNow = this.clock.now();
    outcome.held = this.held();
    return outcome;
  }

  /** What the keeper holds and emitted, and every text form of it, then frees it. */
  finish() {
    const k = this.keeper;
    const forms = [];
    for (const f of [() => String(k), () => JSON.stringify(k), () => JSON.stringify(k.metrics())]) {
      try {
        forms.push(String(f()));
      } catch {}
    }
    if (this.inspect) forms.push(this.inspect(k, { depth: 8, showHidden: true }));
    const state = { held: this.held(), events: this.events, seenTokens: this.seenTokens.filter(Boolean), forms, metrics: k.metrics() };
    k.free();
    return state;
  }
}
