// The single-flight stories of the issue, against the reference server: a herd at expiry,
// revoke-all, a rejected refresh.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TokenKeeper } from 'tokenkeeper';
import { startServer } from '../lib/server.mjs';
import { manualClock } from '../lib/clock.mjs';

let server;
before(async () => {
  server = await startServer();
});
after(() => server.close());

const keeper = (extra = {}) =>
  new TokenKeeper({ baseUrl: server.url, username: 'admin', password: 'admin', ...extra });

test('a herd of 200 concurrent fetches at expiry causes exactly one refresh', async () => {
  const clock = manualClock();
  const k = keeper({ tokenExpirySeconds: 2, clock });
  await k.login();
  await clock.advance(2100); // the keeper's time past expiry: every request must wait for the refresh
  await server.reset();
  const responses = await Promise.all(Array.from({ length: 200 }, () => k.fetch(`${server.url}/api/spaces`)));
  assert.deepEqual([...new Set(responses.map((r) => r.status))], [200]);
  const c = await server.counters();
  assert.equal(c.refreshes_accepted, 1);
  assert.equal(c.logins_ok, 0);
  assert.equal(c.protected_ok, 200);
  assert.equal(c.protected_unauthorized, 0);
  const m = k.metrics();
  assert.equal(m.refreshCount, 1);
  assert.equal(m.requests, 200);
  assert.equal(m.delivered, 200);
});

test('revoke-all: one refresh attempt, one re-login, each request resent once', async () => {
  const k = keeper();
  await k.login();
  await server.reset();
  await server.revokeAll();
  const n = 50;
  const responses = await Promise.all(Array.from({ length: n }, () => k.fetch(`${server.url}/api/spaces`)));
  assert.deepEqual([...new Set(responses.map((r) => r.status))], [200]);
  const c = await server.counters();
  // revoke-all revokes the refresh token too: its one refresh is rejected, then one login.
  assert.equal(c.refreshes_accepted + c.refreshes_rejected, 1);
  assert.equal(c.logins_ok, 1);
  assert.equal(c.protected_unauthorized, n, 'each request was rejected once');
  assert.equal(c.protected_ok, n, 'and succeeded on its one resend');
  assert.equal(k.metrics().unauthorizedResends, n);
  assert.equal(k.metrics().reauthentications, 1);
});

test('a rejected refresh leads to a re-login and the request succeeds', async () => {
  const clock = manualClock();
  const k = keeper({ tokenExpirySeconds: 2, clock });
  const events = [];
  k.on('loggedIn', (p) => events.push(['loggedIn', p.reauthenticated]));
  k.on('refreshed', () => events.push(['refreshed']));
  await k.login();
  await clock.advance(2100);
  await server.reset();
  await server.faults({ fail_next_refreshes: { count: 1, status: 401 } });
  const r = await k.fetch(`${server.url}/api/spaces`);
  assert.equal(r.status, 200);
  const c = await server.counters();
  assert.equal(c.refreshes_faulted, 1);
  assert.equal(c.logins_ok, 1);
  assert.deepEqual(events, [['loggedIn', false], ['loggedIn', true]]);
  assert.equal(k.metrics().reauthentications, 1);
});

test('a login answered 503 is retried with backoff', async () => {
  const k = keeper({ authBackoff: { baseMs: 10, capMs: 50, jitter: false } });
  await server.reset();
  await server.faults({ fail_next_logins: { count: 2, status: 503 } });
  const r = await k.fetch(`${server.url}/api/spaces`);
  assert.equal(r.status, 200);
  const c = await server.counters();
  assert.equal(c.logins_faulted, 2);
  assert.equal(c.logins_ok, 1);
});
