// The cheap rows of the hostile-answer table (tests/hostile/cases.json) against the npm package
// in headless Chromium: the package loaded by a page of the dashboard's static server (as
// examples/dashboard loads it), the keeper's side of each row (lib/hostile.mjs) run in that
// page, the servers steered and the checks made here (lib/hostile-check.mjs), as in Node
// (hostile.test.mjs). Memory is the resident memory of the browser's processes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { launch, startStatic, pageWithModule } from '../lib/browser.mjs';
import { TABLE, USER, PASSWORD, ROW_LIMIT_MS, startServers, runRow } from '../lib/hostile-check.mjs';

const runner = readFileSync(new URL('../lib/hostile.mjs', import.meta.url), 'utf8');
const rows = TABLE.filter((r) => r.cheap);

let servers;
let web;
let browser;
let page;
const pageErrors = [];
before(async () => {
  [servers, web, browser] = await Promise.all([startServers(), startStatic(), launch()]);
  // The row runner, on the origin that serves the package at /pkg/.
  page = await pageWithModule(browser, web, { dir: '/hostile', name: 'hostile.mjs', source: runner, errors: pageErrors });
  await page.evaluate(async () => {
    const { TokenKeeper } = await import('/pkg/web/index.js');
    const { Subject } = await import('/hostile/hostile.mjs');
    window.rejections = [];
    addEventListener('unhandledrejection', (e) => window.rejections.push(String(e.reason)));
    window.H = { TokenKeeper, Subject };
  });
});
after(async () => {
  await browser?.close();
  web?.close();
  await servers?.close();
});

/** Resident memory of this process's Chromium descendants, in bytes (Linux /proc). */
function chromiumRss() {
  const parent = new Map();
  const kids = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(d), Number(rest[1]));
    } catch {} // gone meanwhile
  }
  for (const [pid, ppid] of parent) kids.set(ppid, [...(kids.get(ppid) || []), pid]);
  let total = 0;
  const walk = (pid) => {
    for (const k of kids.get(pid) || []) {
      try {
        const status = readFileSync(`/proc/${k}/status`, 'utf8');
        if (/^Name:\s*chrom/im.test(status)) total += Number(/^VmRSS:\s*(\d+)/m.exec(status)?.[1] || 0) * 1024;
      } catch {}
      walk(k);
    }
  };
  walk(process.pid);
  return total;
}

/** The keeper's side of a row, in the page. */
const pageSide = () => ({
  start: (row) =>
    page.evaluate(
      ({ row, api, username, password }) => {
        window.rejections.length = 0;
        window.s = new H.Subject(H.TokenKeeper, { api, username, password, config: row.config });
        return window.s.prepare(row.group);
      },
      { row, api: servers.api.url, username: USER, password: PASSWORD },
    ),
  send: (request) => page.evaluate((r) => window.s.send(r), request || {}),
  finish: () => page.evaluate(() => window.s.finish()),
  memory: () => chromiumRss(),
  rejections: () => page.evaluate(() => new Promise((r) => setTimeout(() => r([...window.rejections]), 10))),
});

test('the cheap rows are there, and the browser is measured', () => {
  assert.ok(rows.length >= 20, `${rows.length} cheap rows`);
  assert.ok(chromiumRss() > 20 << 20, 'the browser processes are found');
});

for (const row of rows) {
  test(row.name, { timeout: ROW_LIMIT_MS + 10_000 }, async (t) => {
    const { bad, notes, summary } = await runRow(servers, pageSide(), row);
    for (const n of notes) t.diagnostic(n);
    if (pageErrors.length) bad.push(...pageErrors.splice(0));
    assert.deepEqual(bad, [], `${row.why || ''}\noutcomes: ${summary.join('\n')}`);
  });
}
