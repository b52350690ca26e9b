// The npm package reads JSON with `JSON.parse` (the engine's host-JSON seam, bindings-js/README.md
// "Host JSON"); the native engine reads it with its own reader. Every answer of the fuzz corpora
// (fuzz/corpus/token_response, auth_error; jwt_exp's tokens inside a token answer) and every
// login or refresh answer of the hostile table is answered to a login through the package, and
// its outcome (the tokens and their lifetime, or the error's code, message, reason and status)
// must be what the native engine makes of it (bindings-js/examples/auth_answers.rs, the same
// driver with the reader), but for the differences the README lists, which are pinned below.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { TokenKeeper } from 'tokenkeeper';

const root = fileURLToPath(new URL('../../', import.meta.url));
const NOW = 1_700_000_000_000; // the native side's clock too
const reference = process.env.TOKENKEEPER_AUTH_ANSWERS_BIN || `${root}target/debug/examples/auth_answers`;

/** Every answer: [name, status, body bytes]. */
function answers() {
  const list = [];
  const corpus = (target) => {
    const dir = `${root}fuzz/corpus/${target}/`;
    return readdirSync(dir)
      .sort()
      .map((f) => [`${target}/${f}`, readFileSync(dir + f)]);
  };
  for (const [name, body] of corpus('token_response')) list.push([name, 200, body]);
  for (const [name, body] of corpus('auth_error')) list.push([name, 400, body]);
  for (const [name, token] of corpus('jwt_exp')) {
    list.push([`${name} as the access token`, 200, Buffer.from(JSON.stringify({ access_token: token.toString('latin1') }))]);
  }
  // The hostile table's answers to logins and refreshes (tests/hostile/cases.json).
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const jwt = (exp) => `${b64({ alg: 'HS256' })}.${b64({ sub: 'u', exp })}.c2ln`;
  const { cases } = JSON.parse(readFileSync(`${root}tests/hostile/cases.json`, 'utf8'));
  for (const row of cases) {
    if (row.group === 'resource') continue;
    for (const setup of [row.server].flat()) {
      for (const s of [setup.script || []].flat()) {
        let body = s.body;
        if (s.real) {
          const v = { access_token: jwt(NOW / 1000 + 1800 + (s.real.exp_offset_secs || 0)), token_type: 'bearer', expires_in: 1800, refresh_token: 'r-1' };
          for (const k of s.real.remove || []) delete v[k];
          body = { json: Object.assign(v, s.real.set) };
        }
        let bytes;
        if (body === 'empty') bytes = '';
        else if (body === 'endless' || body?.huge) bytes = 'a'.repeat(70_000);
        else if (body?.huge_token) bytes = JSON.stringify({ access_token: 'a'.repeat(Math.min(body.huge_token, 70_000)), token_type: 'Bearer', expires_in: 3600 });
        else if (body?.deep_json) bytes = '['.repeat(Math.min(body.deep_json, 35_000)) + ']'.repeat(Math.min(body.deep_json, 35_000));
        else if (body?.json !== undefined) bytes = JSON.stringify(body.json);
        else if (body?.text !== undefined) bytes = body.text;
        else continue; // no answer (never, reset, raw bytes): nothing to read
        const status = s.status || 200;
        // (429 and 5xx are retried after a backoff: their bodies are not read as JSON.)
        if (status < 500 && status !== 429) list.push([`hostile: ${row.name}`, status, Buffer.from(bytes)]);
      }
    }
  }
  return list;
}

/**
 * An outcome with what may differ and is not about reading JSON made the same:
 * - the host's syntax errors say no position (the README's "Host JSON"): `not json: …`;
 * - (not JSON's doing) a server string quoted in a message, e.g. a token_type: a native build
 *   escapes format characters and other non-printable non-controls as `\u{..}`, the package's
 *   module writes them as they are (core/src/quote.rs).
 */
function comparable(o, seen) {
  if (!o.error) return o;
  let message = o.error.message.replace(/(response body is not json: ).*/, (_, head) => (seen.notJson++, `${head}…`));
  message = message.replace(/\\u\{([0-9a-f]+)\}/g, (all, hex) => {
    const c = String.fromCodePoint(parseInt(hex, 16));
    return /\p{Cc}/u.test(c) ? all : (seen.quoted++, c);
  });
  return { error: { ...o.error, message } };
}

let server;
let answer;
before(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.sendDate = false; // no Date header: the JWT `exp` is read against the clock alone
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(answer.body);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
});
after(() => server.close());

/** What the package makes of one answer to a login. */
async function throughThePackage(status, body) {
  answer = { status, body };
  const clock = { now: () => NOW, setTimeout: () => 0, clearTimeout: () => {} };
  const k = new TokenKeeper({ dialect: 'oauth2-password', tokenUrl: `http://127.0.0.1:${server.address().port}/token`, username: 'u', password: 'p', clock });
  let tokens = null;
  k.on('tokens', (t) => (tokens = { access: t.accessToken, lifetime: t.expiresAt - t.issuedAt, refresh: t.refreshToken }));
  try {
    let stuck;
    await Promise.race([k.login(), new Promise((_, reject) => (stuck = setTimeout(() => reject(new Error('no outcome within 5 s')), 5000)))]).finally(() => clearTimeout(stuck));
    return { tokens };
  } catch (e) {
    return { error: { code: e.code, message: e.message, reason: e.reason ?? null, status: e.status ?? null } };
  } finally {
    k.free();
  }
}

test('every corpus and hostile answer: the package (JSON.parse) and the native engine (its reader) agree', { timeout: 120_000 }, async (t) => {
  assert.ok(existsSync(reference), `${reference} missing: cargo build -p tokenkeeper-js --example auth_answers`);
  const all = answers();
  assert.ok(all.length > 600, `${all.length} answers`);
  const input = all.map(([, status, body]) => JSON.stringify({ status, body: body.toString('hex') })).join('\n') + '\n';
  const native = execFileSync(reference, { input, maxBuffer: 1 << 28 }).toString().trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(native.length, all.length);
  const differ = [];
  let tokens = 0;
  const seen = { notJson: 0, quoted: 0 };
  for (const [i, [name, status, body]] of all.entries()) {
    const got = comparable(await throughThePackage(status, body), { notJson: 0, quoted: 0 });
    const want = comparable(native[i], seen);
    if (want.tokens) tokens++;
    if (!isDeepStrictEqual(got, want)) differ.push(`${name}\n  package ${JSON.stringify(got).slice(0, 300)}\n  native  ${JSON.stringify(want).slice(0, 300)}`);
  }
  t.diagnostic(`${all.length} answers: ${tokens} gave tokens, ${seen.notJson} were not JSON, ${seen.quoted} quoted a non-printable character`);
  assert.deepEqual(differ, []);
  assert.ok(tokens > 50, `${tokens} answers gave tokens: the comparison covers accepted answers too`);
  assert.ok(seen.notJson > 50, `${seen.notJson} answers are not JSON: the comparison covers refusals too`);
});

test('the listed difference: a number past an f64 digits is read as its nearest f64 (bindings-js/README.md)', async () => {
  const tenYears = 315_360_000_000;
  const over = await throughThePackage(200, Buffer.from('{"access_token":"a","expires_in":315360000.00000001}'));
  assert.equal(over.tokens.lifetime, tenYears); // the native engine: "too large"
  const exact = await throughThePackage(200, Buffer.from('{"access_token":"a","expires_in":315360000.001}'));
  assert.equal(exact.error.code, 'INVALID_AUTH_RESPONSE');
  assert.match(exact.error.message, /too large/);
});
