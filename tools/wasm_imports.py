#!/usr/bin/env python3
"""Prints the imports (or, with --exports, the exports) of a .wasm module, one per line (a tiny reader of the
import section, so the check needs no wabt or wasm-tools)."""
import sys


def leb(b, i):
    result = shift = 0
    while True:
        byte = b[i]
        i += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, i


def name(b, i):
    n, i = leb(b, i)
    return b[i:i + n].decode(), i + n


def sections(b):
    """(id, start, end) of every section of the module in `b`."""
    if b[:4] != b"\0asm":
        sys.exit("not a wasm module")
    i = 8
    while i < len(b):
        sid = b[i]
        size, i = leb(b, i + 1)
        yield sid, i, i + size
        i += size


def exports(path):
    b = open(path, "rb").read()
    for sid, i, _ in sections(b):
        if sid == 7:
            count, i = leb(b, i)
            for _ in range(count):
                field, i = name(b, i)
                i += 1
                _, i = leb(b, i)
                yield field


def import_entries(b):
    """(module, field, kind) of every import of the module in `b` (kind 0 is a function)."""
    for sid, i, _ in sections(b):
        if sid != 2:
            continue
        count, i = leb(b, i)
        for _ in range(count):
            mod, i = name(b, i)
            field, i = name(b, i)
            kind = b[i]
            i += 1
            if kind == 0:
                _, i = leb(b, i)
            elif kind in (1, 2):  # table (reftype, limits) or memory (limits)
                i += kind == 1
                flags, i = leb(b, i)
                _, i = leb(b, i)
                if flags & 1:
                    _, i = leb(b, i)
            elif kind == 3:
                i += 2
            else:  # tag
                i += 1
                _, i = leb(b, i)
            yield mod, field, kind


def imports(path):
    for mod, field, _ in import_entries(open(path, "rb").read()):
        yield f"{mod}.{field}"


if __name__ == "__main__":
    if sys.argv[1] == "--exports":
        for exp in exports(sys.argv[2]):
            print(exp)
    else:
        for imp in imports(sys.argv[1]):
            print(imp)
