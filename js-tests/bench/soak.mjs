// The soak under faults through the npm package in Node (lib/soak.mjs; the native soak is
// `cargo bench -p tokenkeeper-testserver --bench soak`). Figures in BENCHMARKS.md.
// Usage: node bench/soak.mjs [--requests 10000] [--concurrency 32] [--seed 7] [--token-secs 2]
//        [--post-share 0.2] [--rate-401 0.05] [--rate-503 0.05] [--rate-drop 0.02]
//        [--rate-refresh-503 0.1] [--retry-after 1] [--json]
//        node bench/soak.mjs --baseline [--requests N] [--concurrency N]: client CPU per request
//        without faults, plain fetch against keeper.fetch (for scale)
import { run, render, baseline, DEFAULTS } from '../lib/soak.mjs';

const args = process.argv.slice(2);
const options = {};
let json = false;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--json' || args[i] === '--baseline') {
    if (args[i] === '--json') json = true;
    else options.baseline = true;
    continue;
  }
  const name = args[i].replace(/^--/, '').replace(/-(\w)/g, (_, c) => c.toUpperCase()).replace(/^rate(\d)/, 'rate$1');
  const key = Object.keys(DEFAULTS).find((k) => k.toLowerCase() === name.toLowerCase());
  const value = Number(args[++i]);
  if (!key || !Number.isFinite(value)) {
    console.error(`unknown option or value: ${args[i - 1]} ${args[i]}`);
    process.exit(2);
  }
  options[key] = value;
}
if (options.baseline) {
  delete options.baseline;
  for (const b of await baseline(options)) console.log(`${b.mode.padEnd(6)} ${b.cpuUs.toFixed(0).padStart(5)} µs CPU per request, ${b.rps.toFixed(0)} requests/s`);
  process.exit(0);
}
const r = await run(options);
console.log(json ? JSON.stringify(r, null, 2) : render(r));
process.exitCode = r.lost === 0 ? 0 : 1;
