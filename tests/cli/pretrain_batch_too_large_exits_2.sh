#!/bin/sh
# Usage: pretrain_batch_too_large_exits_2.sh LEAVES SOURCE_DIR (run in a scratch folder: the build folder)
LEAVES=$1 SRC=$2
"$LEAVES" pretrain --min-steps 0 --data synthetic:size=40 --batch-size 64 --out x; test $? -eq 2
