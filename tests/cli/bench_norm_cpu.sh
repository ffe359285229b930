#!/bin/sh
# Usage: bench_norm_cpu.sh LEAVES SOURCE_DIR (run in a scratch folder: the build folder)
LEAVES=$1 SRC=$2
"$LEAVES" bench norm --batch-size 4 --length 64 --width 4 --iters 1 --warmup 0 > cli-norm.txt && test $(grep -c 'err_torch=.* ok$' cli-norm.txt) -eq 12 && grep -q 'all ok' cli-norm.txt && grep -q 'bench norm permutation .* index equal, products rel_err=.* ok$' cli-norm.txt && "$LEAVES" bench norm --precision bf16; test $? -eq 2
