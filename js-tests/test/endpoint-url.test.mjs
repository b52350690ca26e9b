// The token endpoint's URL is read by the platform's URL parser, as every other URL the keeper
// handles: the login goes to the URL `URL` read, and the origin that may always receive the
// token is that URL's origin (bindings-js/README.md, "API").
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TokenKeeper, ConfigError } from 'tokenkeeper';
import { startServer } from '../lib/server.mjs';

let server;
before(async () => {
  server = await startServer();
});
after(() => server.close());

test('a base URL in a form only the platform parser reads (IPv4 shorthand, trailing slashes) logs in and sends the token to that origin', async () => {
  await server.reset();
  const port = new URL(server.url).port;
  // `URL` reads 127.1 as 127.0.0.1: a loopback host, so plain http is allowed, and the same
  // origin as the API URLs below.
  const k = new TokenKeeper({ baseUrl: `  http://127.1:${port}//  `, username: 'admin', password: 'admin' });
  const r = await k.fetch(`${server.url}/api/spaces`);
  assert.equal(r.status, 200);
  const c = await server.counters();
  assert.equal(c.logins_ok, 1);
});

test('an OAuth 2.0 token URL (upper-case scheme) is read by `URL` and its origin gets the token', async () => {
  await server.reset();
  const port = new URL(server.url).port;
  const k = new TokenKeeper({ dialect: 'oauth2-password', tokenUrl: `HTTP://127.0.0.1:${port}/oauth/token`, username: 'admin', password: 'admin' });
  const r = await k.fetch(`${server.url}/api/spaces`);
  assert.equal(r.status, 200);
  const c = await server.counters();
  assert.deepEqual([c.logins_ok, c.protected_ok], [1, 1]);
});

test('endpoint URLs the engine refuses are a ConfigError naming the URL as given, userinfo hidden', () => {
  const table = [
    [{ baseUrl: 'not a url' }, 'invalid url "not a url"'],
    [{ baseUrl: 'https://vg.example/?x=1' }, 'invalid url "https://vg.example/?x=1"'],
    [{ baseUrl: 'https://vg.example/#top' }, 'invalid url "https://vg.example/#top"'],
    [{ baseUrl: 'ftp://vg.example' }, 'invalid url "ftp://vg.example"'],
    [{ dialect: 'oauth2-password', tokenUrl: 'https://u:SECRET@as.example/token' }, 'invalid url "https://[redacted]@as.example/token"'],
    [{ dialect: 'oauth2-password', tokenUrl: 'https://as.example/token#f' }, 'invalid url "https://as.example/token#f"'],
    [{ dialect: 'oauth2-password', tokenUrl: 'http://as.example/token' }, 'refusing plain-http token endpoint "http://as.example/token" on a non-loopback host (allow_insecure_http to override)'],
    [{ baseUrl: 'http://10.0.0.1' }, 'refusing plain-http token endpoint "http://10.0.0.1/api/login" on a non-loopback host (allow_insecure_http to override)'],
  ];
  for (const [options, message] of table) {
    assert.throws(
      () => new TokenKeeper({ username: 'a', password: 'b', ...options }),
      (e) => e instanceof ConfigError && e.message === message && !e.message.includes('SECRET'),
      JSON.stringify(options),
    );
  }
  // A token URL may have a query (RFC 6749 §3.2).
  new TokenKeeper({ dialect: 'oauth2-password', tokenUrl: 'https://as.example/token?tenant=a', username: 'a', password: 'b' });
});
