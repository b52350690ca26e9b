// Starts the reference server binary (tokenkeeper-testserver) on a free loopback port for one
// test file, with helpers for its /_control routes.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const serverBin =
  process.env.TOKENKEEPER_TESTSERVER_BIN || path.join(root, 'target/debug/tokenkeeper-testserver');

export async function startServer(args = []) {
  const child = spawn(serverBin, ['--port', '0', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let buf = '';
  const url = await new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`tokenkeeper-testserver exited with ${code}`)));
    child.stdout.on('data', (d) => {
      buf += d;
      const m = /listening on (http:\/\/\S+)/.exec(buf);
      if (m) resolve(m[1]);
    });
  });
  const control = async (route, body) => {
    const init = body === undefined ? { method: 'POST' } : { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } };
    const r = await fetch(`${url}/_control/${route}`, init);
    if (!r.ok) throw new Error(`/_control/${route}: ${r.status} ${await r.text()}`);
    return r.json();
  };
  return {
    url,
    counters: async () => (await fetch(`${url}/_control/counters`)).json(),
    reset: () => control('reset'),
    revokeAll: () => control('revoke-all'),
    faults: (spec) => control('faults', spec),
    async close() {
      child.kill('SIGTERM');
      if (child.exitCode === null) await once(child, 'exit');
    },
  };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
