#!/bin/sh
# Every bench section on the CPU: bf16 against fp32, the breakdown, a full epoch, channels-last.
# Usage: bench_pretrain_all_sections.sh LEAVES SOURCE_DIR (run in a scratch folder: the build folder)
LEAVES=$1 SRC=$2
"$LEAVES" bench pretrain --batch-size 4 --length 64 --width 4 --steps 1 --rounds 1 --warmup 1 --check-precision --breakdown --epoch-size 12 --layout channels-last > cli-bench.txt && grep -q 'precision check' cli-bench.txt && grep -q 'breakdown' cli-bench.txt && grep -q 'bench epoch N=12 steps=3' cli-bench.txt && grep -q 'layout=channels-last' cli-bench.txt
