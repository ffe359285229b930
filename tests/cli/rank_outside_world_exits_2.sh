#!/bin/sh
# Usage: rank_outside_world_exits_2.sh LEAVES SOURCE_DIR (run in a scratch folder: the build folder)
LEAVES=$1 SRC=$2
out=$(env RANK=5 WORLD_SIZE=2 LOCAL_RANK=0 MASTER_ADDR=127.0.0.1 MASTER_PORT=29500 "$LEAVES" pretrain --out x 2>&1); rc=$?; echo "$out"; test $rc -eq 2 && echo "$out" | grep -q 'rank 5 is outside the world of 2'
