// Loads the WebAssembly module next to this file, synchronously (Node, CommonJS). `W` is its
// exports (see wasm.js).
'use strict';
const W = new WebAssembly.Instance(new WebAssembly.Module(require('node:fs').readFileSync(require('node:path').join(__dirname, 'tokenkeeper.wasm')))).exports;
