// The soak under faults through the npm package, short (the full run is bench/soak.mjs, figures
// in BENCHMARKS.md): 1,500 requests from 32 workers sharing one keeper, 2-second tokens,
// rotation with reuse detection, random 401s, 503s with Retry-After, dropped connections and
// refresh 503s. No request is lost, every failure is one the retry rules allow, rotation never
// trips reuse detection, one login, and the client's refreshes are the server's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run, render } from '../lib/soak.mjs';

test('a short soak under faults through the package loses no request', { timeout: 120_000 }, async (t) => {
  const r = await run({ requests: 1500, concurrency: 32 });
  const text = render(r);
  t.diagnostic(text.replaceAll('\n', ' | '));
  assert.equal(r.requests, 1500);
  assert.equal(r.lost, 0, text);
  assert.equal(r.server.reuse_detections, 0, text);
  assert.equal(r.metrics.logins, 1, `one login, then refreshes only: ${text}`);
  assert.equal(r.server.logins_ok, 1, text);
  assert.ok(r.ok * 100 >= r.requests * 97, `at least 97 % succeed: ${text}`);
  assert.equal(r.metrics.refreshCount, r.server.refreshes_accepted, `the client's refreshes are the server's: ${text}`);
  assert.ok(r.server.protected_injected_401 > 0 && r.server.protected_injected_503 > 0 && r.server.dropped_connections > 0, `the faults were injected: ${text}`);
});
