#!/bin/sh
# `leaves bench conv` on the CPU: the 11 convolution shapes of the encoder
# and the total, each pass timed against a matrix product of the same
# arithmetic; bf16 is refused on the CPU.
# Usage: bench_conv_cpu.sh LEAVES SOURCE_DIR (run in a scratch folder: the build folder)
LEAVES=$1 SRC=$2
"$LEAVES" bench conv --batch-size 2 --length 32 --width 4 --in-channels 3 --iters 1 --warmup 0 > cli-conv.txt && test $(grep -c '^bench conv .* conv_ms fwd=.* gemm_ms fwd=.* im2col_ms fwd=.* im2col/conv=' cli-conv.txt) -eq 11 && grep -q '^bench conv stage4.shortcut .*Ci=16 Co=32 k=1 s=2 L=4->2 ' cli-conv.txt && grep -q '^bench conv total .*layout=channels-first .*conv/gemm=' cli-conv.txt && "$LEAVES" bench conv --precision bf16; test $? -eq 2
