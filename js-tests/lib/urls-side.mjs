// The keeper's side of the URL table (tests/urls/cases.json): what `fetch` itself makes of a
// URL here, and one URL sent through a keeper in one form. No Node imports: the Chromium
// runner loads this file into a page (js-tests/test/urls-chromium.test.mjs).

/**
 * What `fetch` makes of `url` here, by the platform's own `Request` (it resolves against the
 * document's base and parses exactly as `fetch` does): null when it refuses it, else the
 * origin and the path with query it sends to.
 */
export function oracle(url) {
  try {
    const u = new URL(new Request(url).url);
    return { origin: u.origin, path: u.pathname + u.search };
  } catch {
    return null;
  }
}

/**
 * The forms `url` can be given to `keeper.fetch` in here: the string, a `URL` (resolved as
 * `fetch` resolves the string, so it means the same request) and a `Request`, each where the
 * platform can make it.
 */
export function forms(url) {
  const out = ['string'];
  let resolved = url;
  try {
    resolved = new Request(url).url;
    out.push('Request');
  } catch {}
  try {
    new URL(resolved);
    out.push('URL');
  } catch {}
  return out;
}

/** Sends `url` in `form` through keeper `k`: the status or the error, and how many requests the engine saw. */
export async function send(k, url, form) {
  const before = k.metrics().requests;
  let input = url;
  if (form === 'Request') input = new Request(url);
  if (form === 'URL') {
    let resolved = url;
    try {
      resolved = new Request(url).url;
    } catch {}
    input = new URL(resolved);
  }
  let out;
  try {
    const r = await k.fetch(input);
    await r.arrayBuffer().catch(() => {});
    out = { status: r.status };
  } catch (e) {
    out = { error: e.code || e.name || String(e) };
  }
  return { ...out, engine: k.metrics().requests - before };
}

/** Sets (or with `undefined` removes) the page's `<base href>`. */
export function setBase(href) {
  let b = document.getElementById('tokenkeeper-test-base');
  if (href === undefined) return b && b.remove();
  if (!b) {
    b = document.createElement('base');
    b.id = 'tokenkeeper-test-base';
    document.head.prepend(b);
  }
  b.href = href;
}
