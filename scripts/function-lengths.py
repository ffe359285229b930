#!/usr/bin/env python3
"""The longest functions of the C++ sources, and the largest files.

A function is a definition that starts in column 0 (namespace contents are not
indented here) with a line holding '(' and ending its head with '{', and ends
at the next line that is exactly '}'. Lengths count lines, both ends included.

Usage: scripts/function-lengths.py [N] [DIR ...]   (default: 10, src tools)
"""
import os
import re
import sys

args = sys.argv[1:]
n = int(args.pop(0)) if args and args[0].isdigit() else 10
roots = args or ["src", "tools"]
head = re.compile(r"^(?!namespace|struct|class|enum|union|template|#|//|static_assert|using)[A-Za-z_].*\(")
functions, files = [], []
for root in roots:
    for folder, _, names in os.walk(root):
        for name in names:
            if not name.endswith((".cpp", ".h", ".cu")):
                continue
            path = os.path.join(folder, name)
            lines = open(path, encoding="utf-8").read().split("\n")
            files.append((len(lines), path))
            i = 0
            while i < len(lines):
                if head.match(lines[i]):
                    j = i
                    while j < len(lines) and not lines[j].rstrip().endswith(("{", ";", "}")):
                        j += 1
                    if j < len(lines) and lines[j].rstrip().endswith("{"):
                        k = j + 1
                        while k < len(lines) and lines[k] != "}":
                            k += 1
                        name_match = re.search(r"([A-Za-z_][A-Za-z_0-9:<>]*)\s*\(", lines[i])
                        functions.append((k - i + 1, f"{path}:{i + 1}", name_match.group(1) if name_match else "?"))
                        i = k
                i += 1
functions.sort(reverse=True)
files.sort(reverse=True)
print(f"{n} longest functions:")
for length, where, name in functions[:n]:
    print(f"  {length:5d}  {name}  ({where})")
print("largest files:")
for length, path in files[:5]:
    print(f"  {length:5d}  {path}")
