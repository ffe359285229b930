#!/bin/sh
# Usage: pretrain_bad_data_exits_2.sh LEAVES SOURCE_DIR (run in a scratch folder: the build folder)
LEAVES=$1 SRC=$2
"$LEAVES" pretrain --min-steps 0 --data synthetic:size=abc --out x; test $? -eq 2
