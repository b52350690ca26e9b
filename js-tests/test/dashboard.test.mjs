// Playwright (playwright-core, Debian Chromium) on examples/dashboard: 2-second tokens over
// several expiries with no failed request, five tabs of one browser context that refresh
// exactly once at expiry, and the package in a dedicated worker (examples/dashboard/worker.js).
// The keepers run on the test clock (`?clock=manual`): the tests move their time past each
// expiry instead of waiting for it. Keeps a screenshot in target/playwright-dashboard.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startServer } from '../lib/server.mjs';
import { until } from '../lib/clock.mjs';
import { launch, startStatic, watchConsole } from '../lib/browser.mjs';

const screenshot = fileURLToPath(new URL('../../target/playwright-dashboard.png', import.meta.url));
let api;
let web;
let browser;
before(async () => {
  [api, web, browser] = await Promise.all([startServer(), startStatic(), launch()]);
});
after(async () => {
  await browser?.close();
  web?.close();
  await api?.close();
});

const page = (ctx, params) => {
  const q = new URLSearchParams({ api: api.url, clock: 'manual', ...params });
  return ctx.newPage().then(async (p) => {
    p.problems = [];
    watchConsole(p, p.problems);
    const r = await p.goto(`${web.url}/?${q}`);
    assert.equal(r.status(), 200);
    await p.waitForFunction(() => window.dashboard !== undefined);
    await p.evaluate(() => window.dashboard.ready);
    return p;
  });
};

test('2-second tokens over at least 3 expiries: no failed request on the page', async () => {
  const ctx = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  try {
    const wasm = [];
    ctx.on('response', (r) => r.url().endsWith('.wasm') && wasm.push(r.headers()['content-type']));
    await api.reset();
    const p = await page(ctx, { ttl: '2', interval: '100' });
    assert.deepEqual(wasm, ['application/wasm']);
    // 2 s tokens: three expiries while the page polls every 100 ms.
    for (let i = 1; i <= 3; i++) {
      await p.evaluate(() => window.dashboard.advance(2000));
      assert.ok(await until(async () => (await api.counters()).refreshes_accepted >= i), `refresh ${i}`);
      const ok = await p.evaluate(() => window.dashboard.state.ok);
      assert.ok(await until(() => p.evaluate((n) => window.dashboard.state.ok > n + 3, ok)), 'polling goes on');
    }
    const state = await p.evaluate(() => ({ ok: window.dashboard.state.ok, failed: window.dashboard.state.failed, errors: window.dashboard.state.errors, m: window.dashboard.keeper.metrics() }));
    const c = await api.counters();
    assert.equal(state.failed, 0, `failed requests: ${state.errors.join(', ')}`);
    assert.ok(state.ok >= 12, `only ${state.ok} requests succeeded`);
    assert.ok(c.refreshes_accepted >= 3, `only ${c.refreshes_accepted} refreshes`);
    assert.equal(c.refreshes_accepted, state.m.refreshCount);
    assert.equal(c.protected_unauthorized, 0, 'the token was never let expire at the server');
    assert.equal(c.logins_ok, 1);
    mkdirSync(fileURLToPath(new URL('../../target/', import.meta.url)), { recursive: true });
    await p.screenshot({ path: screenshot, fullPage: true });
    assert.deepEqual(p.problems, []);
  } finally {
    await ctx.close();
  }
});

test('five tabs in one browser context at expiry: exactly one refresh', async () => {
  const ctx = await browser.newContext();
  try {
    await api.reset();
    // interval 0: no polling; every tab still calls login() when it opens.
    const tabs = [];
    for (let i = 0; i < 5; i++) tabs.push(await page(ctx, { ttl: '2', interval: '0' }));
    assert.equal((await api.counters()).logins_ok, 1, 'the other tabs took the first tab’s tokens');
    const expiries = await Promise.all(tabs.map((t) => t.evaluate(() => window.dashboard.keeper.metrics().tokenExpiresAt)));
    assert.equal(new Set(expiries).size, 1, 'every tab holds the same token set');
    assert.ok(tabs.every((t) => t.evaluate(() => window.dashboard.keeper.crossTab)));
    // Every tab's time to one moment past the expiry (each tab's clock stood still from its
    // opening on): all tabs hold an expired token now.
    const nows = await Promise.all(tabs.map((t) => t.evaluate(() => window.dashboard.now())));
    const at = Math.max(expiries[0], ...nows) + 100;
    await Promise.all(tabs.map((t) => t.evaluate((to) => window.dashboard.advanceTo(to), at)));
    for (const t of tabs) assert.equal(await t.evaluate(() => window.dashboard.keeper.metrics().isExpired), true);
    await api.reset();
    const statuses = await Promise.all(tabs.map((t) => t.evaluate(() => window.dashboard.burst(10))));
    assert.deepEqual([...new Set(statuses.flat())], [200]);
    const c = await api.counters();
    assert.equal(c.refreshes_accepted, 1, 'one refresh for five tabs');
    assert.equal(c.logins_ok, 0);
    assert.equal(c.protected_ok, 50);
    const refreshes = await Promise.all(tabs.map((t) => t.evaluate(() => window.dashboard.keeper.metrics().refreshCount)));
    assert.equal(refreshes.reduce((a, b) => a + b, 0), 1, `refreshes per tab: ${refreshes}`);
    for (const t of tabs) assert.deepEqual(t.problems, []);
  } finally {
    await ctx.close();
  }
});

test('in a dedicated worker: login, then one refresh for a burst of 20 at expiry', async () => {
  const ctx = await browser.newContext();
  try {
    await api.reset();
    const p = await ctx.newPage();
    const problems = [];
    watchConsole(p, problems);
    await p.goto(`${web.url}/worker-host`); // any page of the example's origin (this one is a 404)
    const seen = await p.evaluate(
      ({ api: apiUrl }) =>
        new Promise((resolve, reject) => {
          const q = new URLSearchParams({ api: apiUrl, ttl: '2', burst: '20', clock: 'manual' });
          const w = new Worker(`/worker.js?${q}`, { type: 'module' });
          w.onmessage = ({ data }) => resolve(data);
          w.onerror = (e) => reject(new Error(`worker: ${e.message}`));
        }),
      { api: api.url },
    );
    assert.equal(seen.error, undefined, seen.error);
    assert.deepEqual([...new Set(seen.statuses)], [200]);
    assert.equal(seen.statuses.length, 20);
    assert.equal(seen.crossTab, true, 'Web Locks and BroadcastChannel exist in workers');
    const c = await api.counters();
    assert.equal(c.logins_ok, 1);
    assert.equal(c.refreshes_accepted, 1, 'one refresh for the burst');
    assert.equal(c.protected_ok, 20);
    assert.equal(c.protected_unauthorized, 0, 'nobody sent the expired token');
    assert.equal(seen.refreshCount, 1);
    assert.equal(seen.requests, 20);
    assert.deepEqual(problems.filter((x) => !x.includes('404')), []);
  } finally {
    await ctx.close();
  }
});
