#!/bin/sh
# Usage: bad_precision_or_layout_exits_2.sh LEAVES SOURCE_DIR (run in a scratch folder: the build folder)
LEAVES=$1 SRC=$2
"$LEAVES" pretrain --precision fp16 --out x; a=$?; "$LEAVES" bench pretrain --layout nhwc; b=$?; "$LEAVES" pretrain --cpu-conv fast --out x; c=$?; "$LEAVES" pretrain --cpu-norm fast --out x; d=$?; "$LEAVES" pretrain --gpu-norm fast --out x; e=$?; "$LEAVES" pretrain --conv-bias drop --out x; f=$?; test $a -eq 2 && test $b -eq 2 && test $c -eq 2 && test $d -eq 2 && test $e -eq 2 && test $f -eq 2
