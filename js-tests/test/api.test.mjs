// The package surface: both Node entry points, the web build's glue, events, metrics, the
// credentials callback, setTokens.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import * as esm from 'tokenkeeper';
import { TokenKeeper, SessionExpiredError } from 'tokenkeeper';
import { startServer, sleep } from '../lib/server.mjs';
import { manualClock } from '../lib/clock.mjs';

const require = createRequire(import.meta.url);
let server;
before(async () => {
  server = await startServer();
});
after(() => server.close());

test('ESM and CommonJS entry points export the same names', () => {
  const cjs = require('tokenkeeper');
  const names = Object.keys(esm).sort();
  assert.deepEqual(Object.keys(cjs).sort(), names);
  for (const n of ['TokenKeeper', 'TokenKeeperError', 'SessionExpiredError', 'InvalidCredentialsError', 'AuthUnavailableError', 'InvalidAuthResponseError', 'TransportError', 'AuthRejectedError', 'UnauthorizedError', 'ConfigError']) {
    assert.ok(names.includes(n), n);
  }
});

test('the web build works in Node too (its .wasm fetched next to it, as a browser does)', async () => {
  const real = globalThis.fetch;
  const wasm = [];
  globalThis.fetch = async (input, init) => {
    if (!String(input).startsWith('file:')) return real(input, init);
    wasm.push(String(input));
    return new Response(readFileSync(new URL(input)), { headers: { 'content-type': 'application/wasm' } });
  };
  try {
    const web = await import('tokenkeeper/web');
    assert.deepEqual(Object.keys(web).sort(), Object.keys(esm).sort());
    assert.ok(wasm.length === 1 && wasm[0].endsWith('/web/tokenkeeper.wasm'), String(wasm));
    const k = new web.TokenKeeper({ baseUrl: server.url, username: 'admin', password: 'admin' });
    const r = await k.fetch(`${server.url}/api/spaces`);
    assert.equal(r.status, 200);
    assert.equal(k.crossTab, false, 'no Web Locks in Node');
  } finally {
    globalThis.fetch = real;
  }
});

test('events and metrics', async () => {
  const clock = manualClock();
  const k = new TokenKeeper({ baseUrl: server.url, username: 'admin', password: 'admin', tokenExpirySeconds: 2, clock });
  const seen = [];
  const off = k.on('tokens', (t) => seen.push(['tokens', typeof t.accessToken, t.expiresAt > Date.now()]));
  k.on('loggedIn', (p) => seen.push(['loggedIn', p.reauthenticated]));
  k.on('refreshed', (p) => seen.push(['refreshed', p.expiresAt > clock.now()]));
  k.on('sessionExpired', () => seen.push(['sessionExpired']));
  k.on('refreshed', () => {
    // A listener may call back into the keeper.
    assert.equal(k.metrics().refreshCount, 1);
  });
  await k.login();
  await clock.advance(2100); // the keeper's time: past expiry
  assert.equal((await k.fetch(`${server.url}/api/spaces`)).status, 200);
  off();
  k.logout();
  assert.deepEqual(seen, [
    ['tokens', 'string', true],
    ['loggedIn', false],
    ['tokens', 'string', true],
    ['refreshed', true],
    ['sessionExpired'],
  ]);
  const m = k.metrics();
  assert.deepEqual(Object.keys(m).sort(), [
    'authInProgress', 'circuitOpened', 'delivered', 'failures', 'isExpired', 'lastRefresh', 'loginFailures', 'logins',
    'reauthentications', 'refreshCount', 'refreshFailures', 'requests', 'tokenExpiresAt', 'transientResends', 'unauthorizedResends',
  ]);
  assert.equal(m.refreshCount, 1);
  assert.equal(m.tokenExpiresAt, null);
  assert.equal(m.isExpired, true);
  assert.equal(typeof m.lastRefresh, 'number');
});

test('the credentials callback is asked once for a burst, and again after a refusal', async () => {
  await server.reset();
  const answers = [{ username: 'admin', password: 'wrong' }, { username: 'admin', password: 'admin' }];
  let calls = 0;
  const k = new TokenKeeper({
    baseUrl: server.url,
    credentials: async () => {
      calls++;
      await sleep(20);
      return answers.shift();
    },
  });
  const first = await Promise.allSettled(Array.from({ length: 10 }, () => k.fetch(`${server.url}/api/spaces`)));
  assert.equal(calls, 1);
  assert.ok(first.every((r) => r.status === 'rejected' && r.reason.code === 'INVALID_CREDENTIALS'));
  const second = await Promise.all(Array.from({ length: 10 }, () => k.fetch(`${server.url}/api/spaces`)));
  assert.equal(calls, 2);
  assert.ok(second.every((r) => r.status === 200));
  assert.equal((await server.counters()).logins_ok, 1);
});

test('a credentials callback that throws rejects the call with its error', async () => {
  const k = new TokenKeeper({ baseUrl: server.url, credentials: () => { throw new RangeError('no user'); } });
  await assert.rejects(k.fetch(`${server.url}/api/spaces`), RangeError);
});

test('the credentials callback is asked only when a login is needed: not while installed tokens work, and when a refresh is rejected', async () => {
  await server.reset();
  const a = new TokenKeeper({ baseUrl: server.url, username: 'admin', password: 'admin' });
  let tokens;
  a.on('tokens', (t) => (tokens = t));
  await a.login();
  let calls = 0;
  const b = new TokenKeeper({
    baseUrl: server.url,
    credentials: async () => {
      calls++;
      return { username: 'admin', password: 'admin' };
    },
  });
  b.setTokens(tokens);
  assert.equal((await b.fetch(`${server.url}/api/spaces`)).status, 200);
  assert.equal(calls, 0, 'a working token needs no credentials');
  await server.revokeAll(); // the access and refresh tokens die
  const again = await Promise.all(Array.from({ length: 5 }, () => b.fetch(`${server.url}/api/spaces`)));
  assert.ok(again.every((r) => r.status === 200));
  assert.equal(calls, 1, 'the rejected refresh leads to one question, then one login');
  assert.equal((await server.counters()).logins_ok, 2);
});

test('logout forgets what the credentials callback gave: the next request asks again', async () => {
  let calls = 0;
  const k = new TokenKeeper({ baseUrl: server.url, credentials: () => (calls++, { username: 'admin', password: 'admin' }) });
  assert.equal((await k.fetch(`${server.url}/api/spaces`)).status, 200);
  k.logout();
  assert.equal((await k.fetch(`${server.url}/api/spaces`)).status, 200);
  assert.equal(calls, 2);
});

test('a credentials callback that gives nothing fails the waiting requests with SessionExpiredError, asked once', async () => {
  let calls = 0;
  const k = new TokenKeeper({ baseUrl: server.url, credentials: async () => void calls++ });
  const results = await Promise.allSettled(Array.from({ length: 5 }, () => k.fetch(`${server.url}/api/spaces`)));
  assert.equal(calls, 1);
  assert.ok(results.every((r) => r.status === 'rejected' && r.reason instanceof SessionExpiredError), JSON.stringify(results));
});

test('setTokens installs tokens from elsewhere; fetch is bound and can be passed around', async () => {
  const a = new TokenKeeper({ baseUrl: server.url, username: 'admin', password: 'admin' });
  let tokens;
  a.on('tokens', (t) => (tokens = t));
  await a.login();
  await server.reset();
  const b = new TokenKeeper({ baseUrl: server.url });
  b.setTokens(tokens);
  const { fetch: f } = b;
  assert.equal((await f(`${server.url}/api/spaces`)).status, 200);
  assert.equal((await server.counters()).logins_ok, 0);
  assert.throws(() => b.setTokens({ accessToken: 'x' }), (e) => e.code === 'CONFIG');
});
