#!/usr/bin/env python3
"""Self time per operator from a chrome trace of `leaves bench pretrain --trace FILE`.

Usage: scripts/trace-summary.py FILE [STEPS] [TOP]
Prints, per thread and for the top operators, the total self time (the time in
an operator minus the time in operators nested inside it on the same thread),
divided by STEPS (default 1), in ms, and the number of calls. A Kineto trace of
a CUDA run (`--profiler kineto`, the default on CUDA) also holds the GPU's
kernels, copies and fills: they are summed apart, by name, as device time.
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
DEVICE = {"kernel", "gpu_memcpy", "gpu_memset"}
by_thread = collections.defaultdict(list)
device_us = collections.Counter()
device_calls = collections.Counter()
for e in events:
    if e.get("ph") != "X" or "dur" not in e:
        continue
    if e.get("cat") in DEVICE:
        name = e["name"] if len(e["name"]) <= 110 else e["name"][:107] + "..."
        device_us[name] += float(e["dur"])
        device_calls[name] += 1
    else:
        by_thread[e.get("tid", 0)].append((float(e["ts"]), float(e["dur"]), e["name"]))
if device_us:
    print(f"GPU: {sum(device_us.values()) / 1000 / steps:.2f} ms of kernels, copies and fills per step "
          f"({sum(device_calls.values()) / steps:.0f} per step)")
    for name, us in device_us.most_common(top):
        print(f"  {us / 1000 / steps:9.3f} ms  {device_calls[name] / steps:7.1f} calls  {name}")
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
