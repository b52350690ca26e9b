// The package in a dedicated (module) worker: the same TokenKeeper as on the page, driven by the
// worker's own fetch, timers, Web Locks and BroadcastChannel. Import maps do not reach workers,
// so the package is imported by path. Started as `worker.js?api=...&ttl=2&burst=20` (settings in
// the URL: a message posted at once could arrive before this module, which awaits the .wasm,
// has set its handler), it logs in, waits until its token has expired (with `clock=manual`, moves
// its keeper's time past the expiry instead), sends `burst` requests at once and posts back what
// it saw. js-tests/test/dashboard.test.mjs runs it.
import { TokenKeeper } from '/pkg/web/index.js';
import { manualClock } from './clock.js';

const q = new URL(self.location.href).searchParams;
const data = { api: q.get('api'), ttl: Number(q.get('ttl') || 2), burst: Number(q.get('burst') || 20) };
const clock = q.get('clock') === 'manual' ? manualClock() : undefined;

(async () => {
  try {
    const keeper = new TokenKeeper({
      baseUrl: data.api,
      username: 'admin',
      password: 'admin',
      tokenExpirySeconds: data.ttl,
      clock,
    });
    await keeper.login();
    const expiresAt = keeper.metrics().tokenExpiresAt;
    if (clock) await clock.advance(Math.max(0, expiresAt - clock.now()) + 100);
    else await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt - Date.now()) + 100));
    const responses = await Promise.all(
      Array.from({ length: data.burst }, () => keeper.fetch(`${data.api}/api/echo`)),
    );
    const m = keeper.metrics();
    self.postMessage({
      statuses: responses.map((r) => r.status),
      crossTab: keeper.crossTab,
      refreshCount: m.refreshCount,
      requests: m.requests,
    });
  } catch (e) {
    self.postMessage({ error: `${e.name} (${e.code}): ${e.message}` });
  }
})();
