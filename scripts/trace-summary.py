#!/usr/bin/env python3
"""Self time per operator from a chrome trace of `leaves bench pretrain --trace FILE`.

Usage: scripts/trace-summary.py FILE [STEPS] [TOP]
Prints, per thread and for the top operators, the total self time (the time in
an operator minus the time in operators nested inside it on the same thread),
divided by STEPS (default 1), in ms, and the number of calls.
"""
import collections
import json
import sys

path = sys.argv[1]
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 1
top = int(sys.argv[3]) if len(sys.argv) > 3 else 25
with open(path) as f:
    trace = json.load(f)
events = trace["traceEvents"] if isinstance(trace, dict) else trace
by_thread = collections.defaultdict(list)
for e in events:
    if e.get("ph") == "X" and "dur" in e:
        by_thread[e.get("tid", 0)].append((float(e["ts"]), float(e["dur"]), e["name"]))
for tid, evs in sorted(by_thread.items(), key=lambda kv: -sum(d for _, d, _ in kv[1])):
    evs.sort(key=lambda t: (t[0], -t[1]))
    self_us = collections.Counter()
    calls = collections.Counter()
    stack = []  # [end, name, child time]
    def close(item):
        end, name, child, dur = item
        self_us[name] += dur - child
        if stack:
            stack[-1][2] += dur
    for ts, dur, name in evs:
        while stack and stack[-1][0] <= ts:
            close(stack.pop())
        calls[name] += 1
        stack.append([ts + dur, name, 0.0, dur])
    while stack:
        close(stack.pop())
    total = sum(self_us.values())
    print(f"thread {tid}: {total / 1000 / steps:.1f} ms self time per step")
    for name, us in self_us.most_common(top):
        print(f"  {us / 1000 / steps:9.2f} ms  {calls[name] / steps:7.1f} calls  {name}")
