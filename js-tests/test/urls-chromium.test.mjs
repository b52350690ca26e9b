// The URL table (tests/urls/cases.json) against the npm package in headless Chromium: the
// package loaded by a page of the dashboard's static server (as examples/dashboard loads it),
// each URL sent from that page as a string, a `URL` and a `Request`
// (js-tests/lib/urls-side.mjs), what reached the two servers checked here
// (js-tests/lib/urls-check.mjs). Relative rows run under a page `<base href>` on the API and
// on the recorder: the token may go to the API and to the page's own origin.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { launch, startStatic, pageWithModule } from '../lib/browser.mjs';
import { URLS, startServers, fill, wantOf, checkUrl } from '../lib/urls-check.mjs';

const side = readFileSync(new URL('../lib/urls-side.mjs', import.meta.url), 'utf8');

let servers;
let web;
let browser;
let page;
const pageErrors = [];
before(async () => {
  [servers, web, browser] = await Promise.all([startServers(), startStatic(), launch()]);
  page = await pageWithModule(browser, web, { dir: '/urls', name: 'side.mjs', source: side, errors: pageErrors });
  await page.evaluate(
    async ({ api }) => {
      const { TokenKeeper } = await import('/pkg/web/index.js');
      window.U = await import('/urls/side.mjs');
      window.k = new TokenKeeper({ baseUrl: api, username: 'admin', password: 'admin', storage: 'memory', crossTab: false, allowedOrigins: [location.origin] });
      await window.k.login();
    },
    { api: servers.api.url },
  );
});
after(async () => {
  await browser?.close();
  web?.close();
  await servers?.close();
});

async function row(label, template, want, base) {
  const url = fill(template, servers, label.replace(/\W/g, ''));
  const { seen, forms } = await page.evaluate(
    ({ url, base }) => {
      U.setBase(base);
      return { seen: U.oracle(url), forms: U.forms(url) };
    },
    { url, base },
  );
  const origins = [new URL(servers.api.url).origin, new URL(web.url).origin];
  assert.equal(wantOf(seen, origins), want, `the table says ${want} for ${JSON.stringify(url)} under ${base}, Chromium's fetch does not`);
  const sendForm = (form) => page.evaluate(({ url, form }) => U.send(k, url, form), { url, form });
  const bad = await checkUrl(servers, { label, url, want, seen, forms, sendForm });
  assert.deepEqual([...bad, ...pageErrors.splice(0)], []);
}

URLS.absolute.forEach((r, i) => {
  test(`absolute ${i}: ${JSON.stringify(r.url)} (${r.group})`, () => row(`abs${String(i).padStart(2, '0')}x`, r.url, r.want, undefined));
});

for (const [which, column] of [
  ['api', 'underApiBase'],
  ['recorder', 'underRecorderBase'],
]) {
  URLS.relative.forEach((r, i) => {
    test(`relative ${i} under <base> on the ${which}: ${JSON.stringify(r.url)}`, () =>
      row(`rel${which[0]}${String(i).padStart(2, '0')}x`, r.url, r[column], `${servers[which].url}/base/`));
  });
}
