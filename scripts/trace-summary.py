#!/usr/bin/env python3
"""Self time per operator from a chrome trace of `leaves bench pretrain --trace FILE`.

Usage: scripts/trace-summary.py FILE [STEPS] [TOP]
Prints, per thread and for the top operators, the total self time (the time in
an operator minus the time in operators nested inside it on the same thread),
divided by STEPS (default 1), in ms, and the number of calls. A Kineto trace of
a CUDA run (`--profiler kineto`, the default on CUDA) also holds the GPU's
kernels, copies and fills: they are summed apart, by name, as device time, and
rolled up into kinds (convolution forward, data gradient, weight gradient,
BatchNorm, leaves' fused kernels, elementwise, indexing, ...) by their names.
"""
import collections
import json
import re
import sys

# Kinds of device work, by kernel name: the first pattern that matches (case
# insensitive) names the kind. cuDNN's and CUTLASS's convolution kernels carry
# fprop / dgrad / wgrad in their names; a convolution kernel without one is
# "convolution, other".
KINDS = [
    ("memcpy / memset", r"^memcpy|^memset|\bmemcpy|\bmemset"),
    ("leaves' own kernels", r"leaves::"),
    ("Inductor-generated (Triton)", r"^triton_"),
    ("convolution forward", r"fprop"),
    ("convolution data gradient", r"dgrad"),
    ("convolution weight gradient", r"wgrad"),
    ("layout transforms", r"nchwtonhwc|nhwctonchw|transpose"),
    ("convolution, other", r"xmma|cudnn|implicit_convolve|conv"),
    ("BatchNorm (LibTorch)", r"batch_norm|batchnorm|welford"),
    ("matrix products", r"gemm|cublas|cutlass|matmul"),
    ("optimizer", r"multi_tensor_apply|adam|foreach"),
    ("sort / scan", r"sort|radix|scan|cumsum"),
    ("indexing (gather, scatter, index)", r"gather|scatter|index|embedding|take"),
    ("pooling", r"pool"),
    ("reductions", r"reduce|softmax|norm"),
    ("elementwise", r"elementwise|vectorized|unrolled|triton"),
]


def kind(name):
    for label, pattern in KINDS:
        if re.search(pattern, name, re.IGNORECASE):
            return label
    return "other"

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
    kinds_us, kinds_calls = collections.Counter(), collections.Counter()
    for name, us in device_us.items():
        kinds_us[kind(name)] += us
        kinds_calls[kind(name)] += device_calls[name]
    total_us = sum(device_us.values())
    print("GPU time by kind:")
    for label, us in kinds_us.most_common():
        print(f"  {us / 1000 / steps:9.3f} ms  {100 * us / total_us:5.1f} %  {kinds_calls[label] / steps:7.1f} calls  {label}")
    print("GPU time by kernel:")
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
