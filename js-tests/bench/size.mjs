// Package size as a browser downloads it: the web entry bundled and minified with esbuild
// (wrapper + wasm-bindgen glue), and the .wasm (already wasm-opt -Oz), each gzip -9.
// Usage: node bench/size.mjs   (after tools/build-npm.sh and npm ci)
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
const rows = [
  ['JS (the shell, esbuild --minify)', js.length, gz(js)],
  ['wasm (wasm-opt -Oz)', wasm.length, gz(wasm)],
  ['total', js.length + wasm.length, gz(js) + gz(wasm)],
];
console.log('| part | bytes | min+gzip -9 |\n|---|---:|---:|');
for (const [what, raw, z] of rows) console.log(`| ${what} | ${raw} | ${kB(z)} kB |`);
