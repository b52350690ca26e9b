#!/usr/bin/env bash
# Runs every test tokenkeeper has, from a fresh clone on a fresh machine (the README's test
# command; .ci/run calls it). Installs what it needs first (tools/setup.sh is idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:/usr/local/bin:$PATH"
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"
mkdir -p target/tmp

step() { printf '\n==> %s\n' "$*"; }
t0=$SECONDS

step "setup"
bash tools/setup.sh >target/setup.log 2>&1 || { cat target/setup.log; exit 1; }
tail -n 1 target/setup.log

step "format and lints"
cargo fmt --all -- --check
cargo clippy --locked --workspace --all-targets -- -D warnings

step "no module cycles"
python3 tools/module-cycles.py core transport-reqwest transport-wasm bindings-js cli tests

step "native tests (all crates)"
cargo test --locked --workspace

step "core builds for wasm32 and imports nothing from env"
tools/check-wasm-imports.sh

step "browser driver and npm package: wasm-bindgen-test (Node, Chromium), node:test, tsc, Playwright"
tools/test-browser.sh

printf '\nall tests passed in %ss\n' $((SECONDS - t0))
