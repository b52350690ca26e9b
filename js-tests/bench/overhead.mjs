// Per-call overhead of keeper.fetch against plain fetch with the same bearer token.
//  1. network: GET /api/echo on loopback (reference server), calls interleaved plain/keeper,
//     each timed alone; the page is cross-origin isolated, so performance.now() is fine-grained.
//  2. cpu: the same calls against a stubbed fetch that answers at once, which leaves only the
//     keeper's own work (wasm engine, JS glue, promise hops).
// In headless Chromium (the package loaded by the dashboard page, as a browser loads it) and in
// Node. Usage: node bench/overhead.mjs [calls=2000]
import { startServer } from '../lib/server.mjs';
import { launch, startStatic } from '../lib/browser.mjs';
import { TokenKeeper } from 'tokenkeeper';

const CALLS = Number(process.argv[2] || 2000);

// Runs in the page and in Node alike (serialised into the page with its source).
async function measure({ api, calls, TokenKeeperClass }) {
  const TK = TokenKeeperClass || (await import('tokenkeeper')).TokenKeeper;
  const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  const run = async (plain, kept, n) => {
    for (let i = 0; i < 100; i++) await plain(), await kept();
    const a = [];
    const b = [];
    for (let i = 0; i < n; i++) {
      let t = performance.now();
      await plain();
      a.push(performance.now() - t);
      t = performance.now();
      await kept();
      b.push(performance.now() - t);
    }
    return { plain: median(a), kept: median(b), overhead: median(b.map((x, i) => x - a[i])) };
  };
  const k = new TK({ baseUrl: api, username: 'admin', password: 'admin', crossTab: false });
  let token;
  k.on('tokens', (t) => (token = t.accessToken));
  await k.login();
  const url = `${api}/api/echo?x=1`;
  const network = await run(
    async () => (await fetch(url, { headers: { authorization: `Bearer ${token}` } })).arrayBuffer(),
    async () => (await k.fetch(url)).arrayBuffer(),
    calls,
  );
  const real = globalThis.fetch;
  globalThis.fetch = async () => new Response('ok');
  try {
    const cpu = await run(
      async () => (await fetch(url, { headers: { authorization: `Bearer ${token}` } })).arrayBuffer(),
      async () => (await k.fetch(url)).arrayBuffer(),
      calls * 5,
    );
    return { network, cpu };
  } finally {
    globalThis.fetch = real;
  }
}

const api = await startServer();
const web = await startStatic({ isolated: true });
const browser = await launch();
try {
  const page = await browser.newPage();
  await page.goto(`${web.url}/?api=${encodeURIComponent(api.url)}&interval=0`);
  await page.waitForFunction(() => window.dashboard !== undefined);
  const isolated = await page.evaluate(() => self.crossOriginIsolated);
  const chromium = await page.evaluate(`(${measure})(${JSON.stringify({ api: api.url, calls: CALLS })})`);
  const node = await measure({ api: api.url, calls: CALLS, TokenKeeperClass: TokenKeeper });
  const us = (ms) => `${(ms * 1000).toFixed(0)} µs`;
  console.log(`GET /api/echo, ${CALLS} calls each (interleaved), medians; page cross-origin isolated: ${isolated}`);
  console.log('| runtime | what | plain fetch | keeper.fetch | overhead (median of paired differences) |\n|---|---|---:|---:|---:|');
  for (const [name, r] of [[`Chromium ${browser.version()}`, chromium], [`Node ${process.versions.node}`, node]]) {
    console.log(`| ${name} | loopback network | ${us(r.network.plain)} | ${us(r.network.kept)} | ${us(r.network.overhead)} |`);
    console.log(`| ${name} | stubbed fetch (keeper CPU only) | ${us(r.cpu.plain)} | ${us(r.cpu.kept)} | ${us(r.cpu.overhead)} |`);
  }
} finally {
  await browser.close();
  web.close();
  await api.close();
}
