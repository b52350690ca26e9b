// The dashboard: one TokenKeeper, a poll loop over keeper.fetch, and a live view of its state.
// `window.dashboard` exposes the counters and a few controls (the Playwright tests use them).
import { TokenKeeper } from 'tokenkeeper';
import { manualClock } from './clock.js';

const q = new URLSearchParams(location.search);
const api = q.get('api') || 'http://127.0.0.1:8001';
const ttl = Number(q.get('ttl') || 30);
const interval = Number(q.get('interval') ?? 1000);
const path = q.get('path') || '/api/spaces';
const $ = (id) => document.getElementById(id);

// `?clock=manual`: the keeper's time moves only with `dashboard.advance(ms)` (the tests use it
// to reach an expiry without waiting for it).
const clock = q.get('clock') === 'manual' ? manualClock() : undefined;

const keeper = new TokenKeeper({
  clock,
  baseUrl: api,
  username: q.get('user') || 'admin',
  password: q.get('password') || 'admin',
  tokenExpirySeconds: ttl,
  storage: q.get('storage') || 'memory',
  crossTab: q.get('crossTab') !== '0',
});

const state = { ok: 0, failed: 0, errors: [], events: [], polling: interval > 0, timer: null };

function log(text) {
  state.events.push(text);
  const li = document.createElement('li');
  li.innerHTML = `<span class="t">${new Date().toLocaleTimeString()}</span>`;
  li.append(text);
  $('events').prepend(li);
  while ($('events').children.length > 50) $('events').lastChild.remove();
}

keeper.on('loggedIn', (p) => log(p.reauthenticated ? 'logged in again' : 'logged in'));
keeper.on('refreshed', (p) => log(`refreshed: valid until ${new Date(p.expiresAt).toLocaleTimeString()}`));
keeper.on('sessionExpired', () => log('session expired'));
keeper.on('circuitOpened', (p) => log(`auth endpoint circuit open until ${new Date(p.until).toLocaleTimeString()}`));

async function request() {
  try {
    const r = await keeper.fetch(`${api}${path}`);
    if (r.ok) state.ok++;
    else {
      state.failed++;
      state.errors.push(`HTTP ${r.status}`);
    }
    return r.status;
  } catch (e) {
    state.failed++;
    state.errors.push(`${e.name}: ${e.message}`);
    log(`request failed: ${e.code || e.name}`);
    return 0;
  }
}

function render() {
  const m = keeper.metrics();
  $('ok').textContent = state.ok;
  $('failed').textContent = state.failed;
  $('session').textContent = m.authInProgress ? 'renewing…' : m.isExpired ? (m.tokenExpiresAt ? 'expired' : 'logged out') : 'active';
  $('expires').textContent = m.tokenExpiresAt ? `${Math.max(0, (m.tokenExpiresAt - Date.now()) / 1000).toFixed(1)} s` : '–';
  $('crosstab').textContent = keeper.crossTab ? 'on' : 'off';
  const rows = Object.entries(m).map(([k, v]) => {
    const shown = v === null ? '–' : /At$|^lastRefresh$/.test(k) ? new Date(v).toLocaleTimeString() : String(v);
    return `<tr><td>${k}</td><td>${shown}</td></tr>`;
  });
  $('metrics').tBodies[0].innerHTML = rows.join('');
}

function schedule() {
  clearInterval(state.timer);
  state.timer = state.polling && interval > 0 ? setInterval(request, interval) : null;
  $('toggle').textContent = state.polling ? 'pause polling' : 'resume polling';
}

$('endpoint').textContent = `polling ${api}${path} every ${interval} ms, ${ttl} s tokens`;
$('toggle').onclick = () => {
  state.polling = !state.polling;
  schedule();
};
$('login').onclick = () => keeper.login().then(() => log('login() resolved'), (e) => log(`login failed: ${e.code}`));
$('logout').onclick = () => keeper.logout();
$('revoke').onclick = () => fetch(`${api}/_control/revoke-all`, { method: 'POST' }).then(() => log('server revoked every token'));
setInterval(render, 100);

const ready = keeper.login().then(
  () => log('login() resolved'),
  (e) => log(`login failed: ${e.code}: ${e.message}`),
);
ready.then(schedule);

window.dashboard = {
  keeper,
  state,
  ready,
  /** Stops the poll loop. */
  stop() {
    state.polling = false;
    schedule();
  },
  /** With `?clock=manual`: moves the keeper's time forward by `ms`. */
  advance: (ms) => clock.advance(ms),
  /** With `?clock=manual`: the keeper's time, and moving it to `at` (epoch ms). */
  now: () => clock.now(),
  advanceTo: (at) => clock.advance(Math.max(0, at - clock.now())),
  /** Fires `n` concurrent requests; resolves with their statuses (0 for a failure). */
  burst: (n) => Promise.all(Array.from({ length: n }, request)),
};
