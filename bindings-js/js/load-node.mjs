// Loads the WebAssembly module next to this file, synchronously (Node, ESM). `W` is its
// exports (see wasm.js).
import { readFileSync } from 'node:fs';

const W = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(new URL('tokenkeeper.wasm', import.meta.url)))).exports;
