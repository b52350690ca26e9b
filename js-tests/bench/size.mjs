// Package size as a browser downloads it: the web entry bundled and minified with esbuild
// (the JS shell), and the .wasm (already wasm-opt -Oz), each gzip -9, added.
// Usage: node bench/size.mjs [--max-kb N]   (after tools/build-npm.sh and npm ci); with
// --max-kb, exits 1 when the total is over N kB (tools/test-browser.sh's size gate).
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

const web = fileURLToPath(new URL('../../bindings-js/pkg/web/', import.meta.url));
const out = await build({
  entryPoints: [`${web}index.js`],
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2022',
  write: false,
  logLevel: 'silent',
});
const js = out.outputFiles[0].contents;
const wasm = readFileSync(`${web}tokenkeeper.wasm`);
const gz = (b) => gzipSync(b, { level: 9 }).length;
const kB = (n) => (n / 1000).toFixed(1);
const total = gz(js) + gz(wasm);
const rows = [
  ['JS (the shell, esbuild --minify)', js.length, gz(js)],
  ['wasm (wasm-opt -Oz)', wasm.length, gz(wasm)],
  ['total', js.length + wasm.length, total],
];
console.log('| part | bytes | min+gzip -9 |\n|---|---:|---:|');
for (const [what, raw, z] of rows) console.log(`| ${what} | ${raw} | ${kB(z)} kB |`);
const at = process.argv.indexOf('--max-kb');
if (at > 0) {
  const max = Number(process.argv[at + 1]);
  if (!(total <= max * 1000)) {
    console.error(`size gate: the package is ${kB(total)} kB min+gzip, over ${max} kB`);
    process.exit(1);
  }
  console.log(`size gate: ${kB(total)} kB <= ${max} kB`);
}
