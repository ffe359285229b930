#!/usr/bin/env python3
"""Runs the Python peer benchmark under torch.profiler, over its timed steps only,
and prints where the device time goes, per step, by kernel (the peer's own code
is not changed: its timer starts and stops the profiler).

Usage: python3 scripts/profile-peer.py PEER.py [TRACE.json] -- [peer arguments]
e.g.   python3 scripts/profile-peer.py ../shared/bench/peer_pytorch.py peer.json -- --bf16 --compile --steps 10
The table is the same as `scripts/trace-summary.py` prints for our own step
(`leaves bench pretrain --trace FILE`); TRACE.json, when given, is the chrome trace.
"""
import runpy
import sys
import time

import torch
from torch.profiler import ProfilerActivity, profile

if "--" in sys.argv:
    cut = sys.argv.index("--")
    ours, peer_args = sys.argv[1:cut], sys.argv[cut + 1:]
else:
    ours, peer_args = sys.argv[1:2], sys.argv[2:]
if not ours:
    sys.exit(__doc__)
peer = ours[0]
trace = ours[1] if len(ours) > 1 else None
steps = 10  # the peer's default
for i, a in enumerate(peer_args):
    if a == "--steps" and i + 1 < len(peer_args):
        steps = int(peer_args[i + 1])

cuda = torch.cuda.is_available()
prof = profile(activities=[ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else []))
real_counter = time.perf_counter
calls = [0]


def counter():
    # The peer reads the clock twice around its timed steps, after synchronising
    # each time: the profile covers exactly those steps.
    calls[0] += 1
    if calls[0] == 1:
        prof.start()
    elif calls[0] == 2:
        prof.stop()
    return real_counter()


time.perf_counter = counter
sys.argv = [peer] + peer_args
runpy.run_path(peer, run_name="__main__")
time.perf_counter = real_counter
if calls[0] < 2:
    sys.exit("profile-peer: the peer did not time its steps with time.perf_counter twice")

events = prof.key_averages()
key = "device_time_total" if hasattr(events[0], "device_time_total") else "cuda_time_total"
rows = []
for e in events:
    t = getattr(e, key, 0) if cuda else e.self_cpu_time_total
    if t > 0 and (not cuda or getattr(e, "device_type", None) is None or "CUDA" in str(e.device_type)):
        rows.append((t, e.count, e.key))
rows.sort(reverse=True)
what = "GPU" if cuda else "CPU self"
if cuda:  # kernels only: operators' device totals include their kernels
    kernels = [r for r in rows if not r[2].startswith(("aten::", "autograd::", "Torch-Compiled", "CompiledFunction",
                                                       "ProfilerStep", "cuda", "Optimizer"))]
    rows = kernels or rows
print(f"peer {what}: {sum(r[0] for r in rows) / 1000 / steps:.2f} ms per step in {len(rows)} kinds "
      f"({' '.join(peer_args)})")
for t, n, name in rows[:30]:
    name = name if len(name) <= 110 else name[:107] + "..."
    print(f"  {t / 1000 / steps:9.3f} ms  {n / steps:7.1f} calls  {name}")
if trace:
    prof.export_chrome_trace(trace)
    print(f"chrome trace: {trace}")
