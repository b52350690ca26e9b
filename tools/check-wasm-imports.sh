#!/usr/bin/env bash
# Builds tokenkeeper-core (through the small cdylib in tools/wasm-check) for
# wasm32-unknown-unknown and fails if the produced .wasm imports anything from `env`:
# the sans-IO engine must need no clock, no randomness and no I/O from its host.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --locked --release -p tokenkeeper-wasm-check --target wasm32-unknown-unknown
wasm=target/wasm32-unknown-unknown/release/tokenkeeper_wasm_check.wasm
imports=$(python3 tools/wasm_imports.py "$wasm")
echo "imports of $(basename "$wasm") ($(stat -c %s "$wasm") bytes):"
echo "${imports:-  (none)}" | sed 's/^/  /'
# Read the whole list first: `grep -q` would stop at the first match and break the pipe under
# the writer, which `pipefail` then reports as a failure.
exports=$(python3 tools/wasm_imports.py --exports "$wasm")
if ! grep -qx tokenkeeper_check <<<"$exports"; then
  echo "FAIL: the check module does not export tokenkeeper_check (the engine was not linked in)" >&2
  exit 1
fi
if grep -q '^env\.' <<<"$imports"; then
  echo "FAIL: the core imports from env" >&2
  exit 1
fi
echo "ok: nothing imported from env"
