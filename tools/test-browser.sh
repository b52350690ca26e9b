#!/usr/bin/env bash
# The browser / npm half of the test suite (called by tools/test-all.sh; runnable alone after
# tools/setup.sh): wasm32 lints, the npm package build, the wasm-bindgen-test suite in Node, in
# headless Chromium, in a dedicated worker and in headless Firefox ESR against the reference
# server binary, node:test of the built package, tsc against consumer files, and Playwright on
# the example dashboard.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:/usr/local/bin:$PATH"
export NO_PROXY="127.0.0.1,127.0.0.2,localhost${NO_PROXY:+,$NO_PROXY}"
mkdir -p target/tmp
# Chromium profiles left by wasm-bindgen-test-runner land here, so `cargo clean` removes them.
export TMPDIR="$PWD/target/tmp"

step() {
  printf '\n==> %s\n' "$*"
  step_t0=$SECONDS
}
done_step() { printf '    (%ss)\n' $((SECONDS - step_t0)); }
t0=$SECONDS

step "wasm32 lints (tokenkeeper-wasm, tokenkeeper-js)"
cargo clippy --locked -p tokenkeeper-wasm -p tokenkeeper-js --target wasm32-unknown-unknown --all-targets -- -D warnings
done_step

step "npm package (tools/build-npm.sh)"
tools/build-npm.sh
done_step

step "reference server binary (the API on 127.0.0.1, a recorder on 127.0.0.2)"
cargo build --locked -p tokenkeeper-testserver --bin tokenkeeper-testserver
server_bin="${CARGO_TARGET_DIR:-target}/debug/tokenkeeper-testserver"
case "$server_bin" in
  /*) export TOKENKEEPER_TESTSERVER_BIN="$server_bin" ;;
  *) export TOKENKEEPER_TESTSERVER_BIN="$PWD/$server_bin" ;;
esac
server_pids=()
trap 'kill "${server_pids[@]}" 2>/dev/null || true' EXIT
# start_server VAR LOG ARGS...: starts one, waits for it and exports its URL as VAR.
start_server() {
  local var=$1 log=$2
  shift 2
  "$server_bin" --port 0 "$@" >"$log" 2>&1 &
  server_pids+=($!)
  for _ in $(seq 100); do
    grep -q 'listening on' "$log" && break
    kill -0 "${server_pids[-1]}" 2>/dev/null || { cat "$log"; exit 1; }
    sleep 0.1
  done
  local url
  url=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$log")
  [ -n "$url" ] || { echo "the test server did not start" >&2; cat "$log"; exit 1; }
  export "$var=$url"
}
# The API (token endpoint and protected routes) the keepers talk to, and a second server on
# another origin whose recorder tells the origin tests what reached it with a token.
start_server TOKENKEEPER_TEST_SERVER target/tmp/testserver.log
start_server TOKENKEEPER_TEST_RECORDER target/tmp/testserver-recorder.log --host 127.0.0.2
echo "    $TOKENKEEPER_TEST_SERVER, recorder $TOKENKEEPER_TEST_RECORDER"
done_step

export WASM_BINDGEN_TEST_TIMEOUT=60
export WASM_BINDGEN_TEST_WEBDRIVER_JSON="$PWD/webdriver.json"
step "wasm-bindgen-test in Node"
cargo test --locked -p tokenkeeper-wasm --target wasm32-unknown-unknown --tests
done_step

# Name the driver: wasm-bindgen-test-runner would take a geckodriver found first on PATH.
CHROMEDRIVER=$(command -v chromedriver)
export CHROMEDRIVER
step "wasm-bindgen-test in headless Chromium"
WASM_BINDGEN_USE_BROWSER=1 cargo test --locked -p tokenkeeper-wasm --target wasm32-unknown-unknown --tests
done_step

# The same suite inside a dedicated worker (no `document`, no Web Storage: the tab and storage
# tests return early there, the rest run against the worker's own fetch, timers and locks).
step "wasm-bindgen-test in a dedicated worker (headless Chromium)"
WASM_BINDGEN_USE_DEDICATED_WORKER=1 cargo test --locked -p tokenkeeper-wasm --target wasm32-unknown-unknown --tests
done_step

step "wasm-bindgen-test in headless Firefox ESR"
env -u CHROMEDRIVER GECKODRIVER="$(command -v geckodriver)" \
  WASM_BINDGEN_TEST_WEBDRIVER_JSON="$PWD/webdriver-firefox.json" WASM_BINDGEN_USE_BROWSER=1 \
  cargo test --locked -p tokenkeeper-wasm --target wasm32-unknown-unknown --tests
done_step

kill "${server_pids[@]}" 2>/dev/null || true
trap - EXIT

step "npm ci (js-tests)"
(cd js-tests && npm ci --no-audit --no-fund)
done_step

step "node:test of the package"
(cd js-tests && node --test --test-reporter=spec test/api.test.mjs test/bodies.test.mjs test/endpoint-url.test.mjs test/errors.test.mjs test/herd.test.mjs test/timeout.test.mjs)
done_step

# The module reads JSON with JSON.parse (bindings-js/README.md, "Host JSON"): every corpus and
# hostile answer through the package against the native engine with its own reader.
step "host JSON: the package against the native engine (examples/auth_answers.rs)"
cargo build --locked -p tokenkeeper-js --example auth_answers
answers_bin="${CARGO_TARGET_DIR:-target}/debug/examples/auth_answers"
case "$answers_bin" in /*) ;; *) answers_bin="$PWD/$answers_bin" ;; esac
(cd js-tests && TOKENKEEPER_AUTH_ANSWERS_BIN="$answers_bin" node --test --test-reporter=spec test/host-json.test.mjs)
done_step

# Every row of tests/hostile/cases.json.
step "the hostile-answer table through the package in Node"
(cd js-tests && node --test --test-reporter=spec test/hostile.test.mjs)
done_step

step "the URL table (tests/urls/cases.json) through the package in Node"
(cd js-tests && node --test --test-reporter=spec test/urls.test.mjs)
done_step

step "a short soak under faults through the package (the full one: node js-tests/bench/soak.mjs)"
(cd js-tests && node --test --test-reporter=spec test/soak.test.mjs)
done_step

step "tsc against the package's types"
(cd js-tests && ./node_modules/.bin/tsc -p tsconfig.json)
done_step

step "Playwright on examples/dashboard (screenshot: target/playwright-dashboard.png)"
(cd js-tests && node --test --test-reporter=spec test/dashboard.test.mjs)
done_step

step "Playwright: the hostile-answer table's cheap rows in Chromium"
(cd js-tests && node --test --test-reporter=spec test/hostile-chromium.test.mjs)
done_step

step "Playwright: the URL table through the package in Chromium"
(cd js-tests && node --test --test-reporter=spec test/urls-chromium.test.mjs)
done_step

# The size gate: the package as shipped (built with the pinned nightly) may not grow past
# SIZE_LIMIT_KB, the goal of 60 kB (it is 56.5 kB now; BENCHMARKS.md).
step "package size (esbuild min + gzip -9), gate ${SIZE_LIMIT_KB:=60} kB"
(cd js-tests && node bench/size.mjs --max-kb "$SIZE_LIMIT_KB")
done_step

printf '\nbrowser and npm tests passed in %ss\n' $((SECONDS - t0))
