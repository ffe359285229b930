#!/bin/sh
# --profiler: kineto where LibTorch has it, else the legacy profiler with a
# message; either way a chrome trace of operators. A bad value exits 2.
# Usage: bench_trace_profiler.sh LEAVES SOURCE_DIR (run in a scratch folder: the build folder)
LEAVES=$1 SRC=$2
rm -f cli-trace-k.json && "$LEAVES" bench pretrain --batch-size 4 --length 64 --width 4 --steps 1 --rounds 1 --warmup 1 --trace cli-trace-k.json --profiler kineto > cli-trace-k.txt && grep -q 'profiler=' cli-trace-k.txt && grep -q 'aten::' cli-trace-k.json && "$LEAVES" bench pretrain --profiler bogus; test $? -eq 2
