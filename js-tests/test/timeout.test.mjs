// The per-attempt timeout (`timeout`, seconds; the settings' `client.timeout`): an attempt
// that has no response headers by then is aborted and counts as a transport failure, which
// the engine resends when the method is idempotent. Driven by the test clock: nothing waits
// 30 s, or 5.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import { TokenKeeper, TransportError } from 'tokenkeeper';
import { startServer } from '../lib/server.mjs';
import { manualClock, until } from '../lib/clock.mjs';

let server;
before(async () => {
  server = await startServer();
});
after(() => server.close());

/** An API that holds the first `hold` requests without answering, and answers the others. */
async function holdingApi(hold) {
  const seen = [];
  const api = http.createServer((req, res) => {
    seen.push({ method: req.method, closed: false });
    const me = seen[seen.length - 1];
    req.on('close', () => (me.closed = true));
    res.on('close', () => (me.closed = true));
    if (seen.length <= hold) return; // never answered
    res.writeHead(200, { 'access-control-allow-origin': '*', 'content-type': 'text/plain' }).end('ok');
  });
  api.listen(0, '127.0.0.1');
  await once(api, 'listening');
  return { url: `http://127.0.0.1:${api.address().port}`, seen, close: () => (api.closeAllConnections(), api.close()) };
}

const keeper = (api, clock, extra = {}) =>
  new TokenKeeper({
    baseUrl: server.url,
    username: 'admin',
    password: 'admin',
    allowedOrigins: [api.url],
    resendBackoff: { baseMs: 100, jitter: false },
    clock,
    ...extra,
  });

test('a GET without response headers within `timeout` is aborted and resent', async () => {
  const api = await holdingApi(1);
  try {
    const clock = manualClock();
    const k = keeper(api, clock, { timeout: 5 });
    await k.login();
    const pending = k.fetch(`${api.url}/slow`);
    assert.ok(await until(() => api.seen.length === 1), 'the first attempt reached the API');
    await clock.advance(4999);
    assert.equal(api.seen[0].closed, false, 'aborted before the timeout');
    await clock.advance(1);
    assert.ok(await until(() => api.seen[0].closed), 'the attempt was aborted at the timeout');
    assert.equal(api.seen.length, 1, 'resent only after the backoff');
    await clock.advance(100);
    const r = await pending;
    assert.equal(r.status, 200);
    assert.equal(api.seen.length, 2);
    assert.equal(k.metrics().transientResends, 1);
  } finally {
    api.close();
  }
});

test('a POST without response headers within the default 30 s fails with TransportError (not resent)', async () => {
  const api = await holdingApi(1);
  try {
    const clock = manualClock();
    const k = keeper(api, clock);
    await k.login();
    const pending = k.fetch(`${api.url}/slow`, { method: 'POST', body: 'x' }).then(() => null, (e) => e);
    assert.ok(await until(() => api.seen.length === 1));
    await clock.advance(29_999);
    assert.equal(api.seen[0].closed, false);
    await clock.advance(1);
    const e = await pending;
    assert.ok(e instanceof TransportError, String(e));
    assert.equal(e.mayHaveReachedServer, true);
    assert.equal(e.attempts, 1);
    assert.equal(e.cause.name, 'TimeoutError');
    assert.ok(await until(() => api.seen[0].closed), 'the attempt was aborted');
    assert.equal(api.seen.length, 1);
  } finally {
    api.close();
  }
});

test('`timeout: 0` means no per-attempt timeout', async () => {
  const api = await holdingApi(1);
  try {
    const clock = manualClock();
    const k = keeper(api, clock, { timeout: 0 });
    await k.login();
    const ac = new AbortController();
    const pending = k.fetch(`${api.url}/slow`, { signal: ac.signal }).then(() => null, (e) => e);
    assert.ok(await until(() => api.seen.length === 1));
    await clock.advance(24 * 3600 * 1000);
    assert.equal(api.seen[0].closed, false, 'still waiting after a day');
    ac.abort(new Error('enough'));
    assert.match(String(await pending), /enough/);
  } finally {
    api.close();
  }
});
