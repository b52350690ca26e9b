// Headless Debian Chromium through playwright-core (no browser download), and the dashboard's
// static server on a free loopback port.
import { chromium } from 'playwright-core';
import { once } from 'node:events';
import { createStaticServer } from '../../examples/dashboard/serve.mjs';

export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // Keep timers of background tabs running at full speed (five tabs in one context).
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
];

export function launch() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
}

export async function startStatic(options) {
  const server = createStaticServer(options);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close() {
      server.closeAllConnections();
      server.close();
    },
  };
}

/** Collects console errors and warnings and page errors, to assert there were none. */
export function watchConsole(page, into) {
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') into.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => into.push(`pageerror: ${e.message}`));
}

/**
 * A page on the static server's origin (which serves the package at /pkg/) that can import
 * `source` (a test's module, as text) from `${dir}/${name}`. The page itself is a 404 page of
 * that loopback server (any page of the origin will do), not a route: Chromium lets only a
 * page on a loopback address fetch from loopback addresses. Page errors go to `errors`.
 */
export async function pageWithModule(browser, web, { dir, name, source, errors }) {
  const ctx = await browser.newContext();
  await ctx.route(`${web.url}${dir}/${name}`, (route) => route.fulfill({ status: 200, contentType: 'text/javascript', body: source }));
  const page = await ctx.newPage();
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  const r = await page.goto(`${web.url}${dir}/`);
  if (r.status() !== 404) throw new Error(`${web.url}${dir}/ answered ${r.status()}, not the expected 404 page`);
  return page;
}
