#!/usr/bin/env python3
"""Code bytes of a .wasm by crate, raw and gzip -9 (each crate's function bodies compressed on
their own), from a module that kept its function names (`wasm-opt -g`).

    python3 tools/wasm-code-by-crate.py module.wasm [crate-prefix ...]

A function counts for the first crate its (v0-mangled or plain) name mentions. With crate
prefixes, also prints the total of the crates whose name starts with one of them.
"""

import collections
import gzip
import re
import sys

from wasm_imports import import_entries, leb, sections


def function_names(payload):
    """Function index -> name, from the `name` custom section."""
    n, i = leb(payload, 0)
    if payload[i : i + n] != b"name":
        return {}
    i += n
    names = {}
    while i < len(payload):
        sub = payload[i]
        size, i = leb(payload, i + 1)
        end = i + size
        if sub == 1:
            count, j = leb(payload, i)
            for _ in range(count):
                idx, j = leb(payload, j)
                n, j = leb(payload, j)
                names[idx] = payload[j : j + n].decode("utf8", "replace")
                j += n
        i = end
    return names


def crate_of(name):
    """The first crate a v0-mangled (`Cs<hash>_<len><crate>`) or plain (`crate::`) name mentions."""
    m = re.search(r"C[s0-9A-Za-z]*_(\d+)", name)
    if m:
        n = int(m.group(1))
        return name[m.end() : m.end() + n]
    m = re.match(r"<?([a-z_][a-z_0-9]*)(\[[0-9a-f]+\])?::", name)
    if m:
        return m.group(1)
    return f"({name})" if re.fullmatch(r"[A-Za-z_][A-Za-z_0-9]*", name) else "(other)"


def main():
    data = open(sys.argv[1], "rb").read()
    prefixes = sys.argv[2:]
    imports = sum(1 for _, _, kind in import_entries(data) if kind == 0)
    names, bodies, rodata = {}, [], b""
    for sid, start, end in sections(data):
        payload = data[start:end]
        if sid == 10:
            count, i = leb(payload, 0)
            for _ in range(count):
                n, i = leb(payload, i)
                bodies.append(payload[i : i + n])
                i += n
        elif sid == 11:
            rodata = payload
        elif sid == 0:
            names.update(function_names(payload))
    by_crate = collections.defaultdict(bytes)
    for k, body in enumerate(bodies):
        by_crate[crate_of(names.get(imports + k, ""))] += body
    gz = lambda b: len(gzip.compress(b, 9))
    code = b"".join(bodies)
    print(f"{'all code':32s} {len(code):8d} B  gzip {gz(code):7d} B")
    print(f"{'data segments':32s} {len(rodata):8d} B  gzip {gz(rodata):7d} B")
    for crate, body in sorted(by_crate.items(), key=lambda kv: -len(kv[1])):
        print(f"  {crate:30s} {len(body):8d} B  gzip {gz(body):7d} B")
    if prefixes:
        mine = b"".join(b for c, b in by_crate.items() if c.startswith(tuple(prefixes)))
        print(f"{'crates ' + ' '.join(prefixes):32s} {len(mine):8d} B  gzip {gz(mine):7d} B")


if __name__ == "__main__":
    main()
