#!/bin/sh
# LEAVES_DIST=1: a process group for a world of one (how the device script checks NCCL).
# Usage: forced_process_group_of_one.sh LEAVES SOURCE_DIR (run in a scratch folder: the build folder)
LEAVES=$1 SRC=$2
rm -rf cli-dp1 && env LEAVES_DIST=1 MASTER_PORT=0 "$LEAVES" pretrain --min-steps 0 --data synthetic:size=40,length=64 --epochs 1 --batch-size 8 --width 4 --out cli-dp1 | grep -q '1 worker (gloo)' && test -f cli-dp1/encoder.pt
