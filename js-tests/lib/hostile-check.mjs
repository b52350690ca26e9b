// The hostile-answer table (tests/hostile/cases.json) on the servers' side, and its checks, as
// tests/tests/hostile.rs makes them: the two servers (the API with its own user, a recorder on
// 127.0.0.2), a row's setup applied, counters counted from after preparing, and what a row's
// outcome must be. Shared by the Node and Chromium runners (js-tests/test/hostile*.test.mjs).
import { readFileSync } from 'node:fs';
import { startServer } from './server.mjs';

export const TABLE = JSON.parse(readFileSync(new URL('../../tests/hostile/cases.json', import.meta.url), 'utf8')).cases;
export const USER = 'hostile';
export const PASSWORD = 'pw-hostile-5e3a-never-print';

/** How long a row may take in real time, and how much memory it may add. */
export const ROW_LIMIT_MS = 30_000;
export const MEMORY_LIMIT = 64 << 20;

export async function startServers() {
  const [api, recorder] = await Promise.all([startServer(['--user', `${USER}:${PASSWORD}`]), startServer(['--host', '127.0.0.2'])]);
  const get = async (s, route) => {
    const r = await fetch(`${s.url}/_control/${route}`);
    if (!r.ok) throw new Error(`/_control/${route}: ${r.status}`);
    return r.json();
  };
  return {
    api,
    recorder,
    fill: (text) => text.replaceAll('{recorder}', recorder.url).replaceAll('{api}', api.url),
    /** Applies a row's server setup (one faults body, or a list of them). */
    async apply(setup) {
      for (const body of Array.isArray(setup) ? setup : [setup]) await api.faults(JSON.parse(this.fill(JSON.stringify(body))));
    },
    counters: () => get(api, 'counters'),
    recorded: () => get(recorder, 'recorded'),
    /** Both servers back to start; the scripts still running (answers a client never let go of) stay. */
    reset: () => Promise.all([api.reset(), recorder.reset()]),
    /** Scripted answers still being sent now. */
    scriptsInProgress: async () => (await get(api, 'gauges')).scripts_in_progress,
    /**
     * Waits (up to 1 s) until no more scripts run than `baseline`: the client let go of the
     * answers of the row. Returns how many more still run.
     */
    async lingering(baseline) {
      let n = 0;
      for (let i = 0; i < 50 && (n = await this.scriptsInProgress()) > baseline; i++) await new Promise((r) => setTimeout(r, 20));
      return Math.max(0, n - baseline);
    },
    close: () => Promise.all([api.close(), recorder.close()]),
  };
}

export function deltas(before, after) {
  const d = {};
  for (const [k, v] of Object.entries(after)) d[k] = v - (before[k] || 0);
  return d;
}

const show = (o) => (o.error ? `error ${o.error.code} (${o.error.name}: ${JSON.stringify(o.error.message)})` : `status ${o.status}`);

/**
 * Checks one outcome against `expect` (a row's, or its `then`); returns what did not hold.
 * `before`/`after`: the token sets held before the row and now (null: none).
 */
export function check(expect, outcome, counted, before, after) {
  const bad = [];
  const e = outcome.error;
  if (expect.status !== undefined && !e && outcome.status === expect.status) {
    // as expected
  } else if (expect.status === undefined && expect.error !== undefined && e && e.code === expect.error) {
    if (expect.detail !== undefined && !e.message.includes(expect.detail)) bad.push(`message ${JSON.stringify(e.message)} lacks ${JSON.stringify(expect.detail)}`);
    if (expect.retry_at_within_ms !== undefined && e.code === 'AUTH_UNAVAILABLE') {
      const at = e.retryAt ?? 0;
      if (at > outcome.clockNow + expect.retry_at_within_ms) bad.push(`retryAt ${at} is ${at - outcome.clockNow} ms away, more than ${expect.retry_at_within_ms}`);
    }
  } else {
    bad.push(`got ${show(outcome)}, expected ${expect.status !== undefined ? `status ${expect.status}` : `error ${expect.error}`}`);
  }
  const same = (a, b) => a.accessToken === b.accessToken;
  const tokensOk = {
    none: () => after === null,
    kept: () => before !== null && after !== null && same(before, after),
    changed: () => before !== null && after !== null && !same(before, after),
    new: () => before === null && after !== null,
  }[expect.tokens];
  if (tokensOk && !tokensOk()) bad.push(`tokens ${JSON.stringify(expect.tokens)}: held before ${before !== null}, after ${after !== null}${before && after ? `, same access token ${same(before, after)}` : ''}`);
  if (expect.lifetime_ms && after) {
    const [lo, hi] = expect.lifetime_ms;
    const life = after.expiresAt - after.issuedAt;
    if (!(life >= lo && life <= hi)) bad.push(`lifetime ${life} ms outside ${lo}..=${hi}`);
  }
  for (const [k, v] of Object.entries(expect.counters || {})) {
    if (counted[k] !== v) bad.push(`counter ${k}: ${counted[k]}, expected ${v}`);
  }
  return bad;
}

/** The secrets of a row: the password, every token the keeper held, the row's own. */
export function secretsOf(row, ...tokenLists) {
  const s = new Set([PASSWORD, ...(row.secrets || [])]);
  for (const list of tokenLists) for (const t of list) if (t) s.add(t);
  return [...s];
}

/**
 * Every place a secret must not be: the errors' text forms, the keeper's own, and every event
 * payload but the `tokens` event's token fields (that event hands the tokens over by design).
 */
export function leaks(secrets, outcomes, state) {
  const outputs = [];
  for (const o of outcomes) if (o.error) outputs.push(...o.error.texts.map((t) => ['error', t]));
  outputs.push(...state.forms.map((t) => ['keeper', t]));
  for (const ev of state.events) {
    let payload = ev.payload;
    if (ev.name === 'tokens') payload = { ...payload, accessToken: undefined, refreshToken: undefined };
    outputs.push([`${ev.name} event`, JSON.stringify(payload)]);
  }
  const bad = [];
  for (const [where, text] of outputs) {
    for (const secret of secrets) {
      if (text.includes(secret)) bad.push(`a secret leaked into the ${where}: ${JSON.stringify(text.slice(0, 300))}`);
    }
  }
  return bad;
}

/** What the recorder saw against what the row allows. */
export function recorderProblems(row, recorded) {
  const bad = [];
  if (recorded.some((r) => r.authorization)) bad.push(`the other origin saw an Authorization header: ${JSON.stringify(recorded)}`);
  const n = row.expect.recorded;
  if (n !== undefined && recorded.length !== n) bad.push(`the other origin saw ${recorded.length} requests, expected ${n}`);
  return bad;
}

/**
 * Runs one row through `side`, the keeper's side (in Node or in a page):
 * `start(row)` → the token set held before (a fresh keeper, prepared by the row's group),
 * `send(request)` → an outcome, `finish()` → its state (lib/hostile.mjs), `memory()` → bytes,
 * `rejections()` → unhandled rejections since `start`. Returns what did not hold, and notes.
 */
export async function runRow(servers, side, row) {
  await servers.reset();
  const baseline = await servers.scriptsInProgress();
  const before = await side.start(row);
  const start = await servers.counters();
  await servers.apply(row.server);
  const mem0 = await side.memory();
  const t0 = Date.now();
  const outcomes = [await side.send(row.request)];
  const bad = check(row.expect, outcomes[0], deltas(start, await servers.counters()), before, outcomes[0].held);
  if (row.expect.then) {
    outcomes.push(await side.send(row.request));
    const counted = deltas(start, await servers.counters());
    bad.push(
      ...check(row.expect.then, outcomes[1], counted, before, outcomes[1].held)
        .filter((b) => !b.startsWith('tokens'))
        .map((b) => `then: ${b}`),
    );
  }
  const ms = Date.now() - t0;
  if (ms > ROW_LIMIT_MS) bad.push(`took ${ms} ms`);
  const grown = (await side.memory()) - mem0;
  if (grown > MEMORY_LIMIT) bad.push(`memory grew by ${grown >> 20} MiB`);
  bad.push(...recorderProblems(row, await servers.recorded()));
  const state = await side.finish();
  const rejected = await side.rejections();
  if (rejected.length) bad.push(`unhandled rejections: ${rejected.join('; ')}`);
  const tokens = [before?.accessToken, before?.refreshToken, state.held?.accessToken, state.held?.refreshToken];
  bad.push(...leaks(secretsOf(row, tokens, state.seenTokens), outcomes, state));
  const notes = [`${ms} ms`];
  const left = await servers.lingering(baseline);
  if (left) notes.push(`${left} scripted answer(s) still being sent 1 s after the row: the client did not let go of the connection`);
  const summary = outcomes.map((o) => JSON.stringify({ ...o, held: o.held && { expiresAt: o.held.expiresAt }, error: o.error && { ...o.error, texts: undefined } }));
  return { bad, notes, summary };
}
