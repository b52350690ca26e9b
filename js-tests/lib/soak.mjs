// The soak under faults through the npm package in Node, as tests/tests/soak_support/mod.rs runs
// it with the native client: the reference server as a child process (so this process's CPU
// is the client's), 2-second access tokens, rotation with reuse detection, and random faults
// (valid tokens refused with 401, API answers 503 with Retry-After, dropped connections,
// refreshes answered 503); a GET/POST mix from many concurrent workers sharing one keeper;
// every failure classified. Run by bench/soak.mjs (figures in BENCHMARKS.md) and, short, by
// test/soak.test.mjs.
import { TokenKeeper, TokenKeeperError } from 'tokenkeeper';
import { startServer } from './server.mjs';

export const USER = 'soak';
export const PASSWORD = 'soak-pw-4b1d';

export const DEFAULTS = {
  requests: 10_000,
  concurrency: 32,
  tokenSecs: 2,
  /** Share of requests that are POSTs (the rest are GETs). */
  postShare: 0.2,
  rate401: 0.05,
  rate503: 0.05,
  rateDrop: 0.02,
  rateRefresh503: 0.1,
  /** Retry-After of the injected 503s, in seconds. */
  retryAfter: 1,
  seed: 7,
};

/** Sorts a failed request: what the engine gave up on, and why (null: it succeeded). */
export function classify(outcome) {
  if (outcome.status !== undefined) {
    const s = outcome.status;
    if (s >= 200 && s < 300) return null;
    if (s === 401) return '401 delivered after a refresh and one resend (auth retry spent)';
    if (s === 503) return '503 delivered after the resend limit (retry budget spent)';
    return 'lost: another status';
  }
  const e = outcome.error;
  if (!(e instanceof TokenKeeperError)) return 'lost: not a TokenKeeperError';
  switch (e.code) {
    case 'TRANSPORT':
      switch (e.stopped) {
        case 'notIdempotent':
          return 'transport: a POST that may have run, not resent (by design)';
        case 'resendLimit':
          return 'transport: resend limit reached (retry budget spent)';
        case 'backoffBudget':
          return 'transport: backoff budget spent (retry budget spent)';
        default:
          return `lost: transport, stopped ${e.stopped}`;
      }
    case 'AUTH_UNAVAILABLE':
      return 'auth unavailable: refresh attempts spent (retry budget spent)';
    default:
      return `lost: ${e.code}`;
  }
}

/** Whether request `n` of worker `t` is a POST: the native soak's choice, in 64-bit arithmetic. */
function isPost(n, t, posts) {
  const h = ((BigInt(n) * 2_654_435_761n) & 0xffff_ffff_ffff_ffffn) ^ BigInt(t);
  return h % 1000n < BigInt(posts);
}

/** Runs the soak against a fresh server; resolves with the report. */
export async function run(options = {}) {
  const o = { ...DEFAULTS, ...options };
  const server = await startServer(['--user', `${USER}:${PASSWORD}`, '--no-cors']);
  try {
    await server.faults({
      rotation: true,
      reuse_detection: true,
      random_401: { rate: o.rate401, seed: o.seed },
      random_503: { rate: o.rate503, seed: o.seed + 1, retry_after: o.retryAfter },
      random_drop: { rate: o.rateDrop, seed: o.seed + 2 },
      random_refresh_503: { rate: o.rateRefresh503, seed: o.seed + 3, retry_after: o.retryAfter },
    });
    const keeper = new TokenKeeper({ baseUrl: server.url, tokenExpirySeconds: o.tokenSecs, username: USER, password: PASSWORD, crossTab: false });
    const url = `${server.url}/api/echo`;
    const posts = Math.round(o.postShare * 1000);
    let next = 0;
    const latencies = [];
    const failures = {};
    let ok = 0;
    const worker = async (t) => {
      for (;;) {
        const n = next++;
        if (n >= o.requests) return;
        const post = isPost(n, t, posts);
        const at = performance.now();
        let outcome;
        try {
          const r = await (post ? keeper.fetch(url, { method: 'POST', body: JSON.stringify({ n }), headers: { 'content-type': 'application/json' } }) : keeper.fetch(url));
          await r.arrayBuffer();
          outcome = { status: r.status };
        } catch (error) {
          outcome = { error };
        }
        latencies.push(performance.now() - at);
        const failure = classify(outcome);
        if (failure === null) ok++;
        else failures[failure] = (failures[failure] || 0) + 1;
      }
    };
    const cpu0 = process.cpuUsage();
    const started = performance.now();
    await Promise.all(Array.from({ length: o.concurrency }, (_, t) => worker(t)));
    const elapsedMs = performance.now() - started;
    const cpu = process.cpuUsage(cpu0);
    latencies.sort((a, b) => a - b);
    const pct = (p) => latencies[Math.floor((latencies.length - 1) * p)];
    // A refresh the last requests started inside the margin may still be running (they went on
    // with the token that still worked): let it end (up to 5 s) before the counts are compared.
    let settleMs = 0;
    for (; settleMs < 5000 && keeper.metrics().authInProgress; settleMs += 10) await new Promise((r) => setTimeout(r, 10));
    const m = keeper.metrics();
    keeper.free();
    const lost = Object.entries(failures)
      .filter(([k]) => k.startsWith('lost'))
      .reduce((a, [, v]) => a + v, 0);
    return {
      options: o,
      requests: latencies.length,
      ok,
      failures,
      lost,
      elapsedMs,
      p50: pct(0.5),
      p99: pct(0.99),
      max: latencies[latencies.length - 1],
      cpuMs: (cpu.user + cpu.system) / 1000,
      server: await server.counters(),
      metrics: m,
      settleMs,
    };
  } finally {
    await server.close();
  }
}

/** The report as text, as the native soak writes it. */
export function render(r) {
  const o = r.options;
  const c = (k) => r.server[k] ?? 0;
  const lines = [
    `${r.requests} requests (${o.concurrency} concurrent, ${Math.round(o.postShare * 100)} % POST) in ${(r.elapsedMs / 1000).toFixed(1)} s: ${r.ok} ok, ${r.requests - r.ok} failed, ${r.lost} lost`,
    ...Object.entries(r.failures)
      .sort()
      .map(([k, n]) => `  failed: ${String(n).padStart(6)}  ${k}`),
    `latency p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, max ${r.max.toFixed(1)} ms; client CPU ${((r.cpuMs * 1000) / r.requests).toFixed(1)} µs per request (${(r.requests / (r.elapsedMs / 1000)).toFixed(0)} requests/s)`,
    `refreshes ${r.metrics.refreshCount} (server accepted ${c('refreshes_accepted')}, faulted ${c('refreshes_faulted')}, rejected ${c('refreshes_rejected')}) over ${(r.elapsedMs / 1000 / o.tokenSecs).toFixed(0)} token lifetimes of ${o.tokenSecs} s; logins ${r.metrics.logins} (server ${c('logins_ok')}); reuse detections ${c('reuse_detections')}`,
    `injected: ${c('protected_injected_401')} 401s, ${c('protected_injected_503')} 503s, ${c('dropped_connections')} dropped connections; the client resent ${r.metrics.unauthorizedResends} after a 401 and ${r.metrics.transientResends} after a transient failure`,
  ];
  return lines.join('\n');
}

/**
 * Client CPU per request without faults, for scale: plain `fetch` with the bearer header set by
 * hand against `keeper.fetch`, the same GET/POST mix, alternated (raw, keeper, raw, keeper)
 * after one warm-up pair. Resolves with µs per request and requests/s of each measured run.
 */
export async function baseline(options = {}) {
  const o = { ...DEFAULTS, ...options };
  const server = await startServer(['--user', `${USER}:${PASSWORD}`, '--no-cors']);
  try {
    const keeper = new TokenKeeper({ baseUrl: server.url, username: USER, password: PASSWORD, crossTab: false });
    let token;
    keeper.on('tokens', (t) => (token = t.accessToken));
    await keeper.login();
    const url = `${server.url}/api/echo`;
    const posts = Math.round(o.postShare * 1000);
    const send = {
      raw: (post, n) =>
        post
          ? fetch(url, { method: 'POST', body: JSON.stringify({ n }), headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } })
          : fetch(url, { headers: { authorization: `Bearer ${token}` } }),
      keeper: (post, n) => (post ? keeper.fetch(url, { method: 'POST', body: JSON.stringify({ n }), headers: { 'content-type': 'application/json' } }) : keeper.fetch(url)),
    };
    const runs = [];
    for (const [i, mode] of ['raw', 'keeper', 'raw', 'keeper', 'raw', 'keeper'].entries()) {
      let next = 0;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: o.concurrency }, async (_, t) => {
          for (let n; (n = next++) < o.requests; ) {
            const r = await send[mode](isPost(n, t, posts), n);
            await r.arrayBuffer();
            if (r.status !== 200) throw new Error(`${mode}: ${r.status}`);
          }
        }),
      );
      const cpu = process.cpuUsage(cpu0);
      if (i >= 2) runs.push({ mode, cpuUs: (cpu.user + cpu.system) / o.requests, rps: o.requests / ((performance.now() - t0) / 1000) });
    }
    keeper.free();
    return runs;
  } finally {
    await server.close();
  }
}
