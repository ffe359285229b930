#!/bin/sh
# `leaves bench norm` on the CPU: every encoder BatchNorm shape, the fused
# kernel within twice LibTorch's float64 error; bf16 is refused on the CPU.
# LEAVES_PERMUTATION_KERNELS=0 puts the permutation on LibTorch's operators.
# Usage: permutation_kernels_off_by_environment.sh LEAVES SOURCE_DIR (run in a scratch folder: the build folder)
LEAVES=$1 SRC=$2
env LEAVES_PERMUTATION_KERNELS=0 "$LEAVES" bench norm --batch-size 4 --length 64 --width 4 --iters 1 --warmup 0 | grep -q 'permutation .* path=operators .* ok$' && "$LEAVES" bench norm --batch-size 4 --length 64 --width 4 --iters 1 --warmup 0 | grep -q 'permutation .* path=own '
