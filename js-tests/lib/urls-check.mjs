// The URL table (tests/urls/cases.json, see tests/urls/README.md) on the servers' side, shared
// by the Node and Chromium runners of the npm package (js-tests/test/urls*.test.mjs); the
// Rust skin runs the same table in transport-wasm/tests/urls.rs. Two reference servers: the
// API on 127.0.0.1 (the token endpoint's origin, allowed) and a recorder on 127.0.0.2; both
// record every request to a path they do not serve, with whether it carried Authorization.
import { readFileSync } from 'node:fs';
import { startServer } from './server.mjs';

export const URLS = JSON.parse(readFileSync(new URL('../../tests/urls/cases.json', import.meta.url), 'utf8'));

export async function startServers() {
  const [api, recorder] = await Promise.all([startServer(), startServer(['--host', '127.0.0.2'])]);
  return { api, recorder, close: () => Promise.all([api.close(), recorder.close()]) };
}

const authority = (url) => url.replace(/^http:\/\//, '');

/** A row's URL: `{A}`, `{R}`, `{PA}`, `{PR}` and `{k}` filled in. */
export function fill(template, servers, k) {
  const [a, r] = [authority(servers.api.url), authority(servers.recorder.url)];
  const port = (hp) => hp.split(':').pop();
  return template.replaceAll('{A}', a).replaceAll('{R}', r).replaceAll('{PA}', port(a)).replaceAll('{PR}', port(r)).replaceAll('{k}', k);
}

async function recorded(server) {
  const r = await fetch(`${server.url}/_control/recorded`);
  if (!r.ok) throw new Error(`${server.url}/_control/recorded: ${r.status}`);
  return r.json();
}

/** What the platform says must happen to `url` for a keeper whose token may go to `origins`. */
export function wantOf(seen, origins) {
  if (seen === null) return 'refused';
  return origins.includes(seen.origin) ? 'token' : 'noToken';
}

/**
 * Sends `url` in every form (`sendForm(form)` runs the keeper's side) and checks what reached
 * the servers: the token never at the recorder; for `token`, exactly one request at the API
 * with the token, to the path the platform resolves, answered 200; for `noToken`, no token at
 * the API and the engine not asked; for `refused`, an error, nothing sent anywhere. Returns
 * the problems found (empty when the row holds).
 */
export async function checkUrl(servers, { label, url, want, seen, forms, sendForm }) {
  const bad = [];
  for (const form of forms) {
    const [a0, r0] = await Promise.all([recorded(servers.api), recorded(servers.recorder)]);
    const res = await sendForm(form);
    const [a1, r1] = await Promise.all([recorded(servers.api), recorded(servers.recorder)]);
    const atApi = a1.slice(a0.length);
    const atRecorder = r1.slice(r0.length);
    const what = `${label} as ${form} ${JSON.stringify(url)}: want ${want}, got ${JSON.stringify(res)}, api saw ${JSON.stringify(atApi)}, recorder saw ${JSON.stringify(atRecorder)}`;
    if (atRecorder.some((s) => s.authorization)) bad.push(`the token reached another origin: ${what}`);
    if (want === 'token') {
      if (res.status !== 200 || res.engine !== 1 || atApi.length !== 1) bad.push(what);
      else if (!atApi[0].authorization) bad.push(`sent without the token: ${what}`);
      else if (atApi[0].path !== seen.path) bad.push(`sent elsewhere than it was checked: ${what}`);
    } else if (want === 'noToken') {
      if (atApi.some((s) => s.authorization) || res.engine !== 0) bad.push(what);
    } else if (!res.error || atApi.length || atRecorder.length || res.engine !== 0) {
      bad.push(what);
    }
  }
  return bad;
}
