// The URL table (tests/urls/cases.json) against the npm package in Node: for every awkward
// URL string, given to `keeper.fetch` as a string, a `URL` and a `Request`, the token goes only
// to the allowed origin, and only to the very URL `fetch` parses (js-tests/lib/urls-check.mjs).
// The same table runs in Chromium (urls-chromium.test.mjs) and through the Rust skin
// (transport-wasm/tests/urls.rs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TokenKeeper } from 'tokenkeeper';
import { URLS, startServers, fill, wantOf, checkUrl } from '../lib/urls-check.mjs';
import { oracle, forms, send } from '../lib/urls-side.mjs';

let servers;
let k;
before(async () => {
  servers = await startServers();
  k = new TokenKeeper({ baseUrl: servers.api.url, username: 'admin', password: 'admin', storage: 'memory' });
  await k.login();
});
after(async () => {
  k?.free?.();
  await servers?.close();
});

const allowed = () => [new URL(servers.api.url).origin];

async function row(label, template, want) {
  const url = fill(template, servers, label.replace(/\W/g, ''));
  const seen = oracle(url);
  assert.equal(wantOf(seen, allowed()), want, `the table says ${want} for ${JSON.stringify(url)}, Node's fetch does not`);
  const bad = await checkUrl(servers, { label, url, want, seen, forms: forms(url), sendForm: (form) => send(k, url, form) });
  assert.deepEqual(bad, []);
}

test('the table is there and the check can fail', async () => {
  assert.ok(URLS.absolute.length >= 45 && URLS.relative.length >= 9);
  // A keeper that is not asked (a plain fetch with the token by hand) to the recorder is caught.
  const url = `${servers.recorder.url}/check-can-fail`;
  const bad = await checkUrl(servers, {
    label: 'self-check',
    url,
    want: 'noToken',
    seen: oracle(url),
    forms: ['string'],
    sendForm: async () => {
      const r = await fetch(url, { headers: { authorization: 'Bearer x' } });
      return { status: r.status, engine: 0 };
    },
  });
  assert.equal(bad.length, 1);
  assert.match(bad[0], /the token reached another origin/);
});

URLS.absolute.forEach((r, i) => {
  test(`absolute ${i}: ${JSON.stringify(r.url)} (${r.group})`, () => row(`abs${String(i).padStart(2, '0')}x`, r.url, r.want));
});

// No base in Node: a relative URL is refused (by `fetch` too); the `http:` forms parse alone.
URLS.relative.forEach((r, i) => {
  test(`relative ${i} in Node: ${JSON.stringify(r.url)}`, () => row(`rel${String(i).padStart(2, '0')}x`, r.url, r.node));
});
