#!/bin/sh
# Usage: pretrain_bad_device_exits_2.sh LEAVES SOURCE_DIR (run in a scratch folder: the build folder)
LEAVES=$1 SRC=$2
"$LEAVES" pretrain --device tpu --out x; test $? -eq 2
