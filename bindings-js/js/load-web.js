// Loads the WebAssembly module next to this file (browsers, workers, bundlers): it imports
// nothing, so it is instantiated as it is. `W` is its exports (see wasm.js).
const wasmUrl = new URL('tokenkeeper.wasm', import.meta.url);
const W = (
  await WebAssembly.instantiateStreaming(fetch(wasmUrl)).catch(async () =>
    // A server that does not send `application/wasm`: compile from the bytes instead.
    WebAssembly.instantiate(await (await fetch(wasmUrl)).arrayBuffer()),
  )
).instance.exports;
