#!/usr/bin/env bash
# Builds the npm package `tokenkeeper` into bindings-js/pkg (see RECIPE: plain wasm-bindgen
# CLI, npm binaryen's wasm-opt):
#   pkg/web/   ESM for browsers and bundlers (top-level await init())
#   pkg/node/  wasm-bindgen --target nodejs (CommonJS, synchronous load) + ESM and CJS entries
#   pkg/index.d.ts, pkg/package.json (conditional exports), pkg/README.md
# Prints the sizes (raw and gzip -9) of what a browser downloads.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:/usr/local/bin:$PATH"

lock_ver=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/"/,"",$3); print $3}' Cargo.lock)
cli_ver=$(wasm-bindgen --version | awk '{print $2}')
if [ "$lock_ver" != "$cli_ver" ]; then
  echo "wasm-bindgen CLI $cli_ver does not match Cargo.lock ($lock_ver): run tools/setup.sh" >&2
  exit 1
fi
opt_major=$(wasm-opt --version | awk '{print $3}')
if [ "${opt_major:-0}" -lt 116 ]; then
  echo "wasm-opt $opt_major is too old (Debian's 108 miscompiles): run tools/setup.sh" >&2
  exit 1
fi

# The release .wasm is built with nightly when it is there: std rebuilt for size with
# `-C panic=immediate-abort` (no panic messages, locations or formatting behind panics) and
# std's `optimize_for_size`; `-Z location-detail=none` drops the source paths that
# `#[track_caller]` code still embeds. That is ~10 kB smaller gzipped. Without nightly (or its rust-src
# component) the package is built with stable, as before, and is larger. NIGHTLY=0 forces
# stable; NIGHTLY_TOOLCHAIN names another nightly.
nightly=${NIGHTLY_TOOLCHAIN:-nightly}
use_nightly=0
if [ "${NIGHTLY:-1}" != 0 ]; then
  if ! rustc "+$nightly" --version >/dev/null 2>&1; then
    echo "build-npm: no '$nightly' toolchain: building the .wasm with stable (larger package; see tools/setup.sh)" >&2
  elif [ ! -d "$(rustc "+$nightly" --print sysroot)/lib/rustlib/src/rust/library" ]; then
    echo "build-npm: '$nightly' has no rust-src (rustup component add rust-src --toolchain $nightly):" \
      "building the .wasm with stable (larger package)" >&2
  else
    use_nightly=1
  fi
fi
if [ "$use_nightly" = 1 ]; then
  echo "build-npm: $(rustc "+$nightly" --version), -Z build-std, panic=immediate-abort, location-detail=none" >&2
  RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none" \
    cargo "+$nightly" build --locked -p tokenkeeper-js --target wasm32-unknown-unknown --profile wasm-release \
    -Z build-std=std,panic_abort -Z build-std-features=optimize_for_size
else
  cargo build --locked -p tokenkeeper-js --target wasm32-unknown-unknown --profile wasm-release
fi
wasm="${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/wasm-release/tokenkeeper_js.wasm"
pkg=bindings-js/pkg
rm -rf "$pkg"
mkdir -p "$pkg"
wasm-bindgen --target web --out-dir "$pkg/web" "$wasm"
wasm-bindgen --target nodejs --out-dir "$pkg/node" "$wasm"
# --converge: repeat -Oz until the module stops shrinking; --low-memory-unused: Rust places
# nothing in the first 1 KiB of linear memory (the stack and data start at 1 MiB), so loads
# and stores may fold constant offsets.
for d in web node; do
  f="$pkg/$d/tokenkeeper_js_bg.wasm"
  wasm-opt -Oz --converge --low-memory-unused --strip-debug --strip-producers "$f" -o "$f.opt"
  mv "$f.opt" "$f"
done
echo '{"type":"commonjs"}' >"$pkg/node/package.json"

# The wrapper: one source, three entry points that differ only in how the glue is loaded.
node - "$pkg" <<'JS'
const fs = require('fs');
const [pkg] = process.argv.slice(2);
const src = fs.readFileSync('bindings-js/js/index.js', 'utf8');
const importLine = "import { KeeperCore } from './tokenkeeper_js.js';";
if (!src.includes(importLine)) throw new Error('wrapper import line not found');
fs.writeFileSync(`${pkg}/web/index.js`,
  src.replace(importLine, "import init, { KeeperCore } from './tokenkeeper_js.js';\n\nawait init();"));
fs.writeFileSync(`${pkg}/node/index.mjs`, src);
const names = [...src.matchAll(/^export (?:class|function|const) (\w+)/gm)].map((m) => m[1]);
const cjs = src
  .replace(importLine, "'use strict';\nconst { KeeperCore } = require('./tokenkeeper_js.js');")
  .replace(/^export (class|function|const) /gm, '$1 ');
fs.writeFileSync(`${pkg}/node/index.cjs`, `${cjs}\nmodule.exports = { ${names.join(', ')} };\n`);
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
rm -f "$pkg"/*/.gitignore

wasm_bytes=$(stat -c %s "$pkg/web/tokenkeeper_js_bg.wasm")
wasm_gz=$(gzip -9 -c "$pkg/web/tokenkeeper_js_bg.wasm" | wc -c)
js_bytes=$(cat "$pkg/web/tokenkeeper_js.js" "$pkg/web/index.js" | wc -c)
js_gz=$(cat "$pkg/web/tokenkeeper_js.js" "$pkg/web/index.js" | gzip -9 -c | wc -c)
echo "tokenkeeper package in $pkg: web wasm ${wasm_bytes} B (gzip ${wasm_gz} B), web JS unminified ${js_bytes} B (gzip ${js_gz} B)"
