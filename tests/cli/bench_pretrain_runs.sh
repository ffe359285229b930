#!/bin/sh
# Usage: bench_pretrain_runs.sh LEAVES SOURCE_DIR (run in a scratch folder: the build folder)
LEAVES=$1 SRC=$2
"$LEAVES" bench pretrain --batch-size 4 --length 64 --width 4 --steps 1 --warmup 1
