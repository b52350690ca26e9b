// The hostile-answer table (tests/hostile/cases.json, see tests/hostile/README.md) against the
// npm package in Node: one test per row, each with a fresh keeper on a clock that jumps to its
// next timer (no row waits for a timeout in real time), and for every row: its expected
// outcome, no unhandled rejection, at most 30 s of real time, resident memory grown by less
// than 64 MiB, no secret in any error, event or form of the keeper, and no Authorization header
// at the other origin. The cheap rows run in Chromium too (hostile-chromium.test.mjs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { TokenKeeper } from 'tokenkeeper';
import { Subject, describeError, jumpClock } from '../lib/hostile.mjs';
import { TABLE, USER, PASSWORD, ROW_LIMIT_MS, startServers, runRow, leaks } from '../lib/hostile-check.mjs';

let servers;
const rejections = [];
const onRejection = (e) => rejections.push(String(e));
before(async () => {
  servers = await startServers();
  process.on('unhandledRejection', onRejection);
});
after(async () => {
  process.off('unhandledRejection', onRejection);
  await servers?.close();
});

/** The keeper's side of a row, in this process. */
function nodeSide() {
  let s;
  return {
    async start(row) {
      rejections.length = 0;
      s = new Subject(TokenKeeper, { api: servers.api.url, username: USER, password: PASSWORD, config: row.config, inspect });
      return s.prepare(row.group);
    },
    send: (request) => s.send(request),
    finish: () => s.finish(),
    memory: () => process.memoryUsage().rss,
    // A rejection nobody handled surfaces after a turn of the event loop.
    rejections: () => new Promise((r) => setTimeout(() => r([...rejections]), 10)),
  };
}

test('the table and the checks can fail', async () => {
  assert.ok(TABLE.length >= 59, `${TABLE.length} rows`);
  assert.equal(new Set(TABLE.map((r) => r.name)).size, TABLE.length, 'row names are unique');
  const state = { forms: [], events: [{ name: 'refreshed', payload: { x: 't0k' } }] };
  const cause = new Error(`inner ${PASSWORD}`);
  const found = leaks([PASSWORD, 't0k'], [{ error: describeError(new Error('outer', { cause }), inspect) }], state);
  assert.ok(found.some((f) => f.includes('into the error')), 'a secret in the cause is found');
  assert.ok(found.some((f) => f.includes('into the refreshed event')), 'a secret in an event is found');
  const c = jumpClock(1000);
  const fired = [];
  c.setTimeout(() => fired.push('b'), 50);
  c.setTimeout(() => fired.push('a'), 10);
  assert.equal(c.next(), 1010);
  c.jump();
  assert.deepEqual([fired, c.now()], [['a'], 1010]);
});

for (const row of TABLE) {
  test(row.name, { timeout: ROW_LIMIT_MS + 10_000 }, async (t) => {
    const { bad, notes, summary } = await runRow(servers, nodeSide(), row);
    for (const n of notes) t.diagnostic(n);
    assert.deepEqual(bad, [], `${row.why || ''}\noutcomes: ${summary.join('\n')}`);
  });
}
