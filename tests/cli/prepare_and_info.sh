#!/bin/sh
# Usage: prepare_and_info.sh LEAVES SOURCE_DIR (run in a scratch folder: the build folder)
LEAVES=$1 SRC=$2
test -d $SRC/../shared/data/ucr/GunPoint || { echo 'skipped: ../shared/data absent'; exit 0; }; rm -rf cli-prepared && "$LEAVES" prepare ucr --root $SRC/../shared/data/ucr/GunPoint --set split_seed=1 --out cli-prepared && "$LEAVES" info cli-prepared | grep -q 'test *150' && "$LEAVES" pretrain --min-steps 0 --data cli-prepared --epochs 1 --batch-size 8 --width 4 --out cli-prepared-run --checkpoint-every 0 >/dev/null && rm -rf cli-prepared-run
