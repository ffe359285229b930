#!/bin/sh
# The CPU kernels' line and a profile: the fused normalisation ran, the
# kernels' loops used threads, the trace is a chrome trace with operators.
# Usage: bench_pretrain_trace.sh LEAVES SOURCE_DIR (run in a scratch folder: the build folder)
LEAVES=$1 SRC=$2
rm -f cli-trace.json && "$LEAVES" bench pretrain --batch-size 4 --length 64 --width 4 --steps 1 --rounds 1 --warmup 1 --trace cli-trace.json > cli-trace.txt && grep -q 'cpu_norm=fused fused_norm_per_step=20 kernel_threads=' cli-trace.txt && grep -q 'ph.: *.X.' cli-trace.json && grep -q 'aten::' cli-trace.json && "$LEAVES" bench pretrain --batch-size 4 --length 64 --width 4 --steps 1 --trace /nonexistent-dir/t.json; test $? -eq 2
