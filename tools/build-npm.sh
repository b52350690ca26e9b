#!/usr/bin/env bash
# Builds the npm package `tokenkeeper` into bindings-js/pkg:
#   pkg/web/   index.js (ESM for browsers, workers and bundlers; top-level await of the .wasm)
#   pkg/node/  index.mjs and index.cjs (the .wasm loaded synchronously)
#   pkg/{web,node}/tokenkeeper.wasm: the module of bindings-js (imports nothing, no glue)
#   pkg/index.d.ts, pkg/package.json (conditional exports), pkg/README.md
# The JS shell is bindings-js/js/*.js, concatenated into one scope per entry (see below).
# Prints the sizes (raw and gzip -9) of what a browser downloads.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:/usr/local/bin:$PATH"

opt_major=$(wasm-opt --version | awk '{print $3}')
if [ "${opt_major:-0}" -lt 116 ]; then
  echo "wasm-opt $opt_major is too old (Debian's 108 miscompiles): run tools/setup.sh" >&2
  exit 1
fi

# The release .wasm is built with the pinned nightly (tools/nightly-toolchain, installed by
# tools/setup.sh with its rust-src): std rebuilt for size with `-C panic=immediate-abort` (no
# panic messages, locations or formatting behind panics) and std's `optimize_for_size`;
# `-Z location-detail=none` drops the source paths that `#[track_caller]` code still embeds;
# LLVM's inlining threshold 25 (instead of -Oz's default) leaves less duplicated code to gzip.
# Without that nightly the package is built with stable, larger, and the script says so
# loudly (NIGHTLY=0 asks for stable; NIGHTLY_TOOLCHAIN names another toolchain, at your risk:
# the sizes in BENCHMARKS.md are the pinned one's).
pinned=$(cat tools/nightly-toolchain)
nightly=${NIGHTLY_TOOLCHAIN:-$pinned}
use_nightly=0
loud() {
  printf '\n!!! build-npm: %s\n!!! The package will be LARGER than the shipped size (BENCHMARKS.md). Run tools/setup.sh.\n\n' "$*" >&2
}
if [ "${NIGHTLY:-1}" != 0 ]; then
  if ! rustc "+$nightly" --version >/dev/null 2>&1; then
    loud "the pinned toolchain '$nightly' is not installed: building the .wasm with stable"
  elif [ ! -d "$(rustc "+$nightly" --print sysroot)/lib/rustlib/src/rust/library" ]; then
    loud "'$nightly' has no rust-src (rustup component add rust-src --toolchain $nightly): building with stable"
  else
    use_nightly=1
    [ "$nightly" = "$pinned" ] || loud "NIGHTLY_TOOLCHAIN=$nightly is not the pinned $pinned"
  fi
fi
if [ "$use_nightly" = 1 ]; then
  echo "build-npm: $(rustc "+$nightly" --version) ($nightly), -Z build-std, panic=immediate-abort, location-detail=none" >&2
  RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none -Cllvm-args=-inline-threshold=25" \
    cargo "+$nightly" build --locked -p tokenkeeper-js --target wasm32-unknown-unknown --profile wasm-release \
    -Z build-std=std,panic_abort -Z build-std-features=optimize_for_size
else
  cargo build --locked -p tokenkeeper-js --target wasm32-unknown-unknown --profile wasm-release
fi
wasm="${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/wasm-release/tokenkeeper_js.wasm"
imports=$(python3 tools/wasm_imports.py "$wasm")
if [ -n "$imports" ]; then
  echo "build-npm: the module must import nothing (the shell instantiates it without glue), but imports:" >&2
  echo "$imports" >&2
  exit 1
fi
pkg=bindings-js/pkg
rm -rf "$pkg"
mkdir -p "$pkg/web" "$pkg/node"
# --converge: repeat -Oz until the module stops shrinking; --low-memory-unused: Rust places
# nothing in the first 1 KiB of linear memory (the stack and data start at 1 MiB), so loads
# and stores may fold constant offsets; --flatten --rereloop, then -Oz again: control flow
# rebuilt, and functions ordered by name (similar code side by side), which gzips smaller
# (BENCHMARKS.md).
wasm-opt -Oz --converge --low-memory-unused --flatten --rereloop -Oz --converge --reorder-functions-by-name --strip-debug --strip-producers \
  "$wasm" -o "$pkg/web/tokenkeeper.wasm"
cp "$pkg/web/tokenkeeper.wasm" "$pkg/node/tokenkeeper.wasm"
echo '{"type":"commonjs"}' >"$pkg/node/package.json"

# The shell: js/*.js share one scope; each entry is its loader, then the files in this order,
# then its exports.
node - "$pkg" <<'JS'
const fs = require('fs');
const [pkg] = process.argv.slice(2);
const dir = 'bindings-js/js/';
const read = (f) => fs.readFileSync(dir + f, 'utf8');
const body = ['wasm.js', 'json.js', 'errors.js', 'options.js', 'request.js', 'keeper.js', 'api.js'].map(read).join('\n');
const names = ['TokenKeeper', ...Object.keys({ TokenKeeperError: 0, SessionExpiredError: 0, InvalidCredentialsError: 0, AuthUnavailableError: 0, InvalidAuthResponseError: 0, TransportError: 0, AuthRejectedError: 0, UnauthorizedError: 0, ConfigError: 0 })];
const head = '// tokenkeeper: keeps a bearer token valid for fetch. Built by tools/build-npm.sh from bindings-js/js/.\n';
const esm = `export { ${names.join(', ')} };\n`;
fs.writeFileSync(`${pkg}/web/index.js`, head + read('load-web.js') + '\n' + body + '\n' + esm);
fs.writeFileSync(`${pkg}/node/index.mjs`, head + read('load-node.mjs') + '\n' + body + '\n' + esm);
fs.writeFileSync(`${pkg}/node/index.cjs`, read('load-node.cjs').replace(/^/, head) + '\n' + body + `\nmodule.exports = { ${names.join(', ')} };\n`);
const version = /^version = "(.*)"$/m.exec(fs.readFileSync('Cargo.toml', 'utf8'))[1];
const types = './index.d.ts';
const node = { types, import: './node/index.mjs', require: './node/index.cjs' };
fs.writeFileSync(`${pkg}/package.json`, JSON.stringify({
  name: 'tokenkeeper',
  version,
  description: 'Keeps a bearer token valid for fetch: refresh before expiry, refresh and resend once after a 401, one refresh across tabs.',
  license: 'MIT OR Apache-2.0',
  type: 'module',
  types,
  main: './node/index.cjs',
  module: './web/index.js',
  exports: {
    '.': { types, node, default: './web/index.js' },
    './web': { types, default: './web/index.js' },
    './node': node,
    './package.json': './package.json',
  },
  files: ['index.d.ts', 'README.md', 'web/', 'node/'],
  engines: { node: '>=20' },
}, null, 2) + '\n');
JS
cp bindings-js/js/index.d.ts "$pkg/index.d.ts"
cp bindings-js/README.md "$pkg/README.md"

wasm_bytes=$(stat -c %s "$pkg/web/tokenkeeper.wasm")
wasm_gz=$(gzip -9 -c "$pkg/web/tokenkeeper.wasm" | wc -c)
js_bytes=$(wc -c <"$pkg/web/index.js")
js_gz=$(gzip -9 -c "$pkg/web/index.js" | wc -c)
echo "tokenkeeper package in $pkg: web wasm ${wasm_bytes} B (gzip ${wasm_gz} B), web JS unminified ${js_bytes} B (gzip ${js_gz} B)"
