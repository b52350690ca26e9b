#!/usr/bin/env python3
"""Fails if a crate's top-level modules depend on each other in a cycle.

A module depends on another when its code (not its comments or docs) names
`crate::other` or `super::other` (from a top-level file), or a `use crate::{other, ...}`
group lists it. Each module is a file `src/<name>.rs` or a directory `src/<name>/` (its
files count as one module). Prints the dependency graph with --graph.

Usage: tools/module-cycles.py [--graph] CRATE_DIR...
"""

import re
import sys
from pathlib import Path


def strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(line.split("//", 1)[0] for line in text.splitlines())


def module_files(src: Path) -> dict[str, list[Path]]:
    mods: dict[str, list[Path]] = {}
    for f in sorted(src.glob("*.rs")):
        if f.stem in ("lib", "main"):
            continue
        mods.setdefault(f.stem, []).append(f)
    for d in sorted(p for p in src.iterdir() if p.is_dir() and p.name != "bin"):
        mods.setdefault(d.name, []).extend(sorted(d.rglob("*.rs")))
    return mods


def deps_of(text: str, names: set[str], me: str) -> set[str]:
    code = strip_comments(text)
    found = set()
    for m in re.finditer(r"\bcrate::(\w+)", code):
        found.add(m.group(1))
    for m in re.finditer(r"\bcrate::\{([^}]*)\}", code):
        for part in m.group(1).split(","):
            word = part.strip().split("::", 1)[0].strip()
            if word:
                found.add(word)
    return {d for d in found if d in names and d != me}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main() -> int:
    args = sys.argv[1:]
    show = "--graph" in args
    crates = [a for a in args if a != "--graph"]
    bad = 0
    for crate in crates:
        src = Path(crate) / "src"
        mods = module_files(src)
        names = set(mods)
        graph = {
            m: set().union(*(deps_of(f.read_text(), names, m) for f in files))
            for m, files in mods.items()
        }
        if show:
            for m in sorted(graph):
                print(f"{crate}: {m} -> {', '.join(sorted(graph[m])) or '-'}")
        for comp in cycles(graph):
            bad += 1
            print(f"{crate}: module cycle: {' <-> '.join(comp)}")
    if not bad:
        print(f"no module cycles in {', '.join(crates)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
