// Typed errors with stable codes: bad credentials, malformed token responses, an unavailable
// auth endpoint, transport failures, bad options; and what passes through untouched.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  TokenKeeper,
  TokenKeeperError,
  InvalidCredentialsError,
  InvalidAuthResponseError,
  AuthUnavailableError,
  AuthRejectedError,
  TransportError,
  SessionExpiredError,
  ConfigError,
} from 'tokenkeeper';
import { startServer } from '../lib/server.mjs';
import { startFake } from '../lib/fake.mjs';
import { manualClock, until } from '../lib/clock.mjs';

let server;
before(async () => {
  server = await startServer();
});
after(() => server.close());

const fastAuth = { authBackoff: { baseMs: 5, capMs: 20, jitter: false }, resendBackoff: { baseMs: 5, capMs: 20, jitter: false } };

test('bad credentials: InvalidCredentialsError, never retried', async () => {
  await server.reset();
  const k = new TokenKeeper({ baseUrl: server.url, username: 'admin', password: 'wrong' });
  for (let i = 0; i < 3; i++) {
    const e = await k.fetch(`${server.url}/api/spaces`).then(() => null, (e) => e);
    assert.ok(e instanceof InvalidCredentialsError, String(e));
    assert.ok(e instanceof TokenKeeperError && e instanceof Error);
    assert.equal(e.code, 'INVALID_CREDENTIALS');
    assert.equal(e.name, 'InvalidCredentialsError');
    assert.equal(e.status, 401);
    assert.doesNotMatch(e.message, /wrong/, 'the password never appears in messages');
  }
  assert.equal((await server.counters()).logins_rejected, 1);
  const login = await k.login().then(() => null, (e) => e);
  assert.ok(login instanceof InvalidCredentialsError, 'an explicit login() tries again');
  assert.equal((await server.counters()).logins_rejected, 2);
});

test('a 200 without access_token: InvalidAuthResponseError', async () => {
  await server.reset();
  // The injected fault answers 200 {"detail": "Injected failure"}.
  await server.faults({ fail_next_logins: { count: 1, status: 200 } });
  const k = new TokenKeeper({ baseUrl: server.url, username: 'admin', password: 'admin' });
  const e = await k.login().then(() => null, (e) => e);
  assert.ok(e instanceof InvalidAuthResponseError, String(e));
  assert.equal(e.code, 'INVALID_AUTH_RESPONSE');
  assert.match(e.message, /access_token/);
});

for (const [what, headers, body, pattern] of [
  ['an HTML page', { 'content-type': 'text/html' }, '<html>portal</html>', /html/],
  ['not JSON', { 'content-type': 'application/json' }, '{"access_token": ', /not json/],
  ['a bad expires_in', { 'content-type': 'application/json' }, '{"access_token":"a","token_type":"bearer","expires_in":-5}', /expires_in/],
  ['a wrong token_type', { 'content-type': 'application/json' }, '{"access_token":"a","token_type":"mac"}', /token_type/],
]) {
  test(`a token response that is ${what}: InvalidAuthResponseError`, async () => {
    const fake = await startFake(() => [200, headers, body]);
    try {
      const k = new TokenKeeper({ dialect: 'oauth2-password', tokenUrl: `${fake.url}/token`, username: 'u', password: 'p' });
      const e = await k.fetch(`${fake.url}/api`).then(() => null, (e) => e);
      assert.ok(e instanceof InvalidAuthResponseError, String(e));
      assert.match(e.message, pattern);
    } finally {
      fake.close();
    }
  });
}

test('the auth endpoint stays at 503: AuthUnavailableError after the attempts', async () => {
  await server.reset();
  await server.faults({ fail_next_logins: { count: 10, status: 503 } });
  const k = new TokenKeeper({ baseUrl: server.url, username: 'admin', password: 'admin', maxRefreshAttempts: 3, ...fastAuth });
  const e = await k.fetch(`${server.url}/api/spaces`).then(() => null, (e) => e);
  assert.ok(e instanceof AuthUnavailableError, String(e));
  assert.equal(e.code, 'AUTH_UNAVAILABLE');
  assert.equal(e.status, 503);
  assert.equal(e.attempts, 3);
  assert.equal((await server.counters()).logins_faulted, 3);
});

test('a token URL that answers 404: AuthRejectedError', async () => {
  await server.reset();
  // (Unknown paths are the server's recorder, which answers 200: script the 404.)
  await server.faults({ script: { route: 'login', status: 404, body: { text: 'no such endpoint' } } });
  const k = new TokenKeeper({ dialect: 'oauth2-client-credentials', tokenUrl: `${server.url}/oauth/token`, clientId: 'cli', clientSecret: 'cli-secret' });
  const e = await k.login().then(() => null, (e) => e);
  assert.ok(e instanceof AuthRejectedError, String(e));
  assert.equal(e.code, 'AUTH_REJECTED');
  assert.equal(e.status, 404);
});

test('an unknown OAuth client is refused like bad credentials', async () => {
  const k = new TokenKeeper({ dialect: 'oauth2-client-credentials', tokenUrl: `${server.url}/oauth/token`, clientId: 'nobody', clientSecret: 'x' });
  const e = await k.login().then(() => null, (e) => e);
  assert.ok(e instanceof InvalidCredentialsError, String(e));
  assert.equal(e.reason, 'invalid_client');
});

test('client credentials grant works', async () => {
  const k = new TokenKeeper({
    dialect: 'oauth2-client-credentials',
    tokenUrl: `${server.url}/oauth/token`,
    clientId: 'cli',
    clientSecret: 'cli-secret',
  });
  const r = await k.fetch(`${server.url}/api/spaces`);
  assert.equal(r.status, 200);
});

test('the API answers 503 with Retry-After: resent once the delay has passed, not before', async () => {
  const api = await startFake(() => [200, { 'content-type': 'text/plain' }, 'ok']);
  try {
    await server.reset();
    const clock = manualClock();
    const k = new TokenKeeper({ baseUrl: server.url, username: 'admin', password: 'admin', allowedOrigins: [api.url], ...fastAuth, clock });
    api.answers.push(() => [503, { 'retry-after': '1', 'access-control-expose-headers': 'retry-after' }, 'busy']);
    let settled = false;
    const pending = k.fetch(`${api.url}/thing`).finally(() => (settled = true));
    assert.ok(await until(() => api.seen.length === 1), 'the first attempt reached the API');
    await clock.advance(999); // Retry-After: 1 is a floor (the backoff alone would be 5 ms)
    assert.equal(api.seen.length, 1, 'resent before Retry-After passed');
    assert.equal(settled, false);
    await clock.advance(1);
    const r = await pending;
    assert.equal(r.status, 200);
    assert.equal(await r.text(), 'ok');
    assert.equal(api.seen.length, 2);
    assert.match(api.seen[1].headers.authorization, /^Bearer /);
    assert.equal(k.metrics().transientResends, 1);
  } finally {
    api.close();
  }
});

test('network failure: a GET is retried, a POST fails with TransportError (not resent)', async () => {
  const k = new TokenKeeper({ baseUrl: server.url, username: 'admin', password: 'admin', allowedOrigins: ['http://127.0.0.1:9'], maxTransientResends: 2, ...fastAuth });
  await k.login();
  const get = await k.fetch('http://127.0.0.1:9/nothing').then(() => null, (e) => e);
  assert.ok(get instanceof TransportError, String(get));
  assert.equal(get.attempts, 3, 'a GET is idempotent: sent, then resent twice');
  assert.ok(get.cause instanceof TypeError, 'the cause is fetch’s own TypeError');
  const post = await k.fetch('http://127.0.0.1:9/nothing', { method: 'POST', body: 'x' }).then(() => null, (e) => e);
  assert.ok(post instanceof TransportError, String(post));
  assert.equal(post.attempts, 1);
  assert.equal(post.mayHaveReachedServer, true);
});

test('logout: waiting requests and later ones fail with SessionExpiredError', async () => {
  const k = new TokenKeeper({ baseUrl: server.url, username: 'admin', password: 'admin' });
  await k.login();
  const expired = [];
  k.on('sessionExpired', () => expired.push(1));
  k.logout();
  assert.equal(expired.length, 1);
  // Credentials are still known, so the next request logs in again.
  assert.equal((await k.fetch(`${server.url}/api/spaces`)).status, 200);
  const none = new TokenKeeper({ baseUrl: server.url });
  const e = await none.fetch(`${server.url}/api/spaces`).then(() => null, (e) => e);
  assert.ok(e instanceof SessionExpiredError, String(e));
  assert.equal(e.code, 'SESSION_EXPIRED');
});

test('bad options: ConfigError with code CONFIG', () => {
  const cases = [
    {},
    { baseUrl: 'not a url' },
    { baseUrl: 'http://example.com' }, // plain http off loopback
    { baseUrl: server.url, tokenExpirySeconds: 4000 },
    { baseUrl: server.url, storage: 'cookies' },
    { baseUrl: server.url, storage: 'local' }, // Node 20 has no localStorage
    { baseUrl: server.url, maxRefreshAttempts: -1 },
    { dialect: 'oauth2-password' },
    { dialect: 'saml', tokenUrl: server.url },
  ];
  for (const options of cases) {
    assert.throws(() => new TokenKeeper(options), (e) => e instanceof ConfigError && e.code === 'CONFIG', JSON.stringify(options));
  }
  const k = new TokenKeeper({ baseUrl: server.url });
  assert.throws(() => k.on('nope', () => {}), ConfigError);
});

test('fetch errors pass through unchanged: TypeError for bad input, AbortError', async () => {
  const k = new TokenKeeper({ baseUrl: server.url, username: 'admin', password: 'admin' });
  await assert.rejects(k.fetch('not a url'), TypeError);
  await assert.rejects(k.fetch(`${server.url}/api/spaces`, { method: 'GET', body: 'x' }), TypeError);
  await k.login();
  await server.faults({ latency_ms: { protected: 2000 } });
  const ac = new AbortController();
  const p = k.fetch(`${server.url}/api/spaces`, { signal: ac.signal });
  setTimeout(() => ac.abort(), 50);
  await assert.rejects(p, (e) => e.name === 'AbortError');
  await server.reset();
  // Aborting while waiting for a login ends the wait at once (the login is still out).
  await server.faults({ latency_ms: { login: 2000 } });
  const ac2 = new AbortController();
  k.logout();
  const p2 = k.fetch(`${server.url}/api/spaces`, { signal: ac2.signal });
  assert.ok(await until(() => k.metrics().authInProgress), 'the request waits for a login');
  ac2.abort(new Error('stop'));
  await assert.rejects(p2, /stop/);
  assert.equal((await server.counters()).logins_ok, 0, 'rejected before the login answered');
  // A signal that was aborted before the call fails it at once, without a request.
  await assert.rejects(k.fetch(`${server.url}/api/spaces`, { signal: AbortSignal.abort(new Error('early')) }), /early/);
  await server.reset();
});

test('a redirect to another origin: the token is not sent there and its 401 is handed over as is', async () => {
  const other = await startFake(() => [401, { 'www-authenticate': 'Bearer error="invalid_token"' }, 'who are you?']);
  const api = await startFake(() => [302, { location: `${other.url}/elsewhere` }, '']);
  try {
    await server.reset();
    const k = new TokenKeeper({ baseUrl: server.url, username: 'admin', password: 'admin', allowedOrigins: [api.url] });
    await k.login();
    const r = await k.fetch(`${api.url}/moved`);
    assert.equal(r.status, 401);
    assert.equal(r.redirected, true);
    assert.match(api.seen[0].headers.authorization, /^Bearer /);
    assert.equal(other.seen[0].headers.authorization, undefined, 'fetch drops Authorization across origins');
    const c = await server.counters();
    assert.equal(c.refreshes_accepted + c.refreshes_rejected + c.logins_ok, 1, 'no refresh for a foreign 401');
    assert.equal(k.metrics().unauthorizedResends, 0);
  } finally {
    api.close();
    other.close();
  }
});

test('a 40 kB token answer in a fresh process (its first chunk grows the module memory): logged in, once', async () => {
  await server.reset();
  await server.faults({ script: { route: 'login', count: 1, body: { huge_token: 40_000 } } });
  // A fresh process: the module's memory has never grown, as on a page's first login.
  const code = `
    import { TokenKeeper } from 'tokenkeeper';
    const k = new TokenKeeper({ baseUrl: process.env.API, username: 'admin', password: 'admin', maxRefreshAttempts: 3 });
    let token = '';
    k.on('tokens', (t) => (token = t.accessToken));
    const r = await k.login().then(() => 'ok', (e) => e.code);
    console.log(JSON.stringify({ r, length: token.length, metrics: k.metrics() }));`;
  const cwd = fileURLToPath(new URL('..', import.meta.url));
  const out = await new Promise((resolve, reject) =>
    execFile(process.execPath, ['--input-type=module', '-e', code], { cwd, env: { ...process.env, API: server.url } }, (e, stdout, stderr) =>
      e ? reject(new Error(`${e.message}\n${stderr}`)) : resolve(JSON.parse(stdout)),
    ),
  );
  assert.equal(out.r, 'ok');
  assert.equal(out.length, 40_000, "the scripted answer's token");
  assert.deepEqual([out.metrics.logins, out.metrics.loginFailures], [1, 0]);
  const c = await server.counters();
  assert.deepEqual([c.logins_scripted, c.logins_ok], [1, 0], 'one login: the answer was not taken for a network failure and retried');
});

test('a token endpoint that redirects: AuthRejectedError with the 3xx, once; the password does not follow', async () => {
  const other = await startFake(() => [200, { 'content-type': 'application/json' }, '{"access_token":"stolen","token_type":"bearer"}']);
  const auth = await startFake(() => [307, { location: `${other.url}/token` }, '']);
  try {
    const k = new TokenKeeper({ dialect: 'oauth2-password', tokenUrl: `${auth.url}/token`, username: 'u', password: 'p-secret', maxRefreshAttempts: 3, ...fastAuth });
    const e = await k.login().then(() => null, (e) => e);
    assert.ok(e instanceof AuthRejectedError, String(e));
    assert.equal(e.status, 307, 'Node gives the redirect its own status');
    assert.equal(auth.seen.length, 1, 'not retried');
    assert.equal(other.seen.length, 0, 'the redirect was not followed');
    assert.equal(k.metrics().logins, 0);
  } finally {
    auth.close();
    other.close();
  }
});
