#!/usr/bin/env python3
"""The include graph of src/leaves between modules (folders; compat.h and
option_error.h count as the module "base"): every edge, and whether the graph
is acyclic. Exits 1 when a cycle exists, printing it.

Usage: scripts/include-graph.py [SRC]   (default: src/leaves)
"""
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "src/leaves"
include = re.compile(r'^#include "leaves/([^"]+)"', re.M)


def module_of(rel):
    return rel.split("/")[0] if "/" in rel else "base"


edges = {}
for folder, _, names in os.walk(root):
    for name in names:
        if not name.endswith((".h", ".cpp", ".cu")):
            continue
        path = os.path.join(folder, name)
        src = module_of(os.path.relpath(path, root))
        for target in include.findall(open(path, encoding="utf-8").read()):
            dst = module_of(target)
            if dst != src:
                edges.setdefault(src, {}).setdefault(dst, []).append(os.path.relpath(path, root))

modules = sorted(set(edges) | {d for ds in edges.values() for d in ds})
# Topological order (modules that include nothing first), or a cycle.
order, state = [], {}


def visit(m, stack):
    if state.get(m) == "done":
        return None
    if state.get(m) == "open":
        return stack[stack.index(m):] + [m]
    state[m] = "open"
    for d in sorted(edges.get(m, {})):
        cycle = visit(d, stack + [m])
        if cycle:
            return cycle
    state[m] = "done"
    order.append(m)
    return None


for m in modules:
    cycle = visit(m, [])
    if cycle:
        print("cycle: " + " -> ".join(cycle))
        for a, b in zip(cycle, cycle[1:]):
            print(f"  {a} -> {b}: {', '.join(sorted(set(edges[a][b])))}")
        sys.exit(1)
print("layers, lowest first: " + " < ".join(order))
for m in order:
    if m in edges:
        print(f"  {m} includes {', '.join(sorted(edges[m]))}")
print("acyclic: every include points to a lower layer")
