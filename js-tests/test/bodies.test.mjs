// Body replay: every replayable body kind survives a 401 + refresh + resend byte for byte
// (POST /api/echo answers with the body and content type it got); a ReadableStream body is
// sent once and its 401 handed over.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TokenKeeper } from 'tokenkeeper';
import { startServer } from '../lib/server.mjs';

let server;
let k;
before(async () => {
  server = await startServer();
  k = new TokenKeeper({ baseUrl: server.url, username: 'admin', password: 'admin' });
  await k.login();
});
after(() => server.close());

const bytes = new Uint8Array([0, 1, 2, 250, 255, 10, 13]);
const form = new FormData();
form.append('name', 'tokenkeeper');
form.append('file', new Blob(['file-content'], { type: 'text/plain' }), 'a.txt');

const kinds = [
  ['string', () => 'héllo, wörld', async (r) => assert.equal(await r.text(), 'héllo, wörld'), /^text\/plain/],
  ['ArrayBuffer', () => bytes.slice().buffer, async (r) => assert.deepEqual(new Uint8Array(await r.arrayBuffer()), bytes)],
  ['Uint8Array', () => bytes.slice(), async (r) => assert.deepEqual(new Uint8Array(await r.arrayBuffer()), bytes)],
  ['DataView', () => new DataView(bytes.slice().buffer, 1, 3), async (r) => assert.deepEqual(new Uint8Array(await r.arrayBuffer()), bytes.slice(1, 4))],
  ['Blob', () => new Blob(['blob-', 'parts'], { type: 'application/x-test' }), async (r) => assert.equal(await r.text(), 'blob-parts'), /^application\/x-test/],
  ['URLSearchParams', () => new URLSearchParams({ a: '1', b: 'two words' }), async (r) => assert.equal(await r.text(), 'a=1&b=two+words'), /^application\/x-www-form-urlencoded/],
  [
    'FormData',
    () => form,
    async (r) => {
      const echoed = await r.formData();
      assert.equal(echoed.get('name'), 'tokenkeeper');
      assert.equal(await echoed.get('file').text(), 'file-content');
    },
    /^multipart\/form-data; boundary=/,
  ],
];

for (const [kind, body, check, contentType] of kinds) {
  test(`a ${kind} body is replayed after a 401`, async () => {
    await server.reset();
    await server.revokeAll(); // the first send gets a 401, the resend must carry the same body
    const r = await k.fetch(`${server.url}/api/echo`, { method: 'POST', body: body() });
    assert.equal(r.status, 200);
    if (contentType) assert.match(r.headers.get('content-type'), contentType);
    await check(r);
    const c = await server.counters();
    assert.equal(c.protected_unauthorized, 1);
    assert.equal(c.protected_ok, 1);
  });
}

test('a Request with a body (PUT) is replayed too, headers kept', async () => {
  await server.reset();
  await server.revokeAll();
  const req = new Request(`${server.url}/api/echo`, { method: 'PUT', body: '{"x":1}', headers: { 'content-type': 'application/json' } });
  const r = await k.fetch(req);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('x-echo-method'), 'PUT');
  assert.equal(r.headers.get('content-type'), 'application/json');
  assert.equal(await r.text(), '{"x":1}');
});

test('a ReadableStream body is sent once: its 401 is handed over, the next request refreshes', async () => {
  await server.reset();
  await server.revokeAll();
  const stream = new ReadableStream({
    start(c) {
      c.enqueue(new TextEncoder().encode('streamed'));
      c.close();
    },
  });
  const r = await k.fetch(`${server.url}/api/echo`, { method: 'POST', body: stream, duplex: 'half' });
  assert.equal(r.status, 401, 'a stream cannot be replayed, so the 401 is delivered');
  const c = await server.counters();
  assert.equal(c.protected_unauthorized, 1);
  assert.equal(c.refreshes_accepted + c.refreshes_rejected + c.logins_ok, 0, 'no refresh for an unrepeatable request');
  const next = await k.fetch(`${server.url}/api/echo`, { method: 'POST', body: 'after' });
  assert.equal(next.status, 200);
  const after = await server.counters();
  assert.equal(after.protected_unauthorized, 1, 'the token was marked stale: renewed before sending');
});

test('GET with query string and custom headers reaches the server unchanged', async () => {
  const r = await k.fetch(new URL(`${server.url}/api/echo?a=1&b=%20x`), { headers: { 'x-custom': 'yes' } });
  assert.equal(r.status, 200);
  const j = await r.json();
  assert.equal(j.raw_query, 'a=1&b=%20x');
  assert.equal(j.method, 'GET');
});
